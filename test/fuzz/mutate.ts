/** Byte mutations shared by the fuzzer's kinds (all driven by the input's PRNG). */
import { concat as concatBytes } from '../decode/flow/encode.ts';
import { chance, int, pick, type Rng } from './harness.ts';

/** Values that steer parsers: EtherTypes, IP protocols, tunnel ports, lengths, edges. */
export const INTERESTING8 = [0, 1, 2, 4, 6, 8, 17, 41, 43, 44, 47, 50, 51, 58, 59, 60, 0x3f, 0x40, 0x45, 0x46, 0x4f, 0x60, 0x7f, 0x80, 0xfe, 0xff, 0x10, 0x20, 0x12];
export const INTERESTING16 = [0x0800, 0x86dd, 0x8100, 0x88a8, 0x9100, 0x8847, 0x8848, 0x6558, 0x88be, 0x22eb, 0x8200,
  0, 1, 2, 3, 4, 8, 12, 0xff, 0x100, 0x7fff, 0x8000, 0xfffe, 0xffff, 0x05ff, 0x0600, 4789, 8472, 6081, 32766, 5001, 0x4500, 0x4f00, 0x6000];
export const INTERESTING32 = [0, 1, 3, 4, 8, 11, 12, 13, 16, 20, 24, 28, 32, 0x7f, 0x80, 0xff, 0x100, 0xffff, 0x10000,
  262143, 262144, 262145, (16 << 20) - 4, 16 << 20, (16 << 20) + 4, 256 << 20, (256 << 20) + 1,
  0x7fffffff, 0x80000000, 0xfffffffe, 0xffffffff, 999999, 1000000, 999999999, 1000000000, 0x0a0d0d0a, 0x1a2b3c4d];

/** Joins byte arrays (the flow encoders' helper, under the name the kinds use). */
export { concatBytes };

export function put32(b: Uint8Array, at: number, v: number, le: boolean): void {
  if (at < 0 || at + 4 > b.length) return;
  new DataView(b.buffer, b.byteOffset, b.byteLength).setUint32(at, v >>> 0, le);
}

/**
 * `n` random edits of a copy of `src`: byte and bit changes, interesting values, truncation,
 * insertion, deletion and duplication. With `focus`, 70% of the edits fall in the first
 * `focus` bytes (where the headers are).
 */
export function mutateBytes(r: Rng, src: Uint8Array, n: number, focus = Infinity): Uint8Array {
  let b: Uint8Array = src.slice();
  for (let k = 0; k < n; k++) {
    const len = b.length;
    const at = len === 0 ? 0 : chance(r, 0.7) ? int(r, Math.min(len, focus)) : int(r, len);
    switch (int(r, 11)) {
      case 0: if (len) b[at] = int(r, 256); break;
      case 1: if (len) b[at] ^= 1 << int(r, 8); break;
      case 2: if (len) b[at] = pick(r, INTERESTING8); break;
      case 3: { const v = pick(r, INTERESTING16); if (at + 1 < len) { b[at] = v >> 8; b[at + 1] = v & 255; } break; }
      case 4: put32(b, at, pick(r, INTERESTING32), chance(r, 0.5)); break;
      case 5: b = b.slice(0, int(r, len + 1)); break;
      case 6: { const ins = Uint8Array.from({ length: 1 + int(r, 16) }, () => int(r, 256)); b = concatBytes(b.subarray(0, at), ins, b.subarray(at)); break; }
      case 7: { const d = 1 + int(r, Math.max(1, Math.min(32, len - at))); b = concatBytes(b.subarray(0, at), b.subarray(Math.min(len, at + d))); break; }
      case 8: { // overwrite with a range from elsewhere
        if (len < 2) break;
        const from = int(r, len), l = 1 + int(r, Math.min(64, len - from));
        const piece = b.slice(from, from + l);
        b.set(piece.subarray(0, Math.max(0, Math.min(piece.length, len - at))), at);
        break;
      }
      case 9: { // duplicate a range
        if (len < 2) break;
        const from = int(r, len), l = 1 + int(r, Math.min(64, len - from));
        b = concatBytes(b.subarray(0, at), b.slice(from, from + l), b.subarray(at));
        break;
      }
      case 10: if (len) b[at] = (b[at] + (chance(r, 0.5) ? 1 : 255)) & 255; break;
    }
  }
  return b;
}

/** Smaller variants of a byte array: chunks removed, largest first (for minimizing). */
export function* shrinkBytes(b: Uint8Array): Generator<Uint8Array> {
  for (let size = b.length >> 1; size >= 1; size >>= 1) {
    for (let at = 0; at + size <= b.length; at += size) yield concatBytes(b.subarray(0, at), b.subarray(at + size));
  }
}
