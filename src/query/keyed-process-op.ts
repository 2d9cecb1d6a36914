/**
 * Keyed state that outlives windows (per-flow sequence tracking, INT event detection). State
 * of a key idle for `idleTimeout` event-time seconds expires: `onExpire` runs with the time
 * lastSeen + idleTimeout, whether the expiry is noticed by a later element of the same key or
 * by the watermark, so results do not depend on batch boundaries. State that never idles out
 * (no idleTimeout) expires at the end of input with the time max(lastSeen, the last
 * watermark): it then need not hold the watermark back, and what the key emitted at its last
 * element leaves the stage as soon as the watermark passes it (an INT collector's events while
 * the reporters are silent).
 *
 * Checkpoints (durable global state, src/global/global-processor.ts): `snapshot()` gives the
 * state of every key and the op's progress mark, the watermark it was advanced to: every element
 * with a time below the mark has been applied, none at or above it (elements come in time order
 * and the watermark promises no earlier one). `restore()` takes a snapshot into a fresh op, which
 * then ignores elements below the mark (a replay brings them again; their results are out).
 * An op registers itself for checkpoints when its stage's env has a `checkpointable` list.
 */
import { compareValues } from './aggregate.ts';
import { keyId, type Operator, type StageEnv } from './operator.ts';
import type { Emit, ProcessOptions } from './stream.ts';

interface Entry { key: any; state: any; last: number }

/** What a KeyedProcessOp checkpoints: its keys' states and where it stood. */
export interface KeyedSnapshot {
  /** Elements with a time below it have been applied (Infinity once finished). */
  mark: number;
  wm: number;
  lastScan: number;
  /** [key, state, last element's time] per key, in the op's order. */
  entries: [unknown, unknown, number][];
}

/** A stage env that collects the ops with checkpointable state as they are built. */
export interface CheckpointEnv extends StageEnv {
  checkpointable?: KeyedProcessOp[];
}

export class KeyedProcessOp implements Operator {
  private readonly opts: ProcessOptions<any, any, any, any>;
  private readonly next: Operator;
  private readonly states = new Map<string | number, Entry>();
  private readonly idle: number;
  private lastScan = -Infinity;
  /** The highest watermark advanced to. */
  private wm = -Infinity;
  private curTs = 0;
  private curKey: any = null;
  private readonly out: Emit<any>;
  /** After a restore: elements below this time were applied before the checkpoint. */
  private skipBelow = -Infinity;
  private finished = false;
  /** The highest watermark advanced to by this op's own input (a restored `wm` not included). */
  advancedTo = -Infinity;

  constructor(opts: ProcessOptions<any, any, any, any>, next: Operator, env: StageEnv) {
    this.opts = opts;
    this.next = next;
    this.idle = opts.idleTimeout ?? Infinity;
    this.out = (value, key) => this.next.push(value, this.curTs, key === undefined ? this.curKey : key);
    (env as CheckpointEnv).checkpointable?.push(this);
  }

  /** The state of every key and the progress mark (objects shared with the op: encode at once). */
  snapshot(): KeyedSnapshot {
    const entries: [unknown, unknown, number][] = [];
    for (const e of this.states.values()) entries.push([e.key, e.state, e.last]);
    return { mark: this.finished ? Infinity : this.wm, wm: this.wm, lastScan: this.lastScan, entries };
  }

  /** Takes a snapshot into this fresh op: elements below its mark will be ignored. */
  restore(s: KeyedSnapshot): void {
    this.states.clear();
    for (const [key, state, last] of s.entries) this.states.set(keyId(key), { key, state, last });
    this.wm = s.wm; this.lastScan = s.lastScan; this.skipBelow = s.mark;
    this.finished = s.mark === Infinity;
  }

  push(item: any, ts: number, key: any): void {
    if (ts < this.skipBelow) return;
    const id = keyId(key);
    let e = this.states.get(id);
    if (e !== undefined && ts - e.last > this.idle) {
      this.expire(id, e);
      e = undefined;
    }
    if (e === undefined) {
      e = { key, state: this.opts.init(key), last: ts };
      this.states.set(id, e);
    } else if (ts > e.last) e.last = ts;
    this.curTs = ts; this.curKey = key;
    this.opts.onItem(item, e.state, this.out, { key, ts });
  }

  private expire(id: string | number, e: Entry): void {
    this.states.delete(id);
    if (this.opts.onExpire) {
      const t = e.last + this.idle;
      this.curTs = t; this.curKey = e.key;
      this.opts.onExpire(e.state, this.out, { key: e.key, ts: t });
    }
  }

  private expiryTime(e: Entry): number {
    return this.idle === Infinity ? Math.max(e.last, this.wm) : e.last + this.idle;
  }

  advance(wm: number): void {
    if (wm > this.wm) this.wm = wm;
    if (wm > this.advancedTo) this.advancedTo = wm;
    let hold = wm;
    if (this.idle !== Infinity) {
      if (wm - this.lastScan >= this.idle / 4) {
        this.lastScan = wm;
        const due: [string | number, Entry][] = [];
        for (const [id, e] of this.states) if (e.last + this.idle < wm) due.push([id, e]);
        due.sort((a, b) => a[1].last - b[1].last || compareValues(a[0], b[0]));
        for (const [id, e] of due) this.expire(id, e);
      }
    }
    // Expiry output carries time last + idle: keep the promise for it (state that never idles
    // out expires at or after the watermark: nothing to hold).
    if (this.opts.onExpire && this.idle !== Infinity) for (const e of this.states.values()) if (this.expiryTime(e) < hold) hold = this.expiryTime(e);
    this.next.advance(hold);
  }

  finish(): void {
    this.finished = true;
    if (this.opts.onExpire) {
      const all = [...this.states].sort((a, b) => compareValues(a[0], b[0]));
      for (const [id, e] of all) {
        this.states.delete(id);
        const t = this.expiryTime(e);
        this.curTs = t; this.curKey = e.key;
        this.opts.onExpire(e.state, this.out, { key: e.key, ts: t });
      }
    }
    this.states.clear();
    this.next.finish();
  }
}
