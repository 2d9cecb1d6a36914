// Kafka sink against a real broker (test/support/kafka.ts, scripts/kafka.sh): int-collector
// events as JSON records, read back with the project's Kafka client.
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const support = fileURLToPath(new URL('../support/kafka.ts', import.meta.url));
const client = fileURLToPath(new URL('../../src/transport/kafka-client.ts', import.meta.url));
let skip: string | false = existsSync(support) && existsSync(client) ? false : 'Kafka client or broker support not in this tree';
const kafka = skip ? null : await import(support);
if (!skip) { const a = kafka.kafkaAvailable(); if (!a.ok) skip = a.reason; }

describe('Kafka sink', { skip }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'intstream-kafka-sink-'));
  let broker: { bootstrap: string; stop(): Promise<void> } | undefined;
  after(async () => { await broker?.stop(); rmSync(dir, { recursive: true, force: true }); });

  it('int-collector events arrive as JSON records keyed by their key', async () => {
    const { encodeReport, encodeReportFrame, pcapFile } = await import('../../src/gen/int-gen.ts');
    const { flowPerPathSeries } = await import('../../src/int/gen-series.ts');
    const { runTask } = await import('../../src/run-task.ts');
    const { default: intCollector } = await import('../../src/apps/int-collector.ts');
    const { openSinkSpec } = await import('../../src/sinks/sink-spec.ts');
    const { createConsumer } = await import(client);
    broker = await kafka.startKafka({ port: 19392 });
    const next = flowPerPathSeries({ version: '2.0', hops: 3, seed: 9, paths: 2 });
    const file = join(dir, 'r.pcap');
    writeFileSync(file, pcapFile([0, 1, 2, 3].map((k) => encodeReportFrame(encodeReport(next(k)).bytes))));
    const sink = await openSinkSpec(`kafka://${broker!.bootstrap}/int-events`);
    const sent: unknown[] = [];
    await runTask({ task: intCollector, params: { int_port: '32766' }, sources: [`pcap:${file}`], onResult: (r) => { sent.push(r); return sink.write(r); } });
    await sink.close();
    assert.ok(sent.length > 0);
    const consumer = await createConsumer({ bootstrap: broker!.bootstrap, groupId: 'int-sink-test', topics: ['int-events'], fromBeginning: true });
    const got: any[] = [];
    try {
      for await (const batch of consumer) {
        for (const r of batch.records) got.push({ key: JSON.parse(r.key!.toString()), value: JSON.parse(r.value.toString()) });
        if (got.length >= sent.length) break;
      }
    } finally { await consumer.close(); }
    assert.deepEqual(got.map((g) => g.value), sent);
    assert.deepEqual(got.map((g) => g.key), sent.map((s: any) => s.key));
  });
});
