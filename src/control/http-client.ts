/**
 * Calls to the runtime's HTTP API with the bearer token (agents, GSP workers, operator verbs).
 * Work is only ever pulled from the one runtime URL a process was started with.
 */
import { IntstreamError } from '../errors.ts';

export class RuntimeClient {
  readonly base: string;
  private readonly token: string | undefined;

  constructor(url: string, token?: string) {
    this.base = url.replace(/\/+$/, '');
    this.token = token;
  }

  /** The authorization header, for requests made outside call() (event streams). */
  headers(): Record<string, string> {
    return this.token ? { authorization: `Bearer ${this.token}` } : {};
  }

  async call<T = any>(method: string, path: string, body?: unknown): Promise<T> {
    let res: Response;
    try {
      res = await fetch(`${this.base}/api/v1${path}`, {
        method,
        headers: {
          ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
          ...(this.token ? { authorization: `Bearer ${this.token}` } : {}),
        },
        body: body !== undefined ? JSON.stringify(body) : undefined,
        signal: AbortSignal.timeout(10_000),
      });
    } catch (e) {
      throw new IntstreamError('TRANSPORT', `runtime ${this.base}: ${(e as Error).message}`, 'start one with: intstream runtime --kafka HOST:PORT');
    }
    const text = await res.text();
    let data: any;
    try { data = text ? JSON.parse(text) : undefined; } catch { data = undefined; }
    if (!res.ok) {
      const code = res.status === 404 ? 'TASK_NOT_FOUND' : res.status < 500 ? 'USAGE' : 'TRANSPORT';
      throw new IntstreamError(code, `runtime ${method} ${path}: ${res.status} ${data?.message ?? text}`);
    }
    return data as T;
  }
}

/** CPU share (0..cores) since the previous call and resident memory, for heartbeats. */
export function processLoad(): () => { cpu: number; rss_bytes: number } {
  let last = process.cpuUsage(), lastT = performance.now();
  return () => {
    const now = process.cpuUsage(), t = performance.now();
    const cpu = ((now.user - last.user + now.system - last.system) / 1000) / Math.max(1, t - lastT);
    last = now; lastT = t;
    return { cpu: +cpu.toFixed(3), rss_bytes: process.memoryUsage.rss() };
  };
}
