/**
 * A small routed network of Linux network namespaces for probing tests (needs root and
 * iproute2):
 *
 *     agent ──veth── router ──veth── host b  (netem delay on the router's side: delayMs.b)
 *                       └─────veth── host c  (delayMs.c)
 *
 *   agent  10.X.1.2/24, default via 10.X.1.1
 *   router 10.X.1.1, 10.X.2.1, 10.X.3.1, forwarding on
 *   b      10.X.2.2/24, default via 10.X.2.1
 *   c      10.X.3.2/24, default via 10.X.3.1
 *
 * The delay is added once, on the router's interface towards the host (`tc netem`), so an echo's
 * round trip is delayed by exactly that much (replies travel back undelayed). Where the kernel
 * has no netem (the Firecracker kernels of our CI VMs ship without sch_netem), the host answers
 * echo requests itself instead of its kernel: a small raw-socket responder (python3) in the
 * host's namespace sends each reply `delay` ms after the request came in. `lab.delayBy` says
 * which of the two was used. Namespace names carry the
 * process id so parallel runs do not collide; `destroy()` removes everything and is safe to call
 * twice, and a process exit handler calls it too, so a failing test leaves nothing behind.
 */
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';

/** Echo responder with a fixed delay: raw ICMP socket, replies from a timer heap. */
const RESPONDER = `
import heapq, select, socket, sys, time
delay = float(sys.argv[1]) / 1000
s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
def csum(b):
    if len(b) % 2: b += b'\\0'
    t = sum((b[i] << 8) | b[i + 1] for i in range(0, len(b), 2))
    while t >> 16: t = (t & 0xffff) + (t >> 16)
    return ~t & 0xffff
due = []
print('ready', flush=True)
while True:
    wait = max(0, due[0][0] - time.monotonic()) if due else None
    r, _, _ = select.select([s], [], [], wait)
    if r:
        data, (src, _) = s.recvfrom(65535)
        icmp = bytearray(data[(data[0] & 15) * 4:])
        if icmp and icmp[0] == 8:
            icmp[0] = 0; icmp[2:4] = b'\\0\\0'
            c = csum(bytes(icmp)); icmp[2] = c >> 8; icmp[3] = c & 255
            heapq.heappush(due, (time.monotonic() + delay, bytes(icmp), src))
    while due and due[0][0] <= time.monotonic():
        _, pkt, dst = heapq.heappop(due)
        s.sendto(pkt, (dst, 0))
`;

export interface Lab {
  /** Namespace names. */
  ns: { agent: string; router: string; b: string; c: string };
  addr: { agent: string; routerA: string; b: string; c: string; routerB: string; routerC: string };
  /** The /16 holding every address of the lab. */
  net: string;
  delayMs: { b: number; c: number };
  /** How the delay is made: 'netem' on the router, or 'responder' in the hosts. */
  delayBy: 'netem' | 'responder';
  /** argv prefix that runs a command inside a namespace. */
  exec(ns: string, argv: string[]): string[];
  /** Resolves once the echo responders (if any) listen. */
  ready(): Promise<void>;
  destroy(): void;
}

function ip(args: string[]): void {
  execFileSync('ip', args, { stdio: ['ignore', 'ignore', 'pipe'] });
}

/** True when namespaces can be made here (root, iproute2, tc with netem). */
export function canBuildLab(): boolean {
  if (process.getuid?.() !== 0) return false;
  const probe = `itest-can-${process.pid}`;
  const r = spawnSync('ip', ['netns', 'add', probe]);
  if (r.status !== 0) return false;
  spawnSync('ip', ['netns', 'del', probe]);
  return spawnSync('tc', ['-V']).status === 0;
}

