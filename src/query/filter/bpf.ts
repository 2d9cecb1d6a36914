import { BYTE_LAYOUT } from './field-layout.ts';
import type { FilterAst } from './parse.ts';

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
    case 'bpf': return `(${ast.expr})`;
    case 'in': return `(${ast.values.map((v) => bpf({ kind: 'test', field: ast.field, op: '==', value: v })).join(' or ')})`;
    case 'test': {
      const f = ast.field.name, v = ast.value, op = ast.op;
      const form = BYTE_LAYOUT[f]?.bpf;
      if (form && 'flagBit' in form) {
        const bit = form.flagBit;
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
      if (v.kind !== 'number' || ast.mask !== undefined && !(form && 'tcpFlags' in form)) throw new Error('no bpf');
      const cmp = op === '==' ? '=' : op;
      if (!form) throw new Error('no bpf');
      if ('port' in form) {
        if (op === '==') return `(${form.port} ${v.value})`;
        if (op === '!=') return `(not ${form.port} ${v.value})`;
        throw new Error('no bpf');
      }
      if ('tcpFlags' in form) {
        const lhs = ast.mask !== undefined ? `(tcp[13] & ${ast.mask & 0xff})` : 'tcp[13]';
        return `(tcp and ${lhs} ${cmp} ${v.value & 0xff})`;
      }
      if ('proto' in form) return op === '==' ? `(ip proto ${v.value} or ip6 proto ${v.value})` : `(not (ip proto ${v.value} or ip6 proto ${v.value}))`;
      if ('version' in form) return v.value === 4 && op === '==' ? 'ip' : v.value === 6 && op === '==' ? 'ip6' : (() => { throw new Error('no bpf'); })();
      if ('len' in form) return `(len ${cmp} ${v.value})`;
      if ('vlanId' in form && op === '==') return `(vlan ${v.value})`;
      throw new Error('no bpf');
    }
  }
}
