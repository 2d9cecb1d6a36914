/**
 * The runtime's access rules and submission checks (issue 12, security), against a runtime in
 * this process with no broker (every case here is answered before a task would reach Kafka):
 *   - reads need a credential (401), each role may make only its own calls (403), and nothing
 *     changes on a refused call; --public-read opens the reads only;
 *   - an agent or worker credential acts only as its own name, and names are checked
 *     (`../../etc/passwd` is no name);
 *   - `app` is a built-in application's name: a path is refused without being loaded;
 *   - submitted code never runs in the runtime: what it does at load time (write a file, read
 *     one, read the environment, loop, eat memory) happens, if at all, in a child process that
 *     may do none of it, and error texts carry no file contents.
 * Each expectation is an HTTP status, a list the API returns, or a file that must not exist.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { Credentials } from '../../src/control/credentials.ts';
import { RuntimeServer } from '../../src/control/runtime-server.ts';

const T = {
  operator: 'op-token-5b0c2c6f2e0d4a11',
  read: 'read-token-3f1e6a9c0b7d2e44',
  agentA: 'agent-a1-token-9c8b7a6f5e4d',
  agentB: 'agent-a2-token-1a2b3c4d5e6f',
  worker: 'worker-w1-token-0f9e8d7c6b5a',
};
const TOKENS = `operator ops ${T.operator}\nread viewer ${T.read}\nagent a1 ${T.agentA}\nagent a2 ${T.agentB}\nworker w1 ${T.worker}\n`;
const dir = mkdtempSync(join(tmpdir(), 'intstream-sec-'));

interface Rt { server: RuntimeServer; url: string }
async function startRuntime(name: string, opts: { tokens?: string; token?: string; publicRead?: boolean } = {}): Promise<Rt> {
  let credentials: Credentials;
  if (opts.token) credentials = Credentials.operatorToken(opts.token);
  else {
    const file = join(dir, `${name}.tokens`);
    writeFileSync(file, opts.tokens ?? TOKENS, { mode: 0o600 });
    credentials = Credentials.fromFile(file);
  }
  const server = new RuntimeServer({
    port: 0, kafka: '127.0.0.1:1', db: join(dir, `${name}.db`), credentials, publicRead: opts.publicRead,
    validate: { timeoutMs: 4000 }, log: () => {},
  });
  return { server, url: await server.start() };
}

async function call(rt: Rt, method: string, path: string, token?: string | null, body?: unknown): Promise<{ status: number; data: any }> {
  const res = await fetch(`${rt.url}/api/v1${path}`, {
    method,
    headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
    body: body !== undefined ? JSON.stringify(body) : undefined,
  });
  const text = await res.text();
  let data: any = text;
  try { data = JSON.parse(text); } catch { /* not JSON */ }
  return { status: res.status, data };
}

/** A query file that is valid; it names agents that do not exist, so a submission stops at 400 after validation. */
const VALID = `import { defineTask, count } from 'intstream';
export default defineTask({ name: 'syn-count', description: 'd', params: {},
  query: (p, o) => p.filter('tcp.syn').key('ip.dst').window(o.window).aggregate(count()).global().merge() });
`;

after(() => rmSync(dir, { recursive: true, force: true }));

