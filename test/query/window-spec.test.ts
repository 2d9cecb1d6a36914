/**
 * Window specs a task may ask for: every element joins size/slide sliding windows, so a ratio
 * past MAX_WINDOWS_PER_ELEMENT is refused when the task is built (TASK_INVALID), instead of a
 * run that spends seconds per packet; the bound itself and ordinary specs are accepted.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { count, defineTask } from '../../src/index.ts';
import { MAX_WINDOWS_PER_ELEMENT } from '../../src/query/stream.ts';
import { buildPlan } from '../../src/query/task.ts';

const task = (size: number, slide: number) => defineTask({
  name: 'w', description: 'windows', params: {},
  query: (p) => p.window({ size, slide }).aggregate(count()),
});

test('size/slide above the bound: TASK_INVALID naming both', () => {
  assert.throws(() => buildPlan(task(1e6, 1e-6), { window: 10 }, { window: 10 }), (e: any) => e.code === 'TASK_INVALID' && /1000000 s over slide 0.000001 s/.test(e.message));
  assert.throws(() => buildPlan(task(MAX_WINDOWS_PER_ELEMENT + 1, 1), { window: 10 }, { window: 10 }), { code: 'TASK_INVALID' });
});

test('at the bound and below: accepted', () => {
  for (const [size, slide] of [[MAX_WINDOWS_PER_ELEMENT, 1], [10, 5], [1000, 5], [1, 1]]) {
    assert.doesNotThrow(() => buildPlan(task(size, slide), { window: 10 }, { window: 10 }), `${size}/${slide}`);
  }
});
