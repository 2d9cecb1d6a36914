/**
 * Shared batch slots between the framing thread and the local-stage threads (`--workers`): a
 * slot is one batch of records in SharedArrayBuffers, its bytes and its per-record columns
 * (offset, captured and wire length, link type, time, the times of records left out before it,
 * the thread a record is dealt to), so a batch crosses threads without a copy per packet and
 * without serialisation. The framer appends a source's batches (`append`: one copy of the bytes
 * the records span, as the sources frame records into their own reused buffers); the threads
 * read it in place and hand the slot back.
 *
 * Records a capture file's raw pre-filter left out (PacketBatch.leftOut) travel as the source
 * gave them: their count, the latest time left out before each record and after the last, so a
 * thread counts them as read and moves its clock as a single-threaded stage does. A batch with
 * left-out records is never split across slots (the local stage honours the times only in a
 * batch that counts left-out records), and with per-window counters only batches whose left-out
 * records lie in the same window share a slot.
 */
import { IntstreamError } from '../../errors.ts';
import type { PacketBatch } from '../../sources/packet-batch.ts';
import type { FlowRecordPlain } from '../../decode/flow-record.ts';
import { flowHash } from './flow-hash.ts';

const BUFFER_COPY = Buffer.prototype.copy as (this: Uint8Array, target: Uint8Array, targetStart: number, sourceStart: number, sourceEnd: number) => number;

/** Records per slot. */
export const SLOT_RECORDS = 8192;
/** Bytes per slot; a batch spanning more fills several slots, a single larger record grows one. */
export const SLOT_BYTES = 2 << 20;

/** What a thread needs to map a slot: its two shared buffers. */
export interface SlotBuffers { meta: SharedArrayBuffer; bytes: SharedArrayBuffer }

/** Typed views over a slot's buffers (both sides make their own). */
export class SlotView {
  meta: SharedArrayBuffer;
  bytes: Uint8Array;
  readonly ts: Float64Array;
  readonly leftOutTs: Float64Array;
  readonly dataOff: Int32Array;
  readonly capLen: Int32Array;
  readonly wireLen: Int32Array;
  readonly linkType: Int32Array;
  readonly owner: Uint8Array;
  /** Per-record 1-in-N sampling interval (a flow source's batches: PacketBatch.sampleRate). */
  readonly sampleRate: Float64Array;

  constructor(b: SlotBuffers) {
    const n = SLOT_RECORDS;
    this.meta = b.meta;
    this.bytes = new Uint8Array(b.bytes);
    this.ts = new Float64Array(b.meta, 0, n);
    this.leftOutTs = new Float64Array(b.meta, 8 * n, n);
    this.dataOff = new Int32Array(b.meta, 16 * n, n);
    this.capLen = new Int32Array(b.meta, 20 * n, n);
    this.wireLen = new Int32Array(b.meta, 24 * n, n);
    this.linkType = new Int32Array(b.meta, 28 * n, n);
    this.owner = new Uint8Array(b.meta, 32 * n, n);
    this.sampleRate = new Float64Array(b.meta, 33 * n, n);
  }

  static allocate(): SlotBuffers {
    return { meta: new SharedArrayBuffer(41 * SLOT_RECORDS), bytes: new SharedArrayBuffer(SLOT_BYTES) };
  }
}

/** The framer's side of a slot: filling it from source batches. */
export class Slot extends SlotView {
  readonly id: number;
  /** Threads still reading it (0: free). */
  refs = 0;
  /** Records in it, bytes of theirs used, the source's time before them and after them (left-out records included). */
  count = 0;
  used = 0;
  clock = -Infinity;
  maxTs = -Infinity;
  /** Records left out among them, the latest time left out after the last record, their window. */
  leftOut = 0;
  leftOutTail = -Infinity;
  leftOutWindow = 0;
  /** Set when the byte buffer was replaced (the threads must map the new one). */
  grown = false;
  /**
   * A flow source's record items (FlowRecordView.plain(), null where record i is a packet in the
   * bytes), which travel with the deal message; null for packet batches. `rates`: the
   * sampleRate column is filled.
   */
  items: (FlowRecordPlain | null)[] | null = null;
  rates = false;
  private buffers: SlotBuffers;

  constructor(id: number) {
    const b = Slot.allocate();
    super(b);
    this.id = id;
    this.buffers = b;
  }

  /** The buffers, for a thread that has not mapped this slot yet (or since it grew). */
  get shared(): SlotBuffers { return this.buffers; }

  /** Whether it holds anything to deal. */
  get filled(): boolean { return this.count > 0 || this.leftOut > 0; }

  /** Empties it for records that follow the source's time `clock`. */
  reset(clock: number): void {
    this.count = 0;
    this.used = 0;
    this.clock = clock;
    this.maxTs = clock;
    this.leftOut = 0;
    this.leftOutTail = -Infinity;
    this.leftOutWindow = 0;
    this.items = null;
    this.rates = false;
  }

