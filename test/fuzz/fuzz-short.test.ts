/**
 * The fuzzer (scripts/fuzz.ts, issue 12) in CI: a short seeded pass over every kind of input
 * (20,000 inputs, a few seconds on one core), and a replay of every saved crasher in
 * test/fixtures/fuzz: each must now pass, without a throw or a hang. Both run the fuzzer's own
 * command in a child process, so that its watchdog (and the child's time limit) turns a hang
 * into a failure instead of a stuck test run.
 *
 * INTSTREAM_FUZZ_INPUTS and INTSTREAM_FUZZ_SEED change the pass. A failure prints the fuzzer's
 * summary and the crasher it wrote (to a temporary folder): copy it into test/fixtures/fuzz to
 * keep it (see the README there).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { crasherFiles } from './harness.ts';
import { KINDS } from './kinds.ts';

const INPUTS = Number(process.env.INTSTREAM_FUZZ_INPUTS ?? 20_000);
const SEED = Number(process.env.INTSTREAM_FUZZ_SEED ?? 20260612);
const FUZZ = fileURLToPath(new URL('../../scripts/fuzz.ts', import.meta.url));

test(`fuzz: ${INPUTS} seeded inputs of every kind (seed ${SEED})`, () => {
  const dir = mkdtempSync(join(tmpdir(), 'intstream-fuzz-'));
  try {
    const r = spawnSync(process.execPath, [FUZZ, '--inputs', String(INPUTS), '--seed', String(SEED), '--crashers', dir, '--time-limit-ms', '20000'],
      { encoding: 'utf8', timeout: 300_000, killSignal: 'SIGKILL', maxBuffer: 1 << 26 });
    const saved = readdirSync(dir).map((f) => `--- ${f}\n${readFileSync(join(dir, f), 'utf8').slice(0, 4000)}`).join('\n');
    assert.equal(r.status, 0, `fuzz exited ${r.status} (${r.signal ?? 'no signal'}):\n${r.stdout}\n${r.stderr.slice(-4000)}\n${saved}`);
    // every kind ran its share
    const kinds = r.stdout.split('\n').filter((l) => / inputs {2}\d+ failed$/.test(l));
    assert.equal(kinds.length, KINDS.length, r.stdout);
    for (const line of kinds) {
      const n = Number(line.trim().split(/\s+/)[1]);
      assert.ok(n >= Math.floor(INPUTS / KINDS.length), line);
    }
    assert.match(r.stdout, /no failures/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('fuzz: every saved crasher replays without a throw or a hang', () => {
  const files = crasherFiles();
  if (files.length === 0) return;
  const r = spawnSync(process.execPath, [FUZZ, '--replay', ...files], { encoding: 'utf8', timeout: 120_000 + 10_000 * files.length, killSignal: 'SIGKILL', maxBuffer: 1 << 26 });
  assert.equal(r.status, 0, `replay exited ${r.status} (${r.signal ?? 'no signal'}):\n${r.stdout}\n${r.stderr.slice(-4000)}`);
});
