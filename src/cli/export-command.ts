/**
 * `intstream export --source SPEC --to kafka://HOST:PORT/TOPIC [--filter EXPR] [--batch N]`:
 * per-packet records (docs/per-packet-records.md) as Apache Arrow IPC batches on a Kafka topic.
 */
import { writeFile } from 'node:fs/promises';
import { Command, Option } from 'commander';
import { IntstreamError } from '../errors.ts';
import type { ExportStats } from '../export/exporter.ts';
import { sourceHelp } from '../sources/source-spec.ts';
import { n, rate } from './format.ts';

function collectRepeat(v: string, prev: string[]): string[] {
  return [...prev, v];
}

function wholeNumber(option: string, v: string): number {
  const x = Number(v);
  if (v.trim() === '' || !Number.isInteger(x) || x < 0) throw new IntstreamError('USAGE', `${option} ${v}: expected a whole number`);
  return x;
}

function bytesText(b: number): string {
  if (b >= 1e9) return `${(b / 1e9).toFixed(2)} GB`;
  if (b >= 1e6) return `${(b / 1e6).toFixed(2)} MB`;
  if (b >= 1e3) return `${(b / 1e3).toFixed(1)} kB`;
  return `${b} B`;
}

export function exportSummary(s: ExportStats): string {
  const malformed = Object.values(s.malformed).reduce((a, b) => a + b, 0);
  const skipped = Object.values(s.skipped).reduce((a, b) => a + b, 0);
  return 'export: ' + [
    `${n(s.packets_read)} packets read`,
    `${n(malformed)} malformed${malformed ? ` (${Object.entries(s.malformed).slice(0, 4).map(([k, v]) => `${k} ${n(v)}`).join(', ')})` : ''}`,
    skipped ? `${n(skipped)} skipped (${Object.entries(s.skipped).slice(0, 4).map(([k, v]) => `${k} ${n(v)}`).join(', ')})` : '',
    `${n(s.exported)} exported${s.filter ? ` (filter: ${s.filter})` : ''}`,
    `${n(s.records)} Kafka records`,
    `${bytesText(s.bytes)} (${s.bytes_per_packet.toFixed(1)} B/packet)`,
    `${s.elapsed_s.toFixed(2)} s`,
    `${rate(s.packets_per_s)}packets/s`,
    `→ ${s.to}`,
  ].filter(Boolean).join(' · ');
}

export function exportCommand(): Command {
  return new Command('export')
    .description('per-packet records (time, lengths, addresses, ports, flags, TTL, DSCP, VLAN, tunnel, INT hops) as Apache Arrow batches on a Kafka topic')
    .option('-s, --source <spec>', 'where packets come from (repeatable: source i gets source_id N+i)', collectRepeat, [])
    .requiredOption('--to <kafka://HOST:PORT/TOPIC>', 'the Kafka topic to write (created with --partitions if missing)')
    .option('--filter <expr>', 'export only packets this declarative filter keeps (the task filter language), e.g. "tcp.syn and not tcp.ack_flag"')
    .option('--batch <n>', 'packets per Kafka record (one Arrow record batch)', '8192')
    .option('--max-bytes <n>', 'most bytes per Kafka record: a batch is sent early rather than pass it (keep it below the topic\'s max.message.bytes)', '900000')
    .option('--source-id <n>', 'the source_id column of the first source', '0')
    .option('-p, --param <k=v>', 'INT decoding of capture sources: int_port=N, int_dscp=N, int_md_port=N, int_lenient=true (repeatable)', collectRepeat, [])
    .addOption(new Option('--compression <codec>', 'Kafka batch compression').choices(['none', 'gzip', 'snappy', 'lz4', 'zstd']).default('none'))
    .option('--partitions <n>', 'partitions of the topic when export creates it', '1')
    .option('--linger <ms>', 'send a partial batch once it has waited this long (live sources)', '1000')
    .option('--stats <file>', 'write the counters as JSON to FILE')
    .option('-q, --quiet', 'no progress line and no closing summary on stderr')
    .addHelpText('after', `
Sources:
  ${sourceHelp().join('\n  ')}

The record format (Arrow schema version 1) is in docs/per-packet-records.md. Read it back with
--source kafka://HOST:PORT/TOPIC in any task, or with any Arrow reader (pyarrow.ipc.open_stream
on each Kafka record's value).

Examples:
  $ intstream export --source pcap:samples/demo.pcap --to kafka://127.0.0.1:9092/packets
  $ intstream export -s live:eth0 --to kafka://127.0.0.1:9092/syns --filter 'tcp.syn and not tcp.ack_flag'
  $ intstream run tcp-new-conn --source 'kafka://127.0.0.1:9092/packets?from=earliest&idle=2'`)
    .action(async (o: Record<string, any>) => {
      const sources = o.source as string[];
      if (sources.length === 0) throw new IntstreamError('USAGE', 'no --source given', 'e.g. intstream export --source pcap:samples/demo.pcap --to kafka://127.0.0.1:9092/packets');
      if (sources.filter((x) => x === '-' || x === 'pcap:-').length > 1) throw new IntstreamError('USAGE', 'standard input given as a source more than once');
      const params: Record<string, string> = {};
      for (const kv of o.param as string[]) {
        const eq = kv.indexOf('=');
        if (eq <= 0) throw new IntstreamError('USAGE', `--param ${kv}: expected k=v`);
        params[kv.slice(0, eq)] = kv.slice(eq + 1);
      }
      const batch = wholeNumber('--batch', o.batch);
      const partitions = wholeNumber('--partitions', o.partitions);
      if (partitions < 1) throw new IntstreamError('USAGE', '--partitions: at least 1');
      const showProgress = !o.quiet && process.stderr.isTTY;
      // loaded here: other commands do not pay for apache-arrow and the Kafka client
      const { runExport } = await import('../export/exporter.ts');
      let stats: ExportStats;
      try {
        stats = await runExport({
          sources, to: o.to, filter: o.filter, batch, maxBytes: wholeNumber('--max-bytes', o.maxBytes), sourceId: wholeNumber('--source-id', o.sourceId), params,
          compression: o.compression, partitions, lingerMs: wholeNumber('--linger', o.linger),
          onProgress: showProgress ? (p) => {
            const pct = p.total ? ` ${((100 * p.read) / p.total).toFixed(0)}%` : '';
            process.stderr.write(`\r${n(p.packets)} packets  ${n(p.exported)} exported  ${n(p.records)} records  ${bytesText(p.bytes)}  ${rate(p.packets / (p.elapsedMs / 1000))}pkt/s${pct}   `);
          } : undefined,
        });
      } finally {
        if (showProgress) process.stderr.write('\r\x1b[K');
      }
      for (const w of stats.warnings) process.stderr.write(`intstream: warning: ${w}\n`);
      if (o.stats) await writeFile(o.stats, JSON.stringify(stats, null, 2) + '\n');
      if (!o.quiet) process.stderr.write(exportSummary(stats) + '\n');
      if (stats.failures.length > 0) throw new IntstreamError('CAPTURE_IO', stats.failures.join('; '), 'the records above cover the input up to that point');
    });
}
