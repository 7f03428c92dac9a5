/**
 * A bare skiff API server (no controllers, no scheduler) on 127.0.0.1:0 with its own PKI in a temporary dir, for
 * tests of the request path: `send` speaks HTTPS with the admin client certificate (or none).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import https from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Authenticator, type AuthenticatorOptions } from '../../src/apiserver/auth/authenticator.js';
import { ensurePki, type Pki } from '../../src/apiserver/auth/pki.js';
import { defaultExtensions } from '../../src/apiserver/extensions.js';
import { resources } from '../../src/apiserver/registry/index.js';
import { startApiServer, type ApiServer, type ApiServerOptions } from '../../src/apiserver/server.js';
import { openStore } from '../../src/storage/open-store.js';
import type { Store } from '../../src/storage/store.js';

export interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
  json: any;
}

export interface SendOptions {
  /** No client certificate. */
  anonymous?: boolean;
  /** Content-Type of a body (default application/json). */
  contentType?: string;
}

export interface BareApiServer {
  api: ApiServer;
  pki: Pki;
  store: Store;
  send(method: string, path: string, body?: unknown, opts?: SendOptions): Promise<Reply>;
  stop(): Promise<void>;
}

export interface BareApiServerOptions {
  /** The datastore (default: a fresh memory:// store, closed on stop). */
  store?: Store;
  authenticator?: Partial<AuthenticatorOptions>;
  server?: Partial<ApiServerOptions>;
}

export async function startBareApiServer(opts: BareApiServerOptions = {}): Promise<BareApiServer> {
  const dir = await mkdtemp(join(tmpdir(), 'skiff-api-'));
  const pki = await ensurePki(dir, { hostnames: [], ips: [] });
  const store = opts.store ?? (await openStore('memory://'));
  const api = await startApiServer({
    store,
    resources,
    authenticator: new Authenticator({ caCertPem: pki.caCertPem, ...opts.authenticator }),
    tls: { cert: pki.servingCertPem, key: pki.servingKeyPem, ca: pki.caCertPem },
    port: 0,
    host: '127.0.0.1',
    extensions: defaultExtensions(resources),
    ...opts.server,
  });
  return {
    api,
    pki,
    store,
    send: (method, path, body, sendOpts) => sendTo(api.port, pki, method, path, body, sendOpts),
    async stop() {
      await api.close();
      if (!opts.store) await store.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

export function sendTo(port: number, pki: Pki, method: string, path: string, body?: unknown, opts: SendOptions = {}): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const payload = body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body);
    const req = https.request(
      {
        host: '127.0.0.1',
        port,
        method,
        path,
        ca: pki.caCertPem,
        ...(opts.anonymous ? {} : { cert: pki.adminCertPem, key: pki.adminKeyPem }),
        agent: false,
        headers: payload ? { 'Content-Type': opts.contentType ?? 'application/json', 'Content-Length': Buffer.byteLength(payload) } : {},
        timeout: 10_000,
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (c) => (text += c));
        res.on('end', () => {
          let json: unknown;
          try {
            json = JSON.parse(text);
          } catch {
            json = undefined;
          }
          resolve({ status: res.statusCode ?? 0, headers: res.headers, text, json });
        });
      },
    );
    req.on('timeout', () => req.destroy(new Error(`${method} ${path}: no answer within 10 s`)));
    req.on('error', reject);
    req.end(payload);
  });
}
