/**
 * A tiny capture file writer for tests, written from the format documents and independent of
 * src/sources: classic pcap (draft-ietf-opsawg-pcap) and pcapng (draft-ietf-opsawg-pcapng).
 * It writes whatever it is told, including invalid values, so that tests can build broken files.
 *
 *   pcapFile({ nano: true, bigEndian: true, linkType: 1 }, [{ sec, frac, data }])
 *   new PcapngWriter().shb().idb({ linkType: 1, options: [tsresol(0x94)] }).epb({ ts: 123n, data }).bytes()
 */

function concat(parts: Uint8Array[]): Uint8Array {
  let n = 0;
  for (const p of parts) n += p.length;
  const out = new Uint8Array(n);
  let o = 0;
  for (const p of parts) { out.set(p, o); o += p.length; }
  return out;
}

// ---- classic pcap ---------------------------------------------------------------------------

export interface PcapOptions {
  /** Nanosecond magic (a1b23c4d) instead of microseconds (a1b2c3d4). */
  nano?: boolean;
  /** Write every field big-endian (the magic then reads a1b2c3d4 in file order). */
  bigEndian?: boolean;
  linkType?: number;
  snapLen?: number;
  versionMajor?: number;
  versionMinor?: number;
}

export interface PcapRecord {
  sec: number;
  /** Microseconds or nanoseconds, per the file's magic; written as given (may be invalid). */
  frac: number;
  data: Uint8Array;
  /** Length on the wire; defaults to data.length. */
  origLen?: number;
  /** The caplen field; defaults to data.length (set it to lie about the record's size). */
  capLen?: number;
}

export function pcapHeader(o: PcapOptions = {}): Uint8Array {
  const h = new Uint8Array(24);
  const v = new DataView(h.buffer);
  const le = !o.bigEndian;
  v.setUint32(0, o.nano ? 0xa1b23c4d : 0xa1b2c3d4, le);
  v.setUint16(4, o.versionMajor ?? 2, le);
  v.setUint16(6, o.versionMinor ?? 4, le);
  v.setInt32(8, 0, le); // thiszone
  v.setUint32(12, 0, le); // sigfigs
  v.setUint32(16, o.snapLen ?? 262144, le);
  v.setUint32(20, o.linkType ?? 1, le);
  return h;
}

export function pcapRecord(r: PcapRecord, o: PcapOptions = {}): Uint8Array {
  const le = !o.bigEndian;
  const h = new Uint8Array(16 + r.data.length);
  const v = new DataView(h.buffer);
  v.setUint32(0, r.sec, le);
  v.setUint32(4, r.frac, le);
  v.setUint32(8, r.capLen ?? r.data.length, le);
  v.setUint32(12, r.origLen ?? r.data.length, le);
  h.set(r.data, 16);
  return h;
}

export function pcapFile(o: PcapOptions, records: PcapRecord[]): Uint8Array {
  return concat([pcapHeader(o), ...records.map((r) => pcapRecord(r, o))]);
}

// ---- pcapng -----------------------------------------------------------------------------

export interface PcapngOption {
  code: number;
  value: Uint8Array;
  /** A 64-bit integer value, written in the section's byte order (replaces `value`). */
  int64?: bigint;
  /** Override the written length (to build an option that overruns its block). */
  lengthField?: number;
}

/** if_tsresol (code 9): MSB clear = 10^-n, set = 2^-(n & 0x7f). */
export function tsresol(byte: number): PcapngOption {
  return { code: 9, value: Uint8Array.of(byte) };
}

/** if_tsoffset (code 14): seconds added to every timestamp of the interface. Byte order is set on write. */
export function tsoffset(seconds: bigint): PcapngOption {
  return { code: 14, value: new Uint8Array(8), int64: seconds };
}

/** Any option with a UTF-8 string value (comments, names). */
export function textOption(code: number, text: string): PcapngOption {
  return { code, value: new TextEncoder().encode(text) };
}

export class PcapngWriter {
  private parts: Uint8Array[] = [];
  private le = true;

  /** Blocks so far, as one file. */
  bytes(): Uint8Array {
    return concat(this.parts);
  }

  /** Byte offset where the next block will start. */
  get offset(): number {
    let n = 0;
    for (const p of this.parts) n += p.length;
    return n;
  }

