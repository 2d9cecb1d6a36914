/**
 * What intstream should report for a frame, derived from tshark's dissection of it (not from
 * the code under test), plus the matching projection of a decoded Packet onto the docs/contracts.md field
 * names. Shared by the differential and the truncation tests.
 *
 * The model walks tshark's `frame.protocols` in order and consumes each repeated field's values
 * as the layers that carry them go by (tshark lists a field's occurrences in packet order, so
 * the k-th `ip` layer owns the k-th `ip.src`). It follows only the encapsulations intstream
 * decodes (SUPPORTED below) and stops where intstream stops:
 *  - after TCP, ICMP and ICMPv6, and after UDP unless VXLAN or Geneve follows. In particular an
 *    ICMP error's quoted IP/TCP/UDP header, which tshark dissects as a second `ip` layer (so its
 *    last `ip.src` is the quoted one), is not the packet's own header: intstream keeps the outer
 *    addresses, and so does the model;
 *  - at any protocol intstream does not enter (application protocols, and any tunnel it does not
 *    know). `Expectation.deeper` says whether tshark found IP or transport layers past that
 *    point, so that a test can insist this happens only where it is a known, legitimate gap.
 * A tunnel (GRE, ERSPAN, VXLAN, Geneve, IP in IP) makes the first IP header `outer.ip.*` and the
 * IP header inside the innermost tunnel `ip.*` (none when that one is cut off); transport fields
 * belong to that innermost IP header only.
 */
import { fileURLToPath } from 'node:url';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Packet } from '../../src/decode/packet.ts';
import type { FieldName, FieldValue } from '../../src/decode/fields.ts';
import type { TsharkField, TsharkPacket } from '../support/tshark.ts';

/** The shared public captures (see their SOURCES.tsv). */
export const CAPTURES = process.env.INTSTREAM_CAPTURES ??
  fileURLToPath(new URL('../captures/', import.meta.url));

export function captureFiles(dirs: string[]): string[] {
  return dirs.flatMap((d) => readdirSync(join(CAPTURES, d)).sort().map((f) => join(CAPTURES, d, f)));
}

/** The fields compared per packet, by their docs/contracts.md names. */
export const COMPARED = [
  'eth.src', 'eth.dst', 'vlan.id',
  'ip.version', 'ip.src', 'ip.dst', 'ip.proto', 'ip.len', 'ip.ttl', 'ip.tos', 'ip.fragment',
  'tcp.sport', 'tcp.dport', 'tcp.flags', 'tcp.seq', 'tcp.ack', 'tcp.window', 'tcp.payload_len',
  'udp.sport', 'udp.dport', 'udp.len', 'icmp.type', 'icmp.code',
  'outer.ip.src', 'outer.ip.dst', 'outer.ip.proto', 'tunnel.id',
] as const satisfies readonly FieldName[];

export type Compared = Partial<Record<(typeof COMPARED)[number], number | string | boolean>>;

/** Protocols (tshark names) that intstream decodes and walks through. */
export const SUPPORTED = new Set([
  'eth', 'ethertype', 'vlan', 'ieee8021ad', 'mpls', 'pwethcw', 'sll', 'null', 'raw',
  'ip', 'ipv6', 'ipv6.hopopts', 'ipv6.routing', 'ipv6.fraghdr', 'ipv6.dstopts', 'ah',
  'tcp', 'udp', 'icmp', 'icmpv6', 'gre', 'erspan', 'vxlan', 'geneve', 'wlan', 'llc',
]);

/** IPv6 extension headers and the field holding their Next Header. */
const EXT_NEXT: Record<string, TsharkField> = {
  'ipv6.hopopts': 'ipv6.hopopts.nxt',
  'ipv6.routing': 'ipv6.routing.nxt',
  'ipv6.fraghdr': 'ipv6.fraghdr.nxt',
  'ipv6.dstopts': 'ipv6.dstopts.nxt',
  'ah': 'ah.next_header',
};

export interface Expectation {
  fields: Compared;
  /** Index in `protocols` where the walk stopped, or protocols.length. */
  stopIndex: number;
  /** Why: 'end', 'transport' (TCP/UDP/ICMP reached), 'unsupported' (a protocol we do not enter). */
  stop: 'end' | 'transport' | 'unsupported';
  /** tshark found IP or transport layers beyond the stop (an ICMP quote, an unknown tunnel). */
  deeper: boolean;
  /** The walk stopped at ICMP/ICMPv6 and tshark dissected a quoted header after it. */
  icmpQuote: boolean;
  /** Number of IP headers (outer and inner) the walk went through. */
  ipCount: number;
}

/** Normalises IPv6 text to RFC 5952, independently of src/: WHATWG URL host serialisation
 * (RFC 5952 section 4 compression and case), plus section 5's mixed notation for IPv4-mapped
 * addresses (::ffff:0:0/96), which URL leaves in hex. IPv4 text passes through. */
