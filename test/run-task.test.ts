/**
 * The engine end to end through runTask(): tcp-new-conn against tshark's count of SYNs per
 * (window, destination) on real captures, one source and split over several, windows of
 * different sizes, lateness, and the stats counters.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { runTask, type RunStats } from '../src/run-task.ts';
import { loadBuiltin } from '../src/apps/index.ts';
import type { TaskResult } from '../src/sinks/sink.ts';
import { CAPTURES } from './support/run-cli.ts';
import { haveTshark, tsharkRows } from './support/tshark-filter.ts';
import { splitPcap } from './support/split-capture.ts';

const skip = haveTshark() ? false : 'tshark is not installed (apt-get install tshark)';

async function run(sources: string[], params: Record<string, string>, window = 10, lateness = 0): Promise<{ results: TaskResult[]; stats: RunStats }> {
  const task = (await loadBuiltin('tcp-new-conn'))!;
  const results: TaskResult[] = [];
  const stats = await runTask({ task, params, window, lateness, sources: sources.map((s) => `pcap:${s}`), onResult: (r) => { results.push(r); } });
  return { results, stats };
}

/**
 * Reference: SYN (not ACK) frames per (window, innermost destination) from tshark, ICMP errors
 * excluded (Wireshark matches the TCP header they quote; intstream by design does not).
 */
function reference(file: string, window: number, threshold: number): string[] {
  const rows = tsharkRows(file, 'tcp.flags.syn == 1 && tcp.flags.ack == 0 && !(icmp || icmpv6)', ['frame.time_epoch', 'ip.dst', 'ipv6.dst']);
  const counts = new Map<string, number>();
  for (const [t, v4, v6] of rows) {
    assert.ok(!(v4 && v6), `${file}: mixed IPv4/IPv6 tunnel frame, reference cannot tell the innermost`);
    const [sec] = t.split('.');
    const start = Math.floor(Number(sec) / window) * window;
    const k = JSON.stringify([start, v4 || v6]);
    counts.set(k, (counts.get(k) ?? 0) + 1);
  }
  return [...counts].filter(([, c]) => c > threshold).map(([k, c]) => { const [s, d] = JSON.parse(k); return `${s} ${s + window} ${d} ${c}`; }).sort();
}

const lines = (rs: TaskResult[]) => rs.map((r) => `${r.window!.start} ${r.window!.end} ${r.key} ${r.value}`).sort();

const FILES = [
  'attack/pkt.TCP.synflood.spoofed.pcap', 'attack/suricata-verify_tcp-session-syn-flood-drop-precedence.pcap',
  'attack/tcp_0_1000_20190821.pcap', 'attack/synscan.pcap', 'attack/nmap-vsn.pcap', 'attack/hs-tcp_synPingSweepRand.pcapng',
  'mixed/many-protocols.pcap', 'mixed/bro.org.pcap', 'mixed/syn_retransmit_with_ts.pcap', 'mixed/1kxun.pcap',
  'edge/vlan-qinqinq.pcap', 'edge/raw_ip.pcap', 'edge/sll.pcap', 'edge/suricata-verify_decode-sll2-02.pcap', 'edge/mixed-vlan-mpls.pcap',
  'tunnel/gre-erspan-vxlan.pcap', 'tunnel/vxlan.pcap', 'tunnel/geneve.pcap', 'tunnel/gre-aruba.pcap', 'tunnel/erspan.pcap',
  'pcapng/sites.pcapng', 'pcapng/pcapng-example.pcapng', 'pcapng/many_interfaces-1.pcapng',
];

for (const f of FILES) {
  test(`tcp-new-conn equals tshark's SYN count per window and host: ${f}`, { skip }, async () => {
    const file = join(CAPTURES, f);
    for (const window of [10, 1]) {
      const { results, stats } = await run([file], { threshold: '0' }, window, 3600);
      assert.deepEqual(lines(results), reference(file, window, 0), `window ${window}`);
      assert.equal(stats.global_out, results.length);
    }
  });
}

