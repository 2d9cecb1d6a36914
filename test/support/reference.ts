/**
 * Independent reference counters for the application library (docs/applications.md).
 *
 * Packets come from tshark's field output (`tshark -T fields`), never from intstream's readers
 * or decoder, and every task is computed by brute force over plain arrays: the code here shares
 * nothing with src/ except the definitions in docs/applications.md and docs/contracts.md.
 *
 * Which header counts: tshark dissects deeper than intstream decodes (an ICMP error's quoted
 * header, UDP payloads it recognises as tunnels intstream does not know). `frameOf` walks
 * tshark's `frame.protocols` through the encapsulations docs/contracts.md lists (VLAN, MPLS, GRE,
 * ERSPAN, VXLAN, Geneve, IP in IP, Aruba's GRE-carried 802.11) and takes the innermost IP
 * header and the transport header right after it; it stops after TCP, ICMP and at the first
 * protocol outside that list.
 *
 * Windows (docs/design.md): tumbling, aligned to multiples of the window since the epoch. Lateness
 * (docs/contracts.md: a window closes when the source's time passes its end plus the allowed lateness):
 * an element whose window ended at or before the highest timestamp of every frame read so far
 * from the same source (the task's elements or not), minus the lateness, is late and not
 * counted. The elements are the task's packets (those its filter keeps and that have its key),
 * so each reference names them.
 *
 * tshark output is cached in $TMPDIR/intstream-reference-cache keyed by path, size and mtime.
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const FIELDS = [
  'frame.time_epoch', 'frame.protocols',
  'ip.src', 'ip.dst', 'ipv6.src', 'ipv6.dst', 'ip.flags.mf', 'ip.frag_offset', 'ip.proto',
  'tcp.srcport', 'tcp.dstport', 'tcp.flags', 'tcp.seq_raw', 'tcp.len',
  'udp.srcport', 'udp.dstport', 'vxlan.flags', 'geneve.version',
  'frame.section_number',
] as const;
type Field = (typeof FIELDS)[number];

const PREFS = ['ip.defragment:FALSE', 'ipv6.defragment:FALSE', 'tcp.desegment_tcp_streams:FALSE', 'tcp.analyze_sequence_numbers:FALSE', 'tcp.relative_sequence_numbers:FALSE'];

/** One packet as the reference sees it. */
export interface Frame {
  /** Timestamp, seconds (parsed from tshark's 9-decimal text). */
  ts: number;
  /** Whole seconds of the timestamp, exactly (from the text). */
  sec: number;
  v: 0 | 4 | 6;
  src?: string;
  dst?: string;
  tcp?: { sport: number; dport: number; flags: number; seq: number; len: number };
  udp?: { sport: number; dport: number };
  /**
   * tshark did not dissect past a first fragment that intstream decodes further (a GRE packet's
   * first fragment: tshark, with defragmentation off, shows its payload as data). The reference
   * cannot say what intstream should see in such a frame.
   */
  opaque?: boolean;
}

const cacheDir = join(tmpdir(), 'intstream-reference-cache');

