/**
 * Splits a capture file (classic pcap or pcapng, either byte order) into parts by a rule on
 * each packet's index, for split-invariance tests. Its own few lines of parsing, independent
 * of src/sources. pcapng: every non-packet block (section header, interface descriptions,
 * statistics, name resolution) goes to every part, so each part keeps its interfaces;
 * packet blocks (EPB, SPB, obsolete PB) go to the part the rule picks.
 */
import { readFileSync, writeFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, basename } from 'node:path';

/** Packet index (0-based, file order) → part. */
export type Assign = (index: number) => number;

export function splitCapture(file: string, parts: number, assign: Assign): string[] {
  const b = readFileSync(file);
  const outs: Buffer[][] = Array.from({ length: parts }, () => []);
  const magicLE = b.readUInt32LE(0);
  if (magicLE === 0x0a0d0d0a) {
    let o = 0, le = true, index = 0;
    while (o + 12 <= b.length) {
      const type = le ? b.readUInt32LE(o) : b.readUInt32BE(o);
      if (type === 0x0a0d0d0a) le = b.readUInt32LE(o + 8) === 0x1a2b3c4d;
      const len = le ? b.readUInt32LE(o + 4) : b.readUInt32BE(o + 4);
      if (len < 12 || o + len > b.length) break;
      const block = b.subarray(o, o + len);
      if (type === 6 || type === 3 || type === 2) outs[assign(index++)].push(block);
      else for (const out of outs) out.push(block);
      o += len;
    }
  } else {
    const le = magicLE === 0xa1b2c3d4 || magicLE === 0xa1b23c4d;
    const hdr = b.subarray(0, 24);
    for (const out of outs) out.push(hdr);
    let o = 24, index = 0;
    while (o + 16 <= b.length) {
      const cap = le ? b.readUInt32LE(o + 8) : b.readUInt32BE(o + 8);
      if (o + 16 + cap > b.length) break;
      outs[assign(index++)].push(b.subarray(o, o + 16 + cap));
      o += 16 + cap;
    }
  }
  const dir = mkdtempSync(join(tmpdir(), 'intstream-split-'));
  return outs.map((chunks, i) => {
    const path = join(dir, `${i}-${basename(file)}`);
    writeFileSync(path, Buffer.concat(chunks));
    return path;
  });
}
