// Builds the dashboard page into dist/ (index.html + hashed assets), which core serves on its
// dashboard port. Everything is bundled: no CDN, no external fonts, works offline.
import { defineConfig } from 'vite';

export default defineConfig({
  base: './',
  oxc: { jsx: { runtime: 'automatic', importSource: 'preact' } },
  build: { outDir: 'dist', emptyOutDir: true, target: 'es2022', sourcemap: false, assetsInlineLimit: 0 },
});
