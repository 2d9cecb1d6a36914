/**
 * Local results through Apache Kafka: the record format (version 1) between local stages and the
 * GSP, the producer side every local stage uses, and `--transport kafka://HOST:PORT` for `run`.
 *
 * Record format, version 1 (contract; bump `v` on any incompatible change):
 *
 *   topic      intstream.<task-id>.partials, P partitions (P = 1 when the global stage is not
 *              partitionable by key, see globalPartitionable)
 *   partition  explicit. A local stage's message (one flush: elements + watermark) becomes one
 *              record per partition, every partition getting one even when it has no elements:
 *              that record is the window seal ("this source sends nothing earlier than wm").
 *              Element i goes to partition murmur2(JSON(key_i)) & 0x7fffffff mod P (the Java
 *              client's partitioner), so every partial result of one global key meets in one
 *              partition, hence in one GSP worker.
 *   key        the source index as decimal text (informational)
 *   value      UTF-8 JSON object:
 *     v      1
 *     src    index of the local stage (0..n-1)
 *     n      number of local stages of the task (the GSP waits for all n seals)
 *     seq    the message's number from this source, 0, 1, 2 ... (same in all its P records);
 *            the GSP drops a (src, seq) it has seen on that partition: a producer retry after a
 *            broker outage cannot double a partial. A local stage resumed mid-file by a
 *            restarted agent numbers from incarnation * 2^32 (control/resume-point.ts)
 *     resumed  (optional) true on every message of such a resumed local stage: it makes again
 *            windows the GSP may have; the GSP drops its elements earlier than that source's
 *            watermark on the partition (dropResent). Absent otherwise.
 *     wm     watermark, seconds since the epoch, or "inf" / "-inf"
 *     end    true on the source's last message (wm "inf")
 *     items  elements (JSON-safe: partial aggregates in their `encode` form)
 *     times  event time of each element, seconds
 *     keys   key of each element
 *     pos    index of each element in the original message (to rebuild it exactly)
 *
 * Results go to intstream.<task-id>.results as {"v":1,"task","window","key","value"} (the JSONL
 * contract plus v), keyed by JSON([window.start, window.end, key]): a replayed result lands on
 * the partition of its first copy, after it; readers keep the first copy of each key.
 */
import { randomUUID } from 'node:crypto';
import type { OpSpec } from '../query/stream.ts';
import { IntstreamError } from '../errors.ts';
import {
  createConsumer,
  createProducer,
  createTopic,
  deleteTopic,
  partitionForKey,
  type KafkaProducer,
  type OutRecord,
} from './kafka-client.ts';
import type { StageMessage, Transport } from './transport.ts';

export const RECORD_VERSION = 1;

export interface PartRecord {
  v: number;
  src: number;
  n: number;
  seq: number;
  wm: number;
  end: boolean;
  items: unknown[];
  times: number[];
  keys: unknown[];
  pos: number[];
  /** A resumed local stage's message (see `resumed` above). */
  resumed?: boolean;
}

export const partialsTopic = (taskId: string) => `intstream.${taskId}.partials`;
export const resultsTopic = (taskId: string) => `intstream.${taskId}.results`;

/** Task ids become topic names: letters, digits, '.', '_' and '-' only. */
export function checkTaskId(id: string): string {
  if (!/^[A-Za-z0-9._-]{1,200}$/.test(id)) throw new IntstreamError('USAGE', `task id '${id}': use letters, digits, '.', '_' and '-'`);
  return id;
}

/**
 * Whether the global stage can run on key partitions independently: it starts with merge()
 * (combining partials of the same window and key) and holds no state across keys after it
 * (only filter, map, flatMap). Otherwise the task's topic gets one partition.
 */
export function globalPartitionable(global: OpSpec[]): boolean {
  return global.length > 0 && global[0].kind === 'merge'
    && global.slice(1).every((o) => o.kind === 'filter' || o.kind === 'map' || o.kind === 'flatMap');
}

const encodeWm = (w: number): number | string => (w === Infinity ? 'inf' : w === -Infinity ? '-inf' : w);
const decodeWm = (w: unknown): number => (w === 'inf' ? Infinity : w === '-inf' ? -Infinity : Number(w));

