/**
 * Decoder robustness: one real packet per layer combination, cut at every length from 0 to its
 * captured length (the wire length stays what it was, as in a snaplen-limited capture).
 *
 * Where each header starts and ends comes from tshark's PDML for that packet (written alone to
 * a temporary pcap), not from the decoder. For every cut:
 *  - decoding does not throw, and reads no byte past the cut (the same cut decoded in buffers
 *    whose bytes past the record are 0x00 and 0xff gives the same answer);
 *  - a cut inside a header that intstream walks gives status TRUNCATED with a reason naming that
 *    layer (REASON below); a cut after the last such header (payload only) gives the same status,
 *    reason and fields as the whole packet;
 *  - the layers before the cut decode to the values tshark shows for them (the tshark-expect.ts
 *    model applied to the layers that survive the cut).
 * Fixed headers whose options were cut (IPv4, TCP, Geneve) keep their fixed fields: the model
 * takes such a layer as present, and the reason still names it.
 *
 * Exceptions, each with its reason:
 *  - ICMP/ICMPv6: intstream reads type, code and checksum (4 bytes); the other 4 bytes of the
 *    8-byte header depend on the message type and are treated as payload.
 *  - A cut at the very first byte of an IP header that nothing announces the version of (raw IP
 *    link types, an MPLS payload) can only say 'ip_header_truncated' / 'mpls_payload_truncated'.
 *  - A cut inside an IPv6 extension header chain leaves ip.proto unasserted: the protocol after
 *    the chain is unknown; intstream reports the Next Header it last knew for sure.
 */
import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CaptureFileSource } from '../../src/sources/capture-file-source.ts';
import { openFileInput } from '../../src/sources/byte-input.ts';
import { Packet } from '../../src/decode/packet.ts';
import { decodePacket } from '../../src/decode/decoder.ts';
import { TRUNCATED } from '../../src/decode/status.ts';
import { pcapFile } from '../support/pcap-writer.ts';
import { haveTshark, tsharkLayers, tsharkPackets, TSHARK_FIELDS, type PdmlLayer, type TsharkField } from '../support/tshark.ts';
import { CAPTURES, decodedFields, expectFromTshark, type Compared } from './tshark-expect.ts';

export interface Sample {
  name: string;
  data: Uint8Array;
  wireLen: number;
  linkType: number;
}

/** Which real packet stands for which layer combination: the first frame of `file` whose
 * tshark protocol path matches. */
