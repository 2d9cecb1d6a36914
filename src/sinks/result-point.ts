/**
 * Results as measurement points, for the time-series sinks (InfluxDB, Prometheus): the key's
 * fields are the ids (tags / labels), the value's numbers the metrics (fields / gauges).
 *
 *   key    object: each string/number/boolean field is a tag (`kind` included); a plain
 *          string or number key is the tag `key`; null: no tags
 *   value  number: the field `value`; object: numbers and booleans are fields, strings are
 *          tags (e.g. `event`), arrays of numbers become a comma-joined string field; `ts` is
 *          the point's time and not a field
 *   time   value.ts (seconds) when present, else the window's start, else the time of writing
 */
import type { TaskResult } from './sink.ts';

export interface Point {
  measurement: string;
  tags: [string, string][];
  fields: [string, number | boolean | string][];
  /** Seconds since the Unix epoch. */
  time: number;
}

export function toPoint(r: TaskResult): Point {
  const tags: [string, string][] = [];
  const fields: [string, number | boolean | string][] = [];
  const k = r.key;
  if (k !== null && typeof k === 'object' && !Array.isArray(k)) {
    for (const [n, v] of Object.entries(k as Record<string, unknown>)) {
      if (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean') tags.push([n, String(v)]);
    }
  } else if (k !== null && k !== undefined) tags.push(['key', String(k)]);
  let time = r.window ? r.window.start : Date.now() / 1000;
  const v = r.value;
  if (typeof v === 'number' || typeof v === 'boolean') fields.push(['value', v]);
  else if (v !== null && typeof v === 'object' && !Array.isArray(v)) {
    for (const [n, x] of Object.entries(v as Record<string, unknown>)) {
      if (n === 'ts' && typeof x === 'number') { time = x; continue; }
      if (typeof x === 'number' && Number.isFinite(x)) fields.push([n, x]);
      else if (typeof x === 'boolean') fields.push([n, x]);
      else if (typeof x === 'string') tags.push([n, x]);
      else if (Array.isArray(x) && x.every((e) => typeof e === 'number')) fields.push([n, x.join(',')]);
    }
  }
  tags.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  return { measurement: r.task, tags, fields, time };
}
