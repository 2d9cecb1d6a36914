// The reusable, preallocated result object of the INT decoders.
//
// One IntReport is created once (createIntReport) and overwritten by every decode call: the
// decoders write only numbers into existing fields and typed arrays, so decoding allocates
// nothing. Values in hop arrays at index >= hops.count are stale leftovers of earlier packets.
//
// Hop columns on demand (IntReportOptions.hopColumns): a report may decode only some hop fields
// with the packet and leave the others pending (IntReport.pendingHopFields) until a reader asks
// for them with ensureHopColumns(r, F_*), which decodes them from the same bytes (so only while
// the decoded buffer is unchanged). A task then pays only for the columns it reads. The default
// decodes every field at once.

// ---- per-field presence bits (IntHops.present, IntHops.invalid[i]) ----
export const F_SWITCH_ID = 1 << 0;
export const F_INGRESS_PORT = 1 << 1; // level 1 ingress port id (16 bit)
export const F_EGRESS_PORT = 1 << 2; // level 1 egress port id (16 bit)
export const F_HOP_LATENCY = 1 << 3;
export const F_QUEUE_ID = 1 << 4;
export const F_QUEUE_OCCUPANCY = 1 << 5;
export const F_INGRESS_TS = 1 << 6;
export const F_EGRESS_TS = 1 << 7;
export const F_L2_INGRESS_PORT = 1 << 8;
export const F_L2_EGRESS_PORT = 1 << 9;
export const F_EGRESS_TX_UTIL = 1 << 10;
export const F_BUFFER_ID = 1 << 11;
export const F_BUFFER_OCCUPANCY = 1 << 12;
export const F_QUEUE_CONGESTION = 1 << 13; // INT v0.5 instruction bit 6
export const F_CHECKSUM_COMPLEMENT = 1 << 14;
export const F_DROP_REASON = 1 << 15; // reporter metadata only (TR v0.5 drop header, TR v2.0 RepMdBits bit 15)

// ---- report flag bits (IntReport.reportFlags) ----
export const REPORT_FLAG_DROPPED = 1; // D
export const REPORT_FLAG_CONGESTED = 2; // Q
export const REPORT_FLAG_TRACKED = 4; // F
export const REPORT_FLAG_INTERMEDIATE = 8; // I (TR v2.0 only)

// ---- INT metadata header flag bits (IntReport.intFlags) ----
export const INT_FLAG_DISCARD = 1; // v2.x D
export const INT_FLAG_HOP_EXCEEDED = 2; // E
export const INT_FLAG_MTU_EXCEEDED = 4; // M (v1.0, v2.x)
export const INT_FLAG_COPY = 8; // C (v0.5, v1.0)

// ---- inner packet types (IntReport.innerType) ----
export const INNER_NONE = 0;
export const INNER_ETHERNET = 1;
export const INNER_IPV4 = 2;
export const INNER_IPV6 = 3;

// ---- INT versions (IntReport.intVersion, decodeIntInFlight versionHint) ----
export const INT_VERSION_AUTO = -1;
export const INT_V0_5 = 0;
export const INT_V1_0 = 1;
export const INT_V2 = 2; // 2.0 and 2.1 share the MD layout; 2.1 adds INT-MX

// ---- INT header types (IntReport.intType) ----
export const INT_TYPE_MD = 1;
export const INT_TYPE_DESTINATION = 2;
export const INT_TYPE_MX = 3;

// ---- quirks: deviations accepted in lenient mode (IntReport.quirks) ----
/** TR group header says version 1 with Len 0 (impossible for TR v1.0): decode as TR v2.0. */
export const LENIENT_REPORT_VERSION = 1;
/** TR v2.0 Report Length 0: the individual report extends to the end of the buffer. */
export const LENIENT_REPORT_LENGTH = 2;
/** Inner type says IPv4/IPv6 but the bytes do not start with that IP version: sniff Ethernet. */
export const LENIENT_INNER_TYPE = 4;
/** INT-MX header followed by metadata inside the shim Length: decode it as one hop. */
export const LENIENT_MX_METADATA = 8;
export const LENIENT_ALL = 15;

