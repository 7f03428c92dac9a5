/**
 * The web console's static files, served at /console by `skiff server` without authentication (they hold no data:
 * the page calls the normal API with the user's own credentials). The files are the Vite build in dist/console with
 * the brotli and gzip copies the build wrote, read once, so a request costs a map lookup and one write.
 *
 * - `/console` redirects to `/console/`; `/console/` and every path that is not a file (the page's own routes)
 *   get index.html with `Cache-Control: no-cache` (revalidated by ETag, so a new build is picked up at once).
 * - `/console/assets/*` are content-hashed by Vite: `immutable`, cached for a year.
 * - Content-Encoding by Accept-Encoding (br, then gzip, then none), `Vary: Accept-Encoding`; 304 for a matching
 *   If-None-Match; HEAD answers headers only; other methods get 405.
 * - Files are looked up in a map built from the build's directory listing: a request path never reaches the file system.
 *   The map is read at the first request, not at server start.
 */
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { dirname, extname, join, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { brotliCompressSync, constants as zlib, gzipSync } from 'node:zlib';
import { methodNotAllowed, pathNotFound, serviceUnavailable } from '../api/status.js';

/** The path prefix the console is served under; the Vite build's `base` matches it. */
export const CONSOLE_PREFIX = '/console';

interface Asset {
  contentType: string;
  etag: string;
  cacheControl: string;
  identity: Buffer;
  gzip?: Buffer;
  br?: Buffer;
}

const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.json': 'application/json',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.txt': 'text/plain; charset=utf-8',
  '.map': 'application/json',
};

/** Types worth compressing; images are compressed already. */
const COMPRESSIBLE = new Set(['.html', '.js', '.css', '.svg', '.json', '.txt', '.map']);

/**
 * The page may load scripts and styles only from this origin and talk only to it (fetch, WebSocket): a name or a log
 * line that slipped past escaping still could not run script or send data elsewhere. Escaping is the defence; this is
 * the second wall. `connect-src 'self'` covers same-origin wss: in CSP Level 3 browsers.
 */
const SECURITY_HEADERS: Record<string, string> = {
  'Content-Security-Policy':
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; font-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
  'X-Content-Type-Options': 'nosniff',
  'X-Frame-Options': 'DENY',
  'Referrer-Policy': 'no-referrer',
};

export interface ConsoleAssetsOptions {
  /** The Vite build's output directory (default: dist/console of this checkout). */
  dir?: string;
}

export class ConsoleAssets {
  readonly #assets = new Map<string, Asset>();
  readonly #dir: string;
  readonly #built: boolean;

  constructor(opts: ConsoleAssetsOptions = {}) {
    this.#dir = opts.dir ?? defaultConsoleDir();
    this.#built = existsSync(join(this.#dir, 'index.html'));
  }

  /** Whether a build was found (without one, /console answers 503 naming the build command). */
  get built(): boolean {
    return this.#built;
  }

