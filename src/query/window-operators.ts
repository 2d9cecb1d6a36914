/**
 * Event-time windows (docs/contracts.md): tumbling or sliding, aligned to multiples of the
 * slide since the Unix epoch, start inclusive, end exclusive. A window closes when the
 * watermark reaches its end; at end of input every open window is flushed. Results of one
 * window are emitted together, keys in a fixed order (compareValues), windows in start order.
 *
 * An element whose window has already closed is late: counted as `late`, not added (with the
 * local stage's lateness, a window stays open until the source's time passes end + lateness).
 *
 * Window starts and large timestamps. Window k starts at `k * slide`, one rounding of the exact
 * multiple (the same window always gets the same start, whichever element opens it). An element
 * joins every window with s <= ts < s + size, found by index (k counting down from ts / slide),
 * never by repeated subtraction, which stops moving once the slide is below the spacing of
 * doubles. Membership and closing (s + size <= watermark) use the exact sum s + size, not its
 * rounding: a 10 s window at 2^60 s (doubles are 256 s apart there) still holds the element at
 * its start, and closes only after it. A tumbling window is that of floor(ts / size) when it
 * holds ts, else the highest that does (ts / size can round up). Should rounded starts ever leave
 * a gap that no window holds (a safeguard: that takes a tie in rounding where the spacing of
 * doubles changes), the element joins the lowest window above it. Beyond |ts| = 2^52 * slide
 * consecutive multiples of the slide are no longer distinct doubles: there every double is a
 * window start (each stands for the multiples nearest it), an element joins the windows
 * starting at the doubles in (ts - size, ts] (at least its own time), a tumbling window is
 * [ts, ts + size), and a result's `end` (start + size, rounded) can equal its start.
 * Deterministic, and at most about 2 * size / slide windows per element. (2^52 * slide is
 * 2.3e16 s for a 5 s slide: only corrupt or offset timestamps get there.)
 *
 * HOT PATH (bench/newconn.ts): WindowAggregateOp.push for tumbling windows.
 */
import { compareValues, type Aggregate } from './aggregate.ts';
import { keyId, makeContext, retain, type Operator, type StageEnv } from './operator.ts';
import type { Emit, WindowSpec } from './stream.ts';

interface Slot { key: any; acc: any }

/**
 * Exactly whether s + size <= t, for doubles: the rounded sum alone could say that a window
 * [s, s + size) has ended at a time t that is still inside it (or the reverse).
 */
function endsBy(s: number, size: number, t: number): boolean {
  const e = s + size;
  if (e !== t) return e < t;
  const bb = e - s;
  return (s - (e - bb)) + (size - bb) <= 0; // the rounding error of e (Knuth's TwoSum): s + size = e + err
}

const bits = new Float64Array(1), bitsInt = new BigInt64Array(bits.buffer);
/** The next double below finite x. */
function nextDown(x: number): number {
  if (x === 0) return -Number.MIN_VALUE;
  bits[0] = x;
  bitsInt[0] += x > 0 ? -1n : 1n;
  return bits[0];
}
/** The next double above finite x. */
function nextUp(x: number): number {
  if (x === 0) return Number.MIN_VALUE;
  bits[0] = x;
  bitsInt[0] += x > 0 ? 1n : -1n;
  return bits[0];
}

abstract class WindowedOp<S> implements Operator {
  protected readonly spec: WindowSpec;
  protected readonly next: Operator;
  protected readonly env: StageEnv;
  /** Open windows by start. */
  protected readonly windows = new Map<number, Map<string | number, S>>();
  /** Windows with end <= closedUpTo are closed. */
  protected closedUpTo = -Infinity;
  /** Judge lateness by the source's time (env.sourceWm) rather than by closed windows only. */
  private readonly sourceTimed: boolean;
  private lastStart = NaN;
  private lastMap: Map<string | number, S> | null = null;
  private readonly tumbling: boolean;
  /** From this |time| on, every double is a window start (see the top of this file). */
  private readonly coarseFrom: number;

  constructor(spec: WindowSpec, next: Operator, env: StageEnv, sourceTimed: boolean) {
    this.spec = spec; this.next = next; this.env = env;
    this.tumbling = spec.size === spec.slide;
    this.sourceTimed = sourceTimed;
    this.coarseFrom = 2 ** 52 * spec.slide;
  }