/** Per-hop metadata in preallocated typed arrays; index 0 is the first entry on the wire. */
export class IntHops {
  readonly capacity: number;
  /** Number of valid entries. */
  count = 0;
  /** Fields present in every entry (F_* bits), from the instruction bitmap. */
  present = 0;
  /** Per entry: fields whose value was the all-ones "not available" reserved value. */
  readonly invalid: Uint32Array;
  readonly switchId: Uint32Array;
  readonly ingressPort: Uint32Array;
  readonly egressPort: Uint32Array;
  readonly hopLatency: Uint32Array;
  readonly queueId: Uint8Array;
  readonly queueOccupancy: Uint32Array;
  /** Timestamps as numbers (exact below 2^53); the exact 64-bit value is Hi*2^32 + Lo. */
  readonly ingressTs: Float64Array;
  readonly ingressTsHi: Uint32Array;
  readonly ingressTsLo: Uint32Array;
  readonly egressTs: Float64Array;
  readonly egressTsHi: Uint32Array;
  readonly egressTsLo: Uint32Array;
  readonly l2IngressPort: Uint32Array;
  readonly l2EgressPort: Uint32Array;
  readonly egressTxUtil: Uint32Array;
  readonly bufferId: Uint8Array;
  readonly bufferOccupancy: Uint32Array;
  readonly queueCongestion: Uint32Array;
  readonly checksumComplement: Uint32Array;
  readonly dropReason: Uint8Array;

  constructor(capacity: number) {
    const n = Math.max(1, capacity | 0);
    this.capacity = capacity | 0;
    this.invalid = new Uint32Array(n);
    this.switchId = new Uint32Array(n);
    this.ingressPort = new Uint32Array(n);
    this.egressPort = new Uint32Array(n);
    this.hopLatency = new Uint32Array(n);
    this.queueId = new Uint8Array(n);
    this.queueOccupancy = new Uint32Array(n);
    this.ingressTs = new Float64Array(n);
    this.ingressTsHi = new Uint32Array(n);
    this.ingressTsLo = new Uint32Array(n);
    this.egressTs = new Float64Array(n);
    this.egressTsHi = new Uint32Array(n);
    this.egressTsLo = new Uint32Array(n);
    this.l2IngressPort = new Uint32Array(n);
    this.l2EgressPort = new Uint32Array(n);
    this.egressTxUtil = new Uint32Array(n);
    this.bufferId = new Uint8Array(n);
    this.bufferOccupancy = new Uint32Array(n);
    this.queueCongestion = new Uint32Array(n);
    this.checksumComplement = new Uint32Array(n);
    this.dropReason = new Uint8Array(n);
  }
}

export interface IntReportOptions {
  /** Capacity of the hop arrays (default 16). */
  maxHops?: number;
  /** LENIENT_* bits; 0 (default) = strict. */
  lenient?: number;
  /**
   * How INT is recognised after the inner L4 header of a report. With dscpMask != 0, INT is
   * present iff (DSCP & dscpMask) == dscpValue; with udpPort != 0, also iff the UDP destination
   * port equals it. With neither (default) detection is automatic: the report's F (tracked flow)
   * flag is set and the L4 payload starts with an INT shim type (v0.5/v1.0 type byte 1, or v2.x
   * type nibble 1 or 3).
   */
  dscpValue?: number;
  dscpMask?: number;
  udpPort?: number;
  /**
   * Hop fields (F_* bits) decoded with the report; the other present fields are decoded when
   * first asked for with ensureHopColumns. Default: every field (nothing pending). The checksum
   * complement is always decoded.
   */
  hopColumns?: number;
}

export class IntReport {
  // ---- configuration (fixed at creation, may be changed between calls) ----
  readonly maxHops: number;
  lenient: number;
  dscpValue: number;
  dscpMask: number;
  udpPort: number;
  /** F_* hop fields decoded with the report (IntReportOptions.hopColumns). */
  hopColumns: number;

  // ---- telemetry report ----
  /** 0 = TR v0.5, 1 = TR v1.0, 2 = TR v2.0, -1 = not a report (decodeIntInFlight). */
  reportVersion = -1;
  hwId = 0;
  sequence = 0;
  /** Switch / node id of the reporter; -1 when the report format does not carry it. */
  nodeId = -1;
  /** TR v0.5/v1.0 ingress timestamp, TR v2.0 reporter ingress timestamp if present; -1 if none. */
  reportTimestampNs = -1;
  /** REPORT_FLAG_* bits (D, Q, F, I). */
  reportFlags = 0;
  /** TR v0.5 / v1.0 NProto, -1 otherwise. */
  nProto = -1;
  /** TR v2.0 RepType / InType, -1 otherwise. */
  repType = -1;
  inType = -1;
  /** TR v1.0 RepMdBits (6 bits) / TR v2.0 RepMdBits (16 bits). */
  repMdBits = 0;
  /** TR v1.0: header Len in bytes; TR v2.0: individual report length in bytes incl. its first word. */
  reportLength = 0;
  /** TR v2.0 MD Length in bytes. */
  mdLength = 0;
  domainSpecificId = 0;
  dsMdBits = 0;
  dsMdStatus = 0;
  /** Reporter metadata bytes this decoder does not interpret (TR v1.0 optional metadata, TR v2.0 DS metadata). */
  rawMdOffset = -1;
  rawMdLength = 0;
  /** TR v2.0: offset of the individual report decoded (its first word), -1 otherwise. */
  reportOffset = -1;
  /** TR v2.0: offset of the next coalesced individual report, -1 if none. */
  nextReportOffset = -1;
  /** LENIENT_* bits that had to be applied to decode this packet (0 when conformant). */
  quirks = 0;
  /** The reporter's own metadata (TR v0.5 drop/local header, TR v2.0 RepMdBits), one entry. */
  readonly local: IntHops;

