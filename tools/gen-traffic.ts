/**
 * Synthetic traffic as a classic pcap (Ethernet, microsecond timestamps), deterministic from a
 * seed: complete TCP connections (handshake, data, FIN), DNS over UDP, ICMP echo, an IPv6 share
 * and a VLAN-tagged share. With --anomalies it plants what the applications look for:
 *   SYN flood       spoofed SYNs to 10.0.0.254:80 (tcp-new-conn, syn-flood, tcp-incomplete)
 *   port scan       192.168.1.5 -> 10.0.0.16, SYNs to ports 1..3000 (port-scan)
 *   super spreader  192.168.1.6 -> UDP 53 to many 11.0.x.y (super-spreader)
 *   slowloris       many tiny connections from 192.168.2.x to 10.0.0.253:80 (slowloris)
 *   retransmissions one flow 192.168.3.7:40001 -> 10.0.0.252:443 resending segments (tcp-retrans)
 *   heavy hitter    192.168.4.8 sending many UDP packets (heavy-hitter)
 *   shift           in the second half, most traffic goes to 10.0.0.251 (ddos)
 *
 *   node tools/gen-traffic.ts OUT.pcap [--packets 1000000] [--seconds 60] [--seed 1]
 *        [--start 1700000000] [--hosts 100000] [--anomalies]
 *
 * Events are produced one second at a time and written in timestamp order, so memory stays
 * bounded for any --packets.
 */
import { createWriteStream, type WriteStream } from 'node:fs';
import { parseArgs } from 'node:util';
import { mulberry32 as rng } from '../src/gen/prng.ts';


const SYN = 0x02, ACK = 0x10, FIN = 0x01, PSH = 0x08;
const MAC_A = [2, 0, 0, 0, 0, 1], MAC_B = [2, 0, 0, 0, 0, 2];

type Addr = { v6: boolean; bytes: number[] };
const v4 = (n: number): Addr => ({ v6: false, bytes: [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255] });
const v6 = (n: number): Addr => ({ v6: true, bytes: [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255] });

function csum(b: Uint8Array, off: number, len: number): number {
  let s = 0;
  for (let i = 0; i < len; i += 2) s += (b[off + i] << 8) | (i + 1 < len ? b[off + i + 1] : 0);
  while (s >> 16) s = (s & 0xffff) + (s >> 16);
  return ~s & 0xffff;
}

interface L4 { proto: number; bytes: Uint8Array }

function tcp(sport: number, dport: number, seq: number, ack: number, flags: number, payload = 0): L4 {
  const b = new Uint8Array(20 + payload);
  const dv = new DataView(b.buffer);
  dv.setUint16(0, sport); dv.setUint16(2, dport); dv.setUint32(4, seq >>> 0); dv.setUint32(8, ack >>> 0);
  b[12] = 0x50; b[13] = flags; dv.setUint16(14, 65535);
  b.fill(0x78, 20);
  return { proto: 6, bytes: b };
}

function udp(sport: number, dport: number, payload: number): L4 {
  const b = new Uint8Array(8 + payload);
  const dv = new DataView(b.buffer);
  dv.setUint16(0, sport); dv.setUint16(2, dport); dv.setUint16(4, 8 + payload);
  b.fill(0x64, 8);
  return { proto: 17, bytes: b };
}

function icmpEcho(type: number): L4 {
  const b = new Uint8Array(40);
  b[0] = type; b[5] = 1; b[7] = 1; b.fill(0x70, 8);
  return { proto: 1, bytes: b };
}

function frame(src: Addr, dst: Addr, l4: L4, vlan: number | null, ident: number): Uint8Array {
  const l3len = (src.v6 ? 40 : 20) + l4.bytes.length;
  const l2 = vlan === null ? 14 : 18;
  const f = new Uint8Array(l2 + l3len);
  f.set(MAC_B, 0); f.set(MAC_A, 6);
  const dv = new DataView(f.buffer);
  const etype = src.v6 ? 0x86dd : 0x0800;
  if (vlan === null) dv.setUint16(12, etype);
  else { dv.setUint16(12, 0x8100); dv.setUint16(14, vlan); dv.setUint16(16, etype); }
  const o = l2;
  if (src.v6) {
    dv.setUint32(o, 0x60000000); dv.setUint16(o + 4, l4.bytes.length); f[o + 6] = l4.proto; f[o + 7] = 64;
    f.set(src.bytes, o + 8); f.set(dst.bytes, o + 24);
    f.set(l4.bytes, o + 40);
  } else {
    f[o] = 0x45; dv.setUint16(o + 2, l3len); dv.setUint16(o + 4, ident & 0xffff); dv.setUint16(o + 6, 0x4000);
    f[o + 8] = 64; f[o + 9] = l4.proto; f.set(src.bytes, o + 12); f.set(dst.bytes, o + 16);
    dv.setUint16(o + 10, csum(f, o, 20));
    f.set(l4.bytes, o + 20);
  }
  return f;
}

