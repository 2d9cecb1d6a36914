/**
 * `npm run fuzz -- --inputs N [--seed S] [--time-limit-ms T] [--only KIND[,KIND]] [--from I]`
 * `npm run fuzz -- --replay FILE...`   (crasher fixtures, test/fixtures/fuzz/*.json)
 * `npm run fuzz -- --list`
 *
 * Mutates the real captures, INT reports, flow datagrams, pcapng blocks, filters and query
 * parameters, and runs them in process through the decoders, the capture reader, the flow and
 * INT decoders, the filters, the window operators and the INT collector (the kinds and their
 * checks: test/fuzz/kinds.ts; determinism and crasher files: test/fuzz/harness.ts).
 *
 * The inputs run in a worker thread; this thread is the watchdog: an input that runs longer than
 * the time limit (default 10000 ms) is a hang: the worker is stopped, the input is made again
 * from (seed, kind, index) and saved, and a new worker goes on with the next input. An input
 * that finishes but takes longer than the limit is reported by the worker itself. Each distinct
 * failure is shrunk and saved as a crasher under test/fixtures/fuzz/ (--crashers DIR to save
 * elsewhere, --no-save not at all); the run then exits 1, listing them.
 *
 * Progress (inputs/s) every 5 s on stderr; a summary (inputs per kind, failures) at the end.
 */
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import { relative } from 'node:path';
import { mulberry32 } from '../src/gen/prng.ts';
import {
  CRASHER_DIR, describeError, deserialize, inputSeed, inputSize, loadCrasher, locate, runInput, runRange, saveCrasher, serialize, signatureOf,
  type Failure,
} from '../test/fuzz/harness.ts';
import { KINDS, kindByName } from '../test/fuzz/kinds.ts';
import { loadPools } from '../test/fuzz/pools.ts';

interface Options {
  inputs: number;
  seed: number;
  timeLimitMs: number;
  kinds: string[];
  from: number;
  crashers: string;
  save: boolean;
  minimize: boolean;
}

interface WorkerData { o: Options; start: number; count: number; beat: SharedArrayBuffer }

type FromWorker =
  | { t: 'progress'; done: number; perKind: number[]; failed: number[] }
  | { t: 'failure'; f: string; count: number }
  | { t: 'done'; perKind: number[]; failed: number[]; counts: [string, number][] };

const USAGE = `usage: npm run fuzz -- --inputs N [--seed S] [--time-limit-ms T] [--only KIND[,KIND...]] [--from I] [--crashers DIR] [--no-save] [--no-minimize]
       npm run fuzz -- --replay FILE...
       npm run fuzz -- --list
kinds: ${KINDS.map((k) => k.name).join(', ')}`;

function parse(argv: string[]): { o: Options; replay: string[] | null; list: boolean } {
  const o: Options = { inputs: 100_000, seed: 1, timeLimitMs: 10_000, kinds: KINDS.map((k) => k.name), from: 0, crashers: CRASHER_DIR, save: true, minimize: true };
  let replay: string[] | null = null, list = false;
  const num = (v: string | undefined, what: string) => {
    const n = Number(v);
    if (v === undefined || !Number.isFinite(n) || n < 0) throw new Error(`${what} needs a number ≥ 0 (got ${v})`);
    return n;
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--inputs') o.inputs = Math.floor(num(argv[++i], a));
    else if (a === '--seed') o.seed = num(argv[++i], a) >>> 0;
    else if (a === '--time-limit-ms') o.timeLimitMs = num(argv[++i], a);
    else if (a === '--from') o.from = Math.floor(num(argv[++i], a));
    else if (a === '--only') {
      o.kinds = (argv[++i] ?? '').split(',').filter(Boolean);
      for (const k of o.kinds) if (!kindByName(k)) throw new Error(`unknown kind '${k}'`);
      if (o.kinds.length === 0) throw new Error('--only needs a kind');
    } else if (a === '--crashers') o.crashers = argv[++i] ?? '';
    else if (a === '--no-save') o.save = false;
    else if (a === '--no-minimize') o.minimize = false;
    else if (a === '--replay') replay = argv.slice(i + 1);
    else if (a === '--list') list = true;
    else if (a === '--help' || a === '-h') { process.stdout.write(`${USAGE}\n`); process.exit(0); }
    else throw new Error(`unknown argument '${a}'`);
    if (replay) break;
  }
  return { o, replay, list };
}

/** Kind indices fixed by the whole list, so `--only` runs the same inputs as a full run's. */
const kindIds = (names: string[]) => names.map((n) => KINDS.findIndex((k) => k.name === n));