describe('roles: each credential makes only its own calls', () => {
  let rt: Rt;
  before(async () => { rt = await startRuntime('roles'); });
  after(async () => { await rt.server.close(); });

  test('reads need a credential; the read role reads and changes nothing', async () => {
    for (const path of ['/agents', '/workers', '/tasks', '/tasks/x', '/tasks/x/results', '/tasks/x/windows', '/tasks/x/events', '/apps', '/ui/agents', '/ui/tasks']) {
      assert.equal((await call(rt, 'GET', path, null)).status, 401, `GET ${path} without a token`);
      assert.equal((await call(rt, 'GET', path, 'not-a-known-token-000')).status, 401, `GET ${path} with an unknown token`);
    }
    assert.equal((await call(rt, 'GET', '/health', null)).status, 200);
    assert.equal((await fetch(`${rt.url}/`)).status, 200, 'the page itself is public (it holds no data)');
    assert.equal((await call(rt, 'GET', '/agents', T.read)).status, 200);
    assert.equal((await call(rt, 'GET', '/tasks', T.read)).status, 200);
    assert.equal((await call(rt, 'GET', '/tasks/x', T.read)).status, 404);
    assert.equal((await call(rt, 'POST', '/tasks', T.read, { app: 'tcp-new-conn' })).status, 403);
    assert.equal((await call(rt, 'POST', '/tasks/x/stop', T.read, {})).status, 403);
    assert.equal((await call(rt, 'POST', '/agents', T.read, { name: 'a1', source: 'x' })).status, 403);
    assert.equal((await call(rt, 'POST', '/agents/a1/heartbeat', T.read, {})).status, 403);
    assert.equal((await call(rt, 'GET', '/agents', T.read)).data.agents.length, 0);
  });

  test('agents and workers read nothing, submit nothing, stop nothing', async () => {
    for (const tok of [T.agentA, T.worker]) {
      for (const path of ['/agents', '/tasks', '/tasks/x/events', '/ui/tasks']) assert.equal((await call(rt, 'GET', path, tok)).status, 403, `GET ${path}`);
      assert.equal((await call(rt, 'POST', '/tasks', tok, { app: 'tcp-new-conn' })).status, 403);
      assert.equal((await call(rt, 'POST', '/tasks', tok, { code: VALID })).status, 403);
      assert.equal((await call(rt, 'POST', '/tasks/x/stop', tok, {})).status, 403);
      assert.equal((await call(rt, 'POST', '/ui/auth', tok)).status, 403, 'no web UI sign-in');
    }
    assert.equal((await call(rt, 'POST', '/workers/w1/heartbeat', T.agentA, {})).status, 403, 'an agent is no worker');
    assert.equal((await call(rt, 'POST', '/agents/a1/heartbeat', T.worker, {})).status, 403, 'a worker is no agent');
    assert.equal((await call(rt, 'GET', '/whoami', T.agentA)).data.name, 'a1');
  });

  test('the operator reads, submits and stops, but is neither agent nor worker', async () => {
    assert.equal((await call(rt, 'GET', '/agents', T.operator)).status, 200);
    const sub = await call(rt, 'POST', '/tasks', T.operator, { app: 'tcp-new-conn', agents: { names: ['nowhere'] } });
    assert.equal(sub.status, 400, 'past the access check: refused for its unknown agent');
    assert.match(sub.data.message, /unknown agent nowhere/);
    assert.equal((await call(rt, 'POST', '/tasks/x/stop', T.operator, {})).status, 404);
    assert.equal((await call(rt, 'POST', '/agents', T.operator, { name: 'a1', source: 'x' })).status, 403);
    assert.equal((await call(rt, 'POST', '/agents/a1/heartbeat', T.operator, {})).status, 403);
    assert.equal((await call(rt, 'POST', '/workers/w1/heartbeat', T.operator, {})).status, 403);
    assert.deepEqual((await call(rt, 'POST', '/ui/auth', T.operator)).data, { ok: true, role: 'operator', name: 'ops' });
    assert.deepEqual((await call(rt, 'POST', '/ui/auth', T.read)).data, { ok: true, role: 'read', name: 'viewer' });
    assert.equal((await call(rt, 'POST', '/ui/auth', null)).status, 401);
  });

  test('an agent registers and heartbeats only as itself; names are checked', async () => {
    assert.equal((await call(rt, 'POST', '/agents', T.agentA, { name: 'a2', source: 'pcap:x' })).status, 403, 'a1 registering as a2');
    assert.equal((await call(rt, 'POST', '/agents/a2/heartbeat', T.agentA, { source: 'pcap:x' })).status, 403, 'a1 heartbeating as a2');
    assert.equal((await call(rt, 'POST', '/agents/victim/heartbeat', T.agentA, {})).status, 403, 'as an agent with no credential');
    const traversal = await call(rt, 'POST', `/agents/${encodeURIComponent('../../etc/passwd')}/heartbeat`, T.agentA, {});
    assert.equal(traversal.status, 400, JSON.stringify(traversal.data));
    assert.equal((await call(rt, 'POST', '/agents/../heartbeat', T.agentA, {})).status, 404, 'a URL that resolves elsewhere');
    assert.equal((await call(rt, 'POST', '/agents', T.agentA, { name: '..', source: 'x' })).status, 400);
    assert.equal((await call(rt, 'POST', '/agents', T.agentA, { name: 'a1', source: 'pcap:x' })).status, 200);
    assert.equal((await call(rt, 'POST', '/agents/a1/heartbeat', T.agentA, { source: 'pcap:x' })).status, 200);
    assert.deepEqual((await call(rt, 'GET', '/agents', T.read)).data.agents.map((a: any) => a.name), ['a1']);
    assert.equal((await call(rt, 'POST', '/workers/w2/heartbeat', T.worker, {})).status, 403, 'w1 heartbeating as w2');
    assert.equal((await call(rt, 'POST', `/workers/${encodeURIComponent('../w1')}/heartbeat`, T.worker, {})).status, 400);
    assert.equal((await call(rt, 'POST', '/workers/w1/heartbeat', T.worker, {})).status, 200);
    assert.deepEqual((await call(rt, 'GET', '/workers', T.read)).data.workers.map((w: any) => w.name), ['w1']);
  });
});

