/**
 * Capture reader, issue 12:
 *  - finding 2: a record or block header claiming an impossible length (a caplen of 2^31 under a
 *    snaplen of 0xffffffff, a record or block longer than the file) is counted with a warning
 *    naming the file and offset, and ends that source cleanly: never a RangeError, and other
 *    sources of the run go on;
 *  - finding 6: pcapng Simple Packet Blocks, which carry no timestamp, take the time of the last
 *    timed packet of their section (0 only when there is none), are counted in the source's
 *    counters (spb_time_inherited, spb_time_none), and so land in their neighbours' window
 *    instead of 1970 or `late`.
 * Files are hand-built with test/support/pcap-writer.ts; expected counts are counted by hand,
 * and the real capture's packet count comes from test/captures/SOURCES.tsv (tcpdump's count).
 */
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { openFileInput, streamInput } from '../../src/sources/byte-input.ts';
import { CaptureFileSource } from '../../src/sources/capture-file-source.ts';
import { runTask } from '../../src/run-task.ts';
import { defineTask } from '../../src/index.ts';
import { count } from '../../src/query/aggregate.ts';
import { pcapFile, pcapHeader, PcapngWriter, tsresol } from '../support/pcap-writer.ts';
import { CAPTURES } from '../support/run-cli.ts';
import { memoryInput, readSource } from './capture-reading.ts';

const dir = mkdtempSync(join(tmpdir(), 'intstream-lengths-'));
after(() => rmSync(dir, { recursive: true, force: true }));

/** The 40-byte file of the finding: snaplen 0xffffffff, one record header with caplen 2^31. */
function hugeCaplen(): Uint8Array {
  const rec = new Uint8Array(16);
  const v = new DataView(rec.buffer);
  v.setUint32(0, 1_700_000_000, true);
  v.setUint32(8, 0x80000000, true); // caplen
  v.setUint32(12, 0x80000000, true); // origlen
  return Uint8Array.from([...pcapHeader({ snapLen: 0xffffffff }), ...rec]);
}

/** A bare Ethernet/IPv4/TCP frame (contents do not matter to the reader). */
const frame = (n: number) => Uint8Array.from({ length: 60 }, (_, i) => (i * 7 + n) & 255);

describe('impossible record lengths (finding 2)', () => {
  test('caplen 2^31 under snaplen 0xffffffff, read from a file: counted, warned with file and offset, no throw', async () => {
    const file = join(dir, 'huge-caplen.pcap');
    writeFileSync(file, hugeCaplen());
    const src = new CaptureFileSource(`pcap:${file}`, file, await openFileInput(file));
    const r = await readSource(src);
    assert.equal(r.records.length, 0);
    assert.deepEqual(r.skipped, { corrupt_record_header: 1 });
    assert.ok(r.warnings.some((w) => w.includes(file) && w.includes('offset 24')), r.warnings.join('\n'));
  });

  test('the same from a stream (standard input): counted, no throw', async () => {
    const src = new CaptureFileSource('pcap:-', 'stdin', streamInput(Readable.from([Buffer.from(hugeCaplen())])));
    const r = await readSource(src);
    assert.equal(r.records.length, 0);
    assert.deepEqual(r.skipped, { corrupt_record_header: 1 });
    assert.ok(r.warnings.some((w) => w.includes('stdin') && w.includes('offset 24')), r.warnings.join('\n'));
  });

  test('records before the bad one are kept; a good second source gives its results and stats', async () => {
    const good = pcapFile({ snapLen: 0xffffffff }, [{ sec: 1_700_000_000, frac: 0, data: frame(1) }, { sec: 1_700_000_001, frac: 0, data: frame(2) }]);
    const file = join(dir, 'two-then-huge.pcap');
    writeFileSync(file, Uint8Array.from([...good, ...hugeCaplen().subarray(24)]));
    const task = defineTask({ name: 'count', description: '', params: {}, query: (p) => p.window(1e9).aggregate(count()) });
    const results: unknown[] = [];
    const stats = await runTask({ task, sources: [`pcap:${file}`, `pcap:${join(CAPTURES, 'edge/raw_ip.pcap')}`], onResult: (r) => { results.push(r.value); } });
    assert.equal(stats.sources[0].items_read, 2);
    assert.deepEqual(stats.sources[0].skipped, { corrupt_record_header: 1 });
    assert.equal(stats.sources[1].items_read, 100, 'edge/raw_ip.pcap: 100 packets (SOURCES.tsv)');
    assert.deepEqual(stats.failures, []);
    assert.ok(stats.warnings.some((w) => w.includes(file) && w.includes(`offset ${good.length}`)), stats.warnings.join('\n'));
    assert.equal(results.reduce((a: number, v) => a + (v as number), 0), 102);
  });

  test('a record longer than the rest of the file ends it as truncated, without a buffer of that size', async () => {
    const header = new Uint8Array(16);
    new DataView(header.buffer).setUint32(8, 200 << 20, true); // 200 MiB: under the cap, over the file
    const bytes = Uint8Array.from([...pcapFile({ snapLen: 0xffffffff }, [{ sec: 5, frac: 0, data: frame(3) }]), ...header, 1, 2, 3]);
    const src = new CaptureFileSource('pcap:mem', 'mem.pcap', memoryInput(bytes));
    const r = await readSource(src);
    assert.equal(r.records.length, 1);
    assert.deepEqual(r.skipped, { truncated_record: 1 });
    assert.ok(r.warnings.some((w) => w.includes('mem.pcap') && w.includes('offset 100')), r.warnings.join('\n'));
    assert.ok((src as any).buf.length <= 1 << 20, `read buffer grown to ${(src as any).buf.length} bytes`);
  });

  test('pcapng: a block longer than the rest of the file ends it as truncated, without a buffer of that size', async () => {
    const w = new PcapngWriter().shb().idb({ linkType: 1 }).epb({ ts: 1n, data: frame(4) });
    const good = w.bytes();
    const bad = new Uint8Array(12);
    const v = new DataView(bad.buffer);
    v.setUint32(0, 6, true);
    v.setUint32(4, 15 << 20, true); // 15 MiB: under the block cap, over the file
    const src = new CaptureFileSource('pcap:mem', 'mem.pcapng', memoryInput(Uint8Array.from([...good, ...bad])));
    const r = await readSource(src);
    assert.equal(r.records.length, 1);
    assert.deepEqual(r.skipped, { truncated_record: 1 });
    assert.ok(r.warnings.some((w) => w.includes('mem.pcapng') && w.includes(`offset ${good.length}`)), r.warnings.join('\n'));
    assert.ok((src as any).buf.length <= 1 << 20, `read buffer grown to ${(src as any).buf.length} bytes`);
  });
});