export const SAMPLES: { file: string; match: RegExp; name: string }[] = [
  { name: 'Ethernet IPv4 TCP with payload', file: 'mixed/bro.org.pcap', match: /^eth:ethertype:ip:tcp:http/ },
  { name: 'Ethernet IPv6 TCP', file: 'mixed/tls2.pcap', match: /^eth:ethertype:ipv6:tcp/ },
  { name: 'single 802.1Q, IPv4 TCP', file: 'edge/mixed-vlan-mpls.pcap', match: /^eth:ethertype:vlan:ethertype:ip:tcp/ },
  { name: 'double 802.1Q, ICMP', file: 'edge/VlanPackets.pcap', match: /^eth:ethertype:vlan:ethertype:vlan:ethertype:ip:icmp/ },
  { name: 'triple 802.1Q, TCP options and payload', file: 'edge/vlan-qinqinq.pcap', match: /^eth(:ethertype:vlan){3}:ethertype:ip:tcp:http/ },
  { name: '802.1ad QinQ, ARP', file: 'edge/802.1ad_QinQ.pcap', match: /ieee8021ad:ethertype:vlan:ethertype:arp/ },
  { name: 'MPLS, IPv4 TCP', file: 'edge/mixed-vlan-mpls.pcap', match: /^eth:ethertype:mpls:ip:tcp/ },
  { name: 'IPv4 first fragment, UDP', file: 'edge/ip4_fragments.pcap', match: /^eth:ethertype:ip:udp/ },
  { name: 'IPv4 later fragment', file: 'edge/ip4_fragments.pcap', match: /^eth:ethertype:ip:data$/ },
  { name: 'IPv4 UDP DNS', file: 'mixed/DnsPackets.pcap', match: /^eth:ethertype:ip:udp:dns/ },
  { name: 'IPv4 ICMP echo', file: 'attack/hs-icmpScan.pcap', match: /^eth:ethertype:ip:icmp/ },
  { name: 'ICMP error quoting UDP', file: 'attack/amp.UDP.snmp.src161.pcapng', match: /^eth:ethertype:ip:icmp:ip:udp/ },
  { name: 'IPv6 hop-by-hop + routing, UDP', file: 'edge/ipv6-hbh-routing0.pcap', match: /ipv6.hopopts:ipv6.routing:udp/ },
  { name: 'IPv6 100-deep extension chain', file: 'edge/ipv6_ext_headers.pcap', match: /ipv6.hopopts/ },
  { name: 'IPv6 fragment header, UDP', file: 'edge/ip6_fragments.pcap', match: /ipv6.fraghdr:udp/ },
  { name: 'IPv6 later fragment', file: 'edge/ip6_fragments.pcap', match: /ipv6.fraghdr:data/ },
  { name: 'IPv6 AH, ICMPv6', file: 'attack/denial6-5.pcap', match: /^eth:ethertype:ipv6:ah:icmpv6/ },
  { name: 'ICMPv6 error quoting IPv6', file: 'attack/denial6-5.pcap', match: /^eth:ethertype:ipv6:icmpv6:ipv6/ },
  { name: 'IPv6 jumbogram (BIG TCP)', file: 'edge/bigtcp-ipv6-hbh.pcap', match: /ipv6.hopopts:tcp/ },
  { name: 'TCP options cut by snaplen', file: 'edge/truncated-header.pcap', match: /tcp/ },
  { name: 'GRE, Ethernet bridging', file: 'tunnel/erspan.pcap', match: /ip:gre:eth:ethertype:ip:tcp/ },
  { name: 'GRE in GRE', file: 'tunnel/gre-within-gre.pcap', match: /gre:ip:gre:ip/ },
  { name: 'GRE Aruba 802.11', file: 'tunnel/gre-aruba.pcap', match: /gre:wlan:llc:ip:tcp/ },
  { name: 'ERSPAN II', file: 'tunnel/erspan-type-ii-3.pcap', match: /gre:erspan:eth/ },
  { name: 'ERSPAN III, frame type 7', file: 'tunnel/erspan-type-iii-ft-7.pcap', match: /gre:erspan/ },
  { name: 'ERSPAN II carrying VXLAN', file: 'tunnel/gre-erspan-vxlan.pcap', match: /erspan:eth:ethertype:ip:udp:vxlan:eth:ethertype:ip:tcp/ },
  { name: 'VXLAN', file: 'tunnel/vxlan.pcap', match: /udp:vxlan:eth:ethertype:ip:tcp/ },
  { name: 'Geneve with options', file: 'tunnel/geneve.pcap', match: /udp:geneve:eth/ },
  { name: 'Linux SLL', file: 'edge/sll.pcap', match: /^sll:ethertype:ip:tcp/ },
  { name: 'Linux SLL2', file: 'edge/suricata-verify_decode-sll2-02.pcap', match: /^sll:ethertype:ip:tcp/ },
  { name: 'SLL, TCP SYN with options', file: 'edge/tcp-handshake-nano.pcap', match: /^sll:ethertype:ip:tcp$/ },
  { name: 'raw IP (LINKTYPE_RAW)', file: 'edge/raw_ip.pcap', match: /^raw:ip:tcp/ },
  { name: 'LINKTYPE_IPV4', file: 'edge/linktype_ipv4.pcap', match: /^ip:udp/ },
  { name: 'LINKTYPE_IPV6', file: 'edge/LINKTYPE_IPV6.pcap', match: /^ipv6:udp/ },
  { name: 'BSD loopback (NULL)', file: 'pcapng/many_interfaces-1.pcapng', match: /^null:ip:udp/ },
];

