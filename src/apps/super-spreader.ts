/**
 * super-spreader: hosts contacting many destinations.
 * Key ip.src; value the number of distinct ip.dst in the window; emitted when value > threshold.
 * Local stages ship destination sets (not counts), so a destination seen by two sources counts
 * once.
 */
import { defineTask, distinct } from '../index.ts';

export default defineTask({
  name: 'super-spreader',
  description: 'hosts contacting many distinct destinations',
  params: {
    threshold: { default: 100, description: 'report a host contacting more distinct destinations than this in a window' },
  },
  output: { key: 'ip.src', value: 'distinct ip.dst contacted in the window' },
  query: (packets, p) =>
    packets
      .filter('ip.version')
      .key('ip.src')
      .window(p.window)
      .aggregate(distinct('ip.dst'))
      .global()
      .merge()
      .filter((r) => r.value > p.threshold),
});
