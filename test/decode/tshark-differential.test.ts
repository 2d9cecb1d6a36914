/**
 * Differential test: every capture in the shared attack/, mixed/, edge/, tunnel/ and pcapng/
 * sets, read by CaptureFileSource and decoded by decodePacket, against tshark's dissection of
 * the same file (test/support/tshark.ts; reassembly off). Per packet: the count and order of
 * packets, timestamp (exact: see expectedTs), wire and captured length, link type, pcapng
 * interface, and the fields of docs/contracts.md ip.*, tcp.*, udp.*, icmp.type, vlan.id and outer.ip.*
 * (tshark-expect.ts says which of tshark's repeated values each one is).
 *
 * Where tshark and intstream legitimately differ the expectation follows the right answer for
 * intstream, and each case is named below and counted, so that none is silent:
 *  1. ICMP errors: tshark dissects the quoted IP header and transport ports as if they were the
 *     packet's own (its last ip.src is the quoted one); intstream keeps the outer addresses and
 *     reports no ports (see tshark-expect.ts). Counted per file in `icmpQuotes`.
 *  2. pcapng custom blocks (test202.pcapng, types 0xbad and 0x40000bad): tshark 4 lists them as
 *     frames without an interface or timestamp; they are not packets, and intstream skips them.
 *  3. Simple Packet Blocks have no timestamp: tshark prints none, intstream gives them the time
 *     of the last timed packet before them in their section, 0 when there is none (see
 *     CaptureFileSource: time 0 would put them in a 1970 window or count them late).
 *  4. Protocols intstream does not walk into: the model stops there. The test fails if tshark
 *     found IP or transport layers past such a stop anywhere but in an ICMP quote (case 1), so a
 *     tunnel that intstream misses cannot hide behind this rule.
 * int/ captures are the INT decoder's business (test/decode/int) and malformed/ ones are read in
 * test/sources/capture-file-source.test.ts.
 */
import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { basename, dirname } from 'node:path';
import { CaptureFileSource } from '../../src/sources/capture-file-source.ts';
import { openFileInput } from '../../src/sources/byte-input.ts';
import { Packet } from '../../src/decode/packet.ts';
import { decodePacket } from '../../src/decode/decoder.ts';
import { haveTshark, mapLimit, tsharkPackets, type TsharkPacket } from '../support/tshark.ts';
import { captureFiles, decodedFields, expectFromTshark, expectedTs, LINKTYPE_OF_WTAP } from './tshark-expect.ts';
import { PACKET_BLOCKS, pcapngBlocks } from '../sources/capture-reading.ts';

const FILES = captureFiles(['attack', 'mixed', 'edge', 'tunnel', 'pcapng']);

/** Files whose frames tshark numbers interfaces per section (multi-section pcapng). */
const MULTI_SECTION = new Set(['test202.pcapng']);

interface Ours {
  ts: number; len: number; capLen: number; linkType: number; iface: number;
  fields: ReturnType<typeof decodedFields>;
}

async function readOurs(file: string): Promise<{ pkts: Ours[]; skipped: Record<string, number> }> {
  const src = new CaptureFileSource(`pcap:${file}`, file, await openFileInput(file));
  const p = new Packet();
  const pkts: Ours[] = [];
  try {
    await src.open();
    for (let b; (b = await src.nextBatch());) {
      for (let i = 0; i < b.count; i++) {
        decodePacket(p, b.buf, b.dataOff[i], b.capLen[i], b.wireLen[i], b.ts[i], b.linkType[i]);
        pkts.push({ ts: b.ts[i], len: p.len, capLen: p.caplen, linkType: b.linkType[i], iface: b.iface[i], fields: decodedFields(p) });
      }
    }
  } finally {
    await src.close();
  }
  return { pkts, skipped: src.skipped.toJSON() };
}

/** Frames that are packets (case 2: custom blocks have no link-layer encapsulation). */
function packetFrames(frames: TsharkPacket[]): TsharkPacket[] {
  return frames.filter((t) => t.f['frame.encap_type'].length > 0);
}

const icmpQuotes = new Map<string, number>();
const tunnelled = new Map<string, number>();

