/**
 * Reads per-packet records (packet-record-schema.ts, version 1) back from Arrow IPC bytes, and the
 * record item that answers the field names (docs/contracts.md) from them, so every task runs
 * on a `kafka://` source unchanged.
 *
 * `decodeRecordStream(bytes)` yields one RecordColumns per Arrow record batch: the columns'
 * typed arrays as apache-arrow read them (views into the bytes, not copied), their validity
 * bitmaps, the address dictionaries (texts decoded when first read, as interned strings),
 * and each row's time as intstream's seconds. `PacketRecordView` is one row of a RecordColumns: the view API a Packet offers
 * (`r.ip?.src`, `r.tcp?.syn`, `r.get('tcp.dport')`), reading the columns only when asked.
 * Sources keep one view per batch slot and move it to each batch's row (no object per row);
 * `clone()` keeps the row (and with it its batch's columns) past the next batch.
 *
 * What a record does not keep reads as absent (undefined): `eth.*`, `outer.ip.*`, `ip.len`,
 * `ip.fragment`, `tcp.window`, `udp.len`, the INT report's own fields except `int.switch_id`,
 * `int.hop_count`, `int.latency` (sum of the kept hop latencies) and `int.path`.
 */
import { RecordBatchReader, type RecordBatch } from 'apache-arrow';
import { ipv4Text } from '../decode/address-text.ts';
import { IntstreamError } from '../errors.ts';
import { FIELDS, fieldGetter, type FieldName, type FieldValue } from '../decode/fields.ts';
import { FlowRecordView } from '../decode/flow-record.ts';
import { F_HOP_LATENCY, F_SWITCH_ID } from '../decode/int/index.ts';
import { joinTimestamp } from './packet-batch.ts';
import { readRecordStream, streamHeadersProblem } from './record-ipc-reader.ts';
import { COL, FORMAT_NAME, META_FORMAT, META_SOURCE, META_VERSION, NsReader, RECORD_SCHEMA_VERSION } from './packet-record-schema.ts';

/** Why a Kafka record could not be read as per-packet records (a skip reason). */
export class RecordFormatError extends Error {
  readonly reason: string;
  constructor(reason: string, message: string) { super(message); this.reason = reason; }
}

/** The columns of one record batch (see the file comment). Typed arrays are null for a column the batch lacks. */
export class RecordColumns {
  n = 0;
  /** The `intstream.source` metadata: what the exporter read. */
  source = '';
  tsSec: Float64Array = new Float64Array(0);
  sourceId: Uint16Array | null = null;
  len: Uint32Array | null = null;
  caplen: Uint32Array | null = null;
  ipVersion: Uint8Array | null = null; vIp: Uint8Array | null = null;
  ipSrc: Int32Array | null = null; srcDict: LazyDict = NO_DICT;
  ipDst: Int32Array | null = null; dstDict: LazyDict = NO_DICT;
  ipProto: Uint8Array | null = null;
  ipTtl: Uint8Array | null = null;
  ipTos: Uint8Array | null = null;
  sport: Uint16Array | null = null; vPorts: Uint8Array | null = null;
  dport: Uint16Array | null = null;
  tcpFlags: Uint16Array | null = null; vTcp: Uint8Array | null = null;
  tcpSeq: Uint32Array | null = null;
  tcpAck: Uint32Array | null = null;
  tcpPayload: Uint32Array | null = null;
  icmpType: Uint8Array | null = null; vIcmp: Uint8Array | null = null;
  icmpCode: Uint8Array | null = null;
  vlanId: Uint16Array | null = null; vVlan: Uint8Array | null = null;
  tunType: Int8Array | null = null; vTun: Uint8Array | null = null; tunDict: LazyDict = NO_DICT;
  tunId: Uint32Array | null = null; vTunId: Uint8Array | null = null;
  intSwitch: Uint32Array | null = null; vIntSwitch: Uint8Array | null = null;
  intHops: Uint8Array | null = null; vInt: Uint8Array | null = null;
  hopSwOff: Int32Array | null = null; hopSw: Uint32Array | null = null; vHopSw: Uint8Array | null = null; vHopSwItem: Uint8Array | null = null;
  hopLatOff: Int32Array | null = null; hopLat: Uint32Array | null = null; vHopLat: Uint8Array | null = null; vHopLatItem: Uint8Array | null = null;
}

/** Bit i of a validity bitmap; a null bitmap means every row is valid. */
function bit(bm: Uint8Array | null, i: number): boolean {
  return bm === null || (bm[i >> 3] & (1 << (i & 7))) !== 0;
}

