/**
 * The page: a header with navigation and sign-in, then one view chosen by the URL's hash:
 *   #/agents       agents with their metrics over time
 *   #/workers      GSP workers: health, load, per task the partitions held and counters
 *   #/submit       write a query file or fill in a built-in application's parameters; submit
 *   #/tasks        every task with its per-stage counters
 *   #/tasks/ID     one task: counters, per-window chart, live results
 * Signed in with an operator's token (kept in sessionStorage for this tab) the page can submit
 * and stop tasks; with a read token, or without a token on a runtime started with --public-read,
 * it is read-only and says so. Tokens that sign in: an `operator` or `read` credential of the
 * runtime's --tokens file, or, on a runtime without --tokens, its --token ($INTSTREAM_TOKEN),
 * which is an operator's. Agent and worker credentials do not sign in. A runtime whose reads need a token shows nothing until signed in.
 */
import { LitElement, html, nothing } from 'lit';
import { api, ApiError, getRole, getToken, setToken } from './api.ts';
import './charts.ts';
import './agents-view.ts';
import './workers-view.ts';
import './submit-view.ts';
import './tasks-view.ts';
import './task-view.ts';
import './style.css';

export type Route = { view: 'agents' } | { view: 'workers' } | { view: 'submit' } | { view: 'tasks' } | { view: 'task'; id: string };

function parseRoute(hash: string): Route {
  const parts = hash.replace(/^#\/?/, '').split('/').filter(Boolean);
  if (parts[0] === 'submit') return { view: 'submit' };
  if (parts[0] === 'workers') return { view: 'workers' };
  if (parts[0] === 'tasks' && parts[1]) return { view: 'task', id: decodeURIComponent(parts[1]) };
  if (parts[0] === 'tasks') return { view: 'tasks' };
  return { view: 'agents' };
}

export class IsApp extends LitElement {
  private route: Route = parseRoute(location.hash);
  private token: string | null = getToken();
  private credRole: string | null = getRole();
  /** The runtime refused a read without a token: it was not started with --public-read. */
  private needsToken = false;
  private signInError = '';
  private signingIn = false;
  private readonly onUnauthorized = (e: Event): void => {
    const sent = (e as CustomEvent<string | null>).detail;
    if (sent === null && this.token === null) {
      if (!this.needsToken) { this.needsToken = true; this.requestUpdate(); }
    } else if (sent !== null && sent === this.token) {
      // the runtime no longer knows this token (its tokens file changed)
      this.signInError = 'The runtime no longer accepts this token: sign in again.';
      this.signOut();
    }
  };
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
    window.addEventListener('intstream-unauthorized', this.onUnauthorized);
  }

  disconnectedCallback(): void {
    window.removeEventListener('hashchange', this.onHash);
    window.removeEventListener('intstream-unauthorized', this.onUnauthorized);
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
      const role = await api.checkToken(token);
      if (role) {
        setToken(token, role);
        this.token = token;
        this.credRole = role;
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
    this.credRole = null;
    this.requestUpdate();
  }

  private view(): unknown {
    // the views' `signedIn`: may submit and stop (an operator's token)
    const signedIn = this.token !== null && this.credRole === 'operator';
    switch (this.route.view) {
      case 'agents':
        return html`<is-agents></is-agents>`;
      case 'workers':
        return html`<is-workers></is-workers>`;
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
    const operator = signedIn && this.credRole === 'operator';
    const link = (href: string, label: string, on: boolean) => html`<a href=${href} aria-current=${on ? 'page' : nothing}>${label}</a>`;
    return html`
      <header class="top">
        <a class="brand" href="#/agents"><span class="logo" aria-hidden="true">◆</span> intstream</a>
        <nav aria-label="Main">
          ${link('#/agents', 'Agents', v === 'agents')} ${link('#/workers', 'Workers', v === 'workers')} ${link('#/tasks', 'Tasks', v === 'tasks' || v === 'task')}
          ${link('#/submit', 'New task', v === 'submit')}
        </nav>
        <div class="auth">
          ${signedIn
            ? html`<span class="who" data-testid="signed-in" data-role=${this.credRole ?? ''}>${operator ? 'Signed in' : 'Signed in (read only)'}</span><button class="secondary" @click=${this.signOut}>Sign out</button>`
            : html`<form @submit=${this.signIn} class="signin">
                <label for="token" class="visually-hidden">Runtime token</label>
                <input id="token" type="password" placeholder="Runtime token" autocomplete="current-password" required />
                <button type="submit" ?disabled=${this.signingIn}>Sign in</button>
              </form>`}
        </div>
      </header>
      ${operator
        ? nothing
        : !signedIn && this.needsToken
          ? html`<div class="banner readonly" role="status" data-testid="sign-in-needed">
              <strong>Sign in to see this runtime.</strong> It shows its agents, tasks and results only to a token: a <code>read</code> or <code>operator</code> credential of its <code>--tokens</code> file, or the token it was started with (<code>--token</code> or <code>$INTSTREAM_TOKEN</code>). An agent's or worker's credential does not sign in.
              ${this.signInError ? html`<span class="err">${this.signInError}</span>` : nothing}
            </div>`
          : html`<div class="banner readonly" role="status" data-testid="read-only">
              <strong>Read-only.</strong> ${signedIn
                ? html`This token may read; an operator's token submits and stops tasks.`
                : html`Sign in with an operator's token to submit and stop tasks: an <code>operator</code> credential of the runtime's <code>--tokens</code> file, or the token it was started with (<code>--token</code> or <code>$INTSTREAM_TOKEN</code>).`}
              ${this.signInError ? html`<span class="err">${this.signInError}</span>` : nothing}
            </div>`}
      <main>${this.view()}</main>
    `;
  }
}

customElements.define('is-app', IsApp);
