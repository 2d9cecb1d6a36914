// NetFlow v5 / v9 / IPFIX decoder on hand-built datagrams. Expected values are written by hand
// from the values given to the encoder (test/decode/flow/encode.ts); times are worked out in
// the comments.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import type { FlowRecord, NetflowRecord } from '../../../src/decode/flow/common.ts';
import { NetflowDecoder } from '../../../src/decode/flow/netflow.ts';
import {
  concat,
  dataRecord,
  ipfixMessage,
  ipfixOptionsTemplate,
  nf5,
  nf9,
  set,
  templateRecords,
  v9OptionsTemplate,
  W,
  type Field,
  type Nf5Record,
} from './encode.ts';

function run(dec: NetflowDecoder, buf: Uint8Array, exporter = '192.0.2.1:2055') {
  const recs: NetflowRecord[] = [];
  const status = dec.decode(buf, 0, buf.length, exporter, (r: FlowRecord) => {
    assert.equal(r.type, 'flow');
    if (r.type === 'flow') recs.push({ ...r });
  });
  return { status, recs };
}

// ------------------------------------------------------------------------------ NetFlow v5

const V5_BASE: Nf5Record = {
  src: '0.0.0.0',
  dst: '0.0.0.0',
  nexthop: '0.0.0.0',
  input: 0,
  output: 0,
  packets: 0,
  octets: 0,
  first: 0,
  last: 0,
  sport: 0,
  dport: 0,
  tcpFlags: 0,
  proto: 0,
  tos: 0,
  srcAs: 0,
  dstAs: 0,
  srcMask: 0,
  dstMask: 0,
};

function v5Datagram(): Uint8Array {
  return nf5({
    uptime: 3_600_000,
    secs: 1_700_000_000,
    nsecs: 250_000_000,
    sequence: 1234,
    engineType: 1,
    engineId: 2,
    sampling: (1 << 14) | 100, // mode 1, 1-in-100
    records: [
      { ...V5_BASE, src: '192.0.2.1', dst: '198.51.100.2', nexthop: '203.0.113.1', input: 3, output: 4, packets: 10, octets: 5000, first: 3_540_000, last: 3_599_000, sport: 40000, dport: 443, tcpFlags: 0x1b, proto: 6, tos: 0x10, srcAs: 64500, dstAs: 64501, srcMask: 24, dstMask: 16 },
      { ...V5_BASE, src: '198.51.100.2', dst: '192.0.2.1', packets: 1, octets: 56, first: 3_600_000, last: 3_600_000, dport: 0x0303, proto: 1 },
      { ...V5_BASE, src: '10.0.0.1', dst: '10.0.0.2', packets: 3, octets: 300, first: 1000, last: 2000, sport: 53, dport: 33000, tcpFlags: 0x02, proto: 17 },
    ],
  });
}

