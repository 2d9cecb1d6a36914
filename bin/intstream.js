#!/usr/bin/env node
// Entry point. In a checkout (src/ present) on a Node that strips TypeScript types (22.18+, 24:
// `npm ci` pins Node 24 for npm scripts and npx), the sources run directly. Otherwise, as in the
// installed package, the compiled build in dist/ runs (made by `npm run build`, and by `npm pack`
// before packing), on any Node from 20.6 on.
import { existsSync } from 'node:fs';

const [major, minor] = process.versions.node.split('.').map(Number);
if (major < 20 || (major === 20 && minor < 6)) {
  process.stderr.write(`intstream: needs Node.js >= 20.6 (this is ${process.version})\n`);
  process.exit(2);
}
const src = new URL('../src/cli/main.ts', import.meta.url);
const dist = new URL('../dist/cli/main.js', import.meta.url);
let entry = dist;
if (process.features.typescript && existsSync(src)) entry = src;
else if (!existsSync(dist)) {
  process.stderr.write(`intstream: this checkout has no compiled build for Node ${process.version}: run it through npm (npx intstream ...), which brings the pinned Node 24, or build it with: npm run build\n`);
  process.exit(2);
}
// V8 code cache (and stripped TypeScript) across runs: cuts start-up time roughly in half.
const { enableCompileCache } = await import('node:module');
enableCompileCache?.();
const { main } = await import(entry.href);
process.exitCode = await main(process.argv.slice(2));
