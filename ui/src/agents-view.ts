/**
 * <is-agents>: every agent the runtime knows, with its labels, source, status and last heartbeat,
 * and its CPU, memory, packets/s, malformed and dropped counts, each with a small chart over the
 * last minutes. The history comes from the API when it has one, else from this page's polls.
 */
import { LitElement, html, nothing } from 'lit';
import { api, ApiError, type Agent, type AgentMetrics } from './api.ts';
import { fmtAgo, fmtBytes, fmtDec, fmtInt } from './format.ts';
import { PALETTE } from './charts.ts';
import { Poller } from './poller.ts';

type Sample = { t: number } & AgentMetrics;
const HISTORY_MAX = 180;
const history = new Map<string, Sample[]>(); // kept across views for this page's life

function remember(a: Agent): Sample[] {
  let h = history.get(a.name) ?? [];
  if (a.history.length > h.length) h = a.history.slice(-HISTORY_MAX);
  const t = a.lastHeartbeat ?? Date.now();
  if (h.length === 0 || h[h.length - 1].t < t) h.push({ t, ...a.metrics });
  if (h.length > HISTORY_MAX) h.splice(0, h.length - HISTORY_MAX);
  history.set(a.name, h);
  return h;
}

export class IsAgents extends LitElement {
  private agents: Agent[] = [];
  private error = '';
  private loaded = false;
  private readonly poller = new Poller(
    async () => {
      this.agents = (await api.agents()).sort((a, b) => a.name.localeCompare(b.name));
      for (const a of this.agents) remember(a);
      this.error = '';
      this.loaded = true;
      this.requestUpdate();
    },
    2000,
    (e) => {
      // a 401: the page asks to sign in (main.ts)
      this.error = e instanceof ApiError && e.status === 401 ? '' : `Could not load the agents: ${(e as Error).message}`;
      this.requestUpdate();
    },
  );

  protected createRenderRoot(): HTMLElement {
    return this;
  }

  connectedCallback(): void {
    super.connectedCallback();
    this.poller.start();
  }

  disconnectedCallback(): void {
    this.poller.stop();
    super.disconnectedCallback();
  }

  private cell(h: Sample[], pick: (s: Sample) => number | null, text: string, color: string): unknown {
    return html`<td class="num metric">
      <span>${text}</span>
      <is-spark .color=${color} .data=${{ xs: h.map((s) => s.t / 1000), ys: h.map(pick) }}></is-spark>
    </td>`;
  }

  protected render(): unknown {
    const up = this.agents.filter((a) => a.status === 'up').length;
    return html`
      <h1 tabindex="-1">Agents</h1>
      <p class="sub">${this.loaded ? html`${up} up · ${this.agents.length - up} down` : 'Loading…'}</p>
      ${this.error ? html`<div class="banner error" role="alert">${this.error}</div>` : nothing}
      ${this.loaded && this.agents.length === 0
        ? html`<div class="empty">No agent has registered yet. Start one with <code>intstream agent --runtime URL --name NAME --source pcap:FILE</code>.</div>`
        : nothing}
      ${this.agents.length > 0
        ? html`<div class="table-wrap">
            <table class="grid" data-testid="agents-table">
              <thead>
                <tr>
                  <th>Agent · labels</th><th>Source</th><th>Status</th><th>Last heartbeat</th>
                  <th class="num">CPU</th><th class="num">Memory</th><th class="num">Packets/s</th>
                  <th class="num">Malformed</th><th class="num">Dropped</th>
                </tr>
              </thead>
              <tbody>
                ${this.agents.map((a) => {
                  const h = history.get(a.name) ?? [];
                  const m = a.metrics;
                  return html`<tr data-agent=${a.name}>
                    <td><div class="name">${a.name}</div>
                      <div class="chips">${Object.entries(a.labels).map(([k, v]) => html`<span class="chip">${k}${v ? `=${v}` : ''}</span> `)}</div></td>
                    <td class="mono src" title=${a.source}>${a.source}</td>
                    <td><span class="status ${a.status}">${a.status}</span></td>
                    <td>${fmtAgo(a.lastHeartbeat)}</td>
                    ${this.cell(h, (s) => s.cpu, m.cpu === null ? '–' : `${fmtDec(m.cpu)} %`, PALETTE[0])}
                    ${this.cell(h, (s) => s.memoryBytes, fmtBytes(m.memoryBytes), PALETTE[3])}
                    ${this.cell(h, (s) => s.packetsPerSec, fmtInt(m.packetsPerSec), PALETTE[2])}
                    ${this.cell(h, (s) => s.malformed, fmtInt(m.malformed), PALETTE[1])}
                    ${this.cell(h, (s) => s.dropped, fmtInt(m.dropped), PALETTE[4])}
                  </tr>`;
                })}
              </tbody>
            </table>
          </div>`
        : nothing}
    `;
  }
}

customElements.define('is-agents', IsAgents);
