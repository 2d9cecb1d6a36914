/**
 * sendProbe without a network: output parsers against captured iputils/traceroute output,
 * the allow-list, the token bucket, and refusals (which resolve to a result, never throw).
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { AllowList } from '../../src/probe/allow-list.ts';
import { parsePing } from '../../src/probe/ping.ts';
import { parseTraceroute } from '../../src/probe/traceroute.ts';
import { createProber } from '../../src/probe/send-probe.ts';
import { TokenBucket } from '../../src/probe/token-bucket.ts';

// Printed by `ping -4 -n -c 3 -i 0.2 10.172.2.2` (iputils 20221126) in the namespace lab.
const PING = `PING 10.172.2.2 (10.172.2.2) 56(84) bytes of data.
64 bytes from 10.172.2.2: icmp_seq=1 ttl=63 time=24.5 ms
64 bytes from 10.172.2.2: icmp_seq=2 ttl=63 time=20.4 ms
64 bytes from 10.172.2.2: icmp_seq=3 ttl=63 time=20.5 ms

--- 10.172.2.2 ping statistics ---
3 packets transmitted, 3 received, 0% packet loss, time 402ms
rtt min/avg/max/mdev = 20.467/21.813/24.487/1.890 ms
`;
const PING_LOST = `PING 10.9.9.9 (10.9.9.9) 56(84) bytes of data.

--- 10.9.9.9 ping statistics ---
2 packets transmitted, 0 received, 100% packet loss, time 1023ms

`;
// Printed by `traceroute -4 -n -q 1 -w 1 10.172.3.2` (traceroute 2.1.2).
const TRACE = `traceroute to 10.172.3.2 (10.172.3.2), 30 hops max, 60 byte packets
 1  10.172.1.1  0.107 ms
 2  *
 3  10.172.3.2  0.075 ms
`;

describe('probe output parsers', () => {
  test('ping: counts, min/avg/max and each reply', () => {
    assert.deepEqual(parsePing(PING), { sent: 3, received: 3, min_ms: 20.467, avg_ms: 21.813, max_ms: 24.487, rtts_ms: [24.5, 20.4, 20.5] });
    assert.deepEqual(parsePing(PING_LOST), { sent: 2, received: 0, min_ms: null, avg_ms: null, max_ms: null, rtts_ms: [] });
    assert.equal(parsePing('ping: connect: Network is unreachable\n'), null);
  });
  test('traceroute: hops, silent hops, reached', () => {
    assert.deepEqual(parseTraceroute(TRACE, '10.172.3.2'), {
      hops: [{ ttl: 1, addr: '10.172.1.1', rtt_ms: 0.107 }, { ttl: 2, addr: null, rtt_ms: null }, { ttl: 3, addr: '10.172.3.2', rtt_ms: 0.075 }],
      reached: true,
    });
    assert.equal(parseTraceroute(TRACE, '10.172.3.9').reached, false);
  });
});

describe('allow-list', () => {
  test('IPv4 and IPv6 prefixes', () => {
    const a = new AllowList(['10.1.0.0/16', '192.0.2.7', '2001:db8:ab::/48']);
    assert.ok(a.allows('10.1.255.3'));
    assert.ok(!a.allows('10.2.0.1'));
    assert.ok(a.allows('192.0.2.7') && !a.allows('192.0.2.8'));
    assert.ok(a.allows('2001:db8:ab:1::1') && !a.allows('2001:db8:ac::1'));
    assert.ok(!a.allows('::ffff:10.1.0.1'), 'families do not mix');
    assert.ok(!a.allows('example.org'), 'names are never resolved');
    assert.ok(new AllowList(['10.1.2.3/9']).allows('10.127.0.1'));
    assert.ok(new AllowList([]).empty);
  });
  test('bad entries are usage errors', () => {
    for (const bad of ['10.0.0.0/33', 'example.org', '10.0.0/8', '2001:db8::/129', '10.0.0.0/8/1', '10.0.0.0/x']) {
      assert.throws(() => new AllowList([bad]), (e: any) => e.code === 'USAGE', bad);
    }
  });
});

describe('token bucket', () => {
  test('burst, then the rate', () => {
    let now = 0;
    const b = new TokenBucket(2, 3, () => now);
    assert.deepEqual([b.take(), b.take(), b.take(), b.take()], [true, true, true, false]);
    now += 499; assert.equal(b.take(), false);
    now += 1; assert.equal(b.take(), true);
    now += 10_000; assert.deepEqual([b.take(), b.take(), b.take(), b.take()], [true, true, true, false], 'no more than the burst saved up');
  });
});

describe('refusals resolve to a result that says so', () => {
  test('no allow-list: probing is off', async () => {
    const r = await createProber({ allow: [] })({ type: 'ping', dst: '127.0.0.1' });
    assert.equal(r.ok, false);
    assert.match(r.error!, /not enabled/);
  });
  test('outside the allowed networks, not an address, unknown type, rate limit', async () => {
    const send = createProber({ allow: ['127.0.0.0/8'], ratePerSec: 1, burst: 1 });
    assert.match((await send({ type: 'ping', dst: '192.0.2.1' })).error!, /not in the allowed networks/);
    assert.match((await send({ type: 'ping', dst: 'localhost' })).error!, /not in the allowed networks/);
    assert.match((await send({ type: 'nmap' as any, dst: '127.0.0.1' })).error!, /unknown probe type/);
    const first = send({ type: 'ping', dst: '127.0.0.1', count: 1, timeoutMs: 1000 });
    const second = await send({ type: 'ping', dst: '127.0.0.1', count: 1 });
    assert.equal(second.ok, false);
    assert.match(second.error!, /rate limit/);
    const r = await first;
    assert.equal(r.ok, true, String(r.error));
    assert.equal(r.sent, 1);
  });
});
