/**
 * The one composition of a local stage, used by `intstream run` (run-task.ts) and by agents
 * (control/agent.ts) alike, so that the two deployments cannot drift apart: the source is
 * opened from its spec and configured before it opens (the task's pushed-down filter, compiled
 * to BPF in the kernel for live capture; --time), the stage reads record items through field
 * getters when the source yields them (flow export), takes the source's own lateness when the
 * caller sets none (NetFlow: flow ends arrive out of order), decodes INT reports as the task's
 * parameters say (int_port, int_dscp, ...), and gets the caller's probe policy and counters.
 *
 * `openLocalStageThreads` is the same with `--workers N`: the source's records dealt to N
 * local-stage threads (workers/worker-stage.ts), or, where that could change the results or is
 * not supported, this one stage in this thread, saying why once (workers/dealing.ts).
 */
import { intDecodeFromParams, mergeDecodeOptions } from '../int/decode-params.ts';
import type { StageEnv } from '../query/operator.ts';
import type { SplitPlan } from '../query/pipeline.ts';
import type { ProbeRequest, ProbeResult } from '../query/stream.ts';
import { SkipCounters } from '../decode/skip-counters.ts';
import { openSourceSpec } from '../sources/source-spec.ts';
import type { PacketSource } from '../sources/source.ts';
import type { PacketTap } from '../sinks/pcap-sink.ts';
import type { StageMessage } from '../transport/transport.ts';
import { LocalProcessor, rawRejectFor } from './local-processor.ts';
import { dealingFor } from './workers/dealing.ts';
import type { TaskRef } from './workers/task-ref.ts';
import type { WorkerStage } from './workers/worker-stage.ts';

export interface LocalStageOptions {
  /** This stage's index among the task's sources (its number on the transport). */
  index: number;
  split: SplitPlan;
  /** The task's resolved parameters (INT decoding reads int_* from them). */
  params: Record<string, unknown>;
  /** Allowed event-time lateness, seconds; default the source's own, else 0. */
  lateness?: number;
  /** Live sources: window by packet time (default) or by when the stage read the packet. */
  time?: 'packet' | 'processing';
  sendProbe: (req: ProbeRequest) => Promise<ProbeResult>;
  /** Where the stage's output goes (the transport); awaited, so backpressure reaches the source. */
  send: (msg: StageMessage) => Promise<void>;
  /** Per-window counters of this many seconds (agents report them); 0 or absent: off. */
  windowSize?: number;
  /** Each packet that passed the pushed-down filter, as captured (`--sink pcap:FILE`). */
  tap?: PacketTap;
  /** The source, made but not opened, instead of one from `spec` (an agent resuming a capture file mid-way). */
  source?: PacketSource;
}

/** `--workers N`: how a source's local stage may run on N threads (openLocalStageThreads). */
export interface StageWorkers {
  /** Threads wanted; 1 (or less): this thread, as openLocalStage. */
  count: number;
  /** How a thread loads the task again; null: it cannot (a task given as an object), one thread. */
  task: TaskRef | null;
  /** The task's parameters as given (text) and its window, seconds: each thread resolves them again. */
  params: Record<string, string>;
  window: number;
  /**
   * Transport index of the first thread (`intstream run`: thread k sends as source first + k, and
   * the stage on one thread as `first`); null: one combined stream as `index` (an agent).
   */
  first: number | null;
  /** Why a source stays on one thread, said once per reason. */
  notice?: (line: string) => void;
}

/** A local stage on this thread or on several. */
export type LocalStage = LocalProcessor | WorkerStage;

/** openLocalStage with `--workers`: the stage on `w.count` threads where it can be, else on this one. */
export async function openLocalStageThreads(spec: string, o: LocalStageOptions, w: StageWorkers): Promise<LocalStage> {
  const oneThread = (why: string | null, source?: PacketSource): Promise<LocalProcessor> => {
    if (why !== null) w.notice?.(`--workers ${w.count}: the local stage of ${spec} runs on one thread: ${why}`);
    const as = w.first;
    // elements keep the stage's index as their source; the messages go as the transport's source `first`
    const send = as === null || as === o.index ? o.send : (m: StageMessage) => o.send({ ...m, source: as });
    return openLocalStage(spec, { ...o, send, ...(source ? { source } : {}) });
  };
  if (w.count <= 1) return oneThread(null);
  if (o.tap) return oneThread('--sink pcap: takes its packets in the main thread');
  if (w.task === null) return oneThread('the task was given as an object, not as a name or file a thread can load');
  const dealing = dealingFor(o.split);
  if (dealing.mode === 'single') return oneThread(dealing.why);
  const source = o.source ?? await openSourceSpec(spec);
  // decoded records are dealt as whole batches (their values copied into the deal); by flow
  // they would need their addresses hashed after decoding, which is not built
  if (source.traits.items === 'records' && dealing.mode === 'flow') return oneThread('the task reads `source`, and a flow source\'s records are dealt by whole batches only', source);
  try {
    const traits = source.traits;
    const decode = mergeDecodeOptions(intDecodeFromParams(o.params), traits.decode ?? undefined);
    // the raw pre-filter in the capture parser as on one thread (then only the records it keeps
    // are copied and dealt), except when dealing by flow: the threads' loops run it there
    const flow = dealing.mode === 'flow';
    const reject = rawRejectFor(o.split, decode, false);
    const inParser = !flow && traits.pushdown === 'parser' && reject !== null;
    await source.open({ pushdown: o.split.pushdown?.ast ?? null, time: o.time, reject: inParser ? reject : null, windowSize: o.windowSize ?? 0 });
    const { WorkerStage } = await import('./workers/worker-stage.ts');
    return new WorkerStage({
      source, split: o.split, threads: w.count, flow, prefilter: inParser ? 'source' : 'loop', task: w.task, params: w.params, window: w.window,
      index: o.index, first: w.first, lateness: o.lateness ?? traits.lateness, decode, windowSize: o.windowSize ?? 0, send: o.send,
    });
  } catch (e) {
    await source.close().catch(() => undefined);
    throw e;
  }
}

/** Opens the source named by `spec` and builds its local stage; the source is closed if that fails. */
export async function openLocalStage(spec: string, o: LocalStageOptions): Promise<LocalProcessor> {
  const source = o.source ?? await openSourceSpec(spec);
  try {
    const traits = source.traits;
    const records = traits.items === 'records';
    const decode = mergeDecodeOptions(intDecodeFromParams(o.params), traits.decode ?? undefined);
    // The pushed-down filter: into the kernel (live capture), into the capture parser as the raw
    // pre-filter, or (always) the local stage's own filter after decoding.
    const reject = rawRejectFor(o.split, decode, records);
    const inParser = traits.pushdown === 'parser' && reject !== null;
    await source.open({ pushdown: o.split.pushdown?.ast ?? null, time: o.time, reject: inParser ? reject : null, windowSize: o.windowSize ?? 0 });
    const env: StageEnv = { skipped: new SkipCounters(), lateness: o.lateness ?? traits.lateness, sendProbe: o.sendProbe, records };
    const lp = new LocalProcessor(o.index, source, o.split, env, o.send, decode);
    lp.prefilter = inParser ? 'source' : 'loop';
    if (o.windowSize) lp.windowSize = o.windowSize;
    if (o.tap) lp.tap = o.tap;
    return lp;
  } catch (e) {
    await source.close().catch(() => undefined);
    throw e;
  }
}
