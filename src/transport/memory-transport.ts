/**
 * The in-process transport: a bounded queue between local stages and the global stage. A
 * sender waits while `capacity` messages are queued, so a slow global stage slows the sources
 * instead of growing memory.
 */
import type { StageMessage, Transport } from './transport.ts';

export class MemoryTransport implements Transport {
  private readonly capacity: number;
  private readonly queue: StageMessage[] = [];
  private readonly waitingSenders: (() => void)[] = [];
  private wakeReceiver: (() => void) | null = null;
  private openSources: number;
  /** Highest number of queued messages seen (for tests of the bound). */
  peakDepth = 0;

  constructor(sources: number, capacity = 64) {
    this.openSources = sources;
    this.capacity = capacity;
  }

  async send(msg: StageMessage): Promise<void> {
    while (this.queue.length >= this.capacity) {
      await new Promise<void>((r) => this.waitingSenders.push(r));
    }
    this.queue.push(msg);
    if (this.queue.length > this.peakDepth) this.peakDepth = this.queue.length;
    const w = this.wakeReceiver;
    this.wakeReceiver = null;
    w?.();
  }

  async *receive(): AsyncIterable<StageMessage> {
    while (this.openSources > 0) {
      if (this.queue.length === 0) {
        await new Promise<void>((r) => { this.wakeReceiver = r; });
        continue;
      }
      const msg = this.queue.shift()!;
      this.waitingSenders.shift()?.();
      if (msg.end) this.openSources--;
      yield msg;
    }
  }

  async close(): Promise<void> {
    for (const w of this.waitingSenders.splice(0)) w();
  }
}
