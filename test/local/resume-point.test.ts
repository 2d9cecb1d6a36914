/**
 * Resuming a local stage mid-file (src/control/resume-point.ts), in one process, against plain
 * reads of the same files:
 *   - a capture file source opened at any resume point it gave between batches reads exactly the
 *     records a full read has from there on (pcap either byte order and ns, pcapng with several
 *     sections, byte orders, interfaces and Simple Packet Blocks);
 *   - a local stage resumed at any checkpoint the tracker took sends, for every window at or after
 *     the checkpoint's watermark, exactly the partial results of an uninterrupted run, whatever
 *     the lateness and with packets out of order; and the uninterrupted run keeps the seal
 *     contract the GSP's de-duplication relies on (a message's elements lie between the previous
 *     message's watermark and its own);
 *   - a checkpoint is refused when the file or the source changed, and stages that are not made
 *     of windowed results are not resumable.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { checkpointMismatch, fileIdentity, resumableStage, ResumeTracker, type Checkpoint } from '../../src/control/resume-point.ts';
import { loadSpec } from '../../src/apps/task-spec.ts';
import { refuseProbes } from '../../src/probe/refuse-probes.ts';
import { openLocalStage } from '../../src/local/local-stage.ts';
import { openFileInput } from '../../src/sources/byte-input.ts';
import { CaptureFileSource, type CaptureResumePoint } from '../../src/sources/capture-file-source.ts';
import { CAPTURES, ROOT } from '../support/run-cli.ts';
import { synCapture } from '../support/syn-capture.ts';

const tmp = mkdtempSync(join(tmpdir(), 'intstream-resume-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

interface Rec { ts: number; iface: number; linkType: number; capLen: number; len: number; off: number; data: string }

/** Reads a capture from `start` (or its beginning) in batches of `batch`, with the resume point before each batch. */
async function read(path: string, batch: number, start?: CaptureResumePoint): Promise<{ recs: Rec[]; points: { at: CaptureResumePoint; before: number }[] }> {
  const src = new CaptureFileSource(`pcap:${path}`, path, await openFileInput(path), batch, start ? { start } : {});
  const recs: Rec[] = [];
  const points: { at: CaptureResumePoint; before: number }[] = [];
  try {
    await src.open();
    for (;;) {
      points.push({ at: JSON.parse(JSON.stringify(src.resumePoint())), before: recs.length });
      const b = await src.nextBatch();
      if (!b) break;
      for (let i = 0; i < b.count; i++) {
        recs.push({ ts: b.ts[i], iface: b.iface[i], linkType: b.linkType[i], capLen: b.capLen[i], len: b.wireLen[i], off: b.fileOffset[i], data: Buffer.from(b.buf.subarray(b.dataOff[i], b.dataOff[i] + b.capLen[i])).toString('hex') });
      }
    }
  } finally {
    await src.close();
  }
  return { recs, points };
}

describe('a capture file opened at a resume point', () => {
  const synNg = join(tmp, 'syn.pcapng');
  writeFileSync(synNg, synCapture({ packets: 3000, seconds: 30, dsts: 7, format: 'pcapng', jitter: 0.3 }).bytes);
  const files = [
    join(ROOT, 'samples', 'demo.pcap'), join(CAPTURES, 'edge', 'nanosecs_big_endian.pcap'), synNg,
    ...readdirSync(join(CAPTURES, 'pcapng')).map((f) => join(CAPTURES, 'pcapng', f)),
  ];
  for (const file of files) {
    test(file.startsWith(ROOT) ? file.slice(ROOT.length + 1) : 'a generated pcapng, out of order', async () => {
      const full = await read(file, 7);
      assert.ok(full.recs.length > 0);
      const step = Math.max(1, Math.floor(full.points.length / 25));
      for (let k = 0; k < full.points.length; k += step) {
        const p = full.points[k];
        const rest = await read(file, 5, p.at);
        assert.deepEqual(rest.recs, full.recs.slice(p.before), `resumed at offset ${p.at.offset} (point ${k})`);
      }
    });
  }
});

