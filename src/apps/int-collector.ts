/**
 * int-collector: INT telemetry reports in, flow / hop / egress / queue events out (the metrics
 * of INTCollector). Sources: `int:udp://HOST:PORT`, or a capture with `--param int_port=N`
 * (reports to UDP port N) or `--param int_dscp=N` / `int_md_port=N` (INT-MD packets in flight).
 *
 * key   {kind: 'flow', src, dst, proto, sport, dport}           value {event, ts, path, latency}
 *       {kind: 'hop', src, dst, proto, sport, dport, switch_id}  value {event, ts, hop_latency}
 *       {kind: 'egress', switch_id, port}                       value {event, ts, tx_util}
 *       {kind: 'queue', switch_id, queue_id}                    value {event, ts, occupancy, congestion}
 * event new | change | path | periodic | expired (see src/int/collector.ts for the rules).
 *
 * Detection runs in each source's local stage, as keyed state (one collector state per source,
 * expiry and periodic export by event time): only events leave it. Reports that do not decode
 * are counted as malformed by reason (int_malformed_report_length, ...) and never reach it.
 */
import { defineTask, IntCollectorState, INT_DECODE_PARAMS, type Stream } from '../index.ts';

export default defineTask({
  name: 'int-collector',
  description: 'INT reports to flow path/latency, hop latency, egress utilisation and queue events',
  params: {
    ...INT_DECODE_PARAMS,
    mode: { default: 'bin', description: "'bin': event when a value leaves its bin; 'threshold': when it moves by more than the step" },
    latency_step: { default: 1000, description: 'flow latency bin width / threshold (switch time units, ns)' },
    hop_latency_step: { default: 500, description: 'hop latency bin width / threshold' },
    tx_util_step: { default: 100, description: 'egress tx utilisation bin width / threshold' },
    occupancy_step: { default: 1000, description: 'queue occupancy bin width / threshold' },
    congestion_step: { default: 10, description: 'queue congestion bin width / threshold' },
    period: { default: 10, description: 'export every live key every this many seconds of event time (0: off)' },
    timeout: { default: 30, description: 'expire keys not seen for this many seconds (0: never)' },
  },
  output: { key: "{kind: 'flow'|'hop'|'egress'|'queue', ...ids}", value: "{event: 'new'|'change'|'path'|'periodic'|'expired', ts, ...metrics}" },
  query: (packets, p) => {
    if (p.mode !== 'bin' && p.mode !== 'threshold') throw new Error(`mode must be 'bin' or 'threshold' (got '${p.mode}')`);
    const config = {
      mode: p.mode, latencyStep: p.latency_step, hopLatencyStep: p.hop_latency_step, txUtilStep: p.tx_util_step,
      occupancyStep: p.occupancy_step, congestionStep: p.congestion_step, period: p.period, timeout: p.timeout,
    } as const;
    return packets
      .filter('int')
      .key('source')
      .process<IntCollectorState, object>({
        init: () => new IntCollectorState(config),
        onItem: (pkt, state, out, ctx) => state.onReport(pkt, ctx.ts, out),
        onExpire: (state, out) => state.finish(out),
      }) as unknown as Stream<object>; // no cut: events leave the local stage as they are
  },
});
