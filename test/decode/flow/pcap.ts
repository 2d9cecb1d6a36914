// Test support: a tiny, independent pcap reader and L2-L4 parser, used to compute expected
// values from the captures that the real exporters (softflowd, pmacctd) read. Classic pcap
// only (both byte orders, micro- and nanosecond magic); Ethernet, 802.1Q/802.1ad tags, raw IP.

import { readFileSync } from 'node:fs';

export interface PcapPacket {
  /** Seconds since the epoch. */
  ts: number;
  caplen: number;
  origLen: number;
  data: Uint8Array;
}

export interface Pcap {
  linktype: number;
  packets: PcapPacket[];
}

export function readPcap(path: string): Pcap {
  const b = readFileSync(path);
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const magicBE = dv.getUint32(0, false);
  let le: boolean;
  let nano: boolean;
  if (magicBE === 0xa1b2c3d4) [le, nano] = [false, false];
  else if (magicBE === 0xd4c3b2a1) [le, nano] = [true, false];
  else if (magicBE === 0xa1b23c4d) [le, nano] = [false, true];
  else if (magicBE === 0x4d3cb2a1) [le, nano] = [true, true];
  else throw new Error(`${path}: not a classic pcap file`);
  const linktype = dv.getUint32(20, le) & 0x0fffffff;
  const packets: PcapPacket[] = [];
  let p = 24;
  while (p + 16 <= b.length) {
    const sec = dv.getUint32(p, le);
    const frac = dv.getUint32(p + 4, le);
    const caplen = dv.getUint32(p + 8, le);
    const origLen = dv.getUint32(p + 12, le);
    p += 16;
    if (p + caplen > b.length) break;
    packets.push({
      ts: sec + frac / (nano ? 1e9 : 1e6),
      caplen,
      origLen,
      data: new Uint8Array(b.buffer, b.byteOffset + p, caplen),
    });
    p += caplen;
  }
  return { linktype, packets };
}

export interface ParsedPacket {
  /** Ethernet type of the network layer after any VLAN tags (0x0800, 0x86dd, 0x0806, ...). */
  etherType: number;
  /** Outermost 802.1Q VLAN id, or null. */
  vlan: number | null;
  /** Number of 802.1Q / 802.1ad tags. */
  vlanTags: number;
  /** Number of MPLS labels before the IP header. */
  mplsLabels: number;
  /** Offset of the network header in the frame. */
  l3: number;
  ipVersion: 4 | 6 | null;
  src: string | null;
  dst: string | null;
  /** IPv4 protocol / IPv6 upper-layer next header, or null. */
  proto: number | null;
  /** IPv4 total length / IPv6 payload length + 40 (the IP header's own claim). */
  ipLen: number | null;
  /** IPv4: non-first fragment (offset != 0). */
  laterFragment: boolean;
  /** IPv4 MF flag or IPv6 fragment header. */
  fragment: boolean;
  sport: number | null;
  dport: number | null;
  tcpFlags: number | null;
  icmpType: number | null;
  icmpCode: number | null;
  tos: number | null;
}

function v4text(b: Uint8Array, p: number): string {
  return `${b[p]}.${b[p + 1]}.${b[p + 2]}.${b[p + 3]}`;
}

/** IPv6 text via the WHATWG URL serializer (an implementation independent of the decoder's). */
function v6text(b: Uint8Array, p: number): string {
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(((b[p + i]! << 8) | b[p + i + 1]!).toString(16));
  const host = new URL(`http://[${groups.join(':')}]/`).hostname;
  return host.slice(1, -1);
}

