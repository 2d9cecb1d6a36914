// int-collector after a forward jump in event time (issue 12, finding 1): periodic exports
// collapse into one at the latest multiple of the period reached (src/int/collector.ts, top),
// so a jump costs O(keys) whatever its length; and where doubles are coarser than the period
// (t + period == t, a pcapng if_tsoffset of 2^62 s) the schedule still moves on. Reports are
// written by src/gen/int-gen.ts; the expected events are counted by hand from the documented
// rules: one report holds one flow through one switch, so it makes four keys (flow, hop,
// egress, queue).
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { encodeReport, encodeReportFrame } from '../../src/gen/int-gen.ts';
import { Packet } from '../../src/decode/packet.ts';
import { decodePacket } from '../../src/decode/decoder.ts';
import { configurePacketInt } from '../../src/decode/int-view.ts';
import { IntCollectorState, type CollectorConfig } from '../../src/int/collector.ts';
import { PcapngWriter, tsoffset } from '../support/pcap-writer.ts';
import { BIN, jsonl } from '../support/run-cli.ts';

/** One TR v2.0 report frame: flow 10.0.0.1:1111 -> 10.0.0.2:80 TCP through switch 7. */
const FRAME = encodeReportFrame(encodeReport({
  version: '2.0', sequence: 1, nodeId: 7, hwId: 1, tracked: true, instructionBitmap: 0xff80,
  hops: [{ switchId: 7, ingressPort: 1, egressPort: 3, hopLatency: 400, queueId: 1, queueOccupancy: 50, egressTxUtil: 20, queueCongestion: 0, ingressTs: 0, egressTs: 0, l2IngressPort: 0, l2EgressPort: 0 }],
  inner: { l4: 'tcp', srcIp: 0x0a000001, dstIp: 0x0a000002, srcPort: 1111, dstPort: 80 },
}).bytes, { dstPort: 32766 });

interface Ev { event: string; kind: string; ts: number }

/** Feeds one report per time; more than `cap` events is a runaway (the old loop), not a result. */
function run(times: number[], config: Partial<CollectorConfig>, cap = 1000): Ev[] | string {
  const state = new IntCollectorState(config);
  const p = new Packet();
  configurePacketInt(p, { intPort: 32766 });
  const evs: Ev[] = [];
  const out = (v: any, k: any) => {
    evs.push({ event: v.event, kind: k.kind, ts: v.ts });
    if (evs.length > cap) throw new Error(`more than ${cap} events: the periodic schedule runs away`);
  };
  try {
    for (const t of times) {
      decodePacket(p, FRAME, 0, FRAME.length, FRAME.length, t, 1);
      if (!p.int) return 'the report does not decode';
      state.onReport(p, t, out);
    }
    state.finish(out);
  } catch (e) { return (e as Error).message; }
  return evs;
}

const T0 = 1_700_000_000.5;
const T = 2 ** 62; // doubles are 1024 s apart here: T + 10 == T
const SCENARIOS: Record<string, [number[], Partial<CollectorConfig>]> = {
  jump12default: [[T0, 1e12], { period: 10, timeout: 30 }],
  jump12: [[T0, 1e12], { period: 10, timeout: 0 }],
  periods: [[T0, T0 + 20, T0 + 50], { period: 10, timeout: 0 }],
  steady: [[T0, T0 + 10, T0 + 20], { period: 10, timeout: 0 }],
  coarse: [[T, T, T + 1024, T + 1024, T + 2048], { period: 10, timeout: 0 }],
  coarseTimeout: [[T, T + 1024], { period: 10, timeout: 30 }],
};

