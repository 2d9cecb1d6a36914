/**
 * The generated capture with planted anomalies (tools/gen-traffic.ts --anomalies) used by the
 * application tests, made once per option set in $TMPDIR and reused (the generator is
 * deterministic from its seed), so that tshark's cached output for it stays valid.
 */
import { existsSync, readFileSync, renameSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generate, type GenOptions } from '../../tools/gen-traffic.ts';

export const GENERATED: GenOptions = { packets: 120_000, seconds: 40, seed: 7, start: 1_700_000_000, hosts: 5000, anomalies: true };

export async function generatedCapture(o: GenOptions = GENERATED): Promise<string> {
  const gen = createHash('sha256').update(readFileSync(new URL('../../tools/gen-traffic.ts', import.meta.url))).digest('hex').slice(0, 12);
  const path = join(tmpdir(), `intstream-apps-gen-${gen}-${o.packets}-${o.seconds}-${o.seed}-${o.start}-${o.hosts}-${o.anomalies ? 'a' : 'n'}.pcap`);
  if (!existsSync(path)) {
    const tmp = `${path}.${process.pid}.tmp`;
    await generate(tmp, o);
    renameSync(tmp, path);
  }
  return path;
}
