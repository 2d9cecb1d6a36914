/**
 * The table and JSON Lines outputs stream (issue 11): a window's rows reach the stream when the
 * run hands them over, not when the next window comes or the run ends; window-less events when
 * they happen; in bounded memory whatever the number of rows; the stream's backpressure reaches
 * the caller; a window start that is no date prints as a number with a warning. The expected
 * rows are written out by hand or built from the inputs the test made up, not by the sinks.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { TableSink } from '../../src/sinks/table-sink.ts';
import { JsonlSink } from '../../src/sinks/jsonl-sink.ts';
import type { TaskResult } from '../../src/sinks/sink.ts';

/** A stream that keeps what it is given, counting lines, optionally slow (a callback later). */
function collector(opts: { slowMs?: number; highWaterMark?: number } = {}) {
  const c = {
    text: '',
    lines: 0,
    /** Most bytes the stream held at once (written to it but not yet taken). */
    maxHeld: 0,
    out: null as unknown as Writable,
  };
  c.out = new Writable({
    highWaterMark: opts.highWaterMark ?? 16384,
    write(chunk: Buffer, _enc, cb) {
      const s = chunk.toString();
      c.text += s;
      for (let i = s.indexOf('\n'); i >= 0; i = s.indexOf('\n', i + 1)) c.lines++;
      if (opts.slowMs) setTimeout(cb, opts.slowMs); else cb();
    },
  });
  const write = c.out.write.bind(c.out);
  c.out.write = ((chunk: any, ...rest: any[]) => {
    const r = write(chunk, ...rest);
    c.maxHeld = Math.max(c.maxHeld, c.out.writableLength);
    return r;
  }) as typeof c.out.write;
  return c;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const W0 = 1700000000; // 2023-11-14 22:13:20 UTC
const row = (start: number | null, key: unknown, value: unknown): TaskResult =>
  ({ task: 't', window: start === null ? null : { start, end: start + 10 }, key, value });

test('table: 200,000 rows of one window are written as they come, in bounded memory; every row is there', async () => {
  const c = collector();
  const sink = new TableSink(c.out, 120);
  const N = 200_000;
  let maxPending = 0;
  for (let i = 0; i < N; i++) {
    const key = `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`;
    await sink.write(row(W0, key, i));
    // rows handed to the sink that have not reached the stream (the header is one line)
    maxPending = Math.max(maxPending, i + 1 - Math.max(0, c.lines - 1));
  }
  await sink.close();
  // 1,000 rows size the columns, then at most 64 KiB of text (about 1,600 of these rows) wait
  assert.ok(maxPending <= 3000, `at most 3,000 rows waited for the stream (${maxPending})`);
  const lines = c.text.split('\n');
  assert.equal(lines.pop(), '');
  assert.match(lines[0], /^window \(UTC\)\s+key\s+value$/);
  assert.equal(lines.length, N + 1);
  for (let i = 0; i < N; i += 997) {
    const key = `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`;
    assert.deepEqual(lines[i + 1].split(/\s+/), ['2023-11-14', '22:13:20', '+10s', key, String(i)], `row ${i}`);
  }
});

test('table: a window\'s rows and window-less events reach the stream without a later row or the end', async () => {
  const c = collector();
  const sink = new TableSink(c.out, 120);
  await sink.write(row(W0, '10.0.0.1', 3));
  await sink.write(row(W0, '10.0.0.2', 2));
  await sleep(400);
  assert.deepEqual(c.text.split('\n').slice(1).map((l) => l.split(/\s+/)), [
    ['2023-11-14', '22:13:20', '+10s', '10.0.0.1', '3'],
    ['2023-11-14', '22:13:20', '+10s', '10.0.0.2', '2'],
    [''],
  ]);
  await sink.write(row(W0 + 10, '10.0.0.3', 7));
  await sleep(400);
  assert.equal(c.lines, 4, 'the next window\'s row too');
  await sink.close();

  // int-collector's events carry no window: each shows when it happens
  const e = collector();
  const events = new TableSink(e.out, 120);
  for (let i = 0; i < 5; i++) await events.write(row(null, { kind: 'flow', sport: 40000 + i }, { event: 'new', ts: W0 + i }));
  await sleep(400);
  assert.equal(e.lines, 6, 'header and 5 events before the run ends');
  assert.match(e.text.split('\n')[1], /^-\s+\{"kind":"flow","sport":40000\}\s+\{"event":"new","ts":1700000000\}$/);
  await events.close();
  assert.equal(e.lines, 6);
});

test('table: a window start that is no date prints as seconds with one warning; the run goes on', async () => {
  const c = collector();
  const warnings: string[] = [];
  const sink = new TableSink(c.out, 120, { warn: (m) => warnings.push(m) });
  // pcapng-example.pcapng's frame 90 has the time 18446744073204.16 s (tshark): in 1 h windows
  const bad = 18446744070000;
  await sink.write({ task: 't', window: { start: 1422525600, end: 1422529200 }, key: '127.0.0.1', value: 1 });
  await sink.write({ task: 't', window: { start: bad, end: bad + 3600 }, key: '130.217.250.13', value: 1 });
  await sink.write({ task: 't', window: { start: NaN, end: NaN }, key: 'x', value: 2 });
  await sink.close();
  assert.deepEqual(c.text.split('\n').slice(1).map((l) => l.split(/\s+/)), [
    ['2015-01-29', '10:00:00', '+3600s', '127.0.0.1', '1'],
    ['18446744070000', '+3600s', '130.217.250.13', '1'],
    ['NaN', '+NaNs', 'x', '2'],
    [''],
  ]);
  assert.equal(warnings.length, 1);
  assert.match(warnings[0], /window start 18446744070000 is not a date/);
});

test('table: windows shorter than a second show milliseconds on every row', async () => {
  const c = collector();
  const sink = new TableSink(c.out, 120);
  await sink.write({ task: 't', window: { start: W0, end: W0 + 0.5 }, key: 'a', value: 1 });
  await sink.write({ task: 't', window: { start: W0 + 0.5, end: W0 + 1 }, key: 'a', value: 2 });
  await sink.close();
  assert.deepEqual(c.text.split('\n').slice(1, 3), [
    '2023-11-14 22:13:20.000 +0.5s  a    1',
    '2023-11-14 22:13:20.500 +0.5s  a    2',
  ]);
});

// tcp-retrans keys: flows as JSON, 71 characters (by hand: 23 to the first ',', then 14, 21 and 13).
const FLOW = '{"src":"172.17.96.143","sport":59221,"dst":"172.17.96.77","dport":4000}';
const WIN = '2023-11-14 22:13:20 +10s'; // 24 characters

test('table: the key column is as wide as the longest key, so a long key keeps every value in line', async () => {
  assert.equal(FLOW.length, 71);
  const c = collector();
  const sink = new TableSink(c.out, 120);
  await sink.write(row(W0, '10.0.0.1', 3));
  await sink.write(row(W0, FLOW, 6));
  await sink.write(row(W0, '10.0.0.254', 12));
  await sink.close();
  // window 24, two spaces, key 71, two spaces: values start at column 99 (0-based)
  assert.deepEqual(c.text.split('\n'), [
    'window (UTC)' + ' '.repeat(12) + '  key' + ' '.repeat(68) + '  value',
    `${WIN}  10.0.0.1${' '.repeat(63)}  3`,
    `${WIN}  ${FLOW}  6`,
    `${WIN}  10.0.0.254${' '.repeat(61)}  12`,
    '',
  ]);
});

test('table: a longer key after the columns are sized widens the key column from that row on', async () => {
  const c = collector();
  const sink = new TableSink(c.out, 120);
  await sink.write(row(W0, '10.0.0.1', 3));
  await sleep(400); // sized by the first row: the key column is 8 wide
  const other = FLOW.replace('59221', '59222');
  await sink.write(row(W0 + 10, FLOW, 6));
  await sink.write(row(W0 + 10, '10.0.0.2', 4));
  await sink.write(row(W0 + 10, other, 7));
  await sink.close();
  assert.deepEqual(c.text.split('\n').slice(1), [
    `${WIN}  10.0.0.1  3`,
    `2023-11-14 22:13:30 +10s  ${FLOW}  6`,
    `2023-11-14 22:13:30 +10s  10.0.0.2${' '.repeat(63)}  4`,
    `2023-11-14 22:13:30 +10s  ${other}  7`,
    '',
  ]);
});

test('table: a key longer than the line leaves room for is cut with an ellipsis, and stays in line', async () => {
  const c = collector();
  // 100 columns: 100 - 24 (window) - 4 (spaces) - 20 (value) leaves 52 for the key
  const sink = new TableSink(c.out, 100);
  await sink.write(row(W0, FLOW, 6));
  await sink.write(row(W0, 'a', 1));
  await sink.close();
  assert.deepEqual(c.text.split('\n').slice(1), [
    `${WIN}  ${FLOW.slice(0, 51)}…  6`,
    `${WIN}  a${' '.repeat(51)}  1`,
    '',
  ]);
  // never narrower than 46, however narrow the terminal
  const n = collector();
  const narrow = new TableSink(n.out, 60);
  await narrow.write(row(W0, FLOW, 6));
  await narrow.close();
  assert.equal(n.text.split('\n')[1], `${WIN}  ${FLOW.slice(0, 45)}…  6`);
});

for (const format of ['table', 'jsonl'] as const) {
  test(`${format}: a slow stream holds the writer back (backpressure), nothing is lost`, async () => {
    const c = collector({ slowMs: 1, highWaterMark: 1024 });
    const sink = format === 'table' ? new TableSink(c.out, 120) : new JsonlSink(c.out);
    const N = 20_000;
    for (let i = 0; i < N; i++) await sink.write(row(W0 + 10 * Math.floor(i / 5000), `k${i}`, i));
    await sink.close();
    await new Promise<void>((r) => (c.out.writableLength === 0 ? r() : c.out.once('drain', () => r())));
    assert.equal(c.lines, format === 'table' ? N + 1 : N);
    // one chunk of at most 64 KiB (plus the row that crossed it) over the stream's 1 KiB
    assert.ok(c.maxHeld <= 80_000, `the stream held at most ${c.maxHeld} bytes`);
  });
}

test('jsonl: a window\'s results reach the stream without a later result or the end', async () => {
  const c = collector();
  const sink = new JsonlSink(c.out);
  await sink.write(row(W0, '10.0.0.1', 3));
  await sleep(400);
  assert.equal(c.text, '{"task":"t","window":{"start":1700000000,"end":1700000010},"key":"10.0.0.1","value":3}\n');
  await sink.close();
});
