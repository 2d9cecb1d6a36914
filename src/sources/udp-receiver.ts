/**
 * The UDP receiving side shared by every datagram source (int:udp://, sflow:, netflow:): the
 * spec's `udp://HOST:PORT?options` form, one bound socket with a large receive buffer, the
 * common options (`idle=S` ends the input after S s without a datagram, `max=N` after N
 * datagrams, `rcvbuf=BYTES`), SIGINT/SIGTERM ending the input, a heartbeat tick while idle, one
 * wake-up per poll phase however many datagrams libuv read in it, and the kernel's own drops of
 * this socket (receive buffer overflows) counted from /proc/net/udp{,6}. A source supplies what
 * it does with each datagram (`onDatagram`) and its own options.
 */
import { createSocket, type Socket } from 'node:dgram';
import { readFileSync } from 'node:fs';
import type { SkipCounters } from '../decode/skip-counters.ts';
import { IntstreamError } from '../errors.ts';

export interface UdpSpec {
  host: string;
  port: number;
  idleSec?: number;
  max?: number;
  rcvbuf?: number;
  /** The source's own options (`key=value` pairs it accepts). */
  extra: Map<string, string>;
}

/**
 * Parses `udp://HOST:PORT[?k=v&...]` (IPv6 hosts in brackets). The common options are taken
 * here; `extraKeys` names the source's own, any other key is a SOURCE_SPEC error.
 */
export function parseUdpSpec(spec: string, rest: string, scheme: string, extraKeys: readonly string[], example: string): UdpSpec {
  const m = /^udp:\/\/(\[[0-9a-fA-F:.]+\]|[^:/?]+):(\d+)\/?(?:\?(.*))?$/.exec(rest);
  if (!m) throw new IntstreamError('SOURCE_SPEC', `--source ${spec}: expected ${scheme}:udp://HOST:PORT`, `e.g. ${example}`);
  const host = m[1].replace(/^\[|\]$/g, '');
  const port = Number(m[2]);
  if (!(port > 0 && port < 65536)) throw new IntstreamError('SOURCE_SPEC', `--source ${spec}: port ${m[2]} out of range`);
  const o: UdpSpec = { host, port, extra: new Map() };
  const keys = ['idle=SECONDS', 'max=N', 'rcvbuf=BYTES', ...extraKeys];
  for (const kv of (m[3] ?? '').split('&').filter(Boolean)) {
    const eq = kv.indexOf('=');
    const k = eq < 0 ? kv : kv.slice(0, eq), v = eq < 0 ? '' : kv.slice(eq + 1);
    const n = Number(v);
    if (k === 'idle' && n > 0) o.idleSec = n;
    else if (k === 'max' && n > 0 && Number.isInteger(n)) o.max = n;
    else if (k === 'rcvbuf' && n > 0) o.rcvbuf = n;
    else if (extraKeys.some((e) => e.split('=')[0] === k)) o.extra.set(k, v);
    else throw new IntstreamError('SOURCE_SPEC', `--source ${spec}: unknown or bad option '${kv}'`, `options: ${keys.join(', ')}`);
  }
  return o;
}

export type OnDatagram = (msg: Buffer, addr: string, port: number, fromV6: boolean) => void;

export class UdpReceiver {
  /** Datagrams and bytes received (also after the input ended). */
  received = 0;
  bytes = 0;
  closed = false;
  readonly warnings: string[] = [];
  private sock: Socket | null = null;
  private lastArrivalMs = 0;
  private timer: NodeJS.Timeout | null = null;
  private waiter: (() => void) | null = null;
  private wakeQueued = false;
  private kernelDropsAtClose: number | null = null;
  private dropsCheckedMs = 0;
  private readonly onSignal = () => this.finish();
  private readonly wakeNow = () => {
    this.wakeQueued = false;
    if (this.waiter) { const w = this.waiter; this.waiter = null; w(); }
  };

  private readonly name: string;
  private readonly o: UdpSpec;
  private readonly heartbeatMs: number;
  private readonly onDatagram: OnDatagram;

  constructor(name: string, o: UdpSpec, heartbeatMs: number, onDatagram: OnDatagram) {
    this.name = name; this.o = o; this.heartbeatMs = heartbeatMs; this.onDatagram = onDatagram;
  }