  protected abstract add(map: Map<string | number, S>, id: string | number, item: any, key: any): void;
  protected abstract emit(start: number, map: Map<string | number, S>): void;

  push(item: any, ts: number, key: any): void {
    // Late: the window ended at or before the source's time (less lateness) when the element
    // arrived, or was closed already. Elements of a stage fed in order are never late.
    const sw = this.sourceTimed ? this.env.sourceWm : undefined;
    const bound = sw !== undefined && sw > this.closedUpTo ? sw : this.closedUpTo;
    const id = keyId(key);
    if (this.tumbling) {
      const size = this.spec.size;
      let start = Math.floor(ts / size) * size, end = start + size;
      // Rare: a start rounded past ts, an end rounded down to ts (both decided exactly there), or
      // the range where every double starts a window. A rounded end above a time is above it.
      if (start > ts || (end <= ts && endsBy(start, size, ts)) || ts >= this.coarseFrom || ts <= -this.coarseFrom) { start = this.tumblingStart(ts); end = start + size; }
      if (end <= bound && endsBy(start, size, bound)) { this.env.skipped.bump('late'); return; }
      let map = this.lastMap;
      if (start !== this.lastStart || map === null) {
        map = this.windows.get(start) ?? null;
        if (map === null) { map = new Map(); this.windows.set(start, map); }
        this.lastStart = start; this.lastMap = map;
      }
      this.add(map, id, item, key);
      return;
    }
    this.pushSliding(item, ts, key, id, bound);
  }

  private pushSliding(item: any, ts: number, key: any, id: string | number, bound: number): void {
    const { size, slide } = this.spec;
    let added = false;
    if (ts < this.coarseFrom && ts > -this.coarseFrom) {
      // Window k starts at k * slide: k counts down from the highest start that can be <= ts
      // (ts / slide may round either way) until the window ends by ts. |k| < 2^52 + 2 here, so
      // k - 1 is exact and consecutive starts are distinct.
      let k = Math.floor(ts / slide) + 1, holds = false;
      for (let start = k * slide; !endsBy(start, size, ts); start = --k * slide) {
        if (start > ts) continue;
        holds = true;
        if (endsBy(start, size, bound)) continue;
        this.addTo(start, id, item, key);
        added = true;
      }
      if (!holds) { // in a gap between rounded windows (the safeguard above)
        const start = this.lowestStartAbove(ts);
        if (!endsBy(start, size, bound)) { this.addTo(start, id, item, key); added = true; }
      }
    } else {
      // Every double is a window start: those in (ts - size, ts], from ts down.
      for (let start = ts; !endsBy(start, size, ts); start = nextDown(start)) {
        if (endsBy(start, size, bound)) continue;
        this.addTo(start, id, item, key);
        added = true;
      }
    }
    if (!added) this.env.skipped.bump('late');
  }

  /**
   * The tumbling window of ts when floor(ts / size) * size does not hold it: ts itself where
   * every double starts a window; else the highest window [k * size, + size) that holds ts
   * (ts / size rounded up), or in a gap left by rounding the starts, the lowest start above ts.
   */
  private tumblingStart(ts: number): number {
    if (ts >= this.coarseFrom || ts <= -this.coarseFrom) return ts;
    const size = this.spec.size;
    let k = Math.floor(ts / size) + 1;
    while (k * size > ts) k--;
    return endsBy(k * size, size, ts) ? this.lowestStartAbove(ts) : k * size;
  }

  /** The lowest window start k * slide above ts (below the coarse range). */
  private lowestStartAbove(ts: number): number {
    const slide = this.spec.slide;
    let k = Math.floor(ts / slide);
    while (k * slide <= ts) k++;
    return k * slide;
  }

  private addTo(start: number, id: string | number, item: any, key: any): void {
    let map = this.windows.get(start);
    if (!map) { map = new Map(); this.windows.set(start, map); }
    this.add(map, id, item, key);
  }

  advance(wm: number): void {
    this.close(wm);
    this.next.advance(this.forward(wm));
  }

  /** The promise this operator can pass on: no output earlier than an open window's start. */
  protected forward(wm: number): number {
    let out = Math.min(wm, this.lowestOpenStart(wm));
    for (const s of this.windows.keys()) if (s < out) out = s;
    return out;
  }

