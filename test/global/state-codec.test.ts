/**
 * Durable global state, in process:
 *   - state-codec.ts: what a task's keyed state may hold comes back deepStrictEqual (node:assert's
 *     own comparison is the reference), what it may not is refused naming the task's operator;
 *   - GlobalProcessor.exportState / importState: a GSP worker's run over the partials records,
 *     modelled here (commit rule of gsp-worker.ts, a checkpoint at every commit), killed after
 *     every record in turn and resumed by a successor from the committed offset with the last
 *     snapshot, keeps the first copy per (window, key) equal to the uninterrupted `intstream run`
 *     (runTask) of the same task on the same captures; without the restore it does not.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { IntstreamError } from '../../src/errors.ts';
import { count } from '../../src/query/aggregate.ts';
import { decodeState, encodeState, MAX_STATE_DEPTH } from '../../src/global/state-codec.ts';
import { openGlobalStage, type GlobalProcessor } from '../../src/global/global-processor.ts';
import { loadTask } from '../../src/apps/load-task.ts';
import { runTask, type TaskResult } from '../../src/run-task.ts';
import { toResult } from '../../src/sinks/sink.ts';
import { buildPlan, resolveParams } from '../../src/query/task.ts';
import { splitPlan } from '../../src/query/pipeline.ts';
import { MemoryTransport } from '../../src/transport/memory-transport.ts';
import { decodeRecord, encodeMessage } from '../../src/transport/kafka-transport.ts';
import type { StageMessage } from '../../src/transport/transport.ts';
import { durableTraffic, pcapBytes } from '../support/durable-traffic.ts';

const roundTrip = (v: unknown) => decodeState(encodeState(v, 'test'));

describe('state codec', () => {
  test('what a task state may hold comes back equal', () => {
    const values: unknown[] = [
      0, -0, 1.5, -7, Number.MAX_VALUE, Number.MIN_VALUE, NaN, Infinity, -Infinity,
      '', 'a\nb"\u0000\ud83d\ude00', true, false, null, undefined,
      0n, -(2n ** 200n), 12345678901234567890n,
      [], [1, [2, [3, []]]], [undefined, null, NaN],
      {}, { a: 1, b: { c: [1, 2], d: undefined } }, { 'with space': 1, '0': 2, '': 3 },
      new Map(), new Map<unknown, unknown>([['x', 1], [2, 'y'], [null, new Set([1, 2])], [{ k: 1 }, [1n]]]),
      new Set(), new Set([1, '1', -0, NaN, new Map([[1, 2]])]),
      { previous: new Map([['10.0.0.1', 3], ['10.0.0.2', 4]]) },
      [[{ src: '1.2.3.4', sport: 5 }, { highest: 4294967295 }, 1_700_000_000.5]],
    ];
    for (const v of values) assert.deepStrictEqual(roundTrip(v), v, `round trip of ${String(v)}`);
    // -0 survives (deepStrictEqual tells it from 0)
    assert.ok(Object.is(roundTrip(-0), -0));
  });

  test('an own __proto__ key stays an own key; a null-prototype object comes back as a plain one', () => {
    const o = JSON.parse('{"__proto__": {"x": 1}, "y": 2}');
    const back = roundTrip(o) as Record<string, unknown>;
    assert.equal(Object.getPrototypeOf(back), Object.prototype);
    assert.deepStrictEqual(Object.getOwnPropertyDescriptor(back, '__proto__')?.value, { x: 1 });
    assert.deepStrictEqual(Object.keys(back), ['__proto__', 'y']);
    const bare = Object.assign(Object.create(null), { a: 1 });
    assert.deepStrictEqual(roundTrip(bare), { a: 1 });
  });

  test('shared references come back as copies; arrays with holes as undefined', () => {
    const shared = { n: 1 };
    const back = roundTrip({ a: shared, b: shared }) as { a: object; b: object };
    assert.deepStrictEqual(back, { a: { n: 1 }, b: { n: 1 } });
    assert.notEqual(back.a, back.b);
    assert.deepStrictEqual(roundTrip([1, , 3]), [1, undefined, 3]);
  });

  test('what it cannot restore is refused: TASK_INVALID naming the place and the path', () => {
    class Flow { highest = 1; }
    const cyc: Record<string, unknown> = { a: 1 };
    cyc.self = { back: cyc };
    const cases: [unknown, RegExp][] = [
      [{ f: () => 1 }, /: state\.f is a function \(f\)/],
      [{ m: new Map([['k', { t: new Date(0) }]]) }, /: state\.m\.get\(<key 0>\)\.t is an instance of Date/],
      [[1, new Flow()], /: state\[1\] is an instance of Flow/],
      [{ b: new Uint8Array(2) }, /\.b is an instance of Uint8Array/],
      [{ s: Symbol('x') }, /\.s is a symbol/],
      [{ [Symbol('k')]: 1 }, /is an object with symbol keys/],
      [cyc, /: state\.self\.back is a cycle/],
      [new Set([() => 0]), /\.values\(\)\[0\] is a function/],
    ];
    for (const [v, re] of cases) {
      assert.throws(() => encodeState(v, 'task t (t-1): the global stage\'s process() #1'), (e: unknown) => {
        assert.ok(e instanceof IntstreamError);
        assert.equal(e.code, 'TASK_INVALID');
        assert.match(e.message, /^task t \(t-1\): the global stage's process\(\) #1: its state cannot be checkpointed: /);
        assert.match(e.message, re);
        return true;
      });
    }
  });

  test("a global stage whose keyed state holds a function: TASK_INVALID naming the task and its process()", async () => {
    const gp = openGlobalStage([
      { kind: 'key', fn: () => 'k' },
      { kind: 'process', opts: { init: () => ({ count: 0, onAlarm: () => undefined }), onItem: (_x: unknown, st: { count: number }) => { st.count++; } } },
    ] as unknown as Parameters<typeof openGlobalStage>[0], 1);
    assert.equal(gp.checkpointable, true);
    await gp.accept({ source: 0, items: [1], times: [0], keys: [null], watermark: 1, end: false });
    assert.throws(() => gp.exportState('task mine (mine-1)'), (e: unknown) => {
      assert.ok(e instanceof IntstreamError);
      assert.equal(e.code, 'TASK_INVALID');
      assert.match(e.message, /^task mine \(mine-1\): the global stage's process\(\) #1: its state cannot be checkpointed: state\.entries\[0\]\[1\]\.onAlarm is a function/);
      return true;
    });
    // a stage without keyed state has nothing to checkpoint
    assert.equal(openGlobalStage([{ kind: 'key', fn: () => 'k' }] as unknown as Parameters<typeof openGlobalStage>[0], 1).checkpointable, false);
  });

  test('no snapshot while a window after the keyed state still holds its output', async () => {
    // keyed state, then a 10 s window over what it lets out: until that window closes, a replay
    // that skips the applied elements could not rebuild it
    const gp = openGlobalStage([
      { kind: 'key', fn: () => 'k' },
      { kind: 'process', opts: { init: () => ({ n: 0 }), onItem: (x: number, st: { n: number }, out: (v: unknown) => void) => { st.n += x; out(st.n); } } },
      { kind: 'key', fn: () => null },
      { kind: 'window', spec: { size: 10, slide: 10 } },
      { kind: 'aggregate', agg: count(), partial: false },
    ] as unknown as Parameters<typeof openGlobalStage>[0], 1);
    await gp.accept({ source: 0, items: [1, 2, 3], times: [0, 1, 2], keys: [null, null, null], watermark: 3, end: false });
    await gp.drain();
    assert.equal(gp.exportState('t'), null);
    const mid = await gp.accept({ source: 0, items: [4], times: [10], keys: [null], watermark: 11, end: false });
    assert.deepEqual(mid.items, [{ window: { start: 0, end: 10 }, key: null, value: 3 }]);
    assert.equal(gp.exportState('t'), null, 'the window of 10..20 holds what time 10 let out');
    const out = await gp.accept({ source: 0, items: [], times: [], keys: [], watermark: 20, end: false });
    assert.deepEqual(out.items, [{ window: { start: 10, end: 20 }, key: null, value: 1 }]);
    assert.ok(gp.exportState('t'), 'every window closed: a consistent point');
  });

  test('bytes that are not a state tree are refused', () => {
    assert.throws(() => decodeState(Buffer.from('{not json')), /not a state tree/);
    assert.throws(() => decodeState(Buffer.from('["zz", 1]')), /unknown tag/);
  });
});

// ---- a global stage restored from its checkpoints ------------------------------------------

const dir = mkdtempSync(join(tmpdir(), 'intstream-state-codec-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const SECONDS = 24;
// UDP packets scaled up (~4000 a second): source batches of 2048 packets cut the run into ~100 partials records
const files = durableTraffic(SECONDS, 2, 12, 150).map((p, i) => { const f = join(dir, `p${i}.pcap`); writeFileSync(f, pcapBytes(p.records)); return f; });

/** The uninterrupted run, and the partials records its local stages sent, as a GSP worker reads them. */
async function reference(app: string, params: Record<string, string>): Promise<{ results: TaskResult[]; records: Buffer[] }> {
  const { def } = await loadTask(app);
  const results: TaskResult[] = [];
  const records: Buffer[] = [];
  const seqs = [0, 0];
  await runTask({
    task: def, params, window: 1, sources: files.map((f) => `pcap:${f}`), onResult: (r) => { results.push(r); },
    transport: async (n) => {
      const mem = new MemoryTransport(n);
      return {
        // as the Kafka transport writes one partition and a GSP worker decodes it
        send: (m: StageMessage) => { records.push(Buffer.from(encodeMessage(m, n, seqs[m.source]++, 1)[0].value as string)); return mem.send(m); },
        receive: () => mem.receive(),
        close: () => mem.close(),
      };
    },
  });
  return { results, records };
}

