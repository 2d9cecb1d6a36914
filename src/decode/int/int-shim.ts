// INT shim header for INT over TCP/UDP (the 4 bytes right after the L4 header).
//
// INT v0.5 §4.6.1 "INT over TCP/UDP": Type (8b, 1 = hop-by-hop) | Reserved (8b) | Length (8b) |
//   Reserved (8b). Length counts the shim, the INT metadata header, the metadata stack AND the
//   4-byte INT tail header (Next Proto 8b | Dest Port 16b | DSCP 8b) that follows the stack.
//   (The capture serkantul int_report.pcap has Length 7 = shim 1 + header 2 + 3 hops + tail 1.)
// INT v1.0 §4.6.1 "INT over TCP/UDP" (§4.6 Header Location): Type (8b) | Reserved (8b) | Length (8b) |
//   DSCP (6b) R R. No tail. Length counts the shim, metadata header and stack (INT v2.1 §5.6.2
//   notes "the length of the shim header (1 word) is NOT counted since INT version 2.0").
// INT v2.0/v2.1 §5.6.2 "INT over TCP/UDP": Type (4b) | NPT (2b) | R R | Length (8b) |
//   UDP port, IP proto or DSCP (16b). Type (§5.1 "INT Header Types"): 1 = INT-MD,
//   2 = Destination, 3 = INT-MX. Length counts the INT metadata header and stack, not the shim.
//   NPT 0: second byte's first 6 bits may carry the original DSCP; NPT 1: original UDP
//   destination port; NPT 2: original IP protocol (the original L4 header follows the INT stack).
//
// The two families are told apart by the first byte: 0x01 is the legacy (v0.5/v1.0) 8-bit
// type, 0x1X / 0x3X is a v2.x type nibble. v0.5 and v1.0 are then told apart by the metadata
// header version (see int-metadata.ts).

import { INT_TYPE_DESTINATION, INT_TYPE_MD, INT_TYPE_MX } from './int-report.ts';
import type { IntReport } from './int-report.ts';
import { decodeIntMetadata } from './int-metadata.ts';
import {
  INT_MALFORMED_SHIM_TYPE, INT_TRUNCATED_SHIM, INT_UNSUPPORTED_INT_TYPE,
} from './status.ts';
import type { IntStatus } from './status.ts';

/** Does b[p..] start like an INT shim (used for automatic INT detection)? */
export function looksLikeIntShim(b: Uint8Array, p: number, limit: number): boolean {
  if (p >= limit) return false;
  const b0 = b[p];
  if (b0 === 0x01) {
    // legacy: reserved byte must be 0 and Length must cover at least shim + 8-byte header
    return p + 3 <= limit ? b[p + 1] === 0 && b[p + 2] >= 3 : p + 1 >= limit || b[p + 1] === 0;
  }
  const t = b0 >>> 4;
  if (t !== INT_TYPE_MD && t !== INT_TYPE_MX) return false;
  return p + 2 <= limit ? b[p + 1] >= 3 : true;
}

/**
 * Decode INT starting at the shim at b[p], not reading at or past `limit`. `preferVersion` is
 * INT_V0_5 / INT_V1_0 to settle the v0.5/v1.0 ambiguity, -1 for automatic.
 */
export function decodeIntAt(
  b: Uint8Array, p: number, limit: number, out: IntReport, preferVersion: number,
): IntStatus {
  out.shimOffset = p;
  if (p + 4 > limit) return INT_TRUNCATED_SHIM;
  const b0 = b[p];
  if (b0 === 0x01) {
    out.intPresent = true;
    out.intType = INT_TYPE_MD;
    return decodeIntMetadata(b, p, limit, out, preferVersion, true);
  }
  const t = b0 >>> 4;
  if (t === INT_TYPE_MD || t === INT_TYPE_MX) {
    out.intPresent = true;
    out.intType = t;
    const npt = (b0 >>> 2) & 3;
    out.shimNpt = npt;
    if (npt === 0) {
      const d = b[p + 3] >>> 2;
      if (d !== 0) out.origDscp = d;
    } else if (npt === 1) {
      out.origDstPort = (b[p + 2] << 8) | b[p + 3];
    } else if (npt === 2) {
      out.origProto = b[p + 3];
    }
    return decodeIntMetadata(b, p, limit, out, preferVersion, false);
  }
  if (t === INT_TYPE_DESTINATION) {
    // §5.1: "The format of Destination-type headers will be defined in a future revision";
    // report where it ends so the caller can still skip it.
    out.intPresent = true;
    out.intType = INT_TYPE_DESTINATION;
    out.intLength = 4 + b[p + 1] * 4;
    out.payloadOffset = p + out.intLength;
    return INT_UNSUPPORTED_INT_TYPE;
  }
  return INT_MALFORMED_SHIM_TYPE;
}