/** One record per partition for one local-stage message (`resumed`: of a local stage resumed mid-file). */
export function encodeMessage(msg: StageMessage, n: number, seq: number, partitions: number, resumed = false): OutRecord[] {
  const parts = Array.from({ length: partitions }, () => ({ items: [] as unknown[], times: [] as number[], keys: [] as unknown[], pos: [] as number[] }));
  for (let i = 0; i < msg.items.length; i++) {
    const k = msg.keys[i];
    const p = partitions === 1 ? 0 : partitionForKey(JSON.stringify(k ?? null), partitions);
    const part = parts[p];
    part.items.push(msg.items[i]); part.times.push(msg.times[i]); part.keys.push(k ?? null); part.pos.push(i);
  }
  const wm = encodeWm(msg.watermark);
  return parts.map((part, p) => ({
    key: String(msg.source),
    partition: p,
    value: JSON.stringify({ v: RECORD_VERSION, src: msg.source, n, seq, wm, end: msg.end, ...(resumed ? { resumed: true } : {}), ...part }),
  }));
}

/**
 * A partials record, checked: a record that is not one (cut short, not JSON, another version,
 * columns of different lengths) throws a TRANSPORT error saying what is wrong; the reader
 * counts it and skips it.
 */
export function decodeRecord(value: Buffer): PartRecord {
  let r: any;
  try { r = JSON.parse(value.toString('utf8')); } catch (e) {
    throw new IntstreamError('TRANSPORT', `partials record is not JSON (${(e as Error).message})`);
  }
  if (r === null || typeof r !== 'object') throw new IntstreamError('TRANSPORT', 'partials record is not an object');
  if (r.v !== RECORD_VERSION) throw new IntstreamError('TRANSPORT', `partials record version ${r.v}: this intstream reads version ${RECORD_VERSION}`);
  if (!Number.isInteger(r.src) || r.src < 0 || !Number.isInteger(r.seq) || typeof r.end !== 'boolean') throw new IntstreamError('TRANSPORT', 'partials record lacks src, seq or end');
  if (r.resumed !== undefined && typeof r.resumed !== 'boolean') throw new IntstreamError('TRANSPORT', 'partials record: resumed is not true or false');
  if (!Array.isArray(r.items) || !Array.isArray(r.times) || !Array.isArray(r.keys) || r.times.length !== r.items.length || r.keys.length !== r.items.length) {
    throw new IntstreamError('TRANSPORT', 'partials record columns (items, times, keys) missing or of different lengths');
  }
  r.wm = decodeWm(r.wm);
  if (Number.isNaN(r.wm)) throw new IntstreamError('TRANSPORT', 'partials record watermark is not a number');
  return r as PartRecord;
}

/**
 * A resumed local stage's record on a partition where its source's watermark is `wm`: drops the
 * elements earlier than `wm` (the partition had them from the run before the restart: a window
 * reaches a partition with the first message sealing past its start) and returns how many.
 */
