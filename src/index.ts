/**
 * intstream's public API for query files: `import { defineTask, count } from 'intstream'`.
 */
export { defineTask, type TaskDefinition, type ParamSpec } from './query/task.ts';
export { Stream, KeyedStream, WindowedStream, GlobalStream } from './query/stream.ts';
export type { WindowResult, WindowBounds, Context, Emit, ProbeRequest, ProbeResult, ProcessOptions } from './query/stream.ts';
export {
  count, sum, min, max, distinct, distinctValues, approxDistinct, collect, countMin, combine, reduceWith, compareValues,
  type Aggregate,
} from './query/aggregate.ts';
export { CountMinSketch, BloomFilter, HyperLogLog, countMinSketch, bloomFilter, hyperLogLog, hashString } from './query/sketches.ts';
export { Packet } from './decode/packet.ts';
export { FIELDS, type FieldName } from './decode/fields.ts';
export { parseFilter, compileFilter, toBpf } from './query/filter-expr.ts';
export { intHops, type IntHop } from './int/int-hops.ts';
