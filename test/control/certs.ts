/**
 * Throwaway certificates for TLS tests, made with the openssl command line in a temporary folder:
 * a CA, a server certificate for 127.0.0.1 and localhost signed by it, a client certificate
 * signed by it, and an impostor: a server certificate for the same names from another CA.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface TestCerts {
  dir: string;
  ca: string;
  serverCert: string;
  serverKey: string;
  clientCert: string;
  clientKey: string;
  /** Another CA's certificate for 127.0.0.1 (and its key): what an impostor could present. */
  rogueCert: string;
  rogueKey: string;
}

export function opensslAvailable(): boolean {
  return spawnSync('openssl', ['version']).status === 0;
}

function openssl(dir: string, args: string[]): void {
  execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
}

function makeCa(dir: string, name: string): void {
  openssl(dir, ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', `${name}.key`, '-out', `${name}.pem`,
    '-days', '2', '-subj', `/CN=${name}`, '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign']);
}

function issue(dir: string, ca: string, name: string, cn: string, ext: string): void {
  writeFileSync(join(dir, `${name}.ext`), ext);
  openssl(dir, ['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${cn}`]);
  openssl(dir, ['x509', '-req', '-in', `${name}.csr`, '-CA', `${ca}.pem`, '-CAkey', `${ca}.key`, '-CAcreateserial', '-out', `${name}.pem`, '-days', '2', '-extfile', `${name}.ext`]);
}

export function makeCerts(): TestCerts {
  const dir = mkdtempSync(join(tmpdir(), 'intstream-certs-'));
  const server = 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\nkeyUsage=critical,digitalSignature\n';
  makeCa(dir, 'ca');
  issue(dir, 'ca', 'server', '127.0.0.1', server);
  issue(dir, 'ca', 'client', 'intstream-client', 'extendedKeyUsage=clientAuth\nkeyUsage=critical,digitalSignature\n');
  makeCa(dir, 'rogue-ca');
  issue(dir, 'rogue-ca', 'rogue', '127.0.0.1', server);
  const f = (n: string) => join(dir, n);
  return {
    dir, ca: f('ca.pem'), serverCert: f('server.pem'), serverKey: f('server.key'), clientCert: f('client.pem'), clientKey: f('client.key'),
    rogueCert: f('rogue.pem'), rogueKey: f('rogue.key'),
  };
}
