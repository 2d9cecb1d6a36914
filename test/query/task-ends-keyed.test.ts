/**
 * A query may end with a keyed stream (e.g. `.key(...).process(...)` in the global stage, as the
 * ddos application does): TaskDefinition.query's return type accepts KeyedStream (it used to
 * accept only Stream, so such a task failed `npm run typecheck` although it ran), and the plan
 * builds and runs.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { defineTask, count } from '../../src/index.ts';
import type { KeyedStream } from '../../src/query/stream.ts';
import { buildPlan } from '../../src/query/task.ts';
import { splitPlan } from '../../src/query/pipeline.ts';

test('a task ending in KeyedStream.process type-checks and builds', () => {
  const def = defineTask({
    name: 'ends-keyed', description: 'running total of windows with traffic', params: {},
    query: (packets, p): KeyedStream<null, number> =>
      packets.window(p.window).aggregate(count()).global().merge()
        .key(() => null)
        .process({ init: () => ({ n: 0 }), onItem: (_r, s, out) => { s.n++; out(s.n); } }),
  });
  const split = splitPlan(buildPlan(def, {}, { window: 10 }));
  assert.deepEqual(split.global.map((o) => o.kind), ['merge', 'key', 'process']);
});
