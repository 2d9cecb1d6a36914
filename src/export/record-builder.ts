/**
 * HOT PATH (bench/export.ts): builds per-packet records (sources/packet-record-schema.ts, version 1) column by
 * column and encodes them as one Apache Arrow IPC stream.
 *
 * `add(p)` copies one decoded packet's fields from the reused Packet view straight into typed
 * arrays (no object per packet): numbers into their columns, a validity bit per column group,
 * addresses as indices into a per-batch dictionary keyed by the raw address bytes (a typed
 * open-addressing table; the text of each distinct address is built once per batch, at
 * encode time). Items that are not Packets (flow records, records read back from Kafka) go
 * through the field getters instead: slower, same columns.
 *
 * `encode()` writes them as one Arrow IPC stream with the minimal writer of ipc-writer.ts (one
 * output buffer, the arrays copied into it once), then the builder is empty again and reuses its
 * arrays. `encodeWithArrowJs()` writes the same stream through apache-arrow's writer (makeData
 * over subarray views of the same arrays); bench/export.ts measures one against the other.
 */
import {
  Data, RecordBatch, RecordBatchStreamWriter, Schema, Struct, Utf8, Vector, makeData,
  type DataType, type Field,
} from 'apache-arrow';
import { Packet } from '../decode/packet.ts';
import { ipv6Text } from '../decode/address-text.ts';
import { fieldGetter } from '../decode/fields.ts';
import { F_HOP_LATENCY, F_SWITCH_ID } from '../decode/int/index.ts';
import { DICT_IP_DST, DICT_IP_SRC, DICT_TUNNEL_TYPE, NsWriter, TUNNEL_TYPE_NAMES, recordSchema } from '../sources/packet-record-schema.ts';
import { BatchLayout, bytesOf, dictionaryBatchMeta, messageSize, recordBatchMeta, schemaMessageOf, writeEos, writeMessage } from './ipc-writer.ts';

const UTF8 = new TextEncoder();
/**
 * Default most bytes of one encoded batch: below Kafka's default message.max.bytes (1 MiB)
 * with room for the record's own framing.
 */
export const DEFAULT_MAX_BYTES = 900_000;
/** Fixed-width bytes of one row: the columns' widths (70) plus 11 validity bits, rounded up. */
const ROW_BYTES = 72;
/** Schema message, record batch and dictionary batch headers, buffer padding (measured: 4.2 kB with one row). */
const HEADER_BYTES = 8192;
const IPPROTO_TCP = 6, IPPROTO_UDP = 17, IPPROTO_ICMP = 1, IPPROTO_ICMPV6 = 58;

/** Bytes of a validity bitmap for n rows, padded to 8 (Arrow's alignment). */
function bitmapBytes(n: number): number {
  return ((((n + 7) >> 3) + 7) >> 3) << 3;
}

/**
 * Per-batch dictionary of IP addresses: index by the address bytes (v4: one word, v6: four),
 * no string per packet. Texts are made at encode time, once per distinct address.
 */
class AddressDict {
  private readonly mask: number;
  private readonly slotGen: Int32Array;
  private readonly slotEntry: Int32Array;
  private gen = 1;
  /** Entry words (4 per entry) and family (4, 6; 0 = given as text). */
  private words: Int32Array;
  private fam: Uint8Array;
  private texts: (string | null)[] = [];
  private byText = new Map<string, number>();
  size = 0;
  /** Upper bound of the UTF-8 bytes (and offsets) of the entries so far. */
  textBytes = 0;

  constructor(capacity: number) {
    let t = 1024;
    while (t < capacity * 2) t <<= 1;
    this.mask = t - 1;
    this.slotGen = new Int32Array(t);
    this.slotEntry = new Int32Array(t);
    this.words = new Int32Array(capacity * 4);
    this.fam = new Uint8Array(capacity);
  }

  reset(): void {
    this.gen++;
    if (this.gen === 0x7fffffff) { this.slotGen.fill(0); this.gen = 1; }
    this.size = 0;
    this.textBytes = 0;
    if (this.byText.size > 0) this.byText.clear();
  }

  private grow(): void {
    const w = new Int32Array(this.words.length * 2); w.set(this.words); this.words = w;
    const f = new Uint8Array(this.fam.length * 2); f.set(this.fam); this.fam = f;
  }

  v4(b: Uint8Array, o: number): number {
    const w = (b[o] << 24) | (b[o + 1] << 16) | (b[o + 2] << 8) | b[o + 3];
    const mask = this.mask, gen = this.gen, sg = this.slotGen, se = this.slotEntry, words = this.words, fam = this.fam;
    let i = (Math.imul(w, 0x9e3779b1) >>> 12) & mask;
    for (;;) {
      if (sg[i] !== gen) break;
      const e = se[i];
      if (fam[e] === 4 && words[e * 4] === w) return e;
      i = (i + 1) & mask;
    }
    // Entries never outnumber the rows of a batch, which is below half the table: it never fills.
    const e = this.size++;
    if (e * 4 >= this.words.length) this.grow();
    this.words[e * 4] = w;
    this.fam[e] = 4;
    this.textBytes += 19;
    sg[i] = gen; se[i] = e;
    return e;
  }

