import { gen } from './compile.ts';
import type { FilterAst } from './parse.ts';
import type { Packet } from '../../decode/packet.ts';

/**
 * A pre-filter on a record's raw bytes, run before the packet is decoded at all: `true` means
 * the filter surely rejects the record, `false` means "decode it and ask the filter". It answers
 * only for the decoder's common case (decodeCommon in src/decode/decoder.ts: Ethernet, at most
 * one 802.1Q tag, IPv4 without options and unfragmented or IPv6 without extension headers, TCP
 * or UDP not to a tunnel port, all captured), where the decoded fields are a fixed function of
 * the bytes computed here in the same way; for every other record it says false. Null when the
 * filter reads a field without a byte-level form (a getter) or `source`. Equal outcomes to decoding and
 * filtering are a test (test/query/raw-prefilter.test.ts).
 * HOT PATH (bench/newconn.ts): most packets of a selective task never reach the decoder.
 */
export type RawReject = (b: Uint8Array, off: number, capLen: number, wireLen: number, ts: number) => boolean;

/** Packet fields the layout's expressions read, as the pre-filter's locals (outer.*: no tunnel here). */
const RAW_LOCALS: Record<string, string> = {
  'p.l3Off': 'o', 'p.l3': 'l3', 'p.proto': 'proto', 'p.ipLen': 'ipLen', 'p.l4PayloadLen': 'pl',
  'p.len': 'wireLen', '(p.end - p.start)': 'capLen', 'p.ts': 'ts',
  'p.vlanId': 'vlanId', 'p.vlanDepth': 'vlanDepth', 'p.outerL3Off': '-1', 'p.outerL3': '0',
};

export function compileRawReject(ast: FilterAst): RawReject | null {
  if (passesEveryPlainPacket(ast)) return null; // `ip.version`, `tcp.sport >= 0 or udp.sport >= 0`: nothing to gain
  const getters: ((p: Packet) => unknown)[] = [];
  let body: string;
  try {
    body = gen(ast, getters);
  } catch {
    return null;
  }
  if (getters.length > 0) return null;
  for (const [from, to] of Object.entries(RAW_LOCALS)) body = body.split(from).join(to);
  if (/\bp\./.test(body)) return null;
  // The same tests and arithmetic as decodeCommon, field for field.
  const src = `"use strict"; return function rawReject(b, off, capLen, wireLen, ts) {
    const end = off + capLen;
    let o = off + 14, type = (b[off + 12] << 8) | b[off + 13], vlanId = -1, vlanDepth = 0;
    if (type === 0x8100) { vlanId = ((b[o] << 8) | b[o + 1]) & 0x0fff; type = (b[o + 2] << 8) | b[o + 3]; vlanDepth = 1; o += 4; }
    let l3, proto, l4, ipEnd, ipLen;
    if (type === 0x0800) {
      if (end - o < 40 || b[o] !== 0x45 || (b[o + 6] & 0x3f) !== 0 || b[o + 7] !== 0) return false;
      l3 = 4; proto = b[o + 9]; l4 = o + 20;
      const total = (b[o + 2] << 8) | b[o + 3];
      if (total < 20) return false;
      ipEnd = o + total; ipLen = total;
    } else if (type === 0x86dd) {
      if (end - o < 60 || b[o] >> 4 !== 6) return false;
      const plen = (b[o + 4] << 8) | b[o + 5];
      if (plen === 0) return false;
      l3 = 6; proto = b[o + 6]; l4 = o + 40; ipEnd = o + 40 + plen; ipLen = plen + 40;
    } else return false;
    const wireEnd = off + wireLen > end ? off + wireLen : end;
    if (ipEnd > wireEnd) ipEnd = wireEnd;
    let pl;
    if (proto === 6) {
      const hl = (b[l4 + 12] >> 4) * 4;
      if (hl < 20 || end - l4 < hl) return false;
      pl = ipEnd - l4 - hl;
    } else if (proto === 17) {
      if (end - l4 < 8) return false;
      const sport = (b[l4] << 8) | b[l4 + 1], dport = (b[l4 + 2] << 8) | b[l4 + 3];
      if (dport === 4789 || dport === 8472 || sport === 4789 || dport === 6081 || sport === 6081) return false;
      pl = ipEnd - l4 - 8;
    } else return false;
    if (pl < 0) pl = 0;
    return !(${body});
  };`;
  return new Function(src)() as RawReject;
}

/**
 * True when the filter passes every packet the pre-filter can judge (IPv4 or IPv6 with TCP or
 * UDP, over Ethernet), judged from layer presence alone: a pre-filter would only cost time.
 * False means "perhaps not" (three-valued: undefined = depends on the bytes).
 */
function passesEveryPlainPacket(ast: FilterAst): boolean {
  const present = (layer: string, proto: number): boolean | undefined =>
    layer === 'eth' || layer === 'ip' ? true : layer === 'tcp' ? proto === 6 : layer === 'udp' ? proto === 17
      : layer === 'icmp' || layer === 'tunnel' ? false : undefined;
  const NONNEG = /^(tcp\.(sport|dport)|udp\.(sport|dport)|ip\.version)$/;
  const ev = (a: FilterAst, proto: number): boolean | undefined => {
    switch (a.kind) {
      case 'and': { const l = ev(a.left, proto), r = ev(a.right, proto); return l === false || r === false ? false : l && r ? true : undefined; }
      case 'or': { const l = ev(a.left, proto), r = ev(a.right, proto); return l === true || r === true ? true : l === false && r === false ? false : undefined; }
      case 'not': { const v = ev(a.expr, proto); return v === undefined ? undefined : !v; }
      case 'in': case 'bpf': return undefined;
      case 'test': {
        const name = a.field.name, layer = name.split('.')[0];
        if (a.field.type === 'layer' && !a.op) return present(name, proto);
        if (name === 'ip.version' && !a.op && a.mask === undefined) return true;
        const zero = a.value?.kind === 'number' && a.value.value === 0;
        if (NONNEG.test(name) && a.op === '>=' && zero && a.mask === undefined) return present(layer, proto) === true ? true : present(layer, proto) === false ? false : undefined;
        return undefined;
      }
    }
  };
  return ev(ast, 6) === true && ev(ast, 17) === true;
}
