/**
 * tcp-incomplete: hosts with many incomplete TCP connections.
 * Key ip.dst; value SYNs (SYN set, ACK clear) to the host - packets with FIN set to the host;
 * emitted when value > threshold. Partial sums per source add up exactly.
 */
import { defineTask, sum } from '../index.ts';
import type { Packet } from '../index.ts';

const synMinusFin = (p: Packet) => (p.tcp!.syn && !p.tcp!.ack_flag ? 1 : 0) - (p.tcp!.fin ? 1 : 0);

export default defineTask({
  name: 'tcp-incomplete',
  description: 'hosts with many incomplete TCP connections (SYNs - FINs to the host)',
  params: {
    threshold: { default: 100, description: 'report a host whose SYNs minus FINs exceed this in a window' },
  },
  output: { key: 'ip.dst', value: 'SYN packets - FIN packets to the host' },
  query: (packets, p) =>
    packets
      .filter('(tcp.syn and not tcp.ack_flag) or tcp.fin')
      .key('ip.dst')
      .window(p.window)
      .aggregate(sum(synMinusFin))
      .global()
      .merge()
      .filter((r) => r.value > p.threshold),
});