interface Run { gp: GlobalProcessor; out: TaskResult[]; queue: { at: number; src: number; maxTs: number }[]; latest: Map<number, number> }

/**
 * A model of a GSP worker on one partition (gsp-worker.ts): merges records from `from`; after
 * each, drains, and commits the records whose elements are all below the released time and that
 * are not their source's latest, with a checkpoint first (one per commit). Stops after `upTo`.
 */
async function work(app: string, records: Buffer[], from: number, upTo: number, snapshot: { offset: number; state: Buffer } | null, restore: boolean) {
  const { def } = await loadTask(app);
  const split = splitPlan(buildPlan(def, resolveParams(def, PARAMS[app]), { window: 1 }));
  const run: Run = { gp: openGlobalStage(split.global, 2), out: [], queue: [], latest: new Map() };
  if (snapshot && restore) run.gp.importState(snapshot.state);
  const put = (o: { items: unknown[]; keys: unknown[] }) => { for (let i = 0; i < o.items.length; i++) run.out.push(toResult(app, o.items[i], o.keys[i])); };
  let last = snapshot;
  for (let at = from; at < upTo; at++) {
    const r = decodeRecord(records[at]); // afresh each time, as a worker reads it (merging mutates what it decoded)
    run.queue.push({ at, src: r.src, maxTs: Math.max(-Infinity, ...r.times) });
    run.latest.set(r.src, at);
    put(await run.gp.accept({ source: r.src, items: r.items, times: r.times, keys: r.keys, watermark: r.wm, end: r.end }));
    put(await run.gp.drain());
    let n = 0;
    while (n < run.queue.length && run.queue[n].maxTs < run.gp.releasedUpTo && run.latest.get(run.queue[n].src) !== run.queue[n].at) n++;
    if (n === 0) continue;
    const state = run.gp.exportState(`task ${app}`);
    assert.ok(state, `a consistent point at every commit (record ${at})`);
    last = { offset: run.queue[n - 1].at + 1, state };
    run.queue.splice(0, n);
  }
  return { out: run.out, snapshot: last };
}

