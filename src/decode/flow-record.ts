/**
 * Record items: a NetFlow v5/v9 or IPFIX flow record, an sFlow counters sample, or an sFlow
 * flow sample whose packet header could not be decoded as a packet (no raw header record, or
 * a header protocol the packet decoder does not know). They are not packets, but they offer the
 * same view API the field table reads (`r.ip?.src`, `r.tcp?.dport`, `r.get('ip.dst')`), plus
 * `r.flow` (`flow.*` fields) and `r.iface` (`if.*` fields of counters samples), so a task's
 * filters, keys and aggregates run on them unchanged.
 *
 * Meaning of the shared fields on a record:
 *   - `ts` (event time): NetFlow/IPFIX: `flow.end` (the flow's last packet, exporter clock);
 *     sFlow: the arrival time of the datagram (sFlow carries no sample timestamps).
 *   - `len`: bytes the record stands for (`flow.bytes`; the frame length of an sFlow sample),
 *     so that byte-summing tasks work; 0 for counters.
 *   - `tcp.flags` and the flag booleans: the OR of the flags of every packet of the flow.
 *   - `sample.rate`: the exporter's 1-in-N sampling interval (1 when not sampled); multiply
 *     counts by it to estimate totals.
 * Fields a record does not carry (`ip.ttl`, `tcp.seq`, `eth.*`, `caplen`...) are absent.
 *
 * Lifetime: a source fills pooled views (no allocation per record in the steady state); a view
 * is valid until the source's next batch, like a Packet. `clone()` copies one to keep it (the
 * window transform does that through `retain`).
 */
import type {
  NetflowRecord,
  SflowCountersRecord,
  SflowSampleRecord,
} from './flow/common.ts';
import { FIELDS, fieldGetter, type FieldName, type FieldValue } from './fields.ts';

export type RecordKind = 'flow' | 'sample' | 'counters';

export class FlowRecordIpView {
  private readonly r: FlowRecordView;
  constructor(r: FlowRecordView) { this.r = r; }
  get version(): number { return this.r.l3; }
  get src(): string | undefined { return this.r.ipSrc ?? undefined; }
  get dst(): string | undefined { return this.r.ipDst ?? undefined; }
  get proto(): number | undefined { return this.r.proto >= 0 ? this.r.proto : undefined; }
  get tos(): number | undefined { return this.r.tos >= 0 ? this.r.tos : undefined; }
  get dscp(): number | undefined { return this.r.tos >= 0 ? this.r.tos >> 2 : undefined; }
  get fragment(): boolean | undefined { return undefined; }
}

/** TCP ports and the flow's cumulative flags. */
export class FlowRecordTcpView {
  private readonly r: FlowRecordView;
  constructor(r: FlowRecordView) { this.r = r; }
  get sport(): number | undefined { return this.r.sport >= 0 ? this.r.sport : undefined; }
  get dport(): number | undefined { return this.r.dport >= 0 ? this.r.dport : undefined; }
  get flags(): number | undefined { return this.r.tcpFlags >= 0 ? this.r.tcpFlags : undefined; }
  private bit(m: number): boolean | undefined { return this.r.tcpFlags >= 0 ? (this.r.tcpFlags & m) !== 0 : undefined; }
  get fin(): boolean | undefined { return this.bit(0x01); }
  get syn(): boolean | undefined { return this.bit(0x02); }
  get rst(): boolean | undefined { return this.bit(0x04); }
  get psh(): boolean | undefined { return this.bit(0x08); }
  get ack_flag(): boolean | undefined { return this.bit(0x10); }
  get urg(): boolean | undefined { return this.bit(0x20); }
}

export class FlowRecordUdpView {
  private readonly r: FlowRecordView;
  constructor(r: FlowRecordView) { this.r = r; }
  get sport(): number | undefined { return this.r.sport >= 0 ? this.r.sport : undefined; }
  get dport(): number | undefined { return this.r.dport >= 0 ? this.r.dport : undefined; }
}

export class FlowRecordIcmpView {
  private readonly r: FlowRecordView;
  constructor(r: FlowRecordView) { this.r = r; }
  get type(): number | undefined { return this.r.icmpType >= 0 ? this.r.icmpType : undefined; }
  get code(): number | undefined { return this.r.icmpCode >= 0 ? this.r.icmpCode : undefined; }
}

