// TR v2.0 packets holding several individual reports (Telemetry Report v2.0 §3: reports follow
// one group header in one UDP payload): every report is an item. Packets are built by
// src/gen/int-gen.ts's encoder (one individual report each, then joined behind one group header);
// expected values come from the encoder inputs, never from the decoder.
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createSocket } from 'node:dgram';
import { encodeReport, encodeReportFrame, type HopValues } from '../../src/gen/int-gen.ts';
import { pcapFile } from '../support/pcap-writer.ts';
import { runTask } from '../../src/run-task.ts';
import { defineTask } from '../../src/index.ts';
import intCollector from '../../src/apps/int-collector.ts';
import { Packet } from '../../src/decode/packet.ts';
import { decodePacket, decodePacketIntReport } from '../../src/decode/decoder.ts';
import { configurePacketInt } from '../../src/decode/int-view.ts';
import { LocalProcessor } from '../../src/local/local-processor.ts';
import { splitPlan } from '../../src/query/pipeline.ts';
import { buildPlan } from '../../src/query/task.ts';
import { SkipCounters } from '../../src/decode/skip-counters.ts';
import { openSourceSpec } from '../../src/sources/source-spec.ts';

const dir = mkdtempSync(join(tmpdir(), 'intstream-int-coalesced-'));
after(() => rmSync(dir, { recursive: true, force: true }));

interface Hop { sw: number; lat: number; port: number; util: number; q: number; occ: number }
interface Rep { src: number; dst: number; proto: 6 | 17; sport: number; dport: number; hops: Hop[] }
interface Pkt { t: number; node: number; seq: number; reports: Rep[] }

const ipText = (a: number) => [a >>> 24, (a >>> 16) & 255, (a >>> 8) & 255, a & 255].join('.');

/** 12 packets of 2, 3 and 4 reports: different flows and switches in each, some flows again later. */
function packets(): Pkt[] {
  const out: Pkt[] = [];
  let f = 0;
  for (let i = 0; i < 12; i++) {
    const n = 2 + (i % 3);
    const reports: Rep[] = [];
    for (let j = 0; j < n; j++, f++) {
      const flow = f % 7; // 7 distinct flows, revisited
      const len = 1 + ((flow + j) % 4);
      const hops: Hop[] = [];
      for (let k = 0; k < len; k++) {
        const sw = 100 + flow * 10 + k + (i >= 6 && flow === 3 ? 5 : 0); // flow 3 changes path half-way
        hops.push({ sw, lat: 200 + 37 * i + 11 * k + 3 * j, port: 1 + k, util: 10 * i + k, q: k % 2, occ: 500 + 13 * i + k });
      }
      reports.push({ src: 0x0a000001 + flow, dst: 0x0a010001 + flow, proto: flow % 2 ? 17 : 6, sport: 1000 + flow, dport: 80 + flow, hops });
    }
    out.push({ t: 1_700_000_000 + i * 0.5, node: 900 + i, seq: i, reports });
  }
  return out;
}

/** UDP payload: one group header (from the first encoded report) and every individual report. */
function payload(p: Pkt): Uint8Array {
  const parts = p.reports.map((r) => {
    const hops: HopValues[] = [...r.hops].reverse().map((h) => ({ // wire order: most recent first
      switchId: h.sw, ingressPort: 9, egressPort: h.port, hopLatency: h.lat, queueId: h.q, queueOccupancy: h.occ,
      egressTxUtil: h.util, ingressTs: 0, egressTs: 0, l2IngressPort: 0, l2EgressPort: 0,
    }));
    return encodeReport({
      version: '2.0', nodeId: p.node, sequence: p.seq, hwId: 1, tracked: true, instructionBitmap: 0xff80, hops,
      inner: { l4: r.proto === 6 ? 'tcp' : 'udp', srcIp: r.src, dstIp: r.dst, srcPort: r.sport, dstPort: r.dport },
    }).bytes;
  });
  let len = 8;
  for (const b of parts) len += b.length - 8;
  const out = new Uint8Array(len);
  out.set(parts[0].subarray(0, 8), 0);
  let o = 8;
  for (const b of parts) { out.set(b.subarray(8), o); o += b.length - 8; }
  return out;
}

