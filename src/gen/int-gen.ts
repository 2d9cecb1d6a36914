// int-gen: spec-conformant Telemetry Report generator (TR v0.5 / v1.0 / v2.0 carrying INT v0.5 /
// v1.0 / v2.x INT-MD over TCP or UDP), written independently of src/decode/int.
//
//   node src/gen/int-gen.ts --version 2.0 --hops 6 --reports 100000 --out FILE.pcap
//   node src/gen/int-gen.ts --version 1.0 --hops 4 --reports 1000 --udp 127.0.0.1:32766 --rate 500
//
// Options: --version 0.5|1.0|2.0 (report version; the INT version is paired unless --int-version),
// --hops N, --reports N, --seed N, --port N (report UDP port, default 32766), --bitmap HEX
// (instruction bitmap, default all baseline metadata of that INT version), --paths N (number of
// distinct switch paths drawn from the seed, default 16), --out FILE.pcap or
// --udp HOST:PORT with --rate N reports/s (the count is bounded by --reports).
//
// Layouts follow the same spec sections as the decoder (see src/decode/int/*.ts comments):
// TR v0.5 report header; TR v1.0 header (Len, NProto, RepMdBits); TR v2.0 §3.2 group header,
// §3.3 individual report header, §3.3.1 RepMdBits; INT v0.5 shim + 8-byte header + tail;
// INT v1.0 §4.6/§4.7 shim + 8-byte header; INT v2.1 §5.6.2 shim, §5.7 12-byte INT-MD header.

import { writeFileSync } from 'node:fs';
import { createSocket } from 'node:dgram';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { exitCodeFor, IntstreamError } from '../errors.ts';
import { mulberry32 as rng } from './prng.ts';

export type TrVersion = '0.5' | '1.0' | '2.0';
export type IntVer = '0.5' | '1.0' | '2.0';
export type Ts = number | bigint;

/** Values of one metadata entry; missing values are written as 0. */
export interface HopValues {
  switchId?: number;
  ingressPort?: number;
  egressPort?: number;
  hopLatency?: number;
  queueId?: number;
  queueOccupancy?: number;
  ingressTs?: Ts;
  egressTs?: Ts;
  l2IngressPort?: number;
  l2EgressPort?: number;
  egressTxUtil?: number;
  bufferId?: number;
  bufferOccupancy?: number;
  queueCongestion?: number; // INT v0.5 bit 6
  checksumComplement?: number;
  dropReason?: number; // TR v2.0 RepMdBits bit 15
}

export interface InnerSpec {
  /** 'tcp' or 'udp' (default 'udp'). */
  l4?: 'tcp' | 'udp';
  /** DSCP of the inner IPv4 header; INT is signalled by DSCP (default 0x17). */
  dscp?: number;
  srcIp?: number;
  dstIp?: number;
  srcPort?: number;
  dstPort?: number;
  payload?: Uint8Array;
  /** Start the inner packet at IPv4 instead of Ethernet (TR v1.0 NProto 1, TR v2.0 InType 4). */
  ipOnly?: boolean;
}

export interface ReportSpec {
  version: TrVersion;
  intVersion?: IntVer;
  hwId?: number;
  sequence?: number;
  /** Reporter switch/node id (TR v1.0 Switch ID, TR v2.0 Node ID). */
  nodeId?: number;
  /** TR v0.5 / v1.0 32-bit ingress timestamp. */
  timestamp?: number;
  dropped?: boolean;
  congested?: boolean;
  tracked?: boolean;
  intermediate?: boolean;
  /** INT instruction bitmap (16 bit, bit 0 = MSB). */
  instructionBitmap: number;
  /** INT metadata stack, most recent hop first (wire order). */
  hops: HopValues[];
  /** INT v1.0/v2.x Remaining Hop Count (default 8), INT v0.5 Max Hop Count (default 8). */
  remainingHopCount?: number;
  /** INT v2.x Domain Specific ID / Instruction / Flags. */
  dsId?: number;
  dsInstruction?: number;
  dsFlags?: number;
  /** TR v2.0: reporter metadata (RepMdBits) and its values. */
  repMdBits?: number;
  local?: HopValues;
  inner?: InnerSpec;
}

export interface EncodedLayout {
  /** Report (UDP payload) length. */
  length: number;
  innerOffset: number;
  shimOffset: number;
  /** First byte after the INT headers (and v0.5 tail). */
  intEnd: number;
}

// ---------------------------------------------------------------------------------------------
// metadata sizes and encoding

