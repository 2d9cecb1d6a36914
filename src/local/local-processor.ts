/**
 * HOT PATH (bench/newconn.ts): the local stream processor (LSP). Reads one source batch by
 * batch, decodes each record into one reused Packet, applies the pushed-down filter, runs the
 * local chain, and after every batch hands what left the stage, with its watermark, to the
 * transport (awaiting it: backpressure reaches the source).
 */
import { decodePacket, decodePacketIntReport } from '../decode/decoder.ts';
import { Packet } from '../decode/packet.ts';
import { configurePacketInt, intDecodeEnabled, type IntDecodeOptions } from '../decode/int-view.ts';
import { OK } from '../decode/status.ts';
import { buildStage, pollStage, settleStage, type SplitPlan, type Stage } from '../query/pipeline.ts';
import { compileRawReject, interpretFilter, type PacketPredicate, type RawReject } from '../query/filter-expr.ts';
import type { PacketBatch } from '../sources/packet-batch.ts';
import type { StageEnv } from '../query/operator.ts';
import { SkipCounters } from '../decode/skip-counters.ts';
import type { PacketSource } from '../sources/source.ts';
import type { KernelStats } from '../sources/capture-process.ts';
import type { StageMessage } from '../transport/transport.ts';
import type { PacketTap } from '../sinks/pcap-sink.ts';

export interface LocalStats {
  source: string;
  items_read: number;
  bytes_read: number;
  /** Packets that did not decode fully, by reason (they still flow with the layers that did). */
  malformed: Record<string, number>;
  /** Records or elements not processed, by reason (corrupt record headers, late, key_absent). */
  skipped: Record<string, number>;
  after_filter: number;
  local_out: number;
  /** The source's own counters (flow sources: datagrams, templates), when it has any. */
  counters?: Record<string, number>;
  /** libpcap's kernel counters of a live capture (received by the kernel filter, dropped). */
  kernel?: KernelStats;
}

/**
 * The raw pre-filter for a task on a source: the records the pushed-down filter surely rejects,
 * told from their raw bytes before decoding. Null when there is no pushed-down filter, on record
 * sources, and when INT decoding changes what a packet is.
 */
export function rawRejectFor(split: SplitPlan, decode: IntDecodeOptions | undefined, records: boolean): RawReject | null {
  const pd = split.pushdown;
  return pd && !records && !intDecodeEnabled(decode) ? compileRawReject(pd.ast) : null;
}

/** Per-window counters kept for late elements (takeWindows); halved when exceeded. */
export const MAX_WINDOWS = 4096;

export class LocalProcessor {
  readonly index: number;
  readonly source: PacketSource;
  private readonly split: SplitPlan;
  private readonly stage: Stage;
  private readonly env: StageEnv;
  private readonly send: (msg: StageMessage) => Promise<void>;
  readonly malformed = new SkipCounters();
  read = 0;
  passed = 0;
  sent = 0;
  /**
   * Per-window counters, off while 0: windows of this many seconds by the packets' event time
   * (aligned as the query's windows are), start → [read, after_filter, local_out]. The packet
   * loop touches the map only when the window changes and once per batch (no per-packet lookup).
   */
  windowSize = 0;
  /**
   * Where the raw pre-filter (rawRejectFor) runs: in the source while it frames records, given
   * to it when it was opened ('source'), in the packet loop before decoding ('loop'), or nowhere
   * ('off'). The local stage (local-stage.ts) sets it from the source's traits.
   */
  prefilter: 'source' | 'loop' | 'off' = 'loop';
  /** Called with each packet that passed the pushed-down filter (`--sink pcap:`): captured packets, sFlow's sampled headers, a report datagram once if any of its reports passed; flow records are no packets. */
  tap: PacketTap | null = null;
  /**
   * Resume checkpoints (an agent on a capture file, control/resume-point.ts): the source's time
   * (latest timestamp read) to start from when the source opens mid-file, -Infinity otherwise;
   * and a hook called before each batch is read with the source's time and the items read so
   * far. Once per batch, never per packet.
   */
  startTime = -Infinity;
  beforeBatch: ((maxTs: number, read: number) => void) | null = null;
  readonly windows = new Map<number, number[]>();
  private readonly dirtyWindows = new Set<number>();

  /** Per-source decoding (INT); the source's traits.decode when not given. */
  private readonly decode: IntDecodeOptions | undefined;

