/**
 * A real Apache Kafka broker for tests and benchmarks, through scripts/kafka.sh (fetch + up, down).
 *
 *   const reason = kafkaAvailable();           // { ok: false, reason } when java/mvn are missing
 *   test('...', { skip: reason.ok ? false : reason.reason }, async () => { ... });
 *   const kafka = await startKafka({ port: 19092 });   // kafka.bootstrap === '127.0.0.1:19092'
 *   after(() => kafka.stop());
 *
 * Each broker gets a fresh data dir in the OS temp dir (wiped by stop()); the jars stay in the
 * cache (scripts/kafka.sh fetch, INTSTREAM_CACHE). If the port or port+1 (controller) is taken, the
 * next free pair above it is used: read `bootstrap`, not the port you asked for.
 *
 *   const kafka = await startKafka({ port: 21092, secure: true });
 *   // TLS + SASL/SCRAM listener (scripts/kafka.sh up --secure); kafka.clientConfig is the client
 *   // config file for --kafka-config / INTSTREAM_KAFKA_CONFIG (user, password, CA: kafka.secure)
 */
import { execFile, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const SCRIPT = join(ROOT, 'scripts', 'kafka.sh');

export interface KafkaBroker {
  /** `127.0.0.1:PORT` */
  readonly bootstrap: string;
  readonly port: number;
  readonly dataDir: string;
  /** With `secure`: the client config file scripts/kafka.sh wrote (for --kafka-config). */
  readonly clientConfig?: string;
  /** With `secure`: the SCRAM user and password, and the CA file that signed the broker's certificate. */
  readonly secure?: { username: string; password: string; caFile: string };
  /** Stops the broker and removes its data dir (unless it was given). Safe to call twice. */
  stop(): Promise<void>;
}

export type KafkaAvailability = { ok: true; reason?: undefined } | { ok: false; reason: string };

function has(cmd: string, args: string[]): { ok: boolean; out: string } {
  const r = spawnSync(cmd, args, { encoding: 'utf8', timeout: 30_000 });
  return { ok: !r.error && r.status === 0, out: `${r.stdout ?? ''}${r.stderr ?? ''}` };
}

/**
 * Whether a broker can be started here; when not, why (for `test(..., { skip: reason })`).
 * Needs bash, Java 17+, and mvn unless the jars are already in the cache.
 */
export function kafkaAvailable(): KafkaAvailability {
  if (!has('bash', ['-c', 'true']).ok) return { ok: false, reason: 'bash not found: scripts/kafka.sh needs it' };
  const java = has('java', ['-version']);
  if (!java.ok) return { ok: false, reason: 'java not found on PATH: a Kafka broker needs Java 17+ (apt-get install openjdk-17-jre-headless)' };
  const m = /version "(\d+)(?:\.(\d+))?/.exec(java.out);
  const major = m ? (m[1] === '1' ? Number(m[2]) : Number(m[1])) : NaN;
  if (!(major >= 17)) return { ok: false, reason: `Kafka 4 needs Java 17+, found: ${java.out.split('\n')[0]}` };
  const status = spawnSync('bash', [SCRIPT, 'status', '--port', '1024'], { encoding: 'utf8', timeout: 30_000 });
  const fetched = /fetched=yes/.test(status.stdout ?? '') || /^running/.test(status.stdout ?? '');
  if (!fetched && !has('mvn', ['-v']).ok) {
    return { ok: false, reason: 'mvn not found on PATH: needed once to fetch the Kafka jars (apt-get install maven), or run `bash scripts/kafka.sh fetch` elsewhere' };
  }
  return { ok: true };
}

function portFree(port: number): Promise<boolean> {
  return new Promise((res) => {
    const srv = createServer();
    srv.once('error', () => res(false));
    srv.listen({ port, host: '127.0.0.1', exclusive: true }, () => srv.close(() => res(true)));
  });
}

/** The first port >= `from` (stepping by 2) such that it and port+1 are both free on 127.0.0.1. */
export async function freePortPair(from: number): Promise<number> {
  for (let p = from; p < from + 200; p += 2) {
    if ((await portFree(p)) && (await portFree(p + 1))) return p;
  }
  throw new Error(`no free port pair on 127.0.0.1 in ${from}..${from + 200}`);
}

function run(args: string[], env: NodeJS.ProcessEnv, timeoutMs: number): Promise<{ stdout: string; stderr: string }> {
  return new Promise((res, rej) => {
    execFile('bash', [SCRIPT, ...args], { env, timeout: timeoutMs, maxBuffer: 16 << 20 }, (err, stdout, stderr) => {
      if (err) {
        const tail = String(stderr).trim().split('\n').slice(-25).join('\n');
        rej(new Error(`bash scripts/kafka.sh ${args.join(' ')} failed (${err.code ?? err.signal ?? err.message}):\n${tail}`));
      } else res({ stdout: String(stdout), stderr: String(stderr) });
    });
  });
}

const live = new Set<{ port: number; env: NodeJS.ProcessEnv; dataDir: string; own: boolean }>();
let exitHookInstalled = false;
function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  // last resort if a test forgot stop() or crashed: never leave a broker behind
  process.on('exit', () => {
    for (const b of live) {
      spawnSync('bash', [SCRIPT, 'down', '--port', String(b.port)], { env: b.env, stdio: 'ignore', timeout: 40_000 });
      if (b.own) rmSync(b.dataDir, { recursive: true, force: true });
    }
  });
}

