/**
 * HOT PATH (guarded by bench/newconn.ts): capture file reader for classic pcap and pcapng.
 *
 * The format is detected from the magic number. The file is read in large chunks into one
 * reused buffer; each `nextBatch()` parses as many whole records as fit into the batch and
 * describes them with offsets into that buffer, with no object per record.
 *
 * pcap (https://www.ietf.org/archive/id/draft-ietf-opsawg-pcap-03.html):
 *   file header  magic(4) major(2) minor(2) thiszone(4) sigfigs(4) snaplen(4) linktype(4)
 *   record       ts_sec(4) ts_frac(4) caplen(4) origlen(4) data(caplen)
 *   magic a1b2c3d4 = microseconds, a1b23c4d = nanoseconds; either byte order.
 * pcapng (draft-ietf-opsawg-pcapng): blocks of type(4) total_len(4) body total_len(4).
 *   SHB 0x0A0D0D0A sets byte order (magic 1A2B3C4D) and starts a section: interfaces restart.
 *   IDB 1: linktype(2) reserved(2) snaplen(4) options (if_tsresol 9, if_tsoffset 14).
 *   EPB 6: if_id(4) ts_hi(4) ts_lo(4) caplen(4) origlen(4) data.  SPB 3: origlen(4) data, on
 *   interface 0 and without a timestamp (see `spbTime` for the time it is given).
 *   OPB 2 (obsolete): if_id(2) drops(2) ts_hi(4) ts_lo(4) caplen(4) origlen(4) data.
 *   Every other block type is skipped by its length.
 *
 * Opening mid-file (an agent resuming a task, control/resume-point.ts): `resumePoint()` between
 * batches says where the next record starts and what the parser must know there (pcapng: the
 * section's byte order, its interface descriptions so far, the time a Simple Packet Block would
 * inherit); a source made with `{ start }` checks the file's header as usual, then seeks to that
 * offset (a record or block boundary) with that state, so nothing before it is read again.
 *
 * Lengths in record and block headers are checked before any buffer is sized by them: a pcap
 * caplen above the file's snaplen (at least libpcap's 262144, at most MAX_RECORD_CAP), a pcapng
 * block above MAX_BLOCK, or a record that runs past the end of a file of known size ends that
 * source with a counted reason and a warning naming the file and offset; it never throws.
 */
import { IntstreamError } from '../errors.ts';
import type { RawReject } from '../query/filter-expr.ts';
import type { ByteInput } from './byte-input.ts';
import { joinTimestamp, PacketBatch } from './packet-batch.ts';
import { SkipCounters } from '../decode/skip-counters.ts';
import type { PacketSource, SourceSetup, SourceStatus, SourceTraits } from './source.ts';

/** Read size: small enough that a chunk stays in L2 cache while it is parsed and decoded. */
const CHUNK = 256 << 10;
/** libpcap's largest accepted record (MAXIMUM_SNAPLEN); larger is taken as corruption. */
const MAX_RECORD = 262144;
/**
 * The largest pcap record believed whatever the file's snaplen says (snaplen 0xffffffff is
 * common): a caplen beyond it is corruption, never a buffer size (2^31 throws in fs.readSync).
 */
const MAX_RECORD_CAP = 256 << 20;
const MAX_BLOCK = 16 << 20;

type Format = 'pcap' | 'pcapng';

/** A pcapng interface description, as the parser keeps it. */
export interface CaptureInterface {
  linkType: number;
  snapLen: number;
  /** Timestamp units per second. */
  unitsPerSec: number;
  /** if_tsoffset: whole seconds added to every timestamp of the interface. */
  tsOffsetSec: number;
}

/**
 * Where a capture file can be opened again mid-way (`resumePoint()`, the `start` option): a
 * record (pcap) or block (pcapng) boundary, and the pcapng parser state there. JSON-safe.
 */
export interface CaptureResumePoint {
  /** File offset of the next record or block. */
  offset: number;
  format: Format;
  /** pcapng only: the section's byte order, interfaces declared before `offset` in it, those of earlier sections. */
  pcapng?: { le: boolean; ifaces: CaptureInterface[]; ifaceBase: number; sectionTs: number | null };
}

