/**
 * Against a real Apache Kafka broker started by scripts/kafka.sh: topic creation, 1000 keyed records
 * produced with acks=all and consumed back through a consumer group with manual commits.
 *
 * Expected values come from outside the client: the records are counted and compared with what was
 * sent, and each key's partition is checked against a naive port of the Java client's partitioner
 * (murmur2 & 0x7fffffff, mod partitions), itself checked against the hash values published in
 * Apache Kafka's UtilsTest.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { kafkaAvailable, freePortPair, startKafka, type KafkaBroker } from '../support/kafka.ts';
import {
  createConsumer,
  createProducer,
  createTopic,
  deleteTopic,
  partitionForKey,
  partitionsFor,
  type InRecord,
  type KafkaConsumer,
} from '../../src/transport/kafka-client.ts';

/** Naive port of org.apache.kafka.common.utils.Utils.murmur2 (Java int arithmetic). */
function javaMurmur2(data: Buffer): number {
  const m = 0x5bd1e995;
  const r = 24;
  let h = 0x9747b28c ^ data.length;
  const len4 = Math.floor(data.length / 4);
  for (let i = 0; i < len4; i++) {
    const i4 = i * 4;
    let k = data[i4] | (data[i4 + 1] << 8) | (data[i4 + 2] << 16) | (data[i4 + 3] << 24);
    k = Math.imul(k, m);
    k ^= k >>> r;
    k = Math.imul(k, m);
    h = Math.imul(h, m);
    h ^= k;
  }
  const rest = data.length % 4;
  const base = len4 * 4;
  if (rest === 3) h ^= data[base + 2] << 16;
  if (rest >= 2) h ^= data[base + 1] << 8;
  if (rest >= 1) {
    h ^= data[base];
    h = Math.imul(h, m);
  }
  h ^= h >>> 13;
  h = Math.imul(h, m);
  h ^= h >>> 15;
  return h | 0;
}
const javaPartition = (key: string, partitions: number) => (javaMurmur2(Buffer.from(key)) & 0x7fffffff) % partitions;

test('reference murmur2 matches the values in Apache Kafka UtilsTest', () => {
  const cases: [string, number][] = [
    ['21', -973932308],
    ['foobar', -790332482],
    ['a-little-bit-long-string', -985981536],
    ['a-little-bit-longer-string', -1486304829],
    ['lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8', -58897971],
    ['abc', 479470107],
  ];
  for (const [s, h] of cases) assert.equal(javaMurmur2(Buffer.from(s)), h, s);
});

let batchesSeen = 0;
test('partitionForKey (the producer partitioner) agrees with the reference on 10,000 keys', () => {
  for (let i = 0; i < 10_000; i++) {
    const key = i % 3 === 0 ? `sensor-${i}` : i % 3 === 1 ? JSON.stringify(['10.0.0.' + (i % 256), i]) : 'x'.repeat(i % 67) + 'é' + i;
    for (const n of [1, 4, 7, 64]) assert.equal(partitionForKey(key, n), javaPartition(key, n), `${key} mod ${n}`);
  }
});

/** Reads batches (committing each) until `want` records arrived or `ms` passed. */
async function collect(consumer: KafkaConsumer, want: number, ms: number): Promise<InRecord[]> {
  const got: InRecord[] = [];
  batchesSeen = 0;
  const timer = setTimeout(() => void consumer.close(), ms);
  try {
    for await (const batch of consumer) {
      batchesSeen++;
      assert.ok(batch.records.length > 0, 'empty batch');
      got.push(...batch.records);
      await batch.commit();
      if (got.length >= want) break;
    }
  } finally {
    clearTimeout(timer);
  }
  return got;
}

const avail = kafkaAvailable();
// skip each test (not the suite) so the runner counts them as skipped, with the reason
const skip = avail.ok ? false : avail.reason;

