/**
 * How a source's records may be dealt to several local-stage threads (`--workers N`) without
 * changing a task's results, decided from the task's local chain. Several threads on one source
 * are merged by the global stage exactly as several sources are, so what holds for splitting
 * traffic across sources (docs/applications.md, "Split invariance") decides it:
 *
 * - 'batch': whole batches, round-robin. Windowed aggregates that ship partials to a
 *   `.global().merge()` cut, filters, maps and keys do not care which thread saw a packet, and
 *   lateness stays exact because each batch carries the source's time before it (its `clock`).
 * - 'flow': each record by a symmetric hash of its addresses and ports (flow-hash.ts), so both
 *   directions of a flow stay on one thread, in order. For local code that reads an element's
 *   `source`: that is how an application orders equal timestamps by source and then by position
 *   (tcp-retrans), an order only one thread per flow keeps.
 * - 'single': one thread. A local stage with keyed state (`process()`: int-collector keeps one
 *   collector per source), a local `transform` (it sees all of one source's elements of a
 *   window) or an aggregate whose finished value is used before the cut depends on seeing all
 *   of the source.
 */
import type { SplitPlan } from '../../query/pipeline.ts';
import type { OpSpec } from '../../query/stream.ts';

export type Dealing = { mode: 'batch' | 'flow' } | { mode: 'single'; why: string };

/** Whether a function's source text names `source` (an element's source index). */
const readsSource = (f: unknown): boolean => typeof f === 'function' && /\bsource\b/.test(Function.prototype.toString.call(f));

function opReadsSource(o: OpSpec): boolean {
  switch (o.kind) {
    case 'key': return o.field === 'source' || readsSource(o.fn);
    case 'filter': return readsSource(o.fn) || (o.text !== undefined && /\bsource\b/.test(o.text));
    case 'map': case 'flatMap': return readsSource(o.fn);
    case 'aggregate': return Object.values(o.agg).some(readsSource);
    default: return false;
  }
}

export function dealingFor(split: SplitPlan): Dealing {
  for (const o of split.local) {
    if (o.kind === 'process') return { mode: 'single', why: 'the task keeps keyed state in its local stage (process())' };
    if (o.kind === 'transform') return { mode: 'single', why: 'the task has a window transform in its local stage' };
    if (o.kind === 'aggregate' && !o.partial) return { mode: 'single', why: 'the task uses a finished window aggregate in its local stage' };
  }
  return split.local.some(opReadsSource) ? { mode: 'flow' } : { mode: 'batch' };
}
