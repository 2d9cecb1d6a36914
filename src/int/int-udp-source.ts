/**
 * HOT PATH (bench/int-collector.ts, UDP part): `int:udp://HOST:PORT` receives Telemetry
 * Reports as UDP datagrams. Each datagram becomes one record of a batch, behind a 28-byte
 * (IPv4) or 48-byte (IPv6) IP + UDP header rebuilt from the sender's and the bound address, with
 * link type RAW IPv4/IPv6, so that the ordinary decoder enters the report like a tunnel:
 * `outer.ip.src` is the reporting switch's address, `ip.*`/`tcp.*` the reported packet's.
 *
 * Options in the spec's query string: `idle=SECONDS` ends the input after that long without a
 * datagram (default: run until SIGINT/SIGTERM), `max=N` after N datagrams, `lenient=1` accepts
 * the known non-conformant layouts, `rcvbuf=BYTES` asks the kernel for a receive buffer (default
 * 32 MiB; the kernel caps it at net.core.rmem_max). The timestamp of a record is its arrival
 * time. Datagrams that arrive while every batch is waiting for the pipeline are dropped and
 * counted (`udp_queue_full`); the kernel's own drops show in /proc/net/snmp (RcvbufErrors).
 */
import { createSocket, type Socket } from 'node:dgram';
import { isIPv4, isIPv6 } from 'node:net';
import { LENIENT_ALL } from '../decode/int/index.ts';
import type { IntDecodeOptions } from '../decode/int-view.ts';
import { LINKTYPE_IPV4, LINKTYPE_IPV6 } from '../decode/layers.ts';
import { IntstreamError } from '../errors.ts';
import { PacketBatch } from '../sources/packet-batch.ts';
import { SkipCounters } from '../sources/skip-counters.ts';
import type { PacketSource } from '../sources/source.ts';

const BATCH_RECORDS = 2048;
const BATCH_BYTES = 4 << 20;
/** Batches that may wait for the pipeline before datagrams are dropped (bounded memory). */
const MAX_BATCHES = 16;

export interface IntUdpOptions {
  host: string;
  port: number;
  idleSec?: number;
  max?: number;
  lenient?: boolean;
  rcvbuf?: number;
}

export function parseIntUdpSpec(spec: string, rest: string): IntUdpOptions {
  const m = /^udp:\/\/(\[[0-9a-fA-F:.]+\]|[^:/?]+):(\d+)\/?(?:\?(.*))?$/.exec(rest);
  if (!m) throw new IntstreamError('SOURCE_SPEC', `--source ${spec}: expected int:udp://HOST:PORT`, 'e.g. int:udp://0.0.0.0:32766 or int:udp://[::1]:32766?idle=5');
  const host = m[1].replace(/^\[|\]$/g, '');
  const port = Number(m[2]);
  if (!(port > 0 && port < 65536)) throw new IntstreamError('SOURCE_SPEC', `--source ${spec}: port ${m[2]} out of range`);
  const o: IntUdpOptions = { host, port };
  for (const kv of (m[3] ?? '').split('&').filter(Boolean)) {
    const [k, v] = kv.split('=');
    const n = Number(v);
    if (k === 'idle' && n > 0) o.idleSec = n;
    else if (k === 'max' && n > 0) o.max = n;
    else if (k === 'lenient') o.lenient = v === '1' || v === 'true';
    else if (k === 'rcvbuf' && n > 0) o.rcvbuf = n;
    else throw new IntstreamError('SOURCE_SPEC', `--source ${spec}: unknown or bad option '${kv}'`, 'options: idle=SECONDS, max=N, lenient=1, rcvbuf=BYTES');
  }
  return o;
}

function addrBytes(text: string, v6: boolean, out: Uint8Array, at: number): void {
  if (!v6) {
    const parts = (isIPv4(text) ? text : '0.0.0.0').split('.');
    for (let i = 0; i < 4; i++) out[at + i] = Number(parts[i]);
    return;
  }
  // IPv6 (possibly IPv4-mapped) in text: expand '::'.
  let t = isIPv6(text) ? text : '::';
  const v4 = /(\d+\.\d+\.\d+\.\d+)$/.exec(t);
  if (v4) {
    const p = v4[1].split('.').map(Number);
    t = t.slice(0, -v4[1].length) + ((p[0] << 8) | p[1]).toString(16) + ':' + ((p[2] << 8) | p[3]).toString(16);
  }
  const [head, tail] = t.includes('::') ? t.split('::') : [t, undefined];
  const hs = head ? head.split(':') : [];
  const ts = tail ? tail.split(':') : [];
  const groups = tail === undefined ? hs : [...hs, ...Array(8 - hs.length - ts.length).fill('0'), ...ts];
  for (let i = 0; i < 8; i++) { const g = parseInt(groups[i] || '0', 16); out[at + 2 * i] = g >> 8; out[at + 2 * i + 1] = g & 0xff; }
}

