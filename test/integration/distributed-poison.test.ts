/**
 * Records that are not what a topic should hold never stall a task (a real broker, real
 * processes): garbage in a task's partials topic (not JSON, cut short, wrong columns) and in its
 * results topic is counted, logged once with topic/partition/offset and skipped, and the task's
 * results still equal `intstream run` on the same capture. Stopping a task keeps what its results
 * topic already holds (the runtime drains it before it stops reading).
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { loadTask } from '../../src/apps/load-task.ts';
import { runTask, type TaskResult } from '../../src/run-task.ts';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createProducer, deleteTopic } from '../../src/transport/kafka-client.ts';
import { partialsTopic, resultsTopic } from '../../src/transport/kafka-transport.ts';
import { kafkaAvailable, startKafka, type KafkaBroker } from '../support/kafka.ts';
import { canonical, Cluster, TOKEN, waitFor } from '../control/cluster.ts';
import { BIN } from '../support/run-cli.ts';

const DEMO = new URL('../../samples/demo.pcap', import.meta.url).pathname;
const avail = kafkaAvailable();

describe('poison records and stopping with a backlog', { skip: avail.ok ? false : avail.reason }, () => {
  let kafka: KafkaBroker;
  let cluster: Cluster;
  before(async () => {
    kafka = await startKafka({ port: 20392 });
    cluster = new Cluster(kafka.bootstrap);
    await cluster.startRuntime();
    cluster.gsp('pw');
    await cluster.workerUp();
  });
  after(async () => {
    await cluster?.stopAll();
    await kafka?.stop();
  });

  test('garbage in the partials and results topics: counted, skipped, results complete', async () => {
    const { def } = await loadTask('tcp-new-conn');
    const expected: TaskResult[] = [];
    await runTask({ task: def, params: { threshold: '5' }, window: 1, sources: [`pcap:${DEMO}`], onResult: (r) => { expected.push(r); } });
    assert.ok(expected.length > 10);
    const agent = cluster.agent('late', `pcap:${DEMO}`);
    await waitFor(async () => (await cluster.api('GET', '/agents')).data.agents.some((a: any) => a.name === 'late' && a.up), 20_000, 'agent up');
    const producer = createProducer({ bootstrap: kafka.bootstrap, clientId: 'poison' });
    const ok = await cluster.api('POST', '/tasks', { app: 'tcp-new-conn', params: { threshold: '5' }, window: 1, agents: { names: ['late'] }, id: 'poison-2' });
    assert.equal(ok.status, 201, JSON.stringify(ok.data));
    const garbage = ['not json', '{"v":1,"src":0,"seq":0,"wm":1,"end":false,"items":[1,2],"times":[1],"keys":[]}', '{"v":1,"src":7,"seq":0,"wm":1,"end":false,"items":[],"times":[],"keys":[],"pos":[]}', '{"v":1,"src":0,"se'];
    for (let p = 0; p < ok.data.partitions; p++) await producer.send(partialsTopic('poison-2'), garbage.map((value) => ({ key: '0', value, partition: p })));
    await producer.send(resultsTopic('poison-2'), [{ key: 'x', value: 'garbage' }, { key: 'x', value: '{"window": "yesterday", "key": 1, "value": 2}' }]);
    await producer.close();
    await waitFor(async () => (await cluster.api('GET', '/tasks/poison-2')).data.results >= expected.length, 60_000, 'all results');
    await new Promise((r) => setTimeout(r, 1500));
    const got = (await cluster.api('GET', '/tasks/poison-2/results?limit=100000')).data.results;
    assert.deepEqual(canonical(got), canonical(expected));
    const d = (await cluster.api('GET', '/tasks/poison-2')).data;
    assert.equal(d.results_skipped, 2);
    await waitFor(async () => (await cluster.api('GET', '/tasks/poison-2')).data.stages.global.poison === garbage.length * ok.data.partitions, 10_000, 'worker reports its poison count');
    assert.equal(d.stages.global.out, d.results);
    await cluster.kill(agent, 'SIGTERM');
  });

  test('stop keeps the results already in the topic', async () => {
    const agent = cluster.agent('idle', `pcap:${DEMO}`);
    await waitFor(async () => (await cluster.api('GET', '/agents')).data.agents.some((a: any) => a.name === 'idle' && a.up), 20_000, 'agent up');
    const sub = await cluster.api('POST', '/tasks', { app: 'tcp-new-conn', params: { threshold: '100000' }, window: 1, agents: { names: ['idle'] }, id: 'backlog' });
    assert.equal(sub.status, 201, JSON.stringify(sub.data));
    // 20,000 results as a global stage would write them, then stop at once
    const producer = createProducer({ bootstrap: kafka.bootstrap, clientId: 'backlog' });
    const n = 20_000;
    for (let i = 0; i < n; i += 1000) {
      await producer.send(resultsTopic('backlog'), Array.from({ length: 1000 }, (_, k) => ({ key: 'h', value: JSON.stringify({ v: 1, task: 'tcp-new-conn', window: { start: i + k, end: i + k + 1 }, key: 'h', value: 1 }) })));
    }
    await producer.close();
    const stop = await cluster.api('POST', '/tasks/backlog/stop', {});
    assert.equal(stop.status, 200);
    await waitFor(async () => (await cluster.api('GET', '/tasks/backlog')).data.results === n, 40_000, `all ${n} results stored after stop`);
    await cluster.kill(agent, 'SIGTERM');

    // results page from the start: the pages, in order, are every result as produced
    const starts: number[] = [];
    let pages = 0;
    for (let after: number | null = 0; after !== null; pages++) {
      const page: { results: any[]; next: number | null } = (await cluster.api('GET', `/tasks/backlog/results?after=${after}&limit=7000`)).data;
      starts.push(...page.results.map((r: any) => r.window.start));
      after = page.next;
    }
    assert.equal(pages, 3);
    assert.deepEqual(starts, Array.from({ length: n }, (_, i) => i));
    const cli = spawnSync(process.execPath, [BIN, 'results', 'backlog', '--runtime', cluster.runtimeUrl], { encoding: 'utf8', env: { ...process.env, INTSTREAM_TOKEN: TOKEN }, maxBuffer: 1 << 26 });
    assert.equal(cli.status, 0, cli.stderr);
    assert.deepEqual(cli.stdout.trim().split('\n').map((l) => JSON.parse(l).window.start), starts);

    // deleted: gone from the runtime, and its topics from the broker
    const del = await cluster.api('DELETE', '/tasks/backlog');
    assert.equal(del.status, 200, JSON.stringify(del.data));
    assert.deepEqual(del.data.topics, { [partialsTopic('backlog')]: true, [resultsTopic('backlog')]: true });
    assert.equal((await cluster.api('GET', '/tasks/backlog')).status, 404);
    assert.equal(await deleteTopic(kafka.bootstrap, resultsTopic('backlog')), false, 'the results topic is still there');
  });

  test('an agent on pcap:- serves its first task; a later one fails there, saying why', async () => {
    const agent = cluster.agent('stdin1', 'pcap:-', 'pipe');
    await waitFor(async () => (await cluster.api('GET', '/agents')).data.agents.some((a: any) => a.name === 'stdin1' && a.up), 20_000, 'agent up');
    const first = await cluster.api('POST', '/tasks', { app: 'tcp-new-conn', params: { threshold: '5' }, window: 1, agents: { names: ['stdin1'] }, id: 'stdin-a' });
    assert.equal(first.status, 201, JSON.stringify(first.data));
    await waitFor(async () => (await cluster.api('GET', '/tasks/stdin-a')).data.agents_detail[0].state !== 'pending', 20_000, 'first task taken by the agent');
    agent.child.stdin!.end(readFileSync(DEMO));
    await waitFor(async () => (await cluster.api('GET', '/tasks/stdin-a')).data.status === 'finished', 30_000, 'first task finished');
    const second = await cluster.api('POST', '/tasks', { app: 'tcp-new-conn', params: { threshold: '5' }, window: 1, agents: { names: ['stdin1'] }, id: 'stdin-b' });
    assert.equal(second.status, 201, JSON.stringify(second.data));
    await waitFor(async () => (await cluster.api('GET', '/tasks/stdin-b')).data.agents_detail[0].state === 'failed', 20_000, 'second task failed on the agent');
    assert.match((await cluster.api('GET', '/tasks/stdin-b')).data.agents_detail[0].error, /standard input was read by task stdin-a/);
    await cluster.kill(agent, 'SIGTERM');
  });

  test('retention: results stored longer ago than --retention are forgotten', async () => {
    const before = (await cluster.api('GET', '/tasks/poison-2')).data.results;
    assert.ok(before > 0);
    const rt = cluster.procs.find((p) => p.name === 'runtime' && p.child.exitCode === null && p.child.signalCode === null)!;
    await cluster.kill(rt, 'SIGTERM');
    await cluster.startRuntime(['--retention', '2s']);
    await waitFor(async () => (await cluster.api('GET', '/tasks/poison-2')).data.results === 0, 20_000, 'results expired');
  });
});
