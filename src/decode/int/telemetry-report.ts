// Telemetry Report headers (P4.org Applications WG "Telemetry Report Format"), v0.5, v1.0, v2.0.
// decodeIntReport takes the UDP payload of a report packet.
//
// TR v0.5, Telemetry Report Header (12 bytes; layout as in the v0.5 spec and the ONOS/Stratum
// v0.5 implementations): Ver (4b) = 0 | NProto (4b) | D | Q | F | Reserved (15b) | hw_id (6b) |
//   Sequence Number (32b) | Ingress Timestamp (32b).
//   NProto 0 = Ethernet, 1 = Telemetry Drop Header, 2 = Telemetry Switch Local Header; the
//   two latter are followed by the Ethernet packet.
//   Drop header (12 B): Switch ID (32) | Ingress Port (16) | Egress Port (16) | Queue ID (8) |
//     Drop Reason (8) | Pad (16).
//   Switch local header (16 B): Switch ID (32) | Ingress Port (16) | Egress Port (16) |
//     Queue ID (8) | Queue Occupancy (24) | Egress Timestamp (32).
// TR v1.0, Telemetry Report Header (change log 2018-2-14, tag v1.0 2018-04-20):
//   Ver (4b) = 1 | Len (4b) | NProto (3b) | RepMdBits (6b) | Reserved (6b) | D | Q | F |
//   hw_id (6b) | Switch ID (32b) | Sequence Number (32b) | Ingress Timestamp (32b) |
//   optional metadata. Len is the header length in 4-octet words, so Len >= 4.
//   NProto 0 = Ethernet, 1 = IPv4, 2 = IPv6. The optional metadata (RepMdBits) is exposed raw
//   (rawMdOffset/rawMdLength): its bit assignment is not interpreted by this decoder.
// TR v2.0 §3.2 "Telemetry Report Group Header" (8 bytes): Ver (4b) = 2 | hw_id (6b) |
//   Sequence Number (22b) | Node ID (32b).
// TR v2.0 §3.3 "Individual Report Header": RepType (4b) | InType (4b) | Report Length (8b,
//   4-byte words, excluding this first word) | MD Length (8b, words) | D | Q | F | I | Rsvd (4b).
//   RepType 0 = Inner Only, 1 = INT, 2 = IOAM; InType 0 None, 1 TLV, 2 DS Extension Data,
//   3 Ethernet, 4 IPv4, 5 IPv6. Several individual reports may follow one group header.
// TR v2.0 §3.3.1 RepType 1 main contents: RepMdBits (16b) | Domain Specific ID (16b) |
//   DSMdBits (16b) | DSMdStatus (16b) | baseline metadata (RepMdBits) + DS metadata = MD Length.
// TR v2.0 §3.3.2 TLV: TLVType (4b) | Rsvd (4b) | TLVLength (8b, words of data) |
//   TLV Data Template (16b) | data. TLVType 0 DS extension data, 1 Ethernet, 2 IPv4, 3 IPv6.

import {
  F_DROP_REASON, F_EGRESS_PORT, F_EGRESS_TS, F_INGRESS_PORT, F_INGRESS_TS, F_QUEUE_ID,
  F_QUEUE_OCCUPANCY, F_SWITCH_ID, INNER_ETHERNET, INNER_IPV4, INNER_IPV6, INT_V0_5, INT_V1_0,
  INT_VERSION_AUTO, LENIENT_REPORT_LENGTH, LENIENT_REPORT_VERSION, REPORT_FLAG_CONGESTED,
  REPORT_FLAG_DROPPED, REPORT_FLAG_INTERMEDIATE, REPORT_FLAG_TRACKED, resetInnerAndInt,
  resetIntReport,
} from './int-report.ts';
import type { IntReport } from './int-report.ts';
import { decodeMetadataEntry, metadataLength, presentFields, REPMD_V2 } from './int-hops.ts';
import { decodeInnerPacket } from './inner-packet.ts';
import {
  INT_MALFORMED_MD_LENGTH, INT_MALFORMED_REPORT_LENGTH, INT_MALFORMED_TLV_LENGTH, INT_OK,
  INT_TRUNCATED_INDIVIDUAL_HEADER, INT_TRUNCATED_INDIVIDUAL_REPORT, INT_TRUNCATED_REPORT_HEADER,
  INT_TRUNCATED_REPORT_METADATA, INT_UNSUPPORTED_INNER_TYPE, INT_UNSUPPORTED_REPORT_TYPE,
  INT_UNSUPPORTED_REPORT_VERSION,
} from './status.ts';
import type { IntStatus } from './status.ts';

