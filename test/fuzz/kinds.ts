/**
 * The fuzzer's kinds of input: what each generates from its seed material and what it checks.
 *
 *   packet     mutated packets of the real captures (and INT report frames) through decodePacket,
 *              with and without INT decoding: a status, every field readable and finite, no read
 *              past the captured bytes, fast path = general walk, clone = original, repeatable.
 *   capture    mutated capture files (byte edits and header fields set to edge values: caplen 0,
 *              snaplen, snaplen + 1, 2^18, 2^28, 2^31, block lengths 16 MiB +- 4, ...) through
 *              CaptureFileSource over an in-memory input (random read chunks and batch sizes,
 *              of known size or a stream): compared record for record with a naive reference
 *              walk (reference-reader.ts): same records, same skip counts by reason (records read
 *              = records yielded + records skipped), CAPTURE_HEADER exactly where documented,
 *              exact whole seconds; every yielded packet decodes to a status.
 *   pcapng     pcapng files built block by block (sections in both byte orders, interfaces with
 *              if_tsresol / if_tsoffset at the edges, EPB/SPB/OPB with timestamps near 2^32, 2^53,
 *              2^64 units, unknown interfaces, other blocks), some mutated; checked as `capture`.
 *   int        Telemetry Reports from src/gen/int-gen.ts (every version, random bitmaps, hops,
 *              reporter metadata; TR v2.0 coalesced), mutated, through decodeIntReport /
 *              decodeIntReportNext / decodeIntInFlight and as a packet: closed status set, offsets
 *              inside the report, coalesced reports strictly advance; unmutated ones round-trip.
 *   flow       NetFlow v5/v9, IPFIX and sFlow datagrams (the flow fixtures' UDP payloads and the
 *              decoders' test encoders), mutated, through fresh decoders: closed status set, the
 *              same records whatever bytes surround the datagram, counters add up, every record
 *              readable through the field table, sampled headers decode.
 *   filter     declarative filters (generated from the grammar and the field table, values at
 *              the edges, some text mutated) on packets: parse errors are FILTER_SYNTAX only;
 *              compiled = interpreted = field-only interpreted on every packet; the raw
 *              pre-filter never rejects a packet the filter keeps, nor reads past the record;
 *              toBpf never throws, and (a sample, with tcpdump) the kernel filter keeps what the
 *              filter keeps.
 *   window     window operators (aggregate and transform, tumbling and sliding, sizes 1e-9 ..
 *              1e15 s) fed elements near 0, 2^32, 2^53, 2^62 with watermarks and lateness: each
 *              element is in exactly the windows the documented rule gives, or counted late.
 *   collector  the INT collector over report sequences with time jumps, configs at the edges:
 *              events from the closed set with finite times, per key new .. expired in order,
 *              expiry at last_seen + timeout, bounded output.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Packet } from '../../src/decode/packet.ts';
import { decodePacket, decodePacketGeneral, decodePacketIntReport } from '../../src/decode/decoder.ts';
import { configurePacketInt, type IntDecodeOptions } from '../../src/decode/int-view.ts';
import {
  createIntReport, decodeIntInFlight, decodeIntReport, decodeIntReportNext, INT_ALL_STATUSES, INT_OK, LENIENT_ALL,
  type IntReport,
} from '../../src/decode/int/index.ts';
import { CaptureFileSource } from '../../src/sources/capture-file-source.ts';
import type { ByteInput } from '../../src/sources/byte-input.ts';
import { IntstreamError } from '../../src/errors.ts';
import { encodeReport, encodeReportFrame, fullBitmap, type HopValues, type IntVer, type ReportSpec, type TrVersion } from '../../src/gen/int-gen.ts';
import { FLOW_STATUSES, type FlowRecord } from '../../src/decode/flow/common.ts';
import { NetflowDecoder } from '../../src/decode/flow/netflow.ts';
import { SflowDecoder } from '../../src/decode/flow/sflow.ts';
import { FlowRecordView } from '../../src/decode/flow-record.ts';
import { FIELDS } from '../../src/decode/fields.ts';
import { compileFilter, compileRawReject, interpretFilter, parseFilter, toBpf } from '../../src/query/filter-expr.ts';
import { kernelFilterFor } from '../../src/sources/live-source.ts';
import { WindowAggregateOp, WindowTransformOp } from '../../src/query/window-operators.ts';
import type { Aggregate } from '../../src/query/aggregate.ts';
import type { Operator, StageEnv } from '../../src/query/operator.ts';
import { SkipCounters } from '../../src/decode/skip-counters.ts';
import { IntCollectorState, type CollectorConfig } from '../../src/int/collector.ts';
import { decodeState, encodeState } from '../../src/global/state-codec.ts';
import { decodeSnapshot, encodeSnapshot } from '../../src/global/state-changelog.ts';
import { PcapngWriter, textOption, tsoffset, tsresol, type PcapngOption } from '../support/pcap-writer.ts';
import { chance, check, int, pick, type Input, type Kind, type Rng } from './harness.ts';
import { concatBytes, INTERESTING32, mutateBytes, put32, shrinkBytes } from './mutate.ts';
import type { Pools, SeedPacket } from './pools.ts';
import { referenceRead } from './reference-reader.ts';

const LINK_TYPES = [1, 1, 1, 0, 12, 14, 101, 108, 113, 228, 229, 276, 105, 127, 999];
const TIMESTAMPS = [0, 1.5, 1_700_000_000.25, 2 ** 31, 2 ** 32 - 1e-6, 2 ** 32, 2 ** 53 - 1, 2 ** 53, 2 ** 62, -1];

// ---- packets ------------------------------------------------------------------------------------

const STATE = ['status', 'reason', 'ethOff', 'ethType', 'vlanId', 'vlanDepth', 'mplsDepth', 'l3', 'l3Off', 'ipLen', 'proto', 'frag', 'fragOffset', 'l4Off', 'l4PayloadLen', 'outerL3', 'outerL3Off', 'outerProto', 'outerIpLen', 'tunnelType', 'tunnelDepth', 'tunnelId', 'intStatus'] as const;
const REPORT_OFFSETS = ['innerOffset', 'innerL3Offset', 'innerL4Offset', 'shimOffset', 'metadataHeaderOffset', 'stackOffset', 'rawMdOffset', 'reportOffset'] as const;

function checkReportOffsets(r: IntReport, lo: number, hi: number, what: string): void {
  for (const k of REPORT_OFFSETS) {
    const v = r[k];
    check(v === -1 || (v >= lo && v <= hi), () => `${what}: ${k} = ${v} outside [${lo}, ${hi}]`);
  }
  check(r.hopCount >= 0 && r.hopCount <= r.maxHops && r.hops.count === r.hopCount, () => `${what}: hopCount ${r.hopCount} (hops.count ${r.hops.count}, capacity ${r.maxHops})`);
  check(r.local.count <= 1, `${what}: local.count ${r.local.count}`);
}

/**
 * Everything a decoded packet shows, checked: a status with a reason exactly when not OK, every
 * field finite, every layer offset inside the captured bytes, the INT view readable. Returns a
 * digest for comparing two decodes of the same bytes.
 */
export function checkPacket(p: Packet): string {
  check(Number.isInteger(p.status) && p.status >= 0 && p.status <= 3, `status ${p.status}`);
  check((p.status === 0) === (p.reason === ''), () => `status ${p.status} with reason '${p.reason}'`);
  const o = p.toJSON();
  for (const [k, v] of Object.entries(o)) {
    if (typeof v === 'number') check(Number.isFinite(v), () => `${k} = ${v}`);
    else if (typeof v === 'string') check(!/undefined|NaN/.test(v), () => `${k} = ${v}`);
  }
  const inside = (off: number, need: number, what: string) => {
    if (off >= 0) check(off >= p.start && off + need <= p.end, () => `${what} at ${off - p.start}+${need} beyond ${p.end - p.start}`);
  };
  inside(p.ethOff, 14, 'Ethernet');
  inside(p.l3Off, p.l3 === 4 ? 20 : 40, 'IP');
  inside(p.outerL3Off, p.outerL3 === 4 ? 20 : 40, 'outer IP');
  if (p.tcp) inside(p.l4Off, 20, 'TCP');
  if (p.udp) inside(p.l4Off, 8, 'UDP');
  if (p.icmp) inside(p.l4Off, 2, 'ICMP');
  check(p.l4PayloadLen >= 0, `l4PayloadLen ${p.l4PayloadLen}`);
  let intPart: unknown[] = [];
  if (p.intStatus !== -1) {
    check(INT_ALL_STATUSES.includes(p.intStatus), `intStatus ${p.intStatus} not in the closed set`);
    // (the offsets of a report that failed to decode may name where it stopped: not read, not checked)
    if (p.intStatus === INT_OK) checkReportOffsets(p.intReport!, p.start, p.end, 'INT report of a packet');
  }
  const iv = p.int;
  if (iv) {
    intPart = [iv.switch_id, iv.hw_id, iv.sequence, iv.report_ts, iv.version, iv.int_version, iv.dropped, iv.congested, iv.instruction_bitmap, iv.hop_count, iv.latency, iv.path];
    for (let k = 0; k < iv.hop_count; k++) {
      intPart.push(iv.switchId(k), iv.ingressPort(k), iv.egressPort(k), iv.hopLatency(k), iv.queueId(k), iv.queueOccupancy(k), iv.queueCongestion(k), iv.txUtil(k), iv.ingressTs(k), iv.egressTs(k));
    }
    for (const v of intPart) if (typeof v === 'number') check(Number.isFinite(v), () => `INT view value ${v}`);
  }
  return JSON.stringify([STATE.map((k) => p[k]), o, intPart]);
}

function newPacket(o: IntDecodeOptions | null): Packet {
  const p = new Packet();
  if (o) configurePacketInt(p, o);
  return p;
}

