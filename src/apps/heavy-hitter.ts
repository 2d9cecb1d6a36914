/**
 * heavy-hitter: two-phase heavy hitter over source addresses.
 * Key ip.src; value the estimated packet count of the source in the window, never below the
 * true count; emitted when the estimate > threshold, and every source whose true count exceeds
 * the threshold is emitted.
 *
 * Phase 1 (local, per window): a count-min sketch of ip.src, and the window's candidate sources.
 * Phase 2 (global): the sketches of all sources are summed counter by counter (the sum is the
 * sketch of the whole traffic, so estimates do not depend on how traffic was split) and each
 * candidate is checked against the merged sketch.
 *
 * Candidates are an exact set (the sources seen in the window), not a bloom filter of them: a
 * source's count may be spread over several capture points so that no local sketch sees it
 * above the threshold; only the global stage can decide, and it needs the names. A bloom filter
 * cannot list its members, and one false positive ("already a candidate") would drop a heavy
 * source for good, breaking the promise that none is missed. The set costs what the sketch
 * saves, so this task shows the sketch's mergeability and one-sided error rather than memory
 * savings; sketch-gen ships the sketch alone.
 */
import { combine, countMin, CountMinSketch, defineTask, distinctValues } from '../index.ts';

export default defineTask({
  name: 'heavy-hitter',
  description: 'sources sending more packets than a threshold (count-min sketch, merged globally)',
  params: {
    threshold: { default: 1000, description: 'report a source whose estimated packet count exceeds this in a window' },
    width: { default: 1024, description: 'count-min counters per row' },
    depth: { default: 4, description: 'count-min rows' },
  },
  output: { key: 'ip.src', value: 'estimated packets from the source (never below the true count)' },
  query: (packets, p) => {
    if (!Number.isInteger(p.width) || p.width < 1 || !Number.isInteger(p.depth) || p.depth < 1) {
      throw new Error(`width and depth must be positive integers (got width=${p.width}, depth=${p.depth})`);
    }
    return packets
      .filter('ip.version')
      .window(p.window)
      .aggregate(combine({ sketch: countMin('ip.src', p.width, p.depth), candidates: distinctValues('ip.src') }))
      .global()
      .merge()
      .flatMap(function* (r) {
        const sketch = CountMinSketch.fromJSON(r.value.sketch);
        for (const src of r.value.candidates) {
          const estimate = sketch.estimate(src);
          if (estimate > p.threshold) yield { window: r.window, key: src, value: estimate };
        }
      });
  },
});
