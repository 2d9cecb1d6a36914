/**
 * `--sink SPEC` (repeatable, next to the --format output): where else results go.
 *   influxdb://HOST:PORT/DB[?batch=N]        line protocol over HTTP (influxdb-sink.ts)
 *   prometheus://HOST:PORT[?linger=SECONDS]  gauges on /metrics (prometheus-sink.ts)
 *   kafka://HOST:PORT/TOPIC                  JSON records (kafka-sink.ts)
 */
import { IntstreamError } from '../errors.ts';
import type { Sink } from './sink.ts';

export async function openSinkSpec(spec: string): Promise<Sink> {
  let u: URL;
  try { u = new URL(spec); } catch { throw new IntstreamError('USAGE', `--sink ${spec}: not a URL`, 'e.g. influxdb://127.0.0.1:8086/telemetry, prometheus://127.0.0.1:9464, kafka://127.0.0.1:9092/events'); }
  const host = u.hostname.replace(/^\[|\]$/g, '');
  const port = Number(u.port);
  const path = decodeURIComponent(u.pathname.replace(/^\//, ''));
  if (!host || !(port > 0)) throw new IntstreamError('USAGE', `--sink ${spec}: needs HOST:PORT`);
  switch (u.protocol) {
    case 'influxdb:': {
      if (!path) throw new IntstreamError('USAGE', `--sink ${spec}: needs a database: influxdb://HOST:PORT/DB`);
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
    case 'kafka:': {
      if (!path) throw new IntstreamError('USAGE', `--sink ${spec}: needs a topic: kafka://HOST:PORT/TOPIC`);
      // Loaded on use: the Kafka client is only needed by runs that ask for it.
      const { KafkaSink } = await import('./kafka-sink.ts');
      const s = new KafkaSink(u.host, path);
      await s.open();
      return s;
    }
    default:
      throw new IntstreamError('USAGE', `--sink ${spec}: unknown sink '${u.protocol.replace(/:$/, '')}'`, 'use influxdb://, prometheus:// or kafka://');
  }
}
