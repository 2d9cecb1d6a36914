/**
 * Real influxd (InfluxDB 1.x, Debian package influxdb) and prometheus (Debian package
 * prometheus) for the sink tests: each gets a temp dir, binds loopback only on free ports, and
 * is stopped (and its dir removed) by stop(), which the tests call in after().
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export async function freePort(): Promise<number> {
  return new Promise((res) => { const s = createServer(); s.listen(0, '127.0.0.1', () => { const p = (s.address() as any).port; s.close(() => res(p)); }); });
}

export function has(cmd: string): boolean {
  return !spawnSync('sh', ['-c', `command -v ${cmd}`]).status;
}

export interface Service { url: string; stop(): Promise<void>; log(): string }

async function waitFor(url: string, child: ChildProcess, log: () => string, ms = 30_000): Promise<void> {
  const end = Date.now() + ms;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`service exited (${child.exitCode}): ${log().slice(-2000)}`);
    try { const r = await fetch(url, { signal: AbortSignal.timeout(1000) }); if (r.status < 500) { await r.arrayBuffer(); return; } } catch { /* not yet */ }
    if (Date.now() > end) throw new Error(`service at ${url} did not come up: ${log().slice(-2000)}`);
    await new Promise((r) => setTimeout(r, 150));
  }
}

function start(cmd: string, args: string[], dir: string, readyUrl: string, url: string): Promise<Service> {
  let out = '';
  const child = spawn(cmd, args, { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout!.on('data', (d) => { out += d; if (out.length > 1e6) out = out.slice(-1e5); });
  child.stderr!.on('data', (d) => { out += d; if (out.length > 1e6) out = out.slice(-1e5); });
  const stop = async () => {
    if (child.exitCode === null) {
      child.kill('SIGTERM');
      await Promise.race([new Promise((r) => child.once('exit', r)), new Promise((r) => setTimeout(r, 5000))]);
      if (child.exitCode === null) child.kill('SIGKILL');
    }
    rmSync(dir, { recursive: true, force: true });
  };
  return waitFor(readyUrl, child, () => out).then(() => ({ url, stop, log: () => out }), async (e) => { await stop(); throw e; });
}

export async function startInfluxd(): Promise<Service> {
  const dir = mkdtempSync(join(tmpdir(), 'intstream-influxd-'));
  const http = await freePort(), rpc = await freePort();
  writeFileSync(join(dir, 'influxdb.conf'), `reporting-disabled = true
bind-address = "127.0.0.1:${rpc}"
[meta]
  dir = "${dir}/meta"
[data]
  dir = "${dir}/data"
  wal-dir = "${dir}/wal"
  query-log-enabled = false
[http]
  enabled = true
  bind-address = "127.0.0.1:${http}"
  log-enabled = false
[monitor]
  store-enabled = false
`);
  return start('influxd', ['-config', join(dir, 'influxdb.conf')], dir, `http://127.0.0.1:${http}/ping`, `http://127.0.0.1:${http}`);
}

export async function startPrometheus(target: string, intervalS = 1): Promise<Service> {
  const dir = mkdtempSync(join(tmpdir(), 'intstream-prometheus-'));
  const port = await freePort();
  writeFileSync(join(dir, 'prometheus.yml'), `global:
  scrape_interval: ${intervalS}s
  evaluation_interval: ${intervalS}s
scrape_configs:
  - job_name: intstream
    static_configs:
      - targets: ['${target}']
`);
  return start('prometheus', [`--config.file=${join(dir, 'prometheus.yml')}`, `--storage.tsdb.path=${join(dir, 'data')}`,
    `--web.listen-address=127.0.0.1:${port}`, '--log.level=warn'], dir, `http://127.0.0.1:${port}/-/ready`, `http://127.0.0.1:${port}`);
}