const CHILD = process.env.INTSTREAM_JUMPS_SCENARIO;
if (CHILD !== undefined) {
  // The child: one scenario, its events as JSON on stdout.
  const [times, config] = SCENARIOS[CHILD];
  console.log(JSON.stringify(run(times, config)));
} else {
  // Each scenario runs in a child process with a time limit: a schedule that loops for ever
  // (with no key to emit for, nothing else would stop it) fails its test instead of hanging the run.
  const got = (name: string): unknown => {
    const child = spawnSync(process.execPath, [fileURLToPath(import.meta.url)], {
      env: { ...process.env, INTSTREAM_JUMPS_SCENARIO: name }, timeout: 20_000, killSignal: 'SIGKILL', encoding: 'utf8',
    });
    assert.equal(child.status, 0, `${name} did not end: exit ${child.status} (${child.signal ?? 'no signal'}) ${child.stderr.slice(0, 500)}`);
    return JSON.parse(child.stdout);
  };
  const dir = mkdtempSync(join(tmpdir(), 'intstream-int-jumps-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  const KINDS = ['flow', 'hop', 'egress', 'queue'];
  const each = (event: string, ts: number) => KINDS.map((kind) => ({ event, kind, ts }));

  describe('int-collector: forward jumps in event time', () => {
    it('a jump to 10^12 s with the default period 10 and timeout 30: the keys expire, no periodic events for the gap', () => {
      // new x4 at T0. The second report passes 10^11 multiples of 10 at once: they collapse into
      // one export at the latest, 10^12, by which every key is long stale: expired x4 first (at
      // T0 + 30), no key left to export; the report makes them new again. (Stepping through every
      // multiple gave periodic x4 at ..010, ..020, ..030, then minutes of empty steps.)
      assert.deepEqual(got('jump12default'), [...each('new', T0), ...each('expired', T0 + 30), ...each('new', 1e12)]);
    });

    it('a jump to 10^12 s with timeout 0 (keys never expire): one periodic event per key, at the latest multiple', () => {
      assert.deepEqual(got('jump12'), [...each('new', T0), ...each('periodic', 1e12)]);
    });

    it('jumps of 2 and 3 periods: one export each, at the latest multiple (last_seen says how old)', () => {
      assert.deepEqual(got('periods'), [...each('new', T0), ...each('periodic', 1_700_000_020), ...each('periodic', 1_700_000_050)]);
    });

    it('reports one period apart: one export per multiple, as before', () => {
      assert.deepEqual(got('steady'), [...each('new', T0), ...each('periodic', 1_700_000_010), ...each('periodic', 1_700_000_020)]);
    });

    it('near 2^62 s, where t + period == t: at most one export per distinct time, never a loop', () => {
      assert.equal(T + 10, T);
      assert.deepEqual(got('coarse'), [...each('new', T), ...each('periodic', T + 1024), ...each('periodic', T + 2048)]);
      // with a timeout of 30 s (also below the spacing), every key is stale at the next time;
      // last_seen + 30 rounds to T
      assert.deepEqual(got('coarseTimeout'), [...each('new', T), ...each('expired', T), ...each('new', T + 1024)]);
    });

    it('end to end: a pcapng interface with if_tsoffset 2^62 and two reports, in bounded time', () => {
      // EPB times 0 and 2048 s (microseconds) on an interface offset by 2^62 s: reports at 2^62
      // and 2^62 + 2048 (both exact doubles). Defaults (period 10, timeout 30): new x4, the keys
      // expire (last_seen + 30 rounds to 2^62) when the second report comes, new x4 again.
      const w = new PcapngWriter().shb().idb({ linkType: 1, options: [tsoffset(1n << 62n)] })
        .epb({ ts: 0n, data: FRAME }).epb({ ts: 2048_000_000n, data: FRAME });
      const file = join(dir, 'tsoffset.pcapng');
      writeFileSync(file, w.bytes());
      const r = spawnSync(process.execPath, ['--max-old-space-size=256', BIN, 'run', 'int-collector', '-q', '-s', `pcap:${file}`, '-p', 'int_port=32766', '-f', 'jsonl'],
        { timeout: 60_000, killSignal: 'SIGKILL', encoding: 'utf8' });
      assert.equal(r.status, 0, `exit ${r.status} (${r.signal ?? 'no signal'}): ${r.stderr.slice(0, 500)}`);
      const evs = jsonl(r.stdout).map((x) => ({ event: x.value.event, kind: x.key.kind, ts: x.value.ts }));
      assert.deepEqual(evs, [...each('new', T), ...each('expired', T), ...each('new', T + 2048)]);
    });
  });
}