/** The packet of each sample, read from its capture. */
export async function loadSamples(): Promise<Sample[]> {
  const out: Sample[] = [];
  for (const s of SAMPLES) {
    const file = join(CAPTURES, s.file);
    const frames = await tsharkPackets(file);
    const i = frames.findIndex((f) => s.match.test(f.protocols.join(':')));
    assert.ok(i >= 0, `${s.file}: no frame matching ${s.match}`);
    const src = new CaptureFileSource(file, file, await openFileInput(file));
    await src.open();
    let n = 0, got: Sample | undefined;
    for (let b; !got && (b = await src.nextBatch());) {
      for (let j = 0; j < b.count && !got; j++, n++) {
        if (n === i) got = { name: `${s.name} (${s.file} #${frames[i].number})`, data: b.buf.slice(b.dataOff[j], b.dataOff[j] + b.capLen[j]), wireLen: b.wireLen[j], linkType: b.linkType[j] };
      }
    }
    await src.close();
    assert.ok(got);
    out.push(got);
  }
  out.push(...syntheticSamples(out));
  return out;
}

function ipv4Checksum(h: Uint8Array): void {
  h[10] = 0; h[11] = 0;
  let s = 0;
  for (let i = 0; i < h.length; i += 2) s += (h[i] << 8) | h[i + 1];
  while (s > 0xffff) s = (s & 0xffff) + (s >>> 16);
  const c = ~s & 0xffff;
  h[10] = c >> 8; h[11] = c & 0xff;
}

function ipv4Header(total: number, proto: number, optionBytes: number[] = []): Uint8Array {
  const h = new Uint8Array(20 + optionBytes.length);
  h[0] = 0x40 | (h.length / 4); h[2] = total >> 8; h[3] = total & 0xff; h[4] = 0x12; h[5] = 0x34;
  h[8] = 64; h[9] = proto;
  h.set([192, 0, 2, 1], 12); h.set([198, 51, 100, 7], 16);
  h.set(optionBytes, 20);
  ipv4Checksum(h);
  return h;
}

/** Combinations no shared capture has, built from real packets (tshark still says where each
 * header is): IPv4 with options, IPv4 in IPv4, IPv6 in IPv4. */
function syntheticSamples(real: Sample[]): Sample[] {
  const tcp4 = real[0].data; // Ethernet, IPv4 (IHL 5), TCP
  const ip6 = real.find((s) => s.name.startsWith('LINKTYPE_IPV6'))!.data; // a bare IPv6 packet
  const eth = tcp4.subarray(0, 14);
  const inner4 = tcp4.subarray(14, 14 + ((tcp4[16] << 8) | tcp4[17]));
  const withEth = (type: number, ...parts: Uint8Array[]) => {
    const e = Uint8Array.from(eth); e[12] = type >> 8; e[13] = type & 0xff;
    const out = new Uint8Array(14 + parts.reduce((a, p) => a + p.length, 0));
    out.set(e); let o = 14;
    for (const p of parts) { out.set(p, o); o += p.length; }
    return out;
  };
  // Record Route (type 7, length 11, pointer 4, two slots) then End of Options: 12 bytes.
  const rr = [7, 11, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0];
  const opt = ipv4Header(inner4.length + rr.length, inner4[9], rr);
  opt.set(inner4.subarray(12, 20), 12); ipv4Checksum(opt);
  const s = (name: string, data: Uint8Array): Sample => ({ name: `${name} (synthetic, from ${real[0].name})`, data, wireLen: data.length, linkType: 1 });
  const from6 = (x: Sample) => ({ ...x, name: x.name.replace(/from .*\)$/, 'from LINKTYPE_IPV6.pcap)') });
  const gre = (proto: number) => Uint8Array.of(0, 0, proto >> 8, proto & 255);
  return [
    s('IPv4 with options, TCP', withEth(0x0800, opt, inner4.subarray(20))),
    s('IPv4 in IPv4', withEth(0x0800, ipv4Header(20 + inner4.length, 4), inner4)),
    from6(s('IPv6 in IPv4', withEth(0x0800, ipv4Header(20 + ip6.length, 41), ip6))),
    // ERSPAN type I: GRE 0x88be without a sequence number, the mirrored frame right after it.
    s('ERSPAN I', withEth(0x0800, ipv4Header(24 + tcp4.length, 47), gre(0x88be), tcp4)),
    from6(s('IPv6 in GRE', withEth(0x0800, ipv4Header(24 + ip6.length, 47), gre(0x86dd), ip6))),
    // LINKTYPE_LOOP: the address family in network byte order; NULL in the writer's (macOS AF_INET6 = 30).
    { ...s('LOOP, IPv4', Uint8Array.of(0, 0, 0, 2, ...inner4)), linkType: 108 },
    from6({ ...s('NULL, IPv6 (AF 30, little-endian)', Uint8Array.of(30, 0, 0, 0, ...ip6)), linkType: 0 }),
  ];
}

