/**
 * `--sink kafka://HOST:PORT/TOPIC`: every result as one JSON record (the JSONL contract object)
 * to TOPIC, keyed by the JSON of its key (so one key's results stay in one partition, in
 * order), through src/transport/kafka-client.ts. Records are sent in batches of up to `batch`
 * (default 1000) or after 200 ms; one send in flight, so write() applies backpressure. The topic
 * is created (1 partition) if it does not exist.
 */
import { createProducer, createTopic, type KafkaProducer, type OutRecord } from '../transport/kafka-client.ts';
import type { Sink, TaskResult } from './sink.ts';

export class KafkaSink implements Sink {
  private readonly bootstrap: string;
  private readonly topic: string;
  private readonly batch: number;
  private producer: KafkaProducer | null = null;
  private pending: OutRecord[] = [];
  private inFlight: Promise<void> | null = null;
  private timer: NodeJS.Timeout | null = null;
  private failure: unknown = null;
  sent = 0;

  constructor(bootstrap: string, topic: string, batch = 1000) {
    this.bootstrap = bootstrap; this.topic = topic; this.batch = batch;
  }

  async open(): Promise<void> {
    await createTopic(this.bootstrap, this.topic, 1);
    this.producer = createProducer({ bootstrap: this.bootstrap, clientId: 'intstream-sink' });
  }

  write(r: TaskResult): void | Promise<void> {
    if (this.failure) throw this.failure;
    this.pending.push({ key: JSON.stringify(r.key ?? null), value: JSON.stringify(r) });
    if (this.pending.length >= this.batch) return this.flush();
    if (this.timer === null) {
      this.timer = setTimeout(() => { this.timer = null; this.flush().catch((e) => { this.failure = e; }); }, 200);
      this.timer.unref();
    }
  }

  async flush(): Promise<void> {
    if (this.inFlight) await this.inFlight;
    if (this.failure) throw this.failure;
    if (this.pending.length === 0 || !this.producer) return;
    const recs = this.pending;
    this.pending = [];
    this.inFlight = this.producer.send(this.topic, recs).then((r) => { this.sent += r.count; }).finally(() => { this.inFlight = null; });
    await this.inFlight;
  }

  async close(): Promise<void> {
    if (this.timer) { clearTimeout(this.timer); this.timer = null; }
    try { await this.flush(); } finally { await this.producer?.close(); this.producer = null; }
  }
}