export interface CaptureFileOptions {
  /** Start reading at this point instead of the first record (the header is still checked). */
  start?: CaptureResumePoint;
}

export class CaptureFileSource implements PacketSource {
  readonly name: string;
  /** The raw pre-filter runs while records are framed (SourceSetup.reject). */
  readonly traits: SourceTraits = { items: 'packets', lateness: 0, decode: null, pushdown: 'parser' };
  readonly skipped = new SkipCounters();
  readonly warnings: string[] = [];
  private readonly input: ByteInput;
  private readonly path: string;
  private buf: Uint8Array = new Uint8Array(CHUNK);
  private view = new DataView(this.buf.buffer);
  /** Parse position and end of valid data in `buf`. */
  private pos = 0;
  private end = 0;
  /** File offset of buf[0]. */
  private base = 0;
  private eof = false;
  private stopped = false;
  private format: Format = 'pcap';
  private le = true;
  private nano = false;
  private linkType = 1;
  private snapLen = 0;
  private ifaces: CaptureInterface[] = [];
  /** Time of the last packet block with a timestamp in this pcapng section (NaN: none yet). */
  private sectionTs = NaN;
  /** Simple Packet Blocks given the previous packet's time, and those given 0 (none before). */
  private spbInherited = 0;
  private spbNoTime = 0;
  /** Counters for --stats (`sources[i].counters`); set once the file holds a Simple Packet Block. */
  /** Set once a Simple Packet Block was read: its counters then show in status(). */
  private spbSeen = false;
  /** Interfaces seen in earlier sections, so iface numbers stay unique within the file. */
  private ifaceBase = 0;
  private readonly batch: PacketBatch;
  /** The raw pre-filter (SourceSetup.reject) and the per-window counters' window size (0: off). */
  private reject: RawReject | null = null;
  private windowSize = 0;

  private readonly start: CaptureResumePoint | undefined;

  constructor(name: string, path: string, input: ByteInput, batchSize = 2048, opts: CaptureFileOptions = {}) {
    this.name = name;
    this.path = path;
    this.input = input;
    this.batch = new PacketBatch(batchSize);
    this.start = opts.start;
  }

  /**
   * Where the next batch starts, with the parser state needed there (between batches only): a
   * source opened with this as its `start` reads on from exactly here.
   */
  resumePoint(): CaptureResumePoint {
    const offset = this.base + this.pos;
    if (this.format === 'pcap') return { offset, format: 'pcap' };
    return {
      offset, format: 'pcapng',
      pcapng: { le: this.le, ifaces: this.ifaces.map((i) => ({ ...i })), ifaceBase: this.ifaceBase, sectionTs: this.sectionTs === this.sectionTs ? this.sectionTs : null },
    };
  }

  /** After the header was checked: continue at `start` (a resume point of this same file). */
  private seekTo(start: CaptureResumePoint): void {
    const where = `${this.path}: cannot resume at offset ${start.offset}`;
    if (start.format !== this.format) throw new IntstreamError('CAPTURE_HEADER', `${where}: the file is ${this.format}, the resume point is for ${start.format}`);
    const size = this.input.size;
    if (!Number.isSafeInteger(start.offset) || start.offset < (this.format === 'pcap' ? 24 : 0) || (size !== undefined && start.offset > size)) {
      throw new IntstreamError('CAPTURE_IO', `${where}: not an offset inside this file (${size ?? 'unknown'} bytes)`);
    }
    if (!this.input.seek) throw new IntstreamError('CAPTURE_IO', `${where}: the input cannot seek (not a regular file)`);
    if (this.format === 'pcapng') {
      const st = start.pcapng;
      if (!st) throw new IntstreamError('CAPTURE_IO', `${where}: the resume point lacks the pcapng section state`);
      this.le = st.le;
      this.ifaces = st.ifaces.map((i) => ({ ...i }));
      this.ifaceBase = st.ifaceBase;
      this.sectionTs = st.sectionTs ?? NaN;
    }
    this.input.seek(start.offset);
    this.base = start.offset;
    this.pos = 0;
    this.end = 0;
    this.eof = false;
  }

