/**
 * All cores for one source (`--workers N`): the main thread keeps the real source (file, live
 * capture, UDP receiver...) and frames its batches into shared slots (slots.ts), dealt to N
 * local-stage threads (worker-main.ts) whole and round-robin, or record by record by flow
 * (dealing.ts says which a task needs). Each thread runs the task's local stage, unchanged, on
 * what it was dealt; its messages go out as those of a source of their own (`intstream run`:
 * sources first, first + 1, ..., so the global stage merges the threads exactly as it merges
 * several sources), or combined into the one stream an agent owes its GSP: elements in the
 * order they come, the watermark the lowest of the threads' (each thread keeps its own promise,
 * so the lowest holds for all), `end` once the last thread ended. The GSP merges several
 * partials of one window and key whichever source sent them (MergePartialsOp).
 *
 * Counters (--stats, agent heartbeats) are the sums over the threads plus the real source's
 * own; per-window counters likewise. A thread that fails ends the run with its error (a task's
 * own code keeps its stack, so the run still points at the query file's line); the source ends
 * the run as it would on one thread (end of file, SIGINT/SIGTERM on live and UDP sources).
 */
import { Worker } from 'node:worker_threads';
import { IntstreamError, type ErrorCode } from '../../errors.ts';
import type { IntDecodeOptions } from '../../decode/int-view.ts';
import type { SplitPlan } from '../../query/pipeline.ts';
import type { PacketBatch } from '../../sources/packet-batch.ts';
import type { PacketSource } from '../../sources/source.ts';
import type { StageMessage } from '../../transport/transport.ts';
import { MAX_WINDOWS, type LocalStats } from '../local-processor.ts';
import { Slot } from './slots.ts';
import { planShape, type TaskRef } from './task-ref.ts';
import type { WorkerInit } from './worker-main.ts';

const EXT = import.meta.url.endsWith('.ts') ? '.ts' : '.js';

export interface WorkerStageOptions {
  /** The real source, opened. */
  source: PacketSource;
  split: SplitPlan;
  threads: number;
  flow: boolean;
  /** Where the raw pre-filter runs: in the source, opened with it ('source'), or in the threads' loops. */
  prefilter: 'source' | 'loop';
  task: TaskRef;
  params: Record<string, string>;
  window: number;
  /** Elements' `source`: the stage's index among the task's sources. */
  index: number;
  /** Transport index of thread 0 (threads are first, first + 1, ...); null: one combined stream as `index`. */
  first: number | null;
  lateness: number;
  decode: IntDecodeOptions | undefined;
  windowSize: number;
  send: (msg: StageMessage) => Promise<void>;
}

/** Rebuilds a thread's error in this thread: IntstreamErrors keep their code, others their stack. */
function rebuild(x: { name?: string; message?: string; stack?: string; code?: string; hint?: string }): Error {
  const e = x.code && x.name === 'IntstreamError' ? new IntstreamError(x.code as ErrorCode, x.message ?? '', x.hint) : new Error(x.message ?? 'error');
  if (x.name && !(e instanceof IntstreamError)) e.name = x.name;
  if (x.stack) e.stack = x.stack;
  return e;
}

const sumInto = (into: Record<string, number>, from: Record<string, number>) => { for (const [k, v] of Object.entries(from)) into[k] = (into[k] ?? 0) + v; };

