/**
 * Runs one task in one process: a local stage per source (local/local-stage.ts, the composition
 * agents use too), a transport, the global stage, the sinks. The CLI's `run` command and the
 * tests use it. With `workers` > 1 a source's local stage runs on that many threads, each a
 * source of its own on the transport and to the global stage (local/workers/).
 */
import { IntstreamError } from './errors.ts';
import { openGlobalStage } from './global/global-processor.ts';
import { refuseProbes } from './probe/refuse-probes.ts';
import type { LocalStats } from './local/local-processor.ts';
import { openLocalStageThreads, type LocalStage } from './local/local-stage.ts';
import { builtinRef, type TaskRef } from './local/workers/task-ref.ts';
import { splitPlan } from './query/pipeline.ts';
import type { ProbeRequest, ProbeResult } from './query/stream.ts';
import { buildPlan, resolveParams, type TaskDefinition } from './query/task.ts';
import type { PacketTap } from './sinks/pcap-sink.ts';
import { toResult, type TaskResult } from './sinks/sink.ts';
import { MemoryTransport } from './transport/memory-transport.ts';
import type { Transport } from './transport/transport.ts';

export interface RunOptions {
  task: TaskDefinition;
  /** --param k=v, unparsed. */
  params?: Record<string, string>;
  /** --source specs. */
  sources: string[];
  /** Window length for the task's queries, seconds. */
  window?: number;
  /** Allowed event-time lateness of the local stages, seconds (default: the source's traits.lateness, else 0). */
  lateness?: number;
  /** Live sources: window by packet timestamps (default) or by when the local stage read them. */
  time?: 'packet' | 'processing';
  /** Builds the transport for n local stages (default: in-process). */
  transport?: (sources: number, taskName: string) => Promise<Transport>;
  onResult: (r: TaskResult) => void | Promise<void>;
  /** Called about every 200 ms with bytes read/total over all sources. */
  onProgress?: (p: { packets: number; bytes: number; total: number | undefined; elapsedMs: number }) => void;
  /** Each packet that passed a local stage's pushed-down filter (`--sink pcap:FILE`). */
  tap?: PacketTap;
  /** Probe implementation (the application library's sendProbe); default refuses. */
  sendProbe?: (req: ProbeRequest) => Promise<ProbeResult>;
  /** Local-stage threads per source (`--workers`; default 1: the stage runs in this thread). */
  workers?: number;
  /** How those threads load the task (default: `task` when it is a built-in application). */
  taskRef?: TaskRef;
  /** Why a source stays on one thread despite `workers`, once per reason. */
  onNotice?: (line: string) => void;
}

export interface RunStats {
  task: string;
  params: Record<string, unknown>;
  pushdown_filter: string | null;
  sources: LocalStats[];
  items_read: number;
  after_filter: number;
  local_out: number;
  global_out: number;
  /** 1 - local_out / items_read: the share of items the local stages kept off the network. */
  data_reduction: number;
  malformed: Record<string, number>;
  skipped: Record<string, number>;
  elapsed_s: number;
  items_per_s: number;
  /** First occurrence of each problem the sources met (file, offset, what). */
  warnings: string[];
  /** Sources that ended by themselves before their input was complete (the CLI exits 1). */
  failures: string[];
  /** Local-stage threads of each source (`--workers`; 1: the stage ran in the main thread). */
  threads: number[];
}

const refuseProbe = refuseProbes('probing is not enabled on this agent (no allowed networks)');

function mergeCounts(into: Map<string, number>, from: Record<string, number>): void {
  for (const [k, v] of Object.entries(from)) into.set(k, (into.get(k) ?? 0) + v);
}

