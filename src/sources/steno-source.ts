/**
 * `steno:https://HOST:PORT?query=Q&since=T&until=T&cert=FILE&key=FILE&ca=FILE` — packets
 * fetched from a Stenographer server (github.com/google/stenographer), the packet-to-disk
 * store the paper's deployment read mirrored switch traffic from.
 *
 * Stenographer's query API (what its own `stenocurl`/`stenoread` do): an HTTPS POST to
 * `/query` whose body is a query in its BPF subset (`host 1.2.3.4`, `net 10.0.0.0/8`,
 * `port 80`, `ip proto 6`, `tcp`, `udp`, `icmp`, joined with and/or, plus `after T` /
 * `before T` with RFC 3339 times or `Nm ago`/`Nh ago`), authenticated both ways with TLS
 * certificates (the server's CA, and a client certificate signed by it: stenokeys.sh makes
 * both). The answer is one classic pcap stream, read here as it arrives by the capture-file
 * reader.
 *
 * Spec: `query` defaults to every packet (Stenographer needs a non-empty query: `ip or not
 * ip` is not in its language, so the default is `after 1970-01-01T00:00:00Z`); `since`/`until`
 * add `after`/`before` (RFC 3339, seconds since the epoch, or `30m ago`); `cert`, `key`, `ca`
 * are PEM files; `insecure=1` skips the server name check (the CA check stays). The certificate
 * stenokeys.sh makes names the server in its CN only, which is accepted when it equals the host.
 *
 * Stenographer merges packets from its per-thread files, so times may step back a little:
 * the source asks for 10 s of lateness unless --lateness says otherwise.
 */
import { readFileSync } from 'node:fs';
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { checkServerIdentity, type PeerCertificate } from 'node:tls';
import { IntstreamError } from '../errors.ts';
import { streamInput } from './byte-input.ts';
import { CaptureFileSource } from './capture-file-source.ts';
import type { PacketBatch } from './packet-batch.ts';
import { SkipCounters } from '../decode/skip-counters.ts';
import type { PacketSource, SourceSetup, SourceStatus, SourceTraits } from './source.ts';

export interface StenoOptions {
  url: URL;
  query: string;
  cert?: Buffer;
  key?: Buffer;
  ca?: Buffer;
  insecure: boolean;
}

/** A time for Stenographer's `after`/`before`: RFC 3339, epoch seconds, or `N[mh] ago`. */
export function stenoTime(v: string, spec: string): string {
  if (/^\d+(\.\d+)?$/.test(v)) return new Date(Number(v) * 1000).toISOString().replace(/\.\d+Z$/, 'Z');
  if (/^\d+[mh] ago$/.test(v)) return v;
  if (/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$/.test(v)) return v;
  throw new IntstreamError('SOURCE_SPEC', `--source ${spec}: time '${v}' is not RFC 3339, epoch seconds or 'N[m|h] ago'`, 'e.g. since=2024-05-01T10:00:00Z&until=30m ago');
}

/** The query text sent to Stenographer for the spec's query, since and until. */
export function stenoQuery(query: string | null, since: string | null, until: string | null, spec: string): string {
  const parts: string[] = [];
  if (query && query.trim()) parts.push(`(${query.trim()})`);
  if (since) parts.push(`after ${stenoTime(since, spec)}`);
  if (until) parts.push(`before ${stenoTime(until, spec)}`);
  if (parts.length === 0) parts.push('after 1970-01-01T00:00:00Z');
  return parts.join(' and ');
}