describe('decoded fields match tshark on every shared capture', { skip: !haveTshark() && 'tshark not installed' }, () => {
  before(async () => {
    // Fill the tshark cache two files at a time (2 cores); later runs read it.
    await mapLimit(FILES, 2, (f) => tsharkPackets(f));
  });

  for (const file of FILES) {
    const name = `${basename(dirname(file))}/${basename(file)}`;
    test(name, async () => {
      const frames = packetFrames(await tsharkPackets(file));
      const { pkts, skipped } = await readOurs(file);
      assert.deepEqual(skipped, {}, `${name}: nothing is skipped in a valid capture`);
      assert.equal(pkts.length, frames.length, `${name}: packet count`);
      assert.ok(pkts.length > 0);
      let quotes = 0, tun = 0;
      // pcapng: the section of each packet block, in file order (the frames' order)
      const bytes = readFileSync(file);
      const sections = bytes.readUInt32BE(0) === 0x0a0d0d0a ? pcapngBlocks(bytes).filter((b) => PACKET_BLOCKS.has(b.type)).map((b) => b.section) : [];
      let lastTimed = -1; // index of the last frame with a time in the current section
      for (let i = 0; i < frames.length; i++) {
        const t = frames[i], o = pkts[i];
        const at = `${name} frame ${t.number}`;
        if (lastTimed >= 0 && sections[lastTimed] !== sections[i]) lastTimed = -1;
        if (t.time === '') {
          const want = lastTimed >= 0 ? expectedTs(frames[lastTimed].time) : 0;
          assert.equal(o.ts, want, `${at}: a Simple Packet Block has no timestamp: the last one of its section (case 3)`);
        } else {
          lastTimed = i;
          const want = expectedTs(t.time);
          if (o.ts !== want) assert.fail(`${at}: ts ${o.ts} (${o.ts.toFixed(9)}), tshark ${t.time}, expected ${want}`);
          assert.equal(Math.floor(o.ts), Number(t.time.split('.')[0]), `${at}: whole seconds`);
        }
        assert.equal(o.len, t.len, `${at}: wire length`);
        assert.equal(o.capLen, t.capLen, `${at}: captured length`);
        const lt = LINKTYPE_OF_WTAP[Number(t.f['frame.encap_type'][0])];
        assert.ok(lt?.includes(o.linkType), `${at}: link type ${o.linkType}, tshark encapsulation ${t.f['frame.encap_type'][0]}`);
        if (t.f['frame.interface_id'].length > 0 && !MULTI_SECTION.has(basename(file))) {
          assert.equal(o.iface, Number(t.f['frame.interface_id'][0]), `${at}: pcapng interface`);
        }
        const e = expectFromTshark(t);
        if (e.icmpQuote) quotes++;
        // Case 4: nothing but an ICMP quote may take tshark deeper than intstream goes.
        if (e.deeper && !e.icmpQuote) {
          assert.fail(`${at}: tshark found more layers past '${t.protocols[e.stopIndex]}' (${t.protocols.join(':')}), which intstream does not decode`);
        }
        if (e.fields['outer.ip.src'] !== undefined) tun++;
        assert.deepEqual(o.fields, e.fields, `${at} (${t.protocols.join(':')})`);
      }
      icmpQuotes.set(name, quotes);
      tunnelled.set(name, tun);
    });
  }

  test('the named exceptions are exercised, and tunnels were compared', () => {
    // Case 1 happens in these captures (ICMP port/host unreachable quoting the flood's packets).
    assert.ok((icmpQuotes.get('attack/amp.UDP.snmp.src161.pcapng') ?? 0) > 0);
    assert.ok((icmpQuotes.get('attack/amp.TCP.reflection.SYNACK.pcap') ?? 0) > 0);
    assert.ok((icmpQuotes.get('attack/denial6-5.pcap') ?? 0) > 0, 'ICMPv6 errors quoting IPv6');
    for (const f of ['tunnel/erspan.pcap', 'tunnel/erspan-type-ii-3.pcap', 'tunnel/vxlan.pcap', 'tunnel/geneve.pcap',
      'tunnel/gre-within-gre.pcap', 'tunnel/gre-aruba.pcap', 'tunnel/gre-erspan-vxlan.pcap']) {
      assert.ok((tunnelled.get(f) ?? 0) > 0, `${f}: outer.ip.* compared`);
    }
  });
});
