// Test support: the project's seeded PRNG (tools/prng.ts), re-exported for the flow tests.
export { mulberry32 } from '../../../tools/prng.ts';
