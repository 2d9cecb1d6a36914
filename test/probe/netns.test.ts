/**
 * Probing for real, in a lab of network namespaces (test/support/netns.ts): an agent, a router
 * and two hosts 20 ms and 50 ms away. `rtt` must measure what was configured, traceroute from
 * a query's local stage must see the router then the host, `tcp-retrans` must attach the RTT to
 * a flagged flow, and nothing outside the allow-list is probed. Everything runs inside the
 * agent's namespace through the real command. Needs root; skipped otherwise. The lab is torn
 * down in after(), which runs also when a test fails.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildLab, canBuildLab, leftoverNamespaces, type Lab } from '../support/netns.ts';
import { pcapFile } from '../support/pcap-writer.ts';
import { BIN, jsonl } from '../support/run-cli.ts';

const DELAY = { b: 20, c: 50 };
/** Scheduling and the responder add a little; a probe never returns faster than the delay. */
const SLACK_MS = 15;

function runIn(lab: Lab, args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const argv = lab.exec(lab.ns.agent, [process.execPath, BIN, ...args]);
  return new Promise((res, rej) => {
    const c = spawn(argv[0], argv.slice(1), { stdio: ['ignore', 'pipe', 'pipe'] });
    const out: Buffer[] = [], err: Buffer[] = [];
    c.stdout.on('data', (d) => out.push(d));
    c.stderr.on('data', (d) => err.push(d));
    c.on('error', rej);
    c.on('close', (code) => res({ code, stdout: Buffer.concat(out).toString(), stderr: Buffer.concat(err).toString() }));
  });
}

/** Ethernet + IPv4 + TCP (checksums left 0: nothing here verifies them). */
function tcpFrame(src: string, dst: string, sport: number, dport: number, seq: number, flags: number, payload: number): Uint8Array {
  const f = new Uint8Array(14 + 20 + 20 + payload);
  const v = new DataView(f.buffer);
  v.setUint16(12, 0x0800);
  f[14] = 0x45; v.setUint16(16, 40 + payload); f[22] = 64; f[23] = 6;
  f.set(src.split('.').map(Number), 26); f.set(dst.split('.').map(Number), 30);
  v.setUint16(34, sport); v.setUint16(36, dport); v.setUint32(38, seq); f[46] = 0x50; f[47] = flags; v.setUint16(48, 65535);
  return f;
}

/** A capture with one packet in each of `windows` 10-s windows (something for windows to close on). */
function windowsCapture(dir: string, windows: number): string {
  const file = join(dir, `windows-${windows}.pcap`);
  const recs = Array.from({ length: windows }, (_, i) => ({ sec: 1_700_000_000 + 10 * i, frac: 0, data: tcpFrame('10.0.0.1', '10.0.0.2', 1, 53, 1, 0x02, 0) }));
  writeFileSync(file, pcapFile({ linkType: 1 }, recs));
  return file;
}

const skip = !canBuildLab() && 'needs root and network namespaces';

