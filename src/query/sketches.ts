/**
 * Mergeable approximate structures for use inside transforms and aggregates: a count-min
 * sketch (Cormode & Muthukrishnan 2005), a bloom filter, and HyperLogLog (Flajolet et al.
 * 2007, with the small-range correction). Each has `merge` (what lets a local stage's partial
 * result combine exactly in the global stage) and a JSON form for the transport.
 *
 * Hashing: 32-bit FNV-1a over the key's text, then double hashing (Kirsch & Mitzenmacher) for
 * the rows/bits, seeded per structure so that two structures with equal parameters agree.
 */

/** 32-bit FNV-1a of a string (UTF-16 code units), plus a seed. */
export function hashString(s: string, seed = 0): number {
  let h = (0x811c9dc5 ^ seed) >>> 0;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  // Final avalanche (murmur3 fmix32) so low bits are usable as indexes.
  h ^= h >>> 16; h = Math.imul(h, 0x85ebca6b); h ^= h >>> 13; h = Math.imul(h, 0xc2b2ae35); h ^= h >>> 16;
  return h >>> 0;
}

/** The second hash of the last `hashPair` call (a module slot rather than an array: no allocation per key). */
export let pairSecond = 0;

/**
 * hashString(s, a) and hashString(s, b) in one pass over s (the pair double hashing needs, for
 * every key of every packet a sketch counts): returns the first, leaves the second in
 * `pairSecond`. Equal to the two calls bit for bit (test/query/sketches.test.ts).
 */
export function hashPair(s: string, a: number, b: number): number {
  let h = (0x811c9dc5 ^ a) >>> 0, g = (0x811c9dc5 ^ b) >>> 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    h = Math.imul(h ^ c, 0x01000193);
    g = Math.imul(g ^ c, 0x01000193);
  }
  h ^= h >>> 16; h = Math.imul(h, 0x85ebca6b); h ^= h >>> 13; h = Math.imul(h, 0xc2b2ae35); h ^= h >>> 16;
  g ^= g >>> 16; g = Math.imul(g, 0x85ebca6b); g ^= g >>> 13; g = Math.imul(g, 0xc2b2ae35); g ^= g >>> 16;
  pairSecond = g >>> 0;
  return h >>> 0;
}

function keyText(key: string | number): string {
  return typeof key === 'string' ? key : String(key);
}

export interface CountMinJSON { width: number; depth: number; total: number; rows: number[][] }

export class CountMinSketch {
  readonly width: number;
  readonly depth: number;
  total = 0;
  readonly table: Float64Array;

  constructor(width = 1024, depth = 4) {
    if (!Number.isInteger(width) || width < 1 || !Number.isInteger(depth) || depth < 1) throw new RangeError(`count-min width and depth must be positive integers (got ${width}x${depth})`);
    this.width = width;
    this.depth = depth;
    this.table = new Float64Array(width * depth);
  }

  /** Column of `key` in row r. */
  index(key: string | number, r: number): number {
    const t = keyText(key);
    const h1 = hashPair(t, 0, 0x9747b28c), h2 = pairSecond | 1;
    return ((h1 + Math.imul(r, h2)) >>> 0) % this.width;
  }

  add(key: string | number, n = 1): void {
    const t = keyText(key);
    const h1 = hashPair(t, 0, 0x9747b28c), h2 = pairSecond | 1;
    for (let r = 0; r < this.depth; r++) this.table[r * this.width + ((h1 + Math.imul(r, h2)) >>> 0) % this.width] += n;
    this.total += n;
  }

  /** Estimated count: never below the true count (for non-negative additions). */
  estimate(key: string | number): number {
    const t = keyText(key);
    const h1 = hashPair(t, 0, 0x9747b28c), h2 = pairSecond | 1;
    let m = Infinity;
    for (let r = 0; r < this.depth; r++) {
      const v = this.table[r * this.width + ((h1 + Math.imul(r, h2)) >>> 0) % this.width];
      if (v < m) m = v;
    }
    return m;
  }

  merge(other: CountMinSketch): this {
    if (other.width !== this.width || other.depth !== this.depth) throw new RangeError('count-min sketches of different shapes cannot merge');
    for (let i = 0; i < this.table.length; i++) this.table[i] += other.table[i];
    this.total += other.total;
    return this;
  }

  toJSON(): CountMinJSON {
    const rows: number[][] = [];
    for (let r = 0; r < this.depth; r++) rows.push(Array.from(this.table.subarray(r * this.width, (r + 1) * this.width)));
    return { width: this.width, depth: this.depth, total: this.total, rows };
  }

  static fromJSON(j: CountMinJSON): CountMinSketch {
    const s = new CountMinSketch(j.width, j.depth);
    j.rows.forEach((row, r) => s.table.set(row, r * j.width));
    s.total = j.total;
    return s;
  }
}

