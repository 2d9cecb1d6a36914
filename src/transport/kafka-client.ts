/**
 * The project's only door to Apache Kafka: a thin, typed wrapper around @platformatic/kafka
 * (pure JavaScript, maintained, TypeScript types; chosen by measurement in bench/kafka-clients.ts).
 *
 * - Producers are idempotent (no duplicate on retry) and wait for acks from all in-sync replicas
 *   (acks=-1) before `send` resolves, and pick the
 *   partition of a keyed record exactly as the Java client does (murmur2(key) & 0x7fffffff, modulo
 *   the partition count), so every producer of the project, in any language, puts a key in the same
 *   partition.
 * - Consumers join a consumer group, never autocommit, and yield batches; a batch's `commit()` stores
 *   the offsets after its last record of each partition.
 * - Every client connects as the Kafka client config file says (TLS, SASL/SCRAM: kafka-security.ts,
 *   `intstream --kafka-config FILE` or INTSTREAM_KAFKA_CONFIG, read once), plaintext without one.
 * - Every failure is an IntstreamError: code 'KAFKA_UNREACHABLE' when no broker answers (the message
 *   names the bootstrap address), 'KAFKA_AUTH' when the TLS handshake or the SASL authentication
 *   fails (the message says which: certificate not trusted, wrong user or password, broker wants
 *   TLS), 'TRANSPORT' for anything else the broker or the client refused. The client's own error
 *   is kept as `cause`.
 */
import {
  Admin,
  Consumer,
  Producer,
  ProduceAcks,
  type Message,
  type MessagesStream,
} from '@platformatic/kafka';
import { IntstreamError } from '../errors.ts';
import { kafkaSecurity, loadedKafkaSecurity, KAFKA_CONFIG_ENV } from './kafka-security.ts';

/** One broker address `host:port`, or several; the first that answers is used for discovery. */
export type Bootstrap = string | readonly string[];

export interface ClientOptions {
  bootstrap: Bootstrap;
  /** Shown in the broker's logs and quotas. Default 'intstream'. */
  clientId?: string;
  /** Per-request timeout in ms (client default when unset). */
  timeoutMs?: number;
  /** How many times a failed request is retried, 1 s apart. Default 3. */
  retries?: number;
}

/** A record to produce. Strings are encoded as UTF-8. */
export interface OutRecord {
  key: Buffer | string;
  value: Buffer | string;
  /** Explicit partition; when absent the key decides (Java-compatible murmur2). */
  partition?: number;
}

export interface SendResult {
  /** Records acknowledged by the broker. */
  count: number;
  /** Base offset written per partition touched by this send. */
  offsets: { topic: string; partition: number; offset: bigint }[];
}

export interface KafkaProducer {
  readonly bootstrap: string;
  /** Sends the records to `topic` in one request per leader; resolves once all replicas acked. */
  send(topic: string, records: readonly OutRecord[]): Promise<SendResult>;
  close(): Promise<void>;
}

export interface ProducerOptions extends ClientOptions {
  /**
   * Idempotent producer. Default true: the client retries a whole produce request when one of its
   * partitions fails (e.g. NOT_LEADER right after a topic is created), and without idempotence the
   * partitions that had succeeded get their records twice (measured: +7 % records on a new topic).
   */
  idempotent?: boolean;
  /** Batch compression. Default 'none'. */
  compression?: 'none' | 'gzip' | 'snappy' | 'lz4' | 'zstd';
}

/** A consumed record. `key` is undefined for a record produced without key. */
export interface InRecord {
  readonly topic: string;
  readonly partition: number;
  readonly offset: bigint;
  readonly timestamp: bigint;
  readonly key: Buffer | undefined;
  readonly value: Buffer;
  /** Commits this partition's offset just after this record (the group resumes after it). */
  commit(): Promise<void>;
}

export interface Batch {
  readonly records: readonly InRecord[];
  /**
   * Commits, for each partition in this batch, the offset after its last record (the group then
   * resumes after this batch). Resolves once the group coordinator stored it.
   */
  commit(): Promise<void>;
}

