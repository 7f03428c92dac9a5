/**
 * Which requests are long-running, as kube-apiserver's BasicLongRunningRequestCheck decides with the verbs
 * {watch, proxy} and the subresources {attach, exec, proxy, log, portforward}: they stream for minutes or hours, so
 * they neither count against the in-flight limits nor get a request deadline.
 */
import type { IncomingMessage } from 'node:http';
import { parseRequestInfo } from '../request-info.js';

const LONG_RUNNING_SUBRESOURCES = new Set(['attach', 'exec', 'proxy', 'log', 'portforward']);

/** A path segment that could make a request long-running (a superset: parsing decides). */
const LONG_RUNNING_HINT = /\/(attach|exec|proxy|log|portforward)(\/|$)/;

/** Health endpoints: never limited, so load balancers and kubelets keep seeing the truth under load. */
export function isHealthPath(path: string): boolean {
  return /^\/(healthz|livez|readyz)(\/|$)/.test(path);
}

export function isLongRunningRequest(req: Pick<IncomingMessage, 'url' | 'method'>): boolean {
  const url = req.url ?? '/';
  const q = url.indexOf('?');
  const path = q < 0 ? url : url.slice(0, q);
  // Every request passes here: most are plainly not long-running, which a look at the URL tells without parsing it.
  if (!path.includes('/watch/') && !LONG_RUNNING_HINT.test(path) && (q < 0 || !/(^|&)watch=/.test(url.slice(q + 1)))) return false;
  let info;
  try {
    info = parseRequestInfo(req.method ?? 'GET', path, new URLSearchParams(q < 0 ? '' : url.slice(q + 1)));
  } catch {
    return false; // a malformed path gets its 400 from the handler, quickly
  }
  if (!info.isResourceRequest) return false;
  // The deprecated path form /api/v1/proxy/... carries the verb as the first segment.
  if (info.verb === 'watch' || info.resource === 'proxy') return true;
  return LONG_RUNNING_SUBRESOURCES.has(info.subresource);
}

/** Writes, as kube-apiserver classifies them: everything but get, list and watch (GET and HEAD here). */
const EXEMPT = Symbol('skiff.exemptFromLimits');

/**
 * Health checks and long-running requests are exempt from the in-flight limits and the request timeout. Decided once
 * per request and remembered on it, since both filters ask.
 */
export function isExemptFromLimits(req: IncomingMessage): boolean {
  const r = req as IncomingMessage & { [EXEMPT]?: boolean };
  let exempt = r[EXEMPT];
  if (exempt === undefined) {
    const url = req.url ?? '/';
    const q = url.indexOf('?');
    exempt = r[EXEMPT] = isHealthPath(q < 0 ? url : url.slice(0, q)) || isLongRunningRequest(req);
  }
  return exempt;
}

export function isMutatingRequest(req: Pick<IncomingMessage, 'method'>): boolean {
  const m = req.method ?? 'GET';
  return m !== 'GET' && m !== 'HEAD' && m !== 'OPTIONS';
}