/** Parses a frame of the given link type (1 Ethernet, 101 raw IP). */
export function parsePacket(d: Uint8Array, linktype: number, caplen = d.length): ParsedPacket {
  const r: ParsedPacket = {
    etherType: 0,
    vlan: null,
    vlanTags: 0,
    mplsLabels: 0,
    l3: 0,
    ipVersion: null,
    src: null,
    dst: null,
    proto: null,
    ipLen: null,
    laterFragment: false,
    fragment: false,
    sport: null,
    dport: null,
    tcpFlags: null,
    icmpType: null,
    icmpCode: null,
    tos: null,
  };
  let p = 0;
  if (linktype === 1) {
    if (caplen < 14) return r;
    let et = (d[12]! << 8) | d[13]!;
    p = 14;
    while ((et === 0x8100 || et === 0x88a8 || et === 0x9100) && p + 4 <= caplen) {
      if (r.vlan === null) r.vlan = ((d[p]! << 8) | d[p + 1]!) & 0xfff;
      r.vlanTags++;
      et = (d[p + 2]! << 8) | d[p + 3]!;
      p += 4;
    }
    if (et === 0x8847 || et === 0x8848) {
      // MPLS label stack, then IPv4/IPv6 by the version nibble
      let bottom = false;
      while (!bottom && p + 4 <= caplen) {
        bottom = (d[p + 2]! & 1) === 1;
        r.mplsLabels++;
        p += 4;
      }
      const v = p < caplen ? d[p]! >> 4 : 0;
      et = v === 4 ? 0x0800 : v === 6 ? 0x86dd : 0;
    }
    r.etherType = et;
  } else if (linktype === 101) {
    r.etherType = caplen > 0 && d[0]! >> 4 === 6 ? 0x86dd : 0x0800;
  } else {
    return r;
  }
  r.l3 = p;
  let l4 = -1;
  if (r.etherType === 0x0800 && p + 20 <= caplen && d[p]! >> 4 === 4) {
    const ihl = (d[p]! & 15) * 4;
    r.ipVersion = 4;
    r.tos = d[p + 1]!;
    r.ipLen = (d[p + 2]! << 8) | d[p + 3]!;
    const fragField = (d[p + 6]! << 8) | d[p + 7]!;
    r.laterFragment = (fragField & 0x1fff) !== 0;
    r.fragment = r.laterFragment || (fragField & 0x2000) !== 0;
    r.proto = d[p + 9]!;
    r.src = v4text(d, p + 12);
    r.dst = v4text(d, p + 16);
    if (!r.laterFragment) l4 = p + ihl;
  } else if (r.etherType === 0x86dd && p + 40 <= caplen) {
    r.ipVersion = 6;
    r.tos = ((d[p]! & 15) << 4) | (d[p + 1]! >> 4);
    r.ipLen = ((d[p + 4]! << 8) | d[p + 5]!) + 40;
    r.src = v6text(d, p + 8);
    r.dst = v6text(d, p + 24);
    let nh = d[p + 6]!;
    let q = p + 40;
    // walk extension headers: hop-by-hop, routing, fragment, destination options
    while ((nh === 0 || nh === 43 || nh === 44 || nh === 60) && q + 8 <= caplen) {
      if (nh === 44) {
        r.fragment = true;
        if ((((d[q + 2]! << 8) | d[q + 3]!) & 0xfff8) !== 0) r.laterFragment = true;
        nh = d[q]!;
        q += 8;
      } else {
        const next = d[q]!;
        q += (d[q + 1]! + 1) * 8;
        nh = next;
      }
    }
    r.proto = nh;
    if (!r.laterFragment) l4 = q;
  }
  if (l4 >= 0) {
    if ((r.proto === 6 || r.proto === 17 || r.proto === 132) && l4 + 4 <= caplen) {
      r.sport = (d[l4]! << 8) | d[l4 + 1]!;
      r.dport = (d[l4 + 2]! << 8) | d[l4 + 3]!;
      if (r.proto === 6 && l4 + 14 <= caplen) r.tcpFlags = d[l4 + 13]!;
    } else if ((r.proto === 1 || r.proto === 58) && l4 + 2 <= caplen) {
      r.icmpType = d[l4]!;
      r.icmpCode = d[l4 + 1]!;
    }
  }
  return r;
}