export function rfc5952(text: string): string {
  if (!text.includes(':')) return text;
  const host = new URL(`http://[${text}]/`).hostname.slice(1, -1);
  const m = /^::ffff:([0-9a-f]{1,4}):([0-9a-f]{1,4})$/.exec(host);
  if (m) {
    const hi = parseInt(m[1], 16), lo = parseInt(m[2], 16);
    return `::ffff:${hi >> 8}.${hi & 255}.${lo >> 8}.${lo & 255}`;
  }
  return host;
}

export function expectFromTshark(t: Pick<TsharkPacket, 'protocols' | 'f'>): Expectation {
  const used = new Map<TsharkField, number>();
  const take = (field: TsharkField): string | undefined => {
    const i = used.get(field) ?? 0;
    used.set(field, i + 1);
    return t.f[field][i];
  };
  const num = (field: TsharkField): number => Number(take(field));
  interface Ip { version: number; src: string; dst: string; proto: number; len: number; ttl: number; tos: number; fragment: boolean; later: boolean }
  const ips: Ip[] = [];
  let vlan: number | undefined;
  let eth: { src: string; dst: string } | undefined;
  let tunnelId: number | undefined;
  let tunnelled = false;
  let innerFrom = 0; // index into ips of the first header inside the innermost tunnel
  let l4: Compared | undefined;
  const pr = t.protocols;
  let stopIndex = pr.length;
  let stop: Expectation['stop'] = 'end';
  walk: for (let i = 0; i < pr.length; i++) {
    const name = pr[i];
    if (!SUPPORTED.has(name)) { stopIndex = i; stop = 'unsupported'; break; }
    const enterTunnel = () => { tunnelled = true; innerFrom = ips.length; l4 = undefined; };
    switch (name) {
      case 'eth': // a new (inner) frame: its own tags count
        vlan = undefined;
        eth = { src: take('eth.src')!, dst: take('eth.dst')! };
        break;
      case 'vlan': { const v = num('vlan.id'); if (vlan === undefined) vlan = v; break; }
      case 'ieee8021ad': { const v = num('ieee8021ad.id'); if (vlan === undefined) vlan = v; break; }
      case 'gre': enterTunnel(); break;
      case 'llc': // LLC/SNAP is walked inside 802.11 (Aruba) only; on Ethernet it ends the walk
        if (pr[i - 1] !== 'wlan') { stopIndex = i; stop = 'unsupported'; break walk; }
        break;
      case 'vxlan': case 'geneve': {
        enterTunnel();
        const id = take(name === 'vxlan' ? 'vxlan.vni' : 'geneve.vni');
        if (id !== undefined) tunnelId = Number(id);
        break;
      }
      case 'erspan': { const id = take('erspan.spanid'); if (id !== undefined) tunnelId = Number(id); break; }
      case 'ip': case 'ipv6': {
        const prev = pr[i - 1];
        if (ips.length > 0 && (prev === 'ip' || prev === 'ipv6' || EXT_NEXT[prev] !== undefined)) enterTunnel(); // IP in IP
        if (name === 'ip') {
          const fragOffset = num('ip.frag_offset'), mf = take('ip.flags.mf');
          ips.push({
            version: 4, src: take('ip.src')!, dst: take('ip.dst')!, proto: num('ip.proto'), len: num('ip.len'),
            ttl: num('ip.ttl'), tos: parseInt(take('ip.dsfield')!, 16), fragment: fragOffset !== 0 || mf === '1' || mf === 'True', later: fragOffset !== 0,
          });
        } else {
          const plen = num('ipv6.plen');
          // RFC 2675: a zero payload length with a Jumbo Payload option (BIG TCP) takes the option's.
          const len = plen === 0 && t.f['ipv6.opt.jumbo'].length > 0 ? Number(t.f['ipv6.opt.jumbo'][0]) : plen;
          ips.push({
            version: 6, src: take('ipv6.src')!, dst: take('ipv6.dst')!, proto: num('ipv6.nxt'), len: len + 40,
            ttl: num('ipv6.hlim'), tos: parseInt(take('ipv6.tclass')!, 16), fragment: false, later: false,
          });
        }
        l4 = undefined;
        break;
      }
      case 'tcp':
        l4 = {
          'tcp.sport': num('tcp.srcport'), 'tcp.dport': num('tcp.dstport'),
          'tcp.flags': parseInt(take('tcp.flags')!, 16), 'tcp.seq': num('tcp.seq_raw'),
          'tcp.ack': num('tcp.ack_raw'), 'tcp.window': num('tcp.window_size_value'),
          'tcp.payload_len': num('tcp.len'),
        };
        stopIndex = i + 1; stop = 'transport';
        break walk;
      case 'udp':
        l4 = { 'udp.sport': num('udp.srcport'), 'udp.dport': num('udp.dstport'), 'udp.len': num('udp.length') };
        if (pr[i + 1] === 'vxlan' || pr[i + 1] === 'geneve') break;
        stopIndex = i + 1; stop = 'transport';
        break walk;
      case 'icmp': case 'icmpv6':
        l4 = name === 'icmp'
          ? { 'icmp.type': num('icmp.type'), 'icmp.code': num('icmp.code') }
          : { 'icmp.type': num('icmpv6.type'), 'icmp.code': num('icmpv6.code') };
        stopIndex = i + 1; stop = 'transport';
        break walk;
      default: {
        const nf = EXT_NEXT[name];
        if (nf === undefined) break;
        // AH is walked in IPv4 as in IPv6: `ip.proto` is the protocol after it (tshark's ip.proto
        // stays 51), like that after IPv6 extension headers.
        const last = ips[ips.length - 1];
        last.proto = num(nf);
        if (name === 'ipv6.fraghdr') {
          const offset = num('ipv6.fraghdr.offset');
          last.fragment = offset !== 0 || take('ipv6.fraghdr.more') === '1';
          last.later = offset !== 0;
        }
      }
    }
  }
  const rest = pr.slice(stopIndex);
  const deeper = rest.some((x) => x === 'ip' || x === 'ipv6' || x === 'tcp' || x === 'udp');
  const fields: Compared = {};
  if (eth) { fields['eth.src'] = eth.src; fields['eth.dst'] = eth.dst; }
  if (vlan !== undefined) fields['vlan.id'] = vlan;
  // An IP header whose protocol is IP (4, 41) announces a tunnel even when the inner header is
  // cut off by the capture (tshark then shows no inner layer).
  const lastIp = ips[ips.length - 1];
  if (stop === 'end' && lastIp && ips.length > innerFrom && (lastIp.proto === 4 || lastIp.proto === 41) && !lastIp.later) {
    tunnelled = true; innerFrom = ips.length; l4 = undefined;
  }
  const inner = tunnelled ? ips.slice(innerFrom) : ips;
  const ip = inner[inner.length - 1];
  if (ip) {
    fields['ip.version'] = ip.version;
    fields['ip.src'] = rfc5952(ip.src);
    fields['ip.dst'] = rfc5952(ip.dst);
    fields['ip.proto'] = ip.proto;
    fields['ip.len'] = ip.len;
    fields['ip.ttl'] = ip.ttl;
    fields['ip.tos'] = ip.tos;
    fields['ip.fragment'] = ip.fragment;
    if (l4) Object.assign(fields, l4);
  }
  if (tunnelled) {
    fields['outer.ip.src'] = rfc5952(ips[0].src);
    fields['outer.ip.dst'] = rfc5952(ips[0].dst);
    fields['outer.ip.proto'] = ips[0].proto;
    if (tunnelId !== undefined) fields['tunnel.id'] = tunnelId;
  }
  const icmpQuote = stop === 'transport' && (pr[stopIndex - 1] === 'icmp' || pr[stopIndex - 1] === 'icmpv6') && deeper;
  return { fields, stopIndex, stop, deeper, icmpQuote, ipCount: ips.length };
}

