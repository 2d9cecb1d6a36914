// IntStatus: the closed set of outcomes of decoding one INT report / INT packet.
//
// A status is a small integer: (kind << 8) | detail. Kinds are OK, TRUNCATED (detail = which
// header ran past the end of the buffer), MALFORMED (detail = reason) and UNSUPPORTED
// (detail = what is not supported). Statuses are plain numbers so the hot path never allocates;
// `intStatusName()` maps a status to a constant string for logs and counters.

export type IntStatus = number;

export const INT_KIND_OK = 0;
export const INT_KIND_TRUNCATED = 1;
export const INT_KIND_MALFORMED = 2;
export const INT_KIND_UNSUPPORTED = 3;

export const INT_OK: IntStatus = 0;

// --- truncated: which header did not fit in the buffer ---
export const INT_TRUNCATED_REPORT_HEADER: IntStatus = 0x101; // TR fixed header / group header
export const INT_TRUNCATED_INDIVIDUAL_HEADER: IntStatus = 0x102; // TR v2.0 individual report header + main contents
export const INT_TRUNCATED_REPORT_METADATA: IntStatus = 0x103; // reporter's own optional metadata
export const INT_TRUNCATED_INDIVIDUAL_REPORT: IntStatus = 0x104; // TR v2.0 Report Length runs past the buffer
export const INT_TRUNCATED_TLV: IntStatus = 0x105; // TR v2.0 inner TLV
export const INT_TRUNCATED_INNER_L2: IntStatus = 0x106; // inner Ethernet (+VLAN)
export const INT_TRUNCATED_INNER_L3: IntStatus = 0x107; // inner IPv4 / IPv6 (+extension headers)
export const INT_TRUNCATED_INNER_L4: IntStatus = 0x108; // inner TCP / UDP
export const INT_TRUNCATED_SHIM: IntStatus = 0x109; // INT shim header
export const INT_TRUNCATED_METADATA_HEADER: IntStatus = 0x10a; // INT metadata (MD/MX) header
export const INT_TRUNCATED_STACK: IntStatus = 0x10b; // INT metadata stack
export const INT_TRUNCATED_TAIL: IntStatus = 0x10c; // INT v0.5 tail header

// --- malformed: fields contradict the spec or each other ---
export const INT_MALFORMED_REPORT_VERSION: IntStatus = 0x201; // version field contradicts the layout
export const INT_MALFORMED_REPORT_LENGTH: IntStatus = 0x202; // TR header length / Report Length inconsistent
export const INT_MALFORMED_MD_LENGTH: IntStatus = 0x203; // TR v2.0 MD Length smaller than RepMdBits need
export const INT_MALFORMED_TLV_LENGTH: IntStatus = 0x204; // TR v2.0 TLV length runs past the report
export const INT_MALFORMED_INNER_HEADER: IntStatus = 0x205; // inner IP version / IHL / TCP offset invalid
export const INT_MALFORMED_SHIM_TYPE: IntStatus = 0x206; // INT was signalled but the shim type is not INT
export const INT_MALFORMED_SHIM_LENGTH: IntStatus = 0x207; // shim Length smaller than the fixed INT headers
export const INT_MALFORMED_INT_VERSION: IntStatus = 0x208; // INT metadata header version does not match
export const INT_MALFORMED_INSTRUCTION_UNSUPPORTED: IntStatus = 0x209; // reserved instruction bits whose size cannot be reconciled
export const INT_MALFORMED_HOP_ML_MISMATCH: IntStatus = 0x20a; // Hop ML disagrees with the instruction bitmap
export const INT_MALFORMED_INS_CNT_MISMATCH: IntStatus = 0x20b; // v0.5 InsCnt != popcount(instruction bitmap)
export const INT_MALFORMED_STACK_LENGTH: IntStatus = 0x20c; // stack length not a whole number of hops / != hop count
export const INT_MALFORMED_HOP_COUNT_TOO_LARGE: IntStatus = 0x20d; // more hops than the IntReport can hold

// --- unsupported: well-formed, but not something this decoder handles ---
export const INT_UNSUPPORTED_REPORT_VERSION: IntStatus = 0x301; // TR version nibble 3..15
export const INT_UNSUPPORTED_REPORT_TYPE: IntStatus = 0x302; // TR v2.0 RepType IOAM / reserved
export const INT_UNSUPPORTED_INNER_TYPE: IntStatus = 0x303; // NProto / InType reserved
export const INT_UNSUPPORTED_INT_TYPE: IntStatus = 0x304; // INT Destination-type header (format undefined)
export const INT_UNSUPPORTED_INNER_L4: IntStatus = 0x305; // INT signalled but the inner L4 is not TCP/UDP