/** Decodes the coalesced TR v2.0 reports after the first one; each must lie beyond the last. */
function walkCoalesced(p: Packet, buf: Uint8Array, len: number, wireLen: number, ts: number, linkType: number, each?: (p: Packet) => void): void {
  const r = p.intReport;
  if (r === null || p.intStatus !== INT_OK) return;
  let prev = r.reportOffset, guard = 0;
  for (let at = r.nextReportOffset; at >= 0; at = r.nextReportOffset) {
    check(at > prev, () => `coalesced report at ${at} does not advance past ${prev}`);
    check(++guard <= len / 4 + 2, 'more coalesced reports than the packet has words');
    decodePacketIntReport(p, buf, 0, len, wireLen, ts, linkType, at);
    checkPacket(p);
    if (p.intStatus !== INT_OK) break;
    check(r.reportOffset === at, () => `entered report ${r.reportOffset}, asked for ${at}`);
    each?.(p);
    prev = at;
  }
}

interface PacketInput extends Input { bytes: Uint8Array; linkType: number; wireLen: number; ts: number; int: IntDecodeOptions | null }

function udpDport(d: Uint8Array): number {
  if (d.length < 42 || d[12] !== 0x08 || d[13] !== 0 || d[23] !== 17) return -1;
  const l4 = 14 + (d[14] & 15) * 4;
  return l4 + 4 <= d.length ? (d[l4 + 2] << 8) | d[l4 + 3] : -1;
}

function genIntOptions(r: Rng, s: Uint8Array): IntDecodeOptions | null {
  const x = r();
  const base: IntDecodeOptions = { intLenient: chance(r, 0.5) ? LENIENT_ALL : 0, intMaxHops: pick(r, [0, 1, 2, 4, 16, 16]) };
  const dport = udpDport(s);
  if (x < 0.35) return null;
  if (x < 0.7) return { ...base, intPort: dport > 0 && chance(r, 0.7) ? dport : pick(r, [32766, 9555, 1234]) };
  if (x < 0.85) return { ...base, intDscp: pick(r, [0x17, 0, 0x3f, 0x20]), intDscpMask: pick(r, [0x3f, 0x3f, 0x20, 0x01]) };
  return { ...base, intMdPort: dport > 0 && chance(r, 0.5) ? dport : pick(r, [5001, 32766]) };
}

function runPacket(i: PacketInput): void {
  const { bytes, linkType, ts } = i;
  const len = bytes.length, wireLen = i.wireLen;
  const a = new Uint8Array(len + 64); a.set(bytes);
  const b = new Uint8Array(len + 64).fill(0xff); b.set(bytes);
  const p = newPacket(i.int), q = newPacket(i.int);
  decodePacket(p, a, 0, len, wireLen, ts, linkType);
  const one = checkPacket(p);
  decodePacket(q, b, 0, len, wireLen, ts, linkType);
  check(checkPacket(q) === one, 'reads past the captured bytes (other bytes after the record decode differently)');
  decodePacketGeneral(q, a, 0, len, wireLen, ts, linkType);
  check(checkPacket(q) === one, 'the fast path and the general walk differ');
  check(checkPacket(p.clone()) === one, 'a clone reads differently from its packet');
  decodePacket(p, a, 0, len, wireLen, ts, linkType);
  check(checkPacket(p) === one, 'not repeatable (state leaks from one decode to the next)');
  walkCoalesced(p, a, len, wireLen, ts, linkType);
}

function genPacketBytes(r: Rng, s: SeedPacket): Uint8Array {
  return chance(r, 0.9) ? mutateBytes(r, s.data, 1 + int(r, 4), 128) : s.data.slice();
}

const packetKind: Kind<PacketInput> = {
  name: 'packet',
  doc: 'mutated packets of the real captures through decodePacket (INT on and off)',
  gen(r, pools) {
    const s = pick(r, pools.packets);
    const bytes = genPacketBytes(r, s);
    const linkType = chance(r, 0.06) ? pick(r, LINK_TYPES) : s.linkType;
    const wireLen = chance(r, 0.1) ? pick(r, [0, bytes.length, bytes.length + 1, 65535, 65536, 0x7fffffff, int(r, 70000)]) : Math.max(s.wireLen, bytes.length);
    return { bytes, linkType, wireLen, ts: chance(r, 0.1) ? pick(r, TIMESTAMPS) : 1_700_000_000.5, int: genIntOptions(r, bytes) };
  },
  run: runPacket,
  *shrink(i) { for (const b of shrinkBytes(i.bytes)) yield { ...i, bytes: b }; },
  size: (i) => i.bytes.length,
};

// ---- capture files ----------------------------------------------------------------------------

interface CaptureInput extends Input { bytes: Uint8Array; chunk: number; batch: number; stream: boolean }

/** The input as the reader sees it: at most `chunk` bytes per read (0: no limit), of known size or not. */
function memInput(bytes: Uint8Array, chunk: number, stream: boolean): ByteInput {
  let pos = 0;
  return {
    size: stream ? undefined : bytes.length,
    async read(buf, off, len) {
      const n = Math.min(len, chunk > 0 ? chunk : Infinity, bytes.length - pos);
      buf.set(bytes.subarray(pos, pos + n), off);
      pos += n;
      return n;
    },
    async close() { /* nothing */ },
  };
}

/** Header fields of a capture (offset, width, byte order), found by walking its records or blocks. */
function headerFields(f: Uint8Array): { at: number; le: boolean; w: 2 | 4 }[] {
  const out: { at: number; le: boolean; w: 2 | 4 }[] = [];
  if (f.length < 24) return out;
  const v = new DataView(f.buffer, f.byteOffset, f.byteLength);
  const m = v.getUint32(0, false);
  if (m !== 0x0a0d0d0a) {
    const le = m === 0xd4c3b2a1 || m === 0x4d3cb2a1;
    out.push({ at: 0, le, w: 4 }, { at: 4, le, w: 2 }, { at: 6, le, w: 2 }, { at: 16, le, w: 4 }, { at: 20, le, w: 4 });
    for (let o = 24; o + 16 <= f.length && out.length < 400;) {
      for (const d of [0, 4, 8, 12]) out.push({ at: o + d, le, w: 4 });
      o += 16 + v.getUint32(o + 8, le);
    }
    return out;
  }
  let le = true;
  for (let o = 0; o + 12 <= f.length && out.length < 400;) {
    if (v.getUint32(o, false) === 0x0a0d0d0a) le = v.getUint32(o + 8, true) === 0x1a2b3c4d;
    const type = v.getUint32(o, le), len = v.getUint32(o + 4, le);
    if (len < 12 || len % 4 !== 0 || o + len > f.length) break;
    out.push({ at: o, le, w: 4 }, { at: o + 4, le, w: 4 }, { at: o + len - 4, le, w: 4 });
    if (type === 0x0a0d0d0a) out.push({ at: o + 8, le, w: 4 }, { at: o + 12, le, w: 2 });
    else if (type === 1) { out.push({ at: o + 8, le, w: 2 }, { at: o + 12, le, w: 4 }); for (let a = o + 16; a + 4 <= o + len - 4; a += 4) out.push({ at: a, le, w: 2 }, { at: a + 2, le, w: 2 }); }
    else if (type === 6 || type === 2) for (const d of [8, 12, 16, 20, 24]) out.push({ at: o + d, le, w: type === 2 && d === 8 ? 2 : 4 });
    else if (type === 3) out.push({ at: o + 8, le, w: 4 });
    o += len;
  }
  return out;
}

/** Edits a header field to an edge value (lengths around the caps, the file's own sizes, +-1, +-4). */
function mutateHeaderField(r: Rng, f: Uint8Array): Uint8Array {
  const fields = headerFields(f);
  if (fields.length === 0) return f;
  const { at, le, w } = pick(r, fields);
  if (at + w > f.length) return f;
  const b = f.slice();
  const v = new DataView(b.buffer);
  const cur = w === 4 ? v.getUint32(at, le) : v.getUint16(at, le);
  const snap = f.length >= 20 ? v.getUint32(16, le) : 0;
  const cand = [...INTERESTING32, cur + 1, cur - 1, cur + 4, cur - 4, cur * 2, snap, snap + 1, f.length, f.length - at, f.length - at + 4, int(r, 2 ** 32)];
  const x = pick(r, cand) >>> 0;
  if (w === 4) v.setUint32(at, x, le); else v.setUint16(at, x & 0xffff, le);
  return b;
}

function captureInputFrom(r: Rng, bytes: Uint8Array): CaptureInput {
  return {
    bytes,
    chunk: chance(r, 0.6) ? 0 : pick(r, [1, 3, 7, 12, 16, 17, 24, 100, 4096]),
    batch: chance(r, 0.6) ? 2048 : pick(r, [1, 2, 3, 64]),
    stream: chance(r, 0.1),
  };
}

interface Got { offset: number; capLen: number; wireLen: number; linkType: number; iface: number; ts: number; data: Uint8Array }

