// Test support: encoders that build sFlow v5, NetFlow v5/v9 and IPFIX datagrams from plain
// values, written from the specifications (sFlow v5, Cisco NetFlow v5, RFC 3954, RFC 7011)
// independently of the decoders under test.

/** Big-endian byte writer. */
export class W {
  private bytes: number[] = [];
  get length(): number {
    return this.bytes.length;
  }
  u8(v: number): this {
    this.bytes.push(v & 0xff);
    return this;
  }
  u16(v: number): this {
    return this.u8(v >>> 8).u8(v);
  }
  u32(v: number): this {
    return this.u16(Math.floor(v / 65536) & 0xffff).u16(v & 0xffff);
  }
  u64(v: bigint | number): this {
    const b = BigInt(v);
    return this.u32(Number((b >> 32n) & 0xffffffffn)).u32(Number(b & 0xffffffffn));
  }
  /** Unsigned integer in n bytes (n = 1..8). */
  uN(v: bigint | number, n: number): this {
    const b = BigInt(v);
    for (let i = n - 1; i >= 0; i--) this.u8(Number((b >> BigInt(8 * i)) & 0xffn));
    return this;
  }
  raw(b: ArrayLike<number>): this {
    for (let i = 0; i < b.length; i++) this.bytes.push(b[i]! & 0xff);
    return this;
  }
  /** XDR padding to a multiple of 4. */
  pad4(): this {
    while (this.bytes.length % 4 !== 0) this.bytes.push(0);
    return this;
  }
  done(): Uint8Array {
    return Uint8Array.from(this.bytes);
  }
}

export function ipv4(s: string): number[] {
  const parts = s.split('.').map(Number);
  if (parts.length !== 4 || parts.some((x) => !(x >= 0 && x <= 255))) throw new Error(`bad IPv4 ${s}`);
  return parts;
}

/** Full-form or "::"-shortened IPv6 text to 16 bytes. */
export function ipv6(s: string): number[] {
  const [head, tail] = s.includes('::') ? s.split('::') : [s, null];
  const h = head ? head.split(':') : [];
  const t = tail ? tail.split(':') : [];
  const groups = tail === null ? h : [...h, ...Array(8 - h.length - t.length).fill('0'), ...t];
  if (groups.length !== 8) throw new Error(`bad IPv6 ${s}`);
  const out: number[] = [];
  for (const g of groups) {
    const v = parseInt(g, 16);
    out.push(v >> 8, v & 0xff);
  }
  return out;
}

