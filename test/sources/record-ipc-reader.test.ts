/**
 * The fast reader of per-packet record streams (src/sources/record-ipc-reader.ts) against
 * apache-arrow's RecordBatchReader as the reference (decodeRecordStream(bytes, true)): on the
 * streams of every shared capture and of generated INT reports (hop columns), written by the
 * exporter's own writer and by apache-arrow's writer, every column (values, validity, list
 * offsets and items, dictionary texts) is the same, and the fast path does take those streams.
 * On mutated streams it either declines (null: the caller falls back to apache-arrow) or gives
 * exactly what apache-arrow gives.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { decodeRecordStream, RecordColumns } from '../../src/sources/packet-record-reader.ts';
import { readRecordStream } from '../../src/sources/record-ipc-reader.ts';
import { PacketRecordBuilder } from '../../src/export/record-builder.ts';
import { openSourceSpec } from '../../src/sources/source-spec.ts';
import { decodePacket } from '../../src/decode/decoder.ts';
import { Packet } from '../../src/decode/packet.ts';
import { configurePacketInt } from '../../src/decode/int-view.ts';
import { intDecodeFromParams } from '../../src/int/decode-params.ts';
import { encodeReport, encodeReportFrame, pcapFile } from '../../src/gen/int-gen.ts';
import { flowPerPathSeries } from '../../src/int/gen-series.ts';
import { mulberry32 } from '../../src/gen/prng.ts';
import { CAPTURES } from '../support/run-cli.ts';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { Message } from 'apache-arrow';
import { tmpdir } from 'node:os';

/** Record streams (batches of `batch` packets) of a capture, from both writers. */
async function streams(file: string, params: Record<string, unknown>, batch = 300): Promise<{ hand: Buffer[]; arrowjs: Uint8Array[] }> {
  const src = await openSourceSpec(`pcap:${file}`);
  try { await src.open(); } catch { await src.close(); return { hand: [], arrowjs: [] }; } // the malformed captures whose header is refused
  const p = new Packet();
  configurePacketInt(p, intDecodeFromParams(params));
  const b = new PacketRecordBuilder(batch, 3, file);
  const held: Packet[] = [];
  const out = { hand: [] as Buffer[], arrowjs: [] as Uint8Array[] };
  const flush = () => {
    if (held.length === 0) return;
    for (const q of held) b.addPacket(q);
    out.hand.push(Buffer.from(b.encode()));
    for (const q of held) b.addPacket(q);
    out.arrowjs.push(b.encodeWithArrowJs());
    held.length = 0;
  };
  for (let bt = await src.nextBatch().catch(() => null); bt !== null; bt = await src.nextBatch()) { // (a first block refused: no records)
    for (let i = 0; i < bt.count; i++) {
      decodePacket(p, bt.buf, bt.dataOff[i], bt.capLen[i], bt.wireLen[i], bt.ts[i], bt.linkType[i]);
      held.push(p.clone());
      if (held.length === batch) flush();
    }
  }
  flush();
  await src.close();
  return out;
}

const DICTS = ['srcDict', 'dstDict', 'tunDict'] as const;
const LISTS = [['hopSwOff', 'vHopSw', 'hopSw', 'vHopSwItem'], ['hopLatOff', 'vHopLat', 'hopLat', 'vHopLatItem']] as const;
const IN_LISTS = new Set<string>(LISTS.flat());
const COLUMNS = Object.keys(new RecordColumns()).filter((k) => !['n', 'source', ...DICTS].includes(k) && !IN_LISTS.has(k));

type Arr = ArrayLike<number> | null;
const bit = (bm: Uint8Array | null, i: number) => bm === null || (bm[i >> 3] & (1 << (i & 7))) !== 0;

/**
 * Every column of two decodings compared as data: rows 0..n-1 of values and validity (a
 * reader may hand out longer, padded buffers: what lies past the rows is nobody's data), list
 * offsets 0..n and the items they span, dictionary texts. `where` names the stream.
 */
function assertSameColumns(got: RecordColumns[], want: RecordColumns[], where: string): void {
  assert.equal(got.length, want.length, `${where}: batches`);
  for (let k = 0; k < want.length; k++) {
    const g = got[k] as any, w = want[k] as any, n = w.n;
    assert.equal(g.n, n, `${where}: rows`);
    assert.equal(g.source, w.source, `${where}: source`);
    const rows = (name: string, a: Arr, b: Arr, count: number, bitmap: boolean) => {
      assert.equal(a === null, b === null, `${where}: ${name} present`);
      if (a === null || b === null) return;
      for (let i = 0; i < count; i++) {
        const x: unknown = bitmap ? bit(a as Uint8Array, i) : a[i], y: unknown = bitmap ? bit(b as Uint8Array, i) : b[i];
        if (x !== y) assert.fail(`${where}: ${name}[${i}]: ${x} vs ${y}`);
      }
    };
    for (const name of COLUMNS) rows(name, g[name], w[name], name === 'tsSec' ? n : n, name.startsWith('v'));
    for (const [off, valid, items, itemValid] of LISTS) {
      rows(off, g[off], w[off], n + 1, false);
      rows(valid, g[valid], w[valid], n, true);
      const count = w[off] ? w[off][n] - w[off][0] : 0;
      rows(items, g[items], w[items], count, false);
      rows(itemValid, g[itemValid], w[itemValid], count, true);
    }
    for (const d of DICTS) {
      assert.equal(g[d].size, w[d].size, `${where}: ${d} size`);
      for (let i = 0; i < w[d].size; i++) assert.equal(g[d].get(i), w[d].get(i), `${where}: ${d}[${i}]`);
    }
  }
}

