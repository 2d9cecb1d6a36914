/**
 * The fuzzer's oracle for the capture reader: a naive walk over a whole capture file in memory,
 * written from the rules documented at the top of src/sources/capture-file-source.ts and the
 * format documents (shares no code with it). It predicts, for any bytes, what the reader yields
 * (every record's offset, lengths, link type, interface and whole second) and what it counts
 * skipped by reason, or that opening it is the documented CAPTURE_HEADER error. Every record the
 * walk passes is in exactly one of the two lists: that is the accounting the fuzzer checks.
 */

export interface RefRecord {
  /** File offset of the record header (pcap) or of the block (pcapng). */
  offset: number;
  /** File offset of the packet bytes. */
  data: number;
  capLen: number;
  /** The length field as the batch holds it (an Int32Array: 2^31 and more wrap). */
  wireLen: number;
  linkType: number;
  iface: number;
  /** The exact whole second the timestamp lies in, when it is below 2^52 s in magnitude; else null. */
  sec: number | null;
}

export interface RefResult {
  headerError: boolean;
  records: RefRecord[];
  skipped: Record<string, number>;
}

const MAX_RECORD = 262144;
const MAX_RECORD_CAP = 256 << 20;
const MAX_BLOCK = 16 << 20;
const EXACT = 2 ** 52;

class Stop extends Error {}

export function referenceRead(f: Uint8Array): RefResult {
  const out: RefResult = { headerError: false, records: [], skipped: {} };
  const skip = (reason: string) => { out.skipped[reason] = (out.skipped[reason] ?? 0) + 1; };
  const v = new DataView(f.buffer, f.byteOffset, f.byteLength);
  if (f.length < 4) { out.headerError = true; return out; }
  const magic = v.getUint32(0, false);
  if (magic === 0x0a0d0d0a) { pcapng(f, v, out, skip); return out; }
  const le = magic === 0xd4c3b2a1 || magic === 0x4d3cb2a1;
  const be = magic === 0xa1b2c3d4 || magic === 0xa1b23c4d;
  if ((!le && !be) || f.length < 24 || v.getUint16(4, le) !== 2 || v.getUint16(6, le) !== 4) { out.headerError = true; return out; }
  const nano = magic === 0x4d3cb2a1 || magic === 0xa1b23c4d;
  const fracDiv = nano ? 1e9 : 1e6;
  const snap = v.getUint32(16, le);
  const linkType = v.getUint32(20, le) & 0x03ffffff;
  const maxLen = Math.min(Math.max(snap, MAX_RECORD), MAX_RECORD_CAP);
  let o = 24;
  for (;;) {
    if (f.length - o < 16) { if (o < f.length) skip('truncated_record'); break; }
    const cap = v.getUint32(o + 8, le);
    if (cap > maxLen) { skip('corrupt_record_header'); break; }
    if (f.length - o < 16 + cap) { skip('truncated_record'); break; }
    const sec = v.getUint32(o, le), frac = v.getUint32(o + 4, le);
    if (frac >= fracDiv) skip('invalid_timestamp');
    else out.records.push({ offset: o, data: o + 16, capLen: cap, wireLen: v.getUint32(o + 12, le) | 0, linkType, iface: 0, sec });
    o += 16 + cap;
  }
  return out;
}

interface Iface { linkType: number; snapLen: number; units: number; offset: number }

