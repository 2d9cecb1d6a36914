/**
 * live:IFACE for real: network namespaces joined by a veth pair, traffic replayed onto one end
 * with tcpreplay, `intstream run --source live:eth0` capturing on the other inside its
 * namespace. Expected values come from outside the capture path: the same task run on the
 * capture file, and libpcap's own BPF count of the file (tcpdump -r).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { isDeepStrictEqual } from 'node:util';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { parseTcpdumpStats } from '../../src/sources/capture-process.ts';
import { kernelFilterFor, parseLiveSpec } from '../../src/sources/live-source.ts';
import { interpretFilter, parseFilter } from '../../src/query/filter-expr.ts';
import { decodePacketGeneral } from '../../src/decode/decoder.ts';
import { Packet } from '../../src/decode/packet.ts';
import { openFileInput } from '../../src/sources/byte-input.ts';
import { CaptureFileSource } from '../../src/sources/capture-file-source.ts';
import { IntstreamError } from '../../src/errors.ts';
import {
  bpfCount, buildLiveLab, byKey, CAPTURES, liveLabSkip, readJson, replay, ROOT, runOnFile, sleep, startRun, type LiveLab,
} from './live-lab.ts';

test('tcpdump counters: closing lines and the SIGUSR1 line', () => {
  assert.deepEqual(parseTcpdumpStats('tcpdump: listening on va\n7020 packets captured\n7928 packets received by filter\n0 packets dropped by kernel\n'),
    { captured: 7020, received: 7928, dropped: 0, if_dropped: 0 });
  assert.deepEqual(parseTcpdumpStats('tcpdump: 5 packets captured, 6 packets received by filter, 1 packet dropped by kernel\n3 packets captured\n9 packets received by filter\n2 packets dropped by kernel\n4 packets dropped by interface\n'),
    { captured: 3, received: 9, dropped: 2, if_dropped: 4 });
  assert.equal(parseTcpdumpStats('tcpdump: listening on va'), null);
});

test('live: spec options and their errors', () => {
  assert.deepEqual(parseLiveSpec('live:eth0', 'eth0', 'live'), { iface: 'eth0', snapLen: 262144, promisc: true, bufferKiB: 4096, drainMs: 1100, kind: 'live' });
  const o = parseLiveSpec('x', 'veth1?snaplen=128&promisc=0&buffer=65536&time=processing&drain=0', 'live');
  assert.deepEqual(o, { iface: 'veth1', snapLen: 128, promisc: false, bufferKiB: 65536, drainMs: 0, kind: 'live', time: 'processing' });
  for (const bad of ['', '-i', 'eth0?snaplen=0', 'eth0?promisc=yes', 'eth0?time=event', 'eth0?what=1', 'a-very-long-interface-name']) {
    assert.throws(() => parseLiveSpec(`live:${bad}`, bad, 'live'), (e: unknown) => e instanceof IntstreamError && e.code === 'SOURCE_SPEC', bad);
  }
});

test('kernel filter: libpcap compiles every widened form; no filter when BPF cannot say it', () => {
  for (const f of ['tcp.syn and not tcp.ack_flag', 'ip.dst in 10.0.0.0/8 and udp.dport == 53', 'tcp.dport in {22 80 443}', 'ip.version == 6', 'tcp.flags & 0x12 == 0x02', 'icmp']) {
    const bpf = kernelFilterFor(parseFilter(f));
    assert.ok(bpf, f);
    const r = spawnSync('tcpdump', ['-y', 'EN10MB', '-d', bpf!], { encoding: 'utf8' });
    assert.equal(r.status, 0, `${f} → ${bpf}: ${r.stderr}`);
  }
  assert.equal(kernelFilterFor(null), null);
  assert.equal(kernelFilterFor(parseFilter('outer.ip.src == 10.0.0.1')), null);
});

/** Packets of `file` the declarative filter keeps (the engine's decoder and interpreter). */
async function declKept(file: string, filter: string): Promise<number> {
  const pred = interpretFilter(parseFilter(filter));
  const src = new CaptureFileSource(file, file, await openFileInput(file));
  await src.open();
  const p = new Packet();
  let kept = 0;
  for (let b; (b = await src.nextBatch());) {
    for (let i = 0; i < b.count; i++) {
      decodePacketGeneral(p, b.buf, b.dataOff[i], b.capLen[i], b.wireLen[i], b.ts[i], b.linkType[i]);
      if (pred(p)) kept++;
    }
  }
  await src.close();
  return kept;
}

