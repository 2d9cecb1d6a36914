/**
 * HOT PATH (bench/int-collector.ts): INT event detection, the metrics of INTCollector
 * (Van Tu et al., "INTCollector: A High-performance Collector for In-band Network Telemetry").
 *
 * One `IntCollectorState` per local stage turns decoded reports (`p.int`) into events:
 *
 *   key kind  ids                          metrics
 *   flow      src dst proto sport dport    path (switch ids, first hop first), latency (sum)
 *   hop       flow ids + switch_id         hop_latency
 *   egress    switch_id port               tx_util
 *   queue     switch_id queue_id           occupancy, congestion (INT v0.5 only)
 *
 * Events (`value.event`): `new` (first report of a key, or first after it expired), `path`
 * (a flow's switch list changed), `change` (a metric left its bin of width `step`, or in
 * threshold mode moved by more than `step` since it was last reported; step 0 = any change),
 * `periodic` (every live key at each multiple of `period` s of event time, with `last_seen`),
 * `expired` (not seen for `timeout` s; its time is last_seen + timeout). Every value carries
 * `ts`, the event time in seconds (the report's time, or the periodic/expiry instant).
 *
 * Jumps in event time (a gap between reports, a corrupt or offset timestamp): when time passes
 * several multiples of `period` at once, nothing changed in between, so the exports at the
 * skipped multiples would repeat the same values: they collapse into one, at the latest multiple
 * reached. A key thus gets at most one `periodic` event per report, and keys whose timeout ran
 * out within the gap expire first (at their own last_seen + timeout) without periodic events
 * in between. Where doubles are coarser than the period (t + period == t: times near 2^62 s,
 * from a pcapng if_tsoffset), every distinct time counts as the next multiple. advance() is
 * O(live keys) whatever the jump.
 *
 * Cost (issue 13): the state is typed arrays. Every key (flow, hop, egress, queue) is a slot
 * (an index into Int32/Float64 arrays of a fixed stride), found through one hash table of
 * numeric keys (chained in the slots); IPv4 and IPv6 flows alike are keyed by their bytes. A
 * report on a known flow does no hashing beyond the flow lookup: the flow's row caches the hop
 * slot of each traversal position, and a hop slot caches its egress and queue slots. Each cache
 * entry is checked against the slot's key (a freed and reused slot is never mistaken for
 * another key), except the hop slots of a flow whose path is unchanged and whose hops cannot
 * have expired since they were last updated (rowHopsLast). Whether a value moved is decided
 * without a division while it stays in the quiet interval of its last reported value (D_LO*,
 * D_HI*). The hop fields are read straight from the report's bytes (hopWordOffset): the report
 * decodes no hop column for the collector. The only objects are a key's key object (made when
 * the key is created, handed out with its events) and the events themselves: no allocation per
 * report. Results depend only on the reports and their times (deterministic for a capture), and
 * equal those of the Entry-object implementation this replaced (test/int/reference-collector.ts,
 * compared in test/int/collector-differential.test.ts).
 */
import type { Packet } from '../decode/packet.ts';
import {
  F_EGRESS_PORT, F_EGRESS_TX_UTIL, F_HOP_LATENCY, F_QUEUE_CONGESTION, F_QUEUE_ID, F_QUEUE_OCCUPANCY,
  F_SWITCH_ID, hopWordOffset,
} from '../decode/int/index.ts';
import { IPPROTO_TCP, IPPROTO_UDP } from '../decode/layers.ts';

export interface CollectorConfig {
  /** 'bin': an event when a value leaves its bin; 'threshold': when it moves by more than step. */
  mode: 'bin' | 'threshold';
  latencyStep: number;
  hopLatencyStep: number;
  txUtilStep: number;
  occupancyStep: number;
  congestionStep: number;
  /** Periodic export of every live key, seconds of event time (0: off). */
  period: number;
  /** Keys not seen for this long expire, seconds (0: never). */
  timeout: number;
}

export const DEFAULT_COLLECTOR_CONFIG: CollectorConfig = {
  mode: 'bin', latencyStep: 1000, hopLatencyStep: 500, txUtilStep: 100, occupancyStep: 1000, congestionStep: 10,
  period: 10, timeout: 30,
};

export type FlowKey = { kind: 'flow'; src: string; dst: string; proto: number; sport: number; dport: number };
export type HopKey = { kind: 'hop'; src: string; dst: string; proto: number; sport: number; dport: number; switch_id: number };
export type EgressKey = { kind: 'egress'; switch_id: number; port: number };
export type QueueKey = { kind: 'queue'; switch_id: number; queue_id: number };
export type CollectorKey = FlowKey | HopKey | EgressKey | QueueKey;

export type CollectorEvent = 'new' | 'change' | 'path' | 'periodic' | 'expired';

