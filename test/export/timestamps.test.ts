/**
 * The record format's int64 nanosecond times, written and read without BigInt
 * (src/sources/packet-record-schema.ts), against BigInt arithmetic as the reference: the ns count the
 * writer stores for a time read from a microsecond capture is exactly SEC * 1e9 + USEC * 1000,
 * the reader gives back exactly the seconds and nanoseconds stored, and the time a reader
 * rebuilds (sec + ns / 1e9) is the very double the capture reader produced.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { NsReader, NsWriter } from '../../src/sources/packet-record-schema.ts';
import { joinTimestamp } from '../../src/sources/packet-batch.ts';

/** A small deterministic PRNG (mulberry32), so failures repeat. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function stored(words: Int32Array): bigint {
  return (BigInt(words[1]) << 32n) | BigInt(words[0] >>> 0);
}

test('microsecond times are stored exactly as SEC*1e9 + USEC*1000 and read back to the same double', () => {
  const rnd = prng(1);
  const w = new NsWriter(), r = new NsReader(), words = new Int32Array(2);
  const secs = [0, 1, 4294967295, 4294967296, 1700000000, 2000000000, 8589934591];
  for (let k = 0; k < 200_000; k++) {
    const sec = k < secs.length * 3 ? secs[k % secs.length] : Math.floor(rnd() * 8589934592);
    const usec = k % 3 === 0 ? 999_999 : k % 3 === 1 ? 0 : Math.floor(rnd() * 1e6);
    const ts = joinTimestamp(sec, usec / 1e6); // as the capture reader computes it
    w.write(words, 0, ts);
    assert.equal(stored(words), BigInt(sec) * 1_000_000_000n + BigInt(usec) * 1000n, `sec ${sec} usec ${usec}`);
    r.read(words[0], words[1]);
    assert.equal(r.sec, sec);
    assert.equal(r.ns, usec * 1000);
    assert.equal(joinTimestamp(r.sec, r.ns / 1e9), ts);
  }
});

test('nanosecond times: the stored count gives back the same double, within the double\'s precision of the true time', () => {
  const rnd = prng(2);
  const w = new NsWriter(), r = new NsReader(), words = new Int32Array(2);
  let exactBack = 0;
  const N = 200_000;
  for (let k = 0; k < N; k++) {
    const sec = 1_600_000_000 + Math.floor(rnd() * 200_000_000);
    const nsec = Math.floor(rnd() * 1e9);
    const ts = joinTimestamp(sec, nsec / 1e9);
    w.write(words, 0, ts);
    const v = stored(words);
    const truth = BigInt(sec) * 1_000_000_000n + BigInt(nsec);
    const d = v > truth ? v - truth : truth - v;
    // the double holds the time to 2^-22 s (238 ns) between 2^30 and 2^31 s
    assert.ok(d <= 240n, `sec ${sec} nsec ${nsec}: stored ${v}, off by ${d} ns`);
    r.read(words[0], words[1]);
    assert.equal(BigInt(r.sec) * 1_000_000_000n + BigInt(r.ns), v);
    if (joinTimestamp(r.sec, r.ns / 1e9) === ts) exactBack++;
  }
  assert.equal(exactBack, N, 'every time read back is the double the capture reader produced');
});

test('times before 1970 and far ahead go through the BigInt path', () => {
  const w = new NsWriter(), r = new NsReader(), words = new Int32Array(2);
  for (const [sec, usec] of [[-1, 500_000], [-86400, 0], [9_000_000_000, 125_000]]) {
    const ts = sec + usec / 1e6;
    w.write(words, 0, ts);
    const v = stored(words);
    assert.equal(v, BigInt(sec) * 1_000_000_000n + BigInt(usec) * 1000n, `sec ${sec}`);
    r.read(words[0], words[1]);
    assert.equal(r.sec, sec);
    assert.equal(r.ns, usec * 1000);
  }
});
