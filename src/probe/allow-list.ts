/**
 * The networks an agent may probe (docs/contracts.md: probes are limited to the target networks an
 * agent is configured to allow). CIDR prefixes, IPv4 or IPv6; an empty list allows nothing, so
 * probing is off until the operator names networks. Targets must be address literals: names
 * are never resolved (a DNS answer must not widen what an agent may probe).
 */
import { isIP } from 'node:net';
import { IntstreamError } from '../errors.ts';

interface Net { family: 4 | 6; bytes: Uint8Array; prefix: number; text: string }

/** The 4 or 16 bytes of an address literal, or null. */
export function addressBytes(text: string): Uint8Array | null {
  const fam = isIP(text);
  if (fam === 4) return Uint8Array.from(text.split('.').map(Number));
  if (fam !== 6) return null;
  // Expand '::' and an embedded IPv4 tail, then read 8 groups.
  let s = text.toLowerCase();
  const pct = s.indexOf('%');
  if (pct >= 0) s = s.slice(0, pct);
  const v4tail = /(\d+\.\d+\.\d+\.\d+)$/.exec(s);
  if (v4tail) {
    const b = v4tail[1].split('.').map(Number);
    s = s.slice(0, -v4tail[1].length) + ((b[0] << 8) | b[1]).toString(16) + ':' + ((b[2] << 8) | b[3]).toString(16);
  }
  const [head, tail] = s.includes('::') ? s.split('::') : [s, undefined];
  const h = head ? head.split(':') : [];
  const t = tail === undefined ? [] : tail ? tail.split(':') : [];
  const groups = tail === undefined ? h : [...h, ...new Array(8 - h.length - t.length).fill('0'), ...t];
  if (groups.length !== 8) return null;
  const out = new Uint8Array(16);
  groups.forEach((g, i) => { const v = parseInt(g, 16); out[2 * i] = v >> 8; out[2 * i + 1] = v & 255; });
  return out;
}

export class AllowList {
  private readonly nets: Net[];

  /** Throws IntstreamError USAGE naming the first entry that is not a CIDR prefix. */
  constructor(cidrs: readonly string[]) {
    this.nets = cidrs.map((c) => {
      const [addr, pfx, extra] = c.trim().split('/');
      const bytes = extra === undefined ? addressBytes(addr) : null;
      if (!bytes) throw new IntstreamError('USAGE', `--allow-probe ${c}: not an IPv4 or IPv6 network`, 'e.g. --allow-probe 10.0.0.0/8 or --allow-probe 2001:db8::/32');
      const max = bytes.length * 8;
      const prefix = pfx === undefined ? max : Number(pfx);
      if (!Number.isInteger(prefix) || prefix < 0 || prefix > max || (pfx !== undefined && !/^\d+$/.test(pfx))) {
        throw new IntstreamError('USAGE', `--allow-probe ${c}: prefix length must be 0..${max}`);
      }
      return { family: bytes.length === 4 ? 4 : 6, bytes, prefix, text: `${addr}/${prefix}` } as Net;
    });
  }

  get empty(): boolean { return this.nets.length === 0; }

  /** The configured networks as text. */
  toJSON(): string[] { return this.nets.map((n) => n.text); }

  /** True when `addr` (an address literal) lies in one of the allowed networks. */
  allows(addr: string): boolean {
    const b = addressBytes(addr);
    if (!b) return false;
    for (const n of this.nets) {
      if (n.bytes.length !== b.length) continue;
      const full = n.prefix >> 3, rem = n.prefix & 7;
      let ok = true;
      for (let i = 0; i < full && ok; i++) ok = b[i] === n.bytes[i];
      if (ok && rem) { const m = (0xff << (8 - rem)) & 0xff; ok = (b[full] & m) === (n.bytes[full] & m); }
      if (ok) return true;
    }
    return false;
  }
}
