/**
 * `intstream export`: every packet of a source that passes an optional declarative filter
 * becomes one per-packet record (sources/packet-record-schema.ts); records travel to a Kafka topic as Apache
 * Arrow IPC streams of up to `batch` records each (docs/per-packet-records.md).
 *
 * The packet path is a local stage like a task's (local/local-stage.ts): the filter is the
 * leading filter of a one-operator plan, so splitPlan pushes it down exactly as it does for a
 * task (compiled predicate, raw pre-filter in the capture reader, kernel BPF on live capture),
 * INT decoding follows the int_* parameters, and the counters are the local stage's. The one
 * operator after the pushed-down filter copies each packet into the columnar builder; every
 * `batch` records it encodes one Arrow stream (synchronously) and queues it. After each source
 * batch the stage's `send` hands the queue to the producer: one produce request in flight per
 * source, awaited (acks from all in-sync replicas) before the next one starts, so reading goes
 * on while the previous request waits for the broker, and a slow broker pauses the source.
 * A partial batch goes out once it has waited `lingerMs` (default 1 s): on a quiet live link
 * records still reach the topic within about a second (live sources send a heartbeat batch
 * every 250 ms, which runs the pump).
 */
import { IntstreamError } from '../errors.ts';
import { refuseProbes } from '../probe/refuse-probes.ts';
import { INT_DECODE_PARAMS } from '../int/decode-params.ts';
import type { LocalProcessor, LocalStats } from '../local/local-processor.ts';
import { openLocalStage } from '../local/local-stage.ts';
import { splitPlan, type SplitPlan } from '../query/pipeline.ts';
import { buildPlan, defineTask, resolveParams } from '../query/task.ts';
import { createProducer, createTopic, type KafkaProducer } from '../transport/kafka-client.ts';
import { DEFAULT_MAX_BYTES, PacketRecordBuilder } from './record-builder.ts';

export const DEFAULT_BATCH = 8192;
/** Most records per Arrow batch: 65,536 records stay below 8 MiB. */
export const MAX_BATCH = 65536;

export interface KafkaTarget { bootstrap: string; topic: string }

/** `kafka://HOST:PORT/TOPIC` (several brokers: `kafka://H1:P1,H2:P2/TOPIC`). */
export function parseKafkaTarget(spec: string, what = '--to'): KafkaTarget {
  const m = /^kafka:\/\/([^/?]+)\/([A-Za-z0-9._-]+)$/.exec(spec);
  if (!m || !m[1].split(',').every((h) => /^(\[[0-9a-fA-F:.]+\]|[^:,]+):\d+$/.test(h))) {
    throw new IntstreamError('USAGE', `${what} ${spec}: expected kafka://HOST:PORT/TOPIC`, 'e.g. kafka://127.0.0.1:9092/packets (topic names: letters, digits, . _ -)');
  }
  return { bootstrap: m[1], topic: m[2] };
}

export interface ExportProgress {
  packets: number;
  exported: number;
  records: number;
  bytes: number;
  elapsedMs: number;
  /** Bytes read of the sources and their total when known. */
  read: number;
  total: number | undefined;
}

export interface ExportOptions {
  /** --source specs; source i gets source_id = sourceId + i. */
  sources: string[];
  /** kafka://HOST:PORT/TOPIC */
  to: string;
  /** Declarative filter (the task filter language); packets it rejects are not exported. */
  filter?: string;
  /** Records per Arrow batch (one Kafka record). Default 8192. */
  batch?: number;
  /** Most bytes per Kafka record: a batch is sent before its encoding could pass this. Default 900,000. */
  maxBytes?: number;
  /** source_id of the first source. Default 0. */
  sourceId?: number;
  /** int_port, int_dscp, int_md_port, int_lenient (INT decoding of capture sources). */
  params?: Record<string, string>;
  compression?: 'none' | 'gzip' | 'snappy' | 'lz4' | 'zstd';
  /** Partitions when the topic is created. Default 1. */
  partitions?: number;
  /** Longest wait (ms) of a partial batch before it is sent (live sources). Default 1000. */
  lingerMs?: number;
  /** Called about every 200 ms. */
  onProgress?: (p: ExportProgress) => void;
}

