/**
 * `live:IFACE` — packets captured from a network interface as they arrive, through a
 * supervised tcpdump (capture-process.ts) whose pcap stream is read by the capture-file reader.
 * `erspan:IFACE` (alias `gre:IFACE`) is the same capture limited to GRE in the kernel: the
 * decoder unwraps GRE and ERSPAN II/III, so items are the mirrored packets, with the tunnel's
 * outer IP header under `outer.*` and `tunnel.type`/`tunnel.id` set.
 *
 * Options (query string): `snaplen=BYTES` (default 262144, whole packets), `promisc=0|1`
 * (default 1), `buffer=KiB` kernel capture buffer (default 4096), `time=packet|processing`
 * (default: the run's --time, else packet), `drain=MS` wait for the last ring block on stop
 * (default 1100). Example: `live:eth0?snaplen=128&buffer=65536&time=processing`.
 *
 * Kernel filter: the task's pushed-down declarative filter, compiled to BPF (toBpf), is
 * installed in the kernel, so packets it rejects never reach user space. Because the
 * declarative filter sees the innermost packet of a tunnel and looks through VLAN tags, the
 * kernel expression is widened to let tunnels, VLAN-tagged packets and the IPv6 packets libpcap
 * cannot look into through (`F or <IPv6> or <tunnel protocols> or <MPLS ethertypes> or
 * (vlan and F)`); the user-space pushed-down
 * filter still runs after it, so the result is exact either way. A filter with no BPF form
 * installs none.
 *
 * Time: `packet` windows by the kernel's receive timestamp (event time, as for files);
 * `processing` stamps each packet with the time the local stage read it. In both, while no
 * packet comes, the source sends a heartbeat every 250 ms (IdleClock, idle-clock.ts: the
 * mechanism of every live and UDP source) that moves event time on with the wall clock since
 * the last packet, so windows close while the link is quiet. In packet time that clock stays
 * `drain` (1.1 s) behind: a packet reaches us up to one ring block timeout (1 s) after the
 * kernel stamped it, and must not find its window closed. A window thus closes at most about
 * lateness + 1.1 s + 0.25 s (+ the last block's own delay, up to 1 s) after its end.
 *
 * SIGINT/SIGTERM end the capture (after the drain wait): the stream ends, the local stage
 * flushes its open windows and the run prints its summary. A second signal acts as usual.
 */
import { IntstreamError } from '../errors.ts';
import { toBpf, type FilterAst } from '../query/filter-expr.ts';
import { CaptureFileSource } from './capture-file-source.ts';
import { CaptureProcess, type KernelStats } from './capture-process.ts';
import type { PacketBatch } from './packet-batch.ts';
import { SkipCounters } from '../decode/skip-counters.ts';
import type { PacketSource, SourceSetup, SourceStatus, SourceTraits } from './source.ts';
import { IdleClock } from './idle-clock.ts';

export type TimeDomain = 'packet' | 'processing';

export interface LiveOptions {
  iface: string;
  snapLen: number;
  promisc: boolean;
  bufferKiB: number;
  /** Unset: the run's --time decides (SourceSetup.time at open), else packet. */
  time?: TimeDomain;
  drainMs: number;
  /** 'erspan': capture GRE only and hand over the decoded inner packets. */
  kind: 'live' | 'erspan';
}

const HEARTBEAT_MS = 250;

/**
 * Protocols that carry a packet the declarative filter looks into (GRE/ERSPAN, IP-in-IP,
 * IPv6-in-IP, VXLAN, Geneve), MPLS, and IPv4's Authentication Header (the decoder walks past it;
 * IPv6's AH goes through with the IPv6 term below).
 */
const TUNNELS = '(ip proto 51 or ip proto 47 or ip6 proto 47 or ip proto 4 or ip6 proto 4 or ip proto 41 or ip6 proto 41 or udp port 4789 or udp port 6081 or ether proto 0x8847 or ether proto 0x8848)';
/** The kernel filter of erspan:/gre: sources. */
export const GRE_BPF = '(ip proto 47 or ip6 proto 47)';

/**
 * The kernel (BPF) form of a pushed-down filter, widened so that it never rejects a packet the
 * declarative filter would keep (tunnels, VLAN tags); null when the filter has no BPF form.
 * libpcap's `vlan` shifts the offsets of everything after it, so that term comes last.
 */
