/**
 * Kafka with TLS and SASL/SCRAM (issue 12) against the repo's broker started with
 * `scripts/kafka.sh up --secure` (test/support/kafka.ts `secure: true`: a SASL_SSL listener with
 * SCRAM-SHA-256 and -512, a private CA, and the client config file it writes):
 *
 *  (a) produce and consume through kafka-client.ts with that config: the records read back are
 *      the records sent (SCRAM-SHA-256, and SCRAM-SHA-512 with the same user);
 *  (b) a wrong password: KAFKA_AUTH naming the user and the mechanism;
 *  (c) no config (plaintext) against the TLS port: a clear KAFKA_AUTH error within seconds;
 *  (d) a CA that did not sign the broker's certificate: KAFKA_AUTH, certificate not trusted;
 *  (e) the CLI with --kafka-config: `run --transport kafka://`, `export --to kafka://` then
 *      `run --source kafka://` (also from an offset, which moves a group with an admin client),
 *      and `--sink kafka://` (read back with the secure consumer) all give the JSON Lines of the
 *      same run with the default in-process transport on the capture; without the config the
 *      run fails at once, and a bad config file fails before anything runs;
 *  (f) the distributed path: a runtime, an agent and a GSP worker, each an `intstream` process
 *      with --kafka-config, give the results of runTask over the capture in one process.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { IntstreamError } from '../../src/errors.ts';
import { createConsumer, createProducer, createTopic, partitionsFor } from '../../src/transport/kafka-client.ts';
import { KAFKA_CONFIG_ENV } from '../../src/transport/kafka-security.ts';
import { kafkaAvailable, startKafka, type KafkaBroker } from '../support/kafka.ts';
import { CAPTURES, jsonl, runCli } from '../support/run-cli.ts';
import { canonical, Cluster, waitFor } from '../control/cluster.ts';
import { loadTask } from '../../src/apps/load-task.ts';
import { runTask, type TaskResult } from '../../src/run-task.ts';

const avail = kafkaAvailable();
const noOpenssl = spawnSync('openssl', ['version']).status === 0 ? false : 'openssl not installed: scripts/kafka.sh up --secure makes the certificates with it';
const skip = avail.ok ? noOpenssl : avail.reason;

/** A capture with SYNs to many hosts: tcp-new-conn with threshold=0 reports many keys. */
const CAPTURE = join(CAPTURES, 'attack', 'hs-tcp_synPingSweepRand.pcapng');
const TASK = ['tcp-new-conn', '--source', `pcap:${CAPTURE}`, '-p', 'threshold=0', '--format', 'jsonl'];

/** Runs `fn` with INTSTREAM_KAFKA_CONFIG set to `file` (unset for undefined), restored after. */
async function withConfig<T>(file: string | undefined, fn: () => Promise<T>): Promise<T> {
  const saved = process.env[KAFKA_CONFIG_ENV];
  if (file === undefined) delete process.env[KAFKA_CONFIG_ENV]; else process.env[KAFKA_CONFIG_ENV] = file;
  try {
    return await fn();
  } finally {
    if (saved === undefined) delete process.env[KAFKA_CONFIG_ENV]; else process.env[KAFKA_CONFIG_ENV] = saved;
  }
}

/** The error `p` rejects with, and how long it took. */
async function failure(p: () => Promise<unknown>): Promise<{ e: IntstreamError; ms: number }> {
  const t0 = Date.now();
  try {
    await p();
  } catch (e) {
    assert.ok(e instanceof IntstreamError, `expected an IntstreamError, got ${(e as Error)?.stack ?? String(e)}`);
    return { e, ms: Date.now() - t0 };
  }
  assert.fail('expected a failure');
}

/** Every record value of `topic` (read from the beginning) once `n` have come, or after 30 s. */
async function readValues(bootstrap: string, topic: string, n: number): Promise<string[]> {
  const c = await createConsumer({ bootstrap, groupId: `read-${topic}-${Date.now()}`, topics: [topic], fromBeginning: true, maxWaitMs: 100 });
  const out: string[] = [];
  const deadline = setTimeout(() => { void c.close(); }, 30_000);
  try {
    for await (const b of c) {
      for (const r of b.records) out.push(r.value.toString('utf8'));
      if (out.length >= n) break;
    }
  } finally {
    clearTimeout(deadline);
    await c.close();
  }
  return out;
}