function captures(): string[] {
  const out: string[] = [];
  for (const dir of readdirSync(CAPTURES, { withFileTypes: true })) {
    if (!dir.isDirectory()) continue;
    for (const f of readdirSync(join(CAPTURES, dir.name))) if (/\.(pcap|pcapng|cap)$/.test(f)) out.push(join(CAPTURES, dir.name, f));
  }
  return out.sort();
}

test('the fast path reads every shared capture\'s streams (both writers) exactly as apache-arrow does', async () => {
  let taken = 0, rows = 0;
  for (const file of captures()) {
    const s = await streams(file, {});
    for (const [writer, list] of Object.entries(s)) {
      list.forEach((bytes, i) => {
        const where = `${file} (${writer} writer, batch ${i})`;
        assert.notEqual(readRecordStream(new Uint8Array(bytes)), null, `${where}: the fast path declined`);
        taken++;
        const fast = decodeRecordStream(bytes), general = decodeRecordStream(bytes, true);
        rows += general.reduce((a, c) => a + c.n, 0);
        assertSameColumns(fast, general, where);
      });
    }
  }
  assert.ok(taken > 100 && rows > 10_000, `streams ${taken}, rows ${rows}`);
});

test('INT hop columns (lists) and nulls: generated reports read the same by both', async () => {
  const tmp = mkdtempSync(join(tmpdir(), 'intstream-ipc-'));
  const next = flowPerPathSeries({ version: '2.0', hops: 5, seed: 11, paths: 9 });
  // INT reports among plain frames: the hop columns have nulls and lists of several lengths
  const frames = Array.from({ length: 2000 }, (_, k) => encodeReportFrame(encodeReport(next(k)).bytes));
  const file = join(tmp, 'int.pcap');
  writeFileSync(file, pcapFile(frames, 1_700_000_000_000_000, 1000));
  const s = await streams(file, { int_port: 32766 }, 256);
  const withHops = decodeRecordStream(s.hand[0], true)[0];
  assert.ok(withHops.hopSw !== null && withHops.hopLat !== null && withHops.hopSw.length >= 256 * 5, 'the generated reports have hop lists');
  for (const [writer, list] of Object.entries(s)) {
    list.forEach((bytes, i) => {
      assert.notEqual(readRecordStream(new Uint8Array(bytes)), null, `${writer} ${i}: declined`);
      assertSameColumns(decodeRecordStream(bytes), decodeRecordStream(bytes, true), `INT (${writer} writer, batch ${i})`);
    });
  }
});

test('mutated streams: the fast path declines or reads what apache-arrow reads', async () => {
  const s = await streams(join(CAPTURES, 'tunnel', 'gre-erspan-vxlan.pcap'), {}, 64);
  const rnd = mulberry32(20261202);
  let declined = 0, same = 0;
  for (let k = 0; k < Number(process.env.RECORD_MUTANTS ?? 2000); k++) { // (RECORD_MUTANTS=N for a longer run)
    const src = s.hand[k % s.hand.length];
    const bytes = new Uint8Array(src);
    const flips = 1 + Math.floor(rnd() * 4);
    for (let f = 0; f < flips; f++) bytes[Math.floor(rnd() * bytes.length)] = Math.floor(rnd() * 256);
    const fast = readRecordStream(bytes);
    if (fast === null) { declined++; continue; }
    let general: RecordColumns[] | Error;
    try { general = decodeRecordStream(bytes, true); } catch (e) { general = e as Error; }
    let got: RecordColumns[] | Error;
    try { got = decodeRecordStream(bytes); } catch (e) { got = e as Error; }
    if (general instanceof Error) {
      // apache-arrow refuses what the fast path took: only where the columns themselves say so
      assert.ok(got instanceof Error, `mutant ${k}: apache-arrow fails (${general.message}) but the fast path read it`);
      continue;
    }
    assert.ok(!(got instanceof Error), `mutant ${k}: ${(got as Error).message}`);
    assertSameColumns(got, general, `mutant ${k}`);
    same++;
  }
  assert.ok(declined > 0 && same > 0, `declined ${declined}, read the same ${same}`);
});

test('a header claiming billions of field nodes is a corrupt record, not an out-of-memory crash', async () => {
  const { hand } = await streams(join(CAPTURES, 'tunnel', 'vxlan.pcap'), {}, 64);
  const bytes = new Uint8Array(hand[0]);
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  // the record batch message: the last before the end-of-stream marker; its header holds the
  // node vector's length (27: the schema's 25 columns and the 2 list items) as an int32
  let at = 0, last = -1;
  for (let len = dv.getInt32(4, true); len !== 0; len = dv.getInt32(at + 4, true)) { last = at; at += 8 + len + bodyOf(bytes, at); }
  const metaStart = last + 8, metaEnd = metaStart + dv.getInt32(last + 4, true);
  let patched = 0;
  for (let i = metaStart; i + 4 <= metaEnd; i += 4) if (dv.getInt32(i, true) === 27) { dv.setInt32(i, 0x7fffffff, true); patched++; }
  assert.equal(patched, 1, 'the node count found once in the batch header');
  assert.equal(readRecordStream(bytes), null);
  assert.throws(() => decodeRecordStream(bytes), (e: Error & { reason?: string }) => e.reason === 'record_corrupt' && /field nodes/.test(e.message));
});

/** The body length of the message at `at` (Message.bodyLength, read with apache-arrow's decoder of that one header). */
function bodyOf(bytes: Uint8Array, at: number): number {
  const len = new DataView(bytes.buffer, bytes.byteOffset).getInt32(at + 4, true);
  return Message.decode(bytes.subarray(at + 8, at + 8 + len)).bodyLength;
}
