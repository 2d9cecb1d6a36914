/**
 * Starts intstream processes for distributed tests: runtime, agents, GSP workers, each a real
 * `bin/intstream.js` child on loopback with a free port. Everything started is stopped by
 * stopAll() (SIGTERM, then SIGKILL after 5 s).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const BIN = new URL('../../bin/intstream.js', import.meta.url).pathname;
export const TOKEN = 'test-token-0123456789';

export function freePort(): Promise<number> {
  return new Promise((res, rej) => {
    const s = createServer();
    s.once('error', rej);
    s.listen(0, '127.0.0.1', () => { const p = (s.address() as { port: number }).port; s.close(() => res(p)); });
  });
}

export interface Proc { child: ChildProcess; name: string; log: string[]; exited: Promise<number | null> }

export class Cluster {
  readonly procs: Proc[] = [];
  readonly dir = mkdtempSync(join(tmpdir(), 'intstream-cluster-'));
  runtimeUrl = '';
  db = join(this.dir, 'runtime.db');
  readonly kafka: string;

  constructor(kafka: string) {
    this.kafka = kafka;
    // Whatever way the test process ends (a timeout, a crash), its children end with it.
    process.once('exit', () => { for (const p of this.procs) if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill('SIGKILL'); });
  }

  spawn(name: string, args: string[], stdin: 'ignore' | 'pipe' = 'ignore'): Proc {
    const child = spawn(process.execPath, [BIN, ...args], { stdio: [stdin, 'pipe', 'pipe'], env: { ...process.env, INTSTREAM_TOKEN: TOKEN } });
    const log: string[] = [];
    child.stdout!.on('data', (d) => log.push(String(d)));
    child.stderr!.on('data', (d) => { log.push(String(d)); if (process.env.CLUSTER_DEBUG) process.stderr.write(`[${name}] ${d}`); });
    const exited = new Promise<number | null>((r) => child.once('close', (code) => r(code)));
    const p = { child, name, log, exited };
    this.procs.push(p);
    return p;
  }

  async startRuntime(extra: string[] = []): Promise<Proc> {
    const port = this.runtimeUrl ? Number(new URL(this.runtimeUrl).port) : await freePort();
    const p = this.spawn('runtime', ['runtime', '--kafka', this.kafka, '--port', String(port), '--db', this.db, '--down-after', '3s', ...extra]);
    this.runtimeUrl = `http://127.0.0.1:${port}`;
    await waitFor(async () => (await fetch(`${this.runtimeUrl}/api/v1/health`).catch(() => null))?.ok === true, 20_000, 'runtime up');
    return p;
  }

  agent(name: string, source: string, stdin: 'ignore' | 'pipe' = 'ignore'): Proc {
    return this.spawn(`agent-${name}`, ['agent', '--name', name, '--source', source, '--runtime', this.runtimeUrl, '--heartbeat', '500ms'], stdin);
  }

  gsp(name: string): Proc {
    return this.spawn(`gsp-${name}`, ['gsp', '--name', name, '--kafka', this.kafka, '--runtime', this.runtimeUrl]);
  }

  async api(method: string, path: string, body?: unknown, token: string | null = TOKEN): Promise<{ status: number; data: any }> {
    const res = await fetch(`${this.runtimeUrl}/api/v1${path}`, {
      method,
      headers: { ...(body !== undefined ? { 'content-type': 'application/json' } : {}), ...(token ? { authorization: `Bearer ${token}` } : {}) },
      body: body !== undefined ? JSON.stringify(body) : undefined,
    });
    const text = await res.text();
    return { status: res.status, data: text ? JSON.parse(text) : undefined };
  }

  async kill(p: Proc, signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill(signal);
    await p.exited;
  }

  async stopAll(): Promise<void> {
    await Promise.all(this.procs.map(async (p) => {
      if (p.child.exitCode !== null || p.child.signalCode !== null) return;
      p.child.kill('SIGTERM');
      const t = setTimeout(() => p.child.kill('SIGKILL'), 5000);
      await p.exited;
      clearTimeout(t);
    }));
  }
}

export async function waitFor(cond: () => Promise<boolean> | boolean, timeoutMs: number, what: string): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    if (await cond()) return;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for: ${what}`);
}

/** Results in a canonical order (window, then key) for comparing sets. */
export function canonical(rs: { window: any; key: unknown; value: unknown }[]): string[] {
  return rs.map((r) => JSON.stringify({ window: r.window, key: r.key, value: r.value })).sort();
}
