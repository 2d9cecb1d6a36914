/**
 * HOT PATH (bench/int-collector.ts): the `p.int` view of a packet whose INT headers decoded.
 *
 * Two ways in (chosen per source, see `IntDecodeOptions`): a Telemetry Report (the UDP payload
 * to the report port is decoded like a tunnel: `p.int` is the report, `ip.*`/`tcp.*` are the
 * monitored packet inside it, the report's own IP header is `outer.*`), or an INT-MD/MX packet
 * in flight (marked by DSCP or UDP port: `p.int` is its INT stack, `ip.*` its own headers).
 *
 * The view reads the source's one reused IntReport (src/decode/int): valid only while the
 * packet is. Hops are addressed in traversal order: k = 0 is the first switch the packet
 * crossed (the wire order is most recent first). A value a switch marked "not available"
 * (all ones) reads as -1.
 *
 * Hop columns on demand: the packet's report decodes no hop field with the packet
 * (IntDecodeOptions.intHopColumns, default none); each accessor here decodes the column it reads
 * the first time it is asked for in a packet (ensureHopColumns, src/decode/int), so a task pays
 * only for the hop fields it reads. Code that reads `report.hops` arrays directly calls
 * ensureHopColumns first, or goes through `report`, which decodes all; the INT collector
 * (src/int/collector.ts) reads its few fields straight from the bytes (hopWordOffset).
 */
import {
  F_EGRESS_PORT, F_EGRESS_TX_UTIL, F_HOP_LATENCY, F_INGRESS_PORT, F_QUEUE_CONGESTION, F_QUEUE_ID,
  F_QUEUE_OCCUPANCY, F_SWITCH_ID, F_INGRESS_TS, F_EGRESS_TS, REPORT_FLAG_CONGESTED, REPORT_FLAG_DROPPED,
  ALL_HOP_FIELDS, createIntReport, ensureHopColumns, type IntReport, type IntReportOptions,
} from './int/index.ts';
import type { Packet } from './packet.ts';

/** Per-source INT decoding, set on the Packet by the local processor (all off by default). */
export interface IntDecodeOptions {
  /** UDP destination port of Telemetry Reports (0: off). */
  intPort?: number;
  /** INT-MD/MX in flight: DSCP value that marks INT packets (with intDscpMask, default 0x3f). */
  intDscp?: number;
  intDscpMask?: number;
  /** INT-MD/MX in flight: UDP destination port that marks INT packets (0: off). */
  intMdPort?: number;
  /** LENIENT_* bits of src/decode/int (0: strict, known deviations are named errors). */
  intLenient?: number;
  /** Hop capacity of the reused report (default 16). */
  intMaxHops?: number;
  /**
   * Hop fields (F_* bits of src/decode/int) decoded with every packet; the others are decoded
   * when first read (see the top). Default 0: every column on demand.
   */
  intHopColumns?: number;
}

/** True when any INT decoding is asked for. */
export function intDecodeEnabled(o: IntDecodeOptions | undefined): boolean {
  return !!o && ((o.intPort ?? 0) > 0 || (o.intMdPort ?? 0) > 0 || o.intDscp !== undefined);
}

/** Turns INT decoding on for every packet decoded into `p` (once per source, allocates). */
export function configurePacketInt(p: Packet, o: IntDecodeOptions | undefined): void {
  if (!intDecodeEnabled(o)) return;
  const opts: IntReportOptions = { lenient: o!.intLenient ?? 0, hopColumns: o!.intHopColumns ?? 0 };
  p.intReport = createIntReport(o!.intMaxHops ?? 16, opts);
  p.intPort = (o!.intPort ?? 0) & 0xffff;
  p.intMdPort = (o!.intMdPort ?? 0) & 0xffff;
  if (o!.intDscp !== undefined) {
    p.intMdDscp = o!.intDscp & 0x3f;
    p.intMdDscpMask = (o!.intDscpMask ?? 0x3f) & 0x3f;
  }
}

const VERSION_NUMBER = [0.5, 1, 2];

