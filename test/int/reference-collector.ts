/**
 * REFERENCE ONLY (test/int/collector-differential.test.ts): a verbatim copy of
 * src/int/collector.ts as it was at commit bdbaa5d (one Entry object per key, Maps and a Set),
 * before the collector moved its state into typed arrays. It is the oracle the new collector
 * must match event for event; do not optimise or "fix" it here. It reads the report's hop
 * arrays directly, so it needs a Packet whose report decodes every hop column
 * (configurePacketInt(p, { ..., intHopColumns: ALL_HOP_FIELDS })). Only the import paths and
 * the class name (ReferenceCollectorState) differ from the original.
 *
 * --- original header follows ---
 */
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
 * Jumps in event time (a gap between reports, a corrupt or offset timestamp): when time passes
 * several multiples of `period` at once, nothing changed in between, so the exports at the
 * skipped multiples would repeat the same values: they collapse into one, at the latest multiple
 * reached. A key thus gets at most one `periodic` event per report, and keys whose timeout ran
 * out within the gap expire first (at their own last_seen + timeout) without periodic events
 * in between. Where doubles are coarser than the period (t + period == t: times near 2^62 s,
 * from a pcapng if_tsoffset), every distinct time counts as the next multiple. advance() is
 * O(live keys) whatever the jump.
 *
 * Cost: a report on a known flow whose path did not change does no hashing beyond the flow
 * lookup: hop, egress and queue entries are cached on the flow's per-position hop slots.
 * Objects are allocated only for new keys and for events. Results depend only on the reports
 * and their times (deterministic for a capture).
 */
import type { Packet } from '../../src/decode/packet.ts';
import { F_EGRESS_PORT, F_EGRESS_TX_UTIL, F_HOP_LATENCY, F_QUEUE_CONGESTION, F_QUEUE_ID, F_QUEUE_OCCUPANCY, F_SWITCH_ID, type IntReport } from '../../src/decode/int/index.ts';
import { IPPROTO_TCP, IPPROTO_UDP } from '../../src/decode/layers.ts';

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

/**
 * State of one key, every kind in one class (one hidden class: the hot functions below see a
 * single shape). v0/v1 are the latest metric values (-1: not reported). Flow fields are set
 * on flows only, hop fields on hops only.
 */
class Entry {
  readonly kind: number;
  readonly key: CollectorKey;
  last = -Infinity;
  v0 = -1;
  v1 = -1;
  /** What the last event reported: a bin index (bin mode) or a value (threshold mode). */
  r0 = NaN;
  r1 = NaN;
  dead = false;
  // ---- flow ----
  /** Exact IPv4 tuple (flows by hash; IPv6 flows use the text map). */
  a = 0; b = 0; ports = 0; proto = 0;
  /** Hash bucket (a Smi) of an IPv4 flow, -1 for a flow in the text map. */
  bucket = -1;
  /** Next flow of the same bucket. */
  chain: Entry | null = null;
  /** No report processed yet (its first one emits `new`). */
  fresh = true;
  /** Path in traversal order; `pathLen` entries valid. */
  path: Uint32Array = EMPTY_PATH;
  pathLen = -1;
  /** Hop slot per traversal position (cache: same switch at the same position = same entry). */
  hopAt: (Entry | undefined)[] = NO_HOPS;
  /** Every hop entry of the flow by switch id. */
  hops: Map<number, Entry> | null = null;
  // ---- hop ----
  flow: Entry | null = null;
  switchId = -1;
  egress: Entry | null = null;
  egressPort = -1;
  queue: Entry | null = null;
  queueId = -1;
  constructor(kind: number, key: CollectorKey) { this.kind = kind; this.key = key; }
}
const EMPTY_PATH = new Uint32Array(0);
const NO_HOPS: (Entry | undefined)[] = [];

type Out = (value: object, key: unknown) => void;

const nextBits = new Float64Array(1), nextInt = new BigInt64Array(nextBits.buffer);
/** The next double above finite x. */
function nextUp(x: number): number {
  if (x === 0) return Number.MIN_VALUE;
  nextBits[0] = x;
  nextInt[0] += x > 0 ? 1n : -1n;
  return nextBits[0];
}

