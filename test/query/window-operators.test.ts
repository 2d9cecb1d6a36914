/**
 * Window semantics (docs/contracts.md) against a brute-force reference: every element is put
 * in every window [s, s + size) with s a multiple of the slide and s <= t < s + size, results
 * come out in window order with keys sorted, whatever the batch boundaries (watermark steps).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildStage } from '../../src/query/pipeline.ts';
import { SkipCounters } from '../../src/decode/skip-counters.ts';
import { Plan, packetStream } from '../../src/query/stream.ts';
import { count, distinct, sum } from '../../src/query/aggregate.ts';
import type { StageEnv } from '../../src/query/operator.ts';
import { mulberry32 as rng } from '../../src/gen/prng.ts';


const env = (): StageEnv => ({ skipped: new SkipCounters(), lateness: 0, sendProbe: async () => ({ ok: false }) });

interface El { t: number; k: string; v: number }

function elements(n: number, seed: number): El[] {
  const r = rng(seed);
  let t = 1_700_000_000 + r() * 3;
  return Array.from({ length: n }, () => { t += r() * 0.05; return { t, k: `h${Math.floor(r() * 7)}`, v: Math.floor(r() * 100) }; });
}

/** Runs elements through a one-stage plan, advancing the watermark every `step` elements. */
function runPlan(plan: Plan, els: El[], step: number): { start: number; end: number; key: unknown; value: unknown }[] {
  const st = buildStage(plan.ops, env());
  let max = -Infinity;
  els.forEach((e, i) => {
    st.head.push(e, e.t, null);
    if (e.t > max) max = e.t;
    if ((i + 1) % step === 0) st.head.advance(max);
  });
  st.head.finish();
  return st.tail.items.map((r: any) => ({ start: r.window.start, end: r.window.end, key: r.key, value: r.value }));
}

function brute(els: El[], size: number, slide: number, f: (xs: El[]) => unknown) {
  const groups = new Map<string, El[]>();
  for (const e of els) {
    for (let s = Math.floor(e.t / slide) * slide; s > e.t - size; s -= slide) {
      const id = JSON.stringify([s, e.k]);
      (groups.get(id) ?? groups.set(id, []).get(id)!).push(e);
    }
  }
  return [...groups].map(([id, xs]) => { const [s, k] = JSON.parse(id); return { start: s, end: s + size, key: k, value: f(xs) }; })
    .sort((a, b) => a.start - b.start || (a.key < b.key ? -1 : 1));
}

for (const [size, slide] of [[1, 1], [0.5, 0.5], [2, 0.5], [3, 1]]) {
  test(`windows size ${size} s, slide ${slide} s: count, sum and distinct equal brute force, any batch size`, () => {
    const els = elements(3000, size * 10 + slide);
    for (const step of [1, 7, 100, 5000]) {
      const mk = (agg: any) => { const plan = new Plan(); (packetStream(plan) as any).key((e: El) => e.k).window({ size, slide }).aggregate(agg); return plan; };
      assert.deepEqual(runPlan(mk(count()), els, step), brute(els, size, slide, (xs) => xs.length), `count, step ${step}`);
      assert.deepEqual(runPlan(mk(sum((e: El) => e.v)), els, step), brute(els, size, slide, (xs) => xs.reduce((a, x) => a + x.v, 0)), `sum, step ${step}`);
      assert.deepEqual(runPlan(mk(distinct((e: El) => e.v % 10)), els, step), brute(els, size, slide, (xs) => new Set(xs.map((x) => x.v % 10)).size), `distinct, step ${step}`);
    }
  });
}

test('window boundaries: start inclusive, end exclusive, aligned to the epoch', () => {
  const els: El[] = [9.999999, 10, 19.999999, 20].map((t) => ({ t: 1_700_000_000 + t, k: 'a', v: 1 }));
  const plan = new Plan();
  (packetStream(plan) as any).key((e: El) => e.k).window(10).aggregate(count());
  assert.deepEqual(runPlan(plan, els, 1).map((r) => [r.start - 1_700_000_000, r.value]), [[0, 1], [10, 2], [20, 1]]);
});

test('transform sees every element of its window and key; out() can emit under another key', () => {
  const els = elements(500, 9);
  const plan = new Plan();
  (packetStream(plan) as any).key((e: El) => e.k).window(1).transform((xs: El[], out: any, ctx: any) => {
    out(xs.map((x) => x.v).sort((a, b) => a - b));
    if (ctx.key === 'h0') out(ctx.window.end - ctx.window.start, 'width');
  });
  const got = runPlan(plan, els, 13);
  const want = brute(els, 1, 1, (xs) => xs.map((x) => x.v).sort((a, b) => a - b));
  assert.deepEqual(got.filter((r) => r.key !== 'width'), want);
  assert.ok(got.some((r) => r.key === 'width' && r.value === 1));
});

test('keyed state outlives windows and expires after idleTimeout of event time, independent of batch size', () => {
  // Per key: a running sequence number; on expiry, emit how many elements the state saw.
  const els = elements(2000, 4);
  const ref: string[] = [];
  {
    const last = new Map<string, { n: number; last: number }>();
    for (const e of els) {
      const s = last.get(e.k);
      if (s && e.t - s.last > 0.4) { ref.push(`${e.k}:${s.n}@${(s.last + 0.4).toFixed(6)}`); last.delete(e.k); }
      const cur = last.get(e.k) ?? { n: 0, last: e.t };
      cur.n++; cur.last = e.t; last.set(e.k, cur);
    }
    for (const [k, s] of [...last].sort()) ref.push(`${k}:${s.n}@${(s.last + 0.4).toFixed(6)}`);
  }
  for (const step of [1, 50, 10_000]) {
    const plan = new Plan();
    (packetStream(plan) as any).key((e: El) => e.k).process({
      init: () => ({ n: 0 }),
      onItem: (_e: El, s: { n: number }) => { s.n++; },
      idleTimeout: 0.4,
      onExpire: (s: { n: number }, out: any, ctx: any) => out(`${ctx.key}:${s.n}@${ctx.ts.toFixed(6)}`),
    });
    const st = buildStage(plan.ops, env());
    let max = -Infinity;
    els.forEach((e, i) => { st.head.push(e, e.t, e.k); if (e.t > max) max = e.t; if ((i + 1) % step === 0) st.head.advance(max); });
    st.head.finish();
    // Expiries noticed by the watermark come out at watermark steps, those noticed by a new
    // element at that element: the set and each expiry's time are the same for any step.
    assert.deepEqual([...st.tail.items].sort(), [...ref].sort(), `step ${step}`);
  }
});
