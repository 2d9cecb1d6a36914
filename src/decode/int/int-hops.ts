// Per-hop INT metadata (and the TR v2.0 reporter metadata, which reuses the same bit layout).
//
// Layout decisions, one table per spec version (bit 0 is the MSB of the 16-bit bitmap):
//
// INT v0.5 §4.7 "INT Hop-by-Hop Metadata Header Format", instruction bitmap: every instruction
//   is 4 bytes.
//   bit0 switch id, bit1 ingress port id (16) + egress port id (16), bit2 hop latency,
//   bit3 queue id (8) + queue occupancy (24), bit4 ingress timestamp (4 B), bit5 egress
//   timestamp (4 B), bit6 queue id (8) + queue congestion status (24), bit7 egress port tx
//   utilization, bits 8-15 reserved (counted in InsCnt, so 4 bytes each).
// INT v1.0 §4.7 "INT Hop-by-Hop Metadata Header Format": bit0 switch id, bit1 level 1 ingress +
//   egress port id (16+16), bit2 hop latency, bit3 queue id + occupancy, bit4 ingress timestamp
//   (4 B), bit5 egress timestamp (4 B), bit6 level 2 ingress + egress port id (4 B each),
//   bit7 egress port tx utilization, bits 8-14 reserved, bit15 checksum complement.
// INT v2.0/v2.1 §5.7 "INT-MD Metadata Header Format" (same bitmap in §5.8 INT-MX): as v1.0 but
//   bit4/bit5 timestamps are 8 bytes, bit8 buffer id (8) + buffer occupancy (24), bits 9-14
//   reserved (4 B each: "a reserved bit may be used for a 4B metadata in a subsequent minor
//   version"), bit15 checksum complement, which is the last field of a hop: domain specific
//   metadata is "appended to the Baseline Metadata before Checksum Complement is inserted".
// Telemetry Report v2.0 §3.3.1 "Individual Report Main Contents for RepType 1 (INT)", RepMdBits:
//   bit0 reserved, bits 1-8 as INT v2.x, bits 9-14 reserved, bit15 queue id (8) + drop reason (8)
//   + padding (16); "each bit represents 4 octets ... except for bits 4, 5 & 6 (8 octets)".
//
// A device that cannot supply a value writes the all-ones reserved value (INT v2.1 §5.7); such
// fields are flagged per hop in IntHops.invalid.

import {
  F_BUFFER_ID, F_BUFFER_OCCUPANCY, F_CHECKSUM_COMPLEMENT, F_DROP_REASON, F_EGRESS_PORT,
  F_EGRESS_TS, F_EGRESS_TX_UTIL, F_HOP_LATENCY, F_INGRESS_PORT, F_INGRESS_TS, F_L2_EGRESS_PORT,
  F_L2_INGRESS_PORT, F_QUEUE_CONGESTION, F_QUEUE_ID, F_QUEUE_OCCUPANCY, F_SWITCH_ID,
} from './int-report.ts';
import type { IntHops } from './int-report.ts';

/** Bitmap interpretations. */
export const MD_V0_5 = 0;
export const MD_V1_0 = 1;
export const MD_V2 = 2;
export const REPMD_V2 = 3;

const EIGHT_BYTE = [0x0000, 0x0200, 0x0e00, 0x0e00];
const RESERVED = [0x00ff, 0x00fe, 0x007e, 0x807e];

export function popcount16(x: number): number {
  x = x - ((x >>> 1) & 0x5555);
  x = (x & 0x3333) + ((x >>> 2) & 0x3333);
  x = (x + (x >>> 4)) & 0x0f0f;
  return (x + (x >>> 8)) & 0x1f;
}

/** Bytes of baseline metadata one entry carries for this bitmap. */
export function metadataLength(bitmap: number, kind: number): number {
  return 4 * (popcount16(bitmap & 0xffff) + popcount16(bitmap & EIGHT_BYTE[kind]));
}

/** Bits of the bitmap that the given version reserves. */
export function reservedBits(bitmap: number, kind: number): number {
  return bitmap & RESERVED[kind];
}

