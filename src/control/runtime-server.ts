/**
 * The runtime (control plane): an HTTP API under /api/v1 (fastify; request bodies validated by
 * JSON schemas, which also make the OpenAPI document at /api/v1/openapi.json).
 *
 *   GET  /health                       liveness                                    (public)
 *   GET  /whoami                       the caller's role and name                  (any credential)
 *   GET  /agents                       agents, their health (up/down by heartbeat), CPU, memory (read)
 *   POST /agents                       an agent registers, as its credential's name (agent)
 *   POST /agents/{name}/heartbeat      counters in, assigned tasks out             (agent {name})
 *   POST /workers/{name}/heartbeat     GSP worker: counters in, tasks out          (worker {name})
 *   GET  /workers                      GSP workers and their health                (read)
 *   POST /tasks                        submit (built-in app name or query source)  (operator)
 *   GET  /tasks                        tasks with status                           (read)
 *   GET  /tasks/{id}                   one task: per-agent and per-stage counters  (read)
 *   GET  /tasks/{id}/results           recent results (JSON)                       (read)
 *   GET  /tasks/{id}/windows           per window: read, after filter, local out, global out (read)
 *   GET  /tasks/{id}/events            server-sent events: `result` and `counters` (read)
 *   POST /tasks/{id}/stop              stop it everywhere                          (operator)
 *
 * Every call but /health, the OpenAPI document and the web page's files needs
 * `Authorization: Bearer TOKEN` of a credential whose role allows it (credentials.ts): without a
 * known token the answer is 401, with one whose role does not allow the call 403, and nothing
 * changes. `publicRead` lets reads (GET) go without a token. An agent or worker credential is
 * bound to its name: it registers and heartbeats as that name only.
 *
 * Submitted query files are never run in the runtime: they are validated in an unprivileged
 * child process (validate-task.ts); `app` is a built-in application's name, never a path.
 * Event streams are capped (overall and per credential, 429 beyond), and their counters are
 * computed once per tick per task for all of that task's streams. With `tls` the runtime serves
 * HTTPS (with `tls.ca`, it asks for client certificates signed by that CA and refuses others).
 * Binds to 127.0.0.1 unless told otherwise. Results are read from each task's results topic into
 * the store, first copy per (task, window, key) kept.
 */
import { randomUUID } from 'node:crypto';
import { EventEmitter } from 'node:events';
import type { ServerResponse } from 'node:http';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import swagger from '@fastify/swagger';
import { createConsumer, createTopic, deleteTopic, type InRecord, type KafkaConsumer } from '../transport/kafka-client.ts';
import { DEFAULT_PARTITIONS, globalPartitionable, partialsTopic, resultsTopic } from '../transport/kafka-transport.ts';
import { RuntimeStore, type StoredResult } from './runtime-store.ts';
import { checkSinkSpec } from '../sinks/sink-spec.ts';
import { loadSpec, type TaskSpec } from './task-spec.ts';
import { registerUiRoutes } from './ui-routes.ts';
import { builtinNames } from '../apps/index.ts';
import { NAME_PATTERN, validName, type Credential, type Credentials, type Role } from './credentials.ts';
import { validateCode, type ValidateOptions } from './validate-task.ts';
import { IntstreamError } from '../errors.ts';