describe('NetFlow v5', () => {
  it('decodes header and records', () => {
    const dec = new NetflowDecoder();
    const { status, recs } = run(dec, v5Datagram());
    assert.equal(status, 'ok');
    assert.equal(recs.length, 3);
    const [a, b, c] = recs as [NetflowRecord, NetflowRecord, NetflowRecord];
    assert.equal(a['flow.format'], 'netflow5');
    assert.equal(a['flow.exporter'], '192.0.2.1:2055');
    assert.equal(a['flow.domain'], 0x0102);
    assert.equal(a['flow.sequence'], 1234);
    assert.equal(a['ip.version'], 4);
    assert.equal(a['ip.src'], '192.0.2.1');
    assert.equal(a['ip.dst'], '198.51.100.2');
    assert.equal(a['ip.proto'], 6);
    assert.equal(a['ip.tos'], 0x10);
    assert.equal(a['tcp.sport'], 40000);
    assert.equal(a['tcp.dport'], 443);
    assert.equal(a['udp.sport'], null);
    assert.equal(a['tcp.flags'], 0x1b);
    assert.equal(a['flow.packets'], 10);
    assert.equal(a['flow.bytes'], 5000);
    assert.equal(a['flow.input'], 3);
    assert.equal(a['flow.output'], 4);
    assert.equal(a['flow.sampling'], 100);
    // export time 1_700_000_000.25; First is 60 s before the header's uptime, Last 1 s before
    assert.equal(a['flow.start'], 1_699_999_940.25);
    assert.equal(a['flow.end'], 1_699_999_999.25);
    assert.equal(a['vlan.id'], null);
    // ICMP: type 3 code 3 carried in the destination port
    assert.equal(b['ip.proto'], 1);
    assert.equal(b['icmp.type'], 3);
    assert.equal(b['icmp.code'], 3);
    assert.equal(b['tcp.dport'], null);
    assert.equal(b['udp.dport'], null);
    assert.equal(b['tcp.flags'], null);
    assert.equal(b['flow.start'], 1_700_000_000.25);
    // UDP: ports under udp.*, flags byte ignored
    assert.equal(c['udp.sport'], 53);
    assert.equal(c['udp.dport'], 33000);
    assert.equal(c['tcp.sport'], null);
    assert.equal(c['tcp.flags'], null);
    assert.equal(c['flow.start'], 1_700_000_000.25 - 3599);
    assert.equal(dec.counters.records, 3);
  });

  it('places First/Last across a sysUptime wrap', () => {
    const dec = new NetflowDecoder();
    const dg = nf5({
      uptime: 500,
      secs: 1_700_000_000,
      nsecs: 0,
      sequence: 1,
      engineType: 0,
      engineId: 0,
      sampling: 0,
      // First = 2^32 - 200 ms: 700 ms before the header's uptime of 500 ms, across the wrap
      records: [{ ...V5_BASE, src: '10.0.0.1', dst: '10.0.0.2', proto: 17, first: 4_294_967_096, last: 400 }],
    });
    const { recs } = run(dec, dg);
    assert.equal(recs[0]!['flow.start'], 1_700_000_000 - 0.7);
    assert.equal(recs[0]!['flow.end'], 1_700_000_000 - 0.1);
    assert.equal(recs[0]!['flow.sampling'], null);
  });

  it('reports truncation at every cut point', () => {
    const dec = new NetflowDecoder();
    const dg = v5Datagram();
    for (let cut = 0; cut < dg.length; cut++) {
      const { status, recs } = run(dec, dg.subarray(0, cut));
      assert.equal(status, 'truncated', `cut at ${cut}`);
      // 24-byte header then 48-byte records: whole records before the cut are delivered
      assert.equal(recs.length, Math.max(0, Math.floor((cut - 24) / 48)), `cut at ${cut}`);
    }
  });
});

// ------------------------------------------------------------------------------ NetFlow v9

const V9_T256: Field[] = [
  { ie: 8, len: 4 }, // IPV4_SRC_ADDR
  { ie: 12, len: 4 }, // IPV4_DST_ADDR
  { ie: 4, len: 1 }, // PROTOCOL
  { ie: 7, len: 2 }, // L4_SRC_PORT
  { ie: 11, len: 2 }, // L4_DST_PORT
  { ie: 6, len: 1 }, // TCP_FLAGS
  { ie: 5, len: 1 }, // SRC_TOS
  { ie: 2, len: 4 }, // IN_PKTS
  { ie: 1, len: 8 }, // IN_BYTES (8 bytes)
  { ie: 10, len: 2 }, // INPUT_SNMP
  { ie: 14, len: 2 }, // OUTPUT_SNMP
  { ie: 22, len: 4 }, // FIRST_SWITCHED
  { ie: 21, len: 4 }, // LAST_SWITCHED
  { ie: 58, len: 2 }, // SRC_VLAN
  { ie: 99, len: 3 }, // something this decoder does not know
];

function v9Data256(): Uint8Array {
  return concat(
    dataRecord(V9_T256, ['192.0.2.1', '198.51.100.7', 6, 51000, 443, 0x12, 0xb8, 7, 1_099_511_627_776n, 11, 12, 9_990_000, 9_999_500, 100, 0xabcdef], false),
    dataRecord(V9_T256, ['192.0.2.53', '192.0.2.1', 17, 53, 40001, 0, 0, 1, 80, 11, 12, 10_000_000, 10_000_000, 4095, 0], false),
  );
}

/** Template flowset + data flowset (padded) in one datagram. */
function v9Datagram(sourceId = 7): Uint8Array {
  return nf9({
    uptime: 10_000_000,
    secs: 1_700_000_100,
    sequence: 55,
    sourceId,
    count: 3,
    sets: [set(0, templateRecords([{ id: 256, fields: V9_T256 }], false)), set(256, v9Data256(), 4)],
  });
}

