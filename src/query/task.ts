/**
 * A task: a name, parameters with defaults, and a query built from the packet stream. Query
 * files `export default defineTask({...})`.
 */
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { Packet } from '../decode/packet.ts';
import { IntstreamError } from '../errors.ts';
import { packetStream, Plan, type KeyedStream, type Stream, type WindowResult } from './stream.ts';

export type ParamValue = number | string | boolean;

export interface ParamSpec<V extends ParamValue = ParamValue> {
  default: V;
  description: string;
}

export type ParamValues<P extends Record<string, ParamSpec>> = { [K in keyof P]: P[K]['default'] extends number ? number : P[K]['default'] extends boolean ? boolean : string };

/** Run-wide settings every query receives next to its own parameters. */
export interface RunSettings {
  /** --window, seconds (default 10). */
  window: number;
}

export interface TaskDefinition<P extends Record<string, ParamSpec> = Record<string, ParamSpec>> {
  name: string;
  description: string;
  params: P;
  /** What the key and value of a result mean, for `intstream apps`. */
  output?: { key: string; value: string };
  query(packets: Stream<Packet>, params: ParamValues<P> & RunSettings): Stream<any> | KeyedStream<any, any> | { plan?: never };
}

export function defineTask<P extends Record<string, ParamSpec>>(def: TaskDefinition<P>): TaskDefinition<P> {
  if (!def || typeof def.name !== 'string' || !/^[a-z0-9][a-z0-9-]*$/.test(def.name)) {
    throw new IntstreamError('TASK_INVALID', `a task needs a name of lower-case letters, digits and dashes (got ${JSON.stringify(def?.name)})`);
  }
  if (typeof def.query !== 'function') throw new IntstreamError('TASK_INVALID', `task ${def.name}: query must be a function (packets, params) => stream`);
  return def;
}

/** Parses --param k=v strings against a task's declared parameters. */
export function resolveParams(def: TaskDefinition, given: Record<string, string>): Record<string, ParamValue> {
  const out: Record<string, ParamValue> = {};
  for (const [k, spec] of Object.entries(def.params ?? {})) out[k] = spec.default;
  for (const [k, raw] of Object.entries(given)) {
    const spec = def.params?.[k];
    if (!spec) {
      const known = Object.keys(def.params ?? {});
      throw new IntstreamError('USAGE', `task ${def.name} has no parameter '${k}'`, known.length ? `its parameters: ${known.join(', ')}` : 'it takes no parameters');
    }
    if (typeof spec.default === 'number') {
      const n = Number(raw);
      if (raw.trim() === '' || !Number.isFinite(n)) throw new IntstreamError('USAGE', `--param ${k}=${raw}: not a number`);
      out[k] = n;
    } else if (typeof spec.default === 'boolean') {
      if (!/^(true|false|1|0|yes|no)$/i.test(raw)) throw new IntstreamError('USAGE', `--param ${k}=${raw}: expected true or false`);
      out[k] = /^(true|1|yes)$/i.test(raw);
    } else out[k] = raw;
  }
  return out;
}

const OWN_SRC = new URL('../', import.meta.url).href;

/** file:line of the query's own code in an error's stack (the first frame outside intstream's engine). */
function queryFrame(e: unknown): string | null {
  const stack = String((e as Error)?.stack ?? '');
  for (const m of stack.matchAll(/((?:file:\/\/)?\/[^\s()]+?):(\d+):\d+\)?\s*$/gm)) {
    const url = m[1].startsWith('file://') ? m[1] : pathToFileURL(m[1]).href;
    if ((url.startsWith(OWN_SRC) && !url.startsWith(`${OWN_SRC}apps/`)) || url.includes('/node_modules/')) continue;
    return `${fileURLToPath(url)}:${m[2]}`;
  }
  return null;
}

/** What each builder step returns, and the operators that type offers (docs/api.md's table). */
const RETURNS: Record<string, string> = {
  filter: 'Stream', map: 'Stream', flatMap: 'Stream', key: 'KeyedStream', window: 'WindowedStream', global: 'GlobalStream',
  merge: 'Stream', aggregate: 'Stream', count: 'Stream', reduce: 'Stream', transform: 'Stream', process: 'KeyedStream',
};
const OFFERS: Record<string, string[]> = {
  Stream: ['filter', 'map', 'flatMap', 'key', 'window', 'global'],
  KeyedStream: ['filter', 'map', 'window', 'process'],
  WindowedStream: ['aggregate', 'count', 'reduce', 'transform'],
  GlobalStream: ['filter', 'map', 'flatMap', 'key', 'window', 'merge'],
};

/**
 * The engine's own message for `stream.op is not a function` (V8's "a(...).b(...).op is not a
 * function"): which step cannot follow which, and what may follow it instead. Null when the
 * TypeError is about something else.
 */
function misplacedOperator(text: string): { message: string; hint: string } | null {
  const m = /\.(\w+)\((?:\.\.\.)?\)\.(\w+) is not a function/.exec(text);
  if (!m || !(m[1] in RETURNS) || !Object.values(OFFERS).some((ops) => ops.includes(m[2]))) return null;
  // filter and map keep a keyed stream keyed: a plain Stream would have offered the operator
  const type = (m[1] === 'filter' || m[1] === 'map') && OFFERS.Stream.includes(m[2]) ? 'KeyedStream' : RETURNS[m[1]];
  // past the cut (merge() follows global()), a second global() is no option
  const offers = m[1] === 'merge' ? OFFERS[type].filter((o) => o !== 'global') : OFFERS[type];
  return {
    message: `${m[2]}() cannot follow ${m[1]}(): ${m[1]}() returns a ${type}, which offers ${offers.map((o) => `${o}()`).join(', ')}`,
    hint: m[2] === 'transform' ? 'key and window first: .key(fn).window(s).transform(...) (see docs/api.md, "Stream types and their operators")'
      : m[2] === 'global' ? 'a global() cut follows an unkeyed stream, usually a windowed aggregate; keyed state that ends the chain runs without a cut (see docs/api.md)'
        : m[2] === 'process' ? 'key first: .key(fn).process({...}) (see docs/api.md)'
          : 'see docs/api.md, "Stream types and their operators"',
  };
}

/** Builds the plan of a task for given parameters. */
export function buildPlan(def: TaskDefinition, params: Record<string, ParamValue>, settings: RunSettings): Plan {
  const plan = new Plan();
  let result: unknown;
  try {
    result = def.query(packetStream(plan), { ...params, ...settings } as any);
  } catch (e) {
    const at = queryFrame(e);
    const where = at ? `${at}: ` : '';
    if (e instanceof IntstreamError) throw new IntstreamError(e.code === 'FILTER_SYNTAX' ? 'FILTER_SYNTAX' : 'TASK_INVALID', `${where}task ${def.name}: ${e.message}`, e.hint);
    const misplaced = e instanceof TypeError ? misplacedOperator(e.message) : null;
    if (misplaced) throw new IntstreamError('TASK_INVALID', `${where}task ${def.name}: ${misplaced.message}`, misplaced.hint);
    throw new IntstreamError('TASK_INVALID', `${where}task ${def.name}: query failed: ${(e as Error).message}`);
  }
  if (!result || typeof result !== 'object' || !('plan' in (result as object))) {
    throw new IntstreamError('TASK_INVALID', `task ${def.name}: query must return the stream it built (did you forget 'return'?)`);
  }
  return plan;
}

export type { WindowResult };
