/**
 * <is-tasks>: every task with its status, agents, the four stage counters and the data
 * reduction; a task's name opens it, Stop stops it (signed in only).
 */
import { LitElement, html, nothing } from 'lit';
import { api, ApiError, type Task } from './api.ts';
import { fmtInt, fmtReduction } from './format.ts';
import { Poller } from './poller.ts';

/** Running: its agents are still reading. */
export function isActive(status: string): boolean {
  return status === 'running';
}

/** Only a running task can be stopped: a finished or stopped one shows no Stop. */
export function canStop(status: string): boolean {
  return status === 'running';
}

export function statusBadge(status: string): unknown {
  return html`<span class="status ${status}" data-testid="task-status">${status}</span>`;
}

export class IsTasks extends LitElement {
  private signed = false;
  set signedIn(v: boolean) {
    this.signed = v;
    this.requestUpdate();
  }
  get signedIn(): boolean {
    return this.signed;
  }
  private tasks: Task[] = [];
  private error = '';
  private loaded = false;
  private busy = new Set<string>();
  private readonly poller = new Poller(
    async () => {
      this.tasks = await api.tasks();
      this.tasks.sort((a, b) => (b.createdAt ?? 0) - (a.createdAt ?? 0) || b.id.localeCompare(a.id));
      this.error = '';
      this.loaded = true;
      this.requestUpdate();
    },
    2000,
    (e) => {
      // a 401: the page asks to sign in (main.ts)
      this.error = e instanceof ApiError && e.status === 401 ? '' : `Could not load the tasks: ${(e as Error).message}`;
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

  private async stop(t: Task): Promise<void> {
    this.busy.add(t.id);
    this.requestUpdate();
    try {
      await api.stop(t.id);
    } catch (e) {
      this.error = `Could not stop ${t.name}: ${(e as Error).message}`;
    }
    this.busy.delete(t.id);
    await this.poller.now();
  }

  protected render(): unknown {
    return html`
      <h1 tabindex="-1">Tasks</h1>
      <p class="sub">${this.loaded ? `${this.tasks.filter((t) => isActive(t.status)).length} running · ${this.tasks.length} in all` : 'Loading…'}
        ${this.signedIn ? html` · <a href="#/submit">submit a new task</a>` : nothing}</p>
      ${this.error ? html`<div class="banner error" role="alert">${this.error}</div>` : nothing}
      ${this.loaded && this.tasks.length === 0 ? html`<div class="empty">No task yet.</div>` : nothing}
      ${this.tasks.length > 0
        ? html`<div class="table-wrap"><table class="grid" data-testid="tasks-table">
            <thead><tr>
              <th>Task</th><th>Status</th><th>Agents</th>
              <th class="num">Items read</th><th class="num">After filter</th><th class="num">Left local stage</th><th class="num">Left global stage</th>
              <th class="num">Reduction</th><th><span class="visually-hidden">Actions</span></th>
            </tr></thead>
            <tbody>
              ${this.tasks.map(
                (t) => html`<tr data-task=${t.id}>
                  <td class="name"><a href="#/tasks/${encodeURIComponent(t.id)}">${t.name}</a> <span class="muted mono">${t.id}</span></td>
                  <td>${statusBadge(t.status)}</td>
                  <td>${t.agents.join(', ') || '–'}</td>
                  <td class="num">${fmtInt(t.counters.items_read)}</td>
                  <td class="num">${fmtInt(t.counters.after_filter)}</td>
                  <td class="num">${fmtInt(t.counters.local_out)}</td>
                  <td class="num">${fmtInt(t.counters.global_out)}</td>
                  <td class="num strong" data-testid="task-reduction">${t.name === 'int-collector' || (t.counters.data_reduction !== null && t.counters.data_reduction < 0)
                    ? html`<span class="muted" title="events left the global stage / items read">${t.counters.items_read > 0 ? (t.counters.global_out / t.counters.items_read).toFixed(2) : '–'} events/report</span>`
                    : fmtReduction(t.counters.data_reduction)}</td>
                  <td>${this.signedIn && canStop(t.status)
                    ? html`<button class="danger small" ?disabled=${this.busy.has(t.id)} @click=${() => this.stop(t)} aria-label="Stop ${t.name} ${t.id}">Stop</button>`
                    : nothing}</td>
                </tr>`,
              )}
            </tbody>
          </table></div>`
        : nothing}
    `;
  }
}

customElements.define('is-tasks', IsTasks);
