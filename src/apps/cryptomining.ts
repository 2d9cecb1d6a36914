/**
 * cryptomining: timestamp sequences of host pairs, for periodicity analysis (mining pools talk
 * to their workers on a beat).
 * Key {src, dst} (one direction); value the sorted packet timestamps (seconds) of that pair in
 * the window; emitted when the pair has at least min_packets packets. The definition needs the
 * elements, so each local stage ships the timestamps it saw and the global stage joins them.
 */
import { collect, defineTask } from '../index.ts';
import type { Packet } from '../index.ts';

const pair = (p: Packet) => `${p.ip!.src} ${p.ip!.dst}`;

export default defineTask({
  name: 'cryptomining',
  description: 'packet timestamps of each host pair, for periodicity analysis',
  params: {
    min_packets: { default: 10, description: 'only pairs with at least this many packets in a window' },
  },
  output: { key: '{src, dst}', value: 'sorted packet timestamps (s) of the pair in the window' },
  query: (packets, p) =>
    packets
      .filter('ip.version')
      .key(pair)
      .window(p.window)
      .aggregate(collect((x: Packet) => x.ts))
      .global()
      .merge()
      .filter((r) => r.value.length >= p.min_packets)
      .map((r) => {
        const [src, dst] = r.key.split(' ');
        return { window: r.window, key: { src, dst }, value: r.value.sort((a, b) => a - b) };
      }),
});