/** F_* fields present for this bitmap. */
export function presentFields(bitmap: number, kind: number): number {
  let m = 0;
  if (bitmap & 0x8000 && kind !== REPMD_V2) m |= F_SWITCH_ID;
  if (bitmap & 0x4000) m |= F_INGRESS_PORT | F_EGRESS_PORT;
  if (bitmap & 0x2000) m |= F_HOP_LATENCY;
  if (bitmap & 0x1000) m |= F_QUEUE_ID | F_QUEUE_OCCUPANCY;
  if (bitmap & 0x0800) m |= F_INGRESS_TS;
  if (bitmap & 0x0400) m |= F_EGRESS_TS;
  if (bitmap & 0x0200) {
    m |= kind === MD_V0_5 ? F_QUEUE_ID | F_QUEUE_CONGESTION : F_L2_INGRESS_PORT | F_L2_EGRESS_PORT;
  }
  if (bitmap & 0x0100) m |= F_EGRESS_TX_UTIL;
  if (bitmap & 0x0080 && kind >= MD_V2) m |= F_BUFFER_ID | F_BUFFER_OCCUPANCY;
  if (bitmap & 0x0001) {
    if (kind === MD_V1_0 || kind === MD_V2) m |= F_CHECKSUM_COMPLEMENT;
    else if (kind === REPMD_V2) m |= F_QUEUE_ID | F_DROP_REASON;
  }
  return m;
}

function u32(b: Uint8Array, o: number): number {
  return ((b[o] << 24) | (b[o + 1] << 16) | (b[o + 2] << 8) | b[o + 3]) >>> 0;
}

const TWO32 = 4294967296;
const ONES = 0xffffffff;

/**
 * Decode one metadata entry of `bitmap` at b[p..] into h[i], in bitmap order. The caller has
 * checked that metadataLength(bitmap, kind) bytes are available. For MD_V1_0 / MD_V2 the
 * checksum complement (bit 15) is not read here: it is the last word of the hop (after any
 * domain specific metadata), see decodeChecksumComplement. Returns the offset after the
 * baseline fields.
 */
