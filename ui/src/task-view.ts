/**
 * <is-task>: one task. Its status, agents and the counters of each stage (items read, after the
 * pushed-down filter, leaving the local stage, leaving the global stage) with the data
 * reduction, as numbers and per window as charts (stage counts on a log axis, and the reduction);
 * its results live from the API's server-sent events: a sortable, filterable table, a time chart
 * of the top N keys' numeric values, and a JSON Lines download. Stop when signed in.
 */
import { LitElement, html, nothing } from 'lit';
import { api, ApiError, normalizeTask, type ResultRow, type Task, type WindowRow } from './api.ts';
import type { Series } from './charts.ts';
import { fmtInt, fmtKey, fmtReduction, fmtValue, fmtWindowTime } from './format.ts';
import { isIntRow } from './int-view.ts';
import { Poller } from './poller.ts';
import { canStop, isActive, statusBadge } from './tasks-view.ts';

/** A window's start as a short axis label: the time of day, with the date when windows span days. */
function fmtWindowLabel(start: number, all: Array<{ start: number }>): string {
  const full = fmtWindowTime(start).replace(' UTC', '');
  const oneDay = all.length > 0 && all[all.length - 1].start - all[0].start < 86400 && new Date(all[0].start * 1000).getUTCDate() === new Date(all[all.length - 1].start * 1000).getUTCDate();
  return oneDay ? full.slice(11) : full;
}

type SortCol = 'window' | 'key' | 'value';

/** Where a result sorts in time: its window's start, or an event's own time (value.ts). */
function timeOf(r: ResultRow): number {
  if (r.window) return r.window.start;
  const ts = (r.value as { ts?: unknown } | null)?.ts;
  return typeof ts === 'number' ? ts : -Infinity;
}

/** The text of a result's time: its window, or "event" and the event's time. */
function fmtWhen(r: ResultRow): string {
  if (r.window) return fmtWindowTime(r.window.start);
  const t = timeOf(r);
  return Number.isFinite(t) ? `event ${fmtWindowTime(Math.floor(t))}` : 'event';
}

/** Events per report as text: results leaving the global stage per item read. */
export function fmtPerReport(r: number | null): string {
  return r === null || !Number.isFinite(r) ? '–' : r.toFixed(2);
}
const TABLE_MAX = 500;

function compare(a: unknown, b: unknown): number {
  if (typeof a === 'number' && typeof b === 'number') return a - b;
  return fmtKey(a).localeCompare(fmtKey(b), undefined, { numeric: true });
}

export class IsTask extends LitElement {
  private signed = false;
  set signedIn(v: boolean) {
    this.signed = v;
    this.requestUpdate();
  }
  get signedIn(): boolean {
    return this.signed;
  }
  private tid = '';
  set taskId(v: string) {
    if (v === this.tid) return;
    this.tid = v;
    this.reset();
    if (this.isConnected) this.open();
  }
  get taskId(): string {
    return this.tid;
  }

  private task: Task | null = null;
  /** The task's counters at each poll, for the over-time chart when there are none per window. */
  private samples: Array<{ t: number } & Task['counters']> = [];
  private rows: ResultRow[] = [];
  /** The stage counters per window, from the runtime (GET /tasks/{id}/windows), polled with the task. */
  private windows: WindowRow[] = [];
  private seenIds = new Set<string>();
  /** Bumped when rows change, so that views given the same array redraw. */
  private rowsRev = 0;
  private streamState: 'connecting' | 'live' | 'ended' | 'error' = 'connecting';
  private source: { close(): void } | null = null;
  private error = '';
  private stopping = false;
  private sortCol: SortCol = 'window';
  private sortDesc = false;
  private filterText = '';
  private topN = 5;
  private renderQueued = false;
  private readonly poller = new Poller(
    async () => {
      this.setTask(await api.task(this.tid));
      try {
        this.windows = await api.windows(this.tid);
      } catch {
        /* keep the last ones: the counters above still show */
      }
      this.error = '';
      this.requestUpdate();
    },
    3000,
    (e) => {
      this.error = e instanceof ApiError && e.status === 404 ? `No task ${this.tid}.` : e instanceof ApiError && e.status === 401 ? '' : `Could not load the task: ${(e as Error).message}`;
      this.requestUpdate();
    },
  );

