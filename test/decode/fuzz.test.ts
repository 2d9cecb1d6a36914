/**
 * Decoder fuzzing: seeded random mutations of real packets (the first packets of every shared
 * capture, so every layer combination the captures have is a starting point). For each mutant:
 * decodePacket does not throw and sets a status in {OK, TRUNCATED, MALFORMED, UNSUPPORTED};
 * every field then reads without throwing and without NaN (no view points outside the
 * captured bytes); the decode reads nothing past the captured length (the same mutant in a
 * buffer with other bytes after it decodes the same); decoding is repeatable (no state leaks
 * from one packet to the next through the reused Packet or the decoder's module state).
 *
 * INTSTREAM_FUZZ_ITERATIONS and INTSTREAM_FUZZ_SEED change the run; a failure prints the seed,
 * the iteration and the mutant's bytes.
 */
import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { CaptureFileSource } from '../../src/sources/capture-file-source.ts';
import { openFileInput } from '../../src/sources/byte-input.ts';
import { Packet } from '../../src/decode/packet.ts';
import { decodePacket } from '../../src/decode/decoder.ts';
import { captureFiles } from './tshark-expect.ts';
import { mulberry32 as rng } from '../../src/gen/prng.ts';
// every field finite, every layer offset inside the captured bytes, the INT view readable
import { checkPacket } from '../fuzz/kinds.ts';

const ITERATIONS = Number(process.env.INTSTREAM_FUZZ_ITERATIONS ?? 50_000);
const SEED = Number(process.env.INTSTREAM_FUZZ_SEED ?? 0x1badb002);


interface Seed { data: Uint8Array; wireLen: number; linkType: number; from: string }

/** Values that steer the walk: EtherTypes, IP protocols, tunnel ports, lengths. */
const INTERESTING16 = [0x0800, 0x86dd, 0x8100, 0x88a8, 0x9100, 0x8847, 0x8848, 0x6558, 0x88be, 0x22eb, 0x8200,
  0x0000, 0xffff, 0x0001, 0x05ff, 0x0600, 4789, 8472, 6081, 0x4500, 0x4f00, 0x6000, 0x3000, 0x1000, 0x2000, 0x8000];
const INTERESTING8 = [0, 1, 4, 6, 17, 41, 43, 44, 47, 50, 51, 58, 59, 60, 135, 0x40, 0x45, 0x46, 0x4f, 0x60, 0x7f, 0x80, 0xff, 0x50, 0xf0, 0x08];
const LINK_TYPES = [1, 1, 1, 0, 12, 14, 101, 108, 113, 228, 229, 276, 105, 999];

async function seeds(): Promise<Seed[]> {
  const out: Seed[] = [];
  for (const file of captureFiles(['attack', 'mixed', 'edge', 'tunnel', 'pcapng', 'int'])) {
    const src = new CaptureFileSource(file, file, await openFileInput(file), 64);
    try {
      await src.open();
      const b = await src.nextBatch();
      for (let i = 0; b && i < b.count && i < 24; i++) {
        out.push({ data: b.buf.slice(b.dataOff[i], b.dataOff[i] + b.capLen[i]), wireLen: b.wireLen[i], linkType: b.linkType[i], from: `${file}#${i + 1}` });
      }
    } finally {
      await src.close();
    }
  }
  return out;
}


