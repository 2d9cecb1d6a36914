// npm run bench:int — INT collector throughput (issue 13: parsing + event detection per core).
//
// 1. Capture: N TR v2.0 reports, 6 hops each with every INT v2.x baseline field, one flow per
//    path (src/int/gen-series.ts), written to a temporary pcap. Each measurement then runs in a
//    child process of its own (so its peak RSS is its own, not the generator's): one warm-up run
//    and 3 timed runs, the best kept.
//    - engine: `int-collector` over the pcap through the whole engine (capture reader, decoder
//      entering the report, pushed-down filter, keyed event detection), results discarded.
//    - bare loop: decode into one Packet + IntCollectorState.onReport, records from the pcap in
//      memory (the file is read whole first: this child's RSS includes it).
//    Two settings each: the default bins (the generator's series are noisy: ~10 change events
//    per report, so event objects dominate) and bins wide enough that only new/periodic events
//    leave (steady state: the cost of parsing and detection themselves).
//    Figures: M reports/s per core = reports / CPU seconds of the child (user + system, every
//    thread: what one core delivers however busy the machine is); CPU s per M reports; wall
//    M reports/s; events per report; the child's peak RSS (VmHWM on Linux).
// 2. Keys: the bare loop over 256k flows (64k paths x 4 source ports) to show the state's size:
//    live keys and the child's heap and peak RSS.
// 3. UDP on loopback: a child process offers reports at increasing rates for a few seconds each
//    to `int:udp://127.0.0.1:PORT`; loss = sent - received. Prints the highest loss-free rate.
//
//   node bench/int-collector.ts [--reports N] [--no-keys] [--udp-seconds S] [--rates 50000,...] [--no-udp]
//   (internal: --child engine|bare --file F --steps S)
import { execFile, execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runTask } from '../src/run-task.ts';
import intCollector from '../src/apps/int-collector.ts';
import { encodeReport, encodeReportFrame, pcapFile } from '../src/gen/int-gen.ts';
import { flowPerPathSeries } from '../src/int/gen-series.ts';
import { Packet } from '../src/decode/packet.ts';
import { decodePacket } from '../src/decode/decoder.ts';
import { configurePacketInt } from '../src/decode/int-view.ts';
import { IntCollectorState } from '../src/int/collector.ts';

function arg(name: string, def: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : def;
}
const SELF = fileURLToPath(import.meta.url);
const WIDE = 1e12;

interface Result { reports: number; cpuMs: number; wallMs: number; events: number; rssMb: number; heapMb?: number; keys?: number }

/** Records of a classic pcap read whole: offsets and lengths. */
function readPcap(file: string): { u8: Uint8Array; offs: number[]; lens: number[] } {
  const buf = readFileSync(file);
  const offs: number[] = [], lens: number[] = [];
  for (let p = 24; p + 16 <= buf.length;) { const l = buf.readUInt32LE(p + 8); offs.push(p + 16); lens.push(l); p += 16 + l; }
  return { u8: new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength), offs, lens };
}

/**
 * This process's peak RSS, MB: Linux's VmHWM (the high-water mark of this address space; the
 * rusage maxRSS of a child also counts the parent it was forked from, before exec).
 */
function peakRssMb(): number {
  try {
    const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync('/proc/self/status', 'utf8'));
    if (m) return Number(m[1]) / 1024;
  } catch { /* not Linux */ }
  return process.resourceUsage().maxRSS / 1024;
}

async function child(mode: string): Promise<void> {
  const file = arg('file', ''), steps = Number(arg('steps', '0'));
  const best = { cpuMs: Infinity, wallMs: Infinity };
  let events = 0, reports = 0, keys = 0;
  const time = async (f: () => Promise<void> | void) => {
    const c = process.cpuUsage(), s = performance.now();
    await f();
    const wall = performance.now() - s, cu = process.cpuUsage(c);
    best.wallMs = Math.min(best.wallMs, wall); best.cpuMs = Math.min(best.cpuMs, (cu.user + cu.system) / 1000);
  };
  if (mode === 'engine') {
    const params: Record<string, string> = { int_port: '32766' };
    if (steps > 0) for (const k of ['latency_step', 'hop_latency_step', 'tx_util_step', 'occupancy_step', 'congestion_step']) params[k] = String(steps);
    const run = async () => { events = 0; const s = await runTask({ task: intCollector, params, sources: [`pcap:${file}`], onResult: () => { events++; } }); reports = s.items_read; };
    await run(); // warm-up
    for (let i = 0; i < 3; i++) await time(run);
  } else {
    const { u8, offs, lens } = readPcap(file);
    reports = offs.length;
    const o = steps > 0 ? { latencyStep: steps, hopLatencyStep: steps, txUtilStep: steps, occupancyStep: steps, congestionStep: steps } : {};
    const pass = () => {
      const pk = new Packet(); configurePacketInt(pk, { intPort: 32766 });
      const st = new IntCollectorState(o);
      events = 0; const out = () => { events++; };
      for (let i = 0; i < offs.length; i++) {
        decodePacket(pk, u8, offs[i], lens[i], lens[i], 1_700_000_000 + i * 2e-5, 1);
        if (pk.intStatus === 0) st.onReport(pk, pk.ts, out);
      }
      keys = st.size;
    };
    pass();
    for (let i = 0; i < 3; i++) await time(pass);
  }
  const r: Result = { reports, cpuMs: best.cpuMs, wallMs: best.wallMs, events, rssMb: peakRssMb(), heapMb: process.memoryUsage().heapUsed / 2 ** 20, keys };
  process.stdout.write(JSON.stringify(r) + '\n');
}

