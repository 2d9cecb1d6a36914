/**
 * Address text (docs/contracts.md, fields): IPv4 dotted quads, IPv6 in RFC 5952 form, MACs in
 * lower-case colon hex; parsing of the same. References: RFC 5952's own examples, WHATWG URL
 * host serialisation (`new URL('http://[..]')`), Node's net module (isIPv4/isIPv6, and
 * SocketAddress, which prints through inet_ntop), and plain string building for IPv4 and MACs.
 *
 * Where the references disagree with each other, RFC 5952 decides:
 *  - IPv4-mapped (::ffff:0:0/96): section 5 recommends mixed notation, '::ffff:192.0.2.1';
 *    inet_ntop agrees, URL prints hex. We follow section 5.
 *  - IPv4-compatible (::/96, deprecated by RFC 4291 2.5.5.1): inet_ntop prints '::192.0.2.1';
 *    URL and we print hex, '::c000:201'.
 *  - A zone index ('fe80::1%eth0') is accepted by net.isIPv6 but names an interface of the host
 *    that parses it: it is no address found in a packet, and parseIpv6 refuses it.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { isIPv4, isIPv6, SocketAddress } from 'node:net';
import { formatIpv4, formatIpv6, ipv4Text, ipv6Text, macText, parseIpv4, parseIpv6 } from '../../src/decode/address-text.ts';
import { rfc5952 } from './tshark-expect.ts';
import { mulberry32 as rng } from '../../src/gen/prng.ts';


function words(b: Uint8Array): [number, number, number, number] {
  const w = (o: number) => ((b[o] << 24) | (b[o + 1] << 16) | (b[o + 2] << 8) | b[o + 3]) | 0;
  return [w(0), w(4), w(8), w(12)];
}

/** Eight groups, every one written in full upper case: a valid, non-canonical spelling. */
function longForm(b: Uint8Array): string {
  const g: string[] = [];
  for (let i = 0; i < 16; i += 2) g.push(((b[i] << 8) | b[i + 1]).toString(16).padStart(4, '0').toUpperCase());
  return g.join(':');
}

const isMapped = (b: Uint8Array) => b.subarray(0, 10).every((x) => x === 0) && b[10] === 0xff && b[11] === 0xff;
const isCompatible = (b: Uint8Array) => b.subarray(0, 12).every((x) => x === 0);

describe('IPv6 text', () => {
  // RFC 5952 sections 4 and 5, each written several ways.
  const examples: [string[], string][] = [
    [['2001:db8:aaaa:bbbb:cccc:dddd:eeee:0001', '2001:db8:aaaa:bbbb:cccc:dddd:eeee:001'], '2001:db8:aaaa:bbbb:cccc:dddd:eeee:1'], // 4.1
    [['2001:db8:0:0:0:0:2:1', '2001:db8::0:0:2:1', '2001:0db8:0000:0000:0000:0000:0002:0001'], '2001:db8::2:1'], // 4.2.1
    [['2001:db8:0:1:1:1:1:1', '2001:db8::1:1:1:1:1'], '2001:db8:0:1:1:1:1:1'], // 4.2.2: never '::' for one group
    [['2001:0:0:1:0:0:0:1', '2001::1:0:0:0:1'], '2001:0:0:1::1'], // 4.2.3: the longest run
    [['2001:db8:0:0:1:0:0:1', '2001:db8::1:0:0:1', '2001:0db8:0:0:1::1', '2001:DB8:0:0:1::1'], '2001:db8::1:0:0:1'], // 4.2.3: the first of equal runs
    [['2001:DB8::ABCD:EF'], '2001:db8::abcd:ef'], // 4.3: lower case
    [['::ffff:192.0.2.1', '0:0:0:0:0:FFFF:C000:0201', '::ffff:c000:201'], '::ffff:192.0.2.1'], // 5: IPv4-mapped
    [['0:0:0:0:0:0:0:0', '::0'], '::'],
    [['0:0:0:0:0:0:0:1'], '::1'],
    [['1:0:0:0:0:0:0:0'], '1::'],
    [['fe80:0:0:0:0:0:0:1'], 'fe80::1'],
    [['::c000:201', '::192.0.2.1'], '::c000:201'], // IPv4-compatible: hex (see the header)
    [['ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff'], 'ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff'],
    [['1:0:1:0:1:0:1:0'], '1:0:1:0:1:0:1:0'],
    [['0:0:1:0:0:0:1:0'], '0:0:1::1:0'],
  ];
  for (const [inputs, canonical] of examples) {
    test(`${inputs[0]} -> ${canonical}`, () => {
      for (const s of inputs) {
        const b = parseIpv6(s);
        assert.ok(b, `${s} parses`);
        assert.equal(formatIpv6(...words(b)), canonical, s);
        assert.equal(ipv6Text(b, 0), canonical);
        assert.equal(rfc5952(s), canonical, 'the URL-based reference agrees');
        if (!isCompatible(b)) assert.equal(new SocketAddress({ address: s, family: 'ipv6' }).address, canonical, 'inet_ntop agrees');
      }
    });
  }

  test('20k random addresses: canonical text as URL and inet_ntop give it, and back to the same bytes', () => {
    const r = rng(5952);
    for (let n = 0; n < 20_000; n++) {
      const b = new Uint8Array(16);
      // Mostly zero groups, so that runs of every length and position occur.
      for (let g = 0; g < 8; g++) {
        const x = r();
        const v = x < 0.5 ? 0 : x < 0.6 ? 1 : x < 0.7 ? 0xffff : Math.floor(r() * 65536);
        b[2 * g] = v >> 8; b[2 * g + 1] = v & 255;
      }
      if (n % 50 === 0) { b.fill(0, 0, 10); b[10] = 0xff; b[11] = 0xff; } // some IPv4-mapped
      const text = formatIpv6(...words(b));
      const full = longForm(b);
      assert.equal(text, rfc5952(full), `${full}`);
      if (!isCompatible(b) || isMapped(b)) assert.equal(text, new SocketAddress({ address: full, family: 'ipv6' }).address, full);
      assert.deepEqual(parseIpv6(text), b, text);
      assert.deepEqual(parseIpv6(full), b, full);
      assert.equal(ipv6Text(b, 0), text);
    }
  });

  test('validity agrees with net.isIPv6 and URL', () => {
    const inputs = [
      '::', '::1', '1::', '1:2:3:4:5:6:7:8', '1:2:3:4:5:6:7::', '::2:3:4:5:6:7:8', '1::8', '0001:0002::',
      '::ffff:1.2.3.4', '1:2:3:4:5:6:1.2.3.4', '::1.2.3.4', 'A:B:C:D:E:F:0:0',
      '', ':', ':::', '1:2:3:4:5:6:7:8:9', '1:2:3:4:5:6:7', '1::2::3', '1:2:3:4:5:6:7::8', '12345::', 'g::',
      ':1::', '1::2:', '1.2.3.4', '1.2.3.4::', '::1.2.3.4:5', '::ffff:256.1.1.1', '::ffff:01.2.3.4',
      '1:2:3:4:5:6:7:1.2.3.4', '[::1]', ' ::1', '::1 ', '::-1', '0x1::', '::ffff:1.2.3',
    ];
    for (const s of inputs) {
      let url = true;
      try { new URL(`http://[${s}]/`); } catch { url = false; }
      assert.equal(parseIpv6(s) !== null, isIPv6(s), `${JSON.stringify(s)}: net.isIPv6 says ${isIPv6(s)}`);
      assert.equal(parseIpv6(s) !== null, url, `${JSON.stringify(s)}: URL says ${url}`);
    }
    assert.equal(isIPv6('fe80::1%eth0'), true);
    assert.equal(parseIpv6('fe80::1%eth0'), null, 'zone index: see the header');
  });
});

