/**
 * The global stream processor (GSP): merges what every local stage sent into one stream in
 * event-time order, and runs the global chain over it. An element is released once every
 * local stage's watermark has passed its time, in (time, source, arrival) order, so results
 * do not depend on how the sources' messages interleaved in transit.
 */
import { buildStage, settleStage, type Stage } from '../query/pipeline.ts';
import type { StageEnv } from '../query/operator.ts';
import type { OpSpec } from '../query/stream.ts';
import type { StageMessage } from '../transport/transport.ts';

interface Pending { ts: number; source: number; seq: number; item: unknown; key: unknown }

export class GlobalProcessor {
  private readonly stage: Stage;
  private readonly watermarks: number[];
  private readonly ended: boolean[];
  private pending: Pending[] = [];
  private seq = 0;
  private released = -Infinity;
  private finished = false;
  received = 0;
  out = 0;

  constructor(ops: OpSpec[], sources: number, env: StageEnv) {
    this.stage = buildStage(ops, env);
    this.watermarks = new Array(sources).fill(-Infinity);
    this.ended = new Array(sources).fill(false);
  }

  /** Takes one message; returns the elements that left the global stage because of it. */
  async accept(msg: StageMessage): Promise<{ items: unknown[]; times: number[]; keys: unknown[] }> {
    for (let i = 0; i < msg.items.length; i++) {
      this.pending.push({ ts: msg.times[i], source: msg.source, seq: this.seq++, item: msg.items[i], key: msg.keys[i] });
    }
    this.received += msg.items.length;
    if (msg.watermark > this.watermarks[msg.source]) this.watermarks[msg.source] = msg.watermark;
    if (msg.end) this.ended[msg.source] = true;
    let min = Infinity;
    for (const w of this.watermarks) if (w < min) min = w;
    if (min > this.released) this.release(min);
    if (!this.finished && this.ended.every(Boolean)) {
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
