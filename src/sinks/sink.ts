/**
 * Where a task's results go. A result is the JSONL contract object (docs/contracts.md):
 * {task, window: {start, end} | null, key, value}.
 */
export interface TaskResult {
  task: string;
  window: { start: number; end: number } | null;
  key: unknown;
  value: unknown;
}

export interface Sink {
  write(r: TaskResult): void | Promise<void>;
  close(): Promise<void>;
}

/** The contract form of whatever left the global stage. */
export function toResult(task: string, item: unknown, key: unknown): TaskResult {
  if (item && typeof item === 'object' && 'window' in item && 'value' in item) {
    const r = item as { window: { start: number; end: number }; key?: unknown; value: unknown };
    return { task, window: { start: r.window.start, end: r.window.end }, key: r.key ?? null, value: r.value };
  }
  return { task, window: null, key: key ?? null, value: item };
}
