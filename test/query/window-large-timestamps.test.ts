/**
 * Window assignment at large timestamps (issue 12, finding 3): near 2^32, 2^53 and 2^60 s the
 * windows an element joins, its lateness and the results equal a brute-force reference of the
 * rule documented at the top of src/query/window-operators.ts. The reference shares no code
 * with it: it tries every candidate start in a generous range (every integer k, or every double)
 * and decides membership s <= ts < s + size in exact integer arithmetic (BigInt), so a rounded
 * sum cannot fool it.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { WindowAggregateOp } from '../../src/query/window-operators.ts';
import { count } from '../../src/query/aggregate.ts';
import type { Operator, StageEnv } from '../../src/query/operator.ts';
import { SkipCounters } from '../../src/decode/skip-counters.ts';
import { mulberry32 as rng } from '../../src/gen/prng.ts';

// ---- exact arithmetic on doubles ---------------------------------------------------------------
const dv = new DataView(new ArrayBuffer(8));
/** x * 2^1074 as a BigInt: every finite double is an integer multiple of 2^-1074. */
function exact(x: number): bigint {
  dv.setFloat64(0, x);
  const b = dv.getBigUint64(0);
  const e = Number((b >> 52n) & 0x7ffn);
  let m = b & ((1n << 52n) - 1n);
  if (e !== 0) m |= 1n << 52n;
  const r = m << BigInt(e === 0 ? 0 : e - 1);
  return b >> 63n ? -r : r;
}
/** The neighbouring double of x > 0, by its bit pattern. */
function step(x: number, up: boolean): number {
  dv.setFloat64(0, x);
  dv.setBigUint64(0, dv.getBigUint64(0) + (up ? 1n : -1n));
  return dv.getFloat64(0);
}
const holds = (s: number, size: number, ts: number) => exact(s) <= exact(ts) && exact(ts) < exact(s) + exact(size);
const endsBy = (s: number, size: number, t: number) => exact(s) + exact(size) <= exact(t);

// ---- the documented rule, by brute force -----------------------------------------------------
/** The starts of the windows an element at ts > 0 joins (whether closed or not), ascending. */
function reference(ts: number, size: number, slide: number): number[] {
  if (ts >= 2 ** 52 * slide) {
    // every double is a start: try all of them from beyond ts down to beyond ts - size
    if (size === slide) return [ts];
    const out: number[] = [];
    let x = ts;
    for (let i = 0; i < 3; i++) x = step(x, true);
    while (exact(x) + exact(size) > exact(ts) - exact(size)) { if (holds(x, size, ts)) out.push(x); x = step(x, false); }
    return out.reverse();
  }
  // starts k * slide (one rounding) for every integer k in a range wider than needed
  const lo = Math.floor((ts - size) / slide) - 4, hi = Math.floor(ts / slide) + 4;
  const all: number[] = [];
  for (let k = lo; k <= hi; k++) all.push(k * slide);
  const inside = all.filter((s) => holds(s, size, ts));
  const above = all.filter((s) => exact(s) > exact(ts))[0];
  if (size === slide) {
    const s0 = Math.floor(ts / size) * size;
    if (holds(s0, size, ts)) return [s0];
    return inside.length > 0 ? [inside[inside.length - 1]] : [above];
  }
  return inside.length > 0 ? inside : [above];
}

// ---- the operator under test ------------------------------------------------------------------
interface Out { start: number; end: number; value: number }
function op(size: number, slide: number) {
  const out: Out[] = [];
  const sink: Operator = { push: (r: any) => { out.push({ start: r.window.start, end: r.window.end, value: r.value }); }, advance: () => {}, finish: () => {} };
  const env: StageEnv = { skipped: new SkipCounters(), lateness: 0, sendProbe: async () => ({ ok: false, error: '' }) };
  const w = new WindowAggregateOp({ size, slide }, count(), false, sink, env, true);
  return { w, env, out };
}

/** The windows one element joins, as the operator sees it with the source's time at ts. */
function joined(ts: number, size: number, slide: number): { starts: number[]; late: number } {
  const { w, env, out } = op(size, slide);
  env.sourceWm = ts;
  w.push({}, ts, null);
  w.finish();
  return { starts: out.map((o) => o.start), late: env.skipped.counts.get('late') ?? 0 };
}

const CONFIGS: [number, number][] = [[1000, 5], [10, 5], [10, 10], [1000, 1000], [3, 1], [1, 0.25], [0.3, 0.1], [86400, 3600], [2, 2], [7, 3]];
const BASES = [2 ** 32, 2 ** 53, 2 ** 60];

/**
 * One element at 2^60 s in windows of 1000 s sliding by 5 s, in a child process with a time
 * limit: window assignment that loops for ever must fail these tests, not hang the run. The
 * tests below run in this process only once it has passed.
 */
