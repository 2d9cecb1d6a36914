/**
 * `npm run reduction`: data reduction of every built-in application, i.e. the share of items
 * the local stages keep off the network, 1 - local_out / items_read (the --stats counters),
 * over a large generated capture with planted anomalies and over the shared real captures
 * (attack/, mixed/, edge/, tunnel/, pcapng/, each run as its own source and summed). Prints a
 * table per task and the average over tasks. Default parameters; `rtt` gets a target (probing
 * stays off: its reduction does not depend on the probe answers).
 *
 *   node scripts/reduction.ts [--packets 2000000] [--seconds 60] [--json]
 */
import { existsSync, readdirSync, renameSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { builtinNames, loadBuiltin } from '../src/apps/index.ts';
import { runTask, type RunStats } from '../src/run-task.ts';
import { generate } from '../tools/gen-traffic.ts';

const { values } = parseArgs({ options: { packets: { type: 'string', default: '2000000' }, seconds: { type: 'string', default: '60' }, json: { type: 'boolean', default: false } } });
const packets = Number(values.packets), seconds = Number(values.seconds);
const captures = new URL('../test/captures/', import.meta.url).pathname;
const real = ['attack', 'mixed', 'edge', 'tunnel', 'pcapng'].flatMap((d) => readdirSync(join(captures, d)).sort().map((f) => join(captures, d, f)));

const gen = join(tmpdir(), `intstream-reduction-${packets}-${seconds}.pcap`);
if (!existsSync(gen)) {
  process.stderr.write(`generating ${packets} packets over ${seconds} s into ${gen}\n`);
  await generate(`${gen}.tmp`, { packets, seconds, seed: 1, start: 1_700_000_000, hosts: 100_000, anomalies: true });
  renameSync(`${gen}.tmp`, gen);
}

const PARAMS: Record<string, Record<string, string>> = { rtt: { targets: '192.0.2.1' } };

interface Counts { read: number; filtered: number; local: number; global: number; seconds: number }
const add = (c: Counts, s: RunStats) => { c.read += s.items_read; c.filtered += s.after_filter; c.local += s.local_out; c.global += s.global_out; c.seconds += s.elapsed_s; };
const zero = (): Counts => ({ read: 0, filtered: 0, local: 0, global: 0, seconds: 0 });

async function run(name: string, file: string): Promise<RunStats> {
  const task = (await loadBuiltin(name))!;
  return runTask({ task, sources: [`pcap:${file}`], params: PARAMS[name] ?? {}, onResult: () => undefined });
}

// Built-ins of this library only (other built-ins, e.g. INT's, need INT traffic).
const LIBRARY = ['tcp-new-conn', 'sketch-gen', 'port-scan', 'super-spreader', 'tcp-retrans', 'syn-flood', 'slowloris', 'heavy-hitter', 'tcp-incomplete', 'split', 'cryptomining', 'rtt', 'ddos'];
const names = builtinNames().filter((n) => LIBRARY.includes(n));
const rows: { task: string; gen: Counts; real: Counts }[] = [];
for (const name of names) {
  const g = zero(), r = zero();
  add(g, await run(name, gen));
  for (const f of real) add(r, await run(name, f));
  rows.push({ task: name, gen: g, real: r });
  process.stderr.write(`${name} done\n`);
}

const red = (c: Counts) => (c.read > 0 ? 1 - c.local / c.read : 0);
const pct = (x: number) => `${(100 * x).toFixed(2)}%`;
if (values.json) {
  process.stdout.write(JSON.stringify(rows.map((r) => ({ ...r, gen_reduction: red(r.gen), real_reduction: red(r.real) }))) + '\n');
} else {
  const head = ['task', 'gen read', 'gen filtered', 'gen local out', 'gen global out', 'gen reduction', 'real read', 'real filtered', 'real local out', 'real global out', 'real reduction'];
  const body = rows.map((r) => [r.task, r.gen.read, r.gen.filtered, r.gen.local, r.gen.global, pct(red(r.gen)), r.real.read, r.real.filtered, r.real.local, r.real.global, pct(red(r.real))].map(String));
  const avgGen = rows.reduce((a, r) => a + red(r.gen), 0) / rows.length, avgReal = rows.reduce((a, r) => a + red(r.real), 0) / rows.length;
  body.push(['average', '', '', '', '', pct(avgGen), '', '', '', '', pct(avgReal)]);
  const w = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i].length)));
  const line = (cells: string[]) => '| ' + cells.map((c, i) => (i === 0 ? c.padEnd(w[i]) : c.padStart(w[i]))).join(' | ') + ' |';
  process.stdout.write([line(head), '|' + w.map((n) => '-'.repeat(n + 2)).join('|') + '|', ...body.map(line)].join('\n') + '\n');
  process.stdout.write(`\ngenerated: ${gen} (${packets} packets, ${seconds} s, planted anomalies); real: ${real.length} shared captures, each its own run.\n`);
}
