/**
 * An agent: sits near one source, registers with the runtime it was started with, heartbeats
 * (its CPU, memory and per-task counters), and runs the local stage of every task the runtime
 * assigns to it, sending local results through Kafka (kafka-transport.ts, record format v1).
 *
 * Tasks are code, so an agent opens no port: it only pulls work from its one runtime URL,
 * authenticated with its own agent credential (bound to its name), over HTTPS with the runtime's
 * certificate checked against `ca` when given. It runs built-in applications only, unless started
 * with `allowCode` (--allow-code): a submitted query file then fails on this agent with the
 * reason in the task's agent detail. While the broker is away the local stage waits for each send
 * to be acknowledged, which pauses the source (at most one message per task held in memory).
 *
 * On a capture file, each task reports its resume point (resume-point.ts) in the heartbeat, once
 * Kafka acknowledged the windows before it; the runtime hands it back with the task, so an agent
 * restarted with the same name (on this machine or another with the same file) reads on from
 * there instead of from the start: `resumed_at_offset` in the task's agent detail, or
 * `resume_refused` with the reason it started over (also in its log).
 */
import type { LocalProcessor } from '../local/local-processor.ts';
import { openLocalStageThreads, type LocalStage } from '../local/local-stage.ts';
import { createProber, type SendProbe } from '../probe/send-probe.ts';
import type { PacketSource } from '../sources/source.ts';
import { openFileInput } from '../sources/byte-input.ts';
import { CaptureFileSource } from '../sources/capture-file-source.ts';
import { KafkaStageSender } from '../transport/kafka-transport.ts';
import { capturePath, checkpointMismatch, fileIdentity, resumableStage, ResumeTracker, type Checkpoint } from './resume-point.ts';
import { RuntimeClient, processLoad, type ClientTls } from './http-client.ts';
import { loadSpec, type TaskSpec } from '../apps/task-spec.ts';

export interface AgentOptions {
  name: string;
  source: string;
  runtime: string;
  token: string;
  /** TLS to the runtime: the CA its certificate must chain to, a client certificate for mutual TLS. */
  tls?: ClientTls;
  /** Run submitted query files (default: built-in applications only). */
  allowCode?: boolean;
  labels?: Record<string, string>;
  heartbeatMs?: number;
  /** Overrides the task's Kafka address. */
  kafka?: string;
  /** Allowed event-time lateness, seconds (default: the source's own, else 0). */
  lateness?: number;
  /** Live sources: window by packet time (default) or processing time. */
  time?: 'packet' | 'processing';
  allowProbe?: string[];
  /** Local-stage threads per task (--workers; default 1). */
  workers?: number;
  log?: (line: string) => void;
}

export interface AgentTaskCounters {
  items_read: number;
  filtered: number;
  emitted: number;
  malformed: number;
  /** Items not processed (late, corrupt records, full queues, ...) plus the kernel's capture drops. */
  skipped: number;
  state: 'starting' | 'running' | 'finished' | 'failed' | 'stopped';
  error?: string;
  kafka_retries: number;
  /** This run opened the capture file at the task's resume point: its offset, the watermark windows were made again from, the records before it (not read again). */
  resumed_at_offset?: number;
  resumed_at_time?: number | null;
  resumed_items_before?: number;
  /** Why a resume point handed back was not used (the run started from the beginning). */
  resume_refused?: string;
}

class LocalTask {
  readonly spec: TaskSpec;
  counters: AgentTaskCounters = { items_read: 0, filtered: 0, emitted: 0, malformed: 0, skipped: 0, state: 'starting', kafka_retries: 0 };
  private lp: LocalStage | null = null;
  private source: PacketSource | null = null;
  private sender: KafkaStageSender | null = null;
  private stopping = false;
  /** Per-window counters not yet acknowledged by the runtime: start → [start, read, after_filter, local_out]. */
  private readonly pendingWindows = new Map<number, [number, number, number, number]>();
  /** The resume point the runtime handed back with the task, if any. */
  private readonly resume: Checkpoint | null;
  /** This run's resume points (a capture file and a resumable stage), and the last one the runtime took. */
  private tracker: ResumeTracker | null = null;
  private trackerSent = 0;
  /** Resumed: windows ending by this time were complete before the restart (their counters stand). */
  private completeBefore = -Infinity;

  constructor(spec: TaskSpec, resume: Checkpoint | null = null) { this.spec = spec; this.resume = resume; }

  /** A resume point the runtime has not taken yet, with its version (for checkpointSent). */
  checkpoint(): { ck: Checkpoint; version: number } | null {
    const t = this.tracker;
    return t && t.checkpoint && t.version !== this.trackerSent ? { ck: t.checkpoint, version: t.version } : null;
  }

  checkpointSent(version: number): void { if (version > this.trackerSent) this.trackerSent = version; }

