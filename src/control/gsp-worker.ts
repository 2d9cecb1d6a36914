/**
 * A GSP worker: runs the global stages of the runtime's tasks as members of a Kafka consumer
 * group per task (`intstream-gsp.<task-id>`). Start more workers to scale out; Kafka assigns each
 * one a share of the task's partitions, and each partition is merged on its own (its own
 * GlobalProcessor, with the seals every local stage sent to it).
 *
 * Delivery: results are produced to intstream.<task>.results (acks=all) and written to the
 * task's sinks before the offsets that fed them are committed. A partition's committed offset
 * never passes a record whose elements are not yet out, nor the latest record of any source (so
 * whoever resumes the partition learns every source's watermark again). A worker that dies or
 * loses the broker is replaced by the group and the partition replayed from there: a replayed
 * window comes out again, possibly partial, after its complete first copy, and readers keep the
 * first copy per (task, window, key) (the runtime's store; this worker's sinks).
 *
 * Grace: a source whose watermark has not advanced for `graceMs` while another source is ahead
 * no longer holds windows open (GlobalProcessor.expire); `grace_expiries` counts it.
 *
 * Durable global state: a task whose global stage keeps keyed state across windows (process():
 * ddos, tcp-retrans) checkpoints it, so a successor goes on as an uninterrupted run would (its
 * replay alone cannot rebuild state that windows before the committed offset built). Before
 * committing a partition's offsets the worker drains the chain, writes the partition's snapshot
 * to the compacted topic intstream.<task>.state (acks=all; global/state-changelog.ts) and only
 * then commits what the snapshot covers; such a partition commits (and checkpoints) at most once
 * per `checkpointMs`, the rest waits for the next commit. A worker assigned partitions reads the
 * changelog to its end first and restores each one's snapshot before merging replayed records,
 * if it covers at least up to where the group resumes (why that fits, and which point of the
 * stream a snapshot is: global/global-processor.ts). A snapshot that cannot be made (over
 * MAX_SNAPSHOT_BYTES, or no consistent point) is skipped and the offsets committed anyway
 * (`checkpoint_skipped`: a takeover then starts that state empty, as without checkpoints); state
 * the codec refuses (global/state-codec.ts) ends checkpoints for the task (`checkpoint_error`).
 * Stages without such state pay nothing. INTSTREAM_GSP_CHECKPOINT=off turns it off (tests).
 *
 * What a task may make a worker do: run its global stage if it is a built-in application, or a
 * submitted query file only with `allowCode` (--allow-code); write a file sink (jsonl:FILE,
 * table:FILE) only inside `sinkDir` (--sink-dir; relative names land there). A task refused is
 * not run here, with the reason in its detail (stages.global.workers[].error).
 */
import { existsSync, lstatSync, realpathSync } from 'node:fs';
import { dirname, resolve, sep } from 'node:path';
import { openGlobalStage, type GlobalProcessor } from '../global/global-processor.ts';
import { EmittedWindows } from '../global/emitted-windows.ts';
import { PartitionGate } from '../global/partition-gate.ts';
import { ensureStateTopic, MAX_SNAPSHOT_BYTES, readSnapshots, writeSnapshot, type Snapshot } from '../global/state-changelog.ts';
import { openSinkSpec } from '../sinks/sink-spec.ts';
import { toResult, type Sink, type TaskResult } from '../sinks/sink.ts';
import { RuntimeClient, processLoad, type ClientTls } from './http-client.ts';
import { loadSpec, type TaskSpec } from '../apps/task-spec.ts';
import { createConsumer, createProducer, type InRecord, type KafkaConsumer, type KafkaProducer } from '../transport/kafka-client.ts';
import { decodeRecord, dropResent, partialsTopic, resultsTopic, RECORD_VERSION } from '../transport/kafka-transport.ts';

