/**
 * Feeding UDP sources in tests: the payloads of a capture's UDP packets as tshark dissects them
 * (not intstream's reader), sent in order to a port on 127.0.0.1; and JSON Lines output read
 * back as result objects.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createSocket } from 'node:dgram';

/** The UDP payloads of a capture, in order (tshark's dissection). */
export function udpPayloads(file: string): Buffer[] {
  const r = spawnSync('tshark', ['-n', '-r', file, '-T', 'fields', '-e', 'udp.payload'], { encoding: 'utf8', maxBuffer: 1 << 26 });
  assert.equal(r.status, 0, r.stderr);
  return r.stdout.split('\n').filter(Boolean).map((h) => Buffer.from(h.replace(/:/g, ''), 'hex'));
}

/** Sends each datagram to 127.0.0.1:port, 2 ms apart (a receiver's buffer never overflows). */
export async function sendAll(port: number, datagrams: Buffer[]): Promise<void> {
  const s = createSocket('udp4');
  for (const d of datagrams) {
    await new Promise<void>((res, rej) => s.send(d, port, '127.0.0.1', (e) => (e ? rej(e) : res())));
    await new Promise((r) => setTimeout(r, 2));
  }
  s.close();
}

/** `intstream run --format jsonl` output as result objects. */
export function jsonlResults(text: string): any[] {
  return text.trim().split('\n').filter(Boolean).map((l) => JSON.parse(l));
}
