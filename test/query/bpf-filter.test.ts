/**
 * `bpf:` filters: libpcap compiles the expression, our classic-BPF machine runs it. Reference:
 * tcpdump itself applying the same expression to the same file (`tcpdump -r FILE -w OUT EXPR`),
 * frame by frame, on captures of several link types; the CLI's `--filter` and a query file's
 * `filter('bpf: ...')` count what tcpdump keeps; a bad expression is a FILTER_SYNTAX error with
 * libpcap's message.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { decodePacket } from '../../src/decode/decoder.ts';
import { Packet } from '../../src/decode/packet.ts';
import { compileFilter, interpretFilter, parseFilter, toBpf } from '../../src/query/filter-expr.ts';
import { openFileInput } from '../../src/sources/byte-input.ts';
import { CaptureFileSource } from '../../src/sources/capture-file-source.ts';
import { BIN, CAPTURES } from '../support/run-cli.ts';

const haveTcpdump = spawnSync('sh', ['-c', 'command -v tcpdump']).status === 0;
const tmp = mkdtempSync(join(tmpdir(), 'intstream-bpf-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

/** Frame numbers tcpdump keeps: it writes them out, then prints the written file's times and lengths. */
function tcpdumpKeeps(file: string, expr: string): string[] {
  const out = join(tmp, 'kept.pcap');
  const w = spawnSync('tcpdump', ['-r', file, '-w', out, expr], { encoding: 'utf8' });
  assert.equal(w.status, 0, w.stderr);
  const r = spawnSync('tcpdump', ['--time-stamp-precision=nano', '-tt', '-nn', '-q', '-r', out], { encoding: 'utf8', maxBuffer: 1 << 26 });
  return r.stdout.split('\n').filter(Boolean).map((l) => l.split(' ')[0]);
}

async function oursKeeps(file: string, expr: string): Promise<string[]> {
  const src = new CaptureFileSource(file, file, await openFileInput(file));
  await src.open();
  const ast = parseFilter(`bpf: ${expr}`);
  const compiled = compileFilter(ast), interpreted = interpretFilter(ast);
  const p = new Packet();
  const kept: string[] = [];
  for (let b; (b = await src.nextBatch());) {
    for (let i = 0; i < b.count; i++) {
      decodePacket(p, b.buf, b.dataOff[i], b.capLen[i], b.wireLen[i], b.ts[i], b.linkType[i]);
      const c = compiled(p);
      assert.equal(c, interpreted(p));
      if (c) {
        const sec = Math.floor(b.ts[i]);
        kept.push(`${sec}.${String(Math.round((b.ts[i] - sec) * 1e6)).padStart(6, '0')}`);
      }
    }
  }
  await src.close();
  return kept;
}

const FILES = ['attack/synscan.pcap', 'mixed/bro.org.pcap', 'mixed/DnsPackets.pcap', 'edge/vlan-qinqinq.pcap', 'edge/ip6_fragments.pcap', 'mixed/tls2.pcap'];
const EXPRS = ['len > 100', 'ip[8] > 63', 'vlan', 'tcp portrange 1000-2000', 'tcp port 80', 'tcp[tcpflags] & (tcp-syn|tcp-ack) == tcp-syn', 'udp and dst port 53', 'not net 10.0.0.0/8 and ip', 'ip6', 'vlan and tcp', 'greater 500', 'icmp or icmp6', 'ip[8] < 64'];

describe('bpf: filters against tcpdump', { skip: haveTcpdump ? false : 'tcpdump not installed (npm run setup)' }, () => {
  for (const f of FILES) {
    test(`${f}: every expression keeps the frames tcpdump keeps`, async () => {
      const file = join(CAPTURES, f);
      for (const expr of EXPRS) {
        // tcpdump prints µs times: compare the times of the frames each keeps, in order
        const want = tcpdumpKeeps(file, expr).map((t) => t.slice(0, t.indexOf('.') + 7));
        assert.deepEqual(await oursKeeps(file, expr), want, `${f}: ${expr}`);
      }
    });
  }

  test('the kernel form of a bpf: filter is the expression itself', () => {
    assert.equal(toBpf(parseFilter('bpf: tcp port 80')), '(tcp port 80)');
  });

  test('a bad expression: FILTER_SYNTAX with libpcap\'s message', () => {
    assert.throws(() => parseFilter('bpf: tcp port eighty'), (e: any) => e.code === 'FILTER_SYNTAX' && /eighty/.test(e.message));
    assert.throws(() => parseFilter('bpf:   '), (e: any) => e.code === 'FILTER_SYNTAX');
  });

  test('run --filter and filter(\'bpf: ...\') in a query file count what tcpdump keeps', () => {
    const file = join(CAPTURES, 'mixed/bro.org.pcap');
    const expr = 'tcp and not port 443';
    const want = tcpdumpKeeps(file, expr).length;
    assert.ok(want > 0);
    const q = join(tmp, 'count.ts');
    writeFileSync(q, `import { defineTask, count } from 'intstream';
export default defineTask({ name: 'count', description: 'packets', params: {}, query: (p) => p.window(2 ** 31).aggregate(count()) });
`);
    const viaOption = spawnSync(process.execPath, [BIN, 'run', q, '--source', `pcap:${file}`, '--filter', expr, '--format', 'jsonl', '-q'], { encoding: 'utf8' });
    assert.equal(viaOption.status, 0, viaOption.stderr);
    assert.equal(JSON.parse(viaOption.stdout).value, want);
    const q2 = join(tmp, 'count2.ts');
    writeFileSync(q2, `import { defineTask, count } from 'intstream';
export default defineTask({ name: 'count2', description: 'packets', params: {}, query: (p) => p.filter('bpf: ${expr}').window(2 ** 31).aggregate(count()) });
`);
    const inQuery = spawnSync(process.execPath, [BIN, 'run', q2, '--source', `pcap:${file}`, '--format', 'jsonl', '-q'], { encoding: 'utf8' });
    assert.equal(inQuery.status, 0, inQuery.stderr);
    assert.equal(JSON.parse(inQuery.stdout).value, want);
  });
});