describe('decoder fuzz', () => {
  let pool: Seed[] = [];
  before(async () => { pool = await seeds(); });

  test(`${ITERATIONS} seeded mutations of real packets (seed ${SEED})`, () => {
    assert.ok(pool.length > 200, `${pool.length} seed packets`);
    const r = rng(SEED);
    const int = (n: number) => Math.floor(r() * n);
    const p = new Packet(), q = new Packet();
    const MAX = 70_000;
    const a = new Uint8Array(MAX + 64), b = new Uint8Array(MAX + 64);
    const statuses = [0, 0, 0, 0];
    for (let it = 0; it < ITERATIONS; it++) {
      const s = pool[int(pool.length)];
      let len = Math.min(s.data.length, MAX);
      const m = a.subarray(0, len);
      m.set(s.data.subarray(0, len));
      let linkType = s.linkType, wireLen = s.wireLen;
      // Mutations hit the first 128 bytes mostly: that is where the headers are.
      const at = () => (r() < 0.8 ? int(Math.min(len, 128)) : int(len));
      const n = 1 + int(4);
      for (let k = 0; k < n && len > 0; k++) {
        const i = at();
        switch (int(7)) {
          case 0: m[i] = int(256); break;
          case 1: m[i] ^= 1 << int(8); break;
          case 2: m[i] = INTERESTING8[int(INTERESTING8.length)]; break;
          case 3: { const v = INTERESTING16[int(INTERESTING16.length)]; m[i] = v >> 8; if (i + 1 < len) m[i + 1] = v & 255; break; }
          case 4: len = int(len + 1); break;
          case 5: wireLen = [0, len, len + 1, int(70_000), 0x7fffffff][int(5)]; break;
          case 6: linkType = LINK_TYPES[int(LINK_TYPES.length)]; break;
        }
      }
      a.fill(0x00, len, len + 64);
      b.set(a.subarray(0, len));
      b.fill(0xff, len, len + 64);
      let one: string, two: string, again: string;
      try {
        decodePacket(p, a, 0, len, wireLen, 1.5, linkType);
        assert.ok(p.status >= 0 && p.status <= 3, `status ${p.status}`);
        one = checkPacket(p);
        decodePacket(q, b, 0, len, wireLen, 1.5, linkType);
        two = checkPacket(q);
        decodePacket(p, a, 0, len, wireLen, 1.5, linkType);
        again = checkPacket(p);
      } catch (e) {
        assert.fail(`seed ${SEED} iteration ${it} (from ${s.from}, link type ${linkType}, caplen ${len}, wire ${wireLen}): ${(e as Error).message}\n${Buffer.from(a.subarray(0, Math.min(len, 256))).toString('hex')}`);
      }
      assert.equal(two, one, `iteration ${it}: reads past the captured bytes (from ${s.from})`);
      assert.equal(again, one, `iteration ${it}: not repeatable (from ${s.from})`);
      statuses[p.status]++;
    }
    // The mutants reach every outcome: the run is not stuck on one path.
    for (let st = 0; st < 4; st++) assert.ok(statuses[st] > 0, `status ${st} never reached: ${statuses}`);
  });

  test('adversarial nesting terminates: deep GRE, MPLS and IPv6 extension chains', () => {
    const p = new Packet();
    const eth = Uint8Array.of(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 0x08, 0x00);
    const ip4 = (proto: number, payload: number) => {
      const h = new Uint8Array(20); h[0] = 0x45; h[2] = (20 + payload) >> 8; h[3] = (20 + payload) & 255; h[8] = 64; h[9] = proto; return h;
    };
    // 40 levels of IPv4/GRE(IPv4): far deeper than any real tunnel.
    const parts: Uint8Array[] = [eth];
    for (let i = 0; i < 40; i++) parts.push(ip4(47, 24 * (40 - i)), Uint8Array.of(0, 0, 0x08, 0x00));
    parts.push(ip4(17, 8), new Uint8Array(8));
    let pkt = Uint8Array.from(parts.flatMap((x) => [...x]));
    decodePacket(p, pkt, 0, pkt.length, pkt.length, 0, 1);
    assert.ok(p.status === 2 || p.status === 0, `GRE x40: ${p.statusName} ${p.reason}`);
    // 5000 MPLS labels without a bottom of stack.
    pkt = new Uint8Array(14 + 4 * 5000); pkt.set(eth); pkt[12] = 0x88; pkt[13] = 0x47;
    decodePacket(p, pkt, 0, pkt.length, pkt.length, 0, 1);
    const mplsStatus: number = p.status; // (a fresh read: tsc narrowed p.status above)
    assert.ok(mplsStatus === 2 || mplsStatus === 1, `MPLS x5000: ${p.statusName} ${p.reason}`);
    // IPv6 with 8000 empty destination-options headers.
    pkt = new Uint8Array(14 + 40 + 8 * 8000); pkt.set(eth); pkt[12] = 0x86; pkt[13] = 0xdd;
    pkt[14] = 0x60; pkt[18] = 0xfa; pkt[19] = 0x00; pkt[20] = 60;
    for (let i = 0; i < 8000; i++) pkt[54 + 8 * i] = 60;
    decodePacket(p, pkt, 0, pkt.length, pkt.length, 0, 1);
    assert.ok(p.status >= 0 && p.status <= 3, `IPv6 ext x8000: ${p.statusName} ${p.reason}`);
    checkPacket(p);
  });
});
