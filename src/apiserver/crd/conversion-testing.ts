/**
 * A real CRD conversion webhook for tests and bench/crd-conversion.ts: HTTPS with its own CA (certificate for
 * 127.0.0.1 and the addresses and names asked for; listening on `host`, 127.0.0.1 by default), answering ConversionReviews (v1 or v1beta1, in the version asked) by path:
 *   /convert      v1 `spec.cron` <-> v2 `spec.schedule` (the field renamed), apiVersion set to the desired one
 *   /label        as /convert, and adds the label `converted-by=webhook` and changes `metadata.generation`
 *                 (the API server keeps the label and restores the generation)
 *   /rename       as /convert, but changes metadata.name (refused by the API server)
 *   /wrong-uid    as /convert, answered with another uid
 *   /short        answers one object fewer than it was sent
 *   /fail         result Failure with a message
 *   /slow         never answers (timeouts)
 *   /garbage      200 with a body that is not JSON
 * Every review is kept in `reviews` (path, desiredAPIVersion, the apiVersions of the objects sent), newest last.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensurePki } from '../auth/pki.js';

export interface ReceivedConversion {
  path: string;
  reviewApiVersion: string;
  desiredAPIVersion: string;
  /** apiVersion of each object sent. */
  from: string[];
}

export interface TestConversionWebhook {
  port: number;
  /** base64 PEM of the CA, for `caBundle`. */
  caBundle: string;
  reviews: ReceivedConversion[];
  url(path: string, host?: string): string;
  close(): Promise<void>;
}

/** The test conversion: v1 `spec.cron` is v2 `spec.schedule`. */
export function convertCronTab(obj: Record<string, any>, desired: string): Record<string, any> {
  const out = structuredClone(obj);
  const spec = (out.spec ?? {}) as Record<string, unknown>;
  if (desired.endsWith('/v2') && 'cron' in spec) {
    spec.schedule = spec.cron;
    delete spec.cron;
  } else if (desired.endsWith('/v1') && 'schedule' in spec) {
    spec.cron = spec.schedule;
    delete spec.schedule;
  }
  if (out.spec !== undefined) out.spec = spec;
  out.apiVersion = desired;
  return out;
}

export async function startConversionWebhook(opts: { host?: string; ips?: string[]; hostnames?: string[] } = {}): Promise<TestConversionWebhook> {
  const dir = await mkdtemp(join(tmpdir(), 'skiff-conversion-pki-'));
  const pki = await ensurePki(dir, { ips: opts.ips ?? [], hostnames: opts.hostnames ?? [], nodeHostname: 'conversion.test' });
  const reviews: ReceivedConversion[] = [];
  const hanging = new Set<import('node:http').ServerResponse>();
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
      const request = review.request ?? {};
      const objects: Record<string, any>[] = request.objects ?? [];
      const desired: string = request.desiredAPIVersion ?? '';
      reviews.push({ path, reviewApiVersion: review.apiVersion, desiredAPIVersion: desired, from: objects.map((o) => o.apiVersion) });
      const answer = (response: Record<string, unknown>, uid = request.uid) => {
        const body = JSON.stringify({ apiVersion: review.apiVersion, kind: 'ConversionReview', response: { uid, ...response } });
        res.writeHead(200, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) }).end(body);
      };
      const success = { status: 'Success' };
      const converted = objects.map((o) => convertCronTab(o, desired));
      switch (path) {
        case '/convert':
          return answer({ convertedObjects: converted, result: success });
        case '/label':
          for (const o of converted) {
            o.metadata = { ...o.metadata, labels: { ...o.metadata?.labels, 'converted-by': 'webhook' }, generation: 99 };
          }
          return answer({ convertedObjects: converted, result: success });
        case '/rename':
          for (const o of converted) o.metadata = { ...o.metadata, name: `${o.metadata?.name}-renamed` };
          return answer({ convertedObjects: converted, result: success });
        case '/wrong-uid':
          return answer({ convertedObjects: converted, result: success }, 'not-the-uid');
        case '/short':
          return answer({ convertedObjects: converted.slice(1), result: success });
        case '/fail':
          return answer({ result: { status: 'Failure', message: 'cannot convert crontabs today' } });
        case '/slow':
          hanging.add(res);
          res.on('close', () => hanging.delete(res));
          return;
        case '/garbage':
          res.writeHead(200, { 'Content-Type': 'application/json' }).end('garbage, not a ConversionReview');
          return;
        default:
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
    reviews,
    url: (path, host = '127.0.0.1') => `https://${host}:${port}${path}`,
    async close() {
      for (const r of hanging) r.destroy();
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      await rm(dir, { recursive: true, force: true });
    },
  };
}
