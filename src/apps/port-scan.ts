/**
 * port-scan: hosts probing many ports.
 * Key ip.src; value the number of distinct (protocol, destination port) pairs over TCP packets
 * with ACK clear (a scan's SYN, FIN, NULL or Xmas probes, not replies within connections) and
 * UDP packets; emitted when value > threshold. Each local stage ships the set of pairs it saw
 * per source host (a count could not be merged: two sources may see the same port), the global
 * stage unites the sets and counts.
 */
import { defineTask, distinct } from '../index.ts';
import type { Packet } from '../index.ts';

/** (protocol, port) as one number: protocol * 65536 + port (no string per packet). */
const protoPort = (p: Packet): number => (p.tcp ? 6 * 65536 + p.tcp.dport : 17 * 65536 + p.udp!.dport);

export default defineTask({
  name: 'port-scan',
  description: 'hosts probing many (protocol, port) pairs',
  params: {
    threshold: { default: 100, description: 'report a host probing more distinct (protocol, port) pairs than this in a window' },
  },
  output: { key: 'ip.src', value: 'distinct (protocol, destination port) pairs over TCP without ACK and UDP' },
  query: (packets, p) =>
    packets
      .filter('tcp.ack_flag == false or udp.dport >= 0')
      .key('ip.src')
      .window(p.window)
      .aggregate(distinct(protoPort))
      .global()
      .merge()
      .filter((r) => r.value > p.threshold),
});
