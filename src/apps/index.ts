/**
 * The built-in applications (docs/applications.md), by name. Each is a readable query
 * file in this folder; add one by writing the file and listing it here.
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { TaskDefinition } from '../query/task.ts';

const loaders: Record<string, () => Promise<{ default: TaskDefinition<any> }>> = {
  'tcp-new-conn': () => import('./tcp-new-conn.ts'),
  'sketch-gen': () => import('./sketch-gen.ts'),
  'port-scan': () => import('./port-scan.ts'),
  'super-spreader': () => import('./super-spreader.ts'),
  'tcp-retrans': () => import('./tcp-retrans.ts'),
  'syn-flood': () => import('./syn-flood.ts'),
  'slowloris': () => import('./slowloris.ts'),
  'heavy-hitter': () => import('./heavy-hitter.ts'),
  'tcp-incomplete': () => import('./tcp-incomplete.ts'),
  'split': () => import('./split.ts'),
  'cryptomining': () => import('./cryptomining.ts'),
  'rtt': () => import('./rtt.ts'),
  'ddos': () => import('./ddos.ts'),
  'int-collector': () => import('./int-collector.ts'),
};

export function builtinNames(): string[] {
  return Object.keys(loaders).sort();
}

export async function loadBuiltin(name: string): Promise<TaskDefinition<any> | undefined> {
  const l = loaders[name];
  return l ? (await l()).default : undefined;
}

/**
 * Path of a built-in's readable TypeScript query file, to show users what to copy: this folder
 * in a checkout; in the compiled package (dist/apps) the shipped sources in src/apps.
 */
export function builtinPath(name: string): string {
  const here = new URL(`./${name}.ts`, import.meta.url);
  const shipped = new URL(`../../src/apps/${name}.ts`, import.meta.url);
  return fileURLToPath(import.meta.url.endsWith('.ts') || !existsSync(shipped) ? here : shipped);
}
