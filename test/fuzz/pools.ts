/**
 * Seed material of the fuzzer, loaded once per process: the real captures in test/captures,
 * test/fixtures/int and test/fixtures/flow (whole files, cut to a bounded prefix, and their
 * first packets), the UDP payloads of the flow fixtures, and datagrams built by the flow
 * decoders' own test encoders (test/decode/flow/encode.ts). Everything here is read in a fixed
 * order, so that the inputs drawn from it depend on the seed alone.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CaptureFileSource } from '../../src/sources/capture-file-source.ts';
import { memoryInput } from '../sources/capture-reading.ts';
import { encodeReport, encodeReportFrame, type HopValues, type TrVersion } from '../../src/gen/int-gen.ts';
import {
  concat, countersSample, dataRecord, extendedSwitchRecord, flowSample, ifCountersRecord, ipfixMessage,
  ipfixOptionsTemplate, nf5, nf9, rawHeaderRecord, sampledIpv4Record, sampledIpv6Record, set, sflowDatagram,
  templateRecords, v9OptionsTemplate, type Field,
} from '../decode/flow/encode.ts';

const ROOT = fileURLToPath(new URL('../', import.meta.url));
/** Files larger than this are cut to their first bytes (the records there are what matters). */
const FILE_PREFIX = 48 << 10;
const PACKETS_PER_FILE = 24;

export interface SeedPacket { data: Uint8Array; wireLen: number; linkType: number; from: string }
export interface SeedFile { bytes: Uint8Array; from: string }
/** A sequence of datagrams to one pair of fresh decoders (templates come before their data). */
export interface SeedFlow { datagrams: Uint8Array[]; from: string }

export interface Pools {
  files: SeedFile[];
  packets: SeedPacket[];
  /** Ethernet packets only (for the kernel-filter check and the raw pre-filter). */
  ethernet: SeedPacket[];
  flows: SeedFlow[];
}

function captureFiles(): string[] {
  const out: string[] = [];
  const caps = join(ROOT, 'captures');
  for (const d of readdirSync(caps).sort()) {
    const dir = join(caps, d);
    if (!statSync(dir).isDirectory()) continue;
    for (const f of readdirSync(dir).sort()) if (/\.pcap(ng)?$/.test(f)) out.push(join(dir, f));
  }
  for (const d of ['int', 'flow']) {
    const dir = join(ROOT, 'fixtures', d);
    for (const f of readdirSync(dir).sort()) if (/\.pcap(ng)?$/.test(f)) out.push(join(dir, f));
  }
  return out;
}

/** The first packets of a capture through the real reader (files it refuses give none). */
async function firstPackets(bytes: Uint8Array, from: string, n: number): Promise<SeedPacket[]> {
  const out: SeedPacket[] = [];
  const src = new CaptureFileSource(from, from, memoryInput(bytes), 64);
  try {
    await src.open();
    for (let b; out.length < n && (b = await src.nextBatch());) {
      for (let i = 0; i < b.count && out.length < n; i++) {
        out.push({ data: b.buf.slice(b.dataOff[i], b.dataOff[i] + b.capLen[i]), wireLen: b.wireLen[i], linkType: b.linkType[i], from: `${from}#${out.length + 1}` });
      }
    }
  } catch { /* malformed/: their header is the point */ }
  return out;
}

/** Classic-pcap UDP payloads (Ethernet/IPv4/UDP without options, as the flow fixtures are). */
function udpPayloads(bytes: Uint8Array): Uint8Array[] {
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const le = v.getUint32(0, true) === 0xa1b2c3d4 || v.getUint32(0, true) === 0xa1b23c4d;
  const out: Uint8Array[] = [];
  for (let o = 24; o + 16 <= bytes.length;) {
    const cap = v.getUint32(o + 8, le);
    if (o + 16 + cap > bytes.length) break;
    if (cap > 42) out.push(bytes.slice(o + 16 + 42, o + 16 + cap));
    o += 16 + cap;
  }
  return out;
}

