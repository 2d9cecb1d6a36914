/**
 * Module hooks for query files: the bare name 'intstream' resolves to this installation's public
 * API (src/index.ts in a checkout, dist/index.js in an installed package), wherever the query
 * file lives on disk; and a TypeScript query file loads on any supported Node:
 *   - Node with type stripping on (22.18+, 23.6+, 24): Node strips the types itself;
 *   - Node with `module.stripTypeScriptTypes` but stripping off (22.13-22.17): that function;
 *   - Node 20: the `amaro` package, the same stripper Node itself bundles.
 * Stripping only erases types (no enum, namespace or parameter properties), as Node does.
 *
 * Registered synchronously with `module.registerHooks` where Node has it (22.15+), else through
 * `module.register` (Node 20.6+, hooks on a loader thread: this file is then loaded there and
 * gets the API's URL through `initialize`). The same two functions serve both: neither looks
 * into what `next` returns, so a Promise from the async chain passes through unchanged.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { createRequire } from 'node:module';
import * as nodeModule from 'node:module';

interface HookData { apiUrl: string; strip: boolean }
let data: HookData = { apiUrl: '', strip: false };

type Stripper = (source: string, url: string) => string;
let stripper: Stripper | undefined;

function strip(source: string, url: string): string {
  if (!stripper) {
    const native = (nodeModule as { stripTypeScriptTypes?: (code: string, options?: { mode?: string; sourceUrl?: string }) => string }).stripTypeScriptTypes;
    if (native) stripper = (s, u) => native(s, { mode: 'strip', sourceUrl: u });
    else {
      const amaro = createRequire(import.meta.url)('amaro') as { transformSync(code: string, options: { mode: string }): { code: string } };
      stripper = (s, u) => {
        try {
          return amaro.transformSync(s, { mode: 'strip-only' }).code;
        } catch (e) {
          throw strippedError(e, u);
        }
      };
    }
  }
  return stripper(source, url);
}

/**
 * amaro throws a plain object ({ code, message, snippet, startLine }); this makes it the error
 * Node's own stripper throws, whose stack opens with "URL:LINE" and the snippet with its caret
 * (load-task.ts reads the place from there).
 */
export function strippedError(e: unknown, url: string): unknown {
  const a = e as { code?: string; message?: string; snippet?: string; startLine?: number } | null;
  if (typeof a?.startLine !== 'number') return e;
  const err = new SyntaxError(a.message) as SyntaxError & { code: string };
  err.code = a.code === 'UnsupportedSyntax' ? 'ERR_UNSUPPORTED_TYPESCRIPT_SYNTAX' : 'ERR_INVALID_TYPESCRIPT_SYNTAX';
  err.stack = `${url}:${a.startLine}\n${a.snippet ?? ''}\n${err.stack}`;
  return err;
}

export function initialize(d: HookData): void {
  data = d;
}

const TS_FILE = /\.(?:m?ts)$/;

interface ResolveResult { url: string; format?: string | null; shortCircuit?: boolean }
interface LoadResult { format: string; source?: string | Buffer; shortCircuit?: boolean }

export function resolve(specifier: string, context: unknown, next: (s: string, c?: unknown) => ResolveResult): ResolveResult {
  if (specifier === 'intstream') {
    return { url: data.apiUrl, shortCircuit: true, format: data.apiUrl.endsWith('.ts') ? 'module-typescript' : 'module' };
  }
  return next(specifier, context);
}

export function load(url: string, context: unknown, next: (u: string, c?: unknown) => LoadResult): LoadResult {
  if (data.strip && url.startsWith('file:') && TS_FILE.test(url)) {
    return { format: 'module', source: strip(readFileSync(fileURLToPath(url), 'utf8'), url), shortCircuit: true };
  }
  return next(url, context);
}
