/**
 * Turns a Plan into operator chains: the local stage (instantiated once per source) and the
 * global stage (once), split at `.global()`. A leading declarative filter is taken out of the
 * local chain and handed to the source as its pushed-down predicate.
 */
import { IntstreamError } from '../errors.ts';
import { compileFilter, interpretFilter, type FilterAst, type PacketPredicate } from './filter-expr.ts';
import { KeyedProcessOp } from './keyed-process-op.ts';
import { Collector, FilterOp, FlatMapOp, KeyOp, MapOp, type Operator, type StageEnv } from './operator.ts';
import type { OpSpec, Plan } from './stream.ts';
import { MergePartialsOp, WindowAggregateOp, WindowTransformOp } from './window-operators.ts';

export interface SplitPlan {
  /** The pushed-down filter (leading declarative filters, and-ed), or null. */
  pushdown: { ast: FilterAst; text: string; predicate: PacketPredicate } | null;
  local: OpSpec[];
  global: OpSpec[];
  hasCut: boolean;
}

export function splitPlan(plan: Plan): SplitPlan {
  const ops = plan.ops;
  const cut = ops.findIndex((o) => o.kind === 'global');
  let local = cut >= 0 ? ops.slice(0, cut) : ops.slice();
  const global = cut >= 0 ? ops.slice(cut + 1) : [];
  let pushdown: SplitPlan['pushdown'] = null;
  while (local.length > 0 && local[0].kind === 'filter' && local[0].expr) {
    const f = local[0] as Extract<OpSpec, { kind: 'filter' }>;
    const ast: FilterAst = pushdown ? { kind: 'and', left: pushdown.ast, right: f.expr! } : f.expr!;
    const text: string = pushdown ? `(${pushdown.text}) and (${f.text})` : f.text!;
    pushdown = { ast, text, predicate: compileFilter(ast) };
    local = local.slice(1);
  }
  validate(local, 'local');
  validate(global, 'global');
  return { pushdown, local, global, hasCut: cut >= 0 };
}

function validate(ops: OpSpec[], stage: string): void {
  for (let i = 0; i < ops.length; i++) {
    const o = ops[i];
    if (o.kind === 'window' && !(i > 0 && ops.slice(0, i).some((p) => p.kind === 'key'))) {
      throw new IntstreamError('TASK_INVALID', `${stage} stage: window() needs a key() (or Stream.window) before it`);
    }
    if ((o.kind === 'aggregate' || o.kind === 'transform') && ops[i - 1]?.kind !== 'window') {
      throw new IntstreamError('TASK_INVALID', `${stage} stage: ${o.kind}() must follow window()`);
    }
    if (o.kind === 'window' && ops[i + 1]?.kind !== 'aggregate' && ops[i + 1]?.kind !== 'transform') {
      throw new IntstreamError('TASK_INVALID', `${stage} stage: window() must be followed by aggregate(), reduce(), count() or transform()`);
    }
  }
}

/**
 * Whether the windowed operator at `i` sees elements at the source's own times: no window or
 * keyed state before it shifts times (their outputs carry window starts or expiry times).
 */
function sourceTimed(ops: OpSpec[], i: number): boolean {
  return !ops.slice(0, i - 1).some((o) => o.kind === 'aggregate' || o.kind === 'transform' || o.kind === 'process' || o.kind === 'merge');
}

export interface Stage {
  head: Operator;
  tail: Collector;
  /** Operators with asynchronous work, in chain order. */
  asyncOps: Operator[];
}

/** Builds one instance of a stage's chain. */
export function buildStage(ops: OpSpec[], env: StageEnv): Stage {
  const tail = new Collector();
  const asyncOps: Operator[] = [];
  let next: Operator = tail;
  for (let i = ops.length - 1; i >= 0; i--) {
    const o = ops[i];
    switch (o.kind) {
      case 'filter': next = new FilterOp(o.expr ? (env.records ? interpretFilter(o.expr, true) : compileFilter(o.expr)) : o.fn!, next); break;
      case 'map': next = new MapOp(o.fn, next); break;
      case 'flatMap': next = new FlatMapOp(o.fn, next); break;
      case 'key': next = new KeyOp(o.field, o.fn, next, env); break;
      case 'process': next = new KeyedProcessOp(o.opts, next, env); break;
      case 'merge': next = new MergePartialsOp(o.agg, next); break;
      case 'window': break; // consumed by the aggregate/transform after it
      case 'aggregate': {
        const w = ops[i - 1] as Extract<OpSpec, { kind: 'window' }>;
        next = new WindowAggregateOp(w.spec, o.agg, o.partial, next, env, sourceTimed(ops, i));
        break;
      }
      case 'transform': {
        const w = ops[i - 1] as Extract<OpSpec, { kind: 'window' }>;
        next = new WindowTransformOp(w.spec, o.fn, next, env, sourceTimed(ops, i));
        asyncOps.unshift(next);
        break;
      }
      case 'global': throw new IntstreamError('INTERNAL', 'cut inside a stage');
    }
  }
  return { head: next, tail, asyncOps };
}

/** Emits the finished part of asynchronous operators' work, upstream first, without waiting. */
export function pollStage(stage: Stage): void {
  for (const op of stage.asyncOps) op.poll?.();
}

/** Waits for asynchronous operators (transforms awaiting probes), upstream first. */
export async function settleStage(stage: Stage): Promise<void> {
  for (const op of stage.asyncOps) if (op.settle) await op.settle();
}
