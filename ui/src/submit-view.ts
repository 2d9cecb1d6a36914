/**
 * <is-submit>: start a task. Either a built-in application with its parameters as a form, or a
 * query file written or pasted into a TypeScript editor. Then the agents (all, by name, by
 * label) and Submit. A query file's parameters (those its `params` declares) are given as
 * `name=value` lines, sent as the task's `params` like `intstream run FILE -p name=value`. A task that fails to load or validate comes back as a 4xx from the API: the
 * message is shown with its line, the line is marked in the editor, and nothing was started.
 */
import { LitElement, html, nothing } from 'lit';
import { api, ApiError, type Agent, type App, type AgentSelector, type SubmitRequest } from './api.ts';
import type { IsEditor } from './editor.ts';

const TEMPLATE = `// A query file: the same programming model as the built-in applications.
import { defineTask, count } from 'intstream';

export default defineTask({
  name: 'syn-per-port',
  description: 'SYNs per destination port',
  params: { min: { default: 10, description: 'report ports with more SYNs than this' } },
  query: (packets, p) =>
    packets
      .filter('tcp.syn and not tcp.ack_flag')   // pushed down into the source
      .key((pkt) => pkt.tcp!.dport)
      .window(p.window)
      .aggregate(count())
      .global()                                 // local stage above, global stage below
      .merge()
      .filter((r) => r.value > p.min),
});
`;

type Mode = 'app' | 'code';

/** `name=value` lines (blank lines and `#` comments skipped) as params; throws on a line without `=`. */
export function parseParams(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  text.split('\n').forEach((raw, i) => {
    const line = raw.trim();
    if (!line || line.startsWith('#')) return;
    const eq = line.indexOf('=');
    const name = eq < 0 ? '' : line.slice(0, eq).trim();
    if (!/^[A-Za-z_][A-Za-z0-9_.-]*$/.test(name)) throw new Error(`Parameters, line ${i + 1}: "${line}" is not name=value`);
    out[name] = line.slice(eq + 1).trim();
  });
  return out;
}
type AgentMode = 'all' | 'names' | 'labels';

export class IsSubmit extends LitElement {
  private signed = false;
  set signedIn(v: boolean) {
    this.signed = v;
    this.requestUpdate();
  }
  get signedIn(): boolean {
    return this.signed;
  }
  private mode: Mode = 'app';
  private apps: App[] = [];
  private agents: Agent[] = [];
  private appName = 'tcp-new-conn';
  private paramValues = new Map<string, string>();
  private agentMode: AgentMode = 'all';
  private chosen = new Set<string>();
  private labelText = '';
  private windowText = '10';
  private error: ApiError | Error | null = null;
  private submitting = false;
  private loadError = '';
  private code = TEMPLATE;
  /** The query file's parameters, `name=value` per line. */
  private codeParamsText = '';

  protected createRenderRoot(): HTMLElement {
    return this;
  }

  connectedCallback(): void {
    super.connectedCallback();
    void this.load();
  }

  private async load(): Promise<void> {
    try {
      const [apps, agents] = await Promise.all([api.apps(), api.agents()]);
      this.apps = apps.sort((a, b) => a.name.localeCompare(b.name));
      this.agents = agents.sort((a, b) => a.name.localeCompare(b.name));
      if (!this.apps.some((a) => a.name === this.appName) && this.apps.length > 0) this.appName = this.apps[0].name;
    } catch (e) {
      this.loadError = `Could not load the applications and agents: ${(e as Error).message}`;
    }
    this.requestUpdate();
  }

  private get app(): App | undefined {
    return this.apps.find((a) => a.name === this.appName);
  }

  private paramValue(name: string, def: unknown): string {
    return this.paramValues.get(name) ?? (def === undefined || def === null ? '' : typeof def === 'object' ? JSON.stringify(def) : String(def));
  }

  private selector(): AgentSelector {
    if (this.agentMode === 'names') return { names: [...this.chosen] };
    if (this.agentMode === 'labels') {
      const labels: Record<string, string> = {};
      for (const part of this.labelText.split(/[,\s]+/).filter(Boolean)) {
        const [k, ...v] = part.split('=');
        labels[k] = v.join('=');
      }
      return { labels };
    }
    return { all: true };
  }

  private matchingAgents(): Agent[] {
    const sel = this.selector();
    if (sel.names) return this.agents.filter((a) => this.chosen.has(a.name));
    if (sel.labels) return this.agents.filter((a) => Object.entries(sel.labels!).every(([k, v]) => k in a.labels && (v === '' || a.labels[k] === v)));
    return this.agents;
  }

