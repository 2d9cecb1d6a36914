/**
 * The `intstream` command as a user meets it: help everywhere, output formats, errors with the
 * place at fault and the contract's exit codes (0 ok, 2 usage or invalid task, 1 runtime).
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { BIN, CAPTURES, ROOT, jsonl, runCli } from '../support/run-cli.ts';
import { haveTshark, tsharkRows } from '../support/tshark-filter.ts';

const tmp = mkdtempSync(join(tmpdir(), 'intstream-cli-'));
after(() => rmSync(tmp, { recursive: true, force: true }));
const demo = join(ROOT, 'samples', 'demo.pcap');

test('--help on every command, with examples', async () => {
  for (const args of [['--help'], ['run', '--help'], ['apps', '--help']]) {
    const r = await runCli(args);
    assert.equal(r.code, 0, args.join(' '));
    assert.match(r.stdout, /Usage: intstream/);
    assert.match(r.stdout, /Examples:/);
  }
});

test('the README first command: tcp-new-conn on the bundled sample, as a table', { skip: haveTshark() ? false : 'tshark is not installed' }, async () => {
  const r = await runCli(['run', 'tcp-new-conn', '--source', 'pcap:samples/demo.pcap']);
  assert.equal(r.code, 0, r.stderr);
  const rows = r.stdout.trim().split('\n');
  assert.match(rows[0], /^window \(UTC\)\s+key\s+value$/);
  // Independent answer: tshark's SYN count per 10 s window and destination, > 100.
  const counts = new Map<string, number>();
  for (const [t, d] of tsharkRows(demo, 'tcp.flags.syn == 1 && tcp.flags.ack == 0', ['frame.time_epoch', 'ip.dst'])) {
    const k = `${Math.floor(Number(t.split('.')[0]) / 10) * 10} ${d}`;
    counts.set(k, (counts.get(k) ?? 0) + 1);
  }
  const want = [...counts].filter(([, c]) => c > 100).map(([k, c]) => `${k} ${c}`).sort();
  const got = rows.slice(1).map((l) => {
    const [date, time, , key, value] = l.split(/\s+/);
    return `${Date.parse(`${date}T${time}Z`) / 1000} ${key} ${value}`;
  }).sort();
  assert.deepEqual(got, want);
  assert.match(r.stderr, /tcp-new-conn: [\d,]+ packets read · 0 malformed · [\d,]+ after filter · [\d,]+ left the local stage \([\d.]+% reduction\) · \d+ results/);
});

test('--format jsonl follows the contract; --out and --stats write files', async () => {
  const out = join(tmp, 'r.jsonl'), stats = join(tmp, 's.json');
  const r = await runCli(['run', 'tcp-new-conn', '-s', `pcap:${demo}`, '--format', 'jsonl', '--out', out, '--stats', stats, '-p', 'threshold=10', '-q']);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, '');
  assert.equal(r.stderr, '');
  const rows = jsonl(readFileSync(out, 'utf8'));
  assert.ok(rows.length > 0);
  let last = -Infinity;
  for (const row of rows) {
    assert.deepEqual(Object.keys(row), ['task', 'window', 'key', 'value']);
    assert.equal(row.task, 'tcp-new-conn');
    assert.equal(typeof row.window.start, 'number');
    assert.equal(row.window.end - row.window.start, 10);
    assert.match(row.key, /^\d+\.\d+\.\d+\.\d+$|:/);
    assert.ok(row.value > 10);
    assert.ok(row.window.start >= last, 'window order');
    last = row.window.start;
  }
  const s = JSON.parse(readFileSync(stats, 'utf8'));
  for (const k of ['items_read', 'after_filter', 'local_out', 'global_out', 'data_reduction', 'malformed', 'skipped', 'sources']) assert.ok(k in s, k);
  assert.equal(s.global_out, rows.length);
  assert.equal(s.sources[0].source, `pcap:${demo}`);
});

test('standard input as a source', async () => {
  const a = await runCli(['run', 'tcp-new-conn', '-s', '-', '-f', 'jsonl', '-q'], { stdin: readFileSync(demo) });
  const b = await runCli(['run', 'tcp-new-conn', '-s', `pcap:${demo}`, '-f', 'jsonl', '-q']);
  assert.equal(a.code, 0, a.stderr);
  assert.equal(a.stdout, b.stdout);
  assert.ok(a.stdout.length > 0);
});

test('apps lists tcp-new-conn with its parameters (table and JSON Lines)', async () => {
  const t = await runCli(['apps']);
  assert.equal(t.code, 0);
  assert.match(t.stdout, /tcp-new-conn\n .*\n .*key: ip.dst/);
  assert.match(t.stdout, /--param threshold=100/);
  const j = jsonl((await runCli(['apps', '--json'])).stdout);
  const app = j.find((x) => x.name === 'tcp-new-conn');
  assert.equal(app.params.threshold.default, 100);
});

test('errors: one line naming the thing at fault, exit 2 for usage, 1 at run time', async () => {
  const cases: [string[], number, RegExp][] = [
    [['run', 'no-such-app', '-s', `pcap:${demo}`], 2, /no built-in application named 'no-such-app'\n  hint: built-in: .*tcp-new-conn/],
    [['run', 'tcp-new-conn'], 2, /no --source given/],
    [['run', 'tcp-new-conn', '-s', `pcap:${demo}`, '-p', 'thresold=3'], 2, /task tcp-new-conn has no parameter 'thresold'\n  hint: its parameters: threshold/],
    [['run', 'tcp-new-conn', '-s', `pcap:${demo}`, '-p', 'threshold=many'], 2, /--param threshold=many: not a number/],
    [['run', 'tcp-new-conn', '-s', 'carrier-pigeon:x'], 2, /unknown source type 'carrier-pigeon'/],
    [['run', 'tcp-new-conn', '-s', `pcap:${demo}`, '--window', 'soon'], 2, /--window soon: not a positive duration/],
    [['run', 'tcp-new-conn', '-s', `pcap:${demo}`, '--format', 'xml'], 2, /argument 'xml' is invalid/],
    [['run', 'tcp-new-conn', '-s', 'pcap:/nonexistent.pcap'], 1, /\/nonexistent.pcap: cannot open \(ENOENT\)/],
    [['run', 'tcp-new-conn', '-s', `pcap:${join(CAPTURES, 'malformed/pcap-invalid-version-1.pcap')}`], 1, /pcap-invalid-version-1.pcap: offset 4: unsupported pcap version/],
    [['run', 'tcp-new-conn', '-s', `pcap:${join(CAPTURES, 'malformed/shb-option-too-long.pcapng')}`], 1, /shb-option-too-long.pcapng: offset 0: /],
    [['run', 'tcp-new-conn', '-s', `pcap:${join(ROOT, 'package.json')}`], 1, /package.json: offset 0: not a pcap or pcapng file/],
    [['run', 'tcp-new-conn', '-s', demo], 2, /--source .*demo.pcap: a source names its type\n  hint: for a capture file: --source pcap:.*demo.pcap/],
    [['run', 'tcp-new-conn', '-s', '-', '-s', 'pcap:-'], 2, /standard input given as a source more than once/],
    [['run', 'tcp-new-conn', '-s', `pcap:${demo}`, '--time', 'processing'], 2, /--time processing applies to live sources/],
    [['run', 'tcp-new-conn', '-s', `pcap:${demo}`, '-o', '/nonexistent/dir/out.txt'], 2, /--out \/nonexistent\/dir\/out.txt: directory \/nonexistent\/dir does not exist/],
    [['run', 'tcp-new-conn', '-s', `pcap:${demo}`, '--stats', tmp], 2, /--stats .*: is a directory/],
    [['run', 'tcp-new-conn', '-s', `pcap:${demo}`, '--transport', 'kafka://127.0.0.1:1'], 1, /no broker answers at 127.0.0.1:1 .*\n  hint: start one with: npm run kafka:up/],
  ];
  for (const [args, code, re] of cases) {
    const r = await runCli(args);
    assert.equal(r.code, code, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, re, args.join(' '));
    assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
  }
});

test('a run that fails to start prints no "(no results)" and leaves an existing --out file alone', async () => {
  const out = join(tmp, 'precious.txt');
  writeFileSync(out, 'precious\n');
  const runs = [
    ['-s', `pcap:${demo}`, '-p', 'thresold=1'],
    ['-s', 'carrier-pigeon:x'],
    ['-s', 'pcap:/nonexistent.pcap'],
  ];
  for (const args of runs) {
    const r = await runCli(['run', 'tcp-new-conn', ...args, '-o', out]);
    assert.notEqual(r.code, 0, r.stderr);
    assert.equal(r.stdout, '', args.join(' '));
    assert.equal(readFileSync(out, 'utf8'), 'precious\n', args.join(' '));
  }
  // and a run that works but finds nothing still says so
  const none = await runCli(['run', 'tcp-new-conn', '-s', `pcap:${demo}`, '-p', 'threshold=1000000', '-q']);
  assert.equal(none.code, 0);
  assert.equal(none.stdout, '(no results)\n');
});

test('int-collector on a capture without int_port: a warning says what to give', async () => {
  const r = await runCli(['run', 'int-collector', '-s', `pcap:${demo}`, '-q']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /warning: no INT report among \d+ packets: on a capture, give the reports' UDP port \(-p int_port=N/);
  const ok = await runCli(['run', 'tcp-new-conn', '-s', `pcap:${demo}`, '-q']);
  assert.doesNotMatch(ok.stderr, /INT report/);
});

test('output piped into a reader that stops early (head): exit 0, no stack trace', () => {
  // tcp-new-conn at threshold 0 in 1 s windows prints far more table rows than head reads
  const r = spawnSync('bash', ['-c', `set -o pipefail; "${process.execPath}" "${BIN}" run tcp-new-conn -s pcap:${demo} -p threshold=0 -w 1s -q | head -2`], { encoding: 'utf8' });
  assert.equal(r.stdout.split('\n').filter(Boolean).length, 2);
  assert.doesNotMatch(r.stderr, /EPIPE|\n\s+at /, r.stderr);
  assert.equal(r.status, 0, 'intstream itself exits 0');
});

test('a malformed file mid-way: what was read counts, the rest is reported with its offset', async () => {
  const stats = join(tmp, 'bad.json');
  const r = await runCli(['run', 'tcp-new-conn', '-s', `pcap:${join(CAPTURES, 'malformed/test901.pcapng')}`, '--stats', stats, '-p', 'threshold=0']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /warning: .*test901.pcapng: offset \d+: unsupported pcapng version 2\.\d+ \(expected 1\.x\); stopped reading this file/);
  const s = JSON.parse(readFileSync(stats, 'utf8'));
  assert.equal(s.skipped.corrupt_block, 1);
  assert.ok(s.items_read >= 1);
});

test('query files: TypeScript loaded directly, importing the API as "intstream"; errors name file and line', async () => {
  const good = join(tmp, 'syn-per-port.ts');
  writeFileSync(good, `import { defineTask, count, type WindowResult } from 'intstream';
export default defineTask({
  name: 'syn-per-port',
  description: 'SYNs per destination port',
  params: { min: { default: 0, description: 'minimum count' } },
  query: (packets, p) => packets
    .filter('tcp.syn and not tcp.ack_flag')
    .key((x) => x.tcp!.dport)
    .window({ size: p.window, slide: p.window / 2 })
    .aggregate(count())
    .global()
    .merge()
    .filter((r: WindowResult<number, number>) => r.value > p.min),
});
`);
  const r = await runCli(['run', good, '-s', `pcap:${join(CAPTURES, 'attack/synscan.pcap')}`, '-f', 'jsonl', '-q', '-p', 'min=1']);
  assert.equal(r.code, 0, r.stderr);
  const rows = jsonl(r.stdout);
  // Reference: tshark's SYNs per (sliding 10 s window with 5 s hop, destination port).
  const counts = new Map<string, number>();
  for (const [t, port] of tsharkRows(join(CAPTURES, 'attack/synscan.pcap'), 'tcp.flags.syn == 1 && tcp.flags.ack == 0 && !icmp', ['frame.time_epoch', 'tcp.dstport'])) {
    const ts = Number(t);
    for (let s = Math.floor(ts / 5) * 5; s > ts - 10; s -= 5) counts.set(`${s} ${port}`, (counts.get(`${s} ${port}`) ?? 0) + 1);
  }
  const want = [...counts].filter(([, c]) => c > 1).map(([k, c]) => `${k} ${c}`).sort();
  assert.deepEqual(rows.map((x) => `${x.window.start} ${x.key} ${x.value}`).sort(), want);

  const bad = join(tmp, 'broken.ts');
  writeFileSync(bad, `import { defineTask } from 'intstream';\nexport default defineTask({\n  name: 'broken',\n  description: 'x',\n  params: {},\n  query: (p) => p.filter('tcp.syn and and'),\n});\n`);
  const e1 = await runCli(['run', bad, '-s', `pcap:${demo}`]);
  assert.equal(e1.code, 2);
  assert.match(e1.stderr, /broken.ts:\d+: task broken: filter "tcp.syn and and": column 13: expected a field name, found the operator 'and'/);

  const syntax = join(tmp, 'syntax.ts');
  writeFileSync(syntax, `import { defineTask } from 'intstream';\n\nexport default defineTask({\n  name: 'syntax',\n  query: (p) => p.filter(\n});\n`);
  const e2 = await runCli(['run', syntax, '-s', `pcap:${demo}`]);
  assert.equal(e2.code, 2);
  assert.match(e2.stderr, /syntax\.ts:\d+/);
  assert.match(e2.stderr, /SyntaxError/);

  const noExport = join(tmp, 'empty.ts');
  writeFileSync(noExport, `export const x = 1;\n`);
  const e3 = await runCli(['run', noExport, '-s', `pcap:${demo}`]);
  assert.equal(e3.code, 2);
  assert.match(e3.stderr, /has no default export made by defineTask/);
});

test('a syntax error in the middle of a query file names FILE:LINE:COLUMN of the error (a tab counts as one column)', async () => {
  // Line 8 lacks the ')' of .filter(: the parser stops at the ';', column 39 counting the tab as one.
  const ts = join(tmp, 'paren.ts');
  writeFileSync(ts, [
    `import { defineTask, count } from 'intstream';`,
    ``,
    `export default defineTask({`,
    `  name: 'paren',`,
    `  description: 'a parenthesis missing in the middle',`,
    `  params: {},`,
    `  query: (packets) => {`,
    `\tconst syns = packets.filter('tcp.syn';`,
    `\treturn syns.key((p) => p.ip!.dst).window({ size: 10 }).aggregate(count()).global().merge();`,
    `  },`,
    `});`,
    ``,
  ].join('\n'));
  const r = await runCli(['run', ts, '-s', `pcap:${demo}`]);
  assert.equal(r.code, 2, r.stderr);
  assert.equal(r.stderr, `intstream: ${ts}:8:39: SyntaxError: Expected ',', got ';'\n`);
});

test('--filter takes BPF: a declarative expression is a usage error naming --filter, with the way out', async () => {
  const r = await runCli(['run', 'tcp-new-conn', '--source', 'pcap:sample', '--filter', 'tcp.syn and not tcp.ack_flag']);
  assert.equal(r.code, 2, r.stderr);
  assert.match(r.stderr, /--filter 'tcp\.syn and not tcp\.ack_flag': not a BPF expression \(tcpdump's language\)/);
  assert.match(r.stderr, /hint: .*query file's \.filter/);
  assert.doesNotMatch(r.stderr, /\n\s+at /);
});
