/**
 * HOT PATH (bench/newconn.ts): one pass over a packet's headers, recording where each layer
 * starts in the reused Packet. No allocation: only integers are written. Each section below is
 * one protocol, opening with its header layout.
 *
 * Walk: link layer -> (Ethernet -> VLAN tags* -> MPLS labels*) -> IPv4 | IPv6 (+ extension
 * headers) -> TCP | UDP | ICMP; tunnels (GRE, ERSPAN II/III, VXLAN, Geneve, IP-in-IP, Aruba GRE
 * 802.11) restart the walk on the inner packet after saving the outermost IP header as `outer`.
 * A header that does not fit the captured bytes sets status TRUNCATED with a reason naming it;
 * a header whose fields contradict each other sets MALFORMED; the walk stops there and the
 * layers decoded so far stay readable.
 *
 * Which stops are counted: every packet the walk cannot follow to its end has a status and a
 * reason (the local stage counts it as `malformed` by reason). The end of a packet is a layer
 * that carries no further header intstream knows how to read: TCP, UDP (but for the tunnel
 * ports below), ICMP, a later fragment, an unknown EtherType or 802.3/LLC frame, an IP protocol
 * that is not an encapsulation (SCTP, OSPF, IGMP, ...), and encrypted payloads (ESP, protected
 * 802.11): those packets are OK. Not OK, with a reason: a header cut by the capture (TRUNCATED),
 * contradicting fields (MALFORMED), and a header that is known to carry another packet which
 * the walk does not enter (UNSUPPORTED: an unknown link type, GRE protocol or Geneve payload,
 * GRE source routing, IP protocols that encapsulate IP, Ethernet or MPLS such as EtherIP or
 * MPLS-in-IP, EtherTypes such as PPPoE session, ...). UDP ports other than the tunnel ports
 * are application data, never counted: a port number is no proof of a tunnel.
 */
import type { Packet } from './packet.ts';
import * as L from './layers.ts';
import { MALFORMED, OK, TRUNCATED, UNSUPPORTED } from './status.ts';
import { decodeIntInFlight, decodeIntReport, INNER_ETHERNET, INNER_IPV4, INNER_IPV6, INT_ALL_STATUSES, INT_OK, intStatusKind, intStatusName } from './int/index.ts';

const NEXT_NONE = -1;
const NEXT_ETH = 0x10000;
const NEXT_80211 = 0x10001;
/** Raw IP of either version, by the first nibble (DLT_RAW, MPLS payload). */
const NEXT_IP = 0x10002;
const MAX_TUNNEL_DEPTH = 8;

/** Where the walk continues: set by each layer function next to its returned type. */
let cursor = 0;

function u16(b: Uint8Array, o: number): number {
  return (b[o] << 8) | b[o + 1];
}

function fail(p: Packet, status: typeof TRUNCATED | typeof MALFORMED | typeof UNSUPPORTED, reason: string): number {
  p.status = status;
  p.reason = reason;
  return NEXT_NONE;
}

/**
 * IP protocols that carry another packet which the walk does not enter: a packet ending in one
 * is UNSUPPORTED ('ip_encapsulation_unsupported'), never silently OK. EtherIP (97, RFC 3378),
 * L2TPv3 (115, RFC 3931), MPLS-in-IP (137, RFC 4023).
 */
const IP_ENCAPSULATIONS = new Uint8Array(256);
for (const proto of [97, 115, 137]) IP_ENCAPSULATIONS[proto] = 1;

/**
 * EtherTypes of the same kind ('ethertype_encapsulation_unsupported'): PPPoE session (0x8864,
 * PPP then IP), 802.1ah provider backbone bridging (0x88e7, an Ethernet frame), NSH (0x894f).
 * Other EtherTypes (ARP, LLDP, ...) end the packet and are OK.
 */
function ethertypeEncapsulation(type: number): boolean {
  return type === 0x8864 || type === 0x88e7 || type === 0x894f;
}

/** Decodes the record at buf[off, off+capLen) into `p`. Never throws on packet data. */
export function decodePacket(p: Packet, buf: Uint8Array, off: number, capLen: number, wireLen: number, ts: number, linkType: number): void {
  p.buf = buf; p.start = off; p.end = off + capLen; p.len = wireLen; p.ts = ts; p.linkType = linkType;
  p.status = OK; p.reason = ''; p.intStatus = -1;
  if (linkType === L.LINKTYPE_ETHERNET && decodeCommon(p, buf, off, off + capLen)) {
    if (p.intMdPort !== 0 || p.intMdDscpMask !== 0) decodeIntInFlightLayer(p);
    return;
  }
  decodeWalk(p, buf, off, linkType);
  if (p.intMdPort !== 0 || p.intMdDscpMask !== 0) decodeIntInFlightLayer(p);
}

