/** Number, time and size formatting shared by the views. */

const intFmt = new Intl.NumberFormat('en-US', { maximumFractionDigits: 0 });
const decFmt = new Intl.NumberFormat('en-US', { maximumFractionDigits: 1 });

export function fmtInt(n: number | null | undefined): string {
  return n === null || n === undefined || !Number.isFinite(n) ? '–' : intFmt.format(n);
}

export function fmtDec(n: number | null | undefined): string {
  return n === null || n === undefined || !Number.isFinite(n) ? '–' : decFmt.format(n);
}

/** A reduction ratio (0..1) as a percentage with two decimals, the way `intstream run` prints it. */
export function fmtReduction(r: number | null | undefined): string {
  return r === null || r === undefined || !Number.isFinite(r) ? '–' : `${(r * 100).toFixed(2)} %`;
}

export function fmtBytes(n: number | null | undefined): string {
  if (n === null || n === undefined || !Number.isFinite(n)) return '–';
  const units = ['B', 'KiB', 'MiB', 'GiB'];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) {
    n /= 1024;
    i++;
  }
  return `${i === 0 ? n : n.toFixed(1)} ${units[i]}`;
}

/** "3 s ago", "2 min ago" for a time in ms since the epoch. */
export function fmtAgo(t: number | null, now = Date.now()): string {
  if (t === null) return 'never';
  const s = Math.max(0, Math.round((now - t) / 1000));
  if (s < 60) return `${s} s ago`;
  if (s < 3600) return `${Math.floor(s / 60)} min ago`;
  return `${Math.floor(s / 3600)} h ago`;
}

/** A window bound (seconds since the epoch) as UTC date and time. */
export function fmtWindowTime(s: number): string {
  const d = new Date(s * 1000);
  return d.toISOString().replace('T', ' ').replace(/\.000Z$/, 'Z').replace(/Z$/, ' UTC');
}

export function fmtValue(v: unknown): string {
  if (typeof v === 'number') return Number.isInteger(v) ? fmtInt(v) : String(v);
  if (typeof v === 'string') return v;
  return JSON.stringify(v);
}

export function fmtKey(k: unknown): string {
  return k === null || k === undefined ? '(none)' : typeof k === 'string' ? k : JSON.stringify(k);
}
