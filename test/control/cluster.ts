/**
 * Starts intstream processes for distributed tests: runtime, agents, GSP workers, each a real
 * `bin/intstream.js` child on loopback with a free port. Everything started is stopped by
 * stopAll() (SIGTERM, then SIGKILL after 5 s).
 *
 * Credentials as in a deployment: the runtime reads a tokens file (`--tokens`) with an operator
 * (TOKEN) and a reader (READ_TOKEN); each agent and GSP worker gets its own credential, bound to
 * its name, added to the file when it is started (the runtime re-reads the file when it changes).
 * Agents and workers run built-in applications only unless given `--allow-code` in `extra`.
 */
import { randomBytes } from 'node:crypto';
import { spawn, type ChildProcess } from 'node:child_process';
import { appendFileSync, mkdtempSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const BIN = new URL('../../bin/intstream.js', import.meta.url).pathname;
/** The operator's token: read, submit, stop. */
export const TOKEN = 'test-token-0123456789';
/** A reader's token: GET calls only. */
export const READ_TOKEN = 'test-read-token-0123456789';

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
  /** The runtime's tokens file. */
  readonly tokens = join(this.dir, 'tokens');
  readonly kafka: string;
  private readonly issued = new Map<string, string>();

  constructor(kafka: string) {
    this.kafka = kafka;
    writeFileSync(this.tokens, `operator operator ${TOKEN}\nread reader ${READ_TOKEN}\n`, { mode: 0o600 });
    // Whatever way the test process ends (a timeout, a crash), its children end with it.
    process.once('exit', () => { for (const p of this.procs) if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill('SIGKILL'); });
  }

  /** The token of agent or worker `name`, added to the tokens file the first time. */
  tokenFor(role: 'agent' | 'worker', name: string): string {
    const k = `${role} ${name}`;
    let t = this.issued.get(k);
    if (!t) {
      t = `${role}-${randomBytes(12).toString('hex')}`;
      appendFileSync(this.tokens, `${k} ${t}\n`);
      this.issued.set(k, t);
    }
    return t;
  }

  /**
   * Runs `intstream ARGS` with INTSTREAM_TOKEN `token` (the operator's by default); `wrap` goes
   * before the command, e.g. ['ip', 'netns', 'exec', NS] for an agent inside a namespace.
   */
  spawn(name: string, args: string[], stdin: 'ignore' | 'pipe' = 'ignore', token: string = TOKEN, wrap: string[] = []): Proc {
    const argv = [...wrap, process.execPath, BIN, ...args];
    const child = spawn(argv[0], argv.slice(1), { stdio: [stdin, 'pipe', 'pipe'], env: { ...process.env, INTSTREAM_TOKEN: token } });
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
    const p = this.spawn('runtime', ['runtime', '--kafka', this.kafka, '--port', String(port), '--db', this.db, '--down-after', '3s', '--tokens', this.tokens, ...extra]);
    this.runtimeUrl = `http://127.0.0.1:${port}`;
    await waitFor(async () => (await fetch(`${this.runtimeUrl}/api/v1/health`).catch(() => null))?.ok === true, 20_000, 'runtime up');
    return p;
  }

  /** An agent with its own credential; `extra` options, e.g. ['--allow-code']. */
  agent(name: string, source: string, stdin: 'ignore' | 'pipe' = 'ignore', extra: string[] = [], wrap: string[] = []): Proc {
    return this.spawn(`agent-${name}`, ['agent', '--name', name, '--source', source, '--runtime', this.runtimeUrl, '--heartbeat', '500ms', ...extra], stdin, this.tokenFor('agent', name), wrap);
  }

  /** A GSP worker with its own credential; `extra` options, e.g. ['--allow-code']. */
  gsp(name: string, extra: string[] = []): Proc {
    return this.spawn(`gsp-${name}`, ['gsp', '--name', name, '--kafka', this.kafka, '--runtime', this.runtimeUrl, ...extra], 'ignore', this.tokenFor('worker', name));
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

  /** Resolves once the runtime lists a GSP worker as up. */
  async workerUp(timeoutMs = 20_000): Promise<void> {
    await waitFor(async () => (await this.api('GET', '/workers')).data.workers.some((w: any) => w.up), timeoutMs, 'worker up');
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

/** Writes to a process's standard input (an agent on pcap:-), resolving once it is flushed. */
export const writeStdin = (p: Proc, data: Buffer) => new Promise<void>((r) => p.child.stdin!.write(data, () => r()));

/** Polls `cond` every 200 ms; on timeout throws naming `what` (a function: what it says then, e.g. the state reached). */
export async function waitFor(cond: () => Promise<boolean> | boolean, timeoutMs: number, what: string | (() => string | Promise<string>)): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    if (await cond()) return;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for: ${typeof what === 'string' ? what : await what()}`);
}

/** Results in a canonical order (window, then key) for comparing sets. */
export function canonical(rs: { window: any; key: unknown; value: unknown }[]): string[] {
  return rs.map((r) => JSON.stringify({ window: r.window, key: r.key, value: r.value })).sort();
}
