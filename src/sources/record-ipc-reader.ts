/**
 * HOT PATH (bench/export.ts, read back): the fast way through one Kafka record of per-packet
 * records, the mirror of src/export/ipc-writer.ts. apache-arrow's RecordBatchReader builds its
 * schema, vectors and data objects for every Kafka record (about a sixth of a read-back's CPU by profile); this
 * decodes only each message's flatbuffer header (apache-arrow's `Message.decode`) and lays
 * typed-array views over the body where the header says the buffers are.
 *
 * It takes only what it knows to the byte: a stream whose schema is exactly the version-1 schema
 * of packet-record-schema.ts (names, types, nullability, dictionary ids, in order; checked once
 * per distinct schema message, then recognised by its bytes), uncompressed bodies, whole (not
 * delta) dictionaries of texts, and messages that lie inside the bytes with buffers inside their
 * bodies. For anything else it returns null, and the caller reads the stream with apache-arrow,
 * which reports what is wrong (packet-record-reader.ts, decodeRecordStream). `bytes` must start
 * 8-byte aligned (the caller copies it otherwise), as Arrow's own reader needs.
 */
import { Message, MessageHeader, type Field, type Schema } from 'apache-arrow';
import { ByteBuffer } from 'flatbuffers';
import { Message as FbMessage } from 'apache-arrow/fb/message';
import { RecordBatch as FbRecordBatch } from 'apache-arrow/fb/record-batch';
import { DictionaryBatch as FbDictionaryBatch } from 'apache-arrow/fb/dictionary-batch';
import { Schema as FbSchema } from 'apache-arrow/fb/schema';
import { Field as FbField } from 'apache-arrow/fb/field';
import type { ColumnData, DictionaryData } from './packet-record-reader.ts';
import { recordSchema } from './packet-record-schema.ts';

/** One record batch's columns in schema order, its schema's metadata and field names, and its rows. */
export interface FastBatch { meta: Map<string, string>; names: string[]; children: ColumnData[]; length: number }

/** How to view one column's buffers: a typed array per element width, the dictionary's id, a list's item. */
interface ColumnPlan {
  array: TypedArrayOf;
  dictionary: number | null;
  item: ColumnPlan | null;
}
type TypedArrayOf = new (buffer: ArrayBufferLike, byteOffset: number, length: number) => ArrayBufferView;

/** The signature of a field: what must match the version-1 schema, children included. */
function signature(f: Field): string {
  const t = f.type as { id?: number; dictionary?: unknown; indices?: unknown; children?: Field[] };
  const kids = (t.children ?? []).map(signature).join(',');
  return `${f.name}|${f.nullable}|${String(f.type)}|${t.id ?? ''}|${String(t.indices ?? '')}|[${kids}]`;
}

/** The typed array of a (non-dictionary, non-list) type's values. */
function arrayOf(type: { typeId: number; bitWidth?: number; isSigned?: boolean; unit?: number }): TypedArrayOf | null {
  const name = String(type);
  switch (name) {
    case 'Int8': return Int8Array; case 'Uint8': return Uint8Array;
    case 'Int16': return Int16Array; case 'Uint16': return Uint16Array;
    case 'Int32': return Int32Array; case 'Uint32': return Uint32Array;
    default: return name.startsWith('Timestamp<NANOSECOND') ? BigInt64Array : null;
  }
}

function planOf(f: Field): ColumnPlan | null {
  const t = f.type as { indices?: { typeId: number }; children?: Field[]; id?: number; typeId: number };
  if (t.indices !== undefined) {
    const array = arrayOf(t.indices);
    return array ? { array, dictionary: t.id ?? null, item: null } : null;
  }
  if (t.children && t.children.length === 1 && String(f.type).startsWith('List')) {
    const item = planOf(t.children[0]);
    return item ? { array: Int32Array, dictionary: null, item } : null;
  }
  const array = arrayOf(t);
  return array ? { array, dictionary: null, item: null } : null;
}

/** The version-1 schema's field signatures, and the column plans in order. */
const EXPECTED = recordSchema().fields.map(signature);
const PLANS: ColumnPlan[] = (() => {
  const plans = recordSchema().fields.map(planOf);
  if (plans.some((p) => p === null)) throw new Error('record-ipc-reader: a version-1 column type without a plan');
  return plans as ColumnPlan[];
})();
const NAMES = recordSchema().fields.map((f) => f.name);

/** Schema messages seen (by their bytes): the stream's metadata when it is the version-1 schema, else null. */
const schemas = new Map<string, Map<string, string> | null>();

function schemaMeta(metaBytes: Uint8Array): Map<string, string> | null {
  const key = Buffer.from(metaBytes.buffer, metaBytes.byteOffset, metaBytes.byteLength).toString('latin1');
  let meta = schemas.get(key);
  if (meta === undefined) {
    meta = null;
    try {
      const m = Message.decode(metaBytes);
      if (m.isSchema()) {
        const schema = m.header() as Schema;
        const got = schema.fields.map(signature);
        if (got.length === EXPECTED.length && got.every((g, i) => g === EXPECTED[i])) meta = schema.metadata;
      }
    } catch { meta = null; }
    if (schemas.size >= 64) schemas.clear();
    schemas.set(key, meta);
  }
  return meta;
}

