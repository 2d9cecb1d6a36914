/**
 * The raw pre-filter (compileRawReject) decides on a record's bytes, before decoding, that the
 * pushed-down filter surely rejects it. Checked against the general layer walk
 * (decodePacketGeneral, not the fast path the pre-filter mirrors) and the tree-walking filter
 * interpreter (not the compiled form it shares code with):
 *   - sound: a record it rejects is one the decoded packet fails, on every record of every
 *     shared capture, of generated traffic, and of randomly corrupted copies of them;
 *   - complete on the common case: on generated traffic, every plain TCP/UDP packet (Ethernet,
 *     at most one VLAN tag, IPv4 without options and unfragmented or IPv6 without extension
 *     headers) that fails the filter is rejected, so the speed-up is real;
 *   - end to end: a capture file that applies it while parsing gives a run the same results,
 *     items read, items passed and per-window counters as the local stage applying nothing.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { loadTask } from '../../src/apps/load-task.ts';
import { decodePacketGeneral } from '../../src/decode/decoder.ts';
import { Packet } from '../../src/decode/packet.ts';
import { OK } from '../../src/decode/status.ts';
import { LocalProcessor, rawRejectFor } from '../../src/local/local-processor.ts';
import { compileRawReject, interpretFilter, parseFilter, type RawReject } from '../../src/query/filter-expr.ts';
import { splitPlan } from '../../src/query/pipeline.ts';
import { buildPlan } from '../../src/query/task.ts';
import { openFileInput } from '../../src/sources/byte-input.ts';
import { CaptureFileSource } from '../../src/sources/capture-file-source.ts';
import { SkipCounters } from '../../src/decode/skip-counters.ts';
import { generate } from '../../tools/gen-traffic.ts';
import { mulberry32 } from '../../src/gen/prng.ts';
import { CAPTURES } from '../support/run-cli.ts';
import { PcapngWriter } from '../support/pcap-writer.ts';

const FILTERS = [
  'tcp.syn and not tcp.ack_flag',
  'tcp.flags & 0x12 == 0x02',
  'tcp',
  'udp',
  'not tcp',
  'icmp or udp.dport == 53',
  'ip.version == 6 and tcp.dport in {80 443}',
  'ip.dst in 10.0.0.0/8 or ip.src in 192.168.0.0/16',
  'ip.src in 2001:db8::/32',
  'ip.dst != 10.1.2.3',
  'tcp.payload_len > 0 and tcp.fin',
  'udp.dport >= 1024 and len < 1000',
  'tcp.ack_flag == false or udp.dport >= 0',
  'tcp.sport >= 0',
  'ip.proto == 17 and vlan.id == 10',
  'vlan',
  'not vlan and caplen > 60',
  'ip.len > 1200',
  'ts >= 1700000030',
  'outer.ip.src in 10.0.0.0/8',
  'tcp.window == 0 and not tcp.rst',
  'tcp.seq == 0',
];

const tmp = mkdtempSync(join(tmpdir(), 'intstream-prefilter-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

let generated: string | null = null;
async function generatedTraffic(): Promise<string> {
  if (generated) return generated;
  const file = join(tmp, 'gen.pcap');
  await generate(file, { packets: 40_000, seconds: 60, seed: 11, start: 1_700_000_000, hosts: 300, anomalies: true });
  return (generated = file);
}

interface Check { file: string; filters: { text: string; raw: RawReject; ref: (p: Packet) => boolean }[]; mutate?: () => number }

/** Every record of `file` (optionally corrupted), each filter: returns [rejected, plain-and-failing, rejected-plain]. */
async function check(c: Check, plainCheck: boolean): Promise<number[]> {
  const src = new CaptureFileSource(c.file, c.file, await openFileInput(c.file));
  try {
    await src.open();
  } catch { await src.close(); return [0, 0, 0]; } // not a capture at all: the reader's tests
  const p = new Packet();
  const rnd = mulberry32(7);
  let rejected = 0, plainFailing = 0, plainRejected = 0, n = 0;
  const next = async () => { try { return await src.nextBatch(); } catch { return null; } }; // a corrupt block ends a file
  for (let b; (b = await next());) {
    for (let i = 0; i < b.count; i++, n++) {
      const off = b.dataOff[i], cap = b.capLen[i];
      if (c.mutate && cap > 0) {
        // corrupt 1-3 bytes among the first 80 (the headers the pre-filter reads)
        for (let k = 1 + Math.floor(rnd() * 3); k > 0; k--) b.buf[off + Math.floor(rnd() * Math.min(cap, 80))] = Math.floor(rnd() * 256);
      }
      if (b.linkType[i] !== 1) continue;
      decodePacketGeneral(p, b.buf, off, cap, b.wireLen[i], b.ts[i], b.linkType[i]);
      const plain = plainCheck && p.status === OK && p.tunnelDepth === 0 && p.vlanDepth <= 1 && p.mplsDepth === 0
        && (p.proto === 6 || p.proto === 17)
        && ((p.l3 === 4 && p.l4Off - p.l3Off === 20 && p.frag === 0 && p.fragOffset === 0) || (p.l3 === 6 && p.l4Off - p.l3Off === 40));
      for (const f of c.filters) {
        const rej = f.raw(b.buf, off, cap, b.wireLen[i], b.ts[i]);
        const pass = f.ref(p);
        if (rej) {
          rejected++;
          assert.equal(pass, false, `${c.file} record ${n}: the pre-filter rejects what \`${f.text}\` passes (${JSON.stringify(p.toJSON())})`);
        }
        if (plain && !pass) {
          plainFailing++;
          if (rej) plainRejected++;
        }
      }
    }
  }
  await src.close();
  return [rejected, plainFailing, plainRejected];
}

