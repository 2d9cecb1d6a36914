// INT metadata header (INT-MD / INT-MX) and the metadata stack behind it.
//
// INT v0.5 §4.7 "INT Hop-by-Hop Metadata Header Format" (8 bytes):
//   Ver (2b) = 0 | Rep (2b) | C | E | R (5b) | InsCnt (5b) | Max Hop Count (8b) |
//   Total Hop Count (8b) | Instruction Bitmap (16b) | Reserved (16b)
//   Each hop adds InsCnt * 4 bytes; Total Hop Count hops are on the stack.
// INT v1.0 §4.7 "INT Hop-by-Hop Metadata Header Format" (8 bytes):
//   Ver (4b) = 1 | Rep (2b) | C | E | M | Reserved (10b) | Hop ML (5b) |
//   Remaining Hop Count (8b) | Instruction Bitmap (16b) | Reserved (16b)
//   Hop ML = per-hop metadata length in 4-byte words; no hop count field, so
//   hops = stack length / (Hop ML * 4).
// INT v2.0/v2.1 §5.7 "INT-MD Metadata Header Format" (12 bytes):
//   Ver (4b) = 2 | D | E | M | Reserved (12b) | Hop ML (5b) | Remaining Hop Count (8b) |
//   Instruction Bitmap (16b) | Domain Specific ID (16b) | DS Instruction (16b) | DS Flags (16b)
//   Hop ML includes domain specific metadata; the stack is a multiple of Hop ML * 4 "plus the
//   size of 'source-only' Domain Specific Metadata if added by the source" (at the bottom, in
//   the source's entry). "The total stack length can be determined by subtracting the total
//   INT fixed header sizes (12 bytes) from (shim header length * 4)".
// INT v2.1 §5.8 "INT-MX Metadata Header Format" (12 bytes):
//   Ver (4b) = 2 | D | E | M | Reserved (25b) | Instruction Bitmap | DS ID | DS Instruction |
//   DS Flags. No metadata stack: each hop reports its metadata in a Telemetry Report.
//
// All versions: "each device must prepend its metadata in front of the metadata that are
// already added by the upstream devices" (v2.1 §5.7), so hop 0 on the wire is the most recent.

import {
  F_CHECKSUM_COMPLEMENT, INT_FLAG_COPY, INT_FLAG_DISCARD, INT_FLAG_HOP_EXCEEDED, INT_FLAG_MTU_EXCEEDED, INT_TYPE_MX,
  INT_V0_5, INT_V1_0, INT_V2, LENIENT_MX_METADATA, viewOf,
} from './int-report.ts';
import type { IntHops, IntReport } from './int-report.ts';
import {
  decodeChecksumComplement, decodeStackColumns, MD_V0_5, MD_V1_0, MD_V2, metadataLength,
  popcount16, presentFields, reservedBits,
} from './int-hops.ts';
import {
  INT_MALFORMED_HOP_COUNT_TOO_LARGE, INT_MALFORMED_HOP_ML_MISMATCH,
  INT_MALFORMED_INS_CNT_MISMATCH, INT_MALFORMED_INSTRUCTION_UNSUPPORTED,
  INT_MALFORMED_INT_VERSION, INT_MALFORMED_SHIM_LENGTH, INT_MALFORMED_STACK_LENGTH, INT_OK,
  INT_TRUNCATED_METADATA_HEADER, INT_TRUNCATED_STACK, INT_TRUNCATED_TAIL,
} from './status.ts';
import type { IntStatus } from './status.ts';

function u16(b: Uint8Array, o: number): number {
  return (b[o] << 8) | b[o + 1];
}

/**
 * Decode `count` hops of `stride` bytes (the last one `stride + extra`) starting at p: the
 * columns of out.hopColumns now, the other present ones left pending (ensureHopColumns).
 */
function decodeStack(
  b: Uint8Array, p: number, count: number, stride: number, extra: number, bitmap: number,
  kind: number, h: IntHops, out: IntReport,
): void {
  const csum = kind !== MD_V0_5 && (bitmap & 0x0001) !== 0;
  let present = 0;
  if (count > 0) {
    if (bitmap !== out.presentBitmap || kind !== out.presentKind) {
      out.presentBitmap = bitmap; out.presentKind = kind; out.presentMask = presentFields(bitmap, kind);
    }
    present = out.presentMask;
    const pos = b.byteOffset + p;
    const want = out.hopColumns;
    let got = 0;
    if (want !== 0) got = decodeStackColumns(viewOf(out, b), pos, count, stride, bitmap, kind, h, want, true);
    else {
      viewOf(out, b); // out.view: the stack's buffer, for pending columns and direct readers
      const invalid = h.invalid;
      for (let i = 0; i < count; i++) invalid[i] = 0;
    }
    out.pendingHopFields = present & ~got & ~F_CHECKSUM_COMPLEMENT;
    out.stackBuf = b;
    out.stackDvOffset = pos;
    out.stackStride = stride;
    out.stackBitmap = bitmap;
    out.stackKind = kind;
  }
  if (csum) {
    for (let i = 0; i < count; i++) {
      const size = i === count - 1 ? stride + extra : stride;
      decodeChecksumComplement(b, p + size, h, i);
      p += size;
    }
  }
  h.count = count;
  h.present = present;
}