const SYNTHETIC = ['IPv4 with options', 'IPv4 in IPv4', 'IPv6 in IPv4', 'ERSPAN I', 'IPv6 in GRE', 'LOOP, IPv4', 'NULL, IPv6'];

/** Reason prefix for a cut in each layer (tshark name). */
const REASON: Record<string, string> = {
  eth: 'ethernet_', vlan: 'vlan_', ieee8021ad: 'vlan_', mpls: 'mpls_', sll: 'sll', null: 'null_',
  ip: 'ipv4_', ipv6: 'ipv6_', 'ipv6.hopopts': 'ipv6_ext_header', 'ipv6.routing': 'ipv6_ext_header',
  'ipv6.dstopts': 'ipv6_ext_header', 'ipv6.fraghdr': 'ipv6_fragment', ah: 'ipv6_ah',
  tcp: 'tcp_', udp: 'udp_', icmp: 'icmp_', icmpv6: 'icmp_', gre: 'gre_', erspan: 'erspan_',
  vxlan: 'vxlan_', geneve: 'geneve_', wlan: 'ieee80211_', llc: 'llc_',
};
const EXT = new Set(['ipv6.hopopts', 'ipv6.routing', 'ipv6.dstopts', 'ipv6.fraghdr', 'ah']);

/** tshark's layers as the `protocols` + fields input of the expectation model. */
function asTsharkPacket(layers: PdmlLayer[]) {
  const f = {} as Record<TsharkField, string[]>;
  for (const name of TSHARK_FIELDS) f[name] = layers.flatMap((l) => l.fields.get(name) ?? []);
  return { protocols: layers.map((l) => l.name), f };
}

/** Bytes [pos, pos+fixed) must be there for the layer's fields; [pos, pos+full) is its header. */
function headerSpan(layers: PdmlLayer[], k: number): { fixed: number; full: number } {
  const l = layers[k];
  const field = (n: string) => Number(l.fields.get(n)?.[0]);
  switch (l.name) {
    case 'ip': return { fixed: 20, full: field('ip.hdr_len') };
    case 'tcp': return { fixed: 20, full: field('tcp.hdr_len') };
    case 'udp': return { fixed: 8, full: 8 };
    case 'icmp': case 'icmpv6': return { fixed: 4, full: 4 }; // see the header comment
    case 'ipv6': return { fixed: 40, full: 40 };
    case 'geneve': return { fixed: 8, full: l.size };
    default: {
      const next = layers[k + 1];
      const full = next ? next.pos - l.pos : l.size;
      return { fixed: full, full };
    }
  }
}

interface Outcome { status: number; reason: string; fields: Compared }

const OFF = 5;

/** A buffer holding the first `cut` bytes of the sample at OFF and `fill` everywhere else. */
function cutBuffer(s: Sample, cut: number, fill: number): Uint8Array {
  const buf = new Uint8Array(OFF + s.data.length + 64).fill(fill);
  buf.set(s.data.subarray(0, cut), OFF);
  return buf;
}

function decodeCut(p: Packet, s: Sample, buf: Uint8Array, cut: number): Outcome {
  decodePacket(p, buf, OFF, cut, s.wireLen, 1_700_000_000.5, s.linkType);
  return { status: p.status, reason: p.reason, fields: decodedFields(p) };
}

/** The expected outcome of a cut at `cut` bytes, from tshark's layers, or null when the cut
 * only removes payload (the whole packet's outcome then applies). */
