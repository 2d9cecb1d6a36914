// src/gen/int-gen.ts as a program: pcap output (checked with tshark when installed, and decoded),
// UDP output to a local socket at a set rate; plus a no-allocation check of the decoder.

import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createIntReport, decodeIntReport, intStatusName } from '../../../src/decode/int/index.ts';
import { encodeReportInto, maxReportSize, reportSeries } from '../../../src/gen/int-gen.ts';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const GEN = join(ROOT, 'src/gen/int-gen.ts');
const dir = mkdtempSync(join(tmpdir(), 'int-gen-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function hasTshark(): boolean {
  try {
    execFileSync('tshark', ['-v'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** Minimal classic-pcap reader (little endian, 16-byte record headers). */
function frames(file: string): Uint8Array[] {
  const b = readFileSync(file);
  const out: Uint8Array[] = [];
  for (let p = 24; p + 16 <= b.length;) {
    const n = b.readUInt32LE(p + 8);
    out.push(new Uint8Array(b.buffer, b.byteOffset + p + 16, n));
    p += 16 + n;
  }
  return out;
}

describe('int-gen CLI', () => {
  for (const v of ['0.5', '1.0', '2.0']) {
    it(`--version ${v} --out writes valid frames that decode`, () => {
      const file = join(dir, `r${v}.pcap`);
      execFileSync(process.execPath, [GEN, '--version', v, '--hops', '4', '--reports', '50', '--seed', '3', '--out', file]);
      const fr = frames(file);
      assert.equal(fr.length, 50);
      if (hasTshark()) {
        // tshark checks the outer headers independently: IPv4 checksum good, UDP to 32766, lengths
        const lines = execFileSync('tshark', ['-r', file, '-o', 'ip.check_checksum:TRUE', '-T', 'fields',
          '-e', 'ip.checksum.status', '-e', 'udp.dstport', '-e', 'udp.length', '-e', 'frame.len'], { encoding: 'utf8' })
          .trim().split('\n');
        assert.equal(lines.length, 50);
        for (const l of lines) {
          const [ck, port, ulen, flen] = l.split('\t');
          assert.equal(ck, '1'); // expert status 1 = good (0 bad, 2 unverified)
          assert.equal(port, '32766');
          assert.equal(Number(ulen), Number(flen) - 34);
        }
      }
      const r = createIntReport();
      for (const f of fr) {
        assert.equal(intStatusName(decodeIntReport(f, 42, f.length - 42, r)), 'ok');
        assert.equal(r.hopCount, 4);
      }
    });
  }

  it('--udp sends reports to a local socket at the given rate', async () => {
    const sock = createSocket('udp4');
    await new Promise<void>((res) => sock.bind(0, '127.0.0.1', () => res()));
    const port = sock.address().port;
    const got: Buffer[] = [];
    sock.on('message', (m) => got.push(m));
    const t0 = Date.now();
    const child = spawn(process.execPath, [GEN, '--version', '2.0', '--hops', '3', '--reports', '200', '--rate', '1000', '--udp', `127.0.0.1:${port}`], { stdio: 'ignore' });
    const code = await new Promise<number | null>((res) => child.on('exit', res));
    const ms = Date.now() - t0;
    await new Promise((res) => setTimeout(res, 100));
    sock.close();
    assert.equal(code, 0);
    assert.ok(ms >= 150, `200 reports at 1000/s took ${ms} ms`);
    assert.ok(got.length >= 190, `received ${got.length}`);
    const r = createIntReport();
    for (const m of got) {
      const u = new Uint8Array(m.buffer, m.byteOffset, m.length);
      assert.equal(intStatusName(decodeIntReport(u, 0, u.length, r)), 'ok');
      assert.equal(r.hopCount, 3);
    }
  });
});

describe('decoder allocation', () => {
  it('decoding 200k reports does not grow the heap', () => {
    const next = reportSeries({ version: '2.0', hops: 6, seed: 5 });
    const n = 64;
    const slot = maxReportSize(next(0));
    const buf = new Uint8Array(n * slot);
    const offs: number[] = [];
    const lens: number[] = [];
    for (let k = 0; k < n; k++) {
      offs.push(k * slot);
      lens.push(encodeReportInto(buf, k * slot, next(k)).length);
    }
    const r = createIntReport();
    let sum = 0;
    const run = (count: number) => {
      for (let i = 0; i < count; i++) {
        const k = i & (n - 1);
        sum += decodeIntReport(buf, offs[k], lens[k], r) + r.hops.switchId[5];
      }
    };
    run(200_000); // warm up / optimize
    const before = process.memoryUsage().heapUsed;
    run(200_000);
    const grew = process.memoryUsage().heapUsed - before;
    assert.ok(grew < 512 * 1024, `heap grew by ${grew} bytes over 200k decodes`);
    assert.ok(sum > 0);
  });
});