interface Ev { ts: number; f: Uint8Array }

class PcapOut {
  private readonly s: WriteStream;
  private chunk = Buffer.alloc(4 << 20);
  private used = 0;
  n = 0;
  constructor(path: string) {
    this.s = createWriteStream(path);
    const h = Buffer.alloc(24);
    h.writeUInt32LE(0xa1b2c3d4, 0); h.writeUInt16LE(2, 4); h.writeUInt16LE(4, 6); h.writeUInt32LE(262144, 16); h.writeUInt32LE(1, 20);
    this.s.write(h);
  }
  async write(ts: number, f: Uint8Array): Promise<void> {
    if (this.used + 16 + f.length > this.chunk.length) await this.flush();
    let sec = Math.floor(ts), usec = Math.round((ts - sec) * 1e6);
    if (usec >= 1e6) { sec++; usec -= 1e6; }
    const c = this.chunk;
    c.writeUInt32LE(sec, this.used); c.writeUInt32LE(usec, this.used + 4);
    c.writeUInt32LE(f.length, this.used + 8); c.writeUInt32LE(f.length, this.used + 12);
    c.set(f, this.used + 16);
    this.used += 16 + f.length;
    this.n++;
  }
  async flush(): Promise<void> {
    if (this.used === 0) return;
    const data = this.chunk.subarray(0, this.used);
    this.chunk = Buffer.alloc(this.chunk.length);
    this.used = 0;
    if (!this.s.write(data)) await new Promise<void>((r) => this.s.once('drain', () => r()));
  }
  async close(): Promise<void> {
    await this.flush();
    await new Promise<void>((r) => this.s.end(r));
  }
}

export interface GenOptions {
  packets: number;
  seconds: number;
  seed: number;
  start: number;
  hosts: number;
  anomalies: boolean;
}