  constructor(index: number, source: PacketSource, split: SplitPlan, env: StageEnv, send: (msg: StageMessage) => Promise<void>, decode?: IntDecodeOptions) {
    this.index = index;
    this.decode = decode ?? source.traits.decode ?? undefined;
    this.source = source;
    this.split = split;
    this.env = env;
    this.send = send;
    this.stage = buildStage(split.local, env);
  }

  async run(): Promise<void> {
    const p = new Packet();
    p.source = this.index;
    configurePacketInt(p, this.decode);
    // Telemetry Report sources: a TR v2.0 packet may hold several reports (runIntBatch).
    const intReports = p.intPort !== 0;
    // Record sources (flow export): the pushed-down filter reads through the field getters.
    const pd = this.split.pushdown;
    const pred = pd ? (this.env.records ? interpretFilter(pd.ast, true) : pd.predicate) : null;
    // Packets the pushed-down filter surely rejects, told from their raw bytes before decoding;
    // a source that applies it itself while framing ('source') never hands them to this loop.
    const raw = this.prefilter === 'loop' ? rawRejectFor(this.split, this.decode, !!this.env.records) : null;
    const head = this.stage.head;
    const malformed = this.malformed;
    const env = this.env, lateness = env.lateness;
    const tap = this.tap;
    // opened mid-file: the time read before the resume point holds as it did then (lateness, closed windows)
    let maxTs = this.startTime;
    if (maxTs > -Infinity) { env.sourceWm = maxTs - lateness; head.advance(maxTs - lateness); }
    for (;;) {
      this.beforeBatch?.(maxTs, this.read);
      const b = await this.source.nextBatch();
      if (b === null) break;
      if (intReports && b.items === null && b.sampleRate === null) {
        maxTs = this.runIntBatch(b, p, pred, maxTs);
        head.advance(maxTs - lateness);
        pollStage(this.stage);
        await this.flush(false);
        continue;
      }
      if (b.items !== null || b.sampleRate !== null) {
        maxTs = this.runMixedBatch(b, p, pred, maxTs);
        head.advance(maxTs - lateness);
        pollStage(this.stage);
        await this.flush(false);
        continue;
      }
      const n = b.count, buf = b.buf, dataOff = b.dataOff, capLen = b.capLen, wireLen = b.wireLen, ts = b.ts, linkType = b.linkType;
      // A live source's heartbeat (processing time): time moves on while no packet comes.
      if (b.clock > maxTs) { maxTs = b.clock; env.sourceWm = maxTs - lateness; }
      let passed = 0;
      // Per-window counters: the current window [wStart, wEnd) (never left while they are off),
      // its first packet's index and the passed count at that packet.
      const W = this.windowSize;
      let wStart = W > 0 ? Infinity : -Infinity, wEnd = W > 0 ? -Infinity : Infinity, wFirst = 0, wPassed = 0;
      // Records the source left out (its raw pre-filter): read, not passed; their times still
      // move the source's clock, in order. Such a batch lies in one window.
      const leftOut = b.leftOut, leftOutTs = leftOut > 0 ? b.leftOutTs : null;
      if (leftOut > 0 && W > 0) this.countWindow(b.leftOutWindow, leftOut, 0, 0);
      for (let i = 0; i < n; i++) {
        const t = ts[i];
        if (leftOutTs !== null && leftOutTs[i] > maxTs) { maxTs = leftOutTs[i]; env.sourceWm = maxTs - lateness; }
        if (t > maxTs) { maxTs = t; env.sourceWm = t - lateness; }
        if (t >= wEnd || t < wStart) {
          if (wStart !== Infinity) this.countWindow(wStart, i - wFirst, passed - wPassed, 0);
          wStart = Math.floor(t / W) * W; wEnd = wStart + W; wFirst = i; wPassed = passed;
        }
        const lt = linkType[i];
        if (raw !== null && lt === 1 && raw(buf, dataOff[i], capLen[i], wireLen[i], t)) continue;
        decodePacket(p, buf, dataOff[i], capLen[i], wireLen[i], t, lt);
        if (p.status !== OK) malformed.bump(p.reason);
        if (pred !== null && !pred(p)) continue;
        passed++;
        if (tap !== null) tap(buf, dataOff[i], capLen[i], wireLen[i], t, lt);
        head.push(p, t, null);
      }
      if (W > 0 && wStart !== Infinity) this.countWindow(wStart, n - wFirst, passed - wPassed, 0);
      if (b.leftOutTailTs > maxTs) { maxTs = b.leftOutTailTs; env.sourceWm = maxTs - lateness; }
      this.read += n + leftOut;
      this.passed += passed;
      head.advance(maxTs - lateness);
      pollStage(this.stage);
      await this.flush(false);
    }
    head.finish();
    await settleStage(this.stage);
    await this.flush(true);
  }

