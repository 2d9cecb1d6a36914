/**
 * HOT PATH (bench/int-collector.ts): INT event detection, the metrics of INTCollector
 * (Van Tu et al., "INTCollector: A High-performance Collector for In-band Network Telemetry").
 *
 * One `IntCollectorState` per local stage turns decoded reports (`p.int`) into events:
 *
 *   key kind  ids                          metrics
 *   flow      src dst proto sport dport    path (switch ids, first hop first), latency (sum)
 *   hop       flow ids + switch_id         hop_latency
 *   egress    switch_id port               tx_util
 *   queue     switch_id queue_id           occupancy, congestion (INT v0.5 only)
 *
 * Events (`value.event`): `new` (first report of a key, or first after it expired), `path`
 * (a flow's switch list changed), `change` (a metric left its bin of width `step`, or in
 * threshold mode moved by more than `step` since it was last reported; step 0 = any change),
 * `periodic` (every live key at each multiple of `period` s of event time, with `last_seen`),
 * `expired` (not seen for `timeout` s; its time is last_seen + timeout). Every value carries
 * `ts`, the event time in seconds (the report's time, or the periodic/expiry instant).
 *
 * Cost: a report on a known flow whose path did not change does no hashing beyond the flow
 * lookup: hop, egress and queue entries are cached on the flow's per-position hop slots.
 * Objects are allocated only for new keys and for events. Results depend only on the reports
 * and their times (deterministic for a capture).
 */
import type { Packet } from '../decode/packet.ts';
import { F_EGRESS_PORT, F_EGRESS_TX_UTIL, F_HOP_LATENCY, F_QUEUE_CONGESTION, F_QUEUE_ID, F_QUEUE_OCCUPANCY, F_SWITCH_ID, type IntReport } from '../decode/int/index.ts';
import { IPPROTO_TCP, IPPROTO_UDP } from '../decode/layers.ts';

export interface CollectorConfig {
  /** 'bin': an event when a value leaves its bin; 'threshold': when it moves by more than step. */
  mode: 'bin' | 'threshold';
  latencyStep: number;
  hopLatencyStep: number;
  txUtilStep: number;
  occupancyStep: number;
  congestionStep: number;
  /** Periodic export of every live key, seconds of event time (0: off). */
  period: number;
  /** Keys not seen for this long expire, seconds (0: never). */
  timeout: number;
}

export const DEFAULT_COLLECTOR_CONFIG: CollectorConfig = {
  mode: 'bin', latencyStep: 1000, hopLatencyStep: 500, txUtilStep: 100, occupancyStep: 1000, congestionStep: 10,
  period: 10, timeout: 30,
};

export type FlowKey = { kind: 'flow'; src: string; dst: string; proto: number; sport: number; dport: number };
export type HopKey = { kind: 'hop'; src: string; dst: string; proto: number; sport: number; dport: number; switch_id: number };
export type EgressKey = { kind: 'egress'; switch_id: number; port: number };
export type QueueKey = { kind: 'queue'; switch_id: number; queue_id: number };
export type CollectorKey = FlowKey | HopKey | EgressKey | QueueKey;

export type CollectorEvent = 'new' | 'change' | 'path' | 'periodic' | 'expired';

const KIND_FLOW = 0, KIND_HOP = 1, KIND_EGRESS = 2, KIND_QUEUE = 3;

/** State of one key. v0/v1 are the latest metric values (-1: not reported). */
class Entry {
  readonly kind: number;
  readonly key: CollectorKey;
  last = 0;
  v0 = -1;
  v1 = -1;
  /** What the last event reported: a bin index (bin mode) or a value (threshold mode). */
  r0 = NaN;
  r1 = NaN;
  dead = false;
  constructor(kind: number, key: CollectorKey) { this.kind = kind; this.key = key; }
}

class FlowEntry extends Entry {
  /** Exact tuple, to tell hash collisions apart (IPv4 only; IPv6 flows use the text map). */
  a = 0; b = 0; ports = 0; proto = 0;
  /** Kept in the text map (IPv6, or an IPv4 hash collision) rather than by hash. */
  inText = false;
  /** No report processed yet (its first one emits `new`). */
  fresh = true;
  /** Path in traversal order; `pathLen` entries valid. */
  path = new Uint32Array(8);
  pathLen = -1;
  /** Hop slot per traversal position (cache: same switch at the same position = same entry). */
  hopAt: (HopEntry | undefined)[] = [];
  /** Every hop entry of the flow by switch id. */
  hops = new Map<number, HopEntry>();
}