export async function generate(out: string, o: GenOptions): Promise<number> {
  const r = rng(o.seed);
  const ri = (n: number) => Math.floor(r() * n);
  const bits32 = () => Math.floor(r() * 4294967296);
  let ident = 0;
  const mk = (src: Addr, dst: Addr, l4: L4, vlan: number | null) => frame(src, dst, l4, vlan, ident++);
  const servers = Array.from({ length: 200 }, (_, i) => 0x0a000000 + i + 1);
  const clients = Array.from({ length: o.hosts }, () => 0xac100000 + ri(1 << 20));

  function tcpFlow(ev: Ev[], t: number, c: Addr, s: Addr, sport: number, dport: number, nseg: number, vlan: number | null, retrans: number, gap = 0.002, close = true): void {
    const cs = bits32(), ss = bits32();
    ev.push({ ts: t, f: mk(c, s, tcp(sport, dport, cs, 0, SYN), vlan) }); t += gap;
    ev.push({ ts: t, f: mk(s, c, tcp(dport, sport, ss, cs + 1, SYN | ACK), vlan) }); t += gap;
    ev.push({ ts: t, f: mk(c, s, tcp(sport, dport, cs + 1, ss + 1, ACK), vlan) }); t += gap;
    let seq = cs + 1;
    const sent: [number, number][] = [];
    for (let i = 0; i < nseg; i++) {
      const size = [64, 200, 512, 1200][ri(4)];
      ev.push({ ts: t, f: mk(c, s, tcp(sport, dport, seq, ss + 1, ACK | PSH, size), vlan) });
      sent.push([seq, size]); seq += size; t += gap;
      ev.push({ ts: t, f: mk(s, c, tcp(dport, sport, ss + 1, seq, ACK), vlan) }); t += gap;
    }
    for (let i = 0; i < retrans && sent.length; i++) {
      const [q, size] = sent[ri(sent.length)];
      ev.push({ ts: t, f: mk(c, s, tcp(sport, dport, q, ss + 1, ACK | PSH, size), vlan) }); t += gap;
    }
    if (!close) return;
    ev.push({ ts: t, f: mk(c, s, tcp(sport, dport, seq, ss + 1, FIN | ACK), vlan) }); t += gap;
    ev.push({ ts: t, f: mk(s, c, tcp(dport, sport, ss + 1, seq + 1, FIN | ACK), vlan) }); t += gap;
    ev.push({ ts: t, f: mk(c, s, tcp(sport, dport, seq + 1, ss + 2, ACK), vlan) });
  }

  const w = new PcapOut(out);
  const end = o.start + o.seconds;
  const perSec = o.packets / o.seconds;
  let pending: Ev[] = [];
  let produced = 0;
  const victim = v4(0x0a0000fe), scanner = v4(0xc0a80105), scanTarget = v4(0x0a000010), spreader = v4(0xc0a80106);
  const slowTarget = v4(0x0a0000fd), shiftTarget = v4(0x0a0000fb), heavy = v4(0xc0a80408);
  for (let sec = 0; sec < Math.ceil(o.seconds); sec++) {
    const t0 = o.start + sec;
    const ev: Ev[] = [];
    if (o.anomalies) {
      for (let i = 0; i < 300; i++) ev.push({ ts: t0 + r(), f: mk(v4(bits32()), victim, tcp(1024 + ri(64511), 80, bits32(), 0, SYN), null) });
      for (let i = 0; i < 50; i++) {
        const port = (sec * 50 + i) % 3000 + 1;
        ev.push({ ts: t0 + i / 50, f: mk(scanner, scanTarget, tcp(40000, port, bits32(), 0, SYN), null) });
      }
      for (let i = 0; i < 100; i++) ev.push({ ts: t0 + r(), f: mk(spreader, v4(0x0b000000 + ri(1 << 16)), udp(5353, 53, 20), null) });
      for (let i = 0; i < 8; i++) {
        const c = v4(0xc0a80200 + ((sec * 8 + i) % 250));
        tcpFlow(ev, t0 + r() * 0.9, c, slowTarget, 20000 + ((sec * 8 + i) % 40000), 80, 1, null, 0, 0.05, false);
      }
      if (sec % 5 === 0) tcpFlow(ev, t0 + 0.1, v4(0xc0a80307), v4(0x0a0000fc), 40001 + sec, 443, 10, null, 6, 0.01);
      for (let i = 0; i < 200; i++) ev.push({ ts: t0 + r(), f: mk(heavy, v4(servers[ri(200)]), udp(7000, 7001, 100), null) });
      if (sec >= o.seconds / 2) {
        for (let i = 0; i < 0.5 * perSec; i++) ev.push({ ts: t0 + r(), f: mk(v4(clients[ri(clients.length)]), shiftTarget, udp(1024 + ri(60000), 9, 64), null) });
      }
    }
    let budget = perSec - ev.length;
    while (budget > 0) {
      const t = t0 + r();
      const kind = r();
      const six = r() < 0.1;
      const vlan = r() < 0.1 ? 100 : null;
      const a = six ? v6 : v4;
      const before = ev.length;
      if (kind < 0.8) {
        tcpFlow(ev, t, a(clients[ri(clients.length)]), a(servers[ri(200)]), 1024 + ri(64511), [80, 443, 22, 8080][ri(4)], 1 + ri(11), vlan, r() < 0.03 ? 1 : 0);
      } else if (kind < 0.97) {
        const c = a(clients[ri(clients.length)]), s = a(servers[ri(200)]), sp = 1024 + ri(64511);
        ev.push({ ts: t, f: mk(c, s, udp(sp, 53, 30), vlan) }, { ts: t + 0.001, f: mk(s, c, udp(53, sp, 80), vlan) });
      } else {
        const c = v4(clients[ri(clients.length)]), s = v4(servers[ri(200)]);
        ev.push({ ts: t, f: mk(c, s, icmpEcho(8), null) }, { ts: t + 0.0005, f: mk(s, c, icmpEcho(0), null) });
      }
      budget -= ev.length - before;
    }
    for (const e of ev) pending.push(e);
    pending.sort((x, y) => x.ts - y.ts);
    const cut = Math.min(t0 + 1, end);
    let i = 0;
    for (; i < pending.length && pending[i].ts < cut; i++) { await w.write(pending[i].ts, pending[i].f); produced++; }
    pending = pending.slice(i);
  }
  await w.close();
  return produced;
}

if (import.meta.main) {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: {
      packets: { type: 'string', default: '1000000' }, seconds: { type: 'string', default: '60' },
      seed: { type: 'string', default: '1' }, start: { type: 'string', default: '1700000000' },
      hosts: { type: 'string', default: '100000' }, anomalies: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help || positionals.length !== 1) {
    process.stdout.write('usage: node tools/gen-traffic.ts OUT.pcap [--packets N] [--seconds S] [--seed N] [--start EPOCH] [--hosts N] [--anomalies]\n');
    process.exit(values.help ? 0 : 2);
  }
  const n = await generate(positionals[0], {
    packets: Number(values.packets), seconds: Number(values.seconds), seed: Number(values.seed),
    start: Number(values.start), hosts: Number(values.hosts), anomalies: values.anomalies!,
  });
  process.stderr.write(`${n} packets written to ${positionals[0]}\n`);
}
