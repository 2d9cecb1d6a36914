/**
 * Bugs the fuzzer (scripts/fuzz.ts) found in the capture reader, each as a small hand-built file.
 * Each test fails on the code before its fix.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PcapngWriter, tsresol } from '../support/pcap-writer.ts';
import { readBytes } from '../sources/capture-reading.ts';
import { unitsToSeconds } from '../../src/sources/capture-file-source.ts';

test('a Simple Packet Block of 12 bytes (no room for its length) is skipped as corrupt, not read with caplen -4', async () => {
  const data = Uint8Array.of(1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 8, 0);
  const bytes = new PcapngWriter().shb().idb({ linkType: 1 }).block(3, new Uint8Array(0)).spb({ data }).bytes();
  const r = await readBytes(bytes, 'spb.pcapng');
  assert.deepEqual(r.skipped, { corrupt_block: 1 });
  assert.equal(r.records.length, 1, 'the block after it is read');
  assert.deepEqual(r.records[0].data, data);
  assert.ok(r.records.every((x) => x.capLen >= 0));
});

test('pcapng timestamps of 2^50 s and more stay in their own second (millisecond resolution)', async () => {
  // 3938734063167611.467... s: the double arithmetic rounded it up to ...612
  const hi = 917057987, lo = 467018005;
  const sec = 3938734063167611;
  assert.equal(((BigInt(hi) << 32n) | BigInt(lo)) / 1000n, BigInt(sec));
  assert.equal(Math.floor(unitsToSeconds(hi, lo, 1000)), sec);
  const ts = (BigInt(hi) << 32n) | BigInt(lo);
  const bytes = new PcapngWriter().shb().idb({ linkType: 1, options: [tsresol(3)] }).epb({ ts, data: new Uint8Array(14) }).bytes();
  const r = await readBytes(bytes, 'ms.pcapng');
  assert.equal(Math.floor(r.records[0].ts), sec);
  // every second from 2^49 to 2^53 at ms and us resolution, with the largest fraction
  for (const unitsPerSec of [1000, 1e6]) {
    for (let e = 49; e <= 53; e++) {
      const s = 2n ** BigInt(e) - 3n;
      if (s * BigInt(unitsPerSec) >= 2n ** 64n) continue;
      const units = s * BigInt(unitsPerSec) + BigInt(unitsPerSec) - 1n;
      const t = unitsToSeconds(Number(units >> 32n), Number(units & 0xffffffffn), unitsPerSec);
      assert.ok(t >= Number(s) && t <= Number(s) + 1, `2^${e} - 3 s at 1/${unitsPerSec}: ${t}`);
      if (e < 52) assert.equal(Math.floor(t), Number(s), `2^${e} - 3 s at 1/${unitsPerSec}`);
    }
  }
});