export class IntUdpSource implements PacketSource {
  readonly name: string;
  readonly skipped = new SkipCounters();
  readonly warnings: string[] = [];
  readonly decodeOptions: IntDecodeOptions;
  private readonly o: IntUdpOptions;
  private sock: Socket | null = null;
  private readonly ready: PacketBatch[] = [];
  private readonly free: PacketBatch[] = [];
  private cur: PacketBatch;
  private curBytes = 0;
  private lent: PacketBatch | null = null;
  private waiter: (() => void) | null = null;
  private closed = false;
  private received = 0;
  private bytes = 0;
  private lastArrival = 0;
  private idleTimer: NodeJS.Timeout | null = null;
  private readonly onSignal = () => this.finish();
  private wakeSoon = false;
  private readonly wake = () => {
    this.wakeSoon = false;
    if (this.waiter) { const w = this.waiter; this.waiter = null; w(); }
  };
  /** Address bytes of the bound socket, for the rebuilt headers. */
  private local4 = new Uint8Array(4);
  private local6 = new Uint8Array(16);
  /** The last sender's address bytes (reporters are few: parsed once, not per datagram). */
  private peer4 = new Uint8Array(4);
  private peer6 = new Uint8Array(16);
  private lastAddr4 = '';
  private lastAddr6 = '';

  constructor(spec: string, o: IntUdpOptions) {
    this.name = spec;
    this.o = o;
    this.decodeOptions = { intPort: o.port, intLenient: o.lenient ? LENIENT_ALL : 0 };
    this.cur = this.newBatch();
  }

  private newBatch(): PacketBatch {
    const b = this.free.pop() ?? new PacketBatch(BATCH_RECORDS);
    if (b.buf.length !== BATCH_BYTES) b.buf = new Uint8Array(BATCH_BYTES);
    b.count = 0;
    return b;
  }

  /** Datagrams received so far (also after the source ended). */
  get datagrams(): number { return this.received; }

  async open(): Promise<void> {
    const v6 = this.o.host.includes(':');
    const sock = createSocket({ type: v6 ? 'udp6' : 'udp4', recvBufferSize: this.o.rcvbuf ?? 32 << 20 });
    await new Promise<void>((res, rej) => {
      sock.once('error', (e) => rej(new IntstreamError('CAPTURE_IO', `--source ${this.name}: cannot listen on ${this.o.host}:${this.o.port}: ${(e as Error).message}`)));
      sock.bind(this.o.port, this.o.host, () => res());
    });
    sock.on('error', (e) => { this.warnings.push(`${this.name}: socket error: ${e.message}`); this.finish(); });
    addrBytes(this.o.host, false, this.local4, 0);
    addrBytes(this.o.host, true, this.local6, 0);
    sock.on('message', (msg, rinfo) => this.onMessage(msg, rinfo.address, rinfo.port, rinfo.family === 'IPv6'));
    this.sock = sock;
    process.once('SIGINT', this.onSignal);
    process.once('SIGTERM', this.onSignal);
    if (this.o.idleSec) {
      this.lastArrival = Date.now();
      const ms = this.o.idleSec * 1000;
      this.idleTimer = setInterval(() => { if (Date.now() - this.lastArrival >= ms) this.finish(); }, Math.min(ms, 250));
    }
  }

  /** The local port actually bound (useful with port 0... which the spec does not allow). */
  address(): { address: string; port: number } | null {
    return this.sock ? this.sock.address() : null;
  }

