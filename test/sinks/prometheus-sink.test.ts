// Prometheus sink scraped by a real Prometheus (Debian package prometheus) started here with a
// config that scrapes the sink's /metrics on loopback; the series are read back through the
// Prometheus HTTP API. Expected values come from the generator's report specs.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { encodeReport, encodeReportFrame, pcapFile } from '../../src/gen/int-gen.ts';
import { flowPerPathSeries } from '../../src/int/gen-series.ts';
import { runTask } from '../../src/run-task.ts';
import intCollector from '../../src/apps/int-collector.ts';
import { PrometheusSink } from '../../src/sinks/prometheus-sink.ts';
import { freePort, has, startPrometheus, type Service } from './services.ts';

const skip = has('prometheus') ? false : 'prometheus not installed (Debian package prometheus; npm run setup)';

describe('Prometheus sink', { skip }, () => {
  let prom: Service | undefined;
  let sink: PrometheusSink | undefined;
  const dir = mkdtempSync(join(tmpdir(), 'intstream-prom-test-'));
  let port = 0;
  before(async () => {
    port = await freePort();
    sink = new PrometheusSink('127.0.0.1', port);
    await sink.listen();
    prom = await startPrometheus(`127.0.0.1:${port}`, 1);
  });
  after(async () => { await sink?.close(); await prom?.stop(); rmSync(dir, { recursive: true, force: true }); });

  it('int-collector gauges labelled by ids are scraped and queryable', async () => {
    const next = flowPerPathSeries({ version: '1.0', hops: 3, seed: 5, paths: 2 });
    const specs = [0, 1].map((k) => structuredClone(next(k)));
    const file = join(dir, 'r.pcap');
    writeFileSync(file, pcapFile(specs.map((s) => encodeReportFrame(encodeReport(s).bytes))));
    await runTask({ task: intCollector, params: { int_port: '32766' }, sources: [`pcap:${file}`], onResult: (r) => sink!.write(r) });
    const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
    assert.match(text, /int_collector_flow_latency\{/);
    const query = async (expr: string) => {
      const deadline = Date.now() + 20_000;
      for (;;) {
        const r = (await (await fetch(`${prom!.url}/api/v1/query?query=${encodeURIComponent(expr)}`)).json()) as any;
        if (r.status === 'success' && r.data.result.length > 0) return r.data.result as any[];
        if (Date.now() > deadline) throw new Error(`no series for ${expr}: ${JSON.stringify(r)}`);
        await new Promise((res) => setTimeout(res, 300));
      }
    };
    const lat = await query('int_collector_flow_latency');
    assert.equal(lat.length, 2);
    for (let k = 0; k < 2; k++) {
      const s = lat.find((x) => x.metric.sport === String(40000 + k));
      assert.equal(s.metric.src, '10.0.0.1');
      assert.equal(s.metric.job, 'intstream');
      assert.equal(Number(s.value[1]), specs[k].hops.reduce((a, h) => a + h.hopLatency!, 0));
    }
    const sw = specs[0].hops[1].switchId!;
    const hop = await query(`int_collector_hop_hop_latency{sport="40000",switch_id="${sw}"}`);
    assert.equal(Number(hop[0].value[1]), specs[0].hops[1].hopLatency);
    const path = await query('int_collector_flow_path_info{sport="40001"}');
    assert.equal(path[0].metric.path, [...specs[1].hops].reverse().map((h) => h.switchId).join(','));
    const util = await query(`int_collector_egress_tx_util{switch_id="${specs[0].hops[0].switchId}",port="${specs[0].hops[0].egressPort}"}`);
    assert.ok(Number.isFinite(Number(util[0].value[1])));
  });

  it('an expired key removes its series', () => {
    const s = new PrometheusSink('127.0.0.1', 0);
    s.write({ task: 't', window: null, key: { kind: 'egress', switch_id: 1, port: 2 }, value: { event: 'new', ts: 5, tx_util: 7 } });
    return s.registry.metrics().then(async (m) => {
      assert.match(m, /t_egress_tx_util\{switch_id="1",port="2"\} 7/);
      s.write({ task: 't', window: null, key: { kind: 'egress', switch_id: 1, port: 2 }, value: { event: 'expired', ts: 35, tx_util: 7, last_seen: 5 } });
      assert.doesNotMatch(await s.registry.metrics(), /t_egress_tx_util\{/);
    });
  });
});