  status(): SourceStatus {
    return {
      bytes: this.base + this.pos, total: this.input.size, kernel: null, failure: null,
      counters: this.spbSeen ? { spb_time_inherited: this.spbInherited, spb_time_none: this.spbNoTime } : null,
    };
  }

  async open(setup?: SourceSetup): Promise<void> {
    this.reject = setup?.reject ?? null;
    this.windowSize = setup?.windowSize ?? 0;
    await this.fill(24);
    if (this.end - this.pos < 4) {
      throw new IntstreamError('CAPTURE_HEADER', `${this.path}: ${this.end === 0 ? 'empty file' : 'too short to be a capture'} (${this.end} bytes)`);
    }
    const m = this.view.getUint32(0, false);
    if (m === 0x0a0d0d0a) {
      this.format = 'pcapng';
      if (this.start) this.seekTo(this.start);
      return; // the SHB is parsed as the first block
    }
    const le = m === 0xd4c3b2a1 || m === 0x4d3cb2a1;
    const be = m === 0xa1b2c3d4 || m === 0xa1b23c4d;
    if (!le && !be) {
      throw new IntstreamError('CAPTURE_HEADER',
        `${this.path}: offset 0: not a pcap or pcapng file (magic 0x${m.toString(16).padStart(8, '0')})`,
        'intstream reads classic pcap (us or ns, either byte order) and pcapng');
    }
    if (this.end < 24) throw new IntstreamError('CAPTURE_HEADER', `${this.path}: pcap file header truncated (${this.end} of 24 bytes)`);
    this.le = le;
    this.nano = m === 0x4d3cb2a1 || m === 0xa1b23c4d;
    const major = this.view.getUint16(4, le);
    const minor = this.view.getUint16(6, le);
    if (major !== 2 || minor !== 4) {
      throw new IntstreamError('CAPTURE_HEADER', `${this.path}: offset 4: unsupported pcap version ${major}.${minor} (expected 2.4)`);
    }
    this.snapLen = this.view.getUint32(16, le);
    this.linkType = this.view.getUint32(20, le) & 0x03ffffff;
    this.pos = 24;
    if (this.start) this.seekTo(this.start);
  }

  async nextBatch(): Promise<PacketBatch | null> {
    const b = this.batch;
    b.count = 0;
    b.leftOut = 0;
    b.leftOutTailTs = -Infinity;
    this.batchWindow = NaN;
    for (;;) {
      if (this.stopped) return null;
      if (this.format === 'pcap') this.parsePcap(); else this.parsePcapng();
      if (b.count > 0 || b.leftOut > 0) { b.buf = this.buf; return b; }
      if (this.stopped) return null;
      // Not one whole record left in the buffer: get more bytes.
      if (this.eof) {
        if (this.pos < this.end) {
          this.skipped.bump('truncated_record');
          this.warn(`offset ${this.base + this.pos}: last record truncated (${this.end - this.pos} bytes left at end of file)`);
        }
        return null;
      }
      await this.fill(this.needed);
    }
  }

  async close(): Promise<void> {
    await this.input.close();
  }

  /** With per-window counters and a pre-filter: the window of this batch's records (NaN: none yet). */
  private batchWindow = NaN;

  /**
   * Whether record data [at, at+capLen) at time t is left out by the pre-filter (and counted in
   * the batch), or, returning -1, ends the batch because it belongs to another window. Only
   * called with a pre-filter set. Otherwise notes the left-out times before record `n`.
   */
  private leaveOut(at: number, capLen: number, wireLen: number, t: number, n: number): number {
    const b = this.batch, W = this.windowSize;
    if (W > 0) {
      const w = Math.floor(t / W) * W;
      if (w !== this.batchWindow) {
        if (this.batchWindow === this.batchWindow) return -1; // a window change: next batch
        this.batchWindow = w;
        b.leftOutWindow = w;
      }
    }
    if (!this.reject!(this.buf, at, capLen, wireLen, t)) return 0;
    b.leftOut++;
    if (t > b.leftOutTailTs) b.leftOutTailTs = t;
    return 1;
  }

