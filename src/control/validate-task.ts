/**
 * Validates a submitted query file for the runtime without running it in the runtime's process:
 * the code runs in a child process (validate-child.ts) that
 *   - runs as `nobody` when the runtime runs as root (setuid/setgid, no supplementary groups),
 *     if nobody can reach the package (else as root, said once in the log: validatorUser);
 *   - has an empty environment (no token, no paths of the runtime's);
 *   - runs under Node's permission model: it may read the package's own code and the one file
 *     holding the submitted text, and nothing else; no writes, no child processes, no workers,
 *     no native addons (the permission model is a seat belt, the process boundary and the user
 *     are the wall);
 *   - is killed after `timeoutMs` (default 10 s) and has `memoryMb` of heap (default 128);
 * and answers with the task's name and the kinds of its global operators (to choose its
 * partitions), or with an error naming only "query file" and the line and column in the
 * submitted text. At most MAX_RUNNING validations run at once; more wait, up to MAX_WAITING.
 */
import { spawn } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readFileSync, realpathSync, rmSync, statSync, writeFileSync } from 'node:fs';
import * as nodeModule from 'node:module';
import { tmpdir } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { IntstreamError, type ErrorCode } from '../errors.ts';

const EXT = import.meta.url.endsWith('.ts') ? '.ts' : '.js';
const CHILD = fileURLToPath(new URL(`./validate-child${EXT}`, import.meta.url));
/** The package's root (src/control or dist/control → two up). */
const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const MAX_RUNNING = 2;
const MAX_WAITING = 16;
const MAX_OUTPUT = 64 * 1024;

export interface ValidateOptions {
  timeoutMs?: number;
  memoryMb?: number;
}

export interface ValidatedCode {
  /** The task's own name (defineTask name). */
  name: string;
  /** Operator kinds of the global stage, in order. */
  global: string[];
}

/** The uid and gid of `nobody` (from /etc/passwd; 65534 if it is not listed). */
function nobody(): { uid: number; gid: number } {
  try {
    for (const line of readFileSync('/etc/passwd', 'utf8').split('\n')) {
      const f = line.split(':');
      if (f[0] === 'nobody' && f.length >= 4) return { uid: Number(f[2]), gid: Number(f[3]) };
    }
  } catch { /* no passwd file */ }
  return { uid: 65534, gid: 65534 };
}

/** What the child may read: this package's code and the modules it imports. */
function readable(): string[] {
  const paths = [join(ROOT, 'src'), join(ROOT, 'dist'), join(ROOT, 'package.json')];
  // installed as a dependency, its own dependencies sit beside it in node_modules
  const parent = dirname(ROOT.replace(/\/+$/, ''));
  paths.push(basename(parent) === 'node_modules' ? parent : join(ROOT, 'node_modules'));
  // and where symbolic links among them lead
  const found = paths.filter((p) => existsSync(p));
  return [...new Set([...found, ...found.map((p) => realpathSync(p))])];
}

let running = 0;
const waiting: (() => void)[] = [];

async function slot(): Promise<() => void> {
  if (running >= MAX_RUNNING) {
    if (waiting.length >= MAX_WAITING) {
      throw Object.assign(new IntstreamError('TRANSPORT', 'too many query files being validated at once; try again shortly'), { statusCode: 503 });
    }
    await new Promise<void>((r) => waiting.push(r));
  }
  running++;
  return () => { running--; waiting.shift()?.(); };
}

const invalid = (message: string, hint?: string) => new IntstreamError('TASK_INVALID', message, hint);

/**
 * Whether every directory from / down to `path` lets other users through (o+x): `nobody`
 * cannot reach a package installed under a private folder (/root, a 0700 temp dir).
 */
function othersCanReach(path: string): boolean {
  let p = resolve(path);
  for (;;) {
    try { if ((statSync(p).mode & 0o001) === 0) return false; } catch { return false; }
    const up = dirname(p);
    if (up === p) return true;
    p = up;
  }
}

let warnedPrivate = false;

/**
 * The user the validator runs as, when the runtime runs as root: `nobody`, if it can reach
 * intstream's files and the Node binary; otherwise root itself (still under Node's permission
 * model, with the time and memory limits and an empty environment), said once in the log.
 */
function validatorUser(): { uid: number; gid: number } | null {
  if (othersCanReach(ROOT) && othersCanReach(dirname(process.execPath))) return nobody();
  if (!warnedPrivate) {
    warnedPrivate = true;
    process.stderr.write(`intstream runtime: warning: user nobody cannot reach ${ROOT}; query files are validated as this user (still without writes, child processes or environment, within the time and memory limits): install intstream where other users may read it to drop privileges\n`);
  }
  return null;
}

