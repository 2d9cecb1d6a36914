/**
 * ddos: a sudden change of the traffic distribution over destinations.
 * Key null; value {hellinger, alarm}: the Hellinger distance between this window's and the
 * previous window's distribution of packets over ip.dst, sqrt(1 - sum_i sqrt(p_i q_i)), and
 * whether it exceeds the threshold; emitted for every window after the first. "Previous" is the
 * last earlier window that had IP traffic.
 *
 * Local stages ship per-destination packet counts per window (partial counts add up); the
 * global stage keeps the previous window's distribution as keyed state. Destinations are
 * summed in a fixed order so that the floating-point result does not depend on arrival order.
 */
import { compareValues, defineTask, type Aggregate } from '../index.ts';
import type { Packet } from '../index.ts';

/** Packets per destination address: a mergeable histogram. */
const packetsPerDestination: Aggregate<Packet, Map<string, number>, Map<string, number>> = {
  create: () => new Map(),
  add: (m, p) => { const d = p.ip!.dst; m.set(d, (m.get(d) ?? 0) + 1); return m; },
  merge: (a, b) => { for (const [d, n] of b) a.set(d, (a.get(d) ?? 0) + n); return a; },
  result: (m) => m,
  encode: (m) => [...m],
  decode: (w) => new Map(w as [string, number][]),
};

function hellinger(prev: Map<string, number>, cur: Map<string, number>): number {
  let totalPrev = 0, totalCur = 0;
  for (const n of prev.values()) totalPrev += n;
  for (const n of cur.values()) totalCur += n;
  let bc = 0; // Bhattacharyya coefficient: only destinations present in both windows add to it
  for (const d of [...cur.keys()].sort(compareValues)) {
    const q = prev.get(d);
    if (q !== undefined) bc += Math.sqrt((cur.get(d)! / totalCur) * (q / totalPrev));
  }
  return Math.sqrt(Math.max(0, 1 - bc));
}

export default defineTask({
  name: 'ddos',
  description: 'alarm on a sudden change of the traffic distribution over destinations (Hellinger distance)',
  params: {
    threshold: { default: 0.65, description: 'alarm when the distance to the previous window exceeds this (0..1)' },
  },
  output: { key: 'null', value: '{hellinger, alarm}: distance to the previous window\'s distribution over ip.dst' },
  query: (packets, p) =>
    packets
      .filter('ip.version')
      .window(p.window)
      .aggregate(packetsPerDestination)
      .global()
      .merge()
      .key(() => null)
      .process({
        init: () => ({ previous: null as Map<string, number> | null }),
        onItem: (r, state, out) => {
          if (state.previous !== null) {
            const h = hellinger(state.previous, r.value);
            out({ window: r.window, key: null, value: { hellinger: h, alarm: h > p.threshold } });
          }
          state.previous = r.value;
        },
      }),
});