  private options(opts: PcapngOption[] | undefined): Uint8Array {
    if (!opts || opts.length === 0) return new Uint8Array(0);
    const parts: Uint8Array[] = [];
    for (const o of opts) {
      let value = o.value;
      if (o.int64 !== undefined) {
        value = new Uint8Array(8);
        new DataView(value.buffer).setBigInt64(0, o.int64, this.le);
      }
      const padded = (value.length + 3) & ~3;
      const b = new Uint8Array(4 + padded);
      const v = new DataView(b.buffer);
      v.setUint16(0, o.code, this.le);
      v.setUint16(2, o.lengthField ?? value.length, this.le);
      b.set(value, 4);
      parts.push(b);
    }
    parts.push(new Uint8Array(4)); // opt_endofopt
    return concat(parts);
  }

  /** Appends a block of `type` with `body` (padded to 4 bytes), framed by its total length. */
  block(type: number, body: Uint8Array, opts?: { totalLength?: number; trailerLength?: number }): this {
    const padded = (body.length + 3) & ~3;
    const len = 12 + padded;
    const b = new Uint8Array(len);
    const v = new DataView(b.buffer);
    v.setUint32(0, type, this.le);
    v.setUint32(4, opts?.totalLength ?? len, this.le);
    b.set(body, 8);
    v.setUint32(len - 4, opts?.trailerLength ?? opts?.totalLength ?? len, this.le);
    this.parts.push(b);
    return this;
  }

  /** Section Header Block; sets the byte order of this and the following blocks. */
  shb(o: { bigEndian?: boolean; major?: number; minor?: number; options?: PcapngOption[] } = {}): this {
    this.le = !o.bigEndian;
    const opts = this.options(o.options);
    const body = new Uint8Array(16 + opts.length);
    const v = new DataView(body.buffer);
    v.setUint32(0, 0x1a2b3c4d, this.le);
    v.setUint16(4, o.major ?? 1, this.le);
    v.setUint16(6, o.minor ?? 0, this.le);
    v.setBigInt64(8, -1n, this.le); // section length unknown
    body.set(opts, 16);
    // The block type 0x0A0D0D0A reads the same in either byte order.
    return this.block(0x0a0d0d0a, body);
  }

  /** Interface Description Block. */
  idb(o: { linkType: number; snapLen?: number; options?: PcapngOption[] }): this {
    const opts = this.options(o.options);
    const body = new Uint8Array(8 + opts.length);
    const v = new DataView(body.buffer);
    v.setUint16(0, o.linkType, this.le);
    v.setUint32(4, o.snapLen ?? 0, this.le);
    body.set(opts, 8);
    return this.block(1, body);
  }

  /** Enhanced Packet Block; `ts` in the interface's units (64 bits). */
  epb(o: { ifId?: number; ts: bigint; data: Uint8Array; origLen?: number; capLen?: number }): this {
    const body = new Uint8Array(20 + ((o.data.length + 3) & ~3));
    const v = new DataView(body.buffer);
    v.setUint32(0, o.ifId ?? 0, this.le);
    v.setUint32(4, Number(o.ts >> 32n), this.le);
    v.setUint32(8, Number(o.ts & 0xffffffffn), this.le);
    v.setUint32(12, o.capLen ?? o.data.length, this.le);
    v.setUint32(16, o.origLen ?? o.data.length, this.le);
    body.set(o.data, 20);
    return this.block(6, body);
  }

  /** Simple Packet Block: original length, then the data (no interface, no timestamp). */
  spb(o: { data: Uint8Array; origLen?: number }): this {
    const body = new Uint8Array(4 + ((o.data.length + 3) & ~3));
    new DataView(body.buffer).setUint32(0, o.origLen ?? o.data.length, this.le);
    body.set(o.data, 4);
    return this.block(3, body);
  }

  /** Obsolete Packet Block (type 2): 16-bit interface id and drops count. */
  opb(o: { ifId?: number; ts: bigint; data: Uint8Array; origLen?: number }): this {
    const body = new Uint8Array(20 + ((o.data.length + 3) & ~3));
    const v = new DataView(body.buffer);
    v.setUint16(0, o.ifId ?? 0, this.le);
    v.setUint16(2, 0, this.le);
    v.setUint32(4, Number(o.ts >> 32n), this.le);
    v.setUint32(8, Number(o.ts & 0xffffffffn), this.le);
    v.setUint32(12, o.data.length, this.le);
    v.setUint32(16, o.origLen ?? o.data.length, this.le);
    body.set(o.data, 20);
    return this.block(2, body);
  }

  /** Interface Statistics Block (ignored by packet readers). */
  isb(ifId = 0): this {
    const body = new Uint8Array(12);
    new DataView(body.buffer).setUint32(0, ifId, this.le);
    return this.block(5, body);
  }
}
