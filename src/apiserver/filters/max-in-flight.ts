/**
 * kube-apiserver's WithMaxInFlightLimit: at most `maxRequestsInflight` reads and `maxMutatingRequestsInflight` writes
 * are served at once (--max-requests-inflight 400, --max-mutating-requests-inflight 200); beyond that a request is
 * answered at once with 429 and `Retry-After: 1`, which client-go honours by waiting and retrying. Long-running
 * requests (watches, exec/attach/portforward/proxy, logs) and the health endpoints are not counted.
 *
 * Upstream answers with the plain text "Too many requests, please try again later."; skiff sends the same words as a
 * Status (reason TooManyRequests, details.retryAfterSeconds), which is what client-go builds from the text anyway.
 * Like upstream, a request over the limit is still served when `exempt` says so (kube-apiserver: the system:masters
 * group, "so powerful that they should always get an answer"); the question is only asked under overload. The control
 * plane's own clients use the in-process transport, which does not pass through this filter at all.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { StatusError } from '../../api/status.js';
import { isExemptFromLimits, isMutatingRequest } from './long-running.js';

export type RequestHandler = (req: IncomingMessage, res: ServerResponse) => void;

export interface MaxInFlightOptions {
  /** Concurrent non-mutating requests; 0 = unlimited. */
  maxRequestsInflight: number;
  /** Concurrent mutating requests; 0 = unlimited. */
  maxMutatingRequestsInflight: number;
  /** Asked for a request over the limit: true serves it anyway, uncounted. */
  exempt?(req: IncomingMessage): Promise<boolean>;
}

export const DEFAULT_MAX_REQUESTS_INFLIGHT = 400;
export const DEFAULT_MAX_MUTATING_REQUESTS_INFLIGHT = 200;

const RETRY_AFTER_SECONDS = 1;

export function tooManyRequests(): StatusError {
  return new StatusError({
    message: 'Too many requests, please try again later.',
    reason: 'TooManyRequests',
    code: 429,
    details: { retryAfterSeconds: RETRY_AFTER_SECONDS },
  });
}

function refuse(res: ServerResponse): void {
  const body = JSON.stringify(tooManyRequests().status);
  res.writeHead(429, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body), 'Retry-After': String(RETRY_AFTER_SECONDS) });
  res.end(body);
}

/** Wraps `handler`; `inFlight()` reports the counts (for tests and metrics). */
export function withMaxInFlightLimit(handler: RequestHandler, opts: MaxInFlightOptions): RequestHandler & { inFlight(): { reads: number; writes: number } } {
  let reads = 0;
  let writes = 0;
  // One listener per kind, shared by every request (no closure per request on this path).
  const releaseRead = () => reads--;
  const releaseWrite = () => writes--;
  const filtered = (req: IncomingMessage, res: ServerResponse): void => {
    if (isExemptFromLimits(req)) return handler(req, res);
    const mutating = isMutatingRequest(req);
    const limit = mutating ? opts.maxMutatingRequestsInflight : opts.maxRequestsInflight;
    const current = mutating ? writes : reads;
    if (limit > 0 && current >= limit) {
      if (!opts.exempt) return refuse(res);
      opts.exempt(req).then(
        (exempt) => (exempt ? handler(req, res) : refuse(res)),
        () => refuse(res),
      );
      return;
    }
    if (mutating) {
      writes++;
      res.on('close', releaseWrite);
    } else {
      reads++;
      res.on('close', releaseRead);
    }
    handler(req, res);
  };
  return Object.assign(filtered, { inFlight: () => ({ reads, writes }) });
}
