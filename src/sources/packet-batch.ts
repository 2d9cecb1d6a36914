import type { FlowRecordView } from '../decode/flow-record.ts';

/**
 * The unit of work between a packet source and the decoder: one byte buffer holding many
 * records, and typed arrays describing each record. A batch and its buffer are reused: they stay
 * valid until the source's next `nextBatch()` call.
 */
export class PacketBatch {
  /** Bytes of the records; `dataOff[i]` indexes into it. */
  buf: Uint8Array = new Uint8Array(0);
  count = 0;
  readonly capacity: number;
  /** Offset of record i's packet bytes in `buf`. */
  readonly dataOff: Int32Array;
  /** Captured length (bytes present in `buf`). */
  readonly capLen: Int32Array;
  /** Length on the wire (may exceed capLen when the capture was snaplen-truncated). */
  readonly wireLen: Int32Array;
  /** Timestamp, seconds since the Unix epoch (never rounded up into the next second). */
  readonly ts: Float64Array;
  /** LINKTYPE_* of the record's interface. */
  readonly linkType: Int32Array;
  /** Interface index within the source (pcapng), 0 otherwise. */
  readonly iface: Int32Array;
  /** Byte offset of the record in the file or stream, for error messages. */
  readonly fileOffset: Float64Array;
  /**
   * Record items (flow-record.ts: NetFlow/IPFIX flows, sFlow counters) by index, null where
   * record i is a packet in `buf`. Null for sources that only yield packets (capture files).
   */
  items: (FlowRecordView | null)[] | null = null;
  /** Per-record 1-in-N sampling interval (sFlow), copied to `Packet.sampleRate`; null: all 1. */
  sampleRate: Float64Array | null = null;
  /**
   * Event time (s) a live source has reached without delivering items (an idle heartbeat,
   * flow-source.ts): the local stage treats it like an item's time, so windows close while the
   * exporters are silent. -Infinity when not used.
   */
  clock = -Infinity;
  /**
   * Records the source read and left out of the batch because the task's pushed-down filter
   * surely rejects them (the raw pre-filter, SourceSetup.reject): they count as read,
   * never as passed. With per-window counters on, a batch that left records out lies in one
   * window, `leftOutWindow` (its start, s).
   */
  leftOut = 0;
  leftOutWindow = 0;
  /** Per record i: the latest time among the records left out just before it (-Infinity: none). */
  readonly leftOutTs: Float64Array;
  /** The latest time among the records left out after the batch's last record. */
  leftOutTailTs = -Infinity;

  constructor(capacity = 2048) {
    this.capacity = capacity;
    this.dataOff = new Int32Array(capacity);
    this.capLen = new Int32Array(capacity);
    this.wireLen = new Int32Array(capacity);
    this.ts = new Float64Array(capacity);
    this.linkType = new Int32Array(capacity);
    this.iface = new Int32Array(capacity);
    this.fileOffset = new Float64Array(capacity);
    this.leftOutTs = new Float64Array(capacity);
  }
}

/** seconds + fraction as one double, rounded down when the sum would round up to sec + 1. */
export function joinTimestamp(sec: number, frac: number): number {
  const t = sec + frac;
  if (t < sec + 1) return t;
  // Step back to the largest representable value below sec + 1. From 2^53 s on (a pcapng
  // if_tsoffset can get there) doubles are 2 s or more apart and none lies in (sec, sec + 1):
  // then sec itself, never a double below the second.
  const next = sec + 1;
  const below = next - ulp(next);
  return below >= sec ? below : sec;
}

/** The spacing of doubles just below x (x > 0): half the usual where x is a power of two. */
function ulp(x: number): number {
  if (x === 0) return Number.MIN_VALUE; // (sec = -1: the largest double below 0 is -MIN_VALUE)
  const e = Math.floor(Math.log2(Math.abs(x)));
  const p = Math.pow(2, e);
  return x === p ? Math.pow(2, e - 53) : Math.pow(2, e - 52);
}