/** A column present (the array) and valid at row i. */
function has(values: ArrayLike<number> | null, bm: Uint8Array | null, i: number): boolean {
  return values !== null && bit(bm, i);
}

// ---- decoding -------------------------------------------------------------------------------------

const textDecoder = new TextDecoder();
const interned = new Map<string, string>();
const scratch = new Uint8Array(4);

/**
 * A dictionary's texts, decoded when first asked for (a task reads few of them: tcp-new-conn
 * only the destinations of SYNs): dotted quads through the address interner (the same string
 * objects the packet path yields), other texts decoded and interned here (bounded).
 */
export class LazyDict {
  private readonly offs: Int32Array;
  private readonly bytes: Uint8Array;
  private readonly base: number;
  private readonly texts: (string | undefined)[];
  readonly size: number;

  constructor(v: DictionaryData | undefined) {
    const d = v && v.data.length > 0 ? v.data[0] : undefined;
    if (v && v.data.length > 1) throw new RecordFormatError('record_corrupt', 'a dictionary in several chunks');
    this.offs = d ? (d.valueOffsets as Int32Array) : new Int32Array(1);
    this.bytes = d ? (d.values as Uint8Array) : new Uint8Array(0);
    this.base = d ? d.offset : 0;
    this.size = d ? d.length : 0;
    this.texts = new Array(this.size);
  }

  get(k: number): string | undefined {
    const t = this.texts[k];
    if (t !== undefined || k >= this.size) return t;
    return (this.texts[k] = this.decode(k));
  }

  private decode(k: number): string {
    const a = this.offs[this.base + k], b = this.offs[this.base + k + 1], bytes = this.bytes;
    const q = quad(bytes, a, b);
    if (q >= 0) {
      scratch[0] = q >>> 24; scratch[1] = q >>> 16; scratch[2] = q >>> 8; scratch[3] = q;
      return ipv4Text(scratch, 0);
    }
    const s = textDecoder.decode(bytes.subarray(a, b));
    let t = interned.get(s);
    if (t === undefined) {
      if (interned.size >= 1 << 17) interned.clear();
      interned.set(s, s);
      t = s;
    }
    return t;
  }
}

const NO_DICT = new LazyDict(undefined);

/** A canonical dotted quad in bytes[a, b) as its 32-bit value (unsigned), else -1. */
function quad(bytes: Uint8Array, a: number, b: number): number {
  if (b - a < 7 || b - a > 15) return -1;
  let w = 0, v = 0, digits = 0, parts = 0;
  for (let i = a; i < b; i++) {
    const c = bytes[i];
    if (c === 46) {
      if (digits === 0 || parts === 3) return -1;
      w = w * 256 + v; v = 0; digits = 0; parts++;
    } else if (c >= 48 && c <= 57) {
      if (digits > 0 && v === 0) return -1; // leading zero: not the canonical text
      v = v * 10 + (c - 48); digits++;
      if (v > 255) return -1;
    } else return -1;
  }
  if (digits === 0 || parts !== 3) return -1;
  return w * 256 + v;
}

/**
 * What the reader takes from a column: apache-arrow's Data has it (the general path), and so do
 * the plain objects of the fast path (record-ipc-reader.ts), which reads this writer's layout
 * without building apache-arrow's vectors.
 */
export interface ColumnData {
  values: ArrayBufferView;
  nullCount: number;
  nullBitmap: Uint8Array | null | undefined;
  valueOffsets?: Int32Array | unknown;
  children: ColumnData[];
  dictionary?: DictionaryData;
}

/** A dictionary of texts (Utf8): one chunk of offsets and bytes. */
export interface DictionaryData {
  data: { valueOffsets: Int32Array | unknown; values: Uint8Array | unknown; offset: number; length: number }[];
}

function validity(d: ColumnData | undefined): Uint8Array | null {
  if (!d || d.nullCount === 0) return null;
  return d.nullBitmap as Uint8Array;
}

function values<T>(d: ColumnData | undefined): T | null {
  return d ? (d.values as T) : null;
}

/** Copies the bytes when they do not start on an 8-byte boundary (Arrow's typed views need it). */
function aligned(bytes: Uint8Array): Uint8Array {
  return bytes.byteOffset % 8 === 0 ? bytes : new Uint8Array(bytes);
}

const nsReader = new NsReader();

