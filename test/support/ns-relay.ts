/**
 * Makes TCP services on the root namespace's loopback (the runtime, the Kafka broker) answer on
 * the same 127.0.0.1 ports inside a test's network namespace, so that an agent started there
 * with `ip netns exec` (capturing on the namespace's veth) talks to them unchanged. Each port is
 * relayed through a Unix socket, which network namespaces do not separate: no packet leaves a
 * loopback interface and no address outside the test's namespaces is used.
 *
 *   root ns: 127.0.0.1:PORT  <-  unix DIR/PORT.sock  <-  ns: 127.0.0.1:PORT  <-  agent
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** The namespace side: listens on 127.0.0.1:PORT for each port, forwards to DIR/PORT.sock. Run as a child. */
const NS_SIDE = `
const net = require('node:net');
const [dir, ...ports] = process.argv.slice(1);
let up = 0;
for (const port of ports) {
  net.createServer((c) => {
    const u = net.connect(dir + '/' + port + '.sock');
    c.pipe(u).pipe(c);
    c.on('error', () => u.destroy()); u.on('error', () => c.destroy());
  }).listen(Number(port), '127.0.0.1', () => { if (++up === ports.length) process.stdout.write('ready\\n'); });
}
`;

export interface NsRelay { close(): void }

function pipeBoth(a: Socket, b: Socket): void {
  a.pipe(b).pipe(a);
  a.on('error', () => b.destroy());
  b.on('error', () => a.destroy());
}

export async function relayIntoNamespace(ns: string, ports: number[]): Promise<NsRelay> {
  const dir = mkdtempSync(join(tmpdir(), 'intstream-relay-'));
  const servers: Server[] = [];
  for (const port of ports) {
    const s = createServer((c) => pipeBoth(c, connect(port, '127.0.0.1')));
    await new Promise<void>((res, rej) => { s.once('error', rej); s.listen(join(dir, `${port}.sock`), () => res()); });
    servers.push(s);
  }
  const child: ChildProcess = spawn('ip', ['netns', 'exec', ns, process.execPath, '-e', NS_SIDE, dir, ...ports.map(String)], { stdio: ['ignore', 'pipe', 'pipe'] });
  let err = '';
  child.stderr!.on('data', (d) => { err += d; });
  const kill = () => { if (child.exitCode === null) child.kill('SIGKILL'); };
  process.on('exit', kill);
  await new Promise<void>((res, rej) => {
    child.stdout!.once('data', () => res());
    child.once('exit', (code) => rej(new Error(`relay into ${ns} exited ${code}: ${err}`)));
  });
  return {
    close() {
      kill();
      process.off('exit', kill);
      for (const s of servers) s.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