function capture(ps: Pkt[], name: string): string {
  const records = ps.map((p) => {
    const sec = Math.floor(p.t);
    return { sec, frac: Math.round((p.t - sec) * 1e6), data: encodeReportFrame(payload(p), { dstPort: 32766 }) };
  });
  const file = join(dir, name);
  writeFileSync(file, pcapFile({}, records));
  return file;
}

const perReport = defineTask({
  name: 'per-report', description: '', params: { int_port: { default: 32766, description: '' } },
  query: (s) => s.filter('int').map((p) => {
    const v = p.int!;
    const path: number[] = [], lat: number[] = [];
    for (let k = 0; k < v.hop_count; k++) { path.push(v.switchId(k)); lat.push(v.hopLatency(k)); }
    const l4 = p.tcp ?? p.udp;
    return { node: v.switch_id, seq: v.sequence, src: p.ip!.src, dst: p.ip!.dst, proto: p.ip!.proto, sport: l4!.sport, dport: l4!.dport, path, lat, outer: p.outer!.ip.src };
  }),
});

function expectedItems(ps: Pkt[]) {
  return ps.flatMap((p) => p.reports.map((r) => ({
    node: p.node, seq: p.seq, src: ipText(r.src), dst: ipText(r.dst), proto: r.proto, sport: r.sport, dport: r.dport,
    path: r.hops.map((h) => h.sw), lat: r.hops.map((h) => h.lat), outer: '192.168.0.1',
  })));
}

