/**
 * The int-collector task page in headless Chromium (issue 11): a real Kafka broker, a runtime, one
 * GSP worker and one agent (test/control/cluster.ts) on an int-gen capture whose flows change path
 * (src/gen/int-gen.ts, src/int/gen-series.ts). Submitted through the API; the page is checked
 * against the runtime's results and against `intstream run int-collector` on the same capture:
 * the event count, per-kind filter counts, a picked flow's drawn path and its path changes, the
 * latency chart's points, "events per report" (no negative reduction), and no Stop / no "live"
 * once the task has finished. A screenshot goes to /tmp/intstream-int-page.png.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { encodeReport, encodeReportFrame, pcapFile } from '../../src/gen/int-gen.ts';
import { flowPerPathSeries } from '../../src/int/gen-series.ts';
import { Cluster, TOKEN, canonical, waitFor } from '../control/cluster.ts';
import { browserAvailable, startBrowser, type TestBrowser } from '../support/browser.ts';
import { kafkaAvailable, startKafka, type KafkaBroker } from '../support/kafka.ts';
import { ROOT, jsonl, runCli } from '../support/run-cli.ts';

const SHOT = '/tmp/intstream-int-page.png';
const OUT = join(ROOT, 'test-output', 'ui');
const kafkaOk = kafkaAvailable();
const browserOk = browserAvailable();
const skip = !kafkaOk.ok ? kafkaOk.reason : !browserOk.ok ? browserOk.reason : false;

let kafka: KafkaBroker | undefined;
let cluster: Cluster | undefined;
let browser: TestBrowser | undefined;
let capture = '';

const PATHS = 4;
const REPORTS = 600;

before(async () => {
  if (skip) return;
  mkdirSync(OUT, { recursive: true });
  kafka = await startKafka({ port: 19792 });
  cluster = new Cluster(kafka.bootstrap);
  // Report k runs on path k mod 4; its flow (source port) moves to another path every 150
  // reports: each flow changes path three times. 50 ms apart: 30 s, so periodic exports too.
  const next = flowPerPathSeries({ version: '2.0', hops: 4, seed: 5, paths: PATHS });
  const frames = Array.from({ length: REPORTS }, (_, k) => {
    const spec = structuredClone(next(k));
    spec.inner = { ...(spec.inner ?? {}), srcPort: 40000 + (((k % PATHS) + Math.floor(k / 150)) % PATHS) };
    return encodeReportFrame(encodeReport(spec).bytes);
  });
  capture = join(cluster.dir, 'int-paths.pcap');
  writeFileSync(capture, pcapFile(frames, 1_700_000_000_000_000, 50_000));
  await cluster.startRuntime(['--public-read']);
  cluster.gsp('w1');
  await cluster!.workerUp(30_000);
  cluster.agent('int1', `pcap:${capture}`);
  await waitFor(async () => (await cluster!.api('GET', '/agents')).data.agents.some((a: any) => a.name === 'int1' && a.up), 30_000, 'agent up');
  browser = await startBrowser();
});

after(async () => {
  await browser?.close();
  await cluster?.stopAll();
  await kafka?.stop();
});

const flowId = (k: any) => `${k.src}:${k.sport} → ${k.dst}:${k.dport}/${k.proto}`;

test('INT page: events, kinds, paths, path changes, latency chart, events per report, no Stop once finished', { skip, timeout: 300_000 }, async () => {
  const c = cluster!;
  // the independent path: intstream run on the same capture
  const run = await runCli(['run', 'int-collector', '--source', `pcap:${capture}`, '-p', 'int_port=32766', '--format', 'jsonl', '-q']);
  assert.equal(run.code, 0, run.stderr);
  const expected = jsonl(run.stdout);
  assert.ok(expected.length > 100 && expected.every((r) => r.window === null), `${expected.length} events`);

  const sub = await c.api('POST', '/tasks', { app: 'int-collector', params: { int_port: '32766' }, window: 10, agents: { names: ['int1'] } });
  assert.equal(sub.status, 201, JSON.stringify(sub.data));
  const id = sub.data.id as string;

  const page = await browser!.newPage({ width: 1440, height: 900 });
  // signed in as the operator: a running task would show Stop
  await page.addInitScript((t) => { sessionStorage.setItem('intstream.token', t); sessionStorage.setItem('intstream.role', 'operator'); }, TOKEN);
  await page.goto(`${c.runtimeUrl}/#/tasks/${encodeURIComponent(id)}`);

  let detail: any;
  await waitFor(async () => {
    detail = (await c.api('GET', `/tasks/${id}`)).data;
    return detail.status === 'finished' && detail.results >= expected.length;
  }, 120_000, 'the task finished with every event');
  await new Promise((r) => setTimeout(r, 1000));
  detail = (await c.api('GET', `/tasks/${id}`)).data;
  const results = (await c.api('GET', `/tasks/${id}/results?limit=100000`)).data.results as any[];
  assert.deepEqual(canonical(results), canonical(expected), 'the runtime stored what intstream run computes');
  assert.equal(detail.results, results.length);

  // --- every event shown (none dropped for having no window)
  await page.reload();
  await page.locator(`[data-testid=int-event-count][data-total="${results.length}"]`).waitFor({ timeout: 30_000 });
  assert.equal(Number(await page.locator('[data-testid=int-event-count]').getAttribute('data-value')), results.length);
  assert.match(await page.locator('[data-testid=int-event-count]').innerText(), new RegExp(`^${results.length} events`));

  // --- filter by kind: exactly that kind's count; by event; by id text
  for (const kind of ['flow', 'hop', 'egress', 'queue']) {
    const n = results.filter((r) => r.key.kind === kind).length;
    await page.locator('[data-testid=int-kind]').selectOption(kind);
    await page.locator(`[data-testid=int-event-count][data-value="${n}"]`).waitFor();
    assert.ok(n > 0, `some ${kind} events`);
    assert.equal(await page.locator('[data-testid=int-events] tbody tr').count(), Math.min(500, n));
    assert.equal(await page.locator(`[data-testid=int-events] tbody tr:not([data-kind=${kind}])`).count(), 0);
  }
  await page.locator('[data-testid=int-kind]').selectOption('flow');
  await page.locator('[data-testid=int-event]').selectOption('path');
  const pathEvents = results.filter((r) => r.key.kind === 'flow' && r.value.event === 'path');
  await page.locator(`[data-testid=int-event-count][data-value="${pathEvents.length}"]`).waitFor();

  // --- a picked flow: its path, its path changes, its latency points
  const flows = [...new Set(results.filter((r) => r.key.kind === 'flow').map((r) => flowId(r.key)))].sort();
  assert.equal(flows.length, PATHS);
  const flow = flows[1];
  await page.locator('[data-testid=int-id]').fill(flow.split(' ')[0]);
  await page.locator(`[data-testid=int-event-count][data-value="${pathEvents.filter((r) => flowId(r.key) === flow).length}"]`).waitFor();
  await page.locator('[data-testid=int-event]').selectOption('');
  await page.locator('[data-testid=int-kind]').selectOption('');
  await page.locator('[data-testid=int-id]').fill('');
  await page.locator('[data-testid=int-flows]').selectOption([flow]);
  const ofFlow = results.filter((r) => r.key.kind === 'flow' && flowId(r.key) === flow);
  const itsPaths = ofFlow.filter((r) => r.value.event === 'path');
  assert.equal(itsPaths.length, 3, 'the capture changes each flow\'s path three times');
  const latestPath = itsPaths[itsPaths.length - 1].value.path;
  assert.deepEqual(ofFlow.filter((r) => Array.isArray(r.value.path)).at(-1).value.path, latestPath);
  const drawn = page.locator(`[data-testid=int-path][data-flow="${flow}"]`);
  await drawn.waitFor();
  assert.equal(await page.locator('[data-testid=int-path]').count(), 1);
  assert.deepEqual(JSON.parse((await drawn.getAttribute('data-path'))!), latestPath);
  assert.deepEqual(await drawn.locator('.sw').evaluateAll((els) => els.map((e) => Number(e.getAttribute('data-switch')))), latestPath);
  // each hop's latency is that of the flow's latest hop event at that switch
  const hopLat = await drawn.locator('.sw .sw-lat').evaluateAll((els) => els.map((e) => e.getAttribute('data-hop-latency')));
  latestPath.forEach((sw: number, i: number) => {
    const h = results.filter((r) => r.key.kind === 'hop' && flowId(r.key) === flow && r.key.switch_id === sw && typeof r.value.hop_latency === 'number').at(-1);
    assert.equal(hopLat[i], h ? String(h.value.hop_latency) : '', `hop ${sw}`);
  });
  const row = page.locator(`[data-testid=int-path-row][data-flow="${flow}"]`);
  assert.equal(Number(await row.getAttribute('data-changes')), itsPaths.length);
  assert.equal(await row.locator('line.change').count(), itsPaths.length);
  assert.equal(await page.locator('[data-testid=int-path-row]').count(), flows.length);
  for (const f of flows) {
    assert.equal(Number(await page.locator(`[data-testid=int-path-row][data-flow="${f}"]`).getAttribute('data-changes')), pathEvents.filter((r) => flowId(r.key) === f).length, f);
  }
  const chart = page.locator('[data-testid=int-chart-latency]');
  await chart.locator('canvas').first().waitFor();
  assert.deepEqual(JSON.parse((await chart.getAttribute('data-points'))!), { [flow]: ofFlow.filter((r) => typeof r.value.latency === 'number').length });
  // queues and egress charts are drawn from the defaults
  await page.locator('[data-testid=int-chart-occupancy] canvas').first().waitFor();
  await page.locator('[data-testid=int-chart-tx_util] canvas').first().waitFor();

  // --- events per report, not a negative reduction
  const itemsRead = detail.stages.local.items_read as number;
  assert.equal(detail.stages.global.out, results.length);
  const per = page.locator('[data-testid=counter-events_per_report]');
  assert.ok(Math.abs(Number(await per.getAttribute('data-value')) - results.length / itemsRead) < 1e-9);
  assert.equal(await per.locator('.stage-value').innerText(), (results.length / itemsRead).toFixed(2));
  assert.equal(await page.locator('[data-testid=counter-data_reduction]').count(), 0);
  assert.doesNotMatch(await page.locator('main').innerText(), /-\d+(\.\d+)? %/);

  // --- finished: no Stop, not "live"
  await page.locator('[data-testid=task-status]', { hasText: 'finished' }).first().waitFor();
  assert.equal(await page.locator('[data-testid=stop-task]').count(), 0);
  assert.equal(await page.locator('[data-testid=stream-state]').innerText(), 'finished');
  await page.screenshot({ path: SHOT, fullPage: true });
  await page.screenshot({ path: join(OUT, '10-int-collector.png'), fullPage: true });

  // the task list: events per report, no Stop
  await page.goto(`${c.runtimeUrl}/#/tasks`);
  const tr = page.locator(`tr[data-task="${id}"]`);
  await tr.waitFor();
  assert.match(await tr.locator('[data-testid=task-reduction]').innerText(), new RegExp(`${(results.length / itemsRead).toFixed(2)} events/report`));
  assert.equal(await tr.locator('button').count(), 0);
  assert.deepEqual(browser!.consoleErrors, []);
});