  /** A new view of the task (a poll, or a `counters` event): keep a sample for the chart. */
  private setTask(task: Task): void {
    this.task = task;
    const last = this.samples[this.samples.length - 1];
      const c = this.task.counters;
      if (!last || last.items_read !== c.items_read || last.local_out !== c.local_out || last.global_out !== c.global_out || isActive(this.task.status)) {
        this.samples.push({ t: Date.now() / 1000, ...c });
        if (this.samples.length > 400) this.samples.splice(0, this.samples.length - 400);
      }
  }

  protected createRenderRoot(): HTMLElement {
    return this;
  }

  connectedCallback(): void {
    super.connectedCallback();
    this.open();
  }

  disconnectedCallback(): void {
    this.poller.stop();
    this.closeStream('ended');
    super.disconnectedCallback();
  }

  private reset(): void {
    this.poller.stop();
    this.closeStream('connecting');
    this.task = null;
    this.samples = [];
    this.windows = [];
    this.rows = [];
    this.seenIds.clear();
  }

  private open(): void {
    if (!this.tid) return;
    this.poller.start();
    this.openStream();
    void this.loadStored(this.tid);
  }

  /**
   * Every stored result (the stream starts with the latest 1000 only): merged with what the
   * stream brought, by sequence number, oldest first.
   */
  private async loadStored(tid: string): Promise<void> {
    let stored: ResultRow[];
    try {
      stored = await api.storedResults(tid);
    } catch {
      return; // the stream's results still show
    }
    if (tid !== this.tid) return;
    let added = 0;
    for (const r of stored) {
      if (r.seq === undefined || this.seenIds.has(String(r.seq))) continue;
      this.seenIds.add(String(r.seq));
      this.rows.push(r);
      added++;
    }
    if (added === 0) return;
    this.rows.sort((a, b) => (a.seq ?? Infinity) - (b.seq ?? Infinity));
    this.rowsRev++;
    this.queueRender();
  }

  /** A task of events (results of no window, like int-collector's): no data reduction to speak of. */
  private get eventTask(): boolean {
    return this.task?.name === 'int-collector' || this.rows.some((r) => r.window === null);
  }

  private get intTask(): boolean {
    return this.task?.name === 'int-collector' || this.rows.some(isIntRow);
  }

  private openStream(): void {
    this.closeStream('connecting');
    this.source = api.events(this.tid, {
      open: () => {
        this.streamState = 'live';
        this.queueRender();
      },
      event: (name, data, id) => {
        if (name === 'result' || name === 'message') this.onResult(data, id);
        else if (name === 'counters') {
          try {
            this.setTask(normalizeTask(JSON.parse(data)));
            this.queueRender();
          } catch {
            /* a malformed event changes nothing */
          }
        } else if (name === 'end' || name === 'done' || name === 'eof') this.closeStream('ended');
      },
      // reconnects by itself, asking for the results after the last one seen
      error: () => {
        this.streamState = 'error';
        this.queueRender();
      },
    });
  }

  private closeStream(state: IsTask['streamState']): void {
    this.source?.close();
    this.source = null;
    this.streamState = state;
    this.queueRender();
  }

  private onResult(text: string, id: string | null): void {
    if (id) {
      if (this.seenIds.has(id)) return;
      this.seenIds.add(id);
    }
    let data: unknown;
    try {
      data = JSON.parse(text);
    } catch {
      return;
    }
    const items = Array.isArray(data) ? data : data && typeof data === 'object' && Array.isArray((data as any).results) ? (data as any).results : [data];
    for (const r of items) {
      if (!r || typeof r !== 'object' || !('key' in r || 'value' in r)) continue;
      const { task, window, key, value } = r as ResultRow;
      const seq = typeof (r as any).seq === 'number' ? (r as any).seq : id !== null && /^\d+$/.test(id) ? Number(id) : undefined;
      if (seq !== undefined && items.length > 1) {
        if (this.seenIds.has(String(seq))) continue;
        this.seenIds.add(String(seq));
      }
      this.rows.push({ task, window: window ?? null, key, value, seq });
    }
    this.rowsRev++;
    this.queueRender();
  }