describe('Kafka with TLS and SASL/SCRAM (scripts/kafka.sh up --secure)', { skip }, () => {
  let broker: KafkaBroker;
  let dir: string;
  let config: string;
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'intstream-kafka-secure-'));
    broker = await startKafka({ port: 21092, secure: true });
    config = broker.clientConfig!;
  });
  after(async () => {
    await broker?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  /** A copy of the broker's client config with `key` set to `value` (or appended). */
  function variant(name: string, key: string, value: string): string {
    const lines = readFileSync(config, 'utf8').split('\n');
    const i = lines.findIndex((l) => l.startsWith(`${key}=`));
    if (i >= 0) lines[i] = `${key}=${value}`; else lines.push(`${key}=${value}`);
    const file = join(dir, name);
    writeFileSync(file, lines.join('\n'));
    return file;
  }

  test('the client config scripts/kafka.sh wrote names the user, the password and the CA it made', () => {
    const text = readFileSync(config, 'utf8');
    assert.match(text, /^security\.protocol=SASL_SSL$/m);
    assert.ok(text.includes(`\nsasl.username=${broker.secure!.username}\n`));
    assert.ok(text.includes(`\nsasl.password=${broker.secure!.password}\n`));
    assert.ok(text.includes(`\nssl.ca.location=${broker.secure!.caFile}\n`));
    // the CA really signed the broker's certificate (openssl, independently of Node)
    const v = spawnSync('openssl', ['verify', '-CAfile', broker.secure!.caFile, '-verify_ip', '127.0.0.1', join(broker.dataDir, 'tls', 'broker.pem')], { encoding: 'utf8' });
    assert.equal(v.status, 0, v.stdout + v.stderr);
  });

  for (const mechanism of ['SCRAM-SHA-256', 'SCRAM-SHA-512']) {
    test(`(a) ${mechanism}: records produced through kafka-client come back the same`, async () => {
      const file = mechanism === 'SCRAM-SHA-256' ? config : variant('sha512.properties', 'sasl.mechanism', mechanism);
      await withConfig(file, async () => {
        const topic = `secure-${mechanism.toLowerCase()}`;
        assert.deepEqual(await createTopic(broker.bootstrap, topic, 3), { created: true, partitions: 3 });
        assert.deepEqual(await partitionsFor(broker.bootstrap, topic), [0, 1, 2]);
        const sent = Array.from({ length: 300 }, (_, i) => ({ key: `k${i % 17}`, value: `v${i}-${mechanism}` }));
        const p = createProducer({ bootstrap: broker.bootstrap });
        try {
          assert.equal((await p.send(topic, sent.slice(0, 150))).count, 150);
          assert.equal((await p.send(topic, sent.slice(150))).count, 150);
        } finally { await p.close(); }
        const got = await readValues(broker.bootstrap, topic, sent.length);
        assert.deepEqual([...got].sort(), sent.map((r) => r.value).sort());
      });
    });
  }

  test('(b) a wrong password: KAFKA_AUTH naming the user and the mechanism', async () => {
    const file = variant('wrong-password.properties', 'sasl.password', 'not-the-password');
    const { e, ms } = await withConfig(file, () => failure(() => createTopic(broker.bootstrap, 'never-a', 1)));
    assert.equal(e.code, 'KAFKA_AUTH', e.message);
    assert.ok(e.message.includes(`SASL authentication failed at ${broker.bootstrap} for user '${broker.secure!.username}' with mechanism SCRAM-SHA-256`), e.message);
    assert.match(e.hint ?? '', /--kafka-config/);
    assert.ok(ms < 30_000, `${ms} ms`);
    // a user the broker does not know: the same, naming that user
    const nobody = variant('wrong-user.properties', 'sasl.username', 'mallory');
    const p = await withConfig(nobody, () => failure(async () => { const pr = createProducer({ bootstrap: broker.bootstrap }); try { await pr.send('never-b', [{ key: 'k', value: 'v' }]); } finally { await pr.close().catch(() => undefined); } }));
    assert.equal(p.e.code, 'KAFKA_AUTH', p.e.message);
    assert.match(p.e.message, /for user 'mallory' with mechanism SCRAM-SHA-256/);
  });

  test('(c) no config (plaintext) against the TLS port: a clear error within seconds, not a hang', async () => {
    const { e, ms } = await withConfig(undefined, () => failure(() => createTopic(broker.bootstrap, 'never-c', 1)));
    assert.equal(e.code, 'KAFKA_AUTH', e.message);
    assert.ok(e.message.includes(`the broker at ${broker.bootstrap} requires TLS, but this client connects in plaintext`), e.message);
    assert.ok(ms < 10_000, `took ${ms} ms`);
    const c = await withConfig(undefined, () => failure(() => createConsumer({ bootstrap: broker.bootstrap, groupId: 'g-c', topics: ['never-c'] })));
    assert.equal(c.e.code, 'KAFKA_AUTH', c.e.message);
    assert.ok(c.ms < 10_000, `consumer took ${c.ms} ms`);
  });

  test('(d) a CA that did not sign the broker certificate: KAFKA_AUTH, certificate not trusted', async () => {
    const r = spawnSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '2', '-keyout', 'other.key', '-out', 'other-ca.pem', '-subj', '/CN=another CA'], { cwd: dir, encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    const file = variant('other-ca.properties', 'ssl.ca.location', join(dir, 'other-ca.pem'));
    const { e, ms } = await withConfig(file, () => failure(() => createTopic(broker.bootstrap, 'never-d', 1)));
    assert.equal(e.code, 'KAFKA_AUTH', e.message);
    assert.ok(e.message.includes(`TLS handshake with ${broker.bootstrap} failed: the broker certificate is not trusted by the CA of ssl.ca.location`), e.message);
    assert.ok(ms < 30_000, `${ms} ms`);
  });

  describe('(e) the CLI with --kafka-config', () => {
    let expected: string;
    let expectedRows: unknown[];
    before(async () => {
      // the reference: the same run on the capture, default in-process transport, no Kafka
      const r = await withConfig(undefined, () => runCli(['run', ...TASK]));
      assert.equal(r.code, 0, r.stderr);
      expected = r.stdout;
      expectedRows = jsonl(expected);
      assert.ok(expectedRows.length >= 50, `the reference run has ${expectedRows.length} results`);
    });

    test('run --transport kafka:// (and --sink kafka://) equals the in-process run', async () => {
      const r = await withConfig(undefined, () => runCli(['--kafka-config', config, 'run', ...TASK, '--transport', `kafka://${broker.bootstrap}`, '--sink', `kafka://${broker.bootstrap}/out`]));
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdout, expected);
      // what the sink delivered, read back with the secure consumer
      const values = await withConfig(config, () => readValues(broker.bootstrap, 'out', expectedRows.length));
      assert.deepEqual(values.map((v) => JSON.parse(v)), expectedRows);
    });

    test('export --to kafka:// then run --source kafka:// equals the run on the capture', async () => {
      const x = await withConfig(undefined, () => runCli(['--kafka-config', config, 'export', '--source', `pcap:${CAPTURE}`, '--to', `kafka://${broker.bootstrap}/pk`]));
      assert.equal(x.code, 0, x.stderr);
      // --kafka-config after the subcommand works as well
      const r = await withConfig(undefined, () => runCli(['run', 'tcp-new-conn', '--source', `kafka://${broker.bootstrap}/pk?from=earliest&idle=2`, '-p', 'threshold=0', '--format', 'jsonl', '--kafka-config', config]));
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdout, expected);
      // from=OFFSET first moves the read group's offsets with an admin client (kafka-source.ts)
      const g = await withConfig(undefined, () => runCli(['--kafka-config', config, 'run', 'tcp-new-conn', '--source', `kafka://${broker.bootstrap}/pk?from=0&group=g-pk&idle=2`, '-p', 'threshold=0', '--format', 'jsonl']));
      assert.equal(g.code, 0, g.stderr);
      assert.equal(g.stdout, expected);
    });

    test('without --kafka-config the run fails at once (exit 1) saying the broker requires TLS', async () => {
      const t0 = Date.now();
      const r = await withConfig(undefined, () => runCli(['run', ...TASK, '--transport', `kafka://${broker.bootstrap}`]));
      assert.equal(r.code, 1);
      assert.match(r.stderr, /requires TLS, but this client connects in plaintext/);
      assert.match(r.stderr, /hint: .*--kafka-config/);
      assert.ok(Date.now() - t0 < 15_000);
    });

    test('a bad config file: exit 2, FILE:LINE and the key, before anything runs', async () => {
      const bad = join(dir, 'typo.properties');
      writeFileSync(bad, 'security.protocol=SASL_SSL\nsasl.mechanism=SCRAM-SHA-256\nsasl.user=x\n');
      const r = await withConfig(undefined, () => runCli(['--kafka-config', bad, 'run', ...TASK, '--transport', `kafka://${broker.bootstrap}`]));
      assert.equal(r.code, 2);
      assert.equal(r.stdout, '');
      assert.ok(r.stderr.includes(`Kafka config ${bad}:3: unknown key 'sasl.user'`), r.stderr);
    });
  });

  test('(f) runtime, agent and GSP worker with --kafka-config: the results of one in-process run', async () => {
    const { def } = await loadTask('tcp-new-conn');
    const ref: TaskResult[] = [];
    await withConfig(undefined, () => runTask({ task: def, params: { threshold: '0' }, window: 1, sources: [`pcap:${CAPTURE}`], onResult: (r) => { ref.push(r); } }));
    const expected = canonical(ref);
    assert.ok(expected.length >= 50, `${expected.length} reference results`);
    const cluster = new Cluster(broker.bootstrap);
    try {
      const cfg = ['--kafka-config', config];
      await cluster.startRuntime(cfg);
      cluster.agent('s0', `pcap:${CAPTURE}`, 'ignore', cfg);
      cluster.gsp('sw1', cfg);
      await waitFor(async () => (await cluster.api('GET', '/agents')).data.agents.filter((a: any) => a.up).length === 1, 20_000, 'agent up');
      await waitFor(async () => (await cluster.api('GET', '/workers')).data.workers.filter((w: any) => w.up).length === 1, 20_000, 'worker up');
      const sub = await cluster.api('POST', '/tasks', { app: 'tcp-new-conn', params: { threshold: '0' }, window: 1, agents: { names: ['s0'] } });
      assert.equal(sub.status, 201, JSON.stringify(sub.data));
      const id = sub.data.id;
      await waitFor(async () => (await cluster.api('GET', `/tasks/${id}`)).data.results >= expected.length, 60_000, `${expected.length} results`);
      await new Promise((r) => setTimeout(r, 1000)); // nothing more may come
      const got = (await cluster.api('GET', `/tasks/${id}/results?limit=100000`)).data.results;
      assert.deepEqual(canonical(got), expected);
    } finally {
      await cluster.stopAll();
    }
  });
});
