// Differential test of the INT collector (issue 13): the typed-array collector
// (src/int/collector.ts) against the Entry-object collector it replaced, kept verbatim as the
// reference in test/int/reference-collector.ts. Both see the same decoded reports, written by
// src/gen/int-gen.ts through src/int/gen-series.ts (and variations of them: other flows per
// path, path and hop-count changes, "not available" values, IPv6 monitored packets, byte-level
// mutations), with many configurations (modes, steps, periods, timeouts) and event-time
// sequences (steady, gaps longer than the timeout, jumps of 10^6 and 10^12 s, repeated and
// earlier times, times near 2^62 s). The event streams must be identical: same events, same
// order, same keys and values (compared as JSON).
//
// The reference reads the report's hop arrays directly, so its packet decodes every hop column
// (intHopColumns: ALL_HOP_FIELDS); the collector's packet is configured like the engine's (hop
// columns on demand), so the lazy column decoding is compared too.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { encodeReport, encodeReportFrame, rng, type ReportSpec, type TrVersion, type HopValues } from '../../src/gen/int-gen.ts';
import { flowPerPathSeries } from '../../src/int/gen-series.ts';
import { reportSeries } from '../../src/gen/int-gen.ts';
import { Packet } from '../../src/decode/packet.ts';
import { decodePacket } from '../../src/decode/decoder.ts';
import { configurePacketInt } from '../../src/decode/int-view.ts';
import { ALL_HOP_FIELDS } from '../../src/decode/int/index.ts';
import { IntCollectorState, type CollectorConfig } from '../../src/int/collector.ts';
import { ReferenceCollectorState } from './reference-collector.ts';

const PORT = 32766;
const ONES = 0xffffffff;

type Rand = () => number;

/** Replaces the inner IPv4 header of an int-gen report (inner Ethernet) by an IPv6 one. */
function toIpv6(report: Uint8Array, innerOffset: number, version: TrVersion, hi: number): Uint8Array {
  const ip = innerOffset + 14;
  const ipLen = (report[ip + 2] << 8) | report[ip + 3];
  const out = new Uint8Array(report.length + 20);
  out.set(report.subarray(0, ip), 0);
  out[ip - 2] = 0x86; out[ip - 1] = 0xdd;
  const h = ip;
  const tos = report[ip + 1];
  out[h] = 0x60 | (tos >>> 4); out[h + 1] = (tos & 15) << 4;
  out[h + 4] = (ipLen - 20) >>> 8; out[h + 5] = (ipLen - 20) & 0xff;
  out[h + 6] = report[ip + 9]; out[h + 7] = 64;
  // 2001:db8:HI:0:HI::<IPv4 address>, for the source and the destination: addresses that differ
  // only in HI have the same XOR of their four words (the collector's fold), so flows that
  // differ only there share a hash and are told apart by their full addresses
  for (const [at, from] of [[h + 8, ip + 12], [h + 24, ip + 16]]) {
    out[at] = 0x20; out[at + 1] = 0x01; out[at + 2] = 0x0d; out[at + 3] = 0xb8;
    out[at + 4] = hi >>> 8; out[at + 5] = hi & 0xff;
    out[at + 8] = hi >>> 8; out[at + 9] = hi & 0xff;
    out.set(report.subarray(from, from + 4), at + 12);
  }
  out.set(report.subarray(ip + 20), ip + 40);
  if (version === '2.0') out[9] += 5; // Report Length, words
  return out;
}

interface Variation {
  /** Flows per series: the k-th report's source port is drawn among this many (0: one flow per path). */
  flows: number;
  /** Probability that a hop value is "not available" (all ones). */
  invalid: number;
  /** Probability that a report is cut to fewer hops (a path change by length). */
  shorter: number;
  /** Probability that a report's monitored packet is IPv6. */
  ipv6: number;
  /** Probability of 1-3 random byte changes in the frame (reports that still decode are kept). */
  mutate: number;
  /** Probability of TCP instead of UDP for the monitored packet. */
  tcp: number;
  /** Metric values as random walks of +-1 or 2 per report (crossing bin edges back and forth). */
  walk?: boolean;
  /** Probability that a report leaves the switch ids out (the flow is seen, its hops are not). */
  noSwitch?: number;
}