  private onMessage(msg: Buffer, addr: string, port: number, fromV6: boolean): void {
    if (this.closed) return;
    this.received++;
    this.bytes += msg.length;
    const now = Date.now();
    this.lastArrival = now;
    const v6 = fromV6 && !addr.startsWith('::ffff:');
    const hl = v6 ? 48 : 28;
    const need = hl + msg.length;
    let b = this.cur;
    if (b.count === b.capacity || this.curBytes + need > b.buf.length) {
      if (!this.seal()) { this.skipped.bump('udp_queue_full'); this.checkMax(); return; }
      b = this.cur;
    }
    const buf = b.buf, at = this.curBytes;
    // IPv4: 45 00 len(2) id(2)=0 flags DF 40 00 ttl 64 proto 17 csum 0 src(4) dst(4); then UDP.
    // IPv6: 60 00 00 00 plen(2) nh 17 hlim 64 src(16) dst(16); then UDP.
    let u: number;
    if (!v6) {
      buf[at] = 0x45; buf[at + 1] = 0; buf[at + 2] = need >> 8; buf[at + 3] = need & 0xff;
      buf[at + 4] = 0; buf[at + 5] = 0; buf[at + 6] = 0x40; buf[at + 7] = 0; buf[at + 8] = 64; buf[at + 9] = 17;
      buf[at + 10] = 0; buf[at + 11] = 0;
      if (addr !== this.lastAddr4) { addrBytes(fromV6 ? addr.slice(7) : addr, false, this.peer4, 0); this.lastAddr4 = addr; }
      const pa = this.peer4;
      buf[at + 12] = pa[0]; buf[at + 13] = pa[1]; buf[at + 14] = pa[2]; buf[at + 15] = pa[3];
      buf.set(this.local4, at + 16);
      u = at + 20;
    } else {
      const plen = need - 40;
      buf[at] = 0x60; buf[at + 1] = 0; buf[at + 2] = 0; buf[at + 3] = 0; buf[at + 4] = plen >> 8; buf[at + 5] = plen & 0xff;
      buf[at + 6] = 17; buf[at + 7] = 64;
      if (addr !== this.lastAddr6) { addrBytes(addr, true, this.peer6, 0); this.lastAddr6 = addr; }
      buf.set(this.peer6, at + 8);
      buf.set(this.local6, at + 24);
      u = at + 40;
    }
    const ulen = msg.length + 8;
    buf[u] = port >> 8; buf[u + 1] = port & 0xff; buf[u + 2] = this.o.port >> 8; buf[u + 3] = this.o.port & 0xff;
    buf[u + 4] = ulen >> 8; buf[u + 5] = ulen & 0xff; buf[u + 6] = 0; buf[u + 7] = 0;
    buf.set(msg, u + 8);
    const i = b.count++;
    b.dataOff[i] = at; b.capLen[i] = need; b.wireLen[i] = need; b.ts[i] = now / 1000;
    b.linkType[i] = v6 ? LINKTYPE_IPV6 : LINKTYPE_IPV4; b.iface[i] = 0; b.fileOffset[i] = this.received - 1;
    this.curBytes = at + need;
    // Wake the pipeline once the datagrams libuv reads in this poll phase are all in (check
    // phase), not after each one: it then takes them as one batch.
    if (this.waiter !== null && !this.wakeSoon) { this.wakeSoon = true; setImmediate(this.wake); }
    this.checkMax();
  }

  private checkMax(): void {
    if (this.o.max !== undefined && this.received >= this.o.max) this.finish();
  }

  /** Moves the filling batch to the ready queue; false when the queue is full. */
  private seal(): boolean {
    if (this.cur.count === 0) return true;
    if (this.ready.length >= MAX_BATCHES) return false;
    this.ready.push(this.cur);
    this.cur = this.newBatch();
    this.curBytes = 0;
    return true;
  }

  private finish(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.idleTimer) clearInterval(this.idleTimer);
    this.idleTimer = null;
    process.removeListener('SIGINT', this.onSignal);
    process.removeListener('SIGTERM', this.onSignal);
    this.sock?.close();
    this.sock = null;
    if (this.waiter) { const w = this.waiter; this.waiter = null; w(); }
  }

  async nextBatch(): Promise<PacketBatch | null> {
    if (this.lent) { this.lent.count = 0; this.free.push(this.lent); this.lent = null; }
    for (;;) {
      if (this.ready.length === 0 && this.cur.count > 0) {
        // Hand over what has arrived rather than wait for a full batch: latency over size.
        this.ready.push(this.cur);
        this.cur = this.newBatch();
        this.curBytes = 0;
      }
      const b = this.ready.shift();
      if (b) { this.lent = b; return b; }
      if (this.closed) return null;
      await new Promise<void>((r) => { this.waiter = r; });
    }
  }

  progress(): { bytes: number; total: number | undefined } {
    return { bytes: this.bytes, total: undefined };
  }

  async close(): Promise<void> {
    this.finish();
  }
}

export async function openIntUdpSource(spec: string, rest: string): Promise<PacketSource> {
  return new IntUdpSource(spec, parseIntUdpSpec(spec, rest));
}
