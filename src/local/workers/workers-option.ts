/**
 * The `--workers` option of `run` and `agent`: local-stage threads per source, an integer from 1
 * to 64, or `auto` for the number of cores Node may use (os.availableParallelism()).
 */
import { availableParallelism } from 'node:os';
import { IntstreamError } from '../../errors.ts';

export const MAX_WORKERS = 64;

export function parseWorkers(text: string, option = '--workers'): number {
  const v = String(text).trim();
  if (v === 'auto') return Math.max(1, Math.min(MAX_WORKERS, availableParallelism()));
  const n = /^\d+$/.test(v) ? Number(v) : NaN;
  if (!(n >= 1 && n <= MAX_WORKERS)) {
    throw new IntstreamError('USAGE', `${option} ${text}: expected an integer from 1 to ${MAX_WORKERS}, or auto`, `auto: the number of cores here (${availableParallelism()}); 1: the local stage in the main thread`);
  }
  return n;
}
