/**
 * Split invariance: every task gives the same results when its capture is split into two or
 * three files by a rule and read as several --source's as when read whole, and those results
 * equal the reference computed over the parts (which is how the test would notice a result
 * that is split-invariant but wrong). Rules: alternate packets (2 and 3 parts), by source host
 * (2 parts: a flow's two directions usually land in different parts), by time (3 parts, cut at
 * a third and two thirds of the packets, so windows straddle the cuts).
 *
 * Captures with packets more than a window out of order are run with unbounded lateness: with
 * lateness 0 whether such a packet is late depends on what came before it in its own file, so
 * splitting legitimately changes which packets count (exact.test.ts covers lateness 0 there).
 */
import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { basename } from 'node:path';
import * as R from '../support/reference.ts';
import { generatedCapture } from './generated.ts';
import { runApp, sameResults, sharedCaptures, TASKS, type TaskCase } from './helpers.ts';
import { splitCapture, type Assign } from './split-files.ts';

/** A hash of the source address, so one host's packets stay in one part. */
function hostPart(fr: R.Frame, index: number, parts: number): number {
  if (!fr.src) return index % parts;
  let h = 7;
  for (let i = 0; i < fr.src.length; i++) h = (h * 31 + fr.src.charCodeAt(i)) >>> 0;
  return h % parts;
}

const RULES: { name: string; parts: number; assign: (frames: R.Frame[]) => Assign }[] = [
  { name: 'alternate/2', parts: 2, assign: () => (i) => i % 2 },
  { name: 'alternate/3', parts: 3, assign: () => (i) => i % 3 },
  { name: 'host/2', parts: 2, assign: (frames) => (i) => hostPart(frames[i], i, 2) },
  {
    name: 'time/3', parts: 3, assign: (frames) => {
      const ts = frames.map((f) => f.ts).sort((a, b) => a - b);
      const t1 = ts[Math.floor(ts.length / 3)], t2 = ts[Math.floor((2 * ts.length) / 3)];
      return (i) => (frames[i].ts < t1 ? 0 : frames[i].ts < t2 ? 1 : 2);
    },
  },
];

/** Captures with the most varied traffic for these tasks, plus the out-of-order ones. */
const PICK = ['synscan.pcap', 'nmap-vsn.pcap', 'mining.pcapng', 'monero.pcap', 'tcp_0_1000_20190821.pcap', 'suricata-verify_tcp-session-syn-flood-drop-precedence.pcap',
  'bro.org.pcap', 'wireshark-retrans.pcap', 'retransmit-fast009.pcap', 'tcp_retransmissions.pcapng', 'timestamp.pcap', 'DnsPackets.pcap', 'tls2.pcap',
  'gre-aruba.pcap', 'vxlan.pcap', 'erspan.pcap', 'mixed-vlan-mpls.pcap', 'ip6_fragments.pcap', 'sites.pcapng', 'pcapng-example.pcapng', 'many_interfaces-1.pcapng', 'amp.UDP.snmp.src161.pcapng'];

interface Prepared { file: string; frames: R.Frame[]; lateness: number; splits: { rule: string; files: string[]; parts: R.Frame[][] }[] }

async function prepare(file: string): Promise<Prepared> {
  const frames = await R.framesOf(file);
  const lateness = R.lateCount(frames, 10) > 0 ? 1e12 : 0;
  const splits = RULES.map((rule) => {
    const assign = rule.assign(frames);
    const parts: R.Frame[][] = Array.from({ length: rule.parts }, () => []);
    frames.forEach((f, i) => parts[assign(i)].push(f));
    return { rule: rule.name, files: splitCapture(file, rule.parts, assign), parts };
  });
  return { file, frames, lateness, splits };
}

const rttCase: TaskCase = { name: 'rtt', reference: () => [], low: { targets: '192.0.2.1,2001:db8::1' } };

describe('split invariance', () => {
  const prepared: Prepared[] = [];
  before(async () => {
    const files = sharedCaptures().filter((f) => PICK.includes(basename(f)));
    assert.equal(files.length, PICK.length, 'every picked capture exists');
    files.push(await generatedCapture());
    for (const f of files) prepared.push(await prepare(f));
  });

  for (const t of [...TASKS, rttCase]) {
    test(t.name, async () => {
      let compared = 0;
      for (const p of prepared) {
        const params = basename(p.file).startsWith('intstream-apps-gen') && t.name !== 'rtt' ? {} : t.low;
        const whole = await runApp(t.name, [p.file], params, { lateness: p.lateness });
        for (const s of p.splits) {
          const parts = await runApp(t.name, s.files, params, { lateness: p.lateness });
          const where = `${t.name} on ${basename(p.file)} split ${s.rule}`;
          if (t.name === 'rtt') {
            // No probing here (refused): one result per window with traffic and target, as whole.
            assert.deepEqual(parts.results, whole.results, where);
            continue;
          }
          const refParts = R.canonical(t.reference({ sources: s.parts, window: 10, lateness: p.lateness, params }));
          assert.equal(sameResults(parts.results, refParts), null, `${where}: differs from the reference over the parts: ${sameResults(parts.results, refParts)}`);
          const refWhole = R.canonical(t.reference({ sources: [p.frames], window: 10, lateness: p.lateness, params }));
          if (sameResults(refParts, refWhole) !== null) {
            // Only tcp-retrans can legitimately differ: segments of one flow with equal
            // timestamps in different parts are ordered by source, not by file position.
            assert.equal(t.name, 'tcp-retrans', `${where}: the reference itself is not split-invariant`);
            continue;
          }
          assert.equal(JSON.stringify(parts.results), JSON.stringify(whole.results), `${where}: split results differ from whole`);
          compared++;
        }
        if (whole.results.length > 0) compared++;
      }
      assert.ok(compared > 20, `${t.name}: too few non-trivial comparisons (${compared})`);
    });
  }
});