  /**
   * Appends records [from, ...) of `b`, as many as fit, and returns the index after the last
   * one appended, or -1 when none fits (the slot must be dealt first). A batch with left-out
   * records goes whole or not at all; a record (or such a batch) larger than an empty slot grows
   * it. `byWindow`: per-window counters are on (left-out records of different windows stay
   * apart). With `threads` > 1 each record's owner is its flow hash modulo `threads`.
   */
  append(b: PacketBatch, from: number, threads: number, byWindow: boolean): number {
    const n = b.count, left = b.leftOut;
    const at = this.count;
    if (left > 0) {
      if (from !== 0) throw new IntstreamError('INTERNAL', 'a batch with left-out records split across slots');
      if (byWindow && this.leftOut > 0 && b.leftOutWindow !== this.leftOutWindow) return -1;
      if (n > SLOT_RECORDS) throw new IntstreamError('INTERNAL', `a batch of ${n} records with left-out records exceeds a slot (${SLOT_RECORDS})`);
      if (at + n > SLOT_RECORDS) return -1;
    }
    const dataOff = b.dataOff, capLen = b.capLen, wireLen = b.wireLen, ts = b.ts, lt = b.linkType;
    if (from < n && at === SLOT_RECORDS) return -1;
    const to = Math.min(n, from + SLOT_RECORDS - at);
    let end = from, lo = 0, hi = 0, sum = 0;
    if (to > from) {
      // the bytes [lo, hi) the records span in the source's buffer, as long as they fit; and
      // their own bytes (sum), less when a pre-filter left records out between them
      lo = dataOff[from]; hi = lo + capLen[from]; sum = capLen[from];
      end = from + 1;
      const room = this.bytes.length - this.used;
      for (; end < to; end++) {
        const a = dataOff[end], z = a + capLen[end];
        const nlo = a < lo ? a : lo, nhi = z > hi ? z : hi;
        if (left === 0 && nhi - nlo > room) break;
        lo = nlo; hi = nhi; sum += capLen[end];
      }
      const need = left > 0 ? sum : hi - lo;
      if (need > room) {
        if (at > 0 || this.leftOut > 0) return -1;
        this.grow(need);
      }
    }
    const base = this.used, src = b.buf;
    // sparse records (the pre-filter left most out): each record's bytes; else the span at once.
    // memmove (Buffer#copy) rather than TypedArray#set, which copies into shared memory word by word: 2-3x faster here
    const sparse = left > 0 && hi - lo > 2 * sum + 16 * (end - from);
    if (!sparse && hi > lo) BUFFER_COPY.call(src, this.bytes, base, lo, hi);
    this.used = base + (sparse ? sum : hi - lo);
    const shift = base - lo;
    let max = this.maxTs, pending = this.leftOutTail, pos = base;
    const srcLeft = left > 0 ? b.leftOutTs : null;
    const myOff = this.dataOff, myCap = this.capLen, myWire = this.wireLen, myTs = this.ts, myLt = this.linkType, myLeft = this.leftOutTs;
    for (let i = from, k = at; i < end; i++, k++) {
      if (sparse) {
        const a = dataOff[i], c = capLen[i];
        BUFFER_COPY.call(src, this.bytes, pos, a, a + c);
        myOff[k] = pos;
        pos += c;
      } else myOff[k] = dataOff[i] + shift;
      myCap[k] = capLen[i];
      myWire[k] = wireLen[i];
      myLt[k] = lt[i];
      const t = ts[i];
      myTs[k] = t;
      if (t > max) max = t;
      // left out before this record: the slot's pending tail (once) and the batch's own
      let before = pending;
      pending = -Infinity;
      if (srcLeft !== null && srcLeft[i] > before) before = srcLeft[i];
      myLeft[k] = before;
      if (before > max) max = before;
    }
    const count = at + (end - from);
    if (b.sampleRate !== null) {
      this.sampleRate.set(b.sampleRate.subarray(from, end), at);
      this.rates = true;
    }
    if (b.items !== null || this.items !== null) {
      // a flow source's batches all carry items: the slot's line up with its records
      const items = this.items ??= [];
      if (b.items === null || items.length !== at) throw new IntstreamError('INTERNAL', 'a slot mixes batches with and without record items');
      for (let i = from; i < end; i++) items.push(b.items[i]?.plain() ?? null);
    }
    if (threads > 1) {
      const owner = this.owner, bytes = this.bytes;
      for (let k = at; k < count; k++) owner[k] = flowHash(bytes, myOff[k], myCap[k], myLt[k]) % threads;
    }
    if (left > 0) {
      // the batch's last record is here (it is never split): its tail follows it
      if (b.leftOutTailTs > pending) pending = b.leftOutTailTs;
      if (pending > max) max = pending;
      if (this.leftOut === 0) this.leftOutWindow = b.leftOutWindow;
      this.leftOut += left;
    }
    this.leftOutTail = pending;
    this.count = count;
    this.maxTs = max;
    return end;
  }

  private grow(need: number): void {
    let size = this.bytes.length;
    while (size < need) size *= 2;
    this.buffers = { meta: this.buffers.meta, bytes: new SharedArrayBuffer(size) };
    this.bytes = new Uint8Array(this.buffers.bytes);
    this.grown = true;
  }
}