  // ---- inner (reported) packet, offsets into the decoded buffer ----
  innerType = INNER_NONE;
  innerOffset = -1;
  innerLength = 0;
  innerL3Offset = -1;
  /** 4 or 6, 0 if no IP header. */
  innerIpVersion = 0;
  innerDscp = -1;
  innerL4Offset = -1;
  innerL4Proto = -1;
  innerSrcPort = -1;
  innerDstPort = -1;

  // ---- INT ----
  intPresent = false;
  /** INT_V0_5 / INT_V1_0 / INT_V2, -1 if none. */
  intVersion = -1;
  /** INT_TYPE_MD / INT_TYPE_MX. */
  intType = 0;
  shimOffset = -1;
  /** Total INT bytes from the shim to the end of the stack (and v0.5 tail). */
  intLength = 0;
  /** v2.x shim NPT; 0 otherwise. */
  shimNpt = 0;
  /** Original DSCP carried in the shim (v1.0, v2.x NPT 0) or v0.5 tail, -1 if none. */
  origDscp = -1;
  /** v2.x NPT 2 / v0.5 tail: original IP protocol, -1 if none. */
  origProto = -1;
  /** v2.x NPT 1 / v0.5 tail: original L4 destination port, -1 if none. */
  origDstPort = -1;
  metadataHeaderOffset = -1;
  /** INT_FLAG_* bits. */
  intFlags = 0;
  /** v0.5/v1.0 Rep (replication) field. */
  intRep = 0;
  /** Per-hop metadata length in 4-byte words (v0.5: InsCnt). */
  hopMl = 0;
  /** v0.5 InsCnt / Max Hop Count / Total Hop Count, -1 otherwise. */
  insCnt = -1;
  maxHopCount = -1;
  totalHopCount = -1;
  /** v1.0 / v2.x Remaining Hop Count, -1 otherwise. */
  remainingHopCount = -1;
  instructionBitmap = 0;
  /** Instruction bits set that the decoded version marks reserved. */
  reservedInstructionBits = 0;
  dsId = 0;
  dsInstruction = 0;
  dsFlags = 0;
  stackOffset = -1;
  stackLength = 0;
  /** v2.x source-only domain specific metadata bytes at the bottom of the stack. */
  sourceOnlyLength = 0;
  /** First byte after the INT headers (original L4 payload, or original L4 header for NPT 2). */
  payloadOffset = -1;
  /** Number of hops in `hops` (also hops.count). */
  hopCount = 0;
  /** INT metadata stack, most recent hop first (wire order). */
  readonly hops: IntHops;
  /** Internal: presentFields of the last stack's bitmap and kind (computed once per layout). */
  presentBitmap = -1;
  presentKind = -1;
  presentMask = 0;
  /** Present hop fields (F_* bits) not decoded yet: ensureHopColumns decodes them. */
  pendingHopFields = 0;
  /**
   * Where the hop entries of the last decode are (valid while hopCount > 0 and the decoded
   * buffer is unchanged): entry i starts at DataView offset stackDvOffset + i * stackStride of
   * viewOf(this, stackBuf), laid out by stackBitmap read as stackKind (MD_V0_5 / MD_V1_0 /
   * MD_V2; hopWordOffset gives a field's word in an entry). For pending columns, and for
   * readers that take a few fields straight from the bytes (src/int/collector.ts).
   */
  stackBuf: Uint8Array | null = null;
  stackDvOffset = 0;
  stackStride = 0;
  stackBitmap = 0;
  stackKind = 0;
  /** Internal: DataView over the last decoded ArrayBuffer (re-created only when it changes). */
  viewBuffer: ArrayBufferLike | null = null;
  /** Internal: the last array viewOf was asked for (its buffer is viewBuffer). */
  viewArray: Uint8Array | null = null;
  view: DataView = new DataView(new ArrayBuffer(0));

