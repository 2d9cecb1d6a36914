/**
 * A parsed filter evaluated by walking the tree: the reference the compiled form is tested
 * against, and the form for items that are not packets (flow records: `fieldsOnly`).
 */
import { parseIpv4, parseIpv6 } from '../../decode/address-text.ts';
import type { FieldDef } from '../../decode/fields.ts';
import type { Packet } from '../../decode/packet.ts';
import { compileBpf, runBpf } from './bpf-vm.ts';
import { byteReader } from './field-layout.ts';
import type { CmpOp, FilterAst, Literal } from './parse.ts';

export type PacketPredicate = (p: Packet) => boolean;

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
    case 'bpf': {
      // packets only: record items (flow export) have no captured bytes
      if (fieldsOnly) return () => false;
      const { expr, programs } = ast;
      const reject = new Int32Array(0);
      return (p) => {
        let prog = programs.get(p.linkType);
        if (prog === undefined) {
          try { prog = compileBpf(expr, p.linkType); } catch { prog = reject; } // no form for that link type
          programs.set(p.linkType, prog);
        }
        return runBpf(prog, p.buf, p.start, p.end - p.start, p.len) !== 0;
      };
    }
    case 'in': {
      const tests = ast.values.map((v) => compileTest(ast.field, undefined, '==', v, fieldsOnly));
      if (tests.length === 1) return tests[0];
      return (p) => { for (const t of tests) if (t(p)) return true; return false; };
    }
    case 'test': return compileTest(ast.field, ast.mask, ast.op, ast.value, fieldsOnly);
  }
}

/**
 * Fields read straight from the bytes by the interpreter (the ones filters use most); every other
 * field goes through its getter, so that the interpreter stays an independent reference for the
 * compiled form on the rest.
 */
const FAST = new Map(['tcp.flags', 'tcp.syn', 'tcp.ack_flag', 'tcp.fin', 'tcp.rst', 'tcp.psh', 'tcp.urg', 'tcp.sport', 'tcp.dport', 'tcp.payload_len', 'udp.sport', 'udp.dport']
  .map((name) => [name, byteReader(name)!]));

function compileTest(field: FieldDef, mask: number | undefined, op: CmpOp | undefined, value: Literal | undefined, fieldsOnly = false): PacketPredicate {
  if (value?.kind === 'net') return fieldsOnly ? compileNetText(field, value, op === '!=') : compileNet(field, value, op === '!=');
  const fast = fieldsOnly ? undefined : FAST.get(field.name);
  const get = fast !== undefined
    ? fast
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
