/**
 * rtt: periodic round-trip time between the agent and each target.
 * Key: the target address; value {sent, received, min_ms, avg_ms, max_ms} of one ping probe
 * (`count` echo requests) per target per window, for every window with traffic. A probe that
 * was refused (probing not allowed for the target, rate limit) or failed gives sent 0 and
 * an `error` saying why.
 *
 * The local stages only mark which windows had traffic (one count per window); the probes are
 * sent once per window of the merged stream, after the cut, so that the number of probes and
 * results does not depend on how many sources the traffic came from. In `intstream run` both
 * stages run in the agent's process and use its --allow-probe networks and --probe-rate.
 */
import { isIP } from 'node:net';
import { count, defineTask } from '../index.ts';

export default defineTask({
  name: 'rtt',
  description: 'ping each target once per window and report the round-trip times',
  params: {
    targets: { default: '', description: 'comma-separated addresses to measure (must be inside --allow-probe networks)' },
    count: { default: 3, description: 'echo requests per target per window (1..10)' },
    timeout_ms: { default: 1000, description: 'wait for each reply, ms' },
  },
  output: { key: 'target address', value: '{sent, received, min_ms, avg_ms, max_ms}' },
  query: (packets, p) => {
    const targets = p.targets.split(',').map((t) => t.trim()).filter(Boolean);
    if (targets.length === 0) throw new Error('rtt needs --param targets=ADDR[,ADDR...]');
    for (const t of targets) if (isIP(t) === 0) throw new Error(`targets: '${t}' is not an IPv4 or IPv6 address`);
    return packets
      .window(p.window)
      .aggregate(count())
      .global()
      .merge()
      .flatMap((tick) => targets.map((target) => ({ window: tick.window, target })))
      .key((x) => x.target)
      .window(p.window)
      .transform(async (_ticks, out, ctx) => {
        const r = await ctx.sendProbe({ type: 'ping', dst: ctx.key, count: p.count, timeoutMs: p.timeout_ms });
        if (r.ok) {
          out({ sent: r.sent, received: r.received, min_ms: r.min_ms, avg_ms: r.avg_ms, max_ms: r.max_ms });
        } else {
          out({ sent: 0, received: 0, min_ms: null, avg_ms: null, max_ms: null, error: r.error });
        }
      });
  },
});
