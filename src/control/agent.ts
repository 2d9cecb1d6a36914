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
 */
import type { LocalProcessor } from '../local/local-processor.ts';
import { openLocalStage } from '../local/local-stage.ts';
import { createProber, type SendProbe } from '../probe/send-probe.ts';
import type { PacketSource } from '../sources/source.ts';
import { KafkaStageSender } from '../transport/kafka-transport.ts';
import { RuntimeClient, processLoad, type ClientTls } from './http-client.ts';
import { loadSpec, type TaskSpec } from './task-spec.ts';

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
}

class LocalTask {
  readonly spec: TaskSpec;
  counters: AgentTaskCounters = { items_read: 0, filtered: 0, emitted: 0, malformed: 0, skipped: 0, state: 'starting', kafka_retries: 0 };
  private lp: LocalProcessor | null = null;
  private source: PacketSource | null = null;
  private sender: KafkaStageSender | null = null;
  private stopping = false;
  /** Per-window counters not yet acknowledged by the runtime: start → [start, read, after_filter, local_out]. */
  private readonly pendingWindows = new Map<number, [number, number, number, number]>();

  constructor(spec: TaskSpec) { this.spec = spec; }

  /** The windows whose counters changed since the runtime last took them (running totals, so resending is harmless). */
  windows(): [number, number, number, number][] {
    if (this.lp) for (const w of this.lp.takeWindows()) this.pendingWindows.set(w[0], w);
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
      this.sender = new KafkaStageSender(agent.opts.kafka ?? this.spec.kafka, this.spec.id, this.spec.agents.length, this.spec.partitions);
      // the same composition as `intstream run` (local/local-stage.ts): pushdown into the source
      // (kernel BPF for live capture), record items, the source's lateness, INT decoding
      this.lp = await openLocalStage(agent.opts.source, {
        index, split, params, lateness: agent.opts.lateness, time: agent.opts.time,
        sendProbe: agent.prober, windowSize: this.spec.window,
        send: async (m) => {
          if (this.stopping) throw new Error('task stopped');
          await this.sender!.send(m);
        },
      });
      this.source = this.lp.source;
      this.counters.state = 'running';
      await this.lp.run();
      this.refresh();
      // windows were flushed; a capture that broke off still fails the task on this agent
      const failure = this.source.failure?.() ?? null;
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
    await this.client.call('POST', '/agents', { name: this.name, source: this.opts.source, labels: this.opts.labels ?? {} });
    this.loopDone = this.loop();
  }

  private async loop(): Promise<void> {
    while (!this.stopped) {
      try {
        const counters: Record<string, AgentTaskCounters> = {};
        const windows: Record<string, [number, number, number, number][]> = {};
        for (const [id, t] of this.tasks) {
          t.refresh(); counters[id] = t.counters;
          const w = t.windows();
          if (w.length > 0) windows[id] = w;
        }
        const res = await this.client.call<{ tasks: TaskSpec[] }>('POST', `/agents/${encodeURIComponent(this.name)}/heartbeat`, { ...this.load(), source: this.opts.source, labels: this.opts.labels ?? {}, tasks: counters, windows });
        for (const [id, w] of Object.entries(windows)) this.tasks.get(id)?.windowsSent(w);
        const want = new Map(res.tasks.map((t) => [t.id, t]));
        for (const [id, t] of this.tasks) {
          if (!want.has(id) && (t.counters.state === 'running' || t.counters.state === 'starting')) { await t.stop(); this.log(`task ${id}: stopped`); }
        }
        for (const [id, spec] of want) {
          if (this.tasks.has(id)) continue;
          const t = new LocalTask(spec);
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
