/**
 * A token bucket: `ratePerSec` tokens a second, at most `burst` saved up. One token per probe
 * request; a request that finds the bucket empty is refused (not queued), so a burst of
 * windows closing at once cannot build an unbounded backlog of probes.
 */
export class TokenBucket {
  private readonly rate: number;
  private readonly burst: number;
  private tokens: number;
  private last: number;
  private readonly now: () => number;

  constructor(ratePerSec: number, burst = Math.max(1, ratePerSec), now: () => number = () => performance.now()) {
    if (!(ratePerSec > 0) || !(burst >= 1)) throw new RangeError(`token bucket needs a positive rate and burst >= 1 (got ${ratePerSec}/s, burst ${burst})`);
    this.rate = ratePerSec;
    this.burst = burst;
    this.tokens = burst;
    this.now = now;
    this.last = now();
  }

  /** Takes a token if one is available. */
  take(): boolean {
    const t = this.now();
    this.tokens = Math.min(this.burst, this.tokens + ((t - this.last) / 1000) * this.rate);
    this.last = t;
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }
}