/** The general walk alone (no fast path): the reference the fast path is tested against. */
export function decodePacketGeneral(p: Packet, buf: Uint8Array, off: number, capLen: number, wireLen: number, ts: number, linkType: number): void {
  p.buf = buf; p.start = off; p.end = off + capLen; p.len = wireLen; p.ts = ts; p.linkType = linkType;
  p.status = OK; p.reason = ''; p.intStatus = -1;
  decodeWalk(p, buf, off, linkType);
  if (p.intMdPort !== 0 || p.intMdDscpMask !== 0) decodeIntInFlightLayer(p);
}

function decodeWalk(p: Packet, buf: Uint8Array, off: number, linkType: number): void {
  p.ethOff = -1; p.ethType = -1; p.vlanId = -1; p.vlanDepth = 0; p.mplsDepth = 0;
  p.l3 = 0; p.l3Off = -1; p.ipLen = 0; p.proto = -1; p.frag = 0; p.fragOffset = 0; p.l4Off = -1; p.l4PayloadLen = 0;
  p.outerL3 = 0; p.outerL3Off = -1; p.outerProto = -1; p.outerIpLen = 0;
  p.tunnelType = 0; p.tunnelDepth = 0; p.tunnelId = -1;

  const end = p.end;
  let next = decodeLink(p, buf, off, end, linkType);
  let at = cursor;
  while (next !== NEXT_NONE) {
    switch (next) {
      case NEXT_ETH: next = decodeEthernet(p, buf, at, end); break;
      case L.ETHERTYPE_IPV4: next = decodeIpv4(p, buf, at, end); break;
      case L.ETHERTYPE_IPV6: next = decodeIpv6(p, buf, at, end); break;
      case L.ETHERTYPE_VLAN: case L.ETHERTYPE_QINQ: case L.ETHERTYPE_QINQ_OLD:
        next = decodeVlan(p, buf, at, end, next); break;
      case L.ETHERTYPE_MPLS: case L.ETHERTYPE_MPLS_MC: next = decodeMpls(p, buf, at, end); break;
      case NEXT_IP: next = decodeRawIp(p, buf, at, end); break;
      case NEXT_80211: next = decodeIeee80211(p, buf, at, end); break;
      default: // ARP, LLDP, ...: a valid packet without an IP layer
        if (ethertypeEncapsulation(next)) fail(p, UNSUPPORTED, 'ethertype_encapsulation_unsupported');
        return;
    }
    at = cursor;
  }
}

/**
 * The common case in one straight pass: Ethernet, at most one 802.1Q tag, IPv4 without options
 * and unfragmented, or IPv6 without extension headers, then TCP or UDP (not to a tunnel port),
 * all captured. Returns false, having written nothing that matters, for anything else: the
 * general walk then decodes it. Equal results to the general walk are a test
 * (test/decode/fast-path.test.ts); this exists for speed alone (bench/newconn.ts).
 */
function decodeCommon(p: Packet, b: Uint8Array, off: number, end: number): boolean {
  let o = off + 14;
  let type = (b[off + 12] << 8) | b[off + 13];
  let vlanId = -1, vlanDepth = 0;
  if (type === L.ETHERTYPE_VLAN) {
    vlanId = ((b[o] << 8) | b[o + 1]) & 0x0fff;
    type = (b[o + 2] << 8) | b[o + 3];
    vlanDepth = 1;
    o += 4;
  }
  let l3: number, proto: number, l4: number, ipEnd: number, ipLen: number;
  if (type === L.ETHERTYPE_IPV4) {
    if (end - o < 40 || b[o] !== 0x45 || (b[o + 6] & 0x3f) !== 0 || b[o + 7] !== 0) return false;
    l3 = 4; proto = b[o + 9]; l4 = o + 20;
    const total = (b[o + 2] << 8) | b[o + 3];
    if (total < 20) return false;
    ipEnd = o + total; ipLen = total;
  } else if (type === L.ETHERTYPE_IPV6) {
    if (end - o < 60 || b[o] >> 4 !== 6) return false;
    const plen = (b[o + 4] << 8) | b[o + 5];
    if (plen === 0) return false; // jumbogram: the general walk reads the hop-by-hop option
    l3 = 6; proto = b[o + 6]; l4 = o + 40; ipEnd = o + 40 + plen; ipLen = plen + 40;
  } else return false;
  const wireEnd = p.start + p.len > end ? p.start + p.len : end;
  if (ipEnd > wireEnd) ipEnd = wireEnd;
  let pl: number;
  if (proto === L.IPPROTO_TCP) {
    const hl = (b[l4 + 12] >> 4) * 4;
    if (hl < 20 || end - l4 < hl) return false; // options cut: the general walk says truncated
    pl = ipEnd - l4 - hl;
  } else if (proto === L.IPPROTO_UDP) {
    if (end - l4 < 8) return false;
    const sport = (b[l4] << 8) | b[l4 + 1], dport = (b[l4 + 2] << 8) | b[l4 + 3];
    if (dport === L.UDP_PORT_VXLAN || dport === L.UDP_PORT_VXLAN_LINUX || sport === L.UDP_PORT_VXLAN || dport === L.UDP_PORT_GENEVE || sport === L.UDP_PORT_GENEVE) return false;
    if (dport === p.intPort) return false; // a Telemetry Report: the general walk enters it
    pl = ipEnd - l4 - 8;
  } else return false;
  p.ethOff = off; p.ethType = type; p.vlanId = vlanId; p.vlanDepth = vlanDepth; p.mplsDepth = 0;
  p.l3 = l3; p.l3Off = o; p.ipLen = ipLen; p.proto = proto;
  p.frag = 0; p.fragOffset = 0; p.l4Off = l4; p.l4PayloadLen = pl > 0 ? pl : 0;
  p.outerL3 = 0; p.outerL3Off = -1; p.outerProto = -1; p.outerIpLen = 0;
  p.tunnelType = 0; p.tunnelDepth = 0; p.tunnelId = -1;
  return true;
}

