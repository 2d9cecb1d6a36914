/**
 * --source specs (docs/contracts.md): `pcap:PATH` (pcap or pcapng by magic number; `pcap:-`
 * or `-` is standard input). Other drivers register here as they are added.
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { IntstreamError } from '../errors.ts';
import { openFileInput, streamInput } from './byte-input.ts';
import { CaptureFileSource } from './capture-file-source.ts';
import type { PacketSource } from './source.ts';

// The other drivers load when a spec names them: a file run does not pay for sockets, TLS, HTTP.
const openIntUdpSource: SourceFactory = async (spec, rest) => (await import('./int-udp-source.ts')).openIntUdpSource(spec, rest);
const openSflowSource: SourceFactory = async (spec, rest) => (await import('./flow-source.ts')).openSflowSource(spec, rest);
const openNetflowSource: SourceFactory = async (spec, rest) => (await import('./flow-source.ts')).openNetflowSource(spec, rest);
const openLiveSource: SourceFactory = async (spec, rest) => (await import('./live-source.ts')).openLiveSource(spec, rest);
const openErspanSource: SourceFactory = async (spec, rest) => (await import('./live-source.ts')).openErspanSource(spec, rest);
const openStenoSource: SourceFactory = async (spec, rest) => (await import('./steno-source.ts')).openStenoSource(spec, rest);
const openKafkaSource: SourceFactory = async (spec, rest) => (await import('./kafka-source.ts')).openKafkaSource(spec, rest);

export type SourceFactory = (spec: string, rest: string) => Promise<PacketSource>;

const drivers = new Map<string, { make: SourceFactory; help: string }>();

export function registerSource(scheme: string, help: string, make: SourceFactory): void {
  drivers.set(scheme, { make, help });
}

/** The sample capture shipped with intstream (samples/demo.pcap), for `pcap:sample`. */
export const SAMPLE_CAPTURE = fileURLToPath(new URL('../../samples/demo.pcap', import.meta.url));

registerSource('pcap', 'pcap:PATH  a pcap or pcapng file (PATH "-" reads standard input; "sample" the bundled sample capture unless ./sample exists)', async (spec, rest) => {
  if (rest === '-') return new CaptureFileSource(spec, 'stdin', streamInput(process.stdin));
  const path = rest === 'sample' && !existsSync(rest) ? SAMPLE_CAPTURE : rest;
  return new CaptureFileSource(spec, path, await openFileInput(path));
});

registerSource('int', 'int:udp://HOST:PORT  INT Telemetry Reports over UDP (?idle=S&max=N&lenient=1)', openIntUdpSource);

registerSource('sflow', 'sflow:udp://HOST:PORT  sFlow v5: sampled headers as packets (sample.rate), counters as records (?idle=S&max=N)', openSflowSource);
registerSource('netflow', 'netflow:udp://HOST:PORT  NetFlow v5/v9, IPFIX flow records, event time flow.end (?idle=S&max=N&lateness=S)', openNetflowSource);

registerSource('live', 'live:IFACE  capture from a network interface (tcpdump/libpcap; kernel BPF from the task filter) (?snaplen=N&promisc=0|1&buffer=KiB&time=packet|processing)', openLiveSource);
registerSource('erspan', 'erspan:IFACE  ERSPAN II/III and GRE mirrored traffic arriving on IFACE, decoded to the inner packets (options as live:)', openErspanSource);
registerSource('gre', 'gre:IFACE  the same as erspan:IFACE', openErspanSource);
registerSource('steno', 'steno:https://HOST:PORT?query=Q&since=T&until=T&cert=F&key=F&ca=F  packets from a Stenographer server', openStenoSource);
registerSource('kafka', 'kafka://HOST:PORT/TOPIC  per-packet records written by intstream export (?group=G&from=earliest|latest|OFFSET|TIME&idle=S&lateness=S)', openKafkaSource);

/** Known source types that this build does not provide yet, so the error can say so. */
const PLANNED = ['live', 'int', 'sflow', 'netflow', 'steno', 'erspan'];

export function sourceHelp(): string[] {
  return [...drivers.values()].map((d) => d.help);
}

export async function openSourceSpec(spec: string): Promise<PacketSource> {
  if (spec === '-') spec = 'pcap:-';
  const colon = spec.indexOf(':');
  const scheme = colon > 0 ? spec.slice(0, colon) : '';
  const d = drivers.get(scheme);
  if (!d) {
    if (PLANNED.includes(scheme) && !drivers.has(scheme)) {
      throw new IntstreamError('SOURCE_SPEC', `--source ${spec}: the '${scheme}' driver is not available in this build`, `available: ${[...drivers.keys()].join(', ')}`);
    }
    // the usual slip: a bare capture path
    if (scheme === '' || /[\\/.]/.test(scheme) || existsSync(spec)) {
      throw new IntstreamError('SOURCE_SPEC', `--source ${spec}: a source names its type`, `for a capture file: --source pcap:${spec}; types: ${[...drivers.keys()].join(', ')} (see intstream run --help)`);
    }
    throw new IntstreamError('SOURCE_SPEC', `--source ${spec}: unknown source type '${scheme}'`, `types: ${[...drivers.keys()].join(', ')} (see intstream run --help)`);
  }
  const src = await d.make(spec, spec.slice(colon + 1));
  return src;
}
