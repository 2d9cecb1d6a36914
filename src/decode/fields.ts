/**
 * The field table: every dotted field name (docs/contracts.md) with its type and a getter over
 * a decoded Packet. Declarative filters, `key('ip.dst')`, `p.get(...)` and the JSON form of a
 * packet all use this one table, so a new field is added in one place.
 */
import { IntstreamError } from '../errors.ts';
import type { Packet } from './packet.ts';

export type FieldValue = number | boolean | string | undefined;
/** 'layer' fields are presence tests named after a protocol (`tcp`, `ip`), as in Wireshark. */
export type FieldType = 'number' | 'bool' | 'ip' | 'mac' | 'string' | 'layer';

export interface FieldDef {
  readonly name: string;
  readonly type: FieldType;
  readonly doc: string;
  readonly get: (p: Packet) => FieldValue;
}

const defs = {
  'eth': { type: 'layer', doc: 'the packet has an Ethernet header', get: (p: Packet) => p.ethOff >= 0 },
  'vlan': { type: 'layer', doc: 'the frame has an 802.1Q/802.1ad tag', get: (p: Packet) => p.vlanDepth > 0 },
  'ip': { type: 'layer', doc: 'the packet has an IPv4 or IPv6 header', get: (p: Packet) => p.l3 !== 0 },
  'tcp': { type: 'layer', doc: 'the packet has a TCP header', get: (p: Packet) => p.tcp !== null },
  'udp': { type: 'layer', doc: 'the packet has a UDP header', get: (p: Packet) => p.udp !== null },
  'icmp': { type: 'layer', doc: 'the packet has an ICMP or ICMPv6 header', get: (p: Packet) => p.icmp !== null },
  'tunnel': { type: 'layer', doc: 'the packet was tunnelled (fields are the inner packet\'s)', get: (p: Packet) => p.tunnelDepth > 0 },
  'ts': { type: 'number', doc: 'timestamp, seconds since the Unix epoch (float)', get: (p: Packet) => p.ts },
  'len': { type: 'number', doc: 'length on the wire, bytes', get: (p: Packet) => p.len },
  'caplen': { type: 'number', doc: 'captured length, bytes', get: (p: Packet) => p.end - p.start },
  'source': { type: 'number', doc: 'index of the --source the packet came from', get: (p: Packet) => p.source },
  'eth.src': { type: 'mac', doc: 'Ethernet source MAC', get: (p: Packet) => p.eth?.src },
  'eth.dst': { type: 'mac', doc: 'Ethernet destination MAC', get: (p: Packet) => p.eth?.dst },
  'eth.type': { type: 'number', doc: 'EtherType after VLAN tags', get: (p: Packet) => (p.ethType >= 0 ? p.ethType : undefined) },
  'vlan.id': { type: 'number', doc: 'outermost VLAN id of the innermost frame', get: (p: Packet) => p.vlan?.id },
  'ip.version': { type: 'number', doc: '4 or 6', get: (p: Packet) => p.ip?.version },
  'ip.src': { type: 'ip', doc: 'source address (innermost IP header)', get: (p: Packet) => p.ip?.src },
  'ip.dst': { type: 'ip', doc: 'destination address (innermost IP header)', get: (p: Packet) => p.ip?.dst },
  'ip.proto': { type: 'number', doc: 'transport protocol number (after IPv6 extension headers)', get: (p: Packet) => p.ip?.proto },
  'ip.ttl': { type: 'number', doc: 'TTL or hop limit', get: (p: Packet) => p.ip?.ttl },
  'ip.len': { type: 'number', doc: 'IP total length from the header, bytes', get: (p: Packet) => p.ip?.len },
  'ip.tos': { type: 'number', doc: 'IPv4 TOS / IPv6 traffic class', get: (p: Packet) => p.ip?.tos },
  'ip.dscp': { type: 'number', doc: 'DSCP', get: (p: Packet) => p.ip?.dscp },
  'ip.fragment': { type: 'bool', doc: 'any fragment (first or later)', get: (p: Packet) => p.ip?.fragment },
  'tcp.sport': { type: 'number', doc: 'TCP source port', get: (p: Packet) => p.tcp?.sport },
  'tcp.dport': { type: 'number', doc: 'TCP destination port', get: (p: Packet) => p.tcp?.dport },
  'tcp.seq': { type: 'number', doc: 'sequence number', get: (p: Packet) => p.tcp?.seq },
  'tcp.ack': { type: 'number', doc: 'acknowledgement number', get: (p: Packet) => p.tcp?.ack },
  'tcp.flags': { type: 'number', doc: 'the 12 flag bits', get: (p: Packet) => p.tcp?.flags },
  'tcp.syn': { type: 'bool', doc: 'SYN flag', get: (p: Packet) => p.tcp?.syn },
  'tcp.ack_flag': { type: 'bool', doc: 'ACK flag', get: (p: Packet) => p.tcp?.ack_flag },
  'tcp.fin': { type: 'bool', doc: 'FIN flag', get: (p: Packet) => p.tcp?.fin },
  'tcp.rst': { type: 'bool', doc: 'RST flag', get: (p: Packet) => p.tcp?.rst },
  'tcp.psh': { type: 'bool', doc: 'PSH flag', get: (p: Packet) => p.tcp?.psh },
  'tcp.urg': { type: 'bool', doc: 'URG flag', get: (p: Packet) => p.tcp?.urg },
  'tcp.window': { type: 'number', doc: 'receive window (unscaled)', get: (p: Packet) => p.tcp?.window },
  'tcp.payload_len': { type: 'number', doc: 'TCP payload bytes by the IP length', get: (p: Packet) => p.tcp?.payload_len },
  'udp.sport': { type: 'number', doc: 'UDP source port', get: (p: Packet) => p.udp?.sport },
  'udp.dport': { type: 'number', doc: 'UDP destination port', get: (p: Packet) => p.udp?.dport },
  'udp.len': { type: 'number', doc: 'UDP length field', get: (p: Packet) => p.udp?.len },
  'icmp.type': { type: 'number', doc: 'ICMP or ICMPv6 type', get: (p: Packet) => p.icmp?.type },
  'icmp.code': { type: 'number', doc: 'ICMP or ICMPv6 code', get: (p: Packet) => p.icmp?.code },
  'outer.ip.version': { type: 'number', doc: 'outermost IP version of a tunnelled packet', get: (p: Packet) => p.outer?.ip.version },
  'outer.ip.src': { type: 'ip', doc: 'outermost source address of a tunnelled packet', get: (p: Packet) => p.outer?.ip.src },
  'outer.ip.dst': { type: 'ip', doc: 'outermost destination address of a tunnelled packet', get: (p: Packet) => p.outer?.ip.dst },
  'outer.ip.proto': { type: 'number', doc: 'outermost IP protocol (47 GRE, 17 UDP, ...)', get: (p: Packet) => p.outer?.ip.proto },
  'tunnel.type': { type: 'string', doc: 'gre, erspan, vxlan, geneve or ipip (outermost tunnel)', get: (p: Packet) => p.tunnel?.type },
  'tunnel.id': { type: 'number', doc: 'VNI or ERSPAN session of the innermost tunnel that has one', get: (p: Packet) => { const t = p.tunnel; return t && t.id >= 0 ? t.id : undefined; } },
  'int': { type: 'layer', doc: 'an INT Telemetry Report or INT packet in flight decoded (source option int_port / int_dscp)', get: (p: Packet) => p.intStatus === 0 },
  'int.switch_id': { type: 'number', doc: 'switch id of the reporter (TR v1.0/v2.0)', get: (p: Packet) => { const v = p.int?.switch_id; return v === undefined || v < 0 ? undefined : v; } },
  'int.hw_id': { type: 'number', doc: 'reporter hardware id', get: (p: Packet) => (p.int && p.int.version > 0 ? p.int.hw_id : undefined) },
  'int.sequence': { type: 'number', doc: 'report sequence number', get: (p: Packet) => (p.int && p.int.version > 0 ? p.int.sequence : undefined) },
  'int.report_ts': { type: 'number', doc: 'reporter ingress timestamp, ns (exact below 2^53)', get: (p: Packet) => { const v = p.int?.report_ts; return v === undefined || v < 0 ? undefined : v; } },
  'int.version': { type: 'number', doc: 'Telemetry Report version: 0.5, 1 or 2', get: (p: Packet) => { const v = p.int?.version; return v === undefined || v < 0 ? undefined : v; } },
  'int.int_version': { type: 'number', doc: 'INT metadata version: 0.5, 1 or 2', get: (p: Packet) => { const v = p.int?.int_version; return v === undefined || v < 0 ? undefined : v; } },
  'int.dropped': { type: 'bool', doc: 'report D flag (packet dropped)', get: (p: Packet) => p.int?.dropped },
  'int.congested': { type: 'bool', doc: 'report Q flag (congested queue)', get: (p: Packet) => p.int?.congested },
  'int.hop_count': { type: 'number', doc: 'INT hops in the metadata stack', get: (p: Packet) => p.int?.hop_count },
  'int.instruction_bitmap': { type: 'number', doc: 'INT instruction bitmap (bit 0 = MSB of 16)', get: (p: Packet) => p.int?.instruction_bitmap },
  'int.latency': { type: 'number', doc: 'sum of the hop latencies (flow latency), switch units', get: (p: Packet) => { const v = p.int?.latency; return v === undefined || v < 0 ? undefined : v; } },
  'int.path': { type: 'string', doc: 'switch ids in traversal order, comma-separated (builds a string)', get: (p: Packet) => p.int?.path },
  // ---- sampling and flow export (src/decode/flow-record.ts): records from sflow:/netflow: sources ----
  'sample.rate': { type: 'number', doc: '1-in-N sampling interval of the item (sFlow, sampled NetFlow); 1 when not sampled: weight counts by it to estimate totals', get: (p: Packet) => p.sampleRate },
  'flow': { type: 'layer', doc: 'the item is a flow-export record (NetFlow/IPFIX flow, sFlow counters or undecoded sample), not a packet', get: (p: Packet) => p.flow !== null },
  'flow.type': { type: 'string', doc: 'flow (NetFlow/IPFIX record), sample (sFlow flow sample not decoded as a packet) or counters (sFlow counters sample)', get: (p: Packet) => p.flow?.type },
  'flow.format': { type: 'string', doc: 'netflow5, netflow9, ipfix or sflow5', get: (p: Packet) => p.flow?.format },
  'flow.exporter': { type: 'string', doc: 'address:port the export datagram came from', get: (p: Packet) => p.flow?.exporter },
  'flow.packets': { type: 'number', doc: 'packets of the flow as exported (not scaled by sample.rate)', get: (p: Packet) => p.flow?.packets },
  'flow.bytes': { type: 'number', doc: 'bytes of the flow as exported (not scaled by sample.rate)', get: (p: Packet) => p.flow?.bytes },
  'flow.start': { type: 'number', doc: 'first packet of the flow, seconds since the Unix epoch (float)', get: (p: Packet) => p.flow?.start },
  'flow.end': { type: 'number', doc: 'last packet of the flow, seconds since the Unix epoch (float); the record\'s event time ts', get: (p: Packet) => p.flow?.end },
  'flow.input': { type: 'number', doc: 'input interface ifIndex', get: (p: Packet) => p.flow?.input },
  'flow.output': { type: 'number', doc: 'output interface ifIndex', get: (p: Packet) => p.flow?.output },
  'flow.domain': { type: 'number', doc: 'NetFlow v9 source id, IPFIX observation domain, v5 engine type << 8 | id, sFlow sub-agent', get: (p: Packet) => p.flow?.domain },
  'sflow.agent': { type: 'ip', doc: 'sFlow agent address', get: (p: Packet) => p.flow?.agent },
  'if.index': { type: 'number', doc: 'sFlow counters: ifIndex', get: (p: Packet) => p.iface?.index },
  'if.speed': { type: 'number', doc: 'sFlow counters: ifSpeed, bit/s', get: (p: Packet) => p.iface?.speed },
  'if.status': { type: 'number', doc: 'sFlow counters: bit 0 admin up, bit 1 oper up', get: (p: Packet) => p.iface?.status },
  'if.in_octets': { type: 'number', doc: 'sFlow counters: ifInOctets', get: (p: Packet) => p.iface?.in_octets },
  'if.in_ucast': { type: 'number', doc: 'sFlow counters: ifInUcastPkts', get: (p: Packet) => p.iface?.in_ucast },
  'if.in_discards': { type: 'number', doc: 'sFlow counters: ifInDiscards', get: (p: Packet) => p.iface?.in_discards },
  'if.in_errors': { type: 'number', doc: 'sFlow counters: ifInErrors', get: (p: Packet) => p.iface?.in_errors },
  'if.out_octets': { type: 'number', doc: 'sFlow counters: ifOutOctets', get: (p: Packet) => p.iface?.out_octets },
  'if.out_ucast': { type: 'number', doc: 'sFlow counters: ifOutUcastPkts', get: (p: Packet) => p.iface?.out_ucast },
  'if.out_discards': { type: 'number', doc: 'sFlow counters: ifOutDiscards', get: (p: Packet) => p.iface?.out_discards },
  'if.out_errors': { type: 'number', doc: 'sFlow counters: ifOutErrors', get: (p: Packet) => p.iface?.out_errors },
} as const satisfies Record<string, Omit<FieldDef, 'name'>>;

