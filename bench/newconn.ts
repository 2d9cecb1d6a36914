/**
 * `npm run bench`: tcp-new-conn end to end against the C reference and tcpdump, same file, same
 * run, one core each (taskset -c 0). Not a test: it prints figures, it never fails on time.
 *
 *   1. generates bench/data/bench-PACKETS.pcap once (tools/gen-traffic.ts, 5 M packets, anomalies)
 *   2. builds the C reference bench/ref-newconn.c (tcp-new-conn as a plain libpcap loop) into
 *      bench/data/ref-newconn: cc -O2 ... -lpcap (Debian: libpcap-dev); without a C compiler or
 *      libpcap it says so and runs the rest
 *   3. warms the page cache, then runs each command --runs times (default 5), interleaved,
 *      and keeps the best wall time of each
 *   4. checks that intstream's results equal the C reference's (sorted JSON lines); the exit
 *      status is 1 when they differ
 *   5. prints packets/s, intstream / C ratio, and intstream's peak RSS
 *
 * Options: --packets N (default 5000000), --runs N, --file PATH (use an existing capture),
 * --workers N: also run intstream with `--workers N` (local-stage threads, see README "Workers"),
 * on every core (no taskset), beside the one-core runs; its results are checked the same way.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';
import { generate } from '../tools/gen-traffic.ts';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const { values } = parseArgs({ options: { packets: { type: 'string', default: '5000000' }, runs: { type: 'string', default: '5' }, file: { type: 'string' }, workers: { type: 'string' } } });
const packets = Number(values.packets);
const runs = Number(values.runs);
const data = join(root, 'bench', 'data');
mkdirSync(data, { recursive: true });

const file = values.file ? resolve(values.file) : join(data, `bench-${packets}.pcap`);
if (!existsSync(file)) {
  process.stderr.write(`generating ${file} (${packets} packets)...\n`);
  await generate(file, { packets, seconds: 60, seed: 1, start: 1700000000, hosts: 100000, anomalies: true });
}
const refSrc = join(root, 'bench', 'ref-newconn.c');
const refBin = join(data, 'ref-newconn');
let haveRef = existsSync(refBin) && statSync(refBin).mtimeMs >= statSync(refSrc).mtimeMs;
if (!haveRef) {
  try {
    execFileSync('cc', ['-O2', '-o', refBin, refSrc, '-lpcap'], { stdio: 'inherit' });
    haveRef = true;
  } catch (e) {
    process.stderr.write(`cannot build the C reference (${(e as Error).message.split('\n')[0]}): it needs a C compiler and libpcap (Debian: apt-get install gcc libpcap-dev); running without it\n`);
  }
}
readFileSync(file); // page cache warm for everyone (and an honest size for the report)
const bytes = statSync(file).size;
const node = process.execPath;
const taskset = existsSync('/usr/bin/taskset') ? ['taskset', '-c', '0'] : [];
const timeBin = existsSync('/usr/bin/time') ? ['/usr/bin/time', '-f', '%e %M'] : [];

interface Cmd { name: string; argv: string[]; out?: string; allCores?: boolean }
const bpf = '(tcp[13] & 0x12 == 2) or (ip6 and ip6[6] == 6 and ip6[53] & 0x12 == 2) or (vlan and ((tcp[13] & 0x12 == 2) or (ip6 and ip6[6] == 6 and ip6[53] & 0x12 == 2)))';
const cmds: Cmd[] = [
  { name: 'intstream tcp-new-conn', argv: [node, join(root, 'bin', 'intstream.js'), 'run', 'tcp-new-conn', '--source', `pcap:${file}`, '--format', 'jsonl', '-q', '--stats', join(data, 'bench-stats.json')], out: join(data, 'intstream.jsonl') },
];
if (values.workers !== undefined) {
  const w = values.workers;
  cmds.push({ name: `intstream --workers ${w}`, argv: [...cmds[0].argv.slice(0, -2), '--workers', w, '--stats', join(data, 'bench-stats-workers.json')], out: join(data, 'intstream-workers.jsonl'), allCores: true });
}
if (haveRef) cmds.push({ name: 'C reference (libpcap)', argv: [refBin, file, '10', '100'], out: join(data, 'ref.jsonl') });
if (existsSync('/usr/bin/tcpdump') || existsSync('/usr/sbin/tcpdump')) cmds.push({ name: 'tcpdump -r -w /dev/null (BPF)', argv: ['tcpdump', '-r', file, '-w', '/dev/null', bpf] });

const best = new Map<string, { wall: number; rssKb: number }>();
for (let r = 0; r < runs; r++) {
  for (const c of cmds) {
    const argv = [...timeBin, ...(c.allCores ? [] : taskset), ...c.argv];
    const t0 = performance.now();
    const res = spawnSync(argv[0], argv.slice(1), { encoding: 'utf8', maxBuffer: 1 << 28 });
    const wall = (performance.now() - t0) / 1000;
    if (res.status !== 0) throw new Error(`${c.name} failed: ${res.stderr}`);
    if (c.out) writeFileSync(c.out, res.stdout);
    const m = timeBin.length ? /(\d+\.\d+) (\d+)\s*$/.exec(res.stderr) : null;
    const rssKb = m ? Number(m[2]) : NaN;
    const prev = best.get(c.name);
    if (!prev || wall < prev.wall) best.set(c.name, { wall, rssKb });
  }
}

const stats = JSON.parse(readFileSync(join(data, 'bench-stats.json'), 'utf8'));
const n = stats.items_read as number;
const sorted = (f: string) => readFileSync(f, 'utf8').split('\n').filter(Boolean).sort().join('\n');
const same = haveRef ? cmds.filter((c) => c.out && c.name.startsWith('intstream')).every((c) => sorted(c.out!) === sorted(join(data, 'ref.jsonl'))) : null;

const lines = [`file: ${file} (${n.toLocaleString('en-US')} packets, ${(bytes / 1e6).toFixed(0)} MB); best of ${runs} runs, one core each (taskset -c 0)${values.workers !== undefined ? `, --workers on all ${availableParallelism()} cores` : ''}`, ''];
lines.push(`${'command'.padEnd(32)} ${'wall s'.padStart(8)} ${'Mpkt/s'.padStart(8)} ${'MB/s'.padStart(8)} ${'peak RSS MB'.padStart(12)}`);
for (const c of cmds) {
  const b = best.get(c.name)!;
  lines.push(`${c.name.padEnd(32)} ${b.wall.toFixed(3).padStart(8)} ${(n / b.wall / 1e6).toFixed(2).padStart(8)} ${(bytes / b.wall / 1e6).toFixed(0).padStart(8)} ${(b.rssKb / 1024).toFixed(0).padStart(12)}`);
}
const ours = best.get(cmds[0].name)!, ref = best.get('C reference (libpcap)');
lines.push('');
if (ref) lines.push(`intstream / C reference speed ratio: ${(ref.wall / ours.wall).toFixed(2)} (target >= 1.0)`);
const workers = cmds.find((c) => c.allCores);
if (workers) {
  const b = best.get(workers.name)!;
  if (ref) lines.push(`${workers.name} / C reference speed ratio: ${(ref.wall / b.wall).toFixed(2)} (issue 13's target with 2 workers: >= 1.8)`);
  lines.push(`${workers.name} / intstream on one thread: ${(ours.wall / b.wall).toFixed(2)}x; peak RSS ${(b.rssKb / 1024).toFixed(0)} MB`);
}
lines.push(`intstream peak RSS: ${(ours.rssKb / 1024).toFixed(0)} MB (target < 300 MB)`);
if (same !== null) lines.push(`results identical to the C reference${workers ? ' (every intstream run)' : ''}: ${same ? 'yes' : 'NO'}`);
process.stdout.write(lines.join('\n') + '\n');
if (same === false) process.exitCode = 1;