// ---- slot layout ----
// A slot is one live key. Int32 fields at I[s * IS + I_*], Float64 fields at D[s * DS + D_*].
const KIND_FREE = 0, KIND_FLOW = 1, KIND_HOP = 2, KIND_EGRESS = 3, KIND_QUEUE = 4;
const IS = 16, I_KIND = 0;
/**
 * The key: flow  K0 src (IPv4 address, or a fold of the IPv6 one), K1 dst (same), K2 ports
 *                (sport << 16 | dport), K3 proto << 8 | IP version; IPv6 addresses in full in
 *                the flow's row (rowAddr);
 *          hop   K0 the flow's serial (a flow that expired and came back is another flow), K1 switch id;
 *          egress K0 switch id, K1 port;  queue K0 switch id, K1 queue id.
 */
const I_K0 = 1, I_K1 = 2, I_K2 = 3, I_K3 = 4;
/** Hash of the key; next slot of the same hash bucket (-1: end). */
const I_HASH = 5, I_HNEXT = 6;
/** Live keys in creation order (doubly linked, -1: none): periodic export and expiry order. */
const I_PREV = 7, I_NEXT = 8;
/** Hop: its last egress and queue slots (a cache, checked against their keys; -1: none). */
const I_EGRESS = 9, I_QUEUE = 10;
/** Flow: its row (path, per-position hop cache, IPv6 addresses) and its serial. */
const I_ROW = 11, I_SERIAL = 12;
const DS = 12;
/** Last report time; metric values v0/v1 (-1: not reported); what the last event reported r0/r1 (NaN: never). */
const D_LAST = 0, D_V0 = 1, D_V1 = 2, D_R0 = 3, D_R1 = 4;
/**
 * Quiet interval of metric 0 / 1: integer values v with lo <= v <= hi surely did not move from
 * r0 / r1 (same bin, or within the threshold), checked without a division; a value outside goes
 * through the exact rule (moved). Set with the reference (remember); empty (+inf, -inf) when none.
 */
const D_LO0 = 5, D_HI0 = 6, D_LO1 = 7, D_HI1 = 8;

type Out = (value: object, key: unknown) => void;

/** A hop word of all ones: "not available" (INT v2.1 §5.7). */
const ONES = 0xffffffff;

const nextBits = new Float64Array(1), nextInt = new BigInt64Array(nextBits.buffer);
/** The next double above finite x. */
function nextUp(x: number): number {
  if (x === 0) return Number.MIN_VALUE;
  nextBits[0] = x;
  nextInt[0] += x > 0 ? 1n : -1n;
  return nextBits[0];
}

/** ts + d, or where that does not move (t + d == t at 2^62 s), the next double. */
function later(ts: number, d: number): number {
  const t = ts + d;
  return t > ts ? t : nextUp(ts);
}

function i32(b: Uint8Array, o: number): number {
  return (b[o] << 24) | (b[o + 1] << 16) | (b[o + 2] << 8) | b[o + 3];
}

/** 32-bit mix of four int32 words. */
function mix4(a: number, b: number, c: number, d: number): number {
  let h = Math.imul(a ^ 0x9e3779b9, 0x85ebca6b) ^ Math.imul(b, 0xc2b2ae35);
  h = Math.imul(h ^ (h >>> 15), 0x27d4eb2f) ^ c;
  h = Math.imul(h ^ (h >>> 13) ^ d, 0x165667b1);
  return h ^ (h >>> 16);
}

export class IntCollectorState {
  private readonly c: CollectorConfig;
  // ---- slots ----
  private I: Int32Array;
  private D: Float64Array;
  /** The key object of each slot (handed out with its events), null when free. */
  private readonly keys: (CollectorKey | null)[] = [];
  private cap: number;
  /** Slots ever used (the next fresh slot). */
  private used = 0;
  private free: Int32Array;
  private freeTop = 0;
  private liveHead = -1;
  private liveTail = -1;
  private liveCount = 0;
  // ---- hash table: bucket heads, chained through I_HNEXT ----
  private heads: Int32Array;
  private mask: number;
  private hashed = 0;
  // ---- flow rows: path (traversal order), hop slot per position, IPv6 addresses ----
  /** Positions per row (grows with the longest path seen). */
  private H = 8;
  private rowCap = 256;
  private rowsUsed = 0;
  private path: Uint32Array;
  private pathLen: Int32Array;
  private hopAt: Int32Array;
  /**
   * When the flow's hop slots were last updated (the report time of the last hop loop; NaN:
   * never). Every hop of the flow's path was updated then, so while no expiry can have happened
   * since (now and the report's time within the timeout of it) and the path is the same, the
   * cached slots are its live hop keys, none timed out: the hop loop takes them unchecked.
   */
  private rowHopsLast: Float64Array;
  private rowAddr: Int32Array;
  private freeRows: Int32Array;
  private freeRowTop = 0;
  private serial = 0;
  /** Set by flowOf / pairSlot: the slot returned was created by the call. */
  private created = false;