// ---- link layer -------------------------------------------------------------------------
// Ethernet (1): dst(6) src(6) type(2).  Linux SLL (113): pkttype(2) hatype(2) halen(2) addr(8)
// protocol(2).  SLL2 (276): protocol(2) reserved(2) ifindex(4) hatype(2) pkttype(1) halen(1)
// addr(8).  NULL (0): 4-byte address family in the writer's byte order; LOOP (108): the same in
// network order.  RAW (101, 12, 14): an IP packet; 228 IPv4; 229 IPv6.
function decodeLink(p: Packet, b: Uint8Array, off: number, end: number, linkType: number): number {
  cursor = off;
  switch (linkType) {
    case L.LINKTYPE_ETHERNET: return NEXT_ETH;
    case L.LINKTYPE_LINUX_SLL:
      if (end - off < 16) return fail(p, TRUNCATED, 'sll_header_truncated');
      cursor = off + 16;
      return sllProtocol(p, b, u16(b, off + 2), u16(b, off + 14));
    case L.LINKTYPE_LINUX_SLL2:
      if (end - off < 20) return fail(p, TRUNCATED, 'sll2_header_truncated');
      cursor = off + 20;
      return sllProtocol(p, b, u16(b, off + 8), u16(b, off));
    case L.LINKTYPE_RAW: case L.LINKTYPE_RAW_OPENBSD: case L.LINKTYPE_RAW_14: return NEXT_IP;
    case L.LINKTYPE_IPV4: return L.ETHERTYPE_IPV4;
    case L.LINKTYPE_IPV6: return L.ETHERTYPE_IPV6;
    case L.LINKTYPE_NULL: case L.LINKTYPE_LOOP: {
      if (end - off < 4) return fail(p, TRUNCATED, 'null_header_truncated');
      cursor = off + 4;
      // NULL is in the capturing host's byte order: accept either.
      const be = ((b[off] << 24) | (b[off + 1] << 16) | (b[off + 2] << 8) | b[off + 3]) >>> 0;
      const fam = linkType === L.LINKTYPE_LOOP || be < 256 ? be : (b[off] | (b[off + 1] << 8) | (b[off + 2] << 16) | (b[off + 3] << 24)) >>> 0;
      if (fam === 2) return L.ETHERTYPE_IPV4;
      if (fam === 10 || fam === 24 || fam === 28 || fam === 30) return L.ETHERTYPE_IPV6;
      return fail(p, UNSUPPORTED, 'null_family_unknown');
    }
    default: return fail(p, UNSUPPORTED, 'link_type_unsupported');
  }
}

function sllProtocol(p: Packet, b: Uint8Array, hatype: number, proto: number): number {
  // ARPHRD_IPGRE (778) carries GRE payload; other hardware types carry an EtherType.
  if (hatype === 778) return fail(p, UNSUPPORTED, 'sll_ipgre_unsupported');
  if (proto === 0x0004 || proto === 0x0001) return fail(p, UNSUPPORTED, 'sll_protocol_unsupported');
  return proto;
}

// ---- Ethernet II ------------------------------------------------------------------------
// dst(6) src(6) ethertype(2) payload.  An EtherType < 0x0600 is an 802.3 length: LLC follows,
// which carries no IP for our purposes.
function decodeEthernet(p: Packet, b: Uint8Array, off: number, end: number): number {
  if (end - off < 14) return fail(p, TRUNCATED, 'ethernet_header_truncated');
  p.ethOff = off;
  p.vlanId = -1; p.vlanDepth = 0; // the innermost frame's tags are the ones that count
  const type = u16(b, off + 12);
  p.ethType = type;
  cursor = off + 14;
  return type >= 0x0600 ? type : NEXT_NONE;
}