async function runCapture(i: CaptureInput): Promise<void> {
  const ref = referenceRead(i.bytes);
  const src = new CaptureFileSource('fuzz', 'fuzz.cap', memInput(i.bytes, i.chunk, i.stream), i.batch);
  const got: Got[] = [];
  const p = new Packet();
  let headerError = false;
  try {
    await src.open();
    for (let b; (b = await src.nextBatch());) {
      check(b.count > 0 && b.count <= i.batch, () => `a batch of ${b.count} records (capacity ${i.batch})`);
      for (let k = 0; k < b.count; k++) {
        const off = b.dataOff[k], cap = b.capLen[k];
        check(cap >= 0 && off >= 0 && off + cap <= b.buf.length, () => `record at file offset ${b.fileOffset[k]}: data [${off}, ${off + cap}) outside its batch buffer (${b.buf.length} bytes)`);
        got.push({ offset: b.fileOffset[k], capLen: cap, wireLen: b.wireLen[k], linkType: b.linkType[k], iface: b.iface[k], ts: b.ts[k], data: b.buf.slice(off, off + cap) });
        decodePacket(p, b.buf, off, cap, b.wireLen[k], b.ts[k], b.linkType[k]);
        check(p.status >= 0 && p.status <= 3, `decoded packet without a status (${p.status})`);
      }
    }
  } catch (e) {
    if (!(e instanceof IntstreamError && e.code === 'CAPTURE_HEADER')) throw e;
    headerError = true;
  } finally {
    await src.close();
  }
  check(headerError === ref.headerError, () => `CAPTURE_HEADER ${headerError ? 'thrown' : 'not thrown'}, the reference says ${ref.headerError ? 'a header error' : 'a readable file'}`);
  if (headerError) return;
  const skipped = src.skipped.toJSON();
  const want = Object.fromEntries(Object.entries(ref.skipped).sort((a, b) => a[0].localeCompare(b[0])));
  const n = Math.min(got.length, ref.records.length);
  for (let k = 0; k < n; k++) {
    const g = got[k], w = ref.records[k];
    const at = `record ${k} (file offset ${w.offset})`;
    check(g.offset === w.offset, () => `${at}: yielded at file offset ${g.offset}`);
    check(g.capLen === w.capLen && g.wireLen === w.wireLen && g.linkType === w.linkType && g.iface === w.iface,
      () => `${at}: caplen/len/linktype/iface ${g.capLen}/${g.wireLen}/${g.linkType}/${g.iface}, expected ${w.capLen}/${w.wireLen}/${w.linkType}/${w.iface}`);
    check(w.capLen < 0 || Buffer.compare(g.data, i.bytes.subarray(w.data, w.data + w.capLen)) === 0, () => `${at}: packet bytes differ from the file's`);
    check(!Number.isNaN(g.ts), `${at}: timestamp NaN`);
    if (w.sec !== null) check(Math.floor(g.ts) === w.sec, () => `${at}: timestamp ${g.ts} is not in second ${w.sec}`);
  }
  check(got.length === ref.records.length && JSON.stringify(skipped) === JSON.stringify(want),
    () => `records read are not accounted for: yielded ${got.length}, skipped ${JSON.stringify(skipped)}; the reference walk: ${ref.records.length} records, skipped ${JSON.stringify(want)}`);
  check(src.warnings.length <= 50, `${src.warnings.length} warnings (capped at 50)`);
}

function* shrinkCapture(i: CaptureInput): Generator<CaptureInput> {
  if (i.stream) yield { ...i, stream: false };
  if (i.chunk !== 0) yield { ...i, chunk: 0 };
  if (i.batch !== 2048) yield { ...i, batch: 2048 };
  for (const b of shrinkBytes(i.bytes)) yield { ...i, bytes: b };
}

const captureKind: Kind<CaptureInput> = {
  name: 'capture',
  doc: 'mutated real capture files through CaptureFileSource, against a reference walk',
  gen(r, pools) {
    const f = pick(r, pools.files).bytes;
    let bytes: Uint8Array = chance(r, 0.7) ? f.slice(0, 24 + int(r, Math.min(f.length, 12 << 10))) : f.slice();
    const n = 1 + int(r, 4);
    for (let k = 0; k < n; k++) bytes = chance(r, 0.55) ? mutateHeaderField(r, bytes) : mutateBytes(r, bytes, 1, 64);
    return captureInputFrom(r, bytes);
  },
  run: runCapture,
  shrink: shrinkCapture,
  size: (i) => i.bytes.length,
};

// ---- pcapng built block by block --------------------------------------------------------------

const TS_UNITS = [0n, 1n, 2n ** 32n - 1n, 2n ** 32n, 2n ** 53n - 1n, 2n ** 53n, 2n ** 53n + 1n, 2n ** 62n, 2n ** 63n, 2n ** 64n - 1n, 1_700_000_000_123_456n, 1_700_000_000_123_456_789n];
const TS_OFFSETS = [0n, 1n, -1n, 1_700_000_000n, -1_700_000_000n, 2n ** 31n, 2n ** 52n - 1n, 2n ** 52n, 2n ** 53n, 2n ** 62n, -(2n ** 63n), 2n ** 63n - 1n];
const TSRESOL = [6, 6, 9, 0, 1, 3, 19, 22, 23, 30, 127, 0x80, 0x80 | 10, 0x80 | 30, 0x80 | 31, 0x80 | 32, 0x80 | 63, 0x80 | 64, 0xff];

function randomUnits(r: Rng): bigint {
  if (chance(r, 0.5)) return pick(r, TS_UNITS) + BigInt(int(r, 3)) - 1n & (2n ** 64n - 1n);
  return (BigInt(int(r, 2 ** 32)) << 32n) | BigInt(int(r, 2 ** 32));
}

function buildPcapng(r: Rng, pools: Pools): Uint8Array {
  const w = new PcapngWriter();
  const sections = chance(r, 0.8) ? 1 : 2 + int(r, 2);
  for (let s = 0; s < sections; s++) {
    const shbOpts: PcapngOption[] = chance(r, 0.2) ? [textOption(1, 'fuzz')] : [];
    w.shb({ bigEndian: chance(r, 0.3), major: chance(r, 0.03) ? pick(r, [0, 2]) : 1, minor: int(r, 3), options: shbOpts });
    const nIf = pick(r, [0, 1, 1, 1, 2, 3]);
    for (let k = 0; k < nIf; k++) {
      const options: PcapngOption[] = [];
      if (chance(r, 0.5)) options.push(tsresol(pick(r, TSRESOL)));
      if (chance(r, 0.3)) options.push(tsoffset(pick(r, TS_OFFSETS)));
      if (chance(r, 0.05)) options.push({ code: 9, value: new Uint8Array(0) });
      if (chance(r, 0.03)) options.push({ code: 2, value: new Uint8Array(3), lengthField: pick(r, [200, 0xffff, 5]) });
      w.idb({ linkType: pick(r, [1, 1, 1, 101, 228, 229, 113, 276, 0, 12, 999]), snapLen: pick(r, [0, 0, 65535, 64, 14, 262144, 0xffffffff]), options });
    }
    const nPk = int(r, 8);
    for (let k = 0; k < nPk; k++) {
      const pkt = pick(r, pools.packets);
      const data = pkt.data.length > 256 && chance(r, 0.7) ? pkt.data.slice(0, 256) : pkt.data;
      const ifId = chance(r, 0.9) ? int(r, Math.max(nIf, 1)) : pick(r, [nIf, 65535, 0xffffffff]);
      const x = r();
      if (x < 0.7) {
        w.epb({ ifId, ts: randomUnits(r), data, origLen: chance(r, 0.2) ? pick(r, [0, data.length + 1, 0xffffffff, 0x80000000]) : pkt.wireLen, capLen: chance(r, 0.05) ? pick(r, [data.length + 1, data.length + 4, 0xffffffff]) : undefined });
      } else if (x < 0.85) {
        w.spb({ data, origLen: chance(r, 0.3) ? pick(r, [0, 1, data.length - 1, 0xffffffff]) : pkt.wireLen });
      } else if (x < 0.93) {
        w.opb({ ifId: ifId & 0xffff, ts: randomUnits(r), data, origLen: pkt.wireLen });
      } else {
        w.block(pick(r, [4, 5, 7, 0x40000bad, 0x80000001]), Uint8Array.from({ length: int(r, 40) }, () => int(r, 256)));
      }
      if (chance(r, 0.02)) w.block(3, new Uint8Array(0)); // a Simple Packet Block with no body at all
    }
  }
  return w.bytes();
}

const pcapngKind: Kind<CaptureInput> = {
  name: 'pcapng',
  doc: 'pcapng files built block by block (edge timestamps, resolutions, offsets, interfaces), some mutated',
  gen(r, pools) {
    let bytes = buildPcapng(r, pools);
    if (chance(r, 0.35)) {
      const n = 1 + int(r, 2);
      for (let k = 0; k < n; k++) bytes = chance(r, 0.6) ? mutateHeaderField(r, bytes) : mutateBytes(r, bytes, 1);
    }
    return captureInputFrom(r, bytes);
  },
  run: runCapture,
  shrink: shrinkCapture,
  size: (i) => i.bytes.length,
};

// ---- INT reports ----------------------------------------------------------------------------------

interface IntInput extends Input {
  bytes: Uint8Array;
  /** Unmutated: the report as encoded, which must decode (roundtrip). */
  exact: boolean;
  switchIds: number[];
  dscp: number;
  maxHops: number;
  pad: number;
  inflightAt: number;
  hint: number;
  lenient: number;
}

const HOP_VALUE = (r: Rng, bits: number): number => chance(r, 0.05) ? 2 ** bits - 1 : chance(r, 0.5) ? int(r, 1000) : int(r, 2 ** bits);

function randomHops(r: Rng, n: number, ids: number[]): HopValues[] {
  const hops: HopValues[] = [];
  for (let k = 0; k < n; k++) {
    hops.push({
      switchId: ids[k], ingressPort: HOP_VALUE(r, 16), egressPort: HOP_VALUE(r, 16), hopLatency: HOP_VALUE(r, 32), queueId: HOP_VALUE(r, 8),
      queueOccupancy: HOP_VALUE(r, 24), ingressTs: chance(r, 0.5) ? BigInt(int(r, 2 ** 32)) : randomUnits(r), egressTs: randomUnits(r),
      l2IngressPort: HOP_VALUE(r, 32), l2EgressPort: HOP_VALUE(r, 32), egressTxUtil: HOP_VALUE(r, 32), bufferId: HOP_VALUE(r, 8),
      bufferOccupancy: HOP_VALUE(r, 24), queueCongestion: HOP_VALUE(r, 32), checksumComplement: HOP_VALUE(r, 32), dropReason: HOP_VALUE(r, 8),
    });
  }
  return hops;
}

