/**
 * Serves the web UI's built files (ui/dist, committed and shipped in the package, so a user's
 * machine builds nothing) from the runtime's own HTTP server.
 *
 *   const serveUi = uiStaticHandler();
 *   http.createServer((req, res) => { if (serveUi(req, res)) return; ... the API ... });
 *
 * Answers GET and HEAD for `/`, `/index.html` and `/assets/*`; anything else (the API) returns
 * false untouched. Hashed assets are cached for a year, index.html never. Files are read once and
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

/**
 * A request handler for the UI's files; returns true when it answered the request.
 * With no built UI (a checkout where ui/dist was deleted), `/` says how to build it.
 */
export function uiStaticHandler(dir: string = UI_DIST): (req: IncomingMessage, res: ServerResponse) => boolean {
  let assets: Map<string, Asset> | null = null;
  return (req, res) => {
    if (req.method !== 'GET' && req.method !== 'HEAD') return false;
    const path = (req.url ?? '/').split('?')[0];
    if (path !== '/' && path !== '/index.html' && !path.startsWith('/assets/')) return false;
    if (assets === null) {
      try {
        assets = loadAssets(dir);
      } catch {
        assets = new Map();
      }
    }
    const asset = assets.get(path === '/' ? '/index.html' : path);
    if (!asset) {
      const missing = assets.size === 0;
      res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' });
      res.end(missing ? `The web UI is not built: run npm run build:ui (looked in ${dir}).\n` : 'Not found\n');
      return true;
    }
    res.writeHead(200, {
      'content-type': asset.type,
      'content-length': asset.body.length,
      'cache-control': asset.immutable ? 'public, max-age=31536000, immutable' : 'no-cache',
      'x-content-type-options': 'nosniff',
      ...(asset.type.startsWith('text/html') ? { 'content-security-policy': CSP } : {}),
    });
    res.end(req.method === 'HEAD' ? undefined : asset.body);
    return true;
  };
}