export class WorkerStage {
  readonly index: number;
  /** The real source, closed with the threads. */
  readonly source: PacketSource;
  readonly threads: number;
  /** Transport indices this stage's messages use (first .. first + threads - 1, or index). */
  readonly first: number | null;
  private readonly o: WorkerStageOptions;
  private readonly workers: Worker[] = [];
  private readonly slots: Slot[] = [];
  private readonly free: Slot[] = [];
  private slotWaiter: (() => void) | null = null;
  private failure: Error | null = null;
  private rejectFailed!: (e: Error) => void;
  private readonly failed: Promise<never>;
  private readonly done: Promise<void>[] = [];
  private readonly doneFlags: boolean[];
  private dealt = 0;
  private readonly threadStats: (LocalStats | null)[];
  private readonly threadWindows: Map<number, number[]>[];
  private readonly dirtyWindows = new Set<number>();
  /** Forwarding of the threads' messages: one chain per thread (own sources) or one for all (combined). */
  private readonly chains: Promise<void>[];
  private readonly wm: number[];
  private readonly ended: boolean[];
  private lastWm = -Infinity;
  private running = false;
  /**
   * LocalProcessor's resume hooks (an agent on a capture file): a resume point is a position in
   * one stage's stream, so such an agent keeps one thread; here they must stay unset.
   */
  beforeBatch: ((maxTs: number, read: number) => void) | null = null;
  startTime = -Infinity;

  constructor(o: WorkerStageOptions) {
    this.o = o;
    this.index = o.index;
    this.threads = o.threads;
    this.first = o.first;
    this.failed = new Promise<never>((_, rej) => { this.rejectFailed = rej; });
    this.failed.catch(() => undefined);
    const n = o.threads;
    this.doneFlags = new Array(n).fill(false);
    this.threadStats = new Array(n).fill(null);
    this.threadWindows = Array.from({ length: n }, () => new Map());
    this.chains = Array.from({ length: o.first === null ? 1 : n }, () => Promise.resolve());
    this.wm = new Array(n).fill(-Infinity);
    this.ended = new Array(n).fill(false);
    const real = o.source;
    this.source = {
      name: real.name, traits: real.traits, skipped: real.skipped, warnings: real.warnings,
      open: (s) => real.open(s),
      nextBatch: () => Promise.reject(new IntstreamError('INTERNAL', `${real.name}: read by its framing thread only`)),
      status: () => real.status(),
      // closing ends a running stage through its source (the threads flush); otherwise the threads go now
      close: async () => { await real.close(); if (!this.running) await this.terminate(); },
    };
    // slots: enough for every thread to have one in work and two waiting, and one being filled
    for (let i = 0; i < 3 * n + 2; i++) { const s = new Slot(i); this.slots.push(s); this.free.push(s); }
    const shape = planShape(o.split);
    for (let w = 0; w < n; w++) {
      const init: WorkerInit = {
        ref: o.task, params: o.params, window: o.window, shape,
        name: real.name, traits: real.traits, index: o.index, msgSource: o.first === null ? o.index : o.first + w,
        me: w, threads: n, flow: o.flow, lateness: o.lateness, decode: o.decode ?? null, windowSize: o.windowSize,
        slots: this.slots.map((s) => s.shared), inflight: 4, prefilter: o.prefilter,
      };
      const worker = new Worker(new URL(`./worker-boot${EXT}`, import.meta.url), { workerData: init });
      this.workers.push(worker);
      this.done.push(new Promise<void>((resolve) => {
        worker.on('message', (m: any) => {
          switch (m.t) {
            case 'free': this.release(m.slot); break;
            case 'msg': this.forward(w, m.msg as StageMessage); break;
            case 'stats': this.took(w, m.stats, m.windows); break;
            case 'done': this.took(w, m.stats, m.windows); this.doneFlags[w] = true; resolve(); break;
            case 'error': this.fail(rebuild(m.error)); break;
          }
        });
        worker.on('error', (e) => this.fail(e));
        worker.on('exit', (code) => {
          if (!this.doneFlags[w]) this.fail(new IntstreamError('INTERNAL', `${real.name}: local-stage thread ${w + 1} of ${n} exited (code ${code}) before it finished`));
        });
      }));
    }
  }

  /** Records dealt so far (progress lines; every one is read by a thread). */
  get read(): number { return this.dealt; }

  async run(): Promise<void> {
    this.running = true;
    try {
      if (this.beforeBatch !== null || this.startTime !== -Infinity) throw new IntstreamError('INTERNAL', `${this.o.source.name}: resume points need the local stage on one thread`);
      await Promise.race([this.frame(), this.failed]);
      await Promise.race([Promise.all(this.done), this.failed]);
      await Promise.race([Promise.all(this.chains), this.failed]);
    } catch (e) {
      this.fail(e as Error);
      throw this.failure;
    } finally {
      this.running = false;
      await this.terminate();
    }
  }