/** One local stage run over `path`: its messages, and a copy of every checkpoint taken. */
async function runStage(path: string, app: string, params: Record<string, string>, lateness: number, from?: Checkpoint) {
  const { split } = await loadSpec({ app, code: null, params, window: 1 });
  const file = fileIdentity(path)!;
  const spec = `pcap:${path}`;
  const source = new CaptureFileSource(spec, path, await openFileInput(path), 64, from ? { start: from.at } : {});
  const tracker = new ResumeTracker(source, spec, file, from?.items_before ?? 0);
  const msgs: { items: any[]; times: number[]; wm: number }[] = [];
  const cks: Checkpoint[] = [];
  const lp = await openLocalStage(spec, {
    index: 0, split, params, lateness, sendProbe: refuseProbes('none'), windowSize: 1, source,
    send: async (m) => {
      msgs.push({ items: m.items.map((x) => JSON.stringify(x)), times: [...m.times], wm: m.watermark });
      const v = tracker.version;
      tracker.acked(m.watermark);
      if (tracker.version !== v) cks.push(JSON.parse(JSON.stringify(tracker.checkpoint)));
    },
  });
  lp.beforeBatch = (t, r) => tracker.mark(t, r);
  if (from) lp.startTime = from.time ?? -Infinity;
  await lp.run();
  await source.close();
  return { msgs, cks, read: lp.read, split };
}

const atOrAfter = (msgs: { items: any[]; times: number[] }[], h: number) =>
  msgs.flatMap((m) => m.items.filter((_, i) => m.times[i] >= h)).sort();

describe('a local stage resumed at a checkpoint', () => {
  const cases = [
    { name: 'pcap in order, lateness 0', format: 'pcap' as const, jitter: 0, lateness: 0 },
    { name: 'pcap out of order, lateness 0 (late packets dropped)', format: 'pcap' as const, jitter: 0.4, lateness: 0 },
    { name: 'pcapng out of order, lateness 0.5 s', format: 'pcapng' as const, jitter: 0.4, lateness: 0.5 },
  ];
  for (const c of cases) {
    test(c.name, async () => {
      const path = join(tmp, `stage-${c.format}-${c.jitter}-${c.lateness}.${c.format}`);
      const packets = 4000;
      writeFileSync(path, synCapture({ packets, seconds: 40, dsts: 9, format: c.format, jitter: c.jitter, seed: 7 }).bytes);
      const full = await runStage(path, 'tcp-new-conn', { threshold: '0' }, c.lateness);
      assert.equal(full.read, packets);
      // the seal contract: message k's elements lie in [wm(k-1), wm(k))
      let prev = -Infinity;
      for (const m of full.msgs) {
        for (const t of m.times) assert.ok(t >= prev && t < m.wm, `element at ${t} in a message sealed at ${m.wm} after ${prev}`);
        prev = m.wm;
      }
      assert.ok(full.cks.length > 20, `checkpoints taken: ${full.cks.length}`);
      const step = Math.max(1, Math.floor(full.cks.length / 12));
      for (let k = 0; k < full.cks.length; k += step) {
        const ck = full.cks[k];
        const h = ck.watermark ?? Infinity;
        const resumed = await runStage(path, 'tcp-new-conn', { threshold: '0' }, c.lateness, ck);
        assert.equal(ck.items_before + resumed.read, packets, 'records before the resume point + records read after it');
        assert.ok(resumed.read < packets || ck.at.offset <= 28);
        assert.deepEqual(atOrAfter(resumed.msgs, h), atOrAfter(full.msgs, h), `windows from ${h} on, resumed at offset ${ck.at.offset}`);
      }
    });
  }

  test('refused when the file or the source changed; stages that are not windowed results are not resumable', async () => {
    const path = join(tmp, 'refuse.pcap');
    writeFileSync(path, synCapture({ packets: 2000, seconds: 20, dsts: 3 }).bytes);
    const { cks } = await runStage(path, 'tcp-new-conn', { threshold: '0' }, 0);
    const ck = cks[Math.floor(cks.length / 2)];
    assert.equal(checkpointMismatch(ck, `pcap:${path}`, fileIdentity(path)), null);
    assert.match(checkpointMismatch(ck, 'pcap:other.pcap', fileIdentity(path))!, /taken on source/);
    writeFileSync(path, synCapture({ packets: 2000, seconds: 20, dsts: 3, seed: 2 }).bytes); // same size, other bytes
    assert.match(checkpointMismatch(ck, `pcap:${path}`, fileIdentity(path))!, /first 64 KiB differ/);
    writeFileSync(path, synCapture({ packets: 1999, seconds: 20, dsts: 3 }).bytes);
    assert.match(checkpointMismatch(ck, `pcap:${path}`, fileIdentity(path))!, /size changed/);
    assert.equal(resumableStage((await loadSpec({ app: 'tcp-new-conn', code: null, params: {}, window: 1 })).split), null);
    assert.match(resumableStage((await loadSpec({ app: 'int-collector', code: null, params: {}, window: 1 })).split) ?? '', /process\(\)|windowed/);
  });
});