export interface ConsumerOptions extends ClientOptions {
  groupId: string;
  topics: readonly string[];
  /**
   * Where a partition starts when the group has no committed offset for it: true = the earliest
   * record still on the broker (default), false = only records produced from now on.
   */
  fromBeginning?: boolean;
  /** Most records in one batch. Default 10,000. */
  maxBatch?: number;
  /** Longest time the broker holds a fetch waiting for data, in ms. Default 500. */
  maxWaitMs?: number;
  /**
   * Most bytes per fetch response, and per partition in it. Defaults 8 MiB and 1 MiB (as the Java
   * consumer's max.partition.fetch.bytes): the client hands records over only once a whole response
   * is decoded, so smaller responses mean the first records arrive sooner on a backlog.
   */
  maxBytes?: number;
  maxBytesPerPartition?: number;
  /** Group session timeout in ms. Default 10,000. */
  sessionTimeoutMs?: number;
  /** Group heartbeat interval in ms. Default 1,000. */
  heartbeatIntervalMs?: number;
  /**
   * Called after every (re)join of the group with this member's partitions per topic, and a
   * function giving where each of them resumes (see ResumeOffsets).
   */
  onAssignment?: (assigned: { topic: string; partitions: number[] }[], resumeOffsets: () => Promise<ResumeOffsets>) => void;
}

/**
 * Per `topic:partition`, the offset from which the consumer fetches after a (re)join: the
 * group's committed offset, or the earliest (or latest, without fromBeginning) offset on the
 * broker when the group has none. Records of a partition fetched before the join may still be
 * delivered after it (the client's read-ahead): a reader that must start a partition exactly
 * where the group resumes it skips records until this offset comes.
 */
export type ResumeOffsets = Map<string, bigint>;

export interface KafkaConsumer extends AsyncIterable<Batch> {
  readonly bootstrap: string;
  readonly groupId: string;
  /**
   * Batches of what is available, in arrival order (per partition in offset order), until close().
   * Only one iteration at a time.
   */
  batches(): AsyncIterableIterator<Batch>;
  /** Leaves the group (pending commits are flushed first) and ends the iteration. */
  close(): Promise<void>;
}

// ---- errors -------------------------------------------------------------------------------------

const UNREACHABLE_CODES = new Set([
  'PLT_KFK_NETWORK',
  'PLT_KFK_TIMEOUT',
  'ECONNREFUSED',
  'ECONNRESET',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
  'ETIMEDOUT',
]);

function isUnreachable(err: unknown, depth = 0): boolean {
  if (depth > 6 || err === null || typeof err !== 'object') return false;
  const e = err as { code?: unknown; message?: unknown; errors?: unknown; cause?: unknown };
  if (typeof e.code === 'string' && UNREACHABLE_CODES.has(e.code)) return true;
  if (typeof e.message === 'string' && e.message.includes('Cannot connect to any broker')) return true;
  if (Array.isArray(e.errors) && e.errors.some((x) => isUnreachable(x, depth + 1))) return true;
  return isUnreachable(e.cause, depth + 1);
}

function innermostMessage(err: unknown, depth = 0): string {
  if (err === null || typeof err !== 'object') return String(err);
  const e = err as { message?: unknown; errors?: unknown; cause?: unknown };
  const own = typeof e.message === 'string' ? e.message : String(err);
  if (depth > 4) return own;
  if (Array.isArray(e.errors) && e.errors.length > 0) return `${own}: ${innermostMessage(e.errors[0], depth + 1)}`;
  if (e.cause !== undefined) return `${own}: ${innermostMessage(e.cause, depth + 1)}`;
  return own;
}

/** The last message of `err`'s chain (the socket's own error, e.g. `connect ECONNREFUSED ...`). */
function deepestMessage(err: unknown, depth = 0): string {
  if (err === null || typeof err !== 'object') return String(err);
  const e = err as { message?: unknown; errors?: unknown; cause?: unknown };
  if (depth < 8 && Array.isArray(e.errors) && e.errors.length > 0) return deepestMessage(e.errors[0], depth + 1);
  if (depth < 8 && e.cause !== undefined) return deepestMessage(e.cause, depth + 1);
  return typeof e.message === 'string' ? e.message.replace(/\.$/, '') : String(err);
}