  private async submit(e: Event): Promise<void> {
    e.preventDefault();
    if (!this.signedIn || this.submitting) return;
    const editor = this.querySelector<IsEditor>('is-editor');
    editor?.markLine(null);
    const params: Record<string, string> = {};
    const req: SubmitRequest = { params, agents: this.selector() };
    const win = Number(this.windowText);
    if (this.windowText.trim() !== '' && Number.isFinite(win) && win > 0) req.window = win;
    if (this.mode === 'app') {
      req.app = this.appName;
      // Only what the user changed: the application's own defaults stay the runtime's business.
      for (const p of this.app?.params ?? []) {
        const v = this.paramValue(p.name, p.default);
        if (v !== this.paramValue('\u0000', p.default)) params[p.name] = v;
      }
    } else {
      req.code = editor?.value ?? '';
      try {
        Object.assign(params, parseParams(this.codeParamsText));
      } catch (err) {
        this.error = err as Error;
        this.requestUpdate();
        await this.updateComplete;
        this.querySelector<HTMLElement>('.submit-error')?.focus();
        return;
      }
    }
    this.submitting = true;
    this.error = null;
    this.requestUpdate();
    try {
      const task = await api.submit(req);
      location.hash = `#/tasks/${encodeURIComponent(task.id)}`;
    } catch (err) {
      this.error = err as Error;
      if (err instanceof ApiError && this.mode === 'code' && editor) {
        // A filter error names the filter, not the line: find the filter's text in the file.
        const f = /filter "([^"]+)"/.exec(err.message);
        if (err.line === null && f) {
          const idx = editor.value.split('\n').findIndex((l) => l.includes(f[1]));
          if (idx >= 0) err.line = idx + 1;
        }
        if (err.line !== null) editor.markLine(err.line);
      }
      await this.updateComplete;
      this.querySelector<HTMLElement>('.submit-error')?.focus();
    }
    this.submitting = false;
    this.requestUpdate();
  }

  private setMode(m: Mode): void {
    // CodeMirror is most of the bundle: fetched only when a query file is written.
    if (m === 'code') void import('./editor.ts');
    const editor = this.querySelector<IsEditor>('is-editor');
    if (editor) this.code = editor.value;
    this.mode = m;
    this.error = null;
    this.requestUpdate();
  }

  private loadAppSource(): void {
    const src = this.app?.source;
    const editor = this.querySelector<IsEditor>('is-editor');
    if (src && editor) editor.value = src;
  }

  private renderAppForm(): unknown {
    const app = this.app;
    return html`
      <div class="field">
        <label for="app">Application</label>
        <select id="app" name="app" @change=${(e: Event) => { this.appName = (e.target as HTMLSelectElement).value; this.paramValues.clear(); this.requestUpdate(); }}>
          ${this.apps.map((a) => html`<option value=${a.name} ?selected=${a.name === this.appName}>${a.name}</option>`)}
        </select>
        ${app ? html`<p class="hint">${app.description}${app.output ? html` — key <code>${app.output.key}</code>, value: ${app.output.value}` : nothing}</p>` : nothing}
      </div>
      ${app && app.params.length > 0
        ? html`<fieldset class="params"><legend>Parameters</legend>
            ${app.params.map((p) => {
              const id = `param-${p.name}`;
              const v = this.paramValue(p.name, p.default);
              const set = (e: Event) => { const t = e.target as HTMLInputElement; this.paramValues.set(p.name, t.type === 'checkbox' ? String(t.checked) : t.value); };
              return html`<div class="field inline">
                <label for=${id}>${p.name}</label>
                ${typeof p.default === 'boolean'
                  ? html`<input id=${id} name=${p.name} type="checkbox" .checked=${v === 'true'} @change=${set} aria-describedby="${id}-d" />`
                  : html`<input id=${id} name=${p.name} type=${typeof p.default === 'number' ? 'number' : 'text'} step="any" .value=${v} @input=${set} aria-describedby="${id}-d" />`}
                <span class="hint" id="${id}-d">${p.description} (default ${JSON.stringify(p.default)})</span>
              </div>`;
            })}
          </fieldset>`
        : nothing}
    `;
  }

  private renderCode(): unknown {
    return html`
      <div class="field">
        <div class="label-row">
          <label id="code-label">Query file (TypeScript)</label>
          ${this.app?.source ? html`<button type="button" class="secondary small" @click=${this.loadAppSource}>Start from ${this.appName}</button>` : nothing}
        </div>
        <is-editor .value=${this.code} aria-labelledby="code-label"></is-editor>
        <p class="hint">Tab indents inside the editor; press Esc then Tab to move on.</p>
      </div>
      <div class="field">
        <label for="code-params">Parameters</label>
        <textarea id="code-params" name="code-params" rows="3" spellcheck="false" class="mono" placeholder="min=20" aria-describedby="code-params-d"
          .value=${this.codeParamsText} @input=${(e: Event) => { this.codeParamsText = (e.target as HTMLTextAreaElement).value; }}></textarea>
        <p class="hint" id="code-params-d">One <code>name=value</code> per line, for the parameters the file's <code>params</code> declares (as <code>intstream run FILE -p name=value</code>); the others keep their defaults.</p>
      </div>
    `;
  }

  private renderAgents(): unknown {
    const matching = this.matchingAgents();
    const radio = (m: AgentMode, label: string) => html`<label class="radio"><input type="radio" name="agent-mode" value=${m} .checked=${this.agentMode === m}
      @change=${() => { this.agentMode = m; this.requestUpdate(); }} /> ${label}</label>`;
    return html`<fieldset class="agents-pick">
      <legend>Agents</legend>
      <div class="radios">${radio('all', 'All agents')} ${radio('names', 'By name')} ${radio('labels', 'By label')}</div>
      ${this.agentMode === 'names'
        ? html`<div class="checks">${this.agents.map((a) => html`<label class="check"><input type="checkbox" name="agent" value=${a.name} .checked=${this.chosen.has(a.name)}
            @change=${(e: Event) => { if ((e.target as HTMLInputElement).checked) this.chosen.add(a.name); else this.chosen.delete(a.name); this.requestUpdate(); }} /> ${a.name}
            <span class="status ${a.status}">${a.status}</span></label>`)}</div>`
        : nothing}
      ${this.agentMode === 'labels'
        ? html`<div class="field inline"><label for="labels">Labels</label><input id="labels" type="text" placeholder="site=paris role=edge" .value=${this.labelText}
            @input=${(e: Event) => { this.labelText = (e.target as HTMLInputElement).value; this.requestUpdate(); }} /></div>`
        : nothing}
      <p class="hint" data-testid="agent-match">${matching.length} of ${this.agents.length} agents: ${matching.map((a) => a.name).join(', ') || 'none'}</p>
    </fieldset>`;
  }

  protected render(): unknown {
    const err = this.error;
    return html`
      <h1 tabindex="-1">New task</h1>
      ${this.loadError ? html`<div class="banner error" role="alert">${this.loadError}</div>` : nothing}
      <form class="submit-form" @submit=${this.submit} novalidate>
        <div class="tabs" role="radiogroup" aria-label="Start from">
          <label class="tab ${this.mode === 'app' ? 'on' : ''}"><input type="radio" name="mode" value="app" .checked=${this.mode === 'app'} @change=${() => this.setMode('app')} /> Built-in application</label>
          <label class="tab ${this.mode === 'code' ? 'on' : ''}"><input type="radio" name="mode" value="code" .checked=${this.mode === 'code'} @change=${() => this.setMode('code')} /> Query file</label>
        </div>
        <div class="cols">
          <div class="col-main">
            ${this.mode === 'app' ? this.renderAppForm() : this.renderCode()}
            <div class="field inline">
              <label for="window">Window (s)</label>
              <input id="window" type="number" min="1" step="any" .value=${this.windowText} @input=${(e: Event) => { this.windowText = (e.target as HTMLInputElement).value; }} />
              <span class="hint">tumbling, by the packets' own timestamps</span>
            </div>
          </div>
          <div class="col-side">
            ${this.renderAgents()}
            ${err
              ? html`<div class="banner error submit-error" role="alert" tabindex="-1" data-testid="submit-error">
                  <strong>Not started.</strong>
                  ${err instanceof ApiError && err.line !== null ? html`<span class="where">line ${err.line}${err.column !== null ? `:${err.column}` : ''}</span>` : nothing}
                  ${err instanceof ApiError && err.field ? html`<span class="where">${err.field}</span>` : nothing}
                  <div class="mono">${err.message}</div>
                </div>`
              : nothing}
            <div class="actions">
              <button type="submit" class="primary" ?disabled=${!this.signedIn || this.submitting}>${this.submitting ? 'Submitting…' : 'Submit task'}</button>
              ${this.signedIn ? nothing : html`<span class="hint">Sign in with an operator's token to submit.</span>`}
            </div>
          </div>
        </div>
      </form>
    `;
  }
}

customElements.define('is-submit', IsSubmit);
