// The six real INT captures (test/fixtures/int, copied from test/captures/int) through the
// int-collector task: each gives either the values read by hand from its bytes (see the hex
// walk-through in test/decode/int/captures.test.ts) or a counted, named malformed reason.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { runTask } from '../../src/run-task.ts';
import intCollector from '../../src/apps/int-collector.ts';

const FIX = fileURLToPath(new URL('../fixtures/int/', import.meta.url));

/** The first record's timestamp from the pcap record header (little-endian, microseconds). */
function firstTs(file: string): number {
  const b = readFileSync(FIX + file);
  return b.readUInt32LE(24) + b.readUInt32LE(28) / 1e6;
}

async function run(file: string, params: Record<string, string>) {
  const got: { key: any; value: any }[] = [];
  const stats = await runTask({ task: intCollector, params, sources: [`pcap:${FIX}${file}`], onResult: (r) => { got.push({ key: r.key, value: r.value }); } });
  return { got, stats };
}

describe('int-collector on the shared INT captures', () => {
  it('serkantul int_report.pcap (TR v0.5 + INT v0.5, switch id only): flow path 1,3,2 and three hops', async () => {
    const f = 'serkantul_prometheus_int_exporter__int_report.pcap';
    const { got, stats } = await run(f, { int_port: '1234' });
    const ts = firstTs(f);
    // inner IPv4 10.0.1.1 -> 10.0.2.3 TCP 63804 -> 1234; stack 2, 3, 1 most recent first
    const flow = { src: '10.0.1.1', dst: '10.0.2.3', proto: 6, sport: 63804, dport: 1234 };
    assert.deepEqual(got, [
      { key: { kind: 'flow', ...flow }, value: { event: 'new', ts, path: [1, 3, 2] } },
      { key: { kind: 'hop', ...flow, switch_id: 1 }, value: { event: 'new', ts } },
      { key: { kind: 'hop', ...flow, switch_id: 3 }, value: { event: 'new', ts } },
      { key: { kind: 'hop', ...flow, switch_id: 2 }, value: { event: 'new', ts } },
    ]);
    assert.deepEqual(stats.malformed, {});
    assert.equal(stats.items_read, 1);
  });

  for (const [file, sw, egress, latency] of [
    ['laofan13_P4-INT__int-mx_s1-cpu-eth0_out.pcap', 1, 3, 0x02b18c35],
    ['laofan13_P4-INT__int-mx_s3-cpu-eth0_out.pcap', 3, 4, 0x02a7e6c7],
  ] as const) {
    it(`${file}: non-conformant BMv2 report counted as int_malformed_report_length; lenient mode decodes it`, async () => {
      const strict = await run(file, { int_port: '1234' });
      assert.deepEqual(strict.got, []);
      assert.deepEqual(strict.stats.malformed, { int_malformed_report_length: 1 });
      const { got, stats } = await run(file, { int_port: '1234', int_lenient: 'true' });
      assert.deepEqual(stats.malformed, {});
      const ts = firstTs(file);
      const flow = got.find((g) => g.key.kind === 'flow')!;
      assert.equal(flow.key.proto, 17);
      assert.equal(flow.key.dport, 8080);
      assert.deepEqual(flow.value, { event: 'new', ts, path: [sw], latency });
      const { kind: _k, ...ids } = flow.key;
      assert.deepEqual(got.slice(1), [
        { key: { kind: 'hop', ...ids, switch_id: sw }, value: { event: 'new', ts, hop_latency: latency } },
        { key: { kind: 'egress', switch_id: sw, port: egress }, value: { event: 'new', ts, tx_util: 0 } },
        { key: { kind: 'queue', switch_id: sw, queue_id: 0 }, value: { event: 'new', ts, occupancy: 0 } },
      ]);
    });
  }

  it('laofan13 s1-eth2_out.pcap: INT-MX in flight (UDP 8080) with no hop metadata: a flow with an empty path', async () => {
    const f = 'laofan13_P4-INT__int-mx_s1-eth2_out.pcap';
    const { got, stats } = await run(f, { int_md_port: '8080' });
    assert.deepEqual(stats.malformed, {});
    assert.deepEqual(got, [{ key: { kind: 'flow', src: '10.0.1.1', dst: '10.0.3.3', proto: 17, sport: 64057, dport: 8080 }, value: { event: 'new', ts: firstTs(f), path: [] } }]);
    // the same packet marked by DSCP 0x17 instead of the port
    assert.equal((await run(f, { int_dscp: '23' })).got.length, 1);
  });

  it('GEANT 2601_double_header.pcap: vendor v0.4-style header counted as int_malformed_int_version', async () => {
    const { got, stats } = await run('GEANT_int-platform-dpdk__2601_double_header.pcap', { int_md_port: '17000' });
    assert.deepEqual(got, []);
    assert.deepEqual(stats.malformed, { int_malformed_int_version: 1 });
  });

  it('GEANT int_v1.0 my.pcap: byte-swapped bitmap counted as int_malformed_instruction_unsupported', async () => {
    const { got, stats } = await run('GEANT_In_band_telemetry_sink_fpga__int_v1.0_my.pcap', { int_dscp: '32' });
    assert.deepEqual(got, []);
    assert.deepEqual(stats.malformed, { int_malformed_instruction_unsupported: 1 });
  });

  it('without INT decoding the same captures are plain UDP: no events, nothing malformed', async () => {
    const { got, stats } = await run('serkantul_prometheus_int_exporter__int_report.pcap', {});
    assert.deepEqual(got, []);
    assert.deepEqual(stats.malformed, {});
  });
});