/** A buffer of the body as a typed array of `count` elements (null when it does not lie inside the body or is misaligned). */
function view(bytes: Uint8Array, body: number, bodyLength: number, region: { offset: number; length: number }, array: TypedArrayOf, count: number): ArrayBufferView | null {
  const width = (array as unknown as { BYTES_PER_ELEMENT: number }).BYTES_PER_ELEMENT;
  if (region.offset < 0 || region.offset + region.length > bodyLength || count * width > region.length) return null;
  const at = bytes.byteOffset + body + region.offset;
  if (at % width !== 0) return null;
  return new array(bytes.buffer, at, count);
}

function bitmap(bytes: Uint8Array, body: number, bodyLength: number, region: { offset: number; length: number }, nullCount: number, rows: number): Uint8Array | null | undefined {
  if (nullCount === 0) return null;
  return view(bytes, body, bodyLength, region, Uint8Array, (rows + 7) >> 3) as Uint8Array | null ?? undefined;
}

/**
 * What is wrong with the message headers of an Arrow IPC stream that decoding them would pay
 * for dearly, or null. apache-arrow's decoder believes a header's vector lengths: one flipped
 * byte in a Kafka record can ask for billions of field nodes or buffers, and the process runs
 * out of memory instead of skipping the record. Each vector must fit in its header, each body
 * in the stream, a batch's row count below 2^31, and a schema's fields nest at most 64 deep.
 * Read with the generated flatbuffer tables, which read only what is asked.
 */
export function streamHeadersProblem(bytes: Uint8Array): string | null {
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let at = 0;
  try {
    while (at + 8 <= bytes.length) {
      if (dv.getInt32(at, true) !== -1) return null; // not this framing: apache-arrow's reader says what it is
      const len = dv.getInt32(at + 4, true);
      if (len === 0) return null;
      if (len < 0 || at + 8 + len > bytes.length) return `offset ${at}: a message header of ${len} bytes past the end of the record (${bytes.length} bytes)`;
      const m = FbMessage.getRootAsMessage(new ByteBuffer(bytes.subarray(at + 8, at + 8 + len)));
      const fits = (count: number, width: number) => Number.isInteger(count) && count >= 0 && count * width <= len;
      const where = `offset ${at}`;
      if (!fits(m.customMetadataLength(), 4)) return `${where}: a message with ${m.customMetadataLength()} metadata entries in a ${len}-byte header`;
      const body = Number(m.bodyLength());
      if (!(body >= 0) || at + 8 + len + body > bytes.length) return `${where}: a message body of ${body} bytes past the end of the record`;
      const batch = (rb: FbRecordBatch | null): string | null => {
        if (rb === null) return null;
        if (!fits(rb.nodesLength(), 16) || !fits(rb.buffersLength(), 16) || !fits(rb.variadicBufferCountsLength(), 8)) {
          return `${where}: a batch header claiming ${rb.nodesLength()} field nodes and ${rb.buffersLength()} buffers in ${len} bytes`;
        }
        const rows = Number(rb.length());
        return rows >= 0 && rows < 2 ** 31 ? null : `${where}: a batch of ${rows} rows`;
      };
      let problem: string | null = null;
      switch (m.headerType()) {
        case MessageHeader.RecordBatch: problem = batch(m.header(new FbRecordBatch()) as FbRecordBatch | null); break;
        case MessageHeader.DictionaryBatch: problem = batch((m.header(new FbDictionaryBatch()) as FbDictionaryBatch | null)?.data() ?? null); break;
        case MessageHeader.Schema: {
          const sc = m.header(new FbSchema()) as FbSchema | null;
          if (sc === null) break;
          if (!fits(sc.fieldsLength(), 4) || !fits(sc.customMetadataLength(), 4) || !fits(sc.featuresLength(), 8)) { problem = `${where}: a schema claiming ${sc.fieldsLength()} fields in ${len} bytes`; break; }
          let visited = 0;
          const field = (f: FbField | null, depth: number): string | null => {
            if (f === null) return null;
            if (depth > 64 || ++visited > len / 4) return `${where}: schema fields nested too deep or too many`;
            if (!fits(f.childrenLength(), 4) || !fits(f.customMetadataLength(), 4)) return `${where}: a field claiming ${f.childrenLength()} children in ${len} bytes`;
            for (let i = 0; i < f.childrenLength(); i++) { const p = field(f.children(i), depth + 1); if (p) return p; }
            return null;
          };
          for (let i = 0; i < sc.fieldsLength() && problem === null; i++) problem = field(sc.fields(i), 0);
          break;
        }
      }
      if (problem !== null) return problem;
      at += 8 + len + body;
    }
  } catch (e) {
    return `offset ${at}: an unreadable message header (${(e as Error).message})`;
  }
  return null;
}

/**
 * Every record batch of one Arrow IPC stream of per-packet records, or null when the stream is
 * not one this fast path takes (see the file comment).
 */