export function decodeMetadataEntry(
  b: Uint8Array, p: number, bitmap: number, kind: number, h: IntHops, i: number,
): number {
  let inv = 0;
  let w = 0;
  if (bitmap & 0x8000) {
    if (kind !== REPMD_V2) {
      w = u32(b, p);
      h.switchId[i] = w;
      if (w === ONES) inv |= F_SWITCH_ID;
    }
    p += 4;
  }
  if (bitmap & 0x4000) {
    w = u32(b, p);
    h.ingressPort[i] = w >>> 16;
    h.egressPort[i] = w & 0xffff;
    if (w === ONES) inv |= F_INGRESS_PORT | F_EGRESS_PORT;
    p += 4;
  }
  if (bitmap & 0x2000) {
    w = u32(b, p);
    h.hopLatency[i] = w;
    if (w === ONES) inv |= F_HOP_LATENCY;
    p += 4;
  }
  if (bitmap & 0x1000) {
    w = u32(b, p);
    h.queueId[i] = w >>> 24;
    h.queueOccupancy[i] = w & 0xffffff;
    if (w === ONES) inv |= F_QUEUE_ID | F_QUEUE_OCCUPANCY;
    p += 4;
  }
  const wide = kind >= MD_V2;
  if (bitmap & 0x0800) {
    if (wide) {
      const hi = u32(b, p);
      w = u32(b, p + 4);
      h.ingressTsHi[i] = hi;
      h.ingressTsLo[i] = w;
      h.ingressTs[i] = hi * TWO32 + w;
      if (hi === ONES && w === ONES) inv |= F_INGRESS_TS;
      p += 8;
    } else {
      w = u32(b, p);
      h.ingressTsHi[i] = 0;
      h.ingressTsLo[i] = w;
      h.ingressTs[i] = w;
      if (w === ONES) inv |= F_INGRESS_TS;
      p += 4;
    }
  }
  if (bitmap & 0x0400) {
    if (wide) {
      const hi = u32(b, p);
      w = u32(b, p + 4);
      h.egressTsHi[i] = hi;
      h.egressTsLo[i] = w;
      h.egressTs[i] = hi * TWO32 + w;
      if (hi === ONES && w === ONES) inv |= F_EGRESS_TS;
      p += 8;
    } else {
      w = u32(b, p);
      h.egressTsHi[i] = 0;
      h.egressTsLo[i] = w;
      h.egressTs[i] = w;
      if (w === ONES) inv |= F_EGRESS_TS;
      p += 4;
    }
  }
  if (bitmap & 0x0200) {
    if (kind === MD_V0_5) {
      w = u32(b, p);
      if ((bitmap & 0x1000) === 0) h.queueId[i] = w >>> 24;
      h.queueCongestion[i] = w & 0xffffff;
      if (w === ONES) inv |= F_QUEUE_CONGESTION;
      p += 4;
    } else {
      w = u32(b, p);
      h.l2IngressPort[i] = w;
      if (w === ONES) inv |= F_L2_INGRESS_PORT;
      w = u32(b, p + 4);
      h.l2EgressPort[i] = w;
      if (w === ONES) inv |= F_L2_EGRESS_PORT;
      p += 8;
    }
  }
  if (bitmap & 0x0100) {
    w = u32(b, p);
    h.egressTxUtil[i] = w;
    if (w === ONES) inv |= F_EGRESS_TX_UTIL;
    p += 4;
  }
  if (bitmap & 0x0080) {
    if (wide) {
      w = u32(b, p);
      h.bufferId[i] = w >>> 24;
      h.bufferOccupancy[i] = w & 0xffffff;
      if (w === ONES) inv |= F_BUFFER_ID | F_BUFFER_OCCUPANCY;
    }
    p += 4;
  }
  if (bitmap & 0x007e) p += 4 * popcount16(bitmap & 0x007e);
  if (bitmap & 0x0001) {
    if (kind === MD_V0_5) {
      p += 4;
    } else if (kind === REPMD_V2) {
      if ((bitmap & 0x1000) === 0) h.queueId[i] = b[p];
      h.dropReason[i] = b[p + 1];
      p += 4;
    }
  }
  h.invalid[i] = inv;
  return p;
}

/** Read the checksum complement (MD_V1_0 / MD_V2 bit 15) from the last word of a hop. */
export function decodeChecksumComplement(b: Uint8Array, hopEnd: number, h: IntHops, i: number): void {
  const w = u32(b, hopEnd - 4);
  h.checksumComplement[i] = w;
  if (w === ONES) h.invalid[i] |= F_CHECKSUM_COMPLEMENT;
}

/**
 * Byte offset, in a hop entry of `bitmap` read as `kind` (MD_V0_5 / MD_V1_0 / MD_V2), of the
 * 4-byte word that carries hop field `field` (one F_* bit), or -1 when the entry has none. The
 * word holds the field as decodeStackColumns reads it: switch id, hop latency, tx utilisation
 * the whole word; ingress / egress port the high / low 16 bits; queue id the top 8 bits and
 * occupancy (bit 3) or congestion (v0.5 bit 6) the low 24; a word of all ones is "not
 * available" for every field in it (but a v0.5 queue id taken from the congestion word). For
 * F_QUEUE_ID this is the bit 3 word when present, else the v0.5 bit 6 word. 64-bit and two-word
 * fields (timestamps, level 2 ports) and the checksum complement are not described: -1.
 */
