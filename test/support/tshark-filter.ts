/**
 * tshark as the independent reference for filters and counts: which frames a Wireshark display
 * filter selects, and chosen fields of them (innermost occurrence for tunnelled packets).
 */
import { spawnSync } from 'node:child_process';

export function haveTshark(): boolean {
  return !spawnSync('tshark', ['--version']).error;
}

/** Frame numbers (1-based) that `displayFilter` selects. */
export function tsharkFrames(file: string, displayFilter: string): Set<number> {
  const r = spawnSync('tshark', ['-n', '-r', file, '-o', 'ip.defragment:FALSE', '-o', 'ipv6.defragment:FALSE', '-Y', displayFilter, '-T', 'fields', '-e', 'frame.number'], { encoding: 'utf8', maxBuffer: 1 << 28 });
  if (r.status !== 0) throw new Error(`tshark -Y '${displayFilter}' ${file}: ${r.stderr}`);
  return new Set(r.stdout.split('\n').filter(Boolean).map(Number));
}

/** Rows of fields for the frames `displayFilter` selects; each field's last occurrence. */
export function tsharkRows(file: string, displayFilter: string, fields: string[]): string[][] {
  const args = ['-n', '-r', file, '-o', 'ip.defragment:FALSE', '-o', 'ipv6.defragment:FALSE', '-T', 'fields', '-E', 'separator=/t', '-E', 'occurrence=l'];
  if (displayFilter) args.push('-Y', displayFilter);
  for (const f of fields) args.push('-e', f);
  const r = spawnSync('tshark', args, { encoding: 'utf8', maxBuffer: 1 << 28 });
  if (r.status !== 0) throw new Error(`tshark ${file}: ${r.stderr}`);
  return r.stdout.split('\n').filter(Boolean).map((l) => l.split('\t'));
}
