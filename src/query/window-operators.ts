/**
 * Event-time windows (docs/contracts.md): tumbling or sliding, aligned to multiples of the
 * slide since the Unix epoch, start inclusive, end exclusive. A window closes when the
 * watermark reaches its end; at end of input every open window is flushed. Results of one
 * window are emitted together, keys in a fixed order (compareValues), windows in start order.
 *
 * An element whose window has already closed is late: counted as `late`, not added (with the
 * local stage's lateness, a window stays open until the source's time passes end + lateness).
 *
 * HOT PATH (bench/newconn.ts): WindowAggregateOp.push for tumbling windows.
 */
import { compareValues, type Aggregate } from './aggregate.ts';
import { keyId, makeContext, retain, type Operator, type StageEnv } from './operator.ts';
import type { Emit, WindowSpec } from './stream.ts';

interface Slot { key: any; acc: any }

/** Start of the first window that can contain an element at time t. */
function firstStartContaining(t: number, spec: WindowSpec): number {
  return Math.floor(t / spec.slide) * spec.slide - (spec.size - spec.slide);
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

  constructor(spec: WindowSpec, next: Operator, env: StageEnv, sourceTimed: boolean) {
    this.spec = spec; this.next = next; this.env = env;
    this.tumbling = spec.size === spec.slide;
    this.sourceTimed = sourceTimed;
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
      const start = Math.floor(ts / size) * size;
      if (start + size <= bound) { this.env.skipped.bump('late'); return; }
      let map = this.lastMap;
      if (start !== this.lastStart || map === null) {
        map = this.windows.get(start) ?? null;
        if (map === null) { map = new Map(); this.windows.set(start, map); }
        this.lastStart = start; this.lastMap = map;
      }
      this.add(map, id, item, key);
      return;
    }
    const { size, slide } = this.spec;
    let added = false;
    for (let start = Math.floor(ts / slide) * slide; start > ts - size; start -= slide) {
      if (start + size <= bound) continue;
      let map = this.windows.get(start);
      if (!map) { map = new Map(); this.windows.set(start, map); }
      this.add(map, id, item, key);
      added = true;
    }
    if (!added) this.env.skipped.bump('late');
  }

  advance(wm: number): void {
    this.close(wm);
    this.next.advance(this.forward(wm));
  }

  /** The promise this operator can pass on: no output earlier than an open window's start. */
  protected forward(wm: number): number {
    let out = Math.min(wm, firstStartContaining(wm, this.spec));
    for (const s of this.windows.keys()) if (s < out) out = s;
    return out;
  }

  finish(): void {
    this.close(Infinity);
    this.next.finish();
  }

  protected close(wm: number): void {
    if (this.windows.size === 0) { if (wm > this.closedUpTo) this.closedUpTo = wm; return; }
    const due: number[] = [];
    for (const s of this.windows.keys()) if (s + this.spec.size <= wm) due.push(s);
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