/**
 * Decodes the hop fields of `fields` (F_* bits) that the last decode into r left pending
 * (IntReportOptions.hopColumns), from the bytes it decoded: call it before reading r.hops
 * arrays of a report created with hopColumns, while the decoded buffer is unchanged. Costs a
 * bit test when nothing is pending.
 */
export function ensureHopColumns(r: IntReport, fields: number): void {
  const want = r.pendingHopFields & fields;
  if (want !== 0) decodePending(r, want);
}

function decodePending(r: IntReport, want: number): void {
  const got = decodeStackColumns(viewOf(r, r.stackBuf!), r.stackDvOffset, r.hops.count, r.stackStride, r.stackBitmap, r.stackKind, r.hops, want, false);
  r.pendingHopFields &= ~got;
}

/**
 * Decode the INT metadata header and stack for the shim at b[s]. `legacy` is true for the 8-bit
 * type shim of v0.5/v1.0. Sets the INT fields of `out`.
 */
export function decodeIntMetadata(
  b: Uint8Array, s: number, limit: number, out: IntReport, preferVersion: number, legacy: boolean,
): IntStatus {
  const h = s + 4;
  if (legacy) {
    if (h + 8 > limit) return INT_TRUNCATED_METADATA_HEADER;
    const h0 = b[h];
    let v = -1;
    if (preferVersion === INT_V0_5) v = h0 >>> 6 === 0 ? INT_V0_5 : -1;
    else if (h0 >>> 4 === 1) v = INT_V1_0;
    else if (h0 >>> 6 === 0) v = INT_V0_5;
    if (v < 0) return INT_MALFORMED_INT_VERSION;
    out.metadataHeaderOffset = h;
    return v === INT_V0_5 ? decodeV05(b, s, limit, out) : decodeV10(b, s, limit, out);
  }
  if (h + 12 > limit) return INT_TRUNCATED_METADATA_HEADER;
  const h0 = b[h];
  if (h0 >>> 4 !== 2) return INT_MALFORMED_INT_VERSION;
  out.metadataHeaderOffset = h;
  out.intVersion = INT_V2;
  out.intFlags = ((h0 >>> 3) & 1 ? INT_FLAG_DISCARD : 0) | ((h0 >>> 2) & 1 ? INT_FLAG_HOP_EXCEEDED : 0) |
    ((h0 >>> 1) & 1 ? INT_FLAG_MTU_EXCEEDED : 0);
  const bitmap = u16(b, h + 4);
  out.instructionBitmap = bitmap;
  out.reservedInstructionBits = reservedBits(bitmap, MD_V2);
  out.dsId = u16(b, h + 6);
  out.dsInstruction = u16(b, h + 8);
  out.dsFlags = u16(b, h + 10);
  const total = b[s + 1] * 4; // metadata header + stack, shim excluded (v2.x)
  if (total < 12) return INT_MALFORMED_SHIM_LENGTH;
  const stackLen = total - 12;
  out.intLength = 4 + total;
  out.stackOffset = h + 12;
  out.stackLength = stackLen;
  out.payloadOffset = s + 4 + total;
  const base = metadataLength(bitmap, MD_V2);

  if (out.intType === INT_TYPE_MX) {
    if (stackLen !== 0) {
      // §5.8 defines no metadata after the INT-MX header.
      if ((out.lenient & LENIENT_MX_METADATA) === 0 || base === 0 || stackLen !== base) {
        return INT_MALFORMED_SHIM_LENGTH;
      }
      if (out.maxHops < 1) return INT_MALFORMED_HOP_COUNT_TOO_LARGE;
      if (h + 12 + stackLen > limit) return INT_TRUNCATED_STACK;
      out.quirks |= LENIENT_MX_METADATA;
      decodeStack(b, h + 12, 1, stackLen, 0, bitmap, MD_V2, out.hops, out);
      out.hopCount = 1;
    }
    return INT_OK;
  }

  const hopMl = b[h + 2] & 0x1f;
  out.hopMl = hopMl;
  out.remainingHopCount = b[h + 3];
  const perHop = hopMl * 4;
  if (base > perHop) {
    return out.reservedInstructionBits !== 0 ? INT_MALFORMED_INSTRUCTION_UNSUPPORTED : INT_MALFORMED_HOP_ML_MISMATCH;
  }
  let n = 0;
  let rem = 0;
  if (perHop === 0) {
    if (stackLen !== 0) return INT_MALFORMED_STACK_LENGTH;
  } else {
    n = (stackLen / perHop) | 0;
    rem = stackLen - n * perHop;
    // source-only DS metadata only exists with a domain and sits in the source's entry
    if (rem !== 0 && (n === 0 || out.dsId === 0)) return INT_MALFORMED_STACK_LENGTH;
  }
  if (n > out.maxHops) return INT_MALFORMED_HOP_COUNT_TOO_LARGE;
  if (h + 12 + stackLen > limit) return INT_TRUNCATED_STACK;
  out.sourceOnlyLength = rem;
  decodeStack(b, h + 12, n, perHop, rem, bitmap, MD_V2, out.hops, out);
  out.hopCount = n;
  return INT_OK;
}

