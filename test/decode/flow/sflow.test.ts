// sFlow v5 decoder on hand-built datagrams: every expected value below is written by hand
// from the values put into the encoder (test/decode/flow/encode.ts), not read back from the
// decoder.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import type { FlowRecord } from '../../../src/decode/flow/common.ts';
import { SflowDecoder } from '../../../src/decode/flow/sflow.ts';
import {
  concat,
  countersSample,
  extendedSwitchRecord,
  flowSample,
  ifCountersRecord,
  rawHeaderRecord,
  sampledIpv4Record,
  sampledIpv6Record,
  sflowDatagram,
  W,
} from './encode.ts';

function run(dec: SflowDecoder, buf: Uint8Array, off = 0, len = buf.length - off) {
  const recs: FlowRecord[] = [];
  const status = dec.decode(buf, off, len, '192.0.2.99:6343', (r) => recs.push({ ...r }));
  return { status, recs };
}

// a 42-byte frame: Ethernet + IPv4 + UDP header (contents irrelevant to the decoder)
const FRAME = Uint8Array.from({ length: 42 }, (_, i) => (i * 7 + 3) & 0xff);

function mainDatagram(): Uint8Array {
  return sflowDatagram({ agent: '192.0.2.10', subAgent: 3, sequence: 1001, uptime: 123456789, samples: mainSamples() });
}

function mainSamples() {
  return [
      flowSample({
        sequence: 77,
        sourceType: 0,
        sourceIndex: 5,
        rate: 512,
        pool: 123456,
        drops: 3,
        input: 5,
        output: 7,
        records: [
          { enterprise: 4413, format: 5, body: new W().u32(1).u32(2).done() }, // vendor record: skipped
          rawHeaderRecord(1, 1518, 4, FRAME),
          { format: 2, body: new W().u32(1514).raw([0, 1, 2, 3, 4, 5, 0, 0, 6, 7, 8, 9, 10, 11, 0, 0]).u32(0x0800).done() }, // sampled_ethernet: not decoded
          extendedSwitchRecord(42, 3, 99, 5),
        ],
      }),
      countersSample({
        sequence: 9,
        sourceType: 0,
        sourceIndex: 5,
        records: [
          ifCountersRecord({
            index: 5,
            type: 6,
            speed: 10_000_000_000n,
            direction: 1,
            status: 3,
            inOctets: 1_099_511_627_781n, // 2^40 + 5
            inUcast: 1000,
            inMcast: 20,
            inBcast: 30,
            inDiscards: 4,
            inErrors: 5,
            inUnknown: 6,
            outOctets: 4_294_967_296n, // 2^32
            outUcast: 2000,
            outMcast: 21,
            outBcast: 31,
            outDiscards: 7,
            outErrors: 8,
            promisc: 2,
          }),
        ],
      }),
    { format: 5, body: new W().u32(0).u32(0).done() }, // discarded-packet sample: not decoded
  ];
}

