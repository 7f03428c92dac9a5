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
import { startReviewServer, type ReviewServerOptions } from '../admission/webhook/review-server-testing.js';

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

export async function startConversionWebhook(opts: ReviewServerOptions = {}): Promise<TestConversionWebhook> {
  const reviews: ReceivedConversion[] = [];
  const server = await startReviewServer('conversion', opts, ({ path, review, answer: send }) => {
    const request = review.request ?? {};
    const objects: Record<string, any>[] = request.objects ?? [];
    const desired: string = request.desiredAPIVersion ?? '';
    reviews.push({ path, reviewApiVersion: review.apiVersion, desiredAPIVersion: desired, from: objects.map((o) => o.apiVersion) });
    const answer = (response: Record<string, unknown>, uid = request.uid): true => {
      send({ apiVersion: review.apiVersion, kind: 'ConversionReview', response: { uid, ...response } });
      return true;
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
      default:
        return false;
    }
  });
  return { ...server, reviews };
}