function decodeV05(b: Uint8Array, s: number, limit: number, out: IntReport): IntStatus {
  const h = s + 4;
  const h0 = b[h];
  out.intVersion = INT_V0_5;
  out.intRep = (h0 >>> 4) & 3;
  out.intFlags = ((h0 >>> 3) & 1 ? INT_FLAG_COPY : 0) | ((h0 >>> 2) & 1 ? INT_FLAG_HOP_EXCEEDED : 0);
  const insCnt = b[h + 1] & 0x1f;
  out.insCnt = insCnt;
  out.hopMl = insCnt;
  out.maxHopCount = b[h + 2];
  const totalHops = b[h + 3];
  out.totalHopCount = totalHops;
  const bitmap = u16(b, h + 4);
  out.instructionBitmap = bitmap;
  out.reservedInstructionBits = reservedBits(bitmap, MD_V0_5);
  const total = b[s + 2] * 4; // shim + header + stack + tail
  if (total < 16) return INT_MALFORMED_SHIM_LENGTH;
  const stackLen = total - 16;
  out.intLength = total;
  out.stackOffset = h + 8;
  out.stackLength = stackLen;
  out.payloadOffset = s + total;
  if (popcount16(bitmap) !== insCnt) return INT_MALFORMED_INS_CNT_MISMATCH;
  const perHop = insCnt * 4;
  let n = 0;
  if (perHop === 0) {
    if (stackLen !== 0) return INT_MALFORMED_STACK_LENGTH;
  } else {
    n = (stackLen / perHop) | 0;
    if (n * perHop !== stackLen || n !== totalHops) return INT_MALFORMED_STACK_LENGTH;
  }
  if (n > out.maxHops) return INT_MALFORMED_HOP_COUNT_TOO_LARGE;
  const tail = h + 8 + stackLen;
  if (tail > limit) return INT_TRUNCATED_STACK;
  if (tail + 4 > limit) return INT_TRUNCATED_TAIL;
  decodeStack(b, h + 8, n, perHop, 0, bitmap, MD_V0_5, out.hops, out);
  out.hopCount = n;
  // v0.5 tail: Next Proto (8b) | Dest Port (16b) | DSCP (8b)
  out.origProto = b[tail];
  out.origDstPort = u16(b, tail + 1);
  out.origDscp = b[tail + 3] & 0x3f;
  return INT_OK;
}

function decodeV10(b: Uint8Array, s: number, limit: number, out: IntReport): IntStatus {
  const h = s + 4;
  const h0 = b[h];
  out.intVersion = INT_V1_0;
  out.intRep = (h0 >>> 2) & 3;
  out.intFlags = ((h0 >>> 1) & 1 ? INT_FLAG_COPY : 0) | (h0 & 1 ? INT_FLAG_HOP_EXCEEDED : 0) |
    (b[h + 1] >>> 7 ? INT_FLAG_MTU_EXCEEDED : 0);
  const hopMl = b[h + 2] & 0x1f;
  out.hopMl = hopMl;
  out.remainingHopCount = b[h + 3];
  const bitmap = u16(b, h + 4);
  out.instructionBitmap = bitmap;
  out.reservedInstructionBits = reservedBits(bitmap, MD_V1_0);
  const d = b[s + 3] >>> 2; // shim DSCP (6b)
  if (d !== 0) out.origDscp = d;
  const total = b[s + 2] * 4; // shim + header + stack
  if (total < 12) return INT_MALFORMED_SHIM_LENGTH;
  const stackLen = total - 12;
  out.intLength = total;
  out.stackOffset = h + 8;
  out.stackLength = stackLen;
  out.payloadOffset = s + total;
  const perHop = hopMl * 4;
  if (metadataLength(bitmap, MD_V1_0) !== perHop) {
    return out.reservedInstructionBits !== 0 ? INT_MALFORMED_INSTRUCTION_UNSUPPORTED : INT_MALFORMED_HOP_ML_MISMATCH;
  }
  let n = 0;
  if (perHop === 0) {
    if (stackLen !== 0) return INT_MALFORMED_STACK_LENGTH;
  } else {
    n = (stackLen / perHop) | 0;
    if (n * perHop !== stackLen) return INT_MALFORMED_STACK_LENGTH;
  }
  if (n > out.maxHops) return INT_MALFORMED_HOP_COUNT_TOO_LARGE;
  if (h + 8 + stackLen > limit) return INT_TRUNCATED_STACK;
  decodeStack(b, h + 8, n, perHop, 0, bitmap, MD_V1_0, out.hops, out);
  out.hopCount = n;
  return INT_OK;
}
