import type { Writable } from 'node:stream';
import type { Sink, TaskResult } from './sink.ts';

/** Time of a window start in UTC, e.g. 2026-11-23 12:00:00 (fractions only when present). */
export function formatTime(sec: number): string {
  const iso = new Date(sec * 1000).toISOString();
  const frac = sec % 1 !== 0;
  return iso.slice(0, 10) + ' ' + iso.slice(11, frac ? 23 : 19);
}

function formatValue(v: unknown): string {
  if (typeof v === 'number') return Number.isInteger(v) ? String(v) : v.toFixed(6).replace(/0+$/, '').replace(/\.$/, '');
  if (typeof v === 'string') return v;
  return JSON.stringify(v) ?? 'null';
}

function formatKey(k: unknown): string {
  if (k === null || k === undefined) return '-';
  return typeof k === 'string' ? k : JSON.stringify(k);
}

/**
 * Results as an aligned table for people, one window at a time so that long runs show results
 * as they come; long values are cut to the terminal width.
 */
export class TableSink implements Sink {
  private readonly out: Writable;
  private readonly width: number;
  private rows: [string, string, string][] = [];
  private currentWindow = '';
  private headerDone = false;
  count = 0;

  constructor(out: Writable, width = 120) {
    this.out = out;
    this.width = width;
  }

  write(r: TaskResult): void {
    const w = r.window ? `${formatTime(r.window.start)} +${+(r.window.end - r.window.start).toFixed(6)}s` : '-';
    if (w !== this.currentWindow) { this.flushRows(); this.currentWindow = w; }
    this.rows.push([w, formatKey(r.key), formatValue(r.value)]);
    this.count++;
  }

  private flushRows(): void {
    if (this.rows.length === 0) return;
    const wW = Math.max(12, ...this.rows.map((r) => r[0].length));
    const kW = Math.min(46, Math.max(3, ...this.rows.map((r) => r[1].length)));
    let s = '';
    if (!this.headerDone) {
      s += `${'window (UTC)'.padEnd(wW)}  ${'key'.padEnd(kW)}  value\n`;
      this.headerDone = true;
    }
    const room = Math.max(20, this.width - wW - kW - 4);
    for (const [w, k, v] of this.rows) {
      s += `${w.padEnd(wW)}  ${k.padEnd(kW)}  ${v.length > room ? v.slice(0, room - 1) + '…' : v}\n`;
    }
    this.rows = [];
    this.out.write(s);
  }

  async close(): Promise<void> {
    this.flushRows();
    if (this.count === 0) this.out.write('(no results)\n');
  }
}
