/**
 * Helpers for the live-capture tests (live*.test.ts, erspan*.test.ts, steno*.test.ts): a veth
 * link between two network namespaces made by test/support/netns.ts (the agent's `eth0` and
 * the router's `r-agent`), traffic replayed onto the router's end with tcpreplay, and the real
 * `intstream run` capturing on the agent's end inside its namespace. Needs root, iproute2,
 * tcpdump and tcpreplay; `liveLabSkip()` says why a test is skipped otherwise.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildLab, canBuildLab, type Lab } from '../support/netns.ts';
import { BIN, ROOT } from '../support/run-cli.ts';

export { CAPTURES, ROOT } from '../support/run-cli.ts';

/** Why live tests cannot run here, or null when they can. */
export function liveLabSkip(): string | null {
  if (process.getuid?.() !== 0) return 'needs root (network namespaces, packet capture)';
  for (const t of ['tcpdump', 'tcpreplay', 'ip']) {
    if (spawnSync('sh', ['-c', `command -v ${t}`]).status !== 0) return `${t} is not installed (npm run setup)`;
  }
  if (!canBuildLab()) return 'cannot create network namespaces here';
  return null;
}

export interface LiveLab {
  lab: Lab;
  /** Capture side: namespace and interface. */
  captureNs: string;
  captureIf: string;
  /** Replay side. */
  replayNs: string;
  replayIf: string;
  tmp: string;
  destroy(): void;
}

function sh(argv: string[]): string {
  const r = spawnSync(argv[0], argv.slice(1), { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${argv.join(' ')}: ${r.stderr}`);
  return r.stdout;
}

/**
 * The lab of test/support/netns.ts with IPv6 off on the capture link (no router solicitations or
 * MLD reports among the replayed packets) and a 9000-byte MTU (captures with VLAN-tagged
 * 1500-byte packets and GRE-wrapped ones replay whole).
 */
export function buildLiveLab(): LiveLab {
  const lab = buildLab({ b: 1, c: 1 });
  const tmp = mkdtempSync(join(tmpdir(), 'intstream-live-'));
  const ll: LiveLab = {
    lab, captureNs: lab.ns.agent, captureIf: 'eth0', replayNs: lab.ns.router, replayIf: 'r-agent', tmp,
    destroy: () => { lab.destroy(); rmSync(tmp, { recursive: true, force: true }); },
  };
  try {
    for (const [ns, dev] of [[ll.captureNs, ll.captureIf], [ll.replayNs, ll.replayIf]]) {
      sh(['ip', 'netns', 'exec', ns, 'sysctl', '-qw', `net.ipv6.conf.${dev}.disable_ipv6=1`]);
      sh(['ip', '-n', ns, 'link', 'set', 'dev', dev, 'mtu', '9000']);
    }
  } catch (e) { ll.destroy(); throw e; }
  return ll;
}

export interface Replay { sent: number; failed: number; seconds: number; output: string }

/** tcpreplay FILE onto the replay end; `rate` is e.g. ['--pps', '5000'] or ['--topspeed']. */
export function replay(ll: LiveLab, file: string, rate: string[] = ['--pps', '5000']): Promise<Replay> {
  return new Promise((res, rej) => {
    const c = spawn('ip', ['netns', 'exec', ll.replayNs, 'tcpreplay', '-q', '-i', ll.replayIf, ...rate, file], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    c.stdout.on('data', (d) => { out += d; });
    c.stderr.on('data', (d) => { out += d; });
    c.on('error', rej);
    c.on('close', (code) => {
      const m = /Actual: (\d+) packets .* sent in ([\d.]+) seconds/.exec(out);
      const f = /Failed packets:\s+(\d+)/.exec(out);
      if (code !== 0 || !m) return rej(new Error(`tcpreplay ${file} exited ${code}: ${out}`));
      res({ sent: Number(m[1]), failed: f ? Number(f[1]) : 0, seconds: Number(m[2]), output: out });
    });
  });
}

export interface LiveRun {
  child: ChildProcess;
  stdout: () => string;
  stderr: () => string;
  /** Resolves once tcpdump captures (its process exists and had time to open the ring). */
  ready(): Promise<void>;
  /** Sends the signal and resolves with the exit status. */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
  done: Promise<number | null>;
}

/** Starts `intstream run ARGS` inside the capture namespace. */
export function startRun(ll: LiveLab, args: string[]): LiveRun {
  const child = spawn('ip', ['netns', 'exec', ll.captureNs, process.execPath, BIN, 'run', ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '', err = '';
  child.stdout!.on('data', (d) => { out += d; });
  child.stderr!.on('data', (d) => { err += d; });
  const done = new Promise<number | null>((r) => child.on('close', (code) => r(code)));
  const kill = () => { if (child.exitCode === null) child.kill('SIGKILL'); };
  process.on('exit', kill);
  void done.then(() => process.off('exit', kill));
  return {
    child, done,
    stdout: () => out,
    stderr: () => err,
    async ready() {
      const deadline = Date.now() + 15000;
      // `ip netns exec` execs node, so node keeps the child's pid; tcpdump is node's child.
      while (Date.now() < deadline) {
        if (child.exitCode !== null) throw new Error(`intstream exited ${child.exitCode}: ${err}`);
        // tcpdump is capturing once its AF_PACKET socket exists in the namespace.
        const r = spawnSync('pgrep', ['-P', String(child.pid), '-x', 'tcpdump']);
        const socks = spawnSync('ip', ['netns', 'exec', ll.captureNs, 'cat', '/proc/net/packet'], { encoding: 'utf8' }).stdout.trim().split('\n').length - 1;
        if (r.status === 0 && socks > 0) { await sleep(300); return; }
        await sleep(100);
      }
      throw new Error(`tcpdump did not start: ${err}`);
    },
    async stop(signal = 'SIGTERM') {
      child.kill(signal);
      return done;
    },
  };
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** The same task on a capture file, JSON Lines. */
export function runOnFile(args: string[]): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [BIN, 'run', ...args], { cwd: ROOT, encoding: 'utf8' });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** key → value of JSON Lines results (the windows differ between a file and its replay). */
export function byKey(jsonl: string): Map<string, unknown> {
  const m = new Map<string, unknown>();
  for (const l of jsonl.split('\n').filter(Boolean)) {
    const r = JSON.parse(l);
    const k = JSON.stringify(r.key);
    if (m.has(k)) throw new Error(`key ${k} in two windows: use one window for the whole replay`);
    m.set(k, r.value);
  }
  return m;
}

/** Packets of FILE that libpcap's BPF compiler keeps for EXPR (tcpdump -r, an outside count). */
export function bpfCount(file: string, expr: string | null): number {
  const r = spawnSync('tcpdump', ['-nr', file, '-w', '/dev/null', '--count', ...(expr ? ['--', expr] : [])], { encoding: 'utf8' });
  const m = /(\d+) packets?/.exec(r.stdout + r.stderr);
  if (!m) throw new Error(`tcpdump --count ${file}: ${r.stderr}`);
  return Number(m[1]);
}

export function readJson(path: string): any {
  return JSON.parse(readFileSync(path, 'utf8'));
}