/** ts + d, or where that does not move (t + d == t at 2^62 s), the next double. */
function later(ts: number, d: number): number {
  const t = ts + d;
  return t > ts ? t : nextUp(ts);
}

function u32(b: Uint8Array, o: number): number {
  return ((b[o] << 24) | (b[o + 1] << 16) | (b[o + 2] << 8) | b[o + 3]) >>> 0;
}

export class ReferenceCollectorState {
  private readonly c: CollectorConfig;
  /** IPv4 flows by a 30-bit hash (Smi keys: no boxing), colliding flows chained on Entry.chain. */
  private readonly flows4 = new Map<number, Entry>();
  private readonly flowsText = new Map<string, Entry>();
  private readonly egress = new Map<number, Entry>();
  private readonly queues = new Map<number, Entry>();
  /** Every live entry, in creation order (deterministic iteration for periodic and expiry). */
  private readonly live = new Set<Entry>();
  private nextPeriodic = -Infinity;
  private nextScan = -Infinity;
  private readonly scanEvery: number;
  // the config as plain fields (read on every report)
  private readonly bin: boolean;
  private readonly timeout: number;
  private readonly latencyStep: number;
  private readonly hopLatencyStep: number;
  private readonly txUtilStep: number;
  private readonly occupancyStep: number;
  private readonly congestionStep: number;
  private now = 0;
  reports = 0;
  events = 0;
  /** Reports without an inner IP packet (flow and hop keys need one). */
  noFlow = 0;

  constructor(config: Partial<CollectorConfig> = {}) {
    this.c = { ...DEFAULT_COLLECTOR_CONFIG, ...config };
    this.scanEvery = this.c.timeout > 0 ? Math.max(this.c.timeout / 4, 1e-3) : Infinity;
    this.bin = this.c.mode === 'bin';
    this.timeout = this.c.timeout > 0 ? this.c.timeout : Infinity;
    this.latencyStep = this.c.latencyStep;
    this.hopLatencyStep = this.c.hopLatencyStep;
    this.txUtilStep = this.c.txUtilStep;
    this.occupancyStep = this.c.occupancyStep;
    this.congestionStep = this.c.congestionStep;
  }

  /** Live keys right now (all kinds). */
  get size(): number { return this.live.size; }

  private moved(v: number, ref: number, step: number): boolean {
    if (v < 0) return false;
    if (ref !== ref) return true; // NaN: never reported
    if (step <= 0) return v !== ref;
    return this.bin ? Math.floor(v / step) !== ref : Math.abs(v - ref) > step;
  }

  private ref(v: number, step: number): number {
    if (v < 0) return NaN;
    return this.bin && step > 0 ? Math.floor(v / step) : v;
  }