  /** Bytes the parser needs at `pos` to make progress (a whole header or record). */
  private needed = 16;

  private warn(msg: string): void {
    if (this.warnings.length < 50) this.warnings.push(`${this.path}: ${msg}`);
  }

  private stop(reason: string, msg: string): void {
    this.skipped.bump(reason);
    this.warn(`${msg}; stopped reading this file`);
    this.stopped = true;
  }

  /** Moves unparsed bytes to the front and reads until at least `need` bytes are buffered. */
  private async fill(need: number): Promise<void> {
    if (this.pos > 0) {
      this.buf.copyWithin(0, this.pos, this.end);
      this.base += this.pos;
      this.end -= this.pos;
      this.pos = 0;
    }
    if (need > this.buf.length) {
      const nb = new Uint8Array(Math.max(need, this.buf.length * 2));
      nb.set(this.buf.subarray(0, this.end));
      this.buf = nb;
      this.view = new DataView(nb.buffer);
    }
    const input = this.input;
    while (this.end < need && !this.eof) {
      const room = this.buf.length - this.end;
      const n = input.readSync ? input.readSync(this.buf, this.end, room) : await input.read(this.buf, this.end, room);
      if (n === 0) this.eof = true;
      this.end += n;
    }
  }

  private parsePcap(): void {
    const b = this.batch, v = this.view, le = this.le, end = this.end, cap = b.capacity;
    const fracDiv = this.nano ? 1e9 : 1e6;
    const maxLen = Math.min(this.snapLen > MAX_RECORD ? this.snapLen : MAX_RECORD, MAX_RECORD_CAP);
    const linkType = this.linkType, base = this.base, inv = 1 / fracDiv;
    const dataOff = b.dataOff, capLens = b.capLen, wireLen = b.wireLen, ts = b.ts, linkTypes = b.linkType, iface = b.iface, fileOffset = b.fileOffset;
    // the pre-filter inline (leaveOut() when per-window counters need the window check)
    const reject = linkType === 1 ? this.reject : null, byWindow = this.windowSize > 0, leftOutTs = b.leftOutTs, buf = this.buf;
    let leftOut = b.leftOut, tail = b.leftOutTailTs;
    let pos = this.pos, n = b.count;
    while (n < cap) {
      if (end - pos < 16) { this.needed = 16; break; }
      const capLen = v.getUint32(pos + 8, le);
      if (capLen > maxLen) {
        this.pos = pos;
        this.stop('corrupt_record_header', `offset ${this.base + pos}: record caplen ${capLen} exceeds the largest possible (${maxLen})`);
        b.count = n; b.leftOut = leftOut; b.leftOutTailTs = tail;
        return;
      }
      if (end - pos < 16 + capLen) {
        if (this.pastEnd(pos, 16 + capLen, 'record')) { b.count = n; b.leftOut = leftOut; b.leftOutTailTs = tail; return; }
        this.needed = 16 + capLen;
        break;
      }
      const sec = v.getUint32(pos, le);
      const frac = v.getUint32(pos + 4, le);
      if (frac >= fracDiv) {
        this.skipped.bump('invalid_timestamp', () => `offset ${this.base + pos}`);
        if (this.skipped.counts.get('invalid_timestamp') === 1) {
          this.warn(`offset ${this.base + pos}: record timestamp fraction ${frac} is not below ${fracDiv}; record skipped`);
        }
        pos += 16 + capLen;
        continue;
      }
      const t0 = sec + frac * inv;
      const t = t0 < sec + 1 ? t0 : joinTimestamp(sec, frac / fracDiv);
      const wl = v.getUint32(pos + 12, le);
      if (reject !== null) {
        if (byWindow) {
          b.leftOut = leftOut; b.leftOutTailTs = tail;
          const r = this.leaveOut(pos + 16, capLen, wl, t, n);
          leftOut = b.leftOut; tail = b.leftOutTailTs;
          if (r < 0) break;
          if (r > 0) { pos += 16 + capLen; continue; }
        } else if (reject(buf, pos + 16, capLen, wl, t)) {
          leftOut++;
          if (t > tail) tail = t;
          pos += 16 + capLen;
          continue;
        }
        leftOutTs[n] = tail;
        tail = -Infinity;
      }
      dataOff[n] = pos + 16;
      capLens[n] = capLen;
      wireLen[n] = wl;
      ts[n] = t;
      linkTypes[n] = linkType;
      iface[n] = 0;
      fileOffset[n] = base + pos;
      n++;
      pos += 16 + capLen;
    }
    this.pos = pos;
    b.count = n; b.leftOut = leftOut; b.leftOutTailTs = tail;
  }

