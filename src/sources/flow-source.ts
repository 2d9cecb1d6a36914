/**
 * Flow-export sources: `sflow:udp://HOST:PORT` (sFlow v5) and `netflow:udp://HOST:PORT`
 * (NetFlow v5, v9 and IPFIX, told apart per datagram; templates cached per exporter address,
 * port and observation domain: src/decode/flow). They yield the same item stream as a capture,
 * so every task runs on them unchanged:
 *
 *   - an sFlow flow sample with a raw packet header is a packet: the record points at the
 *     header inside the datagram (link type from header_protocol: Ethernet, IPv4, IPv6; wire
 *     length = frame_length - stripped) and carries the sampling rate (`sample.rate`), decoded
 *     by the ordinary packet decoder. Event time: the datagram's arrival (sFlow has no sample
 *     timestamps).
 *   - NetFlow/IPFIX flow records, sFlow counters samples, and sFlow flow samples without a
 *     decodable header are record items (src/decode/flow-record.ts): `ip.*`, `tcp.*`, `udp.*`,
 *     `icmp.*`, `vlan.id` where they apply, `flow.*`, `if.*`, `sample.rate`. A flow record's event
 *     time is `flow.end` (the exporter's clock), so windows hold the flows that ended in them.
 *
 * Flow ends reach the collector out of order (flows expire at different times), so the
 * netflow source asks for 60 s of lateness by default (option `lateness=S`, or --lateness);
 * a record for a window already closed is counted as `late`. Replaying a capture through an
 * exporter (softflowd -r) exports every flow at the end: give lateness >= the capture's span.
 * While no datagram arrives the source sends a heartbeat every second (IdleClock, idle-clock.ts, the
 * mechanism every live and UDP source shares): event time moves on by the wall time elapsed since
 * the last item was delivered, so windows close during silence. sFlow is stamped with arrival
 * times, so its clock starts at the wall clock when the source opens; NetFlow's runs on the
 * exporters' clocks, so it starts at the first record.
 *
 * Options (query string): `idle=S` ends the input after S seconds without a datagram (default:
 * run until SIGINT/SIGTERM), `max=N` after N datagrams, `rcvbuf=BYTES` (default 32 MiB, capped
 * by net.core.rmem_max), `lateness=S`. Datagrams that arrive while the bounded queue is full
 * are dropped and counted (`udp_queue_full`); decoder skips are counted as `flow_<reason>`
 * (flow_no_template, flow_truncated, ...); datagrams and templates show in --stats under the
 * source's `counters`.
 *
 * Cost: one copy of each datagram into the batch buffer (sFlow, so that headers are inside it)
 * and no allocation per record in the steady state (pooled record views, interned addresses);
 * node:dgram allocates one Buffer per datagram.
 */
import { createFlowDecoder, type FlowDecoder, type FlowProtocol, type FlowRecord, type NetflowCounters } from '../decode/flow/index.ts';
import { FlowRecordView } from '../decode/flow-record.ts';
import { LINKTYPE_ETHERNET, LINKTYPE_IPV4, LINKTYPE_IPV6 } from '../decode/layers.ts';
import { IntstreamError } from '../errors.ts';
import { PacketBatch } from './packet-batch.ts';
import { SkipCounters } from '../decode/skip-counters.ts';
import { IdleClock, nowSec } from './idle-clock.ts';
import type { PacketSource, SourceStatus, SourceTraits } from './source.ts';
import { parseUdpSpec, UdpReceiver, type UdpSpec } from './udp-receiver.ts';

const BATCH_RECORDS = 16384;
const BATCH_BYTES = 4 << 20;
/** Datagrams (and bytes) that may wait for the pipeline before new ones are dropped. */
const MAX_QUEUED = 8192;
const MAX_QUEUED_BYTES = 64 << 20;
const HEARTBEAT_MS = 1000;
const NETFLOW_LATENESS_S = 60;

/** sFlow header_protocol → LINKTYPE (sFlow v5 "header_protocol"; others become records). */
const HEADER_LINKTYPE: Record<number, number> = { 1: LINKTYPE_ETHERNET, 11: LINKTYPE_IPV4, 12: LINKTYPE_IPV6 };

export interface FlowUdpOptions extends UdpSpec {
  protocol: FlowProtocol;
  lateness?: number;
}

