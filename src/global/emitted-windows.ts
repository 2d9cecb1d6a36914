import type { TaskResult } from '../sinks/sink.ts';

/**
 * The windowed results of one partition already written to the task's sinks, so that a replay
 * (this worker rejoining its group after a failure) does not write them again, and when to
 * forget them. A source's records after its last committed one only carry windows ending after
 * that record's watermark (a local stage closes a window once, at its watermark), and a replay
 * starts after the committed records; so a window that ends at or before every source's
 * committed watermark cannot come again and is forgotten: memory stays bounded by the windows
 * in flight. Window-less results (events) are not de-duplicated: they are delivered at least
 * once, as their (null window, key) does not identify them. The rule assumes what crosses the
 * cut is windowed in the local stage (aggregate/reduce/transform before global(), as every
 * built-in application that merges does); raw items shipped across the cut may reach a window
 * the floor has passed, and a replay could then write its partial copy again (the runtime's
 * store still keeps the first, complete one).
 */
export class EmittedWindows {
  /** Ids of the (window, key) pairs written, grouped by window end (few ends are in flight). */
  private readonly byEnd = new Map<number, Set<string>>();
  private count = 0;
  private readonly committedWm: number[];
  constructor(sources: number) { this.committedWm = new Array(sources).fill(-Infinity); }

  /** True the first time (window, key) is seen. */
  first(r: TaskResult): boolean {
    if (!r.window) return true;
    let ids = this.byEnd.get(r.window.end);
    if (!ids) this.byEnd.set(r.window.end, ids = new Set());
    const id = `${r.window.start}|${JSON.stringify(r.key)}`;
    if (ids.has(id)) return false;
    ids.add(id);
    this.count++;
    return true;
  }

  /** A record of `src` with watermark `wm` was committed: forget what can no longer come again. */
  committed(src: number, wm: number): void {
    if (src < 0 || !(wm > this.committedWm[src])) return;
    this.committedWm[src] = wm;
    let floor = Infinity;
    for (const w of this.committedWm) if (w < floor) floor = w;
    if (floor === -Infinity) return;
    for (const [end, ids] of this.byEnd) {
      if (end > floor) continue;
      this.count -= ids.size;
      this.byEnd.delete(end);
    }
  }

  get size(): number { return this.count; }
}
