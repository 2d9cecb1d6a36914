/**
 * The distributed path is the local path: the same task over the same input gives identical
 * results from `intstream run`, from `run --transport kafka://` and from runtime + agents + a GSP
 * worker (real processes, a real broker), for source kinds whose local stage needs more than a
 * file reader (the other kinds: source-matrix.test.ts):
 *   - netflow:udp:// with a pushed-down declarative filter (record items: the filter reads field
 *     getters; the source's 60 s lateness), fed the same NetFlow v9 datagrams softflowd exported;
 *   - INT reports in a capture with the task's int_port parameter (INT decoding options), whose
 *     window-less events travel the distributed path, and the same over int:udp://;
 *   - live:lo: the agent's capture installs the same kernel filter as `run` (tcpdump's argv);
 * and every sink a GSP worker writes (jsonl:, table:, kafka://, influxdb://, prometheus://)
 * receives what `run` gives. `run` itself is checked against tshark elsewhere (test/apps,
 * test/sources); here it is the reference for the deployment.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { encodeReport, encodeReportFrame, pcapFile } from '../../src/gen/int-gen.ts';
import { flowPerPathSeries } from '../../src/int/gen-series.ts';
import { createConsumer } from '../../src/transport/kafka-client.ts';
import { canonical, Cluster, freePort, TOKEN, waitFor } from '../control/cluster.ts';
import { jsonlResults, sendAll, udpPayloads } from '../support/datagrams.ts';
import { kafkaAvailable, startKafka, type KafkaBroker } from '../support/kafka.ts';
import { BIN } from '../support/run-cli.ts';
import { has, startInfluxd, type Service } from '../sinks/services.ts';
import { freeUdpPort, waitListening } from '../sources/flow-source-support.ts';

const ROOT = new URL('../../', import.meta.url).pathname;
const DEMO = join(ROOT, 'samples/demo.pcap');
const NETFLOW = join(ROOT, 'test/fixtures/flow/softflowd-v9-DnsPackets.pcap');
const avail = kafkaAvailable();

/** A query file with a leading declarative filter that a compiled packet filter gets wrong on flow records. */
const FLOW_TASK = `import { defineTask, sum } from 'intstream';
export default defineTask({
  name: 'dns-bytes',
  description: 'bytes of DNS flows per destination, from flow records',
  params: {},
  query: (items, p) =>
    items
      .filter('udp.dport == 53 or ip.dst in 10.0.0.0/8')
      .key('ip.dst')
      .window(p.window)
      .aggregate(sum('flow.bytes'))
      .global()
      .merge(),
});
`;

