/**
 * Declarative filters, the grammar: a small expression language over the field table, in the
 * spirit of Wireshark display filters, parsed once into a FilterAst that the other modules of
 * this folder compile (compile.ts), interpret (interpret.ts), turn into a raw pre-filter
 * (raw-reject.ts) or into BPF for the kernel (bpf.ts).
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
import { IntstreamError } from '../../errors.ts';
import { FIELDS, unknownFieldHint, type FieldDef } from '../../decode/fields.ts';
import { parseIpv4, parseIpv6 } from '../../decode/address-text.ts';
import { compileBpf, type BpfProgram } from './bpf-vm.ts';

export type CmpOp = '==' | '!=' | '<' | '<=' | '>' | '>=';

export type FilterAst =
  | { kind: 'and' | 'or'; left: FilterAst; right: FilterAst }
  | { kind: 'not'; expr: FilterAst }
  | { kind: 'test'; field: FieldDef; mask?: number; op?: CmpOp; value?: Literal }
  | { kind: 'in'; field: FieldDef; values: Literal[] }
  /** `bpf: EXPR`: libpcap's grammar, compiled per link type (bpf-vm.ts). */
  | { kind: 'bpf'; expr: string; programs: Map<number, BpfProgram> };

export type Literal =
  | { kind: 'number'; value: number }
  | { kind: 'bool'; value: boolean }
  | { kind: 'string'; value: string }
  | { kind: 'net'; family: 4 | 6; bytes: Uint8Array; prefix: number; text: string };

interface Token { t: string; pos: number }

function tokenize(src: string): Token[] {
  const out: Token[] = [];
  const re = /\s*(?:(\(|\)|\{|\}|,|==|!=|<=|>=|<|>|&&|\|\||!|&)|('(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*")|([A-Za-z0-9_.:\/]+))/y;
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

/**
 * Wireshark's names for the same fields, so that filters can be written the way operators
 * already write them: a plain rename, or a field that matches either direction (`ip.addr`,
 * `tcp.port`), which becomes `(src OP v) or (dst OP v)` (for `!=`: `(src != v) and (dst != v)`,
 * Wireshark's meaning of `!=` since 3.6). IPv6 names map onto ip.* (an IPv6 address or network
 * only matches IPv6 packets).
 */
export const WIRESHARK_ALIASES: Readonly<Record<string, string | [string, string]>> = {
  'tcp.srcport': 'tcp.sport', 'tcp.dstport': 'tcp.dport', 'udp.srcport': 'udp.sport', 'udp.dstport': 'udp.dport',
  'tcp.len': 'tcp.payload_len', 'frame.len': 'len', 'frame.cap_len': 'caplen', 'ipv6.src': 'ip.src', 'ipv6.dst': 'ip.dst',
  'tcp.flags.syn': 'tcp.syn', 'tcp.flags.ack': 'tcp.ack_flag', 'tcp.flags.fin': 'tcp.fin', 'tcp.flags.reset': 'tcp.rst',
  'tcp.flags.push': 'tcp.psh', 'tcp.flags.urg': 'tcp.urg', 'ipv6.hlim': 'ip.ttl', 'ipv6.nxt': 'ip.proto', 'eth.type': 'eth.type',
  'ip.addr': ['ip.src', 'ip.dst'], 'ipv6.addr': ['ip.src', 'ip.dst'], 'tcp.port': ['tcp.sport', 'tcp.dport'],
  'udp.port': ['udp.sport', 'udp.dport'], 'eth.addr': ['eth.src', 'eth.dst'],
};

/**
 * Parses a filter; throws IntstreamError FILTER_SYNTAX naming the column. A filter that starts
 * with `bpf:` is a BPF expression (tcpdump's language), checked now by compiling it for Ethernet.
 */
export function parseFilter(src: string): FilterAst {
  const bpf = /^\s*bpf:\s*(.*)$/s.exec(src);
  if (bpf) {
    if (!bpf[1].trim()) throw syntax(src, src.length, 'expected a BPF expression after bpf:');
    return { kind: 'bpf', expr: bpf[1].trim(), programs: new Map([[1, compileBpf(bpf[1].trim(), 1)]]) };
  }
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
    const alias = WIRESHARK_ALIASES[name];
    if (Array.isArray(alias)) return either(alias);
    const field = FIELDS.get(typeof alias === 'string' ? alias : name);
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
          if (peek() === ',') { i++; continue; } // Wireshark separates set members with commas
          values.push(literal(field));
        }
        i++;
        if (values.length === 0) throw syntax(src, pos, `'${field.name} in {}': the set is empty`);
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
  // `ip.addr OP v`: the rest of the test is read once per direction, from the same tokens.
  const either = ([a, b]: [string, string]): FilterAst => {
    const at = i;
    toks[at] = { t: a, pos: toks[at].pos };
    const left = test();
    const end = i;
    i = at;
    toks[at] = { t: b, pos: toks[at].pos };
    const right = test();
    if (i !== end) throw syntax(src, posOf(), 'internal: alias parsed differently');
    // `!=` holds when every occurrence differs (Wireshark's meaning since 3.6); like every
    // comparison here, it is false for a packet without the field
    if (left.kind === 'test' && left.op === '!=') return { kind: 'and', left, right };
    return { kind: 'or', left, right };
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