export interface GspWorkerOptions {
  name: string;
  runtime: string;
  token: string;
  /** TLS to the runtime: the CA its certificate must chain to, a client certificate for mutual TLS. */
  tls?: ClientTls;
  /** Run the global stages of submitted query files (default: built-in applications only). */
  allowCode?: boolean;
  /** The folder file sinks (jsonl:, table:) may write in (default: none, file sinks refused). */
  sinkDir?: string;
  /** Overrides the task's Kafka address (tests). */
  kafka?: string;
  pollMs?: number;
  /** Checkpoint keyed global state (default: on, unless INTSTREAM_GSP_CHECKPOINT=off). */
  checkpoint?: boolean;
  /** Least time between two checkpoints (and commits) of a partition with state, ms (default 1000). */
  checkpointMs?: number;
  log?: (line: string) => void;
}

interface Pending { rec: InRecord; src: number; maxTs: number; wm: number }

interface PartitionState {
  gp: GlobalProcessor;
  seen: Map<number, number>;
  queue: Pending[];
  latest: Map<number, bigint>;
  lastAdvanceMs: number[];
  ended: boolean[];
  expired: boolean[];
  /** When this partition's state was last checkpointed (Date.now()). */
  lastCheckpointMs: number;
}


export interface TaskCounters {
  partitions: number[];
  records: number;
  duplicates: number;
  received: number;
  out: number;
  late: number;
  grace_expiries: number;
  restarts: number;
  committed: number;
  /** Records read ahead before a rebalance: of a partition no longer this worker's, or before where the group resumes a partition. */
  stale: number;
  /** (window, key) pairs remembered for de-duplicating sink output (bounded: see EmittedWindows). */
  dedup_windows: number;
  /** Records of the partials topic that are not partials records (cut short, not JSON, ...): skipped. */
  poison: number;
  /** Elements a resumed local stage sent again that the partition had already (dropped; kafka-transport.ts dropResent). */
  resent?: number;
  /** Snapshots of keyed global state written to the changelog, and their bytes. */
  checkpoints: number;
  checkpoint_bytes: number;
  /** Commits made without a snapshot (too big, or no consistent point): durability lost until the next. */
  checkpoint_skipped: number;
  /** Partitions whose state was restored from a snapshot when taken over. */
  restores: number;
  /** Why the task's state is not checkpointed (it holds what the codec cannot encode), if so. */
  checkpoint_error?: string;
  /** Why this worker does not run the task (it could not start it), if so. */
  error?: string;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/**
 * A sink spec a task may open on this worker: a file sink (jsonl:FILE, table:FILE) rewritten to
 * its path inside `sinkDir` (relative names resolve there), refused without `sinkDir`, outside it
 * (symbolic links followed), or onto a symbolic link; other sinks unchanged.
 */
export function fileSinkInside(spec: string, sinkDir: string | undefined): string {
  const m = /^(jsonl|table):(.+)$/.exec(spec);
  if (!m || m[2] === '-') return spec;
  if (!sinkDir) throw new Error(`sink ${spec}: this worker writes no files (start it with --sink-dir DIR to allow file sinks inside DIR)`);
  const root = realpathSync(sinkDir);
  const target = resolve(root, m[2]);
  let folder: string;
  try { folder = realpathSync(dirname(target)); } catch { throw new Error(`sink ${spec}: no folder ${dirname(target)}`); }
  if (folder !== root && !folder.startsWith(root + sep)) throw new Error(`sink ${spec}: outside this worker's --sink-dir ${root}`);
  const file = resolve(folder, target.slice(dirname(target).length + 1));
  if (existsSync(file) && lstatSync(file).isSymbolicLink()) throw new Error(`sink ${spec}: a symbolic link`);
  return `${m[1]}:${file}`;
}

function withTimeout<T>(p: Promise<T>, ms: number, why: string): Promise<T> {
  let t: NodeJS.Timeout | undefined;
  return Promise.race([p, new Promise<T>((_, rej) => { t = setTimeout(() => rej(new Error(why)), ms); })]).finally(() => clearTimeout(t));
}

class TaskRunner {
  readonly spec: TaskSpec;
  readonly counters: TaskCounters = { partitions: [], records: 0, duplicates: 0, received: 0, out: 0, late: 0, grace_expiries: 0, restarts: 0, committed: 0, stale: 0, dedup_windows: 0, poison: 0, checkpoints: 0, checkpoint_bytes: 0, checkpoint_skipped: 0, restores: 0 };
  private readonly worker: GspWorker;
  /** Records read ahead across rebalances (partition-gate.ts); `ready` once the resume offsets are known. */
  private readonly gate = new PartitionGate();
  private ready: Promise<void> = Promise.resolve();
  private joins = 0;
  private consumer: KafkaConsumer | null = null;
  private producer: KafkaProducer | null = null;
  private states = new Map<number, PartitionState>();
  private stopped = false;
  private chain: Promise<void> = Promise.resolve();
  /** Per partition (a key lives on one partition), kept across rejoins; see EmittedWindows. */
  private readonly emitted = new Map<number, EmittedWindows>();
  private sinks: Sink[] = [];
  private loaded!: Awaited<ReturnType<typeof loadSpec>>;
  private timer: NodeJS.Timeout | null = null;
  /** Whether this task's global stage has keyed state to checkpoint (and checkpoints are on). */
  private checkpointing = false;
  private stateTopicReady: Promise<void> | null = null;
  /** Snapshots read at the latest (re)join, taken by the partitions' new states. */
  private restoreFrom = new Map<number, Snapshot>();
  /** Partitions whose commit waits for their next checkpoint time. */
  private readonly deferred = new Set<number>();
  /** Why checkpoints were skipped, each said once in the log. */
  private readonly warned = new Set<string>();
  done: Promise<void> = Promise.resolve();