  /** Many results can arrive at once: draw at most once per frame. */
  private queueRender(): void {
    if (this.renderQueued) return;
    this.renderQueued = true;
    requestAnimationFrame(() => {
      this.renderQueued = false;
      this.requestUpdate();
    });
  }

  private async stop(): Promise<void> {
    this.stopping = true;
    this.requestUpdate();
    try {
      await api.stop(this.tid);
    } catch (e) {
      this.error = `Could not stop the task: ${(e as Error).message}`;
    }
    this.stopping = false;
    await this.poller.now();
  }

  /** All results from the API (the live stream starts with the latest 1000 only), as JSON Lines. */
  private async download(): Promise<void> {
    let rows = this.rows;
    try {
      rows = await api.allResults(this.tid);
    } catch {
      /* offer what the page has */
    }
    const text = rows.map((r) => JSON.stringify(r)).join('\n') + (rows.length ? '\n' : '');
    const url = URL.createObjectURL(new Blob([text], { type: 'application/x-ndjson' }));
    const a = document.createElement('a');
    a.href = url;
    a.download = `${this.task?.name ?? 'task'}-${this.tid}.jsonl`;
    document.body.append(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 1000);
  }

  private sortBy(col: SortCol): void {
    if (this.sortCol === col) this.sortDesc = !this.sortDesc;
    else {
      this.sortCol = col;
      this.sortDesc = col === 'value';
    }
    this.requestUpdate();
  }

  private visibleRows(): ResultRow[] {
    const f = this.filterText.trim().toLowerCase();
    const rows = f ? this.rows.filter((r) => fmtKey(r.key).toLowerCase().includes(f) || fmtValue(r.value).toLowerCase().includes(f) || fmtWhen(r).toLowerCase().includes(f)) : this.rows.slice();
    const dir = this.sortDesc ? -1 : 1;
    const col = this.sortCol;
    rows.sort((a, b) => {
      const c = col === 'window' ? timeOf(a) - timeOf(b) || (a.window?.end ?? 0) - (b.window?.end ?? 0) : col === 'key' ? compare(a.key, b.key) : compare(a.value, b.value);
      return c * dir || timeOf(a) - timeOf(b) || compare(a.key, b.key);
    });
    return rows;
  }

  private renderCounters(t: Task): unknown {
    const c = t.counters;
    const stages: Array<[string, string, number]> = [
      ['items_read', 'Items read', c.items_read],
      ['after_filter', 'After pushed-down filter', c.after_filter],
      ['local_out', 'Left the local stage', c.local_out],
      ['global_out', 'Left the global stage', c.global_out],
    ];
    const max = Math.max(1, c.items_read);
    return html`<section class="panel" aria-labelledby="h-counters">
      <h2 id="h-counters">Stages</h2>
      <div class="funnel">
        ${stages.map(
          ([k, label, v]) => html`<div class="stage" data-testid="counter-${k}" data-value=${String(v)}>
            <div class="stage-label">${label}</div>
            <div class="stage-value">${fmtInt(v)}</div>
            <div class="bar" aria-hidden="true"><span style="width:${v > 0 ? Math.max(0.5, (Math.log10(v + 1) / Math.log10(max + 1)) * 100) : 0}%"></span></div>
          </div>`,
        )}
        ${this.eventTask
          ? html`<div class="stage per-report" data-testid="counter-events_per_report" data-value=${String(c.items_read > 0 ? c.global_out / c.items_read : '')}>
              <div class="stage-label">Events per report</div>
              <div class="stage-value">${fmtPerReport(c.items_read > 0 ? c.global_out / c.items_read : null)}</div>
              <div class="hint">events left the global stage / items read: an event task has no data reduction</div>
            </div>`
          : html`<div class="stage reduction ${c.data_reduction !== null && c.data_reduction < 0 ? 'negative' : ''}" data-testid="counter-data_reduction" data-value=${String(c.data_reduction ?? '')}>
              <div class="stage-label">${c.data_reduction !== null && c.data_reduction < 0 ? 'Data growth' : 'Data reduction'}</div>
              <div class="stage-value">${fmtReduction(c.data_reduction)}</div>
              <div class="hint">1 − left local stage / items read</div>
            </div>`}
      </div>
    </section>`;
  }

