/**
 * Calls to the runtime's HTTP API with a bearer token (agents, GSP workers, operator verbs).
 * Work is only ever pulled from the one runtime URL a process was started with.
 *
 * Over https:// the runtime's certificate is checked: against `tls.ca` when given (only that CA
 * is trusted then), else against the system's CAs; a runtime that cannot prove it holds a
 * certificate for the URL's host gets no request, so no token. `tls.cert` and `tls.key` are this
 * client's own certificate, for a runtime that requires mutual TLS.
 */
import type { IncomingMessage } from 'node:http';
import { createRequire } from 'node:module';
import { IntstreamError } from '../errors.ts';

export interface ClientTls {
  /** PEM: the CA(s) the runtime's certificate must chain to. */
  ca?: string | Buffer;
  /** PEM: this client's certificate and key (mutual TLS). */
  cert?: string | Buffer;
  key?: string | Buffer;
}

// node:http and node:https (with TLS) load on the first call, not when a command module is
// imported: every command's start-up (`intstream run`, `--version`) would pay for them.
const load = createRequire(import.meta.url);
let httpMod: typeof import('node:http') | undefined;
let httpsMod: typeof import('node:https') | undefined;
const nodeHttp = () => (httpMod ??= load('node:http') as typeof import('node:http'));
const nodeHttps = () => (httpsMod ??= load('node:https') as typeof import('node:https'));

export class RuntimeClient {
  readonly base: string;
  private readonly token: string | undefined;
  private readonly tls: ClientTls;

  constructor(url: string, token?: string, tls: ClientTls = {}) {
    this.base = url.replace(/\/+$/, '');
    this.token = token;
    this.tls = tls;
    let u: URL;
    try { u = new URL(this.base); } catch { throw new IntstreamError('USAGE', `runtime URL ${url}: not a URL`, 'e.g. https://runtime.example:7070'); }
    if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new IntstreamError('USAGE', `runtime URL ${url}: not http:// or https://`);
    if (u.protocol === 'http:' && (tls.ca || tls.cert)) throw new IntstreamError('USAGE', `runtime URL ${url}: a CA or client certificate needs an https:// URL`);
  }

  /** The authorization header, for requests made outside call(). */
  headers(): Record<string, string> {
    return this.token ? { authorization: `Bearer ${this.token}` } : {};
  }

  /** Sends one request; resolves with the response (its body not read yet). */
  open(method: string, path: string, body?: unknown, opts: { timeoutMs?: number; signal?: AbortSignal; accept?: string } = {}): Promise<IncomingMessage> {
    const url = new URL(`${this.base}/api/v1${path}`);
    const data = body !== undefined ? Buffer.from(JSON.stringify(body)) : undefined;
    const https = url.protocol === 'https:';
    return new Promise((resolve, reject) => {
      const req = (https ? nodeHttps() : nodeHttp()).request(url, {
        method,
        headers: {
          accept: opts.accept ?? 'application/json',
          ...(data ? { 'content-type': 'application/json', 'content-length': String(data.length) } : {}),
          ...this.headers(),
        },
        ...(https ? { ca: this.tls.ca, cert: this.tls.cert, key: this.tls.key, rejectUnauthorized: true } : {}),
        signal: opts.signal,
        timeout: opts.timeoutMs,
      }, resolve);
      req.once('timeout', () => req.destroy(new Error(`no answer within ${(opts.timeoutMs ?? 0) / 1000} s`)));
      req.once('error', (e) => reject(new IntstreamError('TRANSPORT', `runtime ${this.base}: ${describe(e)}`, 'start one with: intstream runtime --kafka HOST:PORT')));
      req.end(data);
    });
  }

  async call<T = any>(method: string, path: string, body?: unknown): Promise<T> {
    const res = await this.open(method, path, body, { timeoutMs: 10_000 });
    const chunks: Buffer[] = [];
    try {
      for await (const c of res) chunks.push(c as Buffer);
    } catch (e) {
      throw new IntstreamError('TRANSPORT', `runtime ${this.base}: ${describe(e as Error)}`);
    }
    const text = Buffer.concat(chunks).toString('utf8');
    let data: any;
    try { data = text ? JSON.parse(text) : undefined; } catch { data = undefined; }
    const status = res.statusCode ?? 0;
    if (status < 200 || status >= 300) {
      const code = status === 404 ? 'TASK_NOT_FOUND' : status < 500 ? 'USAGE' : 'TRANSPORT';
      throw new IntstreamError(code, `runtime ${method} ${path}: ${status} ${data?.message ?? text}`, data?.hint);
    }
    return data as T;
  }
}

/** A connection error in words, with what to do about a certificate the client does not trust. */
function describe(e: Error & { code?: string }): string {
  const tlsCodes = /CERT|SELF_SIGNED|UNABLE_TO_VERIFY|ERR_TLS|EPROTO|HOSTNAME|ALTNAME/;
  if (e.code && tlsCodes.test(e.code)) return `${e.message} (${e.code}): the runtime's certificate is not trusted; give its CA with --ca FILE (or INTSTREAM_CA)`;
  return e.message;
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