const KIND = { '0.5': 0, '1.0': 1, '2.0': 2 } as const;
const REPMD = 3;

/** Per-entry byte size of a bitmap for INT 0.5/1.0/2.x (0,1,2) or TR v2.0 RepMdBits (3). */
export function entrySize(bitmap: number, kind: number): number {
  let n = 0;
  for (let bit = 0; bit < 16; bit++) {
    if ((bitmap & (0x8000 >>> bit)) === 0) continue;
    if ((bit === 4 || bit === 5) && kind >= 2) n += 8;
    else if (bit === 6 && kind >= 1) n += 8;
    else n += 4;
  }
  return n;
}

/** All baseline metadata an INT version defines (default bitmap). */
export function fullBitmap(v: IntVer): number {
  return v === '0.5' ? 0xff00 : v === '1.0' ? 0xff00 : 0xff80;
}

class W {
  buf: Uint8Array;
  p: number;
  constructor(buf: Uint8Array, p: number) {
    this.buf = buf;
    this.p = p;
  }
  u8(v: number): void {
    this.buf[this.p++] = v & 0xff;
  }
  u16(v: number): void {
    this.buf[this.p++] = (v >>> 8) & 0xff;
    this.buf[this.p++] = v & 0xff;
  }
  u32(v: number): void {
    this.u16((v >>> 16) & 0xffff);
    this.u16(v & 0xffff);
  }
  u64(v: Ts): void {
    if (typeof v === 'bigint') {
      this.u32(Number((v >> 32n) & 0xffffffffn));
      this.u32(Number(v & 0xffffffffn));
    } else {
      this.u32(Math.floor(v / 4294967296));
      this.u32(v >>> 0);
    }
  }
  bytes(b: Uint8Array): void {
    this.buf.set(b, this.p);
    this.p += b.length;
  }
}

function ts32(v: Ts | undefined): number {
  if (v === undefined) return 0;
  return typeof v === 'bigint' ? Number(v & 0xffffffffn) : v >>> 0;
}

/** Write one metadata entry in bitmap order (checksum complement last, after `dsBytes`). */
function writeEntry(w: W, bitmap: number, kind: number, h: HopValues, dsBytes: number): void {
  for (let bit = 0; bit < 16; bit++) {
    if ((bitmap & (0x8000 >>> bit)) === 0) continue;
    switch (bit) {
      case 0:
        w.u32(kind === REPMD ? 0xffffffff : (h.switchId ?? 0));
        break;
      case 1:
        w.u16(h.ingressPort ?? 0);
        w.u16(h.egressPort ?? 0);
        break;
      case 2:
        w.u32(h.hopLatency ?? 0);
        break;
      case 3:
        w.u8(h.queueId ?? 0);
        w.u8((h.queueOccupancy ?? 0) >>> 16);
        w.u16((h.queueOccupancy ?? 0) & 0xffff);
        break;
      case 4:
        if (kind >= 2) w.u64(h.ingressTs ?? 0);
        else w.u32(ts32(h.ingressTs));
        break;
      case 5:
        if (kind >= 2) w.u64(h.egressTs ?? 0);
        else w.u32(ts32(h.egressTs));
        break;
      case 6:
        if (kind === 0) {
          w.u8(h.queueId ?? 0);
          w.u8((h.queueCongestion ?? 0) >>> 16);
          w.u16((h.queueCongestion ?? 0) & 0xffff);
        } else {
          w.u32(h.l2IngressPort ?? 0);
          w.u32(h.l2EgressPort ?? 0);
        }
        break;
      case 7:
        w.u32(h.egressTxUtil ?? 0);
        break;
      case 8:
        if (kind >= 2) {
          w.u8(h.bufferId ?? 0);
          w.u8((h.bufferOccupancy ?? 0) >>> 16);
          w.u16((h.bufferOccupancy ?? 0) & 0xffff);
        } else {
          w.u32(0xffffffff); // reserved in v0.5/v1.0: all-ones reserved value
        }
        break;
      case 15:
        if (kind === 0) {
          w.u32(0xffffffff);
        } else if (kind === REPMD) {
          w.u8(h.queueId ?? 0);
          w.u8(h.dropReason ?? 0);
          w.u16(0);
        }
        break; // INT 1.0 / 2.x checksum complement is written after the DS metadata below
      default:
        w.u32(0xffffffff); // reserved bits 9-14: all-ones
    }
  }
  for (let i = 0; i < dsBytes; i++) w.u8(0xff);
  if ((kind === 1 || kind === 2) && (bitmap & 1) !== 0) w.u32(h.checksumComplement ?? 0);
}

