// int:udp://HOST:PORT source fed by the `intstream int-gen --udp` CLI verb at a set rate on
// loopback; the expected paths are the generator's chosen ones (its report specs).
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import { runTask } from '../../src/run-task.ts';
import intCollector from '../../src/apps/int-collector.ts';
import { flowPerPathSeries } from '../../src/int/gen-series.ts';
import { openSourceSpec } from '../../src/sources/source-spec.ts';

const BIN = fileURLToPath(new URL('../../bin/intstream.js', import.meta.url));

async function freePort(): Promise<number> {
  return new Promise((res) => { const s = createServer(); s.listen(0, '127.0.0.1', () => { const p = (s.address() as any).port; s.close(() => res(p)); }); });
}

describe('int:udp source', () => {
  for (const version of ['0.5', '1.0', '2.0'] as const) {
    it(`receives TR v${version} reports sent by intstream int-gen --udp at 2000/s`, async () => {
      const port = await freePort();
      const got: any[] = [];
      const run = runTask({ task: intCollector, params: { period: '0' }, sources: [`int:udp://127.0.0.1:${port}?max=400&idle=5`], onResult: (r) => { got.push(r); } });
      await new Promise((r) => setTimeout(r, 100));
      const out = await new Promise<string>((res, rej) => execFile(process.execPath, [BIN, 'int-gen', '--report-version', version, '--hops', '5', '--reports', '400', '--paths', '4', '--flow-per-path', '--udp', `127.0.0.1:${port}`, '--rate', '2000'], (e, so, se) => (e ? rej(new Error(se)) : res(so))));
      assert.match(out, /sent 400 TR/);
      const stats = await run;
      assert.equal(stats.items_read, 400);
      assert.deepEqual(stats.malformed, {});
      const next = flowPerPathSeries({ version, hops: 5, seed: 1, paths: 4 });
      const want = [0, 1, 2, 3].map((k) => ({ sport: 40000 + k, path: next(k).hops.map((h) => h.switchId).reverse() }));
      const flows = got.filter((r) => r.key.kind === 'flow' && r.value.event === 'new').map((r) => ({ sport: r.key.sport, path: r.value.path }));
      assert.deepEqual(flows, want);
      assert.equal(got.filter((r) => r.value.event === 'path').length, 0);
      // the reporter's address is outer.ip.src
    });
  }

  it('rejects bad specs with a usage error', async () => {
    await assert.rejects(openSourceSpec('int:udp://127.0.0.1'), { code: 'SOURCE_SPEC' });
    await assert.rejects(openSourceSpec('int:udp://127.0.0.1:99999'), { code: 'SOURCE_SPEC' });
    await assert.rejects(openSourceSpec('int:udp://127.0.0.1:5000?bogus=1'), { code: 'SOURCE_SPEC' });
  });
});
