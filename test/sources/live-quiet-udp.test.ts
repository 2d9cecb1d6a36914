/**
 * Exporter sources while the exporters are quiet (issue 11): `intstream run` on sflow:udp:// and
 * netflow:udp:// gets a few hand-built datagrams, then nothing; every window must come out
 * without SIGINT, within one window length plus lateness (+ 1 s) after its end. And a source
 * that has been silent from the start (sFlow: its time is the arrival time) must not hold the
 * windows of another source. Datagrams are built by test/decode/flow/encode.ts from the
 * specifications; the counts are those the test sent.
 */
import { after, afterEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BIN, ROOT } from '../support/run-cli.ts';
import { flowSample, nf5, sampledIpv4Record, sflowDatagram } from '../decode/flow/encode.ts';
import { freeUdpPort, waitListening } from './flow-source-support.ts';

const tmp = mkdtempSync(join(tmpdir(), 'intstream-quiet-udp-'));
after(() => rmSync(tmp, { recursive: true, force: true }));
const children = new Set<ChildProcess>();
afterEach(() => { for (const c of children) c.kill('SIGKILL'); children.clear(); });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** One count per window, unkeyed. */
const query = join(tmp, 'per-window.ts');
writeFileSync(query, `import { defineTask, count } from 'intstream';
export default defineTask({ name: 'per-window', query: (p, o) => p.window(o.window).aggregate(count()) });
`);

/** `intstream run ARGS` with each stdout line stamped with the wall time it showed. */
function startRun(args: string[]) {
  const child = spawn(process.execPath, [BIN, 'run', ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  children.add(child);
  const lines: { at: number; r: any }[] = [];
  let partial = '', err = '';
  child.stdout.on('data', (d) => {
    const parts = (partial + d).split('\n');
    partial = parts.pop()!;
    for (const text of parts) lines.push({ at: Date.now() / 1000, r: JSON.parse(text) });
  });
  child.stderr.on('data', (d) => { err += d; });
  const done = new Promise<number | null>((r) => child.on('close', (c) => { children.delete(child); r(c); }));
  return { child, lines, done, stderr: () => err, total: () => lines.reduce((a, l) => a + l.r.value, 0) };
}

async function sendAll(port: number, datagrams: Uint8Array[]): Promise<void> {
  const s = createSocket('udp4');
  for (const d of datagrams) await new Promise<void>((r) => s.send(d, port, '127.0.0.1', () => r()));
  s.close();
}

/** Waits (up to `ms`) until `total` results are counted, then checks each window's timing. */
async function expectWindows(run: ReturnType<typeof startRun>, total: number, W: number, lateness: number, ms: number) {
  const deadline = Date.now() + ms;
  while (run.total() < total && Date.now() < deadline) await sleep(50);
  assert.equal(run.total(), total, `every item counted before SIGINT: ${JSON.stringify(run.lines)} ${run.stderr()}`);
  for (const l of run.lines) {
    const end = l.r.window.end;
    assert.ok(l.at <= end + W + lateness + 1, `the window ending at ${end} came out ${(l.at - end).toFixed(2)} s after its end`);
  }
  const before = run.lines.length;
  run.child.kill('SIGINT');
  assert.equal(await run.done, 0, run.stderr());
  assert.equal(run.lines.length, before, 'nothing was left for SIGINT');
}

/** sFlow v5 datagram `seq` with `n` flow samples, each one sampled-IPv4 record. */
function sflow(seq: number, n: number): Uint8Array {
  const samples = Array.from({ length: n }, (_, i) => flowSample({
    sequence: seq * 100 + i, sourceType: 0, sourceIndex: 1, rate: 1, pool: 1, drops: 0, input: 1, output: 2,
    records: [sampledIpv4Record({ length: 60, protocol: 6, src: '10.0.0.1', dst: '10.0.0.2', sport: 1000 + i, dport: 80, tcpFlags: 2, tos: 0 })],
  }));
  return sflowDatagram({ agent: '192.0.2.1', subAgent: 0, sequence: seq, uptime: 1000 * seq, samples });
}

describe('flow sources, quiet after a burst', () => {
  it('sflow: 3 datagrams of 4 samples, then silence: the windows come out without SIGINT', async () => {
    const port = await freeUdpPort();
    const W = 2;
    const run = startRun([query, '-s', `sflow:udp://127.0.0.1:${port}`, '-w', `${W}s`, '-f', 'jsonl', '-q']);
    await waitListening(port);
    await sendAll(port, [sflow(1, 4), sflow(2, 4), sflow(3, 4)]);
    await expectWindows(run, 12, W, 0, (W + 4) * 1000);
  });

  it('netflow: 5 v5 records ending now, then silence: the windows come out without SIGINT (--lateness 1s)', async () => {
    const port = await freeUdpPort();
    const W = 2;
    const run = startRun([query, '-s', `netflow:udp://127.0.0.1:${port}`, '-w', `${W}s`, '--lateness', '1s', '-f', 'jsonl', '-q']);
    await waitListening(port);
    const now = Math.floor(Date.now() / 1000);
    // flow end = export time - (uptime - last) ms: the records end at `now`
    const records = Array.from({ length: 5 }, (_, i) => ({
      src: '10.0.0.1', dst: `10.0.1.${i}`, nexthop: '0.0.0.0', input: 1, output: 2, packets: 3, octets: 180, first: 50_000, last: 60_000,
      sport: 2000 + i, dport: 443, tcpFlags: 0x12, proto: 6, tos: 0, srcAs: 0, dstAs: 0, srcMask: 0, dstMask: 0,
    }));
    await sendAll(port, [nf5({ uptime: 60_000, secs: now, nsecs: 0, sequence: 0, engineType: 0, engineId: 0, sampling: 0, records })]);
    await expectWindows(run, 5, W, 1, (W + 1 + 4) * 1000);
  });

  it('a silent sflow source beside int:udp does not hold its windows (time runs from when the source opened)', async () => {
    const [sport, iport] = [await freeUdpPort(), await freeUdpPort()];
    const W = 2;
    const run = startRun([query, '-s', `sflow:udp://127.0.0.1:${sport}`, '-s', `int:udp://127.0.0.1:${iport}`, '-w', `${W}s`, '-f', 'jsonl', '-q']);
    await waitListening(sport);
    await waitListening(iport);
    const out = await new Promise<string>((res, rej) => execFile(process.execPath, [BIN, 'int-gen', '--reports', '50', '--udp', `127.0.0.1:${iport}`, '--rate', '1000'], (e, so, se) => (e ? rej(new Error(se)) : res(so))));
    assert.match(out, /sent 50 TR/);
    await expectWindows(run, 50, W, 0, (W + 4) * 1000);
  });
});
