/**
 * Declarative filters: a small expression language over the field table, in the spirit of
 * Wireshark display filters, parsed once and compiled to a predicate over the reused Packet.
 * A task's leading declarative filter is pushed down into the source (evaluated right after
 * the header walk, before the packet enters the query) and, for live capture, into the kernel
 * as BPF (toBpf).
 *
 *   expr    := or
 *   or      := and (('or' | '||') and)*
 *   and     := unary (('and' | '&&') unary)*
 *   unary   := ('not' | '!') unary | '(' expr ')' | test
 *   test    := field [('&' number)] [op value] | field 'in' '{' value* '}' | field 'in' cidr
 *   op      := '==' | '!=' | '<' | '<=' | '>' | '>='
 *   value   := number (decimal or 0x hex) | ipv4 | ipv6 | cidr | 'true' | 'false' | quoted string
 *
 * A field alone is true when the packet has it and it is not 0/false. A comparison with a
 * field the packet lacks is false (so `not tcp.dport == 80` is true for UDP packets).
 * Examples: `tcp.syn and not tcp.ack_flag`, `ip.dst in 10.0.0.0/8 and udp.dport == 53`,
 * `tcp.flags & 0x12 == 0x02`, `ip.proto in {6 17}`.
 */
import { IntstreamError } from '../errors.ts';
import { FIELDS, unknownFieldHint, type FieldDef } from '../decode/fields.ts';
import { parseIpv4, parseIpv6 } from '../decode/address-text.ts';
import type { Packet } from '../decode/packet.ts';

export type CmpOp = '==' | '!=' | '<' | '<=' | '>' | '>=';

export type FilterAst =
  | { kind: 'and' | 'or'; left: FilterAst; right: FilterAst }
  | { kind: 'not'; expr: FilterAst }
  | { kind: 'test'; field: FieldDef; mask?: number; op?: CmpOp; value?: Literal }
  | { kind: 'in'; field: FieldDef; values: Literal[] };

export type Literal =
  | { kind: 'number'; value: number }
  | { kind: 'bool'; value: boolean }
  | { kind: 'string'; value: string }
  | { kind: 'net'; family: 4 | 6; bytes: Uint8Array; prefix: number; text: string };

interface Token { t: string; pos: number }

