/**
 * Runs one task in one process: a local stage per source, a transport, the global stage, the
 * sinks. The CLI's `run` command and the tests use it; agents and GSP workers reuse its parts.
 */
import { IntstreamError } from './errors.ts';
import { GlobalProcessor } from './global/global-processor.ts';
import { LocalProcessor, type LocalStats } from './local/local-processor.ts';
import type { StageEnv } from './query/operator.ts';
import { splitPlan } from './query/pipeline.ts';
import type { ProbeRequest, ProbeResult } from './query/stream.ts';
import { buildPlan, resolveParams, type TaskDefinition } from './query/task.ts';
import { toResult, type TaskResult } from './sinks/sink.ts';
import { SkipCounters } from './sources/skip-counters.ts';
import { openSourceSpec } from './sources/source-spec.ts';
import type { PacketSource } from './sources/source.ts';
import { MemoryTransport } from './transport/memory-transport.ts';
import { intDecodeFromParams, mergeDecodeOptions } from './int/decode-params.ts';
import type { Transport } from './transport/transport.ts';

export interface RunOptions {
  task: TaskDefinition;
  /** --param k=v, unparsed. */
  params?: Record<string, string>;
  /** --source specs. */
  sources: string[];
  /** Window length for the task's queries, seconds. */
  window?: number;
  /** Allowed event-time lateness of the local stages, seconds (default: the source's defaultLateness, else 0). */
  lateness?: number;
  /** Live sources: window by packet timestamps (default) or by when the local stage read them. */
  time?: 'packet' | 'processing';
  /** Builds the transport for n local stages (default: in-process). */
  transport?: (sources: number, taskName: string) => Promise<Transport>;
  onResult: (r: TaskResult) => void | Promise<void>;
  /** Called about every 200 ms with bytes read/total over all sources. */
  onProgress?: (p: { packets: number; bytes: number; total: number | undefined; elapsedMs: number }) => void;
  /** Probe implementation (the application library's sendProbe); default refuses. */
  sendProbe?: (req: ProbeRequest) => Promise<ProbeResult>;
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
}

const refuseProbe = async (req: ProbeRequest): Promise<ProbeResult> =>
  ({ ok: false, error: `probing is not enabled on this agent (no allowed networks); ${req.type} to ${req.dst} not sent` });

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

  const sources: PacketSource[] = [];
  try {
    for (const spec of opts.sources) {
      const s = await openSourceSpec(spec);
      s.configure?.({ pushdown: split.pushdown?.ast ?? null, time: opts.time });
      await s.open();
      sources.push(s);
    }
  } catch (e) {
    for (const s of sources) await s.close().catch(() => undefined);
    throw e;
  }

  // --param int_port=N (tasks that declare it) marks INT report traffic in capture sources.
  const intDecode = intDecodeFromParams(params);
  const transport = opts.transport ? await opts.transport(sources.length, opts.task.name) : new MemoryTransport(sources.length);
  const locals = sources.map((s, i) => {
    // Record sources (flow export) build their stage for items that are not all Packets; a
    // source may ask for lateness (NetFlow: flow ends arrive out of order) when the run sets none.
    const env: StageEnv = { skipped: new SkipCounters(), lateness: opts.lateness ?? s.defaultLateness ?? 0, sendProbe, records: s.itemKind === 'records' };
    return new LocalProcessor(i, s, split, env, (m) => transport.send(m), mergeDecodeOptions(intDecode, s.decodeOptions));
  });
  const globalEnv: StageEnv = { skipped: new SkipCounters(), lateness: Infinity, sendProbe };
  const gsp = new GlobalProcessor(split.global, sources.length, globalEnv);

  let progressTimer: NodeJS.Timeout | undefined;
  if (opts.onProgress) {
    const report = () => {
      let bytes = 0, total: number | undefined = 0, packets = 0;
      for (const l of locals) {
        const p = l.source.progress();
        bytes += p.bytes;
        total = total === undefined || p.total === undefined ? undefined : total + p.total;
        packets += l.read;
      }
      opts.onProgress!({ packets, bytes, total, elapsedMs: performance.now() - started });
    };
    progressTimer = setInterval(report, 200);
    progressTimer.unref();
  }

  const consume = (async () => {
    for await (const msg of transport.receive()) {
      const out = await gsp.accept(msg);
      for (let i = 0; i < out.items.length; i++) await opts.onResult(toResult(opts.task.name, out.items[i], out.keys[i]));
    }
  })();
  try {
    const produce = Promise.all(locals.map((l) => l.run()));
    // A failure on either side must not leave the other waiting.
    await Promise.all([produce.catch(async (e) => { await transport.close(); throw e; }), consume]);
  } finally {
    if (progressTimer) clearInterval(progressTimer);
    await transport.close();
    for (const s of sources) await s.close().catch(() => undefined);
  }

  const elapsed = (performance.now() - started) / 1000;
  const localStats = locals.map((l) => l.stats());
  const malformed = new Map<string, number>();
  const skipped = new Map<string, number>();
  for (const s of localStats) { mergeCounts(malformed, s.malformed); mergeCounts(skipped, s.skipped); }
  mergeCounts(skipped, Object.fromEntries([...globalEnv.skipped.counts].map(([k, v]) => [`global_${k}`, v])));
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
    failures: sources.flatMap((s) => { const f = s.failure?.(); return f ? [`${s.name}: ${f}`] : []; }),
  };
}

export type { TaskResult };
