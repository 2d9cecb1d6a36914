/**
 * steno: against a real Stenographer (Debian package `stenographer`): stenotype writes what
 * arrives on a veth inside a namespace the test made, traffic is replayed onto the peer, and
 * `intstream run --source steno:https://...` queries stenographer's HTTPS API (client
 * certificates made by stenokeys) from inside the namespace. Expected values: the same task on
 * the capture file, and on the file filtered by tcpdump for the Stenographer query. The same
 * task through `run --transport kafka://` and through runtime + an agent (inside the namespace,
 * reaching the runtime and broker through a loopback relay) + a GSP worker answers as `run`.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { parseStenoSpec, stenoQuery } from '../../src/sources/steno-source.ts';
import { IntstreamError } from '../../src/errors.ts';
import { BIN } from '../support/run-cli.ts';
import { kafkaAvailable, startKafka } from '../support/kafka.ts';
import { relayIntoNamespace } from '../support/ns-relay.ts';
import { canonical, Cluster, waitFor } from '../control/cluster.ts';
import { buildLiveLab, byKey, liveLabSkip, replay, ROOT, runOnFile, sleep, type LiveLab } from './live-lab.ts';

test('steno: query text from query, since and until', () => {
  assert.equal(stenoQuery('tcp and port 80', '1700000000', '30m ago', 's'), '(tcp and port 80) and after 2023-11-14T22:13:20Z and before 30m ago');
  assert.equal(stenoQuery(null, null, null, 's'), 'after 1970-01-01T00:00:00Z');
  assert.throws(() => stenoQuery(null, 'yesterday', null, 's'), (e: unknown) => e instanceof IntstreamError && e.code === 'SOURCE_SPEC');
  const o = parseStenoSpec('steno:https://127.0.0.1:1234?query=udp', 'https://127.0.0.1:1234?query=udp');
  assert.equal(o.url.href, 'https://127.0.0.1:1234/query');
  assert.equal(o.query, '(udp)');
  assert.throws(() => parseStenoSpec('x', 'https://h:1?bogus=1'), /unknown option 'bogus'/);
  assert.throws(() => parseStenoSpec('x', 'https://h:1?cert=/nonexistent.pem'), /cannot read/);
});

function stenoSkip(): string | null {
  const s = liveLabSkip();
  if (s) return s;
  if (spawnSync('sh', ['-c', 'command -v stenographer && command -v stenokeys && command -v jq && id stenographer']).status !== 0) {
    return 'stenographer (Debian package) is not installed: npm run setup';
  }
  return null;
}

const skip = stenoSkip();

describe('steno: a real Stenographer in a network namespace', { skip: skip ?? false }, () => {
  let ll: LiveLab;
  let steno: ChildProcess | undefined;
  let base = '';
  const demo = join(ROOT, 'samples', 'demo.pcap');
  const started = Math.floor(Date.now() / 1000) - 5;

  /** intstream run inside the namespace (stenographer listens on its loopback). */
  function runIn(args: string[]) {
    const r = spawnSync('ip', ['netns', 'exec', ll.captureNs, process.execPath, BIN, 'run', ...args], { cwd: ROOT, encoding: 'utf8' });
    return { code: r.status, stdout: r.stdout, stderr: r.stderr };
  }

  /** runIn, without blocking this process (which serves the relay's root side). */
  function runInAsync(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
    const c = spawn('ip', ['netns', 'exec', ll.captureNs, process.execPath, BIN, 'run', ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '', stderr = '';
    c.stdout!.on('data', (d) => { stdout += d; });
    c.stderr!.on('data', (d) => { stderr += d; });
    return new Promise((res) => c.on('close', (code) => res({ code, stdout, stderr })));
  }

  before(async () => {
    ll = buildLiveLab();
    chmodSync(ll.tmp, 0o755);
    const dir = join(ll.tmp, 'steno');
    for (const d of ['packets', 'index', 'certs']) mkdirSync(join(dir, d), { recursive: true });
    const port = 20000 + (process.pid % 20000);
    const config = join(dir, 'config');
    writeFileSync(config, JSON.stringify({
      Threads: [{ PacketsDirectory: join(dir, 'packets'), IndexDirectory: join(dir, 'index'), MaxDirectoryFiles: 30000, DiskFreePercentage: 1 }],
      StenotypePath: '/usr/sbin/stenotype', Interface: ll.captureIf, Port: port, Host: '127.0.0.1', CertPath: join(dir, 'certs'),
      // Small ring (256 MiB, not 2 GiB), files rotated every 5 s so packets become queryable
      // soon; no watchdog (its 'thread made no progress' abort fires on idle test links).
      Flags: ['--fileage_sec=5', '--blockage_sec=1', '--blocks=256', '--aiops=64', '--no_watchdogs'],
    }));
    const keys = spawnSync('stenokeys', ['stenographer', 'stenographer'], { env: { ...process.env, STENOGRAPHER_CONFIG: config }, encoding: 'utf8' });
    assert.equal(keys.status, 0, keys.stderr);
    spawnSync('chown', ['-R', 'stenographer:stenographer', join(dir, 'packets'), join(dir, 'index')]);
    steno = spawn('ip', ['netns', 'exec', ll.captureNs, 'runuser', '-u', 'stenographer', '--', 'stenographer', '-config', config, '-syslog=false'], { stdio: ['ignore', 'ignore', 'pipe'] });
    let log = '';
    steno.stderr!.on('data', (d) => { log += d; });
    const certs = join(dir, 'certs');
    base = `steno:https://127.0.0.1:${port}?cert=${certs}/client_cert.pem&key=${certs}/client_key.pem&ca=${certs}/ca_cert.pem`;
    // stenotype is capturing once its AF_PACKET socket exists (setting up the ring takes seconds).
    const deadline = Date.now() + 60000;
    for (;;) {
      const socks = spawnSync('ip', ['netns', 'exec', ll.captureNs, 'cat', '/proc/net/packet'], { encoding: 'utf8' }).stdout.trim().split('\n').length - 1;
      if (socks > 0) break;
      if (steno.exitCode !== null || Date.now() > deadline) throw new Error(`stenographer did not start: ${log}`);
      await sleep(250);
    }
    await sleep(1500);
    await replay(ll, demo, ['--pps', '5000']);
    // Packets become queryable when stenotype rotates its file and stenographer indexes it.
    const want = byKey(runOnFile(['tcp-new-conn', '--source', `pcap:${demo}`, '--window', '1000000000s', '--param', 'threshold=0', '--format', 'jsonl', '-q']).stdout);
    for (;;) {
      const r = runIn(['tcp-new-conn', '--source', `${base}&since=${started}`, '--window', '1000000000s', '--param', 'threshold=0', '--format', 'jsonl', '-q']);
      if (r.code === 0 && JSON.stringify([...byKey(r.stdout)]) === JSON.stringify([...want])) break;
      if (steno.exitCode !== null || Date.now() > deadline + 60000) throw new Error(`stenographer never returned the replay: ${r.stderr} ${log}`);
      await sleep(2000);
    }
  });
  after(() => {
    if (steno) {
      // runuser → stenographer → stenotype: stenotype outlives a killed stenographer (the
      // Debian unit pkills it too), so kill every descendant by pid, then runuser.
      const tree: number[] = [];
      const walk = (pid: number) => {
        for (const k of spawnSync('pgrep', ['-P', String(pid)], { encoding: 'utf8' }).stdout.split('\n').filter(Boolean).map(Number)) { tree.push(k); walk(k); }
      };
      walk(steno.pid!);
      for (const pid of tree.reverse()) { try { process.kill(pid, 'SIGKILL'); } catch { /* gone */ } }
      if (steno.exitCode === null) steno.kill('SIGKILL');
    }
    ll?.destroy();
  });

  test('every replayed packet comes back: tcp-new-conn equals the file run', () => {
    const r = runIn(['tcp-new-conn', '--source', `${base}&since=${started}`, '--window', '1000000000s', '--param', 'threshold=0', '--format', 'jsonl', '--stats', join(ll.tmp, 's.json')]);
    assert.equal(r.code, 0, r.stderr);
    const ref = runOnFile(['tcp-new-conn', '--source', `pcap:${demo}`, '--window', '1000000000s', '--param', 'threshold=0', '--format', 'jsonl', '-q']);
    assert.deepEqual(byKey(r.stdout), byKey(ref.stdout));
    assert.match(r.stderr, /16,928 packets read/);
  });

  test('a Stenographer query selects on the server: equals the file filtered by tcpdump', () => {
    const filtered = join(ll.tmp, 'port80.pcap');
    assert.equal(spawnSync('tcpdump', ['-nr', demo, '-w', filtered, 'tcp and port 80']).status, 0);
    const q = join(ll.tmp, 'per-src.ts');
    writeFileSync(q, `import { defineTask, count } from 'intstream';\nexport default defineTask({ name: 'per-src', query: (p) => p.key('ip.src').window(1000000000).aggregate(count()) });\n`);
    const r = runIn([q, '--source', `${base}&query=${encodeURIComponent('tcp and port 80')}&since=${started}&until=${Math.floor(Date.now() / 1000) + 60}`, '--window', '1000000000s', '--format', 'jsonl', '-q']);
    assert.equal(r.code, 0, r.stderr);
    const ref = runOnFile([q, '--source', `pcap:${filtered}`, '--window', '1000000000s', '--format', 'jsonl', '-q']);
    assert.ok(byKey(ref.stdout).size > 1);
    assert.deepEqual(byKey(r.stdout), byKey(ref.stdout));
  });

  test('run = run --transport kafka = runtime + agent + GSP worker', { skip: kafkaAvailable().reason ?? false }, async () => {
    const src = `${base}&since=${started}&until=${Math.floor(Date.now() / 1000) + 60}`;
    const task = ['tcp-new-conn', '--source', src, '-w', '2s', '--param', 'threshold=0', '--format', 'jsonl', '-q'];
    const ref = runIn(task);
    assert.equal(ref.code, 0, ref.stderr);
    const expected = ref.stdout.trim().split('\n').filter(Boolean).map((l) => JSON.parse(l));
    assert.ok(expected.length > 5, `only ${expected.length} results`);
    const kafka = await startKafka({ port: 20692 });
    const cluster = new Cluster(kafka.bootstrap);
    let relay: { close(): void } | undefined;
    try {
      await cluster.startRuntime();
      cluster.gsp('w1');
      relay = await relayIntoNamespace(ll.captureNs, [Number(new URL(cluster.runtimeUrl).port), kafka.port]);
      // not spawnSync: the relay's root side runs in this process
      const viaKafka = await runInAsync([...task, '--transport', `kafka://${kafka.bootstrap}`]);
      assert.equal(viaKafka.code, 0, viaKafka.stderr);
      assert.deepEqual(canonical(viaKafka.stdout.trim().split('\n').map((l) => JSON.parse(l))), canonical(expected), 'run --transport kafka = run');

      cluster.agent('steno', src, 'ignore', [], ['ip', 'netns', 'exec', ll.captureNs]);
      await waitFor(async () => (await cluster.api('GET', '/agents')).data.agents.some((a: any) => a.name === 'steno' && a.up), 30_000, 'agent up');
      const sub = await cluster.api('POST', '/tasks', { app: 'tcp-new-conn', params: { threshold: '0' }, window: 2, agents: { names: ['steno'] } });
      assert.equal(sub.status, 201, JSON.stringify(sub.data));
      await waitFor(async () => {
        const d = (await cluster.api('GET', `/tasks/${sub.data.id}`)).data;
        return d.status === 'finished' && d.results >= expected.length;
      }, 90_000, 'task finished');
      await sleep(1500);
      const got = (await cluster.api('GET', `/tasks/${sub.data.id}/results?limit=100000`)).data.results;
      assert.deepEqual(canonical(got), canonical(expected), 'runtime + agent + GSP = run');
    } finally {
      relay?.close();
      await cluster.stopAll();
      await kafka.stop();
    }
  });

  test('no client certificate: refused by the server, one line, exit 1', () => {
    const noCert = base.replace(/\?cert=[^&]*&key=[^&]*&/, '?');
    const r = runIn(['tcp-new-conn', '--source', noCert]);
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, /steno:https:\/\/127\.0\.0\.1:\d+.*(certificate|alert|socket hang up|ECONNRESET|answered 4)/i);
    assert.doesNotMatch(r.stderr, /\n\s+at /);
  });
});
