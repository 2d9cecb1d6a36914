/**
 * <is-workers>: every GSP worker the runtime knows (GET /api/v1/workers), with its health (up or
 * down, last heartbeat), its CPU and memory when its heartbeat has them, and per task the
 * partitions of the task's partials topic it holds and its counters: records read, partials
 * received, results out, duplicates, poison records skipped, stale records read ahead.
 * A down worker's tasks are what it last reported: it holds no partition any more.
 */
import { LitElement, html, nothing } from 'lit';
import { api, ApiError, type Worker } from './api.ts';
import { fmtAgo, fmtBytes, fmtDec, fmtInt } from './format.ts';
import { Poller } from './poller.ts';

export class IsWorkers extends LitElement {
  private workers: Worker[] = [];
  private error = '';
  private loaded = false;
  private readonly poller = new Poller(
    async () => {
      this.workers = (await api.workers()).sort((a, b) => a.name.localeCompare(b.name));
      this.error = '';
      this.loaded = true;
      this.requestUpdate();
    },
    2000,
    (e) => {
      // a 401: the page asks to sign in (main.ts)
      this.error = e instanceof ApiError && e.status === 401 ? '' : `Could not load the GSP workers: ${(e as Error).message}`;
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

  private renderTasks(w: Worker): unknown {
    if (w.tasks.length === 0) return html`<span class="hint">no task</span>`;
    const down = w.status !== 'up';
    return html`<table class="grid inner" data-testid="worker-tasks">
      <thead>
        <tr>
          <th>Task</th><th>Partitions</th><th class="num">Records</th><th class="num">Received</th><th class="num">Out</th>
          <th class="num">Duplicates</th><th class="num">Poison</th><th class="num">Stale</th>
        </tr>
      </thead>
      <tbody>
        ${w.tasks.map((t) => html`<tr data-task=${t.id}>
          <td><a href="#/tasks/${encodeURIComponent(t.id)}">${t.id}</a>${t.error ? html`<div class="err" role="note">${t.error}</div>` : nothing}</td>
          <td data-testid="worker-partitions" data-partitions=${t.partitions.join(',')} title=${down ? 'as last reported: a down worker holds no partition' : ''}>
            ${t.partitions.length > 0 ? html`<span class="mono">${t.partitions.join(', ')}</span>${down ? ' (last reported)' : ''}` : html`<span class="hint">none</span>`}
          </td>
          <td class="num">${fmtInt(t.records)}</td>
          <td class="num">${fmtInt(t.received)}</td>
          <td class="num">${fmtInt(t.out)}</td>
          <td class="num">${fmtInt(t.duplicates)}</td>
          <td class="num">${fmtInt(t.poison)}</td>
          <td class="num">${fmtInt(t.stale)}</td>
        </tr>`)}
      </tbody>
    </table>`;
  }

  protected render(): unknown {
    const up = this.workers.filter((w) => w.status === 'up').length;
    return html`
      <h1 tabindex="-1">GSP workers</h1>
      <p class="sub">${this.loaded ? html`${up} up · ${this.workers.length - up} down` : 'Loading…'}</p>
      ${this.error ? html`<div class="banner error" role="alert">${this.error}</div>` : nothing}
      ${this.loaded && this.workers.length === 0
        ? html`<div class="empty">No GSP worker has reported yet. Start one with <code>intstream gsp --kafka HOST:PORT --runtime URL --name NAME</code>.</div>`
        : nothing}
      ${this.workers.length > 0
        ? html`<div class="table-wrap">
            <table class="grid" data-testid="workers-table">
              <thead>
                <tr><th>Worker</th><th>Status</th><th>Last seen</th><th class="num">CPU</th><th class="num">Memory</th><th>Tasks</th></tr>
              </thead>
              <tbody>
                ${this.workers.map((w) => html`<tr data-worker=${w.name}>
                  <td><div class="name">${w.name}</div></td>
                  <td><span class="status ${w.status}" data-testid="worker-status">${w.status}</span></td>
                  <td>${fmtAgo(w.lastSeen)}</td>
                  <td class="num">${w.cpu === null ? '–' : `${fmtDec(w.cpu)} %`}</td>
                  <td class="num">${fmtBytes(w.memoryBytes)}</td>
                  <td class="tasks-cell">${this.renderTasks(w)}</td>
                </tr>`)}
              </tbody>
            </table>
          </div>`
        : nothing}
    `;
  }
}

customElements.define('is-workers', IsWorkers);
