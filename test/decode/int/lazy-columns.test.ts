// Hop columns on demand (IntReportOptions.hopColumns, ensureHopColumns; issue 13): a report
// that decodes some hop fields with the packet and the others when asked for must end up with
// exactly the values and "not available" flags of a report decoded whole, whatever the order
// and grouping of the requests, for every report version, random instruction bitmaps (reserved
// bits included), all-ones values and coalesced TR v2.0 reports. Also through the packet view
// (p.int), whose report decodes no column until one is read.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  ALL_HOP_FIELDS, createIntReport, decodeIntReport, decodeIntReportNext, ensureHopColumns,
  F_BUFFER_ID, F_BUFFER_OCCUPANCY, F_CHECKSUM_COMPLEMENT, F_EGRESS_PORT, F_EGRESS_TS, F_EGRESS_TX_UTIL,
  F_HOP_LATENCY, F_INGRESS_PORT, F_INGRESS_TS, F_L2_EGRESS_PORT, F_L2_INGRESS_PORT, F_QUEUE_CONGESTION,
  F_QUEUE_ID, F_QUEUE_OCCUPANCY, F_SWITCH_ID, INT_OK,
} from '../../../src/decode/int/index.ts';
import type { IntHops, IntReport } from '../../../src/decode/int/index.ts';
import { encodeReport, encodeReportFrame, rng } from '../../../src/gen/int-gen.ts';
import type { HopValues, TrVersion } from '../../../src/gen/int-gen.ts';
import { Packet } from '../../../src/decode/packet.ts';
import { decodePacket } from '../../../src/decode/decoder.ts';
import { configurePacketInt } from '../../../src/decode/int-view.ts';

/** Each hop field, its bit and the arrays that hold it. */
const FIELDS: [number, (keyof IntHops)[]][] = [
  [F_SWITCH_ID, ['switchId']], [F_INGRESS_PORT, ['ingressPort']], [F_EGRESS_PORT, ['egressPort']],
  [F_HOP_LATENCY, ['hopLatency']], [F_QUEUE_ID, ['queueId']], [F_QUEUE_OCCUPANCY, ['queueOccupancy']],
  [F_INGRESS_TS, ['ingressTs', 'ingressTsHi', 'ingressTsLo']], [F_EGRESS_TS, ['egressTs', 'egressTsHi', 'egressTsLo']],
  [F_L2_INGRESS_PORT, ['l2IngressPort']], [F_L2_EGRESS_PORT, ['l2EgressPort']], [F_EGRESS_TX_UTIL, ['egressTxUtil']],
  [F_BUFFER_ID, ['bufferId']], [F_BUFFER_OCCUPANCY, ['bufferOccupancy']], [F_QUEUE_CONGESTION, ['queueCongestion']],
  [F_CHECKSUM_COMPLEMENT, ['checksumComplement']],
];

function hop(r: () => number, wide: boolean): HopValues {
  // a quarter of the values are "not available" (all ones)
  const u32 = () => (r() < 0.25 ? 0xffffffff : Math.floor(r() * 0xffffffff));
  const ts = (): bigint | number => (wide ? (r() < 0.25 ? 0xffffffffffffffffn : (BigInt(u32()) << 32n) | BigInt(u32())) : u32());
  return {
    switchId: u32(), ingressPort: u32() & 0xffff, egressPort: r() < 0.25 ? 0xffff : u32() & 0xffff, hopLatency: u32(),
    queueId: u32() & 0xff, queueOccupancy: u32() & 0xffffff, ingressTs: ts(), egressTs: ts(),
    l2IngressPort: u32(), l2EgressPort: u32(), egressTxUtil: u32(), bufferId: u32() & 0xff,
    bufferOccupancy: u32() & 0xffffff, queueCongestion: u32() & 0xffffff, checksumComplement: u32(),
  };
}

/** Field f of hops 0..count-1 (values and its invalid bit) equal in a and b. */
function sameField(a: IntReport, b: IntReport, f: number, arrays: (keyof IntHops)[], what: string): void {
  for (let i = 0; i < a.hopCount; i++) {
    assert.equal(b.hops.invalid[i] & f, a.hops.invalid[i] & f, `${what} hop ${i} invalid bit ${f}`);
    for (const name of arrays) assert.equal((b.hops[name] as ArrayLike<number>)[i], (a.hops[name] as ArrayLike<number>)[i], `${what} hop ${i} ${String(name)}`);
  }
}

