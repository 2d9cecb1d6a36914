/**
 * The Kafka client config file: how every Kafka client of the project (transport, GSP workers,
 * sinks, export, the kafka:// source, the runtime) connects to a broker that wants TLS and/or SASL.
 * Given by `intstream --kafka-config FILE` (any subcommand) or the environment variable
 * INTSTREAM_KAFKA_CONFIG (the CLI option sets it, so child processes inherit it).
 *
 * The syntax and the key names are those of the Java client and librdkafka, so a file a Kafka user
 * already has mostly works as it is (docs/contracts.md lists the keys):
 *
 *   security.protocol=SASL_SSL            # PLAINTEXT (default) | SSL | SASL_PLAINTEXT | SASL_SSL
 *   sasl.mechanism=SCRAM-SHA-256          # SCRAM-SHA-256 | SCRAM-SHA-512 | PLAIN
 *   sasl.username=intstream
 *   sasl.password=secret                  # or, Java style: sasl.jaas.config=...LoginModule required username="u" password="p";
 *   ssl.ca.location=/path/ca.pem          # PEM; default: Node's built-in CA list
 *   ssl.certificate.location=client.pem   # mTLS (with ssl.key.location, ssl.key.password if encrypted)
 *   ssl.endpoint.identification.algorithm=https   # or none: the chain is verified, not the host name
 *
 * Lines are `key=value` (or `key: value`); `#` and `!` start a comment line; a line ending in a
 * backslash goes on on the next line; values are otherwise taken literally. Relative paths are
 * relative to the config file's folder. An unknown key, a key given twice, a bad value or a
 * combination that would silently be ignored (ssl.* without TLS, sasl.* without SASL) is an error
 * (code USAGE) naming FILE:LINE and the key. The PEM files are read when the config is loaded, so a
 * missing one fails at start, not at the first connection.
 */
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import type { ConnectionOptions } from 'node:tls';
import { IntstreamError } from '../errors.ts';

/** The environment variable that names the config file (set by `intstream --kafka-config FILE`). */
export const KAFKA_CONFIG_ENV = 'INTSTREAM_KAFKA_CONFIG';

export type SecurityProtocol = 'PLAINTEXT' | 'SSL' | 'SASL_PLAINTEXT' | 'SASL_SSL';
export type SaslMechanism = 'PLAIN' | 'SCRAM-SHA-256' | 'SCRAM-SHA-512';

export interface KafkaSecurity {
  /** The config file (for messages). */
  readonly file: string;
  readonly protocol: SecurityProtocol;
  /** Node TLS options for every broker connection; absent without TLS. */
  readonly tls?: ConnectionOptions;
  readonly sasl?: { readonly mechanism: SaslMechanism; readonly username: string; readonly password: string };
}

const PROTOCOLS: readonly SecurityProtocol[] = ['PLAINTEXT', 'SSL', 'SASL_PLAINTEXT', 'SASL_SSL'];
const MECHANISMS: readonly SaslMechanism[] = ['SCRAM-SHA-256', 'SCRAM-SHA-512', 'PLAIN'];

/** Accepted keys; librdkafka's spelling `sasl.mechanisms` is the same key as `sasl.mechanism`. */
export const KAFKA_CONFIG_KEYS = [
  'security.protocol',
  'sasl.mechanism',
  'sasl.username',
  'sasl.password',
  'sasl.jaas.config',
  'ssl.ca.location',
  'ssl.certificate.location',
  'ssl.key.location',
  'ssl.key.password',
  'ssl.endpoint.identification.algorithm',
] as const;
type Key = (typeof KAFKA_CONFIG_KEYS)[number];
const ALIASES: Record<string, Key> = { 'sasl.mechanisms': 'sasl.mechanism' };

/** What to write instead, for keys a Kafka user may bring from a Java or librdkafka config. */
const INSTEAD: Record<string, string> = {
  'bootstrap.servers': 'the broker address is not part of this file: give it in kafka://HOST:PORT (--transport, --source, --sink, --to, --kafka)',
  'ssl.truststore.location': 'give the CA as a PEM file: ssl.ca.location=FILE (openssl or keytool -exportcert -rfc converts a truststore)',
  'ssl.truststore.password': 'give the CA as a PEM file: ssl.ca.location=FILE',
  'ssl.truststore.type': 'give the CA as a PEM file: ssl.ca.location=FILE',
  'ssl.keystore.location': 'give the client certificate and key as PEM files: ssl.certificate.location=FILE, ssl.key.location=FILE',
  'ssl.keystore.password': 'give the client key as a PEM file: ssl.key.location=FILE (ssl.key.password if it is encrypted)',
  'ssl.keystore.type': 'give the client certificate and key as PEM files: ssl.certificate.location, ssl.key.location',
  'ssl.ca.pem': 'put the CA in a file: ssl.ca.location=FILE',
  'ssl.certificate.pem': 'put the certificate in a file: ssl.certificate.location=FILE',
  'ssl.key.pem': 'put the key in a file: ssl.key.location=FILE',
};