/** The first error in `err`'s chain (causes, aggregated errors) that `pred` accepts. */
function findError(err: unknown, pred: (e: { code?: unknown; message?: unknown }) => boolean, depth = 0): { code?: unknown; message?: unknown } | undefined {
  if (depth > 8 || err === null || typeof err !== 'object') return undefined;
  const e = err as { code?: unknown; message?: unknown; errors?: unknown; cause?: unknown };
  if (pred(e)) return e;
  if (Array.isArray(e.errors)) {
    for (const x of e.errors) {
      const f = findError(x, pred, depth + 1);
      if (f) return f;
    }
  }
  return findError(e.cause, pred, depth + 1);
}

/** Node's codes for a broker certificate that does not verify. */
const CERT_CODES = new Set([
  'UNABLE_TO_GET_ISSUER_CERT', 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY', 'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'SELF_SIGNED_CERT_IN_CHAIN', 'DEPTH_ZERO_SELF_SIGNED_CERT', 'CERT_UNTRUSTED', 'CERT_SIGNATURE_FAILURE',
  'CERT_NOT_YET_VALID', 'CERT_HAS_EXPIRED', 'CERT_REVOKED', 'CERT_REJECTED', 'INVALID_CA', 'ERR_TLS_CERT_ALTNAME_INVALID',
]);

const AUTH_HINT = `check the Kafka client config given by --kafka-config FILE (or ${KAFKA_CONFIG_ENV}): security.protocol, sasl.mechanism, sasl.username/sasl.password, ssl.ca.location (docs/contracts.md)`;

/** The 'KAFKA_AUTH' message for a failed TLS handshake or SASL authentication; undefined for other errors. */
function authFailure(err: unknown, bootstrap: string, operation: string): string | undefined {
  const sec = loadedKafkaSecurity();
  const msg = (e: { message?: unknown }) => (typeof e.message === 'string' ? e.message : '');
  const sasl = findError(err, (e) => e.code === 'PLT_KFK_AUTHENTICATION');
  if (sasl) {
    const who = sec?.sasl ? ` for user '${sec.sasl.username}' with mechanism ${sec.sasl.mechanism}` : '';
    if (msg(sasl).includes('suitable SASL mechanism')) {
      return `Kafka ${operation}: the broker at ${bootstrap} does not accept SASL mechanism ${sec?.sasl?.mechanism ?? '(none)'} on this port`;
    }
    return `Kafka ${operation}: SASL authentication failed at ${bootstrap}${who} (wrong user or password, or the user has no credentials for this mechanism)`;
  }
  const cert = findError(err, (e) => typeof e.code === 'string' && CERT_CODES.has(e.code));
  if (cert) {
    const what = cert.code === 'ERR_TLS_CERT_ALTNAME_INVALID'
      ? 'the broker certificate does not name the host connected to'
      : cert.code === 'CERT_HAS_EXPIRED' || cert.code === 'CERT_NOT_YET_VALID'
        ? 'the broker certificate is not valid at this date'
        : `the broker certificate is not trusted${sec?.tls?.ca ? ' by the CA of ssl.ca.location' : ' (no ssl.ca.location: Node\'s built-in CAs)'}`;
    return `Kafka ${operation}: TLS handshake with ${bootstrap} failed: ${what} (${String(cert.code)}: ${msg(cert)})`;
  }
  if (findError(err, (e) => msg(e) === 'Broker requires TLS.')) {
    return `Kafka ${operation}: the broker at ${bootstrap} requires TLS, but this client connects in plaintext (security.protocol=${sec?.protocol ?? 'PLAINTEXT, no Kafka client config'})`;
  }
  const tls = sec?.tls ? findError(err, (e) => /TLS handshake failed/.test(msg(e)) || (typeof e.code === 'string' && (e.code.startsWith('ERR_SSL_') || e.code === 'EPROTO'))) : undefined;
  if (tls) {
    return `Kafka ${operation}: TLS handshake with ${bootstrap} failed (${msg(tls)}): does the port speak TLS, and does the broker accept this client?`;
  }
  return undefined;
}