/** A random report spec; `conformant` keeps to what a switch of that version may send (the roundtrip oracle). */
function randomSpec(r: Rng, conformant: boolean, version?: TrVersion): ReportSpec {
  const v = version ?? pick(r, ['0.5', '1.0', '2.0'] as TrVersion[]);
  const paired: IntVer = v;
  const iv: IntVer = conformant || chance(r, 0.85) ? paired : pick(r, ['0.5', '1.0', '2.0'] as IntVer[]);
  const full = fullBitmap(iv);
  const bitmap = conformant ? int(r, 65536) & full : chance(r, 0.5) ? pick(r, [0xff00, 0xff80, 0xffff, 0x9000, 0xcc00, 0, 0x8000, 0x1000, 0xfe00]) : int(r, 65536);
  const n = conformant ? int(r, 7) : pick(r, [0, 1, 2, 3, 4, 5, 6, 8, 16, 17]);
  const ids = Array.from({ length: n }, () => (chance(r, 0.1) ? 0xffffffff : 1 + int(r, 64)));
  return {
    version: v, intVersion: iv, instructionBitmap: bitmap, hops: randomHops(r, n, ids),
    hwId: int(r, 64), sequence: int(r, 2 ** 22), nodeId: int(r, 2 ** 32), timestamp: int(r, 2 ** 32),
    dropped: chance(r, 0.2), congested: chance(r, 0.2), tracked: chance(r, 0.7), intermediate: chance(r, 0.1),
    remainingHopCount: chance(r, 0.8) ? 8 : int(r, 256),
    dsId: int(r, 65536), dsInstruction: int(r, 65536), dsFlags: int(r, 65536),
    repMdBits: v === '2.0' ? (conformant ? pick(r, [0, 0x3801, 0x8000, 0x2000]) : pick(r, [0, 0x3801, 0xffff, int(r, 65536)])) : 0,
    local: randomHops(r, 1, [int(r, 100)])[0],
    inner: { l4: chance(r, 0.5) ? 'tcp' : 'udp', ipOnly: chance(r, 0.2), dscp: 0x17, srcPort: int(r, 65536), dstPort: pick(r, [5001, 80, 53]), payload: chance(r, 0.2) ? new Uint8Array(int(r, 40)) : undefined },
  };
}

function encodeOrNull(spec: ReportSpec): Uint8Array | null {
  try { return encodeReport(spec).bytes; } catch (e) { if (e instanceof IntstreamError) return null; throw e; }
}

function mutateReport(r: Rng, src: Uint8Array): Uint8Array {
  return mutateBytes(r, src, 1 + int(r, 5), 96);
}

const intKind: Kind<IntInput> = {
  name: 'int',
  doc: 'Telemetry Reports from int-gen (all versions, coalesced TR v2.0), mutated, through the INT decoder',
  gen(r) {
    const exact = chance(r, 0.15);
    const spec = randomSpec(r, exact);
    let bytes = encodeOrNull(spec) ?? encodeReport({ version: spec.version, instructionBitmap: 0xff00 & fullBitmap(spec.version), hops: randomHops(r, 2, [1, 2]), tracked: true, inner: { dscp: 0x17 } }).bytes;
    let switchIds = spec.hops.map((h) => h.switchId ?? 0);
    if (!exact && spec.version === '2.0' && chance(r, 0.3)) {
      // coalesced: more individual reports after the group header (8 bytes)
      const more = 1 + int(r, 3);
      for (let k = 0; k < more; k++) {
        const b = encodeOrNull(randomSpec(r, false, '2.0'));
        if (b) bytes = concatBytes(bytes, b.subarray(8));
      }
      switchIds = [];
    }
    if (!exact) bytes = mutateReport(r, bytes);
    return {
      bytes, exact, switchIds: exact && (spec.instructionBitmap & 0x8000) !== 0 ? switchIds : [], dscp: 0x17,
      maxHops: exact ? 16 : pick(r, [0, 1, 4, 16]), pad: int(r, 4), inflightAt: int(r, Math.max(1, bytes.length)), hint: int(r, 3) - 1,
      lenient: chance(r, 0.5) ? LENIENT_ALL : 0,
    };
  },
  run(i) {
    const len = i.bytes.length, pad = i.pad;
    const buf = new Uint8Array(pad + len + 8).fill(0xa5);
    buf.set(i.bytes, pad);
    const configs = [createIntReport(i.maxHops), createIntReport(i.maxHops, { lenient: LENIENT_ALL }), createIntReport(i.maxHops, { dscpValue: i.dscp, dscpMask: 0x3f, udpPort: 5001 })];
    const other = createIntReport(i.maxHops);
    for (const out of configs) {
      let st = decodeIntReport(buf, pad, len, out);
      check(INT_ALL_STATUSES.includes(st), `status ${st} not in the closed set`);
      checkReportOffsets(out, pad, pad + len, 'first report');
      if (st === INT_OK && out.intPresent) check(out.payloadOffset <= pad + len, `payloadOffset ${out.payloadOffset} past the report`);
      let prev = out.reportOffset, guard = 0;
      while (out.nextReportOffset >= 0) {
        const at = out.nextReportOffset;
        check(at > prev && at <= pad + len, () => `next report at ${at}: not after ${prev} inside the report`);
        check(++guard <= len / 4 + 2, 'more coalesced reports than the report has words');
        other.lenient = out.lenient; other.dscpMask = out.dscpMask; other.dscpValue = out.dscpValue; other.udpPort = out.udpPort;
        const direct = decodeIntReport(buf, pad, len, other, at);
        st = decodeIntReportNext(buf, pad + len, out);
        check(INT_ALL_STATUSES.includes(st), `next status ${st} not in the closed set`);
        checkReportOffsets(out, pad, pad + len, 'coalesced report');
        check(direct === st && other.hopCount === out.hopCount && other.nextReportOffset === out.nextReportOffset,
          () => `report at ${at}: decodeIntReport(at) gives ${direct}/${other.hopCount} hops, decodeIntReportNext ${st}/${out.hopCount} hops`);
        prev = at;
      }
    }
    // the roundtrip: what int-gen encoded decodes (INT found by its DSCP), with its hops
    if (i.exact) {
      const out = configs[2];
      const st = decodeIntReport(buf, pad, len, out);
      check(st === INT_OK, () => `an unmutated report does not decode: status ${st}`);
      if (i.switchIds.length > 0) {
        const got = Array.from(out.hops.switchId.subarray(0, out.hopCount));
        check(JSON.stringify(got) === JSON.stringify(i.switchIds), () => `switch ids ${got}, encoded ${i.switchIds}`);
      }
    }
    const at = Math.min(i.inflightAt, len);
    const st = decodeIntInFlight(buf, pad + at, len - at, configs[0], i.hint);
    check(INT_ALL_STATUSES.includes(st), `in-flight status ${st} not in the closed set`);
    checkReportOffsets(configs[0], pad + at, pad + len, 'INT in flight');
    // as the UDP payload of a report packet
    const frame = encodeReportFrame(i.bytes);
    runPacket({ bytes: frame, linkType: 1, wireLen: frame.length, ts: 1_700_000_000, int: { intPort: 32766, intLenient: i.lenient, intMaxHops: i.maxHops } });
  },
  *shrink(i) { for (const b of shrinkBytes(i.bytes)) yield { ...i, bytes: b, exact: false, inflightAt: Math.min(i.inflightAt, b.length) }; },
  size: (i) => i.bytes.length,
};

// ---- flow export ------------------------------------------------------------------------------------

interface FlowInput extends Input { datagrams: Uint8Array[]; pre: number; post: number; fill: number }

/** The flow decoders' fuzz-test mutations (the same operators), on one datagram. */
function mutateDatagram(r: Rng, src: Uint8Array): Uint8Array {
  let b: Uint8Array = src.slice();
  const n = 1 + int(r, 4);
  for (let m = 0; m < n; m++) {
    const pos = int(r, Math.max(1, b.length));
    const op = int(r, 8);
    if (op === 0 && b.length > 0) b[pos] ^= 1 << int(r, 8);
    else if (op === 1 && b.length > 0) b[pos] = int(r, 256);
    else if (op === 2 && b.length > 1) {
      const v = pick(r, [0, 1, 2, 3, 4, 255, 256, 0x7fff, 0x8000, 0xfffe, 0xffff]);
      const p = pos & ~1;
      if (p + 1 < b.length) { b[p] = v >> 8; b[p + 1] = v & 0xff; }
    } else if (op === 3 && b.length > 3) put32(b, pos & ~3, pick(r, [0, 1, 0x7fffffff, 0x80000000, 0xffffffff, b.length, b.length + 1]), false);
    else if (op === 4) b = b.slice(0, pos);
    else if (op === 5) b = concatBytes(b, Uint8Array.from({ length: int(r, 64) }, () => int(r, 256)));
    else if (op === 6 && b.length > 8) {
      const from = int(r, b.length - 4), l = 1 + int(r, Math.min(64, b.length - from));
      b = concatBytes(b.slice(0, pos), b.slice(from, from + l), b.slice(pos));
    } else if (op === 7 && b.length > 8) {
      const l = 1 + int(r, Math.min(32, b.length - pos));
      b = concatBytes(b.slice(0, pos), b.slice(pos + l));
    }
  }
  return b;
}

const HEADER_LINKTYPE: Record<number, number> = { 1: 1, 11: 228, 12: 229 };
const FIELD_LIST = [...FIELDS.values()];

