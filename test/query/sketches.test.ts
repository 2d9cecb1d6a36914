/**
 * The approximate structures keep their promises, checked against exact counts of the same
 * random streams: count-min never underestimates and stays within its error bound; merging two
 * sketches equals sketching the union; bloom filters have no false negatives; HyperLogLog is
 * within a few standard errors.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BloomFilter, CountMinSketch, HyperLogLog } from '../../src/query/sketches.ts';
import { mulberry32 as rng } from '../../src/gen/prng.ts';


/** A skewed stream of addresses: a few heavy, many light. */
function stream(n: number, seed: number): string[] {
  const r = rng(seed);
  return Array.from({ length: n }, () => { const x = r(); return x < 0.3 ? `10.0.0.${Math.floor(r() * 5)}` : `172.16.${Math.floor(r() * 64)}.${Math.floor(r() * 256)}`; });
}

function exact(items: string[]): Map<string, number> {
  const m = new Map<string, number>();
  for (const x of items) m.set(x, (m.get(x) ?? 0) + 1);
  return m;
}

test('count-min: never below the true count, within e*N/width with probability 1 - e^-depth', () => {
  const items = stream(50_000, 1);
  const s = new CountMinSketch(512, 4);
  for (const x of items) s.add(x);
  const truth = exact(items);
  let over = 0;
  for (const [k, c] of truth) {
    const e = s.estimate(k);
    assert.ok(e >= c, `${k}: estimate ${e} < true ${c}`);
    if (e - c > (Math.E * items.length) / 512) over++;
  }
  assert.ok(over / truth.size < 0.05, `${over} of ${truth.size} keys beyond the error bound`);
  assert.equal(s.total, items.length);
  for (let r = 0; r < 4; r++) assert.equal(s.table.subarray(r * 512, (r + 1) * 512).reduce((a, b) => a + b, 0), items.length, `row ${r} sums to the total`);
});

test('count-min: merge of two sketches equals the sketch of both streams; JSON round trip', () => {
  const a = stream(10_000, 2), b = stream(10_000, 3);
  const sa = new CountMinSketch(256, 3), sb = new CountMinSketch(256, 3), sab = new CountMinSketch(256, 3);
  for (const x of a) { sa.add(x); sab.add(x); }
  for (const x of b) { sb.add(x); sab.add(x); }
  sa.merge(CountMinSketch.fromJSON(JSON.parse(JSON.stringify(sb))));
  assert.deepEqual(Array.from(sa.table), Array.from(sab.table));
  assert.equal(sa.total, 20_000);
  assert.throws(() => sa.merge(new CountMinSketch(128, 3)), /different shapes/);
});

test('bloom filter: no false negatives; false positives near the designed rate', () => {
  const f = BloomFilter.forCapacity(5000, 0.01);
  for (let i = 0; i < 5000; i++) f.add(`in-${i}`);
  for (let i = 0; i < 5000; i++) assert.ok(f.has(`in-${i}`));
  let fp = 0;
  for (let i = 0; i < 20_000; i++) if (f.has(`out-${i}`)) fp++;
  assert.ok(fp / 20_000 < 0.02, `false positive rate ${fp / 20_000}`);
  const g = BloomFilter.fromJSON(JSON.parse(JSON.stringify(f)));
  const h = new BloomFilter(f.bits, f.hashes);
  h.add('other');
  g.merge(h);
  assert.ok(g.has('other') && g.has('in-7'));
});

test('HyperLogLog: within 4 standard errors of the exact distinct count; merge is a union', () => {
  for (const n of [10, 1000, 50_000]) {
    const h = new HyperLogLog(12);
    for (let i = 0; i < n; i++) h.add(`host-${i}`);
    const err = Math.abs(h.count() - n) / n;
    assert.ok(err < 4 * 1.04 / Math.sqrt(4096), `n=${n}: estimate ${h.count()}`);
  }
  const a = new HyperLogLog(10), b = new HyperLogLog(10);
  for (let i = 0; i < 3000; i++) a.add(`x${i}`);
  for (let i = 1500; i < 4500; i++) b.add(`x${i}`);
  const est = HyperLogLog.fromJSON(JSON.parse(JSON.stringify(a))).merge(b).count();
  assert.ok(Math.abs(est - 4500) / 4500 < 4 * 1.04 / 32, `union estimate ${est}`);
});

test('hashPair gives the two seeded hashes of one pass, equal to two hashString calls', async () => {
  const sk = await import('../../src/query/sketches.ts');
  const keys = ['', 'a', '10.0.0.1', '2001:db8::1', '::ffff:192.0.2.1', 'é€😀', 'x'.repeat(1000)];
  for (let i = 0; i < 2000; i++) keys.push(String.fromCharCode(...Array.from({ length: i % 40 }, (_, k) => (i * 7919 + k * 104729) % 0xffff)));
  for (const [a, b] of [[0, 0x9747b28c], [1, 0x5bd1e995], [0xffffffff, 0]]) {
    for (const k of keys) {
      assert.equal(sk.hashPair(k, a, b), sk.hashString(k, a), `first hash of ${JSON.stringify(k)}`);
      assert.equal(sk.pairSecond, sk.hashString(k, b), `second hash of ${JSON.stringify(k)}`);
    }
  }
});
