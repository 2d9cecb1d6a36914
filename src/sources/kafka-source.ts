/**
 * `kafka://HOST:PORT/TOPIC[?group=G&from=earliest|latest|OFFSET|TIME&idle=S&lateness=S]`: reads
 * the per-packet records `intstream export` writes (docs/per-packet-records.md: Apache Arrow IPC
 * batches, one per Kafka record) and yields them as record items that answer the packet field
 * names the export kept (src/sources/packet-record-reader.ts), so every task runs on them unchanged.
 * Windows follow the records' own timestamps.
 *
 * Options:
 *   - `group=G`: the consumer group. Without it a group of its own is made for this run
 *     (intstream-read-...) and nothing is committed; with it, progress is committed (every
 *     second and at the end, for the records the local stage has taken), so a later run with
 *     the same group and no `from` goes on where this one stopped.
 *   - `from=`: where to start, on every partition. `earliest` (the default without a group),
 *     `latest` (only records written from now on), a Kafka offset (a whole number, clamped to
 *     what the partition still holds), or a time: ISO 8601 (`2024-05-01T12:00:00Z`) or
 *     `@SECONDS` since the epoch. A time starts each partition at the first Kafka record
 *     written at or after it, and leaves out the packets of earlier time in the records read
 *     (a record is written after its packets were captured, so none of the packets left out
 *     by the seek are at or after the time). With a group, `from` resets the group's
 *     committed offsets first (refused while other members of the group run).
 *   - `idle=S`: the input ends after S seconds without a Kafka record (default: run until
 *     SIGINT/SIGTERM).
 *   - `lateness=S`: event-time lateness this source asks for (default 0). Records of one
 *     exporter keep their order in one partition; give lateness when the topic has several
 *     partitions or several exporters whose times interleave.
 *
 * A Kafka record that is not per-packet records of schema version 1 is skipped and counted
 * (`record_corrupt`, `record_not_packets`, `record_version`), with a warning naming its
 * partition and offset. While the topic is silent the source's time stands still (as a live
 * capture in packet time): windows close when later records come, or at the end of input.
 *
 * Cost: no object per record row: one reused view per batch slot, moved to its row; the columns
 * are apache-arrow's typed views into the Kafka record's bytes, the addresses' texts are made
 * only for the rows whose address a task reads.
 *
 * The consumer is kafka-client.ts's; the start offsets are set with @platformatic/kafka's admin
 * requests (listOffsets, alterConsumerGroupOffsets) on an admin client from kafka-client.ts's
 * withAdmin (so it connects as every client: TLS, SASL of --kafka-config).
 */
import { IntstreamError } from '../errors.ts';
import { decodeRecordStream, PacketRecordView, RecordFormatError, type RecordColumns } from './packet-record-reader.ts';
import { SkipCounters } from '../decode/skip-counters.ts';
import { createConsumer, partitionsFor, withAdmin, wrapKafkaError, type Batch, type InRecord, type KafkaConsumer } from '../transport/kafka-client.ts';
import { PacketBatch } from './packet-batch.ts';
import type { PacketSource, SourceStatus, SourceTraits } from './source.ts';

export type KafkaFrom =
  | { kind: 'earliest' }
  | { kind: 'latest' }
  | { kind: 'offset'; offset: bigint }
  | { kind: 'time'; sec: number };

export interface KafkaSourceOptions {
  bootstrap: string;
  topic: string;
  group?: string;
  from?: KafkaFrom;
  idleSec?: number;
  lateness?: number;
}

const OPTIONS_HINT = 'options: group=NAME, from=earliest|latest|OFFSET|TIME (ISO 8601 or @SECONDS), idle=SECONDS, lateness=SECONDS';

/** A time for `from=`: ISO 8601, or @SECONDS since the epoch; seconds, or NaN. */
function parseTime(v: string): number {
  if (v.startsWith('@')) return v.length > 1 ? Number(v.slice(1)) : NaN;
  if (!/^\d{4}-\d{2}-\d{2}/.test(v)) return NaN;
  return Date.parse(v) / 1000;
}

export function parseKafkaSourceSpec(spec: string, rest: string): KafkaSourceOptions {
  const m = /^\/\/([^/?]+)\/([A-Za-z0-9._-]+)\/?(?:\?(.*))?$/.exec(rest);
  if (!m || !m[1].split(',').every((h) => /^(\[[0-9a-fA-F:.]+\]|[^:,]+):\d+$/.test(h))) {
    throw new IntstreamError('SOURCE_SPEC', `--source ${spec}: expected kafka://HOST:PORT/TOPIC`, `e.g. kafka://127.0.0.1:9092/packets?from=earliest&idle=5; ${OPTIONS_HINT}`);
  }
  const o: KafkaSourceOptions = { bootstrap: m[1], topic: m[2] };
  for (const kv of (m[3] ?? '').split('&').filter(Boolean)) {
    const eq = kv.indexOf('=');
    const k = eq > 0 ? kv.slice(0, eq) : kv, v = eq > 0 ? decodeURIComponent(kv.slice(eq + 1)) : '';
    const n = Number(v);
    if (k === 'group' && /^[A-Za-z0-9._-]+$/.test(v)) o.group = v;
    else if (k === 'idle' && v !== '' && n > 0) o.idleSec = n;
    else if (k === 'lateness' && v !== '' && n >= 0) o.lateness = n;
    else if (k === 'from' && (v === 'earliest' || v === 'latest')) o.from = { kind: v };
    else if (k === 'from' && /^\d+$/.test(v)) o.from = { kind: 'offset', offset: BigInt(v) };
    else if (k === 'from' && Number.isFinite(parseTime(v))) o.from = { kind: 'time', sec: parseTime(v) };
    else throw new IntstreamError('SOURCE_SPEC', `--source ${spec}: unknown or bad option '${kv}'`, OPTIONS_HINT);
  }
  return o;
}

