/**
 * Declarative filters against Wireshark's display filters on real captures (tshark is the
 * independent reference), the compiled form against the interpreted one, and syntax errors.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { openFileInput } from '../../src/sources/byte-input.ts';
import { CaptureFileSource } from '../../src/sources/capture-file-source.ts';
import { Packet } from '../../src/decode/packet.ts';
import { decodePacket } from '../../src/decode/decoder.ts';
import { compileFilter, interpretFilter, parseFilter, toBpf } from '../../src/query/filter-expr.ts';
import { IntstreamError } from '../../src/errors.ts';
import { CAPTURES } from '../support/run-cli.ts';
import { haveTshark, tsharkFrames } from '../support/tshark-filter.ts';

async function matches(file: string, filters: string[]): Promise<{ compiled: Set<number>[]; interpreted: Set<number>[] }> {
  const src = new CaptureFileSource(file, file, await openFileInput(file));
  await src.open();
  const p = new Packet();
  const asts = filters.map((f) => parseFilter(f));
  const comp = asts.map((a) => compileFilter(a));
  const interp = asts.map((a) => interpretFilter(a));
  const compiled = filters.map(() => new Set<number>()), interpreted = filters.map(() => new Set<number>());
  let frame = 0;
  for (let b; (b = await src.nextBatch());) {
    for (let i = 0; i < b.count; i++) {
      frame++;
      decodePacket(p, b.buf, b.dataOff[i], b.capLen[i], b.wireLen[i], b.ts[i], b.linkType[i]);
      for (let k = 0; k < filters.length; k++) {
        if (comp[k](p)) compiled[k].add(frame);
        if (interp[k](p)) interpreted[k].add(frame);
      }
    }
  }
  await src.close();
  return { compiled, interpreted };
}

// [intstream filter, equivalent Wireshark display filter]. Captures are chosen without tunnels,
// where Wireshark's fields also match outer headers. Wireshark's tcp/udp/ip fields also match
// the header an ICMP error quotes, which intstream deliberately does not decode (the packet's
// addresses stay the outer ones): ICMP frames are compared only for the `icmp` filter, and
// the decoder's own tests check that ICMP errors keep their outer fields.
const PAIRS: [string, string][] = [
  ['tcp.syn and not tcp.ack_flag', 'tcp.flags.syn == 1 && tcp.flags.ack == 0'],
  ['tcp.syn && tcp.ack_flag', 'tcp.flags.syn == 1 && tcp.flags.ack == 1'],
  ['tcp.fin or tcp.rst', 'tcp.flags.fin == 1 || tcp.flags.reset == 1'],
  ['tcp.flags & 0x12 == 0x02', 'tcp.flags & 0x12 == 0x02'],
  ['tcp.flags == 0x10', 'tcp.flags == 0x010'],
  ['tcp.dport == 80 or udp.dport == 53', 'tcp.dstport == 80 || udp.dstport == 53'],
  ['tcp.sport >= 1024 and tcp.sport < 5000', 'tcp.srcport >= 1024 && tcp.srcport < 5000'],
  ['udp and not udp.sport == 53', 'udp && !(udp.srcport == 53)'],
  ['not tcp.dport == 443', '!(tcp.dstport == 443)'],
  ['ip.dst in 10.0.0.0/8', 'ip.dst == 10.0.0.0/8'],
  ['ip.src in 192.168.0.0/16 and tcp', 'ip.src == 192.168.0.0/16 && tcp'],
  ['ip.version == 6', 'ipv6'],
  ['ip.dst in 2001:db8::/32 or ip.src in 2000::/3', 'ipv6.dst == 2001:db8::/32 || ipv6.src == 2000::/3'],
  ['tcp.payload_len > 100', 'tcp.len > 100'],
  ['len > 1000', 'frame.len > 1000'],
  ['ip.ttl < 64', 'ip.ttl < 64 || ipv6.hlim < 64'],
  ['icmp', 'icmp || icmpv6'],
  ['tcp.dport in {22 80 443 8080}', 'tcp.dstport in {22,80,443,8080}'],
  // Wireshark's own names (aliases), given to both
  ...['tcp.port == 80', 'tcp.port != 80', 'udp.port == 53 or tcp.dstport == 443', 'ip.addr == 192.168.0.0/16',
    'tcp.flags.syn == 1 and tcp.flags.ack == 0', 'tcp.len > 0 and tcp.srcport < 1024', 'tcp.dstport in {22,80,443}', 'frame.len > 500']
    .map((f): [string, string] => [f, f]),
];

const FILES = ['attack/synscan.pcap', 'attack/nmap-vsn.pcap', 'mixed/bro.org.pcap', 'mixed/DnsPackets.pcap', 'mixed/tls2.pcap', 'mixed/1kxun.pcap', 'attack/amp.TCP.reflection.SYNACK.pcap', 'edge/ip4_fragments.pcap'];

for (const f of FILES) {
  test(`filters match Wireshark display filters on ${f}`, { skip: haveTshark() ? false : 'tshark is not installed (apt-get install tshark)' }, async () => {
    const file = join(CAPTURES, f);
    const { compiled, interpreted } = await matches(file, PAIRS.map((x) => x[0]));
    const icmpFrames = tsharkFrames(file, 'icmp || icmpv6');
    const sorted = (s: Set<number>, dropIcmp: boolean) => [...s].filter((f) => !dropIcmp || !icmpFrames.has(f)).sort((a, b) => a - b);
    PAIRS.forEach(([ours, theirs], k) => {
      const want = tsharkFrames(file, theirs);
      const dropIcmp = ours !== 'icmp';
      assert.deepEqual(sorted(compiled[k], dropIcmp), sorted(want, dropIcmp), `${ours} vs tshark '${theirs}'`);
      assert.deepEqual(compiled[k], interpreted[k], `compiled vs interpreted: ${ours}`);
    });
  });
}

test('syntax errors name the column and what was expected', () => {
  const cases: [string, RegExp][] = [
    ['tcp.syn and', /column 12: expected a field name at end/],
    ['tcp.sny', /column 1: unknown field 'tcp.sny' \(did you mean tcp\.seq or tcp\.syn\?; fields of that layer: tcp\.sport, .*tcp\.payload_len\)/],
    ['tcp.syn and and tcp.fin', /column 13: expected a field name, found the operator 'and'/],
    ['ip.dst == 10.0.0.300', /'10.0.0.300' is not an IPv4 or IPv6 address/],
    ['ip.dst in 10.0.0.0/33', /bad IPv4 prefix length/],
    ['(tcp.syn', /expected '\)'/],
    ['tcp.flags & 0x12', /a masked field needs a comparison/],
    ['tcp.syn $ 1', /unexpected character '\$'/],
    ['', /empty filter/],
  ];
  for (const [src, re] of cases) {
    assert.throws(() => parseFilter(src), (e: unknown) => e instanceof IntstreamError && e.code === 'FILTER_SYNTAX' && re.test(e.message), src);
  }
});

// The BPF form must select the same packets as the filter: tcpdump (libpcap's compiler) is the
// reference. IPv4-only, untagged captures: BPF's tcp[] offsets do not reach IPv6 or VLAN.
const BPF_FILTERS = ['tcp.syn and not tcp.ack_flag', 'udp.dport == 53 or ip.dst in 10.0.0.0/8', 'tcp.dport == 80', 'not tcp.sport == 80', 'ip.src == 192.168.1.1 or tcp.rst', 'tcp.flags & 0x12 == 0x12'];
test('BPF translations select what the filters select (tcpdump as reference)', { skip: spawnSync('tcpdump', ['--version']).error ? 'tcpdump is not installed' : false }, async () => {
  for (const f of ['attack/nmap-vsn.pcap', 'attack/synscan.pcap', 'mixed/DnsPackets.pcap']) {
    const file = join(CAPTURES, f);
    const { compiled } = await matches(file, BPF_FILTERS);
    BPF_FILTERS.forEach((flt, k) => {
      const bpf = toBpf(parseFilter(flt));
      assert.ok(bpf, `${flt} has a BPF form`);
      const r = spawnSync('tcpdump', ['-nn', '-r', file, bpf], { encoding: 'utf8' });
      assert.equal(r.status, 0, r.stderr);
      const n = r.stdout.split('\n').filter(Boolean).length;
      assert.equal(n, compiled[k].size, `${flt} -> ${bpf} on ${f}`);
    });
  }
  assert.equal(toBpf(parseFilter('tunnel.type')), null, 'no BPF for fields past a tunnel');
});
