/**
 * `traceroute` through the system's program (Debian traceroute, "Modern traceroute for
 * Linux"), one probe per hop (`-q 1`), numeric (`-n`). Output grammar used:
 *
 *   traceroute to DST (DST), N hops max, 60 byte packets        (header, on stdout)
 *    TTL  ADDR  RTT ms [!H|!N|!P|!X|...]                        (a hop that answered)
 *    TTL  *                                                      (no answer within the wait)
 */
import { execFile } from 'node:child_process';
import { isIP } from 'node:net';

export interface Hop {
  ttl: number;
  /** The address that answered, or null (`*`). */
  addr: string | null;
  rtt_ms: number | null;
}

export interface TraceResult {
  hops: Hop[];
  /** Whether the destination itself answered. */
  reached: boolean;
}

/** Parses traceroute output (see the grammar above). */
export function parseTraceroute(text: string, dst: string): TraceResult {
  const hops: Hop[] = [];
  for (const line of text.split('\n')) {
    const m = /^\s*(\d+)\s+(.*)$/.exec(line);
    if (!m) continue;
    const rest = m[2].trim();
    const a = /^([0-9a-fA-F.:]+)\s+([\d.]+) ms/.exec(rest);
    if (a && isIP(a[1])) hops.push({ ttl: Number(m[1]), addr: a[1], rtt_ms: Number(a[2]) });
    else hops.push({ ttl: Number(m[1]), addr: null, rtt_ms: null });
  }
  return { hops, reached: hops.length > 0 && hops[hops.length - 1].addr === dst };
}

export interface TracerouteOptions {
  maxHops: number;
  /** Wait per probe, ms (rounded up to whole seconds, at least 1). */
  timeoutMs: number;
}

export function runTraceroute(dst: string, o: TracerouteOptions): Promise<{ trace: TraceResult } | { error: string }> {
  const fam = isIP(dst);
  if (fam === 0) return Promise.resolve({ error: `not an address literal: ${dst}` });
  const waitS = Math.max(1, Math.ceil(o.timeoutMs / 1000));
  const args = [fam === 6 ? '-6' : '-4', '-n', '-q', '1', '-m', String(o.maxHops), '-w', String(waitS), dst];
  return new Promise((resolve) => {
    execFile('traceroute', args, { env: { ...process.env, LC_ALL: 'C' }, timeout: (o.maxHops * waitS + 5) * 1000 }, (err, stdout, stderr) => {
      const out = String(stdout);
      if (!/^\s*\d+\s/m.test(out)) {
        const why = String(stderr).trim().split('\n').pop() || (err ? err.message : 'no output');
        return resolve({ error: `traceroute ${dst}: ${why}` });
      }
      resolve({ trace: parseTraceroute(out, dst) });
    });
  });
}
