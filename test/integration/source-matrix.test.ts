/**
 * One task, three deployments, one answer, per source kind: `intstream run` (in-process
 * transport), `intstream run --transport kafka://` and runtime + agents + a GSP worker give
 * identical results for
 *   - pcap: two capture files, two agents, a task whose filter is pushed down (tcp-new-conn);
 *   - sflow:udp://: sampled headers from pmacctd's sFlow datagrams, a query file with a
 *     declarative filter read through the field getters (record items);
 *   - live: a veth in a test namespace, the packets replayed once by tcpreplay while all three
 *     capture (the kernel stamps each packet once, so all three see the same times); the agent's
 *     tcpdump carries the same kernel filter as run's, and the kernel passed exactly the packets
 *     each local stage read;
 *   - erspan: ERSPAN II/III and GRE captures replayed the same way, decoded to inner packets.
 * netflow and INT (capture and int:udp://) are in distributed-sources.test.ts, steno: in
 * test/sources/steno.test.ts. Agents on a namespace's interface run inside it and reach the
 * runtime and the broker through a loopback relay (test/support/ns-relay.ts).
 * `run` itself is checked against tshark elsewhere (test/apps, test/sources); here it is the
 * reference for the deployments.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { canonical, Cluster, waitFor } from '../control/cluster.ts';
import { jsonlResults, sendAll, udpPayloads } from '../support/datagrams.ts';
import { kafkaAvailable, startKafka, type KafkaBroker } from '../support/kafka.ts';
import { relayIntoNamespace, type NsRelay } from '../support/ns-relay.ts';
import { BIN, CAPTURES, ROOT } from '../support/run-cli.ts';
import { freeUdpPort, waitListening } from '../sources/flow-source-support.ts';
import { buildLiveLab, liveLabSkip, replay, sleep, type LiveLab } from '../sources/live-lab.ts';

const avail = kafkaAvailable();
const DEMO = join(ROOT, 'samples/demo.pcap');
const SFLOW = join(ROOT, 'test/fixtures/flow/pmacct-sflow-many-protocols.pcap');

/** Sampled packets per destination; the filter is one a compiled packet filter gets wrong on records. */
const SFLOW_TASK = `import { defineTask, count } from 'intstream';
export default defineTask({
  name: 'sampled-udp',
  description: 'sampled UDP packets per destination',
  params: {},
  query: (items, p) => items
    .filter('ip.proto == 17 or ip.dst in 10.0.0.0/8')
    .key('ip.dst').window(p.window).aggregate(count())
    .global().merge(),
});
`;

/** Inner packets of mirrored traffic per (tunnel, inner source); the filter cannot go into the kernel (it sees GRE). */
const MIRROR_TASK = `import { defineTask, count } from 'intstream';
export default defineTask({
  name: 'mirror',
  description: 'inner IPv4 packets per tunnel type and inner source',
  params: {},
  query: (items, p) => items
    .filter('ip.version == 4')
    .key((x) => [x.get('tunnel.type'), x.get('ip.src')].join(' '))
    .window(p.window).aggregate(count())
    .global().merge(),
});
`;

