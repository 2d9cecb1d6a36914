/**
 * Counts of items skipped, by reason (a short stable snake_case name), plus the first place
 * each reason was seen so that a message can name it. Nothing is dropped without a count here.
 */
export class SkipCounters {
  readonly counts = new Map<string, number>();
  readonly firstAt = new Map<string, string>();

  bump(reason: string, where?: () => string): void {
    const n = this.counts.get(reason);
    if (n === undefined) {
      this.counts.set(reason, 1);
      if (where) this.firstAt.set(reason, where());
    } else this.counts.set(reason, n + 1);
  }

  add(reason: string, n: number): void {
    if (n > 0) this.counts.set(reason, (this.counts.get(reason) ?? 0) + n);
  }

  total(): number {
    let t = 0;
    for (const n of this.counts.values()) t += n;
    return t;
  }

  toJSON(): Record<string, number> {
    return Object.fromEntries([...this.counts].sort((a, b) => a[0].localeCompare(b[0])));
  }
}
