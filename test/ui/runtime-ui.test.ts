/**
 * The web UI end to end, in Debian's Chromium driven by playwright-core: a real Kafka broker, the
 * runtime (serving the committed ui/dist), a GSP worker and two agents on shared captures. In the
 * page: read-only without the token, sign in, an invalid query file shows its error line and
 * starts nothing, `tcp-new-conn` submitted from the form by keyboard, its results table equal to
 * `intstream run` on the same captures, the reduction and stage counters equal to the API's,
 * sort, filter, the JSON Lines download, no Stop once finished. Screenshots of every page go to test-output/ui/.
 * The runtime is started with --public-read (the read-only view without a token) and a tokens
 * file: the operator's token signs in, each agent and the worker have their own credentials.
 * Any console error in the page fails the test (bar the 401 and 400 the test provokes on purpose).
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { browserAvailable, startBrowser, type TestBrowser } from '../support/browser.ts';
import { kafkaAvailable, startKafka, type KafkaBroker } from '../support/kafka.ts';
import { BIN, CAPTURES, ROOT, jsonl, runCli } from '../support/run-cli.ts';

const OUT = join(ROOT, 'test-output', 'ui');
const TOKEN = 'ui-e2e-token-7f3a-operator';
const CREDENTIALS = { 'edge-a': 'ui-e2e-agent-edge-a-5c1e', 'edge-b': 'ui-e2e-agent-edge-b-09d2', 'gsp-1': 'ui-e2e-worker-gsp-1-77ab' };
const SOURCES = [`pcap:${join(CAPTURES, 'attack', 'synscan.pcap')}`, `pcap:${join(CAPTURES, 'mixed', '1kxun.pcap')}`];
const THRESHOLD = '5';

const kafkaOk = kafkaAvailable();
const browserOk = browserAvailable();
const skip = !kafkaOk.ok ? kafkaOk.reason : !browserOk.ok ? browserOk.reason : false;

let kafka: KafkaBroker | undefined;
let browser: TestBrowser | undefined;
let work = '';
let base = '';
const procs: { name: string; child: ChildProcess; log: string[] }[] = [];

function freePort(): Promise<number> {
  return new Promise((res, rej) => {
    const s = createServer();
    s.once('error', rej);
    s.listen({ port: 0, host: '127.0.0.1' }, () => {
      const p = (s.address() as { port: number }).port;
      s.close(() => res(p));
    });
  });
}

function start(name: string, args: string[], token = TOKEN): ChildProcess {
  const child = spawn(process.execPath, [BIN, ...args], { cwd: work, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, INTSTREAM_TOKEN: token } });
  const log: string[] = [];
  child.stdout!.on('data', (d) => log.push(String(d)));
  child.stderr!.on('data', (d) => log.push(String(d)));
  procs.push({ name, child, log });
  return child;
}

function logs(): string {
  return procs.map((p) => `--- ${p.name} (exit ${p.child.exitCode ?? 'running'})\n${p.log.join('').split('\n').slice(-15).join('\n')}`).join('\n');
}

async function until<T>(what: string, fn: () => Promise<T | undefined | false>, timeoutMs = 60_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v !== undefined && v !== false) return v as T;
    } catch (e) {
      last = e;
    }
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}${last ? `: ${(last as Error).message}` : ''}\n${logs()}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

async function api(path: string): Promise<any> {
  const r = await fetch(`${base}/api/v1${path}`);
  if (!r.ok) throw new Error(`GET ${path}: ${r.status}`);
  return r.json();
}

async function shot(page: Page, name: string): Promise<void> {
  await page.screenshot({ path: join(OUT, `${name}.png`), fullPage: true });
}

/** The stable view of a result: what the JSON Lines contract says, as text for set comparison. */
function resultKey(r: { window: { start: number; end: number }; key: unknown; value: unknown }): string {
  return JSON.stringify([r.window.start, r.window.end, r.key, r.value]);
}

