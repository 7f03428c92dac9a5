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
import { startReviewServer, type ReviewServerOptions } from './review-server-testing.js';

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

export async function startTestWebhookServer(opts: ReviewServerOptions = {}): Promise<TestWebhookServer> {
  const reviews: ReceivedReview[] = [];
  const server = await startReviewServer('webhook', opts, ({ path, review, answer: send }) => {
    const request = review.request ?? {};
    reviews.push({ path, request });
    const answer = (response: Record<string, unknown>): true => {
      send({ apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', response: { uid: request.uid, ...response } });
      return true;
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
      default:
        return false;
    }
  });
  return { ...server, reviews };
}
