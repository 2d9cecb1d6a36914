/**
 * The closed list of error codes for failures of a whole run (bad file header, invalid task,
 * unreachable broker). Bad packets are never errors: they are counted by reason (see
 * decode/status.ts). Callers match on `code`, never on the message.
 */
export type ErrorCode =
  | 'USAGE' // bad command line
  | 'TASK_INVALID' // a query file that does not load or validate
  | 'TASK_NOT_FOUND'
  | 'TASK_FAILED' // the task's own code threw while running
  | 'FILTER_SYNTAX' // a declarative filter that does not parse
  | 'SOURCE_SPEC' // a --source that does not parse
  | 'CAPTURE_HEADER' // a capture file whose header is not pcap/pcapng or is corrupt
  | 'CAPTURE_IO' // the file cannot be read
  | 'TRANSPORT' // the transport between stages failed
  | 'KAFKA_UNREACHABLE'
  | 'KAFKA_AUTH' // the TLS handshake or the SASL authentication with a Kafka broker failed
  | 'SINK' // an output sink (InfluxDB, Prometheus, Kafka) cannot take results
  | 'UNSUPPORTED' // this Node.js lacks what the command needs
  | 'INTERNAL';

/** Exit status for each code: 2 for the user's input, 1 for a runtime failure (docs/contracts.md). */
export function exitCodeFor(code: ErrorCode): number {
  return code === 'USAGE' || code === 'TASK_INVALID' || code === 'TASK_NOT_FOUND' ||
    code === 'FILTER_SYNTAX' || code === 'SOURCE_SPEC'
    ? 2
    : 1;
}

export class IntstreamError extends Error {
  readonly code: ErrorCode;
  /** What the user can do about it, printed after the message. */
  readonly hint: string | undefined;
  constructor(code: ErrorCode, message: string, hint?: string) {
    super(message);
    this.name = 'IntstreamError';
    this.code = code;
    this.hint = hint;
  }
}