test('--public-read: reads go without a token, everything else still needs one', async () => {
  const rt = await startRuntime('public', { publicRead: true });
  try {
    assert.equal((await call(rt, 'GET', '/agents', null)).status, 200);
    assert.equal((await call(rt, 'GET', '/tasks', null)).status, 200);
    assert.equal((await call(rt, 'GET', '/agents', 'not-a-known-token-000')).status, 401, 'a wrong token is still wrong');
    assert.equal((await call(rt, 'POST', '/tasks', null, { app: 'tcp-new-conn' })).status, 401);
    assert.equal((await call(rt, 'POST', '/agents', null, { name: 'x', source: 'y' })).status, 401);
    assert.equal((await call(rt, 'POST', '/ui/auth', null)).status, 401, 'signing in always takes a token');
  } finally { await rt.server.close(); }
});

test('--token alone: one operator credential, not an agent or worker credential', async () => {
  const rt = await startRuntime('legacy', { token: 'legacy-shared-token-0123' });
  try {
    assert.equal((await call(rt, 'GET', '/agents', null)).status, 401);
    assert.equal((await call(rt, 'GET', '/agents', 'legacy-shared-token-0123')).status, 200);
    assert.equal((await call(rt, 'POST', '/tasks', 'legacy-shared-token-0123', { app: 'tcp-new-conn', agents: { names: ['none'] } })).status, 400);
    assert.equal((await call(rt, 'POST', '/agents', 'legacy-shared-token-0123', { name: 'edge1', source: 'x' })).status, 403);
    assert.equal((await call(rt, 'POST', '/workers/w/heartbeat', 'legacy-shared-token-0123', {})).status, 403);
    assert.deepEqual((await call(rt, 'GET', '/agents', 'legacy-shared-token-0123')).data.agents, []);
  } finally { await rt.server.close(); }
});

