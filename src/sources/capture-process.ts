/**
 * A supervised `tcpdump` child that captures from a network interface through libpcap and
 * streams classic pcap on its standard output:
 *
 *   tcpdump -i IFACE -w - -U -n -s SNAPLEN -B KiB [-p] -- BPF
 *
 * Why a process and not a native binding: measured in bench/live-capture.ts (the note of issue
 * 6 has the figures). The process keeps libpcap's TPACKET_V3 ring, its kernel statistics and
 * every capture option, costs no build step, and cannot block the event loop: packets arrive as
 * pipe reads. When the reader is slow the pipe fills, tcpdump blocks, the kernel ring fills and
 * the kernel drops and counts: nothing is lost without a counter.
 *
 * Kernel counters come from tcpdump's closing lines on standard error ("N packets captured",
 * "N packets received by filter", "N packets dropped by kernel", "N packets dropped by
 * interface"); SIGUSR1 makes it print the same mid-run. On Linux "received by filter" counts
 * the packets that passed the kernel BPF filter (dropped ones included).
 *
 * Stopping: libpcap hands a ring block over when it is full or after its timeout (tcpdump:
 * 1000 ms), so `stop()` first waits `drainMs` (default 1100) for the last block, then sends
 * SIGTERM; tcpdump flushes, prints its counters and exits, and standard output ends. The child
 * runs in its own process group, so a terminal's Ctrl-C reaches intstream only and the capture
 * is drained rather than cut. `--immediate-mode` is not used: with TPACKET_V3 it gives each
 * packet a snaplen-sized ring slot, and a 4 MiB buffer then drops at 5,000 packets/s.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { IntstreamError } from '../errors.ts';
import { streamInput, type ByteInput } from './byte-input.ts';

export interface CaptureProcessOptions {
  iface: string;
  /** Bytes kept of each packet (tcpdump -s); 262144 keeps whole packets. */
  snapLen: number;
  /** Promiscuous mode (tcpdump without -p). */
  promisc: boolean;
  /** Kernel capture buffer, KiB (tcpdump -B). */
  bufferKiB: number;
  /** BPF expression installed in the kernel, or null for every packet. */
  bpf: string | null;
  /** Wait before SIGTERM on stop, so the last ring block reaches the pipe. */
  drainMs?: number;
  /** tcpdump binary (default: `tcpdump` on PATH). */
  command?: string;
}

/** libpcap's statistics for the capture (pcap_stats), as tcpdump reports them. */
export interface KernelStats {
  /** Packets that passed the kernel filter (Linux: tp_packets, dropped ones included). */
  received: number;
  /** Packets the kernel dropped because the capture buffer was full (tp_drops). */
  dropped: number;
  /** Packets the interface or its driver dropped (ps_ifdrop), when reported. */
  if_dropped: number;
  /** Packets tcpdump wrote to the stream. */
  captured: number;
  /** The BPF expression installed in the kernel (null: none). */
  filter?: string | null;
}

const START_TIMEOUT_MS = 10_000;

