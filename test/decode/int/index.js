// Lets `node --test test/decode/int/` run this folder: Node resolves the directory to this
// file, which loads every *.test.ts beside it.
import { readdirSync } from 'node:fs';

const dir = new URL('./', import.meta.url);
for (const f of readdirSync(dir).filter((n) => n.endsWith('.test.ts')).sort()) {
  await import(new URL(f, dir).href);
}