export function parseFlowUdpSpec(protocol: FlowProtocol, spec: string, rest: string): FlowUdpOptions {
  const eg = protocol === 'sflow' ? 'sflow:udp://0.0.0.0:6343' : 'netflow:udp://0.0.0.0:2055';
  const o: FlowUdpOptions = { ...parseUdpSpec(spec, rest, protocol, ['lateness=SECONDS'], `${eg} or ${eg}?idle=5`), protocol };
  const l = o.extra.get('lateness');
  if (l !== undefined) {
    const n = Number(l);
    if (!(l !== '' && n >= 0)) throw new IntstreamError('SOURCE_SPEC', `--source ${spec}: unknown or bad option 'lateness=${l}'`, 'lateness=SECONDS');
    o.lateness = n;
  }
  return o;
}

export class FlowUdpSource implements PacketSource {
  readonly name: string;
  readonly skipped = new SkipCounters();
  readonly warnings: string[];
  /** Flow records (and sFlow's sampled headers as packets); NetFlow's flow ends arrive out of order. */
  readonly traits: SourceTraits;
  private readonly o: FlowUdpOptions;
  private readonly decoder: FlowDecoder;
  private readonly rx: UdpReceiver;

  // ---- the bounded datagram queue (a ring) ----
  private readonly qMsg: (Buffer | null)[] = new Array(MAX_QUEUED).fill(null);
  private readonly qFrom: string[] = new Array(MAX_QUEUED).fill('');
  private readonly qAt = new Float64Array(MAX_QUEUED);
  private qHead = 0;
  private qLen = 0;
  private qBytes = 0;

  private readonly batch: PacketBatch;
  private readonly pool: FlowRecordView[] = [];
  private readonly items: (FlowRecordView | null)[];
  private dropped = 0;
  /** Event time during silence (heartbeats). */
  private readonly clock = new IdleClock(HEARTBEAT_MS);
  private readonly onRecord = (r: FlowRecord) => this.addRecord(r);
  /** Arrival time of the datagram being decoded. */
  private arrival = 0;

  constructor(spec: string, o: FlowUdpOptions) {
    this.name = spec;
    this.o = o;
    this.decoder = createFlowDecoder(o.protocol);
    this.traits = { items: 'records', lateness: o.lateness ?? (o.protocol === 'netflow' ? NETFLOW_LATENESS_S : 0), decode: null, pushdown: 'none' };
    const b = new PacketBatch(BATCH_RECORDS);
    b.buf = new Uint8Array(BATCH_BYTES);
    this.items = new Array(BATCH_RECORDS).fill(null);
    b.items = this.items;
    b.sampleRate = new Float64Array(BATCH_RECORDS);
    this.batch = b;
    this.rx = new UdpReceiver(spec, o, HEARTBEAT_MS, (msg, addr, port) => this.onMessage(msg, addr, port));
    this.warnings = this.rx.warnings;
  }

  /** Datagrams received so far (also after the source ended). */
  get datagrams(): number { return this.rx.received; }

  async open(): Promise<void> {
    await this.rx.open();
    // sFlow's event time is the arrival time: it runs from now even before the first datagram.
    if (this.o.protocol === 'sflow') this.clock.start(nowSec());
  }

  private onMessage(msg: Buffer, addr: string, port: number): void {
    if (this.qLen >= MAX_QUEUED || this.qBytes + msg.length > MAX_QUEUED_BYTES) {
      this.dropped++;
      this.skipped.bump('udp_queue_full');
      return;
    }
    const i = (this.qHead + this.qLen) % MAX_QUEUED;
    this.qMsg[i] = msg;
    this.qFrom[i] = addr.includes(':') ? `[${addr}]:${port}` : `${addr}:${port}`;
    this.qAt[i] = nowSec();
    this.qLen++;
    this.qBytes += msg.length;
  }

  /** One record slot of the batch; false when the batch is full (counted). */
  private slot(): number {
    const b = this.batch;
    if (b.count === b.capacity) { this.skipped.bump('record_batch_full'); return -1; }
    return b.count++;
  }

  private view(i: number): FlowRecordView {
    let v = this.pool[i];
    if (v === undefined) { v = new FlowRecordView(); this.pool[i] = v; }
    this.items[i] = v;
    return v;
  }