// ---------------------------------------------------------------------------------------------
// report encoding

function ipv4Checksum(b: Uint8Array, p: number): number {
  let s = 0;
  for (let i = 0; i < 20; i += 2) if (i !== 10) s += (b[p + i] << 8) | b[p + i + 1];
  while (s > 0xffff) s = (s & 0xffff) + (s >>> 16);
  return ~s & 0xffff;
}

function pairedIntVersion(v: TrVersion): IntVer {
  return v;
}

/** Upper bound of the encoded report size. */
export function maxReportSize(spec: ReportSpec): number {
  const iv = spec.intVersion ?? pairedIntVersion(spec.version);
  const per = entrySize(spec.instructionBitmap, KIND[iv]);
  return 64 + 14 + 60 + 60 + 32 + per * spec.hops.length + 64 + (spec.inner?.payload?.length ?? 0);
}

/** Encode the report (UDP payload) into buf at off; returns its layout. */
export function encodeReportInto(buf: Uint8Array, off: number, spec: ReportSpec): EncodedLayout {
  const iv: IntVer = spec.intVersion ?? pairedIntVersion(spec.version);
  const kind = KIND[iv];
  const w = new W(buf, off);
  const d = spec.dropped ? 1 : 0;
  const q = spec.congested ? 1 : 0;
  const f = spec.tracked === false ? 0 : 1;
  const inner = spec.inner ?? {};
  const ipOnly = inner.ipOnly === true && spec.version !== '0.5';
  let indivStart = -1;
  if (spec.version === '0.5') {
    w.u8(0x00); // Ver 0 | NProto 0 (Ethernet)
    w.u8((d << 7) | (q << 6) | (f << 5));
    w.u8(0);
    w.u8((spec.hwId ?? 0) & 0x3f);
    w.u32(spec.sequence ?? 0);
    w.u32(spec.timestamp ?? 0);
  } else if (spec.version === '1.0') {
    const nProto = ipOnly ? 1 : 0;
    w.u8((1 << 4) | 4); // Ver 1 | Len 4 words (no optional metadata)
    w.u8(nProto << 5); // NProto | RepMdBits (high 5) = 0
    w.u8(d); // RepMdBits low bit 0 | Reserved | D
    w.u8((q << 7) | (f << 6) | ((spec.hwId ?? 0) & 0x3f));
    w.u32(spec.nodeId ?? 0);
    w.u32(spec.sequence ?? 0);
    w.u32(spec.timestamp ?? 0);
  } else {
    w.u32(((2 << 28) | (((spec.hwId ?? 0) & 0x3f) << 22) | ((spec.sequence ?? 0) & 0x3fffff)) >>> 0);
    w.u32(spec.nodeId ?? 0);
    indivStart = w.p;
    const rep = spec.repMdBits ?? 0;
    const mdLen = entrySize(rep, REPMD);
    w.u8((1 << 4) | (ipOnly ? 4 : 3)); // RepType 1 (INT) | InType Ethernet/IPv4
    w.u8(0); // Report Length, patched below
    w.u8(mdLen / 4);
    w.u8(((d << 3) | (q << 2) | (f << 1) | (spec.intermediate ? 1 : 0)) << 4);
    w.u16(rep);
    w.u16(0); // Domain Specific ID
    w.u16(0); // DSMdBits
    w.u16(0); // DSMdstatus
    if (rep !== 0) writeEntry(w, rep, REPMD, spec.local ?? {}, 0);
  }

  // inner packet: [Ethernet] IPv4 L4 INT payload
  const innerOffset = w.p;
  if (!ipOnly) {
    w.u16(0x0200);
    w.u32(0x00000001); // dst 02:00:00:00:00:01
    w.u16(0x0200);
    w.u32(0x00000002); // src 02:00:00:00:00:02
    w.u16(0x0800);
  }
  const ip = w.p;
  const l4 = inner.l4 ?? 'udp';
  const dscp = inner.dscp ?? 0x17;
  w.u8(0x45);
  w.u8(dscp << 2);
  w.u16(0); // total length, patched
  w.u16(1);
  w.u16(0x4000); // DF
  w.u8(64);
  w.u8(l4 === 'tcp' ? 6 : 17);
  w.u16(0);
  w.u32(inner.srcIp ?? 0x0a000001);
  w.u32(inner.dstIp ?? 0x0a000002);
  const l4p = w.p;
  const sport = inner.srcPort ?? 40000;
  const dport = inner.dstPort ?? 5001;
  if (l4 === 'tcp') {
    w.u16(sport);
    w.u16(dport);
    w.u32(1);
    w.u32(0);
    w.u8(5 << 4);
    w.u8(0x18);
    w.u16(65535);
    w.u16(0);
    w.u16(0);
  } else {
    w.u16(sport);
    w.u16(dport);
    w.u16(0); // length, patched
    w.u16(0);
  }

  // INT
  const shim = w.p;
  const per = entrySize(spec.instructionBitmap, kind);
  const stack = per * spec.hops.length;
  const rhc = spec.remainingHopCount ?? 8;
  if (iv === '0.5') {
    const ins = popcount(spec.instructionBitmap);
    w.u8(1); // Type 1: hop-by-hop
    w.u8(0);
    w.u8((4 + 8 + stack + 4) / 4); // shim + header + stack + tail
    w.u8(0);
    w.u8(0); // Ver 0 | Rep 0 | C 0 | E 0 | R
    w.u8(ins & 0x1f); // R | InsCnt
    w.u8(rhc); // Max Hop Count
    w.u8(spec.hops.length); // Total Hop Count
    w.u16(spec.instructionBitmap);
    w.u16(0);
  } else if (iv === '1.0') {
    w.u8(1);
    w.u8(0);
    w.u8((4 + 8 + stack) / 4); // shim + header + stack
    w.u8(0); // original DSCP not carried
    w.u8(1 << 4); // Ver 1 | Rep 0 | C 0 | E 0
    w.u8(0); // M 0 | Reserved
    w.u8((per / 4) & 0x1f); // Reserved | Hop ML
    w.u8(rhc);
    w.u16(spec.instructionBitmap);
    w.u16(0);
  } else {
    w.u8(1 << 4); // Type 1 (INT-MD) | NPT 0
    w.u8((12 + stack) / 4); // header + stack, shim excluded
    w.u16(0);
    w.u8(2 << 4); // Ver 2 | D E M 0
    w.u8(0);
    w.u8((per / 4) & 0x1f); // Hop ML
    w.u8(rhc);
    w.u16(spec.instructionBitmap);
    w.u16(spec.dsId ?? 0);
    w.u16(spec.dsInstruction ?? 0);
    w.u16(spec.dsFlags ?? 0);
  }
  for (const h of spec.hops) writeEntry(w, spec.instructionBitmap, kind, h, 0);
  if (iv === '0.5') {
    w.u8(l4 === 'tcp' ? 6 : 17); // tail: Next Proto
    w.u16(dport); // Dest Port
    w.u8(dscp); // original DSCP
  }
  const intEnd = w.p;
  if (inner.payload) w.bytes(inner.payload);
  // v2.0 Report Length is in 4-byte words: pad the truncated packet to a word boundary
  if (indivStart >= 0) while ((w.p - indivStart) % 4 !== 0) w.u8(0);
  const end = w.p;

  // patch lengths
  const ipLen = end - ip;
  buf[ip + 2] = ipLen >>> 8;
  buf[ip + 3] = ipLen & 0xff;
  const ck = ipv4Checksum(buf, ip);
  buf[ip + 10] = ck >>> 8;
  buf[ip + 11] = ck & 0xff;
  if (l4 === 'udp') {
    const ul = end - l4p;
    buf[l4p + 4] = ul >>> 8;
    buf[l4p + 5] = ul & 0xff;
  }
  const shimWords = buf[shim] === 1 ? buf[shim + 2] : buf[shim + 1];
  if (per / 4 > 31 || (iv === '2.0' ? 12 + stack : iv === '1.0' ? 12 + stack : 16 + stack) / 4 > 255 || shimWords === 0) {
    throw new IntstreamError('USAGE', `INT stack of ${spec.hops.length} hops x ${per} bytes does not fit the INT length fields`);
  }
  if (indivStart >= 0) {
    const words = (end - indivStart - 4) / 4;
    if (words > 255) throw new IntstreamError('USAGE', `TR v2.0 individual report of ${words} words exceeds Report Length (255)`);
    buf[indivStart + 1] = words;
  }
  return { length: end - off, innerOffset, shimOffset: shim, intEnd };
}

