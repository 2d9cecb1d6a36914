import type { PacketBatch } from './packet-batch.ts';
import type { SkipCounters } from '../decode/skip-counters.ts';
import type { IntDecodeOptions } from '../decode/int-view.ts';
import type { FilterAst, RawReject } from '../query/filter-expr.ts';
import type { KernelStats } from './capture-process.ts';

/** What a run tells a source before open(): live sources install the filter in the kernel. */
export interface SourceSetup {
  /** The task's pushed-down declarative filter (the user-space one still runs after the source). */
  pushdown: FilterAst | null;
  /** --time: window by the packet's timestamp or by when the local stage read it. */
  time?: 'packet' | 'processing';
}

/**
 * A source of packets: a capture file, a live interface, a UDP listener. Yields batches; a
 * returned batch stays valid until the next call to `nextBatch()`.
 */
export interface PacketSource {
  /** The --source spec it was made from, for messages and stats. */
  readonly name: string;
  open(): Promise<void>;
  /** The next batch, or null at end of input. */
  nextBatch(): Promise<PacketBatch | null>;
  /** Records skipped before decoding (corrupt record headers, bad timestamps), by reason. */
  readonly skipped: SkipCounters;
  /** Bytes consumed so far and the total when known, for progress lines. */
  progress(): { bytes: number; total: number | undefined };
  /** Non-fatal problems worth one line each on stderr (first occurrence of each reason). */
  readonly warnings: string[];
  /** Decoding this source's records needs (INT report port, ...); absent for plain captures. */
  readonly decodeOptions?: IntDecodeOptions;
  /**
   * 'records' when batches may carry record items (`PacketBatch.items`: flow records, sFlow
   * counters) besides packets: the local stage then reads filters and keys through the field
   * getters instead of Packet internals. Absent or 'packets': packets only.
   */
  readonly itemKind?: 'packets' | 'records';
  /** Event-time lateness (s) this source needs when the run does not set one (--lateness). */
  readonly defaultLateness?: number;
  /** Source-specific counters for --stats (datagrams received, templates, ...). */
  sourceCounters?(): Record<string, number>;
  /** Called once before open() by a run (live capture: kernel BPF filter, time domain). */
  configure?(setup: SourceSetup): void;
  /**
   * Leave out the records `reject` says the pushed-down filter surely rejects, before they are
   * put into a batch (PacketBatch.leftOut); with windowSize > 0 a batch that left records out
   * stays within one window of that size (per-window counters). Capture files only.
   */
  setPrefilter?(reject: RawReject, windowSize: number): void;
  /** libpcap's kernel counters (received by filter, dropped) for --stats; live capture only. */
  kernelStats?(): KernelStats | null;
  /**
   * Why the source ended by itself before its input was complete (a capture process that
   * died), once it has ended; null otherwise. The run still flushes its windows, then fails.
   */
  failure?(): string | null;
  close(): Promise<void>;
}
