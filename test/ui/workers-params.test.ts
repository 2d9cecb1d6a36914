/**
 * The web UI's workers view and a query file's parameters, in Debian's Chromium against a real
 * Kafka broker, the runtime, two GSP workers and two agents (all with --allow-code):
 *   - signed in as the operator, a query file declaring a `min` parameter is submitted from the
 *     form with `min=2` (not its default) in the Parameters field: the task's stored spec
 *     (GET /api/v1/tasks/{id}) has params.min "2", and its results equal
 *     `intstream run FILE -p min=2` on the same captures (the default gives none);
 *   - the Workers page shows both workers up and, per worker, the partitions of that task the
 *     API says it holds (GET /api/v1/workers), which together are 0..3 (the default 4 partitions).
 * Any console error in the page fails the test, bar the 401s of the reads before signing in.
 */
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { Cluster, TOKEN, waitFor } from '../control/cluster.ts';
import { browserAvailable, startBrowser, type TestBrowser } from '../support/browser.ts';
import { kafkaAvailable, startKafka, type KafkaBroker } from '../support/kafka.ts';
import { CAPTURES, ROOT, jsonl, runCli } from '../support/run-cli.ts';

const OUT = join(ROOT, 'test-output', 'ui');
const SOURCES = [`pcap:${join(CAPTURES, 'attack', 'synscan.pcap')}`, `pcap:${join(CAPTURES, 'mixed', '1kxun.pcap')}`];
const QUERY = `import { defineTask, count } from 'intstream';

export default defineTask({
  name: 'syn-per-dst',
  description: 'SYNs per destination address',
  params: { min: { default: 1000000, description: 'report destinations with more SYNs than this' } },
  query: (packets, p) =>
    packets
      .filter('tcp.syn and not tcp.ack_flag')
      .key('ip.dst')
      .window(p.window)
      .aggregate(count())
      .global()
      .merge()
      .filter((r) => r.value > p.min),
});
`;
const MIN = '2';

const kafkaOk = kafkaAvailable();
const browserOk = browserAvailable();
const skip = !kafkaOk.ok ? kafkaOk.reason : !browserOk.ok ? browserOk.reason : false;

let kafka: KafkaBroker | undefined;
let cluster: Cluster | undefined;
let browser: TestBrowser | undefined;

before(async () => {
  if (skip) return;
  mkdirSync(OUT, { recursive: true });
  kafka = await startKafka({ port: 19892 });
  cluster = new Cluster(kafka.bootstrap);
  await cluster.startRuntime(['--grace', '60s']);
  cluster.gsp('gsp-1', ['--allow-code']);
  cluster.gsp('gsp-2', ['--allow-code']);
  cluster.agent('edge-a', SOURCES[0], 'ignore', ['--allow-code']);
  cluster.agent('edge-b', SOURCES[1], 'ignore', ['--allow-code']);
  const c = cluster;
  await waitFor(async () => (await c.api('GET', '/agents')).data.agents.filter((a: any) => a.up).length === 2, 30_000, 'two agents up');
  await waitFor(async () => (await c.api('GET', '/workers')).data.workers.filter((w: any) => w.up).length === 2, 30_000, 'two workers up');
  browser = await startBrowser();
});

after(async () => {
  await browser?.close();
  await cluster?.stopAll();
  await kafka?.stop();
});

