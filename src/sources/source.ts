import type { PacketBatch } from './packet-batch.ts';
import type { SkipCounters } from '../decode/skip-counters.ts';
import type { IntDecodeOptions } from '../decode/int-view.ts';
import type { FilterAst, RawReject } from '../query/filter-expr.ts';
import type { KernelStats } from './capture-process.ts';

/**
 * What a source is and can do, fixed when it is made. The local stage (local/local-stage.ts)
 * reads these instead of probing optional methods, so a new source states everything a caller
 * must know in one place and a caller cannot forget one.
 */
export interface SourceTraits {
  /**
   * 'records' when batches may carry record items (`PacketBatch.items`: flow records, sFlow
   * counters, per-packet records) besides packets: the local stage then reads filters and keys
   * through the field getters instead of Packet internals. 'packets': packets only.
   */
  readonly items: 'packets' | 'records';
  /** Event-time lateness (s) this source needs when the run does not set one (--lateness). */
  readonly lateness: number;
  /** Decoding this source's packets needs (INT report port, ...); null for plain captures. */
  readonly decode: IntDecodeOptions | null;
  /**
   * Where the task's pushed-down filter can also run inside the source, before the local stage:
   * 'kernel' (compiled to BPF and installed by libpcap: live capture), 'parser' (the raw
   * pre-filter while records are framed: capture files), or 'none'. The local stage's own
   * filter runs in every case; this only spares it the records surely rejected.
   */
  readonly pushdown: 'kernel' | 'parser' | 'none';
}

/** What the local stage tells a source when it opens it. */
export interface SourceSetup {
  /** The task's pushed-down declarative filter (pushdown 'kernel': installed as BPF). */
  pushdown?: FilterAst | null;
  /** --time: window by the packet's timestamp or by when the local stage read it (live sources). */
  time?: 'packet' | 'processing';
  /**
   * pushdown 'parser': leave out the records `reject` says the filter surely rejects, before they
   * are put into a batch (PacketBatch.leftOut); with `windowSize` > 0 a batch that left records
   * out stays within one window of that size (the local stage's per-window counters).
   */
  reject?: RawReject | null;
  windowSize?: number;
}

/** A source's state for progress lines and --stats; cheap enough to ask every 200 ms. */
export interface SourceStatus {
  /** Bytes consumed so far and the total when known. */
  bytes: number;
  total: number | undefined;
  /** Source-specific counters (datagrams received, templates, ...); null when it has none. */
  counters: Record<string, number> | null;
  /** libpcap's kernel counters (received by filter, dropped); null unless capturing live. */
  kernel: KernelStats | null;
  /**
   * Why the source ended by itself before its input was complete (a capture process that died),
   * once it has ended; null otherwise. The run still flushes its windows, then fails.
   */
  failure: string | null;
}

/**
 * A source of packets: a capture file, a live interface, a UDP listener, a Kafka topic. Yields
 * batches; a returned batch stays valid until the next call to `nextBatch()`. Every member is
 * required: what differs between sources is declared in `traits` and reported in `status()`.
 */
export interface PacketSource {
  /** The --source spec it was made from, for messages and stats. */
  readonly name: string;
  readonly traits: SourceTraits;
  /** Records skipped before decoding (corrupt record headers, bad timestamps), by reason. */
  readonly skipped: SkipCounters;
  /** Non-fatal problems worth one line each on stderr (first occurrence of each reason). */
  readonly warnings: string[];
  /** Opens the input; `setup` carries what the local stage pushes down (see SourceTraits). */
  open(setup?: SourceSetup): Promise<void>;
  /** The next batch, or null at end of input. */
  nextBatch(): Promise<PacketBatch | null>;
  status(): SourceStatus;
  close(): Promise<void>;
}

/** The traits of a plain packet source with nothing to declare (a capture file sets pushdown 'parser'). */
export const PACKET_TRAITS: SourceTraits = { items: 'packets', lateness: 0, decode: null, pushdown: 'none' };