/**
 * Every record batch of one Arrow IPC stream (one Kafka record's value) as RecordColumns.
 * Throws RecordFormatError (reason: record_corrupt, record_not_packets, record_version) when
 * the bytes are not per-packet records of a version this reader knows. `general`: always through
 * apache-arrow (record-ipc-reader.ts takes this writer's streams faster; the tests compare the two).
 */
export function decodeRecordStream(bytes: Uint8Array, general = false): RecordColumns[] {
  // this writer's streams by the fast path; the rest (and `general`: the tests' reference) by apache-arrow
  const fast = general ? null : readRecordStream(aligned(bytes));
  if (fast !== null) return fast.map((b) => columnsOf(b.meta, b.names, b.children, b.length));
  const problem = streamHeadersProblem(bytes);
  if (problem !== null) throw new RecordFormatError('record_corrupt', `not an Arrow IPC stream of per-packet records: ${problem}`);
  let batches: RecordBatch[];
  try {
    const reader = RecordBatchReader.from(aligned(bytes));
    batches = [...reader];
    if (batches.length === 0) {
      const meta = reader.schema?.metadata;
      checkMeta(meta);
      return [];
    }
  } catch (e) {
    if (e instanceof RecordFormatError) throw e;
    throw new RecordFormatError('record_corrupt', `not an Arrow IPC stream: ${(e as Error).message}`);
  }
  const out: RecordColumns[] = [];
  for (const b of batches) out.push(columnsOf(b.schema.metadata, b.schema.fields.map((f) => f.name), b.data.children as unknown as ColumnData[], b.numRows));
  return out;
}

function checkMeta(meta: Map<string, string> | undefined): void {
  if (!meta || meta.get(META_FORMAT) !== FORMAT_NAME) {
    throw new RecordFormatError('record_not_packets', `an Arrow stream without ${META_FORMAT}=${FORMAT_NAME} in its schema metadata`);
  }
  const v = Number(meta.get(META_VERSION));
  if (v !== RECORD_SCHEMA_VERSION) {
    throw new RecordFormatError('record_version', `per-packet records of schema version ${meta.get(META_VERSION)}; this intstream reads version ${RECORD_SCHEMA_VERSION}`);
  }
}

/** One record batch as RecordColumns: its schema's metadata and field names, its columns in that order, its rows. */
function columnsOf(meta: Map<string, string>, names: string[], children: ColumnData[], numRows: number): RecordColumns {
  checkMeta(meta);
  const idx = new Map<string, number>();
  names.forEach((name, i) => idx.set(name, i));
  const child = (name: string): ColumnData | undefined => {
    const i = idx.get(name);
    return i === undefined ? undefined : children[i];
  };
  const c = new RecordColumns();
  const n = c.n = numRows;
  c.source = meta.get(META_SOURCE) ?? '';
  const ts = child(COL.ts);
  if (!ts) throw new RecordFormatError('record_corrupt', 'per-packet records without a ts column');
  const tsv = ts.values as BigInt64Array | Int32Array;
  const words = new Int32Array(tsv.buffer, tsv.byteOffset, n * 2);
  const sec = c.tsSec = new Float64Array(n);
  const r = nsReader;
  for (let i = 0; i < n; i++) {
    r.read(words[2 * i], words[2 * i + 1]);
    sec[i] = joinTimestamp(r.sec, r.ns / 1e9);
  }
  c.sourceId = values(child(COL.source_id));
  c.len = values(child(COL.len));
  c.caplen = values(child(COL.caplen));
  const ipv = child(COL.ip_version);
  c.ipVersion = values(ipv); c.vIp = validity(ipv);
  const src = child(COL.ip_src), dst = child(COL.ip_dst);
  c.ipSrc = values(src); c.srcDict = new LazyDict(src?.dictionary);
  c.ipDst = values(dst); c.dstDict = new LazyDict(dst?.dictionary);
  c.ipProto = values(child(COL.ip_proto));
  c.ipTtl = values(child(COL.ip_ttl));
  c.ipTos = values(child(COL.ip_tos));
  const sp = child(COL.sport);
  c.sport = values(sp); c.vPorts = validity(sp);
  c.dport = values(child(COL.dport));
  const fl = child(COL.tcp_flags);
  c.tcpFlags = values(fl); c.vTcp = validity(fl);
  c.tcpSeq = values(child(COL.tcp_seq));
  c.tcpAck = values(child(COL.tcp_ack));
  c.tcpPayload = values(child(COL.tcp_payload_len));
  const it = child(COL.icmp_type);
  c.icmpType = values(it); c.vIcmp = validity(it);
  c.icmpCode = values(child(COL.icmp_code));
  const vl = child(COL.vlan_id);
  c.vlanId = values(vl); c.vVlan = validity(vl);
  const tt = child(COL.tunnel_type);
  c.tunType = values(tt); c.vTun = validity(tt); c.tunDict = new LazyDict(tt?.dictionary);
  const ti = child(COL.tunnel_id);
  c.tunId = values(ti); c.vTunId = validity(ti);
  const sw = child(COL.int_switch_id);
  c.intSwitch = values(sw); c.vIntSwitch = validity(sw);
  const hc = child(COL.int_hop_count);
  c.intHops = values(hc); c.vInt = validity(hc);
  const hs = child(COL.int_hop_switch_id);
  if (hs) { c.hopSwOff = hs.valueOffsets as Int32Array; c.vHopSw = validity(hs); c.hopSw = values(hs.children[0]); c.vHopSwItem = validity(hs.children[0]); }
  const hl = child(COL.int_hop_latency);
  if (hl) { c.hopLatOff = hl.valueOffsets as Int32Array; c.vHopLat = validity(hl); c.hopLat = values(hl.children[0]); c.vHopLatItem = validity(hl.children[0]); }
  if (c.vIp !== null && c.ipVersion === null) c.vIp = null;
  return c;
}