function compiled(texts: string[]): Check['filters'] {
  return texts.map((text) => {
    const ast = parseFilter(text);
    const raw = compileRawReject(ast);
    assert.ok(raw, `\`${text}\` has a byte-level form`);
    return { text, raw, ref: interpretFilter(ast) };
  });
}

test('fields without a byte-level form leave the decision to the decoder', () => {
  for (const text of ['eth.src == 00:11:22:33:44:55', 'udp.len > 100', 'source == 1', 'int.hop_count > 5', 'ip.ttl < 3 and tcp']) {
    assert.equal(compileRawReject(parseFilter(text)), null, text);
  }
  // and filters every plain packet passes (nothing to gain)
  for (const text of ['ip.version', 'ip', 'tcp.sport >= 0 or udp.sport >= 0', 'eth and (tcp or udp)']) {
    assert.equal(compileRawReject(parseFilter(text)), null, text);
  }
});

test('sound on every record of every shared capture', async () => {
  const filters = compiled(FILTERS);
  let rejected = 0;
  for (const dir of ['attack', 'mixed', 'edge', 'tunnel', 'pcapng', 'int', 'malformed']) {
    for (const f of readdirSync(join(CAPTURES, dir))) rejected += (await check({ file: join(CAPTURES, dir, f), filters }, false))[0];
  }
  assert.ok(rejected > 100_000, `rejections checked: ${rejected}`);
});

test('sound on corrupted records (headers mutated at random)', async () => {
  const filters = compiled(FILTERS);
  let rejected = 0;
  for (const file of [await generatedTraffic(), join(CAPTURES, 'mixed/many-protocols.pcap'), join(CAPTURES, 'mixed/bro.org.pcap')]) {
    rejected += (await check({ file, filters, mutate: () => 1 }, false))[0];
  }
  assert.ok(rejected > 10_000, `rejections checked: ${rejected}`);
});

test('complete on plain TCP/UDP packets of generated traffic', async () => {
  const [rejected, plainFailing, plainRejected] = await check({ file: await generatedTraffic(), filters: compiled(FILTERS) }, true);
  assert.ok(plainFailing > 100_000, `plain packets failing a filter: ${plainFailing}`);
  assert.equal(plainRejected, plainFailing);
  assert.ok(rejected >= plainRejected);
});

/** A TCP segment: an Ethernet frame, or the bare IPv4 packet for a raw (101) interface. */
function segment(flags: number, dst: number, ethernet: boolean): Uint8Array {
  const ip = new Uint8Array(40);
  const v = new DataView(ip.buffer);
  ip[0] = 0x45; v.setUint16(2, 40); ip[8] = 64; ip[9] = 6;
  ip.set([10, 0, 0, 1], 12); ip.set([10, 0, 0, dst], 16);
  v.setUint16(20, 40000); v.setUint16(22, 80); ip[32] = 5 << 4; ip[33] = flags;
  if (!ethernet) return ip;
  const f = new Uint8Array(14 + 40);
  f[12] = 0x08;
  f.set(ip, 14);
  return f;
}

