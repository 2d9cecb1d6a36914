#!/usr/bin/env node
// Entry point: Node 24 (pinned by the npm package `node`) runs the TypeScript sources directly.
const [major, minor] = process.versions.node.split('.').map(Number);
if (major < 22 || (major === 22 && minor < 22)) {
  process.stderr.write(`intstream: needs Node.js >= 22.22 (this is ${process.version}); run it through npm (npx intstream ...) after npm ci, which brings the pinned Node\n`);
  process.exit(2);
}
const { main } = await import('../src/cli/main.ts');
process.exitCode = await main(process.argv.slice(2));