  private nextPeriodic = -Infinity;
  private nextScan = -Infinity;
  private readonly scanEvery: number;
  // the config as plain fields (read on every report)
  private readonly bin: boolean;
  private readonly timeout: number;
  private readonly latencyStep: number;
  private readonly hopLatencyStep: number;
  private readonly txUtilStep: number;
  private readonly occupancyStep: number;
  private readonly congestionStep: number;
  private now = 0;
  reports = 0;
  events = 0;
  /** Reports without an inner IP packet (flow and hop keys need one). */
  noFlow = 0;

  constructor(config: Partial<CollectorConfig> = {}) {
    this.c = { ...DEFAULT_COLLECTOR_CONFIG, ...config };
    this.scanEvery = this.c.timeout > 0 ? Math.max(this.c.timeout / 4, 1e-3) : Infinity;
    this.bin = this.c.mode === 'bin';
    this.timeout = this.c.timeout > 0 ? this.c.timeout : Infinity;
    this.latencyStep = this.c.latencyStep;
    this.hopLatencyStep = this.c.hopLatencyStep;
    this.txUtilStep = this.c.txUtilStep;
    this.occupancyStep = this.c.occupancyStep;
    this.congestionStep = this.c.congestionStep;
    this.cap = 1024;
    this.I = new Int32Array(this.cap * IS);
    this.D = new Float64Array(this.cap * DS);
    this.free = new Int32Array(this.cap);
    this.heads = new Int32Array(1024).fill(-1);
    this.mask = 1023;
    this.path = new Uint32Array(this.rowCap * this.H);
    this.pathLen = new Int32Array(this.rowCap);
    this.hopAt = new Int32Array(this.rowCap * this.H);
    this.rowHopsLast = new Float64Array(this.rowCap);
    this.rowAddr = new Int32Array(this.rowCap * 8);
    this.freeRows = new Int32Array(this.rowCap);
  }

  /** Live keys right now (all kinds). */
  get size(): number { return this.liveCount; }

  private moved(v: number, ref: number, step: number): boolean {
    if (v < 0) return false;
    if (ref !== ref) return true; // NaN: never reported
    if (step <= 0) return v !== ref;
    return this.bin ? Math.floor(v / step) !== ref : Math.abs(v - ref) > step;
  }

  private ref(v: number, step: number): number {
    if (v < 0) return NaN;
    return this.bin && step > 0 ? Math.floor(v / step) : v;
  }

  /** moved() for a value x >= 0 against a reported reference r (not NaN). */
  private movedFrom(x: number, r: number, step: number): boolean {
    if (step <= 0) return x !== r;
    return this.bin ? Math.floor(x / step) !== r : Math.abs(x - r) > step;
  }

  /**
   * Remembers what an event reported for metric m (0 or 1) of the slot at D offset d: the
   * reference of value v and its quiet interval. The interval's ends are checked with the exact
   * rule (values are integers, and the rule is monotone on each side of the reference: every
   * integer between two quiet ones is quiet), so the interval never holds a value that moved.
   */
  private remember(d: number, m: number, v: number, step: number): void {
    const D = this.D, r = this.ref(v, step);
    D[d + D_R0 + m] = r;
    let lo = Infinity, hi = -Infinity;
    if (r === r && !this.movedFrom(v, r, step)) { // v itself moved from its own reference with a NaN step
      lo = v; hi = v;
      if (step <= 0) { /* only v itself */ } else {
        let a: number, b: number;
        if (this.bin) { a = Math.ceil(r * step); b = Math.ceil((r + 1) * step) - 1; } else { const f = Math.floor(step); a = r - f; b = r + f; }
        if (!(a >= 0)) a = 0;
        if (a < v && !this.movedFrom(a, r, step)) lo = a;
        if (b > v && !this.movedFrom(b, r, step)) hi = b;
      }
    }
    D[d + D_LO0 + 2 * m] = lo; D[d + D_HI0 + 2 * m] = hi;
  }

  // ---- slots, hash table, live list, rows ----

  private newSlot(kind: number, hash: number, key: CollectorKey): number {
    if (this.hashed >= this.heads.length) this.rehash(this.heads.length * 2);
    let s: number;
    if (this.freeTop > 0) s = this.free[--this.freeTop];
    else {
      if (this.used === this.cap) this.grow();
      s = this.used++;
    }
    const I = this.I, b = s * IS;
    I[b + I_KIND] = kind;
    I[b + I_HASH] = hash;
    I[b + I_EGRESS] = -1; I[b + I_QUEUE] = -1;
    const D = this.D, d = s * DS;
    D[d + D_LAST] = -Infinity; D[d + D_V0] = -1; D[d + D_V1] = -1; D[d + D_R0] = NaN; D[d + D_R1] = NaN;
    D[d + D_LO0] = Infinity; D[d + D_HI0] = -Infinity; D[d + D_LO1] = Infinity; D[d + D_HI1] = -Infinity;
    this.keys[s] = key;
    // live list: append
    I[b + I_PREV] = this.liveTail; I[b + I_NEXT] = -1;
    if (this.liveTail >= 0) I[this.liveTail * IS + I_NEXT] = s; else this.liveHead = s;
    this.liveTail = s;
    this.liveCount++;
    // hash table
    const bucket = hash & this.mask;
    this.I[b + I_HNEXT] = this.heads[bucket];
    this.heads[bucket] = s;
    this.hashed++;
    this.created = true;
    return s;
  }