interface Series {
  name: string;
  version: TrVersion;
  hops: number;
  seed: number;
  paths: number;
  bitmap?: number;
  reports: number;
  times: (k: number, r: Rand) => number;
  v: Variation;
  configs: Partial<CollectorConfig>[];
}

function frames(s: Series): { frame: Uint8Array; ts: number }[] {
  const r = rng(s.seed * 7919 + 1);
  const base = s.v.flows > 0 ? reportSeries({ version: s.version, hops: s.hops, seed: s.seed, paths: s.paths, bitmap: s.bitmap })
    : flowPerPathSeries({ version: s.version, hops: s.hops, seed: s.seed, paths: s.paths, bitmap: s.bitmap });
  const out: { frame: Uint8Array; ts: number }[] = [];
  const walks = new Map<string, number>();
  const walk = (id: string) => {
    const starts = [30, 64, 131, 24970];
    const x = Math.max(0, (walks.get(id) ?? starts[walks.size % starts.length]) + (r() < 0.5 ? -1 : 1) * (r() < 0.7 ? 1 : 2));
    walks.set(id, x);
    return x;
  };
  for (let k = 0; k < s.reports; k++) {
    const spec0 = base(k);
    let hops: HopValues[] = spec0.hops.map((h) => ({ ...h }));
    if (s.v.walk) {
      for (const h of hops) {
        h.hopLatency = walk(`lat ${h.switchId}`); h.egressTxUtil = walk(`util ${h.switchId}`);
        h.queueOccupancy = walk(`occ ${h.switchId}`); h.queueCongestion = walk(`cong ${h.switchId}`);
      }
    }
    if (s.v.shorter > 0 && r() < s.v.shorter) hops = hops.slice(Math.floor(r() * hops.length));
    if (s.v.invalid > 0) {
      for (const h of hops) {
        for (const f of ['switchId', 'hopLatency', 'egressPort', 'egressTxUtil', 'queueOccupancy', 'queueCongestion', 'queueId'] as const) {
          if (r() < s.v.invalid) {
            if (f === 'egressPort') { h.ingressPort = 0xffff; h.egressPort = 0xffff; } // the whole word
            else if (f === 'queueId' || f === 'queueOccupancy') { h.queueId = 0xff; h.queueOccupancy = 0xffffff; }
            else if (f === 'queueCongestion') { h.queueCongestion = 0xffffff; if (s.version === '0.5') h.queueId = 0xff; }
            else h[f] = ONES;
          }
        }
      }
    }
    const inner = { ...(spec0.inner ?? {}) };
    if (s.v.flows > 0) inner.srcPort = 40000 + Math.floor(r() * s.v.flows);
    if (r() < s.v.tcp) inner.l4 = 'tcp';
    const spec: ReportSpec = { ...spec0, hops, inner };
    if (s.v.noSwitch && r() < s.v.noSwitch) spec.instructionBitmap &= ~0x8000;
    const enc = encodeReport(spec);
    let report = enc.bytes;
    if (s.v.ipv6 > 0 && r() < s.v.ipv6) report = toIpv6(report, enc.layout.innerOffset, s.version, Math.floor(r() * 3));
    const frame = encodeReportFrame(report, { dstPort: PORT });
    if (s.v.mutate > 0 && r() < s.v.mutate) {
      const m = 1 + Math.floor(r() * 3);
      for (let j = 0; j < m; j++) frame[42 + Math.floor(r() * (frame.length - 42))] = Math.floor(r() * 256);
    }
    out.push({ frame, ts: s.times(k, r) });
  }
  return out;
}

