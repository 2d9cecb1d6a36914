/**
 * Report series for the collector's tests and benchmark: src/gen/int-gen.ts's deterministic
 * series (fixed switch paths, sine + noise hop latency, random-walk queues) with one flow per
 * path: the k-th report belongs to path k mod paths and to the flow 10.0.0.1 -> 10.0.0.2 UDP
 * from port 40000 + (k mod paths) to 5001, so a flow's path never changes unless asked to.
 */
import { reportSeries, type ReportSpec, type SeriesOptions } from '../gen/int-gen.ts';

export function flowPerPathSeries(o: SeriesOptions): (k: number) => ReportSpec {
  const next = reportSeries(o);
  const paths = o.paths ?? 16;
  return (k: number) => {
    const s = next(k);
    s.inner = { ...(s.inner ?? {}), srcPort: 40000 + (k % paths) };
    return s;
  };
}
