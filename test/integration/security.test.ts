/**
 * The runtime's security with real processes (issue 12), without a broker (nothing here needs
 * one; tasks are put into the runtime's store before it starts):
 *   1. Event streams are capped: 40 streams of one credential get 32 × 200 and 8 × 429; then
 *      500 streams over 20 credentials get 256 × 200 and 244 × 429, every open stream gets the
 *      recent results and the counters, and meanwhile agents' heartbeats are answered within 1 s
 *      and the agents stay up.
 *   2. Agents and GSP workers run a submitted query file only when started with --allow-code:
 *      without it the task fails on them with the reason in the task's detail, and the file's
 *      load-time code (which leaves a marker named by its process id) never ran there. A task's
 *      file sink is written by a GSP worker only inside its --sink-dir.
 *   3. TLS: the runtime serves HTTPS with --tls-cert/--tls-key; the CLI and agents verify it with
 *      --ca (or INTSTREAM_CA) and refuse a runtime whose certificate is not from that CA, before
 *      sending anything (an impostor sees no request, so no token); with --tls-ca the runtime
 *      requires client certificates signed by that CA.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { get as httpGet, type IncomingMessage } from 'node:http';
import { createServer as createHttpsServer, request as httpsRequest } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { RuntimeStore } from '../../src/control/runtime-store.ts';
import type { TaskSpec } from '../../src/apps/task-spec.ts';
import { makeCerts, opensslAvailable, type TestCerts } from '../control/certs.ts';
import { freePort, waitFor } from '../control/cluster.ts';
import { BIN } from '../support/run-cli.ts';

const DEMO = new URL('../../samples/demo.pcap', import.meta.url).pathname;
const DEAD_KAFKA = '127.0.0.1:1';
const work = mkdtempSync(join(tmpdir(), 'intstream-security-'));
const procs: ChildProcess[] = [];

after(async () => {
  for (const p of procs) if (p.exitCode === null && p.signalCode === null) p.kill('SIGKILL');
  rmSync(work, { recursive: true, force: true });
});

function cli(args: string[], env: Record<string, string> = {}): { child: ChildProcess; log: () => string; exited: Promise<number | null> } {
  const child = spawn(process.execPath, [BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, INTSTREAM_TOKEN: '', INTSTREAM_CA: '', ...env } });
  procs.push(child);
  let out = '';
  child.stdout!.on('data', (d) => { out += d; });
  child.stderr!.on('data', (d) => { out += d; });
  const exited = new Promise<number | null>((r) => child.once('close', (code) => r(code)));
  return { child, log: () => out, exited };
}

async function stop(p: { child: ChildProcess; exited: Promise<number | null> }): Promise<void> {
  if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill('SIGTERM');
  const t = setTimeout(() => p.child.kill('SIGKILL'), 8000);
  await p.exited;
  clearTimeout(t);
}

function task(id: string, agents: string[], extra: Partial<TaskSpec> = {}): TaskSpec {
  return { id, name: 'tcp-new-conn', app: 'tcp-new-conn', code: null, params: {}, window: 1, agents, partitions: 1, kafka: DEAD_KAFKA, graceMs: 30_000, sinks: [], status: 'running', createdAt: Date.now(), ...extra };
}

async function api(url: string, method: string, path: string, token: string | null, body?: unknown): Promise<{ status: number; data: any; ms: number }> {
  const t0 = performance.now();
  const res = await fetch(`${url}/api/v1${path}`, {
    method, headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
    body: body !== undefined ? JSON.stringify(body) : undefined,
  });
  const text = await res.text();
  return { status: res.status, data: text ? JSON.parse(text) : undefined, ms: performance.now() - t0 };
}

describe('event streams are capped and do not stall the runtime', () => {
  test('one credential: 32 streams; 500 over 20 credentials: 256; heartbeats within 1 s, agents stay up', { timeout: 120_000 }, async () => {
    const dir = mkdtempSync(join(work, 'sse-'));
    const db = join(dir, 'runtime.db');
    const readers = Array.from({ length: 21 }, (_, i) => `reader-${i}-token-${'x'.repeat(12)}`);
    const beaters = ['h0', 'h1', 'h2'];
    const agentToken = (n: string) => `agent-${n}-token-0123456789`;
    const tokens = join(dir, 'tokens');
    writeFileSync(tokens, [...readers.map((t, i) => `read r${i} ${t}`), ...beaters.map((n) => `agent ${n} ${agentToken(n)}`)].join('\n') + '\n', { mode: 0o600 });
    // a task of 30 agents with counters and 3000 stored results: what every stream is about
    const store = new RuntimeStore(db);
    const names = Array.from({ length: 30 }, (_, i) => `e${i}`);
    for (const n of names) store.upsertAgent(n, 'pcap:x', { site: 'ams' }, { cpu: 0.1, rss_bytes: 5e7 });
    store.addTask(task('flood', names));
    for (const n of names) store.setAgentCounters('flood', n, { items_read: 1000, filtered: 10, emitted: 100, malformed: 0, skipped: 0, state: 'running', kafka_retries: 0 });
    store.addResults('flood', Array.from({ length: 3000 }, (_, i) => ({ window: { start: i, end: i + 1 }, key: `10.0.${i >> 8}.${i & 255}`, value: i })));
    store.close();

    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    const rt = cli(['runtime', '--kafka', DEAD_KAFKA, '--port', String(port), '--db', db, '--tokens', tokens, '--down-after', '3s']);
    await waitFor(async () => (await fetch(`${url}/api/v1/health`).catch(() => null))?.ok === true, 20_000, 'runtime up');

    // agents heartbeating every 300 ms, each answer timed
    let slowest = 0, beats = 0, failed = 0, beating = true;
    const beat = (async () => {
      while (beating) {
        await Promise.all(beaters.map(async (n) => {
          const r = await api(url, 'POST', `/agents/${n}/heartbeat`, agentToken(n), { source: 'pcap:x', cpu: 0.1, rss_bytes: 1e7 }).catch(() => null);
          if (!r || r.status !== 200) failed++;
          else { beats++; slowest = Math.max(slowest, r.ms); }
        }));
        await new Promise((r) => setTimeout(r, 300));
      }
    })();
    await waitFor(() => beats >= 6, 10_000, 'first heartbeats');
    slowest = 0;

    interface Sse { status: number; res: IncomingMessage; results: number; counters: number }
    const open = (token: string) => new Promise<Sse>((resolve, reject) => {
      const req = httpGet(`${url}/api/v1/tasks/flood/events`, { agent: false, headers: { authorization: `Bearer ${token}`, accept: 'text/event-stream' } }, (res) => {
        const s: Sse = { status: res.statusCode ?? 0, res, results: 0, counters: 0 };
        let tail = '';
        res.on('data', (b: Buffer) => {
          const text = tail + b.toString('utf8');
          const cut = text.lastIndexOf('\n\n');
          const whole = cut >= 0 ? text.slice(0, cut) : '';
          tail = cut >= 0 ? text.slice(cut + 2) : text;
          s.results += (whole.match(/^event: result$/gm) ?? []).length;
          s.counters += (whole.match(/^event: counters$/gm) ?? []).length;
        });
        res.on('error', () => undefined);
        resolve(s);
      });
      req.on('error', reject);
    });
    const closeAll = async (ss: Sse[]) => { for (const s of ss) s.res.destroy(); await new Promise((r) => setTimeout(r, 500)); };

    // one credential: its cap
    const one = await Promise.all(Array.from({ length: 40 }, () => open(readers[20])));
    assert.equal(one.filter((s) => s.status === 200).length, 32);
    assert.equal(one.filter((s) => s.status === 429).length, 8);
    await closeAll(one);

    // 500 streams over 20 credentials (25 each, under the per-credential cap): the overall cap
    const many = await Promise.all(Array.from({ length: 500 }, (_, i) => open(readers[i % 20])));
    const ok = many.filter((s) => s.status === 200);
    assert.equal(ok.length, 256, `streams accepted: ${ok.length}`);
    assert.equal(many.filter((s) => s.status === 429).length, 244);
    await new Promise((r) => setTimeout(r, 6500)); // three counters ticks
    beating = false;
    await beat;
    assert.equal(failed, 0, 'every heartbeat answered 200');
    assert.ok(slowest < 1000, `slowest heartbeat answer during the flood: ${slowest.toFixed(0)} ms`);
    const agents = (await api(url, 'GET', '/agents', readers[0])).data.agents;
    for (const n of beaters) assert.equal(agents.find((a: any) => a.name === n)?.up, true, `${n} up`);
    // every open stream got the recent results (the last 1000) and the shared counters
    for (const s of ok) {
      assert.equal(s.results, 1000);
      assert.ok(s.counters >= 2, `counters events on a stream: ${s.counters}`);
    }
    await closeAll(many);
    // streams closed: new ones are accepted again
    const again = await open(readers[0]);
    assert.equal(again.status, 200);
    again.res.destroy();
    await stop(rt);
  });
});

describe('submitted code runs only where allowed', () => {
  test('agents and GSP workers without --allow-code refuse a query file, with the reason in the task detail', { timeout: 90_000 }, async () => {
    const dir = mkdtempSync(join(work, 'code-'));
    const db = join(dir, 'runtime.db');
    const T = { read: 'read-token-0123456789ab', plain: 'agent-plain-token-012345', coder: 'agent-coder-token-012345', worker: 'worker-w-token-0123456789' };
    const tokens = join(dir, 'tokens');
    writeFileSync(tokens, `read r ${T.read}\nagent plain ${T.plain}\nagent coder ${T.coder}\nworker w ${T.worker}\n`, { mode: 0o600 });
    // load-time code that leaves a marker named by the process that ran it
    const code = `import { writeFileSync } from 'node:fs';
import { defineTask, count } from 'intstream';
writeFileSync(${JSON.stringify(dir)} + '/ran-' + process.pid, 'ran');
export default defineTask({ name: 'marked', description: 'leaves a marker', params: {},
  query: (p, o) => p.filter('tcp.syn').key('ip.dst').window(o.window).aggregate(count()).global().merge() });
`;
    const store = new RuntimeStore(db);
    store.addTask(task('coded', ['plain', 'coder'], { name: 'marked', app: null, code }));
    // a built-in application whose sink would have the worker write a file of the operator's choosing
    const written = join(dir, 'written-by-worker.jsonl');
    store.addTask(task('filesink', ['absent'], { sinks: [`jsonl:${written}`] }));
    store.close();
    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    const rt = cli(['runtime', '--kafka', DEAD_KAFKA, '--port', String(port), '--db', db, '--tokens', tokens]);
    await waitFor(async () => (await fetch(`${url}/api/v1/health`).catch(() => null))?.ok === true, 20_000, 'runtime up');
    const plain = cli(['agent', '--name', 'plain', '--source', `pcap:${DEMO}`, '--runtime', url, '--heartbeat', '300ms'], { INTSTREAM_TOKEN: T.plain });
    const coder = cli(['agent', '--name', 'coder', '--source', `pcap:${DEMO}`, '--runtime', url, '--heartbeat', '300ms', '--allow-code'], { INTSTREAM_TOKEN: T.coder });
    // no --name: the worker takes its credential's name
    const worker = cli(['gsp', '--kafka', DEAD_KAFKA, '--runtime', url], { INTSTREAM_TOKEN: T.worker });
    const detail = async () => (await api(url, 'GET', '/tasks/coded', T.read)).data;
    await waitFor(async () => (await detail()).agents_detail.find((a: any) => a.name === 'plain')?.state === 'failed', 30_000, 'the task failed on plain');
    await waitFor(async () => (await detail()).stages.global.workers.some((w: any) => w.name === 'w' && w.error), 30_000, 'worker w refused the task');
    await waitFor(() => existsSync(join(dir, `ran-${coder.child.pid}`)), 30_000, 'the agent started with --allow-code loaded the file');
    await waitFor(async () => (await api(url, 'GET', '/tasks/filesink', T.read)).data.stages.global.workers.some((w: any) => w.name === 'w' && w.error), 30_000, 'worker w refused the file sink');
    const fileTask = (await api(url, 'GET', '/tasks/filesink', T.read)).data;
    assert.match(fileTask.stages.global.workers.find((w: any) => w.name === 'w').error, /this worker writes no files \(start it with --sink-dir DIR/);
    assert.equal(existsSync(written), false, 'the worker wrote the file sink without --sink-dir');
    const d = await detail();
    const p = d.agents_detail.find((a: any) => a.name === 'plain');
    assert.match(p.error, /query file; this agent runs built-in applications only \(start it with --allow-code to run query files\)/);
    assert.match(d.stages.global.workers.find((w: any) => w.name === 'w').error, /this worker runs built-in applications only \(start it with --allow-code/);
    assert.equal(existsSync(join(dir, `ran-${plain.child.pid}`)), false, 'the agent without --allow-code ran the file');
    assert.equal(existsSync(join(dir, `ran-${worker.child.pid}`)), false, 'the worker without --allow-code ran the file');
    assert.equal(existsSync(join(dir, `ran-${rt.child.pid}`)), false, 'the runtime ran the file');
    await Promise.all([stop(plain), stop(coder), stop(worker)]);
    await stop(rt);
  });
});

describe('TLS between the runtime and its clients', { skip: opensslAvailable() ? false : 'openssl not installed' }, () => {
  let certs: TestCerts;
  const T = { read: 'read-token-tls-0123456789', agent: 'agent-edge-tls-0123456789' };
  let tokens = '';
  const setup = () => {
    if (certs) return;
    certs = makeCerts();
    tokens = join(certs.dir, 'tokens');
    writeFileSync(tokens, `read r ${T.read}\nagent edge ${T.agent}\n`, { mode: 0o600 });
  };
  after(() => { if (certs) rmSync(certs.dir, { recursive: true, force: true }); });

  /** GET over HTTPS trusting only `ca`, optionally with a client certificate. */
  const tlsGet = (url: string, opts: { ca: string; cert?: string; key?: string; token?: string }) => new Promise<number>((resolve, reject) => {
    const req = httpsRequest(url, { ca: readFileSync(opts.ca), ...(opts.cert ? { cert: readFileSync(opts.cert), key: readFileSync(opts.key!) } : {}), headers: opts.token ? { authorization: `Bearer ${opts.token}` } : {} }, (res) => { res.resume(); resolve(res.statusCode ?? 0); });
    req.on('error', reject);
    req.end();
  });

  test('HTTPS: the CLI and an agent verify the runtime with --ca; without the CA they refuse it', { timeout: 60_000 }, async () => {
    setup();
    const port = await freePort();
    const url = `https://127.0.0.1:${port}`;
    const rt = cli(['runtime', '--kafka', DEAD_KAFKA, '--port', String(port), '--db', join(certs.dir, 'tls.db'), '--tokens', tokens, '--tls-cert', certs.serverCert, '--tls-key', certs.serverKey]);
    await waitFor(async () => (await tlsGet(`${url}/api/v1/health`, { ca: certs.ca }).catch(() => 0)) === 200, 20_000, 'runtime up over HTTPS');
    const ok = cli(['tasks', '--runtime', url, '--ca', certs.ca, '--json'], { INTSTREAM_TOKEN: T.read });
    assert.equal(await ok.exited, 0, ok.log());
    assert.deepEqual(JSON.parse(ok.log()), []);
    const viaEnv = cli(['tasks', '--runtime', url, '--json'], { INTSTREAM_TOKEN: T.read, INTSTREAM_CA: certs.ca });
    assert.equal(await viaEnv.exited, 0, viaEnv.log());
    const untrusted = cli(['tasks', '--runtime', url], { INTSTREAM_TOKEN: T.read });
    assert.notEqual(await untrusted.exited, 0);
    assert.match(untrusted.log(), /certificate/i);
    const wrongCa = cli(['tasks', '--runtime', url, '--ca', certs.rogueCert], { INTSTREAM_TOKEN: T.read });
    assert.notEqual(await wrongCa.exited, 0);
    // an agent over HTTPS
    const agent = cli(['agent', '--runtime', url, '--ca', certs.ca, '--source', `pcap:${DEMO}`, '--heartbeat', '300ms'], { INTSTREAM_TOKEN: T.agent });
    await waitFor(async () => {
      const r = await tlsGet(`${url}/api/v1/agents`, { ca: certs.ca, token: T.read }).catch(() => 0);
      return r === 200 && agent.log().includes('registered with');
    }, 20_000, 'agent edge registered over HTTPS');
    await stop(agent);
    await stop(rt);
  });

  test('an agent given --ca sends nothing to a runtime impostor (a certificate from another CA)', { timeout: 30_000 }, async () => {
    setup();
    let requests = 0;
    const impostor = createHttpsServer({ cert: readFileSync(certs.rogueCert), key: readFileSync(certs.rogueKey) }, (req, res) => { requests++; res.writeHead(200, { 'content-type': 'application/json' }); res.end('{"ok":true,"tasks":[],"role":"agent","name":"edge"}'); });
    await new Promise<void>((r) => impostor.listen(0, '127.0.0.1', () => r()));
    const url = `https://127.0.0.1:${(impostor.address() as { port: number }).port}`;
    try {
      const agent = cli(['agent', '--name', 'edge', '--runtime', url, '--ca', certs.ca, '--source', `pcap:${DEMO}`], { INTSTREAM_TOKEN: T.agent });
      const code = await agent.exited;
      assert.notEqual(code, 0, 'the agent took the impostor for its runtime');
      assert.match(agent.log(), /certificate/i);
      assert.equal(requests, 0, 'the impostor received a request (and with it the token)');
    } finally {
      impostor.close();
    }
  });

  test('--tls-ca: the runtime requires a client certificate signed by its CA', { timeout: 60_000 }, async () => {
    setup();
    const port = await freePort();
    const url = `https://127.0.0.1:${port}`;
    const rt = cli(['runtime', '--kafka', DEAD_KAFKA, '--port', String(port), '--db', join(certs.dir, 'mtls.db'), '--tokens', tokens,
      '--tls-cert', certs.serverCert, '--tls-key', certs.serverKey, '--tls-ca', certs.ca]);
    await waitFor(async () => (await tlsGet(`${url}/api/v1/health`, { ca: certs.ca, cert: certs.clientCert, key: certs.clientKey }).catch(() => 0)) === 200, 20_000, 'runtime up with mutual TLS');
    await assert.rejects(tlsGet(`${url}/api/v1/health`, { ca: certs.ca }), 'a client without a certificate got an answer');
    await assert.rejects(tlsGet(`${url}/api/v1/health`, { ca: certs.ca, cert: certs.rogueCert, key: certs.rogueKey }), 'a certificate from another CA was taken');
    const without = cli(['tasks', '--runtime', url, '--ca', certs.ca], { INTSTREAM_TOKEN: T.read });
    assert.notEqual(await without.exited, 0);
    const withCert = cli(['tasks', '--runtime', url, '--ca', certs.ca, '--cert', certs.clientCert, '--key', certs.clientKey, '--json'], { INTSTREAM_TOKEN: T.read });
    assert.equal(await withCert.exited, 0, withCert.log());
    await stop(rt);
  });
});

