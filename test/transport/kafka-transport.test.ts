/**
 * `run --transport kafka://` against a real Apache Kafka broker (scripts/kafka.sh): the results
 * equal the in-process transport's, byte for byte, with three sources (three interleaved parts of
 * one capture) and a topic of four partitions; and the record format's encode/decode round trip.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { loadTask } from '../../src/apps/load-task.ts';
import { runTask, type TaskResult } from '../../src/run-task.ts';
import { decodeRecord, encodeMessage, rebuild, RECORD_VERSION } from '../../src/transport/kafka-transport.ts';
import { transportFor } from '../../src/transport/transport-spec.ts';
import { splitCapture } from '../apps/split-files.ts';
import { kafkaAvailable, startKafka, type KafkaBroker } from '../support/kafka.ts';

const DEMO = new URL('../../samples/demo.pcap', import.meta.url).pathname;

test('record format v1: one record per partition, rebuilt exactly', () => {
  const msg = { source: 2, items: [{ a: 1 }, { b: 2 }, { c: 3 }], times: [10, 10, 11], keys: ['x', null, 7], watermark: 10, end: false };
  const recs = encodeMessage(msg, 3, 5, 4);
  assert.equal(recs.length, 4);
  const parts = recs.map((r) => decodeRecord(Buffer.from(r.value as string)));
  for (const p of parts) { assert.equal(p.v, RECORD_VERSION); assert.equal(p.seq, 5); assert.equal(p.n, 3); }
  assert.deepEqual(rebuild(parts), msg);
  const end = decodeRecord(Buffer.from(encodeMessage({ ...msg, items: [], times: [], keys: [], watermark: Infinity, end: true }, 3, 6, 1)[0].value as string));
  assert.equal(end.wm, Infinity);
});

const avail = kafkaAvailable();
describe('run --transport kafka://', { skip: avail.ok ? false : avail.reason }, () => {
  let kafka: KafkaBroker;
  let parts: string[];
  before(async () => {
    kafka = await startKafka({ port: 19192 });
    parts = splitCapture(DEMO, 3, (i) => i % 3);
  });
  after(async () => { await kafka?.stop(); });

  for (const app of ['tcp-new-conn', 'super-spreader', 'heavy-hitter']) {
    test(`${app}: identical results to the in-process transport`, async () => {
      const { def } = await loadTask(app);
      const go = async (transport?: string) => {
        const out: TaskResult[] = [];
        const stats = await runTask({
          task: def, params: { threshold: '5' }, window: 1, sources: parts.map((p) => `pcap:${p}`),
          transport: transport ? transportFor(transport) : undefined,
          onResult: (r) => { out.push(r); },
        });
        return { out, stats };
      };
      const mem = await go();
      const kaf = await go(`kafka://${kafka.bootstrap}`);
      assert.ok(mem.out.length > 10, `expected results, got ${mem.out.length}`);
      assert.equal(JSON.stringify(kaf.out), JSON.stringify(mem.out));
      assert.equal(kaf.stats.local_out, mem.stats.local_out);
      assert.equal(kaf.stats.global_out, mem.stats.global_out);
    });
  }
});
