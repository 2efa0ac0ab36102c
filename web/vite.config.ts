import { defineConfig } from 'vite';

/** The demo app: `npm run build:web` bundles web/ into web/dist, which `hita serve` serves at `/`. */
const root = decodeURIComponent(new URL('.', import.meta.url).pathname);

export default defineConfig({
  root,
  base: './',
  build: {
    outDir: 'dist',
    emptyOutDir: true,
  },
  server: {
    // `npx vite --config web/vite.config.ts` against a local `hita serve` on :4000.
    proxy: { '/graphql': { target: 'http://localhost:4000', ws: true } },
  },
});