/** A running `intstream run` (optionally inside a namespace). */
function startRun(args: string[], wrap: string[] = []) {
  const argv = [...wrap, process.execPath, BIN, 'run', ...args];
  const child = spawn(argv[0], argv.slice(1), { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '', err = '';
  child.stdout.on('data', (d) => { out += d; });
  child.stderr.on('data', (d) => { err += d; });
  const done = once(child, 'close').then(([code]) => code as number | null);
  process.once('exit', () => { if (child.exitCode === null) child.kill('SIGKILL'); });
  return { child, done, stdout: () => out, stderr: () => err };
}

/** tcpdump's argv under process `pid` (its child), once it runs. */
async function tcpdumpArgs(pid: number): Promise<string[]> {
  let args: string[] = [];
  await waitFor(() => {
    const p = spawnSync('pgrep', ['-P', String(pid), '-x', 'tcpdump'], { encoding: 'utf8' }).stdout.trim().split('\n')[0];
    if (!p) return false;
    args = readFileSync(`/proc/${p}/cmdline`, 'utf8').split('\0').filter(Boolean);
    return true;
  }, 30_000, `tcpdump under ${pid}`);
  return args;
}

describe('one task, three deployments, one answer, per source kind', { skip: avail.ok ? false : avail.reason }, () => {
  let kafka: KafkaBroker;
  let cluster: Cluster;
  let tmp = '';
  before(async () => {
    tmp = mkdtempSync(join(tmpdir(), 'intstream-matrix-'));
    kafka = await startKafka({ port: 20592 });
    cluster = new Cluster(kafka.bootstrap);
    await cluster.startRuntime();
    cluster.gsp('w1', ['--allow-code']);
    await cluster.workerUp();
  });
  after(async () => {
    await cluster?.stopAll();
    await kafka?.stop();
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  });

  async function agentsUp(names: string[]): Promise<void> {
    await waitFor(async () => {
      const up = new Set((await cluster.api('GET', '/agents')).data.agents.filter((a: any) => a.up).map((a: any) => a.name));
      return names.every((n) => up.has(n));
    }, 30_000, `agents ${names} up`);
  }

  async function submit(body: Record<string, unknown>): Promise<string> {
    const sub = await cluster.api('POST', '/tasks', body);
    assert.equal(sub.status, 201, JSON.stringify(sub.data));
    return sub.data.id;
  }

  /** The task's stored results once it has `n` (and, unless `running`, once it finished); nothing more may come. */
  async function results(id: string, n: number, running = false): Promise<any[]> {
    await waitFor(async () => {
      const d = (await cluster.api('GET', `/tasks/${id}`)).data;
      return (running || d.status === 'finished') && d.results >= n;
    }, 90_000, `task ${id}: ${n} results`);
    await sleep(1500);
    return (await cluster.api('GET', `/tasks/${id}/results?limit=100000`)).data.results;
  }

  /** `intstream run ARGS` with the in-process transport and with Kafka's: both must agree; returns the results. */
  function runBothTransports(args: string[]): any[] {
    const go = (extra: string[]) => {
      const r = spawnSync(process.execPath, [BIN, 'run', ...args, ...extra, '--format', 'jsonl', '-q'], { cwd: ROOT, encoding: 'utf8', maxBuffer: 1 << 26 });
      assert.equal(r.status, 0, r.stderr);
      return jsonlResults(r.stdout);
    };
    const memory = go([]);
    assert.deepEqual(canonical(go(['--transport', `kafka://${kafka.bootstrap}`])), canonical(memory), 'run --transport kafka = run');
    return memory;
  }

  test('pcap: two files, two agents, a pushed-down filter', async () => {
    const files = [DEMO, join(CAPTURES, 'attack/synscan.pcap')];
    const expected = runBothTransports(['tcp-new-conn', ...files.flatMap((f) => ['--source', `pcap:${f}`]), '-p', 'threshold=0', '-w', '2s']);
    assert.ok(expected.length > 10, `only ${expected.length} results`);
    const agents = files.map((f, i) => cluster.agent(`p${i}`, `pcap:${f}`));
    await agentsUp(['p0', 'p1']);
    const id = await submit({ app: 'tcp-new-conn', params: { threshold: '0' }, window: 2, agents: { names: ['p0', 'p1'] } });
    const got = await results(id, expected.length);
    assert.deepEqual(canonical(got), canonical(expected));
    const d = (await cluster.api('GET', `/tasks/${id}`)).data;
    assert.equal(d.results, expected.length, 'the runtime stored each result once');
    for (const a of agents) await cluster.kill(a, 'SIGTERM');
  });

  test('sflow:udp://: sampled headers through the field getters', { skip: !spawnSync('sh', ['-c', 'command -v tshark']).status ? false : 'tshark not installed (npm run setup)' }, async () => {
    const datagrams = udpPayloads(SFLOW);
    assert.ok(datagrams.length > 0);
    const query = join(tmp, 'sampled-udp.ts');
    writeFileSync(query, SFLOW_TASK);
    // sFlow's event time is the arrival time: one window for everything, so the answer does not
    // depend on when the datagrams arrive
    const viaRun = async (extra: string[]) => {
      const port = await freeUdpPort();
      const r = startRun([query, '--source', `sflow:udp://127.0.0.1:${port}?idle=2`, '-w', '1000000000s', '--format', 'jsonl', '-q', ...extra]);
      await waitListening(port, 20_000);
      await sendAll(port, datagrams);
      assert.equal(await r.done, 0, r.stderr());
      return jsonlResults(r.stdout());
    };
    const expected = await viaRun([]);
    assert.ok(expected.length > 0, 'the filter kept nothing');
    const viaKafka = await viaRun(["--transport", `kafka://${kafka.bootstrap}`, "--stats", join(tmp, "sf-kafka.json")]);
    assert.deepEqual(canonical(viaKafka), canonical(expected), `run --transport kafka = run; stats: ${readFileSync(join(tmp, "sf-kafka.json"), "utf8")}`);

    const port = await freeUdpPort();
    const agent = cluster.agent('sf', `sflow:udp://127.0.0.1:${port}?idle=3`, 'ignore', ['--allow-code']);
    await agentsUp(['sf']);
    const id = await submit({ code: SFLOW_TASK, window: 1_000_000_000, agents: { names: ['sf'] } });
    await waitListening(port, 20_000);
    await sendAll(port, datagrams);
    assert.deepEqual(canonical(await results(id, expected.length)), canonical(expected));
    await cluster.kill(agent, 'SIGTERM');
  });

  describe('live capture in a namespace', { skip: liveLabSkip() ?? false }, () => {
    let ll: LiveLab;
    let relay: NsRelay;
    before(async () => {
      ll = buildLiveLab();
      relay = await relayIntoNamespace(ll.captureNs, [Number(new URL(cluster.runtimeUrl).port), kafka.port]);
    });
    after(() => { relay?.close(); ll?.destroy(); });

    /**
     * Starts run, run --transport kafka and an agent task on `source` inside the capture
     * namespace, replays `files` once while all three capture, and returns what each gave.
     */
    async function threeWays(name: string, source: string, task: { args: string[]; body: Record<string, unknown> }, files: string[]) {
      const ns = ['ip', 'netns', 'exec', ll.captureNs];
      const statsA = join(tmp, `${name}-a.json`);
      const a = startRun([...task.args, '--source', source, '--format', 'jsonl', '-q', '--stats', statsA], ns);
      const b = startRun([...task.args, '--source', source, '--format', 'jsonl', '-q', '--transport', `kafka://${kafka.bootstrap}`], ns);
      const agent = cluster.agent(name, source, 'ignore', ['--allow-code'], ns);
      await agentsUp([name]);
      const id = await submit({ ...task.body, agents: { names: [name] } });
      const args = await Promise.all([a.child.pid!, b.child.pid!, agent.child.pid!].map(tcpdumpArgs));
      await sleep(1500); // tcpdump has opened its ring
      let sent = 0;
      for (const f of files) sent += (await replay(ll, f, ['--pps', '4000'])).sent;
      // every window with a packet closes (1 s windows, 1.1 s drain, heartbeats twice a second)
      await sleep(4000);
      a.child.kill('SIGTERM');
      b.child.kill('SIGTERM');
      assert.equal(await a.done, 0, a.stderr());
      assert.equal(await b.done, 0, b.stderr());
      const expected = jsonlResults(a.stdout());
      const got = await results(id, expected.length, true);
      const detail = (await cluster.api('GET', `/tasks/${id}`)).data;
      await cluster.api('POST', `/tasks/${id}/stop`);
      await cluster.kill(agent, 'SIGTERM');
      return { sent, args, expected, viaKafka: jsonlResults(b.stdout()), got, stats: JSON.parse(readFileSync(statsA, 'utf8')), detail };
    }

    test('live: the agent installs run\'s kernel filter, reads what the kernel passed, and answers as run', async () => {
      const r = await threeWays('lv', `live:${ll.captureIf}`, {
        args: ['tcp-new-conn', '-p', 'threshold=0', '-w', '1s'],
        body: { app: 'tcp-new-conn', params: { threshold: '0' }, window: 1 },
      }, [DEMO]);
      assert.ok(r.expected.length > 5, `only ${r.expected.length} results`);
      // one filter in all three tcpdumps: the task's pushdown (tcpdump's last argument)
      assert.ok(/tcp/.test(r.args[0].at(-1)!), `run's tcpdump has no filter: ${r.args[0].join(' ')}`);
      assert.deepEqual(r.args[2], r.args[0], 'agent\'s tcpdump = run\'s');
      assert.deepEqual(r.args[1], r.args[0], 'run --transport kafka\'s tcpdump = run\'s');
      // the kernel passed only SYNs: what run's local stage read is the kernel's count, and the agent read as many
      const src = r.stats.sources[0];
      assert.equal(src.kernel.dropped, 0);
      assert.equal(src.items_read, src.kernel.captured ?? src.items_read);
      assert.ok(src.items_read < r.sent, `the kernel filter passed all ${r.sent} packets`);
      assert.equal(r.detail.stages.local.items_read, src.items_read, 'the agent read what run read');
      assert.deepEqual(canonical(r.viaKafka), canonical(r.expected), 'run --transport kafka = run');
      assert.deepEqual(canonical(r.got), canonical(r.expected), 'runtime + agent + GSP = run');
    });

    test('erspan: inner packets of mirrored traffic, three ways', async () => {
      const query = join(tmp, 'mirror.ts');
      writeFileSync(query, MIRROR_TASK);
      const mirrored = ['erspan-type-ii-3.pcap', 'erspan-type-iii-ft-7.pcap', 'erspan.pcap', 'gre-erspan-vxlan.pcap'].map((f) => join(CAPTURES, 'tunnel', f));
      const r = await threeWays('es', `erspan:${ll.captureIf}`, { args: [query, '-w', '1s'], body: { code: MIRROR_TASK, window: 1 } }, mirrored);
      assert.ok(r.expected.length > 3, `only ${r.expected.length} results`);
      assert.deepEqual(r.args[2], r.args[0], 'agent\'s tcpdump = run\'s (GRE only)');
      assert.deepEqual(canonical(r.viaKafka), canonical(r.expected), 'run --transport kafka = run');
      assert.deepEqual(canonical(r.got), canonical(r.expected), 'runtime + agent + GSP = run');
    });
  });
});
