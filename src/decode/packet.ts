/**
 * HOT PATH (bench/newconn.ts): the reused view of one decoded packet.
 *
 * The decoder (decoder.ts) walks the headers once and records where each layer starts; fields
 * are read from the record's bytes only when asked for. One `Packet` object (and its layer
 * views) is reused for every packet of a source: a packet handed to a query stays valid only
 * until the callback returns. Use `clone()` to keep it (transform() does that for you).
 *
 * Idiom: `p.ip?.dst`, `p.tcp?.syn`, `p.udp?.dport`; a layer that the packet does not have is
 * null. Tunnelled packets expose the innermost headers under these names and the outermost IP
 * header under `p.outer`. `p.get('ip.dst')` reads the same fields by their dotted name.
 */
import { ipv4Text, ipv6Text, macText } from './address-text.ts';
import { IPPROTO_ICMP, IPPROTO_ICMPV6, IPPROTO_TCP, IPPROTO_UDP, TUNNEL_NAMES } from './layers.ts';
import { OK, STATUS_NAMES, type DecodeStatus } from './status.ts';
import { FIELDS, fieldGetter, type FieldName, type FieldValue } from './fields.ts';
import { IntView, configurePacketInt } from './int-view.ts';
import { decodePacketIntReport } from './decoder.ts';
import type { IntReport } from './int/index.ts';
import type { FlowFields, IfaceFields } from './flow-record.ts';

function u16(b: Uint8Array, o: number): number {
  return (b[o] << 8) | b[o + 1];
}
function u32(b: Uint8Array, o: number): number {
  return ((b[o] << 24) | (b[o + 1] << 16) | (b[o + 2] << 8) | b[o + 3]) >>> 0;
}

export class EthernetView {
  private readonly p: Packet;
  constructor(p: Packet) { this.p = p; }
  /** Source MAC, lower-case colon hex (builds a string: not for per-packet keys). */
  get src(): string { return macText(this.p.buf, this.p.ethOff + 6); }
  get dst(): string { return macText(this.p.buf, this.p.ethOff); }
  /** EtherType after any VLAN tags (the payload's type). */
  get type(): number { return this.p.ethType; }
}

export class VlanView {
  private readonly p: Packet;
  constructor(p: Packet) { this.p = p; }
  /** VLAN id of the outermost 802.1Q/802.1ad tag of the innermost frame. */
  get id(): number { return this.p.vlanId; }
  /** Number of stacked tags. */
  get depth(): number { return this.p.vlanDepth; }
}

/** An IPv4 or IPv6 header: the innermost one, or with `outer` the outermost of a tunnel. */
export class IpView {
  private readonly p: Packet;
  private readonly outer: boolean;
  constructor(p: Packet, outer: boolean) { this.p = p; this.outer = outer; }
  private get off(): number { return this.outer ? this.p.outerL3Off : this.p.l3Off; }
  get version(): number { return this.outer ? this.p.outerL3 : this.p.l3; }
  /** Source address as text (interned: no string is built for an address seen before). */
  get src(): string {
    const o = this.off;
    return this.version === 4 ? ipv4Text(this.p.buf, o + 12) : ipv6Text(this.p.buf, o + 8);
  }
  get dst(): string {
    const o = this.off;
    return this.version === 4 ? ipv4Text(this.p.buf, o + 16) : ipv6Text(this.p.buf, o + 24);
  }
  /** IP protocol of the payload (after IPv6 extension headers). */
  get proto(): number { return this.outer ? this.p.outerProto : this.p.proto; }
  /** TTL (IPv4) or hop limit (IPv6). */
  get ttl(): number { return this.p.buf[this.off + (this.version === 4 ? 8 : 7)]; }
  /** Total length from the header: IPv4 total length, IPv6 payload length + 40 (or jumbo). */
  get len(): number { return this.outer ? this.p.outerIpLen : this.p.ipLen; }
  /** DSCP and ECN byte (IPv4 TOS, IPv6 traffic class). */
  get tos(): number {
    const b = this.p.buf, o = this.off;
    return this.version === 4 ? b[o + 1] : ((b[o] & 0x0f) << 4) | (b[o + 1] >> 4);
  }
  get dscp(): number { return this.tos >> 2; }
  /** IPv4 identification (0 for IPv6). */
  get id(): number { return this.version === 4 ? u16(this.p.buf, this.off + 4) : 0; }
  /** True for any fragment; only the first fragment has transport fields. */
  get fragment(): boolean { return !this.outer && this.p.frag !== 0; }
  /** Offset of this fragment in bytes (0 for the first one or an unfragmented packet). */
  get fragOffset(): number { return this.outer ? 0 : this.p.fragOffset; }
  /** Offset of the IP header within the packet's bytes (see Packet.bytes). */
  get offset(): number { return this.off - this.p.start; }
}