class HopEntry extends Entry {
  readonly flow: FlowEntry;
  readonly switchId: number;
  egress: Entry | undefined = undefined;
  egressPort = -1;
  queue: Entry | undefined = undefined;
  queueId = -1;
  constructor(key: HopKey, flow: FlowEntry, switchId: number) { super(KIND_HOP, key); this.flow = flow; this.switchId = switchId; }
}

type Out = (value: object, key: unknown) => void;

function u32(b: Uint8Array, o: number): number {
  return ((b[o] << 24) | (b[o + 1] << 16) | (b[o + 2] << 8) | b[o + 3]) >>> 0;
}

export class IntCollectorState {
  private readonly c: CollectorConfig;
  private readonly flows4 = new Map<number, FlowEntry>();
  private readonly flowsText = new Map<string, FlowEntry>();
  private readonly egress = new Map<number, Entry>();
  private readonly queues = new Map<number, Entry>();
  /** Every live entry, in creation order (deterministic iteration for periodic and expiry). */
  private readonly live = new Set<Entry>();
  private nextPeriodic = -Infinity;
  private nextScan = -Infinity;
  private readonly scanEvery: number;
  private now = 0;
  reports = 0;
  events = 0;
  /** Reports without an inner IP packet (flow and hop keys need one). */
  noFlow = 0;

  constructor(config: Partial<CollectorConfig> = {}) {
    this.c = { ...DEFAULT_COLLECTOR_CONFIG, ...config };
    this.scanEvery = this.c.timeout > 0 ? Math.max(this.c.timeout / 4, 1e-3) : Infinity;
  }

  /** Live keys right now (all kinds). */
  get size(): number { return this.live.size; }

  private moved(v: number, ref: number, step: number): boolean {
    if (v < 0) return false;
    if (ref !== ref) return true; // NaN: never reported
    if (step <= 0) return v !== ref;
    return this.c.mode === 'bin' ? Math.floor(v / step) !== ref : Math.abs(v - ref) > step;
  }

  private ref(v: number, step: number): number {
    if (v < 0) return NaN;
    return this.c.mode === 'bin' && step > 0 ? Math.floor(v / step) : v;
  }

  private value(e: Entry, event: CollectorEvent, ts: number): Record<string, unknown> {
    switch (e.kind) {
      case KIND_FLOW: {
        const f = e as FlowEntry;
        const o: Record<string, unknown> = { event, ts, path: Array.from(f.path.subarray(0, Math.max(f.pathLen, 0))) };
        if (f.v0 >= 0) o.latency = f.v0;
        return o;
      }
      case KIND_HOP: { const o: Record<string, unknown> = { event, ts }; if (e.v0 >= 0) o.hop_latency = e.v0; return o; }
      case KIND_EGRESS: return { event, ts, tx_util: e.v0 };
      default: {
        const o: Record<string, unknown> = { event, ts };
        if (e.v0 >= 0) o.occupancy = e.v0;
        if (e.v1 >= 0) o.congestion = e.v1;
        return o;
      }
    }
  }

  private emit(e: Entry, event: CollectorEvent, ts: number, out: Out): void {
    const v = this.value(e, event, ts);
    if (event === 'periodic' || event === 'expired') v.last_seen = e.last;
    this.events++;
    out(v, e.key);
  }

  /** After updating e's values: emits new/change and remembers what was reported. */
  private detect(e: Entry, isNew: boolean, ts: number, out: Out, s0: number, s1: number): void {
    if (isNew) {
      e.r0 = this.ref(e.v0, s0); e.r1 = this.ref(e.v1, s1);
      this.emit(e, 'new', ts, out);
      return;
    }
    const m0 = this.moved(e.v0, e.r0, s0), m1 = this.moved(e.v1, e.r1, s1);
    if (m0 || m1) {
      e.r0 = this.ref(e.v0, s0); e.r1 = this.ref(e.v1, s1);
      this.emit(e, 'change', ts, out);
    }
  }

