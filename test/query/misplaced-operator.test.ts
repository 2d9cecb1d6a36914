/**
 * An operator a stream type does not offer (docs/api.md, "Stream types and their operators")
 * fails when the task is built with TASK_INVALID naming both steps and what may follow, not
 * with the engine's "... is not a function".
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { count, defineTask } from '../../src/index.ts';
import { buildPlan } from '../../src/query/task.ts';

const build = (query: (p: any) => any) => buildPlan(defineTask({ name: 'm', description: 'x', params: {}, query }), {}, { window: 10 });

test('merge().transform, process().global, window().filter: named, with what may follow', () => {
  const cases: [(p: any) => any, RegExp][] = [
    [(p) => p.key('ip.dst').window(10).aggregate(count()).global().merge().transform(() => undefined), /transform\(\) cannot follow merge\(\): merge\(\) returns a Stream, which offers filter\(\), map\(\), flatMap\(\), key\(\), window\(\)$/],
    [(p) => p.key('ip.dst').process({ init: () => 0, onItem: () => undefined }).global(), /global\(\) cannot follow process\(\): process\(\) returns a KeyedStream, which offers filter\(\), map\(\), window\(\), process\(\)/],
    [(p) => p.key('ip.dst').window(10).filter('tcp'), /filter\(\) cannot follow window\(\): window\(\) returns a WindowedStream, which offers aggregate\(\), count\(\), reduce\(\), transform\(\)/],
    [(p) => p.filter('tcp').process({ init: () => 0, onItem: () => undefined }), /process\(\) cannot follow filter\(\): filter\(\) returns a Stream,/],
    [(p) => p.key('ip.dst').filter('tcp').flatMap((x: unknown) => [x]), /flatMap\(\) cannot follow filter\(\): filter\(\) returns a KeyedStream, which offers filter\(\), map\(\), window\(\), process\(\)/],
  ];
  for (const [query, want] of cases) {
    assert.throws(() => build(query), (e: any) => e.code === 'TASK_INVALID' && want.test(e.message) && typeof e.hint === 'string' && !/is not a function/.test(e.message), String(want));
  }
});

test('a TypeError of the task\'s own code keeps its message', () => {
  assert.throws(() => build((p) => { (undefined as any).x(); return p; }), (e: any) => e.code === 'TASK_INVALID' && /query failed: .*undefined/.test(e.message));
});
