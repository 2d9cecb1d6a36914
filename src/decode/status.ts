/**
 * Decoding outcome of one packet. A packet that is not `OK` still flows on with the layers that
 * did decode (truncation is a flag, not an exception); the decoder counts it by `reason`.
 */
export const OK = 0;
export const TRUNCATED = 1;
export const MALFORMED = 2;
export const UNSUPPORTED = 3;

export type DecodeStatus = typeof OK | typeof TRUNCATED | typeof MALFORMED | typeof UNSUPPORTED;

export const STATUS_NAMES = ['ok', 'truncated', 'malformed', 'unsupported'] as const;
