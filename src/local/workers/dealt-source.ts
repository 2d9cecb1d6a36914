/**
 * The source a local-stage thread reads (`--workers`): the batches the framing thread dealt it,
 * as PacketBatch views over the shared slots (slots.ts), so the thread's LocalProcessor runs its
 * loop unchanged.
 *
 * Time stays exact: lateness is judged by the source's time, the latest timestamp the source
 * has read (docs/contracts.md), and a thread sees only some of the records. Every dealt batch
 * therefore starts with the source's time before it as its `clock`, which the local processor
 * takes like a record's time. In 'batch' dealing a batch is contiguous in the source, so that is
 * all it takes. In 'flow' dealing every thread gets every slot and takes the records it owns;
 * a record that is older than the source's time less the lateness could be late, so when this
 * thread's time is behind the source's there, its batch is cut and the next one starts with the
 * source's time as its clock. Any later element was late in the single-threaded run as well.
 * After each slot the thread's time moves to the source's (an empty batch with that clock), so
 * its watermark keeps pace with the others'.
 */
import { FlowRecordView, type FlowRecordPlain } from '../../decode/flow-record.ts';
import { SkipCounters } from '../../decode/skip-counters.ts';
import { PacketBatch } from '../../sources/packet-batch.ts';
import type { PacketSource, SourceStatus, SourceTraits } from '../../sources/source.ts';
import { SLOT_RECORDS, SlotView, type SlotBuffers } from './slots.ts';

/**
 * A dealt slot: `count` records, the source's time before them and after them, and the records
 * a capture file's pre-filter left out among them ('batch' dealing: the slot's leftOutTs column
 * holds the latest time left out before each record).
 */
export interface Deal {
  slot: number; count: number; clock: number; after: number; leftOut: number; leftOutTail: number; leftOutWindow: number;
  /** A flow source's record items (null where a record is a packet) and whether the slot's sampleRate column is filled. */
  items?: (FlowRecordPlain | null)[] | null;
  rates?: boolean;
}

export class DealtSource implements PacketSource {
  readonly name: string;
  readonly traits: SourceTraits;
  readonly skipped = new SkipCounters();
  readonly warnings: string[] = [];
  private readonly views = new Map<number, SlotView>();
  private readonly queue: (Deal | null)[] = [];
  private wake: (() => void) | null = null;
  private readonly batch: PacketBatch;
  /** This thread's own batch (flow dealing): columns copied per owned record, bytes in the slot. */
  private readonly own: PacketBatch;
  /** The slot being read and where in it (flow dealing), and the slot to give back next. */
  private cur: Deal | null = null;
  private at = 0;
  private release: number = -1;
  /** This thread's time as its local processor has it, and the source's at `at`. */
  private mine = -Infinity;
  private theirs = -Infinity;
  private ended = false;
  /** A flow source's record views, reused from batch to batch. */
  private readonly pool: FlowRecordView[] = [];
  private readonly items: (FlowRecordView | null)[] = [];

  /**
   * `me` of `threads` (flow dealing when `flow`); `lateness` as the local stage's; `free` gives a
   * slot back to the framer once the local processor has moved past it.
   */
  private readonly me: number;
  private readonly flow: boolean;
  private readonly lateness: number;
  private readonly free: (slot: number) => void;

  constructor(name: string, traits: SourceTraits, me: number, flow: boolean, lateness: number, free: (slot: number) => void) {
    this.name = name;
    this.traits = traits;
    this.me = me; this.flow = flow; this.lateness = lateness; this.free = free;
    this.batch = new PacketBatch(0);
    this.own = new PacketBatch(SLOT_RECORDS);
  }

  /** A slot's buffers: first sight, or after it grew. */
  map(slot: number, b: SlotBuffers): void { this.views.set(slot, new SlotView(b)); }

  /** The next dealt slot, or null at the end of the source. */
  push(d: Deal | null): void {
    this.queue.push(d);
    const w = this.wake;
    this.wake = null;
    w?.();
  }

  async open(): Promise<void> { /* the framer opened the real source */ }

