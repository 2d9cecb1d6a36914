/**
 * The child process that validates a submitted query file for the runtime (validate-task.ts
 * starts it): loads the file named by argv[2], resolves the parameters and builds the plan, then
 * prints one JSON line: `{ok: true, name, global}` (the global stage's operator kinds) or
 * `{ok: false, code, message, hint}`. It runs unprivileged (`nobody` when the runtime is root),
 * under Node's permission model (reads only the package and the file; no writes, no child
 * processes), with a memory and a time limit and an empty environment. Messages name the file
 * "query file", never a path.
 *
 * stdin: `{params, window}` as JSON.
 */
import { readFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { loadTask } from '../apps/load-task.ts';
import { splitPlan } from '../query/pipeline.ts';
import { buildPlan, resolveParams } from '../query/task.ts';

const MAX_MESSAGE = 2000;

function clean(text: string, file: string): string {
  const url = pathToFileURL(file).href;
  return text.split(url).join('query file').split(file).join('query file').slice(0, MAX_MESSAGE);
}

async function main(): Promise<void> {
  const file = process.argv[2];
  let out: Record<string, unknown>;
  try {
    const input = JSON.parse(readFileSync(0, 'utf8')) as { params?: Record<string, string>; window?: number };
    const { def } = await loadTask(file);
    const params = resolveParams(def, input.params ?? {});
    const split = splitPlan(buildPlan(def, params, { window: input.window ?? 10 }));
    out = { ok: true, name: def.name, global: split.global.map((o) => o.kind) };
  } catch (e) {
    const err = e as { code?: unknown; message?: unknown; hint?: unknown };
    const code = typeof err?.code === 'string' && /^(TASK_INVALID|TASK_NOT_FOUND|FILTER_SYNTAX|USAGE)$/.test(err.code) ? err.code : 'TASK_INVALID';
    out = {
      ok: false, code,
      message: clean(typeof err?.message === 'string' ? err.message : String(e), file),
      ...(typeof err?.hint === 'string' ? { hint: clean(err.hint, file) } : {}),
    };
  }
  process.stdout.write(JSON.stringify(out) + '\n', () => process.exit(0));
}

void main();