  /**
   * A batch of a flow-export source: record items (flow records, sFlow counters) pass as they
   * are; the other records are packets (sFlow sampled headers) decoded as usual and given their
   * sampling rate. Kept apart from the packet loop above, which stays as it was.
   */
  private runMixedBatch(b: PacketBatch, p: Packet, pred: PacketPredicate | null, maxTs: number): number {
    const head = this.stage.head, malformed = this.malformed, src = this.index, tap = this.tap;
    const n = b.count, buf = b.buf, dataOff = b.dataOff, capLen = b.capLen, wireLen = b.wireLen, ts = b.ts, linkType = b.linkType;
    const items = b.items, rate = b.sampleRate;
    let passed = 0;
    const env = this.env;
    if (b.clock > maxTs) { maxTs = b.clock; env.sourceWm = maxTs - env.lateness; }
    // per-window counters as in run(): the map only at window changes and at the batch's end
    const W = this.windowSize;
    let wStart = W > 0 ? Infinity : -Infinity, wEnd = W > 0 ? -Infinity : Infinity, wFirst = 0, wPassed = 0;
    // records left out by a capture file's pre-filter, as in run()
    const leftOut = b.leftOut, leftOutTs = leftOut > 0 ? b.leftOutTs : null;
    if (leftOut > 0 && W > 0) this.countWindow(b.leftOutWindow, leftOut, 0, 0);
    for (let i = 0; i < n; i++) {
      const t = ts[i];
      if (leftOutTs !== null && leftOutTs[i] > maxTs) maxTs = leftOutTs[i];
      if (t > maxTs) maxTs = t;
      env.sourceWm = maxTs - env.lateness;
      if (t >= wEnd || t < wStart) {
        if (wStart !== Infinity) this.countWindow(wStart, i - wFirst, passed - wPassed, 0);
        wStart = Math.floor(t / W) * W; wEnd = wStart + W; wFirst = i; wPassed = passed;
      }
      const r = items !== null ? items[i] : null;
      if (r !== null) {
        r.source = src;
        if (pred !== null && !pred(r as any)) continue;
        passed++;
        head.push(r, t, null);
        continue;
      }
      decodePacket(p, buf, dataOff[i], capLen[i], wireLen[i], t, linkType[i]);
      p.sampleRate = rate !== null ? rate[i] : 1;
      if (p.status !== OK) malformed.bump(p.reason);
      if (pred !== null && !pred(p)) continue;
      passed++;
      if (tap !== null) tap(buf, dataOff[i], capLen[i], wireLen[i], t, linkType[i]);
      head.push(p, t, null);
    }
    if (W > 0 && wStart !== Infinity) this.countWindow(wStart, n - wFirst, passed - wPassed, 0);
    if (b.leftOutTailTs > maxTs) { maxTs = b.leftOutTailTs; env.sourceWm = maxTs - env.lateness; }
    this.read += n + leftOut;
    this.passed += passed;
    return maxTs;
  }