/** Wraps any client error into an IntstreamError naming the operation and the broker address. */
export function wrapKafkaError(err: unknown, bootstrap: string, operation: string): IntstreamError {
  if (err instanceof IntstreamError) return err;
  const auth = authFailure(err, bootstrap, operation);
  // a broker that closes a connection it accepted (rather than refusing it) may want TLS or SASL
  const closed = findError(err, (e) => e.message === 'Connection closed') !== undefined &&
    findError(err, (e) => e.code === 'ECONNREFUSED') === undefined;
  const wrapped = auth !== undefined
    ? new IntstreamError('KAFKA_AUTH', auth, AUTH_HINT)
    : isUnreachable(err)
      ? new IntstreamError(
          'KAFKA_UNREACHABLE',
          `Kafka ${operation}: no broker answers at ${bootstrap} (${deepestMessage(err)})`,
          closed
            ? `the broker accepted the connection and closed it: if it wants TLS or SASL, ${AUTH_HINT}`
            : 'start one with: npm run kafka:up (or give the address of a running broker)',
        )
      : new IntstreamError('TRANSPORT', `Kafka ${operation} at ${bootstrap} failed: ${innermostMessage(err)}`);
  (wrapped as Error).cause = err;
  return wrapped;
}

// ---- partitioning -------------------------------------------------------------------------------

/**
 * Kafka's murmur2 (org.apache.kafka.common.utils.Utils.murmur2), in 32-bit integer arithmetic.
 * (@platformatic/kafka ships one in BigInt arithmetic, ~30x slower: 1 us per key.)
 */
export function murmur2(data: Buffer): number {
  const m = 0x5bd1e995;
  let h = 0x9747b28c ^ data.length;
  const len4 = data.length & ~3;
  for (let i = 0; i < len4; i += 4) {
    let k = data[i] | (data[i + 1] << 8) | (data[i + 2] << 16) | (data[i + 3] << 24);
    k = Math.imul(k, m);
    k ^= k >>> 24;
    k = Math.imul(k, m);
    h = Math.imul(h, m) ^ k;
  }
  const rest = data.length & 3;
  if (rest === 3) h ^= data[len4 + 2] << 16;
  if (rest >= 2) h ^= data[len4 + 1] << 8;
  if (rest >= 1) {
    h ^= data[len4];
    h = Math.imul(h, m);
  }
  h ^= h >>> 13;
  h = Math.imul(h, m);
  h ^= h >>> 15;
  return h | 0;
}

/**
 * The partition the Java client's default partitioner gives a keyed record:
 * (murmur2(key) & 0x7fffffff) mod partitions. Strings are hashed as UTF-8.
 */
export function partitionForKey(key: Buffer | string, partitions: number): number {
  return (murmur2(typeof key === 'string' ? Buffer.from(key, 'utf8') : key) & 0x7fffffff) % partitions;
}

/** Producer partitioner for @platformatic/kafka (it takes the result modulo the partition count). */
const javaPartitioner = (_message: unknown, key: Buffer | undefined): number =>
  key === undefined ? 0 : murmur2(key) & 0x7fffffff;

// ---- helpers ------------------------------------------------------------------------------------

function brokers(bootstrap: Bootstrap): string[] {
  const list = (typeof bootstrap === 'string' ? bootstrap.split(',') : [...bootstrap])
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
  if (list.length === 0) throw new IntstreamError('USAGE', 'Kafka bootstrap address is empty');
  return list;
}

