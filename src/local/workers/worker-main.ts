/**
 * A local-stage thread (`--workers N`): loads the task (task-ref.ts), runs a LocalProcessor over
 * the batches the framing thread deals it (dealt-source.ts), and hands the stage's messages,
 * counters and per-window counters to the main thread (worker-stage.ts holds the protocol's
 * other side). It never opens the source, never probes (tasks that probe in the local stage run
 * on one thread) and never taps packets.
 *
 * Messages in:  {t:'deal', slot, count, clock, after, leftOut...} a slot of records (clock: the
 *               source's time before them, after: after them), {t:'clock', clock} the source's time moved
 *               on, {t:'map', slot, buffers} a slot's shared buffers, {t:'ack'} a stage message
 *               was taken, {t:'end'} the source ended.
 * Messages out: {t:'ready'}, {t:'free', slot}, {t:'msg', msg} a StageMessage (its `source`
 *               the index it goes to the transport with), {t:'stats', stats, windows} every
 *               250 ms and {t:'done', ...} at the end, {t:'error', error}.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { SkipCounters } from '../../decode/skip-counters.ts';
import type { IntDecodeOptions } from '../../decode/int-view.ts';
import { refuseProbes } from '../../probe/refuse-probes.ts';
import type { StageEnv } from '../../query/operator.ts';
import type { SourceTraits } from '../../sources/source.ts';
import type { StageMessage } from '../../transport/transport.ts';
import { LocalProcessor } from '../local-processor.ts';
import { DealtSource } from './dealt-source.ts';
import type { SlotBuffers } from './slots.ts';
import { loadRef, planShape, shapeMismatch, type TaskRef } from './task-ref.ts';

export interface WorkerInit {
  ref: TaskRef;
  params: Record<string, string>;
  window: number;
  /** planShape() of the main thread's plan. */
  shape: string;
  /** The source's name and traits. */
  name: string;
  traits: SourceTraits;
  /** The stage's index (elements' `source`) and the index its messages carry. */
  index: number;
  msgSource: number;
  /** This thread among `threads`; records dealt by flow when `flow`. */
  me: number;
  threads: number;
  flow: boolean;
  lateness: number;
  decode: IntDecodeOptions | null;
  windowSize: number;
  slots: SlotBuffers[];
  /** Stage messages sent ahead of the main thread's acknowledgements. */
  inflight: number;
  /** Where the raw pre-filter runs: in the framing thread's source ('source') or in this thread's loop. */
  prefilter: 'source' | 'loop';
}

const port = parentPort!;
const init = workerData as WorkerInit;

function errorOf(e: unknown): object {
  const x = e as { name?: string; message?: string; stack?: string; code?: string; hint?: string };
  return { name: x?.name ?? 'Error', message: x?.message ?? String(e), stack: x?.stack, code: x?.code, hint: x?.hint };
}

let acked = 0, sent = 0;
let ackWait: (() => void) | null = null;
const source = new DealtSource(init.name, init.traits, init.me, init.flow, init.lateness, (slot) => port.postMessage({ t: 'free', slot }));
init.slots.forEach((b, i) => source.map(i, b));

port.on('message', (m: any) => {
  switch (m.t) {
    case 'deal': source.push(m); break;
    case 'clock': source.push({ slot: -1, count: 0, clock: m.clock, after: m.clock, leftOut: 0, leftOutTail: -Infinity, leftOutWindow: 0 }); break;
    case 'map': source.map(m.slot, m.buffers); break;
    case 'end': source.push(null); break;
    case 'ack': { acked++; const w = ackWait; ackWait = null; w?.(); break; }
  }
});

async function send(msg: StageMessage): Promise<void> {
  while (sent - acked >= init.inflight) await new Promise<void>((r) => { ackWait = r; });
  sent++;
  msg.source = init.msgSource;
  port.postMessage({ t: 'msg', msg });
}

let lp: LocalProcessor | null = null;
const report = (t: 'stats' | 'done') => {
  if (lp) port.postMessage({ t, stats: lp.stats(), windows: init.windowSize > 0 ? lp.takeWindows() : [] });
};

try {
  const split = await loadRef(init.ref, init.params, init.window);
  const shape = planShape(split);
  if (shape !== init.shape) throw shapeMismatch(init.shape, shape);
  const env: StageEnv = { skipped: new SkipCounters(), lateness: init.lateness, sendProbe: refuseProbes('no probes in a local-stage thread'), records: init.traits.items === 'records' };
  lp = new LocalProcessor(init.index, source, split, env, send, init.decode ?? undefined);
  lp.prefilter = init.prefilter;
  if (init.windowSize > 0) lp.windowSize = init.windowSize;
  port.postMessage({ t: 'ready' });
  const timer = setInterval(() => report('stats'), 250);
  try {
    await lp.run();
  } finally {
    clearInterval(timer);
  }
  while (sent > acked) await new Promise<void>((r) => { ackWait = r; });
  report('done');
  port.close();
} catch (e) {
  port.postMessage({ t: 'error', error: errorOf(e) });
  port.close();
}