const KEYS_HINT = `accepted keys: ${KAFKA_CONFIG_KEYS.join(', ')} (docs/contracts.md)`;

interface Entry { value: string; line: number }

function fail(where: string, message: string, hint: string = KEYS_HINT): never {
  throw new IntstreamError('USAGE', `Kafka config ${where}: ${message}`, hint);
}

/** `key=value` lines (Java properties, without escapes) -> entries by key, with their line. */
function readEntries(text: string, file: string): Map<Key, Entry> {
  const out = new Map<Key, Entry>();
  const lines = text.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const lineNo = i + 1;
    let line = lines[i].replace(/^[ \t\f]+/, '');
    if (line === '' || line.startsWith('#') || line.startsWith('!')) continue;
    // an odd number of trailing backslashes: the value goes on on the next line
    while (/(^|[^\\])(\\\\)*\\$/.test(line) && i + 1 < lines.length) {
      line = line.slice(0, -1) + lines[++i].replace(/^[ \t\f]+/, '');
    }
    const m = /^([^=:\s]+)\s*[=:]\s*(.*)$/.exec(line) ?? /^([^=:\s]+)\s+(\S.*)$/.exec(line);
    if (!m) fail(`${file}:${lineNo}`, `expected key=value, got '${line.length > 60 ? `${line.slice(0, 60)}...` : line}'`);
    const raw = m[1];
    const value = m[2].replace(/\s+$/, '');
    const key = (ALIASES[raw] ?? raw) as Key;
    if (!(KAFKA_CONFIG_KEYS as readonly string[]).includes(key)) {
      fail(`${file}:${lineNo}`, `unknown key '${raw}'`, INSTEAD[raw] ?? KEYS_HINT);
    }
    const prev = out.get(key);
    if (prev) fail(`${file}:${lineNo}`, `'${raw}' is given twice (first at line ${prev.line})`);
    out.set(key, { value, line: lineNo });
  }
  return out;
}