// ---- the record item ------------------------------------------------------------------------------

export class RecordIpView {
  private readonly r: PacketRecordView;
  constructor(r: PacketRecordView) { this.r = r; }
  get version(): number { return this.r.l3; }
  get src(): string | undefined { const c = this.r.c; return c.ipSrc ? c.srcDict.get(c.ipSrc[this.r.row]) : undefined; }
  get dst(): string | undefined { const c = this.r.c; return c.ipDst ? c.dstDict.get(c.ipDst[this.r.row]) : undefined; }
  get proto(): number | undefined { const c = this.r.c; return c.ipProto ? c.ipProto[this.r.row] : undefined; }
  get ttl(): number | undefined { const c = this.r.c; return c.ipTtl ? c.ipTtl[this.r.row] : undefined; }
  get tos(): number | undefined { const c = this.r.c; return c.ipTos ? c.ipTos[this.r.row] : undefined; }
  get dscp(): number | undefined { const c = this.r.c; return c.ipTos ? c.ipTos[this.r.row] >> 2 : undefined; }
  /** Not kept by the record format. */
  get len(): undefined { return undefined; }
  get fragment(): undefined { return undefined; }
}

export class RecordTcpView {
  private readonly r: PacketRecordView;
  constructor(r: PacketRecordView) { this.r = r; }
  get sport(): number { return this.r.c.sport![this.r.row]; }
  get dport(): number { return this.r.c.dport![this.r.row]; }
  get seq(): number | undefined { const c = this.r.c; return c.tcpSeq ? c.tcpSeq[this.r.row] : undefined; }
  get ack(): number | undefined { const c = this.r.c; return c.tcpAck ? c.tcpAck[this.r.row] : undefined; }
  get flags(): number { return this.r.c.tcpFlags![this.r.row]; }
  get fin(): boolean { return (this.flags & 0x01) !== 0; }
  get syn(): boolean { return (this.flags & 0x02) !== 0; }
  get rst(): boolean { return (this.flags & 0x04) !== 0; }
  get psh(): boolean { return (this.flags & 0x08) !== 0; }
  get ack_flag(): boolean { return (this.flags & 0x10) !== 0; }
  get urg(): boolean { return (this.flags & 0x20) !== 0; }
  get ece(): boolean { return (this.flags & 0x40) !== 0; }
  get cwr(): boolean { return (this.flags & 0x80) !== 0; }
  get payload_len(): number | undefined { const c = this.r.c; return c.tcpPayload ? c.tcpPayload[this.r.row] : undefined; }
  /** Not kept by the record format. */
  get window(): undefined { return undefined; }
}

export class RecordUdpView {
  private readonly r: PacketRecordView;
  constructor(r: PacketRecordView) { this.r = r; }
  get sport(): number { return this.r.c.sport![this.r.row]; }
  get dport(): number { return this.r.c.dport![this.r.row]; }
  /** Not kept by the record format. */
  get len(): undefined { return undefined; }
  get payload_len(): undefined { return undefined; }
}