  async nextBatch(): Promise<PacketBatch | null> {
    if (this.release >= 0) { this.free(this.release); this.release = -1; }
    for (;;) {
      if (this.cur !== null) {
        const b = this.flowBatch(this.cur);
        if (b !== null) return b;
        this.release = this.cur.slot;
        this.cur = null;
        // keep pace with the source: its time after the slot
        const after = this.theirs;
        if (after > this.mine) { this.mine = after; return this.clockBatch(after); }
        this.free(this.release); this.release = -1;
        continue;
      }
      if (this.queue.length === 0) {
        if (this.ended) return null;
        await new Promise<void>((r) => { this.wake = r; });
        continue;
      }
      const d = this.queue.shift()!;
      if (d === null) { this.ended = true; return null; }
      if (d.slot < 0) { // the source's time moved on (an idle heartbeat, or other threads' batches)
        if (d.clock > this.mine) { this.mine = d.clock; return this.clockBatch(d.clock); }
        continue;
      }
      if (this.flow) { this.cur = d; this.at = 0; this.theirs = d.clock; continue; }
      const v = this.views.get(d.slot)!;
      const b = this.batch;
      b.buf = v.bytes;
      (b as { dataOff: Int32Array }).dataOff = v.dataOff;
      (b as { capLen: Int32Array }).capLen = v.capLen;
      (b as { wireLen: Int32Array }).wireLen = v.wireLen;
      (b as { ts: Float64Array }).ts = v.ts;
      (b as { linkType: Int32Array }).linkType = v.linkType;
      (b as { leftOutTs: Float64Array }).leftOutTs = v.leftOutTs;
      b.items = d.items ? this.recordViews(d.items) : null;
      b.sampleRate = d.rates ? v.sampleRate : null;
      b.count = d.count;
      b.clock = d.clock;
      b.leftOut = d.leftOut;
      b.leftOutTailTs = d.leftOutTail;
      b.leftOutWindow = d.leftOutWindow;
      if (d.after > this.mine) this.mine = d.after;
      this.release = d.slot;
      return b;
    }
  }

  /** The next run of owned records of slot `d` from `at` on, or null when the slot is done. */
  private flowBatch(d: Deal): PacketBatch | null {
    const v = this.views.get(d.slot)!;
    const owner = v.owner, ts = v.ts, me = this.me, lateness = this.lateness;
    const b = this.own;
    const dataOff = b.dataOff, capLen = b.capLen, wireLen = b.wireLen, bts = b.ts, lt = b.linkType;
    let n = 0, theirs = this.theirs, mine = this.mine;
    b.clock = -Infinity;
    let i = this.at;
    for (; i < d.count; i++) {
      const t = ts[i];
      if (owner[i] === me) {
        // possibly late by the source's time, which this thread has not reached: a new batch
        // starting at the source's time (the first record of a batch takes it as its clock)
        if (t < theirs - lateness && mine < theirs) {
          if (n > 0) break;
          b.clock = theirs;
          mine = theirs;
        }
        dataOff[n] = v.dataOff[i]; capLen[n] = v.capLen[i]; wireLen[n] = v.wireLen[i]; bts[n] = t; lt[n] = v.linkType[i];
        n++;
        if (t > mine) mine = t;
      }
      if (t > theirs) theirs = t;
    }
    this.at = i;
    this.theirs = theirs;
    this.mine = mine;
    if (n === 0) return null;
    b.buf = v.bytes;
    b.count = n;
    return b;
  }

  /** Record items as views again (pooled: valid until the next batch, as a flow source's own). */
  private recordViews(items: (FlowRecordPlain | null)[]): (FlowRecordView | null)[] {
    const pool = this.pool, out = this.items;
    out.length = items.length;
    for (let i = 0; i < items.length; i++) {
      const o = items[i];
      if (o === null) { out[i] = null; continue; }
      const v = pool[i] ??= new FlowRecordView();
      out[i] = v.assign(o);
    }
    return out;
  }

  private clockBatch(clock: number): PacketBatch {
    const b = this.own;
    b.count = 0;
    b.clock = clock;
    return b;
  }

  status(): SourceStatus { return { bytes: 0, total: undefined, counters: null, kernel: null, failure: null }; }

  async close(): Promise<void> { this.ended = true; this.push(null); }
}
