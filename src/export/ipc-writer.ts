/**
 * HOT PATH (bench/export.ts): a minimal Apache Arrow IPC stream writer for the per-packet
 * records (record-builder.ts): the schema message as apache-arrow writes it (made once), then
 * the dictionary batches and the record batch with their message headers built here (flatbuffers,
 * with apache-arrow's generated tables) and their bodies copied straight from the builder's
 * typed arrays into one output buffer, then the end-of-stream marker. One allocation and one
 * copy of the data per batch; no apache-arrow objects per batch.
 *
 * Stream format (Arrow columnar format, "IPC streaming format", metadata version V5): each
 * message is 0xFFFFFFFF, the int32 length of its flatbuffer Message (padded so that the body
 * starts 8-byte aligned), the Message, then its body; every buffer in a body starts at an
 * 8-byte boundary. bench/export.ts measures this writer against apache-arrow's
 * RecordBatchStreamWriter (record-builder.ts encodeWithArrowJs), which writes the same stream.
 */
import { Builder } from 'flatbuffers';
import { Message } from 'apache-arrow/fb/message';
import { MessageHeader } from 'apache-arrow/fb/message-header';
import { MetadataVersion } from 'apache-arrow/fb/metadata-version';
import { RecordBatch as FbRecordBatch } from 'apache-arrow/fb/record-batch';
import { DictionaryBatch as FbDictionaryBatch } from 'apache-arrow/fb/dictionary-batch';
import { FieldNode } from 'apache-arrow/fb/field-node';
import { Buffer as FbBuffer } from 'apache-arrow/fb/buffer';

const pad8 = (n: number) => (n + 7) & ~7;

/**
 * One batch being laid out: field nodes (length, null count) in schema order (a list's child
 * right after the list), and buffers (their bytes, copied at write time) in Arrow's order per
 * node: validity, then offsets and/or values.
 */
export class BatchLayout {
  readonly nodes: number[] = [];
  readonly bufs: (Uint8Array | null)[] = [];
  bodyLength = 0;

  clear(): void {
    this.nodes.length = 0;
    this.bufs.length = 0;
    this.bodyLength = 0;
  }

  node(length: number, nulls: number): void {
    this.nodes.push(length, nulls);
  }

  /** A buffer's bytes (null or empty: a buffer of length 0, e.g. an omitted validity bitmap). */
  buf(bytes: Uint8Array | null): void {
    this.bufs.push(bytes);
    if (bytes !== null) this.bodyLength += pad8(bytes.byteLength);
  }
}

/** The bytes of a typed array's first `count` elements, as a Uint8Array view (no copy). */
export function bytesOf(a: ArrayBufferView & { BYTES_PER_ELEMENT: number }, count: number): Uint8Array {
  return new Uint8Array(a.buffer, a.byteOffset, count * a.BYTES_PER_ELEMENT);
}

const fb = new Builder(4096);

/** The flatbuffer RecordBatch table of a layout (inside the builder `fb`). */
function recordBatchTable(length: number, l: BatchLayout): number {
  const nNodes = l.nodes.length >> 1;
  FbRecordBatch.startNodesVector(fb, nNodes);
  for (let i = nNodes - 1; i >= 0; i--) FieldNode.createFieldNode(fb, BigInt(l.nodes[2 * i]), BigInt(l.nodes[2 * i + 1]));
  const nodes = fb.endVector();
  const nBufs = l.bufs.length;
  // buffer offsets in the body, in order
  const offs = new Array<number>(nBufs);
  let at = 0;
  for (let i = 0; i < nBufs; i++) {
    offs[i] = at;
    const b = l.bufs[i];
    if (b !== null) at += pad8(b.byteLength);
  }
  FbRecordBatch.startBuffersVector(fb, nBufs);
  for (let i = nBufs - 1; i >= 0; i--) {
    const b = l.bufs[i];
    FbBuffer.createBuffer(fb, BigInt(offs[i]), BigInt(b === null ? 0 : b.byteLength));
  }
  const buffers = fb.endVector();
  FbRecordBatch.startRecordBatch(fb);
  FbRecordBatch.addLength(fb, BigInt(length));
  FbRecordBatch.addNodes(fb, nodes);
  FbRecordBatch.addBuffers(fb, buffers);
  return FbRecordBatch.endRecordBatch(fb);
}

/** Message flatbuffer bytes (already padded so that 8 + length is a multiple of 8). */
function finishMessage(type: MessageHeader, header: number, bodyLength: number): Uint8Array {
  Message.startMessage(fb);
  Message.addVersion(fb, MetadataVersion.V5);
  Message.addHeaderType(fb, type);
  Message.addHeader(fb, header);
  Message.addBodyLength(fb, BigInt(bodyLength));
  fb.finish(Message.endMessage(fb));
  return fb.asUint8Array().slice(); // a copy: the builder is reused for the next message
}

/** Flatbuffer metadata of a RecordBatch message. */
export function recordBatchMeta(length: number, l: BatchLayout): Uint8Array {
  fb.clear();
  return finishMessage(MessageHeader.RecordBatch, recordBatchTable(length, l), l.bodyLength);
}

/** Flatbuffer metadata of a DictionaryBatch message (not a delta). */
export function dictionaryBatchMeta(id: number, length: number, l: BatchLayout): Uint8Array {
  fb.clear();
  const data = recordBatchTable(length, l);
  FbDictionaryBatch.startDictionaryBatch(fb);
  FbDictionaryBatch.addId(fb, BigInt(id));
  FbDictionaryBatch.addData(fb, data);
  return finishMessage(MessageHeader.DictionaryBatch, FbDictionaryBatch.endDictionaryBatch(fb), l.bodyLength);
}

/** Bytes a message takes in the stream: prefix, padded metadata, body. */
export function messageSize(meta: Uint8Array, bodyLength: number): number {
  return 8 + pad8(meta.byteLength) + bodyLength;
}

/** Writes one message (prefix, metadata, body buffers) at `at`; returns the end. */
export function writeMessage(out: Uint8Array, at: number, meta: Uint8Array, l: BatchLayout): number {
  const dv = new DataView(out.buffer, out.byteOffset, out.byteLength);
  const metaLen = pad8(meta.byteLength);
  dv.setInt32(at, -1, true);
  dv.setInt32(at + 4, metaLen, true);
  out.set(meta, at + 8);
  out.fill(0, at + 8 + meta.byteLength, at + 8 + metaLen);
  let p = at + 8 + metaLen;
  for (const b of l.bufs) {
    if (b === null) continue;
    out.set(b, p);
    const end = p + pad8(b.byteLength);
    if (end > p + b.byteLength) out.fill(0, p + b.byteLength, end);
    p = end;
  }
  return p;
}

/** The end-of-stream marker: continuation, length 0. */
export function writeEos(out: Uint8Array, at: number): number {
  const dv = new DataView(out.buffer, out.byteOffset, out.byteLength);
  dv.setInt32(at, -1, true);
  dv.setInt32(at + 4, 0, true);
  return at + 8;
}

/** The schema message (prefix and metadata; a schema has no body) at the start of an Arrow stream. */
export function schemaMessageOf(stream: Uint8Array): Uint8Array {
  const dv = new DataView(stream.buffer, stream.byteOffset, stream.byteLength);
  if (dv.getInt32(0, true) !== -1) throw new Error('not an Arrow IPC stream (no continuation marker)');
  const len = dv.getInt32(4, true);
  return stream.slice(0, 8 + len);
}