async function tsharkFields(file: string): Promise<string> {
  const abs = resolve(file);
  const st = statSync(abs);
  const args = ['-n', '-r', abs, '-T', 'fields', '-E', 'separator=/t', '-E', 'occurrence=a', '-E', 'aggregator=,'];
  for (const p of PREFS) args.push('-o', p);
  for (const f of FIELDS) args.push('-e', f);
  const key = createHash('sha256').update(JSON.stringify([abs, st.size, st.mtimeMs, args])).digest('hex').slice(0, 32);
  mkdirSync(cacheDir, { recursive: true });
  const out = join(cacheDir, `${key}.tsv`);
  try { return readFileSync(out, 'utf8'); } catch { /* not cached */ }
  const chunks: Buffer[] = [], err: Buffer[] = [];
  const code = await new Promise<number | null>((res, rej) => {
    const c = spawn('tshark', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    c.stdout.on('data', (d: Buffer) => chunks.push(d));
    c.stderr.on('data', (d: Buffer) => err.push(d));
    c.on('error', rej);
    c.on('close', res);
  });
  // tshark exits 2 after the frames it could read from a file cut short.
  if (code !== 0 && code !== 2) throw new Error(`tshark on ${file} exited ${code}: ${Buffer.concat(err)}`);
  const text = Buffer.concat(chunks).toString('utf8');
  const tmp = `${out}.${process.pid}.tmp`;
  writeFileSync(tmp, text);
  renameSync(tmp, out);
  return text;
}

/** RFC 5952 text for IPv6 (WHATWG URL serialisation, plus the ::ffff:a.b.c.d form). */
function rfc5952(text: string): string {
  if (!text.includes(':')) return text;
  const host = new URL(`http://[${text}]/`).hostname.slice(1, -1);
  const m = /^::ffff:([0-9a-f]{1,4}):([0-9a-f]{1,4})$/.exec(host);
  if (m) {
    const hi = parseInt(m[1], 16), lo = parseInt(m[2], 16);
    return `::ffff:${hi >> 8}.${hi & 255}.${lo >> 8}.${lo & 255}`;
  }
  return host;
}

const WALKED = new Set([
  'eth', 'ethertype', 'vlan', 'ieee8021ad', 'mpls', 'pwethcw', 'sll', 'null', 'raw', 'wlan', 'llc',
  'ip', 'ipv6', 'ipv6.hopopts', 'ipv6.routing', 'ipv6.fraghdr', 'ipv6.dstopts', 'ah',
  'tcp', 'udp', 'icmp', 'icmpv6', 'gre', 'erspan', 'vxlan', 'geneve',
]);

/** The reference view of one tshark line. */
export function frameOf(cols: string[]): Frame {
  const f = {} as Record<Field, string[]>;
  FIELDS.forEach((name, i) => { f[name] = cols[i] ? cols[i].split(',') : []; });
  const tsText = cols[0];
  const frame: Frame = { ts: Number(tsText), sec: Number(tsText.split('.')[0]), v: 0 };
  const seen: Record<string, number> = {};
  const nth = (proto: string) => (seen[proto] = (seen[proto] ?? -1) + 1);
  const protos = cols[1].split(':');
  for (let i = 0; i < protos.length; i++) {
    const name = protos[i];
    if (!WALKED.has(name)) break;
    if (name === 'gre' || name === 'vxlan' || name === 'geneve') {
      // A tunnel: what follows is the packet; without an inner IP header it has no ip.* fields.
      frame.v = 0; frame.src = undefined; frame.dst = undefined; frame.tcp = undefined; frame.udp = undefined;
    } else if (name === 'ip') {
      const k = nth('ip');
      frame.v = 4; frame.src = f['ip.src'][k]; frame.dst = f['ip.dst'][k];
      frame.tcp = undefined; frame.udp = undefined;
      const mf = f['ip.flags.mf'][k];
      if (protos[i + 1] === 'data' && [4, 41, 47].includes(Number(f['ip.proto'][k])) && Number(f['ip.frag_offset'][k]) === 0 && (mf === '1' || mf === 'True')) frame.opaque = true;
    } else if (name === 'ipv6') {
      const k = nth('ipv6');
      frame.v = 6; frame.src = rfc5952(f['ipv6.src'][k]); frame.dst = rfc5952(f['ipv6.dst'][k]);
      frame.tcp = undefined; frame.udp = undefined;
    } else if (name === 'tcp') {
      const k = nth('tcp');
      frame.tcp = {
        sport: Number(f['tcp.srcport'][k]), dport: Number(f['tcp.dstport'][k]),
        flags: parseInt(f['tcp.flags'][k], 16), seq: Number(f['tcp.seq_raw'][k]), len: Number(f['tcp.len'][k]),
      };
      break;
    } else if (name === 'udp') {
      const k = nth('udp');
      frame.udp = { sport: Number(f['udp.srcport'][k]), dport: Number(f['udp.dstport'][k]) };
      // tshark takes the port alone for VXLAN and Geneve; a header without VXLAN's I flag
      // (RFC 7348) or with a Geneve version other than 0 (RFC 8926) is UDP payload.
      const next = protos[i + 1];
      if (next === 'vxlan' && (parseInt(f['vxlan.flags'][seen.vxlan = (seen.vxlan ?? -1) + 1] ?? '0', 16) & 0x0800) !== 0) continue;
      if (next === 'geneve' && Number(f['geneve.version'][seen.geneve = (seen.geneve ?? -1) + 1] ?? 1) === 0) continue;
      break;
    } else if (name === 'icmp' || name === 'icmpv6') {
      break; // an ICMP error's quoted header is payload
    }
  }
  return frame;
}

const parsed = new Map<string, Frame[]>();

/** Every frame of a capture file, in file order. */
export async function framesOf(file: string): Promise<Frame[]> {
  const abs = resolve(file);
  const hit = parsed.get(abs);
  if (hit) return hit;
  const text = await tsharkFields(abs);
  const frames: Frame[] = [];
  // pcapng Simple Packet Blocks have no time (tshark prints none): intstream gives them the
  // time of the last timed frame of their section, 0 when there is none (capture-file-source.ts).
  const sectionCol = FIELDS.indexOf('frame.section_number');
  let section = '', lastTime = '';
  for (const line of text.split('\n')) {
    if (line === '') continue;
    const cols = line.split('\t');
    if (cols.length !== FIELDS.length) throw new Error(`${file}: tshark line with ${cols.length} columns`);
    if (cols[sectionCol] !== section) { section = cols[sectionCol]; lastTime = ''; }
    if (cols[0] === '') cols[0] = lastTime; else lastTime = cols[0];
    frames.push(frameOf(cols));
  }
  parsed.set(abs, frames);
  return frames;
}

// ---- windows ---------------------------------------------------------------------------------

/** Start of the tumbling window holding a frame (integer window lengths: exact on `sec`). */
export function windowStart(fr: Frame, size: number): number {
  return Number.isInteger(size) ? fr.sec - (((fr.sec % size) + size) % size) : Math.floor(fr.ts / size) * size;
}

/** One source's elements (frames the task windows) without the late ones, each with its window. */
export function onTime(frames: Frame[], size: number, lateness = 0, isElement: (fr: Frame) => boolean = () => true): { fr: Frame; w: number; pos: number }[] {
  const out: { fr: Frame; w: number; pos: number }[] = [];
  let highest = -Infinity;
  frames.forEach((fr, pos) => {
    // The source's time: every frame read counts, the task's elements or not.
    if (fr.ts > highest) highest = fr.ts;
    if (!isElement(fr)) return;
    const w = windowStart(fr, size);
    if (!(w + size <= highest - lateness)) out.push({ fr, w, pos });
  });
  return out;
}

/** Number of late elements in one source. */
export function lateCount(frames: Frame[], size: number, lateness = 0, isElement: (fr: Frame) => boolean = () => true): number {
  return frames.filter(isElement).length - onTime(frames, size, lateness, isElement).length;
}

export interface RefResult { window: { start: number; end: number }; key: unknown; value: unknown }

export interface RefInput {
  /** Frames of each source, in file order. */
  sources: Frame[][];
  window: number;
  lateness?: number;
  params: Record<string, number | string>;
}

interface Item { fr: Frame; w: number; source: number; pos: number }

function items(inp: RefInput, isElement: (fr: Frame) => boolean): Item[] {
  const all: Item[] = [];
  inp.sources.forEach((frames, source) => {
    for (const x of onTime(frames, inp.window, inp.lateness ?? 0, isElement)) all.push({ ...x, source });
  });
  return all;
}

const hasIp = (fr: Frame) => fr.v !== 0;

const SYN = 0x02, ACK = 0x10, FIN = 0x01;

/** Groups (window, key) → values; keys compared by their JSON text. */
class Groups<V> {
  readonly m = new Map<string, { w: number; key: unknown; v: V }>();
  private readonly init: () => V;
  constructor(init: () => V) { this.init = init; }
  at(w: number, key: unknown): { v: V } & { w: number; key: unknown } {
    const id = `${w}|${JSON.stringify(key)}`;
    let g = this.m.get(id);
    if (!g) { g = { w, key, v: this.init() }; this.m.set(id, g); }
    return g;
  }
  results<R>(size: number, value: (v: V) => R, keep: (r: R) => boolean): RefResult[] {
    const out: RefResult[] = [];
    for (const g of this.m.values()) {
      const r = value(g.v);
      if (keep(r)) out.push({ window: { start: g.w, end: g.w + size }, key: g.key, value: r });
    }
    return out;
  }
}

const num = (x: number | string | undefined, d: number) => (x === undefined ? d : Number(x));

// ---- the tasks ---------------------------------------------------------------------------------

function countBy(inp: RefInput, key: (fr: Frame) => unknown, add: (fr: Frame) => number, keep: (v: number) => boolean): RefResult[] {
  const g = new Groups(() => ({ n: 0 }));
  for (const { fr, w } of items(inp, (fr) => key(fr) !== undefined)) {
    const k = key(fr);
    if (k === undefined) continue;
    const d = add(fr);
    if (Number.isNaN(d)) continue;
    g.at(w, k).v.n += d;
  }
  return g.results(inp.window, (v) => v.n, keep);
}

function distinctBy(inp: RefInput, key: (fr: Frame) => unknown, val: (fr: Frame) => string | undefined, keep: (n: number) => boolean): RefResult[] {
  const g = new Groups(() => new Set<string>());
  for (const { fr, w } of items(inp, (fr) => key(fr) !== undefined && val(fr) !== undefined)) {
    const k = key(fr), v = val(fr);
    if (k === undefined || v === undefined) continue;
    g.at(w, k).v.add(v);
  }
  return g.results(inp.window, (s) => s.size, keep);
}

const isSyn = (fr: Frame) => !!fr.tcp && (fr.tcp.flags & (SYN | ACK)) === SYN;
const isSynAck = (fr: Frame) => !!fr.tcp && (fr.tcp.flags & (SYN | ACK)) === (SYN | ACK);
/** ACK set; SYN, FIN, RST, PSH, URG clear. */
const isPureAck = (fr: Frame) => !!fr.tcp && (fr.tcp.flags & 0x3f) === ACK;

export function refTcpNewConn(inp: RefInput): RefResult[] {
  const t = num(inp.params.threshold, 100);
  return countBy(inp, (fr) => (isSyn(fr) ? fr.dst : undefined), () => 1, (n) => n > t);
}

export function refPortScan(inp: RefInput): RefResult[] {
  const t = num(inp.params.threshold, 100);
  return distinctBy(inp, (fr) => fr.src,
    (fr) => (fr.tcp && !(fr.tcp.flags & ACK) ? `tcp ${fr.tcp.dport}` : fr.udp ? `udp ${fr.udp.dport}` : undefined),
    (n) => n > t);
}

export function refSuperSpreader(inp: RefInput): RefResult[] {
  const t = num(inp.params.threshold, 100);
  return distinctBy(inp, (fr) => fr.src, (fr) => fr.dst, (n) => n > t);
}

export function refSynFlood(inp: RefInput): RefResult[] {
  const t = num(inp.params.threshold, 100);
  const g = new Groups(() => ({ n: 0 }));
  for (const { fr, w } of items(inp, (fr) => !!fr.tcp && (!!(fr.tcp.flags & SYN) || isPureAck(fr)))) {
    if (isSyn(fr)) g.at(w, fr.dst).v.n++;
    else if (isSynAck(fr)) g.at(w, fr.src).v.n++;
    else if (isPureAck(fr)) g.at(w, fr.dst).v.n--;
  }
  return g.results(inp.window, (v) => v.n, (n) => n > t);
}

export function refTcpIncomplete(inp: RefInput): RefResult[] {
  const t = num(inp.params.threshold, 100);
  return countBy(inp, (fr) => (fr.tcp && (isSyn(fr) || fr.tcp.flags & FIN) ? fr.dst : undefined),
    (fr) => (isSyn(fr) ? 1 : 0) - (fr.tcp!.flags & FIN ? 1 : 0), (n) => n > t);
}

export function refSlowloris(inp: RefInput): RefResult[] {
  const minConns = num(inp.params.min_conns, 50), t = num(inp.params.threshold, 100);
  const g = new Groups(() => ({ conns: new Set<string>(), bytes: 0 }));
  for (const { fr, w } of items(inp, (fr) => !!fr.tcp)) {
    const x = g.at(w, fr.dst).v;
    x.conns.add(`${fr.src}/${fr.tcp!.sport}`);
    x.bytes += fr.tcp!.len;
  }
  return g.results(inp.window, (x) => ({ conns: x.conns.size, bytes: x.bytes, rate: x.bytes / x.conns.size / inp.window }),
    (r) => r.conns >= minConns && r.rate < t);
}

export function refSplit(inp: RefInput): RefResult[] {
  return countBy(inp, (fr) => (fr.tcp ? 'tcp' : fr.udp ? 'udp' : undefined), () => 1, () => true);
}

export function refCryptomining(inp: RefInput): RefResult[] {
  const min = num(inp.params.min_packets, 10);
  const g = new Groups(() => [] as number[]);
  for (const { fr, w } of items(inp, hasIp)) g.at(w, { src: fr.src, dst: fr.dst }).v.push(fr.ts);
  return g.results(inp.window, (ts) => ts.slice().sort((a, b) => a - b), (ts) => ts.length >= min);
}

/** docs/applications.md's retransmission rule, over the merged input in (ts, source, position) order. */
export function refTcpRetrans(inp: RefInput): RefResult[] {
  const t = num(inp.params.threshold, 3);
  const segs = items(inp, (fr) => !!fr.tcp && fr.tcp.len > 0);
  segs.sort((a, b) => a.fr.ts - b.fr.ts || a.source - b.source || a.pos - b.pos);
  const highest = new Map<string, number>();
  const g = new Groups(() => ({ n: 0 }));
  // b is after a in sequence space (RFC 1982 serial arithmetic on 32 bits).
  const isAfter = (b: number, a: number) => { const d = (b - a + 2 ** 32) % 2 ** 32; return d > 0 && d < 2 ** 31; };
  for (const { fr, w } of segs) {
    const tcp = fr.tcp!;
    const flow = JSON.stringify([fr.src, tcp.sport, fr.dst, tcp.dport]);
    const end = (tcp.seq + tcp.len) % 2 ** 32;
    const h = highest.get(flow);
    const key = { src: fr.src, sport: tcp.sport, dst: fr.dst, dport: tcp.dport };
    if (h !== undefined && !isAfter(end, h)) g.at(w, key).v.n++;
    else { highest.set(flow, end); g.at(w, key); }
  }
  return g.results(inp.window, (v) => ({ retransmissions: v.n, rtt_ms: null }), (r) => r.retransmissions >= t);
}

/** True per-window packet counts by ip.src (for heavy-hitter's promises). */
export function refSourceCounts(inp: RefInput): Map<number, Map<string, number>> {
  const out = new Map<number, Map<string, number>>();
  for (const { fr, w } of items(inp, hasIp)) {
    let m = out.get(w);
    if (!m) out.set(w, (m = new Map()));
    m.set(fr.src!, (m.get(fr.src!) ?? 0) + 1);
  }
  return out;
}

/** Per-window packet counts by ip.dst. */
export function refDestinationCounts(inp: RefInput): Map<number, Map<string, number>> {
  const out = new Map<number, Map<string, number>>();
  for (const { fr, w } of items(inp, hasIp)) {
    let m = out.get(w);
    if (!m) out.set(w, (m = new Map()));
    m.set(fr.dst!, (m.get(fr.dst!) ?? 0) + 1);
  }
  return out;
}

/** Hellinger distance between consecutive windows with traffic (docs/applications.md). */
export function refDdos(inp: RefInput): RefResult[] {
  const t = num(inp.params.threshold, 0.65);
  const per = refDestinationCounts(inp);
  const starts = [...per.keys()].sort((a, b) => a - b);
  const out: RefResult[] = [];
  for (let i = 1; i < starts.length; i++) {
    const P = per.get(starts[i - 1])!, Q = per.get(starts[i])!;
    let np = 0, nq = 0;
    for (const v of P.values()) np += v;
    for (const v of Q.values()) nq += v;
    let s = 0;
    for (const [d, q] of Q) { const p = P.get(d) ?? 0; s += Math.sqrt((p / np) * (q / nq)); }
    const h = Math.sqrt(Math.max(0, 1 - s));
    out.push({ window: { start: starts[i], end: starts[i] + inp.window }, key: null, value: { hellinger: h, alarm: h > t } });
  }
  return out;
}

// ---- count-min, written from Cormode & Muthukrishnan and the hashing note in sketches.ts ------

/** 32-bit FNV-1a over UTF-16 code units, offset basis xor seed, then murmur3's fmix32. */
export function refHash(s: string, seed: number): number {
  let h = (2166136261 ^ seed) >>> 0;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 16777619) >>> 0;
  h = (h ^ (h >>> 16)) >>> 0; h = Math.imul(h, 0x85ebca6b) >>> 0;
  h = (h ^ (h >>> 13)) >>> 0; h = Math.imul(h, 0xc2b2ae35) >>> 0;
  return (h ^ (h >>> 16)) >>> 0;
}

