/**
 * The global stream processor (GSP): merges what every local stage sent into one stream in
 * event-time order, and runs the global chain over it. An element is released once every
 * local stage's watermark has passed its time, in (time, source, arrival) order, so results
 * do not depend on how the sources' messages interleaved in transit.
 */
import { buildStage, pollStage, settleStage, type Stage } from '../query/pipeline.ts';
import type { StageEnv } from '../query/operator.ts';
import type { OpSpec } from '../query/stream.ts';
import type { ProbeRequest, ProbeResult } from '../query/stream.ts';
import { SkipCounters } from '../decode/skip-counters.ts';
import type { StageMessage } from '../transport/transport.ts';

/** Probes refused with the reason (the policy where none is configured). */
export const refuseProbes = (why: string) => async (req: ProbeRequest): Promise<ProbeResult> =>
  ({ ok: false, error: `${why}; ${req?.type} to ${req?.dst} not sent` });

/**
 * The one composition of a global stage, for `intstream run` (run-task.ts) and GSP workers: the
 * global chain over `sources` local stages, never late (an element is held until every source's
 * watermark passed it), with the caller's probe policy (GSP workers allow none).
 */
export function openGlobalStage(ops: OpSpec[], sources: number, sendProbe = refuseProbes('no probes in the global stage')): GlobalProcessor {
  return new GlobalProcessor(ops, sources, { skipped: new SkipCounters(), lateness: Infinity, sendProbe });
}

interface Pending { ts: number; source: number; seq: number; item: unknown; key: unknown }

export class GlobalProcessor {
  private readonly stage: Stage;
  private readonly watermarks: number[];
  private readonly ended: boolean[];
  private pending: Pending[] = [];
  private seq = 0;
  private released = -Infinity;
  private finished = false;
  private readonly expired: boolean[];
  received = 0;
  out = 0;
  /** Elements dropped because their time had been released already (see expire). */
  late = 0;

  /** Elements the global chain skipped, by reason (the stage's counters). */
  readonly skipped: SkipCounters;

  constructor(ops: OpSpec[], sources: number, env: StageEnv) {
    this.skipped = env.skipped;
    this.stage = buildStage(ops, env);
    this.watermarks = new Array(sources).fill(-Infinity);
    this.ended = new Array(sources).fill(false);
    this.expired = new Array(sources).fill(false);
  }

  /** Takes one message; returns the elements that left the global stage because of it. */
  async accept(msg: StageMessage): Promise<{ items: unknown[]; times: number[]; keys: unknown[] }> {
    for (let i = 0; i < msg.items.length; i++) {
      // Only possible for a source that was expired (or a replay): its window is out already.
      if (msg.times[i] < this.released) { this.late++; continue; }
      this.pending.push({ ts: msg.times[i], source: msg.source, seq: this.seq++, item: msg.items[i], key: msg.keys[i] });
    }
    this.received += msg.items.length;
    if (msg.watermark > this.watermarks[msg.source]) {
      this.watermarks[msg.source] = msg.watermark;
      this.expired[msg.source] = false;
    }
    if (msg.end) this.ended[msg.source] = true;
    return this.step();
  }

  /**
   * Stops waiting for `source` (a local stage gone silent past the grace time): windows close on
   * the other sources' seals; what it sends later for a released time is counted as `late`.
   * It counts again once its watermark advances.
   */
  async expire(source: number): Promise<{ items: unknown[]; times: number[]; keys: unknown[] }> {
    this.expired[source] = true;
    return this.step();
  }

  /** Current watermark of each source (seconds; -Infinity before its first seal). */
  sourceWatermarks(): readonly number[] { return this.watermarks; }

  /** Elements are released up to here (exclusive); -Infinity before the first release. */
  get releasedUpTo(): number { return this.released; }

  private async step(): Promise<{ items: unknown[]; times: number[]; keys: unknown[] }> {
    let min = Infinity, live = 0;
    for (let s = 0; s < this.watermarks.length; s++) {
      if (this.expired[s] && !this.ended[s]) continue;
      live++;
      if (this.watermarks[s] < min) min = this.watermarks[s];
    }
    if (live === 0) min = -Infinity;
    if (min > this.released) this.release(min);
    pollStage(this.stage);
    // Every source ended (or, expired, no longer awaited): flush everything.
    if (!this.finished && live > 0 && min === Infinity) {
      this.finished = true;
      this.stage.head.finish();
      await settleStage(this.stage);
    }
    const out = this.stage.tail.take();
    this.out += out.items.length;
    return out;
  }

  private release(wm: number): void {
    const ready: Pending[] = [];
    const keep: Pending[] = [];
    for (const e of this.pending) (e.ts < wm ? ready : keep).push(e);
    this.pending = keep;
    ready.sort((a, b) => a.ts - b.ts || a.source - b.source || a.seq - b.seq);
    const head = this.stage.head;
    for (const e of ready) head.push(e.item, e.ts, e.key);
    this.released = wm;
    if (wm !== Infinity) head.advance(wm);
  }
}
