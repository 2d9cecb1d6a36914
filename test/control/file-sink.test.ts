/**
 * A GSP worker writes a task's file sink (jsonl:FILE, table:FILE) only inside its --sink-dir
 * (gsp-worker.ts fileSinkInside): relative names land there; anything that leaves it (../, an
 * absolute path elsewhere, a folder or file that is a symbolic link out) is refused, and so is
 * every file sink without --sink-dir. Other sinks pass unchanged.
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, realpathSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { fileSinkInside } from '../../src/control/gsp-worker.ts';

const base = realpathSync(mkdtempSync(join(tmpdir(), 'intstream-sinkdir-')));
const dir = join(base, 'sinks');
const outside = join(base, 'outside');
mkdirSync(join(dir, 'sub'), { recursive: true });
mkdirSync(outside);
symlinkSync(outside, join(dir, 'escape'));
writeFileSync(join(outside, 'target'), '');
symlinkSync(join(outside, 'target'), join(dir, 'link.jsonl'));
after(() => rmSync(base, { recursive: true, force: true }));

test('file sinks land inside --sink-dir', () => {
  assert.equal(fileSinkInside('jsonl:out.jsonl', dir), `jsonl:${join(dir, 'out.jsonl')}`);
  assert.equal(fileSinkInside('table:sub/t.txt', dir), `table:${join(dir, 'sub', 't.txt')}`);
  assert.equal(fileSinkInside(`jsonl:${join(dir, 'abs.jsonl')}`, dir), `jsonl:${join(dir, 'abs.jsonl')}`);
  for (const other of ['stdout', 'table:-', 'kafka://127.0.0.1:9092/t', 'influxdb://127.0.0.1:8086/db', 'prometheus://127.0.0.1:9464']) {
    assert.equal(fileSinkInside(other, undefined), other);
  }
});

test('file sinks that leave --sink-dir, or without one, are refused', () => {
  assert.throws(() => fileSinkInside('jsonl:out.jsonl', undefined), /writes no files \(start it with --sink-dir DIR/);
  assert.throws(() => fileSinkInside('jsonl:/etc/cron.d/x', dir), /outside this worker's --sink-dir/);
  assert.throws(() => fileSinkInside('jsonl:../outside/x.jsonl', dir), /outside this worker's --sink-dir/);
  assert.throws(() => fileSinkInside('table:escape/x.txt', dir), /outside this worker's --sink-dir/);
  assert.throws(() => fileSinkInside('jsonl:link.jsonl', dir), /a symbolic link/);
  assert.throws(() => fileSinkInside('jsonl:nofolder/x.jsonl', dir), /no folder/);
});