  constructor(spec: TaskSpec, worker: GspWorker) {
    this.spec = spec;
    this.worker = worker;
  }

  async start(): Promise<void> {
    if (this.spec.code !== null && this.spec.code !== undefined && !this.worker.allowCode) {
      throw new Error(`task ${this.spec.name} is a submitted query file; this worker runs built-in applications only (start it with --allow-code to run query files)`);
    }
    this.loaded = await loadSpec(this.spec);
    // the task's sinks, from the one registry `run --sink` uses (sinks/sink-spec.ts); files only in --sink-dir
    const specs = this.spec.sinks.map((spec) => fileSinkInside(spec, this.worker.sinkDir));
    for (const spec of specs) this.sinks.push(await openSinkSpec(spec));
    this.checkpointing = this.worker.checkpoint && openGlobalStage(this.loaded.split.global, this.spec.agents.length).checkpointable;
    this.producer = createProducer({ bootstrap: this.worker.kafkaFor(this.spec), clientId: `intstream-gsp-${this.worker.name}` });
    this.timer = setInterval(() => { this.chain = this.chain.then(() => this.checkGrace()).catch((e) => this.worker.log(`task ${this.spec.id}: ${(e as Error).message}`)); }, 250);
    this.done = this.loop();
  }

  /** The merge state of `partition` starting at record `start`: with the checkpointed state when one fits. */
  private newState(partition: number, start: bigint): PartitionState {
    const n = this.spec.agents.length;
    const st: PartitionState = {
      gp: openGlobalStage(this.loaded.split.global, n),
      seen: new Map(), queue: [], latest: new Map(),
      lastAdvanceMs: new Array(n).fill(Date.now()), ended: new Array(n).fill(false), expired: new Array(n).fill(false),
      lastCheckpointMs: 0,
    };
    const snap = this.restoreFrom.get(partition);
    if (!snap) return st;
    this.restoreFrom.delete(partition);
    const where = `task ${this.spec.id} partition ${partition}`;
    if (snap.offset < start) {
      // the group committed past it (a commit without a checkpoint): records between are gone
      this.worker.log(`${where}: the latest checkpoint covers offsets before ${snap.offset}, the group resumes at ${start}; starting the state empty`);
      return st;
    }
    try {
      st.gp.importState(snap.state);
      this.counters.restores++;
      this.worker.log(`${where}: state restored from the checkpoint of offsets before ${snap.offset} (${snap.state.length} bytes); resuming at ${start}`);
    } catch (e) {
      st.gp = openGlobalStage(this.loaded.split.global, n);
      this.worker.log(`${where}: checkpoint not restored (${(e as Error).message}); starting the state empty`);
    }
    return st;
  }

