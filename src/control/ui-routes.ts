/**
 * What the web UI needs from the runtime beyond the core API (runtime-server.ts):
 *
 *   GET  /, /assets/*          the built page (ui/dist, shipped in the package; no build here) (public)
 *   GET  /api/v1/apps          built-in applications: description, parameters, output, source text (read)
 *   POST /api/v1/ui/auth       sign-in: 200 with the role and name of a read or operator token, 401
 *                              for an unknown token, 403 for an agent's or worker's (always a token)
 *   GET  /api/v1/ui/agents     agents with CPU, memory, packets/s, malformed and skipped counts,
 *                              and the last 3 minutes of them, sampled every second (read)
 *   GET  /api/v1/ui/tasks      every task with its per-stage counters (the detail of GET /tasks/{id}) (read)
 *
 * Registered by RuntimeServer.start() before it listens. Cost: the sampler reads the store once a
 * second (agents × tasks rows); history is a ring of HISTORY samples per agent.
 */
import { readFileSync } from 'node:fs';
import type { FastifyInstance } from 'fastify';
import { builtinNames, builtinPath, loadBuiltin } from '../apps/index.ts';
import { access, credentialOf } from './route-access.ts';
import type { RuntimeStore } from './runtime-store.ts';
import { UiAssets } from './ui-static.ts';

const HISTORY = 180;
const SAMPLE_MS = 1000;

interface AgentSample {
  t: number; // ms since the epoch
  cpu: number | null; // percent of one core
  rss_bytes: number | null;
  packets_per_s: number | null;
  malformed: number;
  skipped: number;
  items_read: number;
}

/** Per-agent totals over the agent's tasks: packets read, malformed, skipped. */
/** What these routes read of the runtime (RuntimeServer has it). */
export interface UiRuntime {
  readonly store: RuntimeStore;
  agentList(): ({ name: string } & Record<string, unknown>)[];
  detail(id: string): Record<string, unknown> | undefined;
}

function agentTotals(server: UiRuntime): Map<string, { items_read: number; malformed: number; skipped: number }> {
  const out = new Map<string, { items_read: number; malformed: number; skipped: number }>();
  for (const t of server.store.tasks()) {
    for (const [agent, c] of Object.entries(server.store.agentCounters(t.id))) {
      const s = out.get(agent) ?? { items_read: 0, malformed: 0, skipped: 0 };
      s.items_read += Number(c?.items_read) || 0;
      s.malformed += Number(c?.malformed) || 0;
      s.skipped += typeof c?.skipped === 'object' && c.skipped ? Object.values(c.skipped as Record<string, number>).reduce((a, b) => a + (Number(b) || 0), 0) : Number(c?.skipped) || 0;
      out.set(agent, s);
    }
  }
  return out;
}

export function registerUiRoutes(app: FastifyInstance, server: UiRuntime): void {
  const assets = new UiAssets();
  const history = new Map<string, AgentSample[]>();

  const sample = (): void => {
    const now = Date.now();
    const totals = agentTotals(server);
    for (const a of server.store.agents()) {
      const h = history.get(a.name) ?? [];
      const tot = totals.get(a.name) ?? { items_read: 0, malformed: 0, skipped: 0 };
      const prev = h[h.length - 1];
      const pps = prev && now > prev.t ? Math.max(0, ((tot.items_read - prev.items_read) * 1000) / (now - prev.t)) : null;
      const cpu = typeof a.info?.cpu === 'number' ? a.info.cpu * 100 : null;
      h.push({ t: now, cpu, rss_bytes: a.info?.rss_bytes ?? null, packets_per_s: pps, malformed: tot.malformed, skipped: tot.skipped, items_read: tot.items_read });
      if (h.length > HISTORY) h.splice(0, h.length - HISTORY);
      history.set(a.name, h);
    }
  };
  const timer = setInterval(sample, SAMPLE_MS);
  timer.unref();
  app.addHook('onClose', async () => clearInterval(timer));

  const page = async (req: { url: string }, reply: any) => {
    const a = assets.get(req.url.split('?')[0]);
    return reply.code(a.status).headers(a.headers).send(a.body);
  };
  const secured = { security: [{ bearer: [] }] };
  app.get('/', { schema: { hide: true }, ...access('public') }, page);
  app.get('/index.html', { schema: { hide: true }, ...access('public') }, page);
  app.get('/assets/*', { schema: { hide: true }, ...access('public') }, page);

  app.get('/api/v1/apps', { schema: { ...secured, summary: 'built-in applications with their parameters (for the web UI form)' }, ...access('read') }, async () => {
    const apps = [];
    for (const name of builtinNames()) {
      const d = await loadBuiltin(name);
      if (!d) continue;
      let source: string | null = null;
      try {
        source = readFileSync(builtinPath(name), 'utf8').replace(/from '\.\.\/index\.ts'/g, "from 'intstream'");
      } catch {
        source = null;
      }
      const params = Object.entries(d.params as Record<string, { default: unknown; description: string }>).map(([k, v]) => ({ name: k, default: v.default, description: v.description }));
      apps.push({ name, description: d.description, params, output: d.output ?? null, source });
    }
    return { apps };
  });

  app.post('/api/v1/ui/auth', {
    schema: { ...secured, summary: "sign in: the role and name of a read or operator token (401 unknown, 403 an agent's or worker's)" },
    ...access('signin'),
  }, async (req) => {
    const c = credentialOf(req)!;
    return { ok: true, role: c.role, name: c.name };
  });

  app.get('/api/v1/ui/agents', { schema: { ...secured, summary: 'agents with metrics and their recent history (for the web UI)' }, ...access('read') }, async () => {
    const now = Date.now();
    const downAfter = 3000;
    // The core list decides up/down (its own down-after setting); the samples add the rest.
    const listed = new Map<string, any>(server.agentList().map((a) => [a.name, a]));
    return {
      agents: server.store.agents().map((a) => {
        const h = history.get(a.name) ?? [];
        const last = h[h.length - 1];
        const core = listed.get(a.name);
        return {
          name: a.name,
          source: a.source,
          labels: a.labels,
          status: (core ? core.up : now - a.last_seen < downAfter) ? 'up' : 'down',
          last_heartbeat: a.last_seen,
          metrics: last
            ? { cpu: last.cpu, rss_bytes: last.rss_bytes, packets_per_s: last.packets_per_s, malformed: last.malformed, dropped: last.skipped }
            : { cpu: null, rss_bytes: null, packets_per_s: null, malformed: null, dropped: null },
          history: h.map((s) => ({ t: s.t, cpu: s.cpu, rss_bytes: s.rss_bytes, packets_per_s: s.packets_per_s, malformed: s.malformed, dropped: s.skipped })),
        };
      }),
    };
  });

  app.get('/api/v1/ui/tasks', { schema: { ...secured, summary: 'every task with its per-stage counters (for the web UI)' }, ...access('read') }, async () => ({
    tasks: server.store.tasks().map((t) => server.detail(t.id)).filter((d) => d !== undefined),
  }));
}