describe('hop columns on demand', () => {
  it('every request order and grouping gives the values of a whole decode', () => {
    const r = rng(1313);
    let compared = 0, pendingSeen = 0;
    for (let it = 0; it < 3000; it++) {
      const version = (['0.5', '1.0', '2.0'] as TrVersion[])[it % 3];
      const bitmap = Math.floor(r() * 0x10000) & (r() < 0.5 ? 0xffff : 0xff81);
      const n = Math.floor(r() * 7);
      const hops: HopValues[] = [];
      for (let k = 0; k < n; k++) hops.push(hop(r, version === '2.0'));
      let bytes: Uint8Array;
      try { bytes = encodeReport({ version, instructionBitmap: bitmap, hops, inner: { l4: r() < 0.5 ? 'tcp' : 'udp' } }).bytes; } catch { continue; }
      // a TR v2.0 packet of two individual reports: the second decoded with decodeIntReportNext
      const twice = version === '2.0' && r() < 0.3;
      if (twice) { const b2 = new Uint8Array(bytes.length * 2 - 8); b2.set(bytes); b2.set(bytes.subarray(8), bytes.length); bytes = b2; }
      const whole = createIntReport(8);
      const lazy = createIntReport(8, { hopColumns: r() < 0.5 ? 0 : Math.floor(r() * 0x10000) });
      let stA = decodeIntReport(bytes, 0, bytes.length, whole), stB = decodeIntReport(bytes, 0, bytes.length, lazy);
      if (twice && stA === INT_OK) { stA = decodeIntReportNext(bytes, bytes.length, whole); stB = decodeIntReportNext(bytes, bytes.length, lazy); }
      assert.equal(stB, stA);
      if (stA !== INT_OK) continue;
      assert.equal(whole.pendingHopFields, 0);
      assert.equal(lazy.hops.present, whole.hops.present);
      assert.equal(lazy.hopCount, whole.hopCount);
      if (lazy.pendingHopFields !== 0) pendingSeen++;
      // fields not pending are there already; then the others in a random order, one or a few at a time
      for (const [f, arrays] of FIELDS) if ((lazy.pendingHopFields & f) === 0 && (whole.hops.present & f) !== 0) sameField(whole, lazy, f, arrays, `it ${it} early`);
      const order = FIELDS.map((x) => ({ x, k: r() })).sort((a, b) => a.k - b.k).map((o) => o.x);
      for (let j = 0; j < order.length;) {
        const group = order.slice(j, j + 1 + Math.floor(r() * 3));
        j += group.length;
        ensureHopColumns(lazy, group.reduce((m, [f]) => m | f, 0));
        for (const [f, arrays] of group) if ((whole.hops.present & f) !== 0) { sameField(whole, lazy, f, arrays, `it ${it}`); compared++; }
      }
      assert.equal(lazy.pendingHopFields, 0, `it ${it}: nothing left pending`);
      for (let i = 0; i < whole.hopCount; i++) assert.equal(lazy.hops.invalid[i], whole.hops.invalid[i], `it ${it} hop ${i} invalid`);
    }
    assert.ok(compared > 5000 && pendingSeen > 1000, `${compared} fields compared, ${pendingSeen} reports with pending columns`);
  });

  it('the packet view decodes what it reads, and equals a packet decoded whole', () => {
    const r = rng(77);
    const lazy = new Packet(), whole = new Packet();
    configurePacketInt(lazy, { intPort: 32766 });
    configurePacketInt(whole, { intPort: 32766, intHopColumns: ALL_HOP_FIELDS });
    const readers: ((v: NonNullable<Packet['int']>, k: number) => number)[] = [
      (v, k) => v.switchId(k), (v, k) => v.ingressPort(k), (v, k) => v.egressPort(k), (v, k) => v.hopLatency(k),
      (v, k) => v.queueId(k), (v, k) => v.queueOccupancy(k), (v, k) => v.queueCongestion(k), (v, k) => v.txUtil(k),
      (v, k) => v.ingressTs(k), (v, k) => v.egressTs(k),
    ];
    for (let it = 0; it < 600; it++) {
      const version = (['0.5', '1.0', '2.0'] as TrVersion[])[it % 3];
      const bitmap = version === '2.0' ? 0xff80 : 0xff00;
      const hops: HopValues[] = [];
      for (let k = 0; k < 1 + (it % 5); k++) hops.push(hop(r, version === '2.0'));
      const frame = encodeReportFrame(encodeReport({ version, instructionBitmap: bitmap, hops }).bytes, { dstPort: 32766 });
      decodePacket(lazy, frame, 0, frame.length, frame.length, 1, 1);
      decodePacket(whole, frame, 0, frame.length, frame.length, 1, 1);
      const a = whole.int!, b = lazy.int!;
      assert.ok(a && b);
      if (it === 0) assert.notEqual(lazy.intReport!.pendingHopFields, 0, 'nothing decoded before a read');
      if (it % 4 === 0) { assert.equal(b.latency, a.latency); assert.equal(b.path, a.path); }
      for (const k of [...Array(a.hop_count).keys()].sort(() => r() - 0.5)) {
        for (const read of [...readers].sort(() => r() - 0.5)) assert.equal(read(b, k), read(a, k), `it ${it} hop ${k}`);
      }
      assert.deepEqual(Array.from(b.report.hops.invalid.subarray(0, a.hop_count)), Array.from(a.report.hops.invalid.subarray(0, a.hop_count)));
    }
  });
});
