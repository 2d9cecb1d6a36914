/**
 * <is-int-view>: an int-collector task's events (src/int/collector.ts), shown for INT rather
 * than as a generic table:
 *   - the event stream (new / change / path / periodic / expired), filtered by kind (key.kind:
 *     flow, hop, egress, queue), by event and by id text;
 *   - each picked flow's path drawn hop by hop (the latest flow event's `path`, switch ids in
 *     order), with each hop's latest `hop_latency` (hop events);
 *   - the paths seen over time: a row per flow, a coloured segment per path, a tick at each
 *     `path` event (a path change);
 *   - time charts (uPlot) of the picked flows' `latency`, the picked queues' `occupancy` and the
 *     picked egress ports' `tx_util`, at each event's `ts`.
 * The parent (<is-task>) hands it every result (`rows`, oldest first) and bumps `rev` when they change.
 * Counts and series are also in data-* attributes, for tests and scripts.
 */
import { LitElement, html, nothing, svg } from 'lit';
import type { ResultRow } from './api.ts';
import { PALETTE, type Series } from './charts.ts';
import { fmtWindowTime } from './format.ts';

export const INT_KINDS = ['flow', 'hop', 'egress', 'queue'] as const;
export const INT_EVENTS = ['new', 'change', 'path', 'periodic', 'expired'] as const;
type Kind = (typeof INT_KINDS)[number];

interface IntKey { kind: Kind; src?: string; dst?: string; proto?: number; sport?: number; dport?: number; switch_id?: number; port?: number; queue_id?: number }
interface IntValue { event: string; ts: number; path?: number[]; latency?: number; hop_latency?: number; tx_util?: number; occupancy?: number; congestion?: number; last_seen?: number }
interface Ev { key: IntKey; value: IntValue; id: string; flow: string | null; seq: number }

/** A result of int-collector: no window, a key of one of the four kinds. */
export function isIntRow(r: ResultRow): boolean {
  const k = r.key as { kind?: unknown } | null;
  return r.window === null && !!k && typeof k === 'object' && (INT_KINDS as readonly unknown[]).includes(k.kind);
}

/** A flow as text: "src:sport → dst:dport/proto" (hop keys carry the same ids). */
export function flowIdOf(k: IntKey): string {
  return `${k.src}:${k.sport} → ${k.dst}:${k.dport}/${k.proto}`;
}

/** A key as text, as the filter matches it. */
export function intIdOf(k: IntKey): string {
  switch (k.kind) {
    case 'flow': return flowIdOf(k);
    case 'hop': return `${flowIdOf(k)} @ switch ${k.switch_id}`;
    case 'egress': return `switch ${k.switch_id} port ${k.port}`;
    case 'queue': return `switch ${k.switch_id} queue ${k.queue_id}`;
  }
}

function fmtTs(ts: number): string {
  if (!Number.isFinite(ts)) return '–';
  const whole = Math.floor(ts);
  const frac = (ts - whole).toFixed(3).slice(1);
  return fmtWindowTime(whole).replace(' UTC', `${frac}`).slice(11);
}

function metricsText(v: IntValue): string {
  const parts: string[] = [];
  if (v.path) parts.push(`path ${v.path.join('→')}`);
  for (const f of ['latency', 'hop_latency', 'occupancy', 'congestion', 'tx_util', 'last_seen'] as const) if (typeof v[f] === 'number') parts.push(`${f} ${v[f]}`);
  return parts.join(' · ');
}

const TABLE_MAX = 500;
const TIMELINE_MAX = 60;

/** The points of one chart: a slot per event (events of several keys may share a time), null elsewhere. */
function chartData(picked: string[], events: Map<string, Ev[]>, field: 'latency' | 'occupancy' | 'tx_util'): { xs: number[]; series: Series[]; points: Record<string, number> } {
  const slots: Array<{ ts: number; s: number; v: number }> = [];
  picked.forEach((id, s) => {
    for (const e of events.get(id) ?? []) {
      const v = e.value[field];
      if (typeof v === 'number' && typeof e.value.ts === 'number') slots.push({ ts: e.value.ts, s, v });
    }
  });
  slots.sort((a, b) => a.ts - b.ts || a.s - b.s);
  const series: Series[] = picked.map((id, i) => ({ label: id, values: slots.map(() => null), color: PALETTE[i % PALETTE.length] }));
  slots.forEach((p, i) => { series[p.s].values[i] = p.v; });
  const points: Record<string, number> = {};
  picked.forEach((id, i) => { points[id] = series[i].values.filter((v) => v !== null).length; });
  return { xs: slots.map((p) => p.ts), series, points };
}

