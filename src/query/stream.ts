/**
 * The query API: typed stream builders in the manner of Flink's DataStream API. Each stream
 * type offers only the operations valid for it:
 *
 *   Stream<T>            filter · map · flatMap · key · window · process · global
 *   KeyedStream<K, T>    window · process · filter · map
 *   WindowedStream<K, T> aggregate · reduce · transform · count
 *   after .global()      merge (of the partial aggregates shipped by every local stage)
 *
 * Builders only record a plan (a list of OpSpec); src/query/pipeline.ts instantiates it once per
 * local stage and once for the global stage. Everything before `.global()` runs near each
 * source; everything after it runs once, on the merged stream.
 */
import type { Packet } from '../decode/packet.ts';
import { FIELDS, unknownFieldHint, type FieldName } from '../decode/fields.ts';
import { IntstreamError } from '../errors.ts';
import { parseFilter, type FilterAst } from './filter-expr.ts';
import { count as countAgg, reduceWith, type Aggregate } from './aggregate.ts';

export interface WindowBounds {
  /** Seconds since the Unix epoch, inclusive. */
  start: number;
  /** Exclusive. */
  end: number;
}

/** What a windowed operation emits. */
export interface WindowResult<K, V> {
  window: WindowBounds;
  key: K;
  value: V;
}

export interface WindowSpec {
  /** Window length, seconds. */
  size: number;
  /** Hop between window starts, seconds (= size for tumbling windows). */
  slide: number;
}

/** Result of a probe (see sendProbe in the application library). */
export interface ProbeResult {
  ok: boolean;
  /** Why the probe did not run or failed (e.g. 'target not in the allowed networks'). */
  error?: string;
  [k: string]: unknown;
}

export interface ProbeRequest {
  type: 'ping' | 'traceroute';
  dst: string;
  count?: number;
  timeoutMs?: number;
  maxHops?: number;
}

export interface Context<K> {
  key: K;
  window: WindowBounds;
  /**
   * Sends an active probe from this agent. Resolves to a result that says when probing is not
   * allowed (no allow-list configured); never rejects. Only in the local stage.
   */
  sendProbe(req: ProbeRequest): Promise<ProbeResult>;
}

export type Emit<U> = (value: U, key?: unknown) => void;

export interface ProcessOptions<K, T, S, U> {
  /** New state for a key seen for the first time (or again after expiry). */
  init: (key: K) => S;
  /** Called for every element with its key's state; `out` emits downstream. */
  onItem: (item: T, state: S, out: Emit<U>, ctx: { key: K; ts: number }) => void;
  /** Event-time seconds without an element after which a key's state is dropped. */
  idleTimeout?: number;
  /** Called when a key's state expires or at end of input. */
  onExpire?: (state: S, out: Emit<U>, ctx: { key: K; ts: number }) => void;
}

export type OpSpec =
  | { kind: 'filter'; expr?: FilterAst; text?: string; fn?: (x: any) => boolean }
  | { kind: 'map'; fn: (x: any) => any }
  | { kind: 'flatMap'; fn: (x: any) => Iterable<any> }
  | { kind: 'key'; field?: FieldName; fn?: (x: any) => any }
  | { kind: 'window'; spec: WindowSpec }
  | { kind: 'aggregate'; agg: Aggregate<any, any, any>; partial: boolean }
  | { kind: 'transform'; fn: (elements: any[], out: Emit<any>, ctx: Context<any>) => void | Promise<void> }
  | { kind: 'process'; opts: ProcessOptions<any, any, any, any> }
  | { kind: 'global' }
  | { kind: 'merge'; agg: Aggregate<any, any, any> };

/** The recorded chain of one task. */
export class Plan {
  readonly ops: OpSpec[] = [];
  /** Whether the elements at the end of the chain are still packets. */
  packets = true;
  hasGlobal = false;
  /** The aggregate whose partials a `.merge()` would combine. */
  lastAggregate: Aggregate<any, any, any> | null = null;
  lastAggregateIndex = -1;
}

