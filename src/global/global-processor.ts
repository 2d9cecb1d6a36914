/**
 * The global stream processor (GSP): merges what every local stage sent into one stream in
 * event-time order, and runs the global chain over it. An element is released once every
 * local stage's watermark has passed its time, in (time, source, arrival) order, so results
 * do not depend on how the sources' messages interleaved in transit.
 *
 * Checkpoints (durable global state; the worker's side is in gsp-worker.ts): a stage whose chain
 * has keyed state that lives across windows (process(): ddos's previous distribution,
 * tcp-retrans's highest sequence number per flow) can export that state as bytes
 * (`exportState`) and take it back into a fresh processor (`importState`). Other state is not
 * exported: elements not yet released, and windows being merged, are rebuilt by replaying the
 * partials records from the committed offset, which is why a snapshot belongs to one commit:
 *
 * - The snapshot is taken at a commit, once the chain is drained (`drain`), with the processor
 *   released up to R. Every keyed op has then applied exactly the elements below its mark M, the
 *   watermark it was advanced to: M = R in the built-in chains (merged windows are elements at
 *   their start and close once R passes it), M > R in a processor restored from a mark M that
 *   its replay has not reached yet. The commit covers the records before offset C: each of them
 *   has all its elements below R (the worker commits no record with an element at or above R).
 * - The records from C on hold every element at or above R, complete, plus some below R,
 *   already applied (the latest record of each source, which the worker holds back, and records
 *   queued behind one not yet released). A successor restores the snapshot and replays from C:
 *   the keyed ops ignore what comes below their mark M >= R, and what they take is what the
 *   uninterrupted run gave them. Results of windows out before are made again upstream of the
 *   keyed ops only, or not at all; readers keep the first copy per (window, key) anyway.
 * - A snapshot also fits a replay from any offset S <= C (a snapshot written whose commit did
 *   not get through): the records in [S, C) only hold elements below R, ignored. It does not fit
 *   S > C (a commit made without a snapshot): the worker then starts the state empty, as before.
 * - What comes after the keyed ops must hold nothing they let out, else the replay could not
 *   rebuild it (the restored ops ignore its input): the chain's output watermark must have
 *   reached the watermark each keyed op was advanced to (in this processor: a restored op let
 *   nothing out below its restored mark). Otherwise (a keyed op holding the watermark back for
 *   its expiry output in front of a window, a window after it longer than the merged ones)
 *   `exportState` answers null: no consistent point now, and the worker commits without a
 *   checkpoint. The built-in chains pass at every commit: R is a multiple of the window there,
 *   and closes every window below it.
 * - The assumption EmittedWindows makes holds here too: what crosses the cut is windowed in the
 *   local stage (merged windows are elements at their start), as in every built-in application.
 */
import { buildStage, pollStage, settleStage, type Stage } from '../query/pipeline.ts';
import type { StageEnv } from '../query/operator.ts';
import type { CheckpointEnv, KeyedProcessOp, KeyedSnapshot } from '../query/keyed-process-op.ts';
import { decodeState, encodeState } from './state-codec.ts';
import { IntstreamError } from '../errors.ts';
import type { OpSpec } from '../query/stream.ts';
import { SkipCounters } from '../decode/skip-counters.ts';
import type { StageMessage } from '../transport/transport.ts';
import { refuseProbes } from '../probe/refuse-probes.ts';

/**
 * The one composition of a global stage, for `intstream run` (run-task.ts) and GSP workers: the
 * global chain over `sources` local stages, never late (an element is held until every source's
 * watermark passed it), with the caller's probe policy (GSP workers allow none).
 */
export function openGlobalStage(ops: OpSpec[], sources: number, sendProbe = refuseProbes('no probes in the global stage')): GlobalProcessor {
  return new GlobalProcessor(ops, sources, { skipped: new SkipCounters(), lateness: Infinity, sendProbe });
}

interface Pending { ts: number; source: number; seq: number; item: unknown; key: unknown }

export class GlobalProcessor {
  private readonly stage: Stage;
  private readonly watermarks: number[];
  private readonly ended: boolean[];
  private pending: Pending[] = [];
  private seq = 0;
  private released = -Infinity;
  private finished = false;
  private readonly expired: boolean[];
  received = 0;
  out = 0;
  /** Elements dropped because their time had been released already (see expire). */
  late = 0;

  /** Elements the global chain skipped, by reason (the stage's counters). */
  readonly skipped: SkipCounters;

  /** The keyed ops with state across windows, in chain order (checkpointed). */
  private readonly keyed: KeyedProcessOp[];

  constructor(ops: OpSpec[], sources: number, env: StageEnv) {
    this.skipped = env.skipped;
    const collect: CheckpointEnv = { ...env, checkpointable: [] };
    this.stage = buildStage(ops, collect);
    this.keyed = collect.checkpointable!.reverse(); // built from the tail up
    this.watermarks = new Array(sources).fill(-Infinity);
    this.ended = new Array(sources).fill(false);
    this.expired = new Array(sources).fill(false);
  }

