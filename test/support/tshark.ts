/**
 * tshark as the independent reference for the capture readers and the decoder.
 *
 * `tsharkPackets(file)` runs `tshark -r FILE -T fields` once per file and returns one record per
 * frame with every requested field as a list of values (tshark prints repeated fields, e.g. the
 * outer and inner `ip.src` of a tunnel, comma-separated in protocol order; we keep them all and
 * let the test pick the occurrence it means, guided by `frame.protocols`).
 *
 * Output is cached under $TMPDIR/intstream-tshark-cache, keyed by the file's path, size and
 * mtime (by its contents when under 1 MB), the tshark version and the command line, so that a
 * second run of the suite does not start tshark at all.
 *
 * Preferences: reassembly is off (IPv4/IPv6 defragmentation, TCP desegmentation), so each frame
 * is dissected on its own like intstream does; sequence numbers come from `tcp.seq_raw`; no name
 * resolution (`-n`).
 */
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, renameSync, statSync, writeFileSync, openSync, closeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

/** Fields asked of tshark, in column order. */
export const TSHARK_FIELDS = [
  'frame.number',
  'frame.time_epoch',
  'frame.len',
  'frame.cap_len',
  'frame.protocols',
  'frame.interface_id',
  'frame.encap_type',
  'ip.src',
  'ip.dst',
  'ipv6.src',
  'ipv6.dst',
  'ip.proto',
  'ip.frag_offset',
  'ipv6.nxt',
  'ipv6.hopopts.nxt',
  'ipv6.routing.nxt',
  'ipv6.fraghdr.nxt',
  'ipv6.dstopts.nxt',
  'ah.next_header',
  'tcp.srcport',
  'tcp.dstport',
  'tcp.flags',
  'tcp.seq_raw',
  'tcp.len',
  'udp.srcport',
  'udp.dstport',
  'icmp.type',
  'icmpv6.type',
  'vlan.id',
  'ieee8021ad.id',
] as const;

export type TsharkField = (typeof TSHARK_FIELDS)[number];

export const TSHARK_PREFS = [
  'ip.defragment:FALSE',
  'ipv6.defragment:FALSE',
  'tcp.desegment_tcp_streams:FALSE',
  'tcp.relative_sequence_numbers:FALSE',
  'tcp.analyze_sequence_numbers:FALSE',
];

export interface TsharkPacket {
  /** 1-based frame number. */
  number: number;
  /** `frame.time_epoch` exactly as tshark printed it (seconds, 9 decimals). */
  time: string;
  len: number;
  capLen: number;
  /** `frame.protocols` split on ':' (e.g. eth, ethertype, ip, tcp). */
  protocols: string[];
  /** Every field's values, in the order they occur in the packet ([] when absent). */
  f: Record<TsharkField, string[]>;
}

let versionCache: string | undefined;
function tsharkVersion(): string {
  if (versionCache === undefined) {
    const r = spawnSync('tshark', ['--version'], { encoding: 'utf8' });
    if (r.error) throw r.error;
    versionCache = r.stdout.split('\n')[0];
  }
  return versionCache;
}

/** True when tshark can be run (tests skip, not fail, without it). */
export function haveTshark(): boolean {
  try { tsharkVersion(); return true; } catch { return false; }
}

function args(file: string): string[] {
  const a = ['-n', '-r', file, '-T', 'fields', '-E', 'separator=/t', '-E', 'occurrence=a', '-E', 'aggregator=,'];
  for (const p of TSHARK_PREFS) a.push('-o', p);
  for (const f of TSHARK_FIELDS) a.push('-e', f);
  return a;
}

const cacheDir = join(process.env.INTSTREAM_TSHARK_CACHE ?? join(tmpdir(), 'intstream-tshark-cache'));

/** The raw tab-separated tshark output for `file`, from the cache when still valid. */
export async function tsharkText(file: string): Promise<string> {
  const abs = resolve(file);
  const st = statSync(abs);
  const a = args(abs);
  // Small files (synthetic ones written to fresh temp dirs) are keyed by their contents.
  const id = st.size < (1 << 20)
    ? createHash('sha256').update(readFileSync(abs)).digest('hex')
    : JSON.stringify([abs, st.size, st.mtimeMs]);
  const key = createHash('sha256')
    .update(JSON.stringify([id, tsharkVersion(), args('FILE')]))
    .digest('hex').slice(0, 32);
  mkdirSync(cacheDir, { recursive: true });
  const out = join(cacheDir, `${key}.tsv`);
  try {
    return readFileSync(out, 'utf8');
  } catch { /* not cached yet */ }
  const tmp = `${out}.${process.pid}.tmp`;
  const fd = openSync(tmp, 'w');
  const stderr: Buffer[] = [];
  const code = await new Promise<number | null>((res, rej) => {
    const child = spawn('tshark', a, { stdio: ['ignore', fd, 'pipe'] });
    child.stderr?.on('data', (d: Buffer) => stderr.push(d));
    child.on('error', rej);
    child.on('close', res);
  });
  closeSync(fd);
  // tshark exits 2 after printing the frames it could read from a file that ends in a cut or
  // corrupt record; that is still a valid answer for the frames before it.
  if (code !== 0 && code !== 2) {
    throw new Error(`tshark ${a.join(' ')} exited ${code}: ${Buffer.concat(stderr).toString()}`);
  }
  const text = readFileSync(tmp, 'utf8');
  writeFileSync(`${out}.stderr`, Buffer.concat(stderr));
  renameSync(tmp, out);
  return text;
}

const parsed = new Map<string, Promise<TsharkPacket[]>>();

/** Parses tshark's output for `file` into one record per frame (memoised per process). */
export function tsharkPackets(file: string): Promise<TsharkPacket[]> {
  const key = resolve(file);
  let p = parsed.get(key);
  if (!p) { p = parseTshark(file); parsed.set(key, p); }
  return p;
}

async function parseTshark(file: string): Promise<TsharkPacket[]> {
  const text = await tsharkText(file);
  const pkts: TsharkPacket[] = [];
  for (const line of text.split('\n')) {
    if (line === '') continue;
    const cols = line.split('\t');
    if (cols.length !== TSHARK_FIELDS.length) throw new Error(`${file}: tshark line with ${cols.length} columns: ${line}`);
    const f = {} as Record<TsharkField, string[]>;
    TSHARK_FIELDS.forEach((name, i) => { f[name] = cols[i] === '' ? [] : cols[i].split(','); });
    pkts.push({
      number: Number(cols[0]),
      time: cols[1],
      len: Number(cols[2]),
      capLen: Number(cols[3]),
      protocols: cols[4].split(':'),
      f,
    });
  }
  return pkts;
}

/** Runs `fn` over `items` with at most `limit` in flight (tshark runs on 2 cores here). */
export async function mapLimit<T, R>(items: T[], limit: number, fn: (x: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}
