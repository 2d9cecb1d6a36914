// Flow-export decoders: sFlow v5 (`sflow:udp://HOST:PORT`) and NetFlow v5 / v9 / IPFIX
// (`netflow:udp://HOST:PORT`, one decoder for the three versions). Pure library: the caller
// owns the sockets and passes each datagram with the exporter's "address:port".

import type { FlowDecoder } from './common.ts';
import { NetflowDecoder, type NetflowDecoderOptions } from './netflow.ts';
import { SflowDecoder, type SflowDecoderOptions } from './sflow.ts';

export * from './common.ts';
export { NetflowDecoder, type NetflowCounters, type NetflowDecoderOptions } from './netflow.ts';
export { SflowDecoder, type SflowDecoderOptions } from './sflow.ts';

export type FlowProtocol = 'sflow' | 'netflow';

/** A decoder for the protocol of a source URI scheme (`sflow:` / `netflow:`). */
export function createFlowDecoder(protocol: FlowProtocol, opts: NetflowDecoderOptions & SflowDecoderOptions = {}): FlowDecoder {
  return protocol === 'sflow' ? new SflowDecoder(opts) : new NetflowDecoder(opts);
}