export function buildLab(delayMs: { b: number; c: number }): Lab {
  const id = `${process.pid % 100000}`;
  const octet = 100 + (process.pid % 100);
  const ns = { agent: `itest-${id}-agent`, router: `itest-${id}-router`, b: `itest-${id}-b`, c: `itest-${id}-c` };
  const p = `10.${octet}`;
  const addr = { agent: `${p}.1.2`, routerA: `${p}.1.1`, routerB: `${p}.2.1`, routerC: `${p}.3.1`, b: `${p}.2.2`, c: `${p}.3.2` };
  let destroyed = false;
  const children: ChildProcess[] = [];
  const destroy = () => {
    if (destroyed) return;
    destroyed = true;
    for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
    for (const n of Object.values(ns)) spawnSync('ip', ['netns', 'del', n], { stdio: 'ignore' });
    process.off('exit', destroy);
  };
  process.on('exit', destroy);
  let delayBy: Lab['delayBy'] = 'netem';
  try {
    for (const n of Object.values(ns)) { ip(['netns', 'add', n]); ip(['-n', n, 'link', 'set', 'lo', 'up']); }
    // veth pairs, created in the router namespace and one end moved out.
    const link = (host: string, hostAddr: string, routerIf: string, routerAddr: string, hostIf: string) => {
      ip(['-n', ns.router, 'link', 'add', routerIf, 'type', 'veth', 'peer', 'name', hostIf]);
      ip(['-n', ns.router, 'link', 'set', hostIf, 'netns', host]);
      ip(['-n', ns.router, 'addr', 'add', `${routerAddr}/24`, 'dev', routerIf]);
      ip(['-n', ns.router, 'link', 'set', routerIf, 'up']);
      ip(['-n', host, 'addr', 'add', `${hostAddr}/24`, 'dev', hostIf]);
      ip(['-n', host, 'link', 'set', hostIf, 'up']);
      ip(['-n', host, 'route', 'add', 'default', 'via', routerAddr]);
    };
    link(ns.agent, addr.agent, 'r-agent', addr.routerA, 'eth0');
    link(ns.b, addr.b, 'r-b', addr.routerB, 'eth0');
    link(ns.c, addr.c, 'r-c', addr.routerC, 'eth0');
    execFileSync('ip', ['netns', 'exec', ns.router, 'sysctl', '-qw', 'net.ipv4.ip_forward=1']);
    const netem = spawnSync('tc', ['-n', ns.router, 'qdisc', 'add', 'dev', 'r-b', 'root', 'netem', 'delay', `${delayMs.b}ms`]);
    if (netem.status === 0) {
      execFileSync('tc', ['-n', ns.router, 'qdisc', 'add', 'dev', 'r-c', 'root', 'netem', 'delay', `${delayMs.c}ms`]);
      delayBy = 'netem';
    } else {
      for (const [host, d] of [[ns.b, delayMs.b], [ns.c, delayMs.c]] as const) {
        execFileSync('ip', ['netns', 'exec', host, 'sysctl', '-qw', 'net.ipv4.icmp_echo_ignore_all=1']);
        const child = spawn('ip', ['netns', 'exec', host, 'python3', '-c', RESPONDER, String(d)], { stdio: ['ignore', 'pipe', 'inherit'] });
        children.push(child);
      }
      delayBy = 'responder';
    }
  } catch (e) {
    destroy();
    throw e;
  }
  return {
    ns, addr, delayMs, delayBy, net: `${p}.0.0/16`,
    exec: (n, argv) => ['ip', 'netns', 'exec', n, ...argv],
    destroy,
    ready: () => Promise.all(children.map((c) => new Promise<void>((res, rej) => {
      c.stdout!.once('data', () => res());
      c.once('exit', (code) => rej(new Error(`echo responder exited ${code}`)));
    }))).then(() => undefined),
  };
}

/** Names of namespaces of this process's labs still present (for the cleanup check). */
export function leftoverNamespaces(): string[] {
  const out = spawnSync('ip', ['netns', 'list'], { encoding: 'utf8' }).stdout ?? '';
  return out.split('\n').map((l) => l.split(' ')[0]).filter((n) => n.startsWith(`itest-${process.pid % 100000}-`));
}