function pcapng(f: Uint8Array, v: DataView, out: RefResult, skip: (r: string) => void): void {
  let le = true, ifaces: Iface[] = [], ifaceBase = 0;
  /** Exact time of the last timed packet block in this section: [sec, known] or null. */
  let sectionSec: number | null | undefined;
  let o = 0;
  const fatal = (at: number): never => {
    if (at === 0) out.headerError = true;
    else skip('corrupt_block');
    throw new Stop();
  };
  /** Options from `at` to `end`: false when one runs past the end (the walk stops at code 0). */
  const optionsFit = (at: number, end: number, padded: boolean): boolean => {
    while (at + 4 <= end) {
      const code = v.getUint16(at, le), len = v.getUint16(at + 2, le);
      if (code === 0) return true;
      if ((padded ? at + 4 + ((len + 3) & ~3) : at + 4 + len) > end) return false;
      at += 4 + ((len + 3) & ~3);
    }
    return true;
  };
  try {
    for (;;) {
      if (f.length - o < 12) { if (o < f.length) skip('truncated_record'); return; }
      let type: number;
      if (v.getUint32(o, false) === 0x0a0d0d0a) {
        const m = v.getUint32(o + 8, true);
        if (m === 0x1a2b3c4d) le = true;
        else if (m === 0x4d3c2b1a) le = false;
        else fatal(o);
        type = 0x0a0d0d0a;
      } else type = v.getUint32(o, le);
      const len = v.getUint32(o + 4, le);
      if (len < 12 || len % 4 !== 0 || len > MAX_BLOCK) fatal(o);
      if (f.length - o < len) { skip('truncated_record'); return; }
      if (v.getUint32(o + len - 4, le) !== len) fatal(o);
      const body = o + 8, end = o + len - 4;
      if (type === 0x0a0d0d0a) {
        if (end - body < 16 || v.getUint16(body + 4, le) !== 1 || !optionsFit(body + 16, end, true)) fatal(o);
        ifaceBase += ifaces.length;
        ifaces = [];
        sectionSec = undefined;
      } else if (type === 1) {
        if (end - body < 8) fatal(o);
        if (!optionsFit(body + 8, end, false)) fatal(o);
        const i: Iface = { linkType: v.getUint16(body, le), snapLen: v.getUint32(body + 4, le), units: 1e6, offset: 0 };
        for (let at = body + 8; at + 4 <= end;) {
          const code = v.getUint16(at, le), olen = v.getUint16(at + 2, le);
          if (code === 0) break;
          if (code === 9 && olen >= 1) { const r = f[at + 4]; i.units = r & 0x80 ? 2 ** (r & 0x7f) : 10 ** r; }
          else if (code === 14 && olen >= 8) i.offset = Number(v.getBigInt64(at + 4, le));
          at += 4 + ((olen + 3) & ~3);
        }
        ifaces.push(i);
      } else if (type === 2 || type === 3 || type === 6) {
        let ifId = 0, cap: number, wire: number, data: number, sec: number | null;
        if (type === 3) {
          if (end - body < 4) { skip('corrupt_block'); o += len; continue; } // no room for the original length
          wire = v.getUint32(body, le);
          data = body + 4;
          const i0 = ifaces[0];
          cap = Math.min(wire, end - data, i0 && i0.snapLen > 0 ? i0.snapLen : Infinity);
          sec = sectionSec === undefined ? 0 : sectionSec;
        } else {
          if (end - body < 20) { skip('corrupt_block'); o += len; continue; }
          ifId = type === 6 ? v.getUint32(body, le) : v.getUint16(body, le);
          cap = v.getUint32(body + 12, le);
          wire = v.getUint32(body + 16, le);
          data = body + 20;
          if (data + cap > end) { skip('corrupt_block'); o += len; continue; }
          sec = null;
        }
        const iface = ifaces[ifId];
        if (!iface) { skip('unknown_interface'); o += len; continue; }
        if (type !== 3) {
          // floor(units / units-per-second) + offset, exactly (the units per second as the double the reader uses)
          const units = (BigInt(v.getUint32(body + 4, le)) << 32n) | BigInt(v.getUint32(body + 8, le));
          const whole = units / BigInt(iface.units);
          const s = Number(whole) + iface.offset;
          sec = whole < BigInt(EXACT) && Math.abs(iface.offset) < EXACT && Math.abs(s) < EXACT ? s : null;
          sectionSec = sec;
        }
        out.records.push({ offset: o, data, capLen: cap, wireLen: wire | 0, linkType: iface.linkType, iface: ifaceBase + ifId, sec });
      }
      o += len;
    }
  } catch (e) {
    if (!(e instanceof Stop)) throw e;
  }
}
