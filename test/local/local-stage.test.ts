/**
 * openLocalStage, the one composition of a local stage: a source that is refused (a file whose
 * header is not pcap/pcapng) leaves no file handle open behind the error.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { openLocalStage } from '../../src/local/local-stage.ts';
import { splitPlan } from '../../src/query/pipeline.ts';
import { buildPlan, resolveParams } from '../../src/query/task.ts';
import tcpNewConn from '../../src/apps/tcp-new-conn.ts';

const openFds = () => readdirSync('/proc/self/fd').length;

test('a refused capture file: CAPTURE_HEADER, and its handle is closed', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'intstream-stage-'));
  try {
    const bad = join(dir, 'not-a-capture.pcap');
    writeFileSync(bad, Buffer.alloc(4096, 0x41));
    const params = resolveParams(tcpNewConn, {});
    const split = splitPlan(buildPlan(tcpNewConn, params, { window: 10 }));
    const before = openFds();
    for (let i = 0; i < 20; i++) {
      await assert.rejects(openLocalStage(`pcap:${bad}`, { index: 0, split, params, sendProbe: async () => ({ ok: false }), send: async () => {} }), { code: 'CAPTURE_HEADER' });
    }
    assert.equal(openFds(), before, 'file handles left open by refused sources');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
