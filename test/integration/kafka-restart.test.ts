/**
 * scripts/kafka.sh up after the broker was killed (SIGKILL: its pid file and its log's earlier
 * "Kafka Server started" line stay behind): it starts the broker again and says so with exit 0,
 * and the broker answers (a produce/consume round trip through our client).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { createTopic, partitionsFor } from '../../src/transport/kafka-client.ts';
import { kafkaAvailable, startKafka } from '../support/kafka.ts';

const SCRIPT = new URL('../../scripts/kafka.sh', import.meta.url).pathname;
const avail = kafkaAvailable();

test('kafka.sh up after a killed broker: exit 0, the broker answers', { skip: avail.ok ? false : avail.reason, timeout: 240_000 }, async () => {
  const kafka = await startKafka({ port: 20492 });
  try {
    await createTopic(kafka.bootstrap, 'before-kill', 1);
    const pid = Number(readFileSync(join(kafka.dataDir, 'kafka.pid'), 'utf8').trim());
    assert.ok(pid > 0);
    process.kill(pid, 'SIGKILL');
    for (let i = 0; i < 100; i++) { try { process.kill(pid, 0); } catch { break; } await new Promise((r) => setTimeout(r, 100)); }
    const env: NodeJS.ProcessEnv = { ...process.env, KAFKA_DATA: kafka.dataDir };
    delete env.KAFKA_PORT;
    const up = spawnSync('bash', [SCRIPT, 'up', '--port', String(kafka.port)], { encoding: 'utf8', env, timeout: 180_000 });
    assert.equal(up.status, 0, up.stderr);
    assert.equal(up.stdout.trim().split('\n').pop(), kafka.bootstrap);
    // the same data dir: the topic made before the kill is there again
    assert.deepEqual(await partitionsFor(kafka.bootstrap, 'before-kill'), [0]);
  } finally {
    await kafka.stop();
  }
});
