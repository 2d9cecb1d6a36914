// INT / Telemetry Report decoding: public API.
//
//   const r = createIntReport(16);                  // once
//   const st = decodeIntReport(udpPayload, off, len, r);
//   if (st === INT_OK) { r.nodeId; r.hops.switchId[0]; r.innerOffset; ... }
//   else counters[intStatusIndex(st)]++;            // or countIntStatus(counters, st)
//
// For INT-MD/MX packets in flight (INT over TCP/UDP, recognised by the caller from the DSCP or
// the UDP port), pass the offset right after the L4 header to decodeIntInFlight.

import { resetIntReport } from './int-report.ts';
import type { IntReport } from './int-report.ts';
import { decodeIntAt } from './int-shim.ts';
import { INT_TRUNCATED_SHIM } from './status.ts';
import type { IntStatus } from './status.ts';

export * from './status.ts';
export * from './int-report.ts';
export { decodeIntReport, decodeIntReportNext } from './telemetry-report.ts';
export { looksLikeIntShim } from './int-shim.ts';
export { ensureHopColumns } from './int-metadata.ts';
export { metadataLength, presentFields, hopWordOffset, ALL_HOP_FIELDS, MD_V0_5, MD_V1_0, MD_V2, REPMD_V2 } from './int-hops.ts';

/**
 * Decode the INT headers of a packet in flight: `buf[off..off+len)` starts at the INT shim
 * (the first byte after the TCP/UDP header). `versionHint` (INT_V0_5 / INT_V1_0) settles the
 * v0.5 vs v1.0 ambiguity of the legacy shim; default automatic (-1). out.reportVersion is -1.
 */
export function decodeIntInFlight(
  buf: Uint8Array, off: number, len: number, out: IntReport, versionHint = -1,
): IntStatus {
  resetIntReport(out);
  off = off | 0;
  let end = off + (len | 0);
  if (end > buf.length) end = buf.length;
  if (off < 0 || off >= end) {
    out.shimOffset = off;
    return INT_TRUNCATED_SHIM;
  }
  return decodeIntAt(buf, off, end, out, versionHint);
}