/** `...LoginModule required username="u" password="p";` -> its module and options. */
function parseJaas(value: string, where: string): { module: string; username: string; password: string } {
  const m = /^\s*([A-Za-z0-9_.$]+)\s+(required|requisite|sufficient|optional)\s+(.*?);?\s*$/.exec(value);
  if (!m) fail(where, `sasl.jaas.config: expected 'org.apache.kafka.common.security.scram.ScramLoginModule required username="..." password="...";'`);
  const opts = new Map<string, string>();
  const re = /([A-Za-z0-9_.]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s";]+))\s*/gy;
  const rest = m[3];
  let at = 0;
  while (at < rest.length) {
    re.lastIndex = at;
    const o = re.exec(rest);
    if (!o) fail(where, `sasl.jaas.config: cannot read the options after '${m[1]} ${m[2]}' (expected name="value" ...)`);
    opts.set(o[1], o[2] !== undefined ? o[2].replace(/\\(.)/g, '$1') : o[3]);
    at = re.lastIndex;
  }
  const username = opts.get('username'), password = opts.get('password');
  if (username === undefined || password === undefined) fail(where, 'sasl.jaas.config: needs username="..." and password="..."');
  return { module: m[1], username, password };
}

/**
 * Parses a config file's text. `readFile` reads the PEM files it names (paths already resolved
 * against the config file's folder); it is a parameter for the unit tests.
 */
export function parseKafkaConfig(text: string, file: string, readFile: (path: string) => Buffer = (p) => readFileSync(p)): KafkaSecurity {
  const e = readEntries(text, file);
  const at = (k: Key) => `${file}:${e.get(k)!.line}`;

  const protoEntry = e.get('security.protocol');
  const protocol = (protoEntry?.value.toUpperCase() ?? 'PLAINTEXT') as SecurityProtocol;
  if (!PROTOCOLS.includes(protocol)) fail(at('security.protocol'), `security.protocol must be one of ${PROTOCOLS.join(', ')}, got '${protoEntry!.value}'`);
  const withTls = protocol === 'SSL' || protocol === 'SASL_SSL';
  const withSasl = protocol === 'SASL_PLAINTEXT' || protocol === 'SASL_SSL';

  // keys the protocol would ignore are refused: a user who wrote them expects them to apply
  for (const k of e.keys()) {
    if (!withTls && k.startsWith('ssl.')) fail(at(k), `${k} needs TLS, but security.protocol is ${protocol}`, 'set security.protocol=SSL or SASL_SSL');
    if (!withSasl && k.startsWith('sasl.')) fail(at(k), `${k} needs SASL, but security.protocol is ${protocol}`, 'set security.protocol=SASL_SSL (or SASL_PLAINTEXT)');
  }

  let sasl: KafkaSecurity['sasl'];
  if (withSasl) {
    const mech = e.get('sasl.mechanism');
    if (!mech) fail(file, `security.protocol=${protocol} needs sasl.mechanism (${MECHANISMS.join(', ')})`);
    const mechanism = mech.value.toUpperCase() as SaslMechanism;
    if (!MECHANISMS.includes(mechanism)) fail(at('sasl.mechanism'), `sasl.mechanism must be one of ${MECHANISMS.join(', ')}, got '${mech.value}'`);
    const jaas = e.get('sasl.jaas.config');
    let username: string | undefined, password: string | undefined;
    if (jaas) {
      for (const k of ['sasl.username', 'sasl.password'] as const) {
        if (e.has(k)) fail(at(k), `${k} and sasl.jaas.config are both given (line ${jaas.line}): keep one`);
      }
      const j = parseJaas(jaas.value, at('sasl.jaas.config'));
      const want = mechanism === 'PLAIN' ? 'PlainLoginModule' : 'ScramLoginModule';
      if (!j.module.endsWith(`.${want}`) && j.module !== want) {
        fail(at('sasl.jaas.config'), `sasl.jaas.config names ${j.module}, but sasl.mechanism=${mechanism} needs ...${want}`);
      }
      ({ username, password } = j);
    } else {
      username = e.get('sasl.username')?.value;
      password = e.get('sasl.password')?.value;
    }
    if (username === undefined || username === '') fail(file, `security.protocol=${protocol} needs sasl.username (or sasl.jaas.config)`);
    if (password === undefined || password === '') fail(file, `security.protocol=${protocol} needs sasl.password (or sasl.jaas.config)`);
    sasl = { mechanism, username, password };
  }

  let tls: ConnectionOptions | undefined;
  if (withTls) {
    tls = {};
    const pem = (k: Key, marker: RegExp, what: string): Buffer | undefined => {
      const entry = e.get(k);
      if (!entry) return undefined;
      if (entry.value === '') fail(at(k), `${k} is empty`);
      const path = resolve(dirname(resolve(file)), entry.value);
      let bytes: Buffer;
      try {
        bytes = readFile(path);
      } catch (err) {
        fail(at(k), `${k}: cannot read ${path} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`, 'relative paths are relative to the config file');
      }
      if (!marker.test(bytes.toString('latin1'))) fail(at(k), `${k}: ${path} is not a PEM ${what}`, `expected a '-----BEGIN ${what.toUpperCase()}-----' block`);
      return bytes;
    };
    const ca = pem('ssl.ca.location', /-----BEGIN CERTIFICATE-----/, 'certificate');
    const cert = pem('ssl.certificate.location', /-----BEGIN CERTIFICATE-----/, 'certificate');
    const key = pem('ssl.key.location', /-----BEGIN (?:[A-Z ]+ )?PRIVATE KEY-----/, 'private key');
    if (ca) tls.ca = ca;
    if ((cert === undefined) !== (key === undefined)) {
      const given: Key = cert ? 'ssl.certificate.location' : 'ssl.key.location';
      fail(at(given), `${given} needs ${cert ? 'ssl.key.location' : 'ssl.certificate.location'} too (mTLS takes both)`);
    }
    if (cert && key) { tls.cert = cert; tls.key = key; }
    const pass = e.get('ssl.key.password');
    if (pass) {
      if (!key) fail(at('ssl.key.password'), 'ssl.key.password without ssl.key.location');
      tls.passphrase = pass.value;
    }
    const ident = e.get('ssl.endpoint.identification.algorithm');
    if (ident) {
      const v = ident.value.toLowerCase();
      if (v === 'none' || v === '') tls.checkServerIdentity = () => undefined; // the chain is still verified
      else if (v !== 'https') fail(at('ssl.endpoint.identification.algorithm'), `ssl.endpoint.identification.algorithm must be https or none, got '${ident.value}'`);
    }
  }
  return { file, protocol, ...(tls ? { tls } : {}), ...(sasl ? { sasl } : {}) };
}

/** Reads and parses the config file `file`. */
export function loadKafkaConfig(file: string): KafkaSecurity {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new IntstreamError('USAGE', `Kafka config ${file}: cannot read it (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`, `--kafka-config FILE (or ${KAFKA_CONFIG_ENV}) names a client config file (docs/contracts.md)`);
  }
  return parseKafkaConfig(text, file);
}

let cached: { file: string; security: KafkaSecurity } | undefined;

/**
 * The security every Kafka client of this process uses: the config file named by
 * INTSTREAM_KAFKA_CONFIG, read once (again only when the variable names another file), or null
 * (plaintext, no authentication) when it is unset or empty.
 */
export function kafkaSecurity(): KafkaSecurity | null {
  const file = process.env[KAFKA_CONFIG_ENV];
  if (file === undefined || file === '') return null;
  if (cached?.file !== file) cached = { file, security: loadKafkaConfig(file) };
  return cached.security;
}

/** What kafkaSecurity() last loaded for the current INTSTREAM_KAFKA_CONFIG, without reading. */
export function loadedKafkaSecurity(): KafkaSecurity | null {
  const file = process.env[KAFKA_CONFIG_ENV];
  return file && cached?.file === file ? cached.security : null;
}