  v6(b: Uint8Array, o: number): number {
    const a = (b[o] << 24) | (b[o + 1] << 16) | (b[o + 2] << 8) | b[o + 3];
    const c = (b[o + 4] << 24) | (b[o + 5] << 16) | (b[o + 6] << 8) | b[o + 7];
    const d = (b[o + 8] << 24) | (b[o + 9] << 16) | (b[o + 10] << 8) | b[o + 11];
    const f = (b[o + 12] << 24) | (b[o + 13] << 16) | (b[o + 14] << 8) | b[o + 15];
    const h = Math.imul(a, 0x9e3779b1) ^ Math.imul(c, 0x85ebca6b) ^ Math.imul(d, 0xc2b2ae35) ^ Math.imul(f, 0x27d4eb2f);
    const mask = this.mask, gen = this.gen, sg = this.slotGen, se = this.slotEntry;
    let i = (h ^ (h >>> 15)) & mask;
    for (;;) {
      if (sg[i] !== gen) break;
      const e = se[i], k = e * 4, words = this.words;
      if (this.fam[e] === 6 && words[k] === a && words[k + 1] === c && words[k + 2] === d && words[k + 3] === f) return e;
      i = (i + 1) & mask;
    }
    const e = this.size++;
    if (e * 4 >= this.words.length) this.grow();
    const k = e * 4;
    this.words[k] = a; this.words[k + 1] = c; this.words[k + 2] = d; this.words[k + 3] = f;
    this.fam[e] = 6;
    this.textBytes += 43;
    sg[i] = gen; se[i] = e;
    return e;
  }

  /** An address already in text form (items that are not packets). */
  text(s: string): number {
    let e = this.byText.get(s);
    if (e !== undefined) return e;
    e = this.size++;
    if (e * 4 >= this.words.length) this.grow();
    this.fam[e] = 0;
    this.textBytes += 4 + s.length * 3;
    this.texts[e] = s;
    this.byText.set(s, e);
    return e;
  }

  private readonly scratch = new Uint8Array(16);

  /** The dictionary as Arrow Utf8 data (apache-arrow's writer). */
  utf8(): Data {
    const t = this.utf8Bytes();
    return makeData({ type: new Utf8(), length: this.size, valueOffsets: t.offsets, data: t.bytes } as any);
  }

  /** Every entry's text as UTF-8, in entry order, and the offsets (size + 1). */
  utf8Bytes(): { offsets: Int32Array; bytes: Uint8Array } {
    const n = this.size, offsets = new Int32Array(n + 1);
    let bytes = new Uint8Array(Math.max(64, n * 16));
    // (grown below when IPv6 or long texts need more)
    let pos = 0;
    const sc = this.scratch, words = this.words;
    for (let e = 0; e < n; e++) {
      const f = this.fam[e];
      if (pos + 48 > bytes.length) {
        const nb = new Uint8Array(bytes.length * 2); nb.set(bytes); bytes = nb;
      }
      if (f === 4) {
        // dotted quad straight into the bytes (no string)
        const w = words[e * 4];
        for (let k = 24; k >= 0; k -= 8) {
          const v = (w >>> k) & 255;
          if (v >= 100) { bytes[pos++] = 48 + ((v / 100) | 0); bytes[pos++] = 48 + (((v / 10) | 0) % 10); bytes[pos++] = 48 + (v % 10); }
          else if (v >= 10) { bytes[pos++] = 48 + ((v / 10) | 0); bytes[pos++] = 48 + (v % 10); }
          else bytes[pos++] = 48 + v;
          if (k !== 0) bytes[pos++] = 46;
        }
      } else {
        let s: string;
        if (f === 6) {
          for (let j = 0; j < 4; j++) {
            const w = words[e * 4 + j];
            sc[4 * j] = w >>> 24; sc[4 * j + 1] = w >>> 16; sc[4 * j + 2] = w >>> 8; sc[4 * j + 3] = w;
          }
          s = ipv6Text(sc, 0);
        } else s = this.texts[e]!;
        if (pos + s.length * 3 > bytes.length) {
          const nb = new Uint8Array(Math.max(bytes.length * 2, pos + s.length * 3)); nb.set(bytes); bytes = nb;
        }
        for (let j = 0; j < s.length; j++) {
          const ch = s.charCodeAt(j);
          if (ch < 0x80) bytes[pos++] = ch;
          else pos += UTF8.encodeInto(s.slice(j, j + 1), bytes.subarray(pos)).written;
        }
      }
      offsets[e + 1] = pos;
    }
    return { offsets, bytes: bytes.subarray(0, pos) };
  }
}

