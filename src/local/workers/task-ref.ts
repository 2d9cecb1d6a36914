/**
 * How a local-stage thread (`--workers`) gets the task: code cannot cross threads, so each
 * thread loads it again from what can, and builds the same split plan: a built-in application's
 * name or a query file's path with the run's --filter (run), or the task as the runtime shipped
 * it (agent: app name or query text, loaded as the agent loads it). Parameters go as the text the
 * user gave and are resolved again; the plan's shape is compared with the main thread's.
 */
import { builtinNames, loadBuiltin } from '../../apps/index.ts';
import { IntstreamError } from '../../errors.ts';
import type { SplitPlan } from '../../query/pipeline.ts';
import { splitPlan } from '../../query/pipeline.ts';
import { buildPlan, resolveParams, type TaskDefinition } from '../../query/task.ts';

export type TaskRef =
  /** A built-in name or a query file's path (loadTask), with `intstream run --filter`'s BPF expression. */
  | { kind: 'task'; task: string; bpf?: string }
  /** As the runtime ships it to agents (apps/task-spec.ts). */
  | { kind: 'spec'; app: string | null; code: string | null };

/** `--filter`: the packets the task sees are those the BPF expression keeps (before its own filter, pushed down with it). */
export function withBpf(def: TaskDefinition<any>, bpf: string | undefined): TaskDefinition<any> {
  return bpf === undefined ? def : { ...def, query: (packets: any, p: any) => def.query(packets.filter(`bpf: ${bpf}`), p) };
}

/** The built-in application `def` is (the same object), as a reference; null for others. */
export async function builtinRef(def: TaskDefinition<any>): Promise<TaskRef | null> {
  for (const name of builtinNames()) if (await loadBuiltin(name) === def) return { kind: 'task', task: name };
  return null;
}

/** Loads the task in this thread and builds its split plan. */
export async function loadRef(ref: TaskRef, params: Record<string, string>, window: number): Promise<SplitPlan> {
  if (ref.kind === 'spec') {
    const { loadSpec } = await import('../../apps/task-spec.ts');
    return (await loadSpec({ app: ref.app, code: ref.code, params, window })).split;
  }
  const { loadTask } = await import('../../apps/load-task.ts');
  const def = withBpf((await loadTask(ref.task)).def, ref.bpf);
  return splitPlan(buildPlan(def, resolveParams(def, params), { window }));
}

/** What must be equal between the main thread's plan and a thread's: the local chain's shape and the pushed-down filter. */
export function planShape(split: SplitPlan): string {
  return JSON.stringify({
    pushdown: split.pushdown?.text ?? null,
    local: split.local.map((o) => (o.kind === 'window' ? { kind: o.kind, spec: o.spec } : o.kind === 'key' ? { kind: o.kind, field: o.field ?? null } : o.kind)),
  });
}

/** A thread built another plan than the main thread: never expected (the same code, the same parameters). */
export function shapeMismatch(want: string, got: string): IntstreamError {
  return new IntstreamError('INTERNAL', `local-stage thread: the task's plan differs from the main thread's (${got} vs ${want})`);
}