/** The compared fields of a decoded packet, read through the field table (`p.get`). */
export function decodedFields(p: Packet): Compared {
  const o: Compared = {};
  for (const name of COMPARED) {
    const v: FieldValue = p.get(name);
    if (v !== undefined) o[name] = v;
  }
  return o;
}

/** The largest double below x (x > 0), by its bit pattern. */
export function nextDown(x: number): number {
  const v = new DataView(new ArrayBuffer(8));
  v.setFloat64(0, x);
  v.setBigUint64(0, v.getBigUint64(0) - 1n);
  return v.getFloat64(0);
}

/**
 * The timestamp intstream must report for a decimal text "SEC.FRACTION" of the exact time: the
 * double nearest to it (JavaScript's number parsing rounds correctly), except that a value that
 * would round up to SEC + 1 is the largest double below it: windows rely on a timestamp never
 * moving into the next second (PacketBatch.ts).
 */
export function expectedTs(text: string): number {
  const sec = Number(text.split('.')[0]);
  const t = Number(text);
  return t >= sec + 1 ? nextDown(sec + 1) : t;
}

/** LINKTYPE_* for tshark's `frame.encap_type` (wiretap's WTAP_ENCAP_* numbers, wtap.h). */
export const LINKTYPE_OF_WTAP: Record<number, number[]> = {
  1: [1], // WTAP_ENCAP_ETHERNET
  7: [101, 12, 14], // WTAP_ENCAP_RAW_IP (LINKTYPE_RAW and the old DLT_RAW values)
  15: [0], // WTAP_ENCAP_NULL
  25: [113], // WTAP_ENCAP_SLL
  129: [228], // WTAP_ENCAP_RAW_IP4
  130: [229], // WTAP_ENCAP_RAW_IP6
  210: [276], // WTAP_ENCAP_SLL2
};
