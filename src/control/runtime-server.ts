/**
 * The runtime (control plane): an HTTP API under /api/v1 (fastify; request bodies validated by
 * JSON schemas, which also make the OpenAPI document at /api/v1/openapi.json).
 *
 *   GET  /health                       liveness (no token)
 *   GET  /agents                       agents, their health (up/down by heartbeat), CPU, memory
 *   POST /agents                       an agent registers                          (token)
 *   POST /agents/{name}/heartbeat      counters in, assigned tasks out             (token)
 *   POST /workers/{name}/heartbeat     GSP worker: counters in, tasks out          (token)
 *   GET  /workers                      GSP workers and their health
 *   POST /tasks                        submit (app name or query source text)      (token)
 *   GET  /tasks                        tasks with status
 *   GET  /tasks/{id}                   one task: per-agent and per-stage counters, data reduction
 *   GET  /tasks/{id}/results           recent results (JSON)
 *   GET  /tasks/{id}/windows           per window: read, after filter, local out, global out, reduction
 *   GET  /tasks/{id}/events            server-sent events: `result` and `counters`
 *   POST /tasks/{id}/stop              stop it everywhere                          (token)
 *
 * Every POST needs `Authorization: Bearer TOKEN`; without a valid one the answer is 401 and
 * nothing changes. Binds to 127.0.0.1 unless told otherwise. Results are read from each task's
 * results topic into the store, first copy per (task, window, key) kept.
 */
import { createHash, randomUUID, timingSafeEqual } from 'node:crypto';
import { EventEmitter } from 'node:events';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import swagger from '@fastify/swagger';
import { createConsumer, createTopic, type InRecord, type KafkaConsumer } from '../transport/kafka-client.ts';
import { DEFAULT_PARTITIONS, globalPartitionable, partialsTopic, resultsTopic } from '../transport/kafka-transport.ts';
import { RuntimeStore } from './runtime-store.ts';
import { checkSinkSpec } from '../sinks/sink-spec.ts';
import { loadSpec, type TaskSpec } from './task-spec.ts';
import { registerUiRoutes } from './ui-routes.ts';

export interface RuntimeOptions {
  port: number;
  host?: string;
  kafka: string;
  token: string;
  /** sqlite file. */
  db: string;
  /** An agent or worker is down after this many ms without a heartbeat. Default 3000. */
  downAfterMs?: number;
  /** Default grace time for tasks, ms. Default 30000. */
  graceMs?: number;
  log?: (line: string) => void;
}

interface ReaderState { consumer: KafkaConsumer | null; stopped: boolean; lastRecordMs: number; done: Promise<void> }

/** A stopped task's results reader stops after this long without a record... */
const DRAIN_QUIET_MS = 2000;
/** ...or after this long at most. */
const DRAIN_MAX_MS = 30_000;

/** A stored result from a results-topic record, or why it is not one. */
function parseResult(value: Buffer): { window: { start: number; end: number } | null; key: unknown; value: unknown } | string {
  let r: any;
  try { r = JSON.parse(value.toString('utf8')); } catch (e) { return `not JSON (${(e as Error).message})`; }
  if (r === null || typeof r !== 'object' || !('value' in r)) return 'not a result object';
  const w = r.window;
  if (w !== null && w !== undefined && !(typeof w === 'object' && Number.isFinite(w.start) && Number.isFinite(w.end))) return 'window is not {start, end}';
  return { window: w ?? null, key: r.key ?? null, value: r.value };
}

/** A finished task's event stream ends after this long without a newly stored result. */
const END_QUIET_MS = 4000;
const sha = (s: string) => createHash('sha256').update(s).digest();

const errorSchema = { type: 'object', properties: { message: { type: 'string' } } };
const windowSchema = { type: ['object', 'null'], properties: { start: { type: 'number' }, end: { type: 'number' } } };
const resultSchema = { type: 'object', properties: { seq: { type: 'integer' }, task: { type: 'string' }, window: windowSchema, key: {}, value: {} } };
const taskSchema = {
  type: 'object',
  properties: {
    id: { type: 'string' }, name: { type: 'string' }, app: { type: ['string', 'null'] }, code: { type: ['string', 'null'] },
    params: { type: 'object', additionalProperties: { type: 'string' } }, window: { type: 'number' },
    agents: { type: 'array', items: { type: 'string' } }, partitions: { type: 'integer' }, kafka: { type: 'string' },
    graceMs: { type: 'integer' }, sinks: { type: 'array', items: { type: 'string' } },
    status: { type: 'string', enum: ['running', 'finished', 'stopped'] }, createdAt: { type: 'integer' },
  },
};
const loadSchema = { cpu: { type: 'number' }, rss_bytes: { type: 'number' } };

