/**
 * PartitionGate: which records a GSP worker merges after rebalances. Scenarios written out by
 * hand with the record offsets a Kafka consumer delivers (read-ahead first, then the re-fetch
 * from the group's committed offset), against the rule of src/global/partition-gate.ts; and the
 * effect on a merge: counting elements per window from the admitted records only gives the
 * same totals as reading the partition once from its resume offset.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { PartitionGate, type Admit } from '../../src/global/partition-gate.ts';

/** Feeds (partition, offset) in order, keeping the states the worker would; returns each decision. */
function run(gate: PartitionGate, states: Set<number>, recs: [number, number][]): Admit[] {
  return recs.map(([p, o]) => {
    const a = gate.admit(p, BigInt(o), states.has(p));
    if (a === 'start') states.add(p);
    return a;
  });
}

test('a partition revoked in a rebalance: its read-ahead is skipped', () => {
  const gate = new PartitionGate(), states = new Set<number>();
  gate.assign([0, 1], new Map([[0, 0n], [1, 0n]]));
  assert.deepEqual(run(gate, states, [[0, 0], [1, 0], [0, 1], [1, 1]]), ['start', 'start', 'merge', 'merge']);
  // rejoin: partition 1 went to another worker (the worker drops its state)
  states.delete(1);
  gate.assign([0], new Map([[0, 1n]]));
  assert.deepEqual(run(gate, states, [[1, 2], [1, 3], [0, 2]]), ['skip', 'skip', 'merge']);
  assert.equal(gate.skipped, 2);
});

test('a partition gained in a rebalance starts exactly at the resume offset', () => {
  const gate = new PartitionGate(), states = new Set<number>();
  gate.assign([0, 1], new Map([[0, 5n], [1, 7n]]));
  // read-ahead past the resume offset (from an earlier ownership), then the re-fetch from 7
  assert.deepEqual(run(gate, states, [[1, 9], [1, 10], [1, 7], [1, 8], [1, 9], [0, 5]]), ['skip', 'skip', 'start', 'merge', 'merge', 'start']);
  // records before the resume offset are already merged: never a start
  const g2 = new PartitionGate(), s2 = new Set<number>();
  g2.assign([3], new Map([[3, 4n]]));
  assert.deepEqual(run(g2, s2, [[3, 2], [3, 3], [3, 4]]), ['skip', 'skip', 'start']);
});

test('resume offsets not known (the broker query failed): the first record starts the partition', () => {
  const gate = new PartitionGate(), states = new Set<number>();
  gate.assign([2], new Map());
  assert.deepEqual(run(gate, states, [[2, 11], [2, 12]]), ['start', 'merge']);
});

test('merging only admitted records counts every element once from the resume offset', () => {
  // partition 0 holds records r0..r9, each one element of window floor(offset / 4);
  // the worker had read r0..r6 ahead when a rebalance took it away and gave it back with the
  // group resuming at 4 (r0..r3 fed windows already released by the previous owner).
  const windowOf = (o: number) => Math.floor(o / 4);
  const delivered = [5, 6, 4, 5, 6, 7, 8, 9]; // read-ahead r5, r6, then the re-fetch from 4
  const gate = new PartitionGate(), states = new Set<number>();
  gate.assign([0], new Map([[0, 4n]]));
  const counts = new Map<number, number>();
  let last = -1; // the worker's duplicate drop: a source's sequence numbers only go up
  for (const o of delivered) {
    const a = gate.admit(0, BigInt(o), states.has(0));
    if (a === 'skip') continue;
    if (a === 'start') states.add(0);
    if (o <= last) continue;
    last = o;
    counts.set(windowOf(o), (counts.get(windowOf(o)) ?? 0) + 1);
  }
  // from offset 4: window 1 has r4..r7 (4 elements), window 2 has r8, r9 (starting at the
  // read-ahead r5 instead would drop r4 as a repeat: window 1 would come out with 3)
  assert.deepEqual([...counts], [[1, 4], [2, 2]]);
});