  private parsePcapng(): void {
    const b = this.batch, cap = b.capacity;
    let n = b.count;
    while (n < cap && !this.stopped) {
      const pos = this.pos;
      if (this.end - pos < 12) { this.needed = 12; break; }
      const v = this.view;
      let type = v.getUint32(pos, this.le);
      if (v.getUint32(pos, false) === 0x0a0d0d0a) type = 0x0a0d0d0a;
      if (type === 0x0a0d0d0a) {
        // The byte order of a new section is in its own header.
        const magic = v.getUint32(pos + 8, true);
        if (magic === 0x1a2b3c4d) this.le = true;
        else if (magic === 0x4d3c2b1a) this.le = false;
        else {
          this.fatalOrStop(pos, `section header byte-order magic 0x${magic.toString(16)} is neither 1a2b3c4d nor its swap`);
          break;
        }
      }
      const le = this.le;
      const len = v.getUint32(pos + 4, le);
      if (len < 12 || len % 4 !== 0 || len > MAX_BLOCK) {
        this.fatalOrStop(pos, `block length ${len} is invalid (must be a multiple of 4, 12..${MAX_BLOCK})`);
        break;
      }
      if (this.end - pos < len) {
        if (this.pastEnd(pos, len, 'block')) break;
        this.needed = len;
        break;
      }
      if (v.getUint32(pos + len - 4, le) !== len) {
        this.fatalOrStop(pos, `block total length ${len} differs from its trailer ${v.getUint32(pos + len - 4, le)}`);
        break;
      }
      const body = pos + 8, bodyEnd = pos + len - 4;
      switch (type) {
        case 0x0a0d0d0a: this.readShb(pos, body, bodyEnd); break;
        case 1: this.readIdb(pos, body, bodyEnd); break;
        case 6: case 2: case 3: {
          const r = this.readPacketBlock(type, pos, body, bodyEnd, n);
          if (r < 0) { b.count = n; return; } // the next window: leave the block for the next batch
          n += r;
          break;
        }
        default: break; // NRB, ISB, DSB, custom blocks: nothing a packet stream needs
      }
      if (!this.stopped) this.pos = pos + len;
    }
    b.count = n;
  }

  /**
   * A record or block of `len` bytes at buffer offset `pos` that would run past the end of a file
   * of known size: the last record is truncated, so stop here (as at end of file, but without
   * first growing the buffer to a size only the corrupt header vouches for). Streams (no size)
   * read on: their record sizes are bounded by the caps alone.
   */
  private pastEnd(pos: number, len: number, what: string): boolean {
    const size = this.input.size;
    const at = this.base + pos;
    if (size === undefined || at + len <= size) return false;
    this.pos = pos;
    this.stop('truncated_record', `offset ${at}: ${what} of ${len} bytes runs past the end of the file (${size} bytes)`);
    return true;
  }

  /** A broken first block means this is no pcapng file at all: that is fatal; later, stop. */
  private fatalOrStop(pos: number, msg: string): void {
    if (this.base + pos === 0) throw new IntstreamError('CAPTURE_HEADER', `${this.path}: offset 0: ${msg}`);
    this.stop('corrupt_block', `offset ${this.base + pos}: ${msg}`);
  }