function tokenize(src: string): Token[] {
  const out: Token[] = [];
  const re = /\s*(?:(\(|\)|\{|\}|==|!=|<=|>=|<|>|&&|\|\||!|&)|('(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*")|([A-Za-z0-9_.:\/]+))/y;
  let pos = 0;
  while (pos < src.length) {
    if (/^\s*$/.test(src.slice(pos))) break;
    while (/\s/.test(src[pos])) pos++;
    re.lastIndex = pos;
    const m = re.exec(src);
    if (!m) throw syntax(src, pos, `unexpected character '${src[pos]}'`);
    const text = m[1] ?? m[2] ?? m[3];
    out.push({ t: text, pos: pos + m[0].length - text.length });
    pos = re.lastIndex;
  }
  return out;
}

function syntax(src: string, pos: number, msg: string): IntstreamError {
  return new IntstreamError('FILTER_SYNTAX', `filter "${src}": column ${pos + 1}: ${msg}`,
    'filters look like: tcp.syn and not tcp.ack_flag; ip.dst in 10.0.0.0/8; udp.dport == 53');
}

/** Parses a filter; throws IntstreamError FILTER_SYNTAX naming the column. */
export function parseFilter(src: string): FilterAst {
  const toks = tokenize(src);
  let i = 0;
  const peek = () => toks[i]?.t;
  const posOf = () => (toks[i] ? toks[i].pos : src.length);
  const expect = (t: string) => {
    if (peek() !== t) throw syntax(src, posOf(), `expected '${t}'${peek() ? ` but found '${peek()}'` : ' at end'}`);
    i++;
  };
  const or = (): FilterAst => {
    let left = and();
    while (peek() === 'or' || peek() === '||') { i++; left = { kind: 'or', left, right: and() }; }
    return left;
  };
  const and = (): FilterAst => {
    let left = unary();
    while (peek() === 'and' || peek() === '&&') { i++; left = { kind: 'and', left, right: unary() }; }
    return left;
  };
  const unary = (): FilterAst => {
    if (peek() === 'not' || peek() === '!') { i++; return { kind: 'not', expr: unary() }; }
    if (peek() === '(') { i++; const e = or(); expect(')'); return e; }
    return test();
  };
  const test = (): FilterAst => {
    const pos = posOf();
    const name = peek();
    if (name === undefined) throw syntax(src, pos, 'expected a field name at end');
    const field = FIELDS.get(name);
    if (!field) {
      if (/^(and|or|not|in)$/.test(name)) throw syntax(src, pos, `expected a field name, found the operator '${name}'`);
      throw syntax(src, pos, `unknown field '${name}' (${unknownFieldHint(name)})`);
    }
    i++;
    let mask: number | undefined;
    if (peek() === '&') {
      i++;
      const v = literal(field, true);
      if (v.kind !== 'number') throw syntax(src, posOf(), 'a mask must be a number');
      mask = v.value;
    }
    const op = peek();
    if (op === 'in') {
      i++;
      if (peek() === '{') {
        i++;
        const values: Literal[] = [];
        while (peek() !== '}') {
          if (peek() === undefined) throw syntax(src, posOf(), "expected '}'");
          values.push(literal(field));
        }
        i++;
        return { kind: 'in', field, values };
      }
      const v = literal(field);
      if (v.kind !== 'net') throw syntax(src, posOf(), "'in' takes a {set} or a CIDR network");
      return { kind: 'in', field, values: [v] };
    }
    if (op === '==' || op === '!=' || op === '<' || op === '<=' || op === '>' || op === '>=') {
      i++;
      const value = literal(field);
      if (value.kind === 'net' && op !== '==' && op !== '!=') throw syntax(src, pos, `addresses compare only with == and !=`);
      return { kind: 'test', field, mask, op, value };
    }
    if (mask !== undefined) throw syntax(src, posOf(), 'a masked field needs a comparison, e.g. tcp.flags & 0x12 == 0x02');
    return { kind: 'test', field };
  };
  const literal = (field: FieldDef, forMask = false): Literal => {
    const pos = posOf();
    const t = peek();
    if (t === undefined) throw syntax(src, pos, 'expected a value at end');
    i++;
    if (t === 'true' || t === 'false') return { kind: 'bool', value: t === 'true' };
    if (/^(0x[0-9a-fA-F]+|\d+(\.\d+)?)$/.test(t) && (forMask || field.type === 'number' || field.type === 'bool')) {
      return { kind: 'number', value: Number(t) };
    }
    if (t[0] === "'" || t[0] === '"') return { kind: 'string', value: t.slice(1, -1).replace(/\\(.)/g, '$1') };
    if (field.type === 'ip') {
      const [addr, pfx] = t.split('/');
      const v4 = parseIpv4(addr);
      if (v4 >= 0) {
        const prefix = pfx === undefined ? 32 : Number(pfx);
        if (!Number.isInteger(prefix) || prefix < 0 || prefix > 32) throw syntax(src, pos, `bad IPv4 prefix length '/${pfx}'`);
        return { kind: 'net', family: 4, bytes: new Uint8Array([v4 >>> 24, (v4 >>> 16) & 255, (v4 >>> 8) & 255, v4 & 255]), prefix, text: t };
      }
      const v6 = parseIpv6(addr);
      if (v6) {
        const prefix = pfx === undefined ? 128 : Number(pfx);
        if (!Number.isInteger(prefix) || prefix < 0 || prefix > 128) throw syntax(src, pos, `bad IPv6 prefix length '/${pfx}'`);
        return { kind: 'net', family: 6, bytes: v6, prefix, text: t };
      }
      throw syntax(src, pos, `'${t}' is not an IPv4 or IPv6 address or network`);
    }
    if (field.type === 'string' || field.type === 'mac') return { kind: 'string', value: t.toLowerCase() };
    throw syntax(src, pos, `'${t}' is not a valid value for ${field.name} (${field.type})`);
  };
  if (toks.length === 0) throw syntax(src, 0, 'empty filter');
  const ast = or();
  if (i < toks.length) throw syntax(src, posOf(), `unexpected '${peek()}'`);
  return ast;
}

export type PacketPredicate = (p: Packet) => boolean;

/**
 * Compiles a parsed filter into one straight-line JavaScript function over the packet's bytes
 * (as a BPF JIT would): no closure call per test node. Only numbers and byte values parsed from
 * the filter reach the generated source. Fields without a byte-level form call their getter.
 * HOT PATH (bench/newconn.ts): this is the pushed-down filter.
 */
export function compileFilter(ast: FilterAst): PacketPredicate {
  const getters: ((p: Packet) => unknown)[] = [];
  let body: string;
  try {
    body = gen(ast, getters);
  } catch {
    return interpretFilter(ast);
  }
  const fn = new Function('getters', `"use strict"; return function filter(p) { const b = p.buf, l4 = p.l4Off; return ${body}; };`);
  return fn(getters) as PacketPredicate;
}

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

/** Packet fields the generated filter reads, as the pre-filter's locals (outer.*: no tunnel here). */
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
      case 'in': return undefined;
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

/** Byte-level value of a field, assuming its layer is present (see GEN_PRESENT). */
const GEN_VALUE: Record<string, string> = {
  'tcp.flags': '(((b[l4 + 12] & 15) << 8) | b[l4 + 13])',
  'tcp.syn': '((b[l4 + 13] >> 1) & 1)',
  'tcp.ack_flag': '((b[l4 + 13] >> 4) & 1)',
  'tcp.fin': '(b[l4 + 13] & 1)',
  'tcp.rst': '((b[l4 + 13] >> 2) & 1)',
  'tcp.psh': '((b[l4 + 13] >> 3) & 1)',
  'tcp.urg': '((b[l4 + 13] >> 5) & 1)',
  'tcp.sport': '((b[l4] << 8) | b[l4 + 1])',
  'tcp.dport': '((b[l4 + 2] << 8) | b[l4 + 3])',
  'tcp.seq': '(((b[l4 + 4] << 24) | (b[l4 + 5] << 16) | (b[l4 + 6] << 8) | b[l4 + 7]) >>> 0)',
  'tcp.window': '((b[l4 + 14] << 8) | b[l4 + 15])',
  'tcp.payload_len': 'p.l4PayloadLen',
  'udp.sport': '((b[l4] << 8) | b[l4 + 1])',
  'udp.dport': '((b[l4 + 2] << 8) | b[l4 + 3])',
  'udp.payload_len': 'p.l4PayloadLen',
  'icmp.type': 'b[l4]',
  'icmp.code': 'b[l4 + 1]',
  'ip.version': 'p.l3',
  'ip.proto': 'p.proto',
  'ip.len': 'p.ipLen',
  'len': 'p.len',
  'caplen': '(p.end - p.start)',
  'ts': 'p.ts',
  'source': 'p.source',
  'vlan.id': 'p.vlanId',
};
const GEN_PRESENT: Record<string, string> = {
  tcp: '(p.proto === 6 && l4 >= 0)',
  udp: '(p.proto === 17 && l4 >= 0)',
  icmp: '((p.proto === 1 || p.proto === 58) && l4 >= 0)',
  ip: '(p.l3 !== 0)',
  vlan: '(p.vlanDepth > 0)',
};

function gen(ast: FilterAst, getters: ((p: Packet) => unknown)[]): string {
  switch (ast.kind) {
    case 'and': return `(${gen(ast.left, getters)} && ${gen(ast.right, getters)})`;
    case 'or': return `(${gen(ast.left, getters)} || ${gen(ast.right, getters)})`;
    case 'not': return `!${gen(ast.expr, getters)}`;
    case 'in': return `(${ast.values.map((v) => gen({ kind: 'test', field: ast.field, op: '==', value: v }, getters)).join(' || ')})`;
    case 'test': {
      const { field, mask, op, value } = ast;
      if (value?.kind === 'string') throw new Error('interpreted');
      if (value?.kind === 'net') {
        if (!/^(outer\.)?ip\.(src|dst)$/.test(field.name)) return 'false';
        const outer = field.name.startsWith('outer.');
        const fam = outer ? 'p.outerL3' : 'p.l3';
        const base = outer ? 'p.outerL3Off' : 'p.l3Off';
        const src = field.name.endsWith('src');
        const at = value.family === 4 ? (src ? 12 : 16) : (src ? 8 : 24);
        const full = value.prefix >> 3, rem = value.prefix & 7;
        const parts = [`${fam} === ${value.family}`];
        for (let k = 0; k < full; k++) parts.push(`b[${base} + ${at + k}] === ${value.bytes[k]}`);
        if (rem) {
          const m = (0xff << (8 - rem)) & 0xff;
          parts.push(`(b[${base} + ${at + full}] & ${m}) === ${value.bytes[full] & m}`);
        }
        const match = `(${parts.join(' && ')})`;
        return op === '!=' ? `(${fam} !== 0 && !${match})` : match;
      }
      const layer = field.name.split('.')[0];
      if (field.type === 'layer' && GEN_PRESENT[field.name] && !op) return GEN_PRESENT[field.name];
      let present: string, val: string;
      if (GEN_VALUE[field.name] && (GEN_PRESENT[layer] || !field.name.includes('.'))) {
        present = GEN_PRESENT[layer] ?? 'true';
        val = GEN_VALUE[field.name];
      } else {
        if (field.type === 'string' || field.type === 'mac' || field.type === 'ip') {
          if (op || value) throw new Error('interpreted');
          getters.push(field.get);
          return `(getters[${getters.length - 1}](p) !== undefined)`;
        }
        getters.push(field.get);
        const g = `getters[${getters.length - 1}](p)`;
        present = `(${g} !== undefined)`;
        val = `(+${g})`;
      }
      if (!op || !value) return `(${present} && ${val} !== 0)`;
      const want = value.kind === 'bool' ? (value.value ? 1 : 0) : value.value;
      if (!Number.isFinite(want)) throw new Error('interpreted');
      const lhs = mask === undefined ? val : `(${val} & ${mask})`;
      const cmp = op === '==' ? '===' : op === '!=' ? '!==' : op;
      return `(${present} && ${lhs} ${cmp} ${want})`;
    }
  }
}

/**
 * The same filter evaluated by walking the tree: the reference the compiled form is tested
 * against. With `fieldsOnly` every value is read through the field table's getters (the view
 * API), never from Packet internals: the form for items that are not packets (flow records,
 * flow-record.ts), chosen once when a stage is built for a record source.
 */
export function interpretFilter(ast: FilterAst, fieldsOnly = false): PacketPredicate {
  switch (ast.kind) {
    case 'and': { const a = interpretFilter(ast.left, fieldsOnly), b = interpretFilter(ast.right, fieldsOnly); return (p) => a(p) && b(p); }
    case 'or': { const a = interpretFilter(ast.left, fieldsOnly), b = interpretFilter(ast.right, fieldsOnly); return (p) => a(p) || b(p); }
    case 'not': { const a = interpretFilter(ast.expr, fieldsOnly); return (p) => !a(p); }
    case 'in': {
      const tests = ast.values.map((v) => compileTest(ast.field, undefined, '==', v, fieldsOnly));
      if (tests.length === 1) return tests[0];
      return (p) => { for (const t of tests) if (t(p)) return true; return false; };
    }
    case 'test': return compileTest(ast.field, ast.mask, ast.op, ast.value, fieldsOnly);
  }
}

/** Fast byte-level readers for the fields that filters use most. */
const FAST: Record<string, (p: Packet) => number> = {
  'tcp.flags': (p) => (((p.buf[p.l4Off + 12] & 0x0f) << 8) | p.buf[p.l4Off + 13]),
  'tcp.syn': (p) => (p.buf[p.l4Off + 13] >> 1) & 1,
  'tcp.ack_flag': (p) => (p.buf[p.l4Off + 13] >> 4) & 1,
  'tcp.fin': (p) => p.buf[p.l4Off + 13] & 1,
  'tcp.rst': (p) => (p.buf[p.l4Off + 13] >> 2) & 1,
  'tcp.psh': (p) => (p.buf[p.l4Off + 13] >> 3) & 1,
  'tcp.urg': (p) => (p.buf[p.l4Off + 13] >> 5) & 1,
  'tcp.sport': (p) => (p.buf[p.l4Off] << 8) | p.buf[p.l4Off + 1],
  'tcp.dport': (p) => (p.buf[p.l4Off + 2] << 8) | p.buf[p.l4Off + 3],
  'tcp.payload_len': (p) => p.l4PayloadLen,
  'udp.sport': (p) => (p.buf[p.l4Off] << 8) | p.buf[p.l4Off + 1],
  'udp.dport': (p) => (p.buf[p.l4Off + 2] << 8) | p.buf[p.l4Off + 3],
};
/** Presence test that must hold before a FAST reader may run. */
const PRESENT: Record<string, (p: Packet) => boolean> = {
  tcp: (p) => p.proto === 6 && p.l4Off >= 0,
  udp: (p) => p.proto === 17 && p.l4Off >= 0,
};

function compileTest(field: FieldDef, mask: number | undefined, op: CmpOp | undefined, value: Literal | undefined, fieldsOnly = false): PacketPredicate {
  if (value?.kind === 'net') return fieldsOnly ? compileNetText(field, value, op === '!=') : compileNet(field, value, op === '!=');
  const layer = field.name.split('.')[0];
  const fast = fieldsOnly ? undefined : FAST[field.name];
  const present = PRESENT[layer];
  const get = fast !== undefined && present !== undefined
    ? (p: Packet): number | undefined => (present(p) ? fast(p) : undefined)
    : (p: Packet) => {
        const v = field.get(p);
        return typeof v === 'boolean' ? (v ? 1 : 0) : (v as number | undefined);
      };
  if (!op || !value) {
    if (field.type === 'string' || field.type === 'mac' || field.type === 'ip') return (p) => field.get(p) !== undefined;
    return (p) => { const v = get(p); return v !== undefined && v !== 0; };
  }
  if (value.kind === 'string') {
    const s = value.value;
    return op === '!=' ? (p) => { const v = field.get(p); return v !== undefined && String(v).toLowerCase() !== s; }
      : (p) => String(field.get(p) ?? '\u0000').toLowerCase() === s;
  }
  const want = value.kind === 'bool' ? (value.value ? 1 : 0) : value.value;
  const m = mask;
  const read = m === undefined ? get : (p: Packet) => { const v = get(p); return v === undefined ? undefined : v & m; };
  switch (op) {
    case '==': return (p) => read(p) === want;
    case '!=': return (p) => { const v = read(p); return v !== undefined && v !== want; };
    case '<': return (p) => { const v = read(p); return v !== undefined && v < want; };
    case '<=': return (p) => { const v = read(p); return v !== undefined && v <= want; };
    case '>': return (p) => { const v = read(p); return v !== undefined && v > want; };
    case '>=': return (p) => { const v = read(p); return v !== undefined && v >= want; };
  }
}

/**
 * Address or network match on the field's text (items without header bytes: flow records).
 * Each distinct address is parsed once: the answers are cached (addresses are interned
 * strings), the cache emptied when it reaches 4096 entries.
 */
function compileNetText(field: FieldDef, net: Extract<Literal, { kind: 'net' }>, negate: boolean): PacketPredicate {
  const fam = net.family, bytes = net.bytes, prefix = net.prefix;
  const full = prefix >> 3, rem = prefix & 7, lastMask = rem ? (0xff << (8 - rem)) & 0xff : 0;
  const cache = new Map<string, boolean>();
  const v4 = new Uint8Array(4);
  const inNet = (t: string): boolean => {
    let b: Uint8Array | null = null;
    if (fam === 4) {
      const n = parseIpv4(t);
      if (n >= 0) { v4[0] = n >>> 24; v4[1] = (n >>> 16) & 255; v4[2] = (n >>> 8) & 255; v4[3] = n & 255; b = v4; }
    } else if (t.includes(':')) b = parseIpv6(t);
    if (b === null) return false;
    for (let k = 0; k < full; k++) if (b[k] !== bytes[k]) return false;
    return rem === 0 || (b[full] & lastMask) === (bytes[full] & lastMask);
  };
  const get = field.get;
  return (p) => {
    const t = get(p);
    if (typeof t !== 'string') return false;
    let m = cache.get(t);
    if (m === undefined) {
      if (cache.size >= 4096) cache.clear();
      m = inNet(t);
      cache.set(t, m);
    }
    return negate ? !m : m;
  };
}

/** Address or network match on the raw header bytes. */
function compileNet(field: FieldDef, net: Extract<Literal, { kind: 'net' }>, negate: boolean): PacketPredicate {
  const outer = field.name.startsWith('outer.');
  const isSrc = field.name.endsWith('.src');
  if (!field.name.endsWith('.src') && !field.name.endsWith('.dst')) {
    return () => false;
  }
  const fam = net.family, bytes = net.bytes, prefix = net.prefix;
  const full = prefix >> 3, rem = prefix & 7, lastMask = rem ? (0xff << (8 - rem)) & 0xff : 0;
  const match = (p: Packet): boolean => {
    const v = outer ? p.outerL3 : p.l3;
    if (v !== fam) return false;
    const base = outer ? p.outerL3Off : p.l3Off;
    const off = base + (fam === 4 ? (isSrc ? 12 : 16) : (isSrc ? 8 : 24));
    const b = p.buf;
    for (let k = 0; k < full; k++) if (b[off + k] !== bytes[k]) return false;
    return rem === 0 || (b[off + full] & lastMask) === (bytes[full] & lastMask);
  };
  if (!negate) return match;
  return (p) => ((outer ? p.outerL3 : p.l3) !== 0 ? !match(p) : false);
}

/**
 * The filter as a BPF (pcap-filter) expression for kernel filtering of live capture, or null
 * when part of it has no BPF equivalent (the user-space filter then does the work alone).
 * Tunnelled fields and fields BPF cannot reach past IPv6 extension headers are not translated.
 */
export function toBpf(ast: FilterAst): string | null {
  try { return bpf(ast); } catch { return null; }
}

function bpf(ast: FilterAst): string {
  switch (ast.kind) {
    case 'and': return `(${bpf(ast.left)} and ${bpf(ast.right)})`;
    case 'or': return `(${bpf(ast.left)} or ${bpf(ast.right)})`;
    case 'not': return `(not ${bpf(ast.expr)})`;
    case 'in': return `(${ast.values.map((v) => bpf({ kind: 'test', field: ast.field, op: '==', value: v })).join(' or ')})`;
    case 'test': {
      const f = ast.field.name, v = ast.value, op = ast.op;
      const flagBits: Record<string, number> = { 'tcp.fin': 1, 'tcp.syn': 2, 'tcp.rst': 4, 'tcp.psh': 8, 'tcp.ack_flag': 16, 'tcp.urg': 32 };
      if (f in flagBits) {
        const bit = flagBits[f];
        const want = !op ? true : (v?.kind === 'bool' ? v.value : (v as { value: number }).value !== 0) === (op === '==');
        return `(tcp[13] & ${bit} ${want ? '!=' : '=='} 0)`;
      }
      if (!op || !v) {
        const proto: Record<string, string> = { tcp: 'tcp', udp: 'udp', icmp: '(icmp or icmp6)', ip: '(ip or ip6)', vlan: 'vlan' };
        const layer = f.split('.')[0];
        if (proto[layer] && ast.field.type !== 'number') return proto[layer];
        throw new Error('no bpf');
      }
      if (v.kind === 'net') {
        if (f === 'ip.src' || f === 'ip.dst') {
          const dir = f === 'ip.src' ? 'src' : 'dst';
          const full = (v.family === 4 && v.prefix === 32) || (v.family === 6 && v.prefix === 128);
          const e = full ? `${dir} host ${v.text.split('/')[0]}` : `${dir} net ${v.text}`;
          return op === '!=' ? `(not ${e})` : e;
        }
        throw new Error('no bpf');
      }
      if (v.kind !== 'number' || ast.mask !== undefined && f !== 'tcp.flags') throw new Error('no bpf');
      const cmp = op === '==' ? '=' : op;
      const ports: Record<string, string> = { 'tcp.sport': 'tcp src port', 'tcp.dport': 'tcp dst port', 'udp.sport': 'udp src port', 'udp.dport': 'udp dst port' };
      if (ports[f] && (op === '==' || op === '!=')) return op === '==' ? `(${ports[f]} ${v.value})` : `(not ${ports[f]} ${v.value})`;
      if (f === 'tcp.flags') {
        const lhs = ast.mask !== undefined ? `(tcp[13] & ${ast.mask & 0xff})` : 'tcp[13]';
        return `(tcp and ${lhs} ${cmp} ${v.value & 0xff})`;
      }
      if (f === 'ip.proto') return op === '==' ? `(ip proto ${v.value} or ip6 proto ${v.value})` : `(not (ip proto ${v.value} or ip6 proto ${v.value}))`;
      if (f === 'ip.version') return v.value === 4 && op === '==' ? 'ip' : v.value === 6 && op === '==' ? 'ip6' : (() => { throw new Error('no bpf'); })();
      if (f === 'len') return `(len ${cmp} ${v.value})`;
      if (f === 'vlan.id' && op === '==') return `(vlan ${v.value})`;
      throw new Error('no bpf');
    }
  }
}