export function parseStenoSpec(spec: string, rest: string): StenoOptions {
  let url: URL;
  try { url = new URL(rest); } catch {
    throw new IntstreamError('SOURCE_SPEC', `--source ${spec}: not a URL`, 'e.g. steno:https://127.0.0.1:1234?query=tcp&since=1h ago&cert=client_cert.pem&key=client_key.pem&ca=ca_cert.pem');
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new IntstreamError('SOURCE_SPEC', `--source ${spec}: expected an https:// URL`);
  const p = url.searchParams;
  const file = (k: string): Buffer | undefined => {
    const f = p.get(k);
    if (!f) return undefined;
    try { return readFileSync(f); } catch (e) {
      throw new IntstreamError('SOURCE_SPEC', `--source ${spec}: ${k}=${f}: cannot read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
    }
  };
  for (const k of p.keys()) {
    if (!['query', 'since', 'until', 'cert', 'key', 'ca', 'insecure'].includes(k)) {
      throw new IntstreamError('SOURCE_SPEC', `--source ${spec}: unknown option '${k}'`, 'options: query, since, until, cert, key, ca, insecure');
    }
  }
  const o: StenoOptions = {
    url: new URL('/query', url), query: stenoQuery(p.get('query'), p.get('since'), p.get('until'), spec),
    cert: file('cert'), key: file('key'), ca: file('ca'), insecure: p.get('insecure') === '1',
  };
  return o;
}

export class StenoSource implements PacketSource {
  readonly name: string;
  readonly warnings: string[] = [];
  readonly options: StenoOptions;
  /** A capture file over HTTP(S): its parser takes the raw pre-filter; 10 s lateness (see the top). */
  readonly traits: SourceTraits = { items: 'packets', lateness: 10, decode: null, pushdown: 'parser' };
  private inner: CaptureFileSource | null = null;
  private res: IncomingMessage | null = null;
  private readonly noSkips = new SkipCounters();

  constructor(name: string, options: StenoOptions) {
    this.name = name;
    this.options = options;
  }

  get skipped(): SkipCounters { return this.inner?.skipped ?? this.noSkips; }

  async open(setup?: SourceSetup): Promise<void> {
    const o = this.options;
    const body = Buffer.from(o.query);
    const where = `${o.url.protocol}//${o.url.host}`;
    const res = await new Promise<IncomingMessage>((resolve, reject) => {
      const opts = {
        method: 'POST', headers: { 'Content-Type': 'text/plain', 'Content-Length': body.length },
        cert: o.cert, key: o.key, ca: o.ca, rejectUnauthorized: true,
        // stenokeys.sh names the server in the certificate's CN only (no subjectAltName), which
        // Node refuses for an IP address: accept a CN equal to the host, as curl does.
        checkServerIdentity: (host: string, cert: PeerCertificate) => o.insecure ? undefined
          : cert.subjectaltname ? checkServerIdentity(host, cert)
            : cert.subject?.CN === host ? undefined : new Error(`server certificate names ${cert.subject?.CN}, not ${host}`),
      };
      const req = o.url.protocol === 'https:' ? httpsRequest(o.url, opts, resolve) : httpRequest(o.url, opts, resolve);
      req.on('error', (e) => reject(new IntstreamError('CAPTURE_IO', `${this.name}: ${where}: ${(e as NodeJS.ErrnoException).code ?? ''} ${e.message}`.trim(),
        'check the URL, that stenographer runs, and cert/key/ca (stenokeys.sh makes them)')));
      req.end(body);
    });
    if (res.statusCode !== 200) {
      const chunks: Buffer[] = [];
      for await (const c of res) chunks.push(c as Buffer);
      const text = Buffer.concat(chunks).toString('utf8').trim().slice(0, 300);
      throw new IntstreamError('CAPTURE_IO', `${this.name}: ${where}/query answered ${res.statusCode}${text ? `: ${text}` : ''}`, `query was: ${o.query}`);
    }
    this.res = res;
    this.inner = new CaptureFileSource(this.name, `${where}/query`, streamInput(res));
    await this.inner.open(setup);
  }

  nextBatch(): Promise<PacketBatch | null> {
    return this.inner ? this.inner.nextBatch() : Promise.resolve(null);
  }

  status(): SourceStatus {
    const inner = this.inner?.status();
    return { bytes: inner?.bytes ?? 0, total: undefined, counters: inner?.counters ?? null, kernel: null, failure: null };
  }

  async close(): Promise<void> {
    this.res?.destroy();
    await this.inner?.close();
  }
}

export async function openStenoSource(spec: string, rest: string): Promise<PacketSource> {
  return new StenoSource(spec, parseStenoSpec(spec, rest));
}
