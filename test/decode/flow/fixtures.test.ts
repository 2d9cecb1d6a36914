// Real-exporter datagrams kept as fixtures (test/fixtures/flow, made by make-fixtures.ts from
// softflowd and pmacctd output) decoded by this decoder and, independently, by tshark's
// NetFlow/IPFIX (cflow) and sFlow dissectors: the records must agree field by field. Runs
// without the exporters installed; needs tshark.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';

import type { FlowRecord, NetflowRecord, SflowSampleRecord } from '../../../src/decode/flow/common.ts';
import { NetflowDecoder } from '../../../src/decode/flow/netflow.ts';
import { SflowDecoder } from '../../../src/decode/flow/sflow.ts';
import { readPcap } from './pcap.ts';

const FIXTURES = join(import.meta.dirname, '../../fixtures/flow');

type Json = { [k: string]: unknown };

function tsharkJson(path: string, proto: string): Json[] | string {
  const r = spawnSync('tshark', ['-n', '-r', path, '-T', 'json', '--no-duplicate-keys', '-J', proto], {
    encoding: 'utf8',
    maxBuffer: 256 * 1024 * 1024,
  });
  if (r.error) return `tshark not available: ${r.error.message}`;
  if (r.status !== 0) return `tshark failed: ${r.stderr}`;
  return JSON.parse(r.stdout) as Json[];
}

/** Objects below `o` (document order) that have key `k`. */
function findAll(o: unknown, k: string, out: Json[] = []): Json[] {
  if (Array.isArray(o)) for (const v of o) findAll(v, k, out);
  else if (o !== null && typeof o === 'object') {
    if (k in (o as Json)) out.push(o as Json);
    for (const v of Object.values(o as Json)) if (typeof v === 'object') findAll(v, k, out);
  }
  return out;
}

function num(v: unknown): number {
  return Number(v);
}

function decodeAll(path: string, dec: NetflowDecoder | SflowDecoder): FlowRecord[][] {
  const pc = readPcap(path);
  return pc.packets.map((p) => {
    const recs: FlowRecord[] = [];
    // Ethernet + IPv4 + UDP = 42 bytes in front of the payload
    const status = dec.decode(p.data, 42, p.caplen - 42, '127.0.0.1:40000', (r) => recs.push({ ...r }));
    assert.equal(status, 'ok');
    return recs;
  });
}

const fixtures = existsSync(FIXTURES) ? readdirSync(FIXTURES).filter((f) => f.endsWith('.pcap')).sort() : [];
const probe = spawnSync('tshark', ['-v'], { encoding: 'utf8' });
const noTshark = probe.error ? `tshark is not installed (${probe.error.message})` : false;