describe('probing in network namespaces', { skip }, () => {
  let lab: Lab;
  let dir = '';
  before(async () => {
    lab = buildLab(DELAY);
    await lab.ready();
    dir = mkdtempSync(join(tmpdir(), 'intstream-probe-'));
  });
  after(() => {
    lab?.destroy();
    assert.deepEqual(leftoverNamespaces(), [], 'namespaces removed');
  });

  test('rtt measures each target every window, as configured; outside the allow-list is refused', async () => {
    const cap = windowsCapture(dir, 3);
    const r = await runIn(lab, ['run', 'rtt', '-s', `pcap:${cap}`, '-p', `targets=${lab.addr.b},${lab.addr.c},192.0.2.9`,
      '-p', 'count=3', '--allow-probe', lab.net, '--probe-rate', '50/s', '--format', 'jsonl', '-q']);
    assert.equal(r.code, 0, r.stderr);
    const res = jsonl(r.stdout);
    const windows = new Set(res.map((x) => x.window.start));
    assert.equal(windows.size, 3);
    assert.equal(res.length, windows.size * 3, 'one result per target per window');
    for (const x of res) {
      if (x.key === '192.0.2.9') { assert.equal(x.value.sent, 0); assert.match(x.value.error, /not in the allowed networks/); continue; }
      const d = x.key === lab.addr.b ? DELAY.b : DELAY.c;
      assert.equal(x.value.sent, 3);
      assert.equal(x.value.received, 3);
      assert.ok(x.value.min_ms >= d && x.value.avg_ms >= d && x.value.avg_ms <= d + SLACK_MS, `${x.key}: ${JSON.stringify(x.value)} vs configured ${d} ms (${lab.delayBy})`);
      process.stdout.write(`# rtt ${x.key}: configured ${d} ms (${lab.delayBy}), measured min/avg/max ${x.value.min_ms}/${x.value.avg_ms}/${x.value.max_ms} ms\n`);
    }
  });

  test('traceroute from a query\'s local stage sees the router, then the host', async () => {
    const task = join(dir, 'trace-local.ts');
    writeFileSync(task, `import { defineTask } from 'intstream';
export default defineTask({
  name: 'trace-local', description: 'traceroute once per window, in the local stage',
  params: { dst: { default: '', description: 'target' } },
  query: (packets, p) => packets.window(p.window).transform(async (_els, out, ctx) => {
    out(await ctx.sendProbe({ type: 'traceroute', dst: p.dst, maxHops: 5, timeoutMs: 1000 }));
  }),
});
`);
    const r = await runIn(lab, ['run', task, '-s', `pcap:${windowsCapture(dir, 1)}`, '-p', `dst=${lab.addr.c}`, '--allow-probe', lab.net, '--format', 'jsonl', '-q']);
    assert.equal(r.code, 0, r.stderr);
    const res = jsonl(r.stdout);
    assert.ok(res.length >= 1);
    assert.equal(res[0].value.ok, true, res[0].value.error);
    assert.deepEqual(res[0].value.hops.map((h: { addr: string }) => h.addr), [lab.addr.routerA, lab.addr.c]);
    assert.equal(res[0].value.reached, true);
  });

  test('tcp-retrans attaches rtt_ms to flagged flows when probing is allowed', async () => {
    const t0 = 1_700_000_000;
    const recs = [];
    // A flow to host b resends two of its three segments; one to 192.0.2.9 (not allowed) too.
    const segs = [[1000, 0.0], [1100, 0.1], [1000, 0.2], [1200, 0.3], [1100, 0.4]];
    for (const [dst, sport] of [[lab.addr.b, 40000], ['192.0.2.9', 40001]] as const) {
      for (const [seq, dt] of segs) recs.push({ t: t0 + dt + (sport - 40000) * 0.01, data: tcpFrame(lab.addr.agent, dst, sport, 80, seq, 0x18, 100) });
    }
    recs.sort((a, b) => a.t - b.t);
    const file = join(dir, 'retrans.pcap');
    writeFileSync(file, pcapFile({ linkType: 1 }, recs.map((x) => ({ sec: Math.floor(x.t), frac: Math.round((x.t % 1) * 1e6), data: x.data }))));
    const r = await runIn(lab, ['run', 'tcp-retrans', '-s', `pcap:${file}`, '-p', 'threshold=2', '--allow-probe', lab.net, '--format', 'jsonl', '-q']);
    assert.equal(r.code, 0, r.stderr);
    const res = jsonl(r.stdout);
    assert.equal(res.length, 2);
    const toB = res.find((x) => x.key.dst === lab.addr.b)!;
    assert.deepEqual(toB.key, { src: lab.addr.agent, sport: 40000, dst: lab.addr.b, dport: 80 });
    assert.equal(toB.value.retransmissions, 2);
    assert.ok(toB.value.rtt_ms >= DELAY.b && toB.value.rtt_ms <= DELAY.b + SLACK_MS, `rtt_ms ${toB.value.rtt_ms}`);
    const other = res.find((x) => x.key.dst === '192.0.2.9')!;
    assert.deepEqual(other.value, { retransmissions: 2, rtt_ms: null });
  });
});