export class FlowRecordVlanView {
  private readonly r: FlowRecordView;
  constructor(r: FlowRecordView) { this.r = r; }
  get id(): number { return this.r.vlanId; }
  get depth(): number { return 1; }
}

/** `flow.*`: what the exporter said about the flow (or the sFlow sample). */
export interface FlowFields {
  /** 'flow' (NetFlow/IPFIX record), 'sample' (sFlow flow sample), 'counters' (sFlow counters). */
  type: RecordKind;
  /** netflow5, netflow9, ipfix or sflow5. */
  format: string;
  /** "address:port" the datagram came from. */
  exporter: string;
  /** Packets of the flow as exported (sFlow sample: 1); not scaled by the sampling rate. */
  packets: number | undefined;
  /** Bytes of the flow as exported (sFlow sample: frame length); not scaled. */
  bytes: number | undefined;
  /** First / last packet of the flow, seconds since the Unix epoch (float). */
  start: number | undefined;
  end: number | undefined;
  /** Input / output ifIndex. */
  input: number | undefined;
  output: number | undefined;
  /** v9 source id / IPFIX observation domain / sFlow sub-agent. */
  domain: number | undefined;
  /** sFlow agent address (the datagram's agent field). */
  agent: string | undefined;
}

/** `if.*`: generic interface counters of an sFlow counters sample (RFC 2863 names). */
export interface IfaceFields {
  index: number;
  type: number;
  speed: number;
  direction: number;
  status: number;
  in_octets: number;
  in_ucast: number;
  in_mcast: number;
  in_bcast: number;
  in_discards: number;
  in_errors: number;
  in_unknown: number;
  out_octets: number;
  out_ucast: number;
  out_mcast: number;
  out_bcast: number;
  out_discards: number;
  out_errors: number;
  promisc: number;
}

function nn(v: number | null): number { return v === null ? -1 : v; }

/** A FlowRecordView's values alone (`plain()`). */
export interface FlowRecordPlain {
  ts: number; len: number; source: number; sampleRate: number; vlanDepth: number; l3: number; kind: RecordKind;
  ipSrc: string | null; ipDst: string | null; proto: number; tos: number; sport: number; dport: number; tcpFlags: number;
  icmpType: number; icmpCode: number; vlanId: number; flow: FlowFields; iface: IfaceFields | null;
}

export class FlowRecordView {
  // ---- what fields.ts reads directly (Packet-compatible; absent layers as a Packet has them) ----
  /** Event time, seconds since the Unix epoch (see the file comment). */
  ts = 0;
  /** Bytes the record stands for (see the file comment). */
  len = 0;
  start = 0;
  end = 0;
  /** Which source (index of --source); set by the local processor. */
  source = 0;
  /** 1-in-N sampling interval of the exporter (1: not sampled). */
  sampleRate = 1;
  readonly ethOff = -1;
  readonly ethType = -1;
  readonly tunnelDepth = 0;
  readonly intStatus = -1;
  vlanDepth = 0;
  /** 4, 6 or 0 (no addresses). */
  l3 = 0;

  // ---- values (-1 / null absent) ----
  kind: RecordKind = 'flow';
  ipSrc: string | null = null;
  ipDst: string | null = null;
  proto = -1;
  tos = -1;
  sport = -1;
  dport = -1;
  tcpFlags = -1;
  icmpType = -1;
  icmpCode = -1;
  vlanId = -1;
  readonly flowFields: FlowFields = {
    type: 'flow', format: '', exporter: '', packets: undefined, bytes: undefined, start: undefined, end: undefined,
    input: undefined, output: undefined, domain: undefined, agent: undefined,
  };
  /** Interface counters (counters samples only). */
  ifaceFields: IfaceFields | null = null;

  private ipView: FlowRecordIpView | null = null;
  private tcpView: FlowRecordTcpView | null = null;
  private udpView: FlowRecordUdpView | null = null;
  private icmpView: FlowRecordIcmpView | null = null;
  private vlanView: FlowRecordVlanView | null = null;