/** Runs both collectors over the frames; returns the two event streams as JSON lines. */
function run(fs: { frame: Uint8Array; ts: number }[], config: Partial<CollectorConfig>): { ref: string[]; got: string[]; decoded: number; noFlow: number } {
  const pRef = new Packet(), pNew = new Packet();
  configurePacketInt(pRef, { intPort: PORT, intHopColumns: ALL_HOP_FIELDS });
  configurePacketInt(pNew, { intPort: PORT });
  const ref = new ReferenceCollectorState(config), st = new IntCollectorState(config);
  const a: string[] = [], b: string[] = [];
  const outA = (v: object, k: unknown) => { a.push(JSON.stringify([k, v])); };
  const outB = (v: object, k: unknown) => { b.push(JSON.stringify([k, v])); };
  let decoded = 0;
  for (const { frame, ts } of fs) {
    decodePacket(pRef, frame, 0, frame.length, frame.length, ts, 1);
    decodePacket(pNew, frame, 0, frame.length, frame.length, ts, 1);
    assert.equal(pNew.intStatus, pRef.intStatus);
    if (pRef.intStatus !== 0) continue;
    decoded++;
    ref.onReport(pRef, ts, outA);
    st.onReport(pNew, ts, outB);
    if (a.length !== b.length) break; // report the first difference below
  }
  ref.finish(outA);
  st.finish(outB);
  assert.equal(st.size, ref.size, 'live keys');
  assert.equal(st.events, ref.events, 'event counts');
  assert.equal(st.noFlow, ref.noFlow, 'reports without a flow');
  return { ref: a, got: b, decoded, noFlow: ref.noFlow };
}

function sameStream(ref: string[], got: string[], what: string): void {
  const n = Math.min(ref.length, got.length);
  for (let i = 0; i < n; i++) {
    if (ref[i] !== got[i]) assert.fail(`${what}: event ${i} differs\n  reference ${ref[i]}\n  collector ${got[i]}\n  (previous: ${ref[i - 1] ?? '-'})`);
  }
  assert.equal(got.length, ref.length, `${what}: ${got.length} events, reference ${ref.length}`);
}

// ---- event-time sequences ----
const T0 = 1_700_000_000.25;
/** Steady: 20 us apart (50k reports/s). */
const steady = (dt: number) => (k: number) => T0 + k * dt;
/** Mostly small steps, sometimes gaps past the timeout, sometimes the same time again or an earlier one. */
function bumpy(gap: number): (k: number, r: Rand) => number {
  let t = T0;
  return (k, r) => {
    if (k === 0) { t = T0; return t; }
    const x = r();
    if (x < 0.02) t += gap * (1 + r() * 3);
    else if (x < 0.05) { /* same time */ }
    else if (x < 0.07) return t - r() * 0.5; // earlier than the last (out of order)
    else t += r() * 0.2;
    return t;
  };
}
/** Jumps of 10^6 s and to 10^12 s in the middle. */
function jumps(k: number, r: Rand): number {
  if (k < 300) return T0 + k * 0.05 + r() * 0.01;
  if (k < 600) return T0 + 1e6 + k * 0.05;
  return 1e12 + k * 0.05;
}
/** Near 2^62 s, where doubles are 1024 s apart (t + period == t). */
const coarse = (k: number) => 2 ** 62 + Math.floor(k / 40) * 1024;

const configs = (timeouts: number[], periods: number[]): Partial<CollectorConfig>[] => {
  const out: Partial<CollectorConfig>[] = [];
  let i = 0;
  for (const timeout of timeouts) {
    for (const period of periods) {
      const mode = i % 2 === 0 ? 'bin' : 'threshold';
      const steps = [
        {}, // defaults
        { latencyStep: 0, hopLatencyStep: 0, txUtilStep: 0, occupancyStep: 0, congestionStep: 0 },
        { latencyStep: 1234.5, hopLatencyStep: 37.25, txUtilStep: 99.9, occupancyStep: 512, congestionStep: 3.5 },
        { latencyStep: 1e12, hopLatencyStep: 1e12, txUtilStep: 1e12, occupancyStep: 1e12, congestionStep: 1e12 },
        // steps whose bin edges ceil(r * step) are off by one (the quiet intervals' checked ends)
        { latencyStep: 7 / 3, hopLatencyStep: 1.1, txUtilStep: 1.1, occupancyStep: 7 / 3, congestionStep: 1.1 },
        { latencyStep: 0.3, hopLatencyStep: 7, txUtilStep: -1, occupancyStep: 1e-9, congestionStep: 2 },
        // steps no task should give, with the old rules all the same
        { latencyStep: Infinity, hopLatencyStep: NaN, txUtilStep: -5, occupancyStep: Number.MIN_VALUE, congestionStep: 2 ** 53 },
      ][i % 7];
      out.push({ mode, timeout, period, ...steps });
      i++;
    }
  }
  return out;
};

