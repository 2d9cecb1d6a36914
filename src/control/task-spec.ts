/**
 * What the runtime ships to agents and GSP workers: a task as submitted (a built-in app's name or
 * a query file's source text, its parameters) plus where it runs (the agents, in source order)
 * and how its global stage is spread (partitions of its Kafka topic).
 */
import { createHash } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadTask } from '../apps/load-task.ts';
import { splitPlan, type SplitPlan } from '../query/pipeline.ts';
import { buildPlan, resolveParams, type TaskDefinition } from '../query/task.ts';

export interface TaskSpec {
  id: string;
  /** The task's own name (defineTask name). */
  name: string;
  /** Built-in application name, or null when `code` holds a query file's text. */
  app: string | null;
  code: string | null;
  params: Record<string, string>;
  /** Window length, seconds. */
  window: number;
  /** Agent names in source order: agent i is local stage i of n. */
  agents: string[];
  /** Partitions of the partials topic (1 when the global stage is not key-partitionable). */
  partitions: number;
  /** Kafka bootstrap address. */
  kafka: string;
  /** A source silent this long no longer holds windows open in the GSP, ms. */
  graceMs: number;
  /** Sinks the GSP workers write besides the results topic: 'stdout', 'jsonl:PATH'. */
  sinks: string[];
  status: 'running' | 'finished' | 'stopped';
  createdAt: number;
}

export interface LoadedTask {
  def: TaskDefinition<any>;
  params: Record<string, unknown>;
  split: SplitPlan;
}

/**
 * Loads a task's definition: a built-in by name, or the received source text written to a
 * temporary .ts file (named by its hash) and loaded with the 'intstream' import hook.
 */
export async function loadSpec(spec: Pick<TaskSpec, 'app' | 'code' | 'params' | 'window'>): Promise<LoadedTask> {
  let ref = spec.app ?? '';
  if (spec.code !== null && spec.code !== undefined) {
    const dir = join(tmpdir(), 'intstream-tasks');
    mkdirSync(dir, { recursive: true });
    ref = join(dir, `task-${createHash('sha256').update(spec.code).digest('hex').slice(0, 16)}.ts`);
    writeFileSync(ref, spec.code);
  }
  const { def } = await loadTask(ref);
  const params = resolveParams(def, spec.params ?? {});
  const split = splitPlan(buildPlan(def, params, { window: spec.window }));
  return { def, params, split };
}
