/**
 * sendProbe: the active-probing primitive of the application library (docs/design.md). An agent
 * probes only addresses inside its allow-list (default: none, so probing is off until the
 * operator allows networks with --allow-probe) and at a bounded rate (token bucket, one token
 * per request, --probe-rate). Probes run as child processes (ping, traceroute), so they never
 * stall the packet path; at most `maxConcurrent` run at once.
 *
 * A refused or failed probe resolves to `{ok: false, error}`; sendProbe never rejects.
 *
 *   ping        → {ok, type, dst, sent, received, min_ms, avg_ms, max_ms, rtts_ms}
 *   traceroute  → {ok, type, dst, hops: [{ttl, addr, rtt_ms}], reached}
 */
import type { ProbeRequest, ProbeResult } from '../query/stream.ts';
import { AllowList } from './allow-list.ts';
import { runPing } from './ping.ts';
import { TokenBucket } from './token-bucket.ts';
import { runTraceroute } from './traceroute.ts';

export interface ProberOptions {
  /** CIDR prefixes that may be probed (none: every probe is refused). */
  allow: readonly string[];
  /** Probe requests per second (default 10). */
  ratePerSec?: number;
  /** Requests that may be saved up (default max(1, rate)). */
  burst?: number;
  /** Child processes at once (default 16); beyond it a request is refused. */
  maxConcurrent?: number;
}

/** Upper bounds on what one request may ask for. */
export const PROBE_LIMITS = { count: 10, maxHops: 30, timeoutMs: 5000 } as const;

export type SendProbe = (req: ProbeRequest) => Promise<ProbeResult>;

export function createProber(o: ProberOptions): SendProbe & { allowList: AllowList } {
  const allow = new AllowList(o.allow);
  const bucket = new TokenBucket(o.ratePerSec ?? 10, o.burst);
  const maxConcurrent = o.maxConcurrent ?? 16;
  let running = 0;
  const refuse = (req: ProbeRequest, error: string): ProbeResult => ({ ok: false, type: req?.type, dst: req?.dst, error });

  const send = async (req: ProbeRequest): Promise<ProbeResult> => {
    if (!req || (req.type !== 'ping' && req.type !== 'traceroute')) return refuse(req, `unknown probe type ${JSON.stringify(req?.type)} (ping or traceroute)`);
    if (typeof req.dst !== 'string') return refuse(req, 'dst must be an address');
    if (allow.empty) return refuse(req, `probing is not enabled on this agent (no --allow-probe networks); ${req.type} to ${req.dst} not sent`);
    if (!allow.allows(req.dst)) return refuse(req, `${req.dst} is not in the allowed networks (${allow.toJSON().join(', ')}); ${req.type} not sent`);
    if (running >= maxConcurrent) return refuse(req, `too many probes running (${maxConcurrent}); ${req.type} to ${req.dst} not sent`);
    if (!bucket.take()) return refuse(req, `probe rate limit reached; ${req.type} to ${req.dst} not sent`);
    const timeoutMs = Math.min(PROBE_LIMITS.timeoutMs, Math.max(1, req.timeoutMs ?? 1000));
    running++;
    try {
      if (req.type === 'ping') {
        const count = Math.min(PROBE_LIMITS.count, Math.max(1, Math.floor(req.count ?? 3)));
        const r = await runPing(req.dst, { count, timeoutMs });
        if ('error' in r) return refuse(req, r.error);
        return { ok: true, type: 'ping', dst: req.dst, ...r.stats };
      }
      const maxHops = Math.min(PROBE_LIMITS.maxHops, Math.max(1, Math.floor(req.maxHops ?? 16)));
      const r = await runTraceroute(req.dst, { maxHops, timeoutMs });
      if ('error' in r) return refuse(req, r.error);
      return { ok: true, type: 'traceroute', dst: req.dst, ...r.trace };
    } catch (e) {
      return refuse(req, `${req.type} ${req.dst}: ${(e as Error).message}`);
    } finally {
      running--;
    }
  };
  return Object.assign(send, { allowList: allow });
}