const PLAIN: Variation = { flows: 0, invalid: 0, shorter: 0, ipv6: 0, mutate: 0, tcp: 0 };
const ROUGH: Variation = { flows: 24, invalid: 0.03, shorter: 0.05, ipv6: 0.3, mutate: 0, tcp: 0.3, noSwitch: 0.1 };

const SERIES: Series[] = [];
for (const version of ['0.5', '1.0', '2.0'] as const) {
  SERIES.push(
    { name: `v${version} 6 hops, one flow per path, steady`, version, hops: 6, seed: 7, paths: 64, reports: 3000, times: steady(2e-3), v: PLAIN, configs: configs([0, 3], [0, 1]) },
    { name: `v${version} 3 hops, rough flows, bumpy times`, version, hops: 3, seed: 11, paths: 8, reports: 2500, times: bumpy(5), v: ROUGH, configs: configs([0.5, 2, 30], [0, 0.37, 10]) },
    { name: `v${version} 1 hop, many flows, jumps`, version, hops: 1, seed: 3, paths: 4, reports: 900, times: jumps, v: { ...ROUGH, flows: 500 }, configs: configs([0, 30], [0, 10]) },
    { name: `v${version} 8 hops, mutated bytes, bumpy`, version, hops: 8, seed: 5, paths: 32, reports: 2000, times: bumpy(40), v: { ...ROUGH, mutate: 0.3 }, configs: configs([3, 30], [1, 10]) },
    { name: `v${version} 4 hops, near 2^62 s`, version, hops: 4, seed: 9, paths: 16, reports: 400, times: coarse, v: ROUGH, configs: configs([0, 30], [0, 10]) },
  );
}
// values that walk across bin edges with steps whose computed edges need correcting
const WALK_STEPS: Partial<CollectorConfig>[] = [];
for (const mode of ['bin', 'threshold'] as const) {
  for (const step of [1.1, 7 / 3, 99.9, 0.5, 3, NaN]) {
    WALK_STEPS.push({ mode, timeout: 0, period: 0, latencyStep: step * 3, hopLatencyStep: step, txUtilStep: step, occupancyStep: step, congestionStep: step });
  }
}
for (const version of ['0.5', '2.0'] as const) {
  SERIES.push({ name: `v${version} 2 hops, values walking across bin edges`, version, hops: 2, seed: 29, paths: 3, reports: 4000, times: steady(1e-3), v: { ...PLAIN, walk: true }, configs: WALK_STEPS });
}
// bitmaps other than all fields: no switch id, no latency, v0.5 congestion without occupancy
SERIES.push(
  { name: 'v2.0 latency and queue only (no switch ids)', version: '2.0', hops: 5, seed: 13, paths: 8, bitmap: 0x3000, reports: 800, times: bumpy(5), v: ROUGH, configs: configs([2], [1]) },
  { name: 'v1.0 switch ids and tx util only', version: '1.0', hops: 5, seed: 17, paths: 8, bitmap: 0x8100, reports: 800, times: bumpy(5), v: ROUGH, configs: configs([2], [1]) },
  { name: 'v0.5 switch, ports, congestion (queue id from bit 6)', version: '0.5', hops: 4, seed: 19, paths: 8, bitmap: 0xc200, reports: 800, times: bumpy(5), v: ROUGH, configs: configs([2], [1]) },
  { name: 'v2.0 12 hops (rows re-laid out), 3000 flows (tables grow)', version: '2.0', hops: 12, seed: 23, paths: 64, reports: 6000, times: steady(1e-3), v: { ...ROUGH, flows: 3000, ipv6: 0.5 }, configs: configs([2], [0.5]).concat(configs([0], [0])) },
);

