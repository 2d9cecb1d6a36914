/** Options shared by the distributed commands: the runtime URL, the token, TLS to the runtime. */
import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { IntstreamError } from '../errors.ts';
import type { ClientTls } from '../control/http-client.ts';

export const DEFAULT_RUNTIME = 'http://127.0.0.1:7070';

export function runtimeUrl(o: { runtime?: string }): string {
  return o.runtime ?? process.env.INTSTREAM_RUNTIME ?? DEFAULT_RUNTIME;
}

export function token(o: { token?: string }, required: boolean): string | undefined {
  const t = o.token ?? process.env.INTSTREAM_TOKEN;
  if (required && !t) throw new IntstreamError('USAGE', 'no token: pass --token T or set INTSTREAM_TOKEN');
  return t;
}

/** --ca, --cert and --key for the commands that call the runtime. */
export function withClientTls(c: Command): Command {
  return c
    .option('--ca <file>', "PEM CA the runtime's certificate must chain to (default $INTSTREAM_CA)")
    .option('--cert <file>', 'PEM client certificate, for a runtime that requires mutual TLS (default $INTSTREAM_CERT)')
    .option('--key <file>', 'PEM key of --cert (default $INTSTREAM_KEY)');
}

function readPem(file: string, what: string): Buffer {
  try { return readFileSync(file); } catch (e) {
    throw new IntstreamError('USAGE', `${what} ${file}: cannot read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
}

/** The TLS settings of --ca/--cert/--key (or INTSTREAM_CA/_CERT/_KEY); warns about a token sent in clear. */
export function clientTls(o: { ca?: string; cert?: string; key?: string }, url: string): ClientTls {
  const ca = o.ca ?? process.env.INTSTREAM_CA;
  const cert = o.cert ?? process.env.INTSTREAM_CERT;
  const key = o.key ?? process.env.INTSTREAM_KEY;
  if ((cert === undefined) !== (key === undefined)) throw new IntstreamError('USAGE', '--cert and --key go together');
  let u: URL | null = null;
  try { u = new URL(url); } catch { /* RuntimeClient says so */ }
  if (u && u.protocol === 'http:' && !/^(127\.\d+\.\d+\.\d+|localhost|\[::1\])$/.test(u.hostname)) {
    process.stderr.write(`intstream: warning: ${url} is plain HTTP to another host: the token travels in clear and the runtime is not verified; serve it over HTTPS (intstream runtime --tls-cert/--tls-key) and give its CA with --ca\n`);
  }
  return {
    ...(ca ? { ca: readPem(ca, '--ca') } : {}),
    ...(cert ? { cert: readPem(cert, '--cert') } : {}),
    ...(key ? { key: readPem(key, '--key') } : {}),
  };
}

/** Resolves on SIGINT or SIGTERM (long-running commands stop cleanly on either). */
export function untilSignal(): Promise<string> {
  return new Promise((r) => {
    process.once('SIGINT', () => r('SIGINT'));
    process.once('SIGTERM', () => r('SIGTERM'));
  });
}

/**
 * A service's life after start: waits for SIGINT or SIGTERM, then stops it. The stop is bounded:
 * after `graceMs`, or on a second signal, the process exits at once (status 1, with a line
 * saying so), so that a service whose broker or clients hang still ends when asked. Once
 * stopped, any handle a library left open (a client's reconnect timer) cannot keep it alive.
 */
export async function serveUntilSignal(name: string, stop: () => Promise<void>, graceMs = 5000): Promise<void> {
  const sig = await untilSignal();
  const force = (why: string) => () => {
    process.stderr.write(`intstream ${name}: ${why}; exiting now\n`);
    process.exit(1);
  };
  process.once('SIGINT', force('second signal'));
  process.once('SIGTERM', force('second signal'));
  setTimeout(force(`not stopped ${graceMs / 1000} s after ${sig}`), graceMs).unref();
  await stop();
  setTimeout(() => process.exit(process.exitCode ?? 0), 200).unref();
}
