// npm run bench:int — INT collector throughput.
//
// 1. Capture: N TR v2.0 reports, 6 hops each with every INT v2.x baseline field, one flow per
//    path (src/int/gen-series.ts), written to a temporary pcap; then `int-collector` runs over it
//    through the whole engine (capture reader, decoder entering the report, pushed-down filter,
//    keyed event detection), results discarded. Two settings: the default bins (the generator's
//    series are noisy: many change events) and bins wide enough that only new/periodic events
//    leave (steady state). Also the bare loop decode + detection without the engine.
// 2. UDP on loopback: a child process offers reports at increasing rates for a few seconds each
//    to `int:udp://127.0.0.1:PORT`; loss = sent - received. Prints the highest loss-free rate.
//
//   node bench/int-collector.ts [--reports N] [--udp-seconds S] [--rates 50000,100000,...] [--no-udp]
import { execFile } from 'node:child_process';
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
const N = Number(arg('reports', '500000'));
const UDP_SECONDS = Number(arg('udp-seconds', '3'));
const RATES = arg('rates', '10000,25000,50000,100000,150000,200000,300000,400000').split(',').map(Number);
const COARSE = { latency_step: '1e12', hop_latency_step: '1e12', tx_util_step: '1e12', occupancy_step: '1e12', congestion_step: '1e12' };

const dir = mkdtempSync(join(tmpdir(), 'intstream-bench-int-'));
try {
  const t0 = performance.now();
  const next = flowPerPathSeries({ version: '2.0', hops: 6, seed: 7, paths: 64 });
  const frames: Uint8Array[] = [];
  let bytes = 0;
  for (let k = 0; k < N; k++) { const f = encodeReportFrame(encodeReport(next(k)).bytes, { dstPort: 32766 }); frames.push(f); bytes += f.length; }
  const file = join(dir, 'reports.pcap');
  writeFileSync(file, pcapFile(frames, 1_700_000_000_000_000, 20)); // 50k reports/s of event time
  frames.length = 0;
  console.log(`capture: ${N} TR v2.0 reports, 6 hops, every field, 64 flows/paths, avg ${(bytes / N).toFixed(0)} B/frame (${(performance.now() - t0).toFixed(0)} ms to generate)`);

  async function viaEngine(label: string, params: Record<string, string>): Promise<void> {
    let events = 0;
    const run = () => runTask({ task: intCollector, params: { int_port: '32766', ...params }, sources: [`pcap:${file}`], onResult: () => { events++; } });
    await run(); // warm-up
    const best = { wall: Infinity, cpu: Infinity };
    for (let i = 0; i < 3; i++) {
      events = 0;
      const c = process.cpuUsage(); const s = performance.now();
      await run();
      const wall = performance.now() - s; const cu = process.cpuUsage(c);
      best.wall = Math.min(best.wall, wall); best.cpu = Math.min(best.cpu, (cu.user + cu.system) / 1000);
    }
    console.log(`engine, ${label}: ${(N / best.wall / 1e3).toFixed(2)} M reports/s wall, ${(N / best.cpu / 1e3).toFixed(2)} M reports/s per CPU-second; ${events} events (${((events / N) * 100).toFixed(2)}% of reports)`);
  }
  await viaEngine('default bins', {});
  await viaEngine('steady state (wide bins)', COARSE);

  // bare loop: decode into one Packet and detect, records from the pcap in memory
  {
    const buf = readFileSync(file);
    const offs: number[] = [], lens: number[] = [];
    for (let p = 24; p + 16 <= buf.length;) { const l = buf.readUInt32LE(p + 8); offs.push(p + 16); lens.push(l); p += 16 + l; }
    const u8 = new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
    const pass = (steps: number) => {
      const pk = new Packet(); configurePacketInt(pk, { intPort: 32766 });
      const st = new IntCollectorState({ latencyStep: steps, hopLatencyStep: steps, txUtilStep: steps, occupancyStep: steps, congestionStep: steps });
      let ev = 0; const out = () => { ev++; };
      const c = process.cpuUsage();
      for (let i = 0; i < offs.length; i++) {
        decodePacket(pk, u8, offs[i], lens[i], lens[i], 1_700_000_000 + i * 2e-5, 1);
        if (pk.intStatus === 0) st.onReport(pk, pk.ts, out);
      }
      const cu = process.cpuUsage(c);
      return { cpu: (cu.user + cu.system) / 1000, ev };
    };
    for (const steps of [1e12]) {
      pass(steps);
      let best = Infinity, ev = 0;
      for (let i = 0; i < 3; i++) { const r = pass(steps); if (r.cpu < best) best = r.cpu; ev = r.ev; }
      console.log(`bare loop (decode + detection, no engine), steady state: ${(N / best / 1e3).toFixed(2)} M reports/s per CPU-second; ${ev} events`);
    }
  }

  if (!process.argv.includes('--no-udp')) {
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