export class RuntimeServer {
  readonly app: FastifyInstance;
  readonly store: RuntimeStore;
  private readonly opts: RuntimeOptions;
  private readonly tokenHash: Buffer;
  private readonly events = new EventEmitter();
  /** Enders of the open event streams (close() ends them so that it does not wait on clients). */
  private readonly streams = new Set<(final?: boolean) => void>();
  private readonly readers = new Map<string, ReaderState>();
  /** Readers of stopped tasks still taking what their topic holds (stopReader with drain). */
  private readonly draining = new Set<ReaderState>();
  /** Poison records met in each task's results topic (see startReader). */
  private readonly skippedResults = new Map<string, number>();
  private readonly log: (l: string) => void;
  url = '';

  constructor(opts: RuntimeOptions) {
    this.opts = opts;
    this.store = new RuntimeStore(opts.db);
    this.tokenHash = sha(opts.token);
    this.log = opts.log ?? ((l) => process.stderr.write(`intstream runtime: ${l}\n`));
    this.events.setMaxListeners(0);
    this.app = Fastify({ logger: false, bodyLimit: 4 << 20, forceCloseConnections: true });
  }

  private authorized(req: FastifyRequest): boolean {
    const h = req.headers.authorization ?? '';
    const m = /^Bearer (.+)$/.exec(h);
    // constant time: compare fixed-length digests
    return m !== null && timingSafeEqual(sha(m[1]), this.tokenHash);
  }

  private downAfter(): number { return this.opts.downAfterMs ?? 3000; }

