/**
 * sketch-gen: a count-min sketch of per-source packet counts for traffic to `net`.
 * Key null; value {width, depth, total, rows}: `rows` is `depth` arrays of `width` counters, each
 * row summing to `total` (the window's packets to `net`); emitted for every window with such
 * traffic. Sketches of equal shape add counter by counter, so each source's local stage ships
 * its sketch and the global stage sums them: the result is the sketch of the whole traffic.
 */
import { countMin, defineTask } from '../index.ts';

export default defineTask({
  name: 'sketch-gen',
  description: 'a count-min sketch of per-source (ip.src) packet counts for traffic to a network',
  params: {
    net: { default: 'all', description: 'count packets whose ip.dst is in this CIDR network (all: every IP packet)' },
    width: { default: 1024, description: 'counters per row' },
    depth: { default: 4, description: 'rows (independent hash functions)' },
  },
  output: { key: 'null', value: '{width, depth, total, rows}: the window\'s count-min sketch of ip.src' },
  query: (packets, p) => {
    if (!Number.isInteger(p.width) || p.width < 1 || !Number.isInteger(p.depth) || p.depth < 1) {
      throw new Error(`width and depth must be positive integers (got width=${p.width}, depth=${p.depth})`);
    }
    const toNet = p.net === 'all' || p.net === '' ? packets.filter('ip.version') : packets.filter(`ip.dst in ${p.net}`);
    return toNet
      .window(p.window)
      .aggregate(countMin('ip.src', p.width, p.depth))
      .global()
      .merge();
  },
});