/**
 * Validates `code` with `params` and `window` in an unprivileged child process. Throws an
 * IntstreamError (TASK_INVALID, FILTER_SYNTAX, USAGE) with a message fit for the client.
 */
export async function validateCode(code: string, params: Record<string, string>, window: number, opts: ValidateOptions = {}): Promise<ValidatedCode> {
  const release = await slot();
  const dir = mkdtempSync(join(tmpdir(), 'intstream-validate-'));
  try {
    const file = join(dir, 'task.ts');
    writeFileSync(file, code, { mode: 0o600 });
    const who = process.getuid?.() === 0 ? validatorUser() : null;
    if (who) { chownSync(dir, who.uid, who.gid); chownSync(file, who.uid, who.gid); }
    const args = [
      '--permission', ...[dir, ...readable()].map((p) => `--allow-fs-read=${p}`),
      // before Node 22.15 the query-file hooks run on a loader thread (module.register)
      ...(typeof (nodeModule as { registerHooks?: unknown }).registerHooks === 'function' ? [] : ['--allow-worker']),
      `--max-old-space-size=${opts.memoryMb ?? 128}`, '--max-semi-space-size=8', '--stack-size=2000',
      CHILD, file,
    ];
    const r = await run(args, JSON.stringify({ params, window }), opts.timeoutMs ?? 10_000, who);
    if (r.timedOut) throw invalid(`query file: validation did not finish within ${(opts.timeoutMs ?? 10_000) / 1000} s`, 'a query file must define its task quickly, without long loops at load time');
    let answer: any;
    try { answer = JSON.parse(r.stdout.trim().split('\n').pop() ?? ''); } catch { answer = null; }
    if (answer === null || typeof answer !== 'object') {
      if (/heap out of memory|Allocation failed|Reached heap limit/i.test(r.stderr)) throw invalid(`query file: validation ran out of memory (${opts.memoryMb ?? 128} MB)`);
      if (who && /EACCES|permission denied|ERR_ACCESS_DENIED|Cannot find module/i.test(r.stderr)) {
        // a fault of the installation, not of the query file: say so in the runtime's log too
        throw Object.assign(new IntstreamError('INTERNAL', `query files cannot be validated: the validator runs as user nobody and cannot read ${ROOT}`,
          'install intstream where other users may read it, or run the runtime as an unprivileged user'), { statusCode: 500 });
      }
      throw invalid(`query file: validation ended without an answer (exit ${r.code ?? r.signal})`);
    }
    if (answer.ok === true && typeof answer.name === 'string' && /^[a-z0-9][a-z0-9-]{0,99}$/.test(answer.name)
      && Array.isArray(answer.global) && answer.global.every((k: unknown) => typeof k === 'string')) {
      return { name: answer.name, global: answer.global };
    }
    const codeOf: ErrorCode = answer.code === 'FILTER_SYNTAX' || answer.code === 'USAGE' ? answer.code : 'TASK_INVALID';
    throw new IntstreamError(codeOf, String(answer.message ?? 'query file: invalid').slice(0, 2000), typeof answer.hint === 'string' ? answer.hint.slice(0, 500) : undefined);
  } finally {
    rmSync(dir, { recursive: true, force: true });
    release();
  }
}

function run(args: string[], input: string, timeoutMs: number, who: { uid: number; gid: number } | null): Promise<{ stdout: string; stderr: string; code: number | null; signal: string | null; timedOut: boolean }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, {
      env: {}, cwd: '/', stdio: ['pipe', 'pipe', 'pipe'],
      ...(who ? { uid: who.uid, gid: who.gid } : {}),
    });
    let stdout = '', stderr = '', timedOut = false;
    child.stdout.on('data', (b: Buffer) => { if (stdout.length < MAX_OUTPUT) stdout += b.toString('utf8'); });
    child.stderr.on('data', (b: Buffer) => { if (stderr.length < MAX_OUTPUT) stderr += b.toString('utf8'); });
    child.stdin.on('error', () => undefined); // a child that exits early
    child.stdin.end(input);
    const timer = setTimeout(() => { timedOut = true; child.kill('SIGKILL'); }, timeoutMs);
    child.once('error', (e) => { clearTimeout(timer); reject(e); });
    child.once('close', (code, signal) => { clearTimeout(timer); resolve({ stdout, stderr, code, signal, timedOut }); });
  });
}