/** A growable list<uint32> column (INT hops): offsets per row, values with their own validity. */
class HopList {
  offsets: Int32Array;
  values: Uint32Array;
  valid: Uint8Array;
  nulls = 0;
  count = 0;
  constructor(rows: number) {
    this.offsets = new Int32Array(rows + 1);
    this.values = new Uint32Array(256);
    this.valid = new Uint8Array(bitmapBytes(256));
  }
  reset(): void { this.count = 0; this.nulls = 0; }
  push(v: number): void {
    if (this.count === this.values.length) {
      const nv = new Uint32Array(this.values.length * 2); nv.set(this.values); this.values = nv;
      const nb = new Uint8Array(bitmapBytes(this.values.length)); nb.set(this.valid); this.valid = nb;
    }
    const i = this.count++;
    if (v < 0) { this.values[i] = 0; this.valid[i >> 3] &= ~(1 << (i & 7)); this.nulls++; }
    else { this.values[i] = v; this.valid[i >> 3] |= 1 << (i & 7); }
  }
}

export interface BuilderStats {
  rows: number;
}

/** Columnar per-packet records for one Kafka record at a time (see the file comment). */
export class PacketRecordBuilder {
  readonly capacity: number;
  readonly schema: Schema;
  /** Rows added since the last encode(). */
  count = 0;
  /** Value of the source_id column. */
  sourceId: number;
  /** `full` once the encoded stream could pass this many bytes (see estimate()). */
  readonly maxBytes: number;

  private readonly ns = new NsWriter();
  private readonly tsWords: Int32Array;
  private readonly tsBig: BigInt64Array;
  private readonly sid: Uint16Array;
  private readonly len: Uint32Array;
  private readonly caplen: Uint32Array;
  private readonly ipVersion: Uint8Array;
  private readonly ipSrc: Int32Array;
  private readonly ipDst: Int32Array;
  private readonly ipProto: Uint8Array;
  private readonly ipTtl: Uint8Array;
  private readonly ipTos: Uint8Array;
  private readonly sport: Uint16Array;
  private readonly dport: Uint16Array;
  private readonly tcpFlags: Uint16Array;
  private readonly tcpSeq: Uint32Array;
  private readonly tcpAck: Uint32Array;
  private readonly tcpPayload: Uint32Array;
  private readonly icmpType: Uint8Array;
  private readonly icmpCode: Uint8Array;
  private readonly vlanId: Uint16Array;
  private readonly tunType: Int8Array;
  private readonly tunId: Uint32Array;
  private readonly intSwitch: Uint32Array;
  private readonly intHops: Uint8Array;
  private readonly hopSwitch: HopList;
  private readonly hopLatency: HopList;
  // validity bitmaps, one per group of columns that are present together
  private readonly vIp: Uint8Array;
  private readonly vPorts: Uint8Array;
  private readonly vTcp: Uint8Array;
  private readonly vIcmp: Uint8Array;
  private readonly vVlan: Uint8Array;
  private readonly vTun: Uint8Array;
  private readonly vTunId: Uint8Array;
  private readonly vInt: Uint8Array;
  private readonly vIntSwitch: Uint8Array;
  private readonly vHopSwitch: Uint8Array;
  private readonly vHopLatency: Uint8Array;
  // valid counts per group
  private nIp = 0; private nPorts = 0; private nTcp = 0; private nIcmp = 0; private nVlan = 0;
  private nTun = 0; private nTunId = 0; private nInt = 0; private nIntSwitch = 0; private nHopSwitch = 0; private nHopLatency = 0;
  private readonly srcDict: AddressDict;
  private readonly dstDict: AddressDict;
  private readonly tunnelDict: Data;