export class IsIntView extends LitElement {
  private rowsIn: ResultRow[] = [];
  set rows(v: ResultRow[]) { this.rowsIn = v; this.requestUpdate(); }
  get rows(): ResultRow[] { return this.rowsIn; }
  private revIn = 0;
  set rev(v: number) { if (v !== this.revIn) { this.revIn = v; this.requestUpdate(); } }
  get rev(): number { return this.revIn; }
  streamText = '';
  streamClass = '';

  private kind: Kind | '' = '';
  private event = '';
  private idText = '';
  /** Picked by the user; null: the defaults (the flows with most path changes, the first queues and ports). */
  private flows: string[] | null = null;
  private queues: string[] | null = null;
  private egress: string[] | null = null;

  /** Derived from the rows, recomputed when rev changes. */
  private cacheRev = -1;
  private cacheLen = -1;
  private evs: Ev[] = [];
  private byId = new Map<string, Ev[]>();
  private hopsOf = new Map<string, Map<number, number>>();

  protected createRenderRoot(): HTMLElement {
    return this;
  }

  private derive(): void {
    if (this.cacheRev === this.revIn && this.cacheLen === this.rowsIn.length) return;
    this.cacheRev = this.revIn;
    this.cacheLen = this.rowsIn.length;
    this.evs = [];
    this.byId = new Map();
    this.hopsOf = new Map();
    this.rowsIn.forEach((r, i) => {
      if (!isIntRow(r)) return;
      const key = r.key as IntKey;
      const value = (r.value ?? {}) as IntValue;
      const id = intIdOf(key);
      const flow = key.kind === 'flow' || key.kind === 'hop' ? flowIdOf(key) : null;
      const e: Ev = { key, value, id, flow, seq: r.seq ?? i };
      this.evs.push(e);
      let l = this.byId.get(id);
      if (!l) this.byId.set(id, (l = []));
      l.push(e);
      if (key.kind === 'hop' && flow && typeof value.hop_latency === 'number') {
        let m = this.hopsOf.get(flow);
        if (!m) this.hopsOf.set(flow, (m = new Map()));
        m.set(key.switch_id!, value.hop_latency);
      }
    });
  }

  private idsOf(kind: Kind): string[] {
    const out: string[] = [];
    for (const [id, l] of this.byId) if (l[0].key.kind === kind) out.push(id);
    return out.sort((a, b) => a.localeCompare(b, undefined, { numeric: true }));
  }

  private pathChanges(flow: string): number {
    return (this.byId.get(flow) ?? []).filter((e) => e.value.event === 'path').length;
  }

  private pickedFlows(all: string[]): string[] {
    if (this.flows) return this.flows.filter((f) => all.includes(f));
    return [...all].sort((a, b) => this.pathChanges(b) - this.pathChanges(a) || a.localeCompare(b, undefined, { numeric: true })).slice(0, 2);
  }

  private visible(): Ev[] {
    const t = this.idText.trim().toLowerCase();
    return this.evs.filter((e) => (!this.kind || e.key.kind === this.kind) && (!this.event || e.value.event === this.event) && (!t || e.id.toLowerCase().includes(t)));
  }

  private picker(label: string, testid: string, all: string[], picked: string[], set: (v: string[]) => void): unknown {
    return html`<label class="int-pick">${label}
      <select multiple size=${Math.min(6, Math.max(2, all.length))} data-testid=${testid}
        @change=${(e: Event) => { set([...(e.target as HTMLSelectElement).selectedOptions].map((o) => o.value)); this.requestUpdate(); }}>
        ${all.map((id) => html`<option value=${id} ?selected=${picked.includes(id)}>${id}</option>`)}
      </select></label>`;
  }

