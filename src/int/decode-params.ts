/**
 * INT decoding options from a task's parameters: a task that declares `int_port` (and
 * optionally `int_dscp`, `int_md_port`, `int_lenient`) turns INT decoding on for every capture
 * source of the run, so `--param int_port=32766` marks report traffic in a pcap. A source that
 * knows it carries reports (`int:udp://...`) sets its own options, which take precedence.
 */
import { LENIENT_ALL } from '../decode/int/index.ts';
import type { IntDecodeOptions } from '../decode/int-view.ts';

/** Parameter declarations to spread into a task's `params` (defaults: all off). */
export const INT_DECODE_PARAMS = {
  int_port: { default: 0, description: 'UDP port of Telemetry Reports in capture sources (0: int:udp sources only)' },
  int_dscp: { default: -1, description: 'DSCP value marking INT-MD packets in flight (-1: off)' },
  int_md_port: { default: 0, description: 'UDP port marking INT-MD packets in flight (0: off)' },
  int_lenient: { default: false, description: 'accept known non-conformant layouts (BMv2 INT-MX reports) instead of counting them malformed' },
} as const;

export function intDecodeFromParams(params: Record<string, unknown>): IntDecodeOptions | undefined {
  const port = Number(params.int_port ?? 0), dscp = Number(params.int_dscp ?? -1), md = Number(params.int_md_port ?? 0);
  const lenient = params.int_lenient === true ? LENIENT_ALL : 0;
  const o: IntDecodeOptions = { intLenient: lenient };
  let on = false;
  if (port > 0) { o.intPort = port; on = true; }
  if (dscp >= 0) { o.intDscp = dscp; on = true; }
  if (md > 0) { o.intMdPort = md; on = true; }
  return on ? o : lenient ? o : undefined;
}

/** Source options over parameter options (a source that knows its format wins). */
export function mergeDecodeOptions(fromParams: IntDecodeOptions | undefined, fromSource: IntDecodeOptions | undefined): IntDecodeOptions | undefined {
  if (!fromParams) return fromSource;
  if (!fromSource) return fromParams;
  return { ...fromParams, ...fromSource, intLenient: fromSource.intLenient ?? fromParams.intLenient };
}
