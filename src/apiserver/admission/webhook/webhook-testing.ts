/**
 * A real admission webhook server for tests and benchmarks: HTTPS with its own CA (its serving certificate names
 * 127.0.0.1, the extra addresses and DNS names asked for), answering AdmissionReviews by path:
 *   /allow            allowed
 *   /deny             refused (code 403) when the object's name starts with `bad`, allowed otherwise
 *   /deny-all         refused (code 403), whatever the request
 *   /mutate           adds the label `mutated-by=webhook` (JSONPatch)
 *   /mutate-again     adds `annotated=<count of labels>` each time it is called (reinvocation tests)
 *   /warn             allowed, with a warning
 *   /slow             never answers (timeouts)
 *   /garbage          200 with a body that is not JSON
 * Every review received is kept in `reviews` (path and request), newest last.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensurePki } from '../../auth/pki.js';

export interface ReceivedReview {
  path: string;
  request: Record<string, any>;
}

export interface TestWebhookServer {
  port: number;
  /** base64 PEM of the CA, for `caBundle`. */
  caBundle: string;
  reviews: ReceivedReview[];
  url(path: string, host?: string): string;
  close(): Promise<void>;
}

export async function startTestWebhookServer(opts: { host?: string; ips?: string[]; hostnames?: string[] } = {}): Promise<TestWebhookServer> {
  const dir = await mkdtemp(join(tmpdir(), 'skiff-webhook-pki-'));
  const pki = await ensurePki(dir, { ips: opts.ips ?? [], hostnames: opts.hostnames ?? [], nodeHostname: 'webhook.test' });
  const reviews: ReceivedReview[] = [];
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
      reviews.push({ path, request });
      const answer = (response: Record<string, unknown>) => {
        const body = JSON.stringify({ apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', response: { uid: request.uid, ...response } });
        res.writeHead(200, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) }).end(body);
      };
      const obj = request.object ?? request.oldObject ?? {};
      switch (path) {
        case '/allow':
          return answer({ allowed: true });
        case '/deny':
          if (String(obj.metadata?.name ?? '').startsWith('bad')) return answer({ allowed: false, status: { code: 403, reason: 'Forbidden', message: `objects named ${obj.metadata?.name} are not welcome here` } });
          return answer({ allowed: true });
        case '/deny-all':
          return answer({ allowed: false, status: { code: 403, reason: 'Forbidden', message: `${request.operation} of ${request.resource?.resource}/${request.subResource ?? ''} is not allowed` } });
        case '/mutate': {
          const ops = obj.metadata?.labels ? [{ op: 'add', path: '/metadata/labels/mutated-by', value: 'webhook' }] : [{ op: 'add', path: '/metadata/labels', value: { 'mutated-by': 'webhook' } }];
          return answer({ allowed: true, patchType: 'JSONPatch', patch: Buffer.from(JSON.stringify(ops)).toString('base64') });
        }
        case '/mutate-again': {
          const count = Object.keys(obj.metadata?.labels ?? {}).length;
          const ops = obj.metadata?.annotations
            ? [{ op: 'add', path: '/metadata/annotations/annotated', value: String(count) }]
            : [{ op: 'add', path: '/metadata/annotations', value: { annotated: String(count) } }];
          return answer({ allowed: true, patchType: 'JSONPatch', patch: Buffer.from(JSON.stringify(ops)).toString('base64') });
        }
        case '/warn':
          return answer({ allowed: true, warnings: ['this webhook watches you'] });
        case '/audit':
          // auditAnnotations (an invalid key is dropped by the API server) and a warning, allowed.
          return answer({ allowed: true, auditAnnotations: { 'reviewed-by': 'skiff-test', 'not a key!': 'x' }, warnings: ['audited by the test webhook'] });
        case '/slow':
          hanging.add(res);
          res.on('close', () => hanging.delete(res));
          return;
        case '/garbage':
          res.writeHead(200, { 'Content-Type': 'application/json' }).end('garbage, not an AdmissionReview');
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