export interface BloomJSON { bits: number; hashes: number; words: number[] }

export class BloomFilter {
  readonly bits: number;
  readonly hashes: number;
  readonly words: Uint32Array;

  constructor(bits = 1 << 16, hashes = 4) {
    if (!Number.isInteger(bits) || bits < 8 || !Number.isInteger(hashes) || hashes < 1) throw new RangeError('bloom filter needs bits >= 8 and hashes >= 1');
    this.bits = bits;
    this.hashes = hashes;
    this.words = new Uint32Array(Math.ceil(bits / 32));
  }

  /** Bits and hash count for n items at false-positive rate fp. */
  static forCapacity(n: number, fp = 0.01): BloomFilter {
    const bits = Math.max(64, Math.ceil((-n * Math.log(fp)) / (Math.LN2 * Math.LN2)));
    return new BloomFilter(bits, Math.max(1, Math.round((bits / Math.max(1, n)) * Math.LN2)));
  }

  add(key: string | number): void {
    const t = keyText(key);
    const h1 = hashPair(t, 1, 0x5bd1e995), h2 = pairSecond | 1;
    for (let i = 0; i < this.hashes; i++) {
      const b = ((h1 + Math.imul(i, h2)) >>> 0) % this.bits;
      this.words[b >>> 5] |= 1 << (b & 31);
    }
  }

  /** False means certainly absent; true means present or a false positive. */
  has(key: string | number): boolean {
    const t = keyText(key);
    const h1 = hashPair(t, 1, 0x5bd1e995), h2 = pairSecond | 1;
    for (let i = 0; i < this.hashes; i++) {
      const b = ((h1 + Math.imul(i, h2)) >>> 0) % this.bits;
      if ((this.words[b >>> 5] & (1 << (b & 31))) === 0) return false;
    }
    return true;
  }

  merge(other: BloomFilter): this {
    if (other.bits !== this.bits || other.hashes !== this.hashes) throw new RangeError('bloom filters of different shapes cannot merge');
    for (let i = 0; i < this.words.length; i++) this.words[i] |= other.words[i];
    return this;
  }

  toJSON(): BloomJSON { return { bits: this.bits, hashes: this.hashes, words: Array.from(this.words) }; }

  static fromJSON(j: BloomJSON): BloomFilter {
    const f = new BloomFilter(j.bits, j.hashes);
    f.words.set(j.words);
    return f;
  }
}

export interface HllJSON { p: number; registers: number[] }

export class HyperLogLog {
  readonly p: number;
  readonly registers: Uint8Array;

  /** 2^p registers; standard error about 1.04 / sqrt(2^p) (p = 12: 1.6%). */
  constructor(p = 12) {
    if (!Number.isInteger(p) || p < 4 || p > 18) throw new RangeError('HyperLogLog precision must be 4..18');
    this.p = p;
    this.registers = new Uint8Array(1 << p);
  }

  add(key: string | number): void {
    const t = keyText(key);
    const h = hashString(t, 0x2a);
    const idx = h >>> (32 - this.p);
    const w = (h << this.p) | (1 << (this.p - 1)); // guard bit bounds the rank
    const rank = Math.clz32(w) + 1;
    if (rank > this.registers[idx]) this.registers[idx] = rank;
  }

  count(): number {
    const m = this.registers.length;
    let sum = 0, zeros = 0;
    for (let i = 0; i < m; i++) { sum += 2 ** -this.registers[i]; if (this.registers[i] === 0) zeros++; }
    const alpha = m === 16 ? 0.673 : m === 32 ? 0.697 : m === 64 ? 0.709 : 0.7213 / (1 + 1.079 / m);
    const e = (alpha * m * m) / sum;
    if (e <= 2.5 * m && zeros > 0) return Math.round(m * Math.log(m / zeros));
    return Math.round(e);
  }

  merge(other: HyperLogLog): this {
    if (other.p !== this.p) throw new RangeError('HyperLogLogs of different precision cannot merge');
    for (let i = 0; i < this.registers.length; i++) if (other.registers[i] > this.registers[i]) this.registers[i] = other.registers[i];
    return this;
  }

  toJSON(): HllJSON { return { p: this.p, registers: Array.from(this.registers) }; }

  static fromJSON(j: HllJSON): HyperLogLog {
    const h = new HyperLogLog(j.p);
    h.registers.set(j.registers);
    return h;
  }
}

export function countMinSketch(width?: number, depth?: number): CountMinSketch { return new CountMinSketch(width, depth); }
export function bloomFilter(bits?: number, hashes?: number): BloomFilter { return new BloomFilter(bits, hashes); }
export function hyperLogLog(p?: number): HyperLogLog { return new HyperLogLog(p); }