/** One decode: its status and records (as seen from the datagram's start), every record checked. */
function flowDigest(dec: SflowDecoder | NetflowDecoder, buf: Uint8Array, off: number, len: number, view: FlowRecordView, p: Packet): { digest: string; records: number } {
  const parts: string[] = [];
  let records = 0;
  const status = dec.decode(buf, off, len, 'fuzz:1', (r: FlowRecord) => {
    records++;
    for (const [k, v] of Object.entries(r)) {
      if (v === null || typeof v === 'string') continue;
      check(typeof v === 'number' && Number.isFinite(v), () => `record field ${k} = ${String(v)}`);
    }
    if (r.type === 'sample') {
      const o = r['sflow.header_offset'], l = r['sflow.header_length'];
      if (o !== null) {
        check(l !== null && l >= 0 && o >= off && o + l <= off + len, () => `sampled header [${o}, ${o + (l ?? 0)}) outside the datagram [${off}, ${off + len})`);
        const lt = HEADER_LINKTYPE[r['sflow.header_protocol'] ?? -1];
        if (lt !== undefined && l! > 0) {
          const wire = (r['sflow.frame_length'] ?? l!) - (r['sflow.stripped'] ?? 0);
          decodePacket(p, buf, o, l!, wire >= l! ? wire : l!, 1.5, lt);
          checkPacket(p);
        }
      }
      parts.push(JSON.stringify({ ...r, 'sflow.header_offset': o === null ? null : o - off }));
      view.setSflowSample(r, 1.5);
    } else {
      parts.push(JSON.stringify(r));
      if (r.type === 'counters') view.setSflowCounters(r, 1.5); else view.setNetflow(r, 1.5);
    }
    for (const f of FIELD_LIST) {
      const v = f.get(view as never);
      if (typeof v === 'number') check(!Number.isNaN(v), () => `${f.name} of a ${r.type} record is NaN`);
      else if (typeof v === 'string') check(!/undefined|NaN/.test(v), () => `${f.name} = ${v}`);
    }
  });
  check(FLOW_STATUSES.includes(status), `status ${status} not in the closed list`);
  return { digest: `${status}|${parts.join('\n')}`, records };
}

const flowKind: Kind<FlowInput> = {
  name: 'flow',
  doc: 'NetFlow v5/v9, IPFIX and sFlow datagrams, mutated, through fresh flow decoders',
  gen(r, pools) {
    const s = pick(r, pools.flows);
    const datagrams = s.datagrams.map((d) => (chance(r, 0.8) ? mutateDatagram(r, d) : d.slice()));
    if (chance(r, 0.1) && datagrams.length > 0) datagrams.push(datagrams[int(r, datagrams.length)].slice());
    return { datagrams, pre: int(r, 16), post: int(r, 16), fill: int(r, 2 ** 31) };
  },
  run(i) {
    const a = [new SflowDecoder(), new NetflowDecoder()] as const, b = [new SflowDecoder(), new NetflowDecoder()] as const;
    const view = new FlowRecordView(), p = new Packet();
    const delivered = [0, 0];
    let x = i.fill;
    for (const dg of i.datagrams) {
      const wide = new Uint8Array(i.pre + dg.length + i.post);
      for (let k = 0; k < wide.length; k++) { x = (Math.imul(x, 1103515245) + 12345) >>> 0; wide[k] = x >>> 24; }
      wide.set(dg, i.pre);
      for (let d = 0; d < 2; d++) {
        const one = flowDigest(a[d], dg, 0, dg.length, view, p);
        const two = flowDigest(b[d], wide, i.pre, dg.length, view, p);
        check(one.digest === two.digest, () => `${d ? 'netflow' : 'sflow'}: the records depend on the bytes around the datagram`);
        delivered[d] += one.records;
      }
    }
    for (let d = 0; d < 2; d++) {
      const c = a[d].counters;
      check(c.datagrams === i.datagrams.length, `${c.datagrams} datagrams counted of ${i.datagrams.length}`);
      check(c.records === delivered[d], () => `${c.records} records counted, ${delivered[d]} delivered`);
      const whole = c.skipped.truncated + c.skipped['bad-version'] + c.skipped.malformed;
      check(whole <= c.datagrams, () => `${whole} datagrams skipped of ${c.datagrams}`);
      for (const v of Object.values(c.skipped)) check(Number.isInteger(v) && v >= 0, `skip count ${v}`);
    }
  },
  *shrink(i) {
    for (let k = 0; k < i.datagrams.length; k++) if (i.datagrams.length > 1) yield { ...i, datagrams: i.datagrams.filter((_, j) => j !== k) };
    if (i.pre || i.post) yield { ...i, pre: 0, post: 0 };
    for (let k = 0; k < i.datagrams.length; k++) for (const b of shrinkBytes(i.datagrams[k])) yield { ...i, datagrams: i.datagrams.map((d, j) => (j === k ? b : d)) };
  },
  size: (i) => i.datagrams.reduce((s, d) => s + d.length, 0),
};

// ---- declarative filters ----------------------------------------------------------------------------

interface FilterPacket { bytes: Uint8Array; linkType: number; wireLen: number; ts: number }
interface FilterInput extends Input { filter: string; packets: FilterPacket[]; bpf: boolean }

const NUMBERS = ['0', '1', '2', '4', '6', '17', '53', '58', '64', '80', '255', '256', '443', '0x12', '0x02', '0x10', '0x100', '0x102', '0x112', '0xfff', '0x1000',
  '1024', '65535', '65536', '4294967295', '4294967296', '9007199254740993', '1.5', '0.5', '1e3', '99999999999999999999999', '-1', '0x', '00', '007'];
const BYTE_FIELDS = ['tcp.flags', 'tcp.fin', 'tcp.syn', 'tcp.rst', 'tcp.psh', 'tcp.ack_flag', 'tcp.urg', 'tcp.sport', 'tcp.dport', 'tcp.seq', 'tcp.window', 'tcp.payload_len',
  'udp.sport', 'udp.dport', 'udp.len', 'icmp.type', 'icmp.code', 'ip.version', 'ip.proto', 'ip.len', 'vlan.id', 'len', 'caplen', 'ip.src', 'ip.dst', 'tcp', 'udp', 'ip', 'vlan', 'icmp'];
const OPS = ['==', '!=', '<', '<=', '>', '>='];

function randomAddress(r: Rng, seen: Map<string, unknown[]>): string {
  const v = seen.get(pick(r, ['ip.src', 'ip.dst', 'outer.ip.src']));
  if (v && v.length > 0 && chance(r, 0.6)) {
    const a = String(pick(r, v));
    if (chance(r, 0.5)) return a;
    return a.includes(':') ? `${a}/${pick(r, [0, 1, 8, 16, 32, 48, 63, 64, 96, 127, 128, 129])}` : `${a}/${pick(r, [0, 1, 7, 8, 16, 24, 31, 32, 33])}`;
  }
  return pick(r, ['10.0.0.0/8', '192.168.0.0/16', '0.0.0.0/0', '255.255.255.255', '::/0', '2001:db8::/32', 'fe80::1', '::ffff:10.0.0.1', '1.2.3.4/33', '::1/129', '1.2.3', '1:2:3:4:5:6:7:8:9', 'x.y']);
}

function randomValue(r: Rng, name: string, seen: Map<string, unknown[]>): string {
  const f = FIELDS.get(name)!;
  const v = seen.get(name);
  if (f.type === 'ip') return randomAddress(r, seen);
  if (v && v.length > 0 && chance(r, 0.5)) {
    const x = pick(r, v);
    if (typeof x === 'boolean') return x ? 'true' : 'false';
    if (typeof x === 'number') return Number.isInteger(x) && x >= 0 ? String(x) : String(Math.abs(Math.trunc(x)));
    return chance(r, 0.7) ? `'${String(x)}'` : String(x);
  }
  if (f.type === 'string' || f.type === 'mac') return pick(r, ["'vxlan'", "'gre'", '"ipfix"', "'00:11:22:33:44:55'", 'vxlan', "'it\\'s'", '""']);
  if (f.type === 'bool') return pick(r, ['true', 'false', '0', '1', '2']);
  return chance(r, 0.8) ? pick(r, NUMBERS) : String(int(r, 70000));
}

function randomTest(r: Rng, seen: Map<string, unknown[]>): string {
  const name = chance(r, 0.7) ? pick(r, BYTE_FIELDS) : pick(r, FIELD_LIST).name;
  const f = FIELDS.get(name)!;
  if (f.type === 'layer') return chance(r, 0.95) ? name : `${name} == 1`;
  const x = r();
  if (x < 0.2) return name;
  if (x < 0.75) return `${name} ${pick(r, OPS)} ${randomValue(r, name, seen)}`;
  if (x < 0.85 && f.type !== 'ip') return `${name} & ${pick(r, ['0x12', '0x02', '0xff', '0x100', '0xfff', '1', '0', '0x1ff'])} ${pick(r, OPS)} ${randomValue(r, name, seen)}`;
  const n = int(r, 4);
  if (f.type === 'ip' && chance(r, 0.6)) return `${name} in ${randomAddress(r, seen)}`;
  return `${name} in {${Array.from({ length: n }, () => randomValue(r, name, seen)).join(' ')}}`;
}

function randomExpr(r: Rng, depth: number, seen: Map<string, unknown[]>): string {
  const x = r();
  if (depth > 0 && x < 0.3) return `${randomExpr(r, depth - 1, seen)} ${pick(r, ['and', 'or', '&&', '||'])} ${randomExpr(r, depth - 1, seen)}`;
  if (depth > 0 && x < 0.42) return `${pick(r, ['not ', '!', 'not ', '! '])}${randomExpr(r, depth - 1, seen)}`;
  if (depth > 0 && x < 0.5) return `(${randomExpr(r, depth - 1, seen)})`;
  return randomTest(r, seen);
}

function mutateText(r: Rng, s: string): string {
  const at = int(r, s.length + 1);
  switch (int(r, 4)) {
    case 0: return s.slice(0, at) + s.slice(at + 1);
    case 1: return s.slice(0, at) + pick(r, ['(', ')', '{', '}', '!', '=', '<', '&', '|', "'", '"', ' ', 'a', '0', 'x', '.', ':', '/', '\\', 'é']) + s.slice(at);
    case 2: { const words = s.split(' '); const w = int(r, words.length); words.splice(w, 0, words[int(r, words.length)]); return words.join(' '); }
    default: return s.slice(0, at);
  }
}