  /** The windows whose counters changed since the runtime last took them (running totals, so resending is harmless). */
  windows(): [number, number, number, number][] {
    // a resumed run reads windows before its resume point only in part: the first run's totals stand
    if (this.lp) for (const w of this.lp.takeWindows()) if (w[0] + this.spec.window > this.completeBefore) this.pendingWindows.set(w[0], w);
    return [...this.pendingWindows.values()].slice(0, 5000); // a bounded heartbeat; the rest go next time
  }

  windowsSent(sent: [number, number, number, number][]): void {
    for (const w of sent) if (this.pendingWindows.get(w[0]) === w) this.pendingWindows.delete(w[0]);
  }

  async run(agent: Agent): Promise<void> {
    try {
      if (this.spec.code !== null && this.spec.code !== undefined && !agent.opts.allowCode) {
        throw new Error(`task ${this.spec.name} is a submitted query file; this agent runs built-in applications only (start it with --allow-code to run query files)`);
      }
      // standard input can be read once: the first task takes it, later ones fail saying so
      if (agent.opts.source === '-' || agent.opts.source === 'pcap:-') {
        if (agent.stdinTakenBy !== null && agent.stdinTakenBy !== this.spec.id) {
          throw new Error(`standard input was read by task ${agent.stdinTakenBy}: an agent on pcap:- serves one task (start another agent, or give it a file or an interface)`);
        }
        agent.stdinTakenBy = this.spec.id;
      }
      const { split, params } = await loadSpec(this.spec);
      const index = this.spec.agents.indexOf(agent.name);
      const opened = await this.resumeSource(agent, resumableStage(split));
      // a run after a resume point was handed back (used or not) numbers its messages above every
      // earlier run's and marks them resumed: the GSP drops what it has already (resume-point.ts)
      const replay = this.resume !== null ? { seqBase: agent.seqBase(), resumed: true } : {};
      this.sender = new KafkaStageSender(agent.opts.kafka ?? this.spec.kafka, this.spec.id, this.spec.agents.length, this.spec.partitions, undefined, replay);
      const tracker = opened?.tracker ?? null;
      // the same composition as `intstream run` (local/local-stage.ts): pushdown into the source
      // (kernel BPF for live capture), record items, the source's lateness, INT decoding
      this.lp = await openLocalStageThreads(agent.opts.source, {
        index, split, params, lateness: agent.opts.lateness, time: agent.opts.time,
        sendProbe: agent.prober, windowSize: this.spec.window, source: opened?.source,
        send: async (m) => {
          if (this.stopping) throw new Error('task stopped');
          await this.sender!.send(m);
          tracker?.acked(m.watermark);
        },
      }, { // --workers: the threads' output combined into this agent's one stream; a resumable capture keeps one thread
        count: tracker ? 1 : agent.opts.workers ?? 1, task: { kind: 'spec', app: this.spec.app, code: this.spec.code },
        params: this.spec.params, window: this.spec.window, first: null, notice: (l) => agent.log(`task ${this.spec.id}: ${l}`),
      });
      if (tracker) {
        this.tracker = tracker;
        this.lp.beforeBatch = (maxTs, read) => tracker.mark(maxTs, read);
        if (opened!.from) this.lp.startTime = opened!.from.time ?? -Infinity;
      }
      this.source = this.lp.source;
      this.counters.state = 'running';
      await this.lp.run();
      this.refresh();
      // windows were flushed; a capture that broke off still fails the task on this agent
      const failure = this.source.status().failure;
      if (failure !== null && !this.stopping) throw new Error(`${agent.opts.source}: ${failure}`);
      this.counters.state = 'finished';
    } catch (e) {
      this.refresh();
      this.counters.state = this.stopping ? 'stopped' : 'failed';
      if (!this.stopping) { this.counters.error = (e as Error).message; agent.log(`task ${this.spec.id}: ${(e as Error).message}`); }
    } finally {
      await this.source?.close().catch(() => undefined);
      await this.sender?.close();
    }
  }

  /**
   * For a capture file and a resumable stage: the source to open (at the resume point handed back
   * when it still fits the file, else at the start, saying why) and its tracker; null otherwise.
   */
  private async resumeSource(agent: Agent, notResumable: string | null): Promise<{ source: CaptureFileSource; tracker: ResumeTracker; from: Checkpoint | null } | null> {
    const spec = agent.opts.source, id = this.spec.id;
    const path = capturePath(spec);
    const file = path !== null && notResumable === null ? fileIdentity(path) : null;
    let from = this.resume;
    if (from !== null) {
      const why = path === null ? 'the source is not a capture file' : notResumable ?? checkpointMismatch(from, spec, file);
      if (why !== null) {
        this.counters.resume_refused = why;
        agent.log(`task ${id}: not resuming at offset ${from.at?.offset}: ${why}; reading ${spec} from the start`);
        from = null;
      }
    }
    if (path === null || file === null) return null;
    const source = new CaptureFileSource(spec, path, await openFileInput(path), undefined, from ? { start: from.at } : {});
    if (from) {
      this.counters.resumed_at_offset = from.at.offset;
      this.counters.resumed_at_time = from.watermark;
      this.counters.resumed_items_before = from.items_before;
      this.completeBefore = from.watermark ?? Infinity;
      agent.log(`task ${id}: resuming ${path} at offset ${from.at.offset} of ${file.size} (windows from ${from.watermark ?? 'the end'} on; ${from.items_before} records before it not read again)`);
    }
    return { source, tracker: new ResumeTracker(source, spec, file, from?.items_before ?? 0), from };
  }

