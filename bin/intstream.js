#!/usr/bin/env node
// Entry point: Node 24 (pinned by the npm package `node`) runs the TypeScript sources directly.
const [major, minor] = process.versions.node.split('.').map(Number);
if (major < 22 || (major === 22 && minor < 22)) {
  process.stderr.write(`intstream: needs Node.js >= 22.22 (this is ${process.version}); run it through npm (npx intstream ...) after npm ci, which brings the pinned Node\n`);
  process.exit(2);
}
// V8 code cache (and stripped TypeScript) across runs: cuts start-up time roughly in half.
const { enableCompileCache } = await import('node:module');
enableCompileCache?.();
const { main } = await import('../src/cli/main.ts');
process.exitCode = await main(process.argv.slice(2));
