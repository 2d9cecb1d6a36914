/** --transport specs: `memory` (in-process, default) or `kafka://HOST:PORT`. */
import { IntstreamError } from '../errors.ts';
import { MemoryTransport } from './memory-transport.ts';
import type { Transport } from './transport.ts';

export type TransportFactory = (sources: number, taskName: string) => Promise<Transport>;

const schemes = new Map<string, (rest: string) => TransportFactory>();

export function registerTransport(scheme: string, make: (rest: string) => TransportFactory): void {
  schemes.set(scheme, make);
}

// Kafka's client is loaded only when a run asks for it (start-up time of every other command).
registerTransport('kafka', (rest) => async (sources, taskName) => {
  const { openKafkaRunTransport } = await import('./kafka-transport.ts');
  return openKafkaRunTransport(rest, taskName, sources);
});

export function transportFor(spec: string): TransportFactory | undefined {
  if (spec === 'memory' || spec === '') return async (sources) => new MemoryTransport(sources);
  const m = /^([a-z]+):\/\/(.+)$/.exec(spec);
  const make = m ? schemes.get(m[1]) : undefined;
  if (!m || !make) {
    throw new IntstreamError('USAGE', `--transport ${spec}: unknown transport`, `use memory${[...schemes.keys()].map((s) => ` or ${s}://HOST:PORT`).join('')}`);
  }
  return make(m[2]);
}