export function readRecordStream(bytes: Uint8Array): FastBatch[] | null {
  if (streamHeadersProblem(bytes) !== null) return null;
  try {
    return readStream(bytes);
  } catch {
    return null; // a header apache-arrow's decoder refuses (lengths past 2^53, ...): its reader says why
  }
}

function readStream(bytes: Uint8Array): FastBatch[] | null {
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let at = 0;
  let meta: Map<string, string> | null = null;
  const dicts = new Map<number, DictionaryData>();
  const out: FastBatch[] = [];
  while (at + 8 <= bytes.length) {
    if (dv.getInt32(at, true) !== -1) return null;
    const len = dv.getInt32(at + 4, true);
    if (len === 0) return meta === null ? null : out; // end of stream
    if (len < 0 || at + 8 + len > bytes.length) return null;
    const metaBytes = bytes.subarray(at + 8, at + 8 + len);
    if (meta === null) {
      meta = schemaMeta(metaBytes);
      if (meta === null) return null;
      at += 8 + len;
      continue;
    }
    const m = Message.decode(metaBytes);
    const body = at + 8 + len, bodyLength = m.bodyLength;
    if (!(bodyLength >= 0) || body + bodyLength > bytes.length) return null;
    if (m.headerType === MessageHeader.DictionaryBatch) {
      const d = m.header() as unknown as { id: number; isDelta: boolean; data: { length: number; nodes: { length: number; nullCount: number }[]; buffers: { offset: number; length: number }[]; compression: unknown } };
      const rb = d.data;
      // one column of texts, as long as the batch, without nulls (this writer's dictionaries)
      if (d.isDelta || rb.compression || rb.nodes.length !== 1 || rb.buffers.length !== 3) return null;
      const n = rb.length;
      if (rb.nodes[0].length !== n || rb.nodes[0].nullCount !== 0) return null;
      const offsets = view(bytes, body, bodyLength, rb.buffers[1], Int32Array, n + 1) as Int32Array | null;
      if (offsets === null) return null;
      const end = n > 0 ? offsets[n] : 0;
      if (end < 0 || end > rb.buffers[2].length) return null;
      for (let i = 0; i < n; i++) if (offsets[i] < 0 || offsets[i] > offsets[i + 1]) return null;
      const values = view(bytes, body, bodyLength, rb.buffers[2], Uint8Array, end);
      if (values === null) return null;
      dicts.set(d.id, { data: [{ valueOffsets: offsets, values, offset: 0, length: n }] });
    } else if (m.headerType === MessageHeader.RecordBatch) {
      const rb = m.header() as unknown as { length: number; nodes: { length: number; nullCount: number }[]; buffers: { offset: number; length: number }[]; compression: unknown };
      if (rb.compression) return null;
      const rows = rb.length;
      const children: ColumnData[] = [];
      let node = 0, buf = 0;
      const column = (plan: ColumnPlan): ColumnData | null => {
        const nd = rb.nodes[node++];
        const validityRegion = rb.buffers[buf++], valuesRegion = rb.buffers[buf++];
        if (nd === undefined || valuesRegion === undefined || nd.length !== rowsOf) return null;
        const nullBitmap = bitmap(bytes, body, bodyLength, validityRegion, nd.nullCount, nd.length);
        if (nullBitmap === undefined) return null;
        if (plan.item !== null) {
          const offsets = view(bytes, body, bodyLength, valuesRegion, Int32Array, nd.length + 1) as Int32Array | null;
          if (offsets === null) return null;
          const items = offsets[nd.length];
          for (let i = 0; i < nd.length; i++) if (offsets[i] < 0 || offsets[i] > offsets[i + 1]) return null;
          const saved = rowsOf;
          rowsOf = items;
          const item = column(plan.item);
          rowsOf = saved;
          if (item === null) return null;
          return { values: offsets, valueOffsets: offsets, nullCount: nd.nullCount, nullBitmap, children: [item] };
        }
        const values = view(bytes, body, bodyLength, valuesRegion, plan.array, nd.length);
        if (values === null) return null;
        let dictionary: DictionaryData | undefined;
        if (plan.dictionary !== null) {
          dictionary = dicts.get(plan.dictionary);
          if (dictionary === undefined) return null;
          const size = dictionary.data[0].length, idx = values as Int32Array | Int8Array;
          for (let i = 0; i < nd.length; i++) { const k = idx[i]; if ((k < 0 || k >= size) && (nullBitmap === null || (nullBitmap[i >> 3] & (1 << (i & 7))) !== 0)) return null; }
        }
        return { values, nullCount: nd.nullCount, nullBitmap, children: [], ...(dictionary ? { dictionary } : {}) };
      };
      let rowsOf = rows;
      for (const plan of PLANS) {
        const c = column(plan);
        if (c === null) return null;
        children.push(c);
      }
      if (node !== rb.nodes.length || buf !== rb.buffers.length) return null;
      out.push({ meta, names: NAMES, children, length: rows });
    } else return null;
    at = body + bodyLength;
  }
  return meta === null ? null : out; // a stream without its end-of-stream marker
}