export function hopWordOffset(bitmap: number, kind: number, field: number): number {
  let o = 0;
  if (bitmap & 0x8000) { if (field === F_SWITCH_ID) return o; o += 4; }
  else if (field === F_SWITCH_ID) return -1;
  if (bitmap & 0x4000) { if (field === F_INGRESS_PORT || field === F_EGRESS_PORT) return o; o += 4; }
  if (bitmap & 0x2000) { if (field === F_HOP_LATENCY) return o; o += 4; }
  if (bitmap & 0x1000) { if (field === F_QUEUE_ID || field === F_QUEUE_OCCUPANCY) return o; o += 4; }
  const wide = kind >= MD_V2;
  if (bitmap & 0x0800) o += wide ? 8 : 4;
  if (bitmap & 0x0400) o += wide ? 8 : 4;
  if (bitmap & 0x0200) {
    if (kind === MD_V0_5) { if (field === F_QUEUE_CONGESTION || (field === F_QUEUE_ID && (bitmap & 0x1000) === 0)) return o; o += 4; }
    else o += 8;
  }
  if (bitmap & 0x0100) { if (field === F_EGRESS_TX_UTIL) return o; o += 4; }
  if ((bitmap & 0x0080) && wide && (field === F_BUFFER_ID || field === F_BUFFER_OCCUPANCY)) return o;
  return -1;
}

/** Every hop field (F_* bits): `want` of decodeStackColumns for a full decode. */
export const ALL_HOP_FIELDS = 0xffff;

/**
 * HOT PATH: the same result as decodeMetadataEntry for hops 0..count-1 of a stack whose
 * entries start every `stride` bytes at dv offset p (kinds MD_V0_5 / MD_V1_0 / MD_V2), decoded
 * field by field: each field's offset in the entry, its bitmap test and its array are taken once
 * per stack rather than once per hop. Only the instruction words that carry a field of `want`
 * (F_* bits) are decoded (a word carrying two fields, such as ingress + egress port, is decoded
 * whole); the others are skipped. `first`: this is the stack's first decode, which clears
 * h.invalid[0..count) (later calls add the invalid bits of the words they decode). Returns the
 * F_* fields now decoded.
 */
