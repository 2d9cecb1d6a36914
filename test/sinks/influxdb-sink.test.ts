// InfluxDB sink against a real influxd (Debian package influxdb) started here: int-collector
// events from a generated capture are written through --sink-style InfluxDbSink and read back
// through influxd's /query API; expected values come from the generator's report specs.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { encodeReport, encodeReportFrame, pcapFile } from '../../src/gen/int-gen.ts';
import { flowPerPathSeries } from '../../src/int/gen-series.ts';
import { runTask } from '../../src/run-task.ts';
import intCollector from '../../src/apps/int-collector.ts';
import { InfluxDbSink, toLine } from '../../src/sinks/influxdb-sink.ts';
import { openSinkSpec } from '../../src/sinks/sink-spec.ts';
import { has, startInfluxd, type Service } from './services.ts';

const skip = has('influxd') ? false : 'influxd not installed (Debian package influxdb; npm run setup)';

describe('InfluxDB sink', { skip }, () => {
  let influx: Service | undefined;
  const dir = mkdtempSync(join(tmpdir(), 'intstream-influx-test-'));
  before(async () => { influx = await startInfluxd(); });
  after(async () => { await influx?.stop(); rmSync(dir, { recursive: true, force: true }); });

  const q = async (db: string, query: string) => {
    const r = await fetch(`${influx!.url}/query?db=${db}&epoch=u&q=${encodeURIComponent(query)}`, { method: 'POST' });
    return (await r.json()) as any;
  };

  it('line protocol: ids as tags, numbers as fields, strings escaped, time in microseconds', () => {
    assert.equal(toLine({ task: 'int-collector', window: null, key: { kind: 'hop', src: '10.0.0.1', switch_id: 3 }, value: { event: 'new', ts: 1700000000.5, hop_latency: 812, path: [1, 2] } }),
      'int-collector,event=new,kind=hop,src=10.0.0.1,switch_id=3 hop_latency=812i,path="1,2" 1700000000500000');
    assert.equal(toLine({ task: 't', window: { start: 10, end: 20 }, key: 'a b', value: 2.5 }), 't,key=a\\ b value=2.5 10000000');
    assert.equal(toLine({ task: 't', window: null, key: null, value: { s: 'x' } }), null);
  });

  it('int-collector events are stored with the report time and read back', async () => {
    await q('int', 'CREATE DATABASE int');
    const next = flowPerPathSeries({ version: '2.0', hops: 4, seed: 3, paths: 3 });
    const specs = [0, 1, 2].map((k) => structuredClone(next(k)));
    const file = join(dir, 'r.pcap');
    writeFileSync(file, pcapFile(specs.map((s) => encodeReportFrame(encodeReport(s).bytes)), 1_700_000_000_000_000, 1000));
    const sink = await openSinkSpec(`influxdb://${influx!.url.slice(7)}/int`) as InfluxDbSink;
    await runTask({ task: intCollector, params: { int_port: '32766' }, sources: [`pcap:${file}`], onResult: (r) => sink.write(r) });
    await sink.close();
    const res = await q('int', 'SELECT "latency", "path" FROM "int-collector" WHERE "kind" = \'flow\' GROUP BY "sport"');
    const series = res.results[0].series as any[];
    assert.equal(series.length, 3);
    for (let k = 0; k < 3; k++) {
      const s = series.find((x) => x.tags.sport === String(40000 + k));
      const hops = specs[k].hops;
      assert.deepEqual(s.values, [[1_700_000_000_000_000 + k * 1000, hops.reduce((a, h) => a + h.hopLatency!, 0), [...hops].reverse().map((h) => h.switchId).join(',')]]);
    }
    const hop = await q('int', `SELECT "hop_latency" FROM "int-collector" WHERE "kind" = 'hop' AND "sport" = '40001' AND "switch_id" = '${specs[1].hops[0].switchId}'`);
    assert.deepEqual(hop.results[0].series[0].values, [[1_700_000_000_001_000, specs[1].hops[0].hopLatency]]);
    const n = await q('int', 'SELECT count("tx_util") FROM "int-collector"');
    assert.ok(n.results[0].series[0].values[0][1] >= 1);
  });

  it('retries a failing write a bounded number of times, then fails with a SINK error', async () => {
    const sink = new InfluxDbSink({ url: 'http://127.0.0.1:9', db: 'x', retries: 2, batch: 1 });
    const t0 = Date.now();
    await assert.rejects(async () => { await sink.write({ task: 't', window: null, key: null, value: 1 }); }, { code: 'SINK' });
    assert.equal(sink.retried, 2);
    assert.ok(Date.now() - t0 >= 200 + 400);
  });

  it('a write refused by the server (unknown database) is a SINK error without retries', async () => {
    const sink = new InfluxDbSink({ url: influx!.url, db: 'nope', retries: 3, batch: 1 });
    await assert.rejects(async () => { await sink.write({ task: 't', window: null, key: null, value: 1 }); }, { code: 'SINK' });
    assert.equal(sink.retried, 0);
  });
});
