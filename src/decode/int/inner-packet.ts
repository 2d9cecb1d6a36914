// The packet carried inside a telemetry report: walk Ethernet (+VLAN) / IPv4 / IPv6 / TCP / UDP
// just far enough to record offsets for the engine's packet decoder and to find INT-over-TCP/UDP
// behind the L4 header (INT v2.1 §5.6.2: "put the INT metadata just after layer 4 headers";
// "If TCP has any options, the INT stack may come before or after the TCP options": this
// decoder expects it after them, i.e. at the TCP data offset).

import {
  INNER_ETHERNET, INNER_IPV4, INNER_IPV6, LENIENT_INNER_TYPE, REPORT_FLAG_TRACKED,
} from './int-report.ts';
import type { IntReport } from './int-report.ts';
import { decodeIntAt, looksLikeIntShim } from './int-shim.ts';
import {
  INT_MALFORMED_INNER_HEADER, INT_OK, INT_TRUNCATED_INNER_L2, INT_TRUNCATED_INNER_L3,
  INT_TRUNCATED_INNER_L4, INT_TRUNCATED_SHIM, INT_UNSUPPORTED_INNER_L4,
} from './status.ts';
import type { IntStatus } from './status.ts';

function u16(b: Uint8Array, o: number): number {
  return (b[o] << 8) | b[o + 1];
}

/**
 * Decode the inner packet of `type` (INNER_ETHERNET / _IPV4 / _IPV6) at b[p..limit) and the INT
 * headers after its L4 header, if INT is signalled (see IntReportOptions for detection).
 */
export function decodeInnerPacket(
  b: Uint8Array, p: number, limit: number, type: number, out: IntReport, preferVersion: number,
): IntStatus {
  if (type !== INNER_ETHERNET && p < limit && (out.lenient & LENIENT_INNER_TYPE) !== 0) {
    const v = b[p] >>> 4;
    if ((type === INNER_IPV4 && v !== 4) || (type === INNER_IPV6 && v !== 6)) {
      out.quirks |= LENIENT_INNER_TYPE;
      type = INNER_ETHERNET;
    }
  }
  out.innerType = type;
  out.innerOffset = p;
  out.innerLength = limit - p;
  let q = p;
  let ipv = type === INNER_IPV4 ? 4 : 6;
  if (type === INNER_ETHERNET) {
    if (p + 14 > limit) return INT_TRUNCATED_INNER_L2;
    let et = u16(b, p + 12);
    q = p + 14;
    for (let k = 0; k < 3 && (et === 0x8100 || et === 0x88a8 || et === 0x9100); k++) {
      if (q + 4 > limit) return INT_TRUNCATED_INNER_L2;
      et = u16(b, q + 2);
      q += 4;
    }
    if (et === 0x0800) ipv = 4;
    else if (et === 0x86dd) ipv = 6;
    else return INT_OK; // not IP: nothing more to find
  }
  out.innerL3Offset = q;
  let proto = -1;
  let l4 = 0;
  let dscp = 0;
  if (ipv === 4) {
    if (q + 20 > limit) return INT_TRUNCATED_INNER_L3;
    const ihl = (b[q] & 15) * 4;
    if (b[q] >>> 4 !== 4 || ihl < 20) return INT_MALFORMED_INNER_HEADER;
    if (q + ihl > limit) return INT_TRUNCATED_INNER_L3;
    out.innerIpVersion = 4;
    dscp = b[q + 1] >>> 2;
    out.innerDscp = dscp;
    proto = b[q + 9];
    if ((u16(b, q + 6) & 0x1fff) !== 0) return INT_OK; // non-first fragment: no L4 header
    l4 = q + ihl;
  } else {
    if (q + 40 > limit) return INT_TRUNCATED_INNER_L3;
    if (b[q] >>> 4 !== 6) return INT_MALFORMED_INNER_HEADER;
    out.innerIpVersion = 6;
    dscp = ((b[q] & 15) << 2) | (b[q + 1] >>> 6);
    out.innerDscp = dscp;
    proto = b[q + 6];
    l4 = q + 40;
    for (let k = 0; k < 8; k++) {
      if (proto === 0 || proto === 43 || proto === 60 || proto === 51) {
        if (l4 + 8 > limit) return INT_TRUNCATED_INNER_L3;
        const n = proto === 51 ? (b[l4 + 1] + 2) * 4 : (b[l4 + 1] + 1) * 8;
        proto = b[l4];
        l4 += n;
        if (l4 > limit) return INT_TRUNCATED_INNER_L3;
      } else if (proto === 44) {
        if (l4 + 8 > limit) return INT_TRUNCATED_INNER_L3;
        const frag = u16(b, l4 + 2) & 0xfff8;
        proto = b[l4];
        l4 += 8;
        if (frag !== 0) return INT_OK;
      } else {
        break;
      }
    }
  }
  out.innerL4Proto = proto;
  const explicit = out.dscpMask !== 0 || out.udpPort !== 0;
  const dscpSays = out.dscpMask !== 0 && (dscp & out.dscpMask) === out.dscpValue;
  let pay = 0;
  if (proto === 6) {
    if (l4 + 20 > limit) return INT_TRUNCATED_INNER_L4;
    const doff = (b[l4 + 12] >>> 4) * 4;
    if (doff < 20) return INT_MALFORMED_INNER_HEADER;
    if (l4 + doff > limit) return INT_TRUNCATED_INNER_L4;
    out.innerL4Offset = l4;
    out.innerSrcPort = u16(b, l4);
    out.innerDstPort = u16(b, l4 + 2);
    pay = l4 + doff;
  } else if (proto === 17) {
    if (l4 + 8 > limit) return INT_TRUNCATED_INNER_L4;
    out.innerL4Offset = l4;
    out.innerSrcPort = u16(b, l4);
    out.innerDstPort = u16(b, l4 + 2);
    pay = l4 + 8;
  } else {
    return dscpSays ? INT_UNSUPPORTED_INNER_L4 : INT_OK;
  }
  let present: boolean;
  if (explicit) {
    present = dscpSays || (out.udpPort !== 0 && proto === 17 && out.innerDstPort === out.udpPort);
  } else {
    // automatic: tracked-flow reports (F) whose L4 payload starts like an INT shim
    present = (out.reportVersion < 0 || (out.reportFlags & REPORT_FLAG_TRACKED) !== 0) &&
      looksLikeIntShim(b, pay, limit);
    if (present && pay + 4 > limit) {
      out.shimOffset = pay;
      return INT_TRUNCATED_SHIM;
    }
  }
  if (!present) return INT_OK;
  return decodeIntAt(b, pay, limit, out, preferVersion);
}