const filterKind: Kind<FilterInput> = {
  name: 'filter',
  doc: 'declarative filters: compiled = interpreted, raw pre-filter and kernel BPF never drop a kept packet',
  gen(r, pools) {
    const packets: FilterPacket[] = [];
    const seen = new Map<string, unknown[]>();
    const p = new Packet();
    const n = 4 + int(r, 9);
    for (let k = 0; k < n; k++) {
      const s = chance(r, 0.85) ? pick(r, pools.ethernet) : pick(r, pools.packets);
      const bytes = chance(r, 0.3) ? mutateBytes(r, s.data, 1 + int(r, 2), 64) : s.data;
      const pk = { bytes, linkType: s.linkType, wireLen: Math.max(s.wireLen, bytes.length), ts: 1_700_000_000 + k };
      packets.push(pk);
      decodePacket(p, bytes, 0, bytes.length, pk.wireLen, pk.ts, pk.linkType);
      for (const [name, v] of Object.entries(p.toJSON())) {
        let l = seen.get(name);
        if (!l) seen.set(name, (l = []));
        l.push(v);
      }
    }
    let filter = randomExpr(r, int(r, 4), seen);
    if (chance(r, 0.1)) filter = mutateText(r, filter);
    if (chance(r, 0.015)) {
      // `bpf: EXPR` (libpcap's language, run by bpf-vm.ts): a translation of a generated filter, or
      // a random pcap-filter expression; checked against tcpdump itself on Ethernet packets
      let expr: string | null = null;
      try { expr = toBpf(parseFilter(filter)); } catch { /* a syntax error: no translation */ }
      if (expr === null || chance(r, 0.6)) expr = randomBpf(r, 2 + int(r, 2), seen);
      if (chance(r, 0.05)) expr = mutateText(r, expr);
      return { filter: `bpf: ${expr}`, packets: packets.filter((x) => x.linkType === 1), bpf: true };
    }
    return { filter, packets, bpf: chance(r, 0.01) };
  },
  run(i) {
    let ast;
    try {
      ast = parseFilter(i.filter);
    } catch (e) {
      check(e instanceof IntstreamError && e.code === 'FILTER_SYNTAX', () => `parseFilter threw something other than FILTER_SYNTAX: ${String(e)}`);
      return;
    }
    const compiled = compileFilter(ast), interpreted = interpretFilter(ast), fieldsOnly = interpretFilter(ast, true);
    const raw = compileRawReject(ast);
    const bpf = toBpf(ast);
    check(bpf === null || (typeof bpf === 'string' && bpf.length > 0), `toBpf gave ${String(bpf)}`);
    const p = new Packet();
    const kept: boolean[] = [];
    /**
     * Packets whose whole frame is there and decodes without a truncated or contradicting header:
     * where the kernel filter and the decoder read the same headers. (BPF reads a runt's missing
     * bytes as "reject the packet", and takes an IPv4 header with version 0 or a TCP data offset
     * below 5 as it comes, where the decoder stops at them: such frames may be dropped.)
     */
    const whole: boolean[] = [];
    for (const pk of i.packets) {
      const len = pk.bytes.length;
      const a = new Uint8Array(len + 64); a.set(pk.bytes);
      decodePacket(p, a, 0, len, pk.wireLen, pk.ts, pk.linkType);
      const c = !!compiled(p), t = !!interpreted(p), f = !!fieldsOnly(p);
      check(c === t, () => `compiled ${c}, interpreted ${t}\n${Buffer.from(pk.bytes.subarray(0, 80)).toString('hex')}`);
      // (a `bpf:` filter needs the captured bytes: through the getters alone it keeps nothing, by design)
      if (ast.kind !== 'bpf') check(f === t, () => `interpreted through the field getters ${f}, from the bytes ${t}`);
      kept.push(c);
      whole.push((p.status === 0 || p.status === 3) && len === pk.wireLen);
      if (raw !== null && pk.linkType === 1) {
        const b = new Uint8Array(len + 64).fill(0xff); b.set(pk.bytes);
        const ra = raw(a, 0, len, pk.wireLen, pk.ts), rb = raw(b, 0, len, pk.wireLen, pk.ts);
        check(ra === rb, 'the raw pre-filter reads past the record');
        check(!(ra && c), 'the raw pre-filter rejects a packet the filter keeps');
      }
    }
    if (i.bpf && ast.kind === 'bpf') { if (haveTcpdump()) checkBpfVm(ast.expr, i.packets, kept); }
    else if (i.bpf && bpf !== null && haveTcpdump()) checkKernelFilter(ast, i.packets, kept, whole);
  },
  *shrink(i) {
    for (let k = 0; k < i.packets.length; k++) if (i.packets.length > 1) yield { ...i, packets: i.packets.filter((_, j) => j !== k) };
    for (let k = 0; k < i.packets.length; k++) for (const b of shrinkBytes(i.packets[k].bytes)) yield { ...i, packets: i.packets.map((x, j) => (j === k ? { ...x, bytes: b, wireLen: Math.max(b.length, Math.min(x.wireLen, b.length)) } : x)) };
  },
  size: (i) => i.filter.length + i.packets.reduce((s, p) => s + p.bytes.length, 0),
};

/** A random pcap-filter expression (primitives libpcap compiles for Ethernet, some with values seen in the packets). */
function randomBpf(r: Rng, depth: number, seen: Map<string, unknown[]>): string {
  const x = r();
  if (depth > 0 && x < 0.25) return `${randomBpf(r, depth - 1, seen)} ${pick(r, ['and', 'or', '&&', '||'])} ${randomBpf(r, depth - 1, seen)}`;
  if (depth > 0 && x < 0.35) return `not ${randomBpf(r, depth - 1, seen)}`;
  if (depth > 0 && x < 0.42) return `(${randomBpf(r, depth - 1, seen)})`;
  const seenOf = (f: string, dflt: string) => { const v = seen.get(f); return v && v.length > 0 && chance(r, 0.6) ? String(pick(r, v)) : dflt; };
  const port = () => seenOf(pick(r, ['tcp.dport', 'tcp.sport', 'udp.dport', 'udp.sport']), pick(r, ['53', '80', '443', '0', '65535']));
  const host = () => { const a = seenOf(pick(r, ['ip.src', 'ip.dst']), pick(r, ['10.0.0.1', '192.168.1.1', '::1'])); return a; };
  return pick(r, [
    () => pick(r, ['tcp', 'udp', 'icmp', 'icmp6', 'ip', 'ip6', 'arp', 'vlan', 'mpls', 'sctp', 'ip multicast', 'ether broadcast']),
    () => `${pick(r, ['', 'src ', 'dst '])}host ${host()}`,
    () => `${pick(r, ['', 'tcp ', 'udp '])}${pick(r, ['', 'src ', 'dst '])}port ${port()}`,
    () => `portrange ${pick(r, ['1-1024', '53-53', '1024-65535'])}`,
    () => `${pick(r, ['src ', 'dst ', ''])}net ${pick(r, ['10.0.0.0/8', '192.168.0.0/16', '0.0.0.0/0', '2001:db8::/32'])}`,
    () => `${pick(r, ['len', 'ip[2:2]', 'ether[12:2]', 'tcp[13]', 'tcp[tcpflags]', 'udp[4:2]', 'ip[0] & 0xf', 'ip[6:2] & 0x1fff', 'icmp[icmptype]', 'ip6[6]', 'tcp[12] >> 4'])} ${pick(r, ['=', '!=', '<', '<=', '>', '>='])} ${pick(r, ['0', '2', '5', '17', '0x12', '100', '576', '1500', '0x0800', String(int(r, 65536))])}`,
    () => `tcp[tcpflags] & (${pick(r, ['tcp-syn', 'tcp-ack', 'tcp-syn|tcp-ack', 'tcp-fin|tcp-rst'])}) ${pick(r, ['!= 0', '== 0', '= tcp-syn'])}`,
    () => `${pick(r, ['ip', 'ip6'])} proto ${pick(r, ['6', '17', '1', '58', '47', '4', '41'])}`,
    () => `${pick(r, ['greater', 'less'])} ${pick(r, ['60', '64', '100', '1500', '0'])}`,
    () => `vlan ${pick(r, ['1', '100', '4095', '0'])}`,
    () => `ether ${pick(r, ['src', 'dst', 'host'])} ${seenOf('eth.src', '00:11:22:33:44:55')}`,
    () => pick(r, ['foo', 'tcp port', 'host', '1 = ', 'ip[', 'vlan 5000', 'port 70000']),
  ])();
}

/** A `bpf:` filter run by the project's BPF machine selects exactly what tcpdump (libpcap) selects. */
function checkBpfVm(expr: string, packets: FilterPacket[], kept: boolean[]): void {
  const r = tcpdumpSelect(expr, packets);
  if (r === null) return;
  check(r.ok, () => `tcpdump refuses a bpf: filter that parseFilter accepted: ${r.error}\n${expr}`);
  packets.forEach((p, k) => {
    if (p.linkType !== 1 || p.bytes.length === 0) return;
    check(kept[k] === r.passed.has(k), () => `the BPF machine ${kept[k] ? 'keeps' : 'drops'} a packet tcpdump ${r.passed.has(k) ? 'keeps' : 'drops'}\nbpf: ${expr}\npacket ${k}: ${Buffer.from(p.bytes.subarray(0, 96)).toString('hex')}`);
  });
}