  /** Periodic exports and expiries due before time `ts` (event time moves forward only). */
  advance(ts: number, out: Out): void {
    if (ts < this.now) return;
    this.now = ts;
    const period = this.c.period;
    if (this.nextPeriodic === -Infinity) this.nextPeriodic = period > 0 ? (Math.floor(ts / period) + 1) * period : Infinity;
    if (this.nextScan === -Infinity) this.nextScan = this.c.timeout > 0 ? ts + this.scanEvery : Infinity;
    while (period > 0 && ts >= this.nextPeriodic) {
      const t = this.nextPeriodic;
      this.expireBefore(t, out);
      for (const e of this.live) this.emit(e, 'periodic', t, out);
      this.nextPeriodic = t + period;
    }
    if (ts >= this.nextScan) {
      this.expireBefore(ts, out);
      this.nextScan = ts + this.scanEvery;
    }
  }

  /** Expires every key whose last report is more than `timeout` s before t. */
  expireBefore(t: number, out: Out): void {
    const timeout = this.c.timeout;
    if (!(timeout > 0)) return;
    let due: Entry[] | null = null;
    for (const e of this.live) if (t - e.last > timeout) (due ??= []).push(e);
    if (due === null) return;
    due.sort((a, b) => a.last - b.last); // stable: creation order among equal times
    for (const e of due) this.expire(e, out);
  }

  private expire(e: Entry, out: Out): void {
    if (e.dead) return;
    e.dead = true;
    this.live.delete(e);
    if (e.kind === KIND_FLOW) {
      const f = e as FlowEntry;
      if (f.inText) this.flowsText.delete(this.textKey(f.key));
      else this.flows4.delete(this.hash4(f.a, f.b, f.ports, f.proto));
    } else if (e.kind === KIND_HOP) {
      const h = e as HopEntry;
      h.flow.hops.delete(h.switchId);
      const at = h.flow.hopAt.indexOf(h);
      if (at >= 0) h.flow.hopAt[at] = undefined;
    } else if (e.kind === KIND_EGRESS) {
      const k = e.key as EgressKey;
      this.egress.delete(k.switch_id * 65536 + k.port);
    } else {
      const k = e.key as QueueKey;
      this.queues.delete(k.switch_id * 256 + k.queue_id);
    }
    this.emit(e, 'expired', e.last + this.c.timeout, out);
  }

  /** Keys seen again after their timeout, noticed before the next scan. */
  private stale(e: Entry | undefined, ts: number, out: Out): boolean {
    if (e === undefined || e.dead) return true;
    if (this.c.timeout > 0 && ts - e.last > this.c.timeout) { this.expire(e, out); return true; }
    return false;
  }

  private hash4(a: number, b: number, ports: number, proto: number): number {
    // 53-bit mix of the IPv4 5-tuple; collisions are told apart by the exact tuple.
    let h1 = Math.imul(a ^ 0x9e3779b9, 0x85ebca6b) ^ Math.imul(b, 0xc2b2ae35);
    h1 = Math.imul(h1 ^ (h1 >>> 15), 0x27d4eb2f) ^ ports;
    let h2 = Math.imul(ports ^ (proto << 16) ^ b, 0x165667b1) ^ a;
    h2 = Math.imul(h2 ^ (h2 >>> 13), 0x9e3779b1);
    return (h1 >>> 0) * 2097152 + (h2 >>> 11);
  }

  private textKey(k: CollectorKey): string {
    const f = k as FlowKey;
    return `${f.src} ${f.dst} ${f.proto} ${f.sport} ${f.dport}`;
  }

