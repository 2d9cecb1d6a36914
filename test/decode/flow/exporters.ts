// Test support: run the real flow exporters from Debian (softflowd, pmacctd with the sfprobe
// plugin) over a capture file and collect the datagrams they send to a UDP socket on
// 127.0.0.1.

import { spawn, spawnSync } from 'node:child_process';
import { createSocket, type Socket } from 'node:dgram';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

export interface Collected {
  datagrams: Buffer[];
  /** "address:port" of the exporter's socket, as the engine would pass it. */
  exporter: string;
  log: string;
}

function findBinary(name: string): string | null {
  for (const dir of ['/usr/sbin', '/usr/bin', '/usr/local/sbin', '/usr/local/bin']) {
    const p = join(dir, name);
    if (existsSync(p)) return p;
  }
  return null;
}

/** Why a real exporter cannot run here, or null when it can. */
export function exporterUnavailable(name: 'softflowd' | 'pmacctd'): string | null {
  const bin = findBinary(name);
  if (bin === null) {
    return `${name} is not installed (DEBIAN_FRONTEND=noninteractive apt-get install -y ${name === 'pmacctd' ? 'pmacct' : name})`;
  }
  const r = spawnSync(bin, name === 'softflowd' ? ['-h'] : ['-V'], { encoding: 'utf8', timeout: 5000 });
  if (r.error) return `${bin} cannot be executed: ${r.error.message}`;
  if (name === 'softflowd' && findBinary('softflowctl') === null) return 'softflowctl (part of softflowd) is missing';
  return null;
}

function runQuietly(bin: string, args: string[]): Promise<void> {
  return new Promise((resolve) => {
    const c = spawn(bin, args, { stdio: 'ignore', timeout: 5000 });
    c.once('error', () => resolve());
    c.once('exit', () => resolve());
  });
}

async function openCollector(): Promise<{ sock: Socket; port: number; datagrams: Buffer[]; from: string[] }> {
  const sock = createSocket({ type: 'udp4', recvBufferSize: 4 * 1024 * 1024 });
  const datagrams: Buffer[] = [];
  const from: string[] = [];
  sock.on('message', (msg, rinfo) => {
    datagrams.push(msg);
    from.push(`${rinfo.address}:${rinfo.port}`);
  });
  await new Promise<void>((resolve, reject) => {
    sock.once('error', reject);
    sock.bind(0, '127.0.0.1', () => resolve());
  });
  return { sock, port: sock.address().port, datagrams, from };
}

/** Waits until no datagram has arrived for `quietMs`. */
async function drain(datagrams: Buffer[], quietMs = 300, maxMs = 5000): Promise<void> {
  const t0 = Date.now();
  let n = -1;
  while (Date.now() - t0 < maxMs) {
    if (datagrams.length === n) return;
    n = datagrams.length;
    await sleep(quietMs);
  }
}

/**
 * softflowd 1.1.0 (Debian 12) in `-r FILE` mode does not run by itself: its main loop blocks
 * in accept() on the control socket before each round, so every step (reading the file, then
 * the shutdown after "pcap EOF" that flushes every flow) waits for a control command. We keep
 * sending harmless `statistics` commands until the process exits.
 */