  private grow(): void {
    const cap = this.cap * 2;
    const I = new Int32Array(cap * IS); I.set(this.I); this.I = I;
    const D = new Float64Array(cap * DS); D.set(this.D); this.D = D;
    const free = new Int32Array(cap); free.set(this.free); this.free = free;
    this.cap = cap;
  }

  private rehash(size: number): void {
    const heads = new Int32Array(size).fill(-1), mask = size - 1, I = this.I;
    for (let s = 0; s < this.used; s++) {
      const b = s * IS;
      if (I[b + I_KIND] === KIND_FREE) continue;
      const bucket = I[b + I_HASH] & mask;
      I[b + I_HNEXT] = heads[bucket];
      heads[bucket] = s;
    }
    this.heads = heads;
    this.mask = mask;
  }

  /** Unlinks slot s from the hash table and the live list and frees it (its row too). */
  private release(s: number): void {
    const I = this.I, b = s * IS;
    const bucket = I[b + I_HASH] & this.mask;
    let x = this.heads[bucket];
    if (x === s) this.heads[bucket] = I[b + I_HNEXT];
    else {
      while (I[x * IS + I_HNEXT] !== s) x = I[x * IS + I_HNEXT];
      I[x * IS + I_HNEXT] = I[b + I_HNEXT];
    }
    this.hashed--;
    const prev = I[b + I_PREV], next = I[b + I_NEXT];
    if (prev >= 0) I[prev * IS + I_NEXT] = next; else this.liveHead = next;
    if (next >= 0) I[next * IS + I_PREV] = prev; else this.liveTail = prev;
    this.liveCount--;
    if (I[b + I_KIND] === KIND_FLOW) this.freeRows[this.freeRowTop++] = I[b + I_ROW];
    I[b + I_KIND] = KIND_FREE;
    this.keys[s] = null;
    this.free[this.freeTop++] = s;
  }

  private newRow(): number {
    let row: number;
    if (this.freeRowTop > 0) row = this.freeRows[--this.freeRowTop];
    else {
      if (this.rowsUsed === this.rowCap) this.relayoutRows(this.rowCap * 2, this.H);
      row = this.rowsUsed++;
    }
    this.pathLen[row] = -1;
    this.rowHopsLast[row] = NaN;
    this.hopAt.fill(-1, row * this.H, (row + 1) * this.H);
    return row;
  }

  /** Rows re-laid out for `cap` rows of `h` positions (more flows, or a longer path). */
  private relayoutRows(cap: number, h: number): void {
    const H = this.H, path = new Uint32Array(cap * h), hopAt = new Int32Array(cap * h).fill(-1);
    for (let r = 0; r < this.rowsUsed; r++) {
      path.set(this.path.subarray(r * H, r * H + H), r * h);
      hopAt.set(this.hopAt.subarray(r * H, r * H + H), r * h);
    }
    this.path = path; this.hopAt = hopAt; this.H = h;
    if (cap !== this.rowCap) {
      const pathLen = new Int32Array(cap); pathLen.set(this.pathLen); this.pathLen = pathLen;
      const hopsLast = new Float64Array(cap); hopsLast.set(this.rowHopsLast); this.rowHopsLast = hopsLast;
      const rowAddr = new Int32Array(cap * 8); rowAddr.set(this.rowAddr); this.rowAddr = rowAddr;
      const freeRows = new Int32Array(cap); freeRows.set(this.freeRows); this.freeRows = freeRows;
      this.rowCap = cap;
    }
  }

  /** The live slot of a (kind, a, b) key (hop, egress, queue), or -1. */
  private findPair(kind: number, a: number, b: number, hash: number): number {
    const I = this.I;
    let s = this.heads[hash & this.mask];
    while (s >= 0) {
      const o = s * IS;
      if (I[o + I_HASH] === hash && I[o + I_K0] === a && I[o + I_K1] === b && I[o + I_KIND] === kind) return s;
      s = I[o + I_HNEXT];
    }
    return -1;
  }

  // ---- events ----

