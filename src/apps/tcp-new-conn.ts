/**
 * tcp-new-conn: hosts receiving many new TCP connections.
 * Key ip.dst; value the number of SYN packets (SYN set, ACK clear) to the host in the window;
 * emitted when value > threshold. Each source counts locally; the global stage adds the
 * partial counts of every source, then applies the threshold (a per-source threshold would
 * miss a host attacked from several places).
 */
import { count, defineTask } from '../index.ts';

export default defineTask({
  name: 'tcp-new-conn',
  description: 'hosts receiving many new TCP connections (SYN without ACK)',
  params: {
    threshold: { default: 100, description: 'report a host when it receives more SYNs than this in a window' },
  },
  output: { key: 'ip.dst', value: 'SYN packets to the host in the window' },
  query: (packets, p) =>
    packets
      .filter('tcp.syn and not tcp.ack_flag')
      .key('ip.dst')
      .window(p.window)
      .aggregate(count())
      .global()
      .merge()
      .filter((r) => r.value > p.threshold),
});