// ---- the worker ----------------------------------------------------------------------------------

async function workerMain(d: WorkerData): Promise<void> {
  const pools = await loadPools();
  const beat = new Float64Array(d.beat);
  const kinds = d.o.kinds.map((n) => kindByName(n)!);
  const post = (m: FromWorker) => parentPort!.postMessage(m);
  const r = await runRange({
    seed: d.o.seed, kinds, kindIds: kindIds(d.o.kinds), start: d.start, count: d.count, timeLimitMs: d.o.timeLimitMs, pools, minimize: d.o.minimize,
    onStart: (i) => { beat[0] = i; beat[1] = performance.timeOrigin + performance.now(); },
    onProgress: (done, perKind, failed) => post({ t: 'progress', done, perKind, failed }),
    onFailure: (f, count) => post({ t: 'failure', f: serialize(f), count }),
  });
  post({ t: 'done', perKind: r.perKind, failed: r.failedPerKind, counts: [...r.failures].map(([sig, x]) => [sig, x.count]) });
}

// ---- the watchdog ----------------------------------------------------------------------------------

async function main(): Promise<number> {
  const { o, replay, list } = parse(process.argv.slice(2));
  if (list) {
    for (const k of KINDS) process.stdout.write(`${k.name.padEnd(10)} ${k.doc}\n`);
    return 0;
  }
  if (replay) return replayFiles(replay, o.timeLimitMs);
  const pools = await loadPools();
  const kinds = o.kinds.map((n) => kindByName(n)!);
  const ids = kindIds(o.kinds);
  process.stderr.write(`fuzz: ${o.inputs} inputs from #${o.from}, seed ${o.seed}, kinds ${o.kinds.join(',')}, time limit ${o.timeLimitMs} ms; seeds: ${pools.files.length} files, ${pools.packets.length} packets, ${pools.flows.length} flow sequences\n`);
  const total = new Array<number>(kinds.length).fill(0), failed = new Array<number>(kinds.length).fill(0);
  /** Per distinct failure: inputs that failed so (all workers), and the smallest. */
  const distinct = new Map<string, { count: number; best: Failure }>();
  const keep = (f: Failure) => {
    const d = distinct.get(f.signature);
    if (!d) { distinct.set(f.signature, { count: 0, best: f }); process.stderr.write(`fuzz: FAILURE ${f.kind} #${f.index}: ${f.error.split('\n')[0]}\n`); }
    else if (f.size < d.best.size) d.best = f;
  };
  const t0 = performance.now();
  let next = o.from;
  const end = o.from + o.inputs;
  let lastPrint = t0, doneBefore = 0, failedBefore = 0;
  while (next < end) {
    const beat = new SharedArrayBuffer(16);
    const bv = new Float64Array(beat);
    bv[0] = -1;
    const start = next;
    const w = new Worker(new URL(import.meta.url), { workerData: { o, start, count: end - start, beat } satisfies WorkerData });
    const perKindNow = new Array<number>(kinds.length).fill(0), failedNow = new Array<number>(kinds.length).fill(0);
    /** This worker's counts per signature so far (its last word on each). */
    const counts = new Map<string, number>();
    const outcome = await new Promise<{ hang: number | null }>((resolve, reject) => {
      let finished = false;
      const timer = setInterval(() => {
        const i = bv[0], since = performance.timeOrigin + performance.now() - bv[1];
        if (i >= 0 && since > o.timeLimitMs + 1000 && !finished) {
          finished = true;
          clearInterval(timer);
          void w.terminate().then(() => resolve({ hang: i }));
        }
        const now = performance.now();
        if (now - lastPrint > 5000) {
          lastPrint = now;
          const done = doneBefore + perKindNow.reduce((a, b) => a + b, 0);
          const bad = failedBefore + failedNow.reduce((a, b) => a + b, 0);
          process.stderr.write(`fuzz: ${done} inputs in ${((now - t0) / 1000).toFixed(0)} s (${(done / ((now - t0) / 1000)).toFixed(0)}/s), ${bad} failed, ${distinct.size} distinct\n`);
        }
      }, 200);
      w.on('message', (m: FromWorker) => {
        if (m.t === 'progress') { m.perKind.forEach((n, k) => { perKindNow[k] = n; }); m.failed.forEach((n, k) => { failedNow[k] = n; }); }
        else if (m.t === 'failure') {
          const f = deserialize<Failure>(m.f);
          counts.set(f.signature, m.count);
          keep(f);
        } else if (m.t === 'done') {
          m.perKind.forEach((n, k) => { perKindNow[k] = n; }); m.failed.forEach((n, k) => { failedNow[k] = n; });
          for (const [sig, n] of m.counts) counts.set(sig, n);
          finished = true;
          clearInterval(timer);
          resolve({ hang: null });
        }
      });
      w.on('error', (e) => { if (!finished) { finished = true; clearInterval(timer); reject(e); } });
      w.on('exit', (code) => { if (!finished) { finished = true; clearInterval(timer); reject(new Error(`fuzz worker exited with code ${code}`)); } });
    });
    perKindNow.forEach((n, k) => { total[k] += n; });
    failedNow.forEach((n, k) => { failed[k] += n; });
    for (const [sig, n] of counts) distinct.get(sig)!.count += n;
    doneBefore += perKindNow.reduce((a, b) => a + b, 0);
    failedBefore += failedNow.reduce((a, b) => a + b, 0);
    if (outcome.hang === null) break;
    // A hang: the input is made again from its numbers, and the next worker starts after it.
    const i = outcome.hang;
    const { kind: ki, index } = locate(i, kinds.length);
    const kind = kinds[ki];
    // (the stopped worker's progress may lag: count the inputs before the hang from its number)
    const ranBefore = i - start;
    const reported = perKindNow.reduce((a, b) => a + b, 0);
    if (ranBefore > reported) {
      for (let j = start + reported; j < i; j++) total[locate(j, kinds.length).kind]++;
      doneBefore += ranBefore - reported;
    }
    const input = kind.gen(mulberry32(inputSeed(o.seed, ids[ki], index)), pools);
    const error = `Hang: no result after ${o.timeLimitMs} ms (worker stopped)`;
    total[ki]++; failed[ki]++;
    doneBefore++; failedBefore++;
    keep({ kind: kind.name, seed: o.seed, index, signature: signatureOf(kind.name, error), error, input, originalSize: inputSize(kind, input), size: inputSize(kind, input) });
    distinct.get(signatureOf(kind.name, error))!.count++;
    next = i + 1;
  }
  const secs = (performance.now() - t0) / 1000;
  const sum = total.reduce((a, b) => a + b, 0);
  process.stdout.write(`\nfuzz summary: seed ${o.seed}, inputs #${o.from}..#${o.from + sum - 1}, ${sum} inputs in ${secs.toFixed(1)} s (${(sum / secs).toFixed(0)} inputs/s)\n`);
  for (let k = 0; k < kinds.length; k++) {
    process.stdout.write(`  ${kinds[k].name.padEnd(10)} ${String(total[k]).padStart(10)} inputs  ${failed[k]} failed\n`);
  }
  if (distinct.size === 0) {
    process.stdout.write('no failures\n');
    return 0;
  }
  process.stdout.write(`${failed.reduce((a, b) => a + b, 0)} inputs failed, ${distinct.size} distinct failures (the smallest input of each saved):\n`);
  for (const { count, best: f } of distinct.values()) {
    const where = o.save ? relative(process.cwd(), saveCrasher(f, o.crashers)) : '(not saved)';
    process.stdout.write(`  ${count} x ${f.signature}\n    smallest: ${f.kind} input #${f.index} (seed ${f.seed}), size ${f.size} (shrunk from ${f.originalSize}) -> ${where}\n`);
  }
  process.stdout.write('replay: npm run fuzz -- --replay FILE\n');
  return 1;
}


async function replayFiles(files: string[], timeLimitMs: number): Promise<number> {
  if (files.length === 0) throw new Error('--replay needs crasher files');
  const pools = await loadPools();
  let bad = 0;
  for (const file of files) {
    const c = loadCrasher(file);
    const kind = kindByName(c.kind);
    if (!kind) throw new Error(`${file}: unknown kind '${c.kind}'`);
    let err: string | null;
    try {
      err = await runInput(kind, c.input, pools, timeLimitMs);
    } catch (e) {
      err = describeError(e);
    }
    process.stdout.write(`${file}: ${c.kind} (seed ${c.seed}, input #${c.index}): ${err === null ? 'passes' : `FAILS: ${err}`}\n`);
    if (err !== null) bad++;
  }
  return bad > 0 ? 1 : 0;
}

if (isMainThread) {
  main().then((code) => { process.exitCode = code; }, (e: unknown) => {
    process.stderr.write(`fuzz: ${e instanceof Error ? e.message : String(e)}\n${USAGE}\n`);
    process.exitCode = 2;
  });
} else {
  void workerMain(workerData as WorkerData);
}