  /**
   * The lowest start of a window that an element can still join once the watermark is at wm:
   * the windows that do not end by wm (the others have closed).
   */
  private lowestOpenStart(wm: number): number {
    if (!Number.isFinite(wm)) return wm;
    const { size, slide } = this.spec;
    if (wm + size < this.coarseFrom && wm - size > -this.coarseFrom) {
      let k = Math.floor((wm - size) / slide);
      while (!endsBy(k * slide, size, wm)) k--;
      while (endsBy(k * slide, size, wm)) k++;
      return k * slide;
    }
    // Any double may start a window here (and near the boundary, the lowest of both kinds).
    let s = wm - size;
    while (!endsBy(s, size, wm)) s = nextDown(s);
    while (endsBy(s, size, wm)) s = nextUp(s);
    return s;
  }

  finish(): void {
    this.close(Infinity);
    this.next.finish();
  }

  protected close(wm: number): void {
    if (this.windows.size === 0) { if (wm > this.closedUpTo) this.closedUpTo = wm; return; }
    const due: number[] = [];
    for (const s of this.windows.keys()) if (endsBy(s, this.spec.size, wm)) due.push(s);
    if (wm > this.closedUpTo) this.closedUpTo = wm;
    if (due.length === 0) return;
    due.sort((a, b) => a - b);
    for (const s of due) {
      const map = this.windows.get(s)!;
      this.windows.delete(s);
      if (s === this.lastStart) { this.lastMap = null; this.lastStart = NaN; }
      this.emit(s, map);
    }
  }

  protected sortedIds(map: Map<string | number, S>): (string | number)[] {
    return [...map.keys()].sort(compareValues);
  }
}

/** Incremental aggregation per (window, key). `partial` ships encoded accumulators. */
export class WindowAggregateOp extends WindowedOp<Slot> {
  private readonly agg: Aggregate<any, any, any>;
  private readonly partial: boolean;

  constructor(spec: WindowSpec, agg: Aggregate<any, any, any>, partial: boolean, next: Operator, env: StageEnv, sourceTimed = false) {
    super(spec, next, env, sourceTimed);
    this.agg = agg; this.partial = partial;
  }

  protected add(map: Map<string | number, Slot>, id: string | number, item: any, key: any): void {
    const slot = map.get(id);
    if (slot === undefined) map.set(id, { key, acc: this.agg.add(this.agg.create(), item) });
    else slot.acc = this.agg.add(slot.acc, item);
  }

  protected emit(start: number, map: Map<string | number, Slot>): void {
    const end = start + this.spec.size;
    const window = { start, end };
    const agg = this.agg;
    for (const id of this.sortedIds(map)) {
      const slot = map.get(id)!;
      const value = this.partial ? (agg.encode ? agg.encode(slot.acc) : slot.acc) : agg.result(slot.acc);
      this.next.push({ window, key: slot.key, value }, start, slot.key);
    }
  }
}

interface Buffer { key: any; elements: any[] }

/** The paper's transform: the elements of a (window, key) at window close. */
export class WindowTransformOp extends WindowedOp<Buffer> {
  private readonly fn: (elements: any[], out: Emit<any>, ctx: any) => void | Promise<void>;
  /** Windows whose transform is still running (probes): emitted in order once resolved. */
  private readonly pending: { start: number; promise: Promise<void>; out: { value: any; key: any }[]; done: boolean }[] = [];
  private heldWm = -Infinity;
  private finished = false;

  constructor(spec: WindowSpec, fn: (elements: any[], out: Emit<any>, ctx: any) => void | Promise<void>, next: Operator, env: StageEnv, sourceTimed = false) {
    super(spec, next, env, sourceTimed);
    this.fn = fn;
  }

  protected add(map: Map<string | number, Buffer>, id: string | number, item: any, key: any): void {
    const b = map.get(id);
    if (b === undefined) map.set(id, { key, elements: [retain(item)] });
    else b.elements.push(retain(item));
  }

