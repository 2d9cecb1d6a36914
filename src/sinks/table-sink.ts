import type { Writable } from 'node:stream';
import type { Sink, TaskResult } from './sink.ts';
import { TextOutput } from './jsonl-sink.ts';

/** Milliseconds since the epoch that a Date can hold (ECMA-262 time value range). */
const MAX_DATE_MS = 8.64e15;

/**
 * Time of a window start in UTC, e.g. 2026-11-23 12:00:00 (milliseconds when `frac`, or when the
 * time has a fraction); null when it is no date (a bad timestamp in the input: beyond ±275,000
 * years, or not a number).
 */
export function formatTime(sec: number, frac = sec % 1 !== 0): string | null {
  const ms = sec * 1000;
  if (!(Math.abs(ms) <= MAX_DATE_MS)) return null;
  const iso = new Date(ms).toISOString();
  // years beyond 9999 are written +YYYYYY-: keep the date part whole
  const t = iso.indexOf('T');
  return iso.slice(0, t) + ' ' + iso.slice(t + 1, frac ? t + 13 : t + 9);
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

export interface TableOptions {
  /** Where warnings go (a window start that is no date); default: an `intstream: warning:` line on stderr. */
  warn?: (message: string) => void;
}

/** Rows that size the columns: the first ones, up to this many (or those of the first 100 ms). */
const SIZING_ROWS = 1000;
/** The value's share of a line that a long key may not take; the key column is never capped below KEY_MIN. */
const VALUE_MIN = 20;
const KEY_MIN = 46;

/**
 * Results as an aligned table for people, streamed: each row is written as it comes (within
 * 100 ms, in chunks, with the stream's backpressure: TextOutput), so a window's rows show when
 * the window closes and window-less events when they happen, in bounded memory whatever the
 * number of rows. The columns are sized from the first rows (at most 1000: those that came
 * within 100 ms of the first), to the longest shown; a longer one later widens its column from
 * that row on (rows already written stay as they are). The key column takes at most what leaves
 * a line of the terminal's width room for a 20-character value (never less than 46): a longer
 * key is cut with '…', as a value is at the end of the line. A window start that is no date (a
 * bad timestamp in the input) prints as seconds since the epoch, with one warning.
 */
export class TableSink implements Sink {
  private readonly text: TextOutput;
  private readonly width: number;
  private readonly warn: (message: string) => void;
  /** Rows held until the columns are sized; null once they are. */
  private sizing: [string, string, string][] | null = [];
  private wW = 12;
  private kW = 3;
  private room = 20;
  private warned = false;
  count = 0;

  constructor(out: Writable, width = 120, options: TableOptions = {}) {
    this.text = new TextOutput(out);
    this.text.onTimer = () => this.size();
    this.width = width;
    this.warn = options.warn ?? ((m) => { process.stderr.write(`intstream: warning: ${m}\n`); });
  }

  private windowText(w: { start: number; end: number }): string {
    const len = w.end - w.start;
    const frac = w.start % 1 !== 0 || len % 1 !== 0;
    let t = formatTime(w.start, frac);
    if (t === null) {
      if (!this.warned) {
        this.warned = true;
        this.warn(`window start ${w.start} is not a date (a bad timestamp in the input?): the table shows it as seconds since the epoch`);
      }
      t = String(w.start);
    }
    return `${t} +${+len.toFixed(6)}s`;
  }

  write(r: TaskResult): void | Promise<void> {
    const row: [string, string, string] = [r.window ? this.windowText(r.window) : '-', formatKey(r.key), formatValue(r.value)];
    this.count++;
    const sizing = this.sizing;
    if (sizing !== null) {
      // the first rows, up to SIZING_ROWS or 100 ms, size the columns
      if (sizing.length >= SIZING_ROWS) this.size();
      else {
        sizing.push(row);
        this.text.soon();
        return this.text.ready;
      }
    }
    return this.text.add(this.line(row));
  }

  private line(row: [string, string, string]): string {
    if (row[0].length > this.wW || (row[1].length > this.kW && this.kW < this.keyCap())) this.fit(row[0].length, row[1].length);
    const k = row[1], v = row[2], kW = this.kW, room = this.room;
    return `${row[0].padEnd(this.wW)}  ${k.length > kW ? k.slice(0, kW - 1) + '…' : k.padEnd(kW)}  ${v.length > room ? v.slice(0, room - 1) + '…' : v}\n`;
  }

  private keyCap(): number {
    return Math.max(KEY_MIN, this.width - this.wW - 4 - VALUE_MIN);
  }

  /** Widens the columns to hold a window text and a key this long (the key up to its cap). */
  private fit(w: number, k: number): void {
    if (w > this.wW) this.wW = w;
    if (k > this.kW) this.kW = Math.min(k, this.keyCap());
    this.room = Math.max(VALUE_MIN, this.width - this.wW - this.kW - 4);
  }

  /** Sizes the columns from the rows held, writes the header and them. */
  private size(): void {
    const rows = this.sizing;
    if (rows === null || rows.length === 0) return;
    this.sizing = null;
    let wW = 12, kW = 3;
    for (const r of rows) {
      if (r[0].length > wW) wW = r[0].length;
      if (r[1].length > kW) kW = r[1].length;
    }
    this.fit(wW, kW);
    let s = `${'window (UTC)'.padEnd(this.wW)}  ${'key'.padEnd(this.kW)}  value\n`;
    for (const r of rows) s += this.line(r);
    void this.text.add(s);
  }

  async close(): Promise<void> {
    this.size();
    if (this.count === 0) void this.text.add('(no results)\n');
    await this.text.end();
  }
}
