/**
 * The fuzzing harness (issue 12): kinds of inputs, each a generator and a checker, run in
 * process by `runRange` (scripts/fuzz.ts runs it in a worker thread under a watchdog; the short
 * test test/fuzz/fuzz-short.test.ts runs it directly).
 *
 * Determinism: input j of a kind is a pure function of (seed, kind, j): its generator gets a
 * PRNG seeded from those three, and the seed material (pools.ts) is read in a fixed order. So
 * any input can be made again from its numbers alone (the watchdog does that for a hang), and
 * a run is the same on every machine. Input i of a run is input floor(i / k) of kind i mod k
 * for the k kinds run.
 *
 * A failure is an exception from the code under test (other than the documented typed errors,
 * which each kind allows where they apply), a broken check (FuzzCheck), or an input slower than
 * the time limit. It is shrunk (`minimize`) while it fails the same way, and saved as a
 * crasher (test/fixtures/fuzz/*.json: kind, seed, index, error and the input itself), which
 * `npm run fuzz -- --replay FILE` and the short test run again.
 */
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { mulberry32 } from '../../src/gen/prng.ts';
import type { Pools } from './pools.ts';

export const CRASHER_DIR = fileURLToPath(new URL('../fixtures/fuzz/', import.meta.url));

/** A broken property (as opposed to an exception thrown by the code under test). */
export class FuzzCheck extends Error {
  constructor(message: string) { super(message); this.name = 'FuzzCheck'; }
}

export function check(ok: unknown, message: string | (() => string)): asserts ok {
  if (!ok) throw new FuzzCheck(typeof message === 'string' ? message : message());
}

// ---- randomness -------------------------------------------------------------------------------

export interface Rng {
  /** A float in [0, 1). */
  (): number;
}
export const int = (r: Rng, n: number): number => Math.floor(r() * n);
export const pick = <T>(r: Rng, a: readonly T[]): T => a[Math.floor(r() * a.length)];
export const chance = (r: Rng, p: number): boolean => r() < p;

/** A 32-bit seed for input j of kind k of a run seeded `seed` (murmur3's finaliser over the three). */
export function inputSeed(seed: number, kind: number, j: number): number {
  let h = (seed ^ Math.imul(kind + 1, 0x9e3779b1)) >>> 0;
  for (const x of [j >>> 0, Math.floor(j / 4294967296)]) {
    h = Math.imul(h ^ x, 0xcc9e2d51);
    h = (h << 15) | (h >>> 17);
    h = Math.imul(h, 0x1b873593);
    h ^= h >>> 16;
    h = Math.imul(h, 0x85ebca6b);
    h ^= h >>> 13;
  }
  return h >>> 0;
}

// ---- kinds --------------------------------------------------------------------------------------

/** Inputs are plain JSON, with byte arrays (written as hex in crasher files). */
export type Input = Record<string, unknown>;

export interface Kind<I extends Input = Input> {
  name: string;
  doc: string;
  gen(r: Rng, pools: Pools): I;
  /** Throws on a failure; async where the code under test is (the capture reader). */
  run(input: I, pools: Pools): void | Promise<void>;
  /** Smaller variants of a failing input, tried in order by `minimize`. */
  shrink?(input: I): Iterable<I>;
  /** A size for choosing the smallest failing input (default: its JSON length). */
  size?(input: I): number;
}

// ---- serialisation ------------------------------------------------------------------------------

export function serialize(input: unknown): string {
  return JSON.stringify(input, (_k, v: unknown) => {
    if (v instanceof Uint8Array) return { $hex: Buffer.from(v).toString('hex') };
    if (typeof v === 'bigint') return { $bigint: v.toString() };
    if (typeof v === 'number' && !Number.isFinite(v)) return { $number: String(v) };
    return v;
  });
}

export function deserialize<T = Input>(text: string): T {
  return JSON.parse(text, (_k, v: unknown) => {
    if (v && typeof v === 'object' && !Array.isArray(v)) {
      const o = v as Record<string, unknown>;
      if (typeof o.$hex === 'string') return new Uint8Array(Buffer.from(o.$hex, 'hex'));
      if (typeof o.$bigint === 'string') return BigInt(o.$bigint);
      if (typeof o.$number === 'string') return Number(o.$number);
    }
    return v;
  }) as T;
}

export function inputSize(kind: Kind, input: Input): number {
  return kind.size ? kind.size(input) : serialize(input).length;
}

// ---- running --------------------------------------------------------------------------------

export interface Failure {
  kind: string;
  seed: number;
  /** Index of the input within its kind (input j of `kind` for `seed`). */
  index: number;
  /** Same-failure key: the error's class and first line with numbers elided. */
  signature: string;
  error: string;
  input: Input;
  /** Size of the original (unshrunk) input and of the saved one. */
  originalSize: number;
  size: number;
}

export function describeError(e: unknown): string {
  if (e instanceof Error) return `${e.name}${(e as { code?: string }).code ? ` ${(e as { code?: string }).code}` : ''}: ${e.message}${e instanceof FuzzCheck ? '' : `\n${(e.stack ?? '').split('\n').slice(1, 8).join('\n')}`}`;
  return `thrown non-error: ${String(e)}`;
}

export function signatureOf(kind: string, error: string): string {
  const first = error.split('\n')[0].replace(/0x[0-9a-f]+/gi, 'H').replace(/\d+(\.\d+)?(e[+-]?\d+)?/gi, 'N');
  return `${kind}: ${first.slice(0, 160)}`;
}