before(async () => {
  if (skip) return;
  mkdirSync(OUT, { recursive: true });
  work = mkdtempSync(join(tmpdir(), 'intstream-ui-e2e-'));
  kafka = await startKafka({ port: 19392 });
  const port = await freePort();
  base = `http://127.0.0.1:${port}`;
  const tokens = join(work, 'tokens');
  writeFileSync(tokens, [`operator ui ${TOKEN}`, `agent edge-a ${CREDENTIALS['edge-a']}`, `agent edge-b ${CREDENTIALS['edge-b']}`, `worker gsp-1 ${CREDENTIALS['gsp-1']}`].join('\n') + '\n', { mode: 0o600 });
  start('runtime', ['runtime', '--port', String(port), '--kafka', kafka.bootstrap, '--db', join(work, 'runtime.db'), '--grace', '60s', '--down-after', '10s', '--tokens', tokens, '--public-read']);
  await until('the runtime', async () => (await fetch(`${base}/api/v1/health`)).ok);
  start('gsp', ['gsp', '--kafka', kafka.bootstrap, '--runtime', base, '--name', 'gsp-1'], CREDENTIALS['gsp-1']);
  start('agent edge-a', ['agent', '--runtime', base, '--name', 'edge-a', '--source', SOURCES[0], '--label', 'site=paris', '--label', 'role=edge'], CREDENTIALS['edge-a']);
  start('agent edge-b', ['agent', '--runtime', base, '--name', 'edge-b', '--source', SOURCES[1], '--label', 'site=lyon', '--label', 'role=edge'], CREDENTIALS['edge-b']);
  await until('two agents up', async () => (await api('/agents')).agents.filter((a: any) => a.up).length === 2);
  browser = await startBrowser();
});

after(async () => {
  await browser?.close();
  for (const p of procs) if (p.child.exitCode === null) p.child.kill('SIGTERM');
  await Promise.all(procs.map((p) => (p.child.exitCode !== null ? undefined : new Promise<void>((r) => {
    const k = setTimeout(() => { p.child.kill('SIGKILL'); r(); }, 8000);
    p.child.once('exit', () => { clearTimeout(k); r(); });
  }))));
  await kafka?.stop();
  if (work) rmSync(work, { recursive: true, force: true });
});

