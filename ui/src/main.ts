/**
 * The page: a header with navigation and sign-in, then one view chosen by the URL's hash:
 *   #/agents       agents with their metrics over time
 *   #/submit       write a query file or fill in a built-in application's parameters; submit
 *   #/tasks        every task with its per-stage counters
 *   #/tasks/ID     one task: counters, per-window chart, live results
 * Signed in (the runtime's token, kept in sessionStorage for this tab) the page can submit and
 * stop tasks; without the token it is read-only and says so.
 */
import { LitElement, html, nothing } from 'lit';
import { api, ApiError, getToken, setToken } from './api.ts';
import './charts.ts';
import './agents-view.ts';
import './submit-view.ts';
import './tasks-view.ts';
import './task-view.ts';
import './style.css';

export type Route = { view: 'agents' } | { view: 'submit' } | { view: 'tasks' } | { view: 'task'; id: string };

function parseRoute(hash: string): Route {
  const parts = hash.replace(/^#\/?/, '').split('/').filter(Boolean);
  if (parts[0] === 'submit') return { view: 'submit' };
  if (parts[0] === 'tasks' && parts[1]) return { view: 'task', id: decodeURIComponent(parts[1]) };
  if (parts[0] === 'tasks') return { view: 'tasks' };
  return { view: 'agents' };
}

export class IsApp extends LitElement {
  private route: Route = parseRoute(location.hash);
  private token: string | null = getToken();
  private signInError = '';
  private signingIn = false;
  private readonly onHash = (): void => {
    this.route = parseRoute(location.hash);
    this.requestUpdate();
    // Move focus to the new view's heading so keyboard and screen-reader users land there.
    void this.updateComplete.then(() => this.querySelector<HTMLElement>('main h1')?.focus());
  };

  protected createRenderRoot(): HTMLElement {
    return this;
  }

  connectedCallback(): void {
    super.connectedCallback();
    window.addEventListener('hashchange', this.onHash);
  }

  disconnectedCallback(): void {
    window.removeEventListener('hashchange', this.onHash);
    super.disconnectedCallback();
  }

  private async signIn(e: Event): Promise<void> {
    e.preventDefault();
    const input = this.querySelector<HTMLInputElement>('#token');
    const token = input?.value.trim() ?? '';
    if (!token) return;
    this.signingIn = true;
    this.signInError = '';
    this.requestUpdate();
    try {
      if (await api.checkToken(token)) {
        setToken(token);
        this.token = token;
      } else {
        this.signInError = 'The runtime refused this token.';
      }
    } catch (err) {
      this.signInError = err instanceof ApiError ? err.message : 'The runtime did not answer.';
    }
    this.signingIn = false;
    this.requestUpdate();
  }

  private signOut(): void {
    setToken(null);
    this.token = null;
    this.requestUpdate();
  }

  private view(): unknown {
    const signedIn = this.token !== null;
    switch (this.route.view) {
      case 'agents':
        return html`<is-agents></is-agents>`;
      case 'submit':
        return html`<is-submit .signedIn=${signedIn}></is-submit>`;
      case 'tasks':
        return html`<is-tasks .signedIn=${signedIn}></is-tasks>`;
      case 'task':
        return html`<is-task .taskId=${this.route.id} .signedIn=${signedIn}></is-task>`;
    }
  }

  protected render(): unknown {
    const v = this.route.view;
    const signedIn = this.token !== null;
    const link = (href: string, label: string, on: boolean) => html`<a href=${href} aria-current=${on ? 'page' : nothing}>${label}</a>`;
    return html`
      <header class="top">
        <a class="brand" href="#/agents"><span class="logo" aria-hidden="true">◆</span> intstream</a>
        <nav aria-label="Main">
          ${link('#/agents', 'Agents', v === 'agents')} ${link('#/tasks', 'Tasks', v === 'tasks' || v === 'task')}
          ${link('#/submit', 'New task', v === 'submit')}
        </nav>
        <div class="auth">
          ${signedIn
            ? html`<span class="who" data-testid="signed-in">Signed in</span><button class="secondary" @click=${this.signOut}>Sign out</button>`
            : html`<form @submit=${this.signIn} class="signin">
                <label for="token" class="visually-hidden">Runtime token</label>
                <input id="token" type="password" placeholder="Runtime token" autocomplete="current-password" required />
                <button type="submit" ?disabled=${this.signingIn}>Sign in</button>
              </form>`}
        </div>
      </header>
      ${signedIn
        ? nothing
        : html`<div class="banner readonly" role="status" data-testid="read-only">
            <strong>Read-only.</strong> Sign in with the runtime's token (printed by <code>intstream runtime</code>) to submit and stop tasks.
            ${this.signInError ? html`<span class="err">${this.signInError}</span>` : nothing}
          </div>`}
      <main>${this.view()}</main>
    `;
  }
}

customElements.define('is-app', IsApp);
