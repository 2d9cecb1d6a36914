/**
 * intstream's public API for query files: `import { defineTask, count } from 'intstream'`.
 * What a task author needs and nothing internal (filters are written as text in filter()
 * and compiled by the engine); docs/api.md is its reference. The built-in applications in
 * src/apps import only this module.
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
export { intHops, type IntHop } from './int/int-hops.ts';
export { IntCollectorState } from './int/collector.ts';
export { INT_DECODE_PARAMS } from './int/decode-params.ts';
