// Shared pieces of the flow-export decoders (sFlow, NetFlow v5/v9, IPFIX): the record shapes
// handed to `onRecord`, the closed lists of status and skip-reason codes, the counters, the
// big-endian readers and the address-text interning cache.
//
// Hot-path contract: a decoder owns one object per record type and overwrites it for every
// record, so a consumer that wants to keep a record must copy the fields it needs before
// returning from `onRecord`. Absent values are `null`, never `undefined`, so the objects keep
// one shape.

/** Outcome of one `decode()` call. Closed list. */
export type FlowStatus =
  | 'ok' // every structure in the datagram was consistent
  | 'truncated' // the buffer ended before a structure it announced (records before that point were delivered)
  | 'bad-version' // not a version this decoder speaks; nothing delivered
  | 'malformed'; // an inner length / count / id was inconsistent; the readable parts were delivered

export const FLOW_STATUSES: readonly FlowStatus[] = ['ok', 'truncated', 'bad-version', 'malformed'];

/** Why something was not delivered. Closed list; the keys of `FlowCounters.skipped`. */
export type FlowSkipReason =
  | 'truncated' // datagrams cut short
  | 'bad-version' // datagrams of an unsupported version
  | 'no-template' // NetFlow v9 / IPFIX data sets whose template is not (or no longer) known
  | 'unknown-record' // sFlow samples/records and v9/IPFIX sets of formats this decoder does not decode
  | 'malformed'; // inconsistent structures (bad lengths, counts, template ids)

export const FLOW_SKIP_REASONS: readonly FlowSkipReason[] = [
  'truncated',
  'bad-version',
  'no-template',
  'unknown-record',
  'malformed',
];

export interface FlowCounters {
  /** decode() calls. */
  datagrams: number;
  /** Records delivered to onRecord. */
  records: number;
  /**
   * Skips by reason. `truncated`, `bad-version`: datagrams. `no-template`: data sets (their record
   * count cannot be known without the template). `unknown-record`: samples, records or sets.
   * `malformed`: datagrams whose status was 'malformed'.
   */
  skipped: Record<FlowSkipReason, number>;
}

export function newCounters(): FlowCounters {
  return {
    datagrams: 0,
    records: 0,
    skipped: { truncated: 0, 'bad-version': 0, 'no-template': 0, 'unknown-record': 0, malformed: 0 },
  };
}

export type FlowFormat = 'netflow5' | 'netflow9' | 'ipfix' | 'sflow5';

/**
 * A flow record from NetFlow v5, NetFlow v9 or IPFIX. Counters are as exported (not scaled by
 * `flow.sampling`). Times are seconds since the Unix epoch (float). Ports appear under `tcp.*`
 * when `ip.proto` is 6 and under `udp.*` when it is 17; for ICMP (1) and ICMPv6 (58) the type
 * and code are in `icmp.*`.
 */
export interface NetflowRecord {
  type: 'flow';
  'flow.format': 'netflow5' | 'netflow9' | 'ipfix';
  'flow.exporter': string;
  /** v9 source id / IPFIX observation domain id; v5: engine_type << 8 | engine_id. */
  'flow.domain': number;
  /** Header sequence number of the datagram (v5/IPFIX: flows/records, v9: packets). */
  'flow.sequence': number;
  'ip.version': 4 | 6 | null;
  'ip.src': string | null;
  'ip.dst': string | null;
  'ip.proto': number | null;
  'ip.tos': number | null;
  'tcp.sport': number | null;
  'tcp.dport': number | null;
  'udp.sport': number | null;
  'udp.dport': number | null;
  'tcp.flags': number | null;
  'icmp.type': number | null;
  'icmp.code': number | null;
  'flow.packets': number | null;
  'flow.bytes': number | null;
  'flow.start': number | null;
  'flow.end': number | null;
  'flow.input': number | null;
  'flow.output': number | null;
  'vlan.id': number | null;
  /** 1-in-N packet sampling interval when the exporter says so (v5 header, v9/IPFIX IE 34/305). */
  'flow.sampling': number | null;
}

