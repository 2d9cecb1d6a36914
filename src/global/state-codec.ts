/**
 * Bytes for the keyed state of a global stage (durable global state, see gsp-worker.ts), so a
 * GSP worker that takes a partition over can go on from the state its predecessor checkpointed.
 *
 * What a task's state may hold: plain objects (prototype Object or null), arrays, numbers
 * (NaN, +-Infinity and -0 included), strings, booleans, null, undefined, bigint, Map and Set,
 * nested in any way. Anything else (a function, a symbol, a Date, a typed array, an instance of
 * a class, an object with symbol keys, a cycle) is refused with a TASK_INVALID error that names
 * the place given by the caller (the task and its operator) and the path inside the state: the
 * task cannot be checkpointed, rather than being restored as something else. Shared references
 * (the same object reached twice, no cycle) come back as two copies.
 *
 * Format: JSON text of a tagged tree. Strings, booleans, null and finite numbers other than -0
 * are themselves; everything else is an array whose first element is a tag:
 *   ["a", ...items]   array (holes come back as undefined)
 *   ["o", k, v, ...]  plain object (keys in Object.keys order; "__proto__" is an own key again)
 *   ["m", k, v, ...]  Map (insertion order)
 *   ["s", ...items]   Set
 *   ["b", "123"]      bigint
 *   ["N"] ["I"] ["-I"] ["-0"] ["u"]   NaN, Infinity, -Infinity, -0, undefined
 * so a decoded value is deepStrictEqual to the encoded one (node:assert's rules for Map, Set,
 * NaN and -0). Not per packet: a checkpoint encodes a stage's whole state at most once per commit.
 */
import { IntstreamError } from '../errors.ts';

/** The JSON-able tree `tagState` makes. */
export type Tagged = string | number | boolean | null | Tagged[];

const ALLOWED = 'plain objects, arrays, numbers, strings, booleans, null, undefined, bigint, Map and Set';

function refuse(where: string, path: string, what: string): never {
  throw new IntstreamError('TASK_INVALID', `${where}: its state cannot be checkpointed: ${path} is ${what} (state may hold ${ALLOWED})`);
}

function describe(v: object): string {
  if (typeof v === 'function') return `a function${v.name ? ` (${v.name})` : ''}`;
  const ctor = (Object.getPrototypeOf(v) as { constructor?: { name?: string } } | null)?.constructor?.name;
  return ctor ? `an instance of ${ctor}` : 'an object of another kind';
}

/**
 * Nesting deeper than this is refused both ways (a task's state is a few levels deep; a changelog
 * record nested deeper is corrupt or hostile, and would overflow the stack while restored).
 */
export const MAX_STATE_DEPTH = 1000;

const keyPath = (path: string, k: string) => (/^[A-Za-z_$][\w$]*$/.test(k) ? `${path}.${k}` : `${path}[${JSON.stringify(k)}]`);

/** The tagged tree of `value`; refuses what it cannot restore (TASK_INVALID naming `where`). */
export function tagState(value: unknown, where: string): Tagged {
  const open = new Set<object>();
  const tag = (v: unknown, path: string, depth = 0): Tagged => {
    if (depth > MAX_STATE_DEPTH) refuse(where, path, `nesting deeper than ${MAX_STATE_DEPTH} levels`);
    switch (typeof v) {
      case 'string': case 'boolean': return v;
      case 'number':
        if (Number.isFinite(v)) return Object.is(v, -0) ? ['-0'] : v;
        return Number.isNaN(v) ? ['N'] : v > 0 ? ['I'] : ['-I'];
      case 'undefined': return ['u'];
      case 'bigint': return ['b', v.toString()];
      case 'symbol': return refuse(where, path, 'a symbol');
      case 'function': return refuse(where, path, describe(v));
    }
    if (v === null) return null;
    const o = v as object;
    if (open.has(o)) refuse(where, path, 'a cycle (an object that contains itself)');
    open.add(o);
    let out: Tagged[];
    if (Array.isArray(o)) {
      out = ['a'];
      for (let i = 0; i < o.length; i++) out.push(tag(o[i], `${path}[${i}]`, depth + 1));
    } else if (o instanceof Map) {
      out = ['m'];
      let i = 0;
      for (const [k, x] of o) { out.push(tag(k, `${path}.keys()[${i}]`, depth + 1), tag(x, `${path}.get(<key ${i}>)`, depth + 1)); i++; }
    } else if (o instanceof Set) {
      out = ['s'];
      let i = 0;
      for (const x of o) out.push(tag(x, `${path}.values()[${i++}]`, depth + 1));
    } else {
      const proto = Object.getPrototypeOf(o);
      if (proto !== Object.prototype && proto !== null) refuse(where, path, describe(o));
      if (Object.getOwnPropertySymbols(o).length > 0) refuse(where, path, 'an object with symbol keys');
      out = ['o'];
      for (const k of Object.keys(o)) out.push(k, tag((o as Record<string, unknown>)[k], keyPath(path, k), depth + 1));
    }
    open.delete(o);
    return out;
  };
  return tag(value, 'state');
}

function bad(why: string): never {
  throw new IntstreamError('TRANSPORT', `checkpointed state: not a state tree (${why})`);
}

/** The value of a tagged tree (the inverse of tagState). */
export function untagState(t: Tagged, depth = 0): unknown {
  if (!Array.isArray(t)) return t;
  if (depth > MAX_STATE_DEPTH) bad(`nesting deeper than ${MAX_STATE_DEPTH} levels`);
  const tagName = t[0];
  const d = depth + 1;
  switch (tagName) {
    case 'a': { const a = new Array(t.length - 1); for (let i = 1; i < t.length; i++) a[i - 1] = untagState(t[i], d); return a; }
    case 'o': {
      const o: Record<string, unknown> = {};
      for (let i = 1; i + 1 < t.length; i += 2) {
        const k = t[i];
        if (typeof k !== 'string') bad('an object key that is not a string');
        const x = untagState(t[i + 1], d);
        if (k === '__proto__') Object.defineProperty(o, k, { value: x, writable: true, enumerable: true, configurable: true });
        else o[k] = x;
      }
      return o;
    }
    case 'm': { const m = new Map(); for (let i = 1; i + 1 < t.length; i += 2) m.set(untagState(t[i], d), untagState(t[i + 1], d)); return m; }
    case 's': { const s = new Set(); for (let i = 1; i < t.length; i++) s.add(untagState(t[i], d)); return s; }
    case 'b': if (typeof t[1] !== 'string' || !/^-?\d+$/.test(t[1])) bad('a bigint without digits'); return BigInt(t[1]);
    case 'N': return NaN;
    case 'I': return Infinity;
    case '-I': return -Infinity;
    case '-0': return -0;
    case 'u': return undefined;
    default: return bad(`unknown tag ${JSON.stringify(tagName)}`);
  }
}

/** `value` as bytes (UTF-8 JSON of its tagged tree); TASK_INVALID naming `where` if it cannot be. */
export function encodeState(value: unknown, where: string): Buffer {
  return Buffer.from(JSON.stringify(tagState(value, where)), 'utf8');
}

/** The value `encodeState` wrote. */
export function decodeState(bytes: Uint8Array): unknown {
  let tree: Tagged;
  try { tree = JSON.parse(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8')) as Tagged; } catch (e) { return bad((e as Error).message); }
  return untagState(tree);
}