function popcount(x: number): number {
  let n = 0;
  for (let i = 0; i < 16; i++) if (x & (1 << i)) n++;
  return n;
}

/** Encode a report (the UDP payload of the report packet). */
export function encodeReport(spec: ReportSpec): { bytes: Uint8Array; layout: EncodedLayout } {
  const tmp = new Uint8Array(maxReportSize(spec));
  const layout = encodeReportInto(tmp, 0, spec);
  return { bytes: tmp.slice(0, layout.length), layout };
}

export interface FrameOptions {
  srcIp?: number;
  dstIp?: number;
  srcPort?: number;
  dstPort?: number;
}

/** Wrap a report in Ethernet / IPv4 / UDP (to the report port, default 32766). */
export function encodeReportFrame(report: Uint8Array, o: FrameOptions = {}): Uint8Array {
  const f = new Uint8Array(14 + 20 + 8 + report.length);
  const w = new W(f, 0);
  w.u16(0x0200);
  w.u32(0x000000aa);
  w.u16(0x0200);
  w.u32(0x000000bb);
  w.u16(0x0800);
  w.u8(0x45);
  w.u8(0);
  w.u16(20 + 8 + report.length);
  w.u16(0);
  w.u16(0x4000);
  w.u8(64);
  w.u8(17);
  w.u16(0);
  w.u32(o.srcIp ?? 0xc0a80001);
  w.u32(o.dstIp ?? 0xc0a80002);
  const ck = ipv4Checksum(f, 14);
  f[24] = ck >>> 8;
  f[25] = ck & 0xff;
  w.u16(o.srcPort ?? 50000);
  w.u16(o.dstPort ?? 32766);
  w.u16(8 + report.length);
  w.u16(0);
  w.bytes(report);
  return f;
}

