/**
 * EmittedWindows (the GSP worker's sink de-duplication): hand-written delivery scenarios. A
 * (window, key) is written once while a replay could bring it again, and forgotten once every
 * source's committed watermark has passed the window's end; window-less events always pass.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { EmittedWindows } from '../../src/global/emitted-windows.ts';

const r = (start: number, end: number, key: unknown) => ({ task: 't', window: { start, end }, key, value: 1 });

test('a (window, key) passes once; another key or window passes', () => {
  const e = new EmittedWindows(2);
  assert.equal(e.first(r(0, 10, 'a')), true);
  assert.equal(e.first(r(0, 10, 'a')), false);
  assert.equal(e.first(r(0, 10, 'b')), true);
  assert.equal(e.first(r(10, 20, 'a')), true);
  assert.equal(e.first(r(0, 10, { a: 1 })), true);
  assert.equal(e.first(r(0, 10, { a: 1 })), false);
  assert.equal(e.size, 4);
});

test('forgotten only when every source has committed past the window end', () => {
  const e = new EmittedWindows(2);
  e.first(r(0, 10, 'a'));
  e.first(r(10, 20, 'a'));
  e.committed(0, 25); // source 1 has committed nothing: a replay may still bring both
  assert.equal(e.first(r(0, 10, 'a')), false);
  e.committed(1, 10); // floor 10: [0,10) cannot come again, [10,20) can
  assert.equal(e.size, 1);
  assert.equal(e.first(r(10, 20, 'a')), false);
  e.committed(1, 9); // a watermark never goes back
  e.committed(1, 20);
  assert.equal(e.size, 0);
  e.committed(-1, 1000); // a duplicate record (no source) changes nothing
});

test('window-less events are never held back (their key does not identify them)', () => {
  const e = new EmittedWindows(1);
  const ev = { task: 't', window: null, key: { flow: 1 }, value: { event: 'change' } };
  assert.equal(e.first(ev), true);
  assert.equal(e.first(ev), true);
  assert.equal(e.size, 0);
});

test('memory stays bounded by the windows in flight over a long run', () => {
  const e = new EmittedWindows(3);
  let peak = 0;
  for (let w = 0; w < 20_000; w++) {
    for (let k = 0; k < 5; k++) e.first(r(w, w + 1, k));
    // each source commits a little behind: the last 3 windows stay replayable
    for (let s = 0; s < 3; s++) e.committed(s, w - 2 - s);
    peak = Math.max(peak, e.size);
  }
  assert.ok(peak <= 5 * 6, `peak ${peak} entries`);
});
