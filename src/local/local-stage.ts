/**
 * The one composition of a local stage, used by `intstream run` (run-task.ts) and by agents
 * (control/agent.ts) alike, so that the two deployments cannot drift apart: the source is
 * opened from its spec and configured before it opens (the task's pushed-down filter, compiled
 * to BPF in the kernel for live capture; --time), the stage reads record items through field
 * getters when the source yields them (flow export), takes the source's own lateness when the
 * caller sets none (NetFlow: flow ends arrive out of order), decodes INT reports as the task's
 * parameters say (int_port, int_dscp, ...), and gets the caller's probe policy and counters.
 */
import { intDecodeFromParams, mergeDecodeOptions } from '../int/decode-params.ts';
import type { StageEnv } from '../query/operator.ts';
import type { SplitPlan } from '../query/pipeline.ts';
import type { ProbeRequest, ProbeResult } from '../query/stream.ts';
import { SkipCounters } from '../decode/skip-counters.ts';
import { openSourceSpec } from '../sources/source-spec.ts';
import type { PacketTap } from '../sinks/pcap-sink.ts';
import type { StageMessage } from '../transport/transport.ts';
import { LocalProcessor } from './local-processor.ts';

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
}

/** Opens the source named by `spec` and builds its local stage; the source is closed if that fails. */
export async function openLocalStage(spec: string, o: LocalStageOptions): Promise<LocalProcessor> {
  const source = await openSourceSpec(spec);
  try {
    source.configure?.({ pushdown: o.split.pushdown?.ast ?? null, time: o.time });
    await source.open();
    const env: StageEnv = {
      skipped: new SkipCounters(),
      lateness: o.lateness ?? source.defaultLateness ?? 0,
      sendProbe: o.sendProbe,
      records: source.itemKind === 'records',
    };
    const lp = new LocalProcessor(o.index, source, o.split, env, o.send, mergeDecodeOptions(intDecodeFromParams(o.params), source.decodeOptions));
    if (o.windowSize) lp.windowSize = o.windowSize;
    if (o.tap) lp.tap = o.tap;
    return lp;
  } catch (e) {
    await source.close().catch(() => undefined);
    throw e;
  }
}
