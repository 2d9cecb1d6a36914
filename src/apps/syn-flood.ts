/**
 * syn-flood: hosts with many half-open connections.
 * Key: the host; value SYNs to the host + SYN-ACKs from the host - pure ACKs to the host (a
 * completed handshake nets zero); emitted when value > threshold. SYN: SYN set, ACK clear.
 * SYN-ACK: both set. Pure ACK: ACK set and SYN, FIN, RST, PSH, URG clear (ECE/CWR may be set).
 * Each packet adds +1 or -1 to one host, so local partial sums add up exactly.
 */
import { defineTask, sum } from '../index.ts';
import type { Packet } from '../index.ts';

const isSynAck = (p: Packet) => p.tcp!.syn && p.tcp!.ack_flag;

export default defineTask({
  name: 'syn-flood',
  description: 'hosts with many half-open TCP connections (SYN + SYN-ACK - pure ACK)',
  params: {
    threshold: { default: 100, description: 'report a host whose half-open balance exceeds this in a window' },
  },
  output: { key: 'host', value: 'SYNs to it + SYN-ACKs from it - pure ACKs to it' },
  query: (packets, p) =>
    packets
      .filter('tcp.syn or tcp.flags & 0x3f == 0x10')
      // A SYN-ACK counts for its sender (the server), a SYN or pure ACK for its receiver.
      .key((x) => (isSynAck(x) ? x.ip!.src : x.ip!.dst))
      .window(p.window)
      .aggregate(sum((x) => (x.tcp!.syn ? 1 : -1)))
      .global()
      .merge()
      .filter((r) => r.value > p.threshold),
});
