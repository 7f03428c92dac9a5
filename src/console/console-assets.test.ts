/**
 * The console's files through a real API server on 127.0.0.1:0: served without credentials while the API still
 * answers 401, content negotiation of brotli/gzip, caching headers, ETag revalidation, the page's own routes, and a
 * Status for everything else (405, 404, 503 without a build).
 */
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import https from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { brotliCompressSync, brotliDecompressSync, gunzipSync } from 'node:zlib';
import { startBareApiServer, type BareApiServer } from '../../test/helpers/api-server.js';
import { chooseEncoding, ConsoleAssets } from './console-assets.js';

interface Raw {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
}

/** A request without a client certificate, as a browser that never imported one makes it. */
function get(port: number, ca: string, path: string, headers: Record<string, string> = {}, method = 'GET'): Promise<Raw> {
  return new Promise((resolve, reject) => {
    const req = https.request({ host: '127.0.0.1', port, path, method, ca, agent: false, headers, timeout: 10_000 }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
    });
    req.on('timeout', () => req.destroy(new Error(`${path}: no answer in 10 s`)));
    req.on('error', reject);
    req.end();
  });
}

describe('console assets at /console', () => {
  let dir: string;
  let s: BareApiServer;
  let unbuilt: BareApiServer;
  const script = `console.log(${JSON.stringify('x'.repeat(4000))});\n`;
  const index = '<!doctype html><html><head><script type="module" src="/console/assets/index-abc123.js"></script></head><body><div id="app"></div></body></html>';
  const get0 = (path: string, headers: Record<string, string> = {}, method = 'GET') => get(s.api.port, s.pki.caCertPem, path, headers, method);

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'skiff-console-assets-'));
    await mkdir(join(dir, 'assets'));
    await writeFile(join(dir, 'index.html'), index);
    await writeFile(join(dir, 'assets', 'index-abc123.js'), script);
    // The build's brotli copy of the script; gzip is left for the server to make.
    await writeFile(join(dir, 'assets', 'index-abc123.js.br'), brotliCompressSync(script));
    const files = new ConsoleAssets({ dir });
    s = await startBareApiServer({ server: { staticFiles: { owns: ConsoleAssets.owns, serve: (req, res, path) => files.serve(req, res, path) } } });
    const none = new ConsoleAssets({ dir: join(dir, 'missing') });
    unbuilt = await startBareApiServer({ server: { staticFiles: { owns: ConsoleAssets.owns, serve: (req, res, path) => none.serve(req, res, path) } } });
  });
  after(async () => {
    await s?.stop();
    await unbuilt?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it('serves the page without credentials while the API itself still answers 401', async () => {
    const page = await get0('/console/');
    assert.equal(page.status, 200);
    assert.equal(page.body.toString(), index);
    assert.equal(page.headers['content-type'], 'text/html; charset=utf-8');
    assert.equal(page.headers['cache-control'], 'no-cache');
    assert.match(String(page.headers['content-security-policy']), /script-src 'self'/);
    assert.equal(page.headers['x-content-type-options'], 'nosniff');
    assert.equal((await get0('/api/v1/namespaces')).status, 401);
    // Only the prefix is the console's: a path that merely starts with the word is the API's (401 before anything).
    assert.equal((await get0('/consoles')).status, 401);
  });

  it('redirects /console to /console/ and answers the page\'s own routes with the page', async () => {
    const r = await get0('/console');
    assert.equal(r.status, 301);
    assert.equal(r.headers.location, '/console/');
    const route = await get0('/console/pods/default/web');
    assert.equal(route.status, 200);
    assert.equal(route.body.toString(), index);
  });

  it('sends the build\'s brotli copy, gzip when brotli is refused, and plain text when neither is accepted', async () => {
    const path = '/console/assets/index-abc123.js';
    const br = await get0(path, { 'Accept-Encoding': 'gzip, deflate, br' });
    assert.equal(br.headers['content-encoding'], 'br');
    assert.equal(br.headers.vary, 'Accept-Encoding');
    assert.equal(br.headers['cache-control'], 'public, max-age=31536000, immutable');
    assert.equal(brotliDecompressSync(br.body).toString(), script);
    assert.ok(br.body.length < script.length / 10, `brotli body ${br.body.length} bytes`);
    const gz = await get0(path, { 'Accept-Encoding': 'gzip, br;q=0' });
    assert.equal(gz.headers['content-encoding'], 'gzip');
    assert.equal(gunzipSync(gz.body).toString(), script);
    const plain = await get0(path);
    assert.equal(plain.headers['content-encoding'], undefined);
    assert.equal(plain.body.toString(), script);
    assert.equal(plain.headers['content-type'], 'text/javascript; charset=utf-8');
  });

  it('answers a matching If-None-Match with 304 and HEAD with headers only', async () => {
    const first = await get0('/console/');
    const etag = String(first.headers.etag);
    assert.match(etag, /^"[A-Za-z0-9_-]+"$/);
    const again = await get0('/console/', { 'If-None-Match': etag });
    assert.equal(again.status, 304);
    assert.equal(again.body.length, 0);
    const head = await get0('/console/', {}, 'HEAD');
    assert.equal(head.status, 200);
    assert.equal(head.body.length, 0);
    assert.equal(Number(head.headers['content-length']), index.length);
  });

  it('gives a Status for bad requests: 405 for writes, 404 for a missing hashed asset, no escape from the build dir', async () => {
    const post = await get0('/console/', {}, 'POST');
    assert.equal(post.status, 405);
    assert.equal(JSON.parse(post.body.toString()).reason, 'MethodNotAllowed');
    const missing = await get0('/console/assets/index-old999.js');
    assert.equal(missing.status, 404);
    assert.equal(JSON.parse(missing.body.toString()).kind, 'Status');
    for (const path of ['/console/../../../etc/passwd', '/console/%2e%2e/%2e%2e/etc/passwd', '/console/assets/../../package.json']) {
      const r = await get0(path);
      // Either the page (a route of its own) or the API's answer: never a file from outside the build.
      assert.ok(!r.body.toString().includes('root:') && !r.body.toString().includes('"name"'), `${path} escaped: ${r.body.toString().slice(0, 80)}`);
    }
  });

  it('answers 503 naming the build command when the console was not built', async () => {
    const r = await get(unbuilt.api.port, unbuilt.pki.caCertPem, '/console/');
    assert.equal(r.status, 503);
    const status = JSON.parse(r.body.toString());
    assert.equal(status.reason, 'ServiceUnavailable');
    assert.match(status.message, /npm run build:console/);
  });

  it('negotiates encodings by q-values (table)', () => {
    const both = { gzip: Buffer.from('g'), br: Buffer.from('b') };
    const cases: [string | undefined, 'br' | 'gzip' | 'identity'][] = [
      [undefined, 'identity'],
      ['br', 'br'],
      ['gzip', 'gzip'],
      ['gzip;q=1, br;q=0', 'gzip'],
      ['*', 'br'],
      ['*;q=0', 'identity'],
      ['identity', 'identity'],
      ['deflate', 'identity'],
    ];
    for (const [header, want] of cases) assert.equal(chooseEncoding(header, both), want, String(header));
    assert.equal(chooseEncoding('br, gzip', { gzip: Buffer.from('g') }), 'gzip');
    assert.equal(chooseEncoding('br, gzip', {}), 'identity');
  });
});
