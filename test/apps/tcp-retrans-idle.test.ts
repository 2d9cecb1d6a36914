/**
 * tcp-retrans keeps a flow's highest sequence number across windows, and forgets it after
 * `flow_idle` seconds without data (bounded memory on live sources). Hand-built capture, one
 * flow 10.0.0.1:1000 -> 10.0.0.2:80, four data segments of 10 bytes, all seq 1000 (end 1010):
 *   t = 0      first: not a retransmission
 *   t = 1      retransmission (window [0, 10))
 *   t = 5000   a retransmission only if the flow is remembered (idle 4999 s > 3600)
 *   t = 5001   retransmission (window [5000, 5010))
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { pcapFile } from '../support/pcap-writer.ts';
import { runApp } from './helpers.ts';

const T0 = 1_700_000_000;

function segment(seq: number, payload: number): Uint8Array {
  const f = new Uint8Array(14 + 20 + 20 + payload);
  const v = new DataView(f.buffer);
  v.setUint16(12, 0x0800);
  f[14] = 0x45; v.setUint16(16, 20 + 20 + payload); f[22] = 64; f[23] = 6;
  f.set([10, 0, 0, 1], 26); f.set([10, 0, 0, 2], 30);
  v.setUint16(34, 1000); v.setUint16(36, 80); v.setUint32(38, seq); v.setUint32(42, 1);
  f[46] = 5 << 4; f[47] = 0x18; v.setUint16(48, 65535);
  return f;
}

const dir = mkdtempSync(join(tmpdir(), 'intstream-retrans-idle-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const file = join(dir, 'flow.pcap');
writeFileSync(file, pcapFile({}, [0, 1, 5000, 5001].map((t) => ({ sec: T0 + t, frac: 0, data: segment(1000, 10) }))));
const key = { src: '10.0.0.1', sport: 1000, dst: '10.0.0.2', dport: 80 };
const result = (start: number, retransmissions: number) => ({ window: { start: T0 + start, end: T0 + start + 10 }, key, value: { retransmissions, rtt_ms: null } });

test('a flow idle longer than flow_idle starts afresh', async () => {
  const { results } = await runApp('tcp-retrans', [file], { threshold: 1, flow_idle: 3600 }, { window: 10 });
  assert.deepEqual(results, [result(0, 1), result(5000, 1)]);
});

test('flow_idle=0 remembers every flow for the whole input (the definition)', async () => {
  const { results } = await runApp('tcp-retrans', [file], { threshold: 1, flow_idle: 0 }, { window: 10 });
  assert.deepEqual(results, [result(0, 1), result(5000, 2)]);
});