/** Column of `key` in row r: double hashing h1 + r * h2 (h2 odd), mod width. */
export function refColumn(key: string, r: number, width: number): number {
  const h1 = refHash(key, 0), h2 = (refHash(key, 0x9747b28c) | 1) >>> 0;
  return Number((BigInt(h1) + BigInt(r) * BigInt(h2)) % 2n ** 32n % BigInt(width));
}

export function refCountMinRows(counts: Map<string, number>, width: number, depth: number): number[][] {
  const rows = Array.from({ length: depth }, () => new Array<number>(width).fill(0));
  for (const [k, n] of counts) for (let r = 0; r < depth; r++) rows[r][refColumn(k, r, width)] += n;
  return rows;
}

/** sketch-gen: per window, the exact sketch of ip.src counts of packets to `net`. */
export function refSketchGen(inp: RefInput, inNet: (dst: string) => boolean): RefResult[] {
  const width = num(inp.params.width, 1024), depth = num(inp.params.depth, 4);
  const per = new Map<number, Map<string, number>>();
  for (const { fr, w } of items(inp, (fr) => fr.v !== 0 && inNet(fr.dst!))) {
    let m = per.get(w);
    if (!m) per.set(w, (m = new Map()));
    m.set(fr.src!, (m.get(fr.src!) ?? 0) + 1);
  }
  return [...per].map(([w, m]) => {
    let total = 0;
    for (const n of m.values()) total += n;
    return { window: { start: w, end: w + inp.window }, key: null, value: { width, depth, total, rows: refCountMinRows(m, width, depth) } };
  });
}