  async start(): Promise<string> {
    const app = this.app;
    await app.register(swagger, {
      openapi: {
        openapi: '3.0.3',
        info: { title: 'intstream runtime API', version: '1' },
        components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
      },
    });
    app.addHook('onRequest', async (req, reply) => {
      if (req.method !== 'GET' && req.method !== 'HEAD' && !this.authorized(req)) {
        return reply.code(401).send({ message: 'missing or wrong bearer token' });
      }
    });
    app.setErrorHandler((err: any, _req, reply) => {
      const status = err.statusCode ?? (err.code === 'TASK_INVALID' || err.code === 'TASK_NOT_FOUND' || err.code === 'USAGE' || err.code === 'FILTER_SYNTAX' ? 400 : 500);
      reply.code(status).send({ message: err.message });
    });
    const secured = { security: [{ bearer: [] }] };

    app.get('/api/v1/openapi.json', { schema: { hide: true } }, async () => app.swagger());
    app.get('/api/v1/health', async () => ({ ok: true }));
    registerUiRoutes(app, this); // the web UI: its page and the routes only it uses (ui-routes.ts)

    app.get('/api/v1/agents', { schema: { summary: 'agents and their health' } }, async () => ({ agents: this.agentList() }));
    app.post('/api/v1/agents', {
      schema: {
        ...secured, summary: 'register an agent',
        body: { type: 'object', required: ['name', 'source'], properties: { name: { type: 'string', pattern: '^[A-Za-z0-9._-]{1,100}$' }, source: { type: 'string' }, labels: { type: 'object', additionalProperties: { type: 'string' } } } },
        response: { 401: errorSchema },
      },
    }, async (req) => {
      const b = req.body as { name: string; source: string; labels?: Record<string, string> };
      this.store.upsertAgent(b.name, b.source, b.labels ?? {}, {});
      this.log(`agent ${b.name} registered (${b.source})`);
      return { ok: true };
    });
    app.post('/api/v1/agents/:name/heartbeat', {
      schema: {
        ...secured, summary: 'agent heartbeat: counters in, assigned tasks out',
        params: { type: 'object', properties: { name: { type: 'string' } } },
        body: { type: 'object', properties: {
          ...loadSchema, source: { type: 'string' }, labels: { type: 'object' }, tasks: { type: 'object' },
          windows: { type: 'object', description: 'per task, windows whose counters changed: [start, read, after_filter, local_out] (running totals)',
            additionalProperties: { type: 'array', items: { type: 'array', items: { type: 'number' }, minItems: 4, maxItems: 4 } } },
        } },
        response: { 200: { type: 'object', properties: { tasks: { type: 'array', items: taskSchema } } } },
      },
    }, async (req) => {
      const name = (req.params as { name: string }).name;
      const b = req.body as { cpu?: number; rss_bytes?: number; source?: string; labels?: Record<string, string>; tasks?: Record<string, any>; windows?: Record<string, [number, number, number, number][]> };
      this.store.upsertAgent(name, b.source ?? '', b.labels ?? {}, { cpu: b.cpu, rss_bytes: b.rss_bytes });
      for (const [id, w] of Object.entries(b.windows ?? {})) if (this.store.task(id)) this.store.setAgentWindows(id, name, w);
      for (const [id, c] of Object.entries(b.tasks ?? {})) if (this.store.task(id)) this.store.setAgentCounters(id, name, c);
      this.updateFinished();
      const tasks = this.store.tasks().filter((t) => t.status === 'running' && t.agents.includes(name));
      return { tasks };
    });
    app.post('/api/v1/workers/:name/heartbeat', {
      schema: {
        ...secured, summary: 'GSP worker heartbeat: counters in, tasks out',
        params: { type: 'object', properties: { name: { type: 'string' } } },
        body: { type: 'object', properties: { ...loadSchema, tasks: { type: 'object' } } },
        response: { 200: { type: 'object', properties: { tasks: { type: 'array', items: taskSchema } } } },
      },
    }, async (req) => {
      const name = (req.params as { name: string }).name;
      this.store.upsertWorker(name, req.body ?? {});
      return { tasks: this.store.tasks().filter((t) => t.status !== 'stopped') };
    });
    app.get('/api/v1/workers', { schema: { summary: 'GSP workers and their health' } }, async () => ({
      workers: this.liveWorkers().map((w) => ({ ...w, up: Date.now() - w.last_seen < this.downAfter() })),
    }));

    app.post('/api/v1/tasks', {
      schema: {
        ...secured, summary: 'submit a task',
        body: {
          type: 'object',
          properties: {
            app: { type: 'string', description: 'built-in application name' },
            code: { type: 'string', description: 'query file source text (TypeScript)' },
            id: { type: 'string', pattern: '^[A-Za-z0-9._-]{1,100}$' },
            params: { type: 'object', additionalProperties: { type: 'string' } },
            window: { type: 'number', exclusiveMinimum: 0 },
            agents: {
              type: 'object', description: 'which agents run the local stage: all (up), by name, or by label',
              properties: { all: { type: 'boolean' }, names: { type: 'array', items: { type: 'string' } }, labels: { type: 'object', additionalProperties: { type: 'string' } } },
            },
            partitions: { type: 'integer', minimum: 1, maximum: 256 },
            grace_ms: { type: 'integer', minimum: 0 },
            sinks: { type: 'array', items: { type: 'string', minLength: 1 } },
          },
        },
        response: { 201: taskSchema, 400: errorSchema, 401: errorSchema },
      },
    }, async (req, reply) => this.submit(req, reply));
    app.get('/api/v1/tasks', { schema: { summary: 'tasks with status' } }, async () => ({
      tasks: this.store.tasks().map((t) => ({ id: t.id, name: t.name, status: t.status, agents: t.agents, createdAt: t.createdAt, results: this.store.resultCount(t.id) })),
    }));
    app.get('/api/v1/tasks/:id', { schema: { summary: 'one task with per-agent and per-stage counters' } }, async (req, reply) => {
      const d = this.detail((req.params as { id: string }).id);
      if (!d) return reply.code(404).send({ message: 'no such task' });
      return d;
    });
    app.get('/api/v1/tasks/:id/results', {
      schema: { summary: 'recent results', querystring: { type: 'object', properties: { limit: { type: 'integer', minimum: 1, maximum: 100000, default: 1000 }, after: { type: 'integer', default: 0 } } },
        response: { 200: { type: 'object', properties: { results: { type: 'array', items: resultSchema } } }, 404: errorSchema } },
    }, async (req, reply) => {
      const id = (req.params as { id: string }).id;
      if (!this.store.task(id)) return reply.code(404).send({ message: 'no such task' });
      const q = req.query as { limit: number; after: number };
      return { results: this.store.results(id, q.limit, q.after) };
    });
    const windowRow = {
      type: 'object',
      properties: {
        start: { type: 'number', description: 'window start, s since the epoch (event time)' }, end: { type: 'number' },
        read: { type: 'integer', description: 'items read, all agents' }, after_filter: { type: 'integer', description: 'items that passed the pushed-down filter' },
        local_out: { type: 'integer', description: 'elements that left the local stages' }, global_out: { type: 'integer', description: 'results that left the global stage' },
        reduction: { type: ['number', 'null'], description: '1 - local_out / read' },
      },
    };
    app.get('/api/v1/tasks/:id/windows', {
      schema: { summary: "per-window stage counters, summed over agents (windows of the task's window length)",
        response: { 200: { type: 'object', properties: { task: { type: 'string' }, window: { type: 'number' }, windows: { type: 'array', items: windowRow } } }, 404: errorSchema } },
    }, async (req, reply) => {
      const id = (req.params as { id: string }).id;
      const t = this.store.task(id);
      if (!t) return reply.code(404).send({ message: 'no such task' });
      return { task: id, window: t.window, windows: this.store.windowCounters(id, t.window) };
    });
    app.get('/api/v1/tasks/:id/events', { schema: { summary: 'server-sent events: result (recent, then new) and counters (every 2 s)' } }, async (req, reply) => {
      const id = (req.params as { id: string }).id;
      if (!this.store.task(id)) return reply.code(404).send({ message: 'no such task' });
      this.stream(id, req, reply);
    });
    app.post('/api/v1/tasks/:id/stop', { schema: { ...secured, summary: 'stop a task everywhere', response: { 401: errorSchema, 404: errorSchema } } }, async (req, reply) => {
      const id = (req.params as { id: string }).id;
      const t = this.store.task(id);
      if (!t) return reply.code(404).send({ message: 'no such task' });
      this.store.setStatus(id, 'stopped');
      this.stopReader(id, true);
      this.log(`task ${id} stopped`);
      return { id, status: 'stopped' };
    });

    this.url = await app.listen({ port: this.opts.port, host: this.opts.host ?? '127.0.0.1' });
    // tasks survive a restart: read their results again (the store ignores copies)
    for (const t of this.store.tasks()) if (t.status !== 'stopped') this.startReader(t);
    return this.url;
  }