  /** The latest snapshot of each partition in `mine` (bounded: on failure, none, said in the log). */
  private async loadSnapshots(mine: ReadonlySet<number>): Promise<Map<number, Snapshot>> {
    if (!this.checkpointing || mine.size === 0) return new Map();
    try {
      await this.ensureStateTopic();
      const kafka = this.worker.kafkaFor(this.spec);
      return await withTimeout(readSnapshots(kafka, this.spec.id, mine, `intstream-gsp-${this.worker.name}`, (why) => this.worker.log(`task ${this.spec.id}: ${why}; skipped`)), 30_000, 'no end within 30 s');
    } catch (e) {
      this.worker.log(`task ${this.spec.id}: checkpoints not read (${(e as Error).message}); partitions ${[...mine].join(',')} start their state empty`);
      return new Map();
    }
  }

  private ensureStateTopic(): Promise<void> {
    this.stateTopicReady ??= ensureStateTopic(this.worker.kafkaFor(this.spec), this.spec.id).catch((e) => { this.stateTopicReady = null; throw e; });
    return this.stateTopicReady;
  }

  private async loop(): Promise<void> {
    while (!this.stopped) {
      try {
        this.consumer = await createConsumer({
          bootstrap: this.worker.kafkaFor(this.spec),
          groupId: `intstream-gsp.${this.spec.id}`,
          clientId: `intstream-gsp-${this.worker.name}`,
          topics: [partialsTopic(this.spec.id)],
          fromBeginning: true,
          maxWaitMs: 100,
          sessionTimeoutMs: 6000,
          heartbeatIntervalMs: 500,
          onAssignment: (a, resume) => {
            const mine = new Set(a.flatMap((x) => x.partitions));
            this.counters.partitions = [...mine].sort((x, y) => x - y);
            // partitions that went to another worker: it replays them from the committed offset
            for (const p of [...this.states.keys()]) if (!mine.has(p)) { this.states.delete(p); this.deferred.delete(p); }
            this.gate.assign(mine, new Map());
            const topic = partialsTopic(this.spec.id), join = ++this.joins;
            this.restoreFrom = new Map();
            // bounded: with the broker slow to answer, fall back to starting at the first record read
            const resumed = withTimeout(resume(), 5000, 'no answer within 5 s').then((m) => {
              if (join === this.joins) this.gate.assign(mine, new Map([...mine].flatMap((p) => { const o = m.get(`${topic}:${p}`); return o === undefined ? [] : [[p, o] as [number, bigint]]; })));
            }, (e) => {
              this.worker.log(`task ${this.spec.id}: where the group resumes its partitions is unknown (${(e as Error).message}); starting them at the first record read`);
            });
            // the checkpointed state of the partitions taken over, read before any of their records is merged
            const restored = this.loadSnapshots(new Set([...mine].filter((p) => !this.states.has(p)))).then((m) => { if (join === this.joins) this.restoreFrom = m; });
            this.ready = Promise.all([resumed, restored]).then(() => undefined);
          },
        });
        for await (const batch of this.consumer) {
          if (this.stopped) break;
          const recs = batch.records;
          this.chain = this.chain.then(() => this.process(recs));
          await this.chain;
        }
      } catch (e) {
        if (this.stopped) break;
        this.counters.restarts++;
        this.worker.log(`task ${this.spec.id}: consumer failed (${(e as Error).message}); rejoining`);
      }
      await this.consumer?.close().catch(() => undefined);
      this.consumer = null;
      if (this.stopped) break;
      // state is rebuilt from the committed offsets
      this.states.clear();
      await sleep(1000);
    }
  }

