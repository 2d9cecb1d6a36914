/**
 * Where each filterable field lies in the packet's bytes, written once. The compiled filter
 * (compile.ts) inlines `value` behind its layer's presence test, the interpreter (interpret.ts)
 * runs the same expression as a function, the raw pre-filter (raw-reject.ts) evaluates it over a
 * record's bytes before decoding (with the Packet's decoded offsets replaced by its own locals),
 * and bpf.ts writes the kernel form from `bpf`. A new byte-level field is one entry here.
 *
 * `value` is a JavaScript expression over `b` (the capture buffer), `l4` (the offset of the L4
 * header, -1 when absent) and the reused Packet `p` (`p.l3`, `p.proto`, `p.ipLen`, ...); it may
 * only be read when `layer`'s presence test (LAYER_PRESENT) holds. Fields that are not here are
 * read through their getter in decode/fields.ts (those also serve record items, which have no
 * bytes).
 */
import type { Packet } from '../../decode/packet.ts';

export type Layer = 'tcp' | 'udp' | 'icmp' | 'ip' | 'vlan' | '';

/** How a field is written in BPF (pcap-filter) syntax, when it can be. */
export type BpfForm =
  | { flagBit: number } // a TCP flag: tcp[13] & bit
  | { port: string } // equality only: `tcp dst port N`
  | { tcpFlags: true } // tcp[13] with an optional mask
  | { proto: true } // ip proto N or ip6 proto N
  | { version: true } // ip / ip6
  | { len: true } // len OP N
  | { vlanId: true }; // vlan N (equality)

export interface ByteLayout {
  layer: Layer;
  value: string;
  bpf?: BpfForm;
}

/** Presence of a layer, as an expression over the Packet `p` and `l4`. */
export const LAYER_PRESENT: Record<Exclude<Layer, ''>, string> = {
  tcp: '(p.proto === 6 && l4 >= 0)',
  udp: '(p.proto === 17 && l4 >= 0)',
  icmp: '((p.proto === 1 || p.proto === 58) && l4 >= 0)',
  ip: '(p.l3 !== 0)',
  vlan: '(p.vlanDepth > 0)',
};

const u16 = (at: string) => `((b[${at}] << 8) | b[${at} + 1])`;

export const BYTE_LAYOUT: Readonly<Record<string, ByteLayout>> = {
  'tcp.flags': { layer: 'tcp', value: '(((b[l4 + 12] & 15) << 8) | b[l4 + 13])', bpf: { tcpFlags: true } },
  'tcp.fin': { layer: 'tcp', value: '(b[l4 + 13] & 1)', bpf: { flagBit: 1 } },
  'tcp.syn': { layer: 'tcp', value: '((b[l4 + 13] >> 1) & 1)', bpf: { flagBit: 2 } },
  'tcp.rst': { layer: 'tcp', value: '((b[l4 + 13] >> 2) & 1)', bpf: { flagBit: 4 } },
  'tcp.psh': { layer: 'tcp', value: '((b[l4 + 13] >> 3) & 1)', bpf: { flagBit: 8 } },
  'tcp.ack_flag': { layer: 'tcp', value: '((b[l4 + 13] >> 4) & 1)', bpf: { flagBit: 16 } },
  'tcp.urg': { layer: 'tcp', value: '((b[l4 + 13] >> 5) & 1)', bpf: { flagBit: 32 } },
  'tcp.sport': { layer: 'tcp', value: u16('l4'), bpf: { port: 'tcp src port' } },
  'tcp.dport': { layer: 'tcp', value: u16('l4 + 2'), bpf: { port: 'tcp dst port' } },
  'tcp.seq': { layer: 'tcp', value: '(((b[l4 + 4] << 24) | (b[l4 + 5] << 16) | (b[l4 + 6] << 8) | b[l4 + 7]) >>> 0)' },
  'tcp.window': { layer: 'tcp', value: u16('l4 + 14') },
  'tcp.payload_len': { layer: 'tcp', value: 'p.l4PayloadLen' },
  'udp.sport': { layer: 'udp', value: u16('l4'), bpf: { port: 'udp src port' } },
  'udp.dport': { layer: 'udp', value: u16('l4 + 2'), bpf: { port: 'udp dst port' } },
  'udp.payload_len': { layer: 'udp', value: 'p.l4PayloadLen' },
  'icmp.type': { layer: 'icmp', value: 'b[l4]' },
  'icmp.code': { layer: 'icmp', value: 'b[l4 + 1]' },
  'ip.version': { layer: 'ip', value: 'p.l3', bpf: { version: true } },
  'ip.proto': { layer: 'ip', value: 'p.proto', bpf: { proto: true } },
  'ip.len': { layer: 'ip', value: 'p.ipLen' },
  'vlan.id': { layer: 'vlan', value: 'p.vlanId', bpf: { vlanId: true } },
  'len': { layer: '', value: 'p.len', bpf: { len: true } },
  'caplen': { layer: '', value: '(p.end - p.start)' },
  'ts': { layer: '', value: 'p.ts' },
  'source': { layer: '', value: 'p.source' },
};

/**
 * A field's value read straight from the bytes, or undefined when its layer is absent: the
 * layout's expression made a function once (not per packet).
 */
export function byteReader(name: string): ((p: Packet) => number | undefined) | undefined {
  const f = BYTE_LAYOUT[name];
  if (!f) return undefined;
  const present = f.layer === '' ? 'true' : LAYER_PRESENT[f.layer];
  return new Function('p', `"use strict"; const b = p.buf, l4 = p.l4Off; return ${present} ? ${f.value} : undefined;`) as (p: Packet) => number | undefined;
}
