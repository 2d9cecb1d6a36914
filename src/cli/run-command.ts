/**
 * `intstream run <task>`: one process, one local stage per --source (on --workers threads),
 * then the global stage.
 */
import { accessSync, constants, createWriteStream, statSync, type WriteStream } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { writeFile } from 'node:fs/promises';
import { Command, Option } from 'commander';
import { IntstreamError } from '../errors.ts';
import { runTask, type RunStats } from '../run-task.ts';
import { JsonlSink } from '../sinks/jsonl-sink.ts';
import type { Sink } from '../sinks/sink.ts';
import { TableSink } from '../sinks/table-sink.ts';
import { openSinkSpec } from '../sinks/sink-spec.ts';
import { PcapSink, type PacketTap } from '../sinks/pcap-sink.ts';
import { sourceHelp } from '../sources/source-spec.ts';
import { n, parseDuration, rate } from './format.ts';
import { loadTask, locate } from '../apps/load-task.ts';
import { transportFor } from '../transport/transport-spec.ts';
import { createProber } from '../probe/send-probe.ts';
import { resolveParams } from '../query/task.ts';
import { parseFilter } from '../query/filter-expr.ts';
import { withBpf } from '../local/workers/task-ref.ts';
import { parseWorkers } from '../local/workers/workers-option.ts';

/** An output path a run can write: its directory exists and is writable; not a directory itself. */
function writableFile(option: string, path: string): void {
  const dir = dirname(resolve(path));
  let isDir = false;
  try { isDir = statSync(path).isDirectory(); } catch { /* does not exist yet: fine */ }
  if (isDir) throw new IntstreamError('USAGE', `${option} ${path}: is a directory`);
  try { accessSync(dir, constants.W_OK); } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new IntstreamError('USAGE', `${option} ${path}: ${code === 'ENOENT' ? `directory ${dir} does not exist` : `cannot write in ${dir} (${code})`}`);
  }
}

function collectRepeat(v: string, prev: string[]): string[] {
  return [...prev, v];
}

