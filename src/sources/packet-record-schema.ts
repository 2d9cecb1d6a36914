/**
 * The per-packet record format, version 1 (docs/per-packet-records.md): one Apache Arrow IPC
 * stream per Kafka record, holding one record batch (plus its dictionary batches) of up to
 * `--batch` packets. This file is the one place that names the columns, their Arrow types and
 * the schema metadata; the writer (export/record-builder.ts) and the reader (packet-record-reader.ts) both
 * follow it. Bump RECORD_SCHEMA_VERSION on any change a reader of version 1 would misread.
 */
import {
  Dictionary, Field, Int32, Int8, List, Schema, TimestampNanosecond, Uint16, Uint32, Uint8, Utf8,
} from 'apache-arrow';
import { TUNNEL_NAMES } from '../decode/layers.ts';

export const RECORD_SCHEMA_VERSION = 1;
/** Schema metadata keys. */
export const META_FORMAT = 'intstream.format';
export const META_VERSION = 'intstream.schema_version';
export const META_SOURCE = 'intstream.source';
export const FORMAT_NAME = 'intstream.packet-records';

/** Dictionary ids of the dictionary-encoded columns. */
export const DICT_IP_SRC = 0;
export const DICT_IP_DST = 1;
export const DICT_TUNNEL_TYPE = 2;

/** tunnel.type dictionary: index = the decoder's tunnel type (layers.ts TUNNEL_NAMES), fixed. */
export const TUNNEL_TYPE_NAMES: readonly string[] = TUNNEL_NAMES;

/** Column names, in schema order. */
export const COL = {
  ts: 'ts',
  source_id: 'source_id',
  len: 'len',
  caplen: 'caplen',
  ip_version: 'ip.version',
  ip_src: 'ip.src',
  ip_dst: 'ip.dst',
  ip_proto: 'ip.proto',
  ip_ttl: 'ip.ttl',
  ip_tos: 'ip.tos',
  sport: 'sport',
  dport: 'dport',
  tcp_flags: 'tcp.flags',
  tcp_seq: 'tcp.seq',
  tcp_ack: 'tcp.ack',
  tcp_payload_len: 'tcp.payload_len',
  icmp_type: 'icmp.type',
  icmp_code: 'icmp.code',
  vlan_id: 'vlan.id',
  tunnel_type: 'tunnel.type',
  tunnel_id: 'tunnel.id',
  int_switch_id: 'int.switch_id',
  int_hop_count: 'int.hop_count',
  int_hop_switch_id: 'int.hop_switch_id',
  int_hop_latency: 'int.hop_latency',
} as const;

const hopList = () => new List(new Field('item', new Uint32(), true));

/** The Arrow schema of version 1; `source` names what was exported (metadata only). */
export function recordSchema(source = ''): Schema {
  const meta = new Map<string, string>([
    [META_FORMAT, FORMAT_NAME],
    [META_VERSION, String(RECORD_SCHEMA_VERSION)],
  ]);
  if (source) meta.set(META_SOURCE, source);
  return new Schema([
    new Field(COL.ts, new TimestampNanosecond('UTC'), false),
    new Field(COL.source_id, new Uint16(), false),
    new Field(COL.len, new Uint32(), false),
    new Field(COL.caplen, new Uint32(), false),
    new Field(COL.ip_version, new Uint8(), true),
    new Field(COL.ip_src, new Dictionary(new Utf8(), new Int32(), DICT_IP_SRC), true),
    new Field(COL.ip_dst, new Dictionary(new Utf8(), new Int32(), DICT_IP_DST), true),
    new Field(COL.ip_proto, new Uint8(), true),
    new Field(COL.ip_ttl, new Uint8(), true),
    new Field(COL.ip_tos, new Uint8(), true),
    new Field(COL.sport, new Uint16(), true),
    new Field(COL.dport, new Uint16(), true),
    new Field(COL.tcp_flags, new Uint16(), true),
    new Field(COL.tcp_seq, new Uint32(), true),
    new Field(COL.tcp_ack, new Uint32(), true),
    new Field(COL.tcp_payload_len, new Uint32(), true),
    new Field(COL.icmp_type, new Uint8(), true),
    new Field(COL.icmp_code, new Uint8(), true),
    new Field(COL.vlan_id, new Uint16(), true),
    new Field(COL.tunnel_type, new Dictionary(new Utf8(), new Int8(), DICT_TUNNEL_TYPE), true),
    new Field(COL.tunnel_id, new Uint32(), true),
    new Field(COL.int_switch_id, new Uint32(), true),
    new Field(COL.int_hop_count, new Uint8(), true),
    new Field(COL.int_hop_switch_id, hopList(), true),
    new Field(COL.int_hop_latency, hopList(), true),
  ], meta);
}

// ---- nanosecond timestamps without BigInt (no allocation per packet) ----------------------------

const TWO32 = 4294967296;

