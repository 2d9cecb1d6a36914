/**
 * Helpers for the capture reader tests: an in-memory ByteInput, a reader loop that copies each
 * record out, and naive walkers over pcap records and pcapng blocks that serve as the
 * independent reference for where records and blocks start (a few lines each, straight from the
 * format documents, sharing nothing with src/sources).
 */
import type { SourceSetup } from '../../src/sources/source.ts';
import type { ByteInput } from '../../src/sources/byte-input.ts';
import { CaptureFileSource } from '../../src/sources/capture-file-source.ts';

/** Bytes in memory as a ByteInput, handed out at most `chunk` bytes per read. */
export function memoryInput(bytes: Uint8Array, chunk = Number.POSITIVE_INFINITY): ByteInput {
  let pos = 0;
  return {
    size: bytes.length,
    async read(buf, off, len) {
      const n = Math.min(len, chunk, bytes.length - pos);
      buf.set(bytes.subarray(pos, pos + n), off);
      pos += n;
      return n;
    },
    async close() { /* nothing */ },
  };
}

export interface Rec {
  ts: number;
  len: number;
  capLen: number;
  linkType: number;
  iface: number;
  fileOffset: number;
  data: Uint8Array;
}

export interface ReadResult {
  records: Rec[];
  skipped: Record<string, number>;
  warnings: string[];
}

/** Opens and reads a whole source, copying every record (batches are reused). */
export async function readSource(src: CaptureFileSource, setup?: SourceSetup): Promise<ReadResult> {
  const records: Rec[] = [];
  try {
    await src.open(setup);
    for (let b; (b = await src.nextBatch());) {
      for (let i = 0; i < b.count; i++) {
        records.push({
          ts: b.ts[i], len: b.wireLen[i], capLen: b.capLen[i], linkType: b.linkType[i], iface: b.iface[i],
          fileOffset: b.fileOffset[i], data: b.buf.slice(b.dataOff[i], b.dataOff[i] + b.capLen[i]),
        });
      }
    }
  } finally {
    await src.close();
  }
  return { records, skipped: src.skipped.toJSON(), warnings: [...src.warnings] };
}

export function readBytes(bytes: Uint8Array, name = 'mem.pcap', chunk?: number, batchSize?: number): Promise<ReadResult> {
  return readSource(new CaptureFileSource(`pcap:${name}`, name, memoryInput(bytes, chunk), batchSize));
}

/** Classic pcap: offsets of the records that are whole, and where the whole ones end. */
export function pcapRecordOffsets(f: Uint8Array): { offsets: number[]; end: number } {
  const v = new DataView(f.buffer, f.byteOffset, f.byteLength);
  const le = v.getUint32(0, true) === 0xa1b2c3d4 || v.getUint32(0, true) === 0xa1b23c4d;
  const offsets: number[] = [];
  let o = 24;
  while (o + 16 <= f.length) {
    const cap = v.getUint32(o + 8, le);
    if (o + 16 + cap > f.length) break;
    offsets.push(o);
    o += 16 + cap;
  }
  return { offsets, end: o };
}

export interface Block { offset: number; type: number; length: number; section: number }

/** pcapng: the whole blocks, with the section (0-based) each belongs to. */
export function pcapngBlocks(f: Uint8Array): Block[] {
  const v = new DataView(f.buffer, f.byteOffset, f.byteLength);
  const out: Block[] = [];
  let le = true, section = -1, o = 0;
  while (o + 12 <= f.length) {
    if (v.getUint32(o, false) === 0x0a0d0d0a) {
      le = v.getUint32(o + 8, true) === 0x1a2b3c4d;
      section++;
    }
    const len = v.getUint32(o + 4, le);
    if (len < 12 || o + len > f.length) break;
    out.push({ offset: o, type: v.getUint32(o, le), length: len, section });
    o += len;
  }
  return out;
}

export const PACKET_BLOCKS = new Set([2, 3, 6]);