  /** Takes one message; returns the elements that left the global stage because of it. */
  async accept(msg: StageMessage): Promise<{ items: unknown[]; times: number[]; keys: unknown[] }> {
    for (let i = 0; i < msg.items.length; i++) {
      // Only possible for a source that was expired (or a replay): its window is out already.
      if (msg.times[i] < this.released) { this.late++; continue; }
      this.pending.push({ ts: msg.times[i], source: msg.source, seq: this.seq++, item: msg.items[i], key: msg.keys[i] });
    }
    this.received += msg.items.length;
    if (msg.watermark > this.watermarks[msg.source]) {
      this.watermarks[msg.source] = msg.watermark;
      this.expired[msg.source] = false;
    }
    if (msg.end) this.ended[msg.source] = true;
    return this.step();
  }

  /**
   * Stops waiting for `source` (a local stage gone silent past the grace time): windows close on
   * the other sources' seals; what it sends later for a released time is counted as `late`.
   * It counts again once its watermark advances.
   */
  async expire(source: number): Promise<{ items: unknown[]; times: number[]; keys: unknown[] }> {
    this.expired[source] = true;
    return this.step();
  }

  /** Current watermark of each source (seconds; -Infinity before its first seal). */
  sourceWatermarks(): readonly number[] { return this.watermarks; }

  /** Elements are released up to here (exclusive); -Infinity before the first release. */
  get releasedUpTo(): number { return this.released; }

  /** Whether the chain has state that lives across windows (worth a checkpoint). */
  get checkpointable(): boolean { return this.keyed.length > 0; }

  /**
   * Waits for asynchronous operators (transforms awaiting probes) and returns what they let out:
   * after it, everything released has gone through the whole chain (a checkpoint's precondition).
   */
  async drain(): Promise<{ items: unknown[]; times: number[]; keys: unknown[] }> {
    if (this.stage.asyncOps.length > 0) await settleStage(this.stage);
    const out = this.stage.tail.take();
    this.out += out.items.length;
    return out;
  }

  /**
   * The keyed ops' state and marks as bytes (see the top of this file), or null when there is
   * none or the chain after them still holds elements of times they applied (no consistent
   * point now). `where` names the task in the TASK_INVALID error for state that cannot be
   * encoded (state-codec.ts). Call after `drain`.
   */
  exportState(where: string): Buffer | null {
    if (this.keyed.length === 0) return null;
    // everything the keyed ops let out (below the watermark they were advanced to) is out of the chain
    for (const op of this.keyed) if (this.stage.tail.watermark < op.advancedTo) return null;
    const snaps = this.keyed.map((op) => op.snapshot());
    const parts = snaps.map((s, i) => encodeState(s, `${where}: the global stage's process() #${i + 1}`));
    return Buffer.concat([Buffer.from(`${parts.length}\n`), ...parts.flatMap((p) => [Buffer.from(`${p.length}\n`), p])]);
  }

  /** Takes `exportState`'s bytes into this fresh processor (of the same chain), before any element. */
  importState(bytes: Uint8Array): void {
    if (this.received > 0) throw new IntstreamError('INTERNAL', 'GlobalProcessor.importState: only into a fresh processor');
    const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    let at = 0;
    const line = (): number => {
      const nl = buf.indexOf(10, at);
      const n = nl < 0 ? NaN : Number(buf.subarray(at, nl).toString('latin1'));
      if (!Number.isSafeInteger(n) || n < 0) throw new IntstreamError('TRANSPORT', 'checkpointed state: corrupt (a length)');
      at = nl + 1;
      return n;
    };
    const count = line();
    if (count !== this.keyed.length) throw new IntstreamError('TRANSPORT', `checkpointed state: ${count} keyed operator(s), the stage has ${this.keyed.length}`);
    const snaps: KeyedSnapshot[] = [];
    for (let i = 0; i < count; i++) {
      const n = line();
      if (at + n > buf.length) throw new IntstreamError('TRANSPORT', 'checkpointed state: cut short');
      const s = decodeState(buf.subarray(at, at + n)) as KeyedSnapshot;
      at += n;
      if (s === null || typeof s !== 'object' || typeof s.mark !== 'number' || !Array.isArray(s.entries)) throw new IntstreamError('TRANSPORT', 'checkpointed state: not a keyed operator\'s');
      snaps.push(s);
    }
    snaps.forEach((s, i) => this.keyed[i].restore(s));
  }

  private async step(): Promise<{ items: unknown[]; times: number[]; keys: unknown[] }> {
    let min = Infinity, live = 0;
    for (let s = 0; s < this.watermarks.length; s++) {
      if (this.expired[s] && !this.ended[s]) continue;
      live++;
      if (this.watermarks[s] < min) min = this.watermarks[s];
    }
    if (live === 0) min = -Infinity;
    if (min > this.released) this.release(min);
    pollStage(this.stage);
    // Every source ended (or, expired, no longer awaited): flush everything.
    if (!this.finished && live > 0 && min === Infinity) {
      this.finished = true;
      this.stage.head.finish();
      await settleStage(this.stage);
    }
    const out = this.stage.tail.take();
    this.out += out.items.length;
    return out;
  }

  private release(wm: number): void {
    const ready: Pending[] = [];
    const keep: Pending[] = [];
    for (const e of this.pending) (e.ts < wm ? ready : keep).push(e);
    this.pending = keep;
    ready.sort((a, b) => a.ts - b.ts || a.source - b.source || a.seq - b.seq);
    const head = this.stage.head;
    for (const e of ready) head.push(e.item, e.ts, e.key);
    this.released = wm;
    if (wm !== Infinity) head.advance(wm);
  }
}
