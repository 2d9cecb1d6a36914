/**
 * The runtime's embedded storage (node:sqlite, one file): agents, GSP workers, tasks and their
 * results. Tasks and their state survive a restart. Results are unique per (task, window, key):
 * a replayed copy from a GSP worker that died is ignored (the first copy wins), and counted.
 * Also kept: how often each agent registered (its incarnation: a resumed local stage numbers its
 * messages above every earlier start's), each agent's resume point per task (resume-point.ts),
 * and per task what the runtime set aside (task_counters: results_duplicates, results_skipped,
 * results_expired, sse_clients_dropped), so a restart does not reset them.
 */
import { statSync } from 'node:fs';
import { DatabaseSync } from 'node:sqlite';
import { IntstreamError } from '../errors.ts';
import type { TaskSpec } from '../apps/task-spec.ts';

export interface StoredResult {
  seq: number;
  task: string;
  window: { start: number; end: number } | null;
  key: unknown;
  value: unknown;
}

export class RuntimeStore {
  private readonly db: DatabaseSync;
  readonly file: string;
  /** Device and inode of the file opened, to notice it deleted or replaced under us. */
  private readonly identity: string;

  constructor(file: string) {
    this.file = file;
    try {
      this.db = new DatabaseSync(file);
      this.migrate();
    } catch (e) {
      throw new IntstreamError('USAGE', `--db ${file}: not a usable intstream runtime database (${(e as Error).message})`, 'give another --db file, or move this one away to start afresh');
    }
    this.identity = this.fileIdentity() ?? '';
  }

  private fileIdentity(): string | null {
    try { const st = statSync(this.file); return `${st.dev}:${st.ino}`; } catch { return null; }
  }

  /**
   * Null while the database file is the one opened; otherwise why not (deleted, or replaced by
   * another file): writes would go to a file no restart will read, so the runtime stops.
   */
  lost(): string | null {
    const now = this.fileIdentity();
    if (now === null) return `${this.file} was deleted`;
    return now === this.identity ? null : `${this.file} was replaced by another file`;
  }

  private migrate(): void {
    this.db.exec(`
      PRAGMA journal_mode = WAL;
      CREATE TABLE IF NOT EXISTS agents (name TEXT PRIMARY KEY, source TEXT, labels TEXT, registered_at INTEGER, last_seen INTEGER, info TEXT);
      CREATE TABLE IF NOT EXISTS workers (name TEXT PRIMARY KEY, last_seen INTEGER, info TEXT);
      CREATE TABLE IF NOT EXISTS tasks (id TEXT PRIMARY KEY, spec TEXT, status TEXT, created_at INTEGER);
      CREATE TABLE IF NOT EXISTS task_agents (task TEXT, agent TEXT, counters TEXT, PRIMARY KEY (task, agent));
      CREATE TABLE IF NOT EXISTS task_windows (task TEXT, agent TEXT, wstart REAL, read INTEGER, after_filter INTEGER, local_out INTEGER,
        PRIMARY KEY (task, agent, wstart));
      CREATE TABLE IF NOT EXISTS results (seq INTEGER PRIMARY KEY AUTOINCREMENT, task TEXT, wstart REAL, wend REAL, key TEXT, value TEXT,
        UNIQUE (task, wstart, wend, key));
    `);
    // stored-at time of each result (retention); stores made before it was added get it now
    const cols = this.db.prepare('PRAGMA table_info(results)').all() as { name: string }[];
    if (!cols.some((c) => c.name === 'at')) this.db.exec(`ALTER TABLE results ADD COLUMN at INTEGER NOT NULL DEFAULT ${Date.now()}`);
    this.db.exec('CREATE INDEX IF NOT EXISTS results_at ON results (at)');
    // added later: agents' registrations, resume points, per-task counters of what was set aside
    const agentCols = this.db.prepare('PRAGMA table_info(agents)').all() as { name: string }[];
    if (!agentCols.some((c) => c.name === 'incarnation')) this.db.exec('ALTER TABLE agents ADD COLUMN incarnation INTEGER NOT NULL DEFAULT 0');
    const taCols = this.db.prepare('PRAGMA table_info(task_agents)').all() as { name: string }[];
    if (!taCols.some((c) => c.name === 'checkpoint')) this.db.exec('ALTER TABLE task_agents ADD COLUMN checkpoint TEXT');
    this.db.exec('CREATE TABLE IF NOT EXISTS task_counters (task TEXT, name TEXT, value INTEGER NOT NULL, PRIMARY KEY (task, name))');
  }