  constructor(opts: IntReportOptions = {}) {
    this.maxHops = opts.maxHops === undefined ? 16 : Math.max(0, opts.maxHops | 0);
    this.lenient = (opts.lenient ?? 0) | 0;
    this.dscpValue = (opts.dscpValue ?? 0) & 0x3f;
    this.dscpMask = (opts.dscpMask ?? 0) & 0x3f;
    this.udpPort = (opts.udpPort ?? 0) & 0xffff;
    this.hopColumns = opts.hopColumns === undefined ? 0xffff : opts.hopColumns & 0xffff;
    this.hops = new IntHops(this.maxHops);
    this.local = new IntHops(1);
  }
}

/** Create the reusable result object (once, outside the hot path). */
export function createIntReport(maxHops = 16, opts: IntReportOptions = {}): IntReport {
  return new IntReport({ ...opts, maxHops });
}

/** DataView over b's whole ArrayBuffer, cached on r (allocates only when the buffer changes). */
export function viewOf(r: IntReport, b: Uint8Array): DataView {
  if (r.viewArray === b) return r.view; // the same array as last time (a source's batch buffer)
  if (r.viewBuffer !== b.buffer) {
    r.view = new DataView(b.buffer);
    r.viewBuffer = b.buffer;
  }
  r.viewArray = b;
  return r.view;
}

/** Wire index of the k-th hop in traversal order (k = 0 is the first hop the packet crossed). */
export function hopIndexInTraversalOrder(r: IntReport, k: number): number {
  return r.hopCount - 1 - k;
}

/** Exact 64-bit ingress timestamp of hop i as a bigint (allocates; for tests and tooling). */
export function hopIngressTsBigInt(h: IntHops, i: number): bigint {
  return (BigInt(h.ingressTsHi[i]) << 32n) | BigInt(h.ingressTsLo[i]);
}

/** Exact 64-bit egress timestamp of hop i as a bigint (allocates; for tests and tooling). */
export function hopEgressTsBigInt(h: IntHops, i: number): bigint {
  return (BigInt(h.egressTsHi[i]) << 32n) | BigInt(h.egressTsLo[i]);
}

/** Reset every per-packet field (called by the decoders). */
export function resetIntReport(r: IntReport): void {
  r.reportVersion = -1;
  r.hwId = 0;
  r.sequence = 0;
  r.nodeId = -1;
  r.reportTimestampNs = -1;
  r.reportFlags = 0;
  r.nProto = -1;
  r.repType = -1;
  r.inType = -1;
  r.repMdBits = 0;
  r.reportLength = 0;
  r.mdLength = 0;
  r.domainSpecificId = 0;
  r.dsMdBits = 0;
  r.dsMdStatus = 0;
  r.rawMdOffset = -1;
  r.rawMdLength = 0;
  r.reportOffset = -1;
  r.nextReportOffset = -1;
  r.quirks = 0;
  r.local.count = 0;
  r.local.present = 0;
  resetInnerAndInt(r);
}

/** Reset inner-packet and INT fields (also used between coalesced TR v2.0 reports). */
export function resetInnerAndInt(r: IntReport): void {
  r.innerType = INNER_NONE;
  r.innerOffset = -1;
  r.innerLength = 0;
  r.innerL3Offset = -1;
  r.innerIpVersion = 0;
  r.innerDscp = -1;
  r.innerL4Offset = -1;
  r.innerL4Proto = -1;
  r.innerSrcPort = -1;
  r.innerDstPort = -1;
  resetInt(r);
}

export function resetInt(r: IntReport): void {
  r.intPresent = false;
  r.intVersion = -1;
  r.intType = 0;
  r.shimOffset = -1;
  r.intLength = 0;
  r.shimNpt = 0;
  r.origDscp = -1;
  r.origProto = -1;
  r.origDstPort = -1;
  r.metadataHeaderOffset = -1;
  r.intFlags = 0;
  r.intRep = 0;
  r.hopMl = 0;
  r.insCnt = -1;
  r.maxHopCount = -1;
  r.totalHopCount = -1;
  r.remainingHopCount = -1;
  r.instructionBitmap = 0;
  r.reservedInstructionBits = 0;
  r.dsId = 0;
  r.dsInstruction = 0;
  r.dsFlags = 0;
  r.stackOffset = -1;
  r.stackLength = 0;
  r.sourceOnlyLength = 0;
  r.payloadOffset = -1;
  r.hopCount = 0;
  r.hops.count = 0;
  r.hops.present = 0;
  r.pendingHopFields = 0;
}