describe('sFlow v5 decoder', () => {
  it('decodes the header, a flow sample with a raw header, and generic interface counters', () => {
    const dec = new SflowDecoder();
    const dg = mainDatagram();
    // put the datagram at an odd offset inside a larger buffer
    const buf = concat(Uint8Array.of(0xee, 0xee, 0xee, 0xee, 0xee, 0xee, 0xee), dg, Uint8Array.of(0xff, 0xff));
    const { status, recs } = run(dec, buf, 7, dg.length);
    assert.equal(status, 'ok');
    assert.equal(recs.length, 2);
    const s = recs[0]!;
    assert.equal(s.type, 'sample');
    if (s.type !== 'sample') return;
    assert.equal(s['flow.exporter'], '192.0.2.99:6343');
    assert.equal(s['sflow.agent'], '192.0.2.10');
    assert.equal(s['sflow.sub_agent'], 3);
    assert.equal(s['sflow.sequence'], 1001);
    assert.equal(s['sflow.uptime'], 123456789);
    assert.equal(s['sflow.sample_sequence'], 77);
    assert.equal(s['sflow.source_type'], 0);
    assert.equal(s['sflow.source_index'], 5);
    assert.equal(s['flow.sampling'], 512);
    assert.equal(s['sflow.sample_pool'], 123456);
    assert.equal(s['sflow.drops'], 3);
    assert.equal(s['flow.input'], 5);
    assert.equal(s['flow.output'], 7);
    assert.equal(s['sflow.header_protocol'], 1);
    assert.equal(s['sflow.frame_length'], 1518);
    assert.equal(s['sflow.stripped'], 4);
    assert.equal(s['flow.packets'], 1);
    assert.equal(s['flow.bytes'], 1518);
    assert.equal(s['vlan.id'], 42);
    assert.equal(s['vlan.out'], 99);
    assert.equal(s['ip.src'], null);
    // datagram header 28 + sample header 8 + flow sample fixed part 32 + vendor record 8+8
    // + raw header record header 8 + 16 => 7 + 108
    assert.equal(s['sflow.header_offset'], 7 + 108);
    assert.equal(s['sflow.header_length'], 42);
    const o = s['sflow.header_offset']!;
    assert.deepEqual(buf.subarray(o, o + s['sflow.header_length']!), FRAME);

    const k = recs[1]!;
    assert.equal(k.type, 'counters');
    if (k.type !== 'counters') return;
    assert.equal(k['sflow.agent'], '192.0.2.10');
    assert.equal(k['sflow.sample_sequence'], 9);
    assert.equal(k['sflow.source_index'], 5);
    assert.equal(k['if.index'], 5);
    assert.equal(k['if.type'], 6);
    assert.equal(k['if.speed'], 10_000_000_000);
    assert.equal(k['if.direction'], 1);
    assert.equal(k['if.status'], 3);
    assert.equal(k['if.in_octets'], 1_099_511_627_781);
    assert.equal(k['if.in_ucast'], 1000);
    assert.equal(k['if.in_mcast'], 20);
    assert.equal(k['if.in_bcast'], 30);
    assert.equal(k['if.in_discards'], 4);
    assert.equal(k['if.in_errors'], 5);
    assert.equal(k['if.in_unknown'], 6);
    assert.equal(k['if.out_octets'], 4_294_967_296);
    assert.equal(k['if.out_ucast'], 2000);
    assert.equal(k['if.out_mcast'], 21);
    assert.equal(k['if.out_bcast'], 31);
    assert.equal(k['if.out_discards'], 7);
    assert.equal(k['if.out_errors'], 8);
    assert.equal(k['if.promisc'], 2);

    assert.equal(dec.counters.datagrams, 1);
    assert.equal(dec.counters.records, 2);
    // vendor flow record + sampled_ethernet record + discarded-packet sample
    assert.equal(dec.counters.skipped['unknown-record'], 3);
  });

  it('decodes expanded samples, an IPv6 agent, sampled IPv4/IPv6 records and interface formats', () => {
    const dec = new SflowDecoder();
    const dg = sflowDatagram({
      agent: '2001:db8:0:0:0:0:0:10',
      subAgent: 0,
      sequence: 4294967295,
      uptime: 0,
      samples: [
        flowSample({
          expanded: true,
          sequence: 1,
          sourceType: 0,
          sourceIndex: 0x12345678,
          rate: 1,
          pool: 10,
          drops: 0,
          input: 0x9abcdef0,
          outputFormat: 2,
          output: 3, // "multiple interfaces: 3"
          records: [
            sampledIpv4Record({ length: 1500, protocol: 6, src: '10.1.2.3', dst: '10.4.5.6', sport: 12345, dport: 80, tcpFlags: 0x18, tos: 0x20 }),
          ],
        }),
        flowSample({
          sequence: 2,
          sourceType: 1,
          sourceIndex: 0xabcdef,
          rate: 2048,
          pool: 20,
          drops: 1,
          inputFormat: 1,
          input: 0x103, // discarded
          output: 0x3fffffff,
          records: [
            sampledIpv6Record({ length: 120, protocol: 17, src: 'fe80::1', dst: 'ff02::fb', sport: 5353, dport: 5353, tcpFlags: 0, priority: 0 }),
          ],
        }),
        countersSample({
          expanded: true,
          sequence: 3,
          sourceType: 0,
          sourceIndex: 0x01000000,
          records: [{ format: 2, body: new Uint8Array(52) }], // ethernet counters only: nothing to deliver
        }),
      ],
    });
    const { status, recs } = run(dec, dg);
    assert.equal(status, 'ok');
    assert.equal(recs.length, 2);
    const a = recs[0]!;
    const b = recs[1]!;
    if (a.type !== 'sample' || b.type !== 'sample') return assert.fail('not samples');
    assert.equal(a['sflow.agent'], '2001:db8::10');
    assert.equal(a['sflow.sequence'], 4294967295);
    assert.equal(a['sflow.source_index'], 0x12345678);
    assert.equal(a['flow.input'], 0x9abcdef0);
    assert.equal(a['flow.output'], null);
    assert.equal(a['sflow.output_format'], 2);
    assert.equal(a['sflow.output_value'], 3);
    assert.equal(a['sflow.header_offset'], null);
    assert.equal(a['ip.version'], 4);
    assert.equal(a['ip.src'], '10.1.2.3');
    assert.equal(a['ip.dst'], '10.4.5.6');
    assert.equal(a['ip.proto'], 6);
    assert.equal(a['tcp.sport'], 12345);
    assert.equal(a['tcp.dport'], 80);
    assert.equal(a['tcp.flags'], 0x18);
    assert.equal(a['udp.sport'], null);
    assert.equal(a['ip.tos'], 0x20);
    assert.equal(a['flow.bytes'], 1500);
    assert.equal(a['vlan.id'], null);

    assert.equal(b['sflow.source_type'], 1);
    assert.equal(b['sflow.source_index'], 0xabcdef);
    assert.equal(b['flow.sampling'], 2048);
    assert.equal(b['flow.input'], null);
    assert.equal(b['sflow.input_format'], 1);
    assert.equal(b['sflow.input_value'], 0x103);
    assert.equal(b['flow.output'], 0x3fffffff);
    assert.equal(b['ip.version'], 6);
    assert.equal(b['ip.src'], 'fe80::1');
    assert.equal(b['ip.dst'], 'ff02::fb');
    assert.equal(b['udp.sport'], 5353);
    assert.equal(b['udp.dport'], 5353);
    assert.equal(b['tcp.sport'], null);
    assert.equal(b['tcp.flags'], null);
    assert.equal(dec.counters.skipped['unknown-record'], 1);
  });

  it('rejects other versions without delivering anything', () => {
    const dec = new SflowDecoder();
    for (const version of [2, 4, 6, 0x05000000]) {
      const { status, recs } = run(dec, sflowDatagram({ ...mainDatagramSpec(), version }));
      assert.equal(status, 'bad-version');
      assert.equal(recs.length, 0);
    }
    assert.equal(dec.counters.skipped['bad-version'], 4);
    assert.equal(run(dec, new W().u32(5).u32(7).done()).status, 'malformed'); // unknown agent address type
  });

  it('reports a record overrunning its sample as malformed and still delivers the other samples', () => {
    const dec = new SflowDecoder();
    const bad = flowSample({ sequence: 1, sourceType: 0, sourceIndex: 1, rate: 1, pool: 1, drops: 0, input: 1, output: 2, records: [rawHeaderRecord(1, 60, 4, FRAME)] });
    // make the raw header record claim 200 bytes (its sample is much shorter)
    bad.body[32 + 7] = 200;
    const good = flowSample({ sequence: 2, sourceType: 0, sourceIndex: 1, rate: 1, pool: 2, drops: 0, input: 1, output: 2, records: [rawHeaderRecord(11, 60, 0, FRAME)] });
    const { status, recs } = run(dec, sflowDatagram({ agent: '192.0.2.1', subAgent: 0, sequence: 1, uptime: 1, samples: [bad, good] }));
    assert.equal(status, 'malformed');
    assert.equal(recs.length, 1);
    assert.equal(recs[0]!.type === 'sample' && recs[0]!['sflow.sample_sequence'], 2);
    assert.equal(dec.counters.skipped.malformed, 1);
  });

  it('reports truncation at every cut point without throwing', () => {
    const dec = new SflowDecoder();
    const dg = mainDatagram();
    // a sample is delivered only when the cut leaves it whole: 28-byte header, then samples
    // of 8 + body bytes each
    const ends: number[] = [];
    let e = 28;
    for (const smp of mainSamples()) ends.push((e += 8 + smp.body.length));
    assert.equal(ends[2], dg.length);
    for (let cut = 0; cut < dg.length; cut++) {
      const { status, recs } = run(dec, dg.subarray(0, cut));
      assert.equal(status, 'truncated', `cut at ${cut}`);
      assert.equal(recs.length, (cut >= ends[0]! ? 1 : 0) + (cut >= ends[1]! ? 1 : 0), `cut at ${cut}`);
      for (const r of recs) {
        if (r.type === 'sample' && r['sflow.header_offset'] !== null) {
          assert.ok(r['sflow.header_offset'] + r['sflow.header_length']! <= cut);
        }
      }
    }
    // the same cuts expressed through off/len on the full buffer
    for (let cut = 0; cut < dg.length; cut += 5) assert.equal(run(dec, dg, 0, cut).status, 'truncated');
    assert.equal(dec.counters.skipped.truncated, dg.length + Math.ceil(dg.length / 5));
  });
});

function mainDatagramSpec() {
  return { agent: '192.0.2.10', subAgent: 3, sequence: 1, uptime: 1, samples: [] };
}
