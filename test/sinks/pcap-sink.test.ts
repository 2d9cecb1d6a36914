/**
 * `--sink pcap:FILE` / `pcapng:FILE`: the packets that pass a task's filter, written as they were
 * captured. tcpdump prints the written file, and every frame (time to the ns, lengths, bytes)
 * equals its print of tshark's own selection of the same packets from the input with the
 * equivalent display filter; a capture of several link types goes whole into pcapng (tshark
 * reads back each frame's lengths and link type) and is refused (counted) by classic pcap.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { haveTshark } from '../support/tshark.ts';
import { encodeReport, encodeReportFrame, pcapFile } from '../../src/gen/int-gen.ts';
import { flowPerPathSeries } from '../../src/int/gen-series.ts';
import { BIN, CAPTURES } from '../support/run-cli.ts';

const ROOT = new URL('../../', import.meta.url).pathname;
const tmp = mkdtempSync(join(tmpdir(), 'intstream-pcapsink-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

/** Each frame as tcpdump prints it: time to the ns, lengths and every byte in hex. */
function dump(file: string): string {
  const r = spawnSync('tcpdump', ['--time-stamp-precision=nano', '-tt', '-nn', '-xx', '-r', file], { encoding: 'utf8', maxBuffer: 1 << 28 });
  assert.equal(r.status, 0, r.stderr);
  return r.stdout;
}

/** tshark's own selection of `input` by a display filter, as a file. */
function select(input: string, display: string, out: string): string {
  const r = spawnSync('tshark', ['-n', '-r', input, '-Y', display, '-F', 'pcapng', '-w', out], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  return out;
}

/** Per frame, by tshark: wire and captured length, link type (no bytes). */
function frames(file: string): string[] {
  const r = spawnSync('tshark', ['-n', '-r', file, '-T', 'fields', '-e', 'frame.len', '-e', 'frame.cap_len', '-e', 'frame.encap_type'], { encoding: 'utf8', maxBuffer: 1 << 26 });
  assert.equal(r.status, 0, r.stderr);
  return r.stdout.split('\n').filter(Boolean);
}

function run(args: string[]) {
  const r = spawnSync(process.execPath, [BIN, 'run', ...args, '--format', 'jsonl'], { encoding: 'utf8', maxBuffer: 1 << 26 });
  assert.equal(r.status, 0, r.stderr);
  return r;
}

describe('pcap and pcapng sinks', { skip: haveTshark() ? false : 'tshark not installed' }, () => {
  const cases: [string, string][] = [
    [join(ROOT, 'samples/demo.pcap'), 'tcp.flags.syn == 1 && tcp.flags.ack == 0'],
    [join(CAPTURES, 'attack/synscan.pcap'), 'tcp.flags.syn == 1 && tcp.flags.ack == 0'],
    [join(CAPTURES, 'edge/vlan-qinqinq.pcap'), 'tcp.flags.syn == 1 && tcp.flags.ack == 0'],
  ];
  for (const [input, display] of cases) {
    for (const fmt of ['pcap', 'pcapng']) {
      test(`${fmt}: tcp-new-conn's packets of ${input.split('/').slice(-2).join('/')} equal tshark's selection`, () => {
        const out = join(tmp, `o-${fmt}-${input.split('/').pop()}`);
        const r = run(['tcp-new-conn', '--source', `pcap:${input}`, '--sink', `${fmt}:${out}`]);
        const want = dump(select(input, display, `${out}.want.pcapng`));
        const n = frames(`${out}.want.pcapng`).length;
        assert.ok(n > 0);
        assert.equal(dump(out), want);
        assert.match(r.stderr, new RegExp(`${n.toLocaleString('en-US')} packets written`));
      });
    }
  }

  test('INT reports in a capture: each report datagram is written once', () => {
    const next = flowPerPathSeries({ version: '2.0', hops: 3, seed: 4, paths: 2 });
    const input = join(tmp, 'int.pcap');
    writeFileSync(input, pcapFile(Array.from({ length: 50 }, (_, k) => encodeReportFrame(encodeReport(structuredClone(next(k))).bytes)), 1_700_000_000_000_000, 1000));
    const out = join(tmp, 'int-out.pcap');
    run(['int-collector', '--source', `pcap:${input}`, '-p', 'int_port=32766', '--sink', `pcap:${out}`]);
    // every frame carries a report that passes the task's filter ('int')
    assert.equal(dump(out), dump(input));
  });

  test('several link types: pcapng keeps every one, classic pcap counts the others', () => {
    const input = join(CAPTURES, 'pcapng/many_interfaces-1.pcapng');
    const q = join(tmp, 'all.ts');
    spawnSync('sh', ['-c', `cat > ${q} <<'EOF'
import { defineTask, count } from 'intstream';
export default defineTask({ name: 'all', description: 'every packet', params: {}, query: (p, o) => p.filter('len >= 0').window(o.window).aggregate(count()) });
EOF`]);
    const ng = join(tmp, 'all.pcapng'), pc = join(tmp, 'all.pcap');
    const r = run([q, '--source', `pcap:${input}`, '--sink', `pcapng:${ng}`, '--sink', `pcap:${pc}`]);
    const all = frames(input);
    assert.deepEqual(frames(ng), all);
    const classic = frames(pc);
    assert.ok(classic.length < all.length && classic.length > 0);
    assert.match(r.stderr, /of another link type not written/);
  });
});