  private value(e: Entry, event: CollectorEvent, ts: number): Record<string, unknown> {
    switch (e.kind) {
      case KIND_FLOW: {
        const o: Record<string, unknown> = { event, ts, path: Array.from(e.path.subarray(0, Math.max(e.pathLen, 0))) };
        if (e.v0 >= 0) o.latency = e.v0;
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
    const m0 = this.moved(e.v0, e.r0, s0), m1 = e.v1 >= 0 && this.moved(e.v1, e.r1, s1);
    if (m0 || m1) {
      e.r0 = this.ref(e.v0, s0); e.r1 = this.ref(e.v1, s1);
      this.emit(e, 'change', ts, out);
    }
  }

  /**
   * Periodic exports and expiries due by time `ts` (event time moves forward only): one export
   * at the latest multiple of the period reached, however many were passed (see the top).
   */
  advance(ts: number, out: Out): void {
    if (!(ts >= this.now && ts < Infinity)) return; // earlier, or not a time
    this.now = ts;
    const period = this.c.period;
    if (this.nextPeriodic === -Infinity) this.nextPeriodic = period > 0 ? this.multipleAfter(ts) : Infinity;
    if (this.nextScan === -Infinity) this.nextScan = this.c.timeout > 0 ? later(ts, this.scanEvery) : Infinity;
    if (ts >= this.nextPeriodic) {
      let t = this.multipleAtOrBefore(ts);
      if (t < this.nextPeriodic) t = this.nextPeriodic;
      this.expireBefore(t, out);
      for (const e of this.live) this.emit(e, 'periodic', t, out);
      this.nextPeriodic = this.multipleAfter(ts);
    }
    if (ts >= this.nextScan) {
      this.expireBefore(ts, out);
      this.nextScan = later(ts, this.scanEvery);
    }
  }

  /**
   * The multiples k * period nearest ts, by index (k < 2^52, so k +- 1 is exact and consecutive
   * multiples are distinct doubles). Beyond that, doubles are coarser than the period: ts itself
   * stands for the latest multiple, and the next double for the next one.
   */
  private multipleAtOrBefore(ts: number): number {
    const period = this.c.period, q = ts / period;
    if (!(q < 2 ** 52 && q > -(2 ** 52))) return ts;
    let k = Math.floor(q);
    while (k * period > ts) k--;
    while ((k + 1) * period <= ts) k++;
    return k * period;
  }

  private multipleAfter(ts: number): number {
    const period = this.c.period, q = ts / period;
    if (!(q < 2 ** 52 && q > -(2 ** 52))) return nextUp(ts);
    let k = Math.floor(q) + 1;
    while ((k - 1) * period > ts) k--;
    while (k * period <= ts) k++;
    return k * period;
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
      if (e.bucket < 0) this.flowsText.delete(this.textKey(e.key));
      else {
        // unlink from its bucket's chain
        let x = this.flows4.get(e.bucket)!, prev: Entry | null = null;
        while (x !== e) { prev = x; x = x.chain!; }
        if (prev !== null) prev.chain = e.chain;
        else if (e.chain !== null) this.flows4.set(e.bucket, e.chain);
        else this.flows4.delete(e.bucket);
        e.chain = null;
      }
    } else if (e.kind === KIND_HOP) {
      const f = e.flow!;
      f.hops!.delete(e.switchId);
      const at = f.hopAt.indexOf(e);
      if (at >= 0) f.hopAt[at] = undefined;
    } else if (e.kind === KIND_EGRESS) {
      const k = e.key as EgressKey;
      this.egress.delete(k.switch_id * 65536 + k.port);
    } else {
      const k = e.key as QueueKey;
      this.queues.delete(k.switch_id * 256 + k.queue_id);
    }
    this.emit(e, 'expired', e.last + this.c.timeout, out);
  }

  /** A flow seen again after its timeout: every key due by now expires (its hops with it). */
  private staleFlow(f: Entry, ts: number, out: Out): boolean {
    if (f.dead) return true;
    if (ts - f.last > this.timeout) { this.expireBefore(ts, out); return true; }
    return false;
  }

  /** Keys seen again after their timeout, noticed before the next scan. */
  private stale(e: Entry | undefined, ts: number, out: Out): boolean {
    if (e === undefined || e.dead) return true;
    if (ts - e.last > this.timeout) { this.expire(e, out); return true; }
    return false;
  }

  private textKey(k: CollectorKey): string {
    const f = k as FlowKey;
    return `${f.src} ${f.dst} ${f.proto} ${f.sport} ${f.dport}`;
  }

  private flowOf(p: Packet, ts: number, out: Out): Entry | null {
    if (p.l3 === 0) return null;
    const proto = p.proto, buf = p.buf;
    let sport = 0, dport = 0;
    if ((proto === IPPROTO_TCP || proto === IPPROTO_UDP) && p.l4Off >= 0) {
      const o = p.l4Off;
      sport = (buf[o] << 8) | buf[o + 1]; dport = (buf[o + 2] << 8) | buf[o + 3];
    }
    const ports = ((sport << 16) | dport) >>> 0;
    let f: Entry | undefined;
    if (p.l3 === 4) {
      const a = u32(buf, p.l3Off + 12), b = u32(buf, p.l3Off + 16);
      // 30-bit mix of the IPv4 5-tuple (a Smi map key); collisions chain, told apart by the tuple.
      let h = Math.imul(a ^ 0x9e3779b9, 0x85ebca6b) ^ Math.imul(b, 0xc2b2ae35);
      h = Math.imul(h ^ (h >>> 15), 0x27d4eb2f) ^ ports;
      h = Math.imul(h ^ (h >>> 13) ^ (proto << 8), 0x165667b1);
      const bucket = (h ^ (h >>> 16)) & 0x3fffffff;
      f = this.flows4.get(bucket);
      while (f !== undefined && (f.a !== a || f.b !== b || f.ports !== ports || f.proto !== proto)) f = f.chain ?? undefined;
      if (f !== undefined && this.staleFlow(f, ts, out)) f = undefined;
      if (f === undefined) {
        const ip = p.ip!;
        f = this.newFlow(ip.src, ip.dst, proto, sport, dport);
        f.a = a; f.b = b; f.ports = ports; f.proto = proto; f.bucket = bucket;
        const head = this.flows4.get(bucket);
        if (head !== undefined) f.chain = head;
        this.flows4.set(bucket, f);
      }
      return f;
    }
    const ip = p.ip!;
    const src = ip.src, dst = ip.dst;
    f = this.flowsText.size === 0 ? undefined : this.flowsText.get(`${src} ${dst} ${proto} ${sport} ${dport}`);
    if (f !== undefined && this.staleFlow(f, ts, out)) f = undefined;
    if (f === undefined) {
      f = this.newFlow(src, dst, proto, sport, dport);
      this.flowsText.set(this.textKey(f.key), f);
    }
    return f;
  }

  private newFlow(src: string, dst: string, proto: number, sport: number, dport: number): Entry {
    const f = new Entry(KIND_FLOW, { kind: 'flow', src, dst, proto, sport, dport });
    f.path = new Uint32Array(8);
    f.hopAt = [];
    f.hops = new Map();
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
    const swIds = h.switchId, lats = h.hopLatency, invalid = h.invalid;

    const flow = this.flowOf(p, ts, out);
    if (flow !== null) {
      const isNew = flow.fresh;
      flow.fresh = false;
      if (ts > flow.last) flow.last = ts;
      // path (traversal order = wire order reversed) and latency
      let changed = false;
      if (hasSw) {
        if (flow.pathLen !== n) changed = true;
        if (flow.path.length < n) { const np = new Uint32Array(Math.max(n, flow.path.length * 2)); np.set(flow.path); flow.path = np; }
        const path = flow.path;
        for (let k = 0; k < n; k++) {
          const sw = swIds[n - 1 - k];
          if (path[k] !== sw) { changed = true; path[k] = sw; }
        }
        flow.pathLen = n;
      }
      let lat = -1;
      if (hasLat) { lat = 0; for (let i = 0; i < n; i++) if ((invalid[i] & F_HOP_LATENCY) === 0) lat += lats[i]; }
      flow.v0 = lat;
      if (isNew) this.detect(flow, true, ts, out, this.latencyStep, 0);
      else if (changed) {
        flow.r0 = this.ref(lat, this.latencyStep);
        this.emit(flow, 'path', ts, out);
      } else if (this.moved(lat, flow.r0, this.latencyStep)) this.detect(flow, false, ts, out, this.latencyStep, 0);
    } else this.noFlow++;

    if (!hasSw) return;
    const tail = (present & ((F_EGRESS_PORT | F_EGRESS_TX_UTIL))) === (F_EGRESS_PORT | F_EGRESS_TX_UTIL) ||
      ((present & F_QUEUE_ID) !== 0 && (present & (F_QUEUE_OCCUPANCY | F_QUEUE_CONGESTION)) !== 0);
    const timeout = this.timeout, hopStep = this.hopLatencyStep;
    for (let k = 0; k < n; k++) {
      const i = n - 1 - k;
      const sw = swIds[i];
      const inv = invalid[i];
      let hop: Entry | null = null;
      if (flow !== null) {
        let cached = flow.hopAt[k];
        if (cached !== undefined && cached.switchId === sw && !cached.dead && ts - cached.last > timeout) {
          this.expire(cached, out);
          cached = undefined; // the slot is empty now: take the new-entry path for this position
        }
        const v = hasLat && (inv & F_HOP_LATENCY) === 0 ? lats[i] : -1;
        if (cached === undefined || cached.switchId !== sw || cached.dead) {
          let e = flow.hops!.get(sw);
          if (e !== undefined && this.stale(e, ts, out)) e = undefined;
          if (e === undefined) {
            const fk = flow.key as FlowKey;
            e = new Entry(KIND_HOP, { kind: 'hop', src: fk.src, dst: fk.dst, proto: fk.proto, sport: fk.sport, dport: fk.dport, switch_id: sw });
            e.flow = flow; e.switchId = sw;
            flow.hops!.set(sw, e);
            this.live.add(e);
            flow.hopAt[k] = e;
            if (ts > e.last) e.last = ts; e.v0 = v;
            this.detect(e, true, ts, out, hopStep, 0);
            if (tail) this.hopTail(e, sw, i, inv, ts, out, r);
            continue;
          }
          flow.hopAt[k] = e;
          cached = e;
        }
        hop = cached;
        if (ts > hop.last) hop.last = ts;
        hop.v0 = v;
        if (v >= 0 && this.moved(v, hop.r0, hopStep)) this.detect(hop, false, ts, out, hopStep, 0);
      }
      if (tail) this.hopTail(hop, sw, i, inv, ts, out, r);
    }
  }

  /** Egress and queue keys of hop i (switch sw); the hop entry, when there is one, caches them. */
  private hopTail(hop: Entry | null, sw: number, i: number, inv: number, ts: number, out: Out, r: IntReport): void {
    const h = r.hops, present = h.present, timeout = this.timeout;
    if ((present & (F_EGRESS_PORT | F_EGRESS_TX_UTIL)) === (F_EGRESS_PORT | F_EGRESS_TX_UTIL) && (inv & (F_EGRESS_PORT | F_EGRESS_TX_UTIL)) === 0) {
      const port = h.egressPort[i];
      let e = hop !== null && hop.egressPort === port ? hop.egress : null;
      let isNew = false;
      if (e === null || e.dead || ts - e.last > timeout) {
        const id = sw * 65536 + port;
        let x = this.egress.get(id);
        if (x !== undefined && this.stale(x, ts, out)) x = undefined;
        if (x === undefined) {
          x = new Entry(KIND_EGRESS, { kind: 'egress', switch_id: sw, port });
          this.egress.set(id, x); this.live.add(x); isNew = true;
        }
        e = x;
        if (hop !== null) { hop.egress = e; hop.egressPort = port; }
      }
      const v = h.egressTxUtil[i];
      if (ts > e.last) e.last = ts; e.v0 = v;
      if (isNew || this.moved(v, e.r0, this.txUtilStep)) this.detect(e, isNew, ts, out, this.txUtilStep, 0);
    }
    if ((present & F_QUEUE_ID) !== 0 && (present & (F_QUEUE_OCCUPANCY | F_QUEUE_CONGESTION)) !== 0 && (inv & F_QUEUE_ID) === 0) {
      const q = h.queueId[i];
      let e = hop !== null && hop.queueId === q ? hop.queue : null;
      let isNew = false;
      if (e === null || e.dead || ts - e.last > timeout) {
        const id = sw * 256 + q;
        let x = this.queues.get(id);
        if (x !== undefined && this.stale(x, ts, out)) x = undefined;
        if (x === undefined) {
          x = new Entry(KIND_QUEUE, { kind: 'queue', switch_id: sw, queue_id: q });
          this.queues.set(id, x); this.live.add(x); isNew = true;
        }
        e = x;
        if (hop !== null) { hop.queue = e; hop.queueId = q; }
      }
      if (ts > e.last) e.last = ts;
      e.v0 = (present & F_QUEUE_OCCUPANCY) !== 0 && (inv & F_QUEUE_OCCUPANCY) === 0 ? h.queueOccupancy[i] : -1;
      e.v1 = (present & F_QUEUE_CONGESTION) !== 0 && (inv & F_QUEUE_CONGESTION) === 0 ? h.queueCongestion[i] : -1;
      this.detect(e, isNew, ts, out, this.occupancyStep, this.congestionStep);
    }
  }

  /** End of input: keys whose timeout passed before the last report expire; live keys stay. */
  finish(out: Out): void {
    this.expireBefore(this.now, out);
  }
}