  /** An agent (re)starting: registered, its incarnation (1 at its first start) counted up and returned. */
  registerAgent(name: string, source: string, labels: Record<string, string>): number {
    const now = Date.now();
    const r = this.db.prepare(`INSERT INTO agents (name, source, labels, registered_at, last_seen, info, incarnation) VALUES (?, ?, ?, ?, ?, '{}', 1)
      ON CONFLICT (name) DO UPDATE SET source = excluded.source, labels = excluded.labels, registered_at = excluded.registered_at, last_seen = excluded.last_seen, incarnation = agents.incarnation + 1
      RETURNING incarnation`).get(name, source, JSON.stringify(labels), now, now) as { incarnation: number };
    return r.incarnation;
  }

  /** An agent's resume point of a task (resume-point.ts), replacing the one before. */
  setCheckpoint(task: string, agent: string, checkpoint: unknown): void {
    this.db.prepare(`INSERT INTO task_agents (task, agent, counters, checkpoint) VALUES (?, ?, 'null', ?) ON CONFLICT (task, agent) DO UPDATE SET checkpoint = excluded.checkpoint`)
      .run(task, agent, JSON.stringify(checkpoint));
  }

  /** The resume points an agent reported, by task. */
  checkpoints(agent: string): Map<string, any> {
    const out = new Map<string, any>();
    for (const r of this.db.prepare('SELECT task, checkpoint FROM task_agents WHERE agent = ? AND checkpoint IS NOT NULL').all(agent) as any[]) out.set(r.task, JSON.parse(r.checkpoint));
    return out;
  }

  /** A task's resume points, by agent. */
  taskCheckpoints(task: string): Record<string, any> {
    const out: Record<string, any> = {};
    for (const r of this.db.prepare('SELECT agent, checkpoint FROM task_agents WHERE task = ? AND checkpoint IS NOT NULL').all(task) as any[]) out[r.agent] = JSON.parse(r.checkpoint);
    return out;
  }

  /** Adds to a task's counters of what the runtime set aside (see the top of this file). */
  bumpCounters(task: string, by: Record<string, number>): void {
    const st = this.db.prepare('INSERT INTO task_counters (task, name, value) VALUES (?, ?, ?) ON CONFLICT (task, name) DO UPDATE SET value = value + excluded.value');
    for (const [k, v] of Object.entries(by)) if (v > 0) st.run(task, k, v);
  }

  taskCounters(task: string): Record<string, number> {
    const out: Record<string, number> = {};
    for (const r of this.db.prepare('SELECT name, value FROM task_counters WHERE task = ?').all(task) as any[]) out[r.name] = r.value;
    return out;
  }

  upsertAgent(name: string, source: string, labels: Record<string, string>, info: unknown): void {
    const now = Date.now();
    this.db.prepare(`INSERT INTO agents (name, source, labels, registered_at, last_seen, info) VALUES (?, ?, ?, ?, ?, ?)
      ON CONFLICT (name) DO UPDATE SET source = excluded.source, labels = excluded.labels, last_seen = excluded.last_seen, info = excluded.info`)
      .run(name, source, JSON.stringify(labels), now, now, JSON.stringify(info ?? {}));
  }

  agents(): { name: string; source: string; labels: Record<string, string>; registered_at: number; last_seen: number; info: any }[] {
    return (this.db.prepare('SELECT * FROM agents ORDER BY name').all() as any[]).map((r) => ({ ...r, labels: JSON.parse(r.labels), info: JSON.parse(r.info) }));
  }