/** heavy-hitter: sources whose count-min estimate (from the exact sketch) exceeds the threshold. */
export function refHeavyHitter(inp: RefInput): RefResult[] {
  const t = num(inp.params.threshold, 1000), width = num(inp.params.width, 1024), depth = num(inp.params.depth, 4);
  const out: RefResult[] = [];
  for (const [w, m] of refSourceCounts(inp)) {
    const rows = refCountMinRows(m, width, depth);
    for (const k of m.keys()) {
      let est = Infinity;
      for (let r = 0; r < depth; r++) est = Math.min(est, rows[r][refColumn(k, r, width)]);
      if (est > t) out.push({ window: { start: w, end: w + inp.window }, key: k, value: est });
    }
  }
  return out;
}

/** Windows that had any frame (for rtt: one result per target per window). */
export function refWindows(inp: RefInput): number[] {
  return [...new Set(items(inp, () => true).map((x) => x.w))].sort((a, b) => a - b);
}

/** Results in a canonical order (window start, then key JSON) for comparison. */
export function canonical(rs: { window: unknown; key: unknown; value: unknown }[]): { window: unknown; key: unknown; value: unknown }[] {
  return rs.map((r) => ({ window: r.window, key: r.key, value: r.value }))
    .sort((a, b) => (a.window as any).start - (b.window as any).start || (JSON.stringify(a.key) < JSON.stringify(b.key) ? -1 : JSON.stringify(a.key) > JSON.stringify(b.key) ? 1 : 0));
}
