/**
 * `ping` through the system's program (Debian iputils-ping): ICMP echo without raw-socket code
 * of our own, and the same numbers an operator gets by hand. Output grammar used (iputils
 * 2022xxxx, `-n`, C locale):
 *
 *   64 bytes from ADDR: icmp_seq=N ttl=T time=R ms            (one line per reply)
 *   N packets transmitted, M received, ...                     (summary)
 *   rtt min/avg/max/mdev = A/B/C/D ms                           (only when M > 0)
 */
import { execFile } from 'node:child_process';
import { isIP } from 'node:net';

export interface PingStats {
  sent: number;
  received: number;
  /** Milliseconds; null when nothing came back. */
  min_ms: number | null;
  avg_ms: number | null;
  max_ms: number | null;
  /** Each reply's round-trip time in ms, in arrival order. */
  rtts_ms: number[];
}

/** Parses iputils ping output (see the grammar above). */
export function parsePing(text: string): PingStats | null {
  const sum = /(\d+) packets transmitted, (\d+) (?:packets )?received/.exec(text);
  if (!sum) return null;
  const rtts_ms: number[] = [];
  for (const m of text.matchAll(/\btime[=<]([\d.]+) ms/g)) rtts_ms.push(Number(m[1]));
  const stats = /= ([\d.]+)\/([\d.]+)\/([\d.]+)\/[\d.]+ ms/.exec(text);
  return {
    sent: Number(sum[1]),
    received: Number(sum[2]),
    min_ms: stats ? Number(stats[1]) : null,
    avg_ms: stats ? Number(stats[2]) : null,
    max_ms: stats ? Number(stats[3]) : null,
    rtts_ms,
  };
}

export interface PingOptions {
  count: number;
  /** Wait for each reply, ms (rounded up to whole seconds for ping's -W, at least 1). */
  timeoutMs: number;
  /** Gap between echo requests, ms (iputils allows 200 ms for any user). */
  intervalMs?: number;
}

/** Runs ping; resolves to its statistics or to an error text. Never rejects. */
export function runPing(dst: string, o: PingOptions): Promise<{ stats: PingStats } | { error: string }> {
  const fam = isIP(dst);
  if (fam === 0) return Promise.resolve({ error: `not an address literal: ${dst}` });
  const interval = Math.max(200, o.intervalMs ?? 200);
  const waitS = Math.max(1, Math.ceil(o.timeoutMs / 1000));
  const deadlineS = Math.ceil(((o.count - 1) * interval) / 1000) + waitS;
  const args = [fam === 6 ? '-6' : '-4', '-n', '-c', String(o.count), '-i', (interval / 1000).toFixed(3), '-W', String(waitS), '-w', String(deadlineS), dst];
  return new Promise((resolve) => {
    execFile('ping', args, { env: { ...process.env, LC_ALL: 'C' }, timeout: (deadlineS + 2) * 1000 }, (err, stdout, stderr) => {
      const stats = parsePing(String(stdout));
      // ping exits 1 when no reply came back: that is a measurement (0 received), not a failure.
      if (stats) return resolve({ stats });
      const why = String(stderr).trim().split('\n')[0] || (err ? err.message : 'no output');
      resolve({ error: `ping ${dst}: ${why}` });
    });
  });
}