  constructor(capacity: number, sourceId = 0, source = '', maxBytes = DEFAULT_MAX_BYTES) {
    this.capacity = capacity;
    this.maxBytes = maxBytes;
    this.sourceId = sourceId;
    this.schema = recordSchema(source);
    const n = capacity;
    const tsBuf = new ArrayBuffer(n * 8);
    this.tsWords = new Int32Array(tsBuf);
    this.tsBig = new BigInt64Array(tsBuf);
    this.sid = new Uint16Array(n); this.len = new Uint32Array(n); this.caplen = new Uint32Array(n);
    this.ipVersion = new Uint8Array(n); this.ipSrc = new Int32Array(n); this.ipDst = new Int32Array(n);
    this.ipProto = new Uint8Array(n); this.ipTtl = new Uint8Array(n); this.ipTos = new Uint8Array(n);
    this.sport = new Uint16Array(n); this.dport = new Uint16Array(n);
    this.tcpFlags = new Uint16Array(n); this.tcpSeq = new Uint32Array(n); this.tcpAck = new Uint32Array(n); this.tcpPayload = new Uint32Array(n);
    this.icmpType = new Uint8Array(n); this.icmpCode = new Uint8Array(n);
    this.vlanId = new Uint16Array(n); this.tunType = new Int8Array(n); this.tunId = new Uint32Array(n);
    this.intSwitch = new Uint32Array(n); this.intHops = new Uint8Array(n);
    this.hopSwitch = new HopList(n); this.hopLatency = new HopList(n);
    const bm = bitmapBytes(n);
    this.vIp = new Uint8Array(bm); this.vPorts = new Uint8Array(bm); this.vTcp = new Uint8Array(bm);
    this.vIcmp = new Uint8Array(bm); this.vVlan = new Uint8Array(bm); this.vTun = new Uint8Array(bm);
    this.vTunId = new Uint8Array(bm); this.vInt = new Uint8Array(bm); this.vIntSwitch = new Uint8Array(bm);
    this.vHopSwitch = new Uint8Array(bm); this.vHopLatency = new Uint8Array(bm);
    this.srcDict = new AddressDict(n); this.dstDict = new AddressDict(n);
    // tunnel.type: a fixed dictionary
    const enc = new TextEncoder();
    const parts = TUNNEL_TYPE_NAMES.map((s) => enc.encode(s));
    const offs = new Int32Array(parts.length + 1);
    parts.forEach((p, i) => { offs[i + 1] = offs[i] + p.length; });
    const data = new Uint8Array(offs[parts.length]);
    parts.forEach((p, i) => data.set(p, offs[i]));
    const tunType = (this.schema.fields[19].type as any).dictionary;
    this.tunnelDict = makeData({ type: tunType, length: parts.length, valueOffsets: offs, data } as any);
    // the hand-written writer's constant parts: apache-arrow's schema message, the tunnel.type dictionary batch
    this.schemaMessage = schemaMessageOf(this.encodeWithArrowJs());
    const l = this.layout;
    l.clear();
    l.node(parts.length, 0); l.buf(null); l.buf(bytesOf(offs, parts.length + 1)); l.buf(data);
    const meta = dictionaryBatchMeta(DICT_TUNNEL_TYPE, parts.length, l);
    this.tunnelDictMessage = new Uint8Array(messageSize(meta, l.bodyLength));
    writeMessage(this.tunnelDictMessage, 0, meta, l);
  }

  private readonly layout = new BatchLayout();
  private readonly dictLayout = new BatchLayout();
  private readonly schemaMessage: Uint8Array;
  private readonly tunnelDictMessage: Uint8Array;