describe('NetFlow v9', () => {
  it('decodes a template and the data that uses it', () => {
    const dec = new NetflowDecoder();
    const { status, recs } = run(dec, v9Datagram());
    assert.equal(status, 'ok');
    assert.equal(recs.length, 2);
    const [a, b] = recs as [NetflowRecord, NetflowRecord];
    assert.equal(a['flow.format'], 'netflow9');
    assert.equal(a['flow.domain'], 7);
    assert.equal(a['flow.sequence'], 55);
    assert.equal(a['ip.src'], '192.0.2.1');
    assert.equal(a['ip.dst'], '198.51.100.7');
    assert.equal(a['ip.proto'], 6);
    assert.equal(a['tcp.sport'], 51000);
    assert.equal(a['tcp.dport'], 443);
    assert.equal(a['tcp.flags'], 0x12);
    assert.equal(a['ip.tos'], 0xb8);
    assert.equal(a['flow.packets'], 7);
    assert.equal(a['flow.bytes'], 1_099_511_627_776);
    assert.equal(a['flow.input'], 11);
    assert.equal(a['flow.output'], 12);
    assert.equal(a['vlan.id'], 100);
    // header: uptime 10_000 s at unix 1_700_000_100; FIRST 10 s and LAST 0.5 s before that
    assert.equal(a['flow.start'], 1_700_000_090);
    assert.equal(a['flow.end'], 1_700_000_099.5);
    assert.equal(b['udp.sport'], 53);
    assert.equal(b['udp.dport'], 40001);
    assert.equal(b['tcp.sport'], null);
    assert.equal(b['tcp.flags'], null);
    assert.equal(b['vlan.id'], 4095);
    assert.equal(b['flow.start'], 1_700_000_100);
    assert.equal(dec.counters.templates, 1);
  });

  it('counts data that arrives before its template, then decodes it once the template is known', () => {
    const dec = new NetflowDecoder();
    // data set first, template after it in the same datagram: the data cannot be decoded
    const early = nf9({
      uptime: 10_000_000,
      secs: 1_700_000_100,
      sequence: 1,
      sourceId: 7,
      count: 3,
      sets: [set(256, v9Data256()), set(0, templateRecords([{ id: 256, fields: V9_T256 }], false))],
    });
    let r = run(dec, early);
    assert.equal(r.status, 'ok');
    assert.equal(r.recs.length, 0);
    assert.equal(dec.counters.skipped['no-template'], 1);
    r = run(dec, nf9({ uptime: 10_000_000, secs: 1_700_000_100, sequence: 2, sourceId: 7, count: 2, sets: [set(256, v9Data256())] }));
    assert.equal(r.status, 'ok');
    assert.equal(r.recs.length, 2);
  });

  it('keeps templates per exporter and per source id', () => {
    const dec = new NetflowDecoder();
    assert.equal(run(dec, v9Datagram(7), 'A:2055').recs.length, 2);
    // exporter B uses the same template id with another layout
    const tB: Field[] = [
      { ie: 12, len: 4 },
      { ie: 8, len: 4 },
      { ie: 2, len: 4 },
      { ie: 1, len: 4 },
      { ie: 4, len: 1 },
    ];
    const dgB = nf9({
      uptime: 1000,
      secs: 1_700_000_000,
      sequence: 1,
      sourceId: 7,
      count: 2,
      sets: [set(0, templateRecords([{ id: 256, fields: tB }], false)), set(256, dataRecord(tB, ['10.9.9.9', '10.8.8.8', 5, 500, 47], false), 4)],
    });
    const rB = run(dec, dgB, 'B:2055');
    assert.equal(rB.recs.length, 1);
    assert.equal(rB.recs[0]!['ip.src'], '10.8.8.8');
    assert.equal(rB.recs[0]!['ip.dst'], '10.9.9.9');
    assert.equal(rB.recs[0]!['ip.proto'], 47);
    assert.equal(rB.recs[0]!['flow.bytes'], 500);
    // exporter A's template 256 is unchanged
    const dataOnly = (sourceId: number) =>
      nf9({ uptime: 10_000_000, secs: 1_700_000_100, sequence: 3, sourceId, count: 2, sets: [set(256, v9Data256())] });
    const rA = run(dec, dataOnly(7), 'A:2055');
    assert.equal(rA.recs.length, 2);
    assert.equal(rA.recs[0]!['ip.src'], '192.0.2.1');
    // same exporter, other source id: no template
    assert.equal(run(dec, dataOnly(8), 'A:2055').recs.length, 0);
    assert.equal(dec.counters.skipped['no-template'], 1);
    assert.equal(dec.sessionCount, 3);
  });

  it('parses options templates and applies the sampling interval from options data', () => {
    const dec = new NetflowDecoder();
    const scope: Field[] = [{ ie: 1, len: 4 }]; // scope "system"
    const opts: Field[] = [
      { ie: 34, len: 4 }, // SAMPLING_INTERVAL
      { ie: 35, len: 1 }, // SAMPLING_ALGORITHM
    ];
    const dg = nf9({
      uptime: 10_000_000,
      secs: 1_700_000_100,
      sequence: 9,
      sourceId: 7,
      count: 5,
      sets: [
        set(1, v9OptionsTemplate(300, scope, opts), 4),
        set(300, dataRecord([...scope, ...opts], [0xc0000201, 64, 2], false), 4),
        set(0, templateRecords([{ id: 256, fields: V9_T256 }], false)),
        set(256, v9Data256()),
      ],
    });
    const { status, recs } = run(dec, dg);
    assert.equal(status, 'ok');
    assert.equal(recs.length, 2);
    assert.equal(recs[0]!['flow.sampling'], 64);
    assert.equal(recs[0]!['flow.bytes'], 1_099_511_627_776);
    assert.equal(dec.counters.optionRecords, 1);
    assert.equal(dec.counters.templates, 2);
  });

  it('reports truncation at every cut point, including cuts on a flowset boundary', () => {
    const dec = new NetflowDecoder();
    const dg = v9Datagram();
    for (let cut = 0; cut < dg.length; cut++) {
      const fresh = new NetflowDecoder();
      const { status } = run(fresh, dg.subarray(0, cut));
      assert.equal(status, 'truncated', `cut at ${cut}`);
    }
    assert.equal(run(dec, dg).status, 'ok');
  });

  it('flags malformed flowsets', () => {
    const dec = new NetflowDecoder();
    const shortSet = nf9({ uptime: 1, secs: 1, sequence: 1, sourceId: 1, count: 1, sets: [new W().u16(256).u16(2).done()] });
    assert.equal(run(dec, shortSet).status, 'malformed');
    const lowId = nf9({ uptime: 1, secs: 1, sequence: 1, sourceId: 1, count: 1, sets: [set(0, templateRecords([{ id: 200, fields: [{ ie: 8, len: 4 }] }], false))] });
    assert.equal(run(dec, lowId).status, 'malformed');
    assert.equal(dec.counters.skipped.malformed, 2);
  });
});