export interface RuntimeOptions {
  port: number;
  host?: string;
  kafka: string;
  /** Who may call what (credentials.ts). */
  credentials: Credentials;
  /** GET calls without a credential (the web UI's read-only view for anyone). Default false. */
  publicRead?: boolean;
  /** HTTPS: PEM certificate chain and key; with `ca`, client certificates signed by it are required. */
  tls?: { cert: string | Buffer; key: string | Buffer; ca?: string | Buffer };
  /** Open event streams at most, overall (default 256) and per credential or, anonymous, per address (default 32). */
  maxStreams?: number;
  maxStreamsPerClient?: number;
  /** Limits of the child process that validates submitted query files. */
  validate?: ValidateOptions;
  /** sqlite file. */
  db: string;
  /** An agent or worker is down after this many ms without a heartbeat. Default 3000. */
  downAfterMs?: number;
  /** Default grace time for tasks, ms. Default 30000. */
  graceMs?: number;
  /** Stored results older than this many ms are forgotten (checked every minute, or every tenth of it). Default: kept. */
  retentionMs?: number;
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
/** A stream whose client has not taken this much is closed (a client that does not read). */
const STREAM_BACKLOG = 1 << 20;

/**
 * Who may call a route: `public` (anyone), `read` (read or operator; anyone with publicRead),
 * `signin` (read or operator, always with a token), `operator`, `agent`, `worker`, `any` (any
 * credential). Routes without one are `operator`'s.
 */
export type Access = 'public' | 'read' | 'signin' | 'operator' | 'agent' | 'worker' | 'any';
const ALLOWED: Record<Exclude<Access, 'public'>, readonly Role[]> = {
  read: ['read', 'operator'], signin: ['read', 'operator'], operator: ['operator'], agent: ['agent'], worker: ['worker'],
  any: ['read', 'operator', 'agent', 'worker'],
};
const access = (a: Access) => ({ config: { access: a } });

/** The credential a request was authenticated with (set by the onRequest hook), or null. */
export function credentialOf(req: FastifyRequest): Credential | null {
  return (req as FastifyRequest & { credential?: Credential | null }).credential ?? null;
}

/** One task's open event streams, fed by one listener and one counters tick. */
interface StreamHub {
  clients: Set<StreamClient>;
  timer: NodeJS.Timeout;
  onResult: (r: { seq: number }) => void;
  /** The last 1000 results as events, for new clients (dropped when a result comes). */
  replay: string | null;
  stored: number;
  quietSince: number;
}
interface StreamClient { res: ServerResponse; key: string; end: (final?: boolean) => void }

const errorSchema = {
  type: 'object',
  properties: { message: { type: 'string' }, hint: { type: 'string' }, line: { type: 'integer', description: 'line in the submitted query file' }, column: { type: 'integer' } },
};
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
  private readonly events = new EventEmitter();
  /** Enders of the open event streams (close() ends them so that it does not wait on clients). */
  private readonly streams = new Set<(final?: boolean) => void>();
  /** Open event streams per task, and per credential (or address). */
  private readonly hubs = new Map<string, StreamHub>();
  private readonly streamsPer = new Map<string, number>();
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
    this.log = opts.log ?? ((l) => process.stderr.write(`intstream runtime: ${l}\n`));
    this.events.setMaxListeners(0);
    const tls = opts.tls;
    this.app = Fastify({
      logger: false, bodyLimit: 4 << 20, forceCloseConnections: true,
      ...(tls ? { https: { cert: tls.cert, key: tls.key, ...(tls.ca ? { ca: tls.ca, requestCert: true, rejectUnauthorized: true } : {}) } } : {}),
    } as Parameters<typeof Fastify>[0]) as unknown as FastifyInstance;
  }

  /**
   * Authenticates a request and checks its route's access (see Access): 401 without a known
   * token, 403 when the credential's role may not make the call.
   */
  private async authorize(req: FastifyRequest, reply: FastifyReply): Promise<unknown> {
    const need: Access = (req.routeOptions.config as { access?: Access } | undefined)?.access ?? (req.routeOptions.url ? 'operator' : 'public');
    const presented = req.headers.authorization !== undefined;
    const cred = presented ? this.opts.credentials.check(req.headers.authorization) : null;
    (req as FastifyRequest & { credential?: Credential | null }).credential = cred;
    if (need === 'public') return;
    if (need === 'read' && this.opts.publicRead && (cred !== null || !presented)) return;
    if (cred === null) {
      return reply.code(401).header('www-authenticate', 'Bearer').send({ message: presented ? 'unknown bearer token' : 'this call needs a bearer token (Authorization: Bearer TOKEN)' });
    }
    if (!ALLOWED[need].includes(cred.role)) {
      return reply.code(403).send({ message: `${/^[aeiou]/.test(cred.role) ? 'an' : 'a'} ${cred.role} credential (${cred.name}) may not make this call` });
    }
  }

  /** 403 unless the request's credential is bound to `name` (agents and workers act only as themselves). */
  private asSelf(req: FastifyRequest, reply: FastifyReply, name: string): boolean {
    const cred = credentialOf(req);
    if (cred && cred.name === name) return true;
    void reply.code(403).send({ message: `the ${cred?.role ?? 'anonymous'} credential of ${cred?.name ?? 'nobody'} may not act as '${name}'` });
    return false;
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
    app.addHook('onRequest', (req, reply) => this.authorize(req, reply));
    app.setErrorHandler((err: any, _req, reply) => {
      const status = err.statusCode ?? (err.code === 'TASK_INVALID' || err.code === 'TASK_NOT_FOUND' || err.code === 'USAGE' || err.code === 'FILTER_SYNTAX' ? 400 : 500);
      const line = /^query file:(\d+)(?::(\d+))?/.exec(String(err.message ?? ''));
      reply.code(status).send({
        message: status >= 500 && err.statusCode === undefined && !(err instanceof IntstreamError) ? 'internal error (see the runtime log)' : err.message,
        ...(err instanceof IntstreamError && err.hint ? { hint: err.hint } : {}),
        ...(line ? { line: Number(line[1]), ...(line[2] ? { column: Number(line[2]) } : {}) } : {}),
      });
      if (status >= 500) this.log(`${_req.method} ${_req.url}: ${err.message}`);
    });
    const secured = { security: [{ bearer: [] }] };
    const denied = { 401: errorSchema, 403: errorSchema };

    app.get('/api/v1/openapi.json', { schema: { hide: true }, ...access('public') }, async () => app.swagger());
    app.get('/api/v1/health', access('public'), async () => ({ ok: true }));
    app.get('/api/v1/whoami', { schema: { ...secured, summary: "the caller's role and name", response: { 200: { type: 'object', properties: { role: { type: 'string' }, name: { type: 'string' } } }, ...denied } }, ...access('any') },
      async (req) => ({ role: credentialOf(req)!.role, name: credentialOf(req)!.name }));
    registerUiRoutes(app, this); // the web UI: its page and the routes only it uses (ui-routes.ts)

    const nameParam = { type: 'object', required: ['name'], properties: { name: { type: 'string', pattern: NAME_PATTERN } } };
    app.get('/api/v1/agents', { schema: { ...secured, summary: 'agents and their health' }, ...access('read') }, async () => ({ agents: this.agentList() }));
    app.post('/api/v1/agents', {
      ...access('agent'),
      schema: {
        ...secured, summary: "register an agent (as its credential's name)",
        body: { type: 'object', required: ['name', 'source'], properties: { name: { type: 'string', pattern: NAME_PATTERN }, source: { type: 'string', maxLength: 4096 }, labels: { type: 'object', additionalProperties: { type: 'string' } } } },
        response: denied,
      },
    }, async (req, reply) => {
      const b = req.body as { name: string; source: string; labels?: Record<string, string> };
      if (!this.asSelf(req, reply, b.name)) return reply;
      this.store.upsertAgent(b.name, b.source, b.labels ?? {}, {});
      this.log(`agent ${b.name} registered (${b.source})`);
      return { ok: true };
    });
    app.post('/api/v1/agents/:name/heartbeat', {
      ...access('agent'),
      schema: {
        ...secured, summary: 'agent heartbeat: counters in, assigned tasks out',
        params: nameParam,
        body: { type: 'object', properties: {
          ...loadSchema, source: { type: 'string' }, labels: { type: 'object' }, tasks: { type: 'object' },
          windows: { type: 'object', description: 'per task, windows whose counters changed: [start, read, after_filter, local_out] (running totals)',
            additionalProperties: { type: 'array', items: { type: 'array', items: { type: 'number' }, minItems: 4, maxItems: 4 } } },
        } },
        response: { 200: { type: 'object', properties: { tasks: { type: 'array', items: taskSchema } } }, ...denied },
      },
    }, async (req, reply) => {
      const name = (req.params as { name: string }).name;
      if (!validName(name)) return reply.code(400).send({ message: 'name: not 1 to 64 of A-Z a-z 0-9 . _ -' });
      if (!this.asSelf(req, reply, name)) return reply;
      const b = req.body as { cpu?: number; rss_bytes?: number; source?: string; labels?: Record<string, string>; tasks?: Record<string, any>; windows?: Record<string, [number, number, number, number][]> };
      this.store.upsertAgent(name, b.source ?? '', b.labels ?? {}, { cpu: b.cpu, rss_bytes: b.rss_bytes });
      for (const [id, w] of Object.entries(b.windows ?? {})) if (this.store.task(id)) this.store.setAgentWindows(id, name, w);
      for (const [id, c] of Object.entries(b.tasks ?? {})) if (this.store.task(id)) this.store.setAgentCounters(id, name, c);
      this.updateFinished();
      const tasks = this.store.tasks().filter((t) => t.status === 'running' && t.agents.includes(name));
      return { tasks };
    });
    app.post('/api/v1/workers/:name/heartbeat', {
      ...access('worker'),
      schema: {
        ...secured, summary: 'GSP worker heartbeat: counters in, tasks out',
        params: nameParam,
        body: { type: 'object', properties: { ...loadSchema, tasks: { type: 'object' } } },
        response: { 200: { type: 'object', properties: { tasks: { type: 'array', items: taskSchema } } }, ...denied },
      },
    }, async (req, reply) => {
      const name = (req.params as { name: string }).name;
      if (!validName(name)) return reply.code(400).send({ message: 'name: not 1 to 64 of A-Z a-z 0-9 . _ -' });
      if (!this.asSelf(req, reply, name)) return reply;
      this.store.upsertWorker(name, req.body ?? {});
      return { tasks: this.store.tasks().filter((t) => t.status !== 'stopped') };
    });
    app.get('/api/v1/workers', { schema: { ...secured, summary: 'GSP workers and their health' }, ...access('read') }, async () => ({
      workers: this.liveWorkers().map((w) => ({ ...w, up: Date.now() - w.last_seen < this.downAfter() })),
    }));

    app.post('/api/v1/tasks', {
      ...access('operator'),
      schema: {
        ...secured, summary: 'submit a task',
        body: {
          type: 'object',
          properties: {
            app: { type: 'string', maxLength: 64, description: 'built-in application name (never a path)' },
            code: { type: 'string', description: 'query file source text (TypeScript); validated in an unprivileged child process, run only by agents and GSP workers started with --allow-code' },
            id: { type: 'string', pattern: '^(?!\\.\\.?$)[A-Za-z0-9._-]{1,100}$' },
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
        response: { 201: taskSchema, 400: errorSchema, ...denied },
      },
    }, async (req, reply) => this.submit(req, reply));
    app.get('/api/v1/tasks', { schema: { ...secured, summary: 'tasks with status' }, ...access('read') }, async () => ({
      tasks: this.store.tasks().map((t) => ({ id: t.id, name: t.name, status: t.status, agents: t.agents, createdAt: t.createdAt, results: this.store.resultCount(t.id) })),
    }));
    app.get('/api/v1/tasks/:id', { schema: { ...secured, summary: 'one task with per-agent and per-stage counters' }, ...access('read') }, async (req, reply) => {
      const d = this.detail((req.params as { id: string }).id);
      if (!d) return reply.code(404).send({ message: 'no such task' });
      return d;
    });
    app.get('/api/v1/tasks/:id/results', {
      ...access('read'),
      schema: { ...secured, summary: 'results: with after=SEQ, the next page from the start (a cursor: next is the after of the following page, null at the end); without it, the most recent',
        querystring: { type: 'object', properties: { limit: { type: 'integer', minimum: 1, maximum: 100000, default: 1000 }, after: { type: 'integer', minimum: 0 } } },
        response: { 200: { type: 'object', properties: { results: { type: 'array', items: resultSchema }, next: { type: ['integer', 'null'] } } }, 404: errorSchema } },
    }, async (req, reply) => {
      const id = (req.params as { id: string }).id;
      if (!this.store.task(id)) return reply.code(404).send({ message: 'no such task' });
      const q = req.query as { limit: number; after?: number };
      if (q.after === undefined) return { results: this.store.results(id, q.limit), next: null };
      const results = this.store.resultsPage(id, q.limit, q.after);
      return { results, next: results.length === q.limit ? results[results.length - 1].seq : null };
    });
    app.delete('/api/v1/tasks/:id', { ...access('operator'), schema: { ...secured, summary: 'delete a task: stopped everywhere, its results, counters and Kafka topics gone', response: { ...denied, 404: errorSchema } } }, async (req, reply) => {
      const id = (req.params as { id: string }).id;
      if (!this.store.task(id)) return reply.code(404).send({ message: 'no such task' });
      this.stopReader(id);
      this.store.deleteTask(id);
      this.skippedResults.delete(id);
      const topics: Record<string, boolean> = {};
      for (const topic of [partialsTopic(id), resultsTopic(id)]) {
        topics[topic] = await deleteTopic(this.opts.kafka, topic).catch((e) => { this.log(`task ${id}: deleting ${topic}: ${(e as Error).message}`); return false; });
      }
      this.log(`task ${id} deleted`);
      return { id, deleted: true, topics };
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
      ...access('read'),
      schema: { ...secured, summary: "per-window stage counters, summed over agents (windows of the task's window length)",
        response: { 200: { type: 'object', properties: { task: { type: 'string' }, window: { type: 'number' }, windows: { type: 'array', items: windowRow } } }, 404: errorSchema } },
    }, async (req, reply) => {
      const id = (req.params as { id: string }).id;
      const t = this.store.task(id);
      if (!t) return reply.code(404).send({ message: 'no such task' });
      return { task: id, window: t.window, windows: this.store.windowCounters(id, t.window) };
    });
    app.get('/api/v1/tasks/:id/events', { schema: { ...secured, summary: 'server-sent events: result (recent, then new) and counters (every 2 s); 429 beyond the open streams allowed' }, ...access('read') }, async (req, reply) => {
      const id = (req.params as { id: string }).id;
      if (!this.store.task(id)) return reply.code(404).send({ message: 'no such task' });
      const cred = credentialOf(req);
      const key = cred ? `${cred.role}:${cred.name}` : `addr:${req.ip}`;
      const max = this.opts.maxStreams ?? 256, per = this.opts.maxStreamsPerClient ?? 32;
      if (this.streams.size >= max || (this.streamsPer.get(key) ?? 0) >= per) {
        return reply.code(429).header('retry-after', '5').send({ message: `too many open event streams (at most ${max}, ${per} per credential)` });
      }
      this.stream(id, key, req, reply);
    });
    app.post('/api/v1/tasks/:id/stop', { ...access('operator'), schema: { ...secured, summary: 'stop a task everywhere', response: { ...denied, 404: errorSchema } } }, async (req, reply) => {
      const id = (req.params as { id: string }).id;
      const t = this.store.task(id);
      if (!t) return reply.code(404).send({ message: 'no such task' });
      this.store.setStatus(id, 'stopped');
      this.stopReader(id, true);
      this.log(`task ${id} stopped`);
      return { id, status: 'stopped' };
    });

    this.url = await app.listen({ port: this.opts.port, host: this.opts.host ?? '127.0.0.1' });
    // a database deleted or replaced under the runtime: tasks it accepts would be lost at the
    // next start, so it stops, saying why (the store's file is checked every second)
    this.storeCheck = setInterval(() => {
      const why = this.store.lost();
      if (why === null) return;
      if (this.storeCheck) clearInterval(this.storeCheck);
      this.log(`storage lost: ${why}; stopping`);
      this.onFatal(new IntstreamError('INTERNAL', `storage lost: ${why}`));
    }, 1000);
    this.storeCheck.unref();
    const keep = this.opts.retentionMs;
    if (keep !== undefined) {
      const expire = () => { const n = this.store.expireResults(Date.now() - keep); if (n > 0) this.log(`retention: ${n} results older than ${keep / 1000} s forgotten`); };
      this.retentionTimer = setInterval(expire, Math.max(100, Math.min(60_000, keep / 10)));
      this.retentionTimer.unref();
    }
    // tasks survive a restart: read their results again (the store ignores copies)
    for (const t of this.store.tasks()) if (t.status !== 'stopped') this.startReader(t);
    return this.url;
  }

  /** A worker silent this long is no longer listed (it stays in the store for its counters). */
  private forgetAfter(): number { return Math.max(60_000, 20 * this.downAfter()); }

  private liveWorkers() {
    return this.store.workers().filter((w) => Date.now() - w.last_seen < this.forgetAfter());
  }

  /** Agents with their health (the `GET /agents` list). */
  agentList() {
    const now = Date.now();
    return this.store.agents().map((a) => ({ name: a.name, source: a.source, labels: a.labels, up: now - a.last_seen < this.downAfter(), last_seen: a.last_seen, cpu: a.info.cpu ?? null, rss_bytes: a.info.rss_bytes ?? null }));
  }

  private async submit(req: FastifyRequest, reply: FastifyReply) {
    const b = req.body as { app?: string; code?: string; id?: string; params?: Record<string, string>; window?: number; agents?: { all?: boolean; names?: string[]; labels?: Record<string, string> }; partitions?: number; grace_ms?: number; sinks?: string[] };
    if ((b.app === undefined) === (b.code === undefined)) return reply.code(400).send({ message: 'give exactly one of app (a built-in name) or code (query source text)' });
    if (b.app !== undefined && !builtinNames().includes(b.app)) {
      return reply.code(400).send({ message: `app: no built-in application named '${b.app}'`, hint: `built-in: ${builtinNames().join(', ')}; a query file is sent as code` });
    }
    const window = b.window ?? 10;
    for (const sink of b.sinks ?? []) {
      try { checkSinkSpec(sink); } catch (e) { return reply.code(400).send({ message: `sinks: ${(e as Error).message}` }); }
    }
    // a built-in is this package's own code; a query file is never run here (validate-task.ts)
    let loaded: { name: string; partitionable: boolean };
    if (b.app !== undefined) {
      const l = await loadSpec({ app: b.app, code: null, params: b.params ?? {}, window });
      loaded = { name: l.def.name, partitionable: globalPartitionable(l.split.global) };
    } else {
      const v = await validateCode(b.code!, b.params ?? {}, window, this.opts.validate);
      loaded = { name: v.name, partitionable: globalPartitionable(v.global.map((kind) => ({ kind }) as unknown as Parameters<typeof globalPartitionable>[0][number])) };
    }
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
    const id = b.id ?? `${loaded.name}-${randomUUID().slice(0, 8)}`;
    if (this.store.task(id)) return reply.code(400).send({ message: `id: task ${id} exists` });
    const partitions = loaded.partitionable ? b.partitions ?? DEFAULT_PARTITIONS : 1;
    await createTopic(this.opts.kafka, partialsTopic(id), partitions);
    await createTopic(this.opts.kafka, resultsTopic(id), DEFAULT_PARTITIONS);
    const spec: TaskSpec = {
      id, name: loaded.name, app: b.app ?? null, code: b.code ?? null, params: b.params ?? {}, window,
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
    const global = { received: 0, out: results, emitted: 0, late: 0, grace_expiries: 0, duplicates: 0, poison: 0, workers: [] as { name: string; up: boolean; partitions: number[]; error?: string }[] };
    for (const w of this.store.workers()) {
      const c = w.info?.tasks?.[id];
      if (!c) continue;
      const up = Date.now() - w.last_seen < this.downAfter();
      if (up || Date.now() - w.last_seen < this.forgetAfter()) global.workers.push({ name: w.name, up, partitions: up ? c.partitions : [], ...(typeof c.error === 'string' ? { error: c.error } : {}) });
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
   *
   * All streams of a task share one hub: one result listener and one counters tick, whose detail
   * is computed and serialized once for all of them. A client that stops reading is dropped once
   * STREAM_BACKLOG bytes wait for it.
   */
  private stream(id: string, key: string, req: FastifyRequest, reply: FastifyReply): void {
    reply.hijack();
    const res = reply.raw;
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', connection: 'keep-alive' });
    const hub = this.hubs.get(id) ?? this.openHub(id);
    const after = Number((req.query as { after?: string }).after ?? 0) || 0;
    const replay = (rows: StoredResult[]) => rows.map((r) => `id: ${r.seq}\nevent: result\ndata: ${JSON.stringify(r)}\n\n`).join('');
    // the recent results, serialized once for every client that starts from the beginning
    if (after === 0) res.write(hub.replay ??= replay(this.store.results(id, 1000, 0)));
    else res.write(replay(this.store.results(id, 1000, after)));
    // `final`: the task has ended; a runtime shutting down closes the stream without saying so
    const end = (final = true) => {
      if (final && !res.writableEnded) res.write(`event: end\ndata: ${JSON.stringify({ status: this.store.task(id)?.status ?? 'deleted' })}\n\n`);
      res.end();
    };
    const client: StreamClient = { res, key, end };
    hub.clients.add(client);
    this.streams.add(end);
    this.streamsPer.set(key, (this.streamsPer.get(key) ?? 0) + 1);
    req.raw.on('close', () => {
      if (!this.streams.delete(end)) return;
      hub.clients.delete(client);
      const n = (this.streamsPer.get(key) ?? 1) - 1;
      if (n > 0) this.streamsPer.set(key, n); else this.streamsPer.delete(key);
      if (hub.clients.size === 0 && this.hubs.get(id) === hub) this.closeHub(id, hub);
    });
  }

  private openHub(id: string): StreamHub {
    const send = (hub: StreamHub, text: string) => {
      for (const c of hub.clients) {
        if (c.res.writableLength > STREAM_BACKLOG) { c.res.destroy(); continue; }
        c.res.write(text);
      }
    };
    const hub: StreamHub = {
      clients: new Set(), stored: -1, quietSince: Date.now(), replay: null,
      onResult: (r) => { hub.replay = null; send(hub, `id: ${r.seq}\nevent: result\ndata: ${JSON.stringify(r)}\n\n`); },
      timer: setInterval(() => {
        const d = this.detail(id);
        send(hub, `event: counters\ndata: ${JSON.stringify(d)}\n\n`);
        if (d && d.results !== hub.stored) { hub.stored = d.results; hub.quietSince = Date.now(); }
        const done = !d || d.status === 'stopped' || (d.status === 'finished' && Date.now() - hub.quietSince >= END_QUIET_MS);
        if (done) for (const c of [...hub.clients]) c.end();
      }, 2000),
    };
    this.events.on(`result:${id}`, hub.onResult);
    this.hubs.set(id, hub);
    return hub;
  }

  private closeHub(id: string, hub: StreamHub): void {
    clearInterval(hub.timer);
    this.events.off(`result:${id}`, hub.onResult);
    this.hubs.delete(id);
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

  private retentionTimer: NodeJS.Timeout | null = null;
  private storeCheck: NodeJS.Timeout | null = null;
  /** What happens when the runtime cannot go on (its storage is lost): by default the process ends with status 1. */
  onFatal: (e: Error) => void = (e) => {
    process.stderr.write(`intstream runtime: ${e.message}\n`);
    void this.close().finally(() => process.exit(1));
  };

  async close(): Promise<void> {
    if (this.storeCheck) clearInterval(this.storeCheck);
    if (this.retentionTimer) clearInterval(this.retentionTimer);
    for (const id of [...this.readers.keys()]) this.stopReader(id);
    for (const r of this.draining) { r.stopped = true; void r.consumer?.close().catch(() => undefined); }
    for (const end of [...this.streams]) end(false);
    for (const [id, hub] of [...this.hubs]) this.closeHub(id, hub);
    this.opts.credentials.close();
    await this.app.close();
    this.store.close();
  }
}