  get eth(): null { return null; }
  get outer(): null { return null; }
  get tunnel(): null { return null; }
  get int(): null { return null; }
  get ip(): FlowRecordIpView | null { return this.l3 !== 0 ? (this.ipView ??= new FlowRecordIpView(this)) : null; }
  get tcp(): FlowRecordTcpView | null { return this.proto === 6 ? (this.tcpView ??= new FlowRecordTcpView(this)) : null; }
  get udp(): FlowRecordUdpView | null { return this.proto === 17 ? (this.udpView ??= new FlowRecordUdpView(this)) : null; }
  get icmp(): FlowRecordIcmpView | null {
    return this.proto === 1 || this.proto === 58 ? (this.icmpView ??= new FlowRecordIcmpView(this)) : null;
  }
  get vlan(): FlowRecordVlanView | null { return this.vlanDepth > 0 ? (this.vlanView ??= new FlowRecordVlanView(this)) : null; }
  get flow(): FlowFields { return this.flowFields; }
  get iface(): IfaceFields | null { return this.ifaceFields; }
  get caplen(): number { return 0; }
  get ok(): boolean { return true; }

  /** A field by its dotted name, undefined when the record lacks it. */
  get(name: FieldName): FieldValue {
    return fieldGetter(name)(this as any);
  }

  private setAddrs(version: 4 | 6 | null, src: string | null, dst: string | null, proto: number | null, tos: number | null): void {
    this.l3 = version ?? (src !== null ? (src.includes(':') ? 6 : 4) : 0);
    if (src === null && dst === null) this.l3 = 0;
    this.ipSrc = src; this.ipDst = dst;
    this.proto = this.l3 !== 0 ? nn(proto) : -1;
    this.tos = nn(tos);
  }

  private setPorts(r: NetflowRecord | SflowSampleRecord): void {
    if (this.proto === 6) { this.sport = nn(r['tcp.sport']); this.dport = nn(r['tcp.dport']); this.tcpFlags = nn(r['tcp.flags']); }
    else if (this.proto === 17) { this.sport = nn(r['udp.sport']); this.dport = nn(r['udp.dport']); this.tcpFlags = -1; }
    else { this.sport = -1; this.dport = -1; this.tcpFlags = -1; }
  }

  /** Fills the view from a NetFlow v5/v9/IPFIX record (copies: the decoder reuses `r`). */
  setNetflow(r: NetflowRecord, arrival: number): void {
    this.kind = 'flow';
    this.setAddrs(r['ip.version'], r['ip.src'], r['ip.dst'], r['ip.proto'], r['ip.tos']);
    this.setPorts(r);
    this.icmpType = this.proto === 1 || this.proto === 58 ? nn(r['icmp.type']) : -1;
    this.icmpCode = this.proto === 1 || this.proto === 58 ? nn(r['icmp.code']) : -1;
    this.vlanId = nn(r['vlan.id']);
    this.vlanDepth = this.vlanId > 0 ? 1 : 0;
    const f = this.flowFields;
    f.type = 'flow'; f.format = r['flow.format']; f.exporter = r['flow.exporter'];
    f.packets = r['flow.packets'] ?? undefined; f.bytes = r['flow.bytes'] ?? undefined;
    f.start = r['flow.start'] ?? undefined; f.end = r['flow.end'] ?? undefined;
    f.input = r['flow.input'] ?? undefined; f.output = r['flow.output'] ?? undefined;
    f.domain = r['flow.domain']; f.agent = undefined;
    this.ifaceFields = null;
    const s = r['flow.sampling'];
    this.sampleRate = s !== null && s > 0 ? s : 1;
    this.ts = f.end ?? f.start ?? arrival;
    this.len = f.bytes ?? 0;
  }

  /** Fills the view from an sFlow flow sample that is not decoded as a packet. */
  setSflowSample(r: SflowSampleRecord, arrival: number): void {
    this.kind = 'sample';
    this.setAddrs(r['ip.version'], r['ip.src'], r['ip.dst'], r['ip.proto'], r['ip.tos']);
    this.setPorts(r);
    this.icmpType = -1; this.icmpCode = -1;
    this.vlanId = nn(r['vlan.id']);
    this.vlanDepth = this.vlanId > 0 ? 1 : 0;
    const f = this.flowFields;
    f.type = 'sample'; f.format = r['flow.format']; f.exporter = r['flow.exporter'];
    f.packets = r['flow.packets']; f.bytes = r['flow.bytes'] ?? undefined;
    f.start = undefined; f.end = undefined;
    f.input = r['flow.input'] ?? undefined; f.output = r['flow.output'] ?? undefined;
    f.domain = r['sflow.sub_agent']; f.agent = r['sflow.agent'];
    this.ifaceFields = null;
    this.sampleRate = r['flow.sampling'] > 0 ? r['flow.sampling'] : 1;
    this.ts = arrival;
    this.len = f.bytes ?? 0;
  }

