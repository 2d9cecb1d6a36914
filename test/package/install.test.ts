/**
 * The installable package, as a user gets it: `npm pack` (which compiles src/ to dist/), then
 * `npm install -g ./intstream-X.tgz` into a temporary prefix, then the installed command run from
 * a folder outside the repository, on every Node this machine has (the system's, e.g. 20, and the
 * pinned 24; more with INTSTREAM_TEST_NODES=/path/to/node:/other/node):
 *   - a built-in task on the bundled sample (`pcap:sample`) and a query file that imports
 *     'intstream' give what tshark's dissection of the same capture says (counted here, not by
 *     intstream);
 *   - the query file type-checks against the installed package's declarations (editors' view).
 */
import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync, mkdirSync, symlinkSync, realpathSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, dirname, join, resolve } from 'node:path';
import { haveTshark } from '../support/tshark.ts';

const ROOT = resolve(import.meta.dirname, '../..');
const SAMPLE = join(ROOT, 'samples', 'demo.pcap');

/** Every distinct Node binary to try: this one (the pinned Node), the system's, and any listed. */
function nodes(): { bin: string; version: string }[] {
  const cands = [process.execPath, '/usr/bin/node', '/usr/local/bin/node', ...(process.env.INTSTREAM_TEST_NODES ?? '').split(':').filter(Boolean)];
  const seen = new Map<string, { bin: string; version: string }>();
  for (const bin of cands) {
    if (!existsSync(bin)) continue;
    const real = realpathSync(bin);
    if ([...seen.values()].some((n) => realpathSync(n.bin) === real)) continue;
    const v = spawnSync(bin, ['--version'], { encoding: 'utf8' }).stdout.trim();
    if (v) seen.set(v, { bin, version: v });
  }
  return [...seen.values()];
}

/** SYN (SYN set, ACK clear) packets per (10 s window, key) from tshark's dissection of `file`. */
function tsharkSynCounts(file: string, keyField: 'ip.dst' | 'tcp.dstport'): Map<string, number> {
  const r = spawnSync('tshark', ['-n', '-r', file, '-Y', 'tcp.flags.syn == 1 && tcp.flags.ack == 0', '-T', 'fields', '-E', 'separator=,', '-e', 'frame.time_epoch', '-e', keyField], { encoding: 'utf8', maxBuffer: 1 << 26 });
  assert.equal(r.status, 0, r.stderr);
  const counts = new Map<string, number>();
  for (const line of r.stdout.split('\n')) {
    if (!line) continue;
    const [ts, key] = line.split(',');
    const start = Math.floor(Number(ts) / 10) * 10;
    const k = `${start} ${key}`;
    counts.set(k, (counts.get(k) ?? 0) + 1);
  }
  return counts;
}

function above(counts: Map<string, number>, threshold: number): string[] {
  return [...counts].filter(([, n]) => n > threshold).map(([k, n]) => `${k} ${n}`).sort();
}

function resultsOf(jsonl: string): string[] {
  return jsonl.split('\n').filter(Boolean).map((l) => {
    const o = JSON.parse(l) as { window: { start: number }; key: unknown; value: number };
    return `${o.window.start} ${o.key} ${o.value}`;
  }).sort();
}

const QUERY = `// A user's query file, outside any checkout: SYNs per destination port.
import { defineTask, count, type Packet } from 'intstream';

const port = (pkt: Packet): number => pkt.tcp!.dport;

export default defineTask({
  name: 'syn-per-port',
  description: 'SYNs per destination port',
  params: { min: { default: 10, description: 'report ports with more SYNs than this' } },
  query: (packets, p) =>
    packets
      .filter('tcp.syn and not tcp.ack_flag')
      .key(port)
      .window(p.window)
      .aggregate(count())
      .global()
      .merge()
      .filter((r) => r.value > p.min),
});
`;