  /**
   * The paper's per-window view: items read, after the pushed-down filter, leaving the local and
   * the global stage in each window (log scale; a zero is a gap), and the data reduction per
   * window. The series are also in the chart's data-series attribute, for tests and scripts.
   */
  private renderWindows(): unknown {
    const ws = this.windows;
    if (ws.length === 0) return this.renderOverTime();
    const cats = ws.map((w) => fmtWindowLabel(w.start, ws));
    const xs = ws.map((_w, i) => i);
    const series = {
      start: ws.map((w) => w.start),
      read: ws.map((w) => w.read),
      after_filter: ws.map((w) => w.after_filter),
      local_out: ws.map((w) => w.local_out),
      global_out: ws.map((w) => w.global_out),
      reduction: ws.map((w) => w.reduction),
    };
    const size = ws[0].end - ws[0].start;
    if (this.eventTask) {
      return html`<figure><figcaption>Items per stage, per ${size} s window (log scale)</figcaption>
        <is-chart data-testid="chart-window-stages" data-series=${JSON.stringify(series)} .log=${true} .categories=${cats} .data=${{ xs, series: [
          { label: 'items read', values: series.read },
          { label: 'after filter', values: series.after_filter },
          { label: 'left local stage', values: series.local_out },
          { label: 'left global stage', values: series.global_out },
        ] }}></is-chart>
        <p class="hint">${ws.length} windows; the task's results are events (no window), so no reduction is drawn.</p></figure>`;
    }
    return html`<div class="chart-pair">
      <figure><figcaption>Items per stage, per ${size} s window (log scale)</figcaption>
        <is-chart data-testid="chart-window-stages" data-series=${JSON.stringify(series)} .log=${true} .categories=${cats} .data=${{ xs, series: [
          { label: 'items read', values: series.read },
          { label: 'after filter', values: series.after_filter },
          { label: 'left local stage', values: series.local_out },
          { label: 'left global stage', values: series.global_out },
        ] }}></is-chart>
        <p class="hint">${ws.length} windows; a window without items at a stage has no point there.</p></figure>
      <figure><figcaption>Data reduction per window (%)</figcaption>
        <is-chart data-testid="chart-window-reduction" data-series=${JSON.stringify({ start: series.start, reduction: series.reduction })} .categories=${cats} .data=${{ xs, series: [
          { label: 'reduction %', values: ws.map((w) => (w.reduction === null ? null : Math.round(w.reduction * 10000) / 100)), color: '#945ecf' },
        ] }}></is-chart>
        <p class="hint">1 − left local stage / items read, in each window.</p></figure>
    </div>`;
  }

