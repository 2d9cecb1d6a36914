// int-collector end to end: reports written by src/gen/int-gen.ts from hand-chosen paths and
// metric series (all three report versions), run through the whole engine from a pcap; the
// expected events come from the series themselves through a naive reference of the rules in
// src/int/collector.ts (maps of plain objects, linear scans), never from the collector's code.
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { encodeReport, encodeReportFrame, type HopValues, type TrVersion } from '../../src/gen/int-gen.ts';
import { pcapFile } from '../support/pcap-writer.ts';
import { runTask } from '../../src/run-task.ts';
import intCollector from '../../src/apps/int-collector.ts';

const dir = mkdtempSync(join(tmpdir(), 'intstream-int-collector-'));
after(() => rmSync(dir, { recursive: true, force: true }));

interface Hop { sw: number; lat: number; port: number; util: number; q: number; occ: number; cong: number }
interface Fact { t: number; src: string; dst: string; proto: number; sport: number; dport: number; hops: Hop[] }

const ip = (s: string) => s.split('.').reduce((a, x) => a * 256 + Number(x), 0);

/** Two flows; flow B changes path at t = 1012; flow A pauses 40 s (expires) and comes back. */
function facts(): Fact[] {
  const out: Fact[] = [];
  for (let i = 0; i < 60; i++) {
    const t = 1_700_000_000 + i;
    if (!(t >= 1_700_000_010 && t < 1_700_000_050) || i % 7 !== 0) {
      // flow A: path 1 -> 2 -> 3; latencies drift upward, a spike at i = 20
      if (t < 1_700_000_010 || t >= 1_700_000_050) {
        out.push({ t, src: '10.0.0.1', dst: '10.0.0.2', proto: 6, sport: 1111, dport: 80, hops: [1, 2, 3].map((sw, k) => ({
          sw, lat: 300 + 20 * i + 100 * k + (i === 20 ? 5000 : 0), port: sw + 10, util: (i * 13 + sw * 7) % 1000, q: sw % 4, occ: 50 * i + sw, cong: (i * 3) % 40,
        })) });
      }
    }
    // flow B: path 4 -> 5 until 1012, then 4 -> 6 -> 5
    const path = t < 1_700_000_012 ? [4, 5] : [4, 6, 5];
    out.push({ t: t + 0.25, src: '192.168.1.7', dst: '172.16.0.9', proto: 17, sport: 5353, dport: 9999, hops: path.map((sw, k) => ({
      sw, lat: 1000 + ((i * 97) % 700) + k, port: 2, util: 400 + (i % 5) * 60, q: 1, occ: (i * 211) % 5000, cong: i % 3,
    })) });
  }
  return out;
}

// ---- naive reference of the documented rules ----
interface Cfg { mode: 'bin' | 'threshold'; steps: Record<string, number>; period: number; timeout: number; congestion: boolean; util: boolean }
interface RefKey { id: string; key: Record<string, unknown>; metrics: Record<string, number | number[]>; refs: Record<string, number>; last: number; order: number }

