/**
 * The HTTPS server under the test webhooks (admission: ./webhook-testing.ts, CRD conversion: ../../crd/conversion-
 * testing.ts): its own CA and serving certificate (127.0.0.1 and the addresses and names asked for), every JSON review
 * parsed and handed to `handle` with its path, and for paths `handle` does not answer, what every test webhook does:
 *   /slow      never answers (timeouts); the response is cut when the server closes
 *   /garbage   200 with a body that is not JSON
 *   anything `handle` does not answer: 404
 */
import { mkdtemp, rm } from 'node:fs/promises';
import type { ServerResponse } from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensurePki } from '../../auth/pki.js';

export interface ReviewServerOptions {
  /** Where it listens (default 127.0.0.1). */
  host?: string;
  /** Further addresses and DNS names its certificate names. */
  ips?: string[];
  hostnames?: string[];
}

export interface ReviewServer {
  port: number;
  /** base64 PEM of the CA, for `caBundle`. */
  caBundle: string;
  url(path: string, host?: string): string;
  close(): Promise<void>;
}

/** One review received (every one, /slow and /garbage included): `answer` sends a JSON body with 200; a handler that does not answer returns false. */
export interface ReviewExchange {
  path: string;
  review: any;
  answer(body: unknown): void;
}

export async function startReviewServer(name: string, opts: ReviewServerOptions, handle: (x: ReviewExchange) => boolean): Promise<ReviewServer> {
  const dir = await mkdtemp(join(tmpdir(), `skiff-${name}-pki-`));
  const pki = await ensurePki(dir, { ips: opts.ips ?? [], hostnames: opts.hostnames ?? [], nodeHostname: `${name}.test` });
  const hanging = new Set<ServerResponse>();
  const server = https.createServer({ cert: pki.servingCertPem, key: pki.servingKeyPem, keepAliveTimeout: 60_000 }, (req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const path = (req.url ?? '/').split('?')[0]!;
      let review: any;
      try {
        review = JSON.parse(Buffer.concat(chunks).toString('utf8'));
      } catch {
        res.writeHead(400).end('not json');
        return;
      }
      const answer = (body: unknown) => {
        const text = JSON.stringify(body);
        res.writeHead(200, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text) }).end(text);
      };
      if (handle({ path, review, answer })) return;
      if (path === '/slow') {
        hanging.add(res);
        res.on('close', () => hanging.delete(res));
      } else if (path === '/garbage') {
        res.writeHead(200, { 'Content-Type': 'application/json' }).end('garbage, not a review');
      } else {
        res.writeHead(404).end('no such webhook');
      }
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, opts.host ?? '127.0.0.1', () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  return {
    port,
    caBundle: Buffer.from(pki.caCertPem).toString('base64'),
    url: (path, host = '127.0.0.1') => `https://${host.includes(':') ? `[${host}]` : host}:${port}${path}`,
    async close() {
      for (const res of hanging) res.destroy();
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      await rm(dir, { recursive: true, force: true });
    },
  };
}