  private async process(recs: readonly InRecord[]): Promise<void> {
    const touched = new Set<number>();
    for (const rec of recs) {
      this.counters.records++;
      // Read-ahead from before a rebalance: a partition that is no longer ours, or one whose
      // state must start exactly where the group resumes it (a state begun later than that would
      // release windows without the elements before it: partial results ahead of the full ones).
      let st = this.states.get(rec.partition);
      if (!st && this.gate.owns(rec.partition)) for (let r = this.ready; ; r = this.ready) { await r; if (r === this.ready) break; }
      const admit = this.gate.admit(rec.partition, rec.offset, st !== undefined);
      this.counters.stale = this.gate.skipped;
      if (admit === 'skip') continue;
      if (!st) {
        st = this.newState(rec.partition, rec.offset);
        this.states.set(rec.partition, st);
      }
      touched.add(rec.partition);
      let r: ReturnType<typeof decodeRecord>;
      try {
        r = decodeRecord(rec.value);
        if (r.src >= this.spec.agents.length) throw new Error(`partials record from source ${r.src} of a task with ${this.spec.agents.length}`);
      } catch (e) {
        // a poison record: counted, logged once, skipped (committed past like a duplicate)
        if (this.counters.poison++ === 0) this.worker.log(`task ${this.spec.id}: ${rec.topic} partition ${rec.partition} offset ${rec.offset}: ${(e as Error).message}; skipped (further ones counted as poison)`);
        st.queue.push({ rec, src: -1, maxTs: -Infinity, wm: -Infinity });
        continue;
      }
      if (r.seq <= (st.seen.get(r.src) ?? -1)) {
        this.counters.duplicates++;
        st.queue.push({ rec, src: -1, maxTs: -Infinity, wm: -Infinity });
        continue;
      }
      // a local stage resumed mid-file (control/resume-point.ts) makes windows again: what this partition has lies before the source's watermark here
      if (r.resumed === true) this.counters.resent = (this.counters.resent ?? 0) + dropResent(r, st.gp.sourceWatermarks()[r.src]);
      st.seen.set(r.src, r.seq);
      st.latest.set(r.src, rec.offset);
      let maxTs = -Infinity;
      for (const t of r.times) if (t > maxTs) maxTs = t;
      st.queue.push({ rec, src: r.src, maxTs, wm: r.wm });
      if (r.wm > st.gp.sourceWatermarks()[r.src] || r.items.length > 0) st.lastAdvanceMs[r.src] = Date.now();
      if (r.end) st.ended[r.src] = true;
      st.expired[r.src] = false;
      const before = st.gp.late;
      const out = await st.gp.accept({ source: r.src, items: r.items, times: r.times, keys: r.keys, watermark: r.wm, end: r.end });
      this.counters.received += r.items.length;
      this.counters.late += st.gp.late - before;
      await this.emit(rec.partition, out);
    }
    await this.commit(touched);
  }

  private emittedOf(partition: number): EmittedWindows {
    let e = this.emitted.get(partition);
    if (!e) this.emitted.set(partition, e = new EmittedWindows(this.spec.agents.length));
    return e;
  }

