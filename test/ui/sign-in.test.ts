/**
 * The web UI on a runtime whose reads need a token (no --public-read), in Debian's Chromium: the
 * page shows no agent and asks to sign in; a read token shows the agents and a task's results
 * (streamed with the token, which EventSource could not send) but cannot submit or stop; an
 * agent's token cannot sign in; an operator's token can submit. No broker: the runtime's store is
 * given a stopped task with three results before it starts, and the test heartbeats as the agent.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { RuntimeStore } from '../../src/control/runtime-store.ts';
import { freePort, waitFor } from '../control/cluster.ts';
import { browserAvailable, startBrowser, type TestBrowser } from '../support/browser.ts';
import { BIN } from '../support/run-cli.ts';

const T = { operator: 'ui-signin-operator-4c2a9e', read: 'ui-signin-reader-77b1d0', agent: 'ui-signin-agent-edge-x-913f' };
const RESULTS = [
  { window: { start: 1000, end: 1010 }, key: '10.0.0.1', value: 7 },
  { window: { start: 1000, end: 1010 }, key: '10.0.0.2', value: 9 },
  { window: { start: 1010, end: 1020 }, key: '10.0.0.1', value: 11 },
];
const avail = browserAvailable();
const skip = avail.ok ? false : avail.reason;

let work = '';
let base = '';
let runtime: ChildProcess | undefined;
let browser: TestBrowser | undefined;
let beating = true;
let beat: Promise<void> = Promise.resolve();

before(async () => {
  if (skip) return;
  work = mkdtempSync(join(tmpdir(), 'intstream-ui-signin-'));
  const tokens = join(work, 'tokens');
  writeFileSync(tokens, `operator ops ${T.operator}\nread viewer ${T.read}\nagent edge-x ${T.agent}\n`, { mode: 0o600 });
  const db = join(work, 'runtime.db');
  const store = new RuntimeStore(db);
  store.addTask({ id: 'seeded', name: 'tcp-new-conn', app: 'tcp-new-conn', code: null, params: {}, window: 10, agents: ['edge-x'], partitions: 1, kafka: '127.0.0.1:1', graceMs: 30_000, sinks: [], status: 'stopped', createdAt: Date.now() });
  store.addResults('seeded', RESULTS);
  store.close();
  const port = await freePort();
  base = `http://127.0.0.1:${port}`;
  runtime = spawn(process.execPath, [BIN, 'runtime', '--kafka', '127.0.0.1:1', '--port', String(port), '--db', db, '--tokens', tokens, '--down-after', '5s'], { stdio: 'ignore' });
  await waitFor(async () => (await fetch(`${base}/api/v1/health`).catch(() => null))?.ok === true, 20_000, 'runtime up');
  const heartbeat = () => fetch(`${base}/api/v1/agents/edge-x/heartbeat`, {
    method: 'POST', headers: { authorization: `Bearer ${T.agent}`, 'content-type': 'application/json' }, body: JSON.stringify({ source: 'pcap:edge.pcap', labels: { site: 'ams' } }),
  }).then((r) => r.status);
  assert.equal(await heartbeat(), 200);
  beat = (async () => { while (beating) { await heartbeat().catch(() => 0); await new Promise((r) => setTimeout(r, 1000)); } })();
  browser = await startBrowser();
});

after(async () => {
  beating = false;
  await beat;
  await browser?.close();
  if (runtime && runtime.exitCode === null) {
    runtime.kill('SIGTERM');
    await new Promise((r) => runtime!.once('exit', r));
  }
  if (work) rmSync(work, { recursive: true, force: true });
});

async function signIn(page: import('playwright-core').Page, token: string): Promise<void> {
  await page.fill('#token', token);
  await page.press('#token', 'Enter');
}

test('web UI without --public-read: sign in to read; a read token reads, an operator submits', { skip, timeout: 120_000 }, async () => {
  const b = browser!;
  const page = await b.newPage({ width: 1366, height: 800 });

  // --- no token: nothing shown, asked to sign in
  await page.goto(`${base}/`);
  await page.locator('[data-testid=sign-in-needed]').waitFor();
  // where a token comes from, truly: a read or operator credential of --tokens, or the runtime's --token
  const needed = await page.locator('[data-testid=sign-in-needed]').innerText();
  for (const re of [/\bread\b/, /\boperator\b/, /--tokens file/, /--token\b(?!s)/, /\$INTSTREAM_TOKEN/, /agent's or worker's credential does not sign in/]) assert.match(needed, re);
  await page.waitForTimeout(2500); // a poll or two
  assert.equal(await page.locator('tr[data-agent]').count(), 0, 'agents shown without a token');
  assert.equal(await page.locator('.banner.error').count(), 0, 'the refusal is the sign-in banner, not an error');

  // --- an agent's token cannot sign in
  await signIn(page, T.agent);
  await page.getByText('The runtime refused this token.').waitFor();

  // --- a read token: agents and results, no submit, no stop
  await signIn(page, T.read);
  await page.locator('[data-testid=signed-in][data-role=read]').waitFor();
  await page.locator('tr[data-agent=edge-x]').waitFor();
  assert.match(await page.locator('tr[data-agent=edge-x]').innerText(), /pcap:edge\.pcap/);
  await page.locator('[data-testid=read-only]').waitFor();
  await page.goto(`${base}/#/tasks/seeded`);
  await waitFor(async () => (await page.locator('[data-testid=results-table] tbody tr').count()) === RESULTS.length, 20_000, 'the three results streamed');
  const rows = await page.locator('[data-testid=results-table] tbody tr').evaluateAll((rs) => rs.map((r: any) => `${r.dataset.start} ${r.dataset.key} ${r.dataset.value}`));
  assert.deepEqual(rows.sort(), RESULTS.map((r) => `${r.window.start} ${r.key} ${r.value}`).sort());
  assert.equal(await page.locator('[data-testid=stop-task]').count(), 0);
  await page.goto(`${base}/#/submit`);
  await page.locator('#app').waitFor();
  assert.equal(await page.locator('form.submit-form button[type=submit]').isDisabled(), true, 'a read token may not submit');

  // --- sign out: asked again; an operator's token may submit
  await page.getByRole('button', { name: 'Sign out' }).click();
  await page.locator('[data-testid=sign-in-needed]').waitFor();
  await signIn(page, T.operator);
  await page.locator('[data-testid=signed-in][data-role=operator]').waitFor();
  assert.equal(await page.locator('[data-testid=read-only]').count(), 0);
  await page.goto(`${base}/#/submit`);
  await page.locator('#app').waitFor();
  await waitFor(async () => !(await page.locator('form.submit-form button[type=submit]').isDisabled()), 10_000, 'submit enabled for the operator');

  // the browser logs every refused request: the 401s of the polls before signing in, the 403 of the agent's token
  const unexpected = b.consoleErrors.filter((e) => !/status of 401 \(Unauthorized\)/.test(e) && !/status of 403 \(Forbidden\).*\/api\/v1\/ui\/auth\)$/.test(e));
  assert.deepEqual(unexpected, []);
});
