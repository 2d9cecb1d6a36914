/**
 * A flow-symmetric hash of a record's raw bytes, for dealing records to local-stage threads by
 * flow (dealing.ts, mode 'flow'): the same value for both directions of a flow, computed from
 * the outermost IP header and its TCP/UDP/SCTP ports without decoding the packet (the thread
 * that gets it decodes it once).
 *
 * What it reads: the link header (Ethernet with up to four VLAN tags, Linux SLL/SLL2, NULL/LOOP,
 * raw IP), then IPv4 (ports only in a packet that is not a later fragment) or IPv6 (ports when
 * the next header is TCP, UDP or SCTP). Anything else (ARP, MPLS, a cut header) hashes to 0:
 * all of it goes to one thread, which keeps it in order there.
 *
 * Tunnels are hashed by their outer header: a flow inside a tunnel stays on one thread as long
 * as it rides one outer flow (VXLAN and Geneve derive the outer UDP port from the inner flow;
 * GRE and ERSPAN have no ports).
 */

const fmix = (h: number): number => {
  h ^= h >>> 16; h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13; h = Math.imul(h, 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
};

const u16 = (b: Uint8Array, o: number): number => (b[o] << 8) | b[o + 1];
const u32 = (b: Uint8Array, o: number): number => ((b[o] << 24) | (b[o + 1] << 16) | (b[o + 2] << 8) | b[o + 3]) >>> 0;

/**
 * Where a link header's payload starts, times 65536, plus the ethertype it announces; -1 when it
 * is not IP or is cut short. One number, so the hot path stores nothing between calls.
 */
function link(b: Uint8Array, off: number, end: number, linkType: number): number {
  switch (linkType) {
    case 1: {
      if (end - off < 14) return -1;
      let et = u16(b, off + 12), o = off + 14;
      for (let k = 0; k < 4 && (et === 0x8100 || et === 0x88a8 || et === 0x9100) && o + 4 <= end; k++) { et = u16(b, o + 2); o += 4; }
      return o * 65536 + et;
    }
    case 113: return end - off < 16 ? -1 : (off + 16) * 65536 + u16(b, off + 14);
    case 276: return end - off < 20 ? -1 : (off + 20) * 65536 + u16(b, off);
    case 0: case 108: {
      if (end - off < 4) return -1;
      const be = u32(b, off);
      const fam = linkType === 108 || be < 256 ? be : (b[off] | (b[off + 1] << 8) | (b[off + 2] << 16) | (b[off + 3] << 24)) >>> 0;
      return fam === 2 ? (off + 4) * 65536 + 0x0800 : fam === 10 || fam === 24 || fam === 28 || fam === 30 ? (off + 4) * 65536 + 0x86dd : -1;
    }
    case 101: case 12: case 14:
      if (end - off < 1) return -1;
      return b[off] >> 4 === 4 ? off * 65536 + 0x0800 : b[off] >> 4 === 6 ? off * 65536 + 0x86dd : -1;
    case 228: return off * 65536 + 0x0800;
    case 229: return off * 65536 + 0x86dd;
    default: return -1;
  }
}

const hasPorts = (proto: number): boolean => proto === 6 || proto === 17 || proto === 132;

/** The record's flow hash: equal for a flow's two directions; 0 for what is not IP. */
export function flowHash(b: Uint8Array, off: number, capLen: number, linkType: number): number {
  const end = off + capLen;
  let o: number, et: number;
  if (linkType === 1 && capLen >= 14 && b[off + 12] === 0x08 && b[off + 13] === 0x00) { o = off + 14; et = 0x0800; } // the common case
  else {
    const l = link(b, off, end, linkType);
    if (l < 0) return 0;
    o = Math.floor(l / 65536); et = l % 65536;
  }
  if (et === 0x0800) {
    if (end - o < 20) return 0;
    const ihl = (b[o] & 15) * 4, proto = b[o + 9];
    const x = u32(b, o + 12) ^ u32(b, o + 16);
    let ports = 0;
    // a later fragment has no ports: the first one (offset 0) and whole packets do
    if (((b[o + 6] & 0x1f) | b[o + 7]) === 0 && hasPorts(proto) && end - o >= ihl + 4) ports = u16(b, o + ihl) ^ u16(b, o + ihl + 2);
    return fmix(x + Math.imul(ports + 1, 0x9e3779b1) + proto) || 1;
  }
  if (et === 0x86dd) {
    if (end - o < 40) return 0;
    const nh = b[o + 6];
    let x = 0;
    for (let k = 8; k < 24; k += 4) x = Math.imul(x ^ (u32(b, o + k) ^ u32(b, o + k + 16)), 0x01000193);
    const ports = hasPorts(nh) && end - o >= 44 ? u16(b, o + 40) ^ u16(b, o + 42) : 0;
    return fmix(x + Math.imul(ports + 1, 0x9e3779b1) + nh) || 1;
  }
  return 0;
}
