/**
 * The runtime's credentials: who may call what (docs/design.md, "Security shape").
 *
 * A tokens file (`intstream runtime --tokens FILE`) has one credential per line:
 *
 *     # role      name     token (or sha256:HEX of the token)
 *     operator    alice    3f9c...
 *     read        grafana  sha256:5e88...
 *     agent       edge1    a81b...
 *     worker      gsp1     77d0...
 *
 * Roles:
 *   - `read`: every GET of the API and the web UI's sign-in;
 *   - `operator`: what `read` may, plus submitting and stopping tasks;
 *   - `agent NAME`: registering as NAME and heartbeating as NAME, nothing else (it receives
 *     only the tasks assigned to NAME);
 *   - `worker NAME`: heartbeating as GSP worker NAME, nothing else.
 * Names are 1 to 64 of [A-Za-z0-9._-] (not "." or ".."); a name may have several tokens (for
 * rotation); a token may appear once. Tokens are at least 16 characters without spaces; a line
 * may give `sha256:` and the hex SHA-256 of the token instead, so that the file holds no secret.
 * The file is read again when it changes (checked every second, and at once when an unknown
 * token is presented): add or revoke a credential without a restart. A file that no longer
 * parses is refused with a log line and the previous credentials stay.
 *
 * `--token T` (or INTSTREAM_TOKEN) without a tokens file is one operator credential named
 * `operator`: it may read, submit and stop, and cannot register agents or heartbeat as one.
 */
import { createHash } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import { IntstreamError } from '../errors.ts';

export type Role = 'read' | 'operator' | 'agent' | 'worker';
export const ROLES: readonly Role[] = ['read', 'operator', 'agent', 'worker'];

export interface Credential {
  role: Role;
  name: string;
}

/** Agent, worker and credential names. */
export const NAME_PATTERN = '^(?!\\.\\.?$)[A-Za-z0-9._-]{1,64}$';
const NAME_RE = new RegExp(NAME_PATTERN);
export const validName = (s: unknown): s is string => typeof s === 'string' && NAME_RE.test(s);

const MIN_TOKEN = 16;
const sha256 = (s: string) => createHash('sha256').update(s).digest();

/** Parses a tokens file's text; throws a USAGE error naming the line. */
export function parseTokens(text: string, where = 'tokens file'): Map<string, Credential> {
  const byDigest = new Map<string, Credential>();
  const lines = text.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i].replace(/(^|\s)#.*$/, '').trim();
    if (!line) continue;
    const at = `${where}:${i + 1}`;
    const f = line.split(/\s+/);
    if (f.length !== 3) throw new IntstreamError('USAGE', `${at}: expected "role name token" (3 fields), got ${f.length}`);
    const [role, name, token] = f;
    if (!(ROLES as readonly string[]).includes(role)) throw new IntstreamError('USAGE', `${at}: role '${role}' is none of ${ROLES.join(', ')}`);
    if (!validName(name)) throw new IntstreamError('USAGE', `${at}: name '${name}' is not 1 to 64 of A-Z a-z 0-9 . _ -`);
    let digest: string;
    const m = /^sha256:([0-9a-fA-F]{64})$/.exec(token);
    if (m) digest = m[1].toLowerCase();
    else if (token.startsWith('sha256:')) throw new IntstreamError('USAGE', `${at}: sha256: needs 64 hex digits`);
    else if (token.length < MIN_TOKEN) throw new IntstreamError('USAGE', `${at}: token shorter than ${MIN_TOKEN} characters`, 'make one with: openssl rand -hex 24');
    else digest = sha256(token).toString('hex');
    if (byDigest.has(digest)) throw new IntstreamError('USAGE', `${at}: this token is already given to another line`);
    byDigest.set(digest, { role: role as Role, name });
  }
  if (byDigest.size === 0) throw new IntstreamError('USAGE', `${where}: no credentials`);
  return byDigest;
}

export class Credentials {
  private byDigest: Map<string, Credential>;
  private readonly file: string | null;
  private stamp = '';
  private readonly log: (line: string) => void;
  private timer: NodeJS.Timeout | null = null;

  private constructor(byDigest: Map<string, Credential>, file: string | null, log: (line: string) => void) {
    this.byDigest = byDigest;
    this.file = file;
    this.log = log;
    if (file) {
      this.stamp = Credentials.stampOf(file);
      this.timer = setInterval(() => this.reloadIfChanged(), 1000);
      this.timer.unref();
    }
  }

  /** Credentials from a tokens file (see the top of this file). */
  static fromFile(file: string, log: (line: string) => void = () => {}): Credentials {
    let text: string;
    try { text = readFileSync(file, 'utf8'); } catch (e) {
      throw new IntstreamError('USAGE', `--tokens ${file}: cannot read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
    }
    try {
      const mode = statSync(file).mode;
      if (mode & 0o044) log(`warning: ${file} can be read by other users (chmod 600 it)`);
    } catch { /* stat raced a rename: fine */ }
    return new Credentials(parseTokens(text, file), file, log);
  }

  /** One operator credential (the single `--token` of earlier versions). */
  static operatorToken(token: string): Credentials {
    if (!token) throw new IntstreamError('USAGE', 'empty token');
    return new Credentials(new Map([[sha256(token).toString('hex'), { role: 'operator', name: 'operator' }]]), null, () => {});
  }

  private static stampOf(file: string): string {
    try { const s = statSync(file); return `${s.mtimeMs}:${s.size}:${s.ino}`; } catch { return 'missing'; }
  }

  /** Re-reads the file if it changed; true when the credentials were replaced. */
  reloadIfChanged(): boolean {
    if (!this.file) return false;
    const stamp = Credentials.stampOf(this.file);
    if (stamp === this.stamp) return false;
    this.stamp = stamp;
    try {
      this.byDigest = parseTokens(readFileSync(this.file, 'utf8'), this.file);
      this.log(`credentials reloaded from ${this.file} (${this.byDigest.size})`);
      return true;
    } catch (e) {
      this.log(`credentials in ${this.file} not reloaded: ${(e as Error).message}; the previous ones stay`);
      return false;
    }
  }

  /** The credential of an `Authorization: Bearer TOKEN` header, or null. */
  check(authorization: string | undefined): Credential | null {
    const m = /^Bearer ([^\s]+)$/.exec(authorization ?? '');
    if (!m) return null;
    const hex = sha256(m[1]).toString('hex');
    let c = this.byDigest.get(hex);
    // an unknown token: the file may have just gained it (a stat; read again only if it changed)
    if (!c && this.file && this.reloadIfChanged()) c = this.byDigest.get(hex);
    // looked up by the token's digest: lookup time says nothing about the token itself
    return c ?? null;
  }

  close(): void {
    if (this.timer) clearInterval(this.timer);
  }
}