function cat(parts: Uint8Array[]): Uint8Array {
  const n = parts.reduce((a, p) => a + p.length, 0);
  const out = new Uint8Array(n);
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

// ------------------------------------------------------------------------------- sFlow v5

/** A flow/counter record or sample: enterprise/format plus its opaque body. */
export interface Tlv {
  enterprise?: number;
  format: number;
  body: Uint8Array;
}

function tlv(t: Tlv): Uint8Array {
  const w = new W();
  w.u32(((t.enterprise ?? 0) << 12) | t.format);
  w.u32(t.body.length);
  w.raw(t.body);
  return w.done();
}

export interface SflowDatagram {
  version?: number;
  agent: string; // dotted quad or IPv6 text
  subAgent: number;
  sequence: number;
  uptime: number;
  samples: Tlv[];
  /** Override the sample count in the header. */
  numSamples?: number;
}

export function sflowDatagram(d: SflowDatagram): Uint8Array {
  const w = new W();
  w.u32(d.version ?? 5);
  if (d.agent.includes(':')) w.u32(2).raw(ipv6(d.agent));
  else w.u32(1).raw(ipv4(d.agent));
  w.u32(d.subAgent).u32(d.sequence).u32(d.uptime).u32(d.numSamples ?? d.samples.length);
  return cat([w.done(), ...d.samples.map(tlv)]);
}

export interface FlowSampleSpec {
  expanded?: boolean;
  sequence: number;
  sourceType: number;
  sourceIndex: number;
  rate: number;
  pool: number;
  drops: number;
  /** Compact form: format in the top 2 bits of a 32-bit word, value in the low 30. */
  inputFormat?: number;
  input: number;
  outputFormat?: number;
  output: number;
  records: Tlv[];
}

export function flowSample(s: FlowSampleSpec): Tlv {
  const w = new W();
  w.u32(s.sequence);
  if (s.expanded) w.u32(s.sourceType).u32(s.sourceIndex);
  else w.u32(s.sourceType * 0x1000000 + s.sourceIndex);
  w.u32(s.rate).u32(s.pool).u32(s.drops);
  if (s.expanded) {
    w.u32(s.inputFormat ?? 0).u32(s.input);
    w.u32(s.outputFormat ?? 0).u32(s.output);
  } else {
    w.u32((s.inputFormat ?? 0) * 0x40000000 + s.input);
    w.u32((s.outputFormat ?? 0) * 0x40000000 + s.output);
  }
  w.u32(s.records.length);
  return { format: s.expanded ? 3 : 1, body: cat([w.done(), ...s.records.map(tlv)]) };
}

export function rawHeaderRecord(protocol: number, frameLength: number, stripped: number, header: ArrayLike<number>): Tlv {
  const w = new W();
  w.u32(protocol).u32(frameLength).u32(stripped).u32(header.length).raw(header).pad4();
  return { format: 1, body: w.done() };
}

export function sampledIpv4Record(r: {
  length: number;
  protocol: number;
  src: string;
  dst: string;
  sport: number;
  dport: number;
  tcpFlags: number;
  tos: number;
}): Tlv {
  const w = new W();
  w.u32(r.length).u32(r.protocol).raw(ipv4(r.src)).raw(ipv4(r.dst));
  w.u32(r.sport).u32(r.dport).u32(r.tcpFlags).u32(r.tos);
  return { format: 3, body: w.done() };
}

export function sampledIpv6Record(r: {
  length: number;
  protocol: number;
  src: string;
  dst: string;
  sport: number;
  dport: number;
  tcpFlags: number;
  priority: number;
}): Tlv {
  const w = new W();
  w.u32(r.length).u32(r.protocol).raw(ipv6(r.src)).raw(ipv6(r.dst));
  w.u32(r.sport).u32(r.dport).u32(r.tcpFlags).u32(r.priority);
  return { format: 4, body: w.done() };
}

export function extendedSwitchRecord(srcVlan: number, srcPrio: number, dstVlan: number, dstPrio: number): Tlv {
  return { format: 1001, body: new W().u32(srcVlan).u32(srcPrio).u32(dstVlan).u32(dstPrio).done() };
}

export interface CountersSampleSpec {
  expanded?: boolean;
  sequence: number;
  sourceType: number;
  sourceIndex: number;
  records: Tlv[];
}

export function countersSample(s: CountersSampleSpec): Tlv {
  const w = new W();
  w.u32(s.sequence);
  if (s.expanded) w.u32(s.sourceType).u32(s.sourceIndex);
  else w.u32(s.sourceType * 0x1000000 + s.sourceIndex);
  w.u32(s.records.length);
  return { format: s.expanded ? 4 : 2, body: cat([w.done(), ...s.records.map(tlv)]) };
}

export interface IfCounters {
  index: number;
  type: number;
  speed: bigint;
  direction: number;
  status: number;
  inOctets: bigint;
  inUcast: number;
  inMcast: number;
  inBcast: number;
  inDiscards: number;
  inErrors: number;
  inUnknown: number;
  outOctets: bigint;
  outUcast: number;
  outMcast: number;
  outBcast: number;
  outDiscards: number;
  outErrors: number;
  promisc: number;
}

export function ifCountersRecord(c: IfCounters): Tlv {
  const w = new W();
  w.u32(c.index).u32(c.type).u64(c.speed).u32(c.direction).u32(c.status);
  w.u64(c.inOctets).u32(c.inUcast).u32(c.inMcast).u32(c.inBcast).u32(c.inDiscards).u32(c.inErrors).u32(c.inUnknown);
  w.u64(c.outOctets).u32(c.outUcast).u32(c.outMcast).u32(c.outBcast).u32(c.outDiscards).u32(c.outErrors);
  w.u32(c.promisc);
  return { format: 1, body: w.done() };
}

// ------------------------------------------------------------------------------- NetFlow v5

export interface Nf5Record {
  src: string;
  dst: string;
  nexthop: string;
  input: number;
  output: number;
  packets: number;
  octets: number;
  first: number;
  last: number;
  sport: number;
  dport: number;
  tcpFlags: number;
  proto: number;
  tos: number;
  srcAs: number;
  dstAs: number;
  srcMask: number;
  dstMask: number;
}

export function nf5(h: {
  uptime: number;
  secs: number;
  nsecs: number;
  sequence: number;
  engineType: number;
  engineId: number;
  sampling: number;
  records: Nf5Record[];
  count?: number;
}): Uint8Array {
  const w = new W();
  w.u16(5).u16(h.count ?? h.records.length).u32(h.uptime).u32(h.secs).u32(h.nsecs).u32(h.sequence);
  w.u8(h.engineType).u8(h.engineId).u16(h.sampling);
  for (const r of h.records) {
    w.raw(ipv4(r.src)).raw(ipv4(r.dst)).raw(ipv4(r.nexthop));
    w.u16(r.input).u16(r.output).u32(r.packets).u32(r.octets).u32(r.first).u32(r.last);
    w.u16(r.sport).u16(r.dport).u8(0).u8(r.tcpFlags).u8(r.proto).u8(r.tos);
    w.u16(r.srcAs).u16(r.dstAs).u8(r.srcMask).u8(r.dstMask).u16(0);
  }
  return w.done();
}

// --------------------------------------------------------------------- NetFlow v9 and IPFIX

/** A field specifier: information element / v9 type, length, optional enterprise number. */
export interface Field {
  ie: number;
  len: number;
  enterprise?: number;
}

/** A field value: integer, address text, or raw bytes (variable-length fields: raw bytes). */
export type Value = number | bigint | string | Uint8Array;

export function encodeValue(w: W, f: Field, v: Value, ipfix: boolean): void {
  if (f.len === 0xffff) {
    if (!ipfix) throw new Error('variable length is IPFIX only');
    const b = typeof v === 'string' ? new TextEncoder().encode(v) : (v as Uint8Array);
    if (b.length < 255) w.u8(b.length);
    else w.u8(255).u16(b.length);
    w.raw(b);
  } else if (typeof v === 'string') {
    const b = v.includes(':') ? ipv6(v) : ipv4(v);
    if (b.length !== f.len) throw new Error(`address ${v} in a ${f.len}-byte field`);
    w.raw(b);
  } else if (v instanceof Uint8Array) {
    if (v.length !== f.len) throw new Error('raw value of the wrong length');
    w.raw(v);
  } else {
    w.uN(v, f.len);
  }
}

export function dataRecord(fields: Field[], values: Value[], ipfix: boolean): Uint8Array {
  const w = new W();
  fields.forEach((f, i) => encodeValue(w, f, values[i]!, ipfix));
  return w.done();
}

/** A set / flowset: id + body, padded to `padTo` bytes if given. */
export function set(id: number, body: Uint8Array, padTo = 0): Uint8Array {
  let pad = 0;
  if (padTo > 0) pad = (padTo - ((body.length + 4) % padTo)) % padTo;
  const w = new W();
  w.u16(id).u16(body.length + 4 + pad).raw(body);
  for (let i = 0; i < pad; i++) w.u8(0);
  return w.done();
}

function fieldSpecs(w: W, fields: Field[], ipfix: boolean): void {
  for (const f of fields) {
    if (f.enterprise !== undefined) {
      if (!ipfix) throw new Error('enterprise fields are IPFIX only');
      w.u16(0x8000 | f.ie).u16(f.len).u32(f.enterprise);
    } else {
      w.u16(f.ie).u16(f.len);
    }
  }
}

/** Template records (v9 flowset 0 / IPFIX set 2 body). An empty field list is a withdrawal. */
export function templateRecords(ts: { id: number; fields: Field[] }[], ipfix: boolean): Uint8Array {
  const w = new W();
  for (const t of ts) {
    w.u16(t.id).u16(t.fields.length);
    fieldSpecs(w, t.fields, ipfix);
  }
  return w.done();
}

/** v9 options template records (flowset 1 body). */
export function v9OptionsTemplate(id: number, scope: Field[], options: Field[]): Uint8Array {
  const w = new W();
  w.u16(id).u16(scope.length * 4).u16(options.length * 4);
  fieldSpecs(w, scope, false);
  fieldSpecs(w, options, false);
  return w.done();
}

/** IPFIX options template record (set 3 body). No fields = withdrawal. */
export function ipfixOptionsTemplate(id: number, scope: Field[], options: Field[]): Uint8Array {
  const w = new W();
  const n = scope.length + options.length;
  w.u16(id).u16(n);
  if (n > 0) {
    w.u16(scope.length);
    fieldSpecs(w, [...scope, ...options], true);
  }
  return w.done();
}

export function nf9(h: { uptime: number; secs: number; sequence: number; sourceId: number; count: number; sets: Uint8Array[] }): Uint8Array {
  const w = new W();
  w.u16(9).u16(h.count).u32(h.uptime).u32(h.secs).u32(h.sequence).u32(h.sourceId);
  return cat([w.done(), ...h.sets]);
}

export function ipfixMessage(h: { exportTime: number; sequence: number; domain: number; sets: Uint8Array[]; length?: number }): Uint8Array {
  const body = cat(h.sets);
  const w = new W();
  w.u16(10).u16(h.length ?? body.length + 16).u32(h.exportTime).u32(h.sequence).u32(h.domain);
  return cat([w.done(), body]);
}

export function concat(...parts: Uint8Array[]): Uint8Array {
  return cat(parts);
}
