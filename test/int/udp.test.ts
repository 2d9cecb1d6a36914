// int:udp://HOST:PORT source fed by the `intstream int-gen --udp` CLI verb at a set rate on
// loopback; the expected paths are the generator's chosen ones (its report specs).
import { after, afterEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import { runTask } from '../../src/run-task.ts';
import intCollector from '../../src/apps/int-collector.ts';
import { flowPerPathSeries } from '../../src/int/gen-series.ts';
import { openSourceSpec } from '../../src/sources/source-spec.ts';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { waitListening } from '../sources/flow-source-support.ts';

const BIN = fileURLToPath(new URL('../../bin/intstream.js', import.meta.url));

async function freePort(): Promise<number> {
  return new Promise((res) => { const s = createServer(); s.listen(0, '127.0.0.1', () => { const p = (s.address() as any).port; s.close(() => res(p)); }); });
}

describe('int:udp source', () => {
  for (const version of ['0.5', '1.0', '2.0'] as const) {
    it(`receives TR v${version} reports sent by intstream int-gen --udp at 2000/s`, async () => {
      const port = await freePort();
      const got: any[] = [];
      const run = runTask({ task: intCollector, params: { period: '0' }, sources: [`int:udp://127.0.0.1:${port}?max=400&idle=5`], onResult: (r) => { got.push(r); } });
      await new Promise((r) => setTimeout(r, 100));
      const out = await new Promise<string>((res, rej) => execFile(process.execPath, [BIN, 'int-gen', '--report-version', version, '--hops', '5', '--reports', '400', '--paths', '4', '--flow-per-path', '--udp', `127.0.0.1:${port}`, '--rate', '2000'], (e, so, se) => (e ? rej(new Error(se)) : res(so))));
      assert.match(out, /sent 400 TR/);
      const stats = await run;
      assert.equal(stats.items_read, 400);
      assert.deepEqual(stats.malformed, {});
      const next = flowPerPathSeries({ version, hops: 5, seed: 1, paths: 4 });
      const want = [0, 1, 2, 3].map((k) => ({ sport: 40000 + k, path: next(k).hops.map((h) => h.switchId).reverse() }));
      const flows = got.filter((r) => r.key.kind === 'flow' && r.value.event === 'new').map((r) => ({ sport: r.key.sport, path: r.value.path }));
      assert.deepEqual(flows, want);
      assert.equal(got.filter((r) => r.value.event === 'path').length, 0);
      // the reporter's address is outer.ip.src
    });
  }

  it('rejects bad specs with a usage error', async () => {
    await assert.rejects(openSourceSpec('int:udp://127.0.0.1'), { code: 'SOURCE_SPEC' });
    await assert.rejects(openSourceSpec('int:udp://127.0.0.1:99999'), { code: 'SOURCE_SPEC' });
    await assert.rejects(openSourceSpec('int:udp://127.0.0.1:5000?bogus=1'), { code: 'SOURCE_SPEC' });
  });
});

/**
 * `intstream run` on int:udp:// while the reporters go quiet (issue 11): what the reports make
 * comes out without SIGINT. Every result line is timestamped as it appears on stdout.
 */
describe('int:udp source, quiet after a burst', () => {
  const ROOT = fileURLToPath(new URL('../..', import.meta.url));
  const tmp = mkdtempSync(join(tmpdir(), 'intstream-int-quiet-'));
  after(() => rmSync(tmp, { recursive: true, force: true }));
  // runs still going when a test ends (it failed): killed so that the file ends
  const children = new Set<ChildProcess>();
  afterEach(() => { for (const c of children) c.kill('SIGKILL'); children.clear(); });

  function startRun(args: string[]) {
    const child = spawn(process.execPath, [BIN, 'run', ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    const lines: { at: number; text: string }[] = [];
    let partial = '', err = '';
    child.stdout.on('data', (d) => {
      const parts = (partial + d).split('\n');
      partial = parts.pop()!;
      for (const text of parts) lines.push({ at: Date.now() / 1000, text });
    });
    child.stderr.on('data', (d) => { err += d; });
    const done = new Promise<number | null>((r) => child.on('close', r));
    children.add(child);
    void done.then(() => children.delete(child));
    return { child, lines, done, stderr: () => err };
  }
  const intGen = (args: string[]) => new Promise<string>((res, rej) => execFile(process.execPath, [BIN, 'int-gen', ...args], (e, so, se) => (e ? rej(new Error(se)) : res(so))));
  const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

  it('windows close on the wall clock: every report is counted in a window that came out within one window length (+ 1 s) of its end, before SIGINT', async () => {
    const port = await freePort();
    const q = join(tmp, 'reports-per-window.ts');
    writeFileSync(q, `import { defineTask, count } from 'intstream';
export default defineTask({ name: 'reports', query: (p, o) => p.filter('int').window(o.window).aggregate(count()) });
`);
    const W = 2;
    const run = startRun([q, '-s', `int:udp://127.0.0.1:${port}`, '-w', `${W}s`, '-f', 'jsonl', '-q']);
    await waitListening(port);
    assert.match(await intGen(['--hops', '5', '--reports', '400', '--paths', '4', '--flow-per-path', '--udp', `127.0.0.1:${port}`, '--rate', '2000']), /sent 400 TR/);
    const sentAt = Date.now() / 1000;
    // quiet from here: the burst's last window ends within W s, then closes within 1 s (heartbeat)
    const total = () => run.lines.reduce((a, l) => a + JSON.parse(l.text).value, 0);
    while (total() < 400 && Date.now() / 1000 < sentAt + W + 4) await sleep(50);
    assert.equal(total(), 400, `all 400 reports counted before SIGINT: ${run.lines.map((l) => l.text)} ${run.stderr()}`);
    for (const l of run.lines) {
      const r = JSON.parse(l.text);
      assert.equal(r.window.end - r.window.start, W);
      assert.ok(l.at <= r.window.end + W + 1, `window ending ${r.window.end} came out at ${l.at} (${(l.at - r.window.end).toFixed(2)} s after its end)`);
    }
    const before = run.lines.length;
    run.child.kill('SIGINT');
    assert.equal(await run.done, 0, run.stderr());
    assert.equal(run.lines.length, before, 'nothing was left for SIGINT');
  });

  it('int-collector as a table: events are printed while reports come and after they stop, not at SIGINT; the same events as the file run', async () => {
    const port = await freePort();
    const events = join(tmp, 'events.jsonl');
    const gen = ['--hops', '5', '--reports', '400', '--paths', '4', '--flow-per-path'];
    // period and timeout off: the events depend on the reports only, not on their times
    const params = ['-p', 'period=0', '-p', 'timeout=0'];
    const run = startRun(['int-collector', '-s', `int:udp://127.0.0.1:${port}`, ...params, '--sink', `jsonl:${events}`, '-q']);
    await waitListening(port);
    assert.match(await intGen([...gen, '--udp', `127.0.0.1:${port}`, '--rate', '2000']), /sent 400 TR/);
    await sleep(2500);
    const shown = run.lines.length - 1; // the table's header
    run.child.kill('SIGINT');
    assert.equal(await run.done, 0, run.stderr());
    // reference: the same reports from a file
    const file = join(tmp, 'reports.pcap');
    await intGen([...gen, '--out', file]);
    const ref = await new Promise<string>((res, rej) => execFile(process.execPath, [BIN, 'run', 'int-collector', '-s', `pcap:${file}`, '-p', 'int_port=32766', ...params, '-f', 'jsonl', '-q'], { maxBuffer: 1 << 26 }, (e, so, se) => (e ? rej(new Error(se)) : res(so))));
    const strip = (l: string) => { const r = JSON.parse(l); const { ts, ...v } = r.value; return { ts: ts as number, text: JSON.stringify([r.key, v]) }; };
    const got = readFileSync(events, 'utf8').split('\n').filter(Boolean).map(strip);
    const want = ref.split('\n').filter(Boolean).map(strip);
    assert.ok(want.length > 400);
    assert.deepEqual(got.map((e) => e.text), want.map((e) => e.text));
    assert.equal(run.lines.length - 1, got.length, 'the table has a row for each event');
    // every event, those of the latest report included, is out before SIGINT: the collector's
    // state (no idle timeout) does not hold the watermark back (src/query/keyed-process-op.ts)
    assert.equal(shown, got.length, 'rows before SIGINT: every event');
  });
});

