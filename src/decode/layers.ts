/**
 * Dense dispatch tables for next-layer protocols (EtherTypes, IP protocol numbers, link types,
 * well-known tunnel ports), in the manner of gopacket's layers/enums.go.
 */

/** LINKTYPE_* values (https://www.tcpdump.org/linktypes.html). */
export const LINKTYPE_NULL = 0;
export const LINKTYPE_ETHERNET = 1;
export const LINKTYPE_RAW = 101;
export const LINKTYPE_RAW_OPENBSD = 12; // DLT_RAW on some systems, written into old files
export const LINKTYPE_RAW_14 = 14;
export const LINKTYPE_LOOP = 108;
export const LINKTYPE_LINUX_SLL = 113;
export const LINKTYPE_IPV4 = 228;
export const LINKTYPE_IPV6 = 229;
export const LINKTYPE_LINUX_SLL2 = 276;

export const ETHERTYPE_IPV4 = 0x0800;
export const ETHERTYPE_ARP = 0x0806;
export const ETHERTYPE_VLAN = 0x8100;
export const ETHERTYPE_QINQ = 0x88a8;
export const ETHERTYPE_QINQ_OLD = 0x9100;
export const ETHERTYPE_IPV6 = 0x86dd;
export const ETHERTYPE_MPLS = 0x8847;
export const ETHERTYPE_MPLS_MC = 0x8848;
/** GRE protocol types that are not EtherTypes of a frame on a wire. */
export const GRE_TEB = 0x6558; // transparent Ethernet bridging
export const GRE_ERSPAN_II = 0x88be; // also type I when the GRE S bit is clear
export const GRE_ERSPAN_III = 0x22eb;
export const GRE_ARUBA_80211 = 0x8200; // Aruba AP tunnels carry 802.11 frames
export const GRE_ARUBA_80211_B = 0x8210;

export const IPPROTO_HOPOPTS = 0;
export const IPPROTO_ICMP = 1;
export const IPPROTO_IPIP = 4;
export const IPPROTO_TCP = 6;
export const IPPROTO_UDP = 17;
export const IPPROTO_IPV6 = 41;
export const IPPROTO_ROUTING = 43;
export const IPPROTO_FRAGMENT = 44;
export const IPPROTO_GRE = 47;
export const IPPROTO_ESP = 50;
export const IPPROTO_AH = 51;
export const IPPROTO_ICMPV6 = 58;
export const IPPROTO_NONE = 59;
export const IPPROTO_DSTOPTS = 60;
export const IPPROTO_MOBILITY = 135;
export const IPPROTO_HIP = 139;
export const IPPROTO_SHIM6 = 140;

export const UDP_PORT_VXLAN = 4789;
export const UDP_PORT_VXLAN_LINUX = 8472;
export const UDP_PORT_GENEVE = 6081;

/**
 * IPv6 extension headers whose length is (hdr[1] + 1) * 8 (RFC 8200 section 4; RFC 7045 lists
 * them), indexed by next-header value. AH (51) counts in 4-octet units and is handled apart.
 */
export const IPV6_EXT_GENERIC = new Uint8Array(256);
for (const p of [IPPROTO_HOPOPTS, IPPROTO_ROUTING, IPPROTO_DSTOPTS, IPPROTO_MOBILITY, IPPROTO_HIP, IPPROTO_SHIM6, 253, 254]) {
  IPV6_EXT_GENERIC[p] = 1;
}

/** Tunnel kinds, as exposed in the `tunnel.type` field. */
export const TUNNEL_NAMES = ['', 'gre', 'erspan', 'vxlan', 'geneve', 'ipip', 'mpls', 'int'] as const;
export const TUNNEL_GRE = 1;
export const TUNNEL_ERSPAN = 2;
export const TUNNEL_VXLAN = 3;
export const TUNNEL_GENEVE = 4;
export const TUNNEL_IPIP = 5;
/** An INT Telemetry Report entered like a tunnel (decoder.ts). */
export const TUNNEL_INT = 7;
