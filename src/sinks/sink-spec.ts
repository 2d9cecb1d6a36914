/**
 * The one sink registry, for `run --sink`, `submit --sink` and GSP workers alike: a spec names
 * where results go, and every sink works in both deployments.
 *   stdout                                   JSON Lines on standard output
 *   jsonl:FILE                               JSON Lines appended to FILE
 *   table:FILE                               the aligned table appended to FILE (table:- for stdout)
 *   influxdb://HOST:PORT/DB[?batch=N]        line protocol over HTTP (influxdb-sink.ts)
 *   prometheus://HOST:PORT[?linger=SECONDS]  gauges on /metrics (prometheus-sink.ts)
 *   kafka://HOST:PORT/TOPIC                  JSON records (kafka-sink.ts)
 * A new network sink is one file implementing Sink plus one registerSink call here.
 */
import { createWriteStream } from 'node:fs';
import { IntstreamError } from '../errors.ts';
import { JsonlSink } from './jsonl-sink.ts';
import type { Sink } from './sink.ts';
import { TableSink } from './table-sink.ts';

const EXAMPLES = 'e.g. stdout, jsonl:results.jsonl, table:-, influxdb://127.0.0.1:8086/telemetry, prometheus://127.0.0.1:9464, kafka://127.0.0.1:9092/events';

/** A network sink's address, from its URL spec. */
export interface SinkUrl { u: URL; host: string; port: number; path: string }

interface NetworkSink {
  /** What the path must hold ('a database', 'a topic'), or null when it takes none. */
  needs: string | null;
  open(spec: string, at: SinkUrl): Promise<Sink>;
}

// Network sinks, by URL scheme; each loads its module when a spec names it.
const network = new Map<string, NetworkSink>();

/** Adds a network sink `scheme://HOST:PORT[/PATH]` (a new sink: its file plus this call). */
export function registerSink(scheme: string, sink: NetworkSink): void {
  network.set(`${scheme}:`, sink);
}

registerSink('influxdb', {
  needs: 'a database: influxdb://HOST:PORT/DB',
  open: async (_spec, { u, path }) => {
    const { InfluxDbSink } = await import('./influxdb-sink.ts');
    return new InfluxDbSink({ url: `http://${u.host}`, db: path, batch: Number(u.searchParams.get('batch') ?? 5000) });
  },
});
registerSink('prometheus', {
  needs: null,
  open: async (_spec, { u, host, port }) => {
    const { PrometheusSink } = await import('./prometheus-sink.ts');
    const s = new PrometheusSink(host, port, Number(u.searchParams.get('linger') ?? 0));
    await s.listen();
    return s;
  },
});
registerSink('kafka', {
  needs: 'a topic: kafka://HOST:PORT/TOPIC',
  open: async (_spec, { u, path }) => {
    const { KafkaSink } = await import('./kafka-sink.ts');
    const s = new KafkaSink(u.host, path);
    await s.open();
    return s;
  },
});

/** A parsed spec: a plain output (stdout, jsonl:, table:) or a network sink's URL. */
type Parsed = { kind: 'stdout' } | { kind: 'jsonl' | 'table'; path: string } | ({ kind: 'url'; sink: NetworkSink } & SinkUrl);

function parse(spec: string): Parsed {
  if (spec === 'stdout') return { kind: 'stdout' };
  const plain = /^(jsonl|table):(.+)$/.exec(spec);
  if (plain) return { kind: plain[1] as 'jsonl' | 'table', path: plain[2] };
  let u: URL;
  try { u = new URL(spec); } catch { throw new IntstreamError('USAGE', `--sink ${spec}: not a sink`, EXAMPLES); }
  const sink = network.get(u.protocol);
  if (!sink) throw new IntstreamError('USAGE', `--sink ${spec}: unknown sink '${u.protocol.replace(/:$/, '')}'`, EXAMPLES);
  const host = u.hostname.replace(/^\[|\]$/g, '');
  const port = Number(u.port);
  const path = decodeURIComponent(u.pathname.replace(/^\//, ''));
  if (!host || !(port > 0)) throw new IntstreamError('USAGE', `--sink ${spec}: needs HOST:PORT`);
  if (sink.needs !== null && !path) throw new IntstreamError('USAGE', `--sink ${spec}: needs ${sink.needs}`);
  return { kind: 'url', sink, u, host, port, path };
}

/** Throws the usage error openSinkSpec would, without opening anything (the runtime checks submitted sinks). */
export function checkSinkSpec(spec: string): void {
  parse(spec);
}

export async function openSinkSpec(spec: string): Promise<Sink> {
  const p = parse(spec);
  if (p.kind === 'stdout') return new JsonlSink(process.stdout);
  if (p.kind === 'url') return p.sink.open(spec, p);
  const out = p.path === '-' ? process.stdout : createWriteStream(p.path, { flags: 'a' });
  if (out !== process.stdout) {
    await new Promise<void>((res, rej) => {
      out.once('open', () => res());
      out.once('error', (e) => rej(new IntstreamError('SINK', `--sink ${spec}: ${(e as Error).message}`)));
    });
  }
  const sink = p.kind === 'jsonl' ? new JsonlSink(out) : new TableSink(out, 120);
  if (out === process.stdout) return sink;
  return { write: (r) => sink.write(r), close: async () => { await sink.close(); await new Promise<void>((r) => out.end(r)); } };
}
