/**
 * Deterministic traffic for the durable global state tests (a global stage whose keyed state
 * lives across windows), one second per window, split over `sources` capture points (UDP packet
 * i to source i % sources, TCP flow F to source F % sources):
 *   - UDP packets to 10.1.0.1..8 whose counts per second vary (a seeded generator), with a burst
 *     to one destination every 11th second: ddos's distribution changes from window to window,
 *     and its result for a window depends on the previous window (its keyed state). `scale`
 *     multiplies them (more packets: more source batches, so more partials records).
 *   - Four TCP flows 192.168.0.F:500F -> 10.2.0.1:80, four new 100-byte data segments a second
 *     each, and 1 to 4 segments of the previous second sent again: tcp-retrans counts them only
 *     with the flow's highest sequence number kept from the previous window (its keyed state),
 *     and reports a flow in a window with at least 3.
 * Written with test/support/pcap-writer.ts, independent of src/.
 */
import { pcapHeader, pcapRecord, type PcapRecord } from './pcap-writer.ts';

export const T0 = 1_700_000_000;

function frame(src: number[], dst: number[], proto: 6 | 17, sport: number, dport: number, seq: number, payload: number): Uint8Array {
  const l4 = proto === 6 ? 20 : 8;
  const f = new Uint8Array(14 + 20 + l4 + payload);
  const v = new DataView(f.buffer);
  v.setUint16(12, 0x0800);
  f[14] = 0x45; v.setUint16(16, 20 + l4 + payload); f[22] = 64; f[23] = proto;
  f.set(src, 26); f.set(dst, 30);
  v.setUint16(34, sport); v.setUint16(36, dport);
  if (proto === 6) {
    v.setUint32(38, seq >>> 0); v.setUint32(42, 1);
    f[46] = 5 << 4; f[47] = 0x18; v.setUint16(48, 65535);
  } else v.setUint16(38, 8 + payload);
  return f;
}

/** A small seeded generator (LCG), so the traffic is the same on every run. */
function rng(seed: number): (n: number) => number {
  let s = seed >>> 0;
  return (n) => { s = (Math.imul(s, 1664525) + 1013904223) >>> 0; return Math.floor((s / 2 ** 32) * n); };
}

/** Per source, its records in time order, and the second each record falls in. */
export function durableTraffic(seconds: number, sources = 2, seed = 12, scale = 1): { records: PcapRecord[]; second: number[] }[] {
  const rand = rng(seed);
  const all: { t: number; data: Uint8Array; src?: number }[] = [];
  for (let i = 0; i < seconds; i++) {
    for (let d = 0; d < 8; d++) {
      const n = (1 + rand(6) + (i % 11 === 10 && d === i % 8 ? 25 : 0)) * scale;
      for (let k = 0; k < n; k++) all.push({ t: i + rand(1000) / 1000, data: frame([172, 16, 0, 1 + rand(50)], [10, 1, 0, d + 1], 17, 40000 + rand(1000), 53, 0, 20) });
    }
    for (let f = 0; f < 4; f++) {
      const src = [192, 168, 0, f + 1], dst = [10, 2, 0, 1], sport = 5000 + f, base = 1_000_000 * (f + 1);
      for (let k = 0; k < 4; k++) all.push({ t: i + (k + 0.5) / 5, data: frame(src, dst, 6, sport, 80, base + (i * 4 + k) * 100, 100), src: f % sources });
      if (i === 0) continue;
      const again = 1 + rand(4);
      for (let j = 0; j < again; j++) all.push({ t: i + 0.01 + j * 0.02, data: frame(src, dst, 6, sport, 80, base + ((i - 1) * 4 + (j % 4)) * 100, 100), src: f % sources });
    }
  }
  all.sort((a, b) => a.t - b.t);
  const out = Array.from({ length: sources }, () => ({ records: [] as PcapRecord[], second: [] as number[] }));
  all.forEach((p, idx) => {
    const sec = Math.floor(p.t + 1e-9);
    const usec = Math.min(999_999, Math.round((p.t - sec) * 1e6));
    const o = out[p.src ?? idx % sources];
    o.records.push({ sec: T0 + sec, frac: usec, data: p.data });
    o.second.push(sec);
  });
  return out;
}

/** A source's records as a classic pcap file (header first). */
export function pcapBytes(records: PcapRecord[]): Buffer {
  return Buffer.concat([pcapHeader(), ...records.map((r) => pcapRecord(r))]);
}

/** A source's records cut by second into `n` pieces of a pcap stream (the header in the first). */
export function pcapPieces(src: { records: PcapRecord[]; second: number[] }, seconds: number, n: number): Buffer[] {
  const pieces: Buffer[] = [];
  for (let k = 0; k < n; k++) {
    const lo = Math.floor((seconds * k) / n), hi = Math.floor((seconds * (k + 1)) / n);
    const recs = src.records.filter((_, i) => src.second[i] >= lo && src.second[i] < hi);
    pieces.push(Buffer.concat([...(k === 0 ? [pcapHeader()] : []), ...recs.map((r) => pcapRecord(r))]));
  }
  return pieces;
}
