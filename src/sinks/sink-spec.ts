/**
 * The one sink registry, for `run --sink`, `submit --sink` and GSP workers alike: a spec names
 * where results go, and every sink works in both deployments.
 *   stdout                                   JSON Lines on standard output
 *   jsonl:FILE                               JSON Lines appended to FILE
 *   table:FILE                               the aligned table appended to FILE (table:- for stdout)
 *   influxdb://HOST:PORT/DB[?batch=N]        line protocol over HTTP (influxdb-sink.ts)
 *   prometheus://HOST:PORT[?linger=SECONDS]  gauges on /metrics (prometheus-sink.ts)
 *   kafka://HOST:PORT/TOPIC                  JSON records (kafka-sink.ts)
 * A new sink is one file implementing Sink plus its case here and in checkSinkSpec.
 */
import { createWriteStream } from 'node:fs';
import { IntstreamError } from '../errors.ts';
import { JsonlSink } from './jsonl-sink.ts';
import type { Sink } from './sink.ts';
import { TableSink } from './table-sink.ts';

const EXAMPLES = 'e.g. stdout, jsonl:results.jsonl, table:-, influxdb://127.0.0.1:8086/telemetry, prometheus://127.0.0.1:9464, kafka://127.0.0.1:9092/events';

/** A parsed spec: a plain output (stdout, jsonl:, table:) or a network sink's URL. */
type Parsed = { kind: 'stdout' } | { kind: 'jsonl' | 'table'; path: string } | { kind: 'url'; u: URL; host: string; port: number; path: string };

function parse(spec: string): Parsed {
  if (spec === 'stdout') return { kind: 'stdout' };
  const plain = /^(jsonl|table):(.+)$/.exec(spec);
  if (plain) return { kind: plain[1] as 'jsonl' | 'table', path: plain[2] };
  let u: URL;
  try { u = new URL(spec); } catch { throw new IntstreamError('USAGE', `--sink ${spec}: not a sink`, EXAMPLES); }
  const host = u.hostname.replace(/^\[|\]$/g, '');
  const port = Number(u.port);
  const path = decodeURIComponent(u.pathname.replace(/^\//, ''));
  if (!['influxdb:', 'prometheus:', 'kafka:'].includes(u.protocol)) {
    throw new IntstreamError('USAGE', `--sink ${spec}: unknown sink '${u.protocol.replace(/:$/, '')}'`, EXAMPLES);
  }
  if (!host || !(port > 0)) throw new IntstreamError('USAGE', `--sink ${spec}: needs HOST:PORT`);
  if (u.protocol === 'influxdb:' && !path) throw new IntstreamError('USAGE', `--sink ${spec}: needs a database: influxdb://HOST:PORT/DB`);
  if (u.protocol === 'kafka:' && !path) throw new IntstreamError('USAGE', `--sink ${spec}: needs a topic: kafka://HOST:PORT/TOPIC`);
  return { kind: 'url', u, host, port, path };
}

/** Throws the usage error openSinkSpec would, without opening anything (the runtime checks submitted sinks). */
export function checkSinkSpec(spec: string): void {
  parse(spec);
}

export async function openSinkSpec(spec: string): Promise<Sink> {
  const p = parse(spec);
  if (p.kind === 'stdout') return new JsonlSink(process.stdout);
  if (p.kind === 'jsonl' || p.kind === 'table') {
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
  if (p.kind !== 'url') throw new IntstreamError('INTERNAL', spec);
  const { u, host, port, path } = p;
  switch (u.protocol) {
    case 'influxdb:': {
      const batch = Number(u.searchParams.get('batch') ?? 5000);
      const { InfluxDbSink } = await import('./influxdb-sink.ts');
      return new InfluxDbSink({ url: `http://${u.host}`, db: path, batch });
    }
    case 'prometheus:': {
      const { PrometheusSink } = await import('./prometheus-sink.ts');
      const s = new PrometheusSink(host, port, Number(u.searchParams.get('linger') ?? 0));
      await s.listen();
      return s;
    }
    default: {
      // Loaded on use: the Kafka client is only needed by runs that ask for it.
      const { KafkaSink } = await import('./kafka-sink.ts');
      const s = new KafkaSink(u.host, path);
      await s.open();
      return s;
    }
  }
}