export async function runSoftflowd(capture: string, version: 5 | 9 | 10, extra: string[] = []): Promise<Collected> {
  const bin = findBinary('softflowd')!;
  const ctlBin = findBinary('softflowctl')!;
  const dir = mkdtempSync(join(tmpdir(), 'intstream-softflowd-'));
  const ctl = join(dir, 'ctl');
  const { sock, port, datagrams, from } = await openCollector();
  let log = '';
  try {
    const child = spawn(
      bin,
      ['-r', capture, '-n', `127.0.0.1:${port}`, '-v', String(version), '-d', '-a', '-p', join(dir, 'pid'), '-c', ctl, ...extra],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    child.stdout.on('data', (d: Buffer) => (log += d.toString()));
    child.stderr.on('data', (d: Buffer) => (log += d.toString()));
    let exited = false;
    const done = new Promise<void>((resolve) => child.once('close', () => ((exited = true), resolve())));
    for (let i = 0; i < 400 && !exited; i++) {
      // asynchronously, so that datagrams keep being read from the socket meanwhile
      if (existsSync(ctl)) await runQuietly(ctlBin, ['-c', ctl, 'statistics']);
      await Promise.race([done, sleep(25)]);
    }
    if (!exited) {
      child.kill('SIGKILL');
      await done;
      throw new Error(`softflowd did not finish reading ${capture}:\n${log}`);
    }
    await drain(datagrams);
    return { datagrams, exporter: from[0] ?? '', log };
  } finally {
    sock.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * pmacctd reading a savefile with the sfprobe plugin (sFlow v5 export), 1-in-1 sampling.
 *
 * pmacctd 1.7.7 (Debian 12) behaviour found here: the core hands packets to the plugin in
 * buffers and hands over the last, partly filled one only when it stops. Left to exit by itself
 * at the end of the savefile it loses that buffer (bro.org.pcap: 749 of 751 packets exported);
 * so we run it with `pcap_savefile_wait: true`, wait until the export has been quiet for
 * `quietMs`, then stop it with SIGINT and collect the final flush too. That final flush carries
 * the missing packets followed by stale entries of the reused buffer (repeats of samples sent
 * before) — the caller must expect those.
 */
export async function runPmacctSfprobe(
  capture: string,
  extraConfig: Record<string, string> = {},
  quietMs = 3000,
): Promise<Collected & { beforeStop: number }> {
  const bin = findBinary('pmacctd')!;
  const dir = mkdtempSync(join(tmpdir(), 'intstream-pmacctd-'));
  const { sock, port, datagrams, from } = await openCollector();
  let log = '';
  try {
    const conf = {
      daemonize: 'false',
      pcap_savefile: capture,
      pcap_savefile_wait: 'true',
      plugins: 'sfprobe',
      sfprobe_receiver: `127.0.0.1:${port}`,
      sfprobe_agentip: '127.0.0.1',
      sampling_rate: '1',
      pidfile: join(dir, 'pid'),
      ...extraConfig,
    };
    const confPath = join(dir, 'pmacctd.conf');
    writeFileSync(confPath, Object.entries(conf).map(([k, v]) => `${k}: ${v}\n`).join(''));
    const child = spawn(bin, ['-f', confPath], { stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout.on('data', (d: Buffer) => (log += d.toString()));
    child.stderr.on('data', (d: Buffer) => (log += d.toString()));
    let exited = false;
    let exitCode: number | null = null;
    const done = new Promise<void>((resolve) =>
      child.once('close', (c) => {
        exited = true;
        exitCode = c;
        resolve();
      }),
    );
    // the daemon sleeps 2 s before playing a savefile; then samples flow until the file is done
    const t0 = Date.now();
    let n = 0;
    let lastChange = Date.now();
    while (!exited && Date.now() - t0 < 120_000) {
      await Promise.race([done, sleep(100)]);
      if (datagrams.length !== n) {
        n = datagrams.length;
        lastChange = Date.now();
      } else if (n > 0 && Date.now() - lastChange >= quietMs) {
        break;
      }
    }
    if (exited) throw new Error(`pmacctd exited early (${exitCode}):\n${log}`);
    const beforeStop = datagrams.length;
    child.kill('SIGINT');
    const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
    await done;
    clearTimeout(timer);
    await drain(datagrams);
    if (/ERROR/.test(log)) throw new Error(`pmacctd reported an error:\n${log}`);
    return { datagrams, exporter: from[0] ?? '', log, beforeStop };
  } finally {
    sock.close();
    rmSync(dir, { recursive: true, force: true });
  }
}