/** `intstream run ARGS --format jsonl` on a UDP source at a free port, fed `datagrams`: its stdout. */
async function runOnDatagrams(args: (port: number) => string[], datagrams: Buffer[]): Promise<string> {
  const port = await freeUdpPort();
  const run = spawn(process.execPath, [BIN, 'run', ...args(port), '--format', 'jsonl', '-q'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '', err = '';
  run.stdout.on('data', (b) => { out += b; });
  run.stderr.on('data', (b) => { err += b; });
  await waitListening(port);
  await sendAll(port, datagrams);
  const [code] = await once(run, 'close');
  assert.equal(code, 0, err);
  return out;
}

/** Results in canonical order with every `ts` of their values left out. */
function withoutTs(rs: any[]): string[] {
  return canonical(rs.map((r) => ({ ...r, value: r.value && typeof r.value === 'object' ? { ...r.value, ts: undefined } : r.value })));
}

describe('distributed = run, per source kind and sink', { skip: avail.ok ? false : avail.reason }, () => {
  let kafka: KafkaBroker;
  let cluster: Cluster;
  let tmp = '';
  before(async () => {
    tmp = mkdtempSync(join(tmpdir(), 'intstream-dsrc-'));
    kafka = await startKafka({ port: 20292 });
    cluster = new Cluster(kafka.bootstrap);
    await cluster.startRuntime();
    cluster.gsp('w1', ['--allow-code', '--sink-dir', tmp]); // the netflow test submits a query file; the sinks test writes files in tmp
    await cluster.workerUp();
  });
  after(async () => {
    await cluster?.stopAll();
    await kafka?.stop();
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  });

  async function agentUp(name: string): Promise<void> {
    await waitFor(async () => (await cluster.api('GET', '/agents')).data.agents.some((a: any) => a.name === name && a.up), 20_000, `agent ${name} up`);
  }

  async function finished(id: string, results: number): Promise<any[]> {
    await waitFor(async () => {
      const d = (await cluster.api('GET', `/tasks/${id}`)).data;
      return d.status === 'finished' && d.results >= results;
    }, 60_000, `task ${id}: finished with ${results} results`);
    await new Promise((r) => setTimeout(r, 1000)); // nothing more may come
    return (await cluster.api('GET', `/tasks/${id}/results?limit=100000`)).data.results;
  }

  test('netflow:udp:// with a pushed-down filter: agent = run', { skip: !has('tshark') && 'tshark not installed' }, async () => {
    const datagrams = udpPayloads(NETFLOW);
    assert.ok(datagrams.length > 0);
    const query = join(tmp, 'dns-bytes.ts');
    writeFileSync(query, FLOW_TASK);
    // the reference: intstream run on the same datagrams
    const out = await runOnDatagrams((port) => [query, '--source', `netflow:udp://127.0.0.1:${port}?idle=2`], datagrams);
    const expected = canonical(jsonlResults(out));
    assert.ok(expected.length > 0, 'the reference run found nothing');
    const viaKafka = await runOnDatagrams((port) => [query, '--source', `netflow:udp://127.0.0.1:${port}?idle=2`, '--transport', `kafka://${kafka.bootstrap}`], datagrams);
    assert.deepEqual(canonical(jsonlResults(viaKafka)), expected, 'run --transport kafka = run');

    const aport = await freeUdpPort();
    const agent = cluster.agent('nf', `netflow:udp://127.0.0.1:${aport}?idle=3`, 'ignore', ['--allow-code']);
    await agentUp('nf');
    const sub = await cluster.api('POST', '/tasks', { code: FLOW_TASK, window: 10, agents: { names: ['nf'] } });
    assert.equal(sub.status, 201, JSON.stringify(sub.data));
    await waitListening(aport, 20_000);
    await sendAll(aport, datagrams);
    const got = await finished(sub.data.id, expected.length);
    assert.deepEqual(canonical(got), expected);
    await cluster.kill(agent, 'SIGTERM');
  });

  test('INT reports in a capture with int_port: agent = run, window-less events included', async () => {
    const next = flowPerPathSeries({ version: '2.0', hops: 4, seed: 5, paths: 4 });
    const frames = Array.from({ length: 400 }, (_, k) => encodeReportFrame(encodeReport(structuredClone(next(k))).bytes));
    const file = join(tmp, 'int.pcap');
    writeFileSync(file, pcapFile(frames, 1_700_000_000_000_000, 5000));
    const ref = spawnSync(process.execPath, [BIN, 'run', 'int-collector', '--source', `pcap:${file}`, '-p', 'int_port=32766', '--format', 'jsonl', '-q'], { encoding: 'utf8', maxBuffer: 1 << 26 });
    assert.equal(ref.status, 0, ref.stderr);
    const expected = canonical(jsonlResults(ref.stdout));
    assert.ok(expected.length > 10, `only ${expected.length} events`);
    assert.ok(jsonlResults(ref.stdout).every((r) => r.window === null));
    const viaKafka = spawnSync(process.execPath, [BIN, 'run', 'int-collector', '--source', `pcap:${file}`, '-p', 'int_port=32766', '--format', 'jsonl', '-q', '--transport', `kafka://${kafka.bootstrap}`], { encoding: 'utf8', maxBuffer: 1 << 26 });
    assert.equal(viaKafka.status, 0, viaKafka.stderr);
    assert.deepEqual(canonical(jsonlResults(viaKafka.stdout)), expected, 'run --transport kafka = run');

    const agent = cluster.agent('int1', `pcap:${file}`);
    await agentUp('int1');
    const sub = await cluster.api('POST', '/tasks', { app: 'int-collector', params: { int_port: '32766' }, window: 10, agents: { names: ['int1'] } });
    assert.equal(sub.status, 201, JSON.stringify(sub.data));
    const got = await finished(sub.data.id, expected.length);
    assert.deepEqual(canonical(got), expected);
    await cluster.kill(agent, 'SIGTERM');
  });

  test('int:udp:// reports: agent = run', async () => {
    const next = flowPerPathSeries({ version: '2.0', hops: 3, seed: 9, paths: 3 });
    const datagrams = Array.from({ length: 300 }, (_, k) => Buffer.from(encodeReport(structuredClone(next(k))).bytes));
    const out = await runOnDatagrams((port) => ['int-collector', '--source', `int:udp://127.0.0.1:${port}?idle=2`, '-p', 'period=0'], datagrams);
    const expected = canonical(jsonlResults(out));
    assert.ok(expected.length > 10, `only ${expected.length} events`);
    const viaKafka = await runOnDatagrams((port) => ['int-collector', '--source', `int:udp://127.0.0.1:${port}?idle=2`, '-p', 'period=0', '--transport', `kafka://${kafka.bootstrap}`], datagrams);
    assert.deepEqual(withoutTs(jsonlResults(viaKafka)), withoutTs(jsonlResults(out)), 'run --transport kafka = run');

    const aport = await freeUdpPort();
    const agent = cluster.agent('iu', `int:udp://127.0.0.1:${aport}?idle=3`);
    await agentUp('iu');
    const sub = await cluster.api('POST', '/tasks', { app: 'int-collector', params: { period: '0' }, window: 10, agents: { names: ['iu'] } });
    assert.equal(sub.status, 201, JSON.stringify(sub.data));
    await waitListening(aport, 20_000);
    await sendAll(aport, datagrams);
    const got = await finished(sub.data.id, expected.length);
    // a report's time is its arrival (TR v2.0 reports from int-gen carry none): compare without
    // it, and without periodic exports (period=0), which would depend on the arrival times too
    assert.deepEqual(withoutTs(got), withoutTs(jsonlResults(out)));
    await cluster.kill(agent, 'SIGTERM');
  });

  test('live:lo: the agent installs the same kernel filter as run', { skip: (process.getuid?.() !== 0 || !has('tcpdump')) && 'needs root and tcpdump' }, async () => {
    /** tcpdump's argv under process `pid` (its child), once it runs. */
    const tcpdumpArgs = async (pid: number): Promise<string[]> => {
      let args: string[] = [];
      await waitFor(() => {
        const p = spawnSync('pgrep', ['-P', String(pid), '-x', 'tcpdump'], { encoding: 'utf8' }).stdout.trim().split('\n')[0];
        if (!p) return false;
        args = readFileSync(`/proc/${p}/cmdline`, 'utf8').split('\0').filter(Boolean);
        return true;
      }, 20_000, `tcpdump under ${pid}`);
      return args;
    };
    const run = spawn(process.execPath, [BIN, 'run', 'tcp-new-conn', '--source', 'live:lo', '-q'], { stdio: ['ignore', 'pipe', 'pipe'] });
    const runArgs = await tcpdumpArgs(run.pid!);
    run.kill('SIGTERM');
    await once(run, 'close');

    const agent = cluster.agent('lo', 'live:lo');
    await agentUp('lo');
    const sub = await cluster.api('POST', '/tasks', { app: 'tcp-new-conn', window: 10, agents: { names: ['lo'] } });
    assert.equal(sub.status, 201, JSON.stringify(sub.data));
    const agentArgs = await tcpdumpArgs(agent.child.pid!);
    await cluster.api('POST', `/tasks/${sub.data.id}/stop`);
    await cluster.kill(agent, 'SIGTERM');
    // the filter expression is tcpdump's last argument; both must carry the task's pushdown
    assert.ok(runArgs.length > 3 && /tcp/.test(runArgs.at(-1)!), `run's tcpdump has no filter: ${runArgs.join(' ')}`);
    assert.deepEqual(agentArgs, runArgs);
  });

  test('every sink on a GSP worker receives what run gives', { skip: !has('influxd') && 'influxd not installed (npm run setup)' }, async () => {
    const influx: Service = await startInfluxd();
    try {
      await fetch(`${influx.url}/query?q=${encodeURIComponent('CREATE DATABASE dsrc')}`, { method: 'POST' });
      const params = { threshold: '20' };
      const ref = spawnSync(process.execPath, [BIN, 'run', 'tcp-new-conn', '--source', `pcap:${DEMO}`, '-p', 'threshold=20', '-w', '2s', '--format', 'jsonl', '-q'], { encoding: 'utf8' });
      assert.equal(ref.status, 0, ref.stderr);
      const refResults = jsonlResults(ref.stdout);
      const expected = canonical(refResults);
      assert.ok(expected.length > 3);
      const refTable = spawnSync(process.execPath, [BIN, 'run', 'tcp-new-conn', '--source', `pcap:${DEMO}`, '-p', 'threshold=20', '-w', '2s', '-q'], { encoding: 'utf8' });
      const rows = (t: string) => t.split('\n').filter((l) => /^\d{4}-/.test(l)).map((l) => l.trim().split(/\s+/).join(' ')).sort();

      const jsonl = join(tmp, 'gsp.jsonl'), table = join(tmp, 'gsp.txt'), topic = 'dsrc-results';
      const promPort = await freePort();
      const sinks = [`jsonl:${jsonl}`, `table:${table}`, `kafka://${kafka.bootstrap}/${topic}`, `influxdb://${influx.url.slice(7)}/dsrc?batch=1`, `prometheus://127.0.0.1:${promPort}`];
      const agent = cluster.agent('sk', `pcap:${DEMO}`);
      await agentUp('sk');
      const sub = await cluster.api('POST', '/tasks', { app: 'tcp-new-conn', params, window: 2, agents: { names: ['sk'] }, sinks });
      assert.equal(sub.status, 201, JSON.stringify(sub.data));
      await finished(sub.data.id, expected.length);
      // prometheus: the latest value per key (windows come out in time order per key)
      const latest = new Map<string, number>();
      for (const r of [...refResults].sort((a, b) => a.window.start - b.window.start)) latest.set(r.key, r.value);
      const metrics = await (await fetch(`http://127.0.0.1:${promPort}/metrics`)).text();
      const scraped = new Map<string, number>();
      for (const m of metrics.matchAll(/^tcp_new_conn_value\{key="([^"]+)"\} (\S+)$/gm)) scraped.set(m[1], Number(m[2]));
      assert.deepEqual(new Map([...scraped].sort()), new Map([...latest].sort()));

      await cluster.api('POST', `/tasks/${sub.data.id}/stop`); // the worker closes the task's sinks
      await waitFor(() => readFileSync(jsonl, 'utf8').trim().split('\n').length >= expected.length, 10_000, 'jsonl sink complete');
      assert.deepEqual(canonical(jsonlResults(readFileSync(jsonl, 'utf8'))), expected);
      await waitFor(() => rows(readFileSync(table, 'utf8')).length >= expected.length, 10_000, 'table sink flushed');
      assert.deepEqual(rows(readFileSync(table, 'utf8')), rows(refTable.stdout));

      const consumer = await createConsumer({ bootstrap: kafka.bootstrap, groupId: 'dsrc-check', topics: [topic], fromBeginning: true, maxWaitMs: 200 });
      const fromKafka: any[] = [];
      for await (const batch of consumer) {
        for (const rec of batch.records) fromKafka.push(JSON.parse(rec.value.toString('utf8')));
        if (fromKafka.length >= expected.length) break;
      }
      await consumer.close();
      assert.deepEqual(canonical(fromKafka), expected);

      const q = await (await fetch(`${influx.url}/query?db=dsrc&epoch=s&q=${encodeURIComponent('SELECT "value", "key" FROM "tcp-new-conn"')}`, { method: 'POST' })).json() as any;
      const points = (q.results[0].series?.[0]?.values ?? []).map(([t, v, k]: [number, number, string]) => `${t} ${k} ${v}`).sort();
      assert.deepEqual(points, refResults.map((r) => `${r.window.start} ${r.key} ${r.value}`).sort());
      await cluster.kill(agent, 'SIGTERM');
    } finally {
      await influx.stop();
    }
  });
});
