/**
 * Serves the web UI's built files (ui/dist, committed and shipped in the package, so a user's
 * machine builds nothing) from the runtime's own HTTP server.
 *
 * `UiAssets` gives the answer for a path (the runtime's fastify routes in ui-routes.ts use it);
 * `uiStaticHandler` wraps it for a plain node:http server. Only `/`, `/index.html` and
 * `/assets/*` are the UI's. Hashed assets are cached for a year, index.html never. Files are read once and
 * kept in memory (the whole UI is well under a megabyte).
 */
import { readFileSync, readdirSync, statSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { extname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Where `npm run build:ui` puts the page. */
export const UI_DIST = resolve(fileURLToPath(new URL('../../ui/dist', import.meta.url)));

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.json': 'application/json',
  '.woff2': 'font/woff2',
};

// Same-origin only; the page runs no inline script, and data: covers the favicon.
const CSP = "default-src 'self'; img-src 'self' data: blob:; style-src 'self' 'unsafe-inline'; connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'";

interface Asset {
  body: Buffer;
  type: string;
  immutable: boolean;
}

function loadAssets(dir: string): Map<string, Asset> {
  const files = new Map<string, Asset>();
  const walk = (sub: string): void => {
    for (const name of readdirSync(join(dir, sub))) {
      const rel = sub ? `${sub}/${name}` : name;
      const full = join(dir, rel);
      if (statSync(full).isDirectory()) walk(rel);
      else files.set(`/${rel}`, { body: readFileSync(full), type: TYPES[extname(name)] ?? 'application/octet-stream', immutable: rel.startsWith('assets/') });
    }
  };
  walk('');
  return files;
}

/** The UI's files, loaded on first use; `get(path)` answers for `/`, `/index.html`, `/assets/*`. */
export class UiAssets {
  private readonly dir: string;
  private assets: Map<string, Asset> | null = null;

  constructor(dir: string = UI_DIST) {
    this.dir = dir;
  }

  /** Whether `path` (no query string) is one of the UI's paths. */
  static owns(path: string): boolean {
    return path === '/' || path === '/index.html' || path.startsWith('/assets/');
  }

  /** Status, headers and body for a GET of `path`. */
  get(path: string): { status: number; headers: Record<string, string | number>; body: Buffer } {
    if (this.assets === null) {
      try {
        this.assets = loadAssets(this.dir);
      } catch {
        this.assets = new Map();
      }
    }
    const asset = this.assets.get(path === '/' ? '/index.html' : path);
    if (!asset) {
      const text = this.assets.size === 0 ? `The web UI is not built: run npm run build:ui (looked in ${this.dir}).\n` : 'Not found\n';
      return { status: 404, headers: { 'content-type': 'text/plain; charset=utf-8' }, body: Buffer.from(text) };
    }
    return {
      status: 200,
      headers: {
        'content-type': asset.type,
        'content-length': asset.body.length,
        'cache-control': asset.immutable ? 'public, max-age=31536000, immutable' : 'no-cache',
        'x-content-type-options': 'nosniff',
        ...(asset.type.startsWith('text/html') ? { 'content-security-policy': CSP } : {}),
      },
      body: asset.body,
    };
  }
}

/** A node:http request handler for the UI's files; returns true when it answered the request. */
export function uiStaticHandler(dir: string = UI_DIST): (req: IncomingMessage, res: ServerResponse) => boolean {
  const assets = new UiAssets(dir);
  return (req, res) => {
    if (req.method !== 'GET' && req.method !== 'HEAD') return false;
    const path = (req.url ?? '/').split('?')[0];
    if (!UiAssets.owns(path)) return false;
    const a = assets.get(path);
    res.writeHead(a.status, a.headers);
    res.end(req.method === 'HEAD' ? undefined : a.body);
    return true;
  };
}