export class RecordIcmpView {
  private readonly r: PacketRecordView;
  constructor(r: PacketRecordView) { this.r = r; }
  get type(): number { return this.r.c.icmpType![this.r.row]; }
  get code(): number | undefined { const c = this.r.c; return c.icmpCode ? c.icmpCode[this.r.row] : undefined; }
}

export class RecordVlanView {
  private readonly r: PacketRecordView;
  constructor(r: PacketRecordView) { this.r = r; }
  get id(): number { return this.r.c.vlanId![this.r.row]; }
  get depth(): number { return 1; }
}

export class RecordTunnelView {
  private readonly r: PacketRecordView;
  constructor(r: PacketRecordView) { this.r = r; }
  get type(): string { const c = this.r.c; return c.tunDict.get(c.tunType![this.r.row]) ?? ''; }
  get depth(): number { return 1; }
  /** VNI or ERSPAN session; -1 when the record has none. */
  get id(): number { const c = this.r.c, i = this.r.row; return has(c.tunId, c.vTunId, i) ? c.tunId![i] : -1; }
}

/** The INT fields a record keeps, with IntView's names (int-view.ts); -1 / undefined for the rest. */
export class RecordIntView {
  private readonly r: PacketRecordView;
  constructor(r: PacketRecordView) { this.r = r; }
  get switch_id(): number { const c = this.r.c, i = this.r.row; return has(c.intSwitch, c.vIntSwitch, i) ? c.intSwitch![i] : -1; }
  get hop_count(): number { return this.r.c.intHops![this.r.row]; }
  get version(): number { return -1; }
  get int_version(): number { return -1; }
  get report_ts(): number { return -1; }
  get hw_id(): undefined { return undefined; }
  get sequence(): undefined { return undefined; }
  get dropped(): undefined { return undefined; }
  get congested(): undefined { return undefined; }
  get instruction_bitmap(): undefined { return undefined; }
  /** The full decoded report is not kept: a task that needs it (int-collector) cannot run on records. */
  get report(): never { return noReport(); }
  /** Whether the record keeps per-hop values of F_SWITCH_ID or F_HOP_LATENCY. */
  has(field: number): boolean {
    const c = this.r.c, i = this.r.row;
    if (field === F_SWITCH_ID) return c.hopSwOff !== null && bit(c.vHopSw, i);
    if (field === F_HOP_LATENCY) return c.hopLatOff !== null && bit(c.vHopLat, i);
    return false;
  }
  private hop(off: Int32Array | null, vals: Uint32Array | null, vList: Uint8Array | null, vItem: Uint8Array | null, k: number): number {
    const i = this.r.row;
    if (off === null || vals === null || !bit(vList, i)) return -1;
    const j = off[i] + k;
    if (k < 0 || j >= off[i + 1]) return -1;
    return bit(vItem, j) ? vals[j] : -1;
  }
  /** Hop k (traversal order: 0 is the first switch); -1 when not kept or not available. */
  switchId(k: number): number { const c = this.r.c; return this.hop(c.hopSwOff, c.hopSw, c.vHopSw, c.vHopSwItem, k); }
  hopLatency(k: number): number { const c = this.r.c; return this.hop(c.hopLatOff, c.hopLat, c.vHopLat, c.vHopLatItem, k); }
  /** Sum of the kept hop latencies; -1 when the record has none. */
  get latency(): number {
    const c = this.r.c, i = this.r.row;
    if (c.hopLatOff === null || c.hopLat === null || !bit(c.vHopLat, i)) return -1;
    let s = 0;
    for (let j = c.hopLatOff[i]; j < c.hopLatOff[i + 1]; j++) if (bit(c.vHopLatItem, j)) s += c.hopLat[j];
    return s;
  }
  /** Switch ids in traversal order, comma-separated ('' when not kept). */
  get path(): string {
    const c = this.r.c, i = this.r.row;
    if (c.hopSwOff === null || c.hopSw === null || !bit(c.vHopSw, i)) return '';
    let s = '';
    for (let j = c.hopSwOff[i]; j < c.hopSwOff[i + 1]; j++) s += (j === c.hopSwOff[i] ? '' : ',') + (bit(c.vHopSwItem, j) ? c.hopSw[j] : -1);
    return s;
  }
}

function noReport(): never {
  throw new IntstreamError('TASK_INVALID', 'this task reads whole INT reports; per-packet records from kafka:// keep only int.switch_id, int.hop_count and the hops\' switch ids and latencies',
    'run it on the reports themselves: int:udp://HOST:PORT, or a capture with -p int_port=N');
}

const EMPTY = new RecordColumns();

