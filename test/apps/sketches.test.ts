/**
 * The approximate tasks keep their promises, checked against true counts from the reference:
 * heavy-hitter never misses a source whose true count exceeds the threshold and never reports
 * an estimate below the true count (with a narrow sketch, so collisions really happen);
 * sketch-gen's rows each sum to the window's total, which is the true packet count to `net`.
 */
import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as R from '../support/reference.ts';
import { generatedCapture } from './generated.ts';
import { CAPTURES, runApp } from './helpers.ts';

describe('approximate structures keep their promises', () => {
  const files: string[] = [];
  before(async () => { files.push(await generatedCapture(), `${CAPTURES}/attack/pkt.TCP.synflood.spoofed.pcap`, `${CAPTURES}/mixed/many-protocols.pcap`); });

  test('heavy-hitter: no source above the threshold is missed, no estimate is below the truth', async () => {
    let overestimated = 0, checked = 0;
    for (const f of files) {
      const truth = R.refSourceCounts({ sources: [await R.framesOf(f)], window: 10, params: {} });
      for (const [width, threshold] of [[16, 20], [64, 100], [1024, 1000]]) {
        const got = await runApp('heavy-hitter', [f], { width, depth: 2, threshold });
        const reported = new Map(got.results.map((r) => [`${(r.window as any).start} ${r.key}`, r.value as number]));
        for (const [w, counts] of truth) {
          for (const [src, n] of counts) {
            const est = reported.get(`${w} ${src}`);
            if (n > threshold) { assert.ok(est !== undefined, `${f} w=${w} width=${width}: ${src} (${n} packets) missed`); checked++; }
            if (est !== undefined) { assert.ok(est >= n, `${src}: estimate ${est} < true ${n}`); if (est > n) overestimated++; }
          }
        }
        for (const r of got.results) assert.ok((r.value as number) > threshold);
      }
    }
    assert.ok(checked > 10, `only ${checked} heavy sources checked`);
    assert.ok(overestimated > 0, 'narrow sketches should overestimate somewhere (else the test proves little)');
  });

  test('sketch-gen: every row sums to the window total, the total is the true count to net', async () => {
    for (const f of files) {
      const frames = await R.framesOf(f);
      for (const net of ['all', '10.0.0.0/8']) {
        const got = await runApp('sketch-gen', [f], { net, width: 128, depth: 5 });
        const inNet = net === 'all' ? () => true : (d: string) => d.startsWith('10.');
        const want = R.canonical(R.refSketchGen({ sources: [frames], window: 10, params: { width: 128, depth: 5 } }, inNet));
        assert.equal(got.results.length, want.length);
        for (let i = 0; i < got.results.length; i++) {
          const v = got.results[i].value as { width: number; depth: number; total: number; rows: number[][] };
          assert.equal(v.total, (want[i].value as any).total, `${f} ${net}: total`);
          assert.equal(v.rows.length, 5);
          for (const row of v.rows) { assert.equal(row.length, 128); assert.equal(row.reduce((a, b) => a + b, 0), v.total); }
          assert.deepEqual(v.rows, (want[i].value as any).rows, 'rows equal an independently hashed sketch');
        }
      }
    }
  });
});