export class TcpView {
  private readonly p: Packet;
  constructor(p: Packet) { this.p = p; }
  get sport(): number { return u16(this.p.buf, this.p.l4Off); }
  get dport(): number { return u16(this.p.buf, this.p.l4Off + 2); }
  get seq(): number { return u32(this.p.buf, this.p.l4Off + 4); }
  get ack(): number { return u32(this.p.buf, this.p.l4Off + 8); }
  /** The 12 flag bits (NS/AE and reserved high, then CWR ECE URG ACK PSH RST SYN FIN). */
  get flags(): number { const b = this.p.buf, o = this.p.l4Off; return ((b[o + 12] & 0x0f) << 8) | b[o + 13]; }
  get fin(): boolean { return (this.p.buf[this.p.l4Off + 13] & 0x01) !== 0; }
  get syn(): boolean { return (this.p.buf[this.p.l4Off + 13] & 0x02) !== 0; }
  get rst(): boolean { return (this.p.buf[this.p.l4Off + 13] & 0x04) !== 0; }
  get psh(): boolean { return (this.p.buf[this.p.l4Off + 13] & 0x08) !== 0; }
  /** The ACK flag (`ack` is the acknowledgement number). */
  get ack_flag(): boolean { return (this.p.buf[this.p.l4Off + 13] & 0x10) !== 0; }
  get urg(): boolean { return (this.p.buf[this.p.l4Off + 13] & 0x20) !== 0; }
  get ece(): boolean { return (this.p.buf[this.p.l4Off + 13] & 0x40) !== 0; }
  get cwr(): boolean { return (this.p.buf[this.p.l4Off + 13] & 0x80) !== 0; }
  get window(): number { return u16(this.p.buf, this.p.l4Off + 14); }
  /** Header length in bytes (data offset * 4). */
  get hdrLen(): number { return (this.p.buf[this.p.l4Off + 12] >> 4) * 4; }
  /** Payload bytes by the IP header's length (not the captured length). */
  get payload_len(): number { return this.p.l4PayloadLen; }
}

export class UdpView {
  private readonly p: Packet;
  constructor(p: Packet) { this.p = p; }
  get sport(): number { return u16(this.p.buf, this.p.l4Off); }
  get dport(): number { return u16(this.p.buf, this.p.l4Off + 2); }
  get len(): number { return u16(this.p.buf, this.p.l4Off + 4); }
  get payload_len(): number { return this.p.l4PayloadLen; }
}

/** ICMP (IPv4) or ICMPv6; an error's quoted packet is not decoded. */
export class IcmpView {
  private readonly p: Packet;
  constructor(p: Packet) { this.p = p; }
  get type(): number { return this.p.buf[this.p.l4Off]; }
  get code(): number { return this.p.buf[this.p.l4Off + 1]; }
}

export class OuterView {
  readonly ip: IpView;
  constructor(p: Packet) { this.ip = new IpView(p, true); }
}