/** Datagrams built with the flow decoders' test encoders (also the seeds of test/decode/flow/fuzz.test.ts). */
export function builtFlows(): SeedFlow[] {
  const frame = Uint8Array.from({ length: 64 }, (_, i) => i);
  const sf = sflowDatagram({
    agent: '192.0.2.1', subAgent: 1, sequence: 1, uptime: 1,
    samples: [
      flowSample({ sequence: 1, sourceType: 0, sourceIndex: 1, rate: 10, pool: 10, drops: 0, input: 1, output: 2, records: [rawHeaderRecord(1, 68, 4, frame), extendedSwitchRecord(1, 0, 2, 0)] }),
      flowSample({ expanded: true, sequence: 2, sourceType: 0, sourceIndex: 1, rate: 10, pool: 20, drops: 0, input: 1, output: 2, records: [sampledIpv4Record({ length: 60, protocol: 6, src: '10.0.0.1', dst: '10.0.0.2', sport: 1, dport: 2, tcpFlags: 2, tos: 0 })] }),
      countersSample({ sequence: 1, sourceType: 0, sourceIndex: 1, records: [ifCountersRecord({ index: 1, type: 6, speed: 1n, direction: 1, status: 3, inOctets: 1n, inUcast: 1, inMcast: 1, inBcast: 1, inDiscards: 1, inErrors: 1, inUnknown: 1, outOctets: 1n, outUcast: 1, outMcast: 1, outBcast: 1, outDiscards: 1, outErrors: 1, promisc: 1 })] }),
    ],
  });
  const sf6 = sflowDatagram({
    agent: '2001:db8::1', subAgent: 0, sequence: 2, uptime: 2,
    samples: [flowSample({ sequence: 3, sourceType: 0, sourceIndex: 1, rate: 1, pool: 1, drops: 0, input: 1, output: 2, records: [sampledIpv6Record({ length: 60, protocol: 17, src: 'fe80::1', dst: 'ff02::1', sport: 1, dport: 2, tcpFlags: 0, priority: 0 })] })],
  });
  const r5 = { src: '10.0.0.1', dst: '10.0.0.2', nexthop: '0.0.0.0', input: 1, output: 2, packets: 3, octets: 4, first: 5, last: 6, sport: 7, dport: 8, tcpFlags: 2, proto: 6, tos: 0, srcAs: 0, dstAs: 0, srcMask: 0, dstMask: 0 };
  const v5 = nf5({ uptime: 10, secs: 1e9, nsecs: 0, sequence: 1, engineType: 0, engineId: 0, sampling: 0, records: [r5, { ...r5, proto: 1 }] });
  const t: Field[] = [{ ie: 8, len: 4 }, { ie: 12, len: 4 }, { ie: 4, len: 1 }, { ie: 7, len: 2 }, { ie: 11, len: 2 }, { ie: 2, len: 4 }, { ie: 1, len: 4 }, { ie: 22, len: 4 }, { ie: 21, len: 4 }];
  const tv: Field[] = [{ ie: 27, len: 16 }, { ie: 28, len: 16 }, { ie: 82, len: 0xffff }, { ie: 1, len: 4, enterprise: 9 }, { ie: 152, len: 8 }, { ie: 154, len: 8 }, { ie: 160, len: 8 }];
  const v9 = nf9({
    uptime: 100, secs: 1e9, sequence: 1, sourceId: 1, count: 4,
    sets: [set(0, templateRecords([{ id: 256, fields: t }], false)), set(1, v9OptionsTemplate(257, [{ ie: 1, len: 4 }], [{ ie: 34, len: 4 }]), 4), set(257, dataRecord([{ ie: 1, len: 4 }, { ie: 34, len: 4 }], [0, 5], false)), set(256, dataRecord(t, ['10.0.0.1', '10.0.0.2', 17, 1, 2, 3, 4, 5, 6], false), 4)],
  });
  const ipfix = concat(
    ipfixMessage({
      exportTime: 1e9, sequence: 1, domain: 1,
      sets: [
        set(2, templateRecords([{ id: 256, fields: t }, { id: 258, fields: tv }], true)),
        set(3, ipfixOptionsTemplate(259, [{ ie: 149, len: 4 }], [{ ie: 160, len: 8 }])),
        set(259, dataRecord([{ ie: 149, len: 4 }, { ie: 160, len: 8 }], [1, 999_000_000_000n], true)),
        set(256, dataRecord(t, ['10.0.0.1', '10.0.0.2', 17, 1, 2, 3, 4, 5, 6], true)),
        set(258, concat(dataRecord(tv, ['::1', '::2', 'abc', 1, 1n, 1n, 1n], true), dataRecord(tv, ['::1', '::2', 'x'.repeat(260), 1, 1n, 1n, 1n], true))),
      ],
    }),
    ipfixMessage({ exportTime: 1e9, sequence: 2, domain: 1, sets: [set(2, templateRecords([{ id: 256, fields: [] }], true))] }),
  );
  // templates in one datagram, their data in the next (the decoder's state carries over)
  const ipfixSplit = [
    ipfixMessage({ exportTime: 1e9, sequence: 1, domain: 7, sets: [set(2, templateRecords([{ id: 300, fields: t }], true))] }),
    ipfixMessage({ exportTime: 1e9, sequence: 2, domain: 7, sets: [set(300, dataRecord(t, ['10.1.0.1', '10.1.0.2', 6, 80, 443, 3, 4, 5, 6], true))] }),
  ];
  return [
    { datagrams: [sf], from: 'built:sflow' }, { datagrams: [sf6], from: 'built:sflow6' }, { datagrams: [v5], from: 'built:nf5' },
    { datagrams: [v9], from: 'built:nf9' }, { datagrams: [ipfix], from: 'built:ipfix' }, { datagrams: ipfixSplit, from: 'built:ipfix-split' },
  ];
}

