/** The probe policy where none is configured: every probe refused, saying why (sendProbe never rejects). */
import type { ProbeRequest, ProbeResult } from '../query/stream.ts';

export const refuseProbes = (why: string) => async (req: ProbeRequest): Promise<ProbeResult> =>
  ({ ok: false, error: `${why}; ${req?.type} to ${req?.dst} not sent` });