// ---- 802.1Q / 802.1ad VLAN tag ----------------------------------------------------------
// TCI(2: PCP 3 bits, DEI 1, VID 12) ethertype(2).  Any depth (QinQ, QinQinQ).
function decodeVlan(p: Packet, b: Uint8Array, off: number, end: number, _tpid: number): number {
  if (end - off < 4) return fail(p, TRUNCATED, 'vlan_tag_truncated');
  if (p.vlanDepth === 0) p.vlanId = u16(b, off) & 0x0fff;
  p.vlanDepth++;
  const type = u16(b, off + 2);
  p.ethType = type;
  cursor = off + 4;
  return type;
}

// ---- MPLS label stack (RFC 3032) -------------------------------------------------------
// label(20) TC(3) S(1) TTL(8) per entry; S marks the bottom.  The payload type is not
// signalled: IPv4/IPv6 by the first nibble, 0 = pseudowire control word then Ethernet.
function decodeMpls(p: Packet, b: Uint8Array, off: number, end: number): number {
  for (;;) {
    if (end - off < 4) return fail(p, TRUNCATED, 'mpls_label_truncated');
    p.mplsDepth++;
    const bottom = b[off + 2] & 1;
    off += 4;
    if (bottom) break;
    if (p.mplsDepth > 16) return fail(p, MALFORMED, 'mpls_stack_too_deep');
  }
  cursor = off;
  if (end - off < 1) return fail(p, TRUNCATED, 'mpls_payload_truncated');
  const nib = b[off] >> 4;
  if (nib === 4) return L.ETHERTYPE_IPV4;
  if (nib === 6) return L.ETHERTYPE_IPV6;
  if (nib === 0) { cursor = off + 4; return NEXT_ETH; }
  return fail(p, UNSUPPORTED, 'mpls_payload_unknown');
}

function decodeRawIp(p: Packet, b: Uint8Array, off: number, end: number): number {
  if (end - off < 1) return fail(p, TRUNCATED, 'ip_header_truncated');
  const v = b[off] >> 4;
  cursor = off;
  if (v === 4) return L.ETHERTYPE_IPV4;
  if (v === 6) return L.ETHERTYPE_IPV6;
  return fail(p, MALFORMED, 'ip_version_invalid');
}

/** Before the walk enters a tunnel's inner packet: keep the outermost IP header as `outer`. */
function enterTunnel(p: Packet, type: number): boolean {
  if (p.tunnelDepth === 0) {
    p.outerL3 = p.l3; p.outerL3Off = p.l3Off; p.outerProto = p.proto; p.outerIpLen = p.ipLen;
    p.tunnelType = type;
  }
  p.tunnelDepth++;
  if (p.tunnelDepth > MAX_TUNNEL_DEPTH) { fail(p, MALFORMED, 'tunnel_too_deep'); return false; }
  // The inner packet's layers replace the outer ones.
  p.l3 = 0; p.l3Off = -1; p.ipLen = 0; p.proto = -1; p.frag = 0; p.fragOffset = 0; p.l4Off = -1; p.l4PayloadLen = 0;
  return true;
}

// ---- IPv4 (RFC 791) ---------------------------------------------------------------------
// ver/ihl(1) tos(1) total_len(2) id(2) flags/frag_off(2) ttl(1) proto(1) csum(2) src(4) dst(4)
// options(ihl*4-20).  Only the first fragment (offset 0) carries the transport header.
// A total length of 0 is what TSO and BIG TCP send (the NIC or the stack fills it in, or no
// 16-bit length fits): the datagram then takes its length from the frame, up to the frame's end
// on the wire, as tshark does ("ip.len" is that length). An Authentication Header (protocol
// 51, RFC 4302: next_header(1) len(1, 4-byte units - 2) reserved(2) spi(4) seq(4) icv) is
// walked as in IPv6: `ip.proto` is then the protocol after it.
function decodeIpv4(p: Packet, b: Uint8Array, off: number, end: number): number {
  if (end - off < 20) return fail(p, TRUNCATED, 'ipv4_header_truncated');
  if (b[off] >> 4 !== 4) return fail(p, MALFORMED, 'ipv4_version_invalid');
  const hl = (b[off] & 0x0f) * 4;
  if (hl < 20) return fail(p, MALFORMED, 'ipv4_ihl_invalid');
  let total = u16(b, off + 2);
  if (total === 0) total = (p.start + p.len > end ? p.start + p.len : end) - off;
  p.l3 = 4; p.l3Off = off; p.ipLen = total;
  p.proto = b[off + 9];
  const fo = u16(b, off + 6);
  const fragOff = (fo & 0x1fff) * 8;
  p.fragOffset = fragOff;
  p.frag = fragOff !== 0 ? 2 : fo & 0x2000 ? 1 : 0;
  if (total < hl) return fail(p, MALFORMED, 'ipv4_total_length_invalid');
  if (end - off < hl) return fail(p, TRUNCATED, 'ipv4_options_truncated');
  if (fragOff !== 0) return NEXT_NONE;
  let at = off + hl;
  while (p.proto === L.IPPROTO_AH) {
    if (end - at < 8) return fail(p, TRUNCATED, 'ipv4_ah_truncated');
    const len = (b[at + 1] + 2) * 4;
    if (end - at < len) return fail(p, TRUNCATED, 'ipv4_ah_truncated');
    p.proto = b[at];
    at += len;
  }
  return decodeTransport(p, b, at, end, off + total);
}