/** INT report frames (Ethernet/IPv4/UDP to port 32766) of each report version, for the packet pool. */
function intFrames(): SeedPacket[] {
  const out: SeedPacket[] = [];
  for (const v of ['0.5', '1.0', '2.0'] as TrVersion[]) {
    for (const bitmap of [0xff00, 0xcc00, 0x9000]) {
      const hops: HopValues[] = [1, 2, 3].map((i) => ({ switchId: i, hopLatency: 100 * i, egressPort: i, egressTxUtil: 7 * i, queueId: i, queueOccupancy: 9 * i, ingressTs: 1000n + BigInt(i) }));
      const { bytes } = encodeReport({ version: v, instructionBitmap: bitmap, hops, tracked: true, repMdBits: v === '2.0' ? 0x3801 : 0, inner: { l4: bitmap === 0xcc00 ? 'tcp' : 'udp' } });
      const f = encodeReportFrame(bytes);
      out.push({ data: f, wireLen: f.length, linkType: 1, from: `int-gen:${v}:${bitmap.toString(16)}` });
    }
  }
  return out;
}

let cached: Promise<Pools> | null = null;

export function loadPools(): Promise<Pools> {
  cached ??= (async () => {
    const files: SeedFile[] = [];
    const packets: SeedPacket[] = [];
    const flows: SeedFlow[] = [];
    for (const path of captureFiles()) {
      const all = readFileSync(path);
      const bytes = new Uint8Array(all.buffer, all.byteOffset, Math.min(all.length, FILE_PREFIX)).slice();
      const from = path.slice(ROOT.length);
      files.push({ bytes, from });
      packets.push(...await firstPackets(bytes, from, PACKETS_PER_FILE));
      if (path.includes('/fixtures/flow/')) {
        const p = udpPayloads(new Uint8Array(all.buffer, all.byteOffset, all.length));
        for (let i = 0; i < p.length; i += 4) flows.push({ datagrams: p.slice(i, i + 4), from: `${from}@${i}` });
      }
    }
    packets.push(...intFrames());
    flows.push(...builtFlows());
    return { files, packets, ethernet: packets.filter((p) => p.linkType === 1), flows };
  })();
  return cached;
}