  /**
   * Reads the real source and deals its records. A capture file's batches are gathered into
   * full slots (fewer, larger hand-overs); a live source's go out as they come (latency first).
   * A slot's clock is the source's time before its first record: a source clock (idle
   * heartbeat) above the records gathered so far deals them first.
   */
  private async frame(): Promise<void> {
    const real = this.o.source, n = this.threads, flow = this.o.flow;
    const gather = real.traits.pushdown === 'parser', byWindow = this.o.windowSize > 0;
    // the source's time (the latest timestamp or clock read), its time up to the records dealt so
    // far (a thread told more could judge records still to come late), what each thread was told
    let srcMax = -Infinity, dealtMax = -Infinity, next = 0, toldAt = performance.now();
    const told = new Array<number>(n).fill(-Infinity);
    let cur: Slot | null = null;
    const deal = (slot: Slot) => {
      cur = null;
      dealtMax = slot.maxTs;
      if (slot.grown) {
        slot.grown = false;
        for (const wk of this.workers) wk.postMessage({ t: 'map', slot: slot.id, buffers: slot.shared });
      }
      const msg = {
        t: 'deal', slot: slot.id, count: slot.count, clock: slot.clock, after: slot.maxTs, leftOut: slot.leftOut, leftOutTail: slot.leftOutTail, leftOutWindow: slot.leftOutWindow,
        items: slot.items, rates: slot.rates,
      };
      if (flow) {
        slot.refs = n;
        for (let w = 0; w < n; w++) { this.workers[w].postMessage(msg); told[w] = slot.maxTs; }
      } else {
        slot.refs = 1;
        this.workers[next].postMessage(msg);
        told[next] = slot.maxTs;
        next = next + 1 === n ? 0 : next + 1;
      }
    };
    try {
      for (;;) {
        const b: PacketBatch | null = await real.nextBatch();
        if (b === null || this.failure) break;
        if (flow && (b.items !== null || b.sampleRate !== null || b.leftOut > 0)) {
          throw new IntstreamError('INTERNAL', `${real.name}: a batch with record items or left-out records reached the framing thread dealing by flow`);
        }
        if (b.clock > srcMax) {
          srcMax = b.clock;
          if (cur !== null && (cur as Slot).filled) deal(cur); else if (cur !== null) (cur as Slot).reset(srcMax);
        }
        if (b.count > 0 || b.leftOut > 0) {
          for (let i = 0; ;) {
            if (cur === null) { cur = await this.take(); cur.reset(srcMax); }
            const j: number = cur.append(b, i, flow ? n : 1, byWindow);
            if (j < 0) { deal(cur); continue; }
            this.dealt += j - i + (i === 0 ? b.leftOut : 0);
            i = j;
            srcMax = cur.maxTs;
            if (i >= b.count) break;
          }
        }
        if (cur !== null && (!gather || b.count + b.leftOut === 0) && (cur as Slot).filled) deal(cur);
        // the source's time to threads that have not had it: at once on an idle heartbeat, else every 100 ms
        const now = b.count === 0 ? Infinity : performance.now();
        if (now - toldAt >= 100) {
          toldAt = now === Infinity ? performance.now() : now;
          const known = cur !== null && (cur as Slot).filled ? dealtMax : srcMax;
          for (let w = 0; w < n; w++) if (told[w] < known) { this.workers[w].postMessage({ t: 'clock', clock: known }); told[w] = known; }
        }
      }
      if (cur !== null) { if ((cur as Slot).filled) deal(cur); else this.free.push(cur); }
    } finally {
      if (!this.failure) for (const wk of this.workers) wk.postMessage({ t: 'end' });
    }
  }