  /**
   * Encodes the rows added so far as one Arrow IPC stream (schema, dictionary batches for
   * ip.src, ip.dst and tunnel.type, one record batch, end marker) with ipc-writer.ts, and
   * empties the builder. The stream is written into `into` when it is large enough (a buffer
   * the caller reuses once the Kafka client is done with it), else into a new Buffer; the
   * result is a view of exactly the stream's bytes.
   */
  encode(into?: Buffer): Buffer {
    const n = this.count, l = this.layout;
    const bits = (bm: Uint8Array, valid: number): Uint8Array | null => (valid === n ? null : bm.subarray(0, (n + 7) >> 3));
    const col = (a: ArrayBufferView & { BYTES_PER_ELEMENT: number }, bm: Uint8Array | null, valid: number) => {
      l.node(n, n - valid);
      l.buf(bm === null ? null : bits(bm, valid));
      l.buf(bytesOf(a, n));
    };
    const list = (h: HopList, bm: Uint8Array, valid: number) => {
      l.node(n, n - valid);
      l.buf(bits(bm, valid));
      l.buf(bytesOf(h.offsets, n + 1));
      l.node(h.count, h.nulls);
      l.buf(h.nulls === 0 ? null : h.valid.subarray(0, (h.count + 7) >> 3));
      l.buf(bytesOf(h.values, h.count));
    };
    // dictionaries first: their metadata now, their bodies when written
    const src = this.srcDict.utf8Bytes(), dst = this.dstDict.utf8Bytes();
    const dl = this.dictLayout;
    const dictLayout = (size: number, t: { offsets: Int32Array; bytes: Uint8Array }) => {
      dl.clear();
      dl.node(size, 0); dl.buf(null); dl.buf(bytesOf(t.offsets, size + 1)); dl.buf(t.bytes);
    };
    dictLayout(this.srcDict.size, src);
    const srcMeta = dictionaryBatchMeta(DICT_IP_SRC, this.srcDict.size, dl), srcSize = messageSize(srcMeta, dl.bodyLength);
    dictLayout(this.dstDict.size, dst);
    const dstMeta = dictionaryBatchMeta(DICT_IP_DST, this.dstDict.size, dl), dstSize = messageSize(dstMeta, dl.bodyLength);
    l.clear();
    col(this.tsBig, null, n);
    col(this.sid, null, n);
    col(this.len, null, n);
    col(this.caplen, null, n);
    col(this.ipVersion, this.vIp, this.nIp);
    col(this.ipSrc, this.vIp, this.nIp);
    col(this.ipDst, this.vIp, this.nIp);
    col(this.ipProto, this.vIp, this.nIp);
    col(this.ipTtl, this.vIp, this.nIp);
    col(this.ipTos, this.vIp, this.nIp);
    col(this.sport, this.vPorts, this.nPorts);
    col(this.dport, this.vPorts, this.nPorts);
    col(this.tcpFlags, this.vTcp, this.nTcp);
    col(this.tcpSeq, this.vTcp, this.nTcp);
    col(this.tcpAck, this.vTcp, this.nTcp);
    col(this.tcpPayload, this.vTcp, this.nTcp);
    col(this.icmpType, this.vIcmp, this.nIcmp);
    col(this.icmpCode, this.vIcmp, this.nIcmp);
    col(this.vlanId, this.vVlan, this.nVlan);
    col(this.tunType, this.vTun, this.nTun);
    col(this.tunId, this.vTunId, this.nTunId);
    col(this.intSwitch, this.vIntSwitch, this.nIntSwitch);
    col(this.intHops, this.vInt, this.nInt);
    list(this.hopSwitch, this.vHopSwitch, this.nHopSwitch);
    list(this.hopLatency, this.vHopLatency, this.nHopLatency);
    const rbMeta = recordBatchMeta(n, l);
    const total = this.schemaMessage.byteLength + srcSize + dstSize + this.tunnelDictMessage.byteLength + messageSize(rbMeta, l.bodyLength) + 8;
    const out = into !== undefined && into.byteLength >= total ? into.subarray(0, total) : Buffer.allocUnsafeSlow(Math.max(total, this.maxBytes + 65536));
    out.set(this.schemaMessage, 0);
    let at = this.schemaMessage.byteLength;
    dictLayout(this.srcDict.size, src);
    at = writeMessage(out, at, srcMeta, dl);
    dictLayout(this.dstDict.size, dst);
    at = writeMessage(out, at, dstMeta, dl);
    out.set(this.tunnelDictMessage, at);
    at += this.tunnelDictMessage.byteLength;
    at = writeMessage(out, at, rbMeta, l);
    at = writeEos(out, at);
    if (at !== total) throw new Error(`ipc-writer: wrote ${at} bytes of ${total}`);
    this.clear();
    return out.subarray(0, total);
  }

  /** Enough rows for one Kafka record: `capacity` rows, or the encoded size could pass maxBytes. */
  get full(): boolean { return this.count >= this.capacity || this.estimate() >= this.maxBytes; }

  /**
   * An upper bound of the encoded size: the schema and message headers, ROW_BYTES per row
   * (every fixed-width column and validity bit), the dictionaries' texts and offsets, and
   * the INT hop values.
   */
  estimate(): number {
    return HEADER_BYTES + this.count * ROW_BYTES + this.srcDict.textBytes + this.dstDict.textBytes + (this.hopSwitch.count + this.hopLatency.count) * 5;
  }

  /** Adds one item: a decoded Packet (fast path) or any item answering the field getters. */
  add(x: Packet | object): void {
    if (x instanceof Packet) this.addPacket(x);
    else this.addItem(x);
  }

