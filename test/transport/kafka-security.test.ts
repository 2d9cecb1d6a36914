/**
 * The Kafka client config file (src/transport/kafka-security.ts): what a good file gives the
 * clients (TLS options with the PEM bytes of the files it names, SASL credentials, also from a
 * Java sasl.jaas.config line), and that every mistake is a USAGE error naming FILE:LINE and the
 * key. ssl.endpoint.identification.algorithm is checked against a real TLS server whose
 * certificate (made with openssl) names another host: https refuses it, none accepts it.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, createServer, type ConnectionOptions } from 'node:tls';
import { after, before, describe, test } from 'node:test';
import { IntstreamError } from '../../src/errors.ts';
import { KAFKA_CONFIG_ENV, kafkaSecurity, loadKafkaConfig, parseKafkaConfig } from '../../src/transport/kafka-security.ts';

const CERT = '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n';
const KEY = '-----BEGIN PRIVATE KEY-----\nMIIE\n-----END PRIVATE KEY-----\n';
/** A fake file system for the PEM files: path -> text. */
function files(map: Record<string, string>) {
  return (p: string): Buffer => {
    if (!(p in map)) throw Object.assign(new Error(`ENOENT: ${p}`), { code: 'ENOENT' });
    return Buffer.from(map[p]);
  };
}
const FS = files({ '/etc/k/ca.pem': CERT, '/etc/k/client.pem': CERT, '/etc/k/client.key': KEY, '/etc/k/notpem.txt': 'hello' });

/** The IntstreamError `fn` throws (fails when it does not throw one). */
function err(fn: () => unknown): IntstreamError {
  try {
    fn();
  } catch (e) {
    assert.ok(e instanceof IntstreamError, `expected an IntstreamError, got ${String(e)}`);
    return e;
  }
  assert.fail('expected an error');
}
const parse = (text: string) => parseKafkaConfig(text, '/etc/k/client.properties', FS);

describe('Kafka client config: a good file', () => {
  test('SASL_SSL with SCRAM: credentials, CA bytes from the file (relative to the config file), host name checked', () => {
    const s = parse([
      '# a comment', '! another', '',
      'security.protocol = SASL_SSL',
      'sasl.mechanism: SCRAM-SHA-512',
      'sasl.username=alice',
      'sasl.password=p=ss:word with spaces  ',
      'ssl.ca.location=ca.pem',
    ].join('\n'));
    assert.equal(s.protocol, 'SASL_SSL');
    assert.deepEqual(s.sasl, { mechanism: 'SCRAM-SHA-512', username: 'alice', password: 'p=ss:word with spaces' });
    assert.equal(s.tls?.ca?.toString(), CERT);
    assert.equal(s.tls?.checkServerIdentity, undefined, 'https (the default) keeps Node\'s host name check');
  });

  test('librdkafka spellings and case: sasl.mechanisms, lower-case values; a continued line', () => {
    const s = parse('security.protocol=sasl_ssl\nsasl.mechanisms=scram-sha-256\nsasl.username=bo\\\n  b\nsasl.password=x');
    assert.deepEqual(s.sasl, { mechanism: 'SCRAM-SHA-256', username: 'bob', password: 'x' });
  });

  test('Java sasl.jaas.config gives the user and password', () => {
    const s = parse('security.protocol=SASL_PLAINTEXT\nsasl.mechanism=SCRAM-SHA-256\n' +
      'sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required username="svc" password="a \\"quoted\\" pw";');
    assert.deepEqual(s.sasl, { mechanism: 'SCRAM-SHA-256', username: 'svc', password: 'a "quoted" pw' });
    assert.equal(s.tls, undefined, 'SASL_PLAINTEXT: no TLS');
  });

  test('SSL with a client certificate (mTLS), no SASL', () => {
    const s = parse('security.protocol=SSL\nssl.certificate.location=/etc/k/client.pem\nssl.key.location=client.key\nssl.key.password=kp');
    assert.equal(s.sasl, undefined);
    assert.equal(s.tls?.cert?.toString(), CERT);
    assert.equal(s.tls?.key?.toString(), KEY);
    assert.equal(s.tls?.passphrase, 'kp');
    assert.equal(s.tls?.ca, undefined, 'no ssl.ca.location: Node\'s built-in CAs');
  });

  test('an empty file is plaintext', () => {
    assert.deepEqual(parse('# nothing\n'), { file: '/etc/k/client.properties', protocol: 'PLAINTEXT' });
  });
});