  private addRecord(r: FlowRecord): void {
    const b = this.batch;
    const i = this.slot();
    if (i < 0) return;
    if (r.type === 'sample') {
      const off = r['sflow.header_offset'], hl = r['sflow.header_length'], lt = HEADER_LINKTYPE[r['sflow.header_protocol'] ?? -1];
      b.sampleRate![i] = r['flow.sampling'] > 0 ? r['flow.sampling'] : 1;
      b.ts[i] = this.arrival;
      if (off !== null && hl !== null && hl > 0 && lt !== undefined) {
        this.items[i] = null;
        const wire = (r['sflow.frame_length'] ?? hl) - (r['sflow.stripped'] ?? 0);
        b.dataOff[i] = off; b.capLen[i] = hl; b.wireLen[i] = wire >= hl ? wire : hl;
        b.linkType[i] = lt; b.iface[i] = 0; b.fileOffset[i] = this.rx.received;
        return;
      }
      this.view(i).setSflowSample(r, this.arrival);
    } else if (r.type === 'counters') {
      this.view(i).setSflowCounters(r, this.arrival);
      b.sampleRate![i] = 1;
      b.ts[i] = this.arrival;
    } else {
      const v = this.view(i);
      v.setNetflow(r, this.arrival);
      b.sampleRate![i] = v.sampleRate;
      b.ts[i] = v.ts;
    }
    b.dataOff[i] = 0; b.capLen[i] = 0; b.wireLen[i] = 0; b.linkType[i] = -1; b.iface[i] = 0; b.fileOffset[i] = this.rx.received;
  }

  async nextBatch(): Promise<PacketBatch | null> {
    const b = this.batch;
    b.count = 0;
    b.clock = -Infinity;
    for (;;) {
      if (this.qLen > 0) break;
      if (this.rx.closed) { this.syncCounters(true); return null; }
      const waitedFrom = Date.now();
      await this.rx.wait();
      if (this.qLen === 0 && !this.rx.closed && Date.now() - waitedFrom >= HEARTBEAT_MS / 2) {
        // Idle heartbeat: event time moves on with the wall clock since the last item.
        const hb = this.clock.heartbeat();
        if (hb !== null) return hb;
      }
    }
    const buf = b.buf;
    let used = 0;
    while (this.qLen > 0) {
      const i = this.qHead;
      const msg = this.qMsg[i]!;
      const len = msg.length;
      // Room for the datagram's bytes and for its records (no record is shorter than 8 bytes).
      if (b.count > 0 && (used + len > buf.length || b.count + Math.ceil(len / 8) > b.capacity)) break;
      this.qMsg[i] = null;
      this.qHead = (i + 1) % MAX_QUEUED;
      this.qLen--;
      this.qBytes -= len;
      this.arrival = this.qAt[i];
      if (this.o.protocol === 'sflow' && len <= buf.length) {
        buf.set(msg, used);
        this.decoder.decode(buf, used, len, this.qFrom[i], this.onRecord);
        used += len;
      } else {
        this.decoder.decode(msg, 0, len, this.qFrom[i], this.onRecord);
      }
    }
    this.syncCounters();
    this.clock.delivered(b.ts, b.count);
    return b;
  }

  /**
   * The decoder's skip counts as `flow_<reason>` skip reasons, and the kernel's drops of the
   * socket as `udp_kernel_drops` (read at most once a second, and at the end).
   */
  private syncCounters(final = false): void {
    for (const [reason, n] of Object.entries(this.decoder.counters.skipped)) {
      if (n > 0) this.skipped.counts.set(`flow_${reason.replace(/-/g, '_')}`, n);
    }
    this.rx.countKernelDrops(this.skipped, final);
  }

  /** Datagram and decoder counters for --stats. */
  private counters(): Record<string, number> {
    const c = this.decoder.counters as Partial<NetflowCounters> & typeof this.decoder.counters;
    const out: Record<string, number> = { datagrams: this.rx.received, datagrams_dropped: this.dropped, datagrams_decoded: c.datagrams, records: c.records };
    if (c.templates !== undefined) {
      out.templates = c.templates; out.templates_withdrawn = c.withdrawn ?? 0; out.templates_expired = c.expired ?? 0; out.option_records = c.optionRecords ?? 0;
    }
    return out;
  }

  status(): SourceStatus {
    return { bytes: this.rx.bytes, total: undefined, counters: this.counters(), kernel: null, failure: null };
  }

  async close(): Promise<void> {
    this.rx.finish();
  }
}

export async function openSflowSource(spec: string, rest: string): Promise<PacketSource> {
  return new FlowUdpSource(spec, parseFlowUdpSpec('sflow', spec, rest));
}

export async function openNetflowSource(spec: string, rest: string): Promise<PacketSource> {
  return new FlowUdpSource(spec, parseFlowUdpSpec('netflow', spec, rest));
}
