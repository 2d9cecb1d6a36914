/**
 * Differential: the decoder's straight-line fast path (Ethernet/VLAN/IP/TCP|UDP) against the
 * general layer walk, on every packet of every shared capture and of the benchmark generator's
 * traffic: every decoded offset and field must be identical.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { openFileInput } from '../../src/sources/byte-input.ts';
import { CaptureFileSource } from '../../src/sources/capture-file-source.ts';
import { Packet } from '../../src/decode/packet.ts';
import { decodePacket, decodePacketGeneral } from '../../src/decode/decoder.ts';
import { generate } from '../../tools/gen-traffic.ts';
import { CAPTURES } from '../support/run-cli.ts';

const STATE = ['status', 'reason', 'ethOff', 'ethType', 'vlanId', 'vlanDepth', 'mplsDepth', 'l3', 'l3Off', 'ipLen', 'proto', 'frag', 'fragOffset', 'l4Off', 'l4PayloadLen', 'outerL3', 'outerL3Off', 'outerProto', 'outerIpLen', 'tunnelType', 'tunnelDepth', 'tunnelId'] as const;

async function compare(file: string): Promise<number> {
  let src: CaptureFileSource;
  try {
    src = new CaptureFileSource(file, file, await openFileInput(file));
    await src.open();
  } catch { return 0; } // files that are not captures at all are the reader's tests
  const fast = new Packet(), slow = new Packet();
  let n = 0;
  for (let b; (b = await src.nextBatch());) {
    for (let i = 0; i < b.count; i++) {
      decodePacket(fast, b.buf, b.dataOff[i], b.capLen[i], b.wireLen[i], b.ts[i], b.linkType[i]);
      decodePacketGeneral(slow, b.buf, b.dataOff[i], b.capLen[i], b.wireLen[i], b.ts[i], b.linkType[i]);
      for (const k of STATE) assert.equal(fast[k], slow[k], `${file} record ${n}: ${k}`);
      assert.deepEqual(fast.toJSON(), slow.toJSON(), `${file} record ${n}`);
      n++;
    }
  }
  await src.close();
  return n;
}

test('fast path equals the general walk on every shared capture', async () => {
  let total = 0;
  for (const dir of ['attack', 'mixed', 'edge', 'tunnel', 'pcapng', 'int']) {
    for (const f of readdirSync(join(CAPTURES, dir))) total += await compare(join(CAPTURES, dir, f));
  }
  assert.ok(total > 100_000, `compared ${total} packets`);
});

test('fast path equals the general walk on generated traffic (VLAN, IPv6, TCP, UDP, ICMP)', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'intstream-fast-'));
  try {
    const file = join(dir, 'gen.pcap');
    await generate(file, { packets: 30_000, seconds: 10, seed: 3, start: 1_700_000_000, hosts: 500, anomalies: true });
    assert.ok((await compare(file)) >= 30_000);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