// ---- IPv6 (RFC 8200) --------------------------------------------------------------------
// ver/tc/flow(4) payload_len(2) next_header(1) hop_limit(1) src(16) dst(16), then extension
// headers: hop-by-hop, routing, destination options, mobility, HIP, shim6 ((len+1)*8 bytes),
// fragment (8 bytes; offset != 0 means no transport header), AH (RFC 4302: (len+2)*4 bytes).
// A zero payload length with a hop-by-hop Jumbo Payload option (RFC 2675) takes its length
// from the option (BIG TCP captures).
function decodeIpv6(p: Packet, b: Uint8Array, off: number, end: number): number {
  if (end - off < 40) return fail(p, TRUNCATED, 'ipv6_header_truncated');
  if (b[off] >> 4 !== 6) return fail(p, MALFORMED, 'ipv6_version_invalid');
  p.l3 = 6; p.l3Off = off;
  let payloadLen = u16(b, off + 4);
  let nh = b[off + 6];
  p.proto = nh;
  p.ipLen = payloadLen + 40; // known from the fixed header, even if the chain below is cut
  let at = off + 40;
  for (;;) {
    if (L.IPV6_EXT_GENERIC[nh] === 1) {
      if (end - at < 8) return fail(p, TRUNCATED, 'ipv6_ext_header_truncated');
      const len = (b[at + 1] + 1) * 8;
      if (end - at < len) return fail(p, TRUNCATED, 'ipv6_ext_header_truncated');
      if (nh === L.IPPROTO_HOPOPTS && payloadLen === 0) payloadLen = jumboLength(b, at + 2, at + len);
      nh = b[at];
      at += len;
    } else if (nh === L.IPPROTO_FRAGMENT) {
      if (end - at < 8) return fail(p, TRUNCATED, 'ipv6_fragment_header_truncated');
      const fo = u16(b, at + 2);
      p.fragOffset = fo & 0xfff8;
      p.frag = p.fragOffset !== 0 ? 2 : fo & 1 ? 1 : 0;
      nh = b[at];
      at += 8;
    } else if (nh === L.IPPROTO_AH) {
      if (end - at < 8) return fail(p, TRUNCATED, 'ipv6_ah_truncated');
      const len = (b[at + 1] + 2) * 4;
      if (end - at < len) return fail(p, TRUNCATED, 'ipv6_ah_truncated');
      nh = b[at];
      at += len;
    } else break;
  }
  p.proto = nh;
  p.ipLen = payloadLen + 40;
  if (p.frag === 2) return NEXT_NONE;
  if (nh === L.IPPROTO_NONE) return NEXT_NONE;
  return decodeTransport(p, b, at, end, off + 40 + payloadLen);
}

/** RFC 2675 Jumbo Payload option (type 0xC2, length 4) within a hop-by-hop header. */
function jumboLength(b: Uint8Array, at: number, end: number): number {
  while (at < end) {
    const t = b[at];
    if (t === 0) { at++; continue; } // Pad1
    if (at + 2 > end) break;
    const l = b[at + 1];
    if (t === 0xc2 && l === 4 && at + 6 <= end) return ((b[at + 2] << 24) | (b[at + 3] << 16) | (b[at + 4] << 8) | b[at + 5]) >>> 0;
    at += 2 + l;
  }
  return 0;
}

