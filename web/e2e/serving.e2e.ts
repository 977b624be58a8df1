// How the binary serves the dashboard: every file it embeds reads the same plain, gzipped and
// brotli-compressed; client routes get the page; API paths keep their JSON errors.

import { brotliDecompressSync, gunzipSync } from 'node:zlib';
import { request } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Server, startServer } from './harness';

let server: Server;
beforeAll(async () => {
  server = await startServer();
});
afterAll(async () => server?.stop());

/** A raw GET (no automatic decompression), as bytes with its headers. */
function get(path: string, encoding: string) {
  return new Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: Buffer }>((resolve, reject) => {
    const req = request(`${server.url}${path}`, { headers: { 'accept-encoding': encoding } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(chunks) }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('the embedded dashboard', () => {
  it('sends the same bytes whatever the encoding, for every file of the build', async () => {
    const index = await get('/', 'identity');
    expect(index.status).toBe(200);
    const html = index.body.toString();
    const paths = new Set([...html.matchAll(/(?:src|href)="(\/[^"]+)"/g)].map((m) => m[1]!));
    // The lazily loaded pages are named inside the main script.
    for (const script of [...paths].filter((p) => p.endsWith('.js'))) {
      const js = (await get(script, 'identity')).body.toString();
      for (const m of js.matchAll(/["'`](?:\.\/|assets\/)([\w-]+\.(?:js|css))["'`]/g)) paths.add(`/assets/${m[1]}`);
    }
    expect([...paths].filter((p) => p.endsWith('.js')).length).toBeGreaterThan(5);
    for (const path of paths) {
      const plain = await get(path, 'identity');
      expect(plain.status, path).toBe(200);
      const gz = await get(path, 'gzip');
      const br = await get(path, 'br, gzip');
      if (gz.headers['content-encoding'] === 'gzip') expect(gunzipSync(gz.body).equals(plain.body), path).toBe(true);
      if (br.headers['content-encoding'] === 'br') expect(brotliDecompressSync(br.body).equals(plain.body), path).toBe(true);
      if (path.startsWith('/assets/')) expect(plain.headers['cache-control']).toContain('immutable');
    }
  });

  it('answers client routes with the page and unknown API paths with JSON', async () => {
    const route = await get('/stops?period=yesterday', 'identity');
    expect(route.status).toBe(200);
    expect(route.headers['content-type']).toContain('text/html');
    const api = await get('/api/v1/nothing-here', 'identity');
    expect(api.status).toBe(404);
    expect(JSON.parse(api.body.toString())).toMatchObject({ error: { code: 'not_found' } });
  });
});
