/**
 * Runtime operators: what a plan (stream.ts) becomes inside a stage. Push-based: each element
 * travels with its event time `ts` (seconds) and its key. `advance(wm)` promises that no more
 * elements with ts < wm will come from upstream (a window [s, e) is complete once wm >= e);
 * each operator forwards the promise it can keep for its own output. `finish()` flushes all
 * state at end of input.
 *
 * HOT PATH (bench/newconn.ts) for filter, key and the window aggregate.
 */
import { Packet } from '../decode/packet.ts';
import { FlowRecordView } from '../decode/flow-record.ts';
import { ipv4Text, ipv6Text } from '../decode/address-text.ts';
import { fieldGetter, type FieldName } from '../decode/fields.ts';
import { SkipCounters } from '../decode/skip-counters.ts';
import type { PacketPredicate } from './filter-expr.ts';
import type { Context, ProbeRequest, ProbeResult } from './stream.ts';

export interface Operator {
  push(item: any, ts: number, key: any): void;
  advance(wm: number): void;
  finish(): void;
  /** Resolves when asynchronous work (transforms awaiting probes) has been emitted. */
  settle?(): Promise<void>;
  /** Emits what asynchronous work has finished so far, without waiting. */
  poll?(): void;
}

/** Per-stage services and counters shared by its operators. */
export interface StageEnv {
  /** Elements skipped inside the stage, by reason (late, key_absent, ...). */
  skipped: SkipCounters;
  /** Local stage: allowed event-time lateness, seconds. Global stage: Infinity (input is ordered). */
  lateness: number;
  /**
   * Local stage: the source's time (latest timestamp read, filtered-out packets included) minus
   * the lateness, kept current per packet by the local processor. The first windowed operator
   * judges lateness against it, so a packet is late by the source's own time (docs/contracts.md),
   * whatever the filters and the batch boundaries.
   */
  sourceWm?: number;
  sendProbe(req: ProbeRequest): Promise<ProbeResult>;
  /**
   * Items may be records (flow-record.ts) as well as packets (a source whose traits.items is 'records'):
   * declarative filters and field keys read through the field getters, never Packet internals.
   * Decided once when the stage is built.
   */
  records?: boolean;
}

export const NULL_KEY = '\u0000null';

/** Map key for an element key: strings and numbers as they are, others by their JSON. */
export function keyId(k: unknown): string | number {
  if (typeof k === 'string' || typeof k === 'number') return k;
  if (k === null) return NULL_KEY;
  return JSON.stringify(k);
}

export class FilterOp implements Operator {
  private readonly pred: (x: any) => boolean;
  private readonly next: Operator;
  constructor(pred: ((x: any) => boolean) | PacketPredicate, next: Operator) { this.pred = pred; this.next = next; }
  push(item: any, ts: number, key: any): void { if (this.pred(item)) this.next.push(item, ts, key); }
  advance(wm: number): void { this.next.advance(wm); }
  finish(): void { this.next.finish(); }
}

export class MapOp implements Operator {
  private readonly fn: (x: any) => any;
  private readonly next: Operator;
  constructor(fn: (x: any) => any, next: Operator) { this.fn = fn; this.next = next; }
  push(item: any, ts: number, key: any): void { this.next.push(this.fn(item), ts, key); }
  advance(wm: number): void { this.next.advance(wm); }
  finish(): void { this.next.finish(); }
}

export class FlatMapOp implements Operator {
  private readonly fn: (x: any) => Iterable<any>;
  private readonly next: Operator;
  constructor(fn: (x: any) => Iterable<any>, next: Operator) { this.fn = fn; this.next = next; }
  push(item: any, ts: number, key: any): void {
    const out = this.fn(item);
    if (out) for (const x of out) this.next.push(x, ts, key);
  }
  advance(wm: number): void { this.next.advance(wm); }
  finish(): void { this.next.finish(); }
}

/** Fast key readers for the common address keys: interned strings, no allocation. */
const FAST_KEYS: Partial<Record<FieldName, (p: Packet) => string | undefined>> = {
  'ip.dst': (p) => (p.l3 === 4 ? ipv4Text(p.buf, p.l3Off + 16) : p.l3 === 6 ? ipv6Text(p.buf, p.l3Off + 24) : undefined),
  'ip.src': (p) => (p.l3 === 4 ? ipv4Text(p.buf, p.l3Off + 12) : p.l3 === 6 ? ipv6Text(p.buf, p.l3Off + 8) : undefined),
};

export class KeyOp implements Operator {
  private readonly get: (x: any) => any;
  private readonly next: Operator;
  private readonly skipped: SkipCounters;
  constructor(field: FieldName | undefined, fn: ((x: any) => any) | undefined, next: Operator, env: StageEnv) {
    this.get = field ? (env.records ? undefined : FAST_KEYS[field]) ?? (fieldGetter(field) as (x: any) => any) : fn!;
    this.next = next;
    this.skipped = env.skipped;
  }
  push(item: any, ts: number): void {
    const k = this.get(item);
    // An element without the key (a field the packet lacks) belongs to no group: counted.
    if (k === undefined) { this.skipped.bump('key_absent'); return; }
    this.next.push(item, ts, k);
  }
  advance(wm: number): void { this.next.advance(wm); }
  finish(): void { this.next.finish(); }
}

/** The stage's end: collects output elements until the stage driver takes them. */
export class Collector implements Operator {
  items: any[] = [];
  times: number[] = [];
  keys: any[] = [];
  watermark = -Infinity;
  finished = false;
  count = 0;
  push(item: any, ts: number, key: any): void {
    this.items.push(item); this.times.push(ts); this.keys.push(key);
    this.count++;
  }
  advance(wm: number): void { if (wm > this.watermark) this.watermark = wm; }
  finish(): void { this.finished = true; this.watermark = Infinity; }
  take(): { items: any[]; times: number[]; keys: any[] } {
    const out = { items: this.items, times: this.times, keys: this.keys };
    this.items = []; this.times = []; this.keys = [];
    return out;
  }
}

export function makeContext<K>(key: K, start: number, end: number, env: StageEnv): Context<K> {
  return { key, window: { start, end }, sendProbe: env.sendProbe };
}

/** Copies an element that a window must keep past the callback (packets and flow records are reused views). */
export function retain<T>(item: T): T {
  return item instanceof Packet || item instanceof FlowRecordView ? (item.clone() as T) : item;
}
