/**
 * `npm test`: every test file under test/ with Node's test runner, two files at a time.
 * Arguments narrow the run: `npm test -- test/query` or a glob.
 */
import { spawnSync } from 'node:child_process';

const args = process.argv.slice(2);
const patterns = args.length > 0 ? args.map((a) => (a.endsWith('.ts') || a.includes('*') ? a : `${a.replace(/\/$/, '')}/**/*.test.ts`)) : ['test/**/*.test.ts'];
const r = spawnSync(process.execPath, ['--test', '--test-concurrency=2', '--test-timeout=600000', ...patterns], { stdio: 'inherit' });
process.exit(r.status ?? 1);
