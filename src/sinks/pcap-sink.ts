/**
 * `--sink pcap:FILE` / `--sink pcapng:FILE`: packets out as well as answers. Every packet that
 * passes the task's pushed-down (leading declarative) filter is written as it was captured, so a
 * task can also be a smarter tcpdump. Classic pcap is written with nanosecond timestamps and the
 * link type of the first packet (a packet of another link type is counted in `skipped`, with a
 * warning: use pcapng); pcapng gets one interface per link type met, nanosecond resolution.
 * Writes go through one reused 1 MiB buffer (no allocation per packet).
 */
import { closeSync, openSync, writeSync } from 'node:fs';
import { IntstreamError } from '../errors.ts';
import { subsecondNs } from '../sources/ns-time.ts';

/** Called by a local stage for each packet that passed its pushed-down filter. */
export type PacketTap = (buf: Uint8Array, off: number, capLen: number, wireLen: number, ts: number, linkType: number) => void;

const CHUNK = 1 << 20;

export class PcapSink {
  readonly path: string;
  readonly format: 'pcap' | 'pcapng';
  written = 0;
  /** Packets not written (another link type in a classic pcap). */
  skipped = 0;
  readonly warnings: string[] = [];
  private readonly fd: number;
  private readonly out = new Uint8Array(CHUNK);
  private readonly dv = new DataView(this.out.buffer);
  private used = 0;
  private linkType = -1;
  /** pcapng: interface id per link type. */
  private readonly ifaces = new Map<number, number>();
  readonly tap: PacketTap = (buf, off, capLen, wireLen, ts, linkType) => this.write(buf, off, capLen, wireLen, ts, linkType);

  constructor(spec: string) {
    const m = /^(pcap|pcapng):(.+)$/.exec(spec);
    if (!m) throw new IntstreamError('USAGE', `--sink ${spec}: expected pcap:FILE or pcapng:FILE`);
    this.format = m[1] as 'pcap' | 'pcapng';
    this.path = m[2];
    try { this.fd = openSync(this.path, 'w'); } catch (e) {
      throw new IntstreamError('USAGE', `--sink ${spec}: ${(e as Error).message}`);
    }
    if (this.format === 'pcapng') this.sectionHeader();
  }

  private room(n: number): void {
    if (this.used + n > CHUNK) this.flush();
    if (n > CHUNK) throw new IntstreamError('SINK', `${this.path}: a ${n}-byte packet does not fit the write buffer`);
  }

  private flush(): void {
    let o = 0;
    while (o < this.used) o += writeSync(this.fd, this.out, o, this.used - o);
    this.used = 0;
  }

  private u32(v: number): void { this.dv.setUint32(this.used, v >>> 0, true); this.used += 4; }
  private u16(v: number): void { this.dv.setUint16(this.used, v, true); this.used += 2; }

  private sectionHeader(): void {
    // SHB: type, length 28, byte-order magic, version 1.0, section length -1 (unknown), length
    this.u32(0x0a0d0d0a); this.u32(28); this.u32(0x1a2b3c4d); this.u16(1); this.u16(0);
    this.u32(0xffffffff); this.u32(0xffffffff); this.u32(28);
  }

  private interfaceFor(linkType: number): number {
    let id = this.ifaces.get(linkType);
    if (id !== undefined) return id;
    id = this.ifaces.size;
    this.ifaces.set(linkType, id);
    this.room(32);
    // IDB: link type, snaplen 0 (none), option if_tsresol (9) = 9 (ns), end of options
    this.u32(1); this.u32(32); this.u16(linkType); this.u16(0); this.u32(0);
    this.u16(9); this.u16(1); this.out[this.used] = 9; this.out[this.used + 1] = 0; this.out[this.used + 2] = 0; this.out[this.used + 3] = 0; this.used += 4;
    this.u32(0); this.u32(32);
    return id;
  }

  write(buf: Uint8Array, off: number, capLen: number, wireLen: number, ts: number, linkType: number): void {
    const sec = Math.floor(ts);
    // the ns the source had (a µs or ns capture's time given back exactly, not the double's digits)
    const ns = subsecondNs(ts, sec);
    if (this.format === 'pcap') {
      if (this.linkType === -1) {
        this.linkType = linkType;
        // nanosecond pcap header: magic, 2.4, zone 0, sigfigs 0, snaplen 262144, link type
        this.room(24);
        this.u32(0xa1b23c4d); this.u16(2); this.u16(4); this.u32(0); this.u32(0); this.u32(262144); this.u32(linkType);
      } else if (linkType !== this.linkType) {
        if (this.skipped++ === 0) this.warnings.push(`${this.path}: packets of link type ${linkType} are not written into a classic pcap of link type ${this.linkType} (use pcapng:)`);
        return;
      }
      this.room(16 + capLen);
      this.u32(sec); this.u32(ns); this.u32(capLen); this.u32(wireLen);
    } else {
      const id = this.interfaceFor(linkType);
      const pad = (4 - (capLen & 3)) & 3;
      const len = 32 + capLen + pad;
      this.room(len);
      // EPB: interface, timestamp (high, low) in ns, captured and original length, data, length
      // sec * 1e9 + ns as two 32-bit halves, exactly, without BigInt: sec = s1 * 2^16 + s0
      const s1 = Math.floor(sec / 65536), s0 = sec - s1 * 65536;
      const h = s1 * 1e9, hHi = Math.floor(h / 65536), r = (h - hHi * 65536) * 65536 + s0 * 1e9 + ns;
      const rHi = Math.floor(r / 4294967296);
      this.u32(6); this.u32(len); this.u32(id); this.u32(hHi + rHi); this.u32(r - rHi * 4294967296); this.u32(capLen); this.u32(wireLen);
      this.out.set(buf.subarray(off, off + capLen), this.used); this.used += capLen;
      this.out.fill(0, this.used, this.used + pad); this.used += pad;
      this.u32(len);
      this.written++;
      return;
    }
    this.out.set(buf.subarray(off, off + capLen), this.used);
    this.used += capLen;
    this.written++;
  }

  close(): void {
    if (this.format === 'pcap' && this.linkType === -1) {
      // no packet: still a valid, empty capture (Ethernet)
      this.room(24);
      this.u32(0xa1b23c4d); this.u16(2); this.u16(4); this.u32(0); this.u32(0); this.u32(262144); this.u32(1);
    }
    this.flush();
    closeSync(this.fd);
  }
}