const TIMEOUT = Symbol('timeout');

/** A batch of record items only (no packet bytes). */
function recordBatch(capacity: number): PacketBatch {
  const b = new PacketBatch(capacity);
  b.items = new Array(capacity).fill(null);
  return b;
}

export class KafkaRecordSource implements PacketSource {
  readonly name: string;
  readonly skipped = new SkipCounters();
  readonly warnings: string[] = [];
  /** Per-packet records, read through the field getters. */
  readonly traits: SourceTraits;
  private readonly o: KafkaSourceOptions;
  private readonly group: string;
  private readonly commits: boolean;
  private consumer: KafkaConsumer | null = null;
  private iter: AsyncIterator<Batch> | null = null;
  private next: Promise<IteratorResult<Batch>> | null = null;
  private records: readonly InRecord[] = [];
  private recordAt = 0;
  private cols: RecordColumns[] = [];
  private colsAt = 0;
  private batch = recordBatch(1024);
  /** One reused view per batch slot (packet-record-reader.ts PacketRecordView). */
  private readonly pool: PacketRecordView[] = [];
  /** Per partition, the last Kafka record handed on (committed for a named group). */
  private readonly handed = new Map<number, InRecord>();
  private lastCommitMs = 0;
  private closed = false;
  private bytes = 0;
  private kafkaRecords = 0;
  private rows = 0;
  private rowsBefore = 0;
  private readonly warned = new Set<string>();
  private readonly onSignal = () => { void this.finish(); };

  constructor(spec: string, o: KafkaSourceOptions) {
    this.name = spec;
    this.o = o;
    this.traits = { items: 'records', lateness: o.lateness ?? 0, decode: null, pushdown: 'none' };
    this.commits = o.group !== undefined;
    this.group = o.group ?? `intstream-read-${process.pid}-${Date.now().toString(36)}-${Math.floor(Math.random() * 1e9).toString(36)}`;
  }

  async open(): Promise<void> {
    const o = this.o;
    let parts: number[];
    try {
      parts = await partitionsFor(o.bootstrap, o.topic);
    } catch (e) {
      if (e instanceof IntstreamError && /unknown topic|does not exist/i.test(e.message)) {
        throw new IntstreamError('TRANSPORT', `--source ${this.name}: topic '${o.topic}' does not exist at ${o.bootstrap}`, `write it first: intstream export --source ... --to kafka://${o.bootstrap}/${o.topic}`);
      }
      throw e;
    }
    const from = o.from ?? (this.commits ? undefined : { kind: 'earliest' as const });
    if (from !== undefined && (this.commits || from.kind !== 'earliest')) await this.resetGroup(parts, from);
    this.consumer = await createConsumer({
      bootstrap: o.bootstrap,
      clientId: 'intstream-kafka-source',
      groupId: this.group,
      topics: [o.topic],
      fromBeginning: from?.kind !== 'latest',
      maxBatch: 64,
      maxWaitMs: 200,
    });
    this.iter = this.consumer.batches();
    process.once('SIGINT', this.onSignal);
    process.once('SIGTERM', this.onSignal);
  }

  /** Sets the group's committed offsets where `from` says, on every partition. */
  private async resetGroup(parts: number[], from: KafkaFrom): Promise<void> {
    const o = this.o;
    const op = `setting where group '${this.group}' starts on topic '${o.topic}'`;
    try {
      await withAdmin({ bootstrap: o.bootstrap, clientId: 'intstream-kafka-source', retries: 3 }, op, async (admin) => {
        const list = async (ts: bigint) => {
          const r = await admin.listOffsets({ topics: [{ name: o.topic, partitions: parts.map((p) => ({ partitionIndex: p, timestamp: ts })) }] });
          const m = new Map<number, bigint>();
          for (const p of r[0]?.partitions ?? []) m.set(p.partitionIndex, p.offset);
          return m;
        };
        const earliest = await list(-2n), latest = await list(-1n);
        const at = from.kind === 'time' ? await list(BigInt(Math.max(0, Math.floor(from.sec * 1000)))) : null;
        const partitionOffsets = parts.map((p) => {
          const lo = earliest.get(p) ?? 0n, hi = latest.get(p) ?? 0n;
          let off: bigint;
          if (from.kind === 'earliest') off = lo;
          else if (from.kind === 'latest') off = hi;
          else if (from.kind === 'offset') off = from.offset < lo ? lo : from.offset > hi ? hi : from.offset;
          else { const t = at!.get(p) ?? -1n; off = t >= 0n ? t : hi; }
          return { partition: p, offset: off };
        });
        await admin.alterConsumerGroupOffsets({ groupId: this.group, topics: [{ name: o.topic, partitionOffsets }] });
      });
    } catch (e) {
      // withAdmin wraps every failure; one without a hint of its own gets this one
      if (!(e instanceof IntstreamError) || e.hint !== undefined) throw e;
      throw Object.assign(new IntstreamError(e.code, e.message, 'a group can be moved only while none of its members runs: stop them, or read with another group='), { cause: e.cause });
    }
  }