function reference(fs: Fact[], c: Cfg): { key: unknown; value: Record<string, unknown> }[] {
  const live: RefKey[] = [];
  const out: { key: unknown; value: Record<string, unknown> }[] = [];
  let order = 0;
  let nextP = -Infinity;
  const vals = (k: RefKey) => Object.fromEntries(Object.entries(k.metrics));
  const emit = (k: RefKey, event: string, ts: number) => {
    const v: Record<string, unknown> = { event, ts, ...vals(k) };
    if (event === 'periodic' || event === 'expired') v.last_seen = k.last;
    out.push({ key: k.key, value: v });
  };
  const expireAt = (t: number) => {
    const due = live.filter((k) => t - k.last > c.timeout).sort((a, b) => a.last - b.last || a.order - b.order);
    for (const k of due) { live.splice(live.indexOf(k), 1); emit(k, 'expired', k.last + c.timeout); }
  };
  const refOf = (name: string, v: number) => (c.mode === 'bin' ? Math.floor(v / c.steps[name]) : v);
  const movedFrom = (name: string, v: number, r: number) => (c.mode === 'bin' ? Math.floor(v / c.steps[name]) !== r : Math.abs(v - r) > c.steps[name]);
  const update = (id: string, key: Record<string, unknown>, metrics: Record<string, number | number[]>, t: number) => {
    let k = live.find((x) => x.id === id);
    if (k && t - k.last > c.timeout) { live.splice(live.indexOf(k), 1); emit(k, 'expired', k.last + c.timeout); k = undefined; }
    if (!k) {
      k = { id, key, metrics, refs: {}, last: t, order: order++ };
      for (const [n, v] of Object.entries(metrics)) if (typeof v === 'number') k.refs[n] = refOf(n, v);
      live.push(k);
      emit(k, 'new', t);
      return;
    }
    const pathChanged = JSON.stringify(k.metrics.path) !== JSON.stringify(metrics.path);
    k.metrics = metrics; k.last = t;
    if (pathChanged) { for (const [n, v] of Object.entries(metrics)) if (typeof v === 'number') k.refs[n] = refOf(n, v); emit(k, 'path', t); return; }
    let moved = false;
    for (const [n, v] of Object.entries(metrics)) if (typeof v === 'number' && movedFrom(n, v, k.refs[n])) moved = true;
    if (moved) { for (const [n, v] of Object.entries(metrics)) if (typeof v === 'number') k.refs[n] = refOf(n, v); emit(k, 'change', t); }
  };
  for (const f of fs) {
    if (nextP === -Infinity) nextP = (Math.floor(f.t / c.period) + 1) * c.period;
    // several multiples passed at once collapse into one export at the latest (collector.ts)
    if (f.t >= nextP) { const t = Math.floor(f.t / c.period) * c.period; expireAt(t); for (const k of live) emit(k, 'periodic', t); nextP = t + c.period; }
    const flow = { src: f.src, dst: f.dst, proto: f.proto, sport: f.sport, dport: f.dport };
    update(`flow ${JSON.stringify(flow)}`, { kind: 'flow', ...flow }, { path: f.hops.map((h) => h.sw), latency: f.hops.reduce((a, h) => a + h.lat, 0) }, f.t);
    for (const h of f.hops) {
      update(`hop ${JSON.stringify(flow)} ${h.sw}`, { kind: 'hop', ...flow, switch_id: h.sw }, { hop_latency: h.lat }, f.t);
      if (c.util) update(`egress ${h.sw} ${h.port}`, { kind: 'egress', switch_id: h.sw, port: h.port }, { tx_util: h.util }, f.t);
      update(`queue ${h.sw} ${h.q}`, { kind: 'queue', switch_id: h.sw, queue_id: h.q }, c.congestion ? { occupancy: h.occ, congestion: h.cong } : { occupancy: h.occ }, f.t);
    }
  }
  expireAt(fs[fs.length - 1].t);
  return out;
}

function writeCapture(version: TrVersion, fs: Fact[]): string {
  const records = fs.map((f, n) => {
    // wire order: most recent hop first
    const hops: HopValues[] = [...f.hops].reverse().map((h) => ({
      switchId: h.sw, ingressPort: 1, egressPort: h.port, hopLatency: h.lat, queueId: h.q, queueOccupancy: h.occ,
      egressTxUtil: h.util, queueCongestion: h.cong, ingressTs: 0, egressTs: 0, l2IngressPort: 0, l2EgressPort: 0,
    }));
    const bytes = encodeReport({
      version, sequence: n, nodeId: f.hops[f.hops.length - 1].sw, hwId: 1, tracked: true,
      instructionBitmap: version === '2.0' ? 0xff80 : 0xff00, hops,
      inner: { l4: f.proto === 6 ? 'tcp' : 'udp', srcIp: ip(f.src), dstIp: ip(f.dst), srcPort: f.sport, dstPort: f.dport },
    }).bytes;
    const sec = Math.floor(f.t);
    return { sec, frac: Math.round((f.t - sec) * 1e6), data: encodeReportFrame(bytes, { dstPort: 32766 }) };
  });
  const file = join(dir, `tr-${version}.pcap`);
  writeFileSync(file, pcapFile({}, records));
  return file;
}

