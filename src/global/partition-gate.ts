/**
 * Which records a GSP worker may merge after Kafka group rebalances.
 *
 * The Kafka client reads ahead: records fetched before a rebalance can still be delivered
 * after it. A worker merges a partition from where the group resumes it (its committed offset):
 * everything before that offset fed windows already released. So, after each (re)join:
 *   - records of a partition that is no longer this worker's are skipped (its new owner replays
 *     them from the committed offset);
 *   - a partition without merge state starts only at its resume offset: read-ahead records
 *     past it are skipped (the client fetches from the resume offset again), and so are records
 *     before it (already merged and released). A state begun later than the resume offset would
 *     release windows without their earlier elements: partial results ahead of complete ones.
 * A partition that keeps its state across a rejoin goes on; the client's re-fetch from the
 * committed offset then repeats records, which the worker drops by their sequence numbers.
 */
export type Admit = 'merge' | 'start' | 'skip';

export class PartitionGate {
  private assigned = new Set<number>();
  /** Resume offset per assigned partition; absent while unknown (then the first record starts it). */
  private resumeAt = new Map<number, bigint>();
  /** Records skipped, all partitions. */
  skipped = 0;

  /** A (re)join: this worker's partitions and where the group resumes them. */
  assign(partitions: Iterable<number>, resumeAt: Map<number, bigint>): void {
    this.assigned = new Set(partitions);
    this.resumeAt = new Map([...resumeAt].filter(([p]) => this.assigned.has(p)));
  }

  owns(partition: number): boolean {
    return this.assigned.has(partition);
  }

  /** What to do with the record at `offset` of `partition`, given whether its merge state exists. */
  admit(partition: number, offset: bigint, hasState: boolean): Admit {
    if (!this.assigned.has(partition)) { this.skipped++; return 'skip'; }
    if (hasState) return 'merge';
    const at = this.resumeAt.get(partition);
    if (at !== undefined && offset !== at) { this.skipped++; return 'skip'; }
    return 'start';
  }
}