// ---- transport and tunnels over IP ------------------------------------------------------
// TCP (RFC 9293): sport(2) dport(2) seq(4) ack(4) off/flags(2) window(2) csum(2) urg(2) opts.
// UDP (RFC 768): sport(2) dport(2) len(2) csum(2).  ICMP/ICMPv6: type(1) code(1) csum(2).
// `ipEnd` is where the IP header says the datagram ends; payload lengths come from it, not
// from the captured length, so snaplen-truncated captures count bytes right (but never past
// the frame's length on the wire).
function decodeTransport(p: Packet, b: Uint8Array, at: number, end: number, ipEnd: number): number {
  const proto = p.proto;
  // No header describes more bytes than the frame had on the wire: a mirrored GRO/TSO
  // super-segment cut to 1514 bytes keeps its inner IP length of several thousand.
  const wireEnd = p.start + p.len > end ? p.start + p.len : end;
  if (ipEnd > wireEnd) ipEnd = wireEnd;
  if (proto === L.IPPROTO_TCP) {
    if (end - at < 20) return fail(p, TRUNCATED, 'tcp_header_truncated');
    const hl = (b[at + 12] >> 4) * 4;
    if (hl < 20) return fail(p, MALFORMED, 'tcp_data_offset_invalid');
    p.l4Off = at;
    const pl = ipEnd - at - hl;
    p.l4PayloadLen = pl > 0 ? pl : 0;
    // Options cut (a short snaplen): a truncated header, whose fixed fields stay readable.
    if (end - at < hl) return fail(p, TRUNCATED, 'tcp_options_truncated');
    return NEXT_NONE;
  }
  if (proto === L.IPPROTO_UDP) {
    if (end - at < 8) return fail(p, TRUNCATED, 'udp_header_truncated');
    p.l4Off = at;
    const pl = ipEnd - at - 8;
    p.l4PayloadLen = pl > 0 ? pl : 0;
    // Tunnels by well-known port on either side (encapsulators pick the source port freely,
    // and some send from the tunnel port); each header is checked before the walk goes in.
    const sport = u16(b, at), dport = u16(b, at + 2);
    if (dport === p.intPort && p.intPort !== 0 && p.intStatus < 0) return decodeIntReportLayer(p, b, at + 8, end, ipEnd);
    if (dport === L.UDP_PORT_VXLAN || dport === L.UDP_PORT_VXLAN_LINUX || sport === L.UDP_PORT_VXLAN) return decodeVxlan(p, b, at + 8, end, ipEnd);
    if (dport === L.UDP_PORT_GENEVE || sport === L.UDP_PORT_GENEVE) return decodeGeneve(p, b, at + 8, end, ipEnd);
    return NEXT_NONE;
  }
  if (proto === L.IPPROTO_ICMP || proto === L.IPPROTO_ICMPV6) {
    if (end - at < 4) return fail(p, TRUNCATED, 'icmp_header_truncated');
    p.l4Off = at;
    p.l4PayloadLen = ipEnd - at - 4 > 0 ? ipEnd - at - 4 : 0;
    return NEXT_NONE; // an ICMP error's quoted header is not decoded: addresses stay the outer ones
  }
  if (proto === L.IPPROTO_GRE) return decodeGre(p, b, at, end);
  if (proto === L.IPPROTO_IPIP || proto === L.IPPROTO_IPV6) {
    if (!enterTunnel(p, L.TUNNEL_IPIP)) return NEXT_NONE;
    cursor = at;
    return proto === L.IPPROTO_IPIP ? L.ETHERTYPE_IPV4 : L.ETHERTYPE_IPV6;
  }
  if (IP_ENCAPSULATIONS[proto] === 1) return fail(p, UNSUPPORTED, 'ip_encapsulation_unsupported');
  return NEXT_NONE;
}

// ---- INT Telemetry Report (src/decode/int) --------------------------------------------
// The UDP payload to the source's report port is a Telemetry Report (v0.5, v1.0, v2.0). It is
// entered like a tunnel: the report is kept in p.intReport (p.int), the reported packet is
// walked as the inner packet, and the report's IP header stays readable as `outer`. A report
// that does not decode is counted by its IntStatus name (int_truncated_int_stack, ...) and the
// packet stays a plain UDP datagram. The first of coalesced TR v2.0 reports is entered; the
// local processor enters each further one with decodePacketIntReport (one item per report).
const INT_REASONS: string[] = [];
const INT_KIND_STATUS = [OK, TRUNCATED, MALFORMED, UNSUPPORTED] as const;
for (const st of INT_ALL_STATUSES) INT_REASONS[st] = 'int_' + intStatusName(st).replace(/[:-]/g, '_');

function failInt(p: Packet, st: number): number {
  p.intStatus = st;
  const kind = INT_KIND_STATUS[intStatusKind(st)];
  return fail(p, kind === OK ? MALFORMED : kind, INT_REASONS[st] ?? 'int_invalid');
}

/** decodePacketIntReport: buffer offset of the TR v2.0 individual report to enter (-1: the first). */
let intReportAt = -1;

/**
 * Decodes the record again, entering the TR v2.0 individual report at buffer offset `reportAt`
 * (a previous decode's p.intReport.nextReportOffset) instead of the first: the packet's fields
 * become that report's monitored packet. Coalesced reports are items of their own this way.
 */
export function decodePacketIntReport(p: Packet, buf: Uint8Array, off: number, capLen: number, wireLen: number, ts: number, linkType: number, reportAt: number): void {
  intReportAt = reportAt;
  decodePacket(p, buf, off, capLen, wireLen, ts, linkType);
  intReportAt = -1;
}