describe('Kafka client config: each mistake names FILE:LINE and the key', () => {
  const cases: [string, string, RegExp][] = [
    ['a misspelt key', 'security.protocol=SASL_SSL\nsasl.mechanism=PLAIN\nsasl.usernme=x', /client\.properties:3: unknown key 'sasl\.usernme'/],
    ['a Java truststore key (with what to write instead)', 'security.protocol=SSL\nssl.truststore.location=/x.jks', /client\.properties:2: unknown key 'ssl\.truststore\.location'/],
    ['a key given twice', 'security.protocol=SSL\n\nsecurity.protocol=SASL_SSL', /client\.properties:3: 'security\.protocol' is given twice \(first at line 1\)/],
    ['a line without =', 'security.protocol=SSL\njunk', /client\.properties:2: expected key=value, got 'junk'/],
    ['a bad protocol', 'security.protocol=TLS', /client\.properties:1: security\.protocol must be one of PLAINTEXT, SSL, SASL_PLAINTEXT, SASL_SSL, got 'TLS'/],
    ['a bad mechanism', 'security.protocol=SASL_SSL\nsasl.mechanism=GSSAPI\nsasl.username=a\nsasl.password=b', /client\.properties:2: sasl\.mechanism must be one of .*got 'GSSAPI'/],
    ['SASL without a mechanism', 'security.protocol=SASL_SSL\nsasl.username=a\nsasl.password=b', /client\.properties: security\.protocol=SASL_SSL needs sasl\.mechanism/],
    ['SASL without a password', 'security.protocol=SASL_SSL\nsasl.mechanism=PLAIN\nsasl.username=a', /client\.properties: security\.protocol=SASL_SSL needs sasl\.password/],
    ['sasl.* that plaintext would ignore', 'sasl.username=a', /client\.properties:1: sasl\.username needs SASL, but security\.protocol is PLAINTEXT/],
    ['ssl.* that SASL_PLAINTEXT would ignore', 'security.protocol=SASL_PLAINTEXT\nsasl.mechanism=PLAIN\nsasl.username=a\nsasl.password=b\nssl.ca.location=ca.pem', /client\.properties:5: ssl\.ca\.location needs TLS, but security\.protocol is SASL_PLAINTEXT/],
    ['a CA file that does not exist', 'security.protocol=SSL\nssl.ca.location=nope.pem', /client\.properties:2: ssl\.ca\.location: cannot read \/etc\/k\/nope\.pem \(ENOENT\)/],
    ['a CA file that is not PEM', 'security.protocol=SSL\nssl.ca.location=notpem.txt', /client\.properties:2: ssl\.ca\.location: \/etc\/k\/notpem\.txt is not a PEM certificate/],
    ['a certificate without its key', 'security.protocol=SSL\nssl.certificate.location=client.pem', /client\.properties:2: ssl\.certificate\.location needs ssl\.key\.location too/],
    ['a bad endpoint identification', 'security.protocol=SSL\nssl.endpoint.identification.algorithm=strict', /client\.properties:2: ssl\.endpoint\.identification\.algorithm must be https or none, got 'strict'/],
    ['jaas and sasl.username both', 'security.protocol=SASL_SSL\nsasl.mechanism=PLAIN\nsasl.username=a\nsasl.jaas.config=x.PlainLoginModule required username="a" password="b";', /client\.properties:3: sasl\.username and sasl\.jaas\.config are both given \(line 4\)/],
    ['a jaas module of another mechanism', 'security.protocol=SASL_SSL\nsasl.mechanism=SCRAM-SHA-256\nsasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required username="a" password="b";', /client\.properties:3: sasl\.jaas\.config names .*PlainLoginModule, but sasl\.mechanism=SCRAM-SHA-256 needs \.\.\.ScramLoginModule/],
  ];
  for (const [name, text, re] of cases) {
    test(name, () => {
      const e = err(() => parse(text));
      assert.equal(e.code, 'USAGE');
      assert.match(e.message, /^Kafka config \/etc\/k\/client\.properties/);
      assert.match(e.message, re);
      assert.ok(e.hint, 'a hint says what to do');
    });
  }

  test('a config file that cannot be read', () => {
    const e = err(() => loadKafkaConfig('/nonexistent/kafka.properties'));
    assert.equal(e.code, 'USAGE');
    assert.match(e.message, /^Kafka config \/nonexistent\/kafka\.properties: cannot read it \(ENOENT\)/);
  });
});