test('pcapng with Ethernet and raw interfaces, out of order: a left-out record still moves the clock before the next kept one', async () => {
  // Sequence (t in s): Ethernet ACK t=120 (left out by "SYN without ACK"), raw SYN t=95 (kept:
  // only Ethernet records are pre-filtered), Ethernet SYN t=121. With lateness 2, the source's
  // clock is at 118 when the raw SYN comes, so its window [90, 100) has closed: late, as when
  // nothing is pre-filtered.
  const us = (t: number) => BigInt(Math.round((1_700_000_000 + t) * 1e6));
  const w = new PcapngWriter().shb().idb({ linkType: 1 }).idb({ linkType: 101 });
  w.epb({ ifId: 0, ts: us(120), data: segment(0x10, 1, true) });
  w.epb({ ifId: 1, ts: us(95), data: segment(0x02, 2, false) });
  w.epb({ ifId: 0, ts: us(121), data: segment(0x02, 3, true) });
  const file = join(tmp, 'mixed-link.pcapng');
  writeFileSync(file, w.bytes());
  const off = await runLocal('tcp-new-conn', file, 'off', 0, { threshold: 0 });
  assert.equal(off.result.skipped.late, 1, 'the raw SYN is late when nothing is left out');
  for (const mode of ['source', 'loop'] as const) {
    const r = await runLocal('tcp-new-conn', file, mode, 0, { threshold: 0 });
    assert.deepEqual(r.result, off.result, mode);
  }
  assert.equal((await runLocal('tcp-new-conn', file, 'source', 0, { threshold: 0 })).leftOut, 1);
});

async function runLocal(task: string, file: string, prefilter: 'source' | 'loop' | 'off', windowSize: number, params: Record<string, unknown> = {}) {
  const { def } = await loadTask(task);
  const split = splitPlan(buildPlan(def, params as any, { window: 10 }));
  const src = new CaptureFileSource(file, file, await openFileInput(file), 512);
  // 'source': the capture parser applies the raw pre-filter, given at open as the local stage does
  await src.open(prefilter === 'source' ? { reject: rawRejectFor(split, undefined, false), windowSize } : undefined);
  const out: string[] = [];
  const lp = new LocalProcessor(0, src, split, { skipped: new SkipCounters(), lateness: 2, sendProbe: null as any }, async (m) => {
    for (let i = 0; i < m.items.length; i++) out.push(JSON.stringify([m.times[i], m.keys?.[i], m.items[i]]));
  });
  lp.windowSize = windowSize;
  lp.prefilter = prefilter;
  let leftOut = 0;
  const next = src.nextBatch.bind(src);
  src.nextBatch = async () => { const b = await next(); leftOut += b?.leftOut ?? 0; return b; };
  await lp.run();
  await src.close();
  const st = lp.stats();
  return { leftOut, result: { out, read: lp.read, passed: lp.passed, skipped: st.skipped, windows: [...lp.windows].sort((a, b) => a[0] - b[0]) } };
}

test('applied while parsing or before decoding: the same output, counts and per-window counters as without it', async () => {
  const files = [await generatedTraffic(), join(CAPTURES, 'pcapng/pcapng-multi-interface.pcapng'), join(CAPTURES, 'mixed/many-protocols.pcap')];
  let compared = 0;
  for (const file of files) {
    for (const [task, params] of [['tcp-new-conn', { threshold: 0 }], ['syn-flood', {}], ['tcp-incomplete', {}]] as const) {
      for (const W of [0, 1, 10]) { // 0: per-window counters off
        const off = await runLocal(task, file, 'off', W, params);
        const inSource = await runLocal(task, file, 'source', W, params);
        const inLoop = await runLocal(task, file, 'loop', W, params);
        assert.deepEqual(inSource.result, off.result, `${task} on ${file}, per-window counters of ${W} s, in the source`);
        assert.deepEqual(inLoop.result, off.result, `${task} on ${file}, per-window counters of ${W} s, in the loop`);
        assert.equal(off.leftOut + inLoop.leftOut, 0);
        assert.ok(inSource.leftOut > 0, `${task} on ${file}: ${inSource.leftOut} of ${off.result.read} left out while parsing`);
        compared += off.result.read;
      }
    }
  }
  assert.ok(compared > 100_000);
});