  /** A worker silent this long is no longer listed (it stays in the store for its counters). */
  private forgetAfter(): number { return Math.max(60_000, 20 * this.downAfter()); }

  private liveWorkers() {
    return this.store.workers().filter((w) => Date.now() - w.last_seen < this.forgetAfter());
  }

  private agentList() {
    const now = Date.now();
    return this.store.agents().map((a) => ({ name: a.name, source: a.source, labels: a.labels, up: now - a.last_seen < this.downAfter(), last_seen: a.last_seen, cpu: a.info.cpu ?? null, rss_bytes: a.info.rss_bytes ?? null }));
  }

  private async submit(req: FastifyRequest, reply: FastifyReply) {
    const b = req.body as { app?: string; code?: string; id?: string; params?: Record<string, string>; window?: number; agents?: { all?: boolean; names?: string[]; labels?: Record<string, string> }; partitions?: number; grace_ms?: number; sinks?: string[] };
    if ((b.app === undefined) === (b.code === undefined)) return reply.code(400).send({ message: 'give exactly one of app (a built-in name) or code (query source text)' });
    const window = b.window ?? 10;
    for (const sink of b.sinks ?? []) {
      try { checkSinkSpec(sink); } catch (e) { return reply.code(400).send({ message: `sinks: ${(e as Error).message}` }); }
    }
    const loaded = await loadSpec({ app: b.app ?? null, code: b.code ?? null, params: b.params ?? {}, window });
    const agents = this.agentList();
    let chosen: string[];
    if (b.agents?.names) {
      const unknown = b.agents.names.filter((n) => !agents.some((a) => a.name === n));
      if (unknown.length) return reply.code(400).send({ message: `agents.names: unknown agent ${unknown.join(', ')}` });
      chosen = [...b.agents.names];
    } else if (b.agents?.labels) {
      const want = Object.entries(b.agents.labels);
      chosen = agents.filter((a) => a.up && want.every(([k, v]) => a.labels[k] === v)).map((a) => a.name);
    } else chosen = agents.filter((a) => a.up).map((a) => a.name);
    if (chosen.length === 0) return reply.code(400).send({ message: 'agents: no agent (up) matches' });
    const id = b.id ?? `${loaded.def.name}-${randomUUID().slice(0, 8)}`;
    if (this.store.task(id)) return reply.code(400).send({ message: `id: task ${id} exists` });
    const partitions = globalPartitionable(loaded.split.global) ? b.partitions ?? DEFAULT_PARTITIONS : 1;
    await createTopic(this.opts.kafka, partialsTopic(id), partitions);
    await createTopic(this.opts.kafka, resultsTopic(id), DEFAULT_PARTITIONS);
    const spec: TaskSpec = {
      id, name: loaded.def.name, app: b.app ?? null, code: b.code ?? null, params: b.params ?? {}, window,
      agents: chosen, partitions, kafka: this.opts.kafka, graceMs: b.grace_ms ?? this.opts.graceMs ?? 30_000,
      sinks: b.sinks ?? [], status: 'running', createdAt: Date.now(),
    };
    this.store.addTask(spec);
    this.startReader(spec);
    this.log(`task ${id} (${spec.name}) submitted to ${chosen.join(', ')}; ${partitions} partition(s)`);
    return reply.code(201).send(spec);
  }