  /** One decoded packet, read from the Packet's decoded offsets and its bytes. */
  addPacket(p: Packet): void {
    const i = this.count++;
    const byte = i >> 3, bit = 1 << (i & 7);
    this.ns.write(this.tsWords, i, p.ts);
    this.sid[i] = this.sourceId;
    this.len[i] = p.len;
    this.caplen[i] = p.end - p.start;
    const b = p.buf, l3 = p.l3;
    if (l3 !== 0) {
      const o = p.l3Off;
      this.vIp[byte] |= bit; this.nIp++;
      this.ipVersion[i] = l3;
      this.ipProto[i] = p.proto;
      if (l3 === 4) {
        this.ipSrc[i] = this.srcDict.v4(b, o + 12);
        this.ipDst[i] = this.dstDict.v4(b, o + 16);
        this.ipTtl[i] = b[o + 8];
        this.ipTos[i] = b[o + 1];
      } else {
        this.ipSrc[i] = this.srcDict.v6(b, o + 8);
        this.ipDst[i] = this.dstDict.v6(b, o + 24);
        this.ipTtl[i] = b[o + 7];
        this.ipTos[i] = ((b[o] & 0x0f) << 4) | (b[o + 1] >> 4);
      }
      const proto = p.proto, l4 = p.l4Off;
      if (l4 >= 0 && (proto === IPPROTO_TCP || proto === IPPROTO_UDP)) {
        this.vPorts[byte] |= bit; this.nPorts++;
        this.sport[i] = (b[l4] << 8) | b[l4 + 1];
        this.dport[i] = (b[l4 + 2] << 8) | b[l4 + 3];
        if (proto === IPPROTO_TCP) {
          this.vTcp[byte] |= bit; this.nTcp++;
          this.tcpFlags[i] = ((b[l4 + 12] & 0x0f) << 8) | b[l4 + 13];
          this.tcpSeq[i] = ((b[l4 + 4] << 24) | (b[l4 + 5] << 16) | (b[l4 + 6] << 8) | b[l4 + 7]) >>> 0;
          this.tcpAck[i] = ((b[l4 + 8] << 24) | (b[l4 + 9] << 16) | (b[l4 + 10] << 8) | b[l4 + 11]) >>> 0;
          this.tcpPayload[i] = p.l4PayloadLen;
        } else this.zeroTcp(i);
        this.zeroIcmp(i);
      } else {
        this.sport[i] = 0; this.dport[i] = 0;
        this.zeroTcp(i);
        if (l4 >= 0 && (proto === IPPROTO_ICMP || proto === IPPROTO_ICMPV6)) {
          this.vIcmp[byte] |= bit; this.nIcmp++;
          this.icmpType[i] = b[l4]; this.icmpCode[i] = b[l4 + 1];
        } else this.zeroIcmp(i);
      }
    } else {
      this.ipVersion[i] = 0; this.ipSrc[i] = 0; this.ipDst[i] = 0; this.ipProto[i] = 0; this.ipTtl[i] = 0; this.ipTos[i] = 0;
      this.sport[i] = 0; this.dport[i] = 0;
      this.zeroTcp(i); this.zeroIcmp(i);
    }
    if (p.vlanDepth > 0) { this.vVlan[byte] |= bit; this.nVlan++; this.vlanId[i] = p.vlanId; } else this.vlanId[i] = 0;
    if (p.tunnelDepth > 0) {
      this.vTun[byte] |= bit; this.nTun++;
      this.tunType[i] = p.tunnelType;
      if (p.tunnelId >= 0) { this.vTunId[byte] |= bit; this.nTunId++; this.tunId[i] = p.tunnelId; } else this.tunId[i] = 0;
    } else { this.tunType[i] = 0; this.tunId[i] = 0; }
    if (p.intStatus === 0) this.addInt(p, i, byte, bit);
    else this.noInt(i);
  }

  private zeroTcp(i: number): void {
    this.tcpFlags[i] = 0; this.tcpSeq[i] = 0; this.tcpAck[i] = 0; this.tcpPayload[i] = 0;
  }

  private zeroIcmp(i: number): void {
    this.icmpType[i] = 0; this.icmpCode[i] = 0;
  }

  private noInt(i: number): void {
    this.intSwitch[i] = 0; this.intHops[i] = 0;
    this.hopSwitch.offsets[i + 1] = this.hopSwitch.count;
    this.hopLatency.offsets[i + 1] = this.hopLatency.count;
  }

  private addInt(p: Packet, i: number, byte: number, bit: number): void {
    const v = p.int!;
    this.vInt[byte] |= bit; this.nInt++;
    const sw = v.switch_id;
    if (sw >= 0) { this.vIntSwitch[byte] |= bit; this.nIntSwitch++; this.intSwitch[i] = sw; } else this.intSwitch[i] = 0;
    const hops = v.hop_count;
    this.intHops[i] = hops;
    if (v.has(F_SWITCH_ID)) {
      this.vHopSwitch[byte] |= bit; this.nHopSwitch++;
      for (let k = 0; k < hops; k++) this.hopSwitch.push(v.switchId(k));
    }
    this.hopSwitch.offsets[i + 1] = this.hopSwitch.count;
    if (v.has(F_HOP_LATENCY)) {
      this.vHopLatency[byte] |= bit; this.nHopLatency++;
      for (let k = 0; k < hops; k++) this.hopLatency.push(v.hopLatency(k));
    }
    this.hopLatency.offsets[i + 1] = this.hopLatency.count;
  }

