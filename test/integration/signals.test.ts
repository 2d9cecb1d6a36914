/**
 * Long-running commands end promptly when asked (SIGTERM or SIGINT sent to the process itself,
 * never to an npm wrapper): the runtime with clients streaming from it, a GSP worker whose broker
 * is unreachable, an agent started in the background by a shell script (where the shell leaves
 * SIGINT ignored), and `results --follow`, which ends when the runtime goes away.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { after, before, describe, test } from 'node:test';
import { kafkaAvailable, startKafka, type KafkaBroker } from '../support/kafka.ts';
import { Cluster, freePort, READ_TOKEN, TOKEN, waitFor } from '../control/cluster.ts';
import { BIN } from '../support/run-cli.ts';

const DEMO = new URL('../../samples/demo.pcap', import.meta.url).pathname;
const avail = kafkaAvailable();

/** Sends `signal` and returns the exit (code, signal) and how long it took; SIGKILL after 15 s. */
async function stopTimed(child: ChildProcess, signal: NodeJS.Signals): Promise<{ code: number | null; signal: string | null; ms: number }> {
  const t0 = Date.now();
  const closed = once(child, 'close');
  child.kill(signal);
  const killer = setTimeout(() => child.kill('SIGKILL'), 15_000);
  const [code, sig] = await closed;
  clearTimeout(killer);
  return { code, signal: sig, ms: Date.now() - t0 };
}

describe('processes stop when asked', { skip: avail.ok ? false : avail.reason }, () => {
  let kafka: KafkaBroker;
  let cluster: Cluster;
  before(async () => {
    kafka = await startKafka({ port: 20192 });
    cluster = new Cluster(kafka.bootstrap);
  });
  after(async () => {
    await cluster?.stopAll();
    await kafka?.stop();
  });

  test('runtime: SIGTERM with a results --follow client and an open event stream', async () => {
    const rt = await cluster.startRuntime();
    const agent = cluster.agent('s0', `pcap:${DEMO}`);
    await waitFor(async () => (await cluster.api('GET', '/agents')).data.agents.some((a: any) => a.up), 20_000, 'agent up');
    // a task that never finishes here (no GSP worker, so no result; the agent stays on it)
    const sub = await cluster.api('POST', '/tasks', { app: 'tcp-new-conn', window: 10 });
    assert.equal(sub.status, 201, JSON.stringify(sub.data));
    const follow = spawn(process.execPath, [BIN, 'results', sub.data.id, '--follow', '--runtime', cluster.runtimeUrl], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, INTSTREAM_TOKEN: TOKEN } });
    let followErr = '';
    follow.stderr!.on('data', (b) => { followErr += b; });
    const browser = await fetch(`${cluster.runtimeUrl}/api/v1/tasks/${sub.data.id}/events`, { headers: { authorization: `Bearer ${READ_TOKEN}` } });
    assert.equal(browser.status, 200);
    const reader = browser.body!.getReader();
    await reader.read(); // the stream is open and has begun
    await new Promise((r) => setTimeout(r, 1000));
    const followClosed = once(follow, 'close');
    const r = await stopTimed(rt.child, 'SIGTERM');
    assert.equal(r.signal, null, `runtime was killed after ${r.ms} ms: it ignored SIGTERM`);
    assert.equal(r.code, 0);
    assert.ok(r.ms < 6000, `runtime took ${r.ms} ms to stop`);
    // the client sees the stream end and says the runtime went away
    const [code] = await followClosed;
    assert.equal(code, 1);
    assert.match(followErr, /closed the event stream before the task ended/);
    await reader.cancel().catch(() => undefined);
    await cluster.kill(agent, 'SIGTERM');
  });

  test('gsp: SIGTERM while its broker is unreachable', async () => {
    if (!cluster.runtimeUrl || !(await fetch(`${cluster.runtimeUrl}/api/v1/health`).catch(() => null))) await cluster.startRuntime();
    const dead = `127.0.0.1:${await freePort()}`;
    const w = cluster.spawn('gsp-dead', ['gsp', '--name', 'dead', '--kafka', dead, '--runtime', cluster.runtimeUrl], 'ignore', cluster.tokenFor('worker', 'dead'));
    await waitFor(() => w.log.join('').includes('taking tasks'), 20_000, 'gsp started');
    await new Promise((r) => setTimeout(r, 1500));
    const r = await stopTimed(w.child, 'SIGTERM');
    assert.equal(r.signal, null, `gsp was killed after ${r.ms} ms: it ignored SIGTERM`);
    assert.ok(r.ms < 7000, `gsp took ${r.ms} ms to stop`);
  });

  test('agent started in the background by a script: SIGINT ends it', async () => {
    if (!cluster.runtimeUrl || !(await fetch(`${cluster.runtimeUrl}/api/v1/health`).catch(() => null))) await cluster.startRuntime();
    // a non-interactive shell starts background jobs with SIGINT ignored; the agent must still honour it
    const sh = spawn('bash', ['-c', `"${process.execPath}" "${BIN}" agent --name bg --source pcap:${DEMO} --runtime ${cluster.runtimeUrl} --heartbeat 500ms & echo $!; wait`], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, INTSTREAM_TOKEN: cluster.tokenFor('agent', 'bg') } });
    const [pidLine] = (await once(sh.stdout!, 'data')) as [Buffer];
    const pid = Number(String(pidLine).trim());
    assert.ok(pid > 0);
    await waitFor(async () => (await cluster.api('GET', '/agents')).data.agents.some((a: any) => a.name === 'bg' && a.up), 20_000, 'agent bg up');
    const t0 = Date.now();
    process.kill(pid, 'SIGINT');
    const killer = setTimeout(() => { try { process.kill(pid, 'SIGKILL'); } catch { /* gone */ } }, 15_000);
    await once(sh, 'close'); // the script's `wait` returns when the agent has exited
    clearTimeout(killer);
    const ms = Date.now() - t0;
    assert.ok(ms < 6000, `agent took ${ms} ms to stop on SIGINT (killed at 15 s means it ignored it)`);
  });
});