  private async take(): Promise<Slot> {
    for (;;) {
      if (this.failure) throw this.failure;
      const s = this.free.pop();
      if (s) return s;
      await new Promise<void>((r) => { this.slotWaiter = r; });
    }
  }

  private release(id: number): void {
    const s = this.slots[id];
    if (--s.refs > 0) return;
    this.free.push(s);
    const w = this.slotWaiter;
    this.slotWaiter = null;
    w?.();
  }

  private forward(w: number, msg: StageMessage): void {
    const worker = this.workers[w];
    const ack = () => { if (!this.failure) worker.postMessage({ t: 'ack' }); };
    const onError = (e: unknown) => this.fail(e as Error);
    if (this.first !== null) {
      this.chains[w] = this.chains[w].then(() => (this.failure ? undefined : this.o.send(msg))).then(ack, onError);
      return;
    }
    this.chains[0] = this.chains[0].then(() => {
      if (this.failure) return;
      this.wm[w] = msg.watermark;
      if (msg.end) this.ended[w] = true;
      const end = this.ended.every(Boolean);
      let wm = Infinity;
      for (const x of this.wm) if (x < wm) wm = x;
      if (!end && msg.items.length === 0 && wm === this.lastWm) return;
      this.lastWm = wm;
      return this.o.send({ source: this.index, items: msg.items, times: msg.times, keys: msg.keys, watermark: end ? Infinity : wm, end });
    }).then(ack, onError);
  }

  private took(w: number, stats: LocalStats, windows: [number, number, number, number][]): void {
    this.threadStats[w] = stats;
    const mine = this.threadWindows[w];
    for (const [start, read, passed, out] of windows) { mine.set(start, [read, passed, out]); this.dirtyWindows.add(start); }
    if (mine.size > MAX_WINDOWS) {
      const starts = [...mine.keys()].sort((a, b) => a - b);
      for (let i = 0; i < starts.length - (MAX_WINDOWS >> 1); i++) mine.delete(starts[i]);
    }
  }

  private fail(e: Error): void {
    if (this.failure) return;
    this.failure = e instanceof Error ? e : new Error(String(e));
    this.rejectFailed(this.failure);
    const w = this.slotWaiter;
    this.slotWaiter = null;
    w?.();
    void this.terminate();
  }

  private async terminate(): Promise<void> {
    await Promise.all(this.workers.map((w) => w.terminate().catch(() => undefined)));
  }

  /** Per-window counters changed since the last call, summed over the threads (LocalProcessor.takeWindows). */
  takeWindows(): [number, number, number, number][] {
    const out: [number, number, number, number][] = [];
    for (const s of this.dirtyWindows) {
      const c: [number, number, number, number] = [s, 0, 0, 0];
      for (const m of this.threadWindows) { const x = m.get(s); if (x) { c[1] += x[0]; c[2] += x[1]; c[3] += x[2]; } }
      out.push(c);
    }
    this.dirtyWindows.clear();
    return out.sort((a, b) => a[0] - b[0]);
  }

  /** The stage's counters: the threads' sums, the real source's bytes, counters and skipped records. */
  stats(): LocalStats {
    const status = this.o.source.status();
    const malformed: Record<string, number> = {};
    const skipped: Record<string, number> = {};
    sumInto(skipped, Object.fromEntries(this.o.source.skipped.counts));
    let read = 0, passed = 0, out = 0;
    for (const s of this.threadStats) {
      if (!s) continue;
      read += s.items_read; passed += s.after_filter; out += s.local_out;
      sumInto(malformed, s.malformed); sumInto(skipped, s.skipped);
    }
    const sorted = (r: Record<string, number>) => Object.fromEntries(Object.entries(r).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
    return {
      source: this.o.source.name,
      items_read: read,
      bytes_read: status.bytes,
      malformed: sorted(malformed),
      skipped: sorted(skipped),
      after_filter: passed,
      local_out: out,
      ...(status.counters ? { counters: status.counters } : {}),
      ...(status.kernel ? { kernel: status.kernel } : {}),
    };
  }
}
