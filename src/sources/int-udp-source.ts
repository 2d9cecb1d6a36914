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
 * counted (`udp_queue_full`); the kernel's own drops of the socket as `udp_kernel_drops`
 * (udp-receiver.ts, shared with the flow sources).
 *
 * While no datagram arrives, a heartbeat every second moves event time on with the wall clock
 * (IdleClock, idle-clock.ts): windows close and the collector's events are released while the
 * reporters are silent, not only when the next report or the end of input comes.
 */
import { isIPv4, isIPv6 } from 'node:net';
import { LENIENT_ALL } from '../decode/int/index.ts';
import { LINKTYPE_IPV4, LINKTYPE_IPV6 } from '../decode/layers.ts';
import { SkipCounters } from '../decode/skip-counters.ts';
import { IdleClock } from './idle-clock.ts';
import { PacketBatch } from './packet-batch.ts';
import type { PacketSource, SourceStatus, SourceTraits } from './source.ts';
import { parseUdpSpec, UdpReceiver, type UdpSpec } from './udp-receiver.ts';

const BATCH_RECORDS = 2048;
const BATCH_BYTES = 4 << 20;
/** Batches that may wait for the pipeline before datagrams are dropped (bounded memory). */
const MAX_BATCHES = 16;
/** Heartbeat period while no datagram arrives, ms (as the flow sources). */
const HEARTBEAT_MS = 1000;

export interface IntUdpOptions extends UdpSpec {
  lenient?: boolean;
}

export function parseIntUdpSpec(spec: string, rest: string): IntUdpOptions {
  const o: IntUdpOptions = parseUdpSpec(spec, rest, 'int', ['lenient=1'], 'int:udp://0.0.0.0:32766 or int:udp://[::1]:32766?idle=5');
  const l = o.extra.get('lenient');
  if (l !== undefined) o.lenient = l === '1' || l === 'true';
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
  /** Telemetry Reports rebuilt as UDP packets to the bound port: the local stage decodes them as INT. */
  readonly traits: SourceTraits;
  readonly warnings: string[];
  private readonly o: IntUdpOptions;
  private readonly rx: UdpReceiver;
  private readonly ready: PacketBatch[] = [];
  private readonly free: PacketBatch[] = [];
  private cur: PacketBatch;
  private curBytes = 0;
  private lent: PacketBatch | null = null;
  /** Event time during silence: arrival times are the wall clock, so it runs from open(). */
  private readonly clock = new IdleClock(HEARTBEAT_MS);
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
    this.traits = { items: 'packets', lateness: 0, decode: { intPort: o.port, intLenient: o.lenient ? LENIENT_ALL : 0 }, pushdown: 'none' };
    this.cur = this.newBatch();
    this.rx = new UdpReceiver(spec, o, HEARTBEAT_MS, (msg, addr, port, v6) => this.onMessage(msg, addr, port, v6));
    this.warnings = this.rx.warnings;
  }

  private newBatch(): PacketBatch {
    const b = this.free.pop() ?? new PacketBatch(BATCH_RECORDS);
    if (b.buf.length !== BATCH_BYTES) b.buf = new Uint8Array(BATCH_BYTES);
    b.count = 0;
    return b;
  }

  /** Datagrams received so far (also after the source ended). */
  get datagrams(): number { return this.rx.received; }

  async open(): Promise<void> {
    addrBytes(this.o.host, false, this.local4, 0);
    addrBytes(this.o.host, true, this.local6, 0);
    await this.rx.open();
    this.clock.start(Date.now() / 1000);
  }

  /** The local address and port bound. */
  address(): { address: string; port: number } | null {
    return this.rx.address();
  }

  private onMessage(msg: Buffer, addr: string, port: number, fromV6: boolean): void {
    const now = Date.now();
    const v6 = fromV6 && !addr.startsWith('::ffff:');
    const hl = v6 ? 48 : 28;
    const need = hl + msg.length;
    let b = this.cur;
    if (b.count === b.capacity || this.curBytes + need > b.buf.length) {
      if (!this.seal()) { this.skipped.bump('udp_queue_full'); return; }
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
    b.linkType[i] = v6 ? LINKTYPE_IPV6 : LINKTYPE_IPV4; b.iface[i] = 0; b.fileOffset[i] = this.rx.received - 1;
    this.curBytes = at + need;
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

  async nextBatch(): Promise<PacketBatch | null> {
    if (this.lent) { this.lent.count = 0; this.free.push(this.lent); this.lent = null; }
    for (;;) {
      if (this.ready.length === 0 && this.cur.count > 0) {
        // Hand over what has arrived rather than wait for a full batch: latency over size.
        this.ready.push(this.cur);
        this.cur = this.newBatch();
        this.curBytes = 0;
      }
      this.rx.countKernelDrops(this.skipped);
      const b = this.ready.shift();
      if (b) { this.lent = b; this.clock.delivered(b.ts, b.count); return b; }
      if (this.rx.closed) { this.rx.countKernelDrops(this.skipped, true); return null; }
      const waitedFrom = Date.now();
      await this.rx.wait();
      if (this.ready.length === 0 && this.cur.count === 0 && !this.rx.closed && Date.now() - waitedFrom >= HEARTBEAT_MS / 2) {
        // Idle heartbeat: event time moves on with the wall clock since the last report.
        const hb = this.clock.heartbeat();
        if (hb !== null) return hb;
      }
    }
  }

  status(): SourceStatus {
    return { bytes: this.rx.bytes, total: undefined, counters: { datagrams: this.rx.received }, kernel: null, failure: null };
  }

  async close(): Promise<void> {
    this.rx.finish();
  }
}

export async function openIntUdpSource(spec: string, rest: string): Promise<PacketSource> {
  return new IntUdpSource(spec, parseIntUdpSpec(spec, rest));
}
