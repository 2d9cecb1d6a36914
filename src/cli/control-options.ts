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