  /** The event's value object (one literal per shape: properties in the documented order). */
  private value(s: number, event: CollectorEvent, ts: number): Record<string, unknown> {
    const D = this.D, d = s * DS, v0 = D[d + D_V0];
    switch (this.I[s * IS + I_KIND]) {
      case KIND_FLOW: {
        const row = this.I[s * IS + I_ROW], n = this.pathLen[row], base = row * this.H, path = this.path;
        const p: number[] = [];
        for (let k = 0; k < n; k++) p.push(path[base + k]);
        return v0 >= 0 ? { event, ts, path: p, latency: v0 } : { event, ts, path: p };
      }
      case KIND_HOP: return v0 >= 0 ? { event, ts, hop_latency: v0 } : { event, ts };
      case KIND_EGRESS: return { event, ts, tx_util: v0 };
      default: {
        const v1 = D[d + D_V1];
        if (v0 >= 0) return v1 >= 0 ? { event, ts, occupancy: v0, congestion: v1 } : { event, ts, occupancy: v0 };
        return v1 >= 0 ? { event, ts, congestion: v1 } : { event, ts };
      }
    }
  }

  private emit(s: number, event: CollectorEvent, ts: number, out: Out): void {
    const v = this.value(s, event, ts);
    if (event === 'periodic' || event === 'expired') v.last_seen = this.D[s * DS + D_LAST];
    this.events++;
    out(v, this.keys[s]);
  }

  /** A new key's first values (set by the caller): remembers them and emits `new`. */
  private detectNew(s: number, ts: number, out: Out, s0: number, s1: number): void {
    const D = this.D, d = s * DS;
    this.remember(d, 0, D[d + D_V0], s0); this.remember(d, 1, D[d + D_V1], s1);
    this.emit(s, 'new', ts, out);
  }

  /** After updating a known key's values: emits `change` when one moved, and remembers what was reported. */
  private detect(s: number, ts: number, out: Out, s0: number, s1: number): void {
    const D = this.D, d = s * DS, v0 = D[d + D_V0], v1 = D[d + D_V1];
    const m0 = this.moved(v0, D[d + D_R0], s0), m1 = v1 >= 0 && this.moved(v1, D[d + D_R1], s1);
    if (m0 || m1) {
      this.remember(d, 0, v0, s0); this.remember(d, 1, v1, s1);
      this.emit(s, 'change', ts, out);
    }
  }

  /**
   * Periodic exports and expiries due by time `ts` (event time moves forward only): one export
   * at the latest multiple of the period reached, however many were passed (see the top).
   */
  advance(ts: number, out: Out): void {
    if (!(ts >= this.now && ts < Infinity)) return; // earlier, or not a time
    this.now = ts;
    const period = this.c.period;
    if (this.nextPeriodic === -Infinity) this.nextPeriodic = period > 0 ? this.multipleAfter(ts) : Infinity;
    if (this.nextScan === -Infinity) this.nextScan = this.c.timeout > 0 ? later(ts, this.scanEvery) : Infinity;
    if (ts >= this.nextPeriodic) {
      let t = this.multipleAtOrBefore(ts);
      if (t < this.nextPeriodic) t = this.nextPeriodic;
      this.expireBefore(t, out);
      for (let s = this.liveHead; s >= 0; s = this.I[s * IS + I_NEXT]) this.emit(s, 'periodic', t, out);
      this.nextPeriodic = this.multipleAfter(ts);
    }
    if (ts >= this.nextScan) {
      this.expireBefore(ts, out);
      this.nextScan = later(ts, this.scanEvery);
    }
  }

  /**
   * The multiples k * period nearest ts, by index (k < 2^52, so k +- 1 is exact and consecutive
   * multiples are distinct doubles). Beyond that, doubles are coarser than the period: ts itself
   * stands for the latest multiple, and the next double for the next one.
   */
  private multipleAtOrBefore(ts: number): number {
    const period = this.c.period, q = ts / period;
    if (!(q < 2 ** 52 && q > -(2 ** 52))) return ts;
    let k = Math.floor(q);
    while (k * period > ts) k--;
    while ((k + 1) * period <= ts) k++;
    return k * period;
  }

  private multipleAfter(ts: number): number {
    const period = this.c.period, q = ts / period;
    if (!(q < 2 ** 52 && q > -(2 ** 52))) return nextUp(ts);
    let k = Math.floor(q) + 1;
    while ((k - 1) * period > ts) k--;
    while (k * period <= ts) k++;
    return k * period;
  }

  /** Expires every key whose last report is more than `timeout` s before t. */
  expireBefore(t: number, out: Out): void {
    const timeout = this.c.timeout;
    if (!(timeout > 0)) return;
    const I = this.I, D = this.D;
    let due: number[] | null = null;
    for (let s = this.liveHead; s >= 0; s = I[s * IS + I_NEXT]) if (t - D[s * DS + D_LAST] > timeout) (due ??= []).push(s);
    if (due === null) return;
    due.sort((a, b) => D[a * DS + D_LAST] - D[b * DS + D_LAST]); // stable: creation order among equal times
    for (const s of due) this.expire(s, out);
  }