  /** The next Kafka batch; false at the end of input (closed, idle, or the consumer ended). */
  private async fetch(): Promise<boolean> {
    if (this.closed || !this.iter) return false;
    this.next ??= this.iter.next();
    let timer: NodeJS.Timeout | undefined;
    const idle = this.o.idleSec;
    const r = idle === undefined ? await this.next : await Promise.race([
      this.next,
      new Promise<typeof TIMEOUT>((res) => { timer = setTimeout(() => res(TIMEOUT), idle * 1000); }),
    ]);
    if (timer) clearTimeout(timer);
    if (r === TIMEOUT) { await this.finish(); return false; }
    this.next = null;
    if (r.done) return false;
    this.records = r.value.records;
    this.recordAt = 0;
    return true;
  }

  async nextBatch(): Promise<PacketBatch | null> {
    await this.maybeCommit(false);
    for (;;) {
      if (this.colsAt < this.cols.length) {
        const b = this.fill(this.cols[this.colsAt++]);
        if (b !== null) return b;
        continue;
      }
      if (this.recordAt >= this.records.length) {
        if (!(await this.fetch())) return null;
        continue;
      }
      const rec = this.records[this.recordAt++];
      this.handed.set(rec.partition, rec);
      this.kafkaRecords++;
      this.bytes += rec.value.length;
      try {
        this.cols = decodeRecordStream(rec.value);
      } catch (e) {
        const reason = e instanceof RecordFormatError ? e.reason : 'record_corrupt';
        this.skipped.bump(reason);
        if (!this.warned.has(reason)) {
          this.warned.add(reason);
          this.warnings.push(`${this.name}: partition ${rec.partition} offset ${rec.offset}: ${(e as Error).message} (skipped; counted as ${reason})`);
        }
        this.cols = [];
      }
      this.colsAt = 0;
    }
  }

  /** The rows of one record batch as items (rows before from=TIME left out); null if none remain. */
  private fill(c: RecordColumns): PacketBatch | null {
    let b = this.batch;
    if (c.n > b.capacity) b = this.batch = recordBatch(c.n);
    const items = b.items!, ts = b.ts, sec = c.tsSec;
    const from = this.o.from?.kind === 'time' ? this.o.from.sec : -Infinity;
    let k = 0;
    const pool = this.pool;
    for (let i = 0; i < c.n; i++) {
      const t = sec[i];
      if (t < from) { this.rowsBefore++; continue; }
      let v = pool[k];
      if (v === undefined) pool[k] = v = new PacketRecordView();
      items[k] = v.at(c, i);
      ts[k] = t;
      k++;
    }
    b.count = k;
    b.clock = -Infinity;
    this.rows += k;
    return k > 0 ? b : null;
  }

  /** Commits the records handed on (named groups only), at most once a second unless `force`. */
  private async maybeCommit(force: boolean): Promise<void> {
    if (!this.commits || this.handed.size === 0) return;
    const now = Date.now();
    if (!force && now - this.lastCommitMs < 1000) return;
    this.lastCommitMs = now;
    const recs = [...this.handed.values()];
    this.handed.clear();
    try {
      await Promise.all(recs.map((r) => r.commit()));
    } catch (e) {
      const w = wrapKafkaError(e, this.o.bootstrap, `commit of group '${this.group}'`);
      if (!this.warned.has('commit')) { this.warned.add('commit'); this.warnings.push(`${this.name}: ${w.message}`); }
    }
  }

  private async finish(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    process.removeListener('SIGINT', this.onSignal);
    process.removeListener('SIGTERM', this.onSignal);
    await this.maybeCommit(true);
    const c = this.consumer;
    this.consumer = null;
    await c?.close().catch(() => undefined);
  }

  status(): SourceStatus {
    const counters = { kafka_records: this.kafkaRecords, records: this.rows, ...(this.rowsBefore > 0 ? { before_from: this.rowsBefore } : {}) };
    return { bytes: this.bytes, total: undefined, counters, kernel: null, failure: null };
  }

  async close(): Promise<void> {
    await this.finish();
  }
}

export async function openKafkaSource(spec: string, rest: string): Promise<PacketSource> {
  return new KafkaRecordSource(spec, parseKafkaSourceSpec(spec, rest));
}