function u16(b: Uint8Array, o: number): number {
  return (b[o] << 8) | b[o + 1];
}
function u32(b: Uint8Array, o: number): number {
  return ((b[o] << 24) | (b[o + 1] << 16) | (b[o + 2] << 8) | b[o + 3]) >>> 0;
}

/**
 * Decode one telemetry report: `buf[off .. off+len)` is the UDP payload of the report packet.
 * Never throws on packet data and allocates nothing; `out` is overwritten. For TR v2.0 only the
 * first individual report is decoded; use decodeIntReportNext while out.nextReportOffset >= 0,
 * or pass `at`, a buffer offset a previous decode gave as nextReportOffset (or reportOffset):
 * the group header is decoded, then the individual report starting at `at` (TR v2.0 only;
 * ignored for TR v0.5 / v1.0, which hold one report).
 */
export function decodeIntReport(buf: Uint8Array, off: number, len: number, out: IntReport, at = -1): IntStatus {
  resetIntReport(out);
  off = off | 0;
  let end = off + (len | 0);
  if (end > buf.length) end = buf.length;
  if (off < 0 || off >= end) return INT_TRUNCATED_REPORT_HEADER;
  const ver = buf[off] >>> 4;
  if (ver === 0) return decodeV05(buf, off, end, out);
  if (ver === 1) {
    if ((buf[off] & 15) === 0 && (out.lenient & LENIENT_REPORT_VERSION) !== 0) {
      out.quirks |= LENIENT_REPORT_VERSION;
      return decodeV20(buf, off, end, out, at);
    }
    return decodeV10(buf, off, end, out);
  }
  if (ver === 2) return decodeV20(buf, off, end, out, at);
  return INT_UNSUPPORTED_REPORT_VERSION;
}

/**
 * Decode the next coalesced individual report of a TR v2.0 packet (after decodeIntReport or a
 * previous call returned with out.nextReportOffset >= 0). Group header fields are kept.
 */
export function decodeIntReportNext(buf: Uint8Array, end: number, out: IntReport): IntStatus {
  const p = out.nextReportOffset;
  if (end > buf.length) end = buf.length;
  resetIndividual(out);
  if (out.reportVersion !== 2 || p < 0 || p + 4 > end) return INT_TRUNCATED_INDIVIDUAL_HEADER;
  return decodeIndividual(buf, p, end, out);
}

function resetIndividual(out: IntReport): void {
  out.reportFlags = 0;
  out.repType = -1;
  out.inType = -1;
  out.repMdBits = 0;
  out.reportLength = 0;
  out.mdLength = 0;
  out.domainSpecificId = 0;
  out.dsMdBits = 0;
  out.dsMdStatus = 0;
  out.rawMdOffset = -1;
  out.rawMdLength = 0;
  out.nextReportOffset = -1;
  out.reportTimestampNs = -1;
  out.local.count = 0;
  out.local.present = 0;
  resetInnerAndInt(out);
}