export interface StartKafkaOptions {
  /** Preferred broker port (controller on port+1). Default 19092. */
  port?: number;
  /** Data dir; default a fresh temp dir, removed by stop(). */
  dataDir?: string;
  /** Milliseconds allowed for the one-time jar fetch. Default 10 minutes. */
  fetchTimeoutMs?: number;
  /** TLS + SASL/SCRAM listener (scripts/kafka.sh up --secure); see KafkaBroker.clientConfig. */
  secure?: boolean;
}

/** Fetches the jars if needed, formats a fresh KRaft node and starts it; resolves once it answers. */
export async function startKafka(options: StartKafkaOptions = {}): Promise<KafkaBroker> {
  const port = await freePortPair(options.port ?? 19092);
  const dataDir = options.dataDir ?? mkdtempSync(join(tmpdir(), `intstream-kafka-${port}-`));
  const env: NodeJS.ProcessEnv = { ...process.env, KAFKA_DATA: dataDir };
  delete env.KAFKA_PORT;
  await run(['fetch'], env, options.fetchTimeoutMs ?? 600_000);
  const own = options.dataDir === undefined;
  const entry = { port, env, dataDir, own };
  const downArgs = own ? ['down', '--port', String(port), '--wipe'] : ['down', '--port', String(port)];
  live.add(entry);
  installExitHook();
  let out: { stdout: string };
  try {
    out = await run(['up', '--port', String(port), ...(options.secure ? ['--secure'] : [])], env, 120_000);
  } catch (err) {
    await run(downArgs, env, 60_000).catch(() => undefined);
    if (own) rmSync(dataDir, { recursive: true, force: true });
    live.delete(entry);
    throw err;
  }
  const bootstrap = out.stdout.trim().split('\n').pop() ?? '';
  if (bootstrap !== `127.0.0.1:${port}`) throw new Error(`scripts/kafka.sh up printed '${bootstrap}', expected 127.0.0.1:${port}`);
  let secure: KafkaBroker['secure'];
  const clientConfig = options.secure ? join(dataDir, 'client.properties') : undefined;
  if (clientConfig) {
    const [username, password] = readFileSync(join(dataDir, 'tls', 'scram'), 'utf8').split('\n');
    secure = { username, password, caFile: join(dataDir, 'tls', 'ca.pem') };
  }
  let stopped = false;
  return {
    bootstrap,
    port,
    dataDir,
    ...(clientConfig ? { clientConfig, secure } : {}),
    async stop() {
      if (stopped) return;
      stopped = true;
      try {
        await run(downArgs, env, 60_000);
      } finally {
        if (own) rmSync(dataDir, { recursive: true, force: true });
        live.delete(entry);
      }
    },
  };
}
