/**
 * Text forms of addresses, interned: the same address always yields the same string object, and
 * after the first sighting no string is built. IPv4 as a dotted quad, IPv6 in RFC 5952 form,
 * MACs as lower-case colon hex (docs/contracts.md, fields).
 *
 * HOT PATH (bench/newconn.ts): `ipv4Text` and `ipv6Text` run per packet when a task keys on an
 * address. The intern table is open addressing over typed arrays; when half full it is cleared,
 * so memory stays bounded under address-spoofing floods (strings are then built again).
 */

const BITS = 18;
const SLOTS = 1 << BITS;
const MASK = SLOTS - 1;

class AddressInterner {
  private readonly keys = new Int32Array(SLOTS * 4);
  private readonly used = new Uint8Array(SLOTS);
  private readonly text: (string | undefined)[] = new Array(SLOTS);
  private size = 0;

  v4(w: number): string {
    let i = Math.imul(w, 0x9e3779b1) >>> (32 - BITS);
    for (;;) {
      if (this.used[i] === 0) return this.insert(i, 4, w, 0, 0, 0);
      if (this.used[i] === 4 && this.keys[i * 4] === w) return this.text[i]!;
      i = (i + 1) & MASK;
    }
  }

  v6(a: number, b: number, c: number, d: number): string {
    let h = Math.imul(a, 0x9e3779b1) ^ Math.imul(b, 0x85ebca6b) ^ Math.imul(c, 0xc2b2ae35) ^ Math.imul(d, 0x27d4eb2f);
    let i = (h ^ (h >>> 15)) & MASK;
    for (;;) {
      if (this.used[i] === 0) return this.insert(i, 6, a, b, c, d);
      const k = i * 4;
      if (this.used[i] === 6 && this.keys[k] === a && this.keys[k + 1] === b && this.keys[k + 2] === c && this.keys[k + 3] === d) return this.text[i]!;
      i = (i + 1) & MASK;
    }
  }

  private insert(i: number, fam: number, a: number, b: number, c: number, d: number): string {
    if (this.size >= SLOTS >> 1) {
      this.used.fill(0);
      this.text.fill(undefined);
      this.size = 0;
      return fam === 4 ? this.v4(a) : this.v6(a, b, c, d);
    }
    const s = fam === 4 ? formatIpv4(a) : formatIpv6(a, b, c, d);
    const k = i * 4;
    this.keys[k] = a; this.keys[k + 1] = b; this.keys[k + 2] = c; this.keys[k + 3] = d;
    this.used[i] = fam;
    this.text[i] = s;
    this.size++;
    return s;
  }
}

const interner = new AddressInterner();

function word(buf: Uint8Array, off: number): number {
  return (buf[off] << 24) | (buf[off + 1] << 16) | (buf[off + 2] << 8) | buf[off + 3];
}

/** The IPv4 address at buf[off..off+4] as an interned dotted quad. */
export function ipv4Text(buf: Uint8Array, off: number): string {
  return interner.v4(word(buf, off));
}

/** The IPv6 address at buf[off..off+16] as an interned RFC 5952 string. */
export function ipv6Text(buf: Uint8Array, off: number): string {
  return interner.v6(word(buf, off), word(buf, off + 4), word(buf, off + 8), word(buf, off + 12));
}

export function formatIpv4(w: number): string {
  return `${w >>> 24}.${(w >>> 16) & 255}.${(w >>> 8) & 255}.${w & 255}`;
}

/** RFC 5952: lower case, no leading zeros, the longest run (>= 2) of zero groups as "::". */
export function formatIpv6(a: number, b: number, c: number, d: number): string {
  const g = [a >>> 16, a & 0xffff, b >>> 16, b & 0xffff, c >>> 16, c & 0xffff, d >>> 16, d & 0xffff];
  // IPv4-mapped addresses keep the dotted quad (RFC 5952 section 5).
  if (a === 0 && b === 0 && (c >>> 0) === 0xffff) return `::ffff:${formatIpv4(d)}`;
  let bestStart = -1, bestLen = 1;
  for (let i = 0; i < 8;) {
    if (g[i] !== 0) { i++; continue; }
    let j = i;
    while (j < 8 && g[j] === 0) j++;
    if (j - i > bestLen) { bestStart = i; bestLen = j - i; }
    i = j;
  }
  if (bestStart < 0) return g.map((x) => x.toString(16)).join(':');
  const head = g.slice(0, bestStart).map((x) => x.toString(16)).join(':');
  const tail = g.slice(bestStart + bestLen).map((x) => x.toString(16)).join(':');
  return `${head}::${tail}`;
}

export function macText(buf: Uint8Array, off: number): string {
  let s = '';
  for (let i = 0; i < 6; i++) s += (i ? ':' : '') + buf[off + i].toString(16).padStart(2, '0');
  return s;
}

/**
 * Parses a dotted quad into its 32-bit value (unsigned), or -1. Leading zeros are refused, as
 * Node's net.isIPv4 and inet_pton do: '010.0.0.1' is 8.0.0.1 to inet_aton and 10.0.0.1 to
 * others, so no single reading is safe.
 */
export function parseIpv4(s: string): number {
  const m = /^(0|[1-9]\d{0,2})\.(0|[1-9]\d{0,2})\.(0|[1-9]\d{0,2})\.(0|[1-9]\d{0,2})$/.exec(s);
  if (!m) return -1;
  const p = m.slice(1).map(Number);
  if (p.some((x) => x > 255)) return -1;
  return ((p[0] << 24) | (p[1] << 16) | (p[2] << 8) | p[3]) >>> 0;
}

/** Parses an IPv6 address into 16 bytes, or null. */
export function parseIpv6(s: string): Uint8Array | null {
  if (!/^[0-9a-fA-F:.]+$/.test(s) || !s.includes(':')) return null;
  if (s.includes('.')) {
    const lastColon = s.lastIndexOf(':');
    const v4 = parseIpv4(s.slice(lastColon + 1));
    if (v4 < 0) return null;
    s = `${s.slice(0, lastColon + 1)}${(v4 >>> 16).toString(16)}:${(v4 & 0xffff).toString(16)}`;
  }
  const halves = s.split('::');
  if (halves.length > 2) return null;
  const parse = (x: string) => (x === '' ? [] : x.split(':').map((h) => (/^[0-9a-fA-F]{1,4}$/.test(h) ? parseInt(h, 16) : NaN)));
  const left = parse(halves[0]);
  const right = halves.length === 2 ? parse(halves[1]) : [];
  const fill = 8 - left.length - right.length;
  if (halves.length === 2 && fill < 1) return null;
  const groups = halves.length === 2 ? [...left, ...new Array(fill).fill(0), ...right] : left;
  if (groups.length !== 8 || groups.some((x) => Number.isNaN(x) || x < 0)) return null;
  const out = new Uint8Array(16);
  groups.forEach((x, i) => { out[i * 2] = x >> 8; out[i * 2 + 1] = x & 255; });
  return out;
}
