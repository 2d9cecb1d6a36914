/**
 * What an operator sees from `intstream run` (issue 11): the table survives a large output in
 * bounded memory, prints each window when it closes (a capture fed through a pipe, watched as it
 * goes), and a bad timestamp in the input is a warning, not the end of the run. Expected rows
 * come from the packets the test wrote itself (hand-known) or from tshark.
 */
import { after, afterEach, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BIN, CAPTURES, ROOT, runCli } from '../support/run-cli.ts';
import { pcapHeader, pcapRecord } from '../support/pcap-writer.ts';
import { haveTshark, tsharkRows } from '../support/tshark-filter.ts';

const tmp = mkdtempSync(join(tmpdir(), 'intstream-stream-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

/** Ethernet + IPv4 + TCP SYN from 192.168.0.1 to `dst` (20-byte headers, no payload). */
function syn(dst: [number, number, number, number], sport = 1024): Uint8Array {
  const d = new Uint8Array(54);
  d.set([2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1, 0x08, 0x00]);
  d.set([0x45, 0, 0, 40, 0, 0, 0, 0, 64, 6, 0, 0, 192, 168, 0, 1, ...dst], 14);
  d.set([sport >> 8, sport & 255, 0, 80, 0, 0, 0, 1, 0, 0, 0, 0, 0x50, 0x02, 0xff, 0xff, 0, 0, 0, 0], 34);
  return d;
}

function concat(parts: Uint8Array[]): Buffer {
  return Buffer.concat(parts.map((p) => Buffer.from(p.buffer, p.byteOffset, p.byteLength)));
}

const dstOf = (i: number): [number, number, number, number] => [10, (i >> 16) & 255, (i >> 8) & 255, i & 255];

test('table: 200,000 rows (one SYN to each of 200,000 hosts) in a 128 MB heap, no crash, every row, --stats written', async () => {
  const N = 200_000;
  const file = join(tmp, 'hosts.pcap');
  const parts: Uint8Array[] = [pcapHeader()];
  // 2 s of SYNs, 10 µs apart: one 10 s window
  for (let i = 0; i < N; i++) parts.push(pcapRecord({ sec: 1700000000 + Math.floor(i / 100000), frac: (i % 100000) * 10, data: syn(dstOf(i)) }));
  writeFileSync(file, concat(parts));
  const out = join(tmp, 'hosts.txt'), stats = join(tmp, 'hosts.json');
  // the old table spread every row into Math.max (call stack exceeded) and held them all
  const child = spawn(process.execPath, ['--max-old-space-size=128', BIN, 'run', 'tcp-new-conn', '-s', `pcap:${file}`, '-p', 'threshold=0', '--out', out, '--stats', stats, '-q'], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  let err = '';
  child.stderr.on('data', (d) => { err += d; });
  // peak resident memory, as the kernel counts it (VmHWM), read until the process ends
  let peakKiB = 0;
  const poll = setInterval(() => {
    try {
      const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${child.pid}/status`, 'utf8'));
      if (m) peakKiB = Math.max(peakKiB, Number(m[1]));
    } catch { /* ended */ }
  }, 20);
  const code = await new Promise<number | null>((r) => child.on('close', r));
  clearInterval(poll);
  assert.equal(code, 0, err);
  assert.equal(err, '');
  const lines = readFileSync(out, 'utf8').split('\n');
  assert.equal(lines.pop(), '');
  assert.match(lines[0], /^window \(UTC\)\s+key\s+value$/);
  assert.equal(lines.length, N + 1);
  const got = new Set<string>();
  for (const l of lines.slice(1)) {
    const [date, time, len, key, value] = l.split(/\s+/);
    assert.equal(`${date} ${time} ${len} ${value}`, '2023-11-14 22:13:20 +10s 1', l);
    got.add(key);
  }
  for (let i = 0; i < N; i++) assert.ok(got.has(dstOf(i).join('.')), dstOf(i).join('.'));
  assert.equal(JSON.parse(readFileSync(stats, 'utf8')).global_out, N);
  process.stdout.write(`# 200,000-row table run: peak RSS ${(peakKiB / 1024).toFixed(0)} MiB (heap capped at 128 MB)\n`);
  if (peakKiB > 0) assert.ok(peakKiB < 350 * 1024, `peak RSS ${peakKiB} KiB`);
});

test('table: int-collector on 100,000 reports (the issue\'s command): every window-less event is a row, in a 256 MB heap', async () => {
  const file = join(tmp, 'reports.pcap'), out = join(tmp, 'events.txt'), stats = join(tmp, 'events.json');
  const g = await runCli(['int-gen', '--reports', '100000', '--flow-per-path', '--out', file]);
  assert.equal(g.code, 0, g.stderr);
  const r = await new Promise<{ code: number | null; err: string }>((res) => {
    // (the heap also holds the in-process transport's queue: up to 64 messages of events)
    const c = spawn(process.execPath, ['--max-old-space-size=256', BIN, 'run', 'int-collector', '-s', `pcap:${file}`, '-p', 'int_port=32766', '--out', out, '--stats', stats, '-q'], { cwd: ROOT, stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    c.stderr.on('data', (d) => { err += d; });
    c.on('close', (code) => res({ code, err }));
  });
  assert.equal(r.code, 0, r.err);
  const s = JSON.parse(readFileSync(stats, 'utf8'));
  assert.equal(s.items_read, 100000);
  assert.ok(s.global_out > 100000, `events: ${s.global_out}`);
  const lines = readFileSync(out, 'utf8').split('\n');
  assert.equal(lines.pop(), '');
  assert.equal(lines.length, s.global_out + 1, 'the header and one row per result the run counted');
  for (let i = 1; i < lines.length; i += 9973) assert.match(lines[i], /^-\s+\{"kind":"(flow|hop|egress|queue)",/);
});

/** Runs still going when a test ends (it failed): killed so that the file ends. */
const children = new Set<ChildProcess>();
afterEach(() => { for (const c of children) c.kill('SIGKILL'); children.clear(); });

/** Starts `run` reading a pcap from a pipe; stdout is watched as it grows. */
function pipedRun(args: string[]) {
  const child = spawn(process.execPath, [BIN, 'run', ...args], { cwd: ROOT, stdio: ['pipe', 'pipe', 'pipe'] });
  children.add(child);
  child.on('close', () => children.delete(child));
  let out = '', err = '';
  child.stdout.on('data', (d) => { out += d; });
  child.stderr.on('data', (d) => { err += d; });
  const done = new Promise<number | null>((r) => child.on('close', r));
  return {
    child, done, stdout: () => out, stderr: () => err,
    send: (b: Uint8Array) => new Promise<void>((r) => child.stdin.write(b, () => r())),
    async waitFor(pred: (s: string) => boolean, ms: number): Promise<boolean> {
      const deadline = Date.now() + ms;
      while (Date.now() < deadline) {
        if (pred(out)) return true;
        if (child.exitCode !== null) break;
        await new Promise((r) => setTimeout(r, 50));
      }
      return pred(out);
    },
  };
}

for (const format of ['table', 'jsonl'] as const) {
  test(`${format}: pcap:- through a pipe: window N is printed once window N+1 begins, before the rest of the input comes`, async () => {
    const T = 1700000000; // a multiple of 10: the windows are [T, T+10), [T+10, T+20), ...
    const rec = (t: number, host: number, sport: number) => pcapRecord({ sec: Math.floor(t), frac: Math.round((t % 1) * 1e6), data: syn([10, 0, 0, host], sport) });
    const run = pipedRun(['tcp-new-conn', '-s', 'pcap:-', '-p', 'threshold=0', '-w', '10s', '-f', format, '-q']);
    // hand-counted: window T: 3 SYNs to 10.0.0.1, 2 to 10.0.0.2; window T+10: 4 to 10.0.0.3
    await run.send(concat([pcapHeader(), rec(T + 1, 1, 1001), rec(T + 2, 2, 1002), rec(T + 3, 1, 1003), rec(T + 4, 1, 1004), rec(T + 9.5, 2, 1005)]));
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(run.stdout(), '', 'window T is still open');
    await run.send(concat([rec(T + 10.5, 3, 2001)])); // window T+10 begins: window T closes
    const rowsOf = (s: string) => format === 'jsonl'
      ? s.split('\n').filter(Boolean).map((l) => { const r = JSON.parse(l); return `${r.window.start} ${r.key} ${r.value}`; })
      : s.split('\n').slice(1).filter(Boolean).map((l) => { const [d, t, , k, v] = l.split(/\s+/); return `${Date.parse(`${d}T${t}Z`) / 1000} ${k} ${v}`; });
    const first = [`${T} 10.0.0.1 3`, `${T} 10.0.0.2 2`];
    assert.ok(await run.waitFor((s) => rowsOf(s).length >= 2, 5000), `window T's rows while the input is still open: ${JSON.stringify(run.stdout())} ${run.stderr()}`);
    assert.deepEqual(rowsOf(run.stdout()), first);
    await run.send(concat([rec(T + 12, 3, 2002), rec(T + 13, 3, 2003), rec(T + 19.9, 3, 2004)]));
    await new Promise((r) => setTimeout(r, 300));
    assert.deepEqual(rowsOf(run.stdout()), first, 'window T+10 is still open');
    await run.send(concat([rec(T + 25, 9, 3001)]));
    assert.ok(await run.waitFor((s) => rowsOf(s).length >= 3, 5000), 'window T+10 once T+20 begins');
    assert.deepEqual(rowsOf(run.stdout()), [...first, `${T + 10} 10.0.0.3 4`]);
    run.child.stdin.end();
    assert.equal(await run.done, 0, run.stderr());
    assert.deepEqual(rowsOf(run.stdout()), [...first, `${T + 10} 10.0.0.3 4`, `${T + 20} 10.0.0.9 1`]);
  });
}

test('table: a packet with a bad timestamp (pcapng-example.pcapng, 1 h windows) is a warning; the run, the table and --stats go on', { skip: haveTshark() ? false : 'tshark is not installed' }, async () => {
  const file = join(CAPTURES, 'pcapng', 'pcapng-example.pcapng');
  const stats = join(tmp, 'bad-ts.json');
  const r = await runCli(['run', 'tcp-new-conn', '-s', `pcap:${file}`, '-w', '1h', '-p', 'threshold=0', '--stats', stats]);
  assert.equal(r.code, 0, r.stderr);
  // tshark: the SYNs' times and destinations; the window is the hour the time falls in
  const want = tsharkRows(file, 'tcp.flags.syn == 1 && tcp.flags.ack == 0', ['frame.time_epoch', 'ip.dst']).map(([t, d]) => {
    const start = Math.floor(Number(t) / 3600) * 3600;
    const date = start * 1000 <= 8.64e15 ? new Date(start * 1000).toISOString().slice(0, 19).replace('T', ' ') : String(start);
    return `${date} +3600s ${d} 1`;
  });
  assert.equal(want.length, 2);
  assert.ok(want.some((w) => w.startsWith('18446744070000 ')), `one time beyond what a date holds: ${want}`);
  const rows = r.stdout.split('\n').slice(1).filter(Boolean).map((l) => l.split(/\s+/).join(' '));
  assert.deepEqual(rows, want);
  assert.match(r.stderr, /intstream: warning: window start 18446744070000 is not a date/);
  assert.doesNotMatch(r.stderr, /RangeError|failed/);
  assert.ok(existsSync(stats));
  assert.equal(JSON.parse(readFileSync(stats, 'utf8')).global_out, 2);
});
