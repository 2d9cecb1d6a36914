// Packets written byte by byte from the examples in the specifications themselves.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  createIntReport, decodeIntInFlight, decodeIntReport, intStatusName, INNER_IPV4, INT_V2,
  REPORT_FLAG_TRACKED, F_QUEUE_ID, F_QUEUE_OCCUPANCY, F_SWITCH_ID,
} from '../../../src/decode/int/index.ts';

function bytes(...words: number[]): Uint8Array {
  const b = new Uint8Array(words.length * 4);
  const dv = new DataView(b.buffer);
  words.forEach((w, i) => dv.setUint32(i * 4, w >>> 0));
  return b;
}

describe('spec examples', () => {
  it('Telemetry Report v2.0 §4 "Example with Embedded INT-MD in a TCP Packet"', () => {
    // Switch3 (sink) reports: its own queue occupancy in RepMdBits, the truncated IPv4 packet
    // with a new UDP header, INT shim (Type 1, NPT 2, Length 7, IP proto 6), INT-MD header
    // (Ver 2, Hop ML 2, Remaining Hop Count 6, bitmap 1001 0000... = node id + queue), the
    // stack of hop2 then hop1, then the original TCP header. Report Length = 23 words.
    const pkt = bytes(
      0x20000005, // Ver 2 | hw_id 0 | Sequence Number 5
      0x00000003, // Node ID of Switch3
      0x14170120, // RepType 1 | InType 4 | RepLength 23 | MD Length 1 | D0 Q0 F1 I0
      0x10000000, // RepMdBits bit 3 (queue id + occupancy) | Domain Specific ID 0
      0x00000000, // DSMdBits | DSMdstatus
      0x03000abc, // queue id 3, queue occupancy 0xabc of Switch3
      0x45000054, 0x00014000, 0x4011_0000, 0x0a000001, 0x0a000002, // IPv4, proto 17, length 84
      0x9c4012b6, 0x00400000, // UDP 40000 -> 4790 (INT_TBD stand-in), length 64
      0x18070006, // Type 1 | NPT 2 | Length 7 | Reserved | IP proto 6
      0x20000206, // Ver 2 | D E M 0 | Hop ML 2 | Remaining Hop Count 6
      0x90000000, // Instruction Bitmap 1001 0000 0000 0000 | Domain Specific ID 0
      0x00000000, // DS Instruction | DS Flags
      0x00000002, 0x01000222, // hop2: node id 2, queue 1 / occupancy 0x222
      0x00000001, 0x01000111, // hop1: node id 1, queue 1 / occupancy 0x111
      0x1f900050, 0x00000001, 0x00000000, 0x50020000, 0x00000000, // original TCP 8080 -> 80
    );
    assert.equal(pkt.length, 8 + 4 + 23 * 4);
    const r = createIntReport();
    assert.equal(intStatusName(decodeIntReport(pkt, 0, pkt.length, r)), 'ok');
    assert.equal(r.reportVersion, 2);
    assert.equal(r.sequence, 5);
    assert.equal(r.nodeId, 3);
    assert.equal(r.reportFlags, REPORT_FLAG_TRACKED);
    assert.equal(r.reportLength, 4 + 23 * 4);
    assert.equal(r.mdLength, 4);
    assert.equal(r.local.present, F_QUEUE_ID | F_QUEUE_OCCUPANCY);
    assert.equal(r.local.queueId[0], 3);
    assert.equal(r.local.queueOccupancy[0], 0xabc);
    assert.equal(r.innerType, INNER_IPV4);
    assert.equal(r.innerOffset, 24);
    assert.equal(r.innerL4Proto, 17);
    assert.equal(r.innerDstPort, 4790);
    assert.equal(r.intVersion, INT_V2);
    assert.equal(r.shimNpt, 2);
    assert.equal(r.origProto, 6);
    assert.equal(r.hopMl, 2);
    assert.equal(r.remainingHopCount, 6);
    assert.equal(r.instructionBitmap, 0x9000);
    assert.equal(r.hopCount, 2);
    assert.equal(r.hops.present, F_SWITCH_ID | F_QUEUE_ID | F_QUEUE_OCCUPANCY);
    assert.deepEqual(Array.from(r.hops.switchId.subarray(0, 2)), [2, 1]);
    assert.deepEqual(Array.from(r.hops.queueOccupancy.subarray(0, 2)), [0x222, 0x111]);
    assert.equal(r.payloadOffset, pkt.length - 20); // the original TCP header
    assert.equal(r.nextReportOffset, -1);
  });

  it('INT v2.1 §5.7 source-only DS metadata: remainder sits in the bottom (source) entry', () => {
    // shim Type 1 Length 3+2*2+1 = 8; header Hop ML 2, bitmap switch id + hop latency, DS ID 7
    const pkt = bytes(0x10080000, 0x20000205, 0xa0000007, 0x00000000,
      0x00000009, 0x00000064, // hop 9, latency 100
      0x00000008, 0x000000c8, 0xeeeeeeee); // source hop 8, latency 200, 4 bytes source-only
    const r = createIntReport();
    assert.equal(intStatusName(decodeIntInFlight(pkt, 0, pkt.length, r)), 'ok');
    assert.equal(r.hopCount, 2);
    assert.equal(r.sourceOnlyLength, 4);
    assert.deepEqual(Array.from(r.hops.hopLatency.subarray(0, 2)), [100, 200]);
    assert.equal(r.payloadOffset, pkt.length);
    // without a domain the remainder is not allowed
    pkt[10] = 0;
    pkt[11] = 0;
    assert.equal(intStatusName(decodeIntInFlight(pkt, 0, pkt.length, r)), 'malformed:stack-length');
  });
});