describe('kafka broker (scripts/kafka.sh) + src/transport/kafka-client.ts', { timeout: 300_000 }, () => {
  let kafka: KafkaBroker | undefined;
  const broker = () => {
    assert.ok(kafka, 'broker not started');
    return kafka;
  };
  const topic = `it-keys-${process.pid}`;
  const N = 1000;
  const KEYS = 37;
  const sent = Array.from({ length: N }, (_, i) => ({ key: `sensor-${i % KEYS}`, value: `{"seq":${i},"bytes":${i * 7}}` }));
  const groupId = `it-group-${process.pid}`;

  before(async () => {
    if (avail.ok) kafka = await startKafka({ port: 19092 });
  });
  after(async () => {
    await kafka?.stop();
  });

  test('creates a topic with 4 partitions (idempotently)', { skip }, async () => {
    assert.deepEqual(await createTopic(broker().bootstrap, topic, 4), { created: true, partitions: 4 });
    assert.deepEqual(await createTopic(broker().bootstrap, topic, 4), { created: false, partitions: 4 });
    assert.deepEqual(await partitionsFor(broker().bootstrap, topic), [0, 1, 2, 3]);
  });

  test('1000 keyed records: produced with acks, consumed by a group in many fetches, same partition per key as Java', { skip }, async () => {
    const producer = createProducer({ bootstrap: broker().bootstrap, clientId: 'it-producer' });
    try {
      for (let i = 0; i < N; i += 100) {
        const res = await producer.send(topic, sent.slice(i, i + 100));
        assert.equal(res.count, 100);
      }
    } finally {
      await producer.close();
    }

    // small fetches (4 KiB per partition) so the 1000 records take many fetch rounds
    const consumer = await createConsumer({
      bootstrap: broker().bootstrap,
      groupId,
      topics: [topic],
      clientId: 'it-consumer',
      maxBytes: 16 << 10,
      maxBytesPerPartition: 4 << 10,
      maxBatch: 64,
    });
    const got = await collect(consumer, N, 60_000);
    await consumer.close();

    assert.equal(got.length, N, `received ${got.length} of ${N} records`);
    assert.ok(batchesSeen > 10, `expected many batches, got ${batchesSeen}`);
    const bySeq = new Map<number, InRecord>();
    for (const r of got) {
      assert.equal(r.topic, topic);
      const seq = (JSON.parse(r.value.toString()) as { seq: number }).seq;
      assert.ok(!bySeq.has(seq), `duplicate record seq=${seq}`);
      bySeq.set(seq, r);
    }
    const partitionOfKey = new Map<string, number>();
    const perPartitionOffsets = new Map<number, bigint[]>();
    for (let i = 0; i < N; i++) {
      const r = bySeq.get(i);
      assert.ok(r, `record seq=${i} missing`);
      assert.equal(r.key?.toString(), sent[i].key, `key of seq=${i}`);
      assert.equal(r.value.toString(), sent[i].value, `value of seq=${i}`);
      const key = sent[i].key;
      const seen = partitionOfKey.get(key);
      if (seen === undefined) partitionOfKey.set(key, r.partition);
      else assert.equal(r.partition, seen, `key ${key} in partitions ${seen} and ${r.partition}`);
      assert.equal(r.partition, javaPartition(key, 4), `key ${key}: partition differs from the Java client's`);
      const offs = perPartitionOffsets.get(r.partition) ?? [];
      offs.push(r.offset);
      perPartitionOffsets.set(r.partition, offs);
    }
    assert.equal(partitionOfKey.size, KEYS);
    assert.deepEqual([...perPartitionOffsets.keys()].sort(), [0, 1, 2, 3], 'all 4 partitions hold records');
    // records were sent in seq order, so within a partition offsets grow with seq, from 0, no gap
    for (const [p, offs] of perPartitionOffsets) {
      assert.deepEqual(offs, offs.map((_, i) => BigInt(i)), `partition ${p} offsets`);
    }
  });

  test('committed offsets: the same group resumes after what it committed', { skip }, async () => {
    const producer = createProducer({ bootstrap: broker().bootstrap, clientId: 'it-producer-2' });
    const more = Array.from({ length: 10 }, (_, i) => ({ key: `late-${i}`, value: `late-${i}` }));
    try {
      await producer.send(topic, more);
    } finally {
      await producer.close();
    }
    const consumer = await createConsumer({ bootstrap: broker().bootstrap, groupId, topics: [topic] });
    const got = await collect(consumer, 10, 60_000);
    await consumer.close();
    assert.deepEqual(got.map((r) => r.value.toString()).sort(), more.map((r) => r.value).sort());
  });

  test('deleteTopic: true when deleted, false when there was no such topic', { skip }, async () => {
    const t = `it-delete-${process.pid}`;
    await createTopic(broker().bootstrap, t, 2);
    assert.equal(await deleteTopic(broker().bootstrap, t), true);
    assert.equal(await deleteTopic(broker().bootstrap, `it-never-created-${process.pid}`), false);
  });

  test('an unreachable broker fails with KAFKA_UNREACHABLE naming the address', async () => {
    const port = await freePortPair(29092);
    const address = `127.0.0.1:${port}`;
    await assert.rejects(partitionsFor(address, topic), (err: Error & { code?: string }) => {
      assert.equal(err.code, 'KAFKA_UNREACHABLE');
      assert.ok(err.message.includes(address), err.message);
      // the socket's own error, not the client library's chain of retries
      assert.match(err.message, /\(connect ECONNREFUSED [^)]+\)$/);
      assert.doesNotMatch(err.message, /failed \d+ times/);
      return true;
    });
  });
});