test('kernel filter: never drops a packet the task keeps (VLAN, QinQ, MPLS, tunnels, IPv6 extension headers, fragments)', { skip: spawnSync('tcpdump', ['--version']).status === 0 ? false : 'tcpdump not found' }, async () => {
  // Files are Ethernet captures of test/captures; libpcap applies the kernel form to the file
  // (tcpdump -r -w), and the task's own filter must keep exactly as many packets of what
  // remains as of the whole file.
  const files = ['edge/802.1ad_QinQ.pcap', 'edge/vlan-qinqinq.pcap', 'edge/VlanPackets.pcap', 'edge/mixed-vlan-mpls.pcap', 'edge/ipv6-hbh-routing0.pcap',
    'edge/ipv6_ext_headers.pcap', 'edge/ip4_fragments.pcap', 'edge/ip6_fragments.pcap', 'tunnel/erspan-type-ii-3.pcap', 'tunnel/gre-erspan-vxlan.pcap',
    'tunnel/vxlan.pcap', 'tunnel/gre-within-gre.pcap', 'tunnel/geneve.pcap', 'mixed/many-protocols.pcap', 'attack/synscan.pcap'];
  const filters = ['tcp.syn and not tcp.ack_flag', 'udp.dport == 53 or udp.sport == 53', 'tcp.dport in {22 80 443}', 'ip.dst in 10.0.0.0/8', 'icmp', 'tcp.payload_len > 0', 'ip.version == 6'];
  const dir = mkdtempSync(join(tmpdir(), 'intstream-kernel-filter-'));
  try {
    let checked = 0;
    for (const f of filters) {
      const bpf = kernelFilterFor(parseFilter(f));
      if (bpf === null) continue;
      for (const rel of files) {
        const file = join(CAPTURES, rel), out = join(dir, 'kept.pcap');
        const td: { status: number | null; stderr: string } = spawnSync('tcpdump', ['-nr', file, '-w', out, '--', bpf], { encoding: 'utf8' });
        assert.equal(td.status, 0, `${rel}: ${td.stderr}`);
        const want = await declKept(file, f);
        assert.equal(await declKept(out, f), want, `${rel}, \`${f}\`: the kernel form ${bpf} drops packets the task keeps`);
        checked += want;
      }
    }
    assert.ok(checked > 1000, `kept packets checked: ${checked}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

const skip = liveLabSkip();

describe('live capture in network namespaces', { skip: skip ?? false }, () => {
  let ll: LiveLab;
  let generated: string;
  before(() => {
    ll = buildLiveLab();
    // Generated traffic: TCP connections, DNS, ICMP, an IPv6 and a VLAN-tagged share, anomalies.
    generated = join(ll.tmp, 'gen.pcap');
    const g = spawnSync(process.execPath, [join(ROOT, 'tools', 'gen-traffic.ts'), generated, '--packets', '20000', '--seconds', '20', '--hosts', '500', '--anomalies', '--seed', '6'], { encoding: 'utf8' });
    assert.equal(g.status, 0, g.stderr);
  });
  after(() => ll?.destroy());

  // One window for the whole replay: replayed packets carry new timestamps, so results are
  // compared by key and value.
  const WHOLE = ['--window', '1000000000s', '--format', 'jsonl'];

  async function liveVsFile(file: string, task: string, extra: string[], rate: string[]) {
    const stats = join(ll.tmp, `stats-${Date.now()}.json`);
    const run = startRun(ll, [task, '--source', `live:${ll.captureIf}`, ...WHOLE, ...extra, '--stats', stats]);
    await run.ready();
    const rep = await replay(ll, file, rate);
    const code = await run.stop('SIGTERM');
    assert.equal(code, 0, run.stderr());
    const ref = runOnFile([task, '--source', `pcap:${file}`, ...WHOLE, ...extra, '-q']);
    assert.equal(ref.code, 0, ref.stderr);
    return { rep, live: byKey(run.stdout()), file: byKey(ref.stdout), stats: readJson(stats), stderr: run.stderr() };
  }

  test('generated traffic: tcp-new-conn live equals the file run; kernel counters account for every packet', async () => {
    const r = await liveVsFile(generated, 'tcp-new-conn', ['--param', 'threshold=0'], ['--pps', '5000']);
    assert.equal(r.rep.failed, 0);
    const k = r.stats.sources[0].kernel;
    assert.equal(k.dropped, 0, 'no kernel drops at 5,000 packets/s');
    assert.equal(k.received, bpfCount(generated, k.filter), 'the kernel passed what libpcap keeps of the file');
    assert.equal(r.stats.items_read, k.received, 'every packet the kernel passed reached the local stage');
    assert.ok(r.file.size > 0);
    assert.deepEqual(r.live, r.file);
    assert.match(r.stderr, /live:eth0: kernel [\d,]+ received, 0 dropped/);
  });

  test('generated traffic, no filter: every replayed packet, counts per source address equal the file run', async () => {
    const q = join(ll.tmp, 'per-src.ts');
    writeFileSync(q, `import { defineTask, count } from 'intstream';
export default defineTask({ name: 'per-src', query: (p) => p.key((x) => x.vlan ? 'vlan ' + (x.ip ? x.ip.src : '-') : (x.ip ? x.ip.src : 'non-ip')).window(1000000000).aggregate(count()) });
`);
    const r = await liveVsFile(generated, q, [], ['--pps', '8000']);
    const k = r.stats.sources[0].kernel;
    assert.equal(k.filter, null);
    assert.equal(k.dropped, 0);
    assert.equal(r.stats.items_read, r.rep.sent, 'every packet tcpreplay sent was read');
    assert.deepEqual(r.live, r.file);
  });

  test('shared capture (mixed/many-protocols.pcap): the kernel filter drops what it should', async () => {
    const file = join(CAPTURES, 'mixed', 'many-protocols.pcap');
    const q = join(ll.tmp, 'dns.ts');
    writeFileSync(q, `import { defineTask, count } from 'intstream';
export default defineTask({ name: 'dns', query: (p) => p.filter('udp.dport == 53 or udp.sport == 53').key('ip.src').window(1000000000).aggregate(count()) });
`);
    const r = await liveVsFile(file, q, [], ['--pps', '5000']);
    const k = r.stats.sources[0].kernel;
    const total = bpfCount(file, null);
    const kept = bpfCount(file, k.filter);
    assert.ok(kept > 0 && kept < total / 2, `the filter keeps a minority (${kept} of ${total})`);
    assert.equal(k.dropped, 0);
    assert.equal(k.received, kept, 'the kernel passed exactly what the BPF keeps of the file');
    assert.equal(r.stats.items_read, kept, `user space never saw the ${total - kept} other packets`);
    assert.equal(r.stats.after_filter, bpfCount(file, 'udp port 53'));
    assert.deepEqual(r.live, r.file);
  });

  test('processing time: windows close on the wall clock while traffic stops; SIGINT flushes the rest', async () => {
    const run = startRun(ll, ['tcp-new-conn', '--source', `live:${ll.captureIf}`, '--time', 'processing', '--window', '1s', '--param', 'threshold=0', '--format', 'jsonl']);
    await run.ready();
    await replay(ll, join(ROOT, 'samples', 'demo.pcap'), ['--pps', '20000']);
    // No more traffic: the 1 s windows must still close within about two seconds
    // (capture ring timeout 1 s + window end + heartbeat).
    const deadline = Date.now() + 5000;
    while (!run.stdout().includes('"value"') && Date.now() < deadline) await sleep(100);
    assert.ok(run.stdout().includes('"value"'), 'results while the capture is still running');
    const before = run.stdout();
    assert.equal(await run.stop('SIGINT'), 0, run.stderr());
    const all = run.stdout().split('\n').filter(Boolean).map((l) => JSON.parse(l));
    const total = all.reduce((a, r) => a + (r.value as number), 0);
    const ref = runOnFile(['tcp-new-conn', '--source', `pcap:${join(ROOT, 'samples', 'demo.pcap')}`, '--window', '1000000000s', '--param', 'threshold=0', '--format', 'jsonl', '-q']);
    const want = [...byKey(ref.stdout).values()].reduce((a: number, v) => a + (v as number), 0);
    assert.equal(total, want, 'every SYN counted once across the 1 s windows');
    assert.ok(before.length > 0);
    assert.match(run.stderr(), /kernel [\d,]+ received/);
  });

  test('packet time, quiet link after a SYN flood: every window comes out within a window length of its end, without SIGINT; the same counts as the file run', async () => {
    const file = join(CAPTURES, 'attack', 'pkt.TCP.synflood.spoofed.pcap');
    const W = 5;
    const stats = join(ll.tmp, 'quiet-stats.json');
    const run = startRun(ll, ['syn-flood', '--source', `live:${ll.captureIf}`, '--window', `${W}s`, '--param', 'threshold=0', '--format', 'jsonl', '--stats', stats]);
    await run.ready();
    // when each result line first showed on stdout (polled every 50 ms)
    const seen = new Map<string, number>();
    const watch = setInterval(() => { for (const l of run.stdout().split('\n').filter(Boolean)) if (!seen.has(l)) seen.set(l, Date.now() / 1000); }, 50);
    try {
      // the flood, about 1.9 s at 20,000 packets/s, then nothing more on the link
      await replay(ll, file, ['--pps', '20000']);
      const ref = runOnFile(['syn-flood', '--source', `pcap:${file}`, '--window', '1000000000s', '--param', 'threshold=0', '--format', 'jsonl', '-q']);
      assert.equal(ref.code, 0, ref.stderr);
      const want = byKey(ref.stdout);
      assert.deepEqual([...want], [['"10.10.10.10"', 37841]]);
      // the replay's windows are other windows than the file's: sum each key over them
      const sums = () => {
        const m = new Map<string, unknown>();
        for (const l of run.stdout().split('\n').filter(Boolean)) {
          const r = JSON.parse(l), k = JSON.stringify(r.key);
          m.set(k, ((m.get(k) as number) ?? 0) + r.value);
        }
        return m;
      };
      const deadline = Date.now() + (W + 4) * 1000;
      while (Date.now() < deadline && !isDeepStrictEqual(sums(), want)) await sleep(100);
      assert.deepEqual(sums(), want, `every window out before SIGINT: ${run.stdout()} ${run.stderr()}`);
      await sleep(100);
      let latest = -Infinity;
      for (const [l, at] of seen) {
        const end = JSON.parse(l).window.end;
        latest = Math.max(latest, at - end);
        assert.ok(at <= end + W + 1, `the window ending at ${end} came out ${(at - end).toFixed(2)} s after its end`);
      }
      process.stdout.write(`# ${seen.size} windows of ${W} s; the latest came out ${latest.toFixed(2)} s after its end\n`);
      const before = run.stdout();
      assert.equal(await run.stop('SIGINT'), 0, run.stderr());
      assert.equal(run.stdout(), before, 'nothing was left for SIGINT');
      assert.equal(readJson(stats).sources[0].kernel.dropped, 0);
    } finally {
      clearInterval(watch);
    }
  });

  test('packet time: open windows are flushed at SIGINT, exit 0, summary with kernel counters', async () => {
    const run = startRun(ll, ['tcp-new-conn', '--source', `live:${ll.captureIf}?buffer=8192`, '--window', '1000000000s', '--param', 'threshold=0', '--format', 'jsonl']);
    await run.ready();
    await replay(ll, join(ROOT, 'samples', 'demo.pcap'), ['--pps', '20000']);
    await sleep(1500);
    assert.equal(run.stdout(), '', 'the window is still open before the stop');
    assert.equal(await run.stop('SIGINT'), 0, run.stderr());
    const ref = runOnFile(['tcp-new-conn', '--source', `pcap:${join(ROOT, 'samples', 'demo.pcap')}`, '--window', '1000000000s', '--param', 'threshold=0', '--format', 'jsonl', '-q']);
    assert.deepEqual(byKey(run.stdout()), byKey(ref.stdout));
    assert.match(run.stderr(), /tcp-new-conn: .*packets read.*live:eth0\?buffer=8192: kernel [\d,]+ received, 0 dropped/);
  });

  test('tcpdump killed mid-run: the open windows are flushed, then exit 1 naming it', async () => {
    const run = startRun(ll, ['tcp-new-conn', '--source', `live:${ll.captureIf}`, '--window', '1000000000s', '--param', 'threshold=0', '--format', 'jsonl']);
    await run.ready();
    await replay(ll, join(ROOT, 'samples', 'demo.pcap'), ['--pps', '20000']);
    await sleep(1500); // the last ring block reaches intstream
    assert.equal(spawnSync('pkill', ['-KILL', '-P', String(run.child.pid), '-x', 'tcpdump']).status, 0, 'tcpdump found and killed');
    assert.equal(await run.done, 1, run.stderr());
    assert.match(run.stderr(), /intstream: live:eth0: tcpdump ended \(SIGKILL\)/);
    assert.doesNotMatch(run.stderr(), /\n\s+at /);
    const ref = runOnFile(['tcp-new-conn', '--source', `pcap:${join(ROOT, 'samples', 'demo.pcap')}`, '--window', '1000000000s', '--param', 'threshold=0', '--format', 'jsonl', '-q']);
    assert.deepEqual(byKey(run.stdout()), byKey(ref.stdout), 'what was captured before is counted and output');
  });

  test('an interface that does not exist: one line, exit 1', async () => {
    const run = startRun(ll, ['tcp-new-conn', '--source', 'live:nosuch0']);
    const code = await run.done;
    assert.equal(code, 1);
    assert.match(run.stderr(), /live capture on nosuch0: tcpdump exited with status 1: .*nosuch0/);
    assert.doesNotMatch(run.stderr(), /\n\s+at /);
  });
});