export function runCommand(): Command {
  return new Command('run')
    .description('run a task over one or more sources in this process (local stage per source, then global)')
    .argument('<task>', 'a built-in application name (see `intstream apps`) or a query file (.ts/.js)')
    .option('-s, --source <spec>', 'where packets come from (repeat for several sources)', collectRepeat, [])
    .option('-p, --param <k=v>', 'task parameter (repeatable), e.g. threshold=50', collectRepeat, [])
    .option('-w, --window <duration>', 'window length for the task: 10, 10s, 500ms, 1m', '10s')
    .addOption(new Option('-f, --format <format>', 'result format').choices(['table', 'jsonl']).default('table'))
    .option('-o, --out <file>', 'write results to FILE instead of standard output')
    .option('--stats <file>', 'write run counters as JSON to FILE (items read, malformed by reason, filtered, local/global out, data reduction)')
    .option('--filter <bpf>', "a BPF expression (tcpdump's language) applied to the packets before the task, e.g. 'tcp port 80 and not net 10.0.0.0/8'")
    .option('--sink <spec>', 'also send results to jsonl:FILE, table:FILE, influxdb://HOST:PORT/DB, prometheus://HOST:PORT or kafka://HOST:PORT/TOPIC; pcap:FILE or pcapng:FILE writes the packets that pass the task\'s filter (repeatable)', collectRepeat, [])
    .option('--transport <spec>', 'memory (default) or kafka://HOST:PORT between the stages', 'memory')
    .option('--lateness <duration>', 'event-time lateness allowed before a window closes (default 0s; 60s for netflow: sources)')
    .addOption(new Option('--time <domain>', 'live sources: window by packet timestamps, or by processing time (windows close on the wall clock while traffic stops)').choices(['packet', 'processing']))
    .option('--allow-probe <cidr>', 'network this agent may probe (repeatable; none: probing off)', collectRepeat, [])
    .option('--probe-rate <rate>', 'at most this many probes a second, e.g. 10/s', '10/s')
    .option('--workers <n>', 'local-stage threads per source: 1 to 64, or auto (the number of cores); 1 runs the local stage in the main thread', '1')
    .option('-q, --quiet', 'no progress line and no closing summary on stderr')
    .addHelpText('after', `
Sources:
  ${sourceHelp().join('\n  ')}

Examples:
  $ intstream run tcp-new-conn --source pcap:samples/demo.pcap
  $ intstream run tcp-new-conn -s pcap:a.pcap -s pcap:b.pcap -p threshold=50 --format jsonl
  $ tcpdump -w - -i eth0 | intstream run tcp-new-conn --source -
  $ intstream run ./my-task.ts --source pcap:capture.pcapng --window 1m --stats stats.json
  $ intstream run int-collector -s int:udp://0.0.0.0:32766 --sink influxdb://127.0.0.1:8086/int --sink prometheus://0.0.0.0:9464
  $ intstream run rtt -s live:eth0 -p targets=10.0.0.1,10.0.0.2 --allow-probe 10.0.0.0/24 --probe-rate 5/s`)
    .action(async (task: string, o: Record<string, any>) => {
      const window = parseDuration(o.window);
      if (!(window > 0)) throw new IntstreamError('USAGE', `--window ${o.window}: not a positive duration`, 'e.g. 10s, 500ms, 1m');
      const lateness = o.lateness === undefined ? undefined : parseDuration(o.lateness);
      if (lateness !== undefined && !(lateness >= 0)) throw new IntstreamError('USAGE', `--lateness ${o.lateness}: not a duration`);
      const params: Record<string, string> = {};
      for (const kv of o.param as string[]) {
        const eq = kv.indexOf('=');
        if (eq <= 0) throw new IntstreamError('USAGE', `--param ${kv}: expected k=v`);
        params[kv.slice(0, eq)] = kv.slice(eq + 1);
      }
      const sources = o.source as string[];
      if (sources.length === 0) throw new IntstreamError('USAGE', 'no --source given', 'e.g. intstream run tcp-new-conn --source pcap:samples/demo.pcap');
      if (sources.filter((x) => x === '-' || x === 'pcap:-').length > 1) throw new IntstreamError('USAGE', 'standard input given as a source more than once');
      if (o.time === 'processing' && !sources.some((x) => /^(live|erspan|gre):/.test(x))) {
        throw new IntstreamError('USAGE', '--time processing applies to live sources (live:, erspan:, gre:)', 'files and exporters are windowed by their own timestamps');
      }
      const workers = parseWorkers(o.workers);
      const probeRate = /^\s*([\d.]+)\s*(?:\/\s*s)?\s*$/.exec(String(o.probeRate));
      if (!probeRate || !(Number(probeRate[1]) > 0)) throw new IntstreamError('USAGE', `--probe-rate ${o.probeRate}: expected probes a second, e.g. 10/s`);
      const sendProbe = createProber({ allow: o.allowProbe as string[], ratePerSec: Number(probeRate[1]) });
      if (o.out) writableFile('--out', o.out);
      if (o.stats) writableFile('--stats', o.stats);
      const loaded = await loadTask(task);
      const { file } = loaded;
      // --filter: the packets the task sees are those the BPF expression keeps (pushed down with
      // the task's own leading filter, into the kernel for live capture)
      if (o.filter !== undefined) checkBpfOption(o.filter);
      const def = withBpf(loaded.def, o.filter);
      resolveParams(def, params); // a bad --param is a usage error before anything starts
      const transport = transportFor(o.transport);
      // The output opens with the first result or once the run has succeeded: a run that fails
      // to start neither prints "(no results)" nor truncates an existing --out file.
      // Both formats stream: a window's results are written when it closes, an event when it
      // happens, in bounded memory (src/sinks/jsonl-sink.ts TextOutput).
      const showProgress = !o.quiet && process.stderr.isTTY;
      const made: { sink: Sink | null; out: NodeJS.WritableStream | null } = { sink: null, out: null };
      const sink = (): Sink => {
        if (made.sink) return made.sink;
        const out = made.out = o.out ? createWriteStream(o.out) : process.stdout;
        if (o.out) (out as WriteStream).on('error', (e) => process.stderr.write(`intstream: --out ${o.out}: ${e.message}\n`));
        // a warning of the table (a window start that is no date) clears the progress line first
        const warn = (m: string) => { process.stderr.write(`${showProgress ? '\r\x1b[K' : ''}intstream: warning: ${m}\n`); };
        return (made.sink = o.format === 'jsonl' ? new JsonlSink(out as any, !!o.out) : new TableSink(out as any, process.stdout.columns || 120, { warn }));
      };
      const extra: Sink[] = [];
      // packets out as well as answers: pcap:/pcapng: sinks take each packet that passed the
      // task's pushed-down filter (the local stages' tap)
      const packetSinks = (o.sink as string[]).filter((x) => /^pcap(ng)?:/.test(x)).map((x) => new PcapSink(x));
      const tap: PacketTap | undefined = packetSinks.length === 0 ? undefined : packetSinks.length === 1 ? packetSinks[0].tap
        : (buf, off, cap, wire, ts, lt) => { for (const ps of packetSinks) ps.tap(buf, off, cap, wire, ts, lt); };
      let stats: RunStats | undefined;
      try {
        for (const spec of o.sink as string[]) if (!/^pcap(ng)?:/.test(spec)) extra.push(await openSinkSpec(spec));
        stats = await runTask({
          task: def, params, sources, window, lateness, sendProbe, time: o.time, tap,
          transport, workers, taskRef: { kind: 'task', task, bpf: o.filter },
          onNotice: (line) => process.stderr.write(`${showProgress ? '\r\x1b[K' : ''}intstream: ${line}\n`),
          onResult: extra.length === 0 ? (r) => sink().write(r) : async (r) => {
            await sink().write(r);
            for (const x of extra) await x.write(r);
          },
          onProgress: showProgress ? (p) => {
            const pct = p.total ? ` ${((100 * p.bytes) / p.total).toFixed(0)}%` : '';
            process.stderr.write(`\r${n(p.packets)} packets  ${rate(p.packets / (p.elapsedMs / 1000))}pkt/s${pct}   `);
          } : undefined,
        });
      } catch (e) {
        if (e instanceof IntstreamError) throw e;
        // The task's own code threw: point at the line in the query file.
        const err = e as Error;
        throw new IntstreamError('TASK_FAILED', `${locate(e, file)}: task ${def.name} failed: ${err?.name ?? 'Error'}: ${err?.message ?? e}`);
      } finally {
        if (showProgress) process.stderr.write('\r\x1b[K');
        if (stats !== undefined) sink(); // a run without results still says so
        await made.sink?.close();
        for (const x of extra) await x.close();
        for (const ps of packetSinks) ps.close();
        const out = made.out;
        if (o.out && out) await new Promise<void>((r) => { (out as WriteStream).once('close', () => r()); out.end(); });
      }
      for (const w of [...stats.warnings, ...packetSinks.flatMap((ps) => ps.warnings)]) process.stderr.write(`intstream: warning: ${w}\n`);
      for (const ps of packetSinks) if (!o.quiet) process.stderr.write(`intstream: ${ps.path}: ${n(ps.written)} packets written${ps.skipped ? `, ${n(ps.skipped)} of another link type not written` : ''}\n`);
      // INT on a capture needs to be told which traffic is telemetry
      if ('int_port' in (def.params ?? {}) && stats.items_read > 0 && stats.after_filter === 0 && !params.int_port && !params.int_dscp && !params.int_md_port && !sources.some((x) => x.startsWith('int:'))) {
        process.stderr.write(`intstream: warning: no INT report among ${stats.items_read} packets: on a capture, give the reports' UDP port (-p int_port=N; int-gen writes 32766), or -p int_dscp=N / int_md_port=N for INT-MD in flight\n`);
      }
      if (o.stats) await writeFile(o.stats, JSON.stringify(stats, null, 2) + '\n');
      if (!o.quiet) process.stderr.write(summary(stats) + '\n');
      // results so far are out; a source that broke off still makes the run a failure
      if (stats.failures.length > 0) throw new IntstreamError('CAPTURE_IO', stats.failures.join('; '), 'the results above cover the input up to that point');
    });
}