describe('INTSTREAM_KAFKA_CONFIG', () => {
  let dir: string;
  const saved = process.env[KAFKA_CONFIG_ENV];
  before(() => { dir = mkdtempSync(join(tmpdir(), 'intstream-kcfg-')); });
  after(() => {
    if (saved === undefined) delete process.env[KAFKA_CONFIG_ENV]; else process.env[KAFKA_CONFIG_ENV] = saved;
    rmSync(dir, { recursive: true, force: true });
  });

  test('unset: plaintext; set: the file, read once; another file: read again', () => {
    delete process.env[KAFKA_CONFIG_ENV];
    assert.equal(kafkaSecurity(), null);
    const a = join(dir, 'a.properties'), b = join(dir, 'b.properties');
    writeFileSync(a, 'security.protocol=SASL_PLAINTEXT\nsasl.mechanism=PLAIN\nsasl.username=ua\nsasl.password=pa\n');
    writeFileSync(b, 'security.protocol=SASL_PLAINTEXT\nsasl.mechanism=PLAIN\nsasl.username=ub\nsasl.password=pb\n');
    process.env[KAFKA_CONFIG_ENV] = a;
    const first = kafkaSecurity();
    assert.equal(first?.sasl?.username, 'ua');
    writeFileSync(a, 'broken');
    assert.equal(kafkaSecurity(), first, 'read once: a later change of the file is not seen');
    process.env[KAFKA_CONFIG_ENV] = b;
    assert.equal(kafkaSecurity()?.sasl?.username, 'ub');
  });
});

// ---- ssl.endpoint.identification.algorithm against a real TLS server --------------------------

function openssl(dir: string): string | false {
  if (spawnSync('openssl', ['version']).status !== 0) return 'openssl not installed';
  const run = (args: string[]) => {
    const r = spawnSync('openssl', args, { cwd: dir, encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`openssl ${args.join(' ')}: ${r.stderr}`);
  };
  run(['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '2', '-keyout', 'ca.key', '-out', 'ca.pem', '-subj', '/CN=test CA',
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign']);
  run(['req', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'srv.key', '-out', 'srv.csr', '-subj', '/CN=elsewhere.example']);
  writeFileSync(join(dir, 'ext.cnf'), 'subjectAltName=DNS:elsewhere.example\n');
  run(['x509', '-req', '-days', '2', '-in', 'srv.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-extfile', 'ext.cnf', '-out', 'srv.pem']);
  return false;
}

/** Connects to 127.0.0.1:port with `tls`; resolves 'ok' or the error code. */
function tryTls(port: number, tls: ConnectionOptions): Promise<string> {
  return new Promise((res) => {
    const s = connect(port, '127.0.0.1', tls, () => { s.end(); res('ok'); });
    s.once('error', (e: NodeJS.ErrnoException) => res(e.code ?? e.message));
  });
}

describe('ssl.endpoint.identification.algorithm with a certificate for another host', () => {
  const dir = mkdtempSync(join(tmpdir(), 'intstream-kcfg-tls-'));
  const skip = openssl(dir);
  let server: ReturnType<typeof createServer> | undefined;
  let port = 0;
  before(async () => {
    if (skip) return;
    server = createServer({ key: readFileSync(join(dir, 'srv.key')), cert: readFileSync(join(dir, 'srv.pem')) }, (s) => s.end());
    await new Promise<void>((r) => server!.listen(0, '127.0.0.1', r));
    port = (server.address() as { port: number }).port;
  });
  after(async () => {
    await new Promise<void>((r) => (server ? server.close(() => r()) : r()));
    rmSync(dir, { recursive: true, force: true });
  });
  const cfg = (ident: string) => parseKafkaConfig(`security.protocol=SSL\nssl.ca.location=ca.pem\n${ident}`, join(dir, 'k.properties'));

  test('https (default): refused, the name does not match', { skip }, async () => {
    assert.equal(await tryTls(port, cfg('').tls!), 'ERR_TLS_CERT_ALTNAME_INVALID');
    assert.equal(await tryTls(port, cfg('ssl.endpoint.identification.algorithm=https').tls!), 'ERR_TLS_CERT_ALTNAME_INVALID');
  });
  test('none: accepted (the chain is still verified: another CA is refused)', { skip }, async () => {
    assert.equal(await tryTls(port, cfg('ssl.endpoint.identification.algorithm=none').tls!), 'ok');
    const other = { ...cfg('ssl.endpoint.identification.algorithm=none').tls!, ca: undefined };
    assert.notEqual(await tryTls(port, other), 'ok');
  });
});
