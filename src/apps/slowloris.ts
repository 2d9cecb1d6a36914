/**
 * slowloris: servers kept busy by slow connections.
 * Key ip.dst; value {conns, bytes, rate}: distinct (ip.src, tcp.sport) TCP connections to the
 * host, TCP payload bytes to it, and rate = bytes / conns / window seconds; emitted when
 * conns >= min_conns and rate < threshold. Local stages ship the connection set and the byte
 * sum; the global stage unites and adds them before computing the rate.
 */
import { combine, defineTask, distinct, sum } from '../index.ts';
import type { Packet } from '../index.ts';

const connection = (p: Packet) => `${p.ip!.src} ${p.tcp!.sport}`;

export default defineTask({
  name: 'slowloris',
  description: 'servers with many TCP connections that each carry few bytes',
  params: {
    min_conns: { default: 50, description: 'only hosts with at least this many connections in a window' },
    threshold: { default: 100, description: 'report when payload bytes per connection per second is below this' },
  },
  output: { key: 'ip.dst', value: '{conns, bytes, rate}: connections, TCP payload bytes, bytes/conn/s' },
  query: (packets, p) =>
    packets
      .filter('tcp.sport >= 0')
      .key('ip.dst')
      .window(p.window)
      .aggregate(combine({ conns: distinct(connection), bytes: sum('tcp.payload_len') }))
      .global()
      .merge()
      .map((r) => ({ ...r, value: { ...r.value, rate: r.value.bytes / r.value.conns / p.window } }))
      .filter((r) => r.value.conns >= p.min_conns && r.value.rate < p.threshold),
});