function decodeIntReportLayer(p: Packet, b: Uint8Array, at: number, end: number, ipEnd: number): number {
  const r = p.intReport!;
  const stop = ipEnd < end ? ipEnd : end;
  const st = decodeIntReport(b, at, stop - at, r, intReportAt);
  if (st !== INT_OK) return failInt(p, st);
  p.intStatus = INT_OK;
  if (!enterTunnel(p, L.TUNNEL_INT)) return NEXT_NONE;
  const t = r.innerType;
  if (t === INNER_ETHERNET) { cursor = r.innerOffset; return NEXT_ETH; }
  if (t === INNER_IPV4) { cursor = r.innerL3Offset; return L.ETHERTYPE_IPV4; }
  if (t === INNER_IPV6) { cursor = r.innerL3Offset; return L.ETHERTYPE_IPV6; }
  return NEXT_NONE; // a report without the packet (drop or queue report of TR v2.0)
}

/**
 * INT-MD/MX in flight: a TCP or UDP packet marked by the source's DSCP value or UDP port
 * carries the INT shim right after its L4 header. Runs after the walk, on the innermost packet.
 */
function decodeIntInFlightLayer(p: Packet): void {
  if (p.intStatus >= 0 || p.l4Off < 0 || p.l3 === 0) return;
  const b = p.buf, l4 = p.l4Off;
  let hl: number;
  if (p.proto === L.IPPROTO_UDP) hl = 8;
  else if (p.proto === L.IPPROTO_TCP) hl = (b[l4 + 12] >> 4) * 4;
  else return;
  let marked = p.proto === L.IPPROTO_UDP && p.intMdPort !== 0 && u16(b, l4 + 2) === p.intMdPort;
  if (!marked && p.intMdDscpMask !== 0) {
    const o = p.l3Off;
    const tos = p.l3 === 4 ? b[o + 1] : ((b[o] & 0x0f) << 4) | (b[o + 1] >> 4);
    marked = ((tos >> 2) & p.intMdDscpMask) === p.intMdDscp;
  }
  if (!marked) return;
  const at = l4 + hl;
  let len = p.l4PayloadLen;
  if (at + len > p.end) len = p.end - at;
  const st = decodeIntInFlight(b, at, len, p.intReport!);
  if (st !== INT_OK) { failInt(p, st); return; }
  p.intStatus = INT_OK;
}

// ---- GRE (RFC 2784, RFC 2890) -----------------------------------------------------------
// C R K S flags + version(2) protocol(2) [checksum(2) reserved(2)] [key(4)] [sequence(4)].
// R (RFC 1701 source routing) appends a list of routing entries of their own lengths before
// the payload: not walked (UNSUPPORTED), rather than read at a wrong offset.
// Protocol 0x88BE is ERSPAN type II, or type I when S is clear (no ERSPAN header); 0x22EB is
// ERSPAN type III; 0x6558 bridged Ethernet; 0x8200/0x8210 Aruba's 802.11 frames.
function decodeGre(p: Packet, b: Uint8Array, at: number, end: number): number {
  if (end - at < 4) return fail(p, TRUNCATED, 'gre_header_truncated');
  const flags = u16(b, at);
  if ((flags & 7) !== 0) return fail(p, UNSUPPORTED, 'gre_version_unsupported'); // PPTP (1)
  if (flags & 0x4000) return fail(p, UNSUPPORTED, 'gre_routing_unsupported');
  const proto = u16(b, at + 2);
  const hl = 4 + (flags & 0xc000 ? 4 : 0) + (flags & 0x2000 ? 4 : 0) + (flags & 0x1000 ? 4 : 0);
  if (end - at < hl) return fail(p, TRUNCATED, 'gre_header_truncated');
  let inner = at + hl;
  if (proto === L.GRE_ERSPAN_II || proto === L.GRE_ERSPAN_III) {
    if (!enterTunnel(p, L.TUNNEL_ERSPAN)) return NEXT_NONE;
    if (proto === L.GRE_ERSPAN_II && !(flags & 0x1000)) { cursor = inner; return NEXT_ETH; } // type I
    return decodeErspan(p, b, inner, end, proto === L.GRE_ERSPAN_III);
  }
  if (!enterTunnel(p, L.TUNNEL_GRE)) return NEXT_NONE;
  cursor = inner;
  if (proto === L.GRE_TEB) return NEXT_ETH;
  if (proto === L.ETHERTYPE_IPV4 || proto === L.ETHERTYPE_IPV6 || proto === L.ETHERTYPE_MPLS) return proto;
  if (proto === L.GRE_ARUBA_80211 || proto === L.GRE_ARUBA_80211_B) return NEXT_80211;
  return fail(p, UNSUPPORTED, 'gre_protocol_unsupported');
}

