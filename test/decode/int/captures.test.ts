// Real INT captures (test/fixtures/int, copies of test/captures/int; see the README there).
// Every expected value below was read by hand from `tshark -r FILE -x` hex dumps; the comments
// quote the bytes and show the arithmetic. Offsets are frame offsets: all six frames are
// Ethernet (14) + IPv4 with IHL 5 (20) + UDP (8), so the UDP payload starts at 42 (tshark
// "Header Length: 20 bytes (5)", "UDP payload (N bytes)").

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import {
  createIntReport, createIntStatusCounters, countIntStatus, decodeIntInFlight, decodeIntReport,
  hopIndexInTraversalOrder, intStatusName, INT_ALL_STATUSES, LENIENT_ALL, LENIENT_INNER_TYPE,
  LENIENT_MX_METADATA, LENIENT_REPORT_LENGTH, LENIENT_REPORT_VERSION, INNER_ETHERNET,
  INT_TYPE_MX, INT_V0_5, INT_V2, F_SWITCH_ID, REPORT_FLAG_TRACKED,
} from '../../../src/decode/int/index.ts';

const FIX = fileURLToPath(new URL('../../fixtures/int/', import.meta.url));

/** Minimal classic-pcap reader (24-byte file header, 16-byte record headers, little endian). */
function readPcap(file: string): Uint8Array[] {
  const b = readFileSync(FIX + file);
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  assert.equal(dv.getUint32(0, true), 0xa1b2c3d4, 'classic little-endian pcap');
  assert.equal(dv.getUint32(20, true), 1, 'LINKTYPE_ETHERNET');
  const frames: Uint8Array[] = [];
  let p = 24;
  while (p + 16 <= b.length) {
    const incl = dv.getUint32(p + 8, true);
    frames.push(new Uint8Array(b.buffer, b.byteOffset + p + 16, incl));
    p += 16 + incl;
  }
  return frames;
}

const UDP_PAYLOAD = 42;

function onlyFrame(file: string): Uint8Array {
  const f = readPcap(file);
  assert.equal(f.length, 1);
  return f[0];
}

