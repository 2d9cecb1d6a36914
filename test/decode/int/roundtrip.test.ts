// Round trip: reports built by src/gen/int-gen.ts (an independent encoder) with known values must
// decode to exactly those values, for every report version, hop counts 0..8 and every
// instruction bit; every prefix of a report must decode to a truncated status (never throw).
// The per-version bit -> field table below is written from the spec tables, not from the decoder.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  createIntReport, decodeIntReport, decodeIntReportNext, intStatusKind, intStatusName,
  INT_KIND_TRUNCATED, INT_ALL_STATUSES, INNER_ETHERNET, INNER_IPV4, F_SWITCH_ID, F_HOP_LATENCY,
  F_CHECKSUM_COMPLEMENT, hopIngressTsBigInt, hopEgressTsBigInt, REPORT_FLAG_DROPPED,
  REPORT_FLAG_CONGESTED, REPORT_FLAG_TRACKED, REPORT_FLAG_INTERMEDIATE,
} from '../../../src/decode/int/index.ts';
import type { IntHops, IntReport } from '../../../src/decode/int/index.ts';
import { encodeReport, rng } from '../../../src/gen/int-gen.ts';
import type { HopValues, ReportSpec, TrVersion } from '../../../src/gen/int-gen.ts';

const VERSIONS: TrVersion[] = ['0.5', '1.0', '2.0'];

type Field =
  | 'switchId' | 'ingressPort' | 'egressPort' | 'hopLatency' | 'queueId' | 'queueOccupancy'
  | 'ingressTs' | 'egressTs' | 'l2IngressPort' | 'l2EgressPort' | 'egressTxUtil' | 'bufferId'
  | 'bufferOccupancy' | 'queueCongestion' | 'checksumComplement';

/** Fields carried by instruction bit `bit` (0 = MSB) in INT v0.5 / v1.0 / v2.x. */
function fieldsOf(v: TrVersion, bit: number): Field[] {
  switch (bit) {
    case 0: return ['switchId'];
    case 1: return ['ingressPort', 'egressPort'];
    case 2: return ['hopLatency'];
    case 3: return ['queueId', 'queueOccupancy'];
    case 4: return ['ingressTs'];
    case 5: return ['egressTs'];
    case 6: return v === '0.5' ? ['queueId', 'queueCongestion'] : ['l2IngressPort', 'l2EgressPort'];
    case 7: return ['egressTxUtil'];
    case 8: return v === '2.0' ? ['bufferId', 'bufferOccupancy'] : [];
    case 15: return v === '0.5' ? [] : ['checksumComplement'];
    default: return [];
  }
}

function hopValues(r: () => number, wide: boolean): HopValues {
  const u32 = () => Math.floor(r() * 0xffffffff);
  const ts = (): bigint | number => (wide ? (BigInt(u32()) << 32n) | BigInt(u32()) : u32());
  return {
    switchId: u32(), ingressPort: u32() & 0xffff, egressPort: u32() & 0xffff, hopLatency: u32(),
    queueId: u32() & 0xff, queueOccupancy: u32() & 0xffffff, ingressTs: ts(), egressTs: ts(),
    l2IngressPort: u32(), l2EgressPort: u32(), egressTxUtil: u32(), bufferId: u32() & 0xff,
    bufferOccupancy: u32() & 0xffffff, queueCongestion: u32() & 0xffffff, checksumComplement: u32(),
  };
}

function checkHop(v: TrVersion, bitmap: number, h: IntHops, i: number, exp: HopValues, what: string): void {
  for (let bit = 0; bit < 16; bit++) {
    if ((bitmap & (0x8000 >>> bit)) === 0) continue;
    for (const f of fieldsOf(v, bit)) {
      const m = `${what} hop ${i} bit ${bit} ${f}`;
      if (f === 'ingressTs' || f === 'egressTs') {
        const got = f === 'ingressTs' ? hopIngressTsBigInt(h, i) : hopEgressTsBigInt(h, i);
        assert.equal(got, BigInt(exp[f] as number | bigint), m);
        assert.equal((f === 'ingressTs' ? h.ingressTs : h.egressTs)[i], Number(exp[f]), m);
      } else {
        assert.equal(h[f][i], exp[f], m);
      }
    }
  }
  assert.equal(h.invalid[i], 0, `${what} hop ${i} invalid mask`);
}

function decode(bytes: Uint8Array, out: IntReport): number {
  // decode from a non-zero offset inside a larger buffer to check offset handling
  const buf = new Uint8Array(bytes.length + 7);
  buf.set(bytes, 5);
  const st = decodeIntReport(buf, 5, bytes.length, out);
  return st;
}