describe('TR v2.0 packets with several reports', () => {
  it('every individual report is an item, in packet order, with its own monitored packet and hops', async () => {
    const ps = packets();
    const file = capture(ps, 'coalesced.pcap');
    const got: unknown[] = [];
    const stats = await runTask({ task: perReport, sources: [`pcap:${file}`], onResult: (r) => { got.push(r.value); } });
    const want = expectedItems(ps);
    assert.equal(want.length, 12 / 3 * (2 + 3 + 4));
    assert.equal(stats.items_read, ps.length);
    assert.deepEqual(stats.malformed, {});
    assert.deepEqual(got, want);
  });

  it('a broken further report is counted malformed; the reports before it stay items', async () => {
    const ps = packets().slice(0, 1); // 2 reports
    const bytes = payload(ps[0]);
    const cut = bytes.subarray(0, bytes.length - 4); // the second report's Report Length overruns
    const file = join(dir, 'cut.pcap');
    writeFileSync(file, pcapFile({}, [{ sec: 1_700_000_000, frac: 0, data: encodeReportFrame(cut, { dstPort: 32766 }) }]));
    const got: unknown[] = [];
    const stats = await runTask({ task: perReport, sources: [`pcap:${file}`], onResult: (r) => { got.push(r.value); } });
    assert.deepEqual(got, expectedItems(ps).slice(0, 1));
    assert.deepEqual(stats.malformed, { int_truncated_individual_report: 1 });
  });

  it('int-collector sees every report: keys, paths and latencies from the encoder inputs', async () => {
    const ps = packets();
    const file = capture(ps, 'coalesced-collector.pcap');
    const got: { key: any; value: any }[] = [];
    await runTask({ task: intCollector, params: { int_port: '32766', period: '0', timeout: '0', latency_step: '1', hop_latency_step: '1', tx_util_step: '1', occupancy_step: '1' }, sources: [`pcap:${file}`], onResult: (r) => { got.push({ key: r.key, value: r.value }); } });
    // naive expectation: every report in order; step 1 (bin) means any change of value is an event
    const last = new Map<string, string>();
    const want: { key: any; value: any }[] = [];
    const see = (key: Record<string, unknown>, value: Record<string, unknown>, t: number, metric: string) => {
      const id = JSON.stringify(key), prev = last.get(id);
      if (prev === undefined) want.push({ key, value: { event: 'new', ts: t, ...value } });
      else if (key.kind === 'flow' && JSON.parse(prev).path.join() !== (value.path as number[]).join()) want.push({ key, value: { event: 'path', ts: t, ...value } });
      else if (JSON.parse(prev)[metric] !== value[metric]) want.push({ key, value: { event: 'change', ts: t, ...value } });
      last.set(id, JSON.stringify(value));
    };
    for (const p of ps) {
      for (const r of p.reports) {
        const flow = { src: ipText(r.src), dst: ipText(r.dst), proto: r.proto, sport: r.sport, dport: r.dport };
        see({ kind: 'flow', ...flow }, { path: r.hops.map((h) => h.sw), latency: r.hops.reduce((a, h) => a + h.lat, 0) }, p.t, 'latency');
        for (const h of r.hops) {
          see({ kind: 'hop', ...flow, switch_id: h.sw }, { hop_latency: h.lat }, p.t, 'hop_latency');
          see({ kind: 'egress', switch_id: h.sw, port: h.port }, { tx_util: h.util }, p.t, 'tx_util');
          see({ kind: 'queue', switch_id: h.sw, queue_id: h.q }, { occupancy: h.occ }, p.t, 'occupancy');
        }
      }
    }
    const canon = (xs: { key: any; value: any }[]) => xs.map((x) => JSON.stringify([x.key, Object.entries(x.value).sort()])).sort();
    assert.deepEqual(canon(got), canon(want));
    assert.ok(want.filter((w) => w.value.event === 'path').length > 0);
  });

  it('per-window counters of the local stage: packets read, reports after the filter', async () => {
    const ps = packets();
    const file = capture(ps, 'coalesced-windows.pcap');
    const split = splitPlan(buildPlan(perReport as any, {} as any, { window: 1 }));
    const src = await openSourceSpec(`pcap:${file}`);
    await src.open();
    const lp = new LocalProcessor(0, src, split, { skipped: new SkipCounters(), lateness: 0, sendProbe: null as any }, async () => {}, { intPort: 32766 });
    lp.windowSize = 1;
    await lp.run();
    await src.close();
    const got = new Map(lp.takeWindows().map(([w, read, passed]) => [w, [read, passed]]));
    const want = new Map<number, number[]>();
    for (const p of ps) {
      const w = Math.floor(p.t);
      const c = want.get(w) ?? [0, 0];
      c[0]++; c[1] += p.reports.length;
      want.set(w, c);
    }
    assert.deepEqual(got, want);
  });

  it('a clone of a further report is that report', () => {
    const p0 = packets()[2]; // 4 reports
    const frame = encodeReportFrame(payload(p0), { dstPort: 32766 });
    const buf = new Uint8Array(frame.length + 5); buf.set(frame, 5); // not at offset 0: clone shifts
    const p = new Packet(); configurePacketInt(p, { intPort: 32766 });
    decodePacket(p, buf, 5, frame.length, frame.length, 1, 1);
    const seen: string[] = [];
    const want = p0.reports.map((r) => `${ipText(r.src)} ${r.hops.map((h) => h.sw).join(',')}`);
    const at: number[] = [];
    for (let o = p.intReport!.nextReportOffset; o >= 0; o = p.intReport!.nextReportOffset) { at.push(o); decodePacketIntReport(p, buf, 5, frame.length, frame.length, 1, 1, o); }
    assert.equal(at.length, 3);
    for (const o of [-1, ...at]) {
      decodePacketIntReport(p, buf, 5, frame.length, frame.length, 1, 1, o);
      const c = p.clone();
      decodePacket(p, buf, 5, frame.length, frame.length, 1, 1); // the original moves on
      seen.push(`${c.ip!.src} ${c.int!.path}`);
    }
    assert.deepEqual(seen, want);
  });

  it('int:udp: a datagram with several reports gives one item per report', async () => {
    const ps = packets().slice(0, 3);
    const port = 36000 + Math.floor(Math.random() * 2000);
    const got: any[] = [];
    const run = runTask({ task: perReport, sources: [`int:udp://127.0.0.1:${port}?max=${ps.length}&idle=3`], onResult: (r) => { got.push(r.value); } });
    await new Promise((r) => setTimeout(r, 300));
    const sock = createSocket('udp4');
    for (const p of ps) await new Promise<void>((res, rej) => sock.send(payload(p), port, '127.0.0.1', (e) => (e ? rej(e) : res())));
    sock.close();
    const stats = await run;
    assert.equal(stats.items_read, ps.length);
    const want = expectedItems(ps).map((w) => ({ ...w, outer: '127.0.0.1' }));
    assert.deepEqual(got, want);
  });
});