function measure(mode: string, file: string, steps: number): Result {
  const out = execFileSync(process.execPath, [SELF, '--child', mode, '--file', file, '--steps', String(steps)], { encoding: 'utf8', maxBuffer: 1 << 20 });
  return JSON.parse(out.trim().split('\n').pop()!) as Result;
}

function row(label: string, r: Result): string {
  const perCore = r.reports / r.cpuMs / 1e3, cpuPerM = (r.cpuMs / 1e3) / (r.reports / 1e6);
  return `${label.padEnd(36)} ${perCore.toFixed(2).padStart(6)} M/s per core  ${cpuPerM.toFixed(3).padStart(6)} CPU s per M  ${(r.reports / r.wallMs / 1e3).toFixed(2).padStart(5)} M/s wall  ${(r.events / r.reports).toFixed(3).padStart(6)} events/report  peak RSS ${r.rssMb.toFixed(0).padStart(4)} MB`;
}

function writeCapture(file: string, n: number, paths: number, ports: number): number {
  const next = flowPerPathSeries({ version: '2.0', hops: 6, seed: 7, paths });
  const frames: Uint8Array[] = [];
  let bytes = 0;
  for (let k = 0; k < n; k++) {
    const spec = next(k);
    if (ports > 1) spec.inner = { ...spec.inner, dstPort: 5001 + (Math.floor(k / paths) % ports) };
    const f = encodeReportFrame(encodeReport(spec).bytes, { dstPort: 32766 });
    frames.push(f); bytes += f.length;
  }
  writeFileSync(file, pcapFile(frames, 1_700_000_000_000_000, 20)); // 50k reports/s of event time
  return bytes / n;
}

async function main(): Promise<void> {
  const N = Number(arg('reports', '500000'));
  const UDP_SECONDS = Number(arg('udp-seconds', '3'));
  const RATES = arg('rates', '10000,25000,50000,100000,150000,200000,300000,400000').split(',').map(Number);
  const dir = mkdtempSync(join(tmpdir(), 'intstream-bench-int-'));
  try {
    const t0 = performance.now();
    const file = join(dir, 'reports.pcap');
    const avg = writeCapture(file, N, 64, 1);
    console.log(`capture: ${N} TR v2.0 reports, 6 hops, every field, 64 flows/paths, avg ${avg.toFixed(0)} B/frame (${(performance.now() - t0).toFixed(0)} ms to generate); node ${process.version}`);
    console.log(row('engine, default bins', measure('engine', file, 0)));
    console.log(row('engine, steady state (wide bins)', measure('engine', file, WIDE)));
    console.log(row('bare loop, default bins', measure('bare', file, 0)));
    console.log(row('bare loop, steady state (wide bins)', measure('bare', file, WIDE)));

    if (!process.argv.includes('--no-keys')) {
      const many = join(dir, 'many-flows.pcap');
      const m = Math.max(N, 4 * 65536 * 2);
      writeCapture(many, m, 65536, 4);
      const r = measure('bare', many, WIDE);
      console.log(row('bare loop, 256k flows (steady)', r) + `  ${r.keys} live keys, heap ${r.heapMb!.toFixed(0)} MB`);
      rmSync(many, { force: true });
    }

    if (!process.argv.includes('--no-udp')) {
      const COARSE = { latency_step: '1e12', hop_latency_step: '1e12', tx_util_step: '1e12', occupancy_step: '1e12', congestion_step: '1e12' };
      console.log(`UDP loopback, ${UDP_SECONDS} s per load, sender in a child process, receiver int:udp + int-collector (steady state):`);
      const sender = fileURLToPath(new URL('./int-udp-sender.ts', import.meta.url));
      let best = 0;
      for (const rate of RATES) {
        const port = 34000 + Math.floor(Math.random() * 2000);
        let received = 0;
        const runP = runTask({ task: intCollector, params: COARSE, sources: [`int:udp://127.0.0.1:${port}?idle=1`], onResult: () => undefined })
          .then((s) => { received = s.items_read; return s; });
        await new Promise((r) => setTimeout(r, 200));
        const sent = await new Promise<{ sent: number; elapsed_s: number }>((res, rej) => execFile(process.execPath, [sender, '127.0.0.1', String(port), String(rate), String(UDP_SECONDS)], (e, out) => (e ? rej(e) : res(JSON.parse(out)))));
        const stats = await runP;
        const lost = sent.sent - received;
        const offered = sent.sent / sent.elapsed_s;
        console.log(`  offered ${(offered / 1e3).toFixed(0).padStart(4)} k/s (asked ${rate / 1e3} k/s): received ${received} of ${sent.sent}, loss ${((lost / sent.sent) * 100).toFixed(2)}%${stats.skipped.udp_queue_full ? `, queue-full drops ${stats.skipped.udp_queue_full}` : ''}`);
        if (lost === 0 && offered > best) best = offered;
      }
      console.log(`highest loss-free rate: ${(best / 1e3).toFixed(0)} k reports/s`);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const mode = arg('child', '');
if (mode !== '') await child(mode);
else await main();