/** Which of the Ethernet packets tcpdump selects with `expr` (null: none to try). */
function tcpdumpSelect(expr: string, packets: FilterPacket[]): { ok: boolean; error: string; passed: Set<number> } | null {
  // (tcpdump prints a record of caplen 0 without its time: such are left out, and not compared)
  const eth = packets.map((p, k) => ({ p, k })).filter((x) => x.p.linkType === 1 && x.p.bytes.length > 0);
  if (eth.length === 0) return null;
  const parts: Uint8Array[] = [];
  const h = new Uint8Array(24), hv = new DataView(h.buffer);
  hv.setUint32(0, 0xa1b2c3d4, true); hv.setUint16(4, 2, true); hv.setUint16(6, 4, true); hv.setUint32(16, 262144, true); hv.setUint32(20, 1, true);
  parts.push(h);
  for (const { p, k } of eth) {
    const rh = new Uint8Array(16), rv = new DataView(rh.buffer);
    rv.setUint32(0, k + 1, true); rv.setUint32(8, p.bytes.length, true); rv.setUint32(12, Math.max(p.wireLen, p.bytes.length), true);
    parts.push(rh, p.bytes);
  }
  const dir = mkdtempSync(join(tmpdir(), 'intstream-fuzz-'));
  try {
    const file = join(dir, 'f.pcap');
    writeFileSync(file, concatBytes(...parts));
    const r = spawnSync('tcpdump', ['-nn', '-tt', '-r', file, expr], { encoding: 'utf8', maxBuffer: 1 << 24 });
    const error = r.stderr.split('\n').filter((l) => l && !l.startsWith('reading from')).join(' ').slice(0, 300);
    // one line per packet, starting with its time: the packet's number + 1
    const passed = new Set(r.stdout.split('\n').filter((l) => /^\d+\.\d+ /.test(l)).map((l) => Number(l.split('.')[0]) - 1));
    return { ok: r.status === 0, error, passed };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

let tcpdump: boolean | undefined;
export function haveTcpdump(): boolean {
  tcpdump ??= !spawnSync('tcpdump', ['--version']).error;
  return tcpdump;
}

/** The kernel filter live capture installs (tcpdump's libpcap as the reference) keeps every packet the filter keeps. */
function checkKernelFilter(ast: ReturnType<typeof parseFilter>, packets: FilterPacket[], kept: boolean[], whole: boolean[]): void {
  const expr = kernelFilterFor(ast);
  if (expr === null) return;
  const r = tcpdumpSelect(expr, packets);
  if (r === null) return;
  check(r.ok, () => `tcpdump refuses the kernel filter: ${r.error}\n${expr}`);
  packets.forEach((p, k) => {
    // (a frame cut short is not compared: the kernel filters whole frames, and a BPF load past the
    // end of a runt rejects it whatever the expression says)
    if (p.linkType === 1 && whole[k] && p.bytes.length > 0) check(!kept[k] || r.passed.has(k), () => `the kernel filter drops a packet the filter keeps\npacket ${k}: ${Buffer.from(p.bytes.subarray(0, 96)).toString('hex')}\n${expr}`);
  });
}

// ---- window operators -------------------------------------------------------------------------------

type WindowEvent = [op: 'p', ts: number, key: number] | [op: 'a', wm: number];
interface WindowInput extends Input { size: number; slide: number; lateness: number; sourceTimed: boolean; transform: boolean; events: WindowEvent[] }

const SIZES = [1e-9, 1e-6, 1e-3, 0.1, 0.25, 0.3, 1, 2, 3, 5, 7, 10, 60, 1000, 3600, 86400, 2 ** 32, 1e15];

const wbits = new Float64Array(1), wint = new BigInt64Array(wbits.buffer);
function stepDouble(x: number, up: boolean): number {
  if (x === 0) return up ? Number.MIN_VALUE : -Number.MIN_VALUE;
  wbits[0] = x;
  wint[0] += (x > 0) === up ? 1n : -1n;
  return wbits[0];
}
const ev = new DataView(new ArrayBuffer(8));
/** x * 2^1074 exactly. */
function exact(x: number): bigint {
  ev.setFloat64(0, x);
  const b = ev.getBigUint64(0);
  const e = Number((b >> 52n) & 0x7ffn);
  let m = b & ((1n << 52n) - 1n);
  if (e !== 0) m |= 1n << 52n;
  const r = m << BigInt(e === 0 ? 0 : e - 1);
  return b >> 63n ? -r : r;
}
/** Exactly whether s + size > t (the rounded sum decides unless it equals t). */
function endsAfter(s: number, size: number, t: number): boolean {
  const e = s + size;
  if (e !== t) return e > t;
  return exact(s) + exact(size) > exact(t);
}
const holdsTs = (s: number, size: number, ts: number) => s <= ts && endsAfter(s, size, ts);

/** The window starts an element at ts joins by the rule documented in window-operators.ts, given the bound. */
function expectedStarts(ts: number, size: number, slide: number, bound: number): number[] {
  const coarse = 2 ** 52 * slide;
  const open = (s: number) => endsAfter(s, size, bound);
  if (!(ts < coarse && ts > -coarse)) {
    if (size === slide) return open(ts) ? [ts] : [];
    const out: number[] = [];
    for (let s = ts; holdsTs(s, size, ts); s = stepDouble(s, false)) if (open(s)) out.push(s);
    return out.reverse();
  }
  const lo = Math.floor((ts - size) / slide) - 2, hi = Math.floor(ts / slide) + 2;
  const holding: number[] = [];
  let above = Infinity;
  for (let k = lo; k <= hi; k++) {
    const s = k * slide;
    if (holdsTs(s, size, ts)) holding.push(s);
    else if (s > ts && s < above) above = s;
  }
  let starts: number[];
  if (size === slide) {
    const s0 = Math.floor(ts / size) * size;
    starts = holdsTs(s0, size, ts) ? [s0] : holding.length > 0 ? [holding[holding.length - 1]] : [above];
  } else starts = holding.length > 0 ? holding : [above];
  return starts.filter(open);
}

const windowKind: Kind<WindowInput> = {
  name: 'window',
  doc: 'window operators at large timestamps, edge sizes and slides, with watermarks and lateness',
  gen(r) {
    const size = pick(r, SIZES);
    const slide = chance(r, 0.45) ? size : chance(r, 0.5) ? size / pick(r, [2, 3, 4, 5, 7, 10, 64, 100]) : pick(r, SIZES.filter((s) => s <= size && size / s <= 200));
    const base = pick(r, [0, 1_700_000_000, 2 ** 31, 2 ** 32 - 0.5, 2 ** 32, 2 ** 52, 2 ** 53 - 1, 2 ** 53, 2 ** 53 + 2, 2 ** 60, 2 ** 62, 2 ** 62 + 2 ** 11, -(2 ** 32), -1.5,
      2 ** 52 * slide, 2 ** 52 * slide - size, 2 ** 52 * slide + slide]);
    const lateness = pick(r, [0, 0, size, 1, 60]);
    const events: WindowEvent[] = [];
    let t = base, max = -Infinity;
    const n = 1 + int(r, 40);
    for (let k = 0; k < n; k++) {
      if (chance(r, 0.15)) t -= r() * size * 2;
      else t += pick(r, [0, 0, stepDouble(t, true) - t, slide / 3, slide, size, size * 7, 2 ** 20, r() * size * 3]);
      if (!Number.isFinite(t)) t = base;
      events.push(['p', t, int(r, 3)]);
      if (t > max) max = t;
      if (chance(r, 0.2)) events.push(['a', max - lateness]);
    }
    return { size, slide, lateness, sourceTimed: chance(r, 0.5), transform: chance(r, 0.3), events };
  },
  run(i) {
    const { size, slide } = i;
    const results: { start: number; end: number; key: unknown; ids: number[] }[] = [];
    const sink: Operator = { push: (rec: any) => { results.push({ start: rec.window.start, end: rec.window.end, key: rec.key, ids: rec.value }); }, advance: () => {}, finish: () => {} };
    const env: StageEnv = { skipped: new SkipCounters(), lateness: i.lateness, sendProbe: async () => ({ ok: false, error: '' }) } as StageEnv;
    const collect: Aggregate<{ id: number }, number[], number[]> = { create: () => [], add: (acc, x) => { acc.push(x.id); return acc; }, merge: (a, b) => a.concat(b), result: (a) => a };
    const op = i.transform
      ? new WindowTransformOp({ size, slide }, (els: { id: number }[], out) => out(els.map((e) => e.id)), sink, env, i.sourceTimed)
      : new WindowAggregateOp({ size, slide }, collect, false, sink, env, i.sourceTimed);
    const expected = new Map<number, number[]>();
    const ts: number[] = [];
    let maxTs = -Infinity, closed = -Infinity, id = 0;
    for (const e of i.events) {
      if (e[0] === 'a') { op.advance(e[1]); if (e[1] > closed) closed = e[1]; continue; }
      const t = e[1];
      if (t > maxTs) maxTs = t;
      env.sourceWm = maxTs - i.lateness;
      const bound = i.sourceTimed && env.sourceWm > closed ? env.sourceWm : closed;
      expected.set(id, expectedStarts(t, size, slide, bound));
      ts.push(t);
      op.push({ id }, t, e[2]);
      id++;
    }
    op.finish();
    const joined = new Map<number, number[]>();
    const seenWindows = new Set<string>();
    let lastStart = -Infinity;
    for (const res of results) {
      check(res.start >= lastStart, () => `window ${res.start} emitted after window ${lastStart}`);
      lastStart = res.start;
      const wk = `${res.start}|${String(res.key)}`;
      check(!seenWindows.has(wk), () => `window ${res.start} key ${String(res.key)} emitted twice`);
      seenWindows.add(wk);
      for (const x of res.ids) {
        let l = joined.get(x);
        if (!l) joined.set(x, (l = []));
        check(!l.includes(res.start), () => `element ${x} twice in window ${res.start}`);
        l.push(res.start);
      }
    }
    const late = env.skipped.counts.get('late') ?? 0;
    let none = 0;
    for (let x = 0; x < id; x++) {
      const got = (joined.get(x) ?? []).sort((a, b) => a - b);
      const want = expected.get(x)!;
      if (got.length === 0) none++;
      check(JSON.stringify(got) === JSON.stringify(want), () => `element ${x} at ts ${ts[x]} (size ${size}, slide ${slide}): in windows [${got.slice(0, 8).join(', ')}${got.length > 8 ? ', ...' : ''}] (${got.length}), the documented rule gives [${want.slice(0, 8).join(', ')}${want.length > 8 ? ', ...' : ''}] (${want.length})`);
    }
    check(none === late, () => `${none} elements in no window, ${late} counted late`);
  },
  *shrink(i) {
    for (let k = 0; k < i.events.length; k++) yield { ...i, events: i.events.filter((_, j) => j !== k) };
  },
  size: (i) => i.events.length,
};

// ---- INT collector ------------------------------------------------------------------------------------

interface CollectorInput extends Input { config: CollectorConfig; frames: Uint8Array[]; ts: number[]; lenient: number }

const EVENTS = new Set(['new', 'change', 'path', 'periodic', 'expired']);

const collectorKind: Kind<CollectorInput> = {
  name: 'collector',
  doc: 'the INT collector over report sequences with time jumps and edge configurations',
  gen(r) {
    const config: CollectorConfig = {
      mode: chance(r, 0.5) ? 'bin' : 'threshold', latencyStep: pick(r, [0, 1, 1000, 1e9]), hopLatencyStep: pick(r, [0, 500]), txUtilStep: pick(r, [0, 100]),
      occupancyStep: pick(r, [0, 1000]), congestionStep: pick(r, [0, 10]), period: pick(r, [0, 1e-9, 1e-3, 1, 10, 3600, 2 ** 32, 2 ** 60]), timeout: pick(r, [0, 1e-3, 1, 30, 1e9]),
    };
    const flows = Array.from({ length: 1 + int(r, 3) }, () => ({ src: pick(r, [0x0a000001, 0x0a000002, int(r, 2 ** 32)]), dst: pick(r, [0x0a000003, int(r, 2 ** 32)]), l4: chance(r, 0.5) ? 'tcp' as const : 'udp' as const, sport: pick(r, [1111, 0, 65535]), dport: pick(r, [80, 5001]) }));
    const paths = Array.from({ length: 1 + int(r, 3) }, () => Array.from({ length: int(r, 6) }, () => 1 + int(r, 6)));
    const base = pick(r, [0, 1_700_000_000, 2 ** 32, 2 ** 53, 2 ** 62, 5e-324]);
    const frames: Uint8Array[] = [], ts: number[] = [];
    let t = base;
    const n = 1 + int(r, 25);
    for (let k = 0; k < n; k++) {
      const f = pick(r, flows), path = pick(r, paths);
      const version = pick(r, ['0.5', '1.0', '2.0'] as TrVersion[]);
      const bitmap = chance(r, 0.7) ? fullBitmap(version) : pick(r, [0x8000, 0x9000, 0xd300, 0xcc00, int(r, 65536) & fullBitmap(version)]);
      const hops = randomHops(r, path.length, [...path].reverse());
      const spec: ReportSpec = { version, instructionBitmap: bitmap, hops, tracked: true, inner: { l4: f.l4, srcIp: f.src, dstIp: f.dst, srcPort: f.sport, dstPort: f.dport, dscp: 0x17 } };
      let bytes = encodeOrNull(spec);
      if (bytes === null) continue;
      if (version === '2.0' && chance(r, 0.15)) {
        const more = encodeOrNull({ ...spec, hops: randomHops(r, path.length, [...path].reverse()) });
        if (more) bytes = concatBytes(bytes, more.subarray(8));
      }
      frames.push(encodeReportFrame(bytes));
      if (chance(r, 0.1)) t -= r() * 100;
      else t += pick(r, [0, 1e-6, 0.5, 1, config.period, config.timeout, config.timeout * 1.01, 1e6, 2 ** 40]);
      if (!Number.isFinite(t)) t = base;
      ts.push(t);
    }
    return { config, frames, ts, lenient: chance(r, 0.3) ? LENIENT_ALL : 0 };
  },
  run(i) {
    const st = new IntCollectorState(i.config);
    const events: { value: Record<string, unknown>; key: unknown }[] = [];
    const out = (value: object, key: unknown) => { events.push({ value: value as Record<string, unknown>, key }); };
    const p = newPacket({ intPort: 32766, intLenient: i.lenient });
    let reports = 0;
    for (let k = 0; k < i.frames.length; k++) {
      const f = i.frames[k], t = i.ts[k];
      decodePacket(p, f, 0, f.length, f.length, t, 1);
      if (p.intStatus !== INT_OK) continue;
      st.onReport(p, t, out); reports++;
      walkCoalesced(p, f, f.length, f.length, t, 1, (q) => { st.onReport(q, t, out); reports++; });
    }
    st.finish(out);
    check(events.length <= (reports + 1) * 200, () => `${events.length} events for ${reports} reports`);
    const alive = new Map<string, boolean>();
    let lastPeriodic = -Infinity;
    for (const { value, key } of events) {
      const e = String(value.event), t = value.ts as number, k = JSON.stringify(key);
      check(EVENTS.has(e), `event '${e}'`);
      check(typeof t === 'number' && !Number.isNaN(t) && Number.isFinite(t), () => `${e} event at time ${String(t)}`);
      const live = alive.get(k) ?? false;
      if (e === 'new') check(!live, () => `'new' for a live key ${k}`);
      else check(live, () => `'${e}' for a key that is not live: ${k}`);
      alive.set(k, e !== 'expired');
      if (e === 'expired') check(t === (value.last_seen as number) + i.config.timeout, () => `expired at ${t}, last seen ${String(value.last_seen)} + timeout ${i.config.timeout}`);
      if (e === 'periodic') {
        check(t >= lastPeriodic, () => `periodic export at ${t} after one at ${lastPeriodic}`);
        check((value.last_seen as number) <= t, () => `periodic export at ${t} of a key last seen at ${String(value.last_seen)}`);
        lastPeriodic = t;
      }
    }
    let live = 0;
    for (const v of alive.values()) if (v) live++;
    check(st.size === live, () => `${st.size} live keys, the events leave ${live}`);
  },
  *shrink(i) {
    for (let k = 0; k < i.frames.length; k++) yield { ...i, frames: i.frames.filter((_, j) => j !== k), ts: i.ts.filter((_, j) => j !== k) };
  },
  size: (i) => i.frames.length,
};

// ---- checkpointed global state -------------------------------------------------------------------

interface StateInput extends Input { bytes: Uint8Array; mutated: boolean }

/** A random state tree of what a keyed process() keeps (state-codec.ts), `depth` levels at most. */
function randomState(r: Rng, depth: number): unknown {
  const leaf = [0, -0, 1.5, NaN, Infinity, -Infinity, 2 ** 53, 'a', '', '__proto__', null, undefined, true, 12345678901234567890n, -1n];
  if (depth <= 0 || chance(r, 0.4)) return pick(r, leaf);
  const n = int(r, 4);
  switch (int(r, 4)) {
    case 0: return Array.from({ length: n }, () => randomState(r, depth - 1));
    case 1: return Object.fromEntries(Array.from({ length: n }, (_, k) => [pick(r, ['k', 'previous', '__proto__', 'constructor', `x${k}`]), randomState(r, depth - 1)]));
    case 2: return new Map(Array.from({ length: n }, () => [randomState(r, 1), randomState(r, depth - 1)] as [unknown, unknown]));
    default: return new Set(Array.from({ length: n }, () => randomState(r, depth - 1)));
  }
}

const stateKind: Kind<StateInput> = {
  name: 'state',
  doc: 'checkpointed global state (changelog snapshots): encoded trees round-trip; mutated, cut or deeply nested bytes give a TRANSPORT error, never another',
  gen(r) {
    const value = randomState(r, 5);
    const snapshot = encodeSnapshot({ task: 't', partition: int(r, 4), offset: BigInt(int(r, 1e6)), state: encodeState(value, 'fuzz') });
    if (chance(r, 0.2)) return { bytes: new Uint8Array(snapshot), mutated: false };
    if (chance(r, 0.1)) {
      // a tree nested far deeper than any task's state: must be refused, not overflow the stack
      const deep = Buffer.from(pick(r, ['["a",', '["s",', '["m",1,', '["o","k",']).repeat(50_000) + '1' + ']'.repeat(50_000));
      return { bytes: new Uint8Array(encodeSnapshot({ task: 't', partition: 0, offset: 0n, state: deep })), mutated: true };
    }
    return { bytes: mutateBytes(r, new Uint8Array(snapshot), 1 + int(r, 4)), mutated: true };
  },
  run(i) {
    let value: unknown;
    try {
      const snap = decodeSnapshot(Buffer.from(i.bytes));
      value = decodeState(snap.state);
    } catch (e) {
      check(i.mutated, () => `an unmutated snapshot did not decode: ${(e as Error).message}`);
      check(e instanceof IntstreamError && e.code === 'TRANSPORT', () => `not a TRANSPORT error: ${(e as Error)?.constructor?.name}: ${(e as Error).message}`);
      return;
    }
    if (!i.mutated) {
      // the round trip: the same bytes again (Maps, Sets, -0, NaN and bigints included)
      const again = encodeSnapshot({ ...decodeSnapshot(Buffer.from(i.bytes)), state: encodeState(value, 'fuzz') });
      check(Buffer.compare(again, Buffer.from(i.bytes)) === 0, 'decode then encode changed the snapshot');
    }
  },
  *shrink(i) { for (const b of shrinkBytes(i.bytes)) yield { ...i, bytes: b }; },
  size: (i) => i.bytes.length,
};

export const KINDS: Kind[] = [packetKind, captureKind, pcapngKind, intKind, flowKind, filterKind, windowKind, collectorKind, stateKind] as unknown as Kind[];

export function kindByName(name: string): Kind | undefined {
  return KINDS.find((k) => k.name === name);
}