function baseOptions(o: ClientOptions) {
  const security = kafkaSecurity(); // TLS and SASL of the Kafka client config, if any
  return {
    clientId: o.clientId ?? 'intstream',
    bootstrapBrokers: brokers(o.bootstrap),
    retries: o.retries ?? 3,
    ...(o.timeoutMs !== undefined ? { timeout: o.timeoutMs } : {}),
    ...(security?.tls ? { tls: security.tls } : {}),
    ...(security?.sasl ? { sasl: { ...security.sasl } } : {}),
  };
}

const toBuffer = (v: Buffer | string): Buffer => (typeof v === 'string' ? Buffer.from(v, 'utf8') : v);

/**
 * Runs `fn` with an admin client (connected as every client here: TLS, SASL), closed after; a
 * failure is wrapped as wrapKafkaError does, naming `op`. For admin requests this module does not
 * wrap itself (e.g. kafka-source.ts moving a group's offsets).
 */
export async function withAdmin<T>(options: ClientOptions, op: string, fn: (admin: Admin) => Promise<T>): Promise<T> {
  const address = brokers(options.bootstrap).join(',');
  const admin = new Admin(baseOptions(options));
  try {
    return await fn(admin);
  } catch (err) {
    throw wrapKafkaError(err, address, op);
  } finally {
    await admin.close().catch(() => undefined);
  }
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

// ---- producer -----------------------------------------------------------------------------------

export function createProducer(options: ProducerOptions): KafkaProducer {
  const address = brokers(options.bootstrap).join(',');
  const producer = new Producer({
    ...baseOptions(options),
    acks: ProduceAcks.ALL,
    idempotent: options.idempotent ?? true,
    compression: options.compression ?? 'none',
    partitioner: javaPartitioner,
    autocreateTopics: false,
  });
  return {
    bootstrap: address,
    async send(topic, records) {
      if (records.length === 0) return { count: 0, offsets: [] };
      const messages = records.map((r) =>
        r.partition === undefined
          ? { topic, key: toBuffer(r.key), value: toBuffer(r.value) }
          : { topic, key: toBuffer(r.key), value: toBuffer(r.value), partition: r.partition },
      );
      try {
        const result = await producer.send({ messages });
        return { count: records.length, offsets: result.offsets ?? [] };
      } catch (err) {
        throw wrapKafkaError(err, address, `send to topic '${topic}'`);
      }
    },
    async close() {
      try {
        await producer.close();
      } catch (err) {
        throw wrapKafkaError(err, address, 'producer close');
      }
    },
  };
}

// ---- consumer -----------------------------------------------------------------------------------

type RawMessage = Message<Buffer, Buffer, Buffer, Buffer>;

function makeBatch(records: RawMessage[]): Batch {
  return {
    records: records as unknown as readonly InRecord[],
    async commit() {
      // the last record of each partition carries the commit of everything before it
      const last = new Map<string, RawMessage>();
      for (const m of records) {
        const k = `${m.topic}\u0000${m.partition}`;
        const prev = last.get(k);
        if (prev === undefined || prev.offset < m.offset) last.set(k, m);
      }
      await Promise.all([...last.values()].map((m) => m.commit() as Promise<void>));
    },
  };
}

async function resumeOffsets(consumer: Consumer<Buffer, Buffer, Buffer, Buffer>, assigned: { topic: string; partitions: number[] }[], fromBeginning: boolean): Promise<ResumeOffsets> {
  const out: ResumeOffsets = new Map();
  const topics = assigned.filter((a) => a.partitions.length > 0);
  if (topics.length === 0) return out;
  const committed = await consumer.listCommittedOffsets({ topics });
  const ends = await consumer.listOffsets({
    topics: topics.map((a) => a.topic),
    partitions: Object.fromEntries(topics.map((a) => [a.topic, a.partitions])),
    timestamp: fromBeginning ? -2n : -1n, // EARLIEST : LATEST
  });
  for (const a of topics) {
    for (const part of a.partitions) {
      const c = committed.get(a.topic)?.[part] ?? -1n;
      out.set(`${a.topic}:${part}`, c >= 0n ? c : ends.get(a.topic)?.[part] ?? 0n);
    }
  }
  return out;
}

/** Joins the group and subscribes; resolves once the consumer is ready to fetch. */
export async function createConsumer(options: ConsumerOptions): Promise<KafkaConsumer> {
  const address = brokers(options.bootstrap).join(',');
  const maxBatch = options.maxBatch ?? 10_000;
  const consumer = new Consumer({
    ...baseOptions(options),
    groupId: options.groupId,
    autocommit: false,
    sessionTimeout: options.sessionTimeoutMs ?? 10_000,
    heartbeatInterval: options.heartbeatIntervalMs ?? 1_000,
    maxWaitTime: options.maxWaitMs ?? 500,
    maxBytes: options.maxBytes ?? 8 << 20,
    maxBytesPerPartition: options.maxBytesPerPartition ?? 1 << 20,
  });
  if (options.onAssignment) {
    const cb = options.onAssignment;
    consumer.on('consumer:group:join', (p: { assignments?: { topic: string; partitions: number[] }[] }) => {
      const assigned = (p.assignments ?? []).map((a) => ({ topic: a.topic, partitions: [...a.partitions] }));
      cb(assigned, () => resumeOffsets(consumer, assigned, options.fromBeginning !== false));
    });
  }
  let stream: MessagesStream<Buffer, Buffer, Buffer, Buffer>;
  try {
    stream = await consumer.consume({
      topics: [...options.topics],
      autocommit: false,
      mode: 'committed',
      fallbackMode: options.fromBeginning === false ? 'latest' : 'earliest',
    });
  } catch (err) {
    await consumer.close(true).catch(() => undefined);
    throw wrapKafkaError(err, address, `consumer join of group '${options.groupId}'`);
  }

  let failure: unknown;
  let closed = false;
  let iterating = false;
  // Pull mode: records are taken with stream.read(). The 'readable' listener stays attached for the
  // consumer's whole life: @platformatic/kafka stops fetching while readableFlowing is null, which
  // is what Node sets when the last 'readable' listener goes away.
  let waiter: (() => void) | undefined;
  const poke = () => {
    const w = waiter;
    waiter = undefined;
    w?.();
  };
  stream.on('readable', poke);
  stream.on('end', poke);
  stream.on('close', poke);
  stream.on('error', (err: Error) => {
    failure ??= err;
    poke();
  });
  // resolves on new data, end, close or error (errors are read from `failure`)
  const wake = () =>
    new Promise<void>((resolve) => {
      waiter = resolve;
    });

  async function* batches(): AsyncGenerator<Batch> {
    if (iterating) throw new IntstreamError('INTERNAL', 'KafkaConsumer.batches(): only one iteration at a time');
    iterating = true;
    try {
      while (true) {
        if (failure !== undefined) throw wrapKafkaError(failure, address, `consume (group '${options.groupId}')`);
        if (closed) return;
        const first = stream.read() as RawMessage | null;
        if (first === null) {
          if (stream.destroyed || stream.readableEnded) {
            if (failure !== undefined) continue;
            return;
          }
          await wake();
          continue;
        }
        const records: RawMessage[] = [first];
        while (records.length < maxBatch) {
          const m = stream.read() as RawMessage | null;
          if (m === null) break;
          records.push(m);
        }
        yield makeBatch(records);
      }
    } finally {
      iterating = false;
    }
  }

  return {
    bootstrap: address,
    groupId: options.groupId,
    batches,
    [Symbol.asyncIterator]: batches,
    async close() {
      if (closed) return;
      closed = true;
      try {
        await stream.close();
        await consumer.close();
      } catch (err) {
        await consumer.close(true).catch(() => undefined);
        throw wrapKafkaError(err, address, 'consumer close');
      }
    },
  };
}

// ---- admin --------------------------------------------------------------------------------------

/**
 * Creates `name` with `partitions` partitions (replication factor `replicas`, default 1) and waits
 * (at most 15 s) until every partition has a leader that answers for it (ListOffsets succeeds), so a
 * producer started next is not refused. An existing topic is left as it is: `created` is then false
 * and `partitions` its actual count. `configs` are topic configurations set at creation (e.g.
 * `{ 'cleanup.policy': 'compact' }`).
 */
export async function createTopic(
  bootstrap: Bootstrap,
  name: string,
  partitions: number,
  replicas = 1,
  configs: Readonly<Record<string, string>> = {},
): Promise<{ created: boolean; partitions: number }> {
  if (!Number.isInteger(partitions) || partitions < 1) {
    throw new IntstreamError('USAGE', `Kafka topic '${name}': partitions must be a positive integer, got ${partitions}`);
  }
  return withAdmin({ bootstrap }, `create topic '${name}'`, async (admin) => {
    let created = true;
    try {
      await admin.createTopics({ topics: [name], partitions, replicas, configs: Object.entries(configs).map(([k, value]) => ({ name: k, value })) });
    } catch (err) {
      if (!innermostMessage(err).toLowerCase().includes('already exists') && !hasKafkaErrorCode(err, 36)) throw err;
      created = false;
    }
    // wait (bounded) until the metadata shows a leader for every partition
    const deadline = Date.now() + 15_000;
    while (true) {
      try {
        const md = await admin.metadata({ topics: [name], forceUpdate: true });
        const t = md.topics.get(name);
        if (t && t.partitionsCount > 0 && t.partitions.every((p) => p.leader >= 0)) {
          const ids = Array.from({ length: t.partitionsCount }, (_, i) => i);
          const listed = await admin.listOffsets({
            topics: [{ name, partitions: ids.map((partitionIndex) => ({ partitionIndex, timestamp: -1n })) }],
          });
          if (listed[0]?.partitions.length === t.partitionsCount) return { created, partitions: t.partitionsCount };
        }
      } catch (err) {
        if (Date.now() > deadline || isUnreachable(err)) throw err;
      }
      if (Date.now() > deadline) {
        throw new IntstreamError('TRANSPORT', `Kafka topic '${name}' at ${brokers(bootstrap).join(',')}: no leader for every partition after 15 s`);
      }
      await sleep(100);
    }
  });
}

function hasKafkaErrorCode(err: unknown, code: number, depth = 0): boolean {
  if (depth > 6 || err === null || typeof err !== 'object') return false;
  const e = err as { apiCode?: unknown; errorCode?: unknown; errors?: unknown; cause?: unknown; response?: unknown };
  if (e.apiCode === code || e.errorCode === code) return true;
  if (Array.isArray(e.errors) && e.errors.some((x) => hasKafkaErrorCode(x, code, depth + 1))) return true;
  return hasKafkaErrorCode(e.cause, code, depth + 1);
}

/**
 * Deletes `name`. Resolves true when it was deleted, false when there was no such topic.
 */
export async function deleteTopic(bootstrap: Bootstrap, name: string): Promise<boolean> {
  return withAdmin({ bootstrap }, `delete topic '${name}'`, async (admin) => {
    try {
      await admin.deleteTopics({ topics: [name] });
      return true;
    } catch (err) {
      // UNKNOWN_TOPIC_OR_PARTITION (3)
      if (hasKafkaErrorCode(err, 3) || /unknown topic|does not host this topic/i.test(innermostMessage(err))) return false;
      throw err;
    }
  });
}

/**
 * The partition ids of `topic`, ascending (its length is the partition count). Fails with code
 * 'TRANSPORT' if the topic does not exist (it is never auto-created here).
 */
export async function partitionsFor(bootstrap: Bootstrap, topic: string): Promise<number[]> {
  return withAdmin({ bootstrap }, `metadata of topic '${topic}'`, async (admin) => {
    const md = await admin.metadata({ topics: [topic], forceUpdate: true, autocreateTopics: false });
    const t = md.topics.get(topic);
    if (!t) throw new IntstreamError('TRANSPORT', `Kafka topic '${topic}' does not exist at ${brokers(bootstrap).join(',')}`);
    return Array.from({ length: t.partitionsCount }, (_, i) => i);
  });
}
