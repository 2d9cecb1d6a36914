/**
 * Finds a task: a built-in application's name, or a query file (.ts or .js) loaded directly
 * (Node's type stripping: no build step). Query files import the API as 'intstream' from
 * anywhere on disk; a resolve hook maps that name to this checkout.
 */
import * as nodeModule from 'node:module';
import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { IntstreamError } from '../errors.ts';
import { builtinNames, builtinPath, loadBuiltin } from './index.ts';
import type { TaskDefinition } from '../query/task.ts';

/** '.ts' when running from the sources (a checkout), '.js' from the compiled package (dist/). */
const EXT = import.meta.url.endsWith('.ts') ? '.ts' : '.js';
let hooked = false;

/** 'intstream' → this installation's API, and TypeScript query files on any supported Node (query-hooks.ts). */
async function hookQueryFiles(): Promise<void> {
  if (hooked) return;
  hooked = true;
  const data = {
    apiUrl: new URL(`../index${EXT}`, import.meta.url).href,
    strip: !(process.features as { typescript?: unknown }).typescript,
  };
  const hooksUrl = new URL(`./query-hooks${EXT}`, import.meta.url);
  const m = nodeModule as unknown as { registerHooks?: (h: object) => void; register(url: URL, options: { data: unknown }): void };
  if (m.registerHooks) {
    const hooks = await import(hooksUrl.href) as typeof import('./query-hooks.ts');
    hooks.initialize(data);
    m.registerHooks({ resolve: hooks.resolve, load: hooks.load });
  } else {
    m.register(hooksUrl, { data });
  }
}

/** file:line of the first stack frame inside `file`, if any. */
export function locate(e: unknown, file: string): string {
  const text = `${(e as Error)?.stack ?? ''}`;
  const url = pathToFileURL(file).href;
  for (const cand of [url, file]) {
    const i = text.indexOf(cand + ':');
    if (i >= 0) {
      const m = /^:(\d+)(?::(\d+))?/.exec(text.slice(i + cand.length));
      if (m) return `${file}:${m[1]}${m[2] ? `:${m[2]}` : ''}`;
    }
  }
  return file;
}

/**
 * FILE:LINE:COLUMN of a syntax error, from the arrow Node puts at the top of its stack: a
 * "FILE:LINE" line, source lines, then a caret under the place at fault. The column exists only
 * as that caret, drawn against the line as shown: V8 copies a tab, the type stripper draws it as
 * spaces to the next multiple of 4; so the caret is walked back onto the file's own line. The
 * file is the one at fault, which may be a module the query file imports.
 */
export function syntaxLocation(e: unknown): string | undefined {
  const arrow = `${(e as Error)?.stack ?? ''}`.split('\n\n')[0].split('\n');
  const head = /^(.+):(\d+)$/.exec(arrow[0]);
  const caret = arrow.findLast((l) => /^[ \t]*\^+\s*$/.test(l));
  if (!head || caret === undefined) return undefined;
  const file = head[1].startsWith('file:') ? fileURLToPath(head[1]) : head[1];
  let line: string;
  try {
    line = readFileSync(file, 'utf8').split(/\r?\n/)[Number(head[2]) - 1] ?? '';
  } catch {
    return undefined;
  }
  const at = caret.indexOf('^');
  let cell = 0, i = 0;
  for (; i < line.length && cell < at; i++) cell = line[i] === '\t' && caret[cell] !== '\t' ? cell + 4 - cell % 4 : cell + 1;
  return `${file}:${head[2]}:${i + 1}`;
}

export async function loadTask(nameOrPath: string): Promise<{ def: TaskDefinition<any>; file: string }> {
  const builtin = await loadBuiltin(nameOrPath);
  if (builtin) return { def: builtin, file: builtinPath(nameOrPath) };
  const looksLikePath = /[\\/.]/.test(nameOrPath);
  const file = resolve(nameOrPath);
  if (!existsSync(file)) {
    if (!looksLikePath) {
      throw new IntstreamError('TASK_NOT_FOUND', `no built-in application named '${nameOrPath}'`, `built-in: ${builtinNames().join(', ')} (or give a path to a query file)`);
    }
    throw new IntstreamError('TASK_NOT_FOUND', `${nameOrPath}: no such query file`);
  }
  await hookQueryFiles();
  let mod: { default?: unknown };
  try {
    mod = await import(pathToFileURL(file).href);
  } catch (e) {
    const err = e as Error & { code?: string };
    const where = (err?.name === 'SyntaxError' && syntaxLocation(e)) || locate(e, file);
    const msg = (err.message ?? String(e)).split('\n')[0];
    throw new IntstreamError('TASK_INVALID', `${where}: ${err.name ?? 'Error'}: ${msg}`,
      err.code === 'ERR_UNSUPPORTED_TYPESCRIPT_SYNTAX' ? 'query files may use erasable TypeScript only (no enum, namespace or parameter properties)' : undefined);
  }
  const def = mod.default as TaskDefinition<any> | undefined;
  if (!def || typeof def !== 'object' || typeof def.query !== 'function') {
    throw new IntstreamError('TASK_INVALID', `${file}: has no default export made by defineTask({...})`, "end the file with: export default defineTask({ name, description, params, query })");
  }
  return { def, file };
}