describe('real-exporter fixtures vs tshark', { skip: noTshark }, () => {
  it('has fixtures', () => assert.ok(fixtures.length >= 5, `fixtures in ${FIXTURES}: ${fixtures}`));

  for (const f of fixtures.filter((n) => n.startsWith('softflowd-'))) {
    it(f, () => {
      const path = join(FIXTURES, f);
      const frames = tsharkJson(path, 'cflow');
      if (typeof frames === 'string') return assert.fail(frames);
      const mine = decodeAll(path, new NetflowDecoder());
      assert.equal(mine.length, frames.length);
      let total = 0;
      frames.forEach((frame, i) => {
        const layer = (frame._source as Json).layers as Json;
        const cflow = layer.cflow as Json;
        const theirs = findAll(cflow, 'cflow.packets');
        const ours = mine[i]! as NetflowRecord[];
        assert.equal(ours.length, theirs.length, `frame ${i + 1}: record count`);
        const version = num(cflow['cflow.version']);
        // header time for the sysUptime-relative stamps of v5/v9
        const sysUptime = num(cflow['cflow.sysuptime']);
        const ts = findAll(cflow, 'cflow.unix_secs')[0];
        const now = ts ? num(ts['cflow.unix_secs']) + (ts['cflow.unix_nsecs'] !== undefined ? num(ts['cflow.unix_nsecs']) / 1e9 : 0) : NaN;
        theirs.forEach((t, j) => {
          const r = ours[j]!;
          const at = `frame ${i + 1} record ${j + 1}`;
          assert.equal(r['ip.src'], t['cflow.srcaddr'] ?? t['cflow.srcaddrv6'], at);
          assert.equal(r['ip.dst'], t['cflow.dstaddr'] ?? t['cflow.dstaddrv6'], at);
          const proto = num(t['cflow.protocol']);
          assert.equal(r['ip.proto'], proto, at);
          assert.equal(r['flow.packets'], num(t['cflow.packets']), at);
          assert.equal(r['flow.bytes'], num(t['cflow.octets']), at);
          assert.equal(r['flow.input'], num(t['cflow.inputint']), at);
          assert.equal(r['flow.output'], num(t['cflow.outputint']), at);
          assert.equal(r['ip.tos'], num(t['cflow.tos']), at);
          const sport = num(t['cflow.srcport']);
          const dport = num(t['cflow.dstport']);
          if (proto === 6) {
            assert.deepEqual([r['tcp.sport'], r['tcp.dport'], r['tcp.flags']], [sport, dport, num(t['cflow.tcpflags'])], at);
          } else if (proto === 17) {
            assert.deepEqual([r['udp.sport'], r['udp.dport']], [sport, dport], at);
          } else if (proto === 1 || proto === 58) {
            assert.equal((r['icmp.type']! << 8) | r['icmp.code']!, dport, at);
          }
          if (t['cflow.vlanid'] !== undefined) assert.equal(r['vlan.id'], num(t['cflow.vlanid']), at);
          if (version === 5 || version === 9) {
            // (tshark 4.0 shows a FIRST_SWITCHED of 0 as an absolute 1970 time instead of a
            // relative one; such stamps are compared where tshark gives the relative form)
            const st = findAll(t, 'cflow.timestart')[0];
            if (st) assert.ok(Math.abs(r['flow.start']! - (now - (sysUptime - num(st['cflow.timestart'])))) < 1e-6, at);
            const et = findAll(t, 'cflow.timeend')[0]!;
            assert.ok(Math.abs(r['flow.end']! - (now - (sysUptime - num(et['cflow.timeend'])))) < 1e-6, at);
          }
          total++;
        });
      });
      assert.ok(total > 0);
    });
  }

  for (const f of fixtures.filter((n) => n.startsWith('pmacct-'))) {
    it(f, () => {
      const path = join(FIXTURES, f);
      const frames = tsharkJson(path, 'sflow');
      if (typeof frames === 'string') return assert.fail(frames);
      const mine = decodeAll(path, new SflowDecoder());
      assert.equal(mine.length, frames.length);
      const pc = readPcap(path);
      let total = 0;
      frames.forEach((frame, i) => {
        const sflow = ((frame._source as Json).layers as Json).sflow as Json;
        const theirs = findAll(sflow, 'sflow.flow_sample.sequence_number');
        const ours = mine[i]!.filter((r): r is SflowSampleRecord => r.type === 'sample');
        assert.equal(ours.length, theirs.length, `frame ${i + 1}: sample count`);
        theirs.forEach((t, j) => {
          const r = ours[j]!;
          const at = `frame ${i + 1} sample ${j + 1}`;
          assert.equal(r['sflow.agent'], sflow['sflow_245.agent'], at);
          assert.equal(r['sflow.sequence'], num(sflow['sflow_245.sequence_number']), at);
          assert.equal(r['sflow.sample_sequence'], num(t['sflow.flow_sample.sequence_number']), at);
          assert.equal(r['flow.sampling'], num(t['sflow.flow_sample.sampling_rate']), at);
          assert.equal(r['sflow.sample_pool'], num(t['sflow.flow_sample.sample_pool']), at);
          assert.equal(r['sflow.drops'], num(t['sflow.flow_sample.dropped_packets']), at);
          assert.equal(r['flow.input'], num(t['sflow.flow_sample.input_interface']), at);
          const sw = findAll(t, 'sflow_245.vlan.in')[0]!;
          assert.equal(r['vlan.id'], num(sw['sflow_245.vlan.in']), at);
          const h = findAll(t, 'sflow_245.header')[0]!;
          assert.equal(r['sflow.frame_length'], num(h['sflow_245.header.frame_length']), at);
          assert.equal(r['sflow.stripped'], num(h['sflow_245.header.payload_stripped']), at);
          assert.equal(r['sflow.header_length'], num(h['sflow_245.header.sampled_header_length']), at);
          const o = r['sflow.header_offset']!;
          const bytes = Buffer.from(pc.packets[i]!.data.subarray(o, o + r['sflow.header_length']!));
          // tshark shows the opaque with its XDR padding
          assert.equal(bytes.toString('hex'), String(h['sflow_245.header']).replaceAll(':', '').slice(0, 2 * bytes.length), at);
          total++;
        });
      });
      assert.ok(total > 0);
    });
  }
});