/** Exact floor(x / 1e9) and remainder for an integer 0 <= x < 2^53. */
function divmod1e9(x: number, out: Float64Array): void {
  let q = Math.floor(x / 1e9);
  let r = x - q * 1e9;
  if (r < 0) { q -= 1; r += 1e9; } else if (r >= 1e9) { q += 1; r -= 1e9; }
  out[0] = q; out[1] = r;
}

/**
 * The nanosecond count this format stores for an intstream time `ts` (seconds, a double):
 * the multiple of 1 µs whose time gives back exactly `ts` (sec + us / 1e6, as the capture
 * readers compute it) when there is one, so microsecond captures are stored exactly; else an
 * integer ns count n (nearest first) such that sec + n / 1e9 gives back `ts`; else the nearest.
 * Returns the sub-second part; `sec` is Math.floor(ts).
 */
export function subsecondNs(ts: number, sec: number): number {
  const frac = ts - sec;
  const us = Math.round(frac * 1e6);
  if (us < 1e6 && sec + us / 1e6 === ts) return us * 1000;
  let ns = Math.round(frac * 1e9);
  if (ns > 999_999_999) ns = 999_999_999;
  if (sec + ns / 1e9 === ts) return ns;
  if (ns > 0 && sec + (ns - 1) / 1e9 === ts) return ns - 1;
  if (ns < 999_999_999 && sec + (ns + 1) / 1e9 === ts) return ns + 1;
  return ns;
}

/**
 * Writes seconds since the epoch as an int64 count of ns into `words` (little-endian pairs of
 * int32: low word at 2i, high at 2i + 1). Caches the last second's split.
 */
export class NsWriter {
  private sec = NaN;
  private hiBase = 0;
  private loBase = 0;

  write(words: Int32Array, i: number, ts: number): void {
    const sec = Math.floor(ts);
    if (sec !== this.sec) this.setSec(sec);
    if (sec < 0 || sec >= 8589934592) return this.slow(words, i, ts, sec);
    let lo = this.loBase + subsecondNs(ts, sec), hi = this.hiBase;
    if (lo >= TWO32) { lo -= TWO32; hi += 1; }
    words[2 * i] = lo | 0;
    words[2 * i + 1] = hi | 0;
  }

  private setSec(sec: number): void {
    this.sec = sec;
    if (sec < 0 || sec >= 8589934592) return;
    // sec * 1e9 = X * 2^16 + sL * 1e9 with sec = sH * 2^16 + sL, X = sH * 1e9 (< 2^47)
    const sH = Math.floor(sec / 65536), sL = sec - sH * 65536;
    const X = sH * 1e9;
    const xh = Math.floor(X / 65536), xl = X - xh * 65536;
    let lo = xl * 65536 + sL * 1e9;
    const carry = Math.floor(lo / TWO32);
    lo -= carry * TWO32;
    this.hiBase = xh + carry;
    this.loBase = lo;
  }

  /** Times before 1970 or after 2242: BigInt, rare. */
  private slow(words: Int32Array, i: number, ts: number, sec: number): void {
    const v = BigInt(sec) * 1_000_000_000n + BigInt(subsecondNs(ts, sec));
    words[2 * i] = Number(BigInt.asIntN(32, v));
    words[2 * i + 1] = Number(BigInt.asIntN(32, v >> 32n));
  }
}

/**
 * Reads int64 ns counts (low, high words) back into whole seconds and ns, exactly, without
 * BigInt; caches the split of the last high word (it changes every 4.3 s of time).
 */
export class NsReader {
  private hi = NaN;
  private secBase = 0;
  private nsBase = 0;
  private readonly dm = new Float64Array(2);
  /** Results of the last read(). */
  sec = 0;
  ns = 0;

  read(lo: number, hi: number): void {
    if (hi !== this.hi) this.setHi(hi);
    if (hi < 0) return this.slow(lo, hi);
    const t = this.nsBase + (lo >>> 0);
    divmod1e9(t, this.dm);
    this.sec = this.secBase + this.dm[0];
    this.ns = this.dm[1];
  }

  private setHi(hi: number): void {
    this.hi = hi;
    if (hi < 0) return;
    // hi * 2^32 = 4 hi * 1e9 + hi * 294967296; hi = a * 2^16 + b
    const a = Math.floor(hi / 65536), b = hi - a * 65536;
    const dm = this.dm;
    divmod1e9(a * 294967296, dm);
    const q = dm[0], r = dm[1];
    divmod1e9(r * 65536 + b * 294967296, dm);
    this.secBase = 4 * hi + q * 65536 + dm[0];
    this.nsBase = dm[1];
  }

  private slow(lo: number, hi: number): void {
    const v = (BigInt(hi) << 32n) | BigInt(lo >>> 0);
    let s = v / 1_000_000_000n, r = v % 1_000_000_000n;
    if (r < 0n) { s -= 1n; r += 1_000_000_000n; }
    this.sec = Number(s);
    this.ns = Number(r);
  }
}
