/**
 * The runtime's HTTP API as the page uses it. Every call goes to the same origin that served the
 * page (the runtime serves both). The token, when signed in, is sent as `Authorization: Bearer`,
 * on every call including the results stream (read with fetch: EventSource cannot send it).
 * Without a token only the read endpoints are called, and they answer only on a runtime started
 * with --public-read; a read credential signs in read-only, an operator's can submit and stop.
 * A 401 is announced as an `intstream-unauthorized` window event (detail: the token sent, or
 * null), so that the page can ask to sign in, or sign out a token the runtime no longer knows.
 */

export interface AgentMetrics {
  cpu: number | null; // percent of one core
  memoryBytes: number | null;
  packetsPerSec: number | null;
  malformed: number | null;
  dropped: number | null;
}

export interface Agent {
  name: string;
  labels: Record<string, string>;
  source: string;
  status: string; // 'up' | 'down'
  lastHeartbeat: number | null; // ms since epoch
  metrics: AgentMetrics;
  history: Array<{ t: number } & AgentMetrics>; // t in ms since epoch
}

/** One task's counters on one GSP worker (its heartbeat's `tasks`). */
export interface WorkerTask {
  id: string;
  partitions: number[];
  records: number | null;
  received: number | null;
  out: number | null;
  duplicates: number | null;
  poison: number | null;
  stale: number | null;
  error: string | null;
}

/** A GSP worker (GET /api/v1/workers). */
export interface Worker {
  name: string;
  status: string; // 'up' | 'down'
  lastSeen: number | null; // ms since epoch
  cpu: number | null;
  memoryBytes: number | null;
  tasks: WorkerTask[];
}

export interface AppParam {
  name: string;
  default: unknown;
  description: string;
}

export interface App {
  name: string;
  description: string;
  params: AppParam[];
  output: { key: string; value: string } | null;
  source: string | null;
}

export interface StageCounters {
  items_read: number;
  after_filter: number;
  local_out: number;
  global_out: number;
  data_reduction: number | null;
}

export interface Task {
  id: string;
  name: string;
  status: string;
  agents: string[];
  counters: StageCounters;
  error: string | null;
  createdAt: number | null;
  /** Results stored by the runtime for this task, when it says. */
  results: number | null;
}

/** One window's stage counters, summed over the agents (GET /api/v1/tasks/{id}/windows). */
export interface WindowRow {
  start: number;
  end: number;
  read: number;
  after_filter: number;
  local_out: number;
  global_out: number;
  /** 1 − local_out / read; null without items read. */
  reduction: number | null;
}

export interface ResultRow {
  task: string;
  /** null for an event (e.g. int-collector's): a result of no window. */
  window: { start: number; end: number } | null;
  key: unknown;
  value: unknown;
  /** The runtime's sequence number of the result (the stream's event id), when known. */
  seq?: number;
}

export interface AgentSelector {
  all?: true;
  names?: string[];
  labels?: Record<string, string>;
}

export interface SubmitRequest {
  app?: string;
  code?: string;
  /** Parameter values as text, as on the command line (`--param k=v`). */
  params: Record<string, string>;
  /** Window length, seconds. */
  window?: number;
  agents: AgentSelector;
}

/** What `api.events` calls: the stream is open, an event came, or it broke (an HTTP status, or null). */
export interface EventHandlers {
  open(): void;
  event(name: string, data: string, id: string | null): void;
  error(status: number | null): void;
}

/** An API error: HTTP status, a stable code, and where the task failed (line, column) if known. */
export class ApiError extends Error {
  status: number;
  code: string;
  line: number | null;
  column: number | null;
  field: string | null;
  constructor(status: number, code: string, message: string, line: number | null, column: number | null, field: string | null) {
    super(message);
    this.status = status;
    this.code = code;
    this.line = line;
    this.column = column;
    this.field = field;
  }
}

const TOKEN_KEY = 'intstream.token';
const ROLE_KEY = 'intstream.role';

export function getToken(): string | null {
  return sessionStorage.getItem(TOKEN_KEY);
}

/** The signed-in credential's role ('read' or 'operator'), or null. */
export function getRole(): string | null {
  return getToken() ? sessionStorage.getItem(ROLE_KEY) : null;
}