describe('Simple Packet Blocks (finding 6)', () => {
  // Section 1: SPB (no time yet: 0), EPB at A, SPB, SPB (A), EPB at B, SPB (B).
  // Section 2: SPB (a new section: none yet, 0), EPB at C, SPB (C).
  const A = 1_700_000_003n, B = 1_700_000_012n, C = 1_700_000_025n;
  function spbFile(): { bytes: Uint8Array; firstSpb: number } {
    const w = new PcapngWriter().shb().idb({ linkType: 1, options: [tsresol(0)] });
    const firstSpb = w.offset;
    w.spb({ data: frame(0) }).epb({ ts: A, data: frame(1) }).spb({ data: frame(2) }).spb({ data: frame(3) })
      .epb({ ts: B, data: frame(4) }).spb({ data: frame(5) });
    w.shb().idb({ linkType: 1, options: [tsresol(0)] }).spb({ data: frame(6) }).epb({ ts: C, data: frame(7) }).spb({ data: frame(8) });
    return { bytes: w.bytes(), firstSpb };
  }
  const WANT = [0, A, A, A, B, B, 0, C, C].map(Number);

  test('the previous packet\'s time of the section (0 when none), counted by kind, the first 0 warned', async () => {
    const { bytes, firstSpb } = spbFile();
    const src = new CaptureFileSource('pcap:spb.pcapng', 'spb.pcapng', memoryInput(bytes));
    const r = await readSource(src);
    assert.deepEqual(r.records.map((x) => x.ts), WANT);
    assert.deepEqual(r.skipped, {});
    assert.deepEqual(src.status().counters, { spb_time_inherited: 4, spb_time_none: 2 });
    assert.ok(r.warnings.some((w) => w.includes('spb.pcapng') && w.includes(`offset ${firstSpb}`)), r.warnings.join('\n'));
    // a file without SPBs reports no counters at all
    const plain = new CaptureFileSource('pcap:p', 'p.pcapng', memoryInput(new PcapngWriter().shb().idb({ linkType: 1 }).epb({ ts: 1n, data: frame(1) }).bytes()));
    await readSource(plain);
    assert.equal(plain.status().counters, null);
  });

  test('counted once when the pre-filter ends a batch at an SPB (it is read again)', async () => {
    // Interface 1 is not Ethernet: its packet at 15 s is not judged by the pre-filter, so the SPB
    // after it (Ethernet, interface 0, inheriting 15 s) is the first to change the 10 s window.
    const w = new PcapngWriter().shb().idb({ linkType: 1, options: [tsresol(0)] }).idb({ linkType: 101, options: [tsresol(0)] })
      .epb({ ifId: 0, ts: 5n, data: frame(1) }).epb({ ifId: 1, ts: 15n, data: frame(2) }).spb({ data: frame(3) });
    const src = new CaptureFileSource('pcap:m', 'm.pcapng', memoryInput(w.bytes()));
    const r = await readSource(src, { reject: () => false, windowSize: 10 });
    assert.deepEqual(r.records.map((x) => x.ts), [5, 15, 15]);
    assert.deepEqual(src.status().counters, { spb_time_inherited: 1, spb_time_none: 0 });
  });

  test('in a run: SPBs after a timed packet count in their neighbours\' windows; counters in --stats', async () => {
    const file = join(dir, 'spb.pcapng');
    writeFileSync(file, spbFile().bytes);
    const task = defineTask({ name: 'count', description: '', params: {}, query: (p) => p.window(10).aggregate(count()) });
    const got: [number, unknown][] = [];
    const stats = await runTask({ task, sources: [`pcap:${file}`], onResult: (r) => { got.push([r.window!.start, r.value]); } });
    // times 0 | A A A (window 1_700_000_000) | B B (..010) | 0 | C C (..020). The four SPBs that
    // follow a timed packet are with it; the two before any timed packet of their section keep
    // time 0: the first opens a 1970 window, the second comes after B and is late.
    assert.deepEqual(got, [[0, 1], [1_700_000_000, 3], [1_700_000_010, 2], [1_700_000_020, 2]]);
    assert.deepEqual(stats.skipped, { late: 1 });
    assert.deepEqual(stats.sources[0].counters, { spb_time_inherited: 4, spb_time_none: 2 });
  });
});
