/**
 * The runtime's web UI (issue 7). `npm run build:ui` builds it into ui/dist, which is committed
 * and shipped in the package: `intstream runtime` serves it as static files, so nothing is built
 * on a user's machine. `base: './'` keeps every asset URL relative to index.html.
 */
import { defineConfig } from 'vite';

export default defineConfig({
  root: import.meta.dirname,
  base: './',
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    target: 'es2022',
    sourcemap: false,
    chunkSizeWarningLimit: 700,
  },
});
