// Address text (RFC 5952) and the interning cache. References: hand-written RFC 5952 examples,
// and the WHATWG URL serializer (Node's URL) for random addresses.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { AddrCache, formatIPv4, formatIPv6 } from '../../../src/decode/flow/common.ts';
import { ipv6 } from './encode.ts';
import { mulberry32 } from './prng.ts';

function v6(text: string): string {
  return formatIPv6(Uint8Array.from(ipv6(text)), 0);
}

describe('address text', () => {
  it('formats IPv6 per RFC 5952', () => {
    const cases: [string, string][] = [
      ['2001:0db8:0000:0000:0000:0000:0000:0001', '2001:db8::1'], // 4.1 leading zeros, 4.2.1 longest run
      ['2001:db8:0:0:1:0:0:1', '2001:db8::1:0:0:1'], // 4.2.3 first of equal runs
      ['2001:0:0:1:0:0:0:1', '2001:0:0:1::1'], // 4.2.3 longest run wins
      ['2001:db8:0:1:1:1:1:1', '2001:db8:0:1:1:1:1:1'], // 4.2.2 a single 0 group is not shortened
      ['ABCD:EF01:0:0:0:0:0:0', 'abcd:ef01::'], // 4.3 lower case
      ['0:0:0:0:0:0:0:0', '::'],
      ['0:0:0:0:0:0:0:1', '::1'],
      ['fe80:0:0:0:0:0:0:0', 'fe80::'],
      ['1:0:1:0:1:0:1:0', '1:0:1:0:1:0:1:0'],
      ['0:0:0:0:0:ffff:c000:201', '::ffff:192.0.2.1'], // 5: IPv4-mapped with dotted quad
      ['0:0:0:0:1:ffff:c000:201', '::1:ffff:c000:201'], // not mapped
      ['2001:db8:85a3:8d3:1319:8a2e:370:7348', '2001:db8:85a3:8d3:1319:8a2e:370:7348'],
    ];
    for (const [input, want] of cases) assert.equal(v6(input), want, input);
  });

  it('agrees with the WHATWG URL serializer on random addresses', () => {
    const rnd = mulberry32(5952);
    const b = new Uint8Array(16);
    for (let n = 0; n < 5000; n++) {
      for (let g = 0; g < 8; g++) {
        // mostly zero groups, so that runs of every length and position occur
        const v = rnd() < 0.55 ? 0 : rnd() < 0.5 ? Math.floor(rnd() * 16) : Math.floor(rnd() * 65536);
        b[2 * g] = v >> 8;
        b[2 * g + 1] = v & 0xff;
      }
      const mapped = b.subarray(0, 10).every((x) => x === 0) && b[10] === 0xff && b[11] === 0xff;
      if (mapped) continue;
      const full = Array.from({ length: 8 }, (_, g) => ((b[2 * g]! << 8) | b[2 * g + 1]!).toString(16)).join(':');
      const want = new URL(`http://[${full}]/`).hostname.slice(1, -1);
      assert.equal(formatIPv6(b, 0), want, full);
    }
  });

  it('interning cache returns the right text, also when slots collide', () => {
    const cache = new AddrCache(8); // tiny, to force collisions
    const rnd = mulberry32(1);
    const addrs: Uint8Array[] = [];
    for (let i = 0; i < 200; i++) addrs.push(Uint8Array.from({ length: 16 }, () => Math.floor(rnd() * 256)));
    for (let round = 0; round < 3; round++) {
      for (const a of addrs) {
        assert.equal(cache.v6(a, 0), formatIPv6(a, 0));
        assert.equal(cache.v4(a, 4), formatIPv4(a, 4));
      }
    }
    const big = new AddrCache(1024);
    assert.equal(big.v4(Uint8Array.of(192, 0, 2, 1), 0), '192.0.2.1');
    assert.equal(big.v4(Uint8Array.of(0, 192, 0, 2, 1), 1), '192.0.2.1');
  });
});

describe('index', () => {
  it('creates a decoder per protocol', async () => {
    const { createFlowDecoder, NetflowDecoder, SflowDecoder } = await import('../../../src/decode/flow/index.ts');
    assert.ok(createFlowDecoder('sflow') instanceof SflowDecoder);
    assert.ok(createFlowDecoder('netflow', { templateLifetime: 60 }) instanceof NetflowDecoder);
    const d = createFlowDecoder('netflow');
    assert.equal(d.decode(new Uint8Array(0), 0, 0, 'x', () => assert.fail()), 'truncated');
    assert.equal(d.decode(Uint8Array.of(0, 5), 5, 10, 'x', () => assert.fail()), 'truncated'); // off/len beyond the buffer
    assert.equal(d.counters.skipped.truncated, 2);
  });
});
