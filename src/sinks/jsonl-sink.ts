import type { Writable } from 'node:stream';
import type { Sink, TaskResult } from './sink.ts';

/** One JSON object per line, in the order results leave the global stage (window order). */
export class JsonlSink implements Sink {
  private readonly out: Writable;
  private readonly ownsStream: boolean;
  private buffered = '';

  constructor(out: Writable, ownsStream = false) {
    this.out = out;
    this.ownsStream = ownsStream;
  }

  write(r: TaskResult): void | Promise<void> {
    this.buffered += JSON.stringify(r) + '\n';
    if (this.buffered.length > 1 << 16) return this.drain();
    // Live sources: a closed window's results reach the output within 100 ms, not at 64 KiB.
    this.timer ??= setTimeout(() => { this.timer = null; void this.drain(); }, 100);
  }

  private timer: NodeJS.Timeout | null = null;

  private drain(): Promise<void> | void {
    if (this.timer) { clearTimeout(this.timer); this.timer = null; }
    if (this.buffered === '') return;
    const chunk = this.buffered;
    this.buffered = '';
    if (!this.out.write(chunk)) return new Promise((r) => this.out.once('drain', () => r()));
  }

  async close(): Promise<void> {
    await this.drain();
    if (this.ownsStream) await new Promise<void>((r) => this.out.end(r));
  }
}