describe('submissions: app is a name, code never runs in the runtime', () => {
  let rt: Rt;
  before(async () => { rt = await startRuntime('submit'); });
  after(async () => { await rt.server.close(); });

  test('app: a path to a file is refused without loading it', async () => {
    const d = mkdtempSync(join(dir, 'app-'));
    const marker = join(d, 'loaded');
    // a module that would leave a marker when loaded, and name a secret in its error
    const evil = join(d, 'evil.js');
    writeFileSync(evil, `import { writeFileSync } from 'node:fs';\nwriteFileSync(${JSON.stringify(marker)}, 'ran');\nSECRET_IN_FILE_7c1d;\n`);
    for (const app of [evil, '../../../../etc/passwd', './tcp-new-conn', 'tcp-new-conn.ts']) {
      const r = await call(rt, 'POST', '/tasks', T.operator, { app });
      assert.equal(r.status, 400, `${app}: ${JSON.stringify(r.data)}`);
      assert.match(r.data.message, /^app: no built-in application named/);
      assert.doesNotMatch(JSON.stringify(r.data), /SECRET_IN_FILE|root:/);
    }
    assert.equal(existsSync(marker), false, 'the file named by app was loaded');
  });

  test('code: load-time effects do not happen in the runtime, the answer names only the line', async () => {
    const d = mkdtempSync(join(dir, 'code-'));
    const marker = join(d, 'ran-in-runtime');
    const secret = join(d, 'secret.txt');
    writeFileSync(secret, 'SECRET_FILE_CONTENT_91ab\n', { mode: 0o600 });
    process.env.INTSTREAM_SECURITY_PROBE = 'SECRET_ENV_VALUE_52ce'; // the runtime's environment (this process)
    try {
      // writes a file at load time, then is a valid task: refused only for its unknown agent
      const writes = `import { writeFileSync } from 'node:fs';\ntry { writeFileSync(${JSON.stringify(marker)}, String(process.pid)); } catch {}\n${VALID}`;
      const r1 = await call(rt, 'POST', '/tasks', T.operator, { code: writes, agents: { names: ['nowhere'] } });
      assert.equal(r1.status, 400, JSON.stringify(r1.data));
      assert.match(r1.data.message, /unknown agent nowhere/, 'the task validated (in its child process)');
      assert.equal(existsSync(marker), false, 'the submitted code wrote a file');

      // reads a file of the runtime's host and throws its contents
      const reads = `import { readFileSync } from 'node:fs';\nthrow new Error('got ' + readFileSync(${JSON.stringify(secret)}, 'utf8'));\n`;
      const r2 = await call(rt, 'POST', '/tasks', T.operator, { code: reads });
      assert.equal(r2.status, 400);
      assert.doesNotMatch(JSON.stringify(r2.data), /SECRET_FILE_CONTENT/);
      assert.match(r2.data.message, /^query file:2:/);
      assert.equal(r2.data.line, 2);

      // throws the environment it runs with
      const env = `throw new Error('env ' + JSON.stringify(process.env));\n`;
      const r3 = await call(rt, 'POST', '/tasks', T.operator, { code: env });
      assert.equal(r3.status, 400);
      assert.doesNotMatch(JSON.stringify(r3.data), /SECRET_ENV_VALUE|INTSTREAM/);

      // a syntax error: the line and column of the submitted text (the '=' at 10), no path of the runtime's
      const r4 = await call(rt, 'POST', '/tasks', T.operator, { code: 'const x: = 1;\n' });
      assert.equal(r4.status, 400);
      assert.match(r4.data.message, /^query file:1:10: SyntaxError/);
      assert.equal(r4.data.line, 1);
      assert.equal(r4.data.column, 10);
      assert.doesNotMatch(r4.data.message, new RegExp(tmpdir()));
    } finally { delete process.env.INTSTREAM_SECURITY_PROBE; }
  });

  test('code that loops or eats memory at load time is stopped; the runtime keeps answering', async () => {
    const t0 = Date.now();
    const pending = call(rt, 'POST', '/tasks', T.operator, { code: 'while (true) {}\n' });
    // meanwhile the runtime answers at once
    await new Promise((r) => setTimeout(r, 500));
    const h0 = Date.now();
    assert.equal((await call(rt, 'GET', '/health')).status, 200);
    assert.ok(Date.now() - h0 < 500, `health took ${Date.now() - h0} ms while a submission looped`);
    const r = await pending;
    assert.equal(r.status, 400);
    assert.match(r.data.message, /did not finish within 4 s/);
    assert.ok(Date.now() - t0 < 9000, `answered after ${Date.now() - t0} ms`);
    const m = await call(rt, 'POST', '/tasks', T.operator, { code: 'const a = []; for (;;) a.push(new Array(1e6).fill(1));\n' });
    assert.equal(m.status, 400);
    assert.match(m.data.message, /ran out of memory/);
    assert.equal((await call(rt, 'GET', '/tasks', T.read)).data.tasks.length, 0, 'nothing was started');
  });
});
