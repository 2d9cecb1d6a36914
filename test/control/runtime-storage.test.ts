/**
 * The runtime's storage, when it goes wrong: a file that is not a runtime database is refused at
 * start with a usage error naming the file; a database deleted (or replaced) while the runtime
 * runs stops it (exit 1, naming the file) instead of accepting tasks a restart would lose.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { freePort, waitFor } from './cluster.ts';
import { BIN } from '../support/run-cli.ts';

const tmp = mkdtempSync(join(tmpdir(), 'intstream-storage-'));
after(() => rmSync(tmp, { recursive: true, force: true }));
const TOKEN = 'storage-test-token-0123456789';

test('a file that is not a runtime database: exit 2, one line naming it', () => {
  const bad = join(tmp, 'garbage.db');
  writeFileSync(bad, 'this is not an sqlite database, just text that happens to be long enough to look like a header '.repeat(50));
  const r = spawnSync(process.execPath, [BIN, 'runtime', '--kafka', '127.0.0.1:1', '--port', '0', '--db', bad, '--token', TOKEN], { encoding: 'utf8', timeout: 20_000 });
  assert.equal(r.status, 2, r.stderr);
  assert.match(r.stderr, new RegExp(`--db ${bad.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: not a usable intstream runtime database`));
  assert.doesNotMatch(r.stderr, /report it|at .*\.ts:\d+/);
});

test('the database deleted under a running runtime: it stops, exit 1, naming the file', async () => {
  const db = join(tmp, 'live.db');
  const port = await freePort();
  const rt = spawn(process.execPath, [BIN, 'runtime', '--kafka', '127.0.0.1:1', '--port', String(port), '--db', db, '--token', TOKEN], { stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  rt.stderr.on('data', (b) => { err += b; });
  const closed = once(rt, 'close');
  try {
    await waitFor(async () => (await fetch(`http://127.0.0.1:${port}/api/v1/health`).catch(() => null))?.ok === true, 20_000, 'runtime up');
    rmSync(db);
    const killer = setTimeout(() => rt.kill('SIGKILL'), 10_000);
    const [code] = await closed;
    clearTimeout(killer);
    assert.equal(code, 1, err);
    assert.match(err, /storage lost: .*live\.db was deleted/);
  } finally {
    if (rt.exitCode === null) rt.kill('SIGKILL');
  }
});
