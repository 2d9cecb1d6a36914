/**
 * Times as int64 counts of nanoseconds since the epoch, exactly and without BigInt on the hot
 * path: what per-packet records (packet-record-schema.ts) and capture sinks (sinks/pcap-sink.ts)
 * write. Kept apart from the Arrow schema so that these callers do not load Apache Arrow.
 */
const TWO32 = 4294967296;

/** Exact floor(x / 1e9) and remainder for an integer 0 <= x < 2^53. */
function divmod1e9(x: number, out: Float64Array): void {
  let q = Math.floor(x / 1e9);
  let r = x - q * 1e9;
  if (r < 0) { q -= 1; r += 1e9; } else if (r >= 1e9) { q += 1; r -= 1e9; }
  out[0] = q; out[1] = r;
}

/**
 * The nanosecond count this format stores for an intstream time `ts` (seconds, a double):
 * the multiple of 1 µs whose time gives back exactly `ts` (sec + us / 1e6, as the capture
 * readers compute it) when there is one, so microsecond captures are stored exactly; else an
 * integer ns count n (nearest first) such that sec + n / 1e9 gives back `ts`; else the nearest.
 * Returns the sub-second part; `sec` is Math.floor(ts).
 */
export function subsecondNs(ts: number, sec: number): number {
  const frac = ts - sec;
  const us = Math.round(frac * 1e6);
  if (us < 1e6 && sec + us / 1e6 === ts) return us * 1000;
  let ns = Math.round(frac * 1e9);
  if (ns > 999_999_999) ns = 999_999_999;
  if (sec + ns / 1e9 === ts) return ns;
  if (ns > 0 && sec + (ns - 1) / 1e9 === ts) return ns - 1;
  if (ns < 999_999_999 && sec + (ns + 1) / 1e9 === ts) return ns + 1;
  return ns;
}

/**
 * Writes seconds since the epoch as an int64 count of ns into `words` (little-endian pairs of
 * int32: low word at 2i, high at 2i + 1). Caches the last second's split.
 */
export class NsWriter {
  private sec = NaN;
  private hiBase = 0;
  private loBase = 0;

  write(words: Int32Array, i: number, ts: number): void {
    const sec = Math.floor(ts);
    if (sec !== this.sec) this.setSec(sec);
    if (sec < 0 || sec >= 8589934592) return this.slow(words, i, ts, sec);
    let lo = this.loBase + subsecondNs(ts, sec), hi = this.hiBase;
    if (lo >= TWO32) { lo -= TWO32; hi += 1; }
    words[2 * i] = lo | 0;
    words[2 * i + 1] = hi | 0;
  }

  private setSec(sec: number): void {
    this.sec = sec;
    if (sec < 0 || sec >= 8589934592) return;
    // sec * 1e9 = X * 2^16 + sL * 1e9 with sec = sH * 2^16 + sL, X = sH * 1e9 (< 2^47)
    const sH = Math.floor(sec / 65536), sL = sec - sH * 65536;
    const X = sH * 1e9;
    const xh = Math.floor(X / 65536), xl = X - xh * 65536;
    let lo = xl * 65536 + sL * 1e9;
    const carry = Math.floor(lo / TWO32);
    lo -= carry * TWO32;
    this.hiBase = xh + carry;
    this.loBase = lo;
  }

  /** Times before 1970 or after 2242: BigInt, rare. */
  private slow(words: Int32Array, i: number, ts: number, sec: number): void {
    const v = BigInt(sec) * 1_000_000_000n + BigInt(subsecondNs(ts, sec));
    words[2 * i] = Number(BigInt.asIntN(32, v));
    words[2 * i + 1] = Number(BigInt.asIntN(32, v >> 32n));
  }
}

/**
 * Reads int64 ns counts (low, high words) back into whole seconds and ns, exactly, without
 * BigInt; caches the split of the last high word (it changes every 4.3 s of time).
 */
export class NsReader {
  private hi = NaN;
  private secBase = 0;
  private nsBase = 0;
  private readonly dm = new Float64Array(2);
  /** Results of the last read(). */
  sec = 0;
  ns = 0;

  read(lo: number, hi: number): void {
    if (hi !== this.hi) this.setHi(hi);
    if (hi < 0) return this.slow(lo, hi);
    const t = this.nsBase + (lo >>> 0);
    divmod1e9(t, this.dm);
    this.sec = this.secBase + this.dm[0];
    this.ns = this.dm[1];
  }

  private setHi(hi: number): void {
    this.hi = hi;
    if (hi < 0) return;
    // hi * 2^32 = 4 hi * 1e9 + hi * 294967296; hi = a * 2^16 + b
    const a = Math.floor(hi / 65536), b = hi - a * 65536;
    const dm = this.dm;
    divmod1e9(a * 294967296, dm);
    const q = dm[0], r = dm[1];
    divmod1e9(r * 65536 + b * 294967296, dm);
    this.secBase = 4 * hi + q * 65536 + dm[0];
    this.nsBase = dm[1];
  }

  private slow(lo: number, hi: number): void {
    const v = (BigInt(hi) << 32n) | BigInt(lo >>> 0);
    let s = v / 1_000_000_000n, r = v % 1_000_000_000n;
    if (r < 0n) { s -= 1n; r += 1_000_000_000n; }
    this.sec = Number(s);
    this.ns = Number(r);
  }
}
