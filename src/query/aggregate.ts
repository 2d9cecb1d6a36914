/**
 * Incremental aggregation in the shape of Flink's AggregateFunction: `create` an accumulator,
 * `add` each element, `merge` two accumulators, read the `result`. A windowed aggregate keeps
 * one accumulator per (window, key), so memory is O(keys), not O(elements).
 *
 * `merge` is what makes the local/global split exact: before a `.global().merge()` cut the
 * local stage ships accumulators (through `encode`, a JSON-safe form), and the global stage
 * decodes and merges those of the same window and key from every source.
 */
import type { Packet } from '../decode/packet.ts';
import { fieldGetter, type FieldName } from '../decode/fields.ts';
import { CountMinSketch, HyperLogLog, type CountMinJSON, type HllJSON } from './sketches.ts';

export interface Aggregate<T, A, R> {
  create(): A;
  /** Adds one element; returns the accumulator (the same object, or a new value for numbers). */
  add(acc: A, item: T): A;
  merge(a: A, b: A): A;
  result(acc: A): R;
  /** JSON-safe form of an accumulator for the transport (default: the value itself). */
  encode?(acc: A): unknown;
  decode?(wire: unknown): A;
}

/** Reads a value from an element: a field name (for packets) or a function. */
export type Selector<T, V> = FieldName | ((item: T) => V);

function select<T, V>(s: Selector<T, V>): (item: T) => V {
  if (typeof s === 'function') return s;
  const g = fieldGetter(s);
  return (item: T) => g(item as unknown as Packet) as V;
}

/** Number of elements. */
export function count<T = unknown>(): Aggregate<T, number, number> {
  return { create: () => 0, add: (a) => a + 1, merge: (a, b) => a + b, result: (a) => a };
}

/** Sum of a numeric value (undefined counts as 0). */
export function sum<T = Packet>(of: Selector<T, number | undefined>): Aggregate<T, number, number> {
  const get = select(of);
  return { create: () => 0, add: (a, x) => a + (get(x) ?? 0), merge: (a, b) => a + b, result: (a) => a };
}

export function min<T = Packet>(of: Selector<T, number | undefined>): Aggregate<T, number | null, number | null> {
  const get = select(of);
  return {
    create: () => null,
    add: (a, x) => { const v = get(x); return v === undefined ? a : a === null || v < a ? v : a; },
    merge: (a, b) => (a === null ? b : b === null ? a : Math.min(a, b)),
    result: (a) => a,
  };
}

export function max<T = Packet>(of: Selector<T, number | undefined>): Aggregate<T, number | null, number | null> {
  const get = select(of);
  return {
    create: () => null,
    add: (a, x) => { const v = get(x); return v === undefined ? a : a === null || v > a ? v : a; },
    merge: (a, b) => (a === null ? b : b === null ? a : Math.max(a, b)),
    result: (a) => a,
  };
}

type Distinctable = string | number | boolean | null | undefined | object;

function distinctId(v: Distinctable): string | number {
  return typeof v === 'string' || typeof v === 'number' ? v : JSON.stringify(v);
}

/**
 * Exact number of distinct values. The accumulator is the set itself, so merging partial
 * results from several sources is exact (a count could not be merged). Values that are
 * undefined (field absent) are not counted.
 */
export function distinct<T = Packet>(of: Selector<T, Distinctable>): Aggregate<T, Set<string | number>, number> {
  const get = select(of);
  return {
    create: () => new Set(),
    add: (a, x) => { const v = get(x); if (v !== undefined) a.add(distinctId(v)); return a; },
    merge: (a, b) => { for (const v of b) a.add(v); return a; },
    result: (a) => a.size,
    encode: (a) => [...a],
    decode: (w) => new Set(w as (string | number)[]),
  };
}

/** The set of distinct values, sorted (for tasks whose result is the set). */
export function distinctValues<T = Packet>(of: Selector<T, Distinctable>): Aggregate<T, Set<string | number>, (string | number)[]> {
  const d = distinct(of);
  return { ...d, result: (a) => [...a].sort(compareValues) };
}

