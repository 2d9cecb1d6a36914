// Seeded fuzzing: 20k mutations of valid datagrams (hand-built, plus the real-exporter fixtures
// when present) fed to both decoders. Properties: no throw; a status from the closed list;
// counters add up; sampled-header positions inside the datagram; and the result does not depend
// on what lies outside [off, off + len) of the caller's buffer.

import assert from 'node:assert/strict';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';

import { FLOW_STATUSES, type FlowDecoder, type FlowRecord } from '../../../src/decode/flow/common.ts';
import { NetflowDecoder } from '../../../src/decode/flow/netflow.ts';
import { SflowDecoder } from '../../../src/decode/flow/sflow.ts';
import { concat } from './encode.ts';
import { builtFlows } from '../../fuzz/pools.ts';
import { readPcap } from './pcap.ts';
import { mulberry32 } from './prng.ts';

const ITERATIONS = 20_000;
const FIXTURES = join(import.meta.dirname, '../../fixtures/flow');

/** The datagrams the harness's flow pool is built from (test/fuzz/pools.ts), each a seed. */
function seeds(): Uint8Array[] {
  const out: Uint8Array[] = builtFlows().flatMap((g) => g.datagrams);
  // real exporter datagrams (UDP payloads of the fixture captures)
  if (existsSync(FIXTURES)) {
    for (const f of readdirSync(FIXTURES).filter((n) => n.endsWith('.pcap')).sort()) {
      const pc = readPcap(join(FIXTURES, f));
      for (const p of pc.packets.slice(0, 4)) out.push(p.data.slice(42));
    }
  }
  return out;
}

function mutate(src: Uint8Array, rnd: () => number): Uint8Array {
  let b: Uint8Array = src.slice();
  const n = 1 + Math.floor(rnd() * 4);
  for (let m = 0; m < n; m++) {
    const pos = Math.floor(rnd() * Math.max(1, b.length));
    const op = Math.floor(rnd() * 8);
    if (op === 0 && b.length > 0) b[pos] = b[pos]! ^ (1 << Math.floor(rnd() * 8));
    else if (op === 1 && b.length > 0) b[pos] = Math.floor(rnd() * 256);
    else if (op === 2 && b.length > 1) {
      // an "interesting" 16-bit value, where lengths, counts and ids live
      const v = [0, 1, 2, 3, 4, 255, 256, 0x7fff, 0x8000, 0xfffe, 0xffff][Math.floor(rnd() * 11)]!;
      const p = pos & ~1;
      if (p + 1 < b.length) {
        b[p] = v >> 8;
        b[p + 1] = v & 0xff;
      }
    } else if (op === 3 && b.length > 3) {
      const v = [0, 1, 0x7fffffff, 0x80000000, 0xffffffff, b.length, b.length + 1][Math.floor(rnd() * 7)]!;
      const p = pos & ~3;
      if (p + 3 < b.length) {
        b[p] = v >>> 24;
        b[p + 1] = (v >>> 16) & 0xff;
        b[p + 2] = (v >>> 8) & 0xff;
        b[p + 3] = v & 0xff;
      }
    } else if (op === 4) b = b.slice(0, pos);
    else if (op === 5) b = concat(b, Uint8Array.from({ length: Math.floor(rnd() * 64) }, () => Math.floor(rnd() * 256)));
    else if (op === 6 && b.length > 8) {
      const from = Math.floor(rnd() * (b.length - 4));
      const len = 1 + Math.floor(rnd() * Math.min(64, b.length - from));
      b = concat(b.slice(0, pos), b.slice(from, from + len), b.slice(pos));
    } else if (op === 7 && b.length > 8) {
      const len = 1 + Math.floor(rnd() * Math.min(32, b.length - pos));
      b = concat(b.slice(0, pos), b.slice(pos + len));
    }
  }
  return b;
}

/** A comparable digest of what a decode call produced. */
function runDigest(dec: FlowDecoder, buf: Uint8Array, off: number, len: number): string {
  const parts: string[] = [];
  const status = dec.decode(buf, off, len, 'fuzz:1', (r: FlowRecord) => {
    for (const [k, v] of Object.entries(r)) {
      if (v === null || typeof v === 'string') continue;
      assert.equal(typeof v, 'number', k);
      assert.ok(Number.isFinite(v), `${k} = ${v}`);
    }
    if (r.type === 'sample' && r['sflow.header_offset'] !== null) {
      const o = r['sflow.header_offset'];
      const l = r['sflow.header_length']!;
      assert.ok(o >= off && o + l <= off + len, `header [${o}, ${o + l}) outside [${off}, ${off + len})`);
      parts.push(JSON.stringify({ ...r, 'sflow.header_offset': o - off }));
    } else {
      parts.push(JSON.stringify(r));
    }
  });
  assert.ok(FLOW_STATUSES.includes(status), status);
  return `${status}|${parts.join('\n')}`;
}

describe('fuzz', () => {
  it(`survives ${ITERATIONS} seeded mutations with consistent results`, () => {
    const rnd = mulberry32(0x1f10e);
    const base = seeds();
    // two decoder pairs fed the same inputs, one with exact buffers, one with the datagram
    // embedded between random bytes: their outputs must match (no reads outside the slice)
    const a = [new SflowDecoder(), new NetflowDecoder()] as const;
    const b = [new SflowDecoder(), new NetflowDecoder()] as const;
    for (let i = 0; i < ITERATIONS; i++) {
      const dg = mutate(base[Math.floor(rnd() * base.length)]!, rnd);
      const pre = Math.floor(rnd() * 16);
      const post = Math.floor(rnd() * 16);
      const wide = new Uint8Array(pre + dg.length + post);
      for (let k = 0; k < wide.length; k++) wide[k] = Math.floor(rnd() * 256);
      wide.set(dg, pre);
      for (let d = 0; d < 2; d++) {
        let x: string;
        let y: string;
        try {
          x = runDigest(a[d]!, dg, 0, dg.length);
          y = runDigest(b[d]!, wide, pre, dg.length);
        } catch (e) {
          assert.fail(`iteration ${i} decoder ${d} threw on ${Buffer.from(dg).toString('hex')}: ${(e as Error).stack}`);
        }
        assert.equal(y, x, `iteration ${i} decoder ${d}`);
      }
    }
    for (const dec of [...a, ...b]) {
      const c = dec.counters;
      assert.equal(c.datagrams, ITERATIONS);
      const skipped = c.skipped.truncated + c.skipped['bad-version'] + c.skipped.malformed;
      assert.ok(skipped <= c.datagrams);
    }
    // the mutations reach the interesting paths
    assert.ok(a[0].counters.records > 1000 && a[1].counters.records > 1000, JSON.stringify([a[0].counters, a[1].counters]));
    for (const k of ['truncated', 'bad-version', 'malformed', 'unknown-record'] as const) {
      assert.ok(a[0].counters.skipped[k] + a[1].counters.skipped[k] > 0, k);
    }
    assert.ok(a[1].counters.skipped['no-template'] > 0);
  });
});