// ------------------------------------------------------------------------------ IPFIX

const T400: Field[] = [
  { ie: 8, len: 4 }, // sourceIPv4Address
  { ie: 12, len: 4 }, // destinationIPv4Address
  { ie: 4, len: 1 }, // protocolIdentifier
  { ie: 7, len: 2 }, // sourceTransportPort
  { ie: 11, len: 2 }, // destinationTransportPort
  { ie: 6, len: 2 }, // tcpControlBits (2 bytes)
  { ie: 1, len: 4, enterprise: 9 }, // an enterprise-specific element: skipped
  { ie: 1, len: 4 }, // octetDeltaCount, reduced-size encoding
  { ie: 2, len: 2 }, // packetDeltaCount, reduced-size encoding
  { ie: 152, len: 8 }, // flowStartMilliseconds
  { ie: 153, len: 8 }, // flowEndMilliseconds
  { ie: 82, len: 0xffff }, // interfaceName, variable length
  { ie: 243, len: 2 }, // dot1qVlanId
  { ie: 10, len: 4 }, // ingressInterface
  { ie: 14, len: 4 }, // egressInterface
  { ie: 5, len: 1 }, // ipClassOfService
];

const T401: Field[] = [
  { ie: 27, len: 16 }, // sourceIPv6Address
  { ie: 28, len: 16 }, // destinationIPv6Address
  { ie: 4, len: 1 },
  { ie: 139, len: 2 }, // icmpTypeCodeIPv6
  { ie: 2, len: 8 },
  { ie: 1, len: 8 },
  { ie: 154, len: 8 }, // flowStartMicroseconds (NTP format)
  { ie: 155, len: 8 }, // flowEndMicroseconds
];