  private async emit(partition: number, out: { items: unknown[]; keys: unknown[] }): Promise<void> {
    if (out.items.length === 0) return;
    const results: TaskResult[] = [];
    for (let i = 0; i < out.items.length; i++) results.push(toResult(this.spec.name, out.items[i], out.keys[i]));
    this.counters.out += results.length;
    const records = results.map((r) => ({
      key: JSON.stringify([r.window?.start ?? null, r.window?.end ?? null, r.key]),
      value: JSON.stringify({ v: RECORD_VERSION, ...r }),
    }));
    // waits for the broker (retrying through an outage) before anything is committed
    for (;;) {
      try { await this.producer!.send(resultsTopic(this.spec.id), records); break; } catch (e) {
        if (this.stopped) throw e;
        await sleep(500);
      }
    }
    const seen = this.emittedOf(partition);
    for (const r of results) {
      if (!seen.first(r)) continue;
      for (const sink of this.sinks) await sink.write(r);
    }
  }

  private async commit(partitions: Iterable<number>): Promise<void> {
    for (const p of partitions) {
      const st = this.states.get(p);
      if (!st) continue;
      if (this.checkpointing) {
        if (Date.now() - st.lastCheckpointMs < this.worker.checkpointMs) { this.deferred.add(p); continue; }
        this.deferred.delete(p);
        // a snapshot is taken with everything released through the whole chain (its results out)
        await this.emit(p, await st.gp.drain());
      }
      const released = st.gp.releasedUpTo;
      let n = 0;
      for (; n < st.queue.length; n++) {
        const h = st.queue[n];
        const done = h.maxTs < released;
        const isLatest = h.src >= 0 && st.latest.get(h.src) === h.rec.offset;
        if (!done || isLatest) break;
      }
      if (n > 0) {
        const last = st.queue[n - 1];
        // the snapshot of what the commit covers goes first: no commit without it
        if (this.checkpointing && !(await this.checkpoint(p, st, last.rec.offset + 1n))) continue;
        const taken = st.queue.splice(0, n);
        try {
          await last.rec.commit();
          this.counters.committed++;
          const seen = this.emittedOf(p);
          for (const t of taken) seen.committed(t.src, t.wm);
          this.counters.dedup_windows = [...this.emitted.values()].reduce((a, e) => a + e.size, 0);
        } catch (e) {
          // lost the partition in a rebalance: its new owner replays it
          this.worker.log(`task ${this.spec.id}: commit on partition ${p} refused (${(e as Error).message})`);
        }
      }
    }
  }

  /**
   * Writes partition `p`'s snapshot covering the records before `offset`; whether its commit may
   * go on (false: the changelog did not take it, the commit waits for the next attempt).
   */
  private async checkpoint(p: number, st: PartitionState, offset: bigint): Promise<boolean> {
    const skip = (kind: string, why: string) => {
      this.counters.checkpoint_skipped++;
      if (!this.warned.has(kind)) { this.warned.add(kind); this.worker.log(`task ${this.spec.id} partition ${p}: ${why}; committing without a checkpoint (further ones counted as checkpoint_skipped)`); }
      return true;
    };
    st.lastCheckpointMs = Date.now();
    let state: Buffer | null;
    try {
      state = st.gp.exportState(`task ${this.spec.name} (${this.spec.id})`);
    } catch (e) {
      // state the codec cannot encode: this task is not checkpointed (as before durable state)
      this.checkpointing = false;
      this.deferred.clear();
      this.counters.checkpoint_error = (e as Error).message;
      this.worker.log(`task ${this.spec.id}: ${(e as Error).message}; its global state is not checkpointed`);
      return true;
    }
    if (state === null) return skip('inconsistent', 'no consistent point to checkpoint (the chain after the keyed state still holds some of its output)');
    if (state.length > MAX_SNAPSHOT_BYTES - 1024) return skip('size', `state of ${state.length} bytes, over the checkpoint bound of ${MAX_SNAPSHOT_BYTES}`);
    try {
      await this.ensureStateTopic();
      this.counters.checkpoint_bytes += await writeSnapshot(this.producer!, { task: this.spec.id, partition: p, offset, state });
      this.counters.checkpoints++;
      return true;
    } catch (e) {
      this.deferred.add(p);
      this.worker.log(`task ${this.spec.id} partition ${p}: checkpoint not written (${(e as Error).message}); the commit waits`);
      return false;
    }
  }