export class CaptureProcess {
  readonly options: CaptureProcessOptions;
  private child: ChildProcess | null = null;
  private stderr = '';
  private exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }> | null = null;
  private stopping = false;
  private readonly killOnExit = () => { if (this.child && this.child.exitCode === null) this.child.kill('SIGKILL'); };

  constructor(options: CaptureProcessOptions) {
    this.options = options;
  }

  /** The argv tcpdump is started with (for messages and tests). */
  argv(): string[] {
    const o = this.options;
    const a = ['-i', o.iface, '-w', '-', '-U', '-n', '-s', String(o.snapLen), '-B', String(o.bufferKiB)];
    if (!o.promisc) a.push('-p');
    if (o.bpf) a.push('--', o.bpf);
    return a;
  }

  /** Starts tcpdump; resolves with its pcap stream once it listens, or throws its error. */
  async start(): Promise<ByteInput> {
    const cmd = this.options.command ?? 'tcpdump';
    const child = spawn(cmd, this.argv(), { stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    this.child = child;
    process.on('exit', this.killOnExit);
    this.exited = new Promise((res) => child.once('close', (code, signal) => {
      process.off('exit', this.killOnExit);
      res({ code, signal });
    }));
    child.stderr!.setEncoding('utf8');
    child.stderr!.on('data', (d: string) => {
      this.stderr += d;
      // Keep the counters, drop chatter once it grows (long runs with periodic SIGUSR1).
      if (this.stderr.length > 65536) this.stderr = this.stderr.slice(-16384);
    });
    await new Promise<void>((res, rej) => {
      const fail = (why: string) => {
        clearTimeout(timer);
        const msg = this.stderr.split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('tcpdump: listening')).join('; ');
        rej(new IntstreamError('CAPTURE_IO', `live capture on ${this.options.iface}: ${why}${msg ? `: ${msg}` : ''}`,
          this.options.bpf ? `kernel filter was: ${this.options.bpf}` : 'capturing needs root or CAP_NET_RAW, and tcpdump installed'));
      };
      const timer = setTimeout(() => { child.kill('SIGKILL'); fail(`tcpdump did not start within ${START_TIMEOUT_MS} ms`); }, START_TIMEOUT_MS);
      child.once('error', (e) => fail(`cannot run ${cmd} (${(e as NodeJS.ErrnoException).code ?? e.message})`));
      child.once('exit', (code) => fail(`tcpdump exited with status ${code}`));
      const onData = () => {
        if (this.stderr.includes('listening on')) {
          clearTimeout(timer);
          child.stderr!.off('data', onData);
          child.removeAllListeners('exit');
          res();
        }
      };
      child.stderr!.on('data', onData);
    });
    return streamInput(child.stdout!);
  }

  /** Asks tcpdump to print its counters now (SIGUSR1); they are parsed by `stats()`. */
  requestStats(): void {
    if (this.child && this.child.exitCode === null && !this.stopping) this.child.kill('SIGUSR1');
  }

  /**
   * Ends the capture: waits for the last ring block, then SIGTERM; resolves when tcpdump has
   * exited (its standard output then ends). Safe to call more than once.
   */
  async stop(): Promise<void> {
    if (!this.child) return;
    if (!this.stopping) {
      this.stopping = true;
      if (this.child.exitCode === null) {
        await new Promise((r) => setTimeout(r, this.options.drainMs ?? 1100));
        if (this.child.exitCode === null) this.child.kill('SIGTERM');
        const t = setTimeout(() => this.child?.kill('SIGKILL'), 5000);
        await this.exited;
        clearTimeout(t);
      }
    }
    await this.exited;
  }

  /** Resolves when tcpdump has exited, or after `ms` (its output can end first). */
  async exitedWithin(ms: number): Promise<void> {
    if (!this.exited) return;
    let t: NodeJS.Timeout | undefined;
    await Promise.race([this.exited, new Promise((r) => { t = setTimeout(r, ms); })]);
    clearTimeout(t);
  }

  /** Whether tcpdump ended by itself (not through stop()), with its status and last words. */
  failure(): string | null {
    const c = this.child;
    if (!c || this.stopping || c.exitCode === null && c.signalCode === null) return null;
    if (c.exitCode === 0) return null;
    const last = this.stderr.trim().split('\n').filter((l) => !/packets|listening/.test(l)).pop();
    return `tcpdump ended (${c.signalCode ?? `status ${c.exitCode}`})${last ? `: ${last}` : ''}`;
  }

  /** The latest counters tcpdump printed, or null before it printed any. */
  stats(): KernelStats | null {
    const s = parseTcpdumpStats(this.stderr);
    return s && { ...s, filter: this.options.bpf };
  }
}

/**
 * Parses tcpdump's counters: the closing lines ("7020 packets captured\n7928 packets received
 * by filter\n0 packets dropped by kernel") or the SIGUSR1 line (the same joined by ", "). The
 * last value of each counter wins.
 */
export function parseTcpdumpStats(text: string): KernelStats | null {
  const last = (re: RegExp): number | undefined => {
    let v: number | undefined;
    for (const m of text.matchAll(re)) v = Number(m[1]);
    return v;
  };
  const captured = last(/(\d+) packets? captured/g);
  const received = last(/(\d+) packets? received by filter/g);
  const dropped = last(/(\d+) packets? dropped by kernel/g);
  if (captured === undefined && received === undefined && dropped === undefined) return null;
  return { received: received ?? 0, dropped: dropped ?? 0, if_dropped: last(/(\d+) packets? dropped by interface/g) ?? 0, captured: captured ?? 0 };
}
