// Seeded fuzzing: random mutations of valid reports (20k iterations) must never throw, must
// return a status from the closed set, and must keep every offset inside the decoded range.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  createIntReport, decodeIntInFlight, decodeIntReport, decodeIntReportNext, INT_ALL_STATUSES,
  LENIENT_ALL,
} from '../../../src/decode/int/index.ts';
import type { IntReport } from '../../../src/decode/int/index.ts';
import { encodeReport, rng } from '../../../src/gen/int-gen.ts';
import type { HopValues, TrVersion } from '../../../src/gen/int-gen.ts';

const ITERATIONS = 20_000;

function checkOffsets(r: IntReport, lo: number, hi: number, what: string): void {
  for (const k of ['innerOffset', 'innerL3Offset', 'innerL4Offset', 'shimOffset', 'metadataHeaderOffset', 'stackOffset', 'rawMdOffset'] as const) {
    const v = r[k];
    if (v !== -1) assert.ok(v >= lo && v <= hi, `${what}: ${k}=${v} outside [${lo}, ${hi}]`);
  }
  assert.ok(r.hopCount >= 0 && r.hopCount <= r.maxHops, `${what}: hopCount ${r.hopCount}`);
  assert.equal(r.hops.count, r.hopCount, what);
  assert.ok(r.local.count <= 1, what);
}

function checkOk(st: number, r: IntReport, hi: number, what: string): void {
  if (st === 0 && r.intPresent) assert.ok(r.payloadOffset <= hi, `${what}: payloadOffset ${r.payloadOffset} > ${hi}`);
}

describe('fuzz', () => {
  it(`${ITERATIONS} seeded mutations of valid reports`, () => {
    const r = rng(20240611);
    const seeds: Uint8Array[] = [];
    for (const v of ['0.5', '1.0', '2.0'] as TrVersion[]) {
      for (const bitmap of [0xff00, 0xffff, 0x9000, 0x0000, 0xcc01]) {
        const hops: HopValues[] = [];
        for (let i = 0; i < 1 + (bitmap & 3); i++) hops.push({ switchId: i + 1, hopLatency: 10 * i, ingressTs: 5n + BigInt(i) });
        seeds.push(encodeReport({ version: v, instructionBitmap: bitmap, hops, repMdBits: v === '2.0' ? 0x3801 : 0, inner: { l4: bitmap & 1 ? 'tcp' : 'udp', ipOnly: bitmap === 0x9000 } }).bytes);
      }
    }
    const strict = createIntReport(4);
    const lenient = createIntReport(4, { lenient: LENIENT_ALL });
    const marked = createIntReport(4, { dscpValue: 0x17, dscpMask: 0x3f, udpPort: 5001 });
    const seen = new Set<number>();
    for (let it = 0; it < ITERATIONS; it++) {
      const src = seeds[Math.floor(r() * seeds.length)];
      const pad = Math.floor(r() * 4);
      let buf = new Uint8Array(src.length + pad + 8);
      buf.set(src, pad);
      let len = src.length;
      const nm = 1 + Math.floor(r() * 6);
      for (let m = 0; m < nm; m++) {
        const op = r();
        const at = pad + Math.floor(r() * Math.max(1, len));
        if (op < 0.6) buf[at] = Math.floor(r() * 256); // random byte
        else if (op < 0.75) buf[at] ^= 1 << Math.floor(r() * 8); // bit flip
        else if (op < 0.85) len = Math.floor(r() * (len + 1)); // truncate
        else if (op < 0.93) { // insert a byte
          const nb = new Uint8Array(buf.length + 1);
          nb.set(buf.subarray(0, at), 0);
          nb[at] = Math.floor(r() * 256);
          nb.set(buf.subarray(at), at + 1);
          buf = nb;
          len++;
        } else { // delete a byte
          buf.copyWithin(at, at + 1);
          len = Math.max(0, len - 1);
        }
      }
      const what = `iteration ${it}`;
      for (const out of [strict, lenient, marked]) {
        let st = decodeIntReport(buf, pad, len, out);
        assert.ok(INT_ALL_STATUSES.includes(st), `${what}: status ${st}`);
        seen.add(st);
        checkOffsets(out, pad, pad + len, what);
        checkOk(st, out, pad + len, what);
        for (let k = 0; k < 4 && out.nextReportOffset >= 0; k++) {
          st = decodeIntReportNext(buf, pad + len, out);
          assert.ok(INT_ALL_STATUSES.includes(st), `${what}: next status ${st}`);
          checkOffsets(out, pad, pad + len, what);
        }
      }
      const at = Math.floor(r() * Math.max(1, len));
      const st = decodeIntInFlight(buf, pad + at, len - at, strict, Math.floor(r() * 3) - 1);
      assert.ok(INT_ALL_STATUSES.includes(st), `${what}: in-flight status ${st}`);
      checkOffsets(strict, pad + at, pad + len, what);
      checkOk(st, strict, pad + len, what);
    }
    assert.ok(seen.size >= 10, `only ${seen.size} distinct statuses`);
  });
});