export class TunnelView {
  private readonly p: Packet;
  constructor(p: Packet) { this.p = p; }
  /** 'gre' | 'erspan' | 'vxlan' | 'geneve' | 'ipip' of the outermost tunnel. */
  get type(): string { return TUNNEL_NAMES[this.p.tunnelType]; }
  /** Number of tunnel levels crossed. */
  get depth(): number { return this.p.tunnelDepth; }
  /** VXLAN/Geneve VNI or ERSPAN session id of the innermost tunnel that has one, else -1. */
  get id(): number { return this.p.tunnelId; }
}

export class Packet {
  // ---- record (set by the decoder; all offsets index `buf`) ----
  buf: Uint8Array = new Uint8Array(0);
  /** Offset of the first byte of the packet in `buf`. */
  start = 0;
  /** One past the last captured byte. */
  end = 0;
  /** Length on the wire. */
  len = 0;
  /** Timestamp, seconds since the Unix epoch. */
  ts = 0;
  linkType = 0;
  /** Which source (index of --source) the packet came from; set by the local processor. */
  source = 0;
  status: DecodeStatus = OK;
  /** Why status is not OK: a stable snake_case reason (e.g. 'ipv4_header_truncated'). */
  reason = '';
  /** 1-in-N sampling interval (field `sample.rate`): set by the local processor for sampled sources (sFlow), else 1. */
  sampleRate = 1;

  // ---- layers (-1 / 0 when absent) ----
  ethOff = -1;
  ethType = -1;
  vlanId = -1;
  vlanDepth = 0;
  mplsDepth = 0;
  /** 4, 6 or 0 (no IP layer). */
  l3 = 0;
  l3Off = -1;
  ipLen = 0;
  /** Transport protocol number, -1 without IP. */
  proto = -1;
  /** 0 not a fragment, 1 first fragment, 2 later fragment. */
  frag = 0;
  fragOffset = 0;
  /** Start of the transport header, -1 when absent (later fragment, truncated). */
  l4Off = -1;
  l4PayloadLen = 0;
  outerL3 = 0;
  outerL3Off = -1;
  outerProto = -1;
  outerIpLen = 0;
  tunnelType = 0;
  tunnelDepth = 0;
  tunnelId = -1;

  // ---- INT (int-view.ts; off unless the source asks for it: configurePacketInt) ----
  /** The reused INT decode result, null when INT decoding is off for this source. */
  intReport: IntReport | null = null;
  /** UDP destination port of Telemetry Reports, 0 = off. */
  intPort = 0;
  /** INT in flight: UDP destination port (0 = off), DSCP value and mask (mask 0 = off). */
  intMdPort = 0;
  intMdDscp = 0;
  intMdDscpMask = 0;
  /** -1 no INT header met, 0 INT decoded (p.int), else the IntStatus of the failure. */
  intStatus = -1;

  // ---- views (one of each per Packet, reused) ----
  private readonly ethView = new EthernetView(this);
  private readonly vlanView = new VlanView(this);
  private readonly ipView = new IpView(this, false);
  private readonly tcpView = new TcpView(this);
  private readonly udpView = new UdpView(this);
  private readonly icmpView = new IcmpView(this);
  private readonly outerView = new OuterView(this);
  private readonly tunnelView = new TunnelView(this);
  private readonly intView = new IntView(this);