const T402: Field[] = [
  { ie: 8, len: 4 },
  { ie: 12, len: 4 },
  { ie: 4, len: 1 },
  { ie: 180, len: 2 }, // udpSourcePort
  { ie: 181, len: 2 }, // udpDestinationPort
  { ie: 2, len: 4 },
  { ie: 1, len: 4 },
  { ie: 22, len: 4 }, // flowStartSysUpTime
  { ie: 21, len: 4 }, // flowEndSysUpTime
];

const T403: Field[] = [
  { ie: 8, len: 4 },
  { ie: 12, len: 4 },
  { ie: 4, len: 1 },
  { ie: 160, len: 8 }, // systemInitTimeMilliseconds, in the record itself
  { ie: 22, len: 4 },
  { ie: 21, len: 4 },
];

const OPT_SCOPE: Field[] = [{ ie: 149, len: 4 }]; // observationDomainId
const OPT_FIELDS: Field[] = [
  { ie: 160, len: 8 }, // systemInitTimeMilliseconds
  { ie: 305, len: 4 }, // samplingPacketInterval
];

const EXPORT = 1_700_000_200;
const INIT_MS = 1_699_990_000_000;

function ipfixFull(): Uint8Array {
  return ipfixMessage({
    exportTime: EXPORT,
    sequence: 1000,
    domain: 42,
    sets: [
      set(2, templateRecords([{ id: 400, fields: T400 }, { id: 401, fields: T401 }, { id: 402, fields: T402 }, { id: 403, fields: T403 }], true)),
      set(3, ipfixOptionsTemplate(500, OPT_SCOPE, OPT_FIELDS), 4),
      set(500, dataRecord([...OPT_SCOPE, ...OPT_FIELDS], [42, BigInt(INIT_MS), 10], true)),
      set(
        400,
        concat(
          dataRecord(T400, ['192.0.2.1', '192.0.2.2', 6, 1234, 80, 0x5012, 0xdeadbeef, 70000, 65535, 1_699_999_999_001n, 1_700_000_000_999n, 'eth0.', 7, 1, 2, 0x28], true),
          dataRecord(T400, ['192.0.2.2', '192.0.2.1', 6, 80, 1234, 0x0011, 0, 3, 2, 1_700_000_000_000n, 1_700_000_000_500n, 'x'.repeat(300), 4094, 2, 1, 0], true),
        ),
        4,
      ),
      set(
        401,
        dataRecord(T401, ['2001:db8::1', '2001:db8:0:0:1:0:0:1', 58, 0x8000, 4, 416, [0xe8, 0xfe, 0x6f, 0x76, 0x80, 0, 0, 0], [0xe8, 0xfe, 0x6f, 0x77, 0x40, 0, 0, 0]].map(toValue), true),
      ),
      // flowStartSysUpTime 9_000 s, flowEndSysUpTime 9_500.5 s after init (options data)
      set(402, dataRecord(T402, ['10.0.0.1', '10.0.0.2', 17, 5353, 53, 2, 120, 9_000_000, 9_500_500], true)),
      // init 1_690_000_000_000 ms is ~116 days before export: the uptime has wrapped twice.
      // Start 1 s before export: (1_700_000_199_000 - 1_690_000_000_000) mod 2^32 = 1_410_264_408
      set(403, dataRecord(T403, ['10.0.0.3', '10.0.0.4', 47, 1_690_000_000_000n, 1_410_264_408, 1_410_265_408], true)),
    ],
  });
}

function toValue(v: unknown) {
  return Array.isArray(v) ? Uint8Array.from(v) : (v as number | string);
}