  async open(): Promise<void> {
    const v6 = this.o.host.includes(':');
    const sock = createSocket({ type: v6 ? 'udp6' : 'udp4', recvBufferSize: this.o.rcvbuf ?? 32 << 20 });
    await new Promise<void>((res, rej) => {
      sock.once('error', (e) => rej(new IntstreamError('CAPTURE_IO', `--source ${this.name}: cannot listen on ${this.o.host}:${this.o.port}: ${(e as Error).message}`)));
      sock.bind(this.o.port, this.o.host, () => res());
    });
    sock.on('error', (e) => { this.warnings.push(`${this.name}: socket error: ${e.message}`); this.finish(); });
    sock.on('message', (msg, rinfo) => {
      if (this.closed) return;
      this.received++;
      this.bytes += msg.length;
      this.lastArrivalMs = Date.now();
      this.onDatagram(msg, rinfo.address, rinfo.port, rinfo.family === 'IPv6');
      if (this.o.max !== undefined && this.received >= this.o.max) this.finish();
      // Wake the reader once the datagrams libuv reads in this poll phase are all in (check
      // phase), not after each one: it then takes them as one batch.
      if (this.waiter !== null && !this.wakeQueued) { this.wakeQueued = true; setImmediate(this.wakeNow); }
    });
    this.sock = sock;
    process.once('SIGINT', this.onSignal);
    process.once('SIGTERM', this.onSignal);
    this.lastArrivalMs = Date.now();
    const idleMs = this.o.idleSec ? this.o.idleSec * 1000 : Infinity;
    this.timer = setInterval(() => {
      if (Date.now() - this.lastArrivalMs >= idleMs) this.finish();
      else this.wakeNow(); // a heartbeat tick: the reader may move event time on
    }, Math.min(this.heartbeatMs, idleMs === Infinity ? this.heartbeatMs : Math.max(50, idleMs / 4)));
  }

  /** Resolves at the next datagrams, heartbeat tick or end of input. */
  wait(): Promise<void> {
    return new Promise<void>((r) => { this.waiter = r; });
  }

  /** Ends the input: the socket closes (its kernel drops are read first) and a waiting reader wakes. */
  finish(): void {
    if (this.closed) return;
    this.closed = true;
    this.kernelDropsAtClose = this.kernelDrops();
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    process.removeListener('SIGINT', this.onSignal);
    process.removeListener('SIGTERM', this.onSignal);
    this.sock?.close();
    this.sock = null;
    this.wakeNow();
  }

  address(): { address: string; port: number } | null {
    return this.sock ? this.sock.address() : null;
  }

  /**
   * Datagrams the kernel dropped for this socket (its receive buffer was full): the `drops`
   * column of its line in /proc/net/udp or udp6 (found by the bound port); null where that
   * cannot be read. After finish(), the count read just before the socket closed.
   */
  /**
   * Puts the kernel's drops into a source's skip counters as `udp_kernel_drops`: read at most
   * once a second (a /proc read), and always when `now` (at the end of input).
   */
  countKernelDrops(skipped: SkipCounters, now = false): void {
    if (!now && Date.now() - this.dropsCheckedMs < 1000) return;
    this.dropsCheckedMs = Date.now();
    const d = this.kernelDrops();
    if (d) skipped.counts.set('udp_kernel_drops', d);
  }

  kernelDrops(): number | null {
    if (this.closed) return this.kernelDropsAtClose;
    const port = this.sock?.address().port;
    if (port === undefined) return null;
    const hexPort = port.toString(16).toUpperCase().padStart(4, '0');
    for (const file of this.o.host.includes(':') ? ['/proc/net/udp6', '/proc/net/udp'] : ['/proc/net/udp', '/proc/net/udp6']) {
      let text: string;
      try { text = readFileSync(file, 'utf8'); } catch { continue; }
      for (const line of text.split('\n').slice(1)) {
        const f = line.trim().split(/\s+/);
        if (f.length < 13 || !f[1].endsWith(`:${hexPort}`)) continue;
        const drops = Number(f[f.length - 1]);
        if (Number.isFinite(drops)) return drops;
      }
    }
    return null;
  }
}
