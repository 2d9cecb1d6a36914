import { readSync } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { IntstreamError } from '../errors.ts';

/**
 * Sequential bytes from a file or a stream, read in large chunks into the caller's buffer.
 * One interface so that capture readers do not care whether they read a file or stdin.
 */
export interface ByteInput {
  /** Reads up to `len` bytes into `buf` at `off`; resolves 0 at end of input. */
  read(buf: Uint8Array, off: number, len: number): Promise<number>;
  /**
   * Synchronous read, where the input allows it (regular files). Reading a file from the page
   * cache in small synchronous chunks is about twice as fast as libuv's thread-pool reads, and
   * the chunk stays in the CPU cache for the parser (bench/newconn.ts).
   */
  readSync?(buf: Uint8Array, off: number, len: number): number;
  /** Total size in bytes when known (files), else undefined. */
  readonly size: number | undefined;
  /** Moves the next read to this byte offset, where the input allows it (regular files). */
  seek?(position: number): void;
  close(): Promise<void>;
}

/**
 * The most one read asks of the file system. fs.read and fs.readSync throw a RangeError for a
 * length of 2^31 or more; a reader's buffer is bounded by its own caps, and this keeps a read
 * legal whatever buffer it is handed (a short read is always allowed).
 */
const MAX_READ = 1 << 30;

export async function openFileInput(path: string): Promise<ByteInput> {
  let fh: FileHandle;
  try {
    fh = await open(path, 'r');
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    throw new IntstreamError('CAPTURE_IO', `${path}: cannot open (${err.code ?? err.message})`,
      err.code === 'ENOENT' ? 'check the path given to --source pcap:PATH' : undefined);
  }
  const st = await fh.stat();
  if (st.isDirectory()) {
    await fh.close();
    throw new IntstreamError('CAPTURE_IO', `${path}: is a directory, not a capture file`);
  }
  let pos = 0;
  return {
    size: st.isFile() ? st.size : undefined,
    async read(buf, off, len) {
      const { bytesRead } = await fh.read(buf, off, Math.min(len, MAX_READ), pos);
      pos += bytesRead;
      return bytesRead;
    },
    readSync: st.isFile() ? (buf, off, len) => {
      const n = readSync(fh.fd, buf, off, Math.min(len, MAX_READ), pos);
      pos += n;
      return n;
    } : undefined,
    seek: st.isFile() ? (position) => { pos = position; } : undefined,
    close: () => fh.close(),
  };
}

/** Reads a Node.js readable stream (standard input) through the same interface. */
export function streamInput(stream: NodeJS.ReadableStream): ByteInput {
  const it = (stream as AsyncIterable<Buffer>)[Symbol.asyncIterator]();
  let pending: Buffer | null = null;
  let pendingOff = 0;
  let done = false;
  return {
    size: undefined,
    async read(buf, off, len) {
      while (!pending || pendingOff >= pending.length) {
        if (done) return 0;
        const r = await it.next();
        if (r.done) { done = true; return 0; }
        pending = r.value; pendingOff = 0;
      }
      const n = Math.min(len, pending.length - pendingOff);
      buf.set(pending.subarray(pendingOff, pendingOff + n), off);
      pendingOff += n;
      return n;
    },
    async close() { /* stdin stays open for the process */ },
  };
}
