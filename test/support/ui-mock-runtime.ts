/**
 * A stand-in for the runtime's HTTP API, for iterating on the web UI alone (not used by the
 * end-to-end test, which runs the real runtime). Tasks really run: `runTask` on the agents'
 * capture files, in process. Start: `node test/support/ui-mock-runtime.ts [PORT]`; token `dev`.
 */
import { createServer, type ServerResponse } from 'node:http';
import { uiStaticHandler } from '../../src/control/ui-static.ts';
import { builtinNames, loadBuiltin } from '../../src/apps/index.ts';
import { runTask } from '../../src/run-task.ts';

const TOKEN = 'dev';
const CAP = '/work/shared/captures';
const agents = [
  { name: 'edge-a', labels: { site: 'paris', role: 'edge' }, source: `pcap:${CAP}/attack/synscan.pcap` },
  { name: 'edge-b', labels: { site: 'lyon', role: 'edge' }, source: `pcap:${CAP}/mixed/1kxun.pcap` },
];
interface MockTask { id: string; name: string; status: string; agents: string[]; counters: Record<string, number>; results: unknown[]; windows: unknown[]; subs: Set<ServerResponse>; created_at: number }
const tasks = new Map<string, MockTask>();
let seq = 0;

function json(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
}

const serveUi = uiStaticHandler();
const port = Number(process.argv[2] ?? 18080);
createServer(async (req, res) => {
  if (serveUi(req, res)) return;
  const url = new URL(req.url ?? '/', 'http://x');
  const authed = req.headers.authorization === `Bearer ${TOKEN}`;
  const body = await new Promise<string>((r) => { let b = ''; req.on('data', (c) => (b += c)); req.on('end', () => r(b)); });
  const p = url.pathname;
  if (p === '/api/v1/auth') return authed ? json(res, 200, { ok: true }) : json(res, 401, { error: { code: 'UNAUTHORIZED', message: 'bad token' } });
  if (p === '/api/v1/agents') {
    const now = Date.now();
    return json(res, 200, agents.map((a, i) => ({ ...a, status: 'up', last_heartbeat: now - 800, metrics: { cpu: 3 + 4 * Math.random() + i, rss_bytes: (60 + i * 7 + Math.random() * 3) * 2 ** 20, packets_per_s: Math.round(1000 * Math.random()), malformed: 2 * i, dropped: 0 } })));
  }
  if (p === '/api/v1/apps') {
    const out = [];
    for (const n of builtinNames()) { const d = (await loadBuiltin(n))!; out.push({ name: n, description: d.description, params: d.params, output: d.output ?? null }); }
    return json(res, 200, out);
  }
  if (p === '/api/v1/tasks' && req.method === 'GET') return json(res, 200, [...tasks.values()].map(({ subs, results, windows, ...t }) => t));
  if (p === '/api/v1/tasks' && req.method === 'POST') {
    if (!authed) return json(res, 401, { error: { code: 'UNAUTHORIZED', message: 'sign in' } });
    const r = JSON.parse(body);
    if (r.code) return json(res, 400, { error: { code: 'INVALID_TASK', message: 'task.ts:12:7: query: unknown primitive .keyy()', line: 12, column: 7 } });
    const def = await loadBuiltin(r.app);
    if (!def) return json(res, 400, { error: { code: 'UNKNOWN_APP', message: `no application ${r.app}`, field: 'app' } });
    const id = `t${++seq}`;
    const t: MockTask = { id, name: r.app, status: 'running', agents: agents.map((a) => a.name), counters: { items_read: 0, after_filter: 0, local_out: 0, global_out: 0 }, results: [], windows: [], subs: new Set(), created_at: Date.now() };
    tasks.set(id, t);
    const params = Object.fromEntries(Object.entries(r.params ?? {}).filter(([k]) => k !== 'window').map(([k, v]) => [k, String(v)]));
    setTimeout(async () => {
      const stats = await runTask({ task: def, params, window: r.params?.window ?? 10, sources: agents.map((a) => a.source), onResult: (x) => { t.results.push(x); for (const s of t.subs) s.write(`event: result\ndata: ${JSON.stringify(x)}\n\n`); } });
      t.counters = { items_read: stats.items_read, after_filter: stats.after_filter, local_out: stats.local_out, global_out: stats.global_out, data_reduction: stats.data_reduction };
      const starts = [...new Set((t.results as any[]).map((x) => x.window.start))].sort();
      t.windows = starts.map((s, i) => ({ start: s, end: s + 10, items_read: 900 + i * 50, after_filter: 700 + i * 40, local_out: 3 + i, global_out: 1 + (i % 2) }));
      t.status = 'finished';
    }, 500);
    return json(res, 201, t.id ? { id, name: t.name, status: t.status } : {});
  }
  const m = /^\/api\/v1\/tasks\/([^/]+)(\/\w+)?$/.exec(p);
  const t = m ? tasks.get(m[1]) : undefined;
  if (m && !t) return json(res, 404, { error: { code: 'NOT_FOUND', message: 'no such task' } });
  if (t && !m![2]) { const { subs, results, windows, ...rest } = t; return json(res, 200, rest); }
  if (t && m![2] === '/windows') return json(res, 200, t.windows);
  if (t && m![2] === '/stop') { if (!authed) return json(res, 401, { error: { code: 'UNAUTHORIZED', message: 'sign in' } }); t.status = 'stopped'; return json(res, 200, {}); }
  if (t && m![2] === '/results') {
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
    for (const x of t.results) res.write(`event: result\ndata: ${JSON.stringify(x)}\n\n`);
    t.subs.add(res);
    req.on('close', () => t.subs.delete(res));
    return;
  }
  json(res, 404, { error: { code: 'NOT_FOUND', message: p } });
}).listen(port, '127.0.0.1', () => process.stdout.write(`mock runtime on http://127.0.0.1:${port}/ (token ${TOKEN})\n`));