export function setToken(token: string | null, role: string | null = null): void {
  if (token) {
    sessionStorage.setItem(TOKEN_KEY, token);
    sessionStorage.setItem(ROLE_KEY, role ?? 'operator');
  } else {
    sessionStorage.removeItem(TOKEN_KEY);
    sessionStorage.removeItem(ROLE_KEY);
  }
}

function unauthorized(sent: string | null): void {
  window.dispatchEvent(new CustomEvent('intstream-unauthorized', { detail: sent }));
}

function num(v: unknown): number | null {
  return typeof v === 'number' && Number.isFinite(v) ? v : typeof v === 'string' && v !== '' && Number.isFinite(Number(v)) ? Number(v) : null;
}

function ms(v: unknown): number | null {
  if (typeof v === 'string') {
    const t = Date.parse(v);
    return Number.isFinite(t) ? t : num(v);
  }
  const n = num(v);
  if (n === null) return null;
  return n < 1e11 ? n * 1000 : n; // seconds or milliseconds since the epoch
}

async function request(method: string, path: string, body?: unknown, token: string | null = getToken()): Promise<unknown> {
  const headers: Record<string, string> = { accept: 'application/json' };
  if (token) headers.authorization = `Bearer ${token}`;
  if (body !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  if (res.status === 401 && path !== '/api/v1/ui/auth') unauthorized(token);
  const text = await res.text();
  let data: unknown = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch {
    data = text;
  }
  if (!res.ok) {
    const e = (data && typeof data === 'object' ? ((data as any).error ?? data) : {}) as any;
    let message = typeof e === 'string' ? e : String(e.message ?? (typeof data === 'string' && data ? data : res.statusText));
    // A query file is loaded from a temporary copy: name it as the user knows it, and find its line.
    message = message.replace(/\S*intstream-tasks\/task-[0-9a-f]+\.ts/g, 'query file');
    const at = /query file:(\d+)(?::(\d+))?/.exec(message);
    const field = e.field ?? (/^([a-z_.]+): /.exec(message)?.[1] ?? null);
    throw new ApiError(res.status, String(e.code ?? res.status), message, num(e.line) ?? (at ? Number(at[1]) : null), num(e.column) ?? (at && at[2] ? Number(at[2]) : null), field);
  }
  return data;
}

function list(data: unknown, key: string): any[] {
  if (Array.isArray(data)) return data;
  if (data && typeof data === 'object' && Array.isArray((data as any)[key])) return (data as any)[key];
  return [];
}

function metricsOf(m: any): AgentMetrics {
  m = m ?? {};
  return {
    cpu: num(m.cpu ?? m.cpu_percent ?? m.cpuPercent),
    memoryBytes: num(m.memory ?? m.rss ?? m.rss_bytes ?? m.memory_bytes ?? m.memoryBytes),
    packetsPerSec: num(m.packets_per_s ?? m.packetsPerSec ?? m.pps ?? m.items_per_s),
    malformed: num(m.malformed_total ?? (typeof m.malformed === 'object' && m.malformed ? Object.values(m.malformed).reduce((a: number, b) => a + (Number(b) || 0), 0) : m.malformed)),
    dropped: num(m.dropped ?? m.drops),
  };
}

export function normalizeAgent(a: any): Agent {
  const metrics = metricsOf(a.metrics ?? a);
  const history = list(a.history ?? a.metrics_history ?? [], 'samples').map((h: any) => ({ t: ms(h.t ?? h.ts ?? h.at ?? h.time) ?? 0, ...metricsOf(h) }));
  let labels: Record<string, string> = {};
  if (Array.isArray(a.labels)) for (const l of a.labels) { const [k, v = ''] = String(l).split('='); labels[k] = v; }
  else if (a.labels && typeof a.labels === 'object') labels = Object.fromEntries(Object.entries(a.labels).map(([k, v]) => [k, String(v)]));
  const sources = Array.isArray(a.sources) ? a.sources.join(' ') : a.source ?? a.source_spec ?? a.sourceSpec ?? '';
  return {
    name: String(a.name ?? a.id),
    labels,
    source: String(sources),
    status: String(a.status ?? (a.up === true ? 'up' : a.up === false ? 'down' : 'unknown')),
    lastHeartbeat: ms(a.last_heartbeat ?? a.lastHeartbeat ?? a.heartbeat_at ?? a.last_seen),
    metrics,
    history,
  };
}

export function normalizeWorker(w: any): Worker {
  const info = (w.info && typeof w.info === 'object' ? w.info : {}) as any;
  const m = metricsOf({ ...info, ...w });
  const tasks = Object.entries((info.tasks ?? w.tasks ?? {}) as Record<string, any>).map(([id, c]) => ({
    id,
    partitions: (Array.isArray(c?.partitions) ? c.partitions.map(Number).filter(Number.isFinite) : []).sort((a: number, b: number) => a - b),
    records: num(c?.records),
    received: num(c?.received),
    out: num(c?.out),
    duplicates: num(c?.duplicates),
    poison: num(c?.poison),
    stale: num(c?.stale),
    error: typeof c?.error === 'string' ? c.error : null,
  }));
  tasks.sort((a, b) => a.id.localeCompare(b.id));
  return {
    name: String(w.name),
    status: w.up === true ? 'up' : w.up === false ? 'down' : String(w.status ?? 'unknown'),
    lastSeen: ms(w.last_seen ?? w.lastSeen),
    cpu: m.cpu,
    memoryBytes: m.memoryBytes,
    tasks,
  };
}

export function normalizeCounters(c: any): StageCounters {
  c = c ?? {};
  const itemsRead = num(c.items_read) ?? 0;
  const localOut = num(c.local_out) ?? 0;
  return {
    items_read: itemsRead,
    after_filter: num(c.after_filter) ?? 0,
    local_out: localOut,
    global_out: num(c.global_out) ?? 0,
    data_reduction: num(c.data_reduction) ?? (itemsRead > 0 ? 1 - localOut / itemsRead : null),
  };
}

/** Counters from the runtime's task detail (stages.local / stages.global) or a flat object. */
function taskCounters(t: any): StageCounters {
  const local = t?.stages?.local;
  if (!local) return normalizeCounters(t.counters ?? t.stats ?? t);
  const itemsRead = num(local.items_read) ?? 0;
  return {
    items_read: itemsRead,
    after_filter: itemsRead - (num(local.filtered) ?? 0),
    local_out: num(local.emitted) ?? 0,
    global_out: num(t.stages.global?.out) ?? 0,
    data_reduction: num(t.data_reduction) ?? (itemsRead > 0 ? 1 - (num(local.emitted) ?? 0) / itemsRead : null),
  };
}

export function normalizeTask(t: any): Task {
  const agents = Array.isArray(t.agents) ? t.agents.map((a: any) => (typeof a === 'string' ? a : String(a.name ?? a.agent ?? a.id))) : [];
  return {
    id: String(t.id),
    name: String(t.name ?? t.task ?? t.app ?? t.id),
    status: String(t.status ?? 'unknown'),
    agents,
    counters: taskCounters(t),
    error: t.error ? String(typeof t.error === 'object' ? t.error.message : t.error) : null,
    createdAt: ms(t.created_at ?? t.createdAt ?? t.submitted_at),
    results: num(t.results),
  };
}

export function normalizeApp(a: any): App {
  const params: AppParam[] = Array.isArray(a.params)
    ? a.params.map((p: any) => ({ name: String(p.name), default: p.default, description: String(p.description ?? '') }))
    : Object.entries(a.params ?? {}).map(([name, p]: [string, any]) => ({ name, default: p?.default, description: String(p?.description ?? '') }));
  return { name: String(a.name), description: String(a.description ?? ''), params, output: a.output ?? null, source: a.source ?? null };
}

export const api = {
  async agents(): Promise<Agent[]> {
    return list(await request('GET', '/api/v1/ui/agents'), 'agents').map(normalizeAgent);
  },
  async workers(): Promise<Worker[]> {
    return list(await request('GET', '/api/v1/workers'), 'workers').map(normalizeWorker);
  },
  async apps(): Promise<App[]> {
    return list(await request('GET', '/api/v1/apps'), 'apps').map(normalizeApp);
  },
  async tasks(): Promise<Task[]> {
    return list(await request('GET', '/api/v1/ui/tasks'), 'tasks').map(normalizeTask);
  },
  async task(id: string): Promise<Task> {
    const t = (await request('GET', `/api/v1/tasks/${encodeURIComponent(id)}`)) as any;
    return normalizeTask(t.task ?? t);
  },
  async submit(req: SubmitRequest): Promise<Task> {
    const t = (await request('POST', '/api/v1/tasks', req)) as any;
    return normalizeTask(t.task ?? t);
  },
  async stop(id: string): Promise<void> {
    await request('POST', `/api/v1/tasks/${encodeURIComponent(id)}/stop`);
  },
  /** Checks a token against the API: its role ('read' or 'operator') when it may sign in, else null. */
  async checkToken(token: string): Promise<string | null> {
    try {
      const r = (await request('POST', '/api/v1/ui/auth', undefined, token)) as { role?: string } | null;
      return r?.role === 'read' ? 'read' : 'operator';
    } catch (e) {
      if (e instanceof ApiError && (e.status === 401 || e.status === 403)) return null;
      throw e;
    }
  },
  /** The task's stage counters per window, oldest first. */
  async windows(id: string): Promise<WindowRow[]> {
    const d = await request('GET', `/api/v1/tasks/${encodeURIComponent(id)}/windows`);
    return list(d, 'windows').map((w: any) => ({
      start: num(w.start) ?? 0,
      end: num(w.end) ?? 0,
      read: num(w.read) ?? 0,
      after_filter: num(w.after_filter) ?? 0,
      local_out: num(w.local_out) ?? 0,
      global_out: num(w.global_out) ?? 0,
      reduction: num(w.reduction),
    }));
  },
  /**
   * The task's server-sent events (`result`, `counters`, `end`), read with fetch so that the token
   * goes along. After a broken stream or a refusal it connects again in 3 s, asking only for the
   * results after the last one seen; `end` ends it for good, and so does close().
   */
  events(id: string, on: EventHandlers): { close(): void } {
    const stop = new AbortController();
    let lastId: string | null = null;
    const run = async (): Promise<void> => {
      while (!stop.signal.aborted) {
        let ended = false;
        try {
          const token = getToken();
          const headers: Record<string, string> = { accept: 'text/event-stream' };
          if (token) headers.authorization = `Bearer ${token}`;
          const res = await fetch(`/api/v1/tasks/${encodeURIComponent(id)}/events${lastId ? `?after=${encodeURIComponent(lastId)}` : ''}`, { headers, signal: stop.signal });
          if (!res.ok || !res.body) {
            if (res.status === 401) unauthorized(token);
            on.error(res.status);
          } else {
            on.open();
            const reader = res.body.getReader();
            const dec = new TextDecoder();
            let buf = '';
            for (;;) {
              const { value, done } = await reader.read();
              if (done) break;
              buf += dec.decode(value, { stream: true }).replace(/\r\n?/g, '\n');
              let i: number;
              while ((i = buf.indexOf('\n\n')) >= 0) {
                const block = buf.slice(0, i);
                buf = buf.slice(i + 2);
                let name = 'message', data = '', evId: string | null = null;
                for (const line of block.split('\n')) {
                  const c = line.indexOf(':');
                  const field = c < 0 ? line : line.slice(0, c), val = c < 0 ? '' : line.slice(c + 1).replace(/^ /, '');
                  if (field === 'event') name = val;
                  else if (field === 'data') data = data ? `${data}\n${val}` : val;
                  else if (field === 'id') evId = val;
                }
                if (evId !== null) lastId = evId;
                on.event(name, data, evId);
                if (name === 'end') ended = true;
              }
              if (ended) break;
            }
            if (ended) { void reader.cancel().catch(() => undefined); return; }
            on.error(null);
          }
        } catch {
          if (stop.signal.aborted) return;
          on.error(null);
        }
        await new Promise((r) => setTimeout(r, 3000));
      }
    };
    void run();
    return { close: () => stop.abort() };
  },
  /** Every stored result of a task, in the JSON Lines contract's form. */
  async allResults(id: string): Promise<ResultRow[]> {
    const d = await request('GET', `/api/v1/tasks/${encodeURIComponent(id)}/results?limit=100000`);
    return list(d, 'results').map((r: any) => ({ task: r.task, window: r.window ?? null, key: r.key, value: r.value }));
  },
  /** The task's stored results (the most recent 100000, oldest first) with their sequence numbers. */
  async storedResults(id: string): Promise<ResultRow[]> {
    const d = await request('GET', `/api/v1/tasks/${encodeURIComponent(id)}/results?limit=100000`);
    return list(d, 'results').map((r: any) => ({ task: r.task, window: r.window ?? null, key: r.key, value: r.value, seq: num(r.seq) ?? undefined }));
  },
};
