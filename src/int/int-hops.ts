/**
 * `intHops(p)`: one plain object per INT hop of a packet, first hop first, for
 * `packets.filter('int').flatMap(intHops)`. Each object carries the hop's metadata (fields the
 * report does not have are absent), its position `index`, the monitored packet's 5-tuple and
 * the reporter's switch id. Allocates (one object per hop): for per-hop queries, not the
 * collector's hot path.
 */
import type { Packet } from '../decode/packet.ts';

export interface IntHop {
  index: number;
  switch_id?: number;
  ingress_port?: number;
  egress_port?: number;
  hop_latency?: number;
  queue_id?: number;
  queue_occupancy?: number;
  queue_congestion?: number;
  tx_util?: number;
  ingress_ts?: number;
  egress_ts?: number;
  reporter?: number;
  src?: string;
  dst?: string;
  proto?: number;
  sport?: number;
  dport?: number;
}

export function intHops(p: Packet): IntHop[] {
  const v = p.int;
  if (v === null) return [];
  const n = v.hop_count;
  const ip = p.ip;
  const l4 = p.tcp ?? p.udp;
  const out: IntHop[] = [];
  for (let k = 0; k < n; k++) {
    const h: IntHop = { index: k };
    const put = (name: keyof IntHop, x: number) => { if (x >= 0) (h as any)[name] = x; };
    put('switch_id', v.switchId(k)); put('ingress_port', v.ingressPort(k)); put('egress_port', v.egressPort(k));
    put('hop_latency', v.hopLatency(k)); put('queue_id', v.queueId(k)); put('queue_occupancy', v.queueOccupancy(k));
    put('queue_congestion', v.queueCongestion(k)); put('tx_util', v.txUtil(k)); put('ingress_ts', v.ingressTs(k)); put('egress_ts', v.egressTs(k));
    put('reporter', v.switch_id);
    if (ip) { h.src = ip.src; h.dst = ip.dst; h.proto = ip.proto; }
    if (l4) { h.sport = l4.sport; h.dport = l4.dport; }
    out.push(h);
  }
  return out;
}
