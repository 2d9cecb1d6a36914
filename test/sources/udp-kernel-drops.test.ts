/**
 * Counted loss on UDP sources: datagrams the kernel drops because the socket's receive buffer is
 * full are reported as `udp_kernel_drops` in --stats and the summary. The process is stopped
 * (SIGSTOP) while a burst arrives into a small buffer on loopback, where a datagram is either
 * queued for the socket or dropped by it: the answer is the number sent (counted here) minus
 * what the source received.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { encodeReport } from '../../src/gen/int-gen.ts';
import { flowPerPathSeries } from '../../src/int/gen-series.ts';
import { BIN } from '../support/run-cli.ts';
import { freeUdpPort, waitListening } from './flow-source-support.ts';

test('int:udp: kernel drops of a full receive buffer are counted in --stats and the summary', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'intstream-udpdrops-'));
  try {
    const port = await freeUdpPort();
    const stats = join(dir, 's.json');
    const run = spawn(process.execPath, [BIN, 'run', 'int-collector', '--source', `int:udp://127.0.0.1:${port}?idle=2&rcvbuf=4096`, '--format', 'jsonl', '--stats', stats], { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    run.stderr.on('data', (b) => { err += b; });
    await waitListening(port);
    run.kill('SIGSTOP');
    const next = flowPerPathSeries({ version: '2.0', hops: 4, seed: 1, paths: 2 });
    const sock = createSocket('udp4');
    const sent = 2000;
    for (let k = 0; k < sent; k++) await new Promise<void>((res, rej) => sock.send(encodeReport(structuredClone(next(k))).bytes, port, '127.0.0.1', (e) => (e ? rej(e) : res())));
    sock.close();
    run.kill('SIGCONT');
    const [code] = await once(run, 'close');
    assert.equal(code, 0, err);
    const s = JSON.parse(readFileSync(stats, 'utf8'));
    const drops = s.skipped.udp_kernel_drops ?? 0;
    const received = s.items_read;
    assert.ok(drops > 0, `no drop counted (received ${received} of ${sent})`);
    assert.equal(received + drops, sent);
    assert.match(err, /udp_kernel_drops/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