const probe = (() => {
  const script = `
    import { WindowAggregateOp } from ${JSON.stringify(new URL('../../src/query/window-operators.ts', import.meta.url).href)};
    import { count } from ${JSON.stringify(new URL('../../src/query/aggregate.ts', import.meta.url).href)};
    const starts = [];
    const env = { skipped: { bump() { starts.push('late'); } }, lateness: 0, sourceWm: 2 ** 60 };
    const next = { push: (r) => starts.push(r.window.start - 2 ** 60), advance() {}, finish() {} };
    const w = new WindowAggregateOp({ size: 1000, slide: 5 }, count(), false, next, env, true);
    w.push({}, 2 ** 60, null);
    w.finish();
    console.log(JSON.stringify(starts));`;
  return spawnSync(process.execPath, ['--input-type=module', '-e', script], { timeout: 20_000, killSignal: 'SIGKILL', encoding: 'utf8' });
})();
const finite = () => assert.equal(probe.status, 0, `window assignment at 2^60 s did not end: exit ${probe.status} (${probe.signal ?? 'no signal'}) ${probe.stderr}`);

test('an element at 2^60 s in windows of 1000 s sliding by 5 s: counted, in finite time', () => {
  finite();
  // doubles are 128 s apart below 2^60: starts 2^60 - 896 ... 2^60 (hand-counted: 8), none late
  assert.deepEqual(JSON.parse(probe.stdout), [7, 6, 5, 4, 3, 2, 1, 0].map((i) => 128 * -i + 0));
  assert.deepEqual(joined(2 ** 60, 1000, 5), { starts: reference(2 ** 60, 1000, 5), late: 0 });
});

test('size 10, slide 5 at 2^60 s: not late, one window that holds it and closes after it', () => {
  finite();
  const { w, env, out } = op(10, 5);
  env.sourceWm = 2 ** 60;
  w.push({}, 2 ** 60, null);
  w.advance(2 ** 60); // the source's time is the element's: its window is still open
  assert.equal(out.length, 0);
  w.advance(step(2 ** 60, true)); // the next double, 256 s later: past 2^60 + 10
  assert.deepEqual(out.map((o) => [o.start, o.value]), [[2 ** 60, 1]]);
  assert.equal(env.skipped.counts.get('late'), undefined);
});

test('near 2^32, 2^53 and 2^60: the windows of each element equal the brute-force reference', () => {
  finite();
  const r = rng(12);
  for (const base of BASES) {
    for (const [size, slide] of CONFIGS) {
      const ulp = step(base, true) - base;
      for (let i = 0; i < 40; i++) {
        // at and around the base: whole doubles apart, up to a few windows on either side
        const span = Math.max(1, Math.ceil((3 * size) / ulp));
        const ts = base + (Math.floor(r() * 2 * span) - span) * (i < 20 ? ulp : Math.min(ulp, size / 7));
        const want = reference(ts, size, slide);
        const got = joined(ts, size, slide);
        assert.equal(got.late, 0, `ts ${ts}, size ${size}, slide ${slide}: late`);
        assert.deepEqual(got.starts, want, `ts ${ts}, size ${size}, slide ${slide}`);
        assert.ok(want.length >= 1 && want.length <= 2 * Math.ceil(size / slide) + 2);
      }
    }
  }
});

test('a run in time order near each base: counts per window equal the reference, nothing late, windows close in order', () => {
  finite();
  const r = rng(5);
  for (const base of BASES) {
    for (const [size, slide] of CONFIGS) {
      const ulp = step(base, true) - base;
      const gap = Math.max(ulp, size / 5);
      const times: number[] = [];
      let t = base - 5 * size;
      for (let i = 0; i < 60; i++) { t += Math.floor(r() * 3) * gap; times.push(t); }
      const { w, env, out } = op(size, slide);
      const want = new Map<number, number>();
      for (const [i, ts] of times.entries()) {
        env.sourceWm = ts;
        w.push({}, ts, null);
        for (const s of reference(ts, size, slide)) want.set(s, (want.get(s) ?? 0) + 1);
        if (i % 4 === 3) w.advance(ts);
      }
      w.finish();
      assert.equal(env.skipped.counts.get('late'), undefined, `base ${base} size ${size} slide ${slide}`);
      assert.deepEqual(out.map((o) => [o.start, o.value]), [...want].sort((a, b) => a[0] - b[0]), `base ${base} size ${size} slide ${slide}`);
      // a window is emitted only once the watermark passed its exact end
      for (const o of out) assert.equal(o.end, o.start + size);
    }
  }
});

test('late: an element behind the watermark is late exactly when every window holding it has ended', () => {
  finite();
  for (const base of BASES) {
    for (const [size, slide] of CONFIGS) {
      const ulp = step(base, true) - base;
      for (const back of [0, 1, 2, 3, 17]) {
        const ts = base, wm = base + back * Math.max(ulp, slide / 2);
        const { w, env } = op(size, slide);
        env.sourceWm = wm;
        w.push({}, ts, null);
        const open = reference(ts, size, slide).filter((s) => !endsBy(s, size, wm));
        assert.equal(env.skipped.counts.get('late') ?? 0, open.length === 0 ? 1 : 0, `base ${base} size ${size} slide ${slide} back ${back}`);
      }
    }
  }
});
