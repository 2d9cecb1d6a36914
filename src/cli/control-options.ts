/** Options shared by the distributed commands: the runtime URL and the token. */
import { IntstreamError } from '../errors.ts';

export const DEFAULT_RUNTIME = 'http://127.0.0.1:7070';

export function runtimeUrl(o: { runtime?: string }): string {
  return o.runtime ?? process.env.INTSTREAM_RUNTIME ?? DEFAULT_RUNTIME;
}

export function token(o: { token?: string }, required: boolean): string | undefined {
  const t = o.token ?? process.env.INTSTREAM_TOKEN;
  if (required && !t) throw new IntstreamError('USAGE', 'no token: pass --token T or set INTSTREAM_TOKEN');
  return t;
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
