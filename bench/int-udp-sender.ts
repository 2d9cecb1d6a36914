// Child process of bench/int-collector.ts: sends pre-encoded TR v2.0 reports (6 hops, every
// field) over UDP to HOST:PORT at RATE reports/s for SECONDS, then prints
// {"sent": N, "elapsed_s": S} on stdout. Pacing: every millisecond, send what is due.
//
//   node bench/int-udp-sender.ts HOST PORT RATE SECONDS
import { createSocket } from 'node:dgram';
import { encodeReport } from '../src/gen/int-gen.ts';
import { flowPerPathSeries } from '../src/int/gen-series.ts';

const [host, portS, rateS, secS] = process.argv.slice(2);
const port = Number(portS), rate = Number(rateS), secs = Number(secS);
const next = flowPerPathSeries({ version: '2.0', hops: 6, seed: 7, paths: 64 });
const pool: Uint8Array[] = [];
for (let k = 0; k < 4096; k++) pool.push(encodeReport(next(k)).bytes);
const sock = createSocket('udp4');
sock.connect(port, host, () => {
  const total = Math.round(rate * secs);
  const start = performance.now();
  let sent = 0;
  const tick = () => {
    const due = Math.min(total, Math.floor(((performance.now() - start) / 1000) * rate));
    while (sent < due) { sock.send(pool[sent & 4095]); sent++; }
    if (sent < total) setTimeout(tick, 1);
    else setTimeout(() => { process.stdout.write(JSON.stringify({ sent, elapsed_s: (performance.now() - start) / 1000 }) + '\n'); sock.close(); }, 50);
  };
  tick();
});
