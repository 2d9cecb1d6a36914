import type { Writable } from 'node:stream';
import type { Sink, TaskResult } from './sink.ts';

/** Text waiting for the stream is written once it reaches this many characters... */
const FLUSH_CHARS = 1 << 16;
/** ...or this long after the first of it came: a closed window reaches the output within 100 ms. */
const FLUSH_MS = 100;

/**
 * Text to a stream as results come, in bounded memory: written in chunks of up to 64 KiB, at
 * most 100 ms after it came, and the stream's backpressure is passed back to the caller: while
 * the stream is over its high-water mark, `add()` returns a promise that resolves when it has
 * drained (or closed), and the run's result loop awaits it (src/run-task.ts).
 */
export class TextOutput {
  private readonly out: Writable;
  private buffered = '';
  private timer: NodeJS.Timeout | null = null;
  private blocked: Promise<void> | null = null;
  /** Called before a flush by the timer: a sink may move what it holds into the text first. */
  onTimer: (() => void) | null = null;

  constructor(out: Writable) {
    this.out = out;
  }

  /** Adds text; a promise while the stream is full: wait before adding more. */
  add(text: string): void | Promise<void> {
    this.buffered += text;
    if (this.buffered.length >= FLUSH_CHARS) this.flush();
    else this.timer ??= setTimeout(this.timed, FLUSH_MS);
    return this.blocked ?? undefined;
  }

  /** Resolves when the stream has room again (immediately when it has). */
  get ready(): Promise<void> | undefined {
    return this.blocked ?? undefined;
  }

  /** Schedules a flush within 100 ms even when no text is waiting yet (see onTimer). */
  soon(): void {
    this.timer ??= setTimeout(this.timed, FLUSH_MS);
  }

  private readonly timed = () => {
    this.timer = null;
    this.onTimer?.();
    this.flush();
  };

  /** Writes what waits now. */
  flush(): void {
    if (this.timer) { clearTimeout(this.timer); this.timer = null; }
    if (this.buffered === '') return;
    const chunk = this.buffered;
    this.buffered = '';
    if (!this.out.write(chunk) && this.blocked === null) {
      const out = this.out;
      this.blocked = new Promise<void>((res) => {
        const done = () => {
          out.off('drain', done); out.off('close', done); out.off('error', done);
          this.blocked = null;
          res();
        };
        out.on('drain', done); out.on('close', done); out.on('error', done);
      });
    }
  }

  /** Writes what waits and resolves once the stream took it. */
  async end(): Promise<void> {
    this.flush();
    await this.blocked;
  }
}

/**
 * One JSON object per line, in the order results leave the global stage (window order),
 * written as they come (TextOutput): a window's results within 100 ms of its closing.
 */
export class JsonlSink implements Sink {
  private readonly out: Writable;
  private readonly ownsStream: boolean;
  private readonly text: TextOutput;

  constructor(out: Writable, ownsStream = false) {
    this.out = out;
    this.ownsStream = ownsStream;
    this.text = new TextOutput(out);
  }

  write(r: TaskResult): void | Promise<void> {
    return this.text.add(JSON.stringify(r) + '\n');
  }

  async close(): Promise<void> {
    await this.text.end();
    if (this.ownsStream) await new Promise<void>((r) => this.out.end(r));
  }
}