  private updateFinished(): void {
    for (const t of this.store.tasks()) {
      if (t.status !== 'running') continue;
      const c = this.store.agentCounters(t.id);
      // ended everywhere: finished, or failed (the agent's error stays in the task's detail)
      if (t.agents.every((a) => c[a]?.state === 'finished' || c[a]?.state === 'failed')) this.store.setStatus(t.id, 'finished');
    }
  }

  detail(id: string) {
    const t = this.store.task(id);
    if (!t) return undefined;
    const counters = this.store.agentCounters(id);
    const health = new Map(this.agentList().map((a) => [a.name, a]));
    const perAgent = t.agents.map((name, i) => ({ name, source_index: i, up: health.get(name)?.up ?? false, ...(counters[name] ?? { state: 'pending' }) }));
    const sum = (k: string) => perAgent.reduce((a, x: any) => a + (x[k] ?? 0), 0);
    const local = { items_read: sum('items_read'), filtered: sum('filtered'), emitted: sum('emitted'), malformed: sum('malformed'), skipped: sum('skipped') };
    // `emitted` adds up what every worker produced, replays after a failover included; `out` is
    // what left the global stage once (the distinct results stored), so it stays right when a
    // worker's successor replays windows.
    const results = this.store.resultCount(id);
    const global = { received: 0, out: results, emitted: 0, late: 0, grace_expiries: 0, duplicates: 0, poison: 0, workers: [] as { name: string; up: boolean; partitions: number[] }[] };
    for (const w of this.store.workers()) {
      const c = w.info?.tasks?.[id];
      if (!c) continue;
      const up = Date.now() - w.last_seen < this.downAfter();
      if (up || Date.now() - w.last_seen < this.forgetAfter()) global.workers.push({ name: w.name, up, partitions: up ? c.partitions : [] });
      global.received += c.received; global.emitted += c.out; global.late += c.late; global.grace_expiries += c.grace_expiries; global.duplicates += c.duplicates; global.poison += c.poison ?? 0;
    }
    const { code, ...rest } = t;
    return {
      ...rest, has_code: code !== null,
      agents_detail: perAgent,
      stages: { local, global },
      results,
      results_skipped: this.skippedResults.get(id) ?? 0,
      data_reduction: local.items_read > 0 ? 1 - local.emitted / local.items_read : 0,
    };
  }

  /**
   * A task's results and counters as server-sent events: stored results after `after`, then new
   * ones as they are stored, counters every 2 s, and `event: end` once the task is stopped, or
   * finished with no new result stored for END_QUIET_MS (its global stage has drained), after
   * which the stream closes. The runtime's close() ends every open stream.
   */
  private stream(id: string, req: FastifyRequest, reply: FastifyReply): void {
    reply.hijack();
    const res = reply.raw;
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', connection: 'keep-alive' });
    const q = req.query as { after?: string };
    for (const r of this.store.results(id, 1000, Number(q.after ?? 0))) res.write(`id: ${r.seq}\nevent: result\ndata: ${JSON.stringify(r)}\n\n`);
    const onResult = (r: { seq: number }) => res.write(`id: ${r.seq}\nevent: result\ndata: ${JSON.stringify(r)}\n\n`);
    this.events.on(`result:${id}`, onResult);
    let stored = -1;
    let quietSince = Date.now();
    const tick = setInterval(() => {
      const d = this.detail(id);
      res.write(`event: counters\ndata: ${JSON.stringify(d)}\n\n`);
      if (!d) return end();
      if (d.results !== stored) { stored = d.results; quietSince = Date.now(); }
      if (d.status === 'stopped' || (d.status === 'finished' && Date.now() - quietSince >= END_QUIET_MS)) end();
    }, 2000);
    // `final`: the task has ended; a runtime shutting down closes the stream without saying so
    const end = (final = true) => {
      if (final) res.write(`event: end\ndata: ${JSON.stringify({ status: this.store.task(id)?.status ?? 'deleted' })}\n\n`);
      res.end();
    };
    this.streams.add(end);
    req.raw.on('close', () => { clearInterval(tick); this.events.off(`result:${id}`, onResult); this.streams.delete(end); });
  }

