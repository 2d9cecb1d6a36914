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

// Nanosecond times without BigInt (no Arrow needed: a capture sink imports them at start-up).
export { subsecondNs, NsWriter, NsReader } from './ns-time.ts';