export function decodeStackColumns(
  dv: DataView, p: number, count: number, stride: number, bitmap: number, kind: number, h: IntHops,
  want: number = ALL_HOP_FIELDS, first = true,
): number {
  const invalid = h.invalid;
  if (first) for (let i = 0; i < count; i++) invalid[i] = 0;
  let got = 0;
  let o = p;
  if (bitmap & 0x8000) {
    if (want & F_SWITCH_ID) {
      const a = h.switchId;
      for (let i = 0, q = o; i < count; i++, q += stride) {
        const w = dv.getUint32(q);
        a[i] = w;
        if (w === ONES) invalid[i] |= F_SWITCH_ID;
      }
      got |= F_SWITCH_ID;
    }
    o += 4;
  }
  if (bitmap & 0x4000) {
    if (want & (F_INGRESS_PORT | F_EGRESS_PORT)) {
      const a = h.ingressPort, e = h.egressPort;
      for (let i = 0, q = o; i < count; i++, q += stride) {
        const w = dv.getUint32(q);
        a[i] = w >>> 16;
        e[i] = w & 0xffff;
        if (w === ONES) invalid[i] |= F_INGRESS_PORT | F_EGRESS_PORT;
      }
      got |= F_INGRESS_PORT | F_EGRESS_PORT;
    }
    o += 4;
  }
  if (bitmap & 0x2000) {
    if (want & F_HOP_LATENCY) {
      const a = h.hopLatency;
      for (let i = 0, q = o; i < count; i++, q += stride) {
        const w = dv.getUint32(q);
        a[i] = w;
        if (w === ONES) invalid[i] |= F_HOP_LATENCY;
      }
      got |= F_HOP_LATENCY;
    }
    o += 4;
  }
  if (bitmap & 0x1000) {
    if (want & (F_QUEUE_ID | F_QUEUE_OCCUPANCY)) {
      const a = h.queueId, c = h.queueOccupancy;
      for (let i = 0, q = o; i < count; i++, q += stride) {
        const w = dv.getUint32(q);
        a[i] = w >>> 24;
        c[i] = w & 0xffffff;
        if (w === ONES) invalid[i] |= F_QUEUE_ID | F_QUEUE_OCCUPANCY;
      }
      got |= F_QUEUE_ID | F_QUEUE_OCCUPANCY;
    }
    o += 4;
  }
  const wide = kind >= MD_V2;
  if (bitmap & 0x0800) {
    if (want & F_INGRESS_TS) {
      tsColumn(dv, o, count, stride, wide, h.ingressTs, h.ingressTsHi, h.ingressTsLo, invalid, F_INGRESS_TS);
      got |= F_INGRESS_TS;
    }
    o += wide ? 8 : 4;
  }
  if (bitmap & 0x0400) {
    if (want & F_EGRESS_TS) {
      tsColumn(dv, o, count, stride, wide, h.egressTs, h.egressTsHi, h.egressTsLo, invalid, F_EGRESS_TS);
      got |= F_EGRESS_TS;
    }
    o += wide ? 8 : 4;
  }
  if (bitmap & 0x0200) {
    if (kind === MD_V0_5) {
      const setQ = (bitmap & 0x1000) === 0;
      const fields = setQ ? F_QUEUE_ID | F_QUEUE_CONGESTION : F_QUEUE_CONGESTION;
      if (want & fields) {
        const a = h.queueId, c = h.queueCongestion;
        for (let i = 0, q = o; i < count; i++, q += stride) {
          const w = dv.getUint32(q);
          if (setQ) a[i] = w >>> 24;
          c[i] = w & 0xffffff;
          if (w === ONES) invalid[i] |= F_QUEUE_CONGESTION;
        }
        got |= fields;
      }
      o += 4;
    } else {
      if (want & (F_L2_INGRESS_PORT | F_L2_EGRESS_PORT)) {
        const a = h.l2IngressPort, e = h.l2EgressPort;
        for (let i = 0, q = o; i < count; i++, q += stride) {
          let w = dv.getUint32(q);
          a[i] = w;
          if (w === ONES) invalid[i] |= F_L2_INGRESS_PORT;
          w = dv.getUint32(q + 4);
          e[i] = w;
          if (w === ONES) invalid[i] |= F_L2_EGRESS_PORT;
        }
        got |= F_L2_INGRESS_PORT | F_L2_EGRESS_PORT;
      }
      o += 8;
    }
  }
  if (bitmap & 0x0100) {
    if (want & F_EGRESS_TX_UTIL) {
      const a = h.egressTxUtil;
      for (let i = 0, q = o; i < count; i++, q += stride) {
        const w = dv.getUint32(q);
        a[i] = w;
        if (w === ONES) invalid[i] |= F_EGRESS_TX_UTIL;
      }
      got |= F_EGRESS_TX_UTIL;
    }
    o += 4;
  }
  if ((bitmap & 0x0080) && wide && (want & (F_BUFFER_ID | F_BUFFER_OCCUPANCY))) {
    const a = h.bufferId, c = h.bufferOccupancy;
    for (let i = 0, q = o; i < count; i++, q += stride) {
      const w = dv.getUint32(q);
      a[i] = w >>> 24;
      c[i] = w & 0xffffff;
      if (w === ONES) invalid[i] |= F_BUFFER_ID | F_BUFFER_OCCUPANCY;
    }
    got |= F_BUFFER_ID | F_BUFFER_OCCUPANCY;
  }
  return got;
}

function tsColumn(dv: DataView, o: number, count: number, stride: number, wide: boolean, f: Float64Array, hiA: Uint32Array, loA: Uint32Array, invalid: Uint32Array, bit: number): void {
  if (wide) {
    for (let i = 0, q = o; i < count; i++, q += stride) {
      const hi = dv.getUint32(q), w = dv.getUint32(q + 4);
      hiA[i] = hi;
      loA[i] = w;
      f[i] = hi * TWO32 + w;
      if (hi === ONES && w === ONES) invalid[i] |= bit;
    }
    return;
  }
  for (let i = 0, q = o; i < count; i++, q += stride) {
    const w = dv.getUint32(q);
    hiA[i] = 0;
    loA[i] = w;
    f[i] = w;
    if (w === ONES) invalid[i] |= bit;
  }
}