  upsertWorker(name: string, info: unknown): void {
    this.db.prepare(`INSERT INTO workers (name, last_seen, info) VALUES (?, ?, ?) ON CONFLICT (name) DO UPDATE SET last_seen = excluded.last_seen, info = excluded.info`)
      .run(name, Date.now(), JSON.stringify(info ?? {}));
  }

  workers(): { name: string; last_seen: number; info: any }[] {
    return (this.db.prepare('SELECT * FROM workers ORDER BY name').all() as any[]).map((r) => ({ ...r, info: JSON.parse(r.info) }));
  }

  addTask(spec: TaskSpec): void {
    this.db.prepare('INSERT INTO tasks (id, spec, status, created_at) VALUES (?, ?, ?, ?)').run(spec.id, JSON.stringify(spec), spec.status, spec.createdAt);
  }

  setStatus(id: string, status: TaskSpec['status']): void {
    this.db.prepare('UPDATE tasks SET status = ? WHERE id = ?').run(status, id);
  }

  tasks(): TaskSpec[] {
    return (this.db.prepare('SELECT spec, status FROM tasks ORDER BY created_at, id').all() as any[]).map((r) => ({ ...JSON.parse(r.spec), status: r.status }));
  }

  task(id: string): TaskSpec | undefined {
    const r = this.db.prepare('SELECT spec, status FROM tasks WHERE id = ?').get(id) as any;
    return r ? { ...JSON.parse(r.spec), status: r.status } : undefined;
  }

  setAgentCounters(task: string, agent: string, counters: unknown): void {
    this.db.prepare(`INSERT INTO task_agents (task, agent, counters) VALUES (?, ?, ?) ON CONFLICT (task, agent) DO UPDATE SET counters = excluded.counters`)
      .run(task, agent, JSON.stringify(counters));
  }

  agentCounters(task: string): Record<string, any> {
    const out: Record<string, any> = {};
    for (const r of this.db.prepare('SELECT agent, counters FROM task_agents WHERE task = ?').all(task) as any[]) out[r.agent] = JSON.parse(r.counters);
    return out;
  }

  /** An agent's per-window counters of a task, running totals: a newer report of a window replaces the older. */
  setAgentWindows(task: string, agent: string, windows: [number, number, number, number][]): void {
    const st = this.db.prepare(`INSERT INTO task_windows (task, agent, wstart, read, after_filter, local_out) VALUES (?, ?, ?, ?, ?, ?)
      ON CONFLICT (task, agent, wstart) DO UPDATE SET read = excluded.read, after_filter = excluded.after_filter, local_out = excluded.local_out`);
    this.db.exec('BEGIN');
    try {
      for (const [s, r, a, o] of windows) st.run(task, agent, s, r, a, o);
      this.db.exec('COMMIT');
    } catch (e) {
      this.db.exec('ROLLBACK');
      throw e;
    }
  }

  /** Per window of `size` s: the local counters summed over agents, and the stored results (global out) by the window their start falls in. */
  windowCounters(task: string, size: number): { start: number; end: number; read: number; after_filter: number; local_out: number; global_out: number; reduction: number | null }[] {
    const by = new Map<number, { start: number; end: number; read: number; after_filter: number; local_out: number; global_out: number; reduction: number | null }>();
    const at = (start: number) => {
      let w = by.get(start);
      if (!w) { w = { start, end: start + size, read: 0, after_filter: 0, local_out: 0, global_out: 0, reduction: null }; by.set(start, w); }
      return w;
    };
    for (const r of this.db.prepare('SELECT wstart, SUM(read) AS read, SUM(after_filter) AS after_filter, SUM(local_out) AS local_out FROM task_windows WHERE task = ? GROUP BY wstart').all(task) as any[]) {
      const w = at(r.wstart);
      w.read = r.read; w.after_filter = r.after_filter; w.local_out = r.local_out;
    }
    for (const r of this.db.prepare('SELECT wstart, COUNT(*) AS n FROM results WHERE task = ? AND wstart IS NOT NULL GROUP BY wstart').all(task) as any[]) {
      at(Math.floor(r.wstart / size) * size).global_out += r.n;
    }
    const out = [...by.values()].sort((a, b) => a.start - b.start);
    for (const w of out) w.reduction = w.read > 0 ? 1 - w.local_out / w.read : null;
    return out;
  }

