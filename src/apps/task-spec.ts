/**
 * What the runtime ships to agents and GSP workers: a task as submitted (a built-in app's name or
 * a query file's source text, its parameters) plus where it runs (the agents, in source order)
 * and how its global stage is spread (partitions of its Kafka topic).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { builtinNames, loadBuiltin } from './index.ts';
import { loadTask } from './load-task.ts';
import { IntstreamError } from '../errors.ts';
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

/** This process's private folder for received query files (mode 0700, removed at exit). */
let codeDir: string | null = null;
let codeFiles = 0;

/**
 * Loads a task's definition: a built-in application by name (never a path), or the received
 * source text written to a new file in this process's private temporary folder and loaded with
 * the 'intstream' import hook. Only callers allowed to run submitted code pass `code` here (an
 * agent or GSP worker started with --allow-code; the runtime validates code in a child process).
 */
export async function loadSpec(spec: Pick<TaskSpec, 'app' | 'code' | 'params' | 'window'>): Promise<LoadedTask> {
  let def: TaskDefinition<any>;
  if (spec.code !== null && spec.code !== undefined) {
    if (codeDir === null) {
      codeDir = mkdtempSync(join(tmpdir(), 'intstream-tasks-'));
      const dir = codeDir;
      process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
    }
    // a new name per load: a module URL is loaded once per process
    const ref = join(codeDir, `task-${++codeFiles}.ts`);
    writeFileSync(ref, spec.code, { mode: 0o600, flag: 'wx' });
    def = (await loadTask(ref)).def;
  } else {
    const name = spec.app ?? '';
    const builtin = builtinNames().includes(name) ? await loadBuiltin(name) : undefined;
    if (!builtin) throw new IntstreamError('TASK_NOT_FOUND', `no built-in application named '${name}'`, `built-in: ${builtinNames().join(', ')}`);
    def = builtin;
  }
  const params = resolveParams(def, spec.params ?? {});
  const split = splitPlan(buildPlan(def, params, { window: spec.window }));
  return { def, params, split };
}
