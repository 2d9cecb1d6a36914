/**
 * `intstream int-gen`: spec-conformant INT Telemetry Reports (TR v0.5 / v1.0 / v2.0 with INT
 * v0.5 / v1.0 / v2.x INT-MD) to a pcap file or to UDP at a rate, from src/gen/int-gen.ts.
 */
import { writeFileSync } from 'node:fs';
import { createSocket } from 'node:dgram';
import { Command, Option } from 'commander';
import { IntstreamError } from '../errors.ts';
import type { TrVersion } from '../gen/int-gen.ts';

function num(name: string, v: string, min: number, max = Number.MAX_SAFE_INTEGER): number {
  const n = Number(v);
  if (v.trim() === '' || !Number.isFinite(n) || n < min || n > max) throw new IntstreamError('USAGE', `--${name} ${v}: expected a number from ${min} to ${max}`);
  return n;
}

export function intGenCommand(): Command {
  return new Command('int-gen')
    .description('write spec-conformant INT telemetry reports to a pcap file or send them over UDP at a rate')
    .addOption(new Option('--report-version <v>', 'Telemetry Report version (INT version paired: 0.5, 1.0, 2.x)').choices(['0.5', '1.0', '2.0']).default('2.0'))
    .option('--hops <n>', 'INT hops per report', '6')
    .option('--reports <n>', 'number of reports', '1000')
    .option('--paths <n>', 'distinct switch paths (one flow each with --flow-per-path)', '16')
    .option('--seed <n>', 'seed of the paths and metric series', '1')
    .option('--bitmap <hex>', 'INT instruction bitmap (default: every baseline field of that version)')
    .option('--port <n>', 'report UDP destination port (pcap output)', '32766')
    .option('--flow-per-path', 'give every path its own flow (source port 40000 + path index)')
    .option('--out <file>', 'write a pcap file')
    .option('--udp <host:port>', 'send the reports as UDP datagrams')
    .option('--rate <n>', 'reports per second with --udp', '1000')
    .addHelpText('after', `
Examples:
  $ intstream int-gen --report-version 2.0 --hops 6 --reports 100000 --out reports.pcap
  $ intstream int-gen --report-version 1.0 --hops 4 --reports 5000 --udp 127.0.0.1:32766 --rate 1000
  $ intstream run int-collector -s pcap:reports.pcap -p int_port=32766 --format jsonl`)
    .action(async (o: Record<string, any>) => {
      const { encodeReport, encodeReportFrame, pcapFile, reportSeries } = await import('../gen/int-gen.ts');
      const { flowPerPathSeries } = await import('../int/gen-series.ts');
      const version = o.reportVersion as TrVersion;
      const hops = num('hops', o.hops, 0, 255);
      const reports = num('reports', o.reports, 0);
      const paths = num('paths', o.paths, 1);
      const seed = num('seed', o.seed, 0);
      const port = num('port', o.port, 1, 65535);
      const bitmap = o.bitmap !== undefined ? parseInt(String(o.bitmap), 16) : undefined;
      if (bitmap !== undefined && !(bitmap >= 0 && bitmap <= 0xffff)) throw new IntstreamError('USAGE', `--bitmap ${o.bitmap}: expected 16-bit hex`);
      const opts = { version, hops, seed, bitmap, paths };
      const next = o.flowPerPath ? flowPerPathSeries(opts) : reportSeries(opts);
      if (o.out !== undefined) {
        const frames: Uint8Array[] = [];
        for (let k = 0; k < reports; k++) frames.push(encodeReportFrame(encodeReport(next(k)).bytes, { dstPort: port }));
        try { writeFileSync(o.out, pcapFile(frames)); } catch (e) {
          throw new IntstreamError('USAGE', `--out ${o.out}: ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'its directory does not exist' : (e as Error).message}`);
        }
        process.stdout.write(`wrote ${reports} TR v${version} reports (${hops} hops, ${paths} paths) to ${o.out}\n`);
        return;
      }
      if (o.udp === undefined) throw new IntstreamError('USAGE', 'give --out FILE.pcap or --udp HOST:PORT');
      const i = String(o.udp).lastIndexOf(':');
      const host = String(o.udp).slice(0, i).replace(/^\[|\]$/g, '');
      const dport = num('udp port', String(o.udp).slice(i + 1), 1, 65535);
      const rate = num('rate', o.rate, 1);
      const sock = createSocket(host.includes(':') ? 'udp6' : 'udp4');
      const start = performance.now();
      let sent = 0;
      while (sent < reports) {
        const due = Math.min(reports, Math.floor(((performance.now() - start) / 1000) * rate) + 1);
        while (sent < due) {
          const b = encodeReport(next(sent)).bytes;
          await new Promise<void>((res, rej) => sock.send(b, dport, host, (e) => (e ? rej(e) : res())));
          sent++;
        }
        if (sent < reports) await new Promise((res) => setTimeout(res, 2));
      }
      sock.close();
      process.stdout.write(`sent ${sent} TR v${version} reports to ${host}:${dport} in ${(performance.now() - start).toFixed(0)} ms\n`);
    });
}