  private expire(s: number, out: Out): void {
    if (this.I[s * IS + I_KIND] === KIND_FREE) return;
    this.emit(s, 'expired', this.D[s * DS + D_LAST] + this.c.timeout, out);
    this.release(s);
  }

  // ---- keys of a report ----

  /** The flow slot of the report's monitored packet (created, fresh, when new or expired), or -1 without an IP packet. */
  private flowOf(p: Packet, ts: number, out: Out): number {
    this.created = false;
    const l3 = p.l3;
    if (l3 === 0) return -1;
    const proto = p.proto, buf = p.buf;
    let sport = 0, dport = 0;
    if ((proto === IPPROTO_TCP || proto === IPPROTO_UDP) && p.l4Off >= 0) {
      const o = p.l4Off;
      sport = (buf[o] << 8) | buf[o + 1]; dport = (buf[o + 2] << 8) | buf[o + 3];
    }
    const ports = (sport << 16) | dport, k3 = (proto << 8) | l3;
    const o = p.l3Off;
    let a: number, b: number;
    if (l3 === 4) {
      a = i32(buf, o + 12); b = i32(buf, o + 16);
    } else {
      // folded to one word each (the hash mixes them); flows of equal folds differ in rowAddr
      a = i32(buf, o + 8) ^ i32(buf, o + 12) ^ i32(buf, o + 16) ^ i32(buf, o + 20);
      b = i32(buf, o + 24) ^ i32(buf, o + 28) ^ i32(buf, o + 32) ^ i32(buf, o + 36);
    }
    const hash = mix4(a, b, ports, k3);
    const I = this.I;
    let s = this.heads[hash & this.mask];
    while (s >= 0) {
      const x = s * IS;
      if (I[x + I_HASH] === hash && I[x + I_K0] === a && I[x + I_K1] === b && I[x + I_K2] === ports &&
        I[x + I_K3] === k3 && I[x + I_KIND] === KIND_FLOW && (l3 === 4 || this.sameAddr6(I[x + I_ROW], buf, o))) break;
      s = I[x + I_HNEXT];
    }
    // A flow back after its timeout: every key due by now expires first, its hops with it (they
    // were last seen no later than the flow), before new hop keys of the same names start.
    if (s >= 0 && ts - this.D[s * DS + D_LAST] > this.timeout) { this.expireBefore(ts, out); s = -1; }
    if (s >= 0) return s;
    const ip = p.ip!;
    s = this.newSlot(KIND_FLOW, hash, { kind: 'flow', src: ip.src, dst: ip.dst, proto, sport, dport });
    const row = this.newRow(), x = s * IS, J = this.I;
    J[x + I_K0] = a; J[x + I_K1] = b; J[x + I_K2] = ports; J[x + I_K3] = k3;
    J[x + I_ROW] = row; J[x + I_SERIAL] = ++this.serial;
    if (l3 !== 4) {
      const A = this.rowAddr, r8 = row * 8;
      for (let w = 0; w < 8; w++) A[r8 + w] = i32(buf, o + 8 + 4 * w);
    }
    return s;
  }

  private sameAddr6(row: number, buf: Uint8Array, o: number): boolean {
    const A = this.rowAddr, r8 = row * 8;
    for (let w = 0; w < 8; w++) if (A[r8 + w] !== i32(buf, o + 8 + 4 * w)) return false;
    return true;
  }

  /**
   * The slot of a hop (a = flow serial, b = switch id), egress (switch id, port) or queue
   * (switch id, queue id) key by the hash table: expired first when its timeout passed, created
   * when absent (this.created). The caller's cache missed or held a stale slot.
   */
  private pairSlot(kind: number, a: number, b: number, sw: number, flow: number, ts: number, out: Out): number {
    const hash = mix4(a, b, 0, kind);
    let s = this.findPair(kind, a, b, hash);
    if (s >= 0 && ts - this.D[s * DS + D_LAST] > this.timeout) { this.expire(s, out); s = -1; }
    if (s >= 0) { this.created = false; return s; }
    let key: CollectorKey;
    if (kind === KIND_HOP) {
      const fk = this.keys[flow] as FlowKey;
      key = { kind: 'hop', src: fk.src, dst: fk.dst, proto: fk.proto, sport: fk.sport, dport: fk.dport, switch_id: sw };
    } else if (kind === KIND_EGRESS) key = { kind: 'egress', switch_id: sw, port: b };
    else key = { kind: 'queue', switch_id: sw, queue_id: b };
    s = this.newSlot(kind, hash, key);
    this.I[s * IS + I_K0] = a; this.I[s * IS + I_K1] = b;
    return s;
  }

