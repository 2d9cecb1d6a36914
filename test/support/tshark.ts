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
  'eth.src',
  'eth.dst',
  'ip.len',
  'ip.ttl',
  'ip.dsfield',
  'ip.flags.mf',
  'ipv6.plen',
  'ipv6.hlim',
  'ipv6.tclass',
  'ipv6.opt.jumbo',
  'ipv6.fraghdr.offset',
  'ipv6.fraghdr.more',
  'tcp.ack_raw',
  'tcp.window_size_value',
  'udp.length',
  'icmp.code',
  'icmpv6.code',
  'vxlan.vni',
  'geneve.vni',
  'erspan.spanid',
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

type Mode = 'fields' | 'pdml';

function args(file: string, mode: Mode): string[] {
  const a = ['-n', '-r', file];
  for (const p of TSHARK_PREFS) a.push('-o', p);
  if (mode === 'pdml') return [...a, '-T', 'pdml'];
  a.push('-T', 'fields', '-E', 'separator=/t', '-E', 'occurrence=a', '-E', 'aggregator=,');
  for (const f of TSHARK_FIELDS) a.push('-e', f);
  return a;
}

const cacheDir = join(process.env.INTSTREAM_TSHARK_CACHE ?? join(tmpdir(), 'intstream-tshark-cache'));

/** tshark's output for `file` (tab-separated fields, or PDML), from the cache when valid. */
export async function tsharkText(file: string, mode: Mode = 'fields'): Promise<string> {
  const abs = resolve(file);
  const st = statSync(abs);
  const a = args(abs, mode);
  // Small files (synthetic ones written to fresh temp dirs) are keyed by their contents.
  const id = st.size < (1 << 20)
    ? createHash('sha256').update(readFileSync(abs)).digest('hex')
    : JSON.stringify([abs, st.size, st.mtimeMs]);
  const key = createHash('sha256')
    .update(JSON.stringify([id, tsharkVersion(), args('FILE', mode)]))
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

/** One protocol layer of a frame as tshark's PDML shows it: where it starts, how many bytes it
 * covers, and the values of the fields directly inside it (not in a nested protocol). */
export interface PdmlLayer {
  name: string;
  pos: number;
  size: number;
  /** Nesting depth: 0 for a top-level protocol, 1 for e.g. an IPv6 extension header. */
  depth: number;
  fields: Map<string, string[]>;
}

const unescape = (x: string) =>
  x.replace(/&quot;/g, '"').replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&apos;/g, "'").replace(/&amp;/g, '&');

/**
 * Every protocol layer of each frame, in document order (packet order), nested ones included
 * (tshark nests IPv6 extension headers and AH inside `ipv6`, and an ICMP error's quoted packet
 * inside `icmp`). tshark's own pseudo-protocols (`geninfo`, `frame`, `_ws.*`) are left out.
 */
export async function tsharkLayers(file: string): Promise<PdmlLayer[][]> {
  const text = await tsharkText(file, 'pdml');
  const frames: PdmlLayer[][] = [];
  let cur: PdmlLayer[] | undefined;
  // Open protocols by indentation; a field belongs to the deepest one indented less than it.
  let stack: { indent: number; layer: PdmlLayer | null }[] = [];
  const attr = (line: string, a: string) => {
    const m = new RegExp(` ${a}="([^"]*)"`).exec(line);
    return m ? unescape(m[1]) : undefined;
  };
  for (const line of text.split('\n')) {
    if (line.startsWith('<packet>')) { cur = []; frames.push(cur); stack = []; continue; }
    if (!cur) continue;
    const indent = line.length - line.trimStart().length;
    const t = line.trimStart();
    if (!t.startsWith('<proto ') && !t.startsWith('<field ')) continue;
    while (stack.length > 0 && stack[stack.length - 1].indent >= indent) stack.pop();
    if (t.startsWith('<proto ')) {
      const name = attr(line, 'name')!;
      const skip = name === 'geninfo' || name === 'frame' || name.startsWith('_ws.');
      const depth = stack.filter((x) => x.layer !== null).length;
      const layer = skip ? null : { name, pos: Number(attr(line, 'pos')), size: Number(attr(line, 'size')), depth, fields: new Map<string, string[]>() };
      if (layer) cur.push(layer);
      stack.push({ indent, layer });
      continue;
    }
    let owner: PdmlLayer | null = null;
    for (let i = stack.length - 1; i >= 0 && owner === null; i--) owner = stack[i].layer;
    const name = attr(line, 'name');
    const show = attr(line, 'show');
    // tshark's wrapper around undissected data has no position of its own: its first field's.
    if (owner && Number.isNaN(owner.pos) && attr(line, 'pos') !== undefined) owner.pos = Number(attr(line, 'pos'));
    if (!owner || name === undefined || show === undefined) continue;
    const l = owner.fields.get(name);
    if (l) l.push(show); else owner.fields.set(name, [show]);
  }
  return frames;
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