  /** Without counters per window: the stage counters as this page saw them grow, and the results per window. */
  private renderOverTime(): unknown {
    const sm = this.samples;
    const perWindow = new Map<number, number>();
    for (const r of this.rows) if (r.window) perWindow.set(r.window.start, (perWindow.get(r.window.start) ?? 0) + 1);
    const starts = [...perWindow.keys()].sort((a, b) => a - b);
    const all = starts.map((s) => ({ start: s }));
    const c = this.task?.counters;
    const stages = c ? [c.items_read, c.after_filter, c.local_out, c.global_out] : [];
    // Over time only when the task ran long enough for that to say something (a live source).
    const overTime = sm.length >= 3 && sm[sm.length - 1].t - sm[0].t >= 10;
    return html`<div class="chart-pair">
      <figure><figcaption>${overTime ? 'Items per stage while the task ran (log scale)' : 'Items per stage (log scale)'}</figcaption>
        ${overTime
          ? html`<is-chart data-testid="chart-stages" .log=${true} .xLabel=${'time'} .data=${{ xs: sm.map((x) => x.t), series: [
              { label: 'items read', values: sm.map((x) => x.items_read) },
              { label: 'after filter', values: sm.map((x) => x.after_filter) },
              { label: 'left local stage', values: sm.map((x) => x.local_out) },
              { label: 'left global stage', values: sm.map((x) => x.global_out) },
            ] }}></is-chart>`
          : html`<is-chart data-testid="chart-stages" .log=${true} .bars=${true} .xLabel=${'stage'} .categories=${['items read', 'after filter', 'left local stage', 'left global stage']}
              .data=${{ xs: [0, 1, 2, 3], series: [{ label: 'items', values: stages }] }}></is-chart>`}
        <p class="hint">No window has been counted yet: these are the task's totals.</p></figure>
      <figure><figcaption>Results leaving the global stage, per window</figcaption>
        ${starts.length === 0
          ? html`<p class="hint">${this.rows.length > 0 ? `The ${this.rows.length} results are events, of no window.` : 'No window has closed yet.'}</p>`
          : html`<is-chart data-testid="chart-windows" .bars=${true} .categories=${starts.map((s) => fmtWindowLabel(s, all))} .data=${{ xs: starts.map((_s, i) => i), series: [{ label: 'results', values: starts.map((s) => perWindow.get(s)!), color: '#945ecf' }] }}></is-chart>`}</figure>
    </div>`;
  }

  private renderResultsChart(): unknown {
    const numeric = this.rows.filter((r): r is ResultRow & { window: { start: number; end: number } } => typeof r.value === 'number' && r.window !== null);
    if (numeric.length === 0) return html`<p class="hint">${this.rows.length ? 'The values are not numbers of windows: no time chart.' : 'No result yet.'}</p>`;
    const totals = new Map<string, number>();
    for (const r of numeric) totals.set(fmtKey(r.key), (totals.get(fmtKey(r.key)) ?? 0) + (r.value as number));
    const keys = [...totals.entries()].sort((a, b) => b[1] - a[1]).slice(0, this.topN).map(([k]) => k);
    const starts = [...new Set(numeric.map((r) => r.window.start))].sort((a, b) => a - b);
    const index = new Map(starts.map((x, i) => [x, i]));
    const xs = starts.map((_x, i) => i);
    const cats = starts.map((s) => fmtWindowLabel(s, starts.map((x) => ({ start: x }))));
    const series: Series[] = keys.map((k) => ({ label: k, values: xs.map(() => null) }));
    const byKey = new Map(keys.map((k, i) => [k, series[i]]));
    for (const r of numeric) {
      const s = byKey.get(fmtKey(r.key));
      if (s) s.values[index.get(r.window.start)!] = ((s.values[index.get(r.window.start)!] as number | null) ?? 0) + (r.value as number);
    }
    return html`<figure><figcaption>Value per window, top ${keys.length} of ${totals.size} keys</figcaption>
      <is-chart data-testid="chart-results" .categories=${cats} .data=${{ xs, series }}></is-chart></figure>`;
  }