function decodeV05(b: Uint8Array, off: number, end: number, out: IntReport): IntStatus {
  if (off + 12 > end) return INT_TRUNCATED_REPORT_HEADER;
  out.reportVersion = 0;
  const nProto = b[off] & 15;
  out.nProto = nProto;
  const b1 = b[off + 1];
  out.reportFlags = (b1 & 0x80 ? REPORT_FLAG_DROPPED : 0) | (b1 & 0x40 ? REPORT_FLAG_CONGESTED : 0) |
    (b1 & 0x20 ? REPORT_FLAG_TRACKED : 0);
  out.hwId = b[off + 3] & 0x3f;
  out.sequence = u32(b, off + 4);
  out.reportTimestampNs = u32(b, off + 8);
  let p = off + 12;
  const l = out.local;
  if (nProto === 1) {
    if (p + 12 > end) return INT_TRUNCATED_REPORT_METADATA;
    l.switchId[0] = u32(b, p);
    l.ingressPort[0] = u16(b, p + 4);
    l.egressPort[0] = u16(b, p + 6);
    l.queueId[0] = b[p + 8];
    l.dropReason[0] = b[p + 9];
    l.invalid[0] = 0;
    l.count = 1;
    l.present = F_SWITCH_ID | F_INGRESS_PORT | F_EGRESS_PORT | F_QUEUE_ID | F_DROP_REASON;
    out.nodeId = l.switchId[0];
    p += 12;
  } else if (nProto === 2) {
    if (p + 16 > end) return INT_TRUNCATED_REPORT_METADATA;
    l.switchId[0] = u32(b, p);
    l.ingressPort[0] = u16(b, p + 4);
    l.egressPort[0] = u16(b, p + 6);
    l.queueId[0] = b[p + 8];
    l.queueOccupancy[0] = u32(b, p + 8) & 0xffffff;
    const ts = u32(b, p + 12);
    l.egressTsHi[0] = 0;
    l.egressTsLo[0] = ts;
    l.egressTs[0] = ts;
    l.invalid[0] = 0;
    l.count = 1;
    l.present = F_SWITCH_ID | F_INGRESS_PORT | F_EGRESS_PORT | F_QUEUE_ID | F_QUEUE_OCCUPANCY | F_EGRESS_TS;
    out.nodeId = l.switchId[0];
    p += 16;
  } else if (nProto !== 0) {
    return INT_UNSUPPORTED_INNER_TYPE;
  }
  return decodeInnerPacket(b, p, end, INNER_ETHERNET, out, INT_V0_5);
}

function decodeV10(b: Uint8Array, off: number, end: number, out: IntReport): IntStatus {
  if (off + 16 > end) return INT_TRUNCATED_REPORT_HEADER;
  out.reportVersion = 1;
  const hdrLen = (b[off] & 15) * 4;
  const b1 = b[off + 1];
  const b2 = b[off + 2];
  const b3 = b[off + 3];
  const nProto = b1 >>> 5;
  out.nProto = nProto;
  out.repMdBits = ((b1 & 0x1f) << 1) | (b2 >>> 7);
  out.reportFlags = (b2 & 1 ? REPORT_FLAG_DROPPED : 0) | (b3 & 0x80 ? REPORT_FLAG_CONGESTED : 0) |
    (b3 & 0x40 ? REPORT_FLAG_TRACKED : 0);
  out.hwId = b3 & 0x3f;
  out.nodeId = u32(b, off + 4);
  out.sequence = u32(b, off + 8);
  out.reportTimestampNs = u32(b, off + 12);
  out.reportLength = hdrLen;
  if (hdrLen < 16) return INT_MALFORMED_REPORT_LENGTH;
  if (off + hdrLen > end) return INT_TRUNCATED_REPORT_METADATA;
  if (hdrLen > 16) {
    out.rawMdOffset = off + 16;
    out.rawMdLength = hdrLen - 16;
  }
  const p = off + hdrLen;
  if (nProto === 0) return decodeInnerPacket(b, p, end, INNER_ETHERNET, out, INT_V1_0);
  if (nProto === 1) return decodeInnerPacket(b, p, end, INNER_IPV4, out, INT_V1_0);
  if (nProto === 2) return decodeInnerPacket(b, p, end, INNER_IPV6, out, INT_V1_0);
  return INT_UNSUPPORTED_INNER_TYPE;
}

function decodeV20(b: Uint8Array, off: number, end: number, out: IntReport, at: number): IntStatus {
  if (off + 8 > end) return INT_TRUNCATED_REPORT_HEADER;
  out.reportVersion = 2;
  const w = u32(b, off);
  out.hwId = (w >>> 22) & 0x3f;
  out.sequence = w & 0x3fffff;
  out.nodeId = u32(b, off + 4);
  if (at < 0) return decodeIndividual(b, off + 8, end, out);
  if (at < off + 8) return INT_TRUNCATED_INDIVIDUAL_HEADER;
  return decodeIndividual(b, at, end, out);
}

