// Test support for the flow-export sources: real exporters from Debian (softflowd, pmacctd
// with the sfprobe plugin) sending to a given UDP port on 127.0.0.1, where intstream listens.
// Their quirks (softflowd's -r mode waits on its control socket; pmacctd's last buffer only
// leaves on shutdown, with stale repeats) are described in test/decode/flow/exporters.ts.

import { spawn } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

/** A UDP port free on 127.0.0.1 right now (bound to 0, read, released). */
export async function freeUdpPort(): Promise<number> {
  const s = createSocket('udp4');
  await new Promise<void>((res, rej) => { s.once('error', rej); s.bind(0, '127.0.0.1', () => res()); });
  const port = s.address().port;
  await new Promise<void>((res) => s.close(() => res()));
  return port;
}

/** True once something listens on UDP 127.0.0.1:port (from /proc/net/udp). */
export function udpListening(port: number): boolean {
  const hex = port.toString(16).toUpperCase().padStart(4, '0');
  for (const f of ['/proc/net/udp', '/proc/net/udp6']) {
    if (!existsSync(f)) continue;
    for (const line of readFileSync(f, 'utf8').split('\n').slice(1)) {
      const local = line.trim().split(/\s+/)[1];
      if (local && local.endsWith(`:${hex}`)) return true;
    }
  }
  return false;
}

export async function waitListening(port: number, timeoutMs = 10_000): Promise<void> {
  const t0 = Date.now();
  while (!udpListening(port)) {
    if (Date.now() - t0 > timeoutMs) throw new Error(`nothing listens on udp ${port}`);
    await sleep(20);
  }
}

function runQuietly(bin: string, args: string[]): Promise<void> {
  return new Promise((resolve) => {
    const c = spawn(bin, args, { stdio: 'ignore', timeout: 5000 });
    c.once('error', () => resolve());
    c.once('exit', () => resolve());
  });
}

/**
 * softflowd -r CAPTURE exporting NetFlow v5/v9 or IPFIX (-v 5|9|10) to 127.0.0.1:port, with
 * its clock following the capture (-a). Resolves with its log once it has exited.
 */
export async function softflowdTo(capture: string, port: number, version: 5 | 9 | 10, extra: string[] = []): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), 'intstream-flowsrc-softflowd-'));
  const ctl = join(dir, 'ctl');
  let log = '';
  try {
    const child = spawn('/usr/sbin/softflowd',
      ['-r', capture, '-n', `127.0.0.1:${port}`, '-v', String(version), '-d', '-a', '-p', join(dir, 'pid'), '-c', ctl, ...extra],
      { stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout.on('data', (d: Buffer) => (log += d.toString()));
    child.stderr.on('data', (d: Buffer) => (log += d.toString()));
    let exited = false;
    const done = new Promise<void>((resolve) => child.once('close', () => ((exited = true), resolve())));
    for (let i = 0; i < 400 && !exited; i++) {
      if (existsSync(ctl)) await runQuietly('/usr/sbin/softflowctl', ['-c', ctl, 'statistics']);
      await Promise.race([done, sleep(25)]);
    }
    if (!exited) { child.kill('SIGKILL'); await done; throw new Error(`softflowd did not finish reading ${capture}:\n${log}`); }
    return log;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * pmacctd reading CAPTURE with the sfprobe plugin, sFlow v5 to 127.0.0.1:port at 1-in-`rate`
 * sampling; stopped with SIGINT once the export has been quiet for quietMs (see
 * runPmacctSfprobe in test/decode/flow/exporters.ts). `sent()` counts datagrams seen so far by
 * the caller, to detect the quiet period.
 */
export async function pmacctdTo(capture: string, port: number, sent: () => number, rate = 1, quietMs = 2500): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), 'intstream-flowsrc-pmacctd-'));
  let log = '';
  try {
    const conf = {
      daemonize: 'false', pcap_savefile: capture, pcap_savefile_wait: 'true', plugins: 'sfprobe',
      sfprobe_receiver: `127.0.0.1:${port}`, sfprobe_agentip: '127.0.0.1', sampling_rate: String(rate),
      plugin_buffer_size: '1', pidfile: join(dir, 'pid'),
    };
    const confPath = join(dir, 'pmacctd.conf');
    writeFileSync(confPath, Object.entries(conf).map(([k, v]) => `${k}: ${v}\n`).join(''));
    const child = spawn('/usr/sbin/pmacctd', ['-f', confPath], { stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout.on('data', (d: Buffer) => (log += d.toString()));
    child.stderr.on('data', (d: Buffer) => (log += d.toString()));
    let exited = false;
    const done = new Promise<void>((resolve) => child.once('close', () => ((exited = true), resolve())));
    const t0 = Date.now();
    let n = 0, lastChange = Date.now();
    while (!exited && Date.now() - t0 < 120_000) {
      await Promise.race([done, sleep(100)]);
      const m = sent();
      if (m !== n) { n = m; lastChange = Date.now(); } else if (n > 0 && Date.now() - lastChange >= quietMs) break;
    }
    if (exited) throw new Error(`pmacctd exited early:\n${log}`);
    child.kill('SIGINT');
    const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
    await done;
    clearTimeout(timer);
    if (/ERROR/.test(log)) throw new Error(`pmacctd reported an error:\n${log}`);
    return log;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
