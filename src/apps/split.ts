/**
 * split: TCP and UDP packet counts through two branches of one stream.
 * Key "tcp" or "udp"; value the packet count; emitted for every window with such traffic. The
 * branch is the key: the stream forks by transport protocol at key() and each branch is
 * windowed and counted on its own (the query API has no separate fork operator; a key is how
 * one stream feeds several independent aggregations). Counts add up across sources.
 */
import { count, defineTask } from '../index.ts';

export default defineTask({
  name: 'split',
  description: 'TCP and UDP packet counts, one branch each',
  params: {},
  output: { key: '"tcp" or "udp"', value: 'packets of that transport in the window' },
  query: (packets, p) =>
    packets
      .filter('tcp.sport >= 0 or udp.sport >= 0')
      .key((x) => (x.tcp ? 'tcp' : 'udp'))
      .window(p.window)
      .aggregate(count())
      .global()
      .merge(),
});
