/**
 * Calls `tick` now and then every `intervalMs` while the element is on the page; a tick that is
 * still running is not started again. Errors go to `onError` (shown by the view), never thrown.
 */
export class Poller {
  private timer: ReturnType<typeof setTimeout> | null = null;
  private running = false;
  private stopped = true;
  private readonly tick: () => Promise<void>;
  private readonly intervalMs: number;
  private readonly onError: (e: unknown) => void;

  constructor(tick: () => Promise<void>, intervalMs: number, onError: (e: unknown) => void) {
    this.tick = tick;
    this.intervalMs = intervalMs;
    this.onError = onError;
  }

  start(): void {
    this.stopped = false;
    void this.run();
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }

  /** Runs a tick now (after a change the user made), then keeps the schedule. */
  async now(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    await this.run();
  }

  private async run(): Promise<void> {
    if (this.running || this.stopped) return;
    this.running = true;
    try {
      await this.tick();
    } catch (e) {
      this.onError(e);
    } finally {
      this.running = false;
      if (!this.stopped) this.timer = setTimeout(() => void this.run(), this.intervalMs);
    }
  }
}