/** Runs one input; resolves to the error text of a failure, or null. */
export async function runInput(kind: Kind, input: Input, pools: Pools, timeLimitMs: number): Promise<string | null> {
  const t0 = performance.now();
  try {
    const r = kind.run(input, pools);
    if (r !== undefined) await r;
  } catch (e) {
    return describeError(e);
  }
  const ms = performance.now() - t0;
  if (ms > timeLimitMs) return `Slow: took ${ms.toFixed(0)} ms (time limit ${timeLimitMs} ms)`;
  return null;
}

/** The smallest variant of a failing input that fails with the same signature (bounded effort). */
export async function minimize(kind: Kind, input: Input, signature: string, pools: Pools, timeLimitMs: number, budgetMs = 3000): Promise<{ input: Input; error: string | null }> {
  if (!kind.shrink) return { input, error: null };
  const until = performance.now() + budgetMs;
  let best = input, bestError: string | null = null;
  for (let progress = true; progress && performance.now() < until;) {
    progress = false;
    for (const c of kind.shrink(best)) {
      if (performance.now() >= until) break;
      const err = await runInput(kind, c, pools, timeLimitMs);
      if (err !== null && signatureOf(kind.name, err) === signature && inputSize(kind, c) < inputSize(kind, best)) {
        best = c; bestError = err; progress = true;
        break;
      }
    }
  }
  return { input: best, error: bestError };
}

export interface RangeOptions {
  seed: number;
  kinds: Kind[];
  /** Run-wide input numbers [start, start + count). */
  start: number;
  count: number;
  timeLimitMs: number;
  pools: Pools;
  /** Called before each input (the watchdog's heartbeat). */
  onStart?(i: number): void;
  onProgress?(done: number, perKind: number[], failures: number[]): void;
  /** A failure of a new kind, or a smaller input failing like an earlier one (the one to keep). */
  onFailure?(f: Failure, count: number): void;
  /** Shrink the first failure of each kind before reporting it (default true). */
  minimize?: boolean;
  /** The kind indices of `kinds` in the run-wide numbering (default 0..k-1). */
  kindIds?: number[];
}

/** Which kind and which input of it run-wide input i is. */
export function locate(i: number, k: number): { kind: number; index: number } {
  return { kind: i % k, index: Math.floor(i / k) };
}

export interface RangeResult {
  perKind: number[];
  /** Failed inputs per kind. */
  failedPerKind: number[];
  /** Per distinct failure (signature): how many inputs failed so, and the smallest of them. */
  failures: Map<string, { count: number; best: Failure }>;
}

export async function runRange(o: RangeOptions): Promise<RangeResult> {
  const k = o.kinds.length;
  const perKind = new Array<number>(k).fill(0), failedPerKind = new Array<number>(k).fill(0);
  const failures = new Map<string, { count: number; best: Failure }>();
  let lastProgress = performance.now();
  for (let i = o.start; i < o.start + o.count; i++) {
    const { kind: ki, index } = locate(i, k);
    const kind = o.kinds[ki];
    o.onStart?.(i);
    const input = kind.gen(mulberry32(inputSeed(o.seed, o.kindIds?.[ki] ?? ki, index)), o.pools);
    const err = await runInput(kind, input, o.pools, o.timeLimitMs);
    perKind[ki]++;
    if (err !== null) {
      failedPerKind[ki]++;
      const signature = signatureOf(kind.name, err);
      const known = failures.get(signature);
      const size = inputSize(kind, input);
      if (known) known.count++;
      if (!known || size < known.best.originalSize) {
        let saved = input, savedErr = err;
        if (!known && o.minimize !== false && !err.startsWith('Slow')) {
          const m = await minimize(kind, input, signature, o.pools, o.timeLimitMs);
          saved = m.input; savedErr = m.error ?? err;
        }
        const f: Failure = { kind: kind.name, seed: o.seed, index, signature, error: savedErr, input: saved, originalSize: size, size: inputSize(kind, saved) };
        if (!known || f.size < known.best.size) {
          if (known) known.best = f; else failures.set(signature, { count: 1, best: f });
          o.onFailure?.(f, failures.get(signature)!.count);
        }
      }
    }
    if (o.onProgress && (i & 255) === 255 && performance.now() - lastProgress > 1000) {
      lastProgress = performance.now();
      o.onProgress(i + 1 - o.start, perKind, failedPerKind);
    }
  }
  o.onProgress?.(o.count, perKind, failedPerKind);
  return { perKind, failedPerKind, failures };
}

// ---- crasher files ------------------------------------------------------------------------------

export interface Crasher {
  kind: string;
  seed: number;
  index: number;
  signature: string;
  error: string;
  input: Input;
}

/** Writes a crasher fixture (named by its kind and a hash of its input); returns its path. */
export function saveCrasher(f: Failure, dir = CRASHER_DIR): string {
  mkdirSync(dir, { recursive: true });
  const body = serialize({ kind: f.kind, seed: f.seed, index: f.index, signature: f.signature, error: f.error, input: f.input });
  const name = `${f.kind}-${createHash('sha256').update(serialize(f.input)).digest('hex').slice(0, 12)}.json`;
  const path = join(dir, name);
  writeFileSync(path, `${JSON.stringify(JSON.parse(body), null, 1)}\n`);
  return path;
}

export function loadCrasher(path: string): Crasher {
  return deserialize<Crasher>(readFileSync(path, 'utf8'));
}

export function crasherFiles(dir = CRASHER_DIR): string[] {
  try {
    return readdirSync(dir).filter((f) => f.endsWith('.json')).sort().map((f) => join(dir, f));
  } catch {
    return [];
  }
}