  private flowOf(p: Packet, ts: number, out: Out): FlowEntry | null {
    const ip = p.ip;
    if (ip === null) return null;
    const proto = p.proto;
    let sport = 0, dport = 0;
    if ((proto === IPPROTO_TCP || proto === IPPROTO_UDP) && p.l4Off >= 0) {
      const b = p.buf, o = p.l4Off;
      sport = (b[o] << 8) | b[o + 1]; dport = (b[o + 2] << 8) | b[o + 3];
    }
    const ports = ((sport << 16) | dport) >>> 0;
    let f: FlowEntry | undefined;
    let h = -1;
    if (p.l3 === 4) {
      const a = u32(p.buf, p.l3Off + 12), b = u32(p.buf, p.l3Off + 16);
      h = this.hash4(a, b, ports, proto);
      f = this.flows4.get(h);
      if (f !== undefined && (f.a !== a || f.b !== b || f.ports !== ports || f.proto !== proto)) f = this.textFlow(ip.src, ip.dst, proto, sport, dport), h = -1;
      if (f !== undefined && this.stale(f, ts, out)) f = undefined;
      if (f === undefined) {
        f = this.newFlow(ip.src, ip.dst, proto, sport, dport);
        f.a = a; f.b = b; f.ports = ports; f.proto = proto;
        if (h >= 0 && (this.flows4.get(h)?.dead ?? true)) this.flows4.set(h, f);
        else { f.inText = true; this.flowsText.set(this.textKey(f.key), f); }
        return f;
      }
      return f;
    }
    f = this.textFlow(ip.src, ip.dst, proto, sport, dport);
    if (f !== undefined && this.stale(f, ts, out)) f = undefined;
    if (f === undefined) {
      f = this.newFlow(ip.src, ip.dst, proto, sport, dport);
      f.inText = true;
      this.flowsText.set(this.textKey(f.key), f);
    }
    return f;
  }

  private textFlow(src: string, dst: string, proto: number, sport: number, dport: number): FlowEntry | undefined {
    return this.flowsText.size === 0 ? undefined : this.flowsText.get(`${src} ${dst} ${proto} ${sport} ${dport}`);
  }

  private newFlow(src: string, dst: string, proto: number, sport: number, dport: number): FlowEntry {
    const f = new FlowEntry(KIND_FLOW, { kind: 'flow', src, dst, proto, sport, dport });
    this.live.add(f);
    return f;
  }

  /** One decoded report (p.int non-null); `ts` its event time. Emits events through `out`. */
  onReport(p: Packet, ts: number, out: Out): void {
    this.reports++;
    if (ts >= this.nextPeriodic || ts >= this.nextScan) this.advance(ts, out);
    const r = p.intReport as IntReport;
    const h = r.hops, n = r.hopCount, present = h.present;
    const hasSw = (present & F_SWITCH_ID) !== 0;
    const hasLat = (present & F_HOP_LATENCY) !== 0;

    const flow = this.flowOf(p, ts, out);
    if (flow !== null) {
      const isNew = flow.fresh;
      flow.fresh = false;
      flow.last = ts;
      // path (traversal order = wire order reversed) and latency
      let changed = false;
      if (hasSw) {
        if (flow.pathLen !== n) changed = true;
        if (flow.path.length < n) { const np = new Uint32Array(Math.max(n, flow.path.length * 2)); np.set(flow.path); flow.path = np; }
        for (let k = 0; k < n; k++) {
          const sw = h.switchId[n - 1 - k];
          if (flow.path[k] !== sw) { changed = true; flow.path[k] = sw; }
        }
        flow.pathLen = n;
      }
      let lat = -1;
      if (hasLat) { lat = 0; for (let i = 0; i < n; i++) if ((h.invalid[i] & F_HOP_LATENCY) === 0) lat += h.hopLatency[i]; }
      flow.v0 = lat;
      if (isNew) this.detect(flow, true, ts, out, this.c.latencyStep, 0);
      else if (changed) {
        flow.r0 = this.ref(flow.v0, this.c.latencyStep);
        this.emit(flow, 'path', ts, out);
      } else this.detect(flow, false, ts, out, this.c.latencyStep, 0);
    } else this.noFlow++;

    if (!hasSw) return;
    const hasPort = (present & F_EGRESS_PORT) !== 0, hasUtil = (present & F_EGRESS_TX_UTIL) !== 0;
    const hasQ = (present & F_QUEUE_ID) !== 0, hasOcc = (present & F_QUEUE_OCCUPANCY) !== 0, hasCong = (present & F_QUEUE_CONGESTION) !== 0;
    for (let k = 0; k < n; k++) {
      const i = n - 1 - k;
      const sw = h.switchId[i];
      const inv = h.invalid[i];
      let hop: HopEntry | undefined;
      if (flow !== null) {
        hop = flow.hopAt[k];
        if (hop === undefined || hop.switchId !== sw || hop.dead) {
          hop = flow.hops.get(sw);
          if (hop !== undefined && this.stale(hop, ts, out)) hop = undefined;
          let isNew = false;
          if (hop === undefined) {
            const fk = flow.key as FlowKey;
            hop = new HopEntry({ kind: 'hop', src: fk.src, dst: fk.dst, proto: fk.proto, sport: fk.sport, dport: fk.dport, switch_id: sw }, flow, sw);
            flow.hops.set(sw, hop);
            this.live.add(hop);
            isNew = true;
          }
          flow.hopAt[k] = hop;
          if (isNew) {
            hop.last = ts;
            hop.v0 = hasLat && (inv & F_HOP_LATENCY) === 0 ? h.hopLatency[i] : -1;
            this.detect(hop, true, ts, out, this.c.hopLatencyStep, 0);
            hop = this.hopTail(hop, sw, i, inv, ts, out, hasPort, hasUtil, hasQ, hasOcc, hasCong, r);
            continue;
          }
        } else if (this.c.timeout > 0 && ts - hop.last > this.c.timeout) {
          this.expire(hop, out);
          k--; // the slot is empty now: take the new-entry path for this position
          continue;
        }
        hop.last = ts;
        hop.v0 = hasLat && (inv & F_HOP_LATENCY) === 0 ? h.hopLatency[i] : -1;
        this.detect(hop, false, ts, out, this.c.hopLatencyStep, 0);
      }
      this.hopTail(hop, sw, i, inv, ts, out, hasPort, hasUtil, hasQ, hasOcc, hasCong, r);
    }
  }