  private readShb(pos: number, body: number, bodyEnd: number): void {
    const v = this.view, le = this.le;
    if (bodyEnd - body < 16) { this.fatalOrStop(pos, 'section header block too short'); return; }
    const major = v.getUint16(body + 4, le), minor = v.getUint16(body + 6, le);
    if (major !== 1) {
      this.fatalOrStop(pos, `unsupported pcapng version ${major}.${minor} (expected 1.x)`);
      return;
    }
    if (!this.optionsValid(body + 16, bodyEnd)) {
      this.fatalOrStop(pos, 'section header option runs past the end of its block');
      return;
    }
    this.ifaceBase += this.ifaces.length;
    this.ifaces = [];
    this.sectionTs = NaN;
  }

  private optionsValid(off: number, end: number): boolean {
    const v = this.view, le = this.le;
    while (off + 4 <= end) {
      const code = v.getUint16(off, le), olen = v.getUint16(off + 2, le);
      if (code === 0) return true;
      off += 4 + ((olen + 3) & ~3);
      if (off > end) return false;
    }
    return true;
  }

  private readIdb(pos: number, body: number, bodyEnd: number): void {
    const v = this.view, le = this.le;
    if (bodyEnd - body < 8) { this.fatalOrStop(pos, 'interface description block too short'); return; }
    const iface: CaptureInterface = { linkType: v.getUint16(body, le), snapLen: v.getUint32(body + 4, le), unitsPerSec: 1e6, tsOffsetSec: 0 };
    let off = body + 8;
    while (off + 4 <= bodyEnd) {
      const code = v.getUint16(off, le), olen = v.getUint16(off + 2, le);
      if (code === 0) break;
      if (off + 4 + olen > bodyEnd) { this.fatalOrStop(pos, 'interface option runs past the end of its block'); return; }
      if (code === 9 && olen >= 1) {
        const r = this.buf[off + 4];
        // if_tsresol: MSB clear = negative power of 10, set = negative power of 2.
        iface.unitsPerSec = r & 0x80 ? 2 ** (r & 0x7f) : 10 ** r;
      } else if (code === 14 && olen >= 8) {
        iface.tsOffsetSec = Number(v.getBigInt64(off + 4, le));
      }
      off += 4 + ((olen + 3) & ~3);
    }
    this.ifaces.push(iface);
  }

  /**
   * The time of a Simple Packet Block, which carries none: the time of the last timed block
   * (EPB, OPB) before it in its section, else 0. Time 0 would put the packet into a 1970 window,
   * or count it as late behind the packets around it; the previous packet's time keeps it in
   * the stream's order (and in the window it was most likely captured in). Both cases are
   * counted in the source's `counters` (--stats): `spb_time_inherited` and `spb_time_none`; the
   * first SPB left at time 0 is also a warning.
   */
  private spbTime(): number {
    return this.sectionTs === this.sectionTs ? this.sectionTs : 0;
  }

  /** Counts a Simple Packet Block taken (once: a block that starts the next batch is read again). */
  private countSpb(pos: number): void {
    this.spbSeen = true;
    if (this.sectionTs === this.sectionTs) { this.spbInherited++; return; }
    this.spbNoTime++;
    if (this.spbNoTime === 1) {
      this.warn(`offset ${this.base + pos}: Simple Packet Block (no timestamp) before any timed packet of its section; given time 0`);
    }
  }

