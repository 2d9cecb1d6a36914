/**
 * The repository stands on its own: no tracked file that runs, tests or documents intstream
 * names a folder outside the repository (a user who clones it has nothing beside it). CI also
 * clones the repository into an empty temporary folder and runs the test command there
 * (.ci/run), which proves the same for what this pattern cannot see.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { test } from 'node:test';

const ROOT = resolve(import.meta.dirname, '..');
// built from pieces so that this file does not match itself
const OUTSIDE = new RegExp(['\\.\\./' + 'shared\\b', '\\bshared/' + '(captures|docs|bench)\\b', "'sha" + "red'", '/wo' + 'rk/'].join('|'));

test('no file in src, test, bench, scripts, tools, bin, docs or ui refers outside the repository', () => {
  const files = execFileSync('git', ['ls-files', '--cached', '--others', '--exclude-standard', 'src', 'test', 'bench', 'scripts', 'tools', 'bin', 'docs', 'ui/src', 'README.md', 'CONTRIBUTING.md', 'package.json', '.ci'], { cwd: ROOT, encoding: 'utf8' })
    .split('\n').filter((f) => f && !/\.(pcap|pcapng|gz|png|db)$/.test(f));
  assert.ok(files.length > 100, `only ${files.length} files listed`);
  const bad: string[] = [];
  for (const f of files) {
    const text = readFileSync(join(ROOT, f), 'utf8');
    text.split('\n').forEach((line, i) => { if (OUTSIDE.test(line)) bad.push(`${f}:${i + 1}: ${line.trim().slice(0, 120)}`); });
  }
  assert.deepEqual(bad, []);
});
