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
 *   POST /tasks/{id}/stop              stop it everywhere (a finished task stays) (operator)
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
 *
 * Nothing a GSP worker emits is set aside without a count in the task's detail (persisted with
 * the task, runtime-store.ts task_counters): `results_duplicates` (later copies of a stored
 * (window, key), from a worker's replay: not a loss), `results_skipped` (records of the results
 * topic that are no result), `results_expired` (forgotten by --retention; `stages.global.out`
 * still counts them: out = results + results_expired) and `sse_clients_dropped` (event streams
 * closed because their client did not read: it reconnects with `after` and misses nothing, as a
 * stream resumed with `after` replays every stored result after it). There is no store backlog:
 * a batch of results is stored in one transaction before its offsets are committed, and a batch
 * that cannot be stored is read again. A worker silent for `forgetAfterMs` (--forget-after) is
 * no longer listed (GET /workers, a task's workers), its counters still added to the task's.
 * Agents report each task's resume point (resume-point.ts) in their heartbeat; the runtime
 * keeps the latest per (task, agent) and hands it back with the task, and counts each agent's
 * registrations (its incarnation, returned by POST /agents).
 */
import { randomUUID } from 'node:crypto';
import { EventEmitter } from 'node:events';
import type { ServerResponse } from 'node:http';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import swagger from '@fastify/swagger';
import { createConsumer, createTopic, deleteTopic, type InRecord, type KafkaConsumer } from '../transport/kafka-client.ts';
import { DEFAULT_PARTITIONS, globalPartitionable, partialsTopic, resultsTopic } from '../transport/kafka-transport.ts';
import { stateTopic } from '../global/state-changelog.ts';
import { RuntimeStore, type StoredResult } from './runtime-store.ts';
import { checkSinkSpec } from '../sinks/sink-spec.ts';
import { loadSpec, type TaskSpec } from '../apps/task-spec.ts';
import { registerUiRoutes } from './ui-routes.ts';
import { builtinNames } from '../apps/index.ts';
import { NAME_PATTERN, validName, type Credential, type Credentials } from './credentials.ts';
import { access, ALLOWED, credentialOf, type Access } from './route-access.ts';
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
  /** A GSP worker silent this long is no longer listed. Default max(60 s, 20 × downAfterMs). */
  forgetAfterMs?: number;
  /** Default grace time for tasks, ms. Default 30000. */
  graceMs?: number;
  /** Stored results older than this many ms are forgotten (checked every minute, or every tenth of it). Default: kept. */
  retentionMs?: number;
  /** An event stream whose client takes nothing for this long while results wait for it is closed (counted). Default 30000. */
  streamStallMs?: number;
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

/** A finished task's event stream ends once its results reader has read nothing for this long since it finished. */
const END_QUIET_MS = 4000;
/**
 * A stream whose client has not taken this much gets no more live results: it catches up from
 * the store as it takes what waits (bounded memory whatever the burst); one that takes nothing
 * for the stall time (RuntimeOptions.streamStallMs) is closed.
 */
const STREAM_BACKLOG = 1 << 20;


/** One task's open event streams, fed by one listener and one counters tick. */
interface StreamHub {
  clients: Set<StreamClient>;
  timer: NodeJS.Timeout;
  onResult: (r: { seq: number }) => void;
  /** The last 1000 results as events, for new clients (dropped when a result comes), and the seq of the last. */
  replay: string | null;
  replaySeq: number;
}
interface StreamClient {
  res: ServerResponse;
  key: string;
  end: (final?: boolean) => void;
  /** The seq of the last result written to it. */
  lastSeq: number;
  /** Behind: it takes results from the store (catchUp) instead of live, since `behindSince`. */
  behind: boolean;
  behindSince: number;
  /** The task ended while it was behind: end it once caught up. */
  endWhenCaughtUp: boolean;
}

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
  /** When each task turned finished, in this process (streamsEnd). */
  private readonly finishedAt = new Map<string, number>();
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
      const incarnation = this.store.registerAgent(b.name, b.source, b.labels ?? {});
      this.log(`agent ${b.name} registered (${b.source})${incarnation > 1 ? `, start ${incarnation}` : ''}`);
      return { ok: true, incarnation };
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
          checkpoints: { type: 'object', description: "per task, the agent's new resume point on its capture file (handed back with the task after a restart)",
            additionalProperties: { type: 'object' } },
        } },
        response: { 200: { type: 'object', properties: {
          tasks: { type: 'array', items: taskSchema },
          resume: { type: 'object', description: 'per assigned task, the resume point this agent reported last', additionalProperties: true },
        } }, ...denied },
      },
    }, async (req, reply) => {
      const name = (req.params as { name: string }).name;
      if (!validName(name)) return reply.code(400).send({ message: 'name: not 1 to 64 of A-Z a-z 0-9 . _ -' });
      if (!this.asSelf(req, reply, name)) return reply;
      const b = req.body as { cpu?: number; rss_bytes?: number; source?: string; labels?: Record<string, string>; tasks?: Record<string, any>; windows?: Record<string, [number, number, number, number][]>; checkpoints?: Record<string, unknown> };
      this.store.upsertAgent(name, b.source ?? '', b.labels ?? {}, { cpu: b.cpu, rss_bytes: b.rss_bytes });
      for (const [id, w] of Object.entries(b.windows ?? {})) if (this.store.task(id)) this.store.setAgentWindows(id, name, w);
      for (const [id, c] of Object.entries(b.tasks ?? {})) if (this.store.task(id)) this.store.setAgentCounters(id, name, c);
      for (const [id, ck] of Object.entries(b.checkpoints ?? {})) if (this.store.task(id)?.agents.includes(name)) this.store.setCheckpoint(id, name, ck);
      this.updateFinished();
      const tasks = this.store.tasks().filter((t) => t.status === 'running' && t.agents.includes(name));
      const stored = this.store.checkpoints(name);
      const resume = Object.fromEntries(tasks.flatMap((t) => (stored.has(t.id) ? [[t.id, stored.get(t.id)]] : [])));
      return { tasks, resume };
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
      this.finishedAt.delete(id);
      this.store.deleteTask(id);
      this.skippedResults.delete(id);
      const topics: Record<string, boolean> = {};
      for (const topic of [partialsTopic(id), resultsTopic(id)]) {
        topics[topic] = await deleteTopic(this.opts.kafka, topic).catch((e) => { this.log(`task ${id}: deleting ${topic}: ${(e as Error).message}`); return false; });
      }
      // the changelog of durable global state, which only tasks with keyed global state have
      if (await deleteTopic(this.opts.kafka, stateTopic(id)).catch((e) => { this.log(`task ${id}: deleting ${stateTopic(id)}: ${(e as Error).message}`); return false; })) topics[stateTopic(id)] = true;
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
    app.post('/api/v1/tasks/:id/stop', { ...access('operator'), schema: { ...secured, summary: 'stop a task everywhere; a finished task stays finished (the answer says status finished)', response: { ...denied, 404: errorSchema } } }, async (req, reply) => {
      const id = (req.params as { id: string }).id;
      const t = this.store.task(id);
      if (!t) return reply.code(404).send({ message: 'no such task' });
      // it ended by itself: nothing runs to stop, and its status says how it ended
      if (t.status === 'finished') return { id, status: 'finished' };
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
  private forgetAfter(): number { return this.opts.forgetAfterMs ?? Math.max(60_000, 20 * this.downAfter()); }

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
      if (t.agents.every((a) => c[a]?.state === 'finished' || c[a]?.state === 'failed')) {
        this.store.setStatus(t.id, 'finished');
        this.finishedAt.set(t.id, Date.now());
      }
    }
  }

  /**
   * Whether a task's event streams end: it is stopped or deleted, or it finished and its results
   * reader has read nothing for END_QUIET_MS since (the global stage has drained its last
   * windows). The reader's start counts as a read, so a task that finished before this runtime
   * started waits that long while the reader takes what the topic still holds.
   */
  private streamsEnd(id: string, now = Date.now()): boolean {
    const t = this.store.task(id);
    if (!t || t.status === 'stopped') return true;
    if (t.status !== 'finished') return false;
    return now - Math.max(this.finishedAt.get(id) ?? 0, this.readers.get(id)?.lastRecordMs ?? 0) >= END_QUIET_MS;
  }

  detail(id: string) {
    const t = this.store.task(id);
    if (!t) return undefined;
    const counters = this.store.agentCounters(id);
    const health = new Map(this.agentList().map((a) => [a.name, a]));
    // with the resume point each agent reported last (resume-point.ts): where a restart reads on
    const cks = this.store.taskCheckpoints(id);
    const perAgent = t.agents.map((name, i) => ({
      name, source_index: i, up: health.get(name)?.up ?? false, ...(counters[name] ?? { state: 'pending' }),
      ...(cks[name] ? { checkpoint: { offset: cks[name].at?.offset ?? null, watermark: cks[name].watermark ?? null, items_before: cks[name].items_before ?? null } } : {}),
    }));
    const sum = (k: string) => perAgent.reduce((a, x: any) => a + (x[k] ?? 0), 0);
    const local = { items_read: sum('items_read'), filtered: sum('filtered'), emitted: sum('emitted'), malformed: sum('malformed'), skipped: sum('skipped') };
    // `emitted` is what every worker produced, replays after a failover included; `out` is what
    // left the global stage once (the distinct results stored, those forgotten by retention
    // included), so it stays right when a worker's successor replays windows.
    const results = this.store.resultCount(id);
    // elements a resumed local stage sent again that the GSP had (dropped there: kafka-transport.ts dropResent)
    let resent = 0;
    const global = { received: 0, out: results, emitted: 0, late: 0, grace_expiries: 0, duplicates: 0, poison: 0, checkpoints: 0, checkpoint_bytes: 0, checkpoint_skipped: 0, restores: 0, workers: [] as { name: string; up: boolean; partitions: number[]; error?: string; checkpoint_error?: string }[] };
    for (const w of this.store.workers()) {
      const c = w.info?.tasks?.[id];
      if (!c) continue;
      const up = Date.now() - w.last_seen < this.downAfter();
      if (up || Date.now() - w.last_seen < this.forgetAfter()) global.workers.push({ name: w.name, up, partitions: up ? c.partitions : [], ...(typeof c.error === 'string' ? { error: c.error } : {}), ...(typeof c.checkpoint_error === 'string' ? { checkpoint_error: c.checkpoint_error } : {}) });
      global.received += c.received; global.emitted += c.out; global.late += c.late; global.grace_expiries += c.grace_expiries; global.duplicates += c.duplicates; global.poison += c.poison ?? 0;
      // durable global state (gsp-worker.ts): what every worker checkpointed and restored
      global.checkpoints += c.checkpoints ?? 0; global.checkpoint_bytes += c.checkpoint_bytes ?? 0; global.checkpoint_skipped += c.checkpoint_skipped ?? 0; global.restores += c.restores ?? 0;
      resent += c.resent ?? 0;
    }
    // what the runtime set aside (persisted): results forgotten by retention still left the global stage once
    const aside = this.store.taskCounters(id);
    global.out = results + (aside.results_expired ?? 0);
    // what the workers produced, replays included, as read from the results topic: their own
    // heartbeats miss what a worker that died produced after its last one
    global.emitted = global.out + (aside.results_duplicates ?? 0);
    const { code, ...rest } = t;
    return {
      ...rest, has_code: code !== null,
      agents_detail: perAgent,
      stages: { local, global: { ...global, resent } },
      results,
      results_skipped: aside.results_skipped ?? 0,
      results_duplicates: aside.results_duplicates ?? 0,
      results_expired: aside.results_expired ?? 0,
      sse_clients_dropped: aside.sse_clients_dropped ?? 0,
      data_reduction: local.items_read > 0 ? 1 - local.emitted / local.items_read : 0,
    };
  }

  /**
   * A task's results and counters as server-sent events: stored results after `after`, then new
   * ones as they are stored, counters every 2 s, and `event: end` once the task is stopped, or
   * finished with its results drained (streamsEnd), after which the stream closes: at once, after
   * the stored results, for a task that had ended already. The runtime's close() ends every open
   * stream.
   *
   * All streams of a task share one hub: one result listener and one counters tick, whose detail
   * is computed and serialized once for all of them. A client with STREAM_BACKLOG bytes waiting
   * (slow, or a burst of results larger than that) gets no more live events: it takes the results
   * from the store as it drains (catchUp), so a burst loses nothing and memory stays bounded; one
   * that takes nothing for `streamStallMs` is closed, counted in the task's `sse_clients_dropped`
   * (it may reconnect with `after`).
   *
   * Without `after` a stream starts with the most recent 1000 results; with `after` (a client
   * reconnecting with the last id it had) it gets every stored result after it, the same way.
   */
  private stream(id: string, key: string, req: FastifyRequest, reply: FastifyReply): void {
    reply.hijack();
    const res = reply.raw;
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', connection: 'keep-alive' });
    const after = Number((req.query as { after?: string }).after ?? 0) || 0;
    const replay = (rows: StoredResult[]) => rows.map((r) => `id: ${r.seq}\nevent: result\ndata: ${JSON.stringify(r)}\n\n`).join('');
    // `final`: the task has ended; a runtime shutting down closes the stream without saying so
    const end = (final = true) => {
      if (final && !res.writableEnded) res.write(`event: end\ndata: ${JSON.stringify({ status: this.store.task(id)?.status ?? 'deleted' })}\n\n`);
      res.end();
    };
    const hub = this.hubs.get(id) ?? this.openHub(id);
    const client: StreamClient = { res, key, end, lastSeq: after, behind: after > 0, behindSince: Date.now(), endWhenCaughtUp: false };
    this.streams.add(end);
    this.streamsPer.set(key, (this.streamsPer.get(key) ?? 0) + 1);
    req.raw.on('close', () => {
      if (!this.streams.delete(end)) return;
      const n = (this.streamsPer.get(key) ?? 1) - 1;
      if (n > 0) this.streamsPer.set(key, n); else this.streamsPer.delete(key);
      hub.clients.delete(client);
      if (hub.clients.size === 0 && this.hubs.get(id) === hub) this.closeHub(id, hub);
    });
    hub.clients.add(client);
    if (after === 0) {
      // the recent results, serialized once for every client that starts from the beginning
      if (hub.replay === null) {
        const rows = this.store.results(id, 1000, 0);
        hub.replay = replay(rows);
        hub.replaySeq = rows.length > 0 ? rows[rows.length - 1].seq : 0;
      }
      res.write(hub.replay);
      client.lastSeq = hub.replaySeq;
      if (this.streamsEnd(id)) end();
    } else {
      client.endWhenCaughtUp = this.streamsEnd(id);
      this.catchUp(id, client);
    }
  }

  /**
   * A client behind the live results takes them from the store, a page at a time as it drains,
   * and rejoins the live ones once none is left (in the same tick as the last, empty, page: none
   * is missed in between); ended then if the task ended meanwhile.
   */
  private catchUp(id: string, c: StreamClient): void {
    void (async () => {
      while (!c.res.destroyed && this.streams.has(c.end)) {
        if (c.res.writableLength > STREAM_BACKLOG) {
          await new Promise<void>((r) => {
            const go = () => { c.res.off('drain', go); c.res.off('close', go); r(); };
            c.res.on('drain', go); c.res.on('close', go);
          });
          c.behindSince = Date.now();
          continue;
        }
        const page = this.store.resultsPage(id, 1000, c.lastSeq);
        if (page.length === 0) {
          c.behind = false;
          if (c.endWhenCaughtUp) c.end();
          return;
        }
        c.res.write(page.map((r) => `id: ${r.seq}\nevent: result\ndata: ${JSON.stringify(r)}\n\n`).join(''));
        c.lastSeq = page[page.length - 1].seq;
      }
    })().catch((e) => { this.log(`task ${id}: event stream: ${(e as Error).message}`); c.res.destroy(); });
  }

  private openHub(id: string): StreamHub {
    const stall = this.opts.streamStallMs ?? 30_000;
    /** Writes to the clients that keep up; one with STREAM_BACKLOG waiting falls behind (catchUp). */
    const send = (hub: StreamHub, text: string, seq = 0) => {
      for (const c of hub.clients) {
        if (c.res.destroyed || c.behind) continue;
        if (c.res.writableLength > STREAM_BACKLOG) {
          if (seq === 0) continue; // a counters snapshot: the next one supersedes it
          c.behind = true;
          c.behindSince = Date.now();
          this.catchUp(id, c);
          continue;
        }
        c.res.write(text);
        if (seq > 0) c.lastSeq = seq;
      }
    };
    const hub: StreamHub = {
      clients: new Set(), replay: null, replaySeq: 0,
      onResult: (r) => { hub.replay = null; send(hub, `id: ${r.seq}\nevent: result\ndata: ${JSON.stringify(r)}\n\n`, r.seq); },
      timer: setInterval(() => {
        const now = Date.now();
        // a client that took nothing for the stall time while results waited: closed, counted
        for (const c of hub.clients) {
          if (!c.behind || c.res.destroyed || now - c.behindSince < stall) continue;
          this.log(`task ${id}: event stream of ${c.key} closed: its client took nothing for ${Math.round((now - c.behindSince) / 1000)} s while ${c.res.writableLength} bytes waited (counted in sse_clients_dropped)`);
          this.store.bumpCounters(id, { sse_clients_dropped: 1 });
          c.res.destroy();
        }
        const d = this.detail(id);
        send(hub, `event: counters\ndata: ${JSON.stringify(d)}\n\n`);
        if (this.streamsEnd(id, now)) for (const c of [...hub.clients]) { if (c.behind) c.endWhenCaughtUp = true; else c.end(); }
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
            const added = this.store.addResults(t.id, rows);
            // later copies of a stored (window, key): a worker's replay, kept out and counted
            if (added.length < rows.length) this.store.bumpCounters(t.id, { results_duplicates: rows.length - added.length });
            for (const stored of added) this.events.emit(`result:${t.id}`, stored);
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
    this.store.bumpCounters(task, { results_skipped: 1 });
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