  private renderStream(): unknown {
    const rows = this.visible();
    const shown = rows.slice(-TABLE_MAX).reverse();
    return html`<section class="panel" aria-labelledby="h-int-events">
      <div class="panel-head">
        <h2 id="h-int-events">INT events <span class="pill ${this.streamClass}" data-testid="stream-state">${this.streamText}</span></h2>
        <div class="tools">
          <label for="int-kind">Kind</label>
          <select id="int-kind" data-testid="int-kind" @change=${(e: Event) => { this.kind = (e.target as HTMLSelectElement).value as Kind | ''; this.requestUpdate(); }}>
            <option value="" ?selected=${this.kind === ''}>all</option>
            ${INT_KINDS.map((k) => html`<option value=${k} ?selected=${this.kind === k}>${k}</option>`)}
          </select>
          <label for="int-event">Event</label>
          <select id="int-event" data-testid="int-event" @change=${(e: Event) => { this.event = (e.target as HTMLSelectElement).value; this.requestUpdate(); }}>
            <option value="" ?selected=${this.event === ''}>all</option>
            ${INT_EVENTS.map((k) => html`<option value=${k} ?selected=${this.event === k}>${k}</option>`)}
          </select>
          <label for="int-id">Id</label>
          <input id="int-id" type="search" data-testid="int-id" placeholder="address, port, switch" .value=${this.idText} @input=${(e: Event) => { this.idText = (e.target as HTMLInputElement).value; this.requestUpdate(); }} />
        </div>
      </div>
      <p class="hint" data-testid="int-event-count" data-value=${String(rows.length)} data-total=${String(this.evs.length)}>
        ${rows.length === this.evs.length ? `${this.evs.length} events` : `${rows.length} of ${this.evs.length} events match`}${rows.length > TABLE_MAX ? `; the latest ${TABLE_MAX} are shown` : ''}
        · ${INT_EVENTS.map((ev) => `${this.evs.filter((e) => e.value.event === ev).length} ${ev}`).join(', ')}</p>
      <div class="table-wrap results-wrap">
        <table class="grid int-events" data-testid="int-events">
          <thead><tr><th>Time (UTC)</th><th>Event</th><th>Kind</th><th>Id</th><th>Values</th></tr></thead>
          <tbody>
            ${shown.map((e) => html`<tr data-kind=${e.key.kind} data-event=${e.value.event}>
              <td class="mono">${fmtTs(e.value.ts)}</td>
              <td><span class="ev ev-${e.value.event}">${e.value.event}</span></td>
              <td>${e.key.kind}</td>
              <td class="mono">${e.id}</td>
              <td class="mono">${metricsText(e.value)}</td>
            </tr>`)}
          </tbody>
        </table>
      </div>
    </section>`;
  }

  /** The latest path of a flow (its last flow event that carries one). */
  private latestPath(flow: string): number[] | null {
    const l = this.byId.get(flow) ?? [];
    for (let i = l.length - 1; i >= 0; i--) if (Array.isArray(l[i].value.path)) return l[i].value.path!;
    return null;
  }

  private renderPaths(picked: string[], colorOf: (p: string) => string): unknown {
    if (picked.length === 0) return html`<p class="hint">Pick a flow to draw its path.</p>`;
    return picked.map((flow) => {
      const path = this.latestPath(flow) ?? [];
      const hops = this.hopsOf.get(flow);
      return html`<div class="int-path" data-testid="int-path" data-flow=${flow} data-path=${JSON.stringify(path)}>
        <div class="int-path-head"><span class="swatch" style="background:${colorOf(path.join(','))}"></span><span class="mono">${flow}</span>
          <span class="muted">${path.length} hops · ${this.pathChanges(flow)} path changes</span></div>
        <ol class="int-hops">
          ${path.map((sw, i) => html`${i > 0 ? html`<li class="arrow" aria-hidden="true">→</li>` : nothing}<li class="sw" data-switch=${String(sw)}>
            <span class="sw-id">switch ${sw}</span>
            <span class="sw-lat" data-hop-latency=${hops?.has(sw) ? String(hops.get(sw)) : ''}>${hops?.has(sw) ? `${hops.get(sw)} ns` : '–'}</span></li>`)}
        </ol>
      </div>`;
    });
  }