/**
 * One sFlow flow sample (compact or expanded). The sampled packet header, when the sample
 * carries one, stays in the caller's buffer: `buf[sflow.header_offset ..
 * sflow.header_offset + sflow.header_length)` (absolute index into the `buf` passed to decode,
 * not relative to `off`), to be decoded by the packet decoder according to
 * `sflow.header_protocol` (1 = Ethernet, 11 = IPv4, 12 = IPv6, ...). `flow.packets` is 1 and
 * `flow.bytes` the sampled frame length; multiply by `flow.sampling` to estimate totals.
 */
export interface SflowSampleRecord {
  type: 'sample';
  'flow.format': 'sflow5';
  'flow.exporter': string;
  'sflow.agent': string;
  'sflow.sub_agent': number;
  /** Datagram sequence number. */
  'sflow.sequence': number;
  /** Agent uptime in ms from the datagram header. */
  'sflow.uptime': number;
  'sflow.sample_sequence': number;
  'sflow.source_type': number;
  'sflow.source_index': number;
  'flow.sampling': number;
  'sflow.sample_pool': number;
  'sflow.drops': number;
  /** ifIndex of the input interface; null when the format is not "single ifIndex". */
  'flow.input': number | null;
  'flow.output': number | null;
  /** Interface format (0 ifIndex, 1 discarded (value = reason), 2 multiple (value = count)). */
  'sflow.input_format': number;
  'sflow.output_format': number;
  'sflow.input_value': number;
  'sflow.output_value': number;
  'sflow.header_protocol': number | null;
  'sflow.frame_length': number | null;
  'sflow.stripped': number | null;
  'sflow.header_offset': number | null;
  'sflow.header_length': number | null;
  'flow.packets': number;
  'flow.bytes': number | null;
  /** From a sampled_ipv4 / sampled_ipv6 record, when present. */
  'ip.version': 4 | 6 | null;
  'ip.src': string | null;
  'ip.dst': string | null;
  'ip.proto': number | null;
  'ip.tos': number | null;
  'tcp.sport': number | null;
  'tcp.dport': number | null;
  'udp.sport': number | null;
  'udp.dport': number | null;
  'tcp.flags': number | null;
  /** Incoming 802.1Q VLAN from an extended_switch record, when present. */
  'vlan.id': number | null;
  'vlan.out': number | null;
}

/** One sFlow counters sample carrying generic interface counters (if_counters). */
export interface SflowCountersRecord {
  type: 'counters';
  'flow.format': 'sflow5';
  'flow.exporter': string;
  'sflow.agent': string;
  'sflow.sub_agent': number;
  'sflow.sequence': number;
  'sflow.uptime': number;
  'sflow.sample_sequence': number;
  'sflow.source_type': number;
  'sflow.source_index': number;
  'if.index': number;
  'if.type': number;
  'if.speed': number;
  'if.direction': number;
  'if.status': number;
  'if.in_octets': number;
  'if.in_ucast': number;
  'if.in_mcast': number;
  'if.in_bcast': number;
  'if.in_discards': number;
  'if.in_errors': number;
  'if.in_unknown': number;
  'if.out_octets': number;
  'if.out_ucast': number;
  'if.out_mcast': number;
  'if.out_bcast': number;
  'if.out_discards': number;
  'if.out_errors': number;
  'if.promisc': number;
}

export type FlowRecord = NetflowRecord | SflowSampleRecord | SflowCountersRecord;

export type OnFlowRecord = (rec: FlowRecord) => void;

export interface FlowDecoder {
  readonly counters: FlowCounters;
  decode(buf: Uint8Array, off: number, len: number, exporter: string, onRecord: OnFlowRecord): FlowStatus;
}

// ---- big-endian readers (callers check bounds first) ----

export function u8(b: Uint8Array, p: number): number {
  return b[p]!;
}

export function u16(b: Uint8Array, p: number): number {
  return (b[p]! << 8) | b[p + 1]!;
}

export function u32(b: Uint8Array, p: number): number {
  return ((b[p]! << 24) | (b[p + 1]! << 16) | (b[p + 2]! << 8) | b[p + 3]!) >>> 0;
}

/** Unsigned 64-bit as a double (exact up to 2^53). */
export function u64(b: Uint8Array, p: number): number {
  return u32(b, p) * 4294967296 + u32(b, p + 4);
}

/** Unsigned big-endian integer of 1..8 bytes as a double (IPFIX reduced-size encoding). */
export function uN(b: Uint8Array, p: number, n: number): number {
  let v = 0;
  for (let i = 0; i < n; i++) v = v * 256 + b[p + i]!;
  return v;
}

