/**
 * The changelog of a task's durable global state: the compacted Kafka topic
 * `intstream.<task>.state`, one partition, a record per checkpoint keyed by the partials
 * partition it belongs to (compaction keeps the latest per partition). A GSP worker writes a
 * partition's snapshot (acks=all) before it commits the offsets the snapshot covers, and a
 * worker assigned the partition reads the topic to its end and restores the snapshot before it
 * merges replayed records (gsp-worker.ts; what a snapshot holds: global-processor.ts).
 *
 * Record value: one line of JSON `{"v":1,"task":ID,"partition":P,"offset":"C"}` (the snapshot
 * covers the partials records before offset C), a newline, then GlobalProcessor.exportState's
 * bytes. At most MAX_SNAPSHOT_BYTES per record (the topic's max.message.bytes is set above it);
 * a bigger state is not checkpointed (the worker counts and logs it, and commits anyway: a
 * takeover then starts that partition's state empty, as without checkpoints).
 *
 * Reading to the end takes the topic's end offset (admin ListOffsets through kafka-client.ts's
 * withAdmin, connected as every client) and a consumer of a throw-away group from the beginning,
 * one group join per (re)assignment of a worker with state to restore. The uncompacted tail is
 * bounded by segment.bytes / segment.ms: compaction only cleans closed segments.
 */
import { randomUUID } from 'node:crypto';
import { IntstreamError } from '../errors.ts';
import { createConsumer, createTopic, withAdmin, type KafkaProducer } from '../transport/kafka-client.ts';

/** The changelog topic of a task's durable global state. */
export const stateTopic = (taskId: string) => `intstream.${taskId}.state`;

/** The largest snapshot written (bytes, header included). */
export const MAX_SNAPSHOT_BYTES = 4 << 20;

const SNAPSHOT_VERSION = 1;

/** The topic's configuration: compacted, records up to the snapshot bound, segments rolled often enough to be compacted. */
const TOPIC_CONFIGS: Record<string, string> = {
  'cleanup.policy': 'compact',
  'max.message.bytes': String(MAX_SNAPSHOT_BYTES + (64 << 10)),
  'segment.bytes': String(16 << 20),
  'segment.ms': String(10 * 60_000),
  'min.cleanable.dirty.ratio': '0.1',
};

export interface Snapshot {
  task: string;
  partition: number;
  /** The snapshot covers the partials records before this offset. */
  offset: bigint;
  /** GlobalProcessor.exportState's bytes. */
  state: Buffer;
}

/** Creates the task's changelog topic unless it exists. */
export async function ensureStateTopic(bootstrap: string, taskId: string): Promise<void> {
  await createTopic(bootstrap, stateTopic(taskId), 1, 1, TOPIC_CONFIGS);
}

/** A snapshot as a changelog record value. */
export function encodeSnapshot(s: Snapshot): Buffer {
  const head = JSON.stringify({ v: SNAPSHOT_VERSION, task: s.task, partition: s.partition, offset: s.offset.toString() });
  return Buffer.concat([Buffer.from(`${head}\n`, 'utf8'), s.state]);
}

/** A changelog record value as a snapshot; a TRANSPORT error saying why when it is not one. */
export function decodeSnapshot(value: Buffer): Snapshot {
  const nl = value.indexOf(10);
  let h: any;
  try { h = JSON.parse(value.subarray(0, nl < 0 ? value.length : nl).toString('utf8')); } catch { h = null; }
  if (nl < 0 || h === null || typeof h !== 'object') throw new IntstreamError('TRANSPORT', 'state changelog record: no snapshot header');
  if (h.v !== SNAPSHOT_VERSION) throw new IntstreamError('TRANSPORT', `state changelog record version ${h.v}: this intstream reads version ${SNAPSHOT_VERSION}`);
  if (typeof h.task !== 'string' || !Number.isInteger(h.partition) || typeof h.offset !== 'string' || !/^\d+$/.test(h.offset)) {
    throw new IntstreamError('TRANSPORT', 'state changelog record: header lacks task, partition or offset');
  }
  return { task: h.task, partition: h.partition, offset: BigInt(h.offset), state: value.subarray(nl + 1) };
}

/** Writes one snapshot (resolves once all in-sync replicas have it); returns its size in bytes. */
export async function writeSnapshot(producer: KafkaProducer, s: Snapshot): Promise<number> {
  const value = encodeSnapshot(s);
  await producer.send(stateTopic(s.task), [{ key: String(s.partition), value, partition: 0 }]);
  return value.length;
}

/**
 * The latest snapshot of each of `partitions` in the task's changelog, read to the end offset it
 * has when this is called (of several, the one covering the highest offset: any one at or past
 * where the group resumes fits, see global-processor.ts). Records that are not snapshots of this
 * task are passed to `skipped` and left out.
 */
export async function readSnapshots(
  bootstrap: string, taskId: string, partitions: ReadonlySet<number>, clientId: string,
  skipped: (why: string) => void = () => undefined,
): Promise<Map<number, Snapshot>> {
  const out = new Map<number, Snapshot>();
  if (partitions.size === 0) return out;
  const topic = stateTopic(taskId);
  const [lo, hi] = await withAdmin({ bootstrap, clientId }, `end offset of topic '${topic}'`, async (admin) => {
    const at = async (ts: bigint) => (await admin.listOffsets({ topics: [{ name: topic, partitions: [{ partitionIndex: 0, timestamp: ts }] }] }))[0]?.partitions[0]?.offset ?? 0n;
    return [await at(-2n), await at(-1n)]; // EARLIEST, LATEST (the end to read to)
  });
  if (hi <= lo) return out;
  const consumer = await createConsumer({
    bootstrap, clientId, topics: [topic], fromBeginning: true, maxWaitMs: 100,
    groupId: `intstream-gsp-restore.${taskId}.${randomUUID().slice(0, 8)}`,
    maxBytesPerPartition: MAX_SNAPSHOT_BYTES * 2, sessionTimeoutMs: 6000, heartbeatIntervalMs: 500,
  });
  try {
    for await (const batch of consumer) {
      for (const rec of batch.records) {
        if (rec.partition === 0 && rec.offset < hi) {
          try {
            const s = decodeSnapshot(rec.value);
            if (s.task !== taskId) throw new IntstreamError('TRANSPORT', `a snapshot of task ${s.task}`);
            const prev = out.get(s.partition);
            if (partitions.has(s.partition) && (!prev || s.offset >= prev.offset)) out.set(s.partition, s);
          } catch (e) {
            skipped(`${topic} offset ${rec.offset}: ${(e as Error).message}`);
          }
        }
        if (rec.partition === 0 && rec.offset >= hi - 1n) return out;
      }
    }
  } finally {
    await consumer.close().catch(() => undefined);
  }
  throw new IntstreamError('TRANSPORT', `topic '${topic}': the consumer ended before offset ${hi - 1n}`);
}
