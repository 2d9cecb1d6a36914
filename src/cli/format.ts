/** Small helpers for what the CLI prints. */
export function n(x: number): string {
  return Math.round(x).toLocaleString('en-US');
}

export function rate(x: number): string {
  if (x >= 1e6) return `${(x / 1e6).toFixed(2)} M`;
  if (x >= 1e3) return `${(x / 1e3).toFixed(1)} k`;
  return `${Math.round(x)} `;
}

/** Parses 10, 10s, 500ms, 2m, 1h into seconds. */
export function parseDuration(s: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(s.trim());
  if (!m) return NaN;
  const v = Number(m[1]);
  switch (m[2]) {
    case 'ms': return v / 1000;
    case 'm': return v * 60;
    case 'h': return v * 3600;
    default: return v;
  }
}