describe('real INT captures', () => {
  it('serkantul int_report.pcap: TR v0.5 + INT v0.5 over TCP, 3 hops (switch ids 2, 3, 1)', () => {
    const fr = onlyFrame('serkantul_prometheus_int_exporter__int_report.pcap');
    assert.equal(fr.length, 137); // tshark: "137 bytes captured"
    const r = createIntReport();
    const st = decodeIntReport(fr, UDP_PAYLOAD, fr.length - UDP_PAYLOAD, r);
    assert.equal(intStatusName(st), 'ok');
    // UDP payload 00 20 00 01 | 00 00 00 00 | 00 00 00 00: Ver 0, NProto 0 (Ethernet);
    // 0x20 = D 0 Q 0 F 1; byte 3 0x01 & 0x3f = hw_id 1; sequence 0; ingress timestamp 0.
    assert.equal(r.reportVersion, 0);
    assert.equal(r.nProto, 0);
    assert.equal(r.reportFlags, REPORT_FLAG_TRACKED);
    assert.equal(r.hwId, 1);
    assert.equal(r.sequence, 0);
    assert.equal(r.reportTimestampNs, 0);
    assert.equal(r.nodeId, -1); // v0.5 NProto 0 carries no reporter switch id
    // inner Ethernet at 42+12 = 54 (ff ff ff ff ff ff 00 00 00 00 01 01 08 00);
    // IPv4 at 68 (45 04 00 45 ...: DSCP 0x04>>2 = 1, proto 6); TCP at 88 (f9 3c 04 d2: 63804 -> 1234, data offset 5)
    assert.equal(r.innerType, INNER_ETHERNET);
    assert.equal(r.innerOffset, 54);
    assert.equal(r.innerL3Offset, 68);
    assert.equal(r.innerDscp, 1);
    assert.equal(r.innerL4Proto, 6);
    assert.equal(r.innerL4Offset, 88);
    assert.equal(r.innerSrcPort, 0xf93c);
    assert.equal(r.innerDstPort, 1234);
    // shim at 108: 01 00 07 00 -> type 1, Length 7 words = 28 bytes (shim 4 + header 8 + 3*4 + tail 4)
    assert.equal(r.intVersion, INT_V0_5);
    assert.equal(r.shimOffset, 108);
    assert.equal(r.intLength, 28);
    // header 00 01 20 03 | 80 00 00 00: Ver 0, InsCnt 1, Max Hop Count 0x20 = 32,
    // Total Hop Count 3, instruction bitmap 0x8000 (bit 0: switch id)
    assert.equal(r.insCnt, 1);
    assert.equal(r.maxHopCount, 32);
    assert.equal(r.totalHopCount, 3);
    assert.equal(r.instructionBitmap, 0x8000);
    // stack 00 00 00 02 | 00 00 00 03 | 00 00 00 01, most recent first
    assert.equal(r.hopCount, 3);
    assert.equal(r.hops.present, F_SWITCH_ID);
    assert.deepEqual(Array.from(r.hops.switchId.subarray(0, 3)), [2, 3, 1]);
    // traversal order: first hop crossed = last on the wire
    const trav = [0, 1, 2].map((k) => r.hops.switchId[hopIndexInTraversalOrder(r, k)]);
    assert.deepEqual(trav, [1, 3, 2]);
    // tail 06 04 d2 00: next proto 6, dest port 0x04d2 = 1234, DSCP 0; payload 'a' (0x61) at 136
    assert.equal(r.origProto, 6);
    assert.equal(r.origDstPort, 1234);
    assert.equal(r.origDscp, 0);
    assert.equal(r.payloadOffset, 136);
    assert.equal(fr[r.payloadOffset], 0x61);
  });

  for (const [file, node, sw, egress, latency] of [
    // s1: metadata 00 00 00 01 | 00 00 00 03 | 02 b1 8c 35 ...; 0x02b18c35 = 45190197
    ['laofan13_P4-INT__int-mx_s1-cpu-eth0_out.pcap', 1, 1, 3, 0x02b18c35],
    // s3: metadata 00 00 00 03 | 00 00 00 04 | 02 a7 e6 c7 ...; 0x02a7e6c7 = 44558023
    ['laofan13_P4-INT__int-mx_s3-cpu-eth0_out.pcap', 3, 3, 4, 0x02a7e6c7],
  ] as const) {
    it(`${file}: non-conformant INT-MX report is a named error, lenient mode decodes it`, () => {
      const fr = onlyFrame(file);
      const counters = createIntStatusCounters();
      // Strict: first word 10 40 00 00 has version nibble 1 (= TR v1.0) and Len nibble 0; a
      // TR v1.0 header is at least 4 words, so this is malformed:report-length.
      const strict = createIntReport();
      const st = decodeIntReport(fr, UDP_PAYLOAD, fr.length - UDP_PAYLOAD, strict);
      assert.equal(intStatusName(st), 'malformed:report-length');
      countIntStatus(counters, st);
      assert.equal(counters[INT_ALL_STATUSES.indexOf(st)], 1);

      // Lenient: decoded as the TR v2.0 layout it was meant to be.
      const r = createIntReport(16, { lenient: LENIENT_ALL });
      const st2 = decodeIntReport(fr, UDP_PAYLOAD, fr.length - UDP_PAYLOAD, r);
      assert.equal(intStatusName(st2), 'ok');
      assert.equal(r.quirks, LENIENT_REPORT_VERSION | LENIENT_REPORT_LENGTH | LENIENT_INNER_TYPE | LENIENT_MX_METADATA);
      // group header 10 40 00 00 | 00 00 00 0N: hw_id = (0x10400000 >>> 22) & 0x3f = 1,
      // sequence = 0x10400000 & 0x3fffff = 0, node id N
      assert.equal(r.reportVersion, 2);
      assert.equal(r.hwId, 1);
      assert.equal(r.sequence, 0);
      assert.equal(r.nodeId, node);
      // individual header 14 00 00 30: RepType 1, InType 4 (IPv4), Report Length 0, MD Length 0,
      // flags 0x30 = F and I; main contents 8 zero bytes (RepMdBits 0)
      assert.equal(r.repType, 1);
      assert.equal(r.inType, 4);
      assert.equal(r.repMdBits, 0);
      assert.equal(r.reportFlags, 4 | 8);
      // but an Ethernet header follows at 42+20 = 62, then IPv4 (45 5c: DSCP 0x17) and UDP to 0x1f90 = 8080
      assert.equal(r.innerType, INNER_ETHERNET);
      assert.equal(r.innerOffset, 62);
      assert.equal(r.innerDscp, 0x17);
      assert.equal(r.innerDstPort, 8080);
      // shim at 62+14+20+8 = 104: 30 0e 00 00 -> INT-MX, Length 14 words (12-byte MX header + 44 bytes)
      assert.equal(r.shimOffset, 104);
      assert.equal(r.intVersion, INT_V2);
      assert.equal(r.intType, INT_TYPE_MX);
      // MX header 20 00 00 00 | ff 00 00 00 | 00 00 00 00: Ver 2, bitmap 0xff00
      assert.equal(r.instructionBitmap, 0xff00);
      // 44 bytes = switch 4 + ports 4 + latency 4 + queue 4 + ingress ts 8 + egress ts 8 + L2 ports 8 + tx util 4
      assert.equal(r.hopCount, 1);
      const h = r.hops;
      assert.equal(h.switchId[0], sw);
      assert.equal(h.ingressPort[0], 0);
      assert.equal(h.egressPort[0], egress);
      assert.equal(h.hopLatency[0], latency);
      assert.equal(h.queueId[0], 0);
      assert.equal(h.queueOccupancy[0], 0);
      assert.equal(h.ingressTs[0], 0);
      assert.equal(h.egressTs[0], latency); // egress ts 00 00 00 00 <same 4 bytes as latency>
      assert.equal(h.l2IngressPort[0], 0);
      assert.equal(h.l2EgressPort[0], egress);
      assert.equal(h.egressTxUtil[0], 0);
      assert.equal(r.payloadOffset, fr.length); // 104 + 4 + 56 = 164 = frame length
    });
  }

  it('laofan13 s1-eth2_out.pcap: INT-MX packet in flight (UDP to 8080), bitmap 0xff00', () => {
    const fr = onlyFrame('laofan13_P4-INT__int-mx_s1-eth2_out.pcap');
    // IPv4 DSCP 0x5c>>2 = 0x17 marks INT; UDP 64057 -> 8080; shim at 42: 30 03 00 00
    // (type 3 INT-MX, NPT 0, Length 3 words = the 12-byte MX header)
    const r = createIntReport();
    const st = decodeIntInFlight(fr, UDP_PAYLOAD, fr.length - UDP_PAYLOAD, r);
    assert.equal(intStatusName(st), 'ok');
    assert.equal(r.reportVersion, -1);
    assert.equal(r.intVersion, INT_V2);
    assert.equal(r.intType, INT_TYPE_MX);
    assert.equal(r.instructionBitmap, 0xff00); // 20 00 00 00 | ff 00 ...
    assert.equal(r.dsId, 0);
    assert.equal(r.hopCount, 0);
    assert.equal(r.payloadOffset, 58); // 42 + 4 + 12: "this is a INT!"
    assert.equal(String.fromCharCode(...fr.subarray(58, 72)), 'this is a INT!');
  });

  it('GEANT 2601_double_header.pcap: vendor v0.4-style header is malformed:int-version', () => {
    const fr = onlyFrame('GEANT_int-platform-dpdk__2601_double_header.pcap');
    // UDP 4607 -> 17000, payload 01 00 10 00 | 40 04 04 02 | 00 cc 00 00 ...: legacy type byte 1,
    // Length 0x10; header first byte 0x40 = 0100 0000: a v0.5 header has a 2-bit Ver 0 and a
    // v1.0 header has Ver nibble 1, here the 2-bit Ver is 1 and the nibble is 4.
    const r = createIntReport();
    const st = decodeIntInFlight(fr, UDP_PAYLOAD, fr.length - UDP_PAYLOAD, r);
    assert.equal(intStatusName(st), 'malformed:int-version');
    // forcing the v0.5 interpretation does not help
    assert.equal(intStatusName(decodeIntInFlight(fr, UDP_PAYLOAD, fr.length - UDP_PAYLOAD, r, INT_V0_5)), 'malformed:int-version');
  });

  it('GEANT int_v1.0 my.pcap: byte-swapped bitmap is malformed:instruction-unsupported', () => {
    const fr = onlyFrame('GEANT_In_band_telemetry_sink_fpga__int_v1.0_my.pcap');
    // payload 01 00 09 00 | 10 00 06 fe | 00 cc 00 00 | 24 bytes: shim type 1, Length 9 words
    // (shim + header + 24-byte stack); header Ver 1, Hop ML 6, Remaining Hop Count 0xfe;
    // bitmap 0x00cc sets v1.0 reserved bits 8, 9, 12, 13 (4 x 4 bytes = 16) which cannot
    // account for Hop ML 6 words: the vendor meant 0xcc00 with 8-byte timestamps.
    const r = createIntReport();
    const st = decodeIntInFlight(fr, UDP_PAYLOAD, fr.length - UDP_PAYLOAD, r);
    assert.equal(intStatusName(st), 'malformed:instruction-unsupported');
    assert.equal(r.intVersion, 1);
    assert.equal(r.hopMl, 6);
    assert.equal(r.remainingHopCount, 0xfe);
    assert.equal(r.instructionBitmap, 0x00cc);
    assert.equal(r.reservedInstructionBits, 0x00cc);
    assert.equal(r.stackLength, 24);
  });
});
