/**
 * The local stage's per-window counters (LocalProcessor.windowSize / takeWindows) on the demo
 * capture (windows straddle the source's batches), against tshark: frames per window, SYNs
 * without ACK (tcp-new-conn's pushed-down filter) and distinct SYN destinations (the elements the
 * local stage ships) per window. The record path (a batch with sampling rates, as sFlow's) must
 * count the same.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { test } from 'node:test';
import { loadTask } from '../../src/apps/load-task.ts';
import { LocalProcessor, MAX_WINDOWS } from '../../src/local/local-processor.ts';
import { splitPlan } from '../../src/query/pipeline.ts';
import { buildPlan } from '../../src/query/task.ts';
import { SkipCounters } from '../../src/decode/skip-counters.ts';
import { openSourceSpec } from '../../src/sources/source-spec.ts';

const DEMO = new URL('../../samples/demo.pcap', import.meta.url).pathname;
const tshark = spawnSync('tshark', ['-v']).status === 0;

function reference(file: string, size: number): Map<number, [number, number, number]> {
  const r = spawnSync('tshark', ['-n', '-r', file, '-T', 'fields', '-E', 'separator=\t', '-e', 'frame.time_epoch', '-e', 'frame.protocols', '-e', 'tcp.flags.syn', '-e', 'tcp.flags.ack', '-e', 'ip.dst', '-e', 'ipv6.dst'], { encoding: 'utf8', maxBuffer: 1 << 28 });
  assert.equal(r.status, 0, r.stderr);
  const per = new Map<number, { read: number; syn: number; dsts: Set<string> }>();
  for (const line of r.stdout.split('\n')) {
    if (!line) continue;
    const [t, protos, syn, ack, ip4, ip6] = line.split('\t');
    const w = Math.floor(Number(t) / size) * size;
    let e = per.get(w);
    if (!e) per.set(w, (e = { read: 0, syn: 0, dsts: new Set() }));
    e.read++;
    if (syn !== '1' || ack !== '0' || /(^|:)icmp/.test(protos)) continue;
    e.syn++;
    e.dsts.add((ip4 || ip6).split(',')[0]);
  }
  return new Map([...per].map(([w, e]) => [w, [e.read, e.syn, e.dsts.size]]));
}

async function windowsOf(size: number, records: boolean): Promise<{ windows: Map<number, [number, number, number]>; lp: LocalProcessor }> {
  const { def } = await loadTask('tcp-new-conn');
  const split = splitPlan(buildPlan(def, { threshold: 5 } as any, { window: size }));
  const src = await openSourceSpec(`pcap:${DEMO}`);
  await src.open();
  const lp = new LocalProcessor(0, src, split, { skipped: new SkipCounters(), lateness: 0, sendProbe: null as any }, async () => {});
  lp.windowSize = size;
  const taken: [number, number, number, number][] = [];
  let batches = 0;
  const next = src.nextBatch.bind(src);
  // take the windows between batches too, as an agent's heartbeat does: running totals, the last wins
  // records: batches that carry sampling rates (as sFlow's) take the local stage's record path
  src.nextBatch = async () => {
    batches++;
    for (const w of lp.takeWindows()) taken.push(w);
    const b = await next();
    if (b && records) b.sampleRate = new Float64Array(b.capacity).fill(1);
    return b;
  };
  await lp.run();
  await src.close();
  for (const w of lp.takeWindows()) taken.push(w);
  assert.ok(batches > 3, `several batches: ${batches}`);
  const windows = new Map<number, [number, number, number]>();
  for (const [s, r, a, o] of taken) windows.set(s, [r, a, o]);
  return { windows: new Map([...windows].sort((x, y) => x[0] - y[0])), lp };
}

for (const size of [1, 10]) {
  test(`per-window counters of ${size} s windows equal tshark's counts; the record path counts the same`, { skip: tshark ? false : 'tshark not found' }, async () => {
    const want = reference(DEMO, size);
    const { windows, lp } = await windowsOf(size, false);
    assert.deepEqual(windows, new Map([...want].sort((x, y) => x[0] - y[0])));
    const sum = (i: number) => [...windows.values()].reduce((a, w) => a + w[i], 0);
    assert.deepEqual([sum(0), sum(1), sum(2)], [lp.read, lp.passed, lp.sent]);
    const rec = await windowsOf(size, true);
    assert.deepEqual(rec.windows, windows);
  });
}

test('off by default: no window is counted', async () => {
  const { def } = await loadTask('tcp-new-conn');
  const split = splitPlan(buildPlan(def, { threshold: 5 } as any, { window: 1 }));
  const src = await openSourceSpec(`pcap:${DEMO}`);
  await src.open();
  const lp = new LocalProcessor(0, src, split, { skipped: new SkipCounters(), lateness: 0, sendProbe: null as any }, async () => {});
  await lp.run();
  await src.close();
  assert.ok(lp.read > 0);
  assert.deepEqual(lp.takeWindows(), []);
  assert.equal(lp.windows.size, 0);
});

test('long runs: the counters of old windows are forgotten once taken, the totals stay exact', { skip: tshark ? false : 'tshark not found' }, async () => {
  // windows of 2^-10 s (exact in binary) over the demo's 20 s: thousands with packets, more than MAX_WINDOWS
  const size = 1 / 1024;
  const want = reference(DEMO, size);
  assert.ok(want.size > MAX_WINDOWS, `${want.size} windows`);
  const { windows, lp } = await windowsOf(size, false);
  assert.ok(lp.windows.size <= MAX_WINDOWS, `${lp.windows.size} windows kept`);
  assert.deepEqual(windows, new Map([...want].sort((x, y) => x[0] - y[0])));
});
