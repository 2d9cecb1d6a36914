/**
 * erspan:IFACE (gre:IFACE) for real: the ERSPAN II/III and GRE captures of test/captures/tunnel
 * replayed through a namespace's veth, plus VXLAN and plain traffic the kernel must keep out.
 * The decoded inner packets (and the outer header under outer.*) must count as the same task
 * on the files counts them; the kernel must pass exactly the files' GRE packets (tcpdump -r).
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { GRE_BPF } from '../../src/sources/live-source.ts';
import { bpfCount, buildLiveLab, byKey, CAPTURES, liveLabSkip, readJson, replay, ROOT, runOnFile, startRun, type LiveLab } from './live-lab.ts';

const skip = liveLabSkip();

describe('erspan: termination in a network namespace', { skip: skip ?? false }, () => {
  let ll: LiveLab;
  before(() => { ll = buildLiveLab(); });
  after(() => ll?.destroy());

  const mirrored = ['erspan-type-ii-3.pcap', 'erspan-type-iii-ft-7.pcap', 'erspan.pcap', 'gre-erspan-vxlan.pcap'].map((f) => join(CAPTURES, 'tunnel', f));
  const other = [join(CAPTURES, 'tunnel', 'vxlan.pcap'), join(ROOT, 'samples', 'demo.pcap')];

  test('inner packets of ERSPAN II/III and GRE equal the file run; VXLAN and plain traffic stay in the kernel', async () => {
    const q = join(ll.tmp, 'mirror.ts');
    writeFileSync(q, `import { defineTask, count } from 'intstream';
export default defineTask({ name: 'mirror', query: (p) => p
  .key((x) => [x.get('tunnel.type'), x.get('outer.ip.src'), x.get('ip.src'), x.get('ip.dst'), x.get('tcp.dport') ?? x.get('udp.dport') ?? null].join(' '))
  .window(1000000000).aggregate(count()).global().merge() });
`);
    for (const scheme of ['erspan', 'gre']) {
      const stats = join(ll.tmp, `${scheme}.json`);
      const run = startRun(ll, [q, '--source', `${scheme}:${ll.captureIf}`, '--window', '1000000000s', '--format', 'jsonl', '--stats', stats]);
      await run.ready();
      let sent = 0;
      for (const f of [...mirrored, ...other]) sent += (await replay(ll, f, ['--pps', '2000'])).sent;
      assert.equal(await run.stop('SIGTERM'), 0, run.stderr());
      const ref = runOnFile([q, ...mirrored.flatMap((f) => ['--source', `pcap:${f}`]), '--window', '1000000000s', '--format', 'jsonl', '-q']);
      assert.equal(ref.code, 0, ref.stderr);
      const s = readJson(stats);
      const k = s.sources[0].kernel;
      const gre = mirrored.reduce((a, f) => a + bpfCount(f, GRE_BPF), 0);
      assert.equal(k.filter, GRE_BPF);
      assert.equal(k.dropped, 0);
      assert.equal(k.received, gre, `${scheme}: the kernel passed the GRE packets only (${gre} of ${sent} sent)`);
      assert.equal(s.items_read, gre);
      const live = byKey(run.stdout()), file = byKey(ref.stdout);
      assert.ok([...live.keys()].some((key) => key.startsWith('"erspan')), 'ERSPAN tunnels seen');
      assert.deepEqual(live, file);
    }
  });
});