// ---- ERSPAN (draft-foschiano-erspan) ----------------------------------------------------
// Type II: ver(4)=1 vlan(12) cos(3) en(2) t(1) session(10) reserved(12) index(20): 8 bytes.
// Type III: ver(4)=2 vlan(12) cos(3) bso(2) t(1) session(10) timestamp(32) sgt(16)
// p(1) ft(5) hw(6) d(1) gra(2) o(1): 12 bytes, + 8-byte platform subheader when o is set.
// ft 0 is Ethernet; 2 is IP (not in the draft's first versions), others are unsupported.
function decodeErspan(p: Packet, b: Uint8Array, at: number, end: number, type3: boolean): number {
  const hl = type3 ? 12 : 8;
  if (end - at < hl) return fail(p, TRUNCATED, 'erspan_header_truncated');
  const ver = b[at] >> 4;
  if (ver !== (type3 ? 2 : 1)) return fail(p, MALFORMED, 'erspan_version_invalid');
  p.tunnelId = u16(b, at + 2) & 0x03ff;
  if (!type3) { cursor = at + 8; return NEXT_ETH; }
  const w = u16(b, at + 10);
  const ft = (w >> 10) & 0x1f;
  const o = w & 1;
  const inner = at + 12 + (o ? 8 : 0);
  if (end - inner < 0) return fail(p, TRUNCATED, 'erspan_subheader_truncated');
  cursor = inner;
  if (ft === 0) return NEXT_ETH;
  if (ft === 2) return NEXT_IP;
  return fail(p, UNSUPPORTED, 'erspan_frame_type_unsupported');
}

// ---- VXLAN (RFC 7348) -------------------------------------------------------------------
// flags(1, I=0x08) reserved(3) VNI(3) reserved(1), then an Ethernet frame.  A header without
// the I flag is not taken as VXLAN: the packet stays plain UDP.  A header cut by the capture
// where the datagram has room for one is a truncated VXLAN header, not a plain UDP payload.
function decodeVxlan(p: Packet, b: Uint8Array, at: number, end: number, ipEnd: number): number {
  if (end - at >= 1 && (b[at] & 0x08) === 0) return NEXT_NONE;
  if (end - at < 8) return ipEnd - at >= 8 ? fail(p, TRUNCATED, 'vxlan_header_truncated') : NEXT_NONE;
  if (!enterTunnel(p, L.TUNNEL_VXLAN)) return NEXT_NONE;
  p.tunnelId = (b[at + 4] << 16) | (b[at + 5] << 8) | b[at + 6];
  cursor = at + 8;
  return NEXT_ETH;
}

// ---- Geneve (RFC 8926) ------------------------------------------------------------------
// ver(2) opt_len(6, 4-byte units) O C rsvd(6) protocol(2) VNI(3) reserved(1) options.
function decodeGeneve(p: Packet, b: Uint8Array, at: number, end: number, ipEnd: number): number {
  if (end - at >= 1 && b[at] >> 6 !== 0) return NEXT_NONE;
  if (end - at < 8) return ipEnd - at >= 8 ? fail(p, TRUNCATED, 'geneve_header_truncated') : NEXT_NONE; // as VXLAN
  const hl = 8 + (b[at] & 0x3f) * 4;
  const proto = u16(b, at + 2);
  if (!enterTunnel(p, L.TUNNEL_GENEVE)) return NEXT_NONE;
  p.tunnelId = (b[at + 4] << 16) | (b[at + 5] << 8) | b[at + 6]; // in the fixed header
  if (end - at < hl) return fail(p, TRUNCATED, 'geneve_options_truncated');
  cursor = at + hl;
  if (proto === L.GRE_TEB) return NEXT_ETH;
  if (proto === L.ETHERTYPE_IPV4 || proto === L.ETHERTYPE_IPV6) return proto;
  return fail(p, UNSUPPORTED, 'geneve_protocol_unsupported');
}

// ---- IEEE 802.11 data frame + LLC/SNAP (Aruba GRE) --------------------------------------
// fc(2) duration(2) addr1(6) addr2(6) addr3(6) seq(2) [addr4(6) when ToDS and FromDS]
// [QoS(2) for QoS data subtypes], then LLC AA AA 03 + OUI(3) + EtherType(2).
function decodeIeee80211(p: Packet, b: Uint8Array, at: number, end: number): number {
  if (end - at < 24) return fail(p, TRUNCATED, 'ieee80211_header_truncated');
  const fc0 = b[at], fc1 = b[at + 1];
  if (((fc0 >> 2) & 3) !== 2) return NEXT_NONE; // management or control frame: no payload to follow
  let hl = 24;
  if ((fc1 & 3) === 3) hl += 6;
  if (fc0 & 0x80) hl += 2;
  if (end - at < hl) return fail(p, TRUNCATED, 'ieee80211_header_truncated');
  if (fc1 & 0x40) return NEXT_NONE; // protected (encrypted) payload
  const llc = at + hl;
  if (end - llc < 8) return fail(p, TRUNCATED, 'llc_snap_truncated');
  if (b[llc] !== 0xaa || b[llc + 1] !== 0xaa || b[llc + 2] !== 0x03) return NEXT_NONE;
  cursor = llc + 8;
  return u16(b, llc + 6);
}
