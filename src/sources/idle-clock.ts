import { PacketBatch } from './packet-batch.ts';

/** Wall clock that never steps back (arrival times of datagrams), seconds since the epoch. */
export function nowSec(): number {
  return (performance.timeOrigin + performance.now()) / 1000;
}

/**
 * How a live or UDP source moves event time on while it is idle, so that windows close and
 * window-less events are released during silence: the latest item time it delivered, plus the
 * wall time elapsed since it delivered it, less `behind` seconds for items that may still be on
 * their way with earlier times (a live capture's ring block: live-source.ts). `heartbeat()` is
 * an empty batch carrying that time as `PacketBatch.clock`, which the local stage takes like an
 * item's time (local-processor.ts). Used by the flow sources (sflow:, netflow:), int:udp:// and
 * live:/erspan: (both time domains): one mechanism.
 *
 * The clock never runs ahead of the true time of the items still to come, as long as their
 * times are stamped no earlier than `behind` before they are delivered: arrival stamps (sFlow,
 * INT, --time processing) with behind 0, a capture's kernel stamps with the ring's delay.
 * Elapsed time is measured on the wall clock (Date.now), the clock those stamps come from; if
 * it steps back, the clock holds until it has caught up.
 */
export class IdleClock {
  /** How often a source that waits for items sends a heartbeat, ms. */
  readonly periodMs: number;
  private readonly behind: number;
  private maxTs = -Infinity;
  private atMs = 0;
  private readonly batch = new PacketBatch(1);

  constructor(periodMs: number, behindSec = 0) {
    this.periodMs = periodMs;
    this.behind = behindSec;
  }

  /**
   * Event time is at least `ts` (s) from now on, e.g. the wall clock when a source stamped by
   * the wall clock opens: a source silent from the start still lets windows of others close.
   */
  start(ts: number): void {
    if (ts > this.maxTs) { this.maxTs = ts; this.atMs = Date.now(); }
  }

  /** Notes the times of the `count` items of a batch being delivered now. */
  delivered(ts: Float64Array, count: number): void {
    let hi = this.maxTs;
    for (let i = 0; i < count; i++) if (ts[i] > hi) hi = ts[i];
    if (hi > this.maxTs) { this.maxTs = hi; this.atMs = Date.now(); }
  }

  /** The event time reached now; -Infinity before the first item (or start()). */
  now(): number {
    return this.maxTs === -Infinity ? -Infinity : this.maxTs + (Date.now() - this.atMs) / 1000 - this.behind;
  }

  /** An empty batch carrying now() as its clock; null while there is no time yet. */
  heartbeat(): PacketBatch | null {
    const t = this.now();
    if (t === -Infinity) return null;
    const b = this.batch;
    b.count = 0;
    b.clock = t;
    return b;
  }
}
