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
      // Numbers go into the expression only as libpcap takes them: integers below 2^32 (a filter may
      // hold 1.5 or 2^53, which match nothing or are compared as doubles: no kernel form then).
      if (v?.kind === 'number' && !(Number.isInteger(v.value) && v.value >= 0 && v.value <= 0xffffffff)) throw new Error('no bpf');
      if (ast.mask !== undefined && !(Number.isInteger(ast.mask) && ast.mask >= 0 && ast.mask <= 0xffffffff)) throw new Error('no bpf');
      if (form && 'flagBit' in form) {
        // A flag reads 0 or 1: the comparison keeps the packets whose flag value satisfies it.
        if (ast.mask !== undefined) throw new Error('no bpf');
        const bit = form.flagBit;
        if (!op || !v) return `(tcp[13] & ${bit} != 0)`;
        const want = v.kind === 'bool' ? (v.value ? 1 : 0) : v.kind === 'number' ? v.value : NaN;
        const keeps = (x: number) => op === '==' ? x === want : op === '!=' ? x !== want : op === '<' ? x < want : op === '<=' ? x <= want : op === '>' ? x > want : x >= want;
        const set = keeps(1), clear = keeps(0);
        if (set && clear) return 'tcp';
        if (!set && !clear) throw new Error('no bpf'); // keeps nothing
        return `(tcp[13] & ${bit} ${set ? '!=' : '=='} 0)`;
      }
      if (!op || !v) {
        const proto: Record<string, string> = { tcp: 'tcp', udp: 'udp', icmp: '(icmp or icmp6)', ip: '(ip or ip6)' };
        const layer = f.split('.')[0];
        if (proto[layer] && ast.field.type !== 'number') return proto[layer];
        throw new Error('no bpf');
      }
      if (v.kind === 'net') {
        if (f === 'ip.src' || f === 'ip.dst') {
          // libpcap refuses a network with host bits set (10.1.2.3/8); the filter ignores them
          const whole = v.prefix >> 3, rem = v.prefix & 7;
          for (let k = whole; k < v.bytes.length; k++) if ((k === whole ? v.bytes[k] & (0xff >> rem) : v.bytes[k]) !== 0) throw new Error('no bpf');
          const dir = f === 'ip.src' ? 'src' : 'dst';
          const full = (v.family === 4 && v.prefix === 32) || (v.family === 6 && v.prefix === 128);
          const e = full ? `${dir} host ${v.text.split('/')[0]}` : `${dir} net ${v.text}`;
          // (`!=` holds only for a packet with an IP layer, as in the filter: the negation must not keep ARP)
          return op === '!=' ? `((ip or ip6) and not ${e})` : e;
        }
        throw new Error('no bpf');
      }
      if (v.kind !== 'number' || ast.mask !== undefined && !(form && 'tcpFlags' in form)) throw new Error('no bpf');
      const cmp = op === '==' ? '=' : op;
      if (!form) throw new Error('no bpf');
      if ('port' in form) {
        if (v.value > 0xffff) throw new Error('no bpf');
        if (op === '==') return `(${form.port} ${v.value})`;
        if (op === '!=') return `(${form.port.split(' ')[0]} and not ${form.port} ${v.value})`;
        throw new Error('no bpf');
      }
      if ('tcpFlags' in form) {
        // tcp.flags is 12 bits: the low nibble of byte 12 (NS and the reserved bits) and byte 13
        const m = ast.mask !== undefined ? ast.mask & 0xfff : 0xfff;
        return `(tcp and (tcp[12:2] & ${m}) ${cmp} ${v.value})`;
      }
      if ('proto' in form) {
        if (v.value > 255) throw new Error('no bpf');
        if (op === '==') return `(ip proto ${v.value} or ip6 proto ${v.value})`;
        if (op === '!=') return `((ip or ip6) and not (ip proto ${v.value} or ip6 proto ${v.value}))`;
        throw new Error('no bpf');
      }
      if ('version' in form) return v.value === 4 && op === '==' ? 'ip' : v.value === 6 && op === '==' ? 'ip6' : (() => { throw new Error('no bpf'); })();
      if ('len' in form) return `(len ${cmp} ${v.value})`;
      // (no `vlan N`: libpcap's first vlan keyword moves the offsets of every test after it, in any branch)
      throw new Error('no bpf');
    }
  }
}