/** Sliding windows an element may join (size / slide). */
export const MAX_WINDOWS_PER_ELEMENT = 10_000;

function parseWindow(spec: number | { size: number; slide?: number }): WindowSpec {
  const size = typeof spec === 'number' ? spec : spec.size;
  const slide = typeof spec === 'number' ? size : spec.slide ?? size;
  if (!(size > 0) || !(slide > 0) || !Number.isFinite(size) || !Number.isFinite(slide)) {
    throw new IntstreamError('TASK_INVALID', `window size and slide must be positive seconds (got size ${size}, slide ${slide})`);
  }
  if (slide > size) throw new IntstreamError('TASK_INVALID', `window slide ${slide} s is longer than its size ${size} s: elements would fall between windows`);
  // every element joins size/slide windows: past this, one packet is a second of work
  if (size / slide > MAX_WINDOWS_PER_ELEMENT) {
    throw new IntstreamError('TASK_INVALID', `window size ${size} s over slide ${slide} s puts every element into ${Math.round(size / slide)} windows (at most ${MAX_WINDOWS_PER_ELEMENT})`);
  }
  return { size, slide };
}

abstract class Base {
  protected readonly plan: Plan;
  constructor(plan: Plan) { this.plan = plan; }
  protected push(op: OpSpec): void { this.plan.ops.push(op); }
}

export class Stream<T> extends Base {
  /**
   * Keeps the elements for which `pred` is true. A string is a declarative filter over packet
   * fields (see filter-expr.ts); as the first operation of a task it is pushed down into the
   * source. A function works on any element.
   */
  filter(pred: string | ((item: T) => boolean)): Stream<T> {
    this.addFilter(pred);
    return new Stream<T>(this.plan);
  }

  protected addFilter(pred: string | ((item: any) => boolean)): void {
    if (typeof pred === 'string') {
      if (!this.plan.packets) {
        throw new IntstreamError('TASK_INVALID', `filter("${pred}"): declarative filters apply to packets; after map/window use a function`);
      }
      this.push({ kind: 'filter', expr: parseFilter(pred), text: pred });
    } else this.push({ kind: 'filter', fn: pred });
  }

  /** One output element per input element. Packets are views: copy the fields you need. */
  map<U>(fn: (item: T) => U): Stream<U> {
    this.push({ kind: 'map', fn });
    this.plan.packets = false;
    return new Stream<U>(this.plan);
  }

  /** Zero or more output elements per input element. */
  flatMap<U>(fn: (item: T) => Iterable<U>): Stream<U> {
    this.push({ kind: 'flatMap', fn });
    this.plan.packets = false;
    return new Stream<U>(this.plan);
  }

  /** Partitions the stream by a key: a field name (fast path for packets) or a function. */
  key<K extends string | number = string>(field: T extends Packet ? FieldName : never): KeyedStream<K, T>;
  key<K>(fn: (item: T) => K): KeyedStream<K, T>;
  key(sel: FieldName | ((item: T) => unknown)): KeyedStream<any, T> {
    if (typeof sel === 'string') {
      if (!this.plan.packets) throw new IntstreamError('TASK_INVALID', `key('${sel}'): field names key packets; after map use a function`);
      if (!FIELDS.has(sel)) throw new IntstreamError('TASK_INVALID', `key('${sel}'): unknown field`, unknownFieldHint(sel));
      this.push({ kind: 'key', field: sel });
    } else this.push({ kind: 'key', fn: sel });
    return new KeyedStream(this.plan);
  }

  /** Event-time windows over the whole (unkeyed) stream; results carry key null. */
  window(spec: number | { size: number; slide?: number }): WindowedStream<null, T> {
    this.push({ kind: 'key', fn: () => null });
    this.push({ kind: 'window', spec: parseWindow(spec) });
    return new WindowedStream(this.plan);
  }

