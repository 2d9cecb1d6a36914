/**
 * Entry of a local-stage thread (worker-stage.ts starts it): turns on Node's compile cache
 * before anything else loads, as bin/intstream.js does for the process (a thread does not
 * inherit it, and loading the stage's modules without it takes several times longer), then runs
 * the thread (worker-main.ts).
 */
import { enableCompileCache } from 'node:module';

enableCompileCache?.();
await import(new URL(`./worker-main${import.meta.url.endsWith('.ts') ? '.ts' : '.js'}`, import.meta.url).href);