  /** Any item through the field getters (flow records, records read back from Kafka). */
  addItem(x: any): void {
    const i = this.count++;
    const byte = i >> 3, bit = 1 << (i & 7);
    this.ns.write(this.tsWords, i, x.ts);
    this.sid[i] = this.sourceId;
    this.len[i] = (g.len(x) as number | undefined) ?? 0;
    this.caplen[i] = (g.caplen(x) as number | undefined) ?? 0;
    const ver = g.ipVersion(x) as number | undefined;
    if (ver === 4 || ver === 6) {
      this.vIp[byte] |= bit; this.nIp++;
      this.ipVersion[i] = ver;
      const src = g.ipSrc(x) as string | undefined, dst = g.ipDst(x) as string | undefined;
      this.ipSrc[i] = this.srcDict.text(src ?? '');
      this.ipDst[i] = this.dstDict.text(dst ?? '');
      this.ipProto[i] = (g.ipProto(x) as number | undefined) ?? 0;
      this.ipTtl[i] = (g.ipTtl(x) as number | undefined) ?? 0;
      this.ipTos[i] = (g.ipTos(x) as number | undefined) ?? 0;
    } else {
      this.ipVersion[i] = 0; this.ipSrc[i] = 0; this.ipDst[i] = 0; this.ipProto[i] = 0; this.ipTtl[i] = 0; this.ipTos[i] = 0;
    }
    const tsport = g.tcpSport(x) as number | undefined, usport = g.udpSport(x) as number | undefined;
    if (tsport !== undefined || usport !== undefined) {
      this.vPorts[byte] |= bit; this.nPorts++;
      this.sport[i] = tsport ?? usport ?? 0;
      this.dport[i] = ((tsport !== undefined ? g.tcpDport(x) : g.udpDport(x)) as number | undefined) ?? 0;
    } else { this.sport[i] = 0; this.dport[i] = 0; }
    const flags = g.tcpFlags(x) as number | undefined;
    if (flags !== undefined) {
      this.vTcp[byte] |= bit; this.nTcp++;
      this.tcpFlags[i] = flags;
      this.tcpSeq[i] = (g.tcpSeq(x) as number | undefined) ?? 0;
      this.tcpAck[i] = (g.tcpAck(x) as number | undefined) ?? 0;
      this.tcpPayload[i] = (g.tcpPayload(x) as number | undefined) ?? 0;
    } else this.zeroTcp(i);
    const it = g.icmpType(x) as number | undefined;
    if (it !== undefined) {
      this.vIcmp[byte] |= bit; this.nIcmp++;
      this.icmpType[i] = it; this.icmpCode[i] = (g.icmpCode(x) as number | undefined) ?? 0;
    } else this.zeroIcmp(i);
    const vlan = g.vlanId(x) as number | undefined;
    if (vlan !== undefined) { this.vVlan[byte] |= bit; this.nVlan++; this.vlanId[i] = vlan; } else this.vlanId[i] = 0;
    const tt = g.tunnelType(x) as string | undefined;
    if (tt !== undefined) {
      this.vTun[byte] |= bit; this.nTun++;
      const k = TUNNEL_TYPE_NAMES.indexOf(tt);
      this.tunType[i] = k >= 0 ? k : 0;
      const id = g.tunnelId(x) as number | undefined;
      if (id !== undefined) { this.vTunId[byte] |= bit; this.nTunId++; this.tunId[i] = id; } else this.tunId[i] = 0;
    } else { this.tunType[i] = 0; this.tunId[i] = 0; }
    // INT hop lists: from items that keep them (records read back from Kafka)
    const iv = x.int;
    if (iv && typeof iv.hop_count === 'number') {
      this.vInt[byte] |= bit; this.nInt++;
      const sw = iv.switch_id as number;
      if (sw >= 0) { this.vIntSwitch[byte] |= bit; this.nIntSwitch++; this.intSwitch[i] = sw; } else this.intSwitch[i] = 0;
      const hops = iv.hop_count as number;
      this.intHops[i] = hops;
      if (typeof iv.has === 'function' && iv.has(F_SWITCH_ID)) {
        this.vHopSwitch[byte] |= bit; this.nHopSwitch++;
        for (let k = 0; k < hops; k++) this.hopSwitch.push(iv.switchId(k));
      }
      this.hopSwitch.offsets[i + 1] = this.hopSwitch.count;
      if (typeof iv.has === 'function' && iv.has(F_HOP_LATENCY)) {
        this.vHopLatency[byte] |= bit; this.nHopLatency++;
        for (let k = 0; k < hops; k++) this.hopLatency.push(iv.hopLatency(k));
      }
      this.hopLatency.offsets[i + 1] = this.hopLatency.count;
    } else this.noInt(i);
  }