  private renderResults(): unknown {
    const rows = this.visibleRows();
    const shown = rows.slice(0, TABLE_MAX);
    const th = (col: SortCol, label: string, cls = '') => {
      const on = this.sortCol === col;
      return html`<th class=${cls} aria-sort=${on ? (this.sortDesc ? 'descending' : 'ascending') : 'none'}>
        <button class="sort" @click=${() => this.sortBy(col)}>${label} <span aria-hidden="true">${on ? (this.sortDesc ? '▼' : '▲') : '↕'}</span></button></th>`;
    };
    const stateText = this.streamText();
    return html`<section class="panel" aria-labelledby="h-results">
      <div class="panel-head">
        <h2 id="h-results">Results <span class="pill ${this.streamClass()}" data-testid="stream-state">${stateText}</span></h2>
        <div class="tools">
          <label for="topn">Top</label>
          <input id="topn" type="number" min="1" max="20" .value=${String(this.topN)} @input=${(e: Event) => { this.topN = Math.max(1, Math.min(20, Number((e.target as HTMLInputElement).value) || 5)); this.requestUpdate(); }} />
          <label for="filter">Filter</label>
          <input id="filter" type="search" placeholder="key, value or time" .value=${this.filterText} @input=${(e: Event) => { this.filterText = (e.target as HTMLInputElement).value; this.requestUpdate(); }} />
          <button class="secondary" @click=${this.download} ?disabled=${this.rows.length === 0}>Download JSON Lines</button>
        </div>
      </div>
      ${this.renderResultsChart()}
      <div class="table-wrap results-wrap">
        <table class="grid" data-testid="results-table">
          <thead><tr>${th('window', 'Window (UTC)')}${th('key', 'Key')}${th('value', 'Value', 'num')}</tr></thead>
          <tbody>
            ${shown.map(
              (r) => html`<tr data-key=${fmtKey(r.key)} data-value=${typeof r.value === 'number' ? String(r.value) : JSON.stringify(r.value)} data-start=${r.window ? String(r.window.start) : ''}>
                <td class="mono">${r.window ? html`${fmtWindowTime(r.window.start)} <span class="muted">+${r.window.end - r.window.start} s</span>` : fmtWhen(r)}</td>
                <td class="mono">${fmtKey(r.key)}</td>
                <td class="num mono">${fmtValue(r.value)}</td>
              </tr>`,
            )}
          </tbody>
        </table>
      </div>
      <p class="hint" data-testid="results-count">${rows.length === this.rows.length ? `${this.rows.length} results` : `${rows.length} of ${this.rows.length} results match`}${rows.length > TABLE_MAX ? `; the first ${TABLE_MAX} are shown` : ''}</p>
    </section>`;
  }

  /** The stream's state; a task that is no longer running is not "live", whatever the stream. */
  private streamText(): string {
    const st = this.task?.status;
    if (st && !isActive(st) && this.streamState !== 'error') return st;
    return { connecting: 'connecting…', live: 'live', ended: 'closed', error: 'reconnecting…' }[this.streamState];
  }

  private streamClass(): string {
    const st = this.task?.status;
    return st && !isActive(st) ? 'ended' : this.streamState;
  }

  protected render(): unknown {
    const t = this.task;
    return html`
      <p class="crumbs"><a href="#/tasks">Tasks</a> ›</p>
      <div class="title-row">
        <h1 tabindex="-1">${t ? t.name : this.tid} ${t ? statusBadge(t.status) : nothing}</h1>
        ${t && this.signedIn && canStop(t.status)
          ? html`<button class="danger" data-testid="stop-task" ?disabled=${this.stopping} @click=${this.stop}>${this.stopping ? 'Stopping…' : 'Stop task'}</button>`
          : nothing}
      </div>
      ${t ? html`<p class="sub"><span class="mono">${t.id}</span> · agents: ${t.agents.join(', ') || '–'}</p>` : nothing}
      ${this.error ? html`<div class="banner error" role="alert">${this.error}</div>` : nothing}
      ${t?.error ? html`<div class="banner error" role="alert">${t.error}</div>` : nothing}
      ${t ? this.renderCounters(t) : nothing}
      <section class="panel" aria-labelledby="h-windows"><h2 id="h-windows">${this.eventTask ? 'Items per stage' : 'Data reduction'}</h2>${this.renderWindows()}</section>
      ${this.intTask
        ? html`<is-int-view .rows=${this.rows} .rev=${this.rowsRev} .streamText=${this.streamText()} .streamClass=${this.streamClass()}></is-int-view>`
        : this.renderResults()}
    `;
  }
}

customElements.define('is-task', IsTask);
