// Test support: the project's seeded PRNG (src/gen/prng.ts), re-exported for the flow tests.
export { mulberry32 } from '../../../src/gen/prng.ts';