describe('IPv4 text', () => {
  test('dotted quads: text, parse, and validity as net.isIPv4 says', () => {
    const r = rng(791);
    for (let n = 0; n < 20_000; n++) {
      const b = Uint8Array.from({ length: 4 }, () => (r() < 0.2 ? 0 : r() < 0.2 ? 255 : Math.floor(r() * 256)));
      const want = `${b[0]}.${b[1]}.${b[2]}.${b[3]}`;
      const w = ((b[0] << 24) | (b[1] << 16) | (b[2] << 8) | b[3]) >>> 0;
      assert.equal(formatIpv4(w), want);
      assert.equal(ipv4Text(b, 0), want);
      assert.equal(parseIpv4(want), w);
    }
    const inputs = ['0.0.0.0', '255.255.255.255', '1.2.3.4', '10.0.0.1', '256.1.1.1', '1.2.3', '1.2.3.4.5', '010.1.1.1',
      '01.2.3.4', '1.2.3.04', '00.0.0.0', '1.2.3.-4', ' 1.2.3.4', '1.2.3.4 ', '0x1.2.3.4', '1..2.3', '', '1.2.3.4/8'];
    for (const s of inputs) assert.equal(parseIpv4(s) >= 0, isIPv4(s), `${JSON.stringify(s)}: net.isIPv4 says ${isIPv4(s)}`);
  });

  test('interned: the same string object for an address seen before, right after the table is cleared', () => {
    const b = Uint8Array.of(192, 0, 2, 33);
    assert.ok(Object.is(ipv4Text(b, 0), ipv4Text(Uint8Array.from(b), 0)));
    const v6 = parseIpv6('2001:db8::33')!;
    assert.ok(Object.is(ipv6Text(v6, 0), ipv6Text(Uint8Array.from(v6), 0)));
    // A spoofed-source flood: far more distinct addresses than the table holds (2^17 before it
    // is cleared); every text stays right.
    const buf = new Uint8Array(4);
    for (let i = 0; i < 400_000; i++) {
      const w = Math.imul(i, 2654435761) >>> 0;
      buf[0] = w >>> 24; buf[1] = (w >>> 16) & 255; buf[2] = (w >>> 8) & 255; buf[3] = w & 255;
      const t = ipv4Text(buf, 0);
      if (i % 997 === 0) assert.equal(t, `${buf[0]}.${buf[1]}.${buf[2]}.${buf[3]}`);
    }
    assert.equal(ipv4Text(b, 0), '192.0.2.33');
    assert.equal(ipv6Text(v6, 0), '2001:db8::33');
  });
});

test('MAC text: lower-case colon hex', () => {
  const b = Uint8Array.of(0, 0x1b, 0xd5, 0xff, 0x54, 0xd9, 0xaa);
  assert.equal(macText(b, 0), '00:1b:d5:ff:54:d9');
  assert.equal(macText(b, 1), '1b:d5:ff:54:d9:aa');
});
