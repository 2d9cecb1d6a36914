/**
 * BPF filters the way operators already write them: `bpf: tcp port 80 and not host 10.0.0.1`.
 * libpcap's own grammar compiles the expression (`tcpdump -ddd`, once per link type met, for a
 * capture of that link type), and this classic-BPF machine runs the program over each packet's
 * captured bytes, as the kernel would. A live capture hands the expression to the kernel as is.
 * HOT PATH for tasks that use it: no allocation per packet (one reused scratch memory).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { IntstreamError } from '../../errors.ts';

/** A compiled program: 4 numbers per instruction (code, jt, jf, k). */
export type BpfProgram = Int32Array;

/**
 * The expression compiled by libpcap for `linkType` (throws FILTER_SYNTAX with libpcap's message
 * for a bad expression, or when tcpdump is missing).
 */
export function compileBpf(expr: string, linkType: number): BpfProgram {
  const dir = mkdtempSync(join(tmpdir(), 'intstream-bpf-'));
  try {
    // an empty capture of that link type: tcpdump compiles for the file's link type
    const hdr = Buffer.alloc(24);
    hdr.writeUInt32LE(0xa1b2c3d4, 0); hdr.writeUInt16LE(2, 4); hdr.writeUInt16LE(4, 6);
    hdr.writeUInt32LE(262144, 16); hdr.writeUInt32LE(linkType, 20);
    const file = join(dir, 'empty.pcap');
    writeFileSync(file, hdr);
    // node:child_process loads only when a bpf: filter is compiled
    const { spawnSync } = createRequire(import.meta.url)('node:child_process') as typeof import('node:child_process');
    const r = spawnSync('tcpdump', ['-ddd', '-r', file, expr], { encoding: 'utf8' });
    if (r.error) throw new IntstreamError('FILTER_SYNTAX', `filter "bpf: ${expr}": tcpdump is needed to compile BPF (${r.error.message})`, 'install tcpdump (npm run setup)');
    if (r.status !== 0) {
      const msg = r.stderr.split('\n').map((l) => l.replace(/^tcpdump: /, '')).filter((l) => l && !/^reading from file/.test(l)).join('; ');
      throw new IntstreamError('FILTER_SYNTAX', `filter "bpf: ${expr}": ${msg}`, 'a BPF expression as tcpdump takes it, e.g. bpf: tcp port 80 and not net 10.0.0.0/8');
    }
    const lines = r.stdout.trim().split('\n');
    const n = Number(lines[0]);
    const prog = new Int32Array(4 * n);
    for (let i = 0; i < n; i++) {
      const [code, jt, jf, k] = lines[i + 1].trim().split(/\s+/).map(Number);
      prog[4 * i] = code; prog[4 * i + 1] = jt; prog[4 * i + 2] = jf; prog[4 * i + 3] = k | 0;
    }
    return prog;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const mem = new Uint32Array(16);

/**
 * Runs a classic BPF program over `caplen` bytes at `buf[start]` (wire length `wirelen`): the
 * program's return value, 0 meaning "reject". A load past the captured bytes rejects, as in the
 * kernel.
 */
export function runBpf(prog: BpfProgram, buf: Uint8Array, start: number, caplen: number, wirelen: number): number {
  let a = 0, x = 0, pc = 0;
  const n = prog.length;
  while (pc < n) {
    const code = prog[pc], jt = prog[pc + 1], jf = prog[pc + 2], k = prog[pc + 3];
    pc += 4;
    switch (code & 0x07) {
      case 0x00: // LD
      case 0x01: { // LDX
        const mode = code & 0xe0, size = code & 0x18;
        let v: number;
        if (mode === 0x00) v = k >>> 0; // IMM
        else if (mode === 0x80) v = wirelen; // LEN
        else if (mode === 0x60) v = mem[k & 15]; // MEM
        else {
          const off = mode === 0x40 ? x + k : k; // IND : ABS (MSH uses ABS addressing)
          if (mode === 0xa0) { // MSH: X = 4 * (P[k] & 0xf)
            if (k < 0 || k >= caplen) return 0;
            x = (buf[start + k] & 0x0f) << 2;
            continue;
          }
          const len = size === 0x00 ? 4 : size === 0x08 ? 2 : 1;
          if (off < 0 || off + len > caplen) return 0;
          const p = start + off;
          v = len === 4 ? ((buf[p] << 24) | (buf[p + 1] << 16) | (buf[p + 2] << 8) | buf[p + 3]) >>> 0
            : len === 2 ? (buf[p] << 8) | buf[p + 1] : buf[p];
        }
        if ((code & 0x07) === 0x00) a = v; else x = v;
        break;
      }
      case 0x02: mem[k & 15] = a; break; // ST
      case 0x03: mem[k & 15] = x; break; // STX
      case 0x04: { // ALU
        const s = code & 0x08 ? x : k >>> 0;
        switch (code & 0xf0) {
          case 0x00: a = (a + s) >>> 0; break;
          case 0x10: a = (a - s) >>> 0; break;
          case 0x20: a = Math.imul(a, s) >>> 0; break;
          case 0x30: if (s === 0) return 0; a = Math.floor(a / s) >>> 0; break;
          case 0x40: a = (a | s) >>> 0; break;
          case 0x50: a = (a & s) >>> 0; break;
          case 0x60: a = s >= 32 ? 0 : (a << s) >>> 0; break;
          case 0x70: a = s >= 32 ? 0 : a >>> s; break;
          case 0x80: a = (-a) >>> 0; break;
          case 0x90: if (s === 0) return 0; a = (a % s) >>> 0; break;
          case 0xa0: a = (a ^ s) >>> 0; break;
          default: return 0;
        }
        break;
      }
      case 0x05: { // JMP
        const op = code & 0xf0;
        if (op === 0x00) { pc += 4 * (k >>> 0); break; }
        const s = code & 0x08 ? x : k >>> 0;
        const t = op === 0x10 ? a === s : op === 0x20 ? a > s : op === 0x30 ? a >= s : op === 0x40 ? (a & s) !== 0 : false;
        pc += 4 * (t ? jt : jf);
        break;
      }
      case 0x06: return code & 0x10 ? a : k >>> 0; // RET A : RET K
      case 0x07: if (code & 0x80) a = x; else x = a; break; // TXA : TAX
    }
  }
  return 0;
}