  /** addResult for many, in one transaction (one Kafka batch: thousands of results per second). */
  addResults(task: string, rs: readonly { window: { start: number; end: number } | null; key: unknown; value: unknown }[]): StoredResult[] {
    const stored: StoredResult[] = [];
    if (rs.length === 0) return stored;
    this.db.exec('BEGIN');
    try {
      for (const r of rs) { const s = this.addResult(task, r); if (s) stored.push(s); }
      this.db.exec('COMMIT');
    } catch (e) {
      this.db.exec('ROLLBACK');
      throw e;
    }
    return stored;
  }

  /** Stores a result unless its (task, window, key) is there already; true when it was new. */
  addResult(task: string, r: { window: { start: number; end: number } | null; key: unknown; value: unknown }): StoredResult | null {
    const info = this.db.prepare('INSERT OR IGNORE INTO results (task, wstart, wend, key, value, at) VALUES (?, ?, ?, ?, ?, ?)')
      .run(task, r.window?.start ?? null, r.window?.end ?? null, JSON.stringify(r.key ?? null), JSON.stringify(r.value), Date.now());
    if (info.changes === 0) return null;
    return { seq: Number(info.lastInsertRowid), task, window: r.window, key: r.key ?? null, value: r.value };
  }

  /** The most recent `limit` results of a task (after `afterSeq` when given), oldest first. */
  results(task: string, limit: number, afterSeq = 0): StoredResult[] {
    const rows = this.db.prepare('SELECT * FROM results WHERE task = ? AND seq > ? ORDER BY seq DESC LIMIT ?').all(task, afterSeq, limit) as any[];
    return rows.reverse().map((r) => this.row(task, r));
  }

  /** A page of a task's results from the start: the first `limit` stored after `afterSeq`, in order. */
  resultsPage(task: string, limit: number, afterSeq: number): StoredResult[] {
    const rows = this.db.prepare('SELECT * FROM results WHERE task = ? AND seq > ? ORDER BY seq LIMIT ?').all(task, afterSeq, limit) as any[];
    return rows.map((r) => this.row(task, r));
  }

  private row(task: string, r: any): StoredResult {
    return { seq: r.seq, task, window: r.wstart === null ? null : { start: r.wstart, end: r.wend }, key: JSON.parse(r.key), value: JSON.parse(r.value) };
  }

  /** Forgets results stored before `beforeMs` (retention), counted per task in results_expired; returns how many. */
  expireResults(beforeMs: number): number {
    this.db.exec('BEGIN');
    try {
      const per = this.db.prepare('SELECT task, COUNT(*) AS n FROM results WHERE at < ? GROUP BY task').all(beforeMs) as { task: string; n: number }[];
      const n = Number(this.db.prepare('DELETE FROM results WHERE at < ?').run(beforeMs).changes);
      for (const r of per) this.bumpCounters(r.task, { results_expired: r.n });
      this.db.exec('COMMIT');
      return n;
    } catch (e) {
      this.db.exec('ROLLBACK');
      throw e;
    }
  }

  /** Forgets a task: its spec, results, counters and windows. */
  deleteTask(id: string): void {
    this.db.exec('BEGIN');
    try {
      for (const t of ['results', 'task_agents', 'task_windows', 'task_counters']) this.db.prepare(`DELETE FROM ${t} WHERE task = ?`).run(id);
      this.db.prepare('DELETE FROM tasks WHERE id = ?').run(id);
      this.db.exec('COMMIT');
    } catch (e) {
      this.db.exec('ROLLBACK');
      throw e;
    }
  }

  resultCount(task: string): number {
    return (this.db.prepare('SELECT COUNT(*) AS n FROM results WHERE task = ?').get(task) as any).n;
  }

  close(): void { this.db.close(); }
}