export interface ExportStats {
  to: string;
  topic: string;
  filter: string | null;
  /** Per source: the local stage's counters (items_read, after_filter = exported, ...). */
  sources: (LocalStats & { source_id: number; records: number; bytes: number })[];
  packets_read: number;
  exported: number;
  malformed: Record<string, number>;
  skipped: Record<string, number>;
  /** Kafka records written (Arrow streams) and their value bytes. */
  records: number;
  bytes: number;
  bytes_per_packet: number;
  elapsed_s: number;
  packets_per_s: number;
  warnings: string[];
  failures: string[];
}

/** The export "task": nothing but the filter, so that splitPlan pushes it down as for any task. */
function exportPlan(filter: string | undefined, params: Record<string, string>): { split: SplitPlan; resolved: Record<string, unknown> } {
  const def = defineTask({
    name: 'export',
    description: 'per-packet records to Kafka',
    params: INT_DECODE_PARAMS,
    query: (packets) => (filter !== undefined && filter.trim() !== '' ? packets.filter(filter) : packets),
  });
  const resolved = resolveParams(def, params);
  const split = splitPlan(buildPlan(def, resolved, { window: 10 }));
  if (split.local.length > 0 || split.global.length > 0) throw new IntstreamError('INTERNAL', 'export: the filter was not pushed down whole');
  return { split, resolved };
}

/**
 * One source's queue of encoded batches and its produce request in flight. The buffers the
 * batches are encoded into are reused once their request is acknowledged (the Kafka client has
 * copied them into its request by then), so that a long export does not allocate (and fault in)
 * fresh memory for every batch.
 */
class Outbox {
  readonly key: string;
  readonly builder: PacketRecordBuilder;
  private queue: Buffer[] = [];
  private inFlight: Promise<void> | null = null;
  private failure: unknown = null;
  private readonly free: Buffer[] = [];
  /** Wall time (ms) a pump first saw unsent rows in the builder; 0 while it is empty. */
  private heldSince = 0;
  private readonly lingerMs: number;
  records = 0;
  bytes = 0;
  private readonly producer: KafkaProducer;
  private readonly topic: string;

  constructor(producer: KafkaProducer, topic: string, builder: PacketRecordBuilder, lingerMs: number) {
    this.producer = producer; this.topic = topic; this.builder = builder; this.lingerMs = lingerMs;
    this.key = String(builder.sourceId);
  }

  private encode(): void {
    const into = this.free.pop();
    this.queue.push(this.builder.encode(into));
    this.heldSince = 0;
  }

  /** The local stage's operator: copies the item into the builder (never passes it on). */
  readonly capture = (x: any): boolean => {
    const b = this.builder;
    b.add(x);
    if (b.full) this.encode();
    return false;
  };

  /**
   * After each source batch (and a live source's idle heartbeats): sends a partial batch that
   * has waited `lingerMs`, waits for the request in flight, then sends what is queued.
   */
  async pump(end: boolean): Promise<void> {
    if (this.builder.count > 0) {
      const now = Date.now();
      if (end || (this.heldSince !== 0 && now - this.heldSince >= this.lingerMs)) this.encode();
      else if (this.heldSince === 0) this.heldSince = now;
    }
    if (this.queue.length > 0) {
      if (this.inFlight) await this.inFlight;
      if (this.failure) throw this.failure;
      const values = this.queue;
      this.queue = [];
      const recs = values.map((value) => ({ key: this.key, value }));
      let n = 0;
      for (const v of values) n += v.byteLength;
      this.inFlight = this.producer.send(this.topic, recs).then(
        () => {
          this.records += recs.length; this.bytes += n; this.inFlight = null;
          // the whole buffers behind the views, for the next batches (a few at most)
          for (const v of values) if (this.free.length < 4) this.free.push(Buffer.from(v.buffer, v.byteOffset, v.buffer.byteLength - v.byteOffset));
        },
        (e) => { this.failure = tooLargeHint(e); this.inFlight = null; },
      );
    }
    if (end && this.inFlight) await this.inFlight;
    if (this.failure) throw this.failure;
  }
}

function tooLargeHint(e: unknown): unknown {
  if (e instanceof IntstreamError && /too large|larger than the max message size|MESSAGE_TOO_LARGE|RecordTooLarge/i.test(e.message)) {
    return new IntstreamError(e.code, e.message, 'give a smaller --max-bytes (or --batch), or raise the topic\'s max.message.bytes');
  }
  return e;
}

