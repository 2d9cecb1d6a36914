/**
 * End to end through the real command: `intstream apps` lists all thirteen applications with
 * their parameters and defaults; `intstream run NAME` works for each with --param, --format
 * jsonl and --stats, and its results equal the reference; bad parameters are usage errors.
 */
import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as R from '../support/reference.ts';
import { jsonl, runCli } from '../support/run-cli.ts';
import { generatedCapture } from './generated.ts';
import { CAPTURES, sameResults, TASKS } from './helpers.ts';

const NAMES = ['cryptomining', 'ddos', 'heavy-hitter', 'port-scan', 'rtt', 'sketch-gen', 'slowloris', 'split', 'super-spreader', 'syn-flood', 'tcp-incomplete', 'tcp-new-conn', 'tcp-retrans'];
const CONTRACT: Record<string, string[]> = {
  'tcp-new-conn': ['threshold'], 'sketch-gen': ['net', 'width', 'depth'], 'port-scan': ['threshold'], 'super-spreader': ['threshold'],
  'tcp-retrans': ['threshold'], 'syn-flood': ['threshold'], 'slowloris': ['min_conns', 'threshold'], 'heavy-hitter': ['threshold', 'width', 'depth'],
  'tcp-incomplete': ['threshold'], 'split': [], 'cryptomining': ['min_packets'], 'rtt': ['targets'], 'ddos': ['threshold'],
};

describe('intstream apps / run', () => {
  let gen = '';
  before(async () => { gen = await generatedCapture(); });

  test('apps lists the thirteen applications with their contract parameters and defaults', async () => {
    const r = await runCli(['apps', '--json']);
    assert.equal(r.code, 0, r.stderr);
    // Other built-ins (e.g. INT's) may be listed too.
    const apps = jsonl(r.stdout).filter((a) => NAMES.includes(a.name));
    assert.deepEqual(apps.map((a) => a.name), NAMES);
    for (const a of apps) {
      for (const p of CONTRACT[a.name]) assert.ok(a.params[p] && 'default' in a.params[p], `${a.name} has --param ${p} with a default`);
      assert.ok(a.output?.key && a.output?.value, `${a.name} says what key and value mean`);
    }
    const text = await runCli(['apps']);
    assert.match(text.stdout, /--param min_conns=50/);
  });

  for (const t of TASKS) {
    test(`run ${t.name} end to end equals the reference; --stats counts every stage`, async () => {
      const dir = mkdtempSync(join(tmpdir(), 'intstream-cli-'));
      const file = t.name === 'tcp-retrans' ? `${CAPTURES}/mixed/wireshark-retrans.pcap` : gen;
      const args = ['run', t.name, '--source', `pcap:${file}`, '--format', 'jsonl', '--stats', join(dir, 's.json'), '-q'];
      for (const [k, v] of Object.entries(t.low)) args.push('--param', `${k}=${v}`);
      const r = await runCli(args);
      assert.equal(r.code, 0, r.stderr);
      const got = jsonl(r.stdout);
      for (const x of got) assert.equal(x.task, t.name);
      const want = R.canonical(t.reference({ sources: [await R.framesOf(file)], window: 10, params: t.low }));
      assert.ok(want.length > 0);
      assert.equal(sameResults(R.canonical(got), want), null, String(sameResults(R.canonical(got), want)));
      const s = JSON.parse(readFileSync(join(dir, 's.json'), 'utf8'));
      assert.equal(s.items_read, (await R.framesOf(file)).length);
      assert.ok(s.after_filter <= s.items_read && s.local_out <= s.after_filter && s.global_out === got.length, JSON.stringify(s));
      assert.equal(s.data_reduction, 1 - s.local_out / s.items_read);
    });
  }

  test('run rtt end to end: probing off by default, the result says so', async () => {
    const r = await runCli(['run', 'rtt', '-s', `pcap:${CAPTURES}/mixed/get_nosyn.pcap`, '-p', 'targets=192.0.2.7', '--format', 'jsonl', '-q']);
    assert.equal(r.code, 0, r.stderr);
    const got = jsonl(r.stdout);
    assert.ok(got.length >= 1);
    for (const x of got) {
      assert.equal(x.key, '192.0.2.7');
      assert.equal(x.value.sent, 0);
      assert.match(x.value.error, /not enabled/);
    }
  });

  test('bad parameters are usage errors (exit 2, one line)', async () => {
    for (const args of [
      ['run', 'rtt', '-s', `pcap:${gen}`],
      ['run', 'rtt', '-s', `pcap:${gen}`, '-p', 'targets=example.org'],
      ['run', 'sketch-gen', '-s', `pcap:${gen}`, '-p', 'net=10.0.0.0/33'],
      ['run', 'heavy-hitter', '-s', `pcap:${gen}`, '-p', 'width=0'],
      ['run', 'port-scan', '-s', `pcap:${gen}`, '-p', 'treshold=5'],
      ['run', 'rtt', '-s', `pcap:${gen}`, '-p', 'targets=10.0.0.1', '--allow-probe', '10.0.0.0/40'],
      ['run', 'rtt', '-s', `pcap:${gen}`, '-p', 'targets=10.0.0.1', '--probe-rate', 'fast'],
    ]) {
      const r = await runCli(args);
      assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
      assert.equal(r.stderr.trim().split('\n').filter((l) => !l.startsWith('hint') && !l.startsWith('  ')).length >= 1, true);
      assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
    }
  });
});