  private async checkGrace(): Promise<void> {
    if (this.deferred.size > 0) await this.commit([...this.deferred]);
    const now = Date.now();
    for (const [p, st] of this.states) {
      const wms = st.gp.sourceWatermarks();
      let changed = false;
      for (let s = 0; s < wms.length; s++) {
        if (st.ended[s] || st.expired[s]) continue;
        if (now - st.lastAdvanceMs[s] < this.spec.graceMs) continue;
        if (!wms.some((w, o) => o !== s && w > wms[s])) continue;
        st.expired[s] = true;
        this.counters.grace_expiries++;
        this.worker.log(`task ${this.spec.id} partition ${p}: source ${s} (${this.spec.agents[s]}) silent for ${this.spec.graceMs} ms, no longer awaited`);
        await this.emit(p, await st.gp.expire(s));
        changed = true;
      }
      if (changed) await this.commit([p]);
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    await this.consumer?.close().catch(() => undefined);
    await this.done.catch(() => undefined);
    await this.producer?.close().catch(() => undefined);
    for (const sink of this.sinks) await sink.close().catch((e) => this.worker.log(`task ${this.spec.id}: sink: ${(e as Error).message}`));
  }
}

export class GspWorker {
  readonly name: string;
  private readonly client: RuntimeClient;
  private readonly opts: GspWorkerOptions;
  private readonly tasks = new Map<string, TaskRunner>();
  private readonly load = processLoad();
  private stopped = false;
  private loopDone: Promise<void> = Promise.resolve();
  readonly log: (line: string) => void;

  constructor(opts: GspWorkerOptions) {
    this.opts = opts;
    this.name = opts.name;
    this.client = new RuntimeClient(opts.runtime, opts.token, opts.tls);
    this.log = opts.log ?? ((l) => process.stderr.write(`intstream gsp ${this.name}: ${l}\n`));
  }

  get allowCode(): boolean { return this.opts.allowCode === true; }
  get checkpoint(): boolean { return this.opts.checkpoint ?? process.env.INTSTREAM_GSP_CHECKPOINT !== 'off'; }
  get checkpointMs(): number { return this.opts.checkpointMs ?? 1000; }
  get sinkDir(): string | undefined { return this.opts.sinkDir; }

  kafkaFor(spec: TaskSpec): string { return this.opts.kafka ?? spec.kafka; }

  start(): void { this.loopDone = this.loop(); }

  private async loop(): Promise<void> {
    while (!this.stopped) {
      try {
        const counters: Record<string, TaskCounters> = {};
        for (const [id, t] of this.tasks) counters[id] = t.counters;
        const res = await this.client.call<{ tasks: TaskSpec[] }>('POST', `/workers/${encodeURIComponent(this.name)}/heartbeat`, { ...this.load(), tasks: counters });
        const want = new Map(res.tasks.map((t) => [t.id, t]));
        for (const [id, t] of this.tasks) if (!want.has(id)) { this.tasks.delete(id); await t.stop(); this.log(`task ${id}: stopped`); }
        for (const [id, spec] of want) {
          if (this.tasks.has(id)) continue;
          const t = new TaskRunner(spec, this);
          this.tasks.set(id, t);
          try { await t.start(); this.log(`task ${id} (${spec.name}): joined its consumer group`); } catch (e) {
            t.counters.error = (e as Error).message; // shown in the task's detail (stages.global.workers)
            this.log(`task ${id}: cannot start: ${(e as Error).message}`);
          }
        }
      } catch (e) {
        this.log(`runtime: ${(e as Error).message}`);
      }
      await sleep(this.opts.pollMs ?? 1000);
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.loopDone;
    for (const t of this.tasks.values()) await t.stop();
    this.tasks.clear();
  }
}