  private renderTimeline(flows: string[], colorOf: (p: string) => string, legend: string[]): unknown {
    let lo = Infinity, hi = -Infinity;
    for (const e of this.evs) if (typeof e.value.ts === 'number') { lo = Math.min(lo, e.value.ts); hi = Math.max(hi, e.value.ts); }
    if (!(hi >= lo)) return html`<p class="hint">No event yet.</p>`;
    const span = Math.max(1e-6, hi - lo);
    const X = (t: number) => ((t - lo) / span) * 1000;
    const shown = [...flows].sort((a, b) => this.pathChanges(b) - this.pathChanges(a) || a.localeCompare(b, undefined, { numeric: true })).slice(0, TIMELINE_MAX);
    return html`<div class="int-timeline" data-testid="int-timeline">
      <div class="int-axis muted"><span>${fmtTs(lo)}</span><span>${fmtTs(hi)}</span></div>
      ${shown.map((flow) => {
        const evs = (this.byId.get(flow) ?? []).filter((e) => Array.isArray(e.value.path) && typeof e.value.ts === 'number');
        // a segment per stretch of one path: a new one at each `path` event
        const segs: Array<{ from: number; to: number; path: string; change: boolean }> = [];
        for (const e of evs) {
          const p = e.value.path!.join(',');
          const last = segs[segs.length - 1];
          if (!last || e.value.event === 'path' || (last.path !== p)) segs.push({ from: e.value.ts, to: e.value.ts, path: p, change: e.value.event === 'path' });
          else last.to = e.value.ts;
        }
        for (let i = 0; i < segs.length; i++) segs[i].to = i + 1 < segs.length ? segs[i + 1].from : Math.max(segs[i].to, hi);
        const changes = segs.filter((s) => s.change).length;
        return html`<div class="int-timeline-row" data-testid="int-path-row" data-flow=${flow} data-changes=${String(changes)} data-segments=${String(segs.length)}>
          <span class="mono int-row-label" title=${flow}>${flow}</span>
          <svg viewBox="0 0 1000 16" preserveAspectRatio="none" role="img" aria-label="paths of ${flow} over time: ${changes} changes">
            ${segs.map((s) => svg`<rect x=${X(s.from)} y="2" width=${Math.max(2, X(s.to) - X(s.from))} height="12" fill=${colorOf(s.path)}><title>path ${s.path.replace(/,/g, '→')} from ${fmtTs(s.from)}</title></rect>`)}
            ${segs.filter((s) => s.change).map((s) => svg`<line class="change" x1=${X(s.from)} x2=${X(s.from)} y1="0" y2="16" stroke="#1d2430" stroke-width="2"></line>`)}
          </svg>
          <span class="int-row-count" data-testid="int-path-changes">${changes} ${changes === 1 ? 'change' : 'changes'}</span>
        </div>`;
      })}
      ${flows.length > shown.length ? html`<p class="hint">${shown.length} of ${flows.length} flows, those with most changes first.</p>` : nothing}
      <p class="hint int-legend">${legend.slice(0, 12).map((p) => html`<span class="swatch" style="background:${colorOf(p)}"></span> ${p.replace(/,/g, '→')} `)}</p>
    </div>`;
  }

  private renderChart(title: string, testid: string, picked: string[], field: 'latency' | 'occupancy' | 'tx_util', unit: string): unknown {
    const d = chartData(picked, this.byId, field);
    return html`<figure><figcaption>${title}</figcaption>
      ${d.xs.length === 0
        ? html`<p class="hint" data-testid=${testid} data-points="{}">${picked.length ? `No ${field} in the picked events.` : 'Pick some above.'}</p>`
        : html`<is-chart data-testid=${testid} data-points=${JSON.stringify(d.points)} .xLabel=${'time'} .yLabel=${unit} .spanGaps=${true} .data=${{ xs: d.xs, series: d.series }}></is-chart>`}
    </figure>`;
  }

  protected render(): unknown {
    this.derive();
    const flows = this.idsOf('flow'), queues = this.idsOf('queue'), egress = this.idsOf('egress');
    const pf = this.pickedFlows(flows);
    const pq = this.queues ? this.queues.filter((q) => queues.includes(q)) : queues.slice(0, 3);
    const pe = this.egress ? this.egress.filter((q) => egress.includes(q)) : egress.slice(0, 3);
    // one colour per distinct path, in the order first seen
    const paths: string[] = [];
    const seen = new Set<string>();
    for (const e of this.evs) if (e.key.kind === 'flow' && Array.isArray(e.value.path)) { const p = e.value.path.join(','); if (!seen.has(p)) { seen.add(p); paths.push(p); } }
    const colorOf = (p: string) => { const i = paths.indexOf(p); return i < 0 ? '#9aa4b1' : PALETTE[i % PALETTE.length]; };
    return html`
      ${this.renderStream()}
      <section class="panel" aria-labelledby="h-int-flows">
        <h2 id="h-int-flows">Flows, paths and queues</h2>
        <div class="int-pickers">
          ${this.picker('Flows', 'int-flows', flows, pf, (v) => { this.flows = v; })}
          ${this.picker('Queues', 'int-queues', queues, pq, (v) => { this.queues = v; })}
          ${this.picker('Egress ports', 'int-egress', egress, pe, (v) => { this.egress = v; })}
        </div>
        <h3>Path of each picked flow (latest)</h3>
        ${this.renderPaths(pf, colorOf)}
        <h3>Paths over time <span class="muted">(a colour per path; a dark tick at each path change)</span></h3>
        ${this.renderTimeline(flows, colorOf, paths)}
      </section>
      <section class="panel" aria-labelledby="h-int-charts">
        <h2 id="h-int-charts">Over time</h2>
        <div class="chart-pair">
          ${this.renderChart('Flow latency (sum of hop latencies)', 'int-chart-latency', pf, 'latency', 'latency')}
          ${this.renderChart('Queue occupancy', 'int-chart-occupancy', pq, 'occupancy', 'occupancy')}
        </div>
        ${this.renderChart('Egress port utilisation (tx_util)', 'int-chart-tx_util', pe, 'tx_util', 'tx_util')}
      </section>`;
  }
}

customElements.define('is-int-view', IsIntView);