describe('the npm package: pack, install, run from anywhere', { skip: !haveTshark() && 'tshark not installed (npm run setup)' }, () => {
  let tmp = '';
  let prefix = '';
  let work = '';
  let tarball = '';

  before(() => {
    tmp = mkdtempSync(join(tmpdir(), 'intstream-pkg-'));
    prefix = join(tmp, 'prefix');
    work = join(tmp, 'elsewhere');
    mkdirSync(work);
    const packed = spawnSync('npm', ['pack', '--pack-destination', tmp], { cwd: ROOT, encoding: 'utf8' });
    assert.equal(packed.status, 0, packed.stderr);
    tarball = join(tmp, readdirSync(tmp).find((f) => f.endsWith('.tgz'))!);
    const inst = spawnSync('npm', ['install', '-g', '--prefix', prefix, '--prefer-offline', '--no-audit', '--no-fund', tarball], { cwd: work, encoding: 'utf8' });
    assert.equal(inst.status, 0, inst.stderr);
    writeFileSync(join(work, 'syn-per-port.ts'), QUERY);
  });
  after(() => { if (tmp) rmSync(tmp, { recursive: true, force: true }); });

  const installed = () => join(prefix, 'lib', 'node_modules', 'intstream');

  test('the tarball holds the compiled build, the sample and the readable apps, not the tests', () => {
    const list = spawnSync('tar', ['-tzf', tarball], { encoding: 'utf8' }).stdout.split('\n');
    for (const f of ['package/dist/cli/main.js', 'package/dist/index.d.ts', 'package/samples/demo.pcap', 'package/src/apps/tcp-new-conn.ts', 'package/bin/intstream.js', 'package/ui/dist/index.html']) {
      assert.ok(list.includes(f), `${f} missing from the tarball`);
    }
    assert.ok(!list.some((f) => f.startsWith('package/test/')), 'tests must not ship');
    assert.ok(!list.some((f) => f.startsWith('package/src/cli/')), 'only src/apps ships as source');
  });

  for (const node of nodes()) {
    describe(`on Node ${node.version}`, () => {
      const run = (args: string[]) => spawnSync(node.bin, [join(installed(), 'bin', 'intstream.js'), ...args], { cwd: work, encoding: 'utf8', env: { ...process.env, PATH: `${dirname(node.bin)}${delimiter}${process.env.PATH}` } });

      test('built-in tcp-new-conn on pcap:sample equals tshark', () => {
        const r = run(['run', 'tcp-new-conn', '--source', 'pcap:sample', '--format', 'jsonl', '-q', '--param', 'threshold=20']);
        assert.equal(r.status, 0, r.stderr);
        assert.deepEqual(resultsOf(r.stdout), above(tsharkSynCounts(SAMPLE, 'ip.dst'), 20));
      });

      test('a query file outside the repository imports intstream and equals tshark', () => {
        const r = run(['run', './syn-per-port.ts', '--source', `pcap:${SAMPLE}`, '--format', 'jsonl', '-q']);
        assert.equal(r.status, 0, r.stderr);
        const got = resultsOf(r.stdout);
        assert.ok(got.length > 0);
        assert.deepEqual(got, above(tsharkSynCounts(SAMPLE, 'tcp.dstport'), 10));
      });

      test('the bin shim starts on this Node (--version is package.json\'s)', () => {
        const r = spawnSync(join(prefix, 'bin', 'intstream'), ['--version'], { cwd: work, encoding: 'utf8', env: { ...process.env, PATH: `${dirname(node.bin)}${delimiter}${process.env.PATH}` } });
        assert.equal(r.status, 0, r.stderr);
        assert.equal(r.stdout.trim(), JSON.parse(spawnSync('tar', ['-xzOf', tarball, 'package/package.json'], { encoding: 'utf8' }).stdout).version);
      });
    });
  }

  test('the query file type-checks against the installed declarations', () => {
    const editor = join(tmp, 'editor');
    mkdirSync(join(editor, 'node_modules'), { recursive: true });
    writeFileSync(join(editor, 'package.json'), '{"type": "module"}\n');
    symlinkSync(installed(), join(editor, 'node_modules', 'intstream'));
    writeFileSync(join(editor, 'q.ts'), QUERY);
    writeFileSync(join(editor, 'bad.ts'), QUERY.replace('.window(p.window)', '.window(p.window).nosuchop()'));
    const tsc = join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
    const common = ['--noEmit', '--strict', '--module', 'nodenext', '--moduleResolution', 'nodenext', '--target', 'es2024', '--allowImportingTsExtensions', '--skipLibCheck', '--types', 'node', '--typeRoots', join(ROOT, 'node_modules', '@types')];
    const ok = spawnSync(process.execPath, [tsc, ...common, 'q.ts'], { cwd: editor, encoding: 'utf8' });
    assert.equal(ok.status, 0, ok.stdout + ok.stderr);
    // the check is real: a misuse of the API is reported
    const bad = spawnSync(process.execPath, [tsc, ...common, 'bad.ts'], { cwd: editor, encoding: 'utf8' });
    assert.notEqual(bad.status, 0);
    assert.match(bad.stdout, /nosuchop/);
  });
});