  /**
   * Reads a task's results topic into the store, batch by batch (one transaction each), until the
   * task is stopped. A record that is not a result (not JSON, not a result object) is a poison
   * record: counted in the task's `results_skipped`, logged once with its topic, partition and
   * offset, and skipped, so that it never blocks the task (a reader that threw on it would
   * rejoin and meet it again for ever).
   */
  private startReader(t: TaskSpec): void {
    if (this.readers.has(t.id)) return;
    const state: ReaderState = { consumer: null, stopped: false, lastRecordMs: Date.now(), done: Promise.resolve() };
    this.readers.set(t.id, state);
    state.done = (async () => {
      while (!state.stopped) {
        try {
          state.consumer = await createConsumer({ bootstrap: this.opts.kafka, groupId: `intstream-runtime.${t.id}`, topics: [resultsTopic(t.id)], fromBeginning: true, maxWaitMs: 100 });
          for await (const batch of state.consumer) {
            const rows: { window: { start: number; end: number } | null; key: unknown; value: unknown }[] = [];
            for (const rec of batch.records) {
              const r = parseResult(rec.value);
              if (typeof r === 'string') { this.poisoned(t.id, rec, r); continue; }
              rows.push(r);
            }
            for (const stored of this.store.addResults(t.id, rows)) this.events.emit(`result:${t.id}`, stored);
            if (batch.records.length > 0) state.lastRecordMs = Date.now();
            await batch.commit().catch(() => undefined);
            if (state.stopped) break;
          }
        } catch (e) {
          if (!state.stopped) this.log(`task ${t.id}: results reader: ${(e as Error).message}; retrying`);
        }
        await state.consumer?.close().catch(() => undefined);
        if (!state.stopped) await new Promise((r) => setTimeout(r, 1000));
      }
    })();
  }

  private poisoned(task: string, rec: InRecord, why: string): void {
    const n = (this.skippedResults.get(task) ?? 0) + 1;
    this.skippedResults.set(task, n);
    if (n === 1) this.log(`task ${task}: ${rec.topic} partition ${rec.partition} offset ${rec.offset}: ${why}; skipped (further ones counted in results_skipped)`);
  }

  /**
   * Stops reading a task's results. With `drain`, the reader first takes what is already in the
   * topic (it stops once no record came for DRAIN_QUIET_MS, or after DRAIN_MAX_MS): stopping a
   * task keeps the results its global stage had produced.
   */
  private stopReader(id: string, drain = false): void {
    const r = this.readers.get(id);
    if (!r) return;
    this.readers.delete(id);
    const stop = () => { r.stopped = true; void r.consumer?.close().catch(() => undefined); };
    if (!drain) return stop();
    const until = Date.now() + DRAIN_MAX_MS;
    const check = setInterval(() => {
      if (Date.now() - r.lastRecordMs >= DRAIN_QUIET_MS || Date.now() >= until) { clearInterval(check); stop(); }
    }, 100);
    check.unref();
    r.lastRecordMs = Math.max(r.lastRecordMs, Date.now() - DRAIN_QUIET_MS + 1000); // at least 1 s more
    this.draining.add(r);
    void r.done.finally(() => this.draining.delete(r));
  }

  async close(): Promise<void> {
    for (const id of [...this.readers.keys()]) this.stopReader(id);
    for (const r of this.draining) { r.stopped = true; void r.consumer?.close().catch(() => undefined); }
    for (const end of [...this.streams]) end(false);
    await this.app.close();
    this.store.close();
  }
}