  /** Entry layout of the last stack read: its bitmap and kind, and the word of each field read (-1: absent). */
  private layoutBitmap = -1;
  private layoutKind = -1;
  private oSw = -1;
  private oLat = -1;
  private oPort = -1;
  private oUtil = -1;
  private oQueue = -1;
  private oCong = -1;

  private layout(bitmap: number, kind: number): void {
    this.layoutBitmap = bitmap; this.layoutKind = kind;
    this.oSw = hopWordOffset(bitmap, kind, F_SWITCH_ID);
    this.oLat = hopWordOffset(bitmap, kind, F_HOP_LATENCY);
    this.oPort = hopWordOffset(bitmap, kind, F_EGRESS_PORT);
    this.oUtil = hopWordOffset(bitmap, kind, F_EGRESS_TX_UTIL);
    this.oQueue = hopWordOffset(bitmap, kind, F_QUEUE_ID);
    this.oCong = hopWordOffset(bitmap, kind, F_QUEUE_CONGESTION);
  }

  /**
   * One decoded report (p.int non-null); `ts` its event time. Emits events through `out`.
   * The hop fields are read straight from the report's bytes (IntReport.stackBuf, words located
   * by hopWordOffset), so the report need not decode any hop column for the collector.
   */
  onReport(p: Packet, ts: number, out: Out): void {
    this.reports++;
    if (ts >= this.nextPeriodic || ts >= this.nextScan) this.advance(ts, out);
    const r = p.intReport!;
    const n = r.hopCount, present = r.hops.present;
    const hasSw = (present & F_SWITCH_ID) !== 0;
    const hasLat = (present & F_HOP_LATENCY) !== 0;
    let dv: DataView | null = null, base = 0, stride = 0;
    if (n > 0) {
      if (r.stackBitmap !== this.layoutBitmap || r.stackKind !== this.layoutKind) this.layout(r.stackBitmap, r.stackKind);
      dv = r.view; base = r.stackDvOffset; stride = r.stackStride; // r.view: the stack's buffer (decodeStack)
    }
    const oSw = this.oSw, oLat = this.oLat;

    const flow = this.flowOf(p, ts, out);
    let fastHops = false;
    if (flow >= 0) {
      const isNew = this.created;
      if (n > this.H) this.relayoutRows(this.rowCap, Math.max(n, this.H * 2));
      const D = this.D, d = flow * DS;
      if (ts > D[d + D_LAST]) D[d + D_LAST] = ts; // last_seen: the latest report, also out of order
      // path (traversal order = wire order reversed) and latency
      let changed = false;
      if (hasSw) {
        const row = this.I[flow * IS + I_ROW], path = this.path, at = row * this.H;
        if (this.pathLen[row] !== n) changed = true;
        for (let k = 0, q = base + (n - 1) * stride + oSw; k < n; k++, q -= stride) {
          const sw = dv!.getUint32(q);
          if (path[at + k] !== sw) { changed = true; path[at + k] = sw; }
        }
        this.pathLen[row] = n;
        const t = this.rowHopsLast[row];
        fastHops = !isNew && !changed && this.now - t <= this.timeout && ts - t <= this.timeout;
      }
      let lat = -1;
      if (hasLat) {
        lat = 0;
        for (let i = 0, q = base + oLat; i < n; i++, q += stride) { const w = dv!.getUint32(q); if (w !== ONES) lat += w; }
      }
      D[d + D_V0] = lat;
      if (isNew) this.detectNew(flow, ts, out, this.latencyStep, 0);
      else if (changed) {
        this.remember(d, 0, lat, this.latencyStep);
        this.emit(flow, 'path', ts, out);
      } else if (!(lat >= D[d + D_LO0] && lat <= D[d + D_HI0]) && this.moved(lat, D[d + D_R0], this.latencyStep)) {
        this.detect(flow, ts, out, this.latencyStep, 0);
      }
    } else this.noFlow++;

    if (!hasSw) return;
    const egress = (present & (F_EGRESS_PORT | F_EGRESS_TX_UTIL)) === (F_EGRESS_PORT | F_EGRESS_TX_UTIL);
    const queue = (present & F_QUEUE_ID) !== 0 && (present & (F_QUEUE_OCCUPANCY | F_QUEUE_CONGESTION)) !== 0;
    const oPort = this.oPort, oUtil = this.oUtil, oQueue = this.oQueue, oCong = this.oCong;
    // v0.5 without instruction bit 3: the queue id is in the congestion word (never "not available" there)
    const qInCong = oQueue === oCong;
    const hasOcc = (present & F_QUEUE_OCCUPANCY) !== 0, hasCong = oCong >= 0;
    const timeout = this.timeout, hopStep = this.hopLatencyStep, utilStep = this.txUtilStep;
    const occStep = this.occupancyStep, congStep = this.congestionStep;
    const hopAt = this.hopAt;
    let I = this.I, D = this.D;
    const serial = flow >= 0 ? I[flow * IS + I_SERIAL] : 0;
    const at0 = flow >= 0 ? I[flow * IS + I_ROW] * this.H : 0;
    // Each key: its cached slot when that still holds the key and has not timed out, else the
    // hash table (pairSlot: expiry, creation). Arrays are read again after a creation (growth).
    for (let k = 0, q = base + (n - 1) * stride; k < n; k++, q -= stride) {
      const sw = dv!.getUint32(q + oSw), swi = sw | 0;
      let hop = -1;
      if (flow >= 0) {
        let v = -1;
        if (hasLat) { v = dv!.getUint32(q + oLat); if (v === ONES) v = -1; }
        let s = hopAt[at0 + k], isNew = false;
        if (!fastHops && (s < 0 || I[s * IS + I_K1] !== swi || I[s * IS + I_K0] !== serial || I[s * IS + I_KIND] !== KIND_HOP || ts - D[s * DS + D_LAST] > timeout)) {
          s = this.pairSlot(KIND_HOP, serial, swi, sw, flow, ts, out);
          isNew = this.created;
          I = this.I; D = this.D;
          hopAt[at0 + k] = s;
        }
        const d = s * DS;
        if (ts > D[d + D_LAST]) D[d + D_LAST] = ts; // last_seen: the latest report, also out of order
        D[d + D_V0] = v;
        if (isNew) this.detectNew(s, ts, out, hopStep, 0);
        else if (v >= 0 && !(v >= D[d + D_LO0] && v <= D[d + D_HI0]) && this.moved(v, D[d + D_R0], hopStep)) this.detect(s, ts, out, hopStep, 0);
        hop = s;
      }
      if (egress) {
        const pw = dv!.getUint32(q + oPort), v = dv!.getUint32(q + oUtil);
        if (pw !== ONES && v !== ONES) {
          const port = pw & 0xffff;
          let s = hop >= 0 ? I[hop * IS + I_EGRESS] : -1, isNew = false;
          if (s < 0 || I[s * IS + I_K1] !== port || I[s * IS + I_K0] !== swi || I[s * IS + I_KIND] !== KIND_EGRESS || ts - D[s * DS + D_LAST] > timeout) {
            s = this.pairSlot(KIND_EGRESS, swi, port, sw, flow, ts, out);
            isNew = this.created;
            I = this.I; D = this.D;
            if (hop >= 0) I[hop * IS + I_EGRESS] = s;
          }
          const d = s * DS;
          if (ts > D[d + D_LAST]) D[d + D_LAST] = ts; // last_seen: the latest report, also out of order
          D[d + D_V0] = v;
          if (isNew) this.detectNew(s, ts, out, utilStep, 0);
          else if (!(v >= D[d + D_LO0] && v <= D[d + D_HI0]) && this.moved(v, D[d + D_R0], utilStep)) this.detect(s, ts, out, utilStep, 0);
        }
      }
      if (queue) {
        const qw = dv!.getUint32(q + oQueue);
        if (qInCong || qw !== ONES) {
          const qid = qw >>> 24;
          let v0 = -1, v1 = -1;
          if (hasOcc && qw !== ONES) v0 = qw & 0xffffff;
          if (hasCong) { const cw = qInCong ? qw : dv!.getUint32(q + oCong); if (cw !== ONES) v1 = cw & 0xffffff; }
          let s = hop >= 0 ? I[hop * IS + I_QUEUE] : -1, isNew = false;
          if (s < 0 || I[s * IS + I_K1] !== qid || I[s * IS + I_K0] !== swi || I[s * IS + I_KIND] !== KIND_QUEUE || ts - D[s * DS + D_LAST] > timeout) {
            s = this.pairSlot(KIND_QUEUE, swi, qid, sw, flow, ts, out);
            isNew = this.created;
            I = this.I; D = this.D;
            if (hop >= 0) I[hop * IS + I_QUEUE] = s;
          }
          const d = s * DS;
          if (ts > D[d + D_LAST]) D[d + D_LAST] = ts; // last_seen: the latest report, also out of order
          D[d + D_V0] = v0;
          D[d + D_V1] = v1;
          if (isNew) this.detectNew(s, ts, out, occStep, congStep);
          else if ((v0 >= 0 && !(v0 >= D[d + D_LO0] && v0 <= D[d + D_HI0])) || (v1 >= 0 && !(v1 >= D[d + D_LO1] && v1 <= D[d + D_HI1]))) {
            this.detect(s, ts, out, occStep, congStep);
          }
        }
      }
    }
    if (flow >= 0) this.rowHopsLast[this.I[flow * IS + I_ROW]] = ts;
  }

  /** End of input: keys whose timeout passed before the last report expire; live keys stay. */
  finish(out: Out): void {
    this.expireBefore(this.now, out);
  }
}