  /**
   * A batch of a source with a Telemetry Report port: as the packet loop, and every further
   * individual report of a TR v2.0 packet (TR v2.0 §3: several may follow one group header) is
   * entered in turn (the record decoded again at that report) and is an item of its own. A
   * further report that does not decode is counted malformed and not pushed (its datagram was).
   * Kept apart from the packet loop, which stays as it was for other sources.
   */
  private runIntBatch(b: PacketBatch, p: Packet, pred: PacketPredicate | null, maxTs: number): number {
    const head = this.stage.head, malformed = this.malformed, env = this.env, lateness = env.lateness, tap = this.tap;
    const n = b.count, buf = b.buf, dataOff = b.dataOff, capLen = b.capLen, wireLen = b.wireLen, ts = b.ts, linkType = b.linkType;
    const r = p.intReport!;
    if (b.clock > maxTs) { maxTs = b.clock; env.sourceWm = maxTs - lateness; }
    let passed = 0;
    // per-window counters as in run(): the map only at window changes and at the batch's end
    const W = this.windowSize;
    let wStart = W > 0 ? Infinity : -Infinity, wEnd = W > 0 ? -Infinity : Infinity, wFirst = 0, wPassed = 0;
    for (let i = 0; i < n; i++) {
      const t = ts[i];
      decodePacket(p, buf, dataOff[i], capLen[i], wireLen[i], t, linkType[i]);
      if (p.status !== OK) malformed.bump(p.reason);
      if (t > maxTs) { maxTs = t; env.sourceWm = t - lateness; }
      if (t >= wEnd || t < wStart) {
        if (wStart !== Infinity) this.countWindow(wStart, i - wFirst, passed - wPassed, 0);
        wStart = Math.floor(t / W) * W; wEnd = wStart + W; wFirst = i; wPassed = passed;
      }
      let kept = pred === null || pred(p);
      if (kept) { passed++; head.push(p, t, null); }
      // further coalesced reports; each next offset lies past the previous one (a finite loop)
      if (p.intStatus >= 0) for (let at = r.nextReportOffset; at >= 0;) {
        decodePacketIntReport(p, buf, dataOff[i], capLen[i], wireLen[i], t, linkType[i], at);
        if (p.status !== OK) malformed.bump(p.reason);
        const ok = p.intStatus === 0 && r.reportOffset === at, next = r.nextReportOffset;
        if (ok && (pred === null || pred(p))) { passed++; head.push(p, t, null); kept = true; }
        at = next > at ? next : -1;
      }
      // the datagram once, when any of its reports passed (`--sink pcap:`)
      if (kept && tap !== null) tap(buf, dataOff[i], capLen[i], wireLen[i], t, linkType[i]);
    }
    if (W > 0 && wStart !== Infinity) this.countWindow(wStart, n - wFirst, passed - wPassed, 0);
    this.read += n;
    this.passed += passed;
    return maxTs;
  }

  private async flush(end: boolean): Promise<void> {
    const tail = this.stage.tail;
    if (!end && tail.items.length === 0 && tail.watermark === this.lastWm) return;
    this.lastWm = tail.watermark;
    const { items, times, keys } = tail.take();
    this.sent += items.length;
    const W = this.windowSize;
    if (W > 0) {
      // elements leaving the stage, by the window of their time (a window's start for windowed operators)
      let start = NaN, k = 0;
      for (let i = 0; i < times.length; i++) {
        const ws = Math.floor(times[i] / W) * W;
        if (ws !== start) { if (k > 0) this.countWindow(start, 0, 0, k); start = ws; k = 0; }
        if (Number.isFinite(ws)) k++;
      }
      if (k > 0) this.countWindow(start, 0, 0, k);
    }
    await this.send({ source: this.index, items, times, keys, watermark: end ? Infinity : tail.watermark, end });
  }

  private lastWm = -Infinity;

  private countWindow(start: number, read: number, passed: number, out: number): void {
    let c = this.windows.get(start);
    if (c === undefined) { c = [0, 0, 0]; this.windows.set(start, c); }
    c[0] += read; c[1] += passed; c[2] += out;
    this.dirtyWindows.add(start);
  }

  /**
   * The windows whose counters changed since the last call: [start, read, after_filter,
   * local_out] (running totals). Memory stays bounded on long runs: beyond MAX_WINDOWS
   * windows, the oldest ones (already taken) are forgotten; an element that late would start
   * its window's totals again.
   */
  takeWindows(): [number, number, number, number][] {
    const out: [number, number, number, number][] = [];
    for (const s of this.dirtyWindows) { const c = this.windows.get(s)!; out.push([s, c[0], c[1], c[2]]); }
    this.dirtyWindows.clear();
    if (this.windows.size > MAX_WINDOWS) {
      const starts = [...this.windows.keys()].sort((a, b) => a - b);
      for (let i = 0; i < starts.length - (MAX_WINDOWS >> 1); i++) this.windows.delete(starts[i]);
    }
    return out.sort((a, b) => a[0] - b[0]);
  }

  stats(): LocalStats {
    const status = this.source.status();
    const skipped = new Map(this.source.skipped.counts);
    for (const [k, v] of this.env.skipped.counts) skipped.set(k, (skipped.get(k) ?? 0) + v);
    return {
      source: this.source.name,
      items_read: this.read,
      bytes_read: status.bytes,
      malformed: this.malformed.toJSON(),
      skipped: Object.fromEntries([...skipped].sort()),
      after_filter: this.passed,
      local_out: this.sent,
      ...(status.counters ? { counters: status.counters } : {}),
      ...(status.kernel ? { kernel: status.kernel } : {}),
    };
  }
}
