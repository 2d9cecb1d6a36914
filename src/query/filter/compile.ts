/**
 * A parsed filter compiled into one straight-line JavaScript function over the packet's bytes
 * (as a BPF JIT would): no closure call per test node. Byte-level fields come from the field
 * layout (field-layout.ts); others call their getter. Only numbers and byte values parsed from
 * the filter reach the generated source.
 * HOT PATH (bench/newconn.ts): this is the pushed-down filter.
 */
import type { Packet } from '../../decode/packet.ts';
import { BYTE_LAYOUT, LAYER_PRESENT } from './field-layout.ts';
import { interpretFilter, type PacketPredicate } from './interpret.ts';
import type { FilterAst } from './parse.ts';

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


/** The filter's body as JavaScript over `b`, `l4` and `p`; throws 'interpreted' where only the interpreter can. */
export function gen(ast: FilterAst, getters: ((p: Packet) => unknown)[]): string {
  switch (ast.kind) {
    case 'and': return `(${gen(ast.left, getters)} && ${gen(ast.right, getters)})`;
    case 'or': return `(${gen(ast.left, getters)} || ${gen(ast.right, getters)})`;
    case 'not': return `!${gen(ast.expr, getters)}`;
    case 'bpf': throw new Error('interpreted');
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
      if (field.type === 'layer' && field.name in LAYER_PRESENT && !op) return LAYER_PRESENT[field.name as keyof typeof LAYER_PRESENT];
      let present: string, val: string;
      const layout = BYTE_LAYOUT[field.name];
      if (layout) {
        present = layout.layer === '' ? 'true' : LAYER_PRESENT[layout.layer];
        val = layout.value;
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