export function kernelFilterFor(ast: FilterAst | null): string | null {
  if (!ast) return null;
  const f = toBpf(ast);
  if (f === null) return null;
  // libpcap's tcp[]/udp[]/icmp[] index IPv4 only, and its port and proto tests stop at the
  // first IPv6 extension header, where the decoder walks the chain: let such IPv6 through.
  const v6 = /\b(tcp|udp|icmp)\[/.test(f) ? 'ip6' : '(ip6 and not (ip6[6] == 6 or ip6[6] == 17 or ip6[6] == 58))';
  // The same behind each of up to VLAN_DEPTH tags (QinQ and deeper); each `vlan` ends its term.
  // IPv4 fragments too: libpcap's tcp/udp tests hold for every fragment, the decoder's for the first
  const plain = `(${f}) or ${v6} or ${TUNNELS} or (ip and ip[6:2] & 0x3fff != 0)`;
  let widened = `${plain} or vlan`;
  for (let d = 0; d < VLAN_DEPTH; d++) widened = `${plain} or (vlan and (${widened}))`;
  return widened;
}

/**
 * VLAN tags the kernel filter looks behind; a packet with a deeper stack is let through (the
 * innermost `or vlan`), so nothing the task keeps is lost: the user-space filter decides.
 */
const VLAN_DEPTH = 3;

function wallSec(): number {
  return Date.now() / 1000;
}

export class LiveCaptureSource implements PacketSource {
  readonly name: string;
  readonly warnings: string[] = [];
  readonly options: LiveOptions;
  /** live: the task's filter goes into the kernel; erspan: the kernel can only pick GRE. */
  readonly traits: SourceTraits;
  /** The BPF installed in the kernel (null: none), known after open(). */
  bpf: string | null = null;
  private time: TimeDomain;
  private capture: CaptureProcess | null = null;
  private inner: CaptureFileSource | null = null;
  private readonly noSkips = new SkipCounters();
  private pending: Promise<PacketBatch | null> | null = null;
  /** Event time while no packet comes (set up in open(), once the time domain is known). */
  private clock: IdleClock | null = null;
  private lastTs = -Infinity;
  private ended = false;
  private failed: string | null = null;
  private readonly onSignal = () => { void this.stop(); };

  constructor(name: string, options: LiveOptions) {
    this.name = name;
    this.options = options;
    this.time = options.time ?? 'packet';
    if (options.kind === 'erspan') this.bpf = GRE_BPF;
    this.traits = { items: 'packets', lateness: 0, decode: null, pushdown: options.kind === 'live' ? 'kernel' : 'none' };
  }

  get skipped(): SkipCounters { return this.inner?.skipped ?? this.noSkips; }

  get timeDomain(): TimeDomain { return this.time; }

  /** Starts the capture with the run's pushed-down filter installed as BPF and its --time. */
  async open(setup?: SourceSetup): Promise<void> {
    const o = this.options;
    if (o.time === undefined && setup?.time) this.time = setup.time;
    // erspan: the task's filter is about the inner packet; the kernel can only pick GRE.
    if (o.kind === 'live') this.bpf = kernelFilterFor(setup?.pushdown ?? null);
    this.capture = new CaptureProcess({ iface: o.iface, snapLen: o.snapLen, promisc: o.promisc, bufferKiB: o.bufferKiB, bpf: this.bpf, drainMs: o.drainMs });
    const input = await this.capture.start();
    this.inner = new CaptureFileSource(this.name, `${o.kind}:${o.iface}`, input);
    try {
      await this.inner.open();
    } catch (e) {
      await this.capture.stop();
      throw e;
    }
    // Both time domains are the wall clock (the kernel's stamps, or ours): event time runs from
    // now even before the first packet, so a quiet link does not hold other sources' windows.
    this.clock = new IdleClock(HEARTBEAT_MS, this.time === 'processing' ? 0 : o.drainMs / 1000);
    this.clock.start(this.now());
    process.once('SIGINT', this.onSignal);
    process.once('SIGTERM', this.onSignal);
  }

  async nextBatch(): Promise<PacketBatch | null> {
    if (!this.inner || this.ended) return null;
    this.pending ??= this.inner.nextBatch();
    let timer: NodeJS.Timeout | undefined;
    const tick = new Promise<'tick'>((r) => { timer = setTimeout(() => r('tick'), HEARTBEAT_MS); });
    const r = await Promise.race([this.pending, tick]);
    clearTimeout(timer);
    if (r === 'tick') {
      const hb = this.clock!.heartbeat()!;
      // processing time: no packet read later is stamped before this
      if (hb.clock > this.lastTs) this.lastTs = hb.clock;
      return hb;
    }
    const b = r;
    this.pending = null;
    if (b === null) {
      this.ended = true;
      // its pcap stream ended: through stop(), or because tcpdump died (then the run fails)
      await this.capture?.exitedWithin(2000);
      this.failed = this.capture?.failure() ?? null;
      return null;
    }
    if (this.time === 'processing') {
      const t = this.now();
      b.ts.fill(t, 0, b.count);
    }
    this.clock!.delivered(b.ts, b.count);
    return b;
  }

  /** Wall-clock seconds that never step back. */
  private now(): number {
    const t = wallSec();
    if (t > this.lastTs) this.lastTs = t;
    return this.lastTs;
  }

  /** Ends the capture: the stream ends after the packets already captured. */
  async stop(): Promise<void> {
    await this.capture?.stop();
  }

  status(): SourceStatus {
    return { bytes: this.inner?.status().bytes ?? 0, total: undefined, counters: null, kernel: this.capture?.stats() ?? null, failure: this.failed };
  }

  async close(): Promise<void> {
    process.removeListener('SIGINT', this.onSignal);
    process.removeListener('SIGTERM', this.onSignal);
    await this.capture?.stop();
    await this.inner?.close();
  }
}

/** `live:IFACE?opts` / `erspan:IFACE?opts` → options. */
export function parseLiveSpec(spec: string, rest: string, kind: 'live' | 'erspan'): LiveOptions {
  const q = rest.indexOf('?');
  const iface = q >= 0 ? rest.slice(0, q) : rest;
  const params = new URLSearchParams(q >= 0 ? rest.slice(q + 1) : '');
  if (!/^[\w.:@-]{1,15}$/.test(iface) || iface.startsWith('-')) {
    throw new IntstreamError('SOURCE_SPEC', `--source ${spec}: '${iface}' is not an interface name`, `e.g. ${kind}:eth0`);
  }
  const o: LiveOptions = { iface, snapLen: 262144, promisc: true, bufferKiB: 4096, drainMs: 1100, kind };
  const int = (k: string, lo: number, hi: number): number => {
    const v = Number(params.get(k));
    if (!Number.isInteger(v) || v < lo || v > hi) throw new IntstreamError('SOURCE_SPEC', `--source ${spec}: ${k}=${params.get(k)} is not an integer in ${lo}..${hi}`);
    return v;
  };
  for (const k of params.keys()) {
    switch (k) {
      case 'snaplen': o.snapLen = int(k, 1, 262144); break;
      case 'buffer': o.bufferKiB = int(k, 1, 4 << 20); break;
      case 'drain': o.drainMs = int(k, 0, 60000); break;
      case 'promisc': {
        const v = params.get(k);
        if (v !== '0' && v !== '1') throw new IntstreamError('SOURCE_SPEC', `--source ${spec}: promisc=${v}: expected 0 or 1`);
        o.promisc = v === '1';
        break;
      }
      case 'time': {
        const v = params.get(k);
        if (v !== 'packet' && v !== 'processing') throw new IntstreamError('SOURCE_SPEC', `--source ${spec}: time=${v}: expected packet or processing`);
        o.time = v;
        break;
      }
      default: throw new IntstreamError('SOURCE_SPEC', `--source ${spec}: unknown option '${k}'`, 'options: snaplen, promisc, buffer, time, drain');
    }
  }
  return o;
}

export async function openLiveSource(spec: string, rest: string): Promise<PacketSource> {
  return new LiveCaptureSource(spec, parseLiveSpec(spec, rest, 'live'));
}

export async function openErspanSource(spec: string, rest: string): Promise<PacketSource> {
  return new LiveCaptureSource(spec, parseLiveSpec(spec, rest, 'erspan'));
}