  refresh(): void {
    if (!this.lp) return;
    const s = this.lp.stats();
    this.counters.items_read = s.items_read;
    this.counters.filtered = s.items_read - s.after_filter;
    this.counters.emitted = s.local_out;
    this.counters.malformed = Object.values(s.malformed).reduce((a, b) => a + b, 0);
    this.counters.skipped = Object.values(s.skipped).reduce((a, b) => a + b, 0) + (s.kernel?.dropped ?? 0);
    this.counters.kafka_retries = this.sender?.retries ?? 0;
  }

  async stop(): Promise<void> {
    this.stopping = true;
    await this.source?.close().catch(() => undefined);
  }
}

export class Agent {
  readonly name: string;
  readonly opts: AgentOptions;
  private readonly client: RuntimeClient;
  private readonly tasks = new Map<string, LocalTask>();
  private readonly load = processLoad();
  private stopped = false;
  /** The task that took standard input (a `pcap:-` source can be read once). */
  stdinTakenBy: string | null = null;
  /** How many times the runtime has seen this agent register (this start included); null: not told. */
  incarnation: number | null = null;
  private loopDone: Promise<void> = Promise.resolve();
  readonly log: (line: string) => void;
  /** The probe policy of every task on this agent: its allowed networks, 10 probes/s. */
  readonly prober: SendProbe;

  constructor(opts: AgentOptions) {
    this.opts = opts;
    this.prober = createProber({ allow: opts.allowProbe ?? [], ratePerSec: 10 });
    this.name = opts.name;
    this.client = new RuntimeClient(opts.runtime, opts.token, opts.tls);
    this.log = opts.log ?? ((l) => process.stderr.write(`intstream agent ${this.name}: ${l}\n`));
  }

  /** Registers (fails when the runtime refuses the token), then heartbeats until stop(). */
  async start(): Promise<void> {
    const r = await this.client.call<{ incarnation?: number }>('POST', '/agents', { name: this.name, source: this.opts.source, labels: this.opts.labels ?? {} });
    this.incarnation = Number.isSafeInteger(r?.incarnation) ? r.incarnation! : null;
    this.loopDone = this.loop();
  }

  /**
   * The first sequence number of a resumed run: above every number an earlier start of this
   * agent used (2^32 per start; a runtime that does not count starts: the clock, in µs/1000).
   */
  seqBase(): number {
    return this.incarnation !== null && this.incarnation < 2 ** 20 ? this.incarnation * 2 ** 32 : Date.now() * 1000;
  }

  private async loop(): Promise<void> {
    while (!this.stopped) {
      try {
        const counters: Record<string, AgentTaskCounters> = {};
        const windows: Record<string, [number, number, number, number][]> = {};
        const checkpoints: Record<string, Checkpoint> = {};
        const versions = new Map<string, number>();
        for (const [id, t] of this.tasks) {
          t.refresh(); counters[id] = t.counters;
          const w = t.windows();
          if (w.length > 0) windows[id] = w;
          const c = t.checkpoint();
          if (c) { checkpoints[id] = c.ck; versions.set(id, c.version); }
        }
        const res = await this.client.call<{ tasks: TaskSpec[]; resume?: Record<string, Checkpoint> }>('POST', `/agents/${encodeURIComponent(this.name)}/heartbeat`, { ...this.load(), source: this.opts.source, labels: this.opts.labels ?? {}, tasks: counters, windows, checkpoints });
        for (const [id, w] of Object.entries(windows)) this.tasks.get(id)?.windowsSent(w);
        for (const [id, v] of versions) this.tasks.get(id)?.checkpointSent(v);
        const want = new Map(res.tasks.map((t) => [t.id, t]));
        for (const [id, t] of this.tasks) {
          if (!want.has(id) && (t.counters.state === 'running' || t.counters.state === 'starting')) { await t.stop(); this.log(`task ${id}: stopped`); }
        }
        for (const [id, spec] of want) {
          if (this.tasks.has(id)) continue;
          const t = new LocalTask(spec, res.resume?.[id] ?? null);
          this.tasks.set(id, t);
          this.log(`task ${id} (${spec.name}): local stage ${spec.agents.indexOf(this.name)} of ${spec.agents.length}`);
          void t.run(this);
        }
      } catch (e) {
        this.log(`runtime: ${(e as Error).message}`);
      }
      await new Promise((r) => setTimeout(r, this.opts.heartbeatMs ?? 1000));
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.loopDone;
    for (const t of this.tasks.values()) await t.stop();
  }
}
