/**
 * `--sink prometheus://HOST:PORT`: serves the latest value of every result as Prometheus gauges
 * on http://HOST:PORT/metrics (prom-client, its own registry). A result's numeric value fields
 * become gauges named `<task>_<kind>_<field>` (or `<task>_<field>` when the key has no `kind`),
 * labelled by the key's other ids; `ts` sets `<...>_last_seen_seconds`, number arrays (a flow's
 * path) a `<...>_<field>_info` gauge with the array as label. A result whose value says
 * `event: 'expired'` removes its key's series. `?linger=SECONDS` keeps serving that long after
 * the run ends so that a scrape can still see the final values.
 */
import { createServer, type Server } from 'node:http';
import { Gauge, Registry } from 'prom-client';
import { IntstreamError } from '../errors.ts';
import type { Sink, TaskResult } from './sink.ts';

const metricName = (s: string) => s.replace(/[^a-zA-Z0-9_]/g, '_').replace(/^([0-9])/, '_$1');

export class PrometheusSink implements Sink {
  readonly registry = new Registry();
  private readonly gauges = new Map<string, Gauge<string>>();
  /** Per series key: the info label value set last (to remove it when it changes). */
  private readonly infos = new Map<string, string>();
  private server: Server | null = null;
  private readonly host: string;
  private readonly port: number;
  private readonly lingerMs: number;

  constructor(host: string, port: number, lingerSec = 0) {
    this.host = host; this.port = port; this.lingerMs = lingerSec * 1000;
  }

  /** Starts serving /metrics; resolves with the bound port. */
  async listen(): Promise<number> {
    const server = createServer((req, res) => {
      if (req.url?.split('?')[0] !== '/metrics') { res.statusCode = 404; res.end('see /metrics\n'); return; }
      this.registry.metrics().then((body) => {
        res.setHeader('Content-Type', this.registry.contentType);
        res.end(body);
      }, (e) => { res.statusCode = 500; res.end(String(e)); });
    });
    await new Promise<void>((res, rej) => {
      server.once('error', (e) => rej(new IntstreamError('SINK', `prometheus sink: cannot listen on ${this.host}:${this.port}: ${e.message}`)));
      server.listen(this.port, this.host, () => res());
    });
    this.server = server;
    return (server.address() as { port: number }).port;
  }

  private gauge(name: string, labels: string[], help: string): Gauge<string> {
    const id = `${name}\u0000${labels.join(',')}`;
    let g = this.gauges.get(id);
    if (!g) {
      // The same metric name with another label set would be refused by the registry.
      let n = name;
      for (const [other] of this.gauges) if (other.split('\u0000')[0] === n) n = `${name}_${labels.length}`;
      g = new Gauge({ name: n, help, labelNames: labels, registers: [this.registry] });
      this.gauges.set(id, g);
    }
    return g;
  }

  write(r: TaskResult): void {
    const labels: Record<string, string> = {};
    let prefix = metricName(r.task);
    const k = r.key;
    if (k !== null && typeof k === 'object' && !Array.isArray(k)) {
      for (const [n, v] of Object.entries(k as Record<string, unknown>)) {
        if (n === 'kind' && typeof v === 'string') prefix += '_' + metricName(v);
        else if (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean') labels[metricName(n)] = String(v);
      }
    } else if (k !== null && k !== undefined) labels.key = String(k);
    const names = Object.keys(labels).sort();
    const seriesId = `${prefix}\u0000${names.map((n) => labels[n]).join('\u0000')}`;
    const v = r.value;
    if (typeof v === 'number') { this.gauge(`${prefix}_value`, names, `${r.task} result`).set(labels, v); return; }
    if (v === null || typeof v !== 'object' || Array.isArray(v)) return;
    const obj = v as Record<string, unknown>;
    if (obj.event === 'expired') {
      for (const [id, g] of this.gauges) if (id.startsWith(prefix + '_') && id.endsWith('\u0000' + names.join(','))) {
        try { g.remove(labels); } catch { /* other label set */ }
      }
      const info = this.infos.get(seriesId);
      if (info !== undefined) this.infos.delete(seriesId);
      return;
    }
    for (const [n, x] of Object.entries(obj)) {
      if (n === 'ts' && typeof x === 'number') { this.gauge(`${prefix}_last_seen_seconds`, names, `${r.task}: event time of the last result, seconds since the epoch`).set(labels, x); continue; }
      if (n === 'last_seen') continue;
      if (typeof x === 'number' && Number.isFinite(x)) this.gauge(`${prefix}_${metricName(n)}`, names, `${r.task}: ${n}`).set(labels, x);
      else if (typeof x === 'boolean') this.gauge(`${prefix}_${metricName(n)}`, names, `${r.task}: ${n}`).set(labels, x ? 1 : 0);
      else if (Array.isArray(x) && x.every((e) => typeof e === 'number')) {
        const infoLabels = [...names, metricName(n)].sort();
        const g = this.gauge(`${prefix}_${metricName(n)}_info`, infoLabels, `${r.task}: ${n} (as the label ${n})`);
        const text = x.join(',');
        const id = `${seriesId}\u0000${n}`;
        const prev = this.infos.get(id);
        if (prev !== undefined && prev !== text) g.remove({ ...labels, [metricName(n)]: prev });
        this.infos.set(id, text);
        g.set({ ...labels, [metricName(n)]: text }, 1);
      }
    }
  }

  async close(): Promise<void> {
    if (this.lingerMs > 0) await new Promise((r) => setTimeout(r, this.lingerMs));
    const s = this.server;
    this.server = null;
    if (s) await new Promise<void>((r) => { s.close(() => r()); s.closeAllConnections(); });
  }
}
