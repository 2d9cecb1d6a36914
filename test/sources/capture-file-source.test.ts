/**
 * CaptureFileSource: classic pcap (us/ns, either byte order), pcapng (sections in alternating
 * byte order, many interfaces with their own link type, if_tsresol and if_tsoffset, EPB, SPB,
 * OPB), malformed files, files cut anywhere, and reading from a stream.
 *
 * Expected values come from tshark (real files), from the values handed to the independent
 * writer in test/support/pcap-writer.ts (synthetic files), or from the naive record and block
 * walkers in capture-reading.ts (offsets, counts).
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync, mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { IntstreamError } from '../../src/errors.ts';
import { openFileInput } from '../../src/sources/byte-input.ts';
import { CaptureFileSource } from '../../src/sources/capture-file-source.ts';
import { pcapFile, PcapngWriter, textOption, tsoffset, tsresol, type PcapRecord } from '../support/pcap-writer.ts';
import { haveTshark, tsharkPackets } from '../support/tshark.ts';
import { CAPTURES, expectedTs, LINKTYPE_OF_WTAP, nextDown } from '../decode/tshark-expect.ts';
import { memoryInput, PACKET_BLOCKS, pcapngBlocks, pcapRecordOffsets, readBytes, readSource, type ReadResult } from './capture-reading.ts';

const cap = (p: string) => join(CAPTURES, p);
const noTshark = !haveTshark() && 'tshark not installed';

async function readFile(path: string, batchSize?: number): Promise<ReadResult> {
  return readSource(new CaptureFileSource(`pcap:${path}`, path, await openFileInput(path), batchSize));
}

/** Bytes 0..n of a deterministic pseudo-random payload (contents do not matter to the reader). */
function payload(n: number, seed = 1): Uint8Array {
  const b = new Uint8Array(n);
  let x = seed;
  for (let i = 0; i < n; i++) { x = (Math.imul(x, 1103515245) + 12345) >>> 0; b[i] = x >>> 24; }
  return b;
}

/** "SEC.FRACTION" with `digits` decimals: the exact time the writer was given. */
const text = (sec: number | bigint, frac: number | bigint, digits: number) => `${sec}.${frac.toString().padStart(digits, '0')}`;

/** The exact decimal text of units / 2^k + offset (2^-k resolutions have finite decimals). */
function binaryTimeText(units: bigint, k: number, offset = 0n): string {
  const sec = (units >> BigInt(k)) + offset;
  const frac = (units & ((1n << BigInt(k)) - 1n)) * 5n ** BigInt(k); // * 10^k / 2^k
  return text(sec, frac, k);
}

async function assertHeaderError(p: Promise<unknown>, file: string, what: RegExp): Promise<void> {
  await assert.rejects(p, (e: unknown) => {
    assert.ok(e instanceof IntstreamError, `an IntstreamError, got ${String(e)}`);
    assert.equal(e.code, 'CAPTURE_HEADER');
    assert.ok(e.message.includes(file), `message names the file: ${e.message}`);
    assert.match(e.message, what);
    return true;
  });
}