test('web UI: a query file with a parameter from the form; the workers page shows each worker and its partitions', { skip, timeout: 300_000 }, async () => {
  const c = cluster!;
  const b = browser!;
  const file = join(c.dir, 'syn-per-dst.ts');
  writeFileSync(file, QUERY);
  const run = await runCli(['run', file, ...SOURCES.flatMap((s) => ['--source', s]), '-p', `min=${MIN}`, '--format', 'jsonl']);
  assert.equal(run.code, 0, run.stderr);
  const expected = jsonl(run.stdout);
  assert.ok(expected.length >= 2, `min=${MIN} should give several results, got ${expected.length}`);
  const byDefault = await runCli(['run', file, ...SOURCES.flatMap((s) => ['--source', s]), '--format', 'jsonl']);
  assert.equal(jsonl(byDefault.stdout).length, 0, 'the default gives no result: the parameter matters');

  const page = await b.newPage({ width: 1440, height: 900 });
  await page.goto(`${c.runtimeUrl}/#/submit`);
  await page.fill('#token', TOKEN);
  await page.press('#token', 'Enter');
  await page.locator('[data-testid=signed-in]').waitFor();

  // --- the query file, its parameter in the form
  await page.locator('label.tab', { hasText: 'Query file' }).click();
  await page.locator('is-editor .cm-content').waitFor();
  await page.evaluate((text) => { ((globalThis as any).document.querySelector('is-editor')).value = text; }, QUERY);
  // a line that is not name=value is refused in the page, nothing is sent
  await page.fill('#code-params', 'min 2');
  await page.locator('form.submit-form button[type=submit]').click();
  await page.locator('[data-testid=submit-error]', { hasText: 'not name=value' }).waitFor();
  assert.equal((await c.api('GET', '/tasks')).data.tasks.length, 0);
  await page.fill('#code-params', `# only what differs from the defaults\nmin=${MIN}\n`);
  await page.fill('#window', '10');
  await page.screenshot({ path: join(OUT, '11-submit-query-params.png'), fullPage: true });
  await page.locator('form.submit-form button[type=submit]').click();
  await page.waitForURL(/#\/tasks\/.+/);
  const id = decodeURIComponent(page.url().split('#/tasks/')[1]);

  // --- the stored spec has the parameter; the results are `intstream run -p min=2`'s
  const spec = (await c.api('GET', `/tasks/${encodeURIComponent(id)}`)).data;
  assert.deepEqual(spec.params, { min: MIN });
  assert.equal(spec.has_code, true);
  assert.equal(spec.partitions, 4);
  await waitFor(async () => {
    const d = (await c.api('GET', `/tasks/${encodeURIComponent(id)}`)).data;
    return d.status === 'finished' && d.results === expected.length;
  }, 120_000, 'the task finished with every result');
  const stored = (await c.api('GET', `/tasks/${encodeURIComponent(id)}/results?limit=100000`)).data.results as any[];
  const canon = (rs: any[]) => rs.map((r) => JSON.stringify([r.window.start, r.window.end, r.key, r.value])).sort();
  assert.deepEqual(canon(stored), canon(expected));
  await page.locator('[data-testid=results-table] tbody tr').nth(expected.length - 1).waitFor();

  // --- the workers page: both up, each with the partitions the API gives it, together 0..3
  const held = async (): Promise<Record<string, number[]> | undefined> => {
    const ws = (await c.api('GET', '/workers')).data.workers as any[];
    if (ws.length !== 2 || !ws.every((w) => w.up)) return undefined;
    const m: Record<string, number[]> = {};
    for (const w of ws) m[w.name] = [...(w.info?.tasks?.[id]?.partitions ?? [])].sort((x: number, y: number) => x - y);
    const all = Object.values(m).flat().sort((x, y) => x - y);
    return JSON.stringify(all) === '[0,1,2,3]' && Object.values(m).every((p) => p.length > 0) ? m : undefined;
  };
  await waitFor(async () => (await held()) !== undefined, 60_000, 'the two workers to share the 4 partitions');
  await page.locator('nav a', { hasText: 'Workers' }).click();
  await page.waitForURL(/#\/workers$/);
  await page.locator('[data-testid=workers-table] > tbody > tr').nth(1).waitFor();
  assert.equal(await page.locator('[data-testid=workers-table] > tbody > tr').count(), 2);
  let apiView: Record<string, number[]> | undefined;
  let shown: Record<string, number[]> = {};
  await waitFor(async () => {
    apiView = await held();
    if (!apiView) return false;
    shown = {};
    for (const name of ['gsp-1', 'gsp-2']) {
      const row = page.locator(`tr[data-worker=${name}]`);
      if ((await row.locator('[data-testid=worker-status]').innerText()) !== 'up') return false;
      const cell = row.locator(`tr[data-task="${id}"] [data-testid=worker-partitions]`);
      if ((await cell.count()) !== 1) return false;
      const attr = (await cell.getAttribute('data-partitions')) ?? '';
      shown[name] = attr ? attr.split(',').map(Number) : [];
    }
    return JSON.stringify(shown) === JSON.stringify(apiView);
  }, 30_000, 'the page to show the partitions the API gives each worker');
  assert.deepEqual(shown, apiView);
  assert.deepEqual(Object.values(shown).flat().sort((x, y) => x - y), [0, 1, 2, 3]);
  // the partitions are written out, and the counters are there
  for (const [name, parts] of Object.entries(shown)) {
    const row = page.locator(`tr[data-worker=${name}] tr[data-task="${id}"]`);
    const text = await row.innerText();
    assert.ok(text.includes(parts.join(', ')), `${name}: ${text}`);
  }
  assert.deepEqual(
    await page.locator('[data-testid=workers-table] table.inner thead th').first().evaluate((th: any) => [...th.parentElement.children].map((e: any) => e.textContent.trim())),
    ['Task', 'Partitions', 'Records', 'Received', 'Out', 'Duplicates', 'Poison', 'Stale'],
  );
  // the received counts add up to what the task's detail says the global stage received
  const detail = (await c.api('GET', `/tasks/${encodeURIComponent(id)}`)).data;
  const ws = (await c.api('GET', '/workers')).data.workers as any[];
  assert.equal(ws.reduce((a, w) => a + (w.info?.tasks?.[id]?.received ?? 0), 0), detail.stages.global.received);
  await page.screenshot({ path: join(OUT, '12-workers.png'), fullPage: true });

  // bar the 401s of the reads made before signing in (this runtime has no --public-read)
  assert.deepEqual(b.consoleErrors.filter((e) => !/status of 401 \(Unauthorized\) \(http:[^)]*\/api\/v1\/(apps|ui\/agents)\)$/.test(e)), []);
});