/** Classic pcap file (LINKTYPE_ETHERNET, microsecond timestamps). */
export function pcapFile(frames: Uint8Array[], startUs = 1_700_000_000_000_000, stepUs = 100): Uint8Array {
  let total = 24;
  for (const fr of frames) total += 16 + fr.length;
  const out = new Uint8Array(total);
  const dv = new DataView(out.buffer);
  dv.setUint32(0, 0xa1b2c3d4, true);
  dv.setUint16(4, 2, true);
  dv.setUint16(6, 4, true);
  dv.setUint32(16, 65535, true);
  dv.setUint32(20, 1, true);
  let p = 24;
  let t = startUs;
  for (const fr of frames) {
    dv.setUint32(p, Math.floor(t / 1e6), true);
    dv.setUint32(p + 4, t % 1e6, true);
    dv.setUint32(p + 8, fr.length, true);
    dv.setUint32(p + 12, fr.length, true);
    out.set(fr, p + 16);
    p += 16 + fr.length;
    t += stepUs;
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// deterministic paths and metric series

/** The project's seeded PRNG (mulberry32), under the name the INT code has used. */
export { rng };

export interface SeriesOptions {
  version: TrVersion;
  hops: number;
  seed?: number;
  bitmap?: number;
  paths?: number;
}

/**
 * A deterministic stream of report specs: `paths` fixed paths through a 64-switch fabric, hop
 * latency = base + diurnal-like sine + noise, queue occupancy as a bounded random walk, and
 * monotonic nanosecond timestamps. The returned spec object is reused between calls.
 */
export function reportSeries(o: SeriesOptions): (k: number) => ReportSpec {
  const r = rng(o.seed ?? 1);
  const iv = pairedIntVersion(o.version);
  const bitmap = o.bitmap ?? fullBitmap(iv);
  const nPaths = o.paths ?? 16;
  const paths: number[][] = [];
  for (let i = 0; i < nPaths; i++) {
    const p: number[] = [];
    for (let j = 0; j < o.hops; j++) p.push(1 + Math.floor(r() * 64));
    paths.push(p);
  }
  const qocc = new Float64Array(64 + 1);
  const hops: HopValues[] = [];
  for (let j = 0; j < o.hops; j++) hops.push({});
  const spec: ReportSpec = {
    version: o.version, instructionBitmap: bitmap, hops, hwId: 1, nodeId: 0, sequence: 0,
    inner: { l4: 'udp', dscp: 0x17, dstPort: 5001 },
  };
  let now = 1_700_000_000_000_000_000n;
  return (k: number) => {
    const path = paths[k % nPaths];
    spec.sequence = o.version === '2.0' ? k & 0x3fffff : k >>> 0;
    spec.nodeId = path[path.length - 1] ?? 1;
    spec.timestamp = Number(now & 0xffffffffn);
    let t = now;
    // wire order: most recent hop first, so fill from the last traversed switch
    for (let j = 0; j < o.hops; j++) {
      const sw = path[o.hops - 1 - j];
      const h = hops[j];
      const lat = Math.round(800 + 400 * Math.sin((k + sw) / 500) + r() * 200);
      qocc[sw] = Math.max(0, Math.min(0xffffff, qocc[sw] + (r() - 0.5) * 2000));
      h.switchId = sw;
      h.ingressPort = (sw * 7) % 48 + 1;
      h.egressPort = (sw * 11) % 48 + 1;
      h.hopLatency = lat;
      h.queueId = sw % 8;
      h.queueOccupancy = Math.floor(qocc[sw]);
      h.ingressTs = t - BigInt(lat);
      h.egressTs = t;
      h.l2IngressPort = 1000 + sw;
      h.l2EgressPort = 2000 + sw;
      h.egressTxUtil = Math.floor(r() * 1000);
      h.bufferId = sw % 4;
      h.bufferOccupancy = Math.floor(qocc[sw] / 2);
      h.queueCongestion = Math.floor(r() * 100);
      t -= BigInt(lat + 2000);
    }
    now += 10_000n;
    return spec;
  };
}

// ---------------------------------------------------------------------------------------------
// CLI

function parseArgs(argv: string[]): Map<string, string> {
  const m = new Map<string, string>();
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (!a.startsWith('--')) throw new IntstreamError('USAGE', `unexpected argument ${a}`);
    const v = argv[i + 1];
    if (v === undefined || v.startsWith('--')) m.set(a.slice(2), 'true');
    else {
      m.set(a.slice(2), v);
      i++;
    }
  }
  return m;
}

async function main(argv: string[]): Promise<void> {
  const a = parseArgs(argv);
  const version = (a.get('version') ?? '2.0') as TrVersion;
  if (version !== '0.5' && version !== '1.0' && version !== '2.0') throw new IntstreamError('USAGE', '--version must be 0.5, 1.0 or 2.0');
  const hops = Number(a.get('hops') ?? 6);
  const reports = Number(a.get('reports') ?? 1000);
  const seed = Number(a.get('seed') ?? 1);
  const port = Number(a.get('port') ?? 32766);
  const bitmap = a.has('bitmap') ? parseInt(a.get('bitmap') as string, 16) : undefined;
  const paths = Number(a.get('paths') ?? 16);
  if (!(paths >= 1)) throw new IntstreamError('USAGE', 'bad --paths');
  if (!(hops >= 0 && hops <= 255) || !(reports >= 0)) throw new IntstreamError('USAGE', 'bad --hops / --reports');
  const next = reportSeries({ version, hops, seed, bitmap, paths });
  const out = a.get('out');
  const udp = a.get('udp');
  if (out !== undefined) {
    const frames: Uint8Array[] = [];
    for (let k = 0; k < reports; k++) frames.push(encodeReportFrame(encodeReport(next(k)).bytes, { dstPort: port }));
    writeFileSync(out, pcapFile(frames));
    process.stdout.write(`wrote ${reports} TR v${version} reports (${hops} hops) to ${out}\n`);
  } else if (udp !== undefined) {
    const i = udp.lastIndexOf(':');
    const host = udp.slice(0, i);
    const dport = Number(udp.slice(i + 1));
    const rate = Number(a.get('rate') ?? 1000);
    const sock = createSocket(host.includes(':') ? 'udp6' : 'udp4');
    const start = Date.now();
    let sent = 0;
    while (sent < reports) {
      const due = Math.min(reports, Math.floor(((Date.now() - start) / 1000) * rate) + 1);
      while (sent < due) {
        const b = encodeReport(next(sent)).bytes;
        await new Promise<void>((res, rej) => sock.send(b, dport, host, (e) => (e ? rej(e) : res())));
        sent++;
      }
      if (sent < reports) await new Promise((res) => setTimeout(res, 5));
    }
    sock.close();
    process.stdout.write(`sent ${sent} TR v${version} reports to ${host}:${dport} in ${Date.now() - start} ms\n`);
  } else {
    throw new IntstreamError('USAGE', 'give --out FILE.pcap or --udp HOST:PORT');
  }
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  main(process.argv.slice(2)).catch((e: unknown) => {
    process.stderr.write(`int-gen: ${e instanceof Error ? e.message : String(e)}\n`);
    process.exit(e instanceof IntstreamError ? exitCodeFor(e.code) : 1);
  });
}