function decodeIndividual(b: Uint8Array, p: number, end: number, out: IntReport): IntStatus {
  out.reportOffset = p;
  if (p + 4 > end) return INT_TRUNCATED_INDIVIDUAL_HEADER;
  const repType = b[p] >>> 4;
  const inType = b[p] & 15;
  out.repType = repType;
  out.inType = inType;
  const words = b[p + 1];
  const mdBytes = b[p + 2] * 4;
  out.mdLength = mdBytes;
  const fl = b[p + 3];
  out.reportFlags = (fl & 0x80 ? REPORT_FLAG_DROPPED : 0) | (fl & 0x40 ? REPORT_FLAG_CONGESTED : 0) |
    (fl & 0x20 ? REPORT_FLAG_TRACKED : 0) | (fl & 0x10 ? REPORT_FLAG_INTERMEDIATE : 0);
  let rend = p + 4 + words * 4;
  if (words === 0 && end > p + 4 && (out.lenient & LENIENT_REPORT_LENGTH) !== 0) {
    out.quirks |= LENIENT_REPORT_LENGTH;
    rend = end;
  }
  out.reportLength = rend - p;
  if (rend > end) return INT_TRUNCATED_INDIVIDUAL_REPORT;
  out.nextReportOffset = rend + 4 <= end ? rend : -1;
  let q = p + 4;
  if (repType === 1) {
    if (q + 8 > rend) return INT_MALFORMED_REPORT_LENGTH;
    const bits = u16(b, q);
    out.repMdBits = bits;
    out.domainSpecificId = u16(b, q + 2);
    out.dsMdBits = u16(b, q + 4);
    out.dsMdStatus = u16(b, q + 6);
    q += 8;
    if (q + mdBytes > rend) return INT_MALFORMED_REPORT_LENGTH;
    const base = metadataLength(bits, REPMD_V2);
    if (base > mdBytes) return INT_MALFORMED_MD_LENGTH;
    if (bits !== 0) {
      const l = out.local;
      decodeMetadataEntry(b, q, bits, REPMD_V2, l, 0);
      l.count = 1;
      l.present = presentFields(bits, REPMD_V2);
      if (bits & 0x0800) out.reportTimestampNs = l.ingressTs[0];
    }
    if (mdBytes > base) {
      out.rawMdOffset = q + base;
      out.rawMdLength = mdBytes - base;
    }
    q += mdBytes;
  } else if (repType !== 0) {
    return INT_UNSUPPORTED_REPORT_TYPE;
  }
  switch (inType) {
    case 0:
    case 2:
      return INT_OK;
    case 1:
      return decodeTlvs(b, q, rend, out);
    case 3:
      return decodeInnerPacket(b, q, rend, INNER_ETHERNET, out, INT_VERSION_AUTO);
    case 4:
      return decodeInnerPacket(b, q, rend, INNER_IPV4, out, INT_VERSION_AUTO);
    case 5:
      return decodeInnerPacket(b, q, rend, INNER_IPV6, out, INT_VERSION_AUTO);
    default:
      return INT_UNSUPPORTED_INNER_TYPE;
  }
}

function decodeTlvs(b: Uint8Array, q: number, rend: number, out: IntReport): IntStatus {
  for (let k = 0; k < 64 && q + 4 <= rend; k++) {
    const t = b[q] >>> 4;
    const data = q + 4;
    const dend = data + b[q + 1] * 4;
    if (dend > rend) return INT_MALFORMED_TLV_LENGTH;
    if (t >= 1 && t <= 3) {
      // first truncated-packet TLV is the inner packet
      const type = t === 1 ? INNER_ETHERNET : t === 2 ? INNER_IPV4 : INNER_IPV6;
      return decodeInnerPacket(b, data, dend, type, out, INT_VERSION_AUTO);
    }
    q = dend;
  }
  return INT_OK;
}