export type FieldName = keyof typeof defs;

export const FIELDS: ReadonlyMap<string, FieldDef> = new Map(
  Object.entries(defs).map(([name, d]) => [name, { name, ...d } as FieldDef]),
);

export function isFieldName(name: string): name is FieldName {
  return FIELDS.has(name);
}

export function fieldGetter(name: string): (p: Packet) => FieldValue {
  const d = FIELDS.get(name);
  if (!d) throw new IntstreamError('TASK_INVALID', `unknown field '${name}'`, unknownFieldHint(name));
  return d.get;
}

/** For an unknown field name: the closest known names, and every field of its layer. */
export function unknownFieldHint(name: string): string {
  const dist = (a: string, b: string): number => {
    const row = Array.from({ length: b.length + 1 }, (_, j) => j);
    for (let i = 1; i <= a.length; i++) {
      let prev = row[0];
      row[0] = i;
      for (let j = 1; j <= b.length; j++) {
        const cur = row[j];
        row[j] = Math.min(row[j] + 1, row[j - 1] + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
        prev = cur;
      }
    }
    return row[b.length];
  };
  const names = [...FIELDS.keys()];
  const best = names.map((f) => [f, dist(name, f)] as const).filter(([, d]) => d <= 2).sort((a, b) => a[1] - b[1]).slice(0, 3).map(([f]) => f);
  const layer = names.filter((f) => f.startsWith(`${name.split('.')[0]}.`));
  const parts = [];
  if (best.length) parts.push(`did you mean ${best.join(' or ')}?`);
  if (layer.length) parts.push(`fields of that layer: ${layer.join(', ')}`);
  else parts.push('the field names are in the README, section Fields');
  return parts.join('; ');
}
