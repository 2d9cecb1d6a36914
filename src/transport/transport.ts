/**
 * What crosses the cut between stages. A local stage sends, after each batch it processed,
 * the elements that left it (with their event times and keys) and its watermark: the promise
 * that it will send no element with an earlier time. `end` marks its last message.
 *
 * A transport delivers each source's messages in order; it need not order sources among
 * themselves (the global processor merges them by event time). Implementations: in-process
 * (memory-transport.ts) and Apache Kafka.
 */
export interface StageMessage {
  /** Index of the local stage (the --source) that sent it. */
  source: number;
  items: unknown[];
  times: number[];
  keys: unknown[];
  watermark: number;
  end: boolean;
}

export interface Transport {
  /** Resolves once the message is accepted; waits while the transport is full (backpressure). */
  send(msg: StageMessage): Promise<void>;
  /** Messages from all local stages; ends after every stage's `end` message. */
  receive(): AsyncIterable<StageMessage>;
  close(): Promise<void>;
}