describe('IPFIX', () => {
  it('decodes templates, options, enterprise and variable-length fields, reduced-size integers and times', () => {
    const dec = new NetflowDecoder();
    const { status, recs } = run(dec, ipfixFull(), '192.0.2.9:4739');
    assert.equal(status, 'ok');
    assert.equal(recs.length, 5);
    const [a, b, c, d, e] = recs as [NetflowRecord, NetflowRecord, NetflowRecord, NetflowRecord, NetflowRecord];
    assert.equal(a['flow.format'], 'ipfix');
    assert.equal(a['flow.domain'], 42);
    assert.equal(a['flow.sequence'], 1000);
    assert.equal(a['ip.src'], '192.0.2.1');
    assert.equal(a['ip.dst'], '192.0.2.2');
    assert.equal(a['tcp.sport'], 1234);
    assert.equal(a['tcp.dport'], 80);
    assert.equal(a['tcp.flags'], 0x012); // header-length nibble of the 2-byte field dropped
    assert.equal(a['flow.bytes'], 70000);
    assert.equal(a['flow.packets'], 65535);
    assert.equal(a['flow.start'], 1_699_999_999.001);
    assert.equal(a['flow.end'], 1_700_000_000.999);
    assert.equal(a['vlan.id'], 7);
    assert.equal(a['flow.input'], 1);
    assert.equal(a['flow.output'], 2);
    assert.equal(a['ip.tos'], 0x28);
    assert.equal(a['flow.sampling'], 10); // from options data
    // the second record follows a 300-byte variable-length field (long form)
    assert.equal(b['ip.src'], '192.0.2.2');
    assert.equal(b['tcp.flags'], 0x11);
    assert.equal(b['vlan.id'], 4094);
    assert.equal(b['ip.tos'], 0);
    assert.equal(b['flow.end'], 1_700_000_000.5);
    // IPv6 + ICMPv6 echo request (type 128 code 0); NTP 0xe8fe6f76.8 (1900 epoch) = 1_699_999_990.5 Unix
    assert.equal(c['ip.version'], 6);
    assert.equal(c['ip.src'], '2001:db8::1');
    assert.equal(c['ip.dst'], '2001:db8::1:0:0:1');
    assert.equal(c['ip.proto'], 58);
    assert.equal(c['icmp.type'], 128);
    assert.equal(c['icmp.code'], 0);
    assert.equal(c['flow.packets'], 4);
    assert.equal(c['flow.bytes'], 416);
    assert.equal(c['flow.start'], 1_699_999_990.5);
    assert.equal(c['flow.end'], 1_699_999_991.25);
    // sysUpTime relative to systemInitTimeMilliseconds from options data
    assert.equal(d['udp.sport'], 5353);
    assert.equal(d['udp.dport'], 53);
    assert.equal(d['flow.start'], 1_699_999_000);
    assert.equal(d['flow.end'], 1_699_999_500.5);
    // sysUpTime that wrapped, with the init time inside the record
    assert.equal(e['ip.proto'], 47);
    assert.equal(e['flow.start'], EXPORT - 1);
    assert.equal(e['flow.end'], EXPORT);
    assert.equal(e['tcp.sport'], null);
    assert.equal(dec.counters.templates, 5);
    assert.equal(dec.counters.optionRecords, 1);
  });

  it('honours template withdrawal, withdraw-all and options withdraw-all', () => {
    const dec = new NetflowDecoder();
    assert.equal(run(dec, ipfixFull()).recs.length, 5);
    const data402 = set(402, dataRecord(T402, ['10.0.0.1', '10.0.0.2', 17, 1, 2, 3, 4, 5, 6], true));
    const data400 = set(400, dataRecord(T400, ['192.0.2.1', '192.0.2.2', 6, 1, 2, 0, 0, 1, 1, 1n, 1n, '', 0, 0, 0, 0], true));
    // withdraw 400 only, then data for 400 and 402 in the same message
    let r = run(dec, ipfixMessage({ exportTime: EXPORT, sequence: 1, domain: 42, sets: [set(2, templateRecords([{ id: 400, fields: [] }], true)), data400, data402] }));
    assert.equal(r.status, 'ok');
    assert.equal(r.recs.length, 1);
    assert.equal(r.recs[0]!['udp.sport'], 1);
    assert.equal(dec.counters.withdrawn, 1);
    assert.equal(dec.counters.skipped['no-template'], 1);
    // withdraw all templates (id 2): 401, 402, 403 go, the options template 500 stays
    r = run(dec, ipfixMessage({ exportTime: EXPORT, sequence: 2, domain: 42, sets: [set(2, templateRecords([{ id: 2, fields: [] }], true)), data402] }));
    assert.equal(r.recs.length, 0);
    assert.equal(dec.counters.withdrawn, 4);
    const opt = set(500, dataRecord([...OPT_SCOPE, ...OPT_FIELDS], [42, 1n, 1], true));
    r = run(dec, ipfixMessage({ exportTime: EXPORT, sequence: 3, domain: 42, sets: [opt] }));
    assert.equal(dec.counters.optionRecords, 2);
    // withdraw all options templates (id 3)
    r = run(dec, ipfixMessage({ exportTime: EXPORT, sequence: 4, domain: 42, sets: [set(3, ipfixOptionsTemplate(3, [], [])), opt] }));
    assert.equal(dec.counters.withdrawn, 5);
    assert.equal(dec.counters.optionRecords, 2);
    assert.equal(dec.counters.skipped['no-template'], 3);
  });

  it('expires templates not refreshed within their lifetime (exporter clock)', () => {
    const dec = new NetflowDecoder({ templateLifetime: 100 });
    const tpl = set(2, templateRecords([{ id: 402, fields: T402 }], true));
    const data = set(402, dataRecord(T402, ['10.0.0.1', '10.0.0.2', 17, 1, 2, 3, 4, 5, 6], true));
    const msg = (t: number, ...sets: Uint8Array[]) => ipfixMessage({ exportTime: t, sequence: 0, domain: 1, sets });
    assert.equal(run(dec, msg(1000, tpl, data)).recs.length, 1);
    assert.equal(run(dec, msg(1100, data)).recs.length, 1); // 100 s old: still valid
    assert.equal(run(dec, msg(1050, tpl)).recs.length, 0); // refresh (an older export time is fine)
    assert.equal(run(dec, msg(1150, data)).recs.length, 1);
    assert.equal(dec.counters.expired, 0);
    assert.equal(run(dec, msg(1151, data)).recs.length, 0); // 101 s after the refresh
    assert.equal(dec.counters.expired, 1);
    assert.equal(dec.counters.skipped['no-template'], 1);
  });

  it('decodes several messages in one buffer and several observation domains', () => {
    const dec = new NetflowDecoder();
    const tpl = set(2, templateRecords([{ id: 402, fields: T402 }], true));
    const m1 = ipfixMessage({ exportTime: EXPORT, sequence: 1, domain: 1, sets: [tpl, set(402, dataRecord(T402, ['10.0.0.1', '10.0.0.2', 17, 1, 2, 3, 4, 5, 6], true))] });
    const m2 = ipfixMessage({ exportTime: EXPORT, sequence: 2, domain: 2, sets: [set(402, dataRecord(T402, ['10.0.0.3', '10.0.0.4', 17, 1, 2, 3, 4, 5, 6], true))] });
    const { status, recs } = run(dec, concat(m1, m2));
    assert.equal(status, 'ok');
    assert.equal(recs.length, 1); // domain 2 has no template
    assert.equal(recs[0]!['flow.domain'], 1);
    assert.equal(dec.counters.skipped['no-template'], 1);
  });

  it('reports truncation at every cut point without throwing', () => {
    const dg = ipfixFull();
    for (let cut = 0; cut < dg.length; cut++) {
      const dec = new NetflowDecoder();
      const { status } = run(dec, dg.subarray(0, cut));
      assert.equal(status, 'truncated', `cut at ${cut}`);
    }
  });

  it('rejects bad versions and malformed sets', () => {
    const dec = new NetflowDecoder();
    for (const v of [0, 1, 6, 7, 8, 11, 0x0a00]) {
      const b = new W().u16(v).u16(24).raw(new Uint8Array(40)).done();
      assert.equal(run(dec, b).status, 'bad-version');
    }
    assert.equal(dec.counters.skipped['bad-version'], 7);
    const m = (sets: Uint8Array[], length?: number) => ipfixMessage({ exportTime: 1, sequence: 1, domain: 1, sets, length });
    assert.equal(run(dec, m([new W().u16(2).u16(3).done()])).status, 'malformed'); // set length < 4
    assert.equal(run(dec, m([set(2, templateRecords([{ id: 17, fields: [{ ie: 8, len: 4 }] }], true))])).status, 'malformed');
    assert.equal(run(dec, m([], 12)).status, 'malformed'); // message length < header
    // options template with scope count 0
    assert.equal(run(dec, m([set(3, new W().u16(600).u16(1).u16(0).u16(8).u16(4).done())])).status, 'malformed');
    // a variable-length field running past the set
    const tv: Field[] = [{ ie: 82, len: 0xffff }];
    const over = m([set(2, templateRecords([{ id: 700, fields: tv }], true)), set(700, new W().u8(20).raw([1, 2, 3]).done())]);
    assert.equal(run(dec, over).status, 'malformed');
  });
});