export async function runTask(opts: RunOptions): Promise<RunStats> {
  const started = performance.now();
  if (opts.sources.length === 0) throw new IntstreamError('USAGE', 'no --source given', 'e.g. --source pcap:capture.pcap');
  const params = resolveParams(opts.task, opts.params ?? {});
  const plan = buildPlan(opts.task, params, { window: opts.window ?? 10 });
  const split = splitPlan(plan);
  const sendProbe = opts.sendProbe ?? refuseProbe;

  // Sources first (a bad spec fails before any transport is made); each stage sends through
  // the transport made next, once every source is open.
  let transport: Transport | null = null;
  const locals: LocalStage[] = [];
  // the transport's sources: one per local stage, or one per thread of a stage on several
  let streams = 0;
  const workers = opts.workers ?? 1;
  const taskRef = workers > 1 ? opts.taskRef ?? await builtinRef(opts.task) : null;
  const said = new Set<string>();
  const notice = (line: string) => { if (!said.has(line)) { said.add(line); opts.onNotice?.(line); } };
  try {
    for (const spec of opts.sources) {
      const l = await openLocalStageThreads(spec, {
        index: locals.length, split, params, lateness: opts.lateness, time: opts.time, sendProbe, tap: opts.tap,
        send: (m) => transport!.send(m),
      }, { count: workers, task: taskRef, params: opts.params ?? {}, window: opts.window ?? 10, first: streams, notice });
      locals.push(l);
      streams += 'threads' in l ? l.threads : 1;
    }
  } catch (e) {
    for (const l of locals) await l.source.close().catch(() => undefined);
    throw e;
  }
  const sources = locals.map((l) => l.source);
  try {
    transport = opts.transport ? await opts.transport(streams, opts.task.name) : new MemoryTransport(streams);
  } catch (e) {
    for (const s of sources) await s.close().catch(() => undefined); // local-stage threads end with their source
    throw e;
  }
  const gsp = openGlobalStage(split.global, streams, sendProbe);

  let progressTimer: NodeJS.Timeout | undefined;
  if (opts.onProgress) {
    const report = () => {
      let bytes = 0, total: number | undefined = 0, packets = 0;
      for (const l of locals) {
        const p = l.source.status();
        bytes += p.bytes;
        total = total === undefined || p.total === undefined ? undefined : total + p.total;
        packets += l.read;
      }
      opts.onProgress!({ packets, bytes, total, elapsedMs: performance.now() - started });
    };
    progressTimer = setInterval(report, 200);
    progressTimer.unref();
  }

  const t = transport;
  const consume = (async () => {
    for await (const msg of t.receive()) {
      const out = await gsp.accept(msg);
      for (let i = 0; i < out.items.length; i++) await opts.onResult(toResult(opts.task.name, out.items[i], out.keys[i]));
    }
  })();
  try {
    const produce = Promise.all(locals.map((l) => l.run()));
    // A failure on either side must not leave the other waiting.
    await Promise.all([produce.catch(async (e) => { await t.close(); throw e; }), consume]);
  } finally {
    if (progressTimer) clearInterval(progressTimer);
    await t.close();
    for (const s of sources) await s.close().catch(() => undefined);
  }

  const elapsed = (performance.now() - started) / 1000;
  const localStats = locals.map((l) => l.stats());
  const malformed = new Map<string, number>();
  const skipped = new Map<string, number>();
  for (const s of localStats) { mergeCounts(malformed, s.malformed); mergeCounts(skipped, s.skipped); }
  mergeCounts(skipped, Object.fromEntries([...gsp.skipped.counts].map(([k, v]) => [`global_${k}`, v])));
  const itemsRead = localStats.reduce((a, s) => a + s.items_read, 0);
  const localOut = localStats.reduce((a, s) => a + s.local_out, 0);
  return {
    task: opts.task.name,
    params,
    pushdown_filter: split.pushdown?.text ?? null,
    sources: localStats,
    items_read: itemsRead,
    after_filter: localStats.reduce((a, s) => a + s.after_filter, 0),
    local_out: localOut,
    global_out: gsp.out,
    data_reduction: itemsRead > 0 ? 1 - localOut / itemsRead : 0,
    malformed: Object.fromEntries([...malformed].sort()),
    skipped: Object.fromEntries([...skipped].sort()),
    elapsed_s: +elapsed.toFixed(3),
    items_per_s: elapsed > 0 ? Math.round(itemsRead / elapsed) : 0,
    warnings: sources.flatMap((s) => s.warnings),
    failures: sources.flatMap((s) => { const f = s.status().failure; return f ? [`${s.name}: ${f}`] : []; }),
    threads: locals.map((l) => ('threads' in l ? l.threads : 1)),
  };
}

export type { TaskResult };
