/**
 * A task that has ended, as `intstream results --follow` and `intstream stop` meet it, against a
 * runtime in this process with no broker; its tasks and results are written into its database
 * beforehand (as its results reader would have stored them), and an agent's heartbeat says when
 * a running one finishes:
 *   - `results --follow` prints every stored result, from the first (more than the 1000 the
 *     event stream replays), and exits 0 once the task has finished, or when it finishes;
 *   - `stop` on a finished task leaves it finished and says so (exit 0); a running task stops.
 * The expected lines are built from the results the test stored.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type { TaskSpec } from '../../src/apps/task-spec.ts';
import { Credentials } from '../../src/control/credentials.ts';
import { RuntimeServer } from '../../src/control/runtime-server.ts';
import { RuntimeStore } from '../../src/control/runtime-store.ts';
import { runCli } from '../support/run-cli.ts';

const OPERATOR = 'op-token-7d1c5e0a9b3f4e21';
const AGENT = 'agent-a1-token-2b6e8f0c4d1a';
const dir = mkdtempSync(join(tmpdir(), 'intstream-finished-'));
const db = join(dir, 'runtime.db');
let server: RuntimeServer;
let url = '';
let startedAt = 0;

const task = (id: string, status: TaskSpec['status']): TaskSpec => ({
  id, name: 'tcp-new-conn', app: 'tcp-new-conn', code: null, params: {}, window: 10, agents: ['a1'],
  partitions: 1, kafka: '127.0.0.1:1', graceMs: 1000, sinks: [], status, createdAt: Date.now(),
});
const results = (n: number) => Array.from({ length: n }, (_, i) => ({ window: { start: 1700000000 + 10 * i, end: 1700000010 + 10 * i }, key: `10.0.0.${i % 250}`, value: i + 1 }));
/** The JSON Lines `results` prints for them (docs/contracts.md: "task" is the task's name). */
const lines = (rs: ReturnType<typeof results>) => rs.map((r) => JSON.stringify({ task: 'tcp-new-conn', ...r }) + '\n').join('');

before(async () => {
  const store = new RuntimeStore(db);
  store.addTask(task('done', 'finished'));
  store.addResults('done', results(1500));
  store.addTask(task('live', 'running'));
  store.addResults('live', results(3));
  store.addTask(task('done2', 'finished'));
  store.addTask(task('live2', 'running'));
  store.close();
  const tokens = join(dir, 'tokens');
  writeFileSync(tokens, `operator ops ${OPERATOR}\nagent a1 ${AGENT}\n`, { mode: 0o600 });
  server = new RuntimeServer({ port: 0, kafka: '127.0.0.1:1', db, credentials: Credentials.fromFile(tokens), log: () => {} });
  url = await server.start();
  startedAt = Date.now();
});
after(async () => {
  await server.close();
  rmSync(dir, { recursive: true, force: true });
});

const cli = (...args: string[]) => runCli([...args, '--runtime', url, '--token', OPERATOR]);
async function call(method: string, path: string, token: string, body?: unknown): Promise<{ status: number; data: any }> {
  const res = await fetch(`${url}/api/v1${path}`, {
    method, headers: { authorization: `Bearer ${token}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
    body: body !== undefined ? JSON.stringify(body) : undefined,
  });
  return { status: res.status, data: await res.json() };
}

test('results --follow on a finished task prints all its results, from the first, and exits 0 at once', async () => {
  // the runtime waits 4 s after its start for its results reader to take what the topic holds
  await new Promise((r) => setTimeout(r, Math.max(0, startedAt + 4500 - Date.now())));
  const t0 = Date.now();
  const r = await cli('results', '--follow', 'done');
  const ms = Date.now() - t0;
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stderr, '');
  assert.equal(r.stdout.split('\n').length - 1, 1500);
  assert.equal(r.stdout, lines(results(1500)));
  // it used to wait 6 s and more for the task's stream to say it had ended
  assert.ok(ms < 3000, `exited after ${ms} ms`);
});

test('results --follow on a running task exits 0 when the task finishes', { timeout: 30_000 }, async () => {
  const following = cli('results', '--follow', 'live');
  let exited = false;
  void following.then(() => { exited = true; });
  await new Promise((r) => setTimeout(r, 1500));
  assert.equal(exited, false, 'it follows while the task runs');
  assert.equal((await call('POST', '/agents', AGENT, { name: 'a1', source: 'pcap:x' })).status, 200);
  const hb = await call('POST', '/agents/a1/heartbeat', AGENT, { source: 'pcap:x', tasks: { live: { items_read: 0, filtered: 0, emitted: 0, malformed: 0, skipped: 0, state: 'finished' } } });
  assert.equal(hb.status, 200);
  assert.equal((await call('GET', '/tasks/live', OPERATOR)).data.status, 'finished');
  const r = await following;
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, lines(results(3)));
});

test('stop on a finished task: it stays finished and stop says so (exit 0); a running task stops', async () => {
  const r = await cli('stop', 'done2');
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, 'done2 finished: it had already finished, nothing to stop\n');
  assert.equal((await call('GET', '/tasks/done2', OPERATOR)).data.status, 'finished');

  const s = await cli('stop', 'live2');
  assert.equal(s.code, 0, s.stderr);
  assert.equal(s.stdout, 'live2 stopped\n');
  assert.equal((await call('GET', '/tasks/live2', OPERATOR)).data.status, 'stopped');
});