test('web UI: sign in, submit tcp-new-conn from the form, results equal intstream run, no Stop once finished', { skip, timeout: 300_000 }, async () => {
  const b = browser!;
  // What `intstream run` computes on the same captures, in one process.
  const stats = join(work, 'run-stats.json');
  const run = await runCli(['run', 'tcp-new-conn', ...SOURCES.flatMap((s) => ['--source', s]), '--param', `threshold=${THRESHOLD}`, '--format', 'jsonl', '--stats', stats]);
  assert.equal(run.code, 0, run.stderr);
  const expected = jsonl(run.stdout);
  assert.ok(expected.length >= 3, `the captures should give several results, got ${expected.length}`);
  const runStats = JSON.parse(readFileSync(stats, 'utf8'));

  const page = await b.newPage({ width: 1440, height: 900 });

  // --- read-only without the token
  await page.goto(`${base}/`);
  await page.locator('[data-testid=agents-table] tbody tr').nth(1).waitFor();
  assert.equal(await page.locator('[data-testid=agents-table] tbody tr').count(), 2);
  await page.locator('[data-testid=read-only]').waitFor();
  for (const name of ['edge-a', 'edge-b']) {
    const row = page.locator(`tr[data-agent=${name}]`);
    await row.locator('.status.up').waitFor(); // the page polls every 2 s
    assert.match(await row.innerText(), /pcap:/);
  }
  assert.match(await page.locator('tr[data-agent=edge-a]').innerText(), /site=paris/);
  await page.waitForTimeout(2500); // a few samples for the small charts
  await shot(page, '01-agents-read-only');
  await page.goto(`${base}/#/submit`);
  await page.locator('#app').waitFor();
  assert.equal(await page.locator('form.submit-form button[type=submit]').isDisabled(), true, 'read-only: submit is disabled');
  await shot(page, '02-submit-read-only');

  // --- sign in: a wrong token is refused, the runtime's is taken
  await page.fill('#token', 'not-the-token');
  await page.press('#token', 'Enter');
  await page.getByText('The runtime refused this token.').waitFor();
  await page.fill('#token', TOKEN);
  await page.press('#token', 'Enter');
  await page.locator('[data-testid=signed-in]').waitFor();
  assert.equal(await page.locator('[data-testid=read-only]').count(), 0);

  // --- an invalid query file: its error and line are shown, nothing is started
  await page.locator('label.tab', { hasText: 'Query file' }).click();
  await page.locator('is-editor .cm-content').waitFor();
  const bad = [
    "import { defineTask, count } from 'intstream';",
    'export default defineTask({',
    "  name: 'broken',",
    "  description: 'a filter that does not parse',",
    '  params: {},',
    '  query: (packets, p) =>',
    '    packets',
    "      .filter('tcp.syn and')",
    "      .key('ip.dst')",
    '      .window(p.window)',
    '      .aggregate(count()),',
    '});',
  ].join('\n');
  await page.evaluate((text) => { ((globalThis as any).document.querySelector('is-editor')).value = text; }, bad);
  await page.locator('form.submit-form button[type=submit]').click();
  const err = page.locator('[data-testid=submit-error]');
  await err.waitFor();
  assert.match(await err.innerText(), /line 8/);
  assert.match(await err.innerText(), /tcp\.syn and/);
  assert.equal(await page.locator('.cm-error-line').count(), 1, 'the line is marked in the editor');
  assert.match(await page.locator('.cm-error-line').innerText(), /\.filter\('tcp\.syn and'\)/);
  await shot(page, '03-submit-invalid');
  assert.equal((await api('/tasks')).tasks.length, 0, 'an invalid task starts nothing');

  // --- the form, by keyboard: application, its parameter, window, agents, submit
  await page.locator('label.tab', { hasText: 'Built-in application' }).click();
  await page.locator('#app').focus();
  await page.keyboard.press('Tab');
  const order: string[] = [];
  for (let i = 0; i < 12; i++) {
    order.push(await page.evaluate(() => {
      const e = (globalThis as any).document.activeElement as { id: string; tagName: string; name?: string; type?: string } | null;
      return e ? e.id || `${e.tagName.toLowerCase()}${e.name ? `[${e.name}]` : ''}${e.type === 'submit' ? '[submit]' : ''}` : '';
    }));
    if (order[order.length - 1] === 'button[submit]') break;
    await page.keyboard.press('Tab');
  }
  assert.deepEqual(order, ['param-threshold', 'window', 'input[agent-mode]', 'button[submit]'], `tab order: ${order.join(' → ')}`);
  assert.equal(await page.locator('#app').inputValue(), 'tcp-new-conn');
  await page.locator('#param-threshold').focus();
  await page.keyboard.press('ControlOrMeta+a');
  await page.keyboard.type(THRESHOLD);
  await page.locator('#window').focus();
  await page.keyboard.press('ControlOrMeta+a');
  await page.keyboard.type('10');
  assert.match(await page.locator('[data-testid=agent-match]').innerText(), /2 of 2 agents: edge-a, edge-b/);
  await shot(page, '04-submit-form');
  await page.locator('form.submit-form button[type=submit]').focus();
  await page.keyboard.press('Enter');
  await page.waitForURL(/#\/tasks\/.+/);
  const id = decodeURIComponent(page.url().split('#/tasks/')[1]);

  // --- results as they arrive: exactly what `intstream run` computed
  await until('every result in the table', async () => (await page.locator('[data-testid=results-table] tbody tr').count()) === expected.length, 120_000);
  const shown = await page.locator('[data-testid=results-table] tbody tr').evaluateAll((rows) =>
    rows.map((r: any) => ({ start: Number(r.dataset.start), key: r.dataset.key as string, value: Number(r.dataset.value), text: r.innerText as string })));
  assert.deepEqual(
    shown.map((r) => JSON.stringify([r.start, r.key, r.value])).sort(),
    expected.map((r) => JSON.stringify([r.window.start, r.key, r.value])).sort(),
  );
  for (const r of shown) assert.ok(r.text.includes(r.key!) && r.text.includes(r.value.toLocaleString('en-US')), `row text shows key and value: ${r.text}`);

  // --- counters: the page shows the API's; the reduction is the API's
  const detail = await until('the task finished with stable counters', async () => {
    const d1 = await api(`/tasks/${encodeURIComponent(id)}`);
    if (d1.status !== 'finished' || d1.results !== expected.length || d1.stages.global.out < expected.length) return undefined;
    await new Promise((r) => setTimeout(r, 1500));
    const d2 = await api(`/tasks/${encodeURIComponent(id)}`);
    return JSON.stringify(d2.stages) === JSON.stringify(d1.stages) ? d2 : undefined;
  }, 120_000);
  const want: Record<string, number> = {
    items_read: detail.stages.local.items_read,
    after_filter: detail.stages.local.items_read - detail.stages.local.filtered,
    local_out: detail.stages.local.emitted,
    global_out: detail.stages.global.out,
    data_reduction: detail.data_reduction,
  };
  await until('the page to show the API counters', async () => {
    for (const [k, v] of Object.entries(want)) {
      if (Number(await page.locator(`[data-testid=counter-${k}]`).getAttribute('data-value')) !== v) return undefined;
    }
    return true;
  }, 30_000);
  assert.equal(await page.locator('[data-testid=counter-data_reduction] .stage-value').innerText(), `${(detail.data_reduction * 100).toFixed(2)} %`);
  assert.equal(await page.locator('[data-testid=counter-items_read] .stage-value').innerText(), want.items_read.toLocaleString('en-US'));
  // and the distributed run read and filtered what the single process did
  assert.equal(want.items_read, runStats.items_read);
  assert.equal(want.after_filter, runStats.after_filter);
  assert.match(await page.locator('[data-testid=task-status]').first().innerText(), /finished/);
  await page.locator('[data-testid=chart-results]').waitFor();
  await page.waitForTimeout(1000);
  await shot(page, '05-task-results');

  // --- per window: the chart draws what GET /tasks/{id}/windows says, and that adds up to what
  // `intstream run` read and filtered, with the results of each window
  const windows = (await api(`/tasks/${encodeURIComponent(id)}/windows`)).windows as Array<{ start: number; end: number; read: number; after_filter: number; local_out: number; global_out: number; reduction: number | null }>;
  assert.ok(windows.length >= 2, `several 10 s windows, got ${windows.length}`);
  const chart = page.locator('[data-testid=chart-window-stages]');
  const series = await until('the per-window chart with the API windows', async () => {
    const s = JSON.parse((await chart.getAttribute('data-series')) ?? 'null');
    return s && JSON.stringify(s.read) === JSON.stringify(windows.map((w) => w.read)) && JSON.stringify(s.global_out) === JSON.stringify(windows.map((w) => w.global_out)) ? s : undefined;
  }, 30_000);
  assert.deepEqual(series, {
    start: windows.map((w) => w.start), read: windows.map((w) => w.read), after_filter: windows.map((w) => w.after_filter),
    local_out: windows.map((w) => w.local_out), global_out: windows.map((w) => w.global_out), reduction: windows.map((w) => w.reduction),
  });
  for (const w of windows) {
    assert.equal(w.end - w.start, 10);
    assert.equal(w.global_out, expected.filter((r) => r.window.start === w.start).length, `results in window ${w.start}`);
    assert.ok(w.read >= w.after_filter && w.after_filter >= w.local_out, `stages shrink in window ${w.start}`);
  }
  const total = (k: 'read' | 'after_filter' | 'local_out' | 'global_out') => windows.reduce((a, w) => a + w[k], 0);
  assert.equal(total('read'), runStats.items_read);
  assert.equal(total('after_filter'), runStats.after_filter);
  assert.equal(total('local_out'), runStats.local_out);
  assert.equal(total('global_out'), expected.length);
  // drawn: a canvas, a log y axis, the four series in the legend; the reduction beside it
  assert.equal(await chart.locator('canvas').count(), 1);
  assert.deepEqual(await chart.locator('.u-legend .u-series .u-label').allInnerTexts(), ['window', 'items read', 'after filter', 'left local stage', 'left global stage']);
  const red = page.locator('[data-testid=chart-window-reduction]');
  assert.deepEqual(JSON.parse((await red.getAttribute('data-series'))!).reduction, windows.map((w) => w.reduction));
  assert.equal(await red.locator('canvas').count(), 1);
  await page.locator('section[aria-labelledby=h-windows]').screenshot({ path: join(OUT, '05b-task-windows.png') });

  // --- sort by value (descending), filter by key
  await page.locator('th button.sort', { hasText: 'Value' }).click();
  const firstValue = Number(await page.locator('[data-testid=results-table] tbody tr').first().getAttribute('data-value'));
  assert.equal(firstValue, Math.max(...expected.map((r) => r.value)));
  const someKey = expected[0].key as string;
  await page.fill('#filter', someKey);
  const matching = expected.filter((r) => String(r.key).includes(someKey)).length;
  await until('the filter', async () => (await page.locator('[data-testid=results-table] tbody tr').count()) === matching);
  assert.match(await page.locator('[data-testid=results-count]').innerText(), new RegExp(`^${matching} of ${expected.length} results match`));
  await shot(page, '06-task-sorted-filtered');
  await page.fill('#filter', '');

  // --- download: the JSON Lines contract, the same results
  const [download] = await Promise.all([page.waitForEvent('download'), page.getByRole('button', { name: 'Download JSON Lines' }).click()]);
  const file = join(work, 'results.jsonl');
  await download.saveAs(file);
  const got = jsonl(readFileSync(file, 'utf8'));
  for (const r of got) assert.deepEqual(Object.keys(r).sort(), ['key', 'task', 'value', 'window']);
  assert.deepEqual(got.map(resultKey).sort(), expected.map(resultKey).sort());

  // --- the task list
  await page.goto(`${base}/#/tasks`);
  const row = page.locator(`tr[data-task="${id}"]`);
  await row.waitFor();
  assert.match(await row.innerText(), /tcp-new-conn/);
  assert.match(await row.innerText(), new RegExp(`${(detail.data_reduction * 100).toFixed(2)} %`));
  await shot(page, '07-tasks');
  // a finished task has no Stop (issue 11), in the list and on its page, and is not "live"
  assert.equal(await row.locator('button').count(), 0);
  await page.goto(`${base}/#/tasks/${encodeURIComponent(id)}`);
  await page.locator('[data-testid=task-status]', { hasText: 'finished' }).first().waitFor();
  await page.locator('[data-testid=results-table] tbody tr').nth(expected.length - 1).waitFor();
  assert.equal(await page.locator('[data-testid=stop-task]').count(), 0);
  assert.equal(await page.locator('[data-testid=stream-state]').innerText(), 'finished');
  await shot(page, '08-task-finished');

  // --- laptop and wide screens
  for (const [w, h] of [[1366, 768], [1920, 1080]] as const) {
    const p2 = await b.newPage({ width: w, height: h });
    await p2.goto(`${base}/#/tasks/${encodeURIComponent(id)}`);
    await p2.locator('[data-testid=results-table] tbody tr').nth(expected.length - 1).waitFor();
    const overflow = await p2.evaluate(() => (globalThis as any).document.documentElement.scrollWidth - (globalThis as any).document.documentElement.clientWidth);
    assert.ok(overflow <= 0, `no horizontal scrolling at ${w}px (overflow ${overflow}px)`);
    await shot(p2, `09-task-${w}`);
    await p2.goto(`${base}/#/agents`);
    await p2.locator('[data-testid=agents-table] tbody tr').nth(1).waitFor();
    const agentsOverflow = await p2.evaluate(() => (globalThis as any).document.documentElement.scrollWidth - (globalThis as any).document.documentElement.clientWidth);
    assert.ok(agentsOverflow <= 0, `agents page: no horizontal scrolling at ${w}px`);
    await shot(p2, `10-agents-${w}`);
    await p2.close();
  }

  // --- no console errors, bar the two answers the test asked for (Chromium logs every 4xx):
  // the wrong token's 401 and the invalid task's 400
  const expectedErrors = [/status of 401 \(Unauthorized\).*\/api\/v1\/ui\/auth\)$/, /status of 400 \(Bad Request\).*\/api\/v1\/tasks\)$/];
  const errors = b.consoleErrors.filter((e) => !expectedErrors.some((re) => re.test(e)));
  assert.deepEqual(errors, []);
  assert.equal(b.consoleErrors.length, 2, `exactly the two expected answers: ${b.consoleErrors.join('; ')}`);
});