  /**
   * The same stream through apache-arrow's RecordBatchStreamWriter (makeData over the builder's
   * arrays): the writer bench/export.ts measures ipc-writer.ts against. Empties the builder.
   */
  encodeWithArrowJs(): Uint8Array {
    const n = this.count;
    const f = this.schema.fields;
    const col = (k: number, data: ArrayLike<number> & { subarray(a: number, b: number): any }, valid: Uint8Array | null, valids: number) =>
      makeData({ type: f[k].type, length: n, nullCount: valid ? n - valids : 0, nullBitmap: valid ? valid.subarray(0, bitmapBytes(n)) : undefined, data: data.subarray(0, n) } as any);
    const dict = (k: number, idx: Int32Array | Int8Array, valid: Uint8Array, valids: number, dictionary: Data) =>
      makeData({ type: f[k].type, length: n, nullCount: n - valids, nullBitmap: valid.subarray(0, bitmapBytes(n)), data: idx.subarray(0, n), dictionary: new Vector([dictionary]) } as any);
    const list = (k: number, l: HopList, valid: Uint8Array, valids: number) => {
      const child = makeData({ type: (f[k].type as any).children[0].type, length: l.count, nullCount: l.nulls, nullBitmap: l.nulls > 0 ? l.valid.subarray(0, bitmapBytes(l.count)) : undefined, data: l.values.subarray(0, l.count) } as any);
      return makeData({ type: f[k].type, length: n, nullCount: n - valids, nullBitmap: valid.subarray(0, bitmapBytes(n)), valueOffsets: l.offsets.subarray(0, n + 1), child } as any);
    };
    const children: Data[] = [
      makeData({ type: f[0].type, length: n, nullCount: 0, data: this.tsBig.subarray(0, n) } as any),
      col(1, this.sid, null, n),
      col(2, this.len, null, n),
      col(3, this.caplen, null, n),
      col(4, this.ipVersion, this.vIp, this.nIp),
      dict(5, this.ipSrc, this.vIp, this.nIp, this.srcDict.utf8()),
      dict(6, this.ipDst, this.vIp, this.nIp, this.dstDict.utf8()),
      col(7, this.ipProto, this.vIp, this.nIp),
      col(8, this.ipTtl, this.vIp, this.nIp),
      col(9, this.ipTos, this.vIp, this.nIp),
      col(10, this.sport, this.vPorts, this.nPorts),
      col(11, this.dport, this.vPorts, this.nPorts),
      col(12, this.tcpFlags, this.vTcp, this.nTcp),
      col(13, this.tcpSeq, this.vTcp, this.nTcp),
      col(14, this.tcpAck, this.vTcp, this.nTcp),
      col(15, this.tcpPayload, this.vTcp, this.nTcp),
      col(16, this.icmpType, this.vIcmp, this.nIcmp),
      col(17, this.icmpCode, this.vIcmp, this.nIcmp),
      col(18, this.vlanId, this.vVlan, this.nVlan),
      dict(19, this.tunType, this.vTun, this.nTun, this.tunnelDict),
      col(20, this.tunId, this.vTunId, this.nTunId),
      col(21, this.intSwitch, this.vIntSwitch, this.nIntSwitch),
      col(22, this.intHops, this.vInt, this.nInt),
      list(23, this.hopSwitch, this.vHopSwitch, this.nHopSwitch),
      list(24, this.hopLatency, this.vHopLatency, this.nHopLatency),
    ];
    const struct = makeData({ type: new Struct(f as Field<DataType>[]), length: n, nullCount: 0, children } as any);
    const batch = new RecordBatch(this.schema, struct as any);
    const bytes = RecordBatchStreamWriter.writeAll([batch]).toUint8Array(true);
    this.clear();
    return bytes;
  }

  /** Empties the builder (keeps its arrays). */
  clear(): void {
    const bm = bitmapBytes(this.count);
    for (const v of [this.vIp, this.vPorts, this.vTcp, this.vIcmp, this.vVlan, this.vTun, this.vTunId, this.vInt, this.vIntSwitch, this.vHopSwitch, this.vHopLatency]) v.fill(0, 0, bm);
    this.nIp = 0; this.nPorts = 0; this.nTcp = 0; this.nIcmp = 0; this.nVlan = 0; this.nTun = 0; this.nTunId = 0;
    this.nInt = 0; this.nIntSwitch = 0; this.nHopSwitch = 0; this.nHopLatency = 0;
    this.srcDict.reset(); this.dstDict.reset();
    this.hopSwitch.reset(); this.hopLatency.reset();
    this.count = 0;
  }
}

/** Field getters for items that are not Packets (resolved once). */
const g = {
  len: fieldGetter('len'), caplen: fieldGetter('caplen'),
  ipVersion: fieldGetter('ip.version'), ipSrc: fieldGetter('ip.src'), ipDst: fieldGetter('ip.dst'),
  ipProto: fieldGetter('ip.proto'), ipTtl: fieldGetter('ip.ttl'), ipTos: fieldGetter('ip.tos'),
  tcpSport: fieldGetter('tcp.sport'), tcpDport: fieldGetter('tcp.dport'), udpSport: fieldGetter('udp.sport'), udpDport: fieldGetter('udp.dport'),
  tcpFlags: fieldGetter('tcp.flags'), tcpSeq: fieldGetter('tcp.seq'), tcpAck: fieldGetter('tcp.ack'), tcpPayload: fieldGetter('tcp.payload_len'),
  icmpType: fieldGetter('icmp.type'), icmpCode: fieldGetter('icmp.code'), vlanId: fieldGetter('vlan.id'),
  tunnelType: fieldGetter('tunnel.type'), tunnelId: fieldGetter('tunnel.id'),
};
