/**
 * The built-in applications (shared/docs/APPLICATIONS.md), by name. Each is a readable query
 * file in this folder; add one by writing the file and listing it here.
 */
import type { TaskDefinition } from '../query/task.ts';

const loaders: Record<string, () => Promise<{ default: TaskDefinition<any> }>> = {
  'tcp-new-conn': () => import('./tcp-new-conn.ts'),
};

export function builtinNames(): string[] {
  return Object.keys(loaders).sort();
}

export async function loadBuiltin(name: string): Promise<TaskDefinition<any> | undefined> {
  const l = loaders[name];
  return l ? (await l()).default : undefined;
}

/** Path of a built-in's query file, to show users what to copy. */
export function builtinPath(name: string): string {
  return new URL(`./${name}.ts`, import.meta.url).pathname;
}
