/**
 * What the application tests share: running a built-in task in-process, the table of tasks
 * with their reference counters (test/support/reference.ts) and the parameters that make them
 * emit something on small captures, and the capture list.
 */
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { loadBuiltin } from '../../src/apps/index.ts';
import { runTask, type RunStats } from '../../src/run-task.ts';
import * as R from '../support/reference.ts';

export const CAPTURES = new URL('../captures/', import.meta.url).pathname;

/** The shared captures the issue names: attack/, mixed/, edge/, tunnel/, pcapng/. */
export function sharedCaptures(): string[] {
  return ['attack', 'mixed', 'edge', 'tunnel', 'pcapng'].flatMap((d) => readdirSync(join(CAPTURES, d)).sort().map((f) => join(CAPTURES, d, f)));
}

export interface Run { results: { window: unknown; key: unknown; value: unknown }[]; stats: RunStats }

export async function runApp(name: string, sources: string[], params: Record<string, string | number> = {}, o: { window?: number; lateness?: number } = {}): Promise<Run> {
  const task = await loadBuiltin(name);
  if (!task) throw new Error(`no built-in ${name}`);
  const results: Run['results'] = [];
  const stats = await runTask({
    task, sources: sources.map((s) => (s.includes(':') && !s.startsWith('/') ? s : `pcap:${s}`)),
    params: Object.fromEntries(Object.entries(params).map(([k, v]) => [k, String(v)])),
    window: o.window, lateness: o.lateness,
    onResult: (r) => { results.push({ window: r.window, key: r.key, value: r.value }); },
  });
  return { results: R.canonical(results), stats };
}

const inCidr = (cidr: string) => {
  if (cidr === 'all') return () => true;
  const [a, len] = cidr.split('/');
  const n = (s: string) => s.split('.').reduce((x, o) => x * 256 + Number(o), 0);
  const bits = Number(len), base = n(a);
  return (dst: string) => dst.includes('.') && Math.floor(n(dst) / 2 ** (32 - bits)) === Math.floor(base / 2 ** (32 - bits));
};

export interface TaskCase {
  name: string;
  reference: (inp: R.RefInput) => R.RefResult[];
  /** Parameters that let small captures produce results. */
  low: Record<string, number | string>;
}

/** Every task with an exact reference (rtt measures the network: see test/probe). */
export const TASKS: TaskCase[] = [
  { name: 'tcp-new-conn', reference: R.refTcpNewConn, low: { threshold: 0 } },
  { name: 'sketch-gen', reference: (i) => R.refSketchGen(i, inCidr(String(i.params.net ?? 'all'))), low: { width: 64, depth: 3 } },
  { name: 'port-scan', reference: R.refPortScan, low: { threshold: 0 } },
  { name: 'super-spreader', reference: R.refSuperSpreader, low: { threshold: 0 } },
  { name: 'tcp-retrans', reference: R.refTcpRetrans, low: { threshold: 0 } },
  { name: 'syn-flood', reference: R.refSynFlood, low: { threshold: -1e9 } },
  { name: 'slowloris', reference: R.refSlowloris, low: { min_conns: 0, threshold: 1e12 } },
  { name: 'heavy-hitter', reference: R.refHeavyHitter, low: { threshold: 0, width: 64, depth: 3 } },
  { name: 'tcp-incomplete', reference: R.refTcpIncomplete, low: { threshold: -1e9 } },
  { name: 'split', reference: R.refSplit, low: {} },
  { name: 'cryptomining', reference: R.refCryptomining, low: { min_packets: 1 } },
  { name: 'ddos', reference: R.refDdos, low: { threshold: 0.1 } },
];

/**
 * Results equal; Hellinger distances h compared as h^2 = 1 - sum sqrt(p q) within 1e-12 (the
 * reference sums in another order; near h = 0 the square root turns 1e-16 into 1e-8).
 */
export function sameResults(got: Run['results'], want: { window: unknown; key: unknown; value: unknown }[]): string | null {
  if (got.length !== want.length) return `${got.length} results, expected ${want.length}: first difference ${firstDiff(got, want)}`;
  for (let i = 0; i < got.length; i++) {
    const g = got[i] as any, w = want[i] as any;
    if (g.value && typeof g.value.hellinger === 'number' && w.value && typeof w.value.hellinger === 'number') {
      if (JSON.stringify(g.window) !== JSON.stringify(w.window) || Math.abs(g.value.hellinger ** 2 - w.value.hellinger ** 2) > 1e-12 || g.value.alarm !== w.value.alarm) return `at ${i}: ${JSON.stringify(g)} vs ${JSON.stringify(w)}`;
      continue;
    }
    if (JSON.stringify(g) !== JSON.stringify(w)) return `at ${i}: ${JSON.stringify(g).slice(0, 300)} vs ${JSON.stringify(w).slice(0, 300)}`;
  }
  return null;
}

function firstDiff(a: unknown[], b: unknown[]): string {
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    if (JSON.stringify(a[i]) !== JSON.stringify(b[i])) return `at ${i}: ${JSON.stringify(a[i])?.slice(0, 200)} vs ${JSON.stringify(b[i])?.slice(0, 200)}`;
  }
  return 'none';
}

export function refParams(p: Record<string, number | string>): Record<string, number | string> {
  return p;
}