export function dropResent(r: PartRecord, wm: number): number {
  const times = r.times;
  let k = 0;
  for (let i = 0; i < times.length; i++) {
    if (times[i] < wm) continue;
    r.items[k] = r.items[i]; r.times[k] = times[i]; r.keys[k] = r.keys[i];
    if (Array.isArray(r.pos)) r.pos[k] = r.pos[i];
    k++;
  }
  const dropped = times.length - k;
  r.items.length = k; r.times.length = k; r.keys.length = k;
  if (Array.isArray(r.pos)) r.pos.length = Math.min(r.pos.length, k);
  return dropped;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/**
 * The producing side of one task: sends each local-stage message as its P records, awaiting the
 * broker's acks (all in-sync replicas). While the broker is away it retries every `retryMs`, so
 * the awaiting local stage, and through it the source, pauses (backpressure) instead of
 * buffering: at most one message per local stage is held. `outages` counts failed attempts.
 */
export class KafkaStageSender {
  readonly topic: string;
  private readonly producer: KafkaProducer;
  private readonly partitions: number;
  private readonly n: number;
  private readonly seqs = new Map<number, number>();
  private closed = false;
  retries = 0;
  lastError: string | null = null;

  private readonly retryMs: number;
  /** The first sequence number, and whether messages are marked `resumed` (a local stage resumed mid-file). */
  private readonly seqBase: number;
  private readonly resumed: boolean;

  constructor(bootstrap: string, taskId: string, n: number, partitions: number, retryMs = 500, opts: { seqBase?: number; resumed?: boolean } = {}) {
    this.retryMs = retryMs;
    this.seqBase = opts.seqBase ?? 0;
    this.resumed = opts.resumed === true;
    this.topic = partialsTopic(taskId);
    this.producer = createProducer({ bootstrap, clientId: `intstream-lsp-${taskId}` });
    this.partitions = partitions;
    this.n = n;
  }

  async send(msg: StageMessage): Promise<void> {
    const seq = this.seqs.get(msg.source) ?? this.seqBase;
    this.seqs.set(msg.source, seq + 1);
    const records = encodeMessage(msg, this.n, seq, this.partitions, this.resumed);
    for (;;) {
      try {
        await this.producer.send(this.topic, records);
        return;
      } catch (e) {
        if (this.closed) throw e;
        this.retries++;
        this.lastError = (e as Error).message;
        await sleep(this.retryMs);
      }
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.producer.close().catch(() => undefined);
  }
}

/** Default partitions of a task's topic when its global stage is partitionable. */
export const DEFAULT_PARTITIONS = 4;

/**
 * `run --transport kafka://HOST:PORT`: local stages produce to a fresh topic, and this process
 * consumes it back (its own group, from the beginning) and rebuilds every message exactly (all P
 * parts, elements in their original order), so the global stage sees what the in-process
 * transport would have given it and the results are identical. The topic is deleted at close.
 */
export class KafkaRunTransport implements Transport {
  private readonly bootstrap: string;
  private readonly taskId: string;
  private readonly sources: number;
  private sender: KafkaStageSender | null = null;
  private closeConsumer: (() => Promise<void>) | null = null;
  private stopped = false;
  readonly partitions = DEFAULT_PARTITIONS;

  constructor(bootstrap: string, taskName: string, sources: number) {
    this.bootstrap = bootstrap;
    this.taskId = `run-${taskName.replace(/[^A-Za-z0-9._-]/g, '_')}-${randomUUID().slice(0, 8)}`;
    this.sources = sources;
  }

  async open(): Promise<void> {
    await createTopic(this.bootstrap, partialsTopic(this.taskId), this.partitions);
    this.sender = new KafkaStageSender(this.bootstrap, this.taskId, this.sources, this.partitions);
  }

  send(msg: StageMessage): Promise<void> {
    return this.sender!.send(msg);
  }

  async *receive(): AsyncIterable<StageMessage> {
    const consumer = await createConsumer({
      bootstrap: this.bootstrap,
      groupId: `intstream-${this.taskId}`,
      topics: [partialsTopic(this.taskId)],
      fromBeginning: true,
      maxWaitMs: 50,
    });
    this.closeConsumer = () => consumer.close();
    const P = this.partitions;
    // per source: seq -> parts received; next seq to hand out
    const waiting = Array.from({ length: this.sources }, () => new Map<number, (PartRecord & { partition: number })[]>());
    const next = new Array(this.sources).fill(0);
    let open = this.sources;
    try {
      for await (const batch of consumer) {
        for (const rec of batch.records) {
          const r = decodeRecord(rec.value);
          const w = waiting[r.src];
          if (r.seq < next[r.src]) continue; // a producer retry's duplicate
          let parts = w.get(r.seq);
          if (!parts) { parts = []; w.set(r.seq, parts); }
          if (parts.some((x) => x.partition === rec.partition)) continue;
          parts.push(Object.assign(r, { partition: rec.partition }));
          while (w.get(next[r.src])?.length === P) {
            const all = w.get(next[r.src])!;
            w.delete(next[r.src]);
            next[r.src]++;
            const msg = rebuild(all);
            if (msg.end) open--;
            yield msg;
          }
        }
        if (open === 0 || this.stopped) return;
      }
    } finally {
      this.closeConsumer = null;
      await consumer.close().catch(() => undefined);
    }
  }

  async close(): Promise<void> {
    this.stopped = true;
    await this.sender?.close();
    await this.closeConsumer?.();
    await deleteTopic(this.bootstrap, partialsTopic(this.taskId)).catch(() => undefined);
  }
}

/** The local stage's message from its P records. */
export function rebuild(parts: PartRecord[]): StageMessage {
  const total = parts.reduce((a, p) => a + p.items.length, 0);
  const items = new Array(total), times = new Array(total), keys = new Array(total);
  for (const p of parts) {
    for (let i = 0; i < p.items.length; i++) { items[p.pos[i]] = p.items[i]; times[p.pos[i]] = p.times[i]; keys[p.pos[i]] = p.keys[i]; }
  }
  const r = parts[0];
  return { source: r.src, items, times, keys, watermark: r.wm, end: r.end };
}

/** The kafka:// transport (registered by transport-spec.ts, which loads this module on use). */
export async function openKafkaRunTransport(rest: string, taskName: string, sources: number): Promise<Transport> {
  const t = new KafkaRunTransport(rest, taskName, sources);
  await t.open();
  return t;
}