  /**
   * The cut: everything before runs in each source's local stage, everything after in the
   * global stage on the merged stream. Elements must be JSON-safe from here on.
   */
  global(): GlobalStream<T> {
    if (this.plan.hasGlobal) throw new IntstreamError('TASK_INVALID', 'a task has at most one .global() cut');
    this.plan.hasGlobal = true;
    this.plan.packets = false;
    this.push({ kind: 'global' });
    return new GlobalStream<T>(this.plan);
  }
}

export class GlobalStream<T> extends Stream<T> {
  /**
   * Combines the partial aggregates that every local stage computed for the same window and
   * key (Aggregate.merge), then emits the final result. Must directly follow the cut, which
   * must directly follow a windowed aggregate.
   */
  merge(): Stream<T extends WindowResult<infer K, infer V> ? WindowResult<K, V> : never> {
    const ops = this.plan.ops;
    const agg = this.plan.lastAggregate;
    if (!agg || this.plan.lastAggregateIndex !== ops.length - 2 || ops[ops.length - 1].kind !== 'global') {
      throw new IntstreamError('TASK_INVALID', '.merge() must directly follow .aggregate(...).global()');
    }
    (ops[this.plan.lastAggregateIndex] as Extract<OpSpec, { kind: 'aggregate' }>).partial = true;
    this.push({ kind: 'merge', agg });
    return new Stream(this.plan);
  }
}

export class KeyedStream<K, T> extends Base {
  window(spec: number | { size: number; slide?: number }): WindowedStream<K, T> {
    this.push({ kind: 'window', spec: parseWindow(spec) });
    return new WindowedStream<K, T>(this.plan);
  }

  filter(pred: string | ((item: T) => boolean)): KeyedStream<K, T> {
    Stream.prototype['addFilter'].call(this, pred);
    return this;
  }

  map<U>(fn: (item: T) => U): KeyedStream<K, U> {
    this.push({ kind: 'map', fn });
    this.plan.packets = false;
    return new KeyedStream<K, U>(this.plan);
  }

  /**
   * Stateful processing per key, with state that outlives windows (per-flow sequence
   * tracking, event detection). State idle for `idleTimeout` event-time seconds is dropped.
   * Emitted elements keep the key and the current element's time.
   */
  process<S, U>(opts: ProcessOptions<K, T, S, U>): KeyedStream<K, U> {
    this.push({ kind: 'process', opts });
    this.plan.packets = false;
    return new KeyedStream<K, U>(this.plan);
  }
}

export class WindowedStream<K, T> extends Base {
  /** Incremental aggregation per (window, key): O(keys) memory. */
  aggregate<A, R>(agg: Aggregate<T, A, R>): Stream<WindowResult<K, R>> {
    this.plan.lastAggregate = agg;
    this.plan.lastAggregateIndex = this.plan.ops.length;
    this.push({ kind: 'aggregate', agg, partial: false });
    this.plan.packets = false;
    return new Stream(this.plan);
  }

  /** Number of elements per (window, key). */
  count(): Stream<WindowResult<K, number>> {
    return this.aggregate(countAgg<T>());
  }

  /** Combines elements pairwise (elements must not be packets: map first). */
  reduce(fn: (a: T, b: T) => T): Stream<WindowResult<K, T>> {
    if (this.plan.packets) throw new IntstreamError('TASK_INVALID', 'reduce() combines values; map packets to values first');
    return this.aggregate(reduceWith(fn)) as Stream<WindowResult<K, T>>;
  }

  /**
   * The paper's core primitive: all elements of a (window, key) at once, when the window
   * closes. Buffers the elements (packets are cloned): prefer aggregate() where possible.
   * `out(value)` emits a result for the context's key; `out(value, key)` for another key.
   */
  transform<U>(fn: (elements: T[], out: Emit<U>, ctx: Context<K>) => void | Promise<void>): Stream<WindowResult<K, U>> {
    this.push({ kind: 'transform', fn });
    this.plan.packets = false;
    return new Stream(this.plan);
  }
}

/** Starts a plan over a source's packets (used by the task loader). */
export function packetStream(plan: Plan): Stream<Packet> {
  return new Stream<Packet>(plan);
}