  get eth(): EthernetView | null { return this.ethOff >= 0 ? this.ethView : null; }
  get vlan(): VlanView | null { return this.vlanDepth > 0 ? this.vlanView : null; }
  get ip(): IpView | null { return this.l3 !== 0 ? this.ipView : null; }
  get tcp(): TcpView | null { return this.proto === IPPROTO_TCP && this.l4Off >= 0 ? this.tcpView : null; }
  get udp(): UdpView | null { return this.proto === IPPROTO_UDP && this.l4Off >= 0 ? this.udpView : null; }
  get icmp(): IcmpView | null {
    return (this.proto === IPPROTO_ICMP || this.proto === IPPROTO_ICMPV6) && this.l4Off >= 0 ? this.icmpView : null;
  }
  /** The outermost IP header of a tunnelled packet; null when not tunnelled. */
  get outer(): OuterView | null { return this.tunnelDepth > 0 ? this.outerView : null; }
  get tunnel(): TunnelView | null { return this.tunnelDepth > 0 ? this.tunnelView : null; }
  /** The INT report or INT stack of this packet (int-view.ts); null without one. */
  get int(): IntView | null { return this.intStatus === 0 ? this.intView : null; }
  /** Flow-export fields (`flow.*`, `if.*`): null on a packet; see flow-record.ts for records. */
  get flow(): FlowFields | null { return null; }
  get iface(): IfaceFields | null { return null; }
  /** Captured length. */
  get caplen(): number { return this.end - this.start; }
  get ok(): boolean { return this.status === OK; }
  get statusName(): string { return STATUS_NAMES[this.status]; }

  /** A field by its dotted name (docs/contracts.md), undefined when the packet lacks that layer. */
  get(name: FieldName): FieldValue {
    return fieldGetter(name)(this);
  }

  /** The captured bytes (a view into the source's buffer: valid until the callback returns). */
  bytes(): Uint8Array {
    return this.buf.subarray(this.start, this.end);
  }

  /** A copy that stays valid after the callback: own bytes, same decoded offsets. */
  clone(): Packet {
    const c = new Packet();
    const bytes = this.buf.slice(this.start, this.end);
    const shift = -this.start;
    c.buf = bytes;
    c.start = 0;
    c.end = bytes.length;
    c.len = this.len; c.ts = this.ts; c.linkType = this.linkType; c.source = this.source; c.sampleRate = this.sampleRate;
    c.status = this.status; c.reason = this.reason;
    const mv = (o: number) => (o >= 0 ? o + shift : o);
    c.ethOff = mv(this.ethOff); c.ethType = this.ethType; c.vlanId = this.vlanId; c.vlanDepth = this.vlanDepth;
    c.mplsDepth = this.mplsDepth; c.l3 = this.l3; c.l3Off = mv(this.l3Off); c.ipLen = this.ipLen;
    c.proto = this.proto; c.frag = this.frag; c.fragOffset = this.fragOffset; c.l4Off = mv(this.l4Off);
    c.l4PayloadLen = this.l4PayloadLen; c.outerL3 = this.outerL3; c.outerL3Off = mv(this.outerL3Off);
    c.outerProto = this.outerProto; c.outerIpLen = this.outerIpLen; c.tunnelType = this.tunnelType;
    c.tunnelDepth = this.tunnelDepth; c.tunnelId = this.tunnelId;
    if (this.intReport !== null) {
      // The INT result lives in the source's reused report: decode the copy again into its own.
      const r = this.intReport;
      configurePacketInt(c, { intPort: this.intPort, intMdPort: this.intMdPort, intLenient: r.lenient, intMaxHops: r.maxHops,
        ...(this.intMdDscpMask !== 0 ? { intDscp: this.intMdDscp, intDscpMask: this.intMdDscpMask } : {}) });
      // (the same individual report of a TR v2.0 packet that holds several)
      if (this.intStatus >= 0) decodePacketIntReport(c, c.buf, 0, c.end, c.len, c.ts, c.linkType, r.reportOffset >= 0 ? r.reportOffset + shift : -1);
    }
    return c;
  }

  /** Every present field by name, as a plain object (for printing and JSON; allocates). */
  toJSON(): Record<string, FieldValue> {
    const o: Record<string, FieldValue> = {};
    for (const d of FIELDS.values()) {
      if (d.type === 'layer') continue;
      const v = d.get(this);
      if (v !== undefined) o[d.name] = v;
    }
    return o;
  }
}