  protected emit(start: number, map: Map<string | number, Buffer>): void {
    const end = start + this.spec.size;
    const window = { start, end };
    for (const id of this.sortedIds(map)) {
      const b = map.get(id)!;
      const out: { value: any; key: any }[] = [];
      const emit: Emit<any> = (value, key) => { out.push({ value, key: key === undefined ? b.key : key }); };
      const r = this.fn(b.elements, emit, makeContext(b.key, start, end, this.env));
      if (r && typeof (r as Promise<void>).then === 'function') {
        const entry = { start, promise: r as Promise<void>, out, done: false };
        entry.promise.then(() => { entry.done = true; }, () => { entry.done = true; });
        this.pending.push(entry);
      } else if (this.pending.length > 0) {
        this.pending.push({ start, promise: Promise.resolve(), out, done: true });
      } else {
        for (const o of out) this.next.push({ window, key: o.key, value: o.value }, start, o.key);
      }
    }
  }

  advance(wm: number): void {
    this.heldWm = wm;
    super.advance(wm);
  }

  /** Results of a window still awaiting its probes come later: hold the promise at its start. */
  protected forward(wm: number): number {
    const out = super.forward(wm);
    return this.pending.length > 0 ? Math.min(out, this.pending[0].start) : out;
  }

  finish(): void {
    // Windows are closed now; the downstream finish waits until pending transforms are out.
    this.finished = true;
    this.close(Infinity);
    this.finishDownstream();
  }

  /** Finishes downstream once, after the last pending window's results are out. */
  private finishDownstream(): void {
    if (this.pending.length > 0 || this.downstreamFinished) return;
    this.downstreamFinished = true;
    this.next.finish();
  }

  private downstreamFinished = false;

  /**
   * Emits, in window order, the results of transforms whose asynchronous work has finished,
   * without waiting for the others: the stage driver calls it after every batch, so probe
   * results flow while packets keep coming.
   */
  poll(): void {
    let emitted = false;
    while (this.pending.length > 0 && this.pending[0].done) {
      const p = this.pending.shift()!;
      const window = { start: p.start, end: p.start + this.spec.size };
      for (const o of p.out) this.next.push({ window, key: o.key, value: o.value }, p.start, o.key);
      emitted = true;
    }
    if (!emitted) return;
    if (this.finished) this.finishDownstream();
    else this.next.advance(this.forward(this.heldWm));
  }

  async settle(): Promise<void> {
    while (this.pending.length > 0) {
      const p = this.pending[0];
      await p.promise.catch(() => undefined);
      this.pending.shift();
      const window = { start: p.start, end: p.start + this.spec.size };
      for (const o of p.out) this.next.push({ window, key: o.key, value: o.value }, p.start, o.key);
    }
    if (this.finished) this.finishDownstream();
    else this.next.advance(this.forward(this.heldWm));
  }
}

/** Global stage: combines partial accumulators of the same (window, key) from all sources. */
export class MergePartialsOp implements Operator {
  private readonly agg: Aggregate<any, any, any>;
  private readonly next: Operator;
  private readonly windows = new Map<number, { end: number; slots: Map<string | number, Slot> }>();

  constructor(agg: Aggregate<any, any, any>, next: Operator) {
    this.agg = agg; this.next = next;
  }

  push(rec: any): void {
    const { window, key, value } = rec;
    let w = this.windows.get(window.start);
    if (!w) { w = { end: window.end, slots: new Map() }; this.windows.set(window.start, w); }
    const id = keyId(key);
    const acc = this.agg.decode ? this.agg.decode(value) : value;
    const slot = w.slots.get(id);
    if (!slot) w.slots.set(id, { key, acc });
    else slot.acc = this.agg.merge(slot.acc, acc);
  }

  advance(wm: number): void {
    // A record's time is its window start: once wm > start no more partials of it can come.
    this.close((s) => s < wm);
    let out = wm;
    for (const s of this.windows.keys()) if (s < out) out = s;
    this.next.advance(out);
  }

  finish(): void {
    this.close(() => true);
    this.next.finish();
  }

  private close(due: (start: number) => boolean): void {
    const starts = [...this.windows.keys()].filter(due).sort((a, b) => a - b);
    for (const s of starts) {
      const w = this.windows.get(s)!;
      this.windows.delete(s);
      const window = { start: s, end: w.end };
      for (const id of [...w.slots.keys()].sort(compareValues)) {
        const slot = w.slots.get(id)!;
        this.next.push({ window, key: slot.key, value: this.agg.result(slot.acc) }, s, slot.key);
      }
    }
  }
}