describe('classic pcap', () => {
  const recs = (nano: boolean): PcapRecord[] => [
    { sec: 1_700_000_000, frac: nano ? 999_999_999 : 999_999, data: payload(60), origLen: 1514 },
    { sec: 1_700_000_001, frac: 0, data: payload(1) },
    { sec: 0, frac: nano ? 1 : 1, data: payload(0) },
    { sec: 4_294_967_295, frac: nano ? 123_456_789 : 123_456, data: payload(1500, 7) },
    // Just below a second that is a power of two (0+1, 2^31, 2^32): doubles are twice as dense
    // below it as above, so the largest value still in the second is 2^(e-53) below it.
    { sec: 0, frac: nano ? 999_999_999 : 999_999, data: payload(14) },
    { sec: 2_147_483_647, frac: nano ? 999_999_999 : 999_999, data: payload(14) },
    { sec: 4_294_967_295, frac: nano ? 999_999_999 : 999_999, data: payload(14) },
  ];

  for (const nano of [false, true]) {
    for (const bigEndian of [false, true]) {
      test(`${nano ? 'ns' : 'us'} ${bigEndian ? 'big' : 'little'}-endian: every record as written`, async () => {
        const rs = recs(nano);
        const bytes = pcapFile({ nano, bigEndian, linkType: 228, snapLen: 65535 }, rs);
        const r = await readBytes(bytes);
        assert.deepEqual(r.skipped, {});
        assert.equal(r.records.length, rs.length);
        let off = 24;
        rs.forEach((w, i) => {
          const got = r.records[i];
          const want = expectedTs(text(w.sec, w.frac, nano ? 9 : 6));
          assert.equal(got.ts, want, `record ${i}: ts ${got.ts} vs ${want}`);
          assert.equal(Math.floor(got.ts), w.sec, 'never rounded up into the next second');
          assert.equal(got.len, w.origLen ?? w.data.length);
          assert.equal(got.capLen, w.data.length);
          assert.deepEqual(got.data, w.data);
          assert.equal(got.linkType, 228);
          assert.equal(got.iface, 0);
          assert.equal(got.fileOffset, off);
          off += 16 + w.data.length;
        });
      });
    }
  }

  test('shared captures cover ns in both byte orders (tshark times, exact to the ns)', { skip: noTshark }, async () => {
    for (const f of ['edge/nanosecs_big_endian.pcap', 'edge/tcp-handshake-nano.pcap']) {
      const magic = readFileSync(cap(f)).subarray(0, 4).toString('hex');
      assert.ok(magic === 'a1b23c4d' || magic === '4d3cb2a1', `${f} is a ns capture (${magic})`);
      const t = await tsharkPackets(cap(f));
      const r = await readFile(cap(f));
      assert.equal(r.records.length, t.length);
      t.forEach((x, i) => assert.equal(r.records[i].ts, expectedTs(x.time), `${f} #${x.number}`));
    }
  });

  test('a real us capture rewritten in the other three variants reads the same; tshark agrees on us big-endian', async () => {
    const orig = readFileSync(cap('mixed/get_nosyn.pcap'));
    const base = await readFile(cap('mixed/get_nosyn.pcap'));
    const { offsets } = pcapRecordOffsets(orig);
    const v = new DataView(orig.buffer, orig.byteOffset, orig.byteLength);
    const rs: PcapRecord[] = offsets.map((o) => ({
      sec: v.getUint32(o, true), frac: v.getUint32(o + 4, true),
      data: orig.subarray(o + 16, o + 16 + v.getUint32(o + 8, true)), origLen: v.getUint32(o + 12, true),
    }));
    const dir = mkdtempSync(join(tmpdir(), 'intstream-pcap-'));
    try {
      for (const [nano, bigEndian] of [[false, true], [true, false], [true, true]] as const) {
        const bytes = pcapFile({ nano, bigEndian, linkType: 1 }, rs.map((r) => ({ ...r, frac: nano ? r.frac * 1000 : r.frac })));
        const got = await readBytes(bytes);
        assert.deepEqual(got.records.map((r) => [r.ts, r.len, r.capLen, r.data]), base.records.map((r) => [r.ts, r.len, r.capLen, r.data]));
        if (!nano && !noTshark) {
          const file = join(dir, 'us-be.pcap');
          writeFileSync(file, bytes);
          const t = await tsharkPackets(file);
          assert.equal(t.length, got.records.length);
          t.forEach((x, i) => assert.equal(got.records[i].ts, expectedTs(x.time)));
        }
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('a file header cut short, or no capture at all: CAPTURE_HEADER naming the file', async () => {
    const full = pcapFile({}, []);
    for (let n = 0; n < 24; n++) {
      const src = new CaptureFileSource('pcap:cut.pcap', 'cut.pcap', memoryInput(full.subarray(0, n)));
      await assertHeaderError(src.open(), 'cut.pcap', n === 0 ? /empty/ : /short|truncated/);
    }
    const notCapture = new TextEncoder().encode('GET / HTTP/1.1\r\nHost: example\r\n\r\n');
    const src = new CaptureFileSource('pcap:x.txt', 'x.txt', memoryInput(notCapture));
    await assertHeaderError(src.open(), 'x.txt', /not a pcap or pcapng/);
  });

  test('a record header claiming more than any snaplen: the records before it, then a counted stop', async () => {
    const good = pcapFile({}, [{ sec: 1, frac: 2, data: payload(40) }, { sec: 3, frac: 4, data: payload(41) }]);
    const bad = new Uint8Array(16);
    new DataView(bad.buffer).setUint32(8, 0x7fff0000, true);
    const bytes = new Uint8Array([...good, ...bad, ...payload(100)]);
    const r = await readBytes(bytes);
    assert.equal(r.records.length, 2);
    assert.deepEqual(r.skipped, { corrupt_record_header: 1 });
    assert.ok(r.warnings.some((w) => w.includes(`offset ${good.length}`)), r.warnings.join('\n'));
  });

  test('cut at every byte of its last record: earlier records, truncated_record counted, no throw', async () => {
    const f = readFileSync(cap('edge/tcp-handshake-nano.pcap'));
    const { offsets, end } = pcapRecordOffsets(f);
    assert.equal(end, f.length);
    const last = offsets[offsets.length - 1];
    for (let n = last; n < f.length; n++) {
      const r = await readBytes(f.subarray(0, n), 'cut.pcap');
      assert.equal(r.records.length, offsets.length - 1, `cut at ${n}`);
      if (n === last) assert.deepEqual(r.skipped, {}, 'a cut at a record boundary is a clean end');
      else {
        assert.deepEqual(r.skipped, { truncated_record: 1 }, `cut at ${n}`);
        assert.ok(r.warnings.some((w) => w.includes(`offset ${last}`)), r.warnings.join('\n'));
      }
    }
  });

  test('cut at every byte of a whole file', async () => {
    const f = readFileSync(cap('edge/nanosecs_big_endian.pcap'));
    const full = await readBytes(f);
    for (let n = 24; n <= f.length; n++) {
      const cut = f.subarray(0, n);
      const { offsets, end } = pcapRecordOffsets(cut);
      const r = await readBytes(cut, 'cut.pcap');
      assert.deepEqual(r.records, full.records.slice(0, offsets.length), `cut at ${n}`);
      assert.deepEqual(r.skipped, end === n ? {} : { truncated_record: 1 }, `cut at ${n}`);
    }
  });
});

describe('pcapng', () => {
  test('if_tsresol 2^-20 and if_tsoffset: exact times', async () => {
    const units = [0n, 1n, (1n << 20n) - 1n, (123_456n << 20n) + 524_288n, (1n << 40n) + 12_345n, (1n << 52n) - 1n];
    const w = new PcapngWriter().shb().idb({ linkType: 1, options: [tsresol(0x80 | 20), tsoffset(1_600_000_000n)] });
    for (const u of units) w.epb({ ts: u, data: payload(64) });
    const r = await readBytes(w.bytes(), 'res.pcapng');
    assert.deepEqual(r.skipped, {});
    assert.deepEqual(r.records.map((x) => x.ts), units.map((u) => expectedTs(binaryTimeText(u, 20, 1_600_000_000n))));
    // These are all representable: 31 bits of seconds + 20 of fraction.
    assert.equal(r.records[2].ts, 1_600_000_000 + (2 ** 20 - 1) / 2 ** 20);
  });

  test('if_tsoffset never pushes a timestamp into the next second', async () => {
    const offset = 1_600_000_000n;
    const w = new PcapngWriter().shb()
      .idb({ linkType: 1, options: [tsresol(9), tsoffset(offset)] })
      .idb({ linkType: 1, options: [tsresol(9), tsoffset(-5n)] });
    const units = [999_999_999n, 7n * 1_000_000_000n + 999_999_999n, (1n << 32n) + 999_999_999n];
    for (const u of units) w.epb({ ifId: 0, ts: u, data: payload(20) });
    w.epb({ ifId: 1, ts: 1_700_000_005n * 1_000_000_000n + 999_999_999n, data: payload(20) });
    const r = await readBytes(w.bytes(), 'offset.pcapng');
    const want = [
      ...units.map((u) => text(u / 1_000_000_000n + offset, u % 1_000_000_000n, 9)),
      text(1_700_000_000n, 999_999_999n, 9),
    ];
    assert.deepEqual(r.records.map((x) => x.ts), want.map(expectedTs));
    r.records.forEach((x, i) => assert.equal(Math.floor(x.ts), Number(want[i].split('.')[0]), want[i]));
  });

  test('64-bit ns timestamps: exact, and never rounded up into the next second', async () => {
    const sec = 1_700_000_000n;
    const fracs = [0n, 1n, 500n, 123_456_789n, 999_999_880n, 999_999_999n];
    const w = new PcapngWriter().shb().idb({ linkType: 1, options: [tsresol(9)] });
    for (const f of fracs) w.epb({ ts: sec * 1_000_000_000n + f, data: payload(20) });
    const r = await readBytes(w.bytes(), 'ns.pcapng');
    fracs.forEach((f, i) => {
      const ts = r.records[i].ts;
      assert.equal(ts, expectedTs(text(sec, f, 9)), `fraction ${f}`);
      assert.equal(Math.floor(ts), Number(sec), `fraction ${f}: still in second ${sec}`);
    });
    // 0.999999999 s is closer to the next second than the spacing of doubles here (2^-22 s).
    assert.equal(r.records[5].ts, nextDown(Number(sec) + 1));
  });

  test('resolutions finer than 2^-31 s and coarser ones (2^-32, 10^-3, default 10^-6)', async () => {
    const sec = 1_700_000_123n;
    const w = new PcapngWriter().shb()
      .idb({ linkType: 1, options: [tsresol(0x80 | 32)] })
      .idb({ linkType: 1, options: [tsresol(3)] })
      .idb({ linkType: 1 });
    const p32 = [0n, 1n, 0x8000_0000n, 0xffff_ffffn];
    for (const f of p32) w.epb({ ifId: 0, ts: (sec << 32n) | f, data: payload(10) });
    w.epb({ ifId: 1, ts: sec * 1000n + 999n, data: payload(10) });
    w.epb({ ifId: 2, ts: sec * 1_000_000n + 654_321n, data: payload(10) });
    const r = await readBytes(w.bytes(), 'res.pcapng');
    const want = [
      ...p32.map((f) => expectedTs(binaryTimeText((sec << 32n) | f, 32))),
      expectedTs(text(sec, 999, 3)),
      expectedTs(text(sec, 654_321, 6)),
    ];
    assert.deepEqual(r.records.map((x) => x.ts), want);
    assert.deepEqual(r.records.map((x) => x.iface), [0, 0, 0, 0, 1, 2]);
  });

  test('sections in both byte orders, interfaces with their own link types, EPB/OPB/SPB; other blocks skipped', async () => {
    const w = new PcapngWriter();
    const sec = 1_650_000_000n;
    const pk = (n: number, s: number) => payload(n, s);
    w.shb({ options: [textOption(4, 'intstream test writer')] })
      .idb({ linkType: 1, snapLen: 0 })
      .idb({ linkType: 101, options: [tsresol(9), textOption(2, 'raw0')] })
      .epb({ ifId: 0, ts: sec * 1_000_000n + 1n, data: pk(60, 1), origLen: 1514 })
      .epb({ ifId: 1, ts: sec * 1_000_000_000n + 2n, data: pk(40, 2) })
      .opb({ ifId: 0, ts: sec * 1_000_000n + 3n, data: pk(42, 3) })
      .isb(0)
      .block(0xbad, pk(13, 9)) // custom block
      .block(4, new Uint8Array(4)); // name resolution block holding only nrb_record_end
    w.shb({ bigEndian: true })
      .idb({ linkType: 0, options: [tsresol(3)] })
      .epb({ ifId: 0, ts: sec * 1000n + 4n, data: Uint8Array.of(2, 0, 0, 0, ...pk(20, 4)) })
      .spb({ data: pk(30, 5), origLen: 30 });
    w.shb()
      .idb({ linkType: 113, snapLen: 64 })
      .spb({ data: pk(64, 6), origLen: 200 }) // snaplen-limited: caplen 64
      .spb({ data: pk(61, 7) }); // padded to 64 in the block, caplen 61
    const bytes = w.bytes();
    const r = await readBytes(bytes, 'multi.pcapng');
    assert.deepEqual(r.skipped, {});
    const expected = [
      { ts: expectedTs(text(sec, 1, 6)), len: 1514, capLen: 60, linkType: 1, iface: 0 },
      { ts: expectedTs(text(sec, 2, 9)), len: 40, capLen: 40, linkType: 101, iface: 1 },
      { ts: expectedTs(text(sec, 3, 6)), len: 42, capLen: 42, linkType: 1, iface: 0 },
      { ts: expectedTs(text(sec, 4, 3)), len: 24, capLen: 24, linkType: 0, iface: 2 },
      // SPBs carry no time: the previous packet's of their section, else 0
      { ts: expectedTs(text(sec, 4, 3)), len: 30, capLen: 30, linkType: 0, iface: 2 },
      { ts: 0, len: 200, capLen: 64, linkType: 113, iface: 3 },
      { ts: 0, len: 61, capLen: 61, linkType: 113, iface: 3 },
    ];
    assert.deepEqual(r.records.map(({ ts, len, capLen, linkType, iface }) => ({ ts, len, capLen, linkType, iface })), expected);
    assert.deepEqual(r.records[6].data, pk(61, 7));
    // The writer's output is a valid pcapng to tshark as well (times where it prints them).
    if (!noTshark) {
      const dir = mkdtempSync(join(tmpdir(), 'intstream-pcapng-'));
      try {
        const file = join(dir, 'multi.pcapng');
        writeFileSync(file, bytes);
        const t = (await tsharkPackets(file)).filter((x) => x.f['frame.encap_type'].length > 0);
        assert.equal(t.length, expected.length);
        t.forEach((x, i) => {
          assert.equal(x.len, expected[i].len);
          assert.equal(x.capLen, expected[i].capLen);
          assert.ok(LINKTYPE_OF_WTAP[Number(x.f['frame.encap_type'][0])].includes(expected[i].linkType));
          if (x.time !== '') assert.equal(expected[i].ts, expectedTs(x.time));
          else assert.equal(expected[i].ts, i === 4 ? expected[3].ts : 0, 'SPB: no timestamp, the previous packet\'s in its section');
        });
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    }
  });

  test('bad packet blocks are counted and skipped, reading goes on', async () => {
    const good = (n: number) => ({ ifId: 0, ts: BigInt(n), data: payload(30, n) });
    const v = new PcapngWriter().shb()
      .spb({ data: payload(10) }) // no interface yet
      .idb({ linkType: 1 })
      .epb(good(1))
      .epb({ ...good(2), ifId: 5 }) // no such interface
      .epb({ ...good(3), capLen: 1000 }) // caplen runs past the block
      .block(6, payload(8)) // too short to be an EPB
      .epb(good(4));
    const r = await readBytes(v.bytes(), 'bad.pcapng');
    assert.deepEqual(r.records.map((x) => x.ts), [0.000001, 0.000004]);
    assert.deepEqual(r.skipped, { corrupt_block: 2, unknown_interface: 2 });
  });

  test('a packet larger than the read buffer', async () => {
    const big = payload(3 << 20, 3);
    const w = new PcapngWriter().shb().idb({ linkType: 1 }).epb({ ts: 5n, data: payload(100) }).epb({ ts: 6n, data: big }).epb({ ts: 7n, data: payload(50) });
    const r = await readBytes(w.bytes(), 'big.pcapng', 100_000);
    assert.equal(r.records.length, 3);
    assert.deepEqual(r.records[1].data, big);
    assert.deepEqual(r.skipped, {});
  });

  test('test202: three sections (BE, LE, BE), 5 interfaces, EPB + SPB, custom blocks', { skip: noTshark }, async () => {
    const file = cap('pcapng/test202.pcapng');
    const bytes = readFileSync(file);
    const blocks = pcapngBlocks(bytes);
    assert.equal(blocks[blocks.length - 1].offset + blocks[blocks.length - 1].length, bytes.length);
    // Naive reference: the interface (numbered through the file) and link type of each packet.
    const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const idbs: { section: number; linkType: number }[] = [];
    const want: { iface: number; linkType: number; localId: number; section: number }[] = [];
    const orders: boolean[] = [];
    for (const b of blocks) {
      const le = v.getUint32(blocks.find((x) => x.section === b.section && x.type === 0x0a0d0d0a)!.offset + 8, true) === 0x1a2b3c4d;
      if (b.type === 0x0a0d0d0a) orders.push(le);
      if (b.type === 1) idbs.push({ section: b.section, linkType: v.getUint16(b.offset + 8, le) });
      if (PACKET_BLOCKS.has(b.type)) {
        const localId = b.type === 3 ? 0 : b.type === 6 ? v.getUint32(b.offset + 8, le) : v.getUint16(b.offset + 8, le);
        const before = idbs.filter((x) => x.section < b.section).length;
        want.push({ iface: before + localId, linkType: idbs[before + localId].linkType, localId, section: b.section });
      }
    }
    assert.deepEqual(orders, [false, true, false], 'sections alternate BE, LE, BE');
    assert.equal(idbs.length, 5);
    const r = await readFile(file);
    const t = (await tsharkPackets(file)).filter((x) => x.f['frame.encap_type'].length > 0);
    assert.equal(r.records.length, want.length);
    assert.equal(t.length, want.length);
    r.records.forEach((got, i) => {
      assert.equal(got.iface, want[i].iface, `packet ${i}`);
      assert.equal(got.linkType, want[i].linkType, `packet ${i}`);
      assert.ok(LINKTYPE_OF_WTAP[Number(t[i].f['frame.encap_type'][0])].includes(got.linkType));
      assert.equal(got.len, t[i].len);
      assert.equal(got.capLen, t[i].capLen);
      if (t[i].time === '') {
        // SPB: tshark prints no time; the last timed packet's before it in its section, else 0
        let j = i - 1;
        while (j >= 0 && (want[j].section !== want[i].section || t[j].time === '')) j--;
        assert.equal(got.ts, j >= 0 && want[j].section === want[i].section ? expectedTs(t[j].time) : 0, `SPB, packet ${i}`);
      } else {
        assert.equal(got.ts, expectedTs(t[i].time));
        assert.equal(Number(t[i].f['frame.interface_id'][0]), want[i].localId, 'tshark numbers interfaces per section');
      }
    });
    assert.ok(new Set(r.records.map((x) => x.linkType)).size === 2, 'Ethernet and NULL');
  });

  test('many interfaces in one section: the interface set matches tshark', { skip: noTshark }, async () => {
    for (const f of ['pcapng/many_interfaces-1.pcapng', 'pcapng/pcapng-example.pcapng', 'pcapng/sites.pcapng', 'pcapng/pcapng-multi-interface.pcapng']) {
      const r = await readFile(cap(f));
      const t = await tsharkPackets(cap(f));
      const ours = [...new Set(r.records.map((x) => x.iface))].sort((a, b) => a - b);
      const theirs = [...new Set(t.map((x) => Number(x.f['frame.interface_id'][0])))].sort((a, b) => a - b);
      assert.deepEqual(ours, theirs, f);
      assert.ok(ours.length >= 2, `${f} uses several interfaces`);
    }
  });

  test('batch and read sizes do not change what is read', async () => {
    for (const f of ['pcapng/sites.pcapng', 'attack/pkt.TCP.synflood.spoofed.pcap', 'edge/bigtcp-ipv6-hbh.pcap']) {
      const bytes = readFileSync(cap(f));
      const base = await readFile(cap(f));
      for (const [chunk, batch] of [[4093, 1], [65536, 7], [1 << 20, 2048]] as const) {
        const r = await readBytes(bytes, f, chunk, batch);
        assert.equal(r.records.length, base.records.length, `${f} chunk ${chunk} batch ${batch}`);
        assert.deepEqual(r.records, base.records, `${f} chunk ${chunk} batch ${batch}`);
      }
    }
  });

  test('cut at every byte of the last block: earlier packets, truncated_record counted, no throw', async () => {
    const f = readFileSync(cap('mixed/tcp_retransmissions.pcapng'));
    const blocks = pcapngBlocks(f);
    const lastPkt = blocks.filter((b) => PACKET_BLOCKS.has(b.type)).at(-1)!;
    const before = blocks.filter((b) => PACKET_BLOCKS.has(b.type) && b.offset < lastPkt.offset).length;
    for (let n = lastPkt.offset; n < lastPkt.offset + lastPkt.length; n++) {
      const r = await readBytes(f.subarray(0, n), 'cut.pcapng');
      assert.equal(r.records.length, before, `cut at ${n}`);
      assert.deepEqual(r.skipped, n === lastPkt.offset ? {} : { truncated_record: 1 }, `cut at ${n}`);
      if (n > lastPkt.offset) assert.ok(r.warnings.some((w) => w.includes(`offset ${lastPkt.offset}`)), r.warnings.join('\n'));
    }
  });

  test('cut at every byte of a whole multi-section file', async () => {
    const f = readFileSync(cap('pcapng/test202.pcapng'));
    const full = await readBytes(f);
    for (let n = 4; n <= f.length; n++) {
      const cut = f.subarray(0, n);
      const blocks = pcapngBlocks(cut);
      const whole = blocks.filter((b) => PACKET_BLOCKS.has(b.type)).length;
      const clean = blocks.length === 0 ? false : blocks.at(-1)!.offset + blocks.at(-1)!.length === n;
      const r = await readBytes(cut, 'cut.pcapng');
      assert.deepEqual(r.records, full.records.slice(0, whole), `cut at ${n}`);
      assert.deepEqual(r.skipped, clean ? {} : { truncated_record: 1 }, `cut at ${n}`);
    }
  });
});

describe('malformed shared captures', () => {
  test('pcap-invalid-version-1: CAPTURE_HEADER naming the file', async () => {
    const file = cap('malformed/pcap-invalid-version-1.pcap');
    // The header says version 1.4 (bytes 4..7 little-endian), which libpcap calls archaic.
    const b = readFileSync(file);
    assert.equal(b.readUInt16LE(4), 1);
    const src = new CaptureFileSource(`pcap:${file}`, file, await openFileInput(file));
    await assertHeaderError(src.open(), file, /version/);
    await src.close();
  });

  test('shb-option-too-long: CAPTURE_HEADER naming the file, before any packet', async () => {
    const file = cap('malformed/shb-option-too-long.pcapng');
    // Reading fails at the first block (open() or the first nextBatch()).
    await assertHeaderError(readFile(file), file, /offset 0/);
  });

  test('test901: the packets before the version-2 section, then a counted corrupt_block stop', { skip: noTshark }, async () => {
    const file = cap('malformed/test901.pcapng');
    const bytes = readFileSync(file);
    const shbs = pcapngBlocks(bytes).filter((b) => b.type === 0x0a0d0d0a);
    const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const bad = shbs.find((b) => v.getUint16(b.offset + 12, v.getUint32(b.offset + 8, true) === 0x1a2b3c4d) === 2)!;
    assert.ok(bad, 'a section header with major version 2');
    const t = await tsharkPackets(file); // tshark reads the packets before it, then reports the bad section
    const r = await readFile(file);
    assert.equal(r.records.length, t.length);
    assert.ok(r.records.length > 0);
    t.forEach((x, i) => assert.equal(r.records[i].ts, expectedTs(x.time)));
    assert.deepEqual(r.skipped, { corrupt_block: 1 });
    assert.ok(r.warnings.some((w) => w.includes(file) && w.includes(`offset ${bad.offset}`)), r.warnings.join('\n'));
  });

  test('timestamp_invalid_nano: records with a fraction >= 1e9 skipped and counted', { skip: noTshark }, async () => {
    const file = cap('malformed/timestamp_invalid_nano.pcap');
    const bytes = readFileSync(file);
    assert.equal(bytes.subarray(0, 4).toString('hex'), '4d3cb2a1', 'little-endian ns');
    const { offsets } = pcapRecordOffsets(bytes);
    const fracs = offsets.map((o) => bytes.readUInt32LE(o + 4));
    const valid = offsets.filter((_, i) => fracs[i] < 1e9);
    assert.deepEqual(fracs.map((f) => f >= 1e9), [false, true, true]);
    // tshark prints all three, the bad ones as ".1000000000" and "-...2147483648": not times.
    const t = await tsharkPackets(file);
    assert.equal(t.length, 3);
    const r = await readFile(file);
    assert.deepEqual(r.records.map((x) => x.fileOffset), valid);
    assert.equal(r.records[0].ts, expectedTs(t[0].time), `${t[0].time} stays in its second`);
    assert.equal(Math.floor(r.records[0].ts), Number(t[0].time.split('.')[0]));
    assert.deepEqual(r.skipped, { invalid_timestamp: 2 });
    assert.ok(r.warnings.some((w) => w.includes(`offset ${offsets[1]}`)), r.warnings.join('\n'));
  });
});