describe('round trip through src/gen/int-gen.ts', () => {
  for (const v of VERSIONS) {
    it(`TR v${v}: hop counts 0..8 x every instruction bit (and all bits)`, () => {
      const r = rng(0x5eed + v.length * 31 + Number(v) * 7);
      const out = createIntReport(8);
      const bitmaps = [...Array.from({ length: 16 }, (_, b) => 0x8000 >>> b), 0xffff, v === '2.0' ? 0xff81 : 0xff01];
      let n = 0;
      for (const bitmap of bitmaps) {
        for (let hops = 0; hops <= 8; hops++) {
          const hv: HopValues[] = [];
          for (let i = 0; i < hops; i++) hv.push(hopValues(r, v === '2.0'));
          const spec: ReportSpec = {
            version: v, instructionBitmap: bitmap, hops: hv, hwId: 0x2a, nodeId: 0xdeadbeef,
            sequence: v === '2.0' ? 0x3abcde : 0xfedcba98, timestamp: 0x87654321, dropped: true,
            congested: hops % 2 === 1, tracked: true, intermediate: v === '2.0',
            remainingHopCount: 9 - hops,
            inner: { l4: hops % 2 === 0 ? 'udp' : 'tcp', dscp: 0x17, srcPort: 1111, dstPort: 2222, payload: new Uint8Array([1, 2, 3]) },
          };
          const { bytes, layout } = encodeReport(spec);
          const what = `v${v} bitmap ${bitmap.toString(16)} hops ${hops}`;
          const st = decode(bytes, out);
          assert.equal(intStatusName(st), 'ok', what);
          assert.equal(out.reportVersion, v === '0.5' ? 0 : v === '1.0' ? 1 : 2, what);
          assert.equal(out.hwId, 0x2a, what);
          assert.equal(out.sequence, spec.sequence, what);
          assert.equal(out.nodeId, v === '0.5' ? -1 : 0xdeadbeef, what);
          assert.equal(out.reportTimestampNs, v === '2.0' ? -1 : 0x87654321, what);
          assert.equal(out.reportFlags, REPORT_FLAG_DROPPED | (hops % 2 === 1 ? REPORT_FLAG_CONGESTED : 0) |
            REPORT_FLAG_TRACKED | (v === '2.0' ? REPORT_FLAG_INTERMEDIATE : 0), what);
          assert.equal(out.innerType, INNER_ETHERNET, what);
          assert.equal(out.innerOffset, layout.innerOffset + 5, what);
          assert.equal(out.innerDscp, 0x17, what);
          assert.equal(out.innerL4Proto, hops % 2 === 0 ? 17 : 6, what);
          assert.equal(out.innerSrcPort, 1111, what);
          assert.equal(out.innerDstPort, 2222, what);
          assert.equal(out.intPresent, true, what);
          assert.equal(out.intVersion, v === '0.5' ? 0 : v === '1.0' ? 1 : 2, what);
          assert.equal(out.shimOffset, layout.shimOffset + 5, what);
          assert.equal(out.payloadOffset, layout.intEnd + 5, what);
          assert.equal(out.instructionBitmap, bitmap, what);
          if (v === '0.5') {
            assert.equal(out.totalHopCount, hops, what);
            assert.equal(out.maxHopCount, 9 - hops, what);
            assert.equal(out.origDstPort, 2222, what);
          } else {
            assert.equal(out.remainingHopCount, 9 - hops, what);
          }
          assert.equal(out.hopCount, hops, what);
          assert.equal(out.hops.count, hops, what);
          for (let i = 0; i < hops; i++) checkHop(v, bitmap, out.hops, i, hv[i], what);
          n++;
        }
      }
      assert.equal(n, 18 * 9);
    });
  }

  it('TR v2.0 reporter metadata (RepMdBits) and InType IPv4; TR v1.0 NProto IPv4', () => {
    const local: HopValues = {
      ingressPort: 7, egressPort: 9, hopLatency: 1234, queueId: 3, queueOccupancy: 0x123456,
      ingressTs: 0x1122334455667788n, egressTs: 0x1122334455667799n, l2IngressPort: 70000,
      l2EgressPort: 90000, egressTxUtil: 55, bufferId: 2, bufferOccupancy: 0xabcdef, dropReason: 0x44,
    };
    const { bytes } = encodeReport({
      version: '2.0', instructionBitmap: 0x8000, hops: [{ switchId: 5 }, { switchId: 4 }],
      repMdBits: 0x7f81, local, inner: { ipOnly: true },
    });
    const out = createIntReport();
    assert.equal(intStatusName(decode(bytes, out)), 'ok');
    assert.equal(out.repMdBits, 0x7f81);
    // 4+4+4+8+8+8+4+4+4 bytes for bits 1..8 and 15
    assert.equal(out.mdLength, 48);
    const l = out.local;
    assert.equal(l.count, 1);
    assert.equal(l.ingressPort[0], 7);
    assert.equal(l.egressPort[0], 9);
    assert.equal(l.hopLatency[0], 1234);
    assert.equal(l.queueId[0], 3);
    assert.equal(l.queueOccupancy[0], 0x123456);
    assert.equal(hopIngressTsBigInt(l, 0), 0x1122334455667788n);
    assert.equal(hopEgressTsBigInt(l, 0), 0x1122334455667799n);
    assert.equal(out.reportTimestampNs, Number(0x1122334455667788n));
    assert.equal(l.l2IngressPort[0], 70000);
    assert.equal(l.l2EgressPort[0], 90000);
    assert.equal(l.egressTxUtil[0], 55);
    assert.equal(l.bufferId[0], 2);
    assert.equal(l.bufferOccupancy[0], 0xabcdef);
    assert.equal(l.dropReason[0], 0x44);
    assert.equal(out.innerType, INNER_IPV4);
    assert.deepEqual(Array.from(out.hops.switchId.subarray(0, 2)), [5, 4]);

    const v1 = encodeReport({ version: '1.0', instructionBitmap: 0xc000, hops: [{ switchId: 1, ingressPort: 2, egressPort: 3 }], inner: { ipOnly: true } });
    assert.equal(intStatusName(decode(v1.bytes, out)), 'ok');
    assert.equal(out.nProto, 1);
    assert.equal(out.innerType, INNER_IPV4);
    assert.equal(out.hops.egressPort[0], 3);
  });

  it('all-ones values are flagged invalid; hop count above capacity is malformed', () => {
    const { bytes } = encodeReport({
      version: '2.0', instructionBitmap: 0xa001, hops: [{ switchId: 0xffffffff, hopLatency: 1, checksumComplement: 0xffffffff }],
    });
    const out = createIntReport(1);
    assert.equal(intStatusName(decode(bytes, out)), 'ok');
    assert.equal(out.hops.invalid[0], F_SWITCH_ID | F_CHECKSUM_COMPLEMENT);
    assert.equal(out.hops.present, F_SWITCH_ID | F_HOP_LATENCY | F_CHECKSUM_COMPLEMENT);
    const two = encodeReport({ version: '2.0', instructionBitmap: 0x8000, hops: [{ switchId: 1 }, { switchId: 2 }] });
    assert.equal(intStatusName(decode(two.bytes, out)), 'malformed:hop-count-too-large');
  });

  it('TR v2.0 coalesced individual reports', () => {
    const a = encodeReport({ version: '2.0', instructionBitmap: 0x8000, hops: [{ switchId: 11 }], nodeId: 77, sequence: 3 }).bytes;
    const b = encodeReport({ version: '2.0', instructionBitmap: 0x8000, hops: [{ switchId: 22 }, { switchId: 21 }], nodeId: 77, sequence: 3 }).bytes;
    const buf = new Uint8Array(a.length + b.length - 8);
    buf.set(a, 0);
    buf.set(b.subarray(8), a.length); // second individual report after the first
    const out = createIntReport();
    assert.equal(intStatusName(decodeIntReport(buf, 0, buf.length, out)), 'ok');
    assert.equal(out.hops.switchId[0], 11);
    assert.equal(out.nextReportOffset, a.length);
    assert.equal(intStatusName(decodeIntReportNext(buf, buf.length, out)), 'ok');
    assert.equal(out.nodeId, 77);
    assert.equal(out.hopCount, 2);
    assert.deepEqual(Array.from(out.hops.switchId.subarray(0, 2)), [22, 21]);
    assert.equal(out.nextReportOffset, -1);
  });

  it('every prefix of a report is truncated (or, for TR v0.5/v1.0, ok once all INT bytes are in)', () => {
    const r = rng(99);
    let cuts = 0;
    for (const v of VERSIONS) {
      for (const bitmap of [0xff00, 0x8000, 0xffff]) {
        for (const hops of [0, 1, 3]) {
          const hv: HopValues[] = [];
          for (let i = 0; i < hops; i++) hv.push(hopValues(r, v === '2.0'));
          for (const l4 of ['tcp', 'udp'] as const) {
            const { bytes, layout } = encodeReport({
              version: v, instructionBitmap: bitmap, hops: hv, inner: { l4, payload: new Uint8Array(9) },
            });
            const out = createIntReport(8, { dscpValue: 0x17, dscpMask: 0x3f });
            for (let cut = 0; cut < bytes.length; cut++) {
              const st = decodeIntReport(bytes.subarray(0, cut), 0, cut, out);
              const what = `v${v} bitmap ${bitmap.toString(16)} hops ${hops} ${l4} cut ${cut}/${bytes.length}`;
              assert.ok(INT_ALL_STATUSES.includes(st), what);
              if (cut < layout.intEnd || v === '2.0') {
                assert.equal(intStatusKind(st), INT_KIND_TRUNCATED, `${what}: ${intStatusName(st)}`);
              } else {
                assert.equal(intStatusName(st), 'ok', what);
                assert.equal(out.hopCount, hops, what);
                for (let i = 0; i < hops; i++) checkHop(v, bitmap, out.hops, i, hv[i], what);
              }
              // the same cut via a length limit inside a longer buffer
              assert.equal(decodeIntReport(bytes, 0, cut, out), st, what);
              cuts++;
            }
          }
        }
      }
    }
    assert.ok(cuts > 5000, `${cuts} cuts`);
  });
});
