/**
 * tcp-retrans: flows with many retransmissions, and the RTT to their destination.
 * Key the flow {src, sport, dst, dport} (one direction); value {retransmissions, rtt_ms};
 * emitted when retransmissions >= threshold. rtt_ms is the average of a ping probe to the
 * destination when probing is allowed for it, else null.
 *
 * Definition (docs/applications.md): a data segment (payload > 0) is a retransmission when its end
 * sequence number (seq + payload length mod 2^32) is not after the highest end sequence number
 * seen earlier in the same direction of the same flow, anywhere earlier in the input. "Earlier"
 * is event-time order; segments with equal timestamps are ordered by source (the order of
 * --source) and then by their position in that source.
 *
 * Split exactly: the local stage cannot decide alone, because the earlier segment may have been
 * captured elsewhere. Per window and flow it ships (ts, end) of the segments that might not be
 * retransmissions, plus a count of those it can already prove are: a segment that arrives in
 * time order and whose end is not after one already in the same window and source has an
 * earlier, higher segment, wherever else the flow was captured. The global stage sorts each
 * window's segments from all sources and finishes with per-flow keyed state (the highest end
 * so far), carried across windows until the flow has sent no data for `flow_idle` seconds
 * (the definition's "anywhere earlier" needs unbounded memory on a live source; a capture
 * shorter than that is exact). Then it probes the destination of every flagged flow once
 * per window.
 */
import { defineTask, type Aggregate } from '../index.ts';
import type { Packet, ProbeResult } from '../index.ts';

/** RFC 793 / RFC 1982 serial number order: a is after b. */
const after = (a: number, b: number) => a !== b && ((a - b) >>> 0) < 0x80000000;

/** One source's data segments of a flow in a window. */
interface Run { source: number; segs: number[] /* ts, end, ts, end, ... in arrival order */ }
interface Segments { proven: number; runs: Run[]; maxTs: number; maxEnd: number }

const segmentsOfFlow: Aggregate<Packet, Segments, { proven: number; segs: number[] }> = {
  create: () => ({ proven: 0, runs: [], maxTs: -Infinity, maxEnd: -1 }),
  add: (a, p) => {
    const ts = p.ts, end = (p.tcp!.seq + p.tcp!.payload_len) >>> 0;
    if (a.runs.length === 0) a.runs.push({ source: p.source, segs: [] });
    // Every segment already here is earlier (same source, earlier position, ts <= maxTs <= ts).
    if (ts >= a.maxTs && a.maxEnd >= 0 && !after(end, a.maxEnd)) { a.proven++; return a; }
    a.runs[0].segs.push(ts, end);
    if (a.maxEnd < 0 || after(end, a.maxEnd)) a.maxEnd = end;
    if (ts > a.maxTs) a.maxTs = ts;
    return a;
  },
  merge: (a, b) => { a.proven += b.proven; a.runs.push(...b.runs); return a; },
  // Segments of all sources in (ts, source, position) order.
  result: (a) => {
    const all: [number, number, number, number][] = [];
    for (const r of a.runs) for (let i = 0; i < r.segs.length; i += 2) all.push([r.segs[i], r.source, i, r.segs[i + 1]]);
    all.sort((x, y) => x[0] - y[0] || x[1] - y[1] || x[2] - y[2]);
    return { proven: a.proven, segs: all.flatMap((s) => [s[0], s[3]]) };
  },
  encode: (a) => ({ proven: a.proven, runs: a.runs }),
  decode: (w) => { const x = w as { proven: number; runs: Run[] }; return { proven: x.proven, runs: x.runs, maxTs: Infinity, maxEnd: -1 }; },
};

const flowId = (p: Packet) => `${p.ip!.src} ${p.tcp!.sport} ${p.ip!.dst} ${p.tcp!.dport}`;

export default defineTask({
  name: 'tcp-retrans',
  description: 'TCP flows with many retransmitted data segments, with a ping RTT to their destination',
  params: {
    threshold: { default: 3, description: 'report a flow with at least this many retransmissions in a window' },
    count: { default: 3, description: 'echo requests of the RTT probe (when probing is allowed)' },
    timeout_ms: { default: 1000, description: 'wait for each echo reply, ms' },
    flow_idle: { default: 3600, description: "forget a flow's highest sequence number after this many seconds without data (0: never; bounds memory on live runs)" },
  },
  output: { key: '{src, sport, dst, dport}', value: '{retransmissions, rtt_ms}' },
  query: (packets, p) => {
    // One probe per destination and window, however many of its flows are flagged.
    let probedWindow = NaN;
    const probes = new Map<string, Promise<ProbeResult>>();
    return packets
      .filter('tcp.payload_len > 0')
      .key(flowId)
      .window(p.window)
      .aggregate(segmentsOfFlow)
      .global()
      .merge()
      .key((r) => r.key)
      .process<{ highest: number }, { flow: string; retransmissions: number }>({
        init: () => ({ highest: -1 }),
        ...(p.flow_idle > 0 ? { idleTimeout: p.flow_idle } : {}),
        onItem: (r, flow, out) => {
          let retransmissions = r.value.proven;
          const segs = r.value.segs;
          for (let i = 0; i < segs.length; i += 2) {
            const end = segs[i + 1];
            if (flow.highest >= 0 && !after(end, flow.highest)) retransmissions++;
            else flow.highest = end;
          }
          if (retransmissions >= p.threshold) out({ flow: r.key as string, retransmissions });
        },
      })
      .window(p.window)
      .transform(async ([f], out, ctx) => {
        const [src, sport, dst, dport] = f.flow.split(' ');
        if (ctx.window.start !== probedWindow) { probedWindow = ctx.window.start; probes.clear(); }
        let pending = probes.get(dst);
        if (!pending) { pending = ctx.sendProbe({ type: 'ping', dst, count: p.count, timeoutMs: p.timeout_ms }); probes.set(dst, pending); }
        const probe = await pending;
        const rtt_ms = probe.ok && typeof probe.avg_ms === 'number' ? probe.avg_ms : null;
        out({ retransmissions: f.retransmissions, rtt_ms }, { src, sport: Number(sport), dst, dport: Number(dport) });
      });
  },
});