  /** Egress and queue keys of hop i (switch sw); the hop entry, when there is one, caches them. */
  private hopTail(hop: HopEntry | undefined, sw: number, i: number, inv: number, ts: number, out: Out,
    hasPort: boolean, hasUtil: boolean, hasQ: boolean, hasOcc: boolean, hasCong: boolean, r: IntReport): HopEntry | undefined {
    const h = r.hops;
    if (hasPort && hasUtil && (inv & (F_EGRESS_PORT | F_EGRESS_TX_UTIL)) === 0) {
      const port = h.egressPort[i];
      let e = hop !== undefined && hop.egressPort === port ? hop.egress : undefined;
      let isNew = false;
      if (e === undefined || e.dead || (this.c.timeout > 0 && ts - e.last > this.c.timeout)) {
        const id = sw * 65536 + port;
        e = this.egress.get(id);
        if (e !== undefined && this.stale(e, ts, out)) e = undefined;
        if (e === undefined) {
          e = new Entry(KIND_EGRESS, { kind: 'egress', switch_id: sw, port });
          this.egress.set(id, e); this.live.add(e); isNew = true;
        }
        if (hop !== undefined) { hop.egress = e; hop.egressPort = port; }
      }
      e.last = ts; e.v0 = h.egressTxUtil[i];
      this.detect(e, isNew, ts, out, this.c.txUtilStep, 0);
    }
    if (hasQ && (hasOcc || hasCong) && (inv & F_QUEUE_ID) === 0) {
      const q = h.queueId[i];
      let e = hop !== undefined && hop.queueId === q ? hop.queue : undefined;
      let isNew = false;
      if (e === undefined || e.dead || (this.c.timeout > 0 && ts - e.last > this.c.timeout)) {
        const id = sw * 256 + q;
        e = this.queues.get(id);
        if (e !== undefined && this.stale(e, ts, out)) e = undefined;
        if (e === undefined) {
          e = new Entry(KIND_QUEUE, { kind: 'queue', switch_id: sw, queue_id: q });
          this.queues.set(id, e); this.live.add(e); isNew = true;
        }
        if (hop !== undefined) { hop.queue = e; hop.queueId = q; }
      }
      e.last = ts;
      e.v0 = hasOcc && (inv & F_QUEUE_OCCUPANCY) === 0 ? h.queueOccupancy[i] : -1;
      e.v1 = hasCong && (inv & F_QUEUE_CONGESTION) === 0 ? h.queueCongestion[i] : -1;
      this.detect(e, isNew, ts, out, this.c.occupancyStep, this.c.congestionStep);
    }
    return hop;
  }

  /** End of input: keys whose timeout passed before the last report expire; live keys stay. */
  finish(out: Out): void {
    this.expireBefore(this.now, out);
  }
}
