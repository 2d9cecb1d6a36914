/**
 * The runtime's tokens file (src/control/credentials.ts): what it accepts, what it refuses with
 * the line named, hashed tokens, and re-reading the file when it changes.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { appendFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { Credentials, parseTokens, validName } from '../../src/control/credentials.ts';

const dir = mkdtempSync(join(tmpdir(), 'intstream-cred-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const bearer = (t: string) => `Bearer ${t}`;

test('a tokens file: roles bound to names, comments, hashed tokens', () => {
  const file = join(dir, 'tokens');
  const hashed = 'hashed-token-0123456789';
  writeFileSync(file, [
    '# role name token',
    'operator alice op-token-0123456789abcdef',
    'read     grafana  read-token-0123456789abc   # dashboards',
    '',
    'agent edge1 agent-token-0123456789abc',
    `worker gsp1 sha256:${createHash('sha256').update(hashed).digest('hex')}`,
  ].join('\n'), { mode: 0o600 });
  const c = Credentials.fromFile(file);
  try {
    assert.deepEqual(c.check(bearer('op-token-0123456789abcdef')), { role: 'operator', name: 'alice' });
    assert.deepEqual(c.check(bearer('read-token-0123456789abc')), { role: 'read', name: 'grafana' });
    assert.deepEqual(c.check(bearer('agent-token-0123456789abc')), { role: 'agent', name: 'edge1' });
    assert.deepEqual(c.check(bearer(hashed)), { role: 'worker', name: 'gsp1' });
    assert.equal(c.check(bearer('agent-token-0123456789ab')), null, 'a prefix of a token is not the token');
    assert.equal(c.check('agent-token-0123456789abc'), null, 'no Bearer scheme');
    assert.equal(c.check(undefined), null);
  } finally { c.close(); }
});

test('a tokens file that is wrong is refused, naming the line', () => {
  const cases: [string, RegExp][] = [
    ['admin bob token-0123456789abcdef', /:1: role 'admin' is none of read, operator, agent, worker/],
    ['agent ../../etc/passwd token-0123456789abcdef', /:1: name '\.\.\/\.\.\/etc\/passwd' is not/],
    ['agent .. token-0123456789abcdef', /:1: name '\.\.' is not/],
    ['read r short', /:1: token shorter than 16 characters/],
    ['read r', /:1: expected "role name token" \(3 fields\), got 2/],
    ['read a token-0123456789abcdef\nread b token-0123456789abcdef', /:2: this token is already given to another line/],
    ['read r sha256:abcd', /:1: sha256: needs 64 hex digits/],
    ['# nothing', /no credentials/],
  ];
  for (const [text, re] of cases) assert.throws(() => parseTokens(text, 'F'), re, text);
});

test('names: 1 to 64 of A-Z a-z 0-9 . _ -, not . or ..', () => {
  for (const ok of ['edge1', 'a', 'gsp-1.ams_2', 'x'.repeat(64), '...']) assert.equal(validName(ok), true, ok);
  for (const bad of ['', '.', '..', '../../etc/passwd', 'a/b', 'a b', 'x'.repeat(65), 'é']) assert.equal(validName(bad), false, bad);
});

test('the file is read again when it changes: a new credential works at once, a removed one stops', () => {
  const file = join(dir, 'tokens-reload');
  writeFileSync(file, 'operator op op-token-0123456789abcdef\n', { mode: 0o600 });
  const lines: string[] = [];
  const c = Credentials.fromFile(file, (l) => lines.push(l));
  try {
    assert.equal(c.check(bearer('agent-new-0123456789abc')), null);
    appendFileSync(file, 'agent late agent-new-0123456789abc\n');
    // the very first call with the new token finds it (an unknown token makes the runtime look again)
    assert.deepEqual(c.check(bearer('agent-new-0123456789abc')), { role: 'agent', name: 'late' });
    writeFileSync(file, 'agent late agent-new-0123456789abc\n');
    assert.equal(c.reloadIfChanged(), true);
    assert.equal(c.check(bearer('op-token-0123456789abcdef')), null, 'revoked');
    // a file that no longer parses leaves the credentials as they were
    writeFileSync(file, 'agent late\n');
    assert.equal(c.reloadIfChanged(), false);
    assert.deepEqual(c.check(bearer('agent-new-0123456789abc')), { role: 'agent', name: 'late' });
    assert.ok(lines.some((l) => /not reloaded: .*expected "role name token"/.test(l)), lines.join('\n'));
  } finally { c.close(); }
});

test('--token alone is one operator credential', () => {
  const c = Credentials.operatorToken('legacy');
  assert.deepEqual(c.check(bearer('legacy')), { role: 'operator', name: 'operator' });
  assert.equal(c.check(bearer('other')), null);
});
