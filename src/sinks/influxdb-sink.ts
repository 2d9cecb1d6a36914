/**
 * `--sink influxdb://HOST:PORT/DB`: results as InfluxDB line protocol over HTTP (`POST
 * /write?db=DB&precision=u`, InfluxDB 1.x; 2.x serves the same endpoint for v1 clients).
 * Points as in result-point.ts: measurement = task name, key ids and string values as tags,
 * numeric values as fields, the result's time (value.ts, else window start) as the point time.
 *
 * Batched: a write is sent when `batch` lines (default 5000) are buffered, after `flushMs`
 * (default 1000 ms), and at close. A failed write (network error, 5xx, 429) is retried up to
 * `retries` times (default 5) with doubling delays from 200 ms; a 4xx other than 429, or the
 * last failure, stops the run with a SINK error. At most one write is in flight and at most one
 * batch waits: write() returns a promise when the sink is full (backpressure, bounded memory).
 */
import { IntstreamError } from '../errors.ts';
import { toPoint } from './result-point.ts';
import type { Sink, TaskResult } from './sink.ts';

export interface InfluxOptions {
  url: string; // http://HOST:PORT
  db: string;
  batch?: number;
  flushMs?: number;
  retries?: number;
  /** Per-request timeout. */
  timeoutMs?: number;
}

const esc = (s: string) => s.replace(/[,= \\]/g, (c) => '\\' + c);
const escMeasurement = (s: string) => s.replace(/[, \\]/g, (c) => '\\' + c);
const escStr = (s: string) => '"' + s.replace(/["\\]/g, (c) => '\\' + c) + '"';

/** One result as a line of line protocol, time in microseconds; null when it has no fields. */
export function toLine(r: TaskResult): string | null {
  const pt = toPoint(r);
  if (pt.fields.length === 0) return null;
  let s = escMeasurement(pt.measurement);
  for (const [k, v] of pt.tags) if (v !== '') s += `,${esc(k)}=${esc(v)}`;
  s += ' ';
  s += pt.fields.map(([k, v]) => `${esc(k)}=${typeof v === 'number' ? (Number.isInteger(v) ? `${v}i` : String(v)) : typeof v === 'boolean' ? String(v) : escStr(v)}`).join(',');
  s += ` ${Math.round(pt.time * 1e6)}`;
  return s;
}

export class InfluxDbSink implements Sink {
  private readonly o: Required<InfluxOptions>;
  private lines: string[] = [];
  private inFlight: Promise<void> | null = null;
  private timer: NodeJS.Timeout | null = null;
  private failure: Error | null = null;
  written = 0;
  retried = 0;

  constructor(o: InfluxOptions) {
    this.o = { batch: 5000, flushMs: 1000, retries: 5, timeoutMs: 10_000, ...o };
  }

  write(r: TaskResult): void | Promise<void> {
    if (this.failure) throw this.failure;
    const line = toLine(r);
    if (line === null) return;
    this.lines.push(line);
    if (this.lines.length >= this.o.batch) return this.flush();
    if (this.timer === null) {
      this.timer = setTimeout(() => { this.timer = null; this.flush().catch((e) => { this.failure = e; }); }, this.o.flushMs);
      this.timer.unref();
    }
  }

  /** Sends what is buffered (waits for the write in flight first). */
  async flush(): Promise<void> {
    if (this.inFlight) await this.inFlight;
    if (this.failure) throw this.failure;
    if (this.lines.length === 0) return;
    const body = this.lines.join('\n') + '\n';
    const n = this.lines.length;
    this.lines = [];
    this.inFlight = this.post(body).then(() => { this.written += n; }).finally(() => { this.inFlight = null; });
    await this.inFlight;
  }

  private async post(body: string): Promise<void> {
    const url = `${this.o.url}/write?db=${encodeURIComponent(this.o.db)}&precision=u`;
    let delay = 200;
    for (let attempt = 0; ; attempt++) {
      let why: string;
      try {
        const res = await fetch(url, { method: 'POST', body, signal: AbortSignal.timeout(this.o.timeoutMs) });
        if (res.status === 204 || res.status === 200) { await res.arrayBuffer(); return; }
        const text = (await res.text()).slice(0, 200);
        why = `HTTP ${res.status}: ${text.trim()}`;
        if (res.status >= 400 && res.status < 500 && res.status !== 429) {
          throw new IntstreamError('SINK', `influxdb ${this.o.url} db ${this.o.db}: write refused: ${why}`);
        }
      } catch (e) {
        if (e instanceof IntstreamError) throw e;
        why = (e as Error).message;
      }
      if (attempt >= this.o.retries) {
        throw new IntstreamError('SINK', `influxdb ${this.o.url} db ${this.o.db}: write failed after ${attempt + 1} attempts: ${why}`, 'is influxd running and the database created?');
      }
      this.retried++;
      await new Promise((r) => setTimeout(r, delay));
      delay *= 2;
    }
  }

  async close(): Promise<void> {
    if (this.timer) { clearTimeout(this.timer); this.timer = null; }
    await this.flush();
  }
}