  /** Fills the view from an sFlow counters sample (generic interface counters). */
  setSflowCounters(r: SflowCountersRecord, arrival: number): void {
    this.kind = 'counters';
    this.l3 = 0; this.ipSrc = null; this.ipDst = null; this.proto = -1; this.tos = -1;
    this.sport = -1; this.dport = -1; this.tcpFlags = -1; this.icmpType = -1; this.icmpCode = -1;
    this.vlanId = -1; this.vlanDepth = 0;
    const f = this.flowFields;
    f.type = 'counters'; f.format = r['flow.format']; f.exporter = r['flow.exporter'];
    f.packets = undefined; f.bytes = undefined; f.start = undefined; f.end = undefined;
    f.input = undefined; f.output = undefined; f.domain = r['sflow.sub_agent']; f.agent = r['sflow.agent'];
    const c = (this.ifaceFields ??= {} as IfaceFields);
    c.index = r['if.index']; c.type = r['if.type']; c.speed = r['if.speed']; c.direction = r['if.direction'];
    c.status = r['if.status']; c.in_octets = r['if.in_octets']; c.in_ucast = r['if.in_ucast'];
    c.in_mcast = r['if.in_mcast']; c.in_bcast = r['if.in_bcast']; c.in_discards = r['if.in_discards'];
    c.in_errors = r['if.in_errors']; c.in_unknown = r['if.in_unknown']; c.out_octets = r['if.out_octets'];
    c.out_ucast = r['if.out_ucast']; c.out_mcast = r['if.out_mcast']; c.out_bcast = r['if.out_bcast'];
    c.out_discards = r['if.out_discards']; c.out_errors = r['if.out_errors']; c.promisc = r['if.promisc'];
    this.sampleRate = 1;
    this.ts = arrival;
    this.len = 0;
  }

  /** A copy that stays valid after the source's next batch (allocates the copy, its two objects and the plain form between). */
  clone(): FlowRecordView {
    return new FlowRecordView().assign(this.plain());
  }

  /**
   * The record's values as a plain object that structured clone carries to another thread
   * (`--workers`: a flow source's records dealt to local-stage threads); `assign` takes it back.
   */
  plain(): FlowRecordPlain {
    return {
      ts: this.ts, len: this.len, source: this.source, sampleRate: this.sampleRate, vlanDepth: this.vlanDepth, l3: this.l3,
      kind: this.kind, ipSrc: this.ipSrc, ipDst: this.ipDst, proto: this.proto, tos: this.tos, sport: this.sport,
      dport: this.dport, tcpFlags: this.tcpFlags, icmpType: this.icmpType, icmpCode: this.icmpCode, vlanId: this.vlanId,
      flow: { ...this.flowFields }, iface: this.ifaceFields === null ? null : { ...this.ifaceFields },
    };
  }

  /** Takes the values of `o` (from `plain()`), and returns this view. */
  assign(o: FlowRecordPlain): this {
    this.ts = o.ts; this.len = o.len; this.source = o.source; this.sampleRate = o.sampleRate;
    this.vlanDepth = o.vlanDepth; this.l3 = o.l3; this.kind = o.kind; this.ipSrc = o.ipSrc; this.ipDst = o.ipDst;
    this.proto = o.proto; this.tos = o.tos; this.sport = o.sport; this.dport = o.dport; this.tcpFlags = o.tcpFlags;
    this.icmpType = o.icmpType; this.icmpCode = o.icmpCode; this.vlanId = o.vlanId;
    Object.assign(this.flowFields, o.flow);
    this.ifaceFields = o.iface === null ? null : { ...o.iface };
    return this;
  }

  /** Every present field by name, as a plain object (for printing and JSON; allocates). */
  toJSON(): Record<string, FieldValue> {
    const o: Record<string, FieldValue> = {};
    for (const d of FIELDS.values()) {
      if (d.type === 'layer') continue;
      const v = d.get(this as any);
      if (v !== undefined) o[d.name] = v;
    }
    return o;
  }
}