async function collect(file: string, params: Record<string, string>) {
  const got: { key: unknown; value: Record<string, unknown> }[] = [];
  const stats = await runTask({ task: intCollector, params: { int_port: '32766', ...params }, sources: [`pcap:${file}`], onResult: (r) => { got.push({ key: r.key, value: r.value as Record<string, unknown> }); } });
  return { got, stats };
}

const canon = (xs: { key: unknown; value: Record<string, unknown> }[]) =>
  xs.map((x) => JSON.stringify({ ts: x.value.ts, key: x.key, value: Object.fromEntries(Object.entries(x.value).sort()) })).sort();

describe('int-collector against a naive reference', () => {
  const steps = { latency: 400, hop_latency: 150, tx_util: 200, occupancy: 700, congestion: 10 };
  const params = { latency_step: '400', hop_latency_step: '150', tx_util_step: '200', occupancy_step: '700', congestion_step: '10', period: '10', timeout: '30' };
  for (const version of ['0.5', '1.0', '2.0'] as const) {
    for (const mode of ['bin', 'threshold'] as const) {
      it(`TR v${version} reports, ${mode} mode: same events as the reference`, async () => {
        const fs = facts();
        const file = writeCapture(version, fs);
        const { got, stats } = await collect(file, { ...params, mode });
        const want = reference(fs, { mode, steps, period: 10, timeout: 30, congestion: version === '0.5', util: true });
        assert.equal(stats.items_read, fs.length);
        assert.deepEqual(stats.malformed, {});
        assert.equal(stats.local_out, got.length);
        assert.deepEqual(canon(got), canon(want));
        // the scenario exercises every event type
        const kinds = new Set(got.map((g) => g.value.event));
        assert.deepEqual([...kinds].sort(), ['change', 'expired', 'new', 'path', 'periodic']);
        // flow B's path change, first hop first, as generated
        const pathEv = got.find((g) => g.value.event === 'path')!;
        assert.deepEqual(pathEv.value.path, [4, 6, 5]);
        assert.equal(pathEv.value.ts, 1_700_000_012.25);
      });
    }
  }

  it('is deterministic: two runs give the same events in the same order', async () => {
    const file = writeCapture('2.0', facts());
    const a = await collect(file, params), b = await collect(file, params);
    assert.deepEqual(a.got, b.got);
  });

  it('one item per hop is one flatMap call (intHops)', async () => {
    const { intHops } = await import('../../src/int/int-hops.ts');
    const file = writeCapture('1.0', facts().slice(0, 4));
    const { defineTask } = await import('../../src/index.ts');
    const task = defineTask({ name: 'hops', description: '', params: { int_port: { default: 32766, description: '' } }, query: (p) => p.filter('int').flatMap(intHops) });
    const got: any[] = [];
    await runTask({ task, sources: [`pcap:${file}`], onResult: (r) => { got.push(r.value); } });
    // facts 0..3: A (3 hops), B (2 hops), A, B
    assert.equal(got.length, 3 + 2 + 3 + 2);
    assert.deepEqual(got.slice(0, 3).map((h) => [h.index, h.switch_id, h.hop_latency, h.egress_port, h.src, h.dport]), [
      [0, 1, 300, 11, '10.0.0.1', 80], [1, 2, 400, 12, '10.0.0.1', 80], [2, 3, 500, 13, '10.0.0.1', 80],
    ]);
  });
});