describe('INT collector: typed-array state against the Entry-object reference', () => {
  for (const s of SERIES) {
    it(`${s.name}: identical event streams in ${s.configs.length} configurations`, () => {
      const fs = frames(s);
      let events = 0;
      for (const c of s.configs) {
        const { ref, got, decoded } = run(fs, c);
        assert.ok(decoded > fs.length / 2, `${s.name}: only ${decoded} of ${fs.length} reports decode`);
        sameStream(ref, got, `${s.name} ${JSON.stringify(c)}`);
        events += ref.length;
      }
      assert.ok(events > 0);
    });
  }

  it('a flow whose hops expired while it lived on (reports without switch ids), then an earlier report: same events', () => {
    // flow A through switches 1, 2 at 100; A without switch ids at 105 (the flow lives on, its
    // hops are not seen); flow B at 111: the scan expires A's hops (last seen 100, timeout 10)
    // but not A; A through 1, 2 again at 108 (out of order, within 10 s of 100): the hops come
    // back as new keys. Then the same at later times in order, with A's path unchanged.
    const frame = (t: number, sport: number, sw: boolean, lat: number) => ({
      ts: t,
      frame: encodeReportFrame(encodeReport({
        version: '2.0', instructionBitmap: sw ? 0xff80 : 0x7f80, nodeId: 2,
        hops: [2, 1].map((id) => ({ switchId: id, hopLatency: lat + id, egressPort: id, egressTxUtil: 10, queueId: 1, queueOccupancy: 5, ingressTs: 0, egressTs: 0 })),
        inner: { l4: 'udp', srcPort: sport, dstPort: 5001 },
      }).bytes, { dstPort: PORT }),
    });
    const fs = [frame(100, 1, true, 300), frame(105, 1, false, 300), frame(111, 2, true, 300), frame(108, 1, true, 900),
      frame(130, 1, true, 300), frame(135, 1, false, 300), frame(146, 2, true, 300), frame(147, 1, true, 300)];
    for (const c of [{ timeout: 10, period: 0 }, { timeout: 10, period: 7, mode: 'threshold' as const }, { timeout: 0, period: 5 }]) {
      const { ref, got } = run(fs, c);
      sameStream(ref, got, `crafted ${JSON.stringify(c)}`);
      if (c.timeout === 10 && c.period === 0) {
        const hopNews = ref.map((l) => JSON.parse(l)).filter(([k, v]) => k.kind === 'hop' && v.event === 'new' && k.sport === 1);
        assert.deepEqual(hopNews.map(([, v]) => v.ts), [100, 100, 108, 108, 130, 130, 147, 147]);
      }
    }
  });

  it('the scenarios cover every event type, IPv6 flows, reports without a flow, expiry on return', () => {
    const seen = new Set<string>();
    let v6 = false, returned = false, noFlow = 0;
    for (const s of SERIES.filter((x) => (x.v.ipv6 > 0 || x.v.mutate > 0) && x.times !== coarse).slice(0, 6)) {
      const fs = frames(s);
      const { ref, noFlow: nf } = run(fs, s.configs[0]);
      noFlow += nf;
      const expiredAt = new Map<string, number>();
      for (const line of ref) {
        const [k, v] = JSON.parse(line);
        seen.add(v.event);
        if (typeof k.src === 'string' && k.src.includes(':')) v6 = true;
        const id = JSON.stringify(k);
        if (v.event === 'expired') expiredAt.set(id, 1);
        else if (v.event === 'new' && expiredAt.has(id)) returned = true;
      }
    }
    assert.deepEqual([...seen].sort(), ['change', 'expired', 'new', 'path', 'periodic']);
    assert.ok(v6, 'an IPv6 flow');
    assert.ok(returned, 'a key that expired and came back');
    assert.ok(noFlow > 0, 'a report without a monitored IP packet');
  });
});