/** Every status the decoders can return (the closed set). */
export const INT_ALL_STATUSES: readonly IntStatus[] = [
  INT_OK,
  INT_TRUNCATED_REPORT_HEADER, INT_TRUNCATED_INDIVIDUAL_HEADER, INT_TRUNCATED_REPORT_METADATA,
  INT_TRUNCATED_INDIVIDUAL_REPORT, INT_TRUNCATED_TLV, INT_TRUNCATED_INNER_L2, INT_TRUNCATED_INNER_L3,
  INT_TRUNCATED_INNER_L4, INT_TRUNCATED_SHIM, INT_TRUNCATED_METADATA_HEADER, INT_TRUNCATED_STACK,
  INT_TRUNCATED_TAIL,
  INT_MALFORMED_REPORT_VERSION, INT_MALFORMED_REPORT_LENGTH, INT_MALFORMED_MD_LENGTH,
  INT_MALFORMED_TLV_LENGTH, INT_MALFORMED_INNER_HEADER, INT_MALFORMED_SHIM_TYPE,
  INT_MALFORMED_SHIM_LENGTH, INT_MALFORMED_INT_VERSION, INT_MALFORMED_INSTRUCTION_UNSUPPORTED,
  INT_MALFORMED_HOP_ML_MISMATCH, INT_MALFORMED_INS_CNT_MISMATCH, INT_MALFORMED_STACK_LENGTH,
  INT_MALFORMED_HOP_COUNT_TOO_LARGE,
  INT_UNSUPPORTED_REPORT_VERSION, INT_UNSUPPORTED_REPORT_TYPE, INT_UNSUPPORTED_INNER_TYPE,
  INT_UNSUPPORTED_INT_TYPE, INT_UNSUPPORTED_INNER_L4,
];

const NAMES: Record<number, string> = {
  [INT_OK]: 'ok',
  [INT_TRUNCATED_REPORT_HEADER]: 'truncated:report-header',
  [INT_TRUNCATED_INDIVIDUAL_HEADER]: 'truncated:individual-report-header',
  [INT_TRUNCATED_REPORT_METADATA]: 'truncated:report-metadata',
  [INT_TRUNCATED_INDIVIDUAL_REPORT]: 'truncated:individual-report',
  [INT_TRUNCATED_TLV]: 'truncated:tlv',
  [INT_TRUNCATED_INNER_L2]: 'truncated:inner-l2',
  [INT_TRUNCATED_INNER_L3]: 'truncated:inner-l3',
  [INT_TRUNCATED_INNER_L4]: 'truncated:inner-l4',
  [INT_TRUNCATED_SHIM]: 'truncated:int-shim',
  [INT_TRUNCATED_METADATA_HEADER]: 'truncated:int-metadata-header',
  [INT_TRUNCATED_STACK]: 'truncated:int-stack',
  [INT_TRUNCATED_TAIL]: 'truncated:int-tail',
  [INT_MALFORMED_REPORT_VERSION]: 'malformed:report-version',
  [INT_MALFORMED_REPORT_LENGTH]: 'malformed:report-length',
  [INT_MALFORMED_MD_LENGTH]: 'malformed:md-length',
  [INT_MALFORMED_TLV_LENGTH]: 'malformed:tlv-length',
  [INT_MALFORMED_INNER_HEADER]: 'malformed:inner-header',
  [INT_MALFORMED_SHIM_TYPE]: 'malformed:shim-type',
  [INT_MALFORMED_SHIM_LENGTH]: 'malformed:shim-length',
  [INT_MALFORMED_INT_VERSION]: 'malformed:int-version',
  [INT_MALFORMED_INSTRUCTION_UNSUPPORTED]: 'malformed:instruction-unsupported',
  [INT_MALFORMED_HOP_ML_MISMATCH]: 'malformed:hop-ml-mismatch',
  [INT_MALFORMED_INS_CNT_MISMATCH]: 'malformed:ins-cnt-mismatch',
  [INT_MALFORMED_STACK_LENGTH]: 'malformed:stack-length',
  [INT_MALFORMED_HOP_COUNT_TOO_LARGE]: 'malformed:hop-count-too-large',
  [INT_UNSUPPORTED_REPORT_VERSION]: 'unsupported:report-version',
  [INT_UNSUPPORTED_REPORT_TYPE]: 'unsupported:report-type',
  [INT_UNSUPPORTED_INNER_TYPE]: 'unsupported:inner-type',
  [INT_UNSUPPORTED_INT_TYPE]: 'unsupported:int-type',
  [INT_UNSUPPORTED_INNER_L4]: 'unsupported:inner-l4',
};

/** Constant name of a status ('ok', 'truncated:int-stack', ...); 'invalid' if not in the set. */
export function intStatusName(s: IntStatus): string {
  const n = NAMES[s];
  return n === undefined ? 'invalid' : n;
}

/** INT_KIND_OK / _TRUNCATED / _MALFORMED / _UNSUPPORTED. */
export function intStatusKind(s: IntStatus): number {
  return s >>> 8;
}

const INDEX = new Int8Array(0x400).fill(-1);
for (let i = 0; i < INT_ALL_STATUSES.length; i++) INDEX[INT_ALL_STATUSES[i]] = i;

/** Dense index of a status in INT_ALL_STATUSES (for counter arrays), -1 if not in the set. */
export function intStatusIndex(s: IntStatus): number {
  return s >= 0 && s < 0x400 ? INDEX[s] : -1;
}

/** Counters for decode outcomes: one slot per status in INT_ALL_STATUSES. */
export function createIntStatusCounters(): Float64Array {
  return new Float64Array(INT_ALL_STATUSES.length);
}

/** Count one outcome (no allocation). */
export function countIntStatus(counters: Float64Array, s: IntStatus): void {
  const i = intStatusIndex(s);
  if (i >= 0) counters[i]++;
}