/** Approximate distinct count with HyperLogLog (mergeable; ~1.6% error at p = 12). */
export function approxDistinct<T = Packet>(of: Selector<T, string | number | undefined>, p = 12): Aggregate<T, HyperLogLog, number> {
  const get = select(of);
  return {
    create: () => new HyperLogLog(p),
    add: (a, x) => { const v = get(x); if (v !== undefined) a.add(v); return a; },
    merge: (a, b) => a.merge(b),
    result: (a) => a.count(),
    encode: (a) => a.toJSON(),
    decode: (w) => HyperLogLog.fromJSON(w as HllJSON),
  };
}

/** Every value, in arrival order (buffers elements: use only where the task needs them). */
export function collect<T, V>(of: (item: T) => V): Aggregate<T, V[], V[]> {
  return { create: () => [], add: (a, x) => { a.push(of(x)); return a; }, merge: (a, b) => a.concat(b), result: (a) => a };
}

/** A count-min sketch of `of` per window (one sketch per key, usually with key null). */
export function countMin<T = Packet>(of: Selector<T, string | number | undefined>, width = 1024, depth = 4, weight?: (item: T) => number): Aggregate<T, CountMinSketch, CountMinJSON> {
  const get = select(of);
  return {
    create: () => new CountMinSketch(width, depth),
    add: (a, x) => { const v = get(x); if (v !== undefined) a.add(v, weight ? weight(x) : 1); return a; },
    merge: (a, b) => a.merge(b),
    result: (a) => a.toJSON(),
    encode: (a) => a.toJSON(),
    decode: (w) => CountMinSketch.fromJSON(w as CountMinJSON),
  };
}

/**
 * Several aggregates over the same elements at once, e.g.
 * `combine({ conns: distinct(...), bytes: sum('tcp.payload_len') })`.
 */
export function combine<T, S extends Record<string, Aggregate<T, any, any>>>(parts: S): Aggregate<T, { [K in keyof S]: unknown }, { [K in keyof S]: S[K] extends Aggregate<T, any, infer R> ? R : never }> {
  const names = Object.keys(parts) as (keyof S & string)[];
  return {
    create: () => Object.fromEntries(names.map((n) => [n, parts[n].create()])) as any,
    add: (a: any, x) => { for (const n of names) a[n] = parts[n].add(a[n], x); return a; },
    merge: (a: any, b: any) => { for (const n of names) a[n] = parts[n].merge(a[n], b[n]); return a; },
    result: (a: any) => Object.fromEntries(names.map((n) => [n, parts[n].result(a[n])])) as any,
    encode: (a: any) => Object.fromEntries(names.map((n) => [n, parts[n].encode ? parts[n].encode!(a[n]) : a[n]])),
    decode: (w: any) => Object.fromEntries(names.map((n) => [n, parts[n].decode ? parts[n].decode!(w[n]) : w[n]])) as any,
  };
}

/** Flink-style reduce: combine two elements (or partial results) of the same type into one. */
export function reduceWith<T>(fn: (a: T, b: T) => T): Aggregate<T, { has: boolean; v: T | undefined }, T | undefined> {
  return {
    create: () => ({ has: false, v: undefined }),
    add: (a, x) => { a.v = a.has ? fn(a.v as T, x) : x; a.has = true; return a; },
    merge: (a, b) => (!b.has ? a : !a.has ? b : { has: true, v: fn(a.v as T, b.v as T) }),
    result: (a) => a.v,
    encode: (a) => (a.has ? { v: a.v } : {}),
    decode: (w) => ('v' in (w as object) ? { has: true, v: (w as { v: T }).v } : { has: false, v: undefined }),
  };
}

/** Total order on keys and values for deterministic output: numbers, then strings, then JSON. */
export function compareValues(a: unknown, b: unknown): number {
  const ta = typeof a === 'number' ? 0 : typeof a === 'string' ? 1 : 2;
  const tb = typeof b === 'number' ? 0 : typeof b === 'string' ? 1 : 2;
  if (ta !== tb) return ta - tb;
  if (ta === 0) return (a as number) - (b as number);
  const sa = ta === 1 ? (a as string) : JSON.stringify(a) ?? '';
  const sb = tb === 1 ? (b as string) : JSON.stringify(b) ?? '';
  return sa < sb ? -1 : sa > sb ? 1 : 0;
}