export async function runExport(o: ExportOptions): Promise<ExportStats> {
  const started = performance.now();
  if (o.sources.length === 0) throw new IntstreamError('USAGE', 'no --source given', 'e.g. --source pcap:capture.pcap');
  const target = parseKafkaTarget(o.to);
  const batch = o.batch ?? DEFAULT_BATCH;
  if (!Number.isInteger(batch) || batch < 1 || batch > MAX_BATCH) throw new IntstreamError('USAGE', `--batch ${o.batch}: expected a whole number from 1 to ${MAX_BATCH}`);
  const maxBytes = o.maxBytes ?? DEFAULT_MAX_BYTES;
  if (!(maxBytes >= 65536)) throw new IntstreamError('USAGE', `--max-bytes ${o.maxBytes}: at least 65536`);
  const sourceId = o.sourceId ?? 0;
  if (!Number.isInteger(sourceId) || sourceId < 0 || sourceId + o.sources.length - 1 > 65535) throw new IntstreamError('USAGE', `--source-id ${o.sourceId}: expected 0..65535 (one id per source)`);
  const { split, resolved } = exportPlan(o.filter, o.params ?? {});

  await createTopic(target.bootstrap, target.topic, o.partitions ?? 1);
  const producer = createProducer({ bootstrap: target.bootstrap, clientId: 'intstream-export', compression: o.compression ?? 'none' });
  const sendProbe = refuseProbes('export does not probe');
  const locals: LocalProcessor[] = [];
  const boxes: Outbox[] = [];
  try {
    for (const spec of o.sources) {
      const box = new Outbox(producer, target.topic, new PacketRecordBuilder(batch, sourceId + locals.length, spec, maxBytes), o.lingerMs ?? 1000);
      const own: SplitPlan = { ...split, local: [{ kind: 'filter', fn: box.capture }] };
      locals.push(await openLocalStage(spec, {
        index: locals.length, split: own, params: resolved, lateness: 0, sendProbe,
        send: (m) => box.pump(m.end),
      }));
      boxes.push(box);
    }
  } catch (e) {
    for (const l of locals) await l.source.close().catch(() => undefined);
    await producer.close().catch(() => undefined);
    throw e;
  }

  let timer: NodeJS.Timeout | undefined;
  if (o.onProgress) {
    timer = setInterval(() => {
      let read = 0, total: number | undefined = 0;
      for (const l of locals) {
        const p = l.source.status();
        read += p.bytes;
        total = total === undefined || p.total === undefined ? undefined : total + p.total;
      }
      o.onProgress!({
        packets: locals.reduce((a, l) => a + l.read, 0), exported: locals.reduce((a, l) => a + l.passed, 0),
        records: boxes.reduce((a, b) => a + b.records, 0), bytes: boxes.reduce((a, b) => a + b.bytes, 0),
        elapsedMs: performance.now() - started, read, total,
      });
    }, 200);
    timer.unref();
  }
  try {
    await Promise.all(locals.map((l) => l.run()));
  } finally {
    if (timer) clearInterval(timer);
    for (const l of locals) await l.source.close().catch(() => undefined);
    await producer.close().catch(() => undefined);
  }

  const elapsed = (performance.now() - started) / 1000;
  const stats = locals.map((l, i) => ({ ...l.stats(), source_id: sourceId + i, records: boxes[i].records, bytes: boxes[i].bytes }));
  const sum = (f: (s: (typeof stats)[number]) => number) => stats.reduce((a, s) => a + f(s), 0);
  const merge = (f: (s: LocalStats) => Record<string, number>) => {
    const m = new Map<string, number>();
    for (const s of stats) for (const [k, v] of Object.entries(f(s))) m.set(k, (m.get(k) ?? 0) + v);
    return Object.fromEntries([...m].sort());
  };
  const read = sum((s) => s.items_read), exported = sum((s) => s.after_filter), bytes = sum((s) => s.bytes);
  const sources = locals.map((l) => l.source);
  return {
    to: o.to,
    topic: target.topic,
    filter: split.pushdown?.text ?? null,
    sources: stats,
    packets_read: read,
    exported,
    malformed: merge((s) => s.malformed),
    skipped: merge((s) => s.skipped),
    records: sum((s) => s.records),
    bytes,
    bytes_per_packet: exported > 0 ? +(bytes / exported).toFixed(2) : 0,
    elapsed_s: +elapsed.toFixed(3),
    packets_per_s: elapsed > 0 ? Math.round(read / elapsed) : 0,
    warnings: sources.flatMap((s) => s.warnings),
    failures: sources.flatMap((s) => { const f = s.status().failure; return f ? [`${s.name}: ${f}`] : []; }),
  };
}
