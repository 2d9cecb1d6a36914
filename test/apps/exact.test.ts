/**
 * Exactness: every application's results equal an independent brute-force computation over
 * tshark's dissection of the same capture (test/support/reference.ts), on every shared capture
 * (attack/, mixed/, edge/, tunnel/, pcapng/) and on generated traffic with planted anomalies.
 */
import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { basename } from 'node:path';
import * as R from '../support/reference.ts';
import { generatedCapture } from './generated.ts';
import { runApp, sameResults, sharedCaptures, TASKS } from './helpers.ts';

const files = sharedCaptures();
const frames = new Map<string, R.Frame[]>();

before(async () => {
  // tshark once per file (cached across runs), two at a time.
  const queue = [...files];
  await Promise.all([0, 1].map(async () => { for (let f; (f = queue.shift()); ) frames.set(f, await R.framesOf(f)); }));
});

describe('every task equals the reference on the shared captures', () => {
  for (const t of TASKS) {
    test(t.name, async () => {
      let nonEmpty = 0;
      for (const f of files) {
        const fr = frames.get(f)!;
        assert.ok(!fr.some((x) => x.opaque), `${basename(f)}: reference cannot model some frames`);
        const want = R.canonical(t.reference({ sources: [fr], window: 10, params: t.low }));
        const got = await runApp(t.name, [f], t.low);
        const diff = sameResults(got.results, want);
        assert.equal(diff, null, `${t.name} on ${basename(f)}: ${diff}`);
        if (want.length > 0) nonEmpty++;
      }
      assert.ok(nonEmpty >= 5, `${t.name}: only ${nonEmpty} captures produced results; the comparison would prove little`);
    });
  }

  test('out-of-order captures: late packets are dropped the same way (and counted in stats)', async () => {
    const f = files.find((x) => basename(x) === 'pcapng-example.pcapng')!;
    const fr = frames.get(f)!;
    const late = R.lateCount(fr, 10, 0, (x) => x.v !== 0);
    assert.ok(late > 0, 'pcapng-example.pcapng has packets more than a window behind');
    const got = await runApp('super-spreader', [f], { threshold: 0 });
    assert.equal(got.stats.skipped.late, late);
    // With enough lateness nothing is late, and the reference agrees again.
    const lax = await runApp('super-spreader', [f], { threshold: 0 }, { lateness: 1e12 });
    assert.equal(lax.stats.skipped.late ?? 0, 0);
    assert.equal(sameResults(lax.results, R.canonical(R.refSuperSpreader({ sources: [fr], window: 10, lateness: 1e12, params: { threshold: 0 } }))), null);
  });
});

describe('generated traffic with planted anomalies', () => {
  let file = '';
  let fr: R.Frame[] = [];
  before(async () => { file = await generatedCapture(); fr = await R.framesOf(file); });

  for (const t of TASKS) {
    test(`${t.name}: default parameters and low thresholds equal the reference`, async () => {
      for (const params of [{}, t.low]) {
        const want = R.canonical(t.reference({ sources: [fr], window: 10, params }));
        const got = await runApp(t.name, [file], params);
        assert.equal(sameResults(got.results, want), null, `${t.name} ${JSON.stringify(params)}: ${sameResults(got.results, want)}`);
      }
    });
  }

  test('each planted anomaly is found by its task with default parameters', async () => {
    const keys = async (name: string) => new Set((await runApp(name, [file])).results.map((r) => JSON.stringify(r.key)));
    assert.ok((await keys('tcp-new-conn')).has('"10.0.0.254"'), 'SYN flood victim');
    assert.ok((await keys('syn-flood')).has('"10.0.0.254"'), 'SYN flood half-open');
    assert.ok((await keys('tcp-incomplete')).has('"10.0.0.254"'), 'incomplete connections');
    assert.ok((await keys('port-scan')).has('"192.168.1.5"'), 'port scanner');
    assert.ok((await keys('super-spreader')).has('"192.168.1.6"'), 'super spreader');
    assert.ok((await keys('slowloris')).has('"10.0.0.253"'), 'slowloris target');
    assert.ok((await keys('heavy-hitter')).has('"192.168.4.8"'), 'heavy hitter');
    const retrans = [...(await keys('tcp-retrans'))].map((k) => JSON.parse(k));
    assert.ok(retrans.some((k) => k.src === '192.168.3.7' && k.dst === '10.0.0.252'), 'retransmitting flow');
    const ddos = (await runApp('ddos', [file])).results;
    const alarms = ddos.filter((r) => (r.value as any).alarm).map((r) => (r.window as any).start);
    assert.deepEqual(alarms, [1_700_000_020], 'the distribution shift starts in the window at +20 s');
  });
});