test('thresholds: only hosts above the threshold, exactly', { skip }, async () => {
  const file = join(CAPTURES, 'attack/synscan.pcap');
  const { results } = await run([file], { threshold: '50' });
  assert.deepEqual(lines(results), reference(file, 10, 50));
  assert.ok(results.length > 0, 'the scan target exceeds 50 SYNs in a window');
});

for (const rule of ['alternate', 'time', 'host'] as const) {
  test(`split invariance: a capture split by ${rule} into three sources gives the same results`, { skip }, async () => {
    for (const f of ['attack/synscan.pcap', 'mixed/many-protocols.pcap', 'attack/pkt.TCP.synflood.spoofed.pcap']) {
      const file = join(CAPTURES, f);
      const whole = await run([file], { threshold: '0' });
      const parts = splitPcap(file, 3, rule);
      const split = await run(parts, { threshold: '0' });
      assert.deepEqual(split.results, whole.results, `${f} split by ${rule}: same results in the same order`);
      assert.equal(split.stats.items_read, whole.stats.items_read);
      assert.equal(split.stats.after_filter, whole.stats.after_filter);
      assert.equal(split.stats.sources.length, 3);
    }
  });
}

test('stats: items read, pushed-down filter, local and global out, reduction', { skip }, async () => {
  const file = join(CAPTURES, 'attack/synscan.pcap');
  const { stats, results } = await run([file], { threshold: '100' });
  const frames = tsharkRows(file, '', ['frame.number']).length;
  const syns = tsharkRows(file, 'tcp.flags.syn == 1 && tcp.flags.ack == 0 && !(icmp || icmpv6)', ['frame.number']).length;
  assert.equal(stats.items_read, frames);
  assert.equal(stats.after_filter, syns);
  assert.equal(stats.pushdown_filter, 'tcp.syn and not tcp.ack_flag');
  // Local stage: one partial count per (window, destination) seen.
  const perWindowHost = reference(file, 10, 0).length;
  assert.equal(stats.local_out, perWindowHost);
  assert.equal(stats.global_out, results.length);
  assert.equal(stats.data_reduction, 1 - perWindowHost / frames);
});

test('lateness: out-of-order packets behind a closed window are counted, not lost silently', { skip }, async () => {
  // attack/monero.pcap has timestamps that go backwards across second boundaries.
  const file = join(CAPTURES, 'attack/monero.pcap');
  const times = tsharkRows(file, '', ['frame.time_epoch']).map((r) => Number(r[0]));
  // With 1 s windows and no lateness, a packet is late when its window [floor(t), floor(t)+1)
  // ended at or before the latest time seen so far.
  let late = 0, max = -Infinity;
  for (const t of times) {
    if (Math.floor(t) + 1 <= max) late++;
    if (t > max) max = t;
  }
  assert.ok(late > 0, 'the capture has out-of-order packets across a second boundary');
  // A task with no pushed-down filter sees every packet in its window operator.
  const { defineTask, count } = await import('../src/index.ts');
  const all = defineTask({ name: 'all', description: 'count', params: {}, query: (p) => p.key(() => 1).window(1).aggregate(count()) });
  const res: TaskResult[] = [];
  const strict = await runTask({ task: all, sources: [`pcap:${file}`], window: 1, lateness: 0, onResult: (r) => { res.push(r); } });
  assert.equal(strict.skipped.late ?? 0, late, 'late packets counted by reason');
  const total = res.reduce((a, r) => a + (r.value as number), 0);
  assert.equal(total + (strict.skipped.late ?? 0), times.length, 'every packet is either counted or reported late');
  const lenient = await runTask({ task: all, sources: [`pcap:${file}`], window: 1, lateness: 60, onResult: () => undefined });
  assert.equal(lenient.skipped.late ?? 0, 0);
});
