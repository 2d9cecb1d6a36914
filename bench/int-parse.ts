// INT report decoding throughput: 1M TR v2.0 reports, 6 hops each, every INT v2.x baseline
// metadata field (instruction bitmap 0xff80), generated in memory by src/gen/int-gen.ts and then
// decoded with one reusable IntReport. Prints reports/s and MB/s (report bytes = UDP payload).
// Then the same with hop columns on demand (IntReportOptions.hopColumns 0, as packets decode
// for tasks): only the two columns read (switch id, hop latency) are decoded.
//
//   node bench/int-parse.ts [--reports N] [--hops N] [--passes N]

import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { createIntReport, decodeIntReport, ensureHopColumns, F_HOP_LATENCY, F_SWITCH_ID, INT_OK } from '../src/decode/int/index.ts';
import { encodeReportInto, maxReportSize, reportSeries } from '../src/gen/int-gen.ts';

function arg(name: string, def: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : def;
}

const N = arg('reports', 1_000_000);
const HOPS = arg('hops', 6);
const PASSES = arg('passes', 5);

const t0 = performance.now();
const next = reportSeries({ version: '2.0', hops: HOPS, seed: 7, bitmap: 0xff80 });
const probeSpec = reportSeries({ version: '2.0', hops: HOPS, seed: 7, bitmap: 0xff80 })(0);
const probe = new Uint8Array(maxReportSize(probeSpec));
const slot = encodeReportInto(probe, 0, probeSpec).length + 8; // every report has the same shape
const buf = new Uint8Array(N * slot);
const offs = new Int32Array(N);
const lens = new Int32Array(N);
let p = 0;
for (let k = 0; k < N; k++) {
  const l = encodeReportInto(buf, p, next(k));
  offs[k] = p;
  lens[k] = l.length;
  p += l.length;
}
const bytes = p;
const genMs = performance.now() - t0;

// collect the generator's garbage now, so that no GC work overlaps the timed decode passes
setFlagsFromString('--expose-gc');
(runInNewContext('gc') as () => void)();

const r = createIntReport(16);
const lazy = createIntReport(16, { hopColumns: 0 });
let check = 0;
let bad = 0;
let cpuMs = 0;
function pass(): number {
  const c = process.cpuUsage();
  const s = performance.now();
  for (let k = 0; k < N; k++) {
    const st = decodeIntReport(buf, offs[k], lens[k], r);
    if (st !== INT_OK || r.hopCount !== HOPS) bad++;
    check += r.hops.switchId[0] + r.hops.hopLatency[HOPS - 1];
  }
  const wall = performance.now() - s;
  const cu = process.cpuUsage(c);
  cpuMs = (cu.user + cu.system) / 1000;
  return wall;
}
pass(); // warm-up
const times: number[] = [];
const cpuTimes: number[] = [];
for (let i = 0; i < PASSES; i++) {
  times.push(pass());
  cpuTimes.push(cpuMs);
}
cpuTimes.sort((a, b) => a - b);
times.sort((a, b) => a - b);
const best = times[0];
const median = times[Math.floor(times.length / 2)];
const mb = bytes / 1e6;
console.log(`generated ${N} TR v2.0 reports (${HOPS} hops, bitmap 0xff80, avg ${(bytes / N).toFixed(1)} B) in ${genMs.toFixed(0)} ms`);
console.log(`decode best   ${(N / best * 1000 / 1e6).toFixed(2)} M reports/s  ${(mb / best * 1000).toFixed(0)} MB/s  (${best.toFixed(0)} ms)`);
console.log(`decode median ${(N / median * 1000 / 1e6).toFixed(2)} M reports/s  ${(mb / median * 1000).toFixed(0)} MB/s  (${median.toFixed(0)} ms, ${PASSES} passes)`);
const cpuBest = cpuTimes[0];
// CPU time of this process: what one core delivers even when other processes share the machine
console.log(`decode per CPU-second (best pass) ${(N / cpuBest * 1000 / 1e6).toFixed(2)} M reports/s  ${(mb / cpuBest * 1000).toFixed(0)} MB/s  (${cpuBest.toFixed(0)} ms CPU)`);
console.log(`passes (ms): ${times.map((t) => t.toFixed(0)).join(' ')}; errors ${bad}, checksum ${check}`);

// hop columns on demand: the same reports, reading switch id and hop latency only
let lazyCheck = 0;
function lazyPass(): number {
  const c = process.cpuUsage();
  for (let k = 0; k < N; k++) {
    const st = decodeIntReport(buf, offs[k], lens[k], lazy);
    if (st !== INT_OK || lazy.hopCount !== HOPS) bad++;
    ensureHopColumns(lazy, F_SWITCH_ID | F_HOP_LATENCY);
    lazyCheck += lazy.hops.switchId[0] + lazy.hops.hopLatency[HOPS - 1];
  }
  const cu = process.cpuUsage(c);
  return (cu.user + cu.system) / 1000;
}
lazyPass(); // warm-up
lazyCheck = 0;
let lazyBest = Infinity;
for (let i = 0; i < PASSES; i++) lazyBest = Math.min(lazyBest, lazyPass());
console.log(`decode, 2 of 9 hop columns on demand, per CPU-second (best pass) ${(N / lazyBest * 1000 / 1e6).toFixed(2)} M reports/s  (${lazyBest.toFixed(0)} ms CPU; checksum ${lazyCheck / PASSES === check / (PASSES + 1) ? 'equal' : 'DIFFERS'})`);
if (bad !== 0 || lazyCheck / PASSES !== check / (PASSES + 1)) process.exitCode = 1;