  /** Bytes of every file as served to a browser that accepts brotli (the figure bench/console.ts reports). */
  compressedBytes(encoding: 'br' | 'gzip' = 'br'): number {
    let total = 0;
    for (const [path, a] of this.#load()) if (!path.endsWith('.map')) total += (encoding === 'br' ? a.br : a.gzip)?.length ?? a.identity.length;
    return total;
  }

  /** True when `path` is the console's to answer (`/console` or below). */
  static owns(path: string): boolean {
    return path === CONSOLE_PREFIX || path.startsWith(`${CONSOLE_PREFIX}/`);
  }

  /** Answers a request for a path under /console; throws a StatusError (405, 404, 503) for the API's error writer. */
  serve(req: IncomingMessage, res: ServerResponse, path: string): void {
    if (req.method !== 'GET' && req.method !== 'HEAD') throw methodNotAllowed();
    if (path === CONSOLE_PREFIX) {
      res.writeHead(301, { Location: `${CONSOLE_PREFIX}/`, 'Content-Length': 0 });
      res.end();
      return;
    }
    if (!this.built) {
      throw serviceUnavailable(`the web console is not built (no ${join(this.#dir, 'index.html')}): run \`npm run build:console\``);
    }
    const rel = path.slice(CONSOLE_PREFIX.length);
    const assets = this.#load();
    let asset = assets.get(rel);
    if (!asset) {
      // A missing hashed asset is a real 404 (a stale page asking for an old build's file); any other path is one of
      // the page's own routes, answered with the page.
      if (rel.startsWith('/assets/')) throw pathNotFound();
      asset = assets.get('/index.html')!;
    }
    const headers: Record<string, string | number> = {
      'Content-Type': asset.contentType,
      'Cache-Control': asset.cacheControl,
      ETag: asset.etag,
      Vary: 'Accept-Encoding',
      ...SECURITY_HEADERS,
    };
    if (etagMatches(req.headers['if-none-match'], asset.etag)) {
      res.writeHead(304, headers);
      res.end();
      return;
    }
    const encoding = chooseEncoding(req.headers['accept-encoding'], asset);
    const body = encoding === 'br' ? asset.br! : encoding === 'gzip' ? asset.gzip! : asset.identity;
    if (encoding !== 'identity') headers['Content-Encoding'] = encoding;
    headers['Content-Length'] = body.length;
    res.writeHead(200, headers);
    res.end(req.method === 'HEAD' ? undefined : body);
  }

  /** Reads the build on first use (not at server start), with the .br and .gz files the build wrote beside each file. */
  #load(): Map<string, Asset> {
    if (this.#assets.size > 0 || !this.#built) return this.#assets;
    const files = new Set(walk(this.#dir));
    for (const file of files) {
      if (file.endsWith('.br') || file.endsWith('.gz')) continue;
      const rel = `/${relative(this.#dir, file).split(sep).join('/')}`;
      const ext = extname(file);
      const identity = readFileSync(file);
      const hashed = rel.startsWith('/assets/');
      const asset: Asset = {
        contentType: CONTENT_TYPES[ext] ?? 'application/octet-stream',
        etag: `"${createHash('sha256').update(identity).digest('base64url').slice(0, 27)}"`,
        cacheControl: hashed ? 'public, max-age=31536000, immutable' : 'no-cache',
        identity,
      };
      if (COMPRESSIBLE.has(ext) && identity.length > 256) {
        // The build compresses at the highest levels (console/vite.config.ts); a file without them is compressed here.
        asset.gzip = files.has(`${file}.gz`) ? readFileSync(`${file}.gz`) : gzipSync(identity, { level: 9 });
        asset.br = files.has(`${file}.br`) ? readFileSync(`${file}.br`) : brotliCompressSync(identity, { params: { [zlib.BROTLI_PARAM_QUALITY]: 5 } });
      }
      this.#assets.set(rel, asset);
    }
    return this.#assets;
  }
}

/** dist/console beside this checkout's package.json, found from this module (dist/src/console or src/console under tsx). */
export function defaultConsoleDir(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    if (existsSync(join(dir, 'package.json'))) return join(dir, 'dist', 'console');
    dir = dirname(dir);
  }
  return join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'console');
}

function walk(dir: string): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(dir)) {
    const path = join(dir, entry);
    if (statSync(path).isDirectory()) out.push(...walk(path));
    else out.push(path);
  }
  return out;
}

/** br over gzip over none, honouring q=0 refusals (RFC 9110 §12.5.3); `*` covers codings not named. */
export function chooseEncoding(header: string | string[] | undefined, asset: { gzip?: Buffer; br?: Buffer }): 'br' | 'gzip' | 'identity' {
  if (!asset.gzip || header === undefined) return 'identity';
  const q = new Map<string, number>();
  for (const part of (Array.isArray(header) ? header.join(',') : header).split(',')) {
    const [name, ...params] = part.trim().toLowerCase().split(';');
    if (!name) continue;
    let weight = 1;
    for (const p of params) {
      const m = /^\s*q=([0-9.]+)\s*$/.exec(p);
      if (m) weight = Number(m[1]);
    }
    q.set(name, weight);
  }
  const weight = (name: string) => q.get(name) ?? q.get('*') ?? 0;
  if (asset.br && weight('br') > 0) return 'br';
  if (weight('gzip') > 0) return 'gzip';
  return 'identity';
}

function etagMatches(header: string | undefined, etag: string): boolean {
  if (!header) return false;
  if (header.trim() === '*') return true;
  return header.split(',').some((t) => t.trim().replace(/^W\//, '') === etag);
}