/** FlowRecordView's fields without `readonly`: a view sets them when it moves to a row. */
type Settable = { -readonly [K in 'ts' | 'len' | 'end' | 'l3' | 'proto' | 'vlanDepth' | 'tunnelDepth' | 'intStatus']: number };

/**
 * One per-packet record as an item: the same view API as a Packet (see the file comment).
 *
 * It is a FlowRecordView (the record items of flow sources) so that the stage treats it as a
 * reused view: a source keeps one per batch slot and moves it to a row with at() (no object
 * per row), and a window that keeps items past the batch clones it (query/operator.ts retain
 * clones Packets and FlowRecordViews). The fields the field table reads directly (ts, len,
 * end, l3, vlanDepth, tunnelDepth, intStatus) are set by at(); everything else is read from
 * the columns when asked for, and the flow-record parts of the base class are answered as
 * absent (`flow`, `iface`).
 */
export class PacketRecordView extends FlowRecordView {
  c: RecordColumns = EMPTY;
  row = 0;
  private rIp: RecordIpView | null = null;
  private rTcp: RecordTcpView | null = null;
  private rUdp: RecordUdpView | null = null;
  private rIcmp: RecordIcmpView | null = null;
  private rVlan: RecordVlanView | null = null;
  private rTunnel: RecordTunnelView | null = null;
  private rInt: RecordIntView | null = null;

  /** Moves the view to row `row` of `c`. */
  at(c: RecordColumns, row: number): this {
    this.c = c;
    this.row = row;
    const w = this as unknown as Settable;
    w.ts = c.tsSec[row];
    w.len = c.len !== null ? c.len[row] : 0;
    w.end = c.caplen !== null ? c.caplen[row] : 0;
    const l3 = has(c.ipVersion, c.vIp, row) ? c.ipVersion![row] : 0;
    w.l3 = l3;
    w.proto = l3 !== 0 && c.ipProto !== null ? c.ipProto[row] : -1;
    w.vlanDepth = has(c.vlanId, c.vVlan, row) ? 1 : 0;
    w.tunnelDepth = has(c.tunType, c.vTun, row) ? 1 : 0;
    w.intStatus = has(c.intHops, c.vInt, row) ? 0 : -1;
    return this;
  }

  override get caplen(): number { return this.end; }
  /** The exporter's source_id column. */
  get sourceId(): number { const c = this.c; return c.sourceId ? c.sourceId[this.row] : 0; }

  override get flow(): any { return null; }
  override get iface(): null { return null; }
  override get ip(): any { return this.l3 !== 0 ? (this.rIp ??= new RecordIpView(this)) : null; }
  override get tcp(): any {
    const c = this.c, i = this.row;
    return this.proto === 6 && has(c.sport, c.vPorts, i) && has(c.tcpFlags, c.vTcp, i) ? (this.rTcp ??= new RecordTcpView(this)) : null;
  }
  override get udp(): any {
    const c = this.c;
    return this.proto === 17 && has(c.sport, c.vPorts, this.row) ? (this.rUdp ??= new RecordUdpView(this)) : null;
  }
  override get icmp(): any {
    const c = this.c;
    return has(c.icmpType, c.vIcmp, this.row) ? (this.rIcmp ??= new RecordIcmpView(this)) : null;
  }
  override get vlan(): any { return this.vlanDepth > 0 ? (this.rVlan ??= new RecordVlanView(this)) : null; }
  override get tunnel(): any { return this.tunnelDepth > 0 ? (this.rTunnel ??= new RecordTunnelView(this)) : null; }
  override get int(): any { return (this.intStatus as number) === 0 ? (this.rInt ??= new RecordIntView(this)) : null; }
  /** Packet's decoded INT report: not kept (see noReport). */
  get intReport(): never { return noReport(); }

  /** A field by its dotted name, undefined when the record lacks it. */
  override get(name: FieldName): FieldValue {
    return fieldGetter(name)(this as any);
  }

  /** The same row, kept past the source's next batch (keeps that batch's columns alive). */
  override clone(): PacketRecordView {
    const v = new PacketRecordView().at(this.c, this.row);
    v.source = this.source;
    return v;
  }

  /** Every present field by name, as a plain object (for printing and JSON; allocates). */
  override toJSON(): Record<string, FieldValue> {
    const o: Record<string, FieldValue> = {};
    for (const d of FIELDS.values()) {
      if (d.type === 'layer') continue;
      const v = d.get(this as any);
      if (v !== undefined) o[d.name] = v;
    }
    return o;
  }
}