const PARAMS: Record<string, Record<string, string>> = { ddos: { threshold: '0.3' }, 'tcp-retrans': {} };
const canonical = (rs: TaskResult[]) => rs.map((r) => JSON.stringify([r.window, r.key, r.value])).sort();
/** The store's rule: the first copy per (window, key). */
function firstCopies(rs: TaskResult[]): TaskResult[] {
  const seen = new Set<string>();
  return rs.filter((r) => { const id = JSON.stringify([r.window, r.key]); if (seen.has(id)) return false; seen.add(id); return true; });
}

for (const app of ['ddos', 'tcp-retrans']) {
  test(`${app}: a worker killed after any record, resumed from its checkpoint, gives the uninterrupted results`, async () => {
    const { results, records } = await reference(app, PARAMS[app]);
    assert.ok(results.length > 20, `${results.length} results`);
    const want = canonical(results);
    // the model itself, uninterrupted, is the reference
    assert.deepEqual(canonical((await work(app, records, 0, records.length, null, true)).out), want);
    let differs = 0;
    for (let kill = 1; kill < records.length; kill++) {
      const first = await work(app, records, 0, kill, null, true);
      const from = first.snapshot?.offset ?? 0;
      const second = await work(app, records, from, records.length, first.snapshot, true);
      assert.deepEqual(canonical(firstCopies([...first.out, ...second.out])), want, `killed after record ${kill}, resumed at ${from}`);
      // the successor also fits an older committed offset (a snapshot whose commit did not get through)
      if (kill % 7 === 0 && from > 0) {
        const older = await work(app, records, Math.max(0, from - 3), records.length, first.snapshot, true);
        assert.deepEqual(canonical(firstCopies([...first.out, ...older.out])), want, `killed after record ${kill}, resumed 3 records early`);
      }
      // without the restore (the state lost, as before checkpoints)
      const lost = await work(app, records, from, records.length, first.snapshot, false);
      if (JSON.stringify(canonical(firstCopies([...first.out, ...lost.out]))) !== JSON.stringify(want)) differs++;
    }
    assert.ok(differs > records.length / 4, `the state matters: without the restore ${differs} of ${records.length - 1} kill points give other results`);
  });
}

test('corrupt or hostile snapshots are TRANSPORT errors (found by the fuzzer): bigint text, nesting past MAX_STATE_DEPTH', () => {
  const transport = (e: unknown) => e instanceof IntstreamError && e.code === 'TRANSPORT';
  for (const text of ['["b","12x"]', '["b",""]', '["o","k",["b","-"]]', `${'["a",'.repeat(MAX_STATE_DEPTH + 2)}1${']'.repeat(MAX_STATE_DEPTH + 2)}`]) {
    assert.throws(() => decodeState(Buffer.from(text)), transport, text.slice(0, 40));
  }
  // exactly at the bound: restored
  let deep: unknown = 1;
  for (let i = 0; i < MAX_STATE_DEPTH; i++) deep = [deep];
  assert.deepEqual(decodeState(encodeState(deep, 't')), deep);
  // one level more: refused when checkpointed, naming the task
  assert.throws(() => encodeState([deep], 'task t, process() #1'), (e: unknown) => e instanceof IntstreamError && e.code === 'TASK_INVALID' && /nesting deeper than 1000/.test(e.message));
});
