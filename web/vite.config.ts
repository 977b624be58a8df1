import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { brotliCompressSync, constants, gzipSync } from 'node:zlib';
import type { Plugin } from 'vite';
import { defineConfig } from 'vite';

// The dashboard is served by the assetlog binary from the same origin as the API, so relative
// URLs work in production. `npm run dev` proxies the API to a server started separately
// (ASSETLOG_URL, default http://127.0.0.1:8080).
const api = process.env.ASSETLOG_URL ?? 'http://127.0.0.1:8080';

/**
 * Writes `.br` and `.gz` beside every text file of the build, compressed once at the highest
 * level, so the server sends them as they are instead of compressing on every request. Runs
 * after the files are written: only then is every chunk in its final form.
 */
function precompress(): Plugin {
  return {
    name: 'assetlog-precompress',
    apply: 'build',
    enforce: 'post',
    writeBundle(options, bundle) {
      const dir = options.dir!;
      for (const name of Object.keys(bundle)) {
        if (!/\.(js|css|html|svg|json|txt|map)$/.test(name)) continue;
        const bytes = readFileSync(join(dir, name));
        if (bytes.length < 512) continue;
        writeFileSync(join(dir, `${name}.gz`), gzipSync(bytes, { level: 9 }));
        writeFileSync(
          join(dir, `${name}.br`),
          brotliCompressSync(bytes, { params: { [constants.BROTLI_PARAM_QUALITY]: 11 } }),
        );
      }
    },
  };
}

export default defineConfig({
  oxc: {
    jsx: { runtime: 'automatic', importSource: 'preact' },
  },
  plugins: [precompress()],
  build: {
    target: 'es2022',
    sourcemap: false,
    // Keep the first load small: uPlot and the chart pages come in their own chunks.
    chunkSizeWarningLimit: 200,
  },
  server: {
    proxy: {
      '/api': { target: api, ws: true, changeOrigin: true },
    },
  },
});
