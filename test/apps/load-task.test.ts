/**
 * Where a query file's syntax error is: FILE:LINE:COLUMN read from the error the type stripper
 * throws on each supported Node. The pinned Node strips types itself (test/cli/run-command.test.ts
 * runs that end to end); on older Nodes query-hooks.ts strips with `stripTypeScriptTypes`
 * (22.13-22.17) or amaro (20), exercised here directly.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
import { syntaxLocation } from '../../src/apps/load-task.ts';
import { initialize, load, strippedError } from '../../src/apps/query-hooks.ts';

const tmp = mkdtempSync(join(tmpdir(), 'intstream-load-task-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

// Line 3 lacks the ')' of Math.max(: the parser stops at the ';'. Columns counted by hand,
// a tab as one: `\t\tconst n = Math.max(1, 2;` has its ';' at column 26 (two tabs, then 23 characters).
const SOURCE = `export function f(): number {\n\tif (true) {\n\t\tconst n = Math.max(1, 2;\n\t\treturn n;\n\t}\n}\n`;

test('the hook stripping with stripTypeScriptTypes (Node 22.13-22.17): FILE:LINE:COLUMN', () => {
  const file = join(tmp, 'native.ts');
  writeFileSync(file, SOURCE);
  initialize({ apiUrl: '', strip: true });
  const next = () => assert.fail('the hook loads a .ts file itself');
  assert.throws(() => load(pathToFileURL(file).href, {}, next), (e: Error) => {
    assert.equal(e.name, 'SyntaxError');
    assert.equal(syntaxLocation(e), `${file}:3:26`);
    return true;
  });
});

test('the hook stripping with amaro (Node 20): its plain-object error becomes a SyntaxError with FILE:LINE:COLUMN', () => {
  const file = join(tmp, 'amaro.ts');
  writeFileSync(file, SOURCE);
  const amaro = createRequire(import.meta.url)('amaro') as { transformSync(code: string, options: { mode: string }): unknown };
  let thrown: unknown;
  try {
    amaro.transformSync(SOURCE, { mode: 'strip-only' });
  } catch (e) {
    thrown = e;
  }
  assert.ok(thrown, 'amaro rejects the source');
  const e = strippedError(thrown, pathToFileURL(file).href) as Error & { code?: string };
  assert.ok(e instanceof SyntaxError);
  assert.equal(e.code, 'ERR_INVALID_TYPESCRIPT_SYNTAX');
  assert.equal(syntaxLocation(e), `${file}:3:26`);
});

test('an error without a caret (not a syntax error Node located) has no syntax location', () => {
  assert.equal(syntaxLocation(new SyntaxError('Unexpected identifier')), undefined);
  assert.equal(syntaxLocation(new Error('x')), undefined);
});