  /** 1: the packet is record n of the batch; 0: skipped or left out; -1: it starts the next batch. */
  private readPacketBlock(type: number, pos: number, body: number, bodyEnd: number, n: number): number {
    const v = this.view, le = this.le, b = this.batch;
    let ifId = 0, hi = 0, lo = 0, capLen: number, wireLen: number, data: number;
    if (type === 3) {
      // (a 12-byte block has no room for the original length: its "body" would be the trailer)
      if (bodyEnd - body < 4) { this.skipped.bump('corrupt_block'); this.warn(`offset ${this.base + pos}: simple packet block too short`); return 0; }
      wireLen = v.getUint32(body, le);
      data = body + 4;
      const iface0 = this.ifaces[0];
      capLen = Math.min(wireLen, bodyEnd - data, iface0 && iface0.snapLen > 0 ? iface0.snapLen : Infinity);
    } else {
      if (bodyEnd - body < 20) { this.skipped.bump('corrupt_block'); this.warn(`offset ${this.base + pos}: packet block too short`); return 0; }
      ifId = type === 6 ? v.getUint32(body, le) : v.getUint16(body, le);
      hi = v.getUint32(body + 4, le);
      lo = v.getUint32(body + 8, le);
      capLen = v.getUint32(body + 12, le);
      wireLen = v.getUint32(body + 16, le);
      data = body + 20;
      if (data + capLen > bodyEnd) {
        this.skipped.bump('corrupt_block');
        this.warn(`offset ${this.base + pos}: packet caplen ${capLen} runs past the end of its block; packet skipped`);
        return 0;
      }
    }
    const iface = this.ifaces[ifId];
    if (!iface) {
      this.skipped.bump('unknown_interface');
      this.warn(`offset ${this.base + pos}: packet names interface ${ifId}, but the section declares ${this.ifaces.length}; packet skipped`);
      return 0;
    }
    let t: number;
    if (type !== 3) {
      t = unitsToSeconds(hi, lo, iface.unitsPerSec, iface.tsOffsetSec);
      this.sectionTs = t;
    } else t = this.spbTime();
    if (this.reject !== null) {
      if (iface.linkType === 1) {
        const r = this.leaveOut(data, capLen, wireLen, t, n);
        if (r < 0) return -1;
        if (r > 0) { if (type === 3) this.countSpb(pos); return 0; }
      }
      // every kept record, whatever its interface, carries the times left out before it
      b.leftOutTs[n] = b.leftOutTailTs;
      b.leftOutTailTs = -Infinity;
    }
    if (type === 3) this.countSpb(pos);
    b.dataOff[n] = data;
    b.capLen[n] = capLen;
    b.wireLen[n] = wireLen;
    b.ts[n] = t;
    b.linkType[n] = iface.linkType;
    b.iface[n] = this.ifaceBase + ifId;
    b.fileOffset[n] = this.base + pos;
    return 1;
  }
}

/**
 * (hi * 2^32 + lo) / unitsPerSec + offsetSec as seconds, exact in the whole seconds: the 64-bit
 * count does not fit a double, so split it (a mod m computed in pieces that stay below 2^53).
 * The offset joins the whole seconds before the fraction is added, so that the sum cannot
 * round up into the next second either.
 */
export function unitsToSeconds(hi: number, lo: number, unitsPerSec: number, offsetSec = 0): number {
  if (hi === 0) {
    const s = Math.floor(lo / unitsPerSec);
    return joinTimestamp(s + offsetSec, (lo - s * unitsPerSec) / unitsPerSec);
  }
  const m = unitsPerSec;
  const approx = (hi * 4294967296 + lo) / m;
  if (m >= 2147483648 || !(approx < 2 ** 50)) {
    // Beyond what the double arithmetic below keeps exact: resolutions finer than 2^-31 s, or
    // 2^50 s and more, where the rounding of the 64-bit count and of the quotient (each up to
    // 2^-3 s there, twice that from 2^51 s) could move the rounded second by one.
    const units = (BigInt(hi) << 32n) | BigInt(lo);
    const big = BigInt(m);
    return joinTimestamp(Number(units / big) + offsetSec, Number(units % big) / m);
  }
  const two32 = 4294967296 % m;
  const rem = (mulMod(hi % m, two32, m) + (lo % m)) % m;
  const sec = Math.round(approx - rem / m);
  return joinTimestamp(sec + offsetSec, rem / m);
}

/** a * b mod m for a, b < m < 2^31, exact with doubles. */
function mulMod(a: number, b: number, m: number): number {
  const bHi = Math.floor(b / 32768), bLo = b % 32768;
  return (((a * bHi) % m) * 32768 + a * bLo) % m;
}