export class IntView {
  private readonly p: Packet;
  constructor(p: Packet) { this.p = p; }
  /** The decoded report (src/decode/int IntReport), for everything not exposed here; every hop column decoded. */
  get report(): IntReport { const r = this.p.intReport!; ensureHopColumns(r, ALL_HOP_FIELDS); return r; }
  /** Switch id of the reporting switch (TR v1.0 / v2.0); -1 when the format has none (TR v0.5, in flight). */
  get switch_id(): number { return this.p.intReport!.nodeId; }
  get hw_id(): number { return this.p.intReport!.hwId; }
  get sequence(): number { return this.p.intReport!.sequence; }
  /** The reporter's ingress timestamp, ns (TR v0.5/v1.0: 32 bits; v2.0: 64 bits, exact below 2^53); -1 if none. */
  get report_ts(): number { return this.p.intReport!.reportTimestampNs; }
  /** Telemetry Report version 0.5, 1 or 2; -1 for INT in flight. */
  get version(): number { const v = this.p.intReport!.reportVersion; return v >= 0 ? VERSION_NUMBER[v] : -1; }
  /** INT metadata version 0.5, 1 or 2 (2.x); -1 when the report carries no INT stack. */
  get int_version(): number { const v = this.p.intReport!.intVersion; return v >= 0 ? VERSION_NUMBER[v] : -1; }
  get dropped(): boolean { return (this.p.intReport!.reportFlags & REPORT_FLAG_DROPPED) !== 0; }
  get congested(): boolean { return (this.p.intReport!.reportFlags & REPORT_FLAG_CONGESTED) !== 0; }
  get instruction_bitmap(): number { return this.p.intReport!.instructionBitmap; }
  get hop_count(): number { return this.p.intReport!.hopCount; }
  /** Whether every hop carries field F_* (src/decode/int). */
  has(field: number): boolean { return (this.p.intReport!.hops.present & field) !== 0; }

  private idx(k: number): number { return this.p.intReport!.hopCount - 1 - k; }
  private val(arr: ArrayLike<number>, field: number, k: number): number {
    const r = this.p.intReport!, h = r.hops, i = this.idx(k);
    ensureHopColumns(r, field);
    return (h.present & field) === 0 || (h.invalid[i] & field) !== 0 ? -1 : arr[i];
  }
  /** Hop k (traversal order) fields; -1 when not present or not available. */
  switchId(k: number): number { return this.val(this.p.intReport!.hops.switchId, F_SWITCH_ID, k); }
  ingressPort(k: number): number { return this.val(this.p.intReport!.hops.ingressPort, F_INGRESS_PORT, k); }
  egressPort(k: number): number { return this.val(this.p.intReport!.hops.egressPort, F_EGRESS_PORT, k); }
  /** Hop latency in the switch's units (ns for INT v1.0+, as the switch reports it). */
  hopLatency(k: number): number { return this.val(this.p.intReport!.hops.hopLatency, F_HOP_LATENCY, k); }
  queueId(k: number): number { return this.val(this.p.intReport!.hops.queueId, F_QUEUE_ID, k); }
  queueOccupancy(k: number): number { return this.val(this.p.intReport!.hops.queueOccupancy, F_QUEUE_OCCUPANCY, k); }
  queueCongestion(k: number): number { return this.val(this.p.intReport!.hops.queueCongestion, F_QUEUE_CONGESTION, k); }
  txUtil(k: number): number { return this.val(this.p.intReport!.hops.egressTxUtil, F_EGRESS_TX_UTIL, k); }
  ingressTs(k: number): number { return this.val(this.p.intReport!.hops.ingressTs, F_INGRESS_TS, k); }
  egressTs(k: number): number { return this.val(this.p.intReport!.hops.egressTs, F_EGRESS_TS, k); }

  /** Sum of the hop latencies (flow latency); -1 when hop latency is not reported. */
  get latency(): number {
    const r = this.p.intReport!, h = r.hops;
    if ((h.present & F_HOP_LATENCY) === 0) return -1;
    ensureHopColumns(r, F_HOP_LATENCY);
    let s = 0;
    for (let i = 0; i < r.hopCount; i++) if ((h.invalid[i] & F_HOP_LATENCY) === 0) s += h.hopLatency[i];
    return s;
  }

  /** Switch ids in traversal order, comma-separated (builds a string: not per packet on hot paths). */
  get path(): string {
    const r = this.p.intReport!;
    if ((r.hops.present & F_SWITCH_ID) === 0) return '';
    ensureHopColumns(r, F_SWITCH_ID);
    let s = '';
    for (let i = r.hopCount - 1; i >= 0; i--) s += (i === r.hopCount - 1 ? '' : ',') + r.hops.switchId[i];
    return s;
  }
}