// ---- address text, interned ----

const HEX = '0123456789abcdef';

function hex16(v: number): string {
  if (v < 0x10) return HEX[v]!;
  if (v < 0x100) return HEX[v >> 4]! + HEX[v & 15]!;
  if (v < 0x1000) return HEX[v >> 8]! + HEX[(v >> 4) & 15]! + HEX[v & 15]!;
  return HEX[v >> 12]! + HEX[(v >> 8) & 15]! + HEX[(v >> 4) & 15]! + HEX[v & 15]!;
}

/** IPv4 as a dotted quad. */
export function formatIPv4(b: Uint8Array, p: number): string {
  return `${b[p]}.${b[p + 1]}.${b[p + 2]}.${b[p + 3]}`;
}

/**
 * IPv6 as text per RFC 5952: lower-case hex without leading zeros, the longest run (first on a
 * tie) of two or more all-zero 16-bit groups shortened to "::", and IPv4-mapped addresses
 * (::ffff:0:0/96) written with a dotted-quad tail.
 */
export function formatIPv6(b: Uint8Array, p: number): string {
  let mapped = b[p + 10] === 0xff && b[p + 11] === 0xff;
  for (let i = 0; mapped && i < 10; i++) if (b[p + i] !== 0) mapped = false;
  if (mapped) return `::ffff:${formatIPv4(b, p + 12)}`;
  let bestStart = -1;
  let bestLen = 0;
  let runStart = -1;
  for (let g = 0; g < 8; g++) {
    const zero = b[p + 2 * g] === 0 && b[p + 2 * g + 1] === 0;
    if (zero) {
      if (runStart < 0) runStart = g;
      const runLen = g - runStart + 1;
      if (runLen > bestLen) {
        bestLen = runLen;
        bestStart = runStart;
      }
    } else {
      runStart = -1;
    }
  }
  if (bestLen < 2) bestStart = -1;
  let s = '';
  for (let g = 0; g < 8; g++) {
    if (g === bestStart) {
      s += '::';
      g += bestLen - 1;
      continue;
    }
    if (s.length > 0 && !s.endsWith(':')) s += ':';
    s += hex16(u16(b, p + 2 * g));
  }
  return s;
}

/**
 * Direct-mapped caches from address bytes to their text, so that a stream of records from
 * the same hosts allocates no new strings. A miss formats and replaces the slot.
 */
export class AddrCache {
  private readonly mask: number;
  private readonly k4: Uint32Array;
  private readonly s4: (string | null)[];
  private readonly k6: Uint32Array;
  private readonly s6: (string | null)[];

  constructor(slots = 1024) {
    let n = 1;
    while (n < slots) n <<= 1;
    this.mask = n - 1;
    this.k4 = new Uint32Array(n);
    this.s4 = new Array<string | null>(n).fill(null);
    this.k6 = new Uint32Array(n * 4);
    this.s6 = new Array<string | null>(n).fill(null);
  }

  v4(b: Uint8Array, p: number): string {
    const k = u32(b, p);
    const i = (Math.imul(k, 0x9e3779b1) >>> 16) & this.mask;
    const s = this.s4[i];
    if (s !== null && s !== undefined && this.k4[i] === k) return s;
    const t = formatIPv4(b, p);
    this.k4[i] = k;
    this.s4[i] = t;
    return t;
  }

  v6(b: Uint8Array, p: number): string {
    const a = u32(b, p);
    const c = u32(b, p + 4);
    const d = u32(b, p + 8);
    const e = u32(b, p + 12);
    const h = Math.imul(a ^ Math.imul(c, 31) ^ Math.imul(d, 961) ^ Math.imul(e, 29791), 0x9e3779b1);
    const i = (h >>> 16) & this.mask;
    const s = this.s6[i];
    const j = i * 4;
    const k = this.k6;
    if (s !== null && s !== undefined && k[j] === a && k[j + 1] === c && k[j + 2] === d && k[j + 3] === e) return s;
    const t = formatIPv6(b, p);
    k[j] = a;
    k[j + 1] = c;
    k[j + 2] = d;
    k[j + 3] = e;
    this.s6[i] = t;
    return t;
  }
}
