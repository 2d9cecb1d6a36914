/**
 * Synthetic captures of TCP SYNs for the resume tests: `packets` Ethernet/IPv4/TCP SYN packets
 * spread over `seconds` from `start` (µs timestamps), to `dsts` destinations, optionally out of
 * order by up to `jitter` seconds, as classic pcap or as pcapng (one section, one interface, EPBs).
 * Its own few lines of writing, straight from the format documents, sharing nothing with src/.
 */
import { mulberry32 } from '../../src/gen/prng.ts';

export interface SynCaptureOptions {
  packets: number;
  seconds: number;
  dsts: number;
  start?: number;
  jitter?: number;
  seed?: number;
  format?: 'pcap' | 'pcapng';
}

function frame(src: number, dst: number, sport: number, seq: number): Buffer {
  const b = Buffer.alloc(54);
  b.writeUIntBE(0x020000000001, 0, 6); b.writeUIntBE(0x020000000002, 6, 6); b.writeUInt16BE(0x0800, 12);
  b[14] = 0x45; b.writeUInt16BE(40, 16); b[22] = 64; b[23] = 6;
  b.writeUInt32BE(((10 << 24) | src) >>> 0, 26); b.writeUInt32BE(((192 << 24) | (168 << 16) | dst) >>> 0, 30);
  b.writeUInt16BE(sport, 34); b.writeUInt16BE(80, 36); b.writeUInt32BE(seq >>> 0, 38);
  b[46] = 5 << 4; b[47] = 0x02; b.writeUInt16BE(64240, 48);
  return b;
}

/** The capture and its packets' timestamps (µs), in file order. */
export function synCapture(o: SynCaptureOptions): { bytes: Buffer; timesUs: number[] } {
  const rnd = mulberry32(o.seed ?? 1);
  const start = Math.round((o.start ?? 1_700_000_000) * 1e6);
  const span = o.seconds * 1e6, jitter = Math.round((o.jitter ?? 0) * 1e6);
  const parts: Buffer[] = [];
  const timesUs: number[] = [];
  if (o.format === 'pcapng') {
    const shb = Buffer.alloc(28);
    shb.writeUInt32LE(0x0a0d0d0a, 0); shb.writeUInt32LE(28, 4); shb.writeUInt32LE(0x1a2b3c4d, 8);
    shb.writeUInt16LE(1, 12); shb.writeUInt16LE(0, 14); shb.writeBigInt64LE(-1n, 16); shb.writeUInt32LE(28, 24);
    const idb = Buffer.alloc(20);
    idb.writeUInt32LE(1, 0); idb.writeUInt32LE(20, 4); idb.writeUInt16LE(1, 8); idb.writeUInt32LE(65535, 12); idb.writeUInt32LE(20, 16);
    parts.push(shb, idb);
  } else {
    const h = Buffer.alloc(24);
    h.writeUInt32LE(0xa1b2c3d4, 0); h.writeUInt16LE(2, 4); h.writeUInt16LE(4, 6); h.writeUInt32LE(65535, 16); h.writeUInt32LE(1, 20);
    parts.push(h);
  }
  for (let i = 0; i < o.packets; i++) {
    let t = start + Math.floor((i * span) / o.packets);
    if (jitter > 0) t = Math.max(start, t - Math.floor(rnd() * jitter));
    timesUs.push(t);
    const f = frame(1 + Math.floor(rnd() * 60000), 1 + Math.floor(rnd() * o.dsts), 1024 + Math.floor(rnd() * 60000), Math.floor(rnd() * 2 ** 32));
    if (o.format === 'pcapng') {
      const len = 28 + 56 + 4; // block header, EPB fields, 54 bytes of data padded to 56, trailer
      const epb = Buffer.alloc(len);
      epb.writeUInt32LE(6, 0); epb.writeUInt32LE(len, 4); epb.writeUInt32LE(0, 8);
      epb.writeUInt32LE(Math.floor(t / 2 ** 32), 12); epb.writeUInt32LE(t % 2 ** 32, 16);
      epb.writeUInt32LE(f.length, 20); epb.writeUInt32LE(f.length, 24); f.copy(epb, 28); epb.writeUInt32LE(len, len - 4);
      parts.push(epb);
    } else {
      const r = Buffer.alloc(16);
      r.writeUInt32LE(Math.floor(t / 1e6), 0); r.writeUInt32LE(t % 1e6, 4); r.writeUInt32LE(f.length, 8); r.writeUInt32LE(f.length, 12);
      parts.push(r, f);
    }
  }
  return { bytes: Buffer.concat(parts), timesUs };
}
