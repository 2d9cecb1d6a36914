/**
 * ByteInput: files (openFileInput) and streams (streamInput, used for `pcap:-`, standard input).
 * A capture read through a stream, in any chunking, must give exactly what reading the file
 * gives; the reference is the file read (itself checked against tshark in the differential).
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createReadStream, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { IntstreamError } from '../../src/errors.ts';
import { openFileInput, streamInput } from '../../src/sources/byte-input.ts';
import { CaptureFileSource } from '../../src/sources/capture-file-source.ts';
import { CAPTURES } from '../decode/tshark-expect.ts';
import { readSource, type Rec } from './capture-reading.ts';

const FILES = ['pcapng/sites.pcapng', 'attack/pkt.TCP.synflood.spoofed.pcap', 'pcapng/test202.pcapng', 'edge/nanosecs_big_endian.pcap'];

async function fromFile(path: string) {
  return readSource(new CaptureFileSource(`pcap:${path}`, path, await openFileInput(path)));
}

/** One digest over every record's timestamp, lengths, link type, interface and bytes. */
function digest(records: Rec[]): string {
  const h = createHash('sha256');
  const head = new DataView(new ArrayBuffer(24));
  for (const r of records) {
    head.setFloat64(0, r.ts); head.setUint32(8, r.len); head.setUint32(12, r.capLen);
    head.setUint32(16, r.linkType); head.setUint32(20, r.iface);
    h.update(new Uint8Array(head.buffer));
    h.update(r.data);
  }
  return h.digest('hex');
}

/** A readable stream over `bytes` in chunks whose sizes cycle through `sizes`. */
function chunked(bytes: Uint8Array, sizes: number[]): Readable {
  return Readable.from((function* () {
    let o = 0, i = 0;
    while (o < bytes.length) {
      const n = sizes[i++ % sizes.length];
      yield Buffer.from(bytes.subarray(o, o + n));
      o += n;
    }
  })());
}

describe('openFileInput', () => {
  test('a missing file: CAPTURE_IO naming it, with a hint', async () => {
    const path = join(tmpdir(), 'intstream-no-such-file.pcap');
    await assert.rejects(openFileInput(path), (e: unknown) => {
      assert.ok(e instanceof IntstreamError);
      assert.equal(e.code, 'CAPTURE_IO');
      assert.ok(e.message.includes(path));
      assert.match(e.message, /ENOENT/);
      assert.ok(e.hint);
      return true;
    });
  });

  test('a directory: CAPTURE_IO', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'intstream-dir-'));
    try {
      await assert.rejects(openFileInput(dir), (e: unknown) => e instanceof IntstreamError && e.code === 'CAPTURE_IO' && e.message.includes(dir));
    } finally {
      rmSync(dir, { recursive: true });
    }
  });

  test('the size of a file is known', async () => {
    const path = join(CAPTURES, FILES[3]);
    const input = await openFileInput(path);
    assert.equal(input.size, readFileSync(path).length);
    await input.close();
  });
});

describe('streamInput', () => {
  for (const f of FILES) {
    test(`${f}: any chunking reads the same records as the file`, async () => {
      const path = join(CAPTURES, f);
      const want = await fromFile(path);
      const bytes = readFileSync(path);
      for (const sizes of [[1, 2, 3, 5, 7, 11], [4096, 1], [1 << 16]]) {
        if (sizes[0] === 1 && bytes.length > 100_000) continue; // byte-sized chunks of a big file: slow, nothing new
        const src = new CaptureFileSource('pcap:-', '-', streamInput(chunked(bytes, sizes)));
        assert.equal(src.status().total, undefined, 'a stream has no known size');
        const got = await readSource(src);
        assert.equal(got.records.length, want.records.length, `${f} chunks ${sizes}`);
        assert.equal(digest(got.records), digest(want.records), `${f} chunks ${sizes}`);
        assert.deepEqual(got.skipped, want.skipped);
      }
    });
  }

  test('a file stream (fs.createReadStream) reads the same records', async () => {
    const path = join(CAPTURES, FILES[0]);
    const got = await readSource(new CaptureFileSource('pcap:-', '-', streamInput(createReadStream(path, { highWaterMark: 1000 }))));
    assert.equal(digest(got.records), digest((await fromFile(path)).records));
  });

  test('an empty stream: CAPTURE_HEADER', async () => {
    const src = new CaptureFileSource('pcap:-', '-', streamInput(Readable.from([])));
    await assert.rejects(src.open(), (e: unknown) => e instanceof IntstreamError && e.code === 'CAPTURE_HEADER' && /empty/.test(e.message));
  });

  // The real thing: a capture piped into another process's standard input.
  const node = process.execPath;
  const child = `
    const [{ streamInput }, { CaptureFileSource }, { createHash }] = await Promise.all([
      import(process.argv[1]), import(process.argv[2]), import('node:crypto')]);
    const src = new CaptureFileSource('pcap:-', '-', streamInput(process.stdin));
    await src.open();
    const h = createHash('sha256'), head = new DataView(new ArrayBuffer(24));
    let n = 0;
    for (let b; (b = await src.nextBatch());) {
      for (let i = 0; i < b.count; i++) {
        head.setFloat64(0, b.ts[i]); head.setUint32(8, b.wireLen[i]); head.setUint32(12, b.capLen[i]);
        head.setUint32(16, b.linkType[i]); head.setUint32(20, b.iface[i]);
        h.update(new Uint8Array(head.buffer)); h.update(b.buf.subarray(b.dataOff[i], b.dataOff[i] + b.capLen[i]));
        n++;
      }
    }
    process.stdout.write(JSON.stringify({ n, digest: h.digest('hex'), skipped: src.skipped.toJSON() }));
  `;
  for (const f of FILES.slice(0, 2)) {
    test(`${f} piped into a process's standard input`, async () => {
      const path = join(CAPTURES, f);
      const want = await fromFile(path);
      const proc = spawn(node, ['--input-type=module', '-e', child,
        new URL('../../src/sources/byte-input.ts', import.meta.url).href,
        new URL('../../src/sources/capture-file-source.ts', import.meta.url).href], { stdio: ['pipe', 'pipe', 'pipe'] });
      let out = '', err = '';
      proc.stdout.on('data', (d) => { out += d; });
      proc.stderr.on('data', (d) => { err += d; });
      createReadStream(path).pipe(proc.stdin);
      const code = await new Promise((res) => proc.on('close', res));
      assert.equal(code, 0, err);
      assert.deepEqual(JSON.parse(out), { n: want.records.length, digest: digest(want.records), skipped: want.skipped });
    });
  }
});