export function summary(s: RunStats): string {
  const malformed = Object.values(s.malformed).reduce((a, b) => a + b, 0);
  const skipped = Object.values(s.skipped).reduce((a, b) => a + b, 0);
  const parts = [
    `${n(s.items_read)} packets read`,
    `${n(malformed)} malformed${malformed ? ` (${Object.entries(s.malformed).slice(0, 4).map(([k, v]) => `${k} ${n(v)}`).join(', ')})` : ''}`,
    skipped ? `${n(skipped)} skipped (${Object.entries(s.skipped).slice(0, 4).map(([k, v]) => `${k} ${n(v)}`).join(', ')})` : '',
    `${n(s.after_filter)} after filter`,
    `${n(s.local_out)} left the local stage (${(100 * s.data_reduction).toFixed(2)}% reduction)`,
    `${n(s.global_out)} results`,
    ...s.sources.filter((l) => l.kernel).map((l) => `${l.source}: kernel ${n(l.kernel!.received)} received, ${n(l.kernel!.dropped)} dropped${l.kernel!.if_dropped ? `, ${n(l.kernel!.if_dropped)} dropped by the interface` : ''}`),
    `${s.elapsed_s.toFixed(2)} s`,
    `${rate(s.items_per_s)}packets/s`,
  ].filter(Boolean);
  return `${s.task}: ${parts.join(' · ')}`;
}

/**
 * `--filter` takes tcpdump's language (BPF), not the declarative one of query files and
 * `export --filter`: a usage error naming the option, with the other language's way out.
 */
function checkBpfOption(expr: string): void {
  try {
    parseFilter(`bpf: ${expr}`);
  } catch (e) {
    const why = (e as Error).message.replace(/^filter "bpf: [^"]*": /, '');
    throw new IntstreamError('USAGE', `--filter '${expr}': not a BPF expression (tcpdump's language): ${why}`,
      "e.g. --filter 'tcp port 80 and not net 10.0.0.0/8'; declarative filters (tcp.syn, ip.dst in 10.0.0.0/8) go in a query file's .filter(...)");
  }
}