function expectedCut(layers: PdmlLayer[], walked: number, cut: number, linkType: number) {
  for (let k = 0; k < walked; k++) {
    const span = headerSpan(layers, k);
    if (span.full === 0 || layers[k].pos + span.full <= cut) continue;
    const l = layers[k];
    const present = layers.slice(0, k);
    if (span.fixed < span.full && l.pos + span.fixed <= cut) present.push(l);
    let reason = REASON[l.name];
    const prev = layers[k - 1]?.name;
    if (cut === l.pos && (l.name === 'ip' || l.name === 'ipv6')) {
      if (prev === 'mpls') reason = 'mpls_payload_truncated';
      else if (k === 0 || prev === 'raw' || prev === 'erspan') reason = linkType === 228 || linkType === 229 ? reason : 'ip_header_truncated';
    }
    const e = expectFromTshark(asTsharkPacket(present));
    if (EXT.has(l.name)) delete e.fields['ip.proto'];
    return { layer: l.name, reason, fields: e.fields, skipProto: EXT.has(l.name) };
  }
  return null;
}

describe('every cut of a real packet decodes without throwing, up to the cut', { skip: !haveTshark() && 'tshark not installed' }, () => {
  let samples: Sample[] = [];
  let dir = '';
  before(async () => {
    samples = await loadSamples();
    dir = mkdtempSync(join(tmpdir(), 'intstream-trunc-'));
  });

  for (let idx = 0; idx < SAMPLES.length + SYNTHETIC.length; idx++) {
    test(idx < SAMPLES.length ? SAMPLES[idx].name : `${SYNTHETIC[idx - SAMPLES.length]} (synthetic)`, async () => {
      const s = samples[idx];
      const file = join(dir, `s${idx}.pcap`);
      writeFileSync(file, pcapFile({ linkType: s.linkType }, [{ sec: 1_700_000_000, frac: 0, data: s.data, origLen: s.wireLen }]));
      const layers = (await tsharkLayers(file))[0];
      assert.ok(s.name.startsWith(idx < SAMPLES.length ? SAMPLES[idx].name : SYNTHETIC[idx - SAMPLES.length]), s.name);
      const full = expectFromTshark(asTsharkPacket(layers));
      assert.ok(!full.deeper || full.icmpQuote, `${s.name}: tshark walks past '${layers[full.stopIndex]?.name}'`);
      const p = new Packet();
      const whole = decodeCut(p, s, cutBuffer(s, s.data.length, 0), s.data.length);
      // The whole packet: as tshark says (the differential test does this for every packet).
      assert.deepEqual(whole.fields, full.fields, `${s.name}: whole packet`);
      let headerEnd = 0;
      for (let k = 0; k < full.stopIndex; k++) headerEnd = Math.max(headerEnd, layers[k].pos + headerSpan(layers, k).full);
      assert.ok(Number.isInteger(headerEnd) && headerEnd > 0, `${s.name}: headers end at ${headerEnd}`);
      // headerEnd > captured length: the capture itself already cut a header (snaplen 68).
      const cuts = new Set<string>();
      const zeros = cutBuffer(s, 0, 0x00), ones = cutBuffer(s, 0, 0xff);
      for (let cut = 0; cut <= s.data.length; cut++) {
        if (cut > 0) { zeros[OFF + cut - 1] = s.data[cut - 1]; ones[OFF + cut - 1] = s.data[cut - 1]; }
        const a = decodeCut(p, s, zeros, cut);
        const b = decodeCut(p, s, ones, cut);
        assert.deepEqual(b, a, `${s.name} cut at ${cut}: reads past the captured bytes`);
        assert.ok(a.status >= 0 && a.status <= 3);
        const want = cut < headerEnd ? expectedCut(layers, full.stopIndex, cut, s.linkType) : null;
        if (want === null) {
          assert.deepEqual(a, whole, `${s.name} cut at ${cut} (payload only)`);
          continue;
        }
        cuts.add(want.layer);
        assert.equal(a.status, TRUNCATED, `${s.name} cut at ${cut} in ${want.layer}: status (reason '${a.reason}')`);
        assert.ok(a.reason.startsWith(want.reason), `${s.name} cut at ${cut} in ${want.layer}: reason '${a.reason}', expected '${want.reason}...'`);
        if (want.skipProto) delete a.fields['ip.proto'];
        assert.deepEqual(a.fields, want.fields, `${s.name} cut at ${cut} in ${want.layer}: fields of the layers before the cut`);
      }
      assert.ok(cuts.size > 0);
    });
  }

  test('clean up', () => { rmSync(dir, { recursive: true, force: true }); });
});
