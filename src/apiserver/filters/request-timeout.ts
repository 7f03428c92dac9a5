/**
 * kube-apiserver's WithTimeoutForNonLongRunningRequests (--request-timeout, 60 s): a request that is not long-running
 * gets an answer within the deadline, or 504 Timeout in upstream's words. A client may ask for less with the `timeout`
 * query parameter (kubectl --request-timeout sends it), never for more. The handler cannot be cancelled, so it runs on,
 * but what it writes after the deadline is dropped; if its answer had already started, the connection is cut, as
 * upstream does (a half-sent answer cannot be replaced).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { badRequest, StatusError } from '../../api/status.js';
import { isExemptFromLimits } from './long-running.js';
import type { RequestHandler } from './max-in-flight.js';

export const DEFAULT_REQUEST_TIMEOUT_MS = 60_000;

const UNITS: Record<string, number> = { ns: 1e-6, us: 1e-3, µs: 1e-3, ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** A Go duration ("30s", "1m30s", "500ms") in milliseconds; undefined when it is not one. */
export function parseGoDuration(text: string): number | undefined {
  const re = /(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)/y;
  let total = 0;
  let matched = 0;
  for (let m = re.exec(text); m; m = re.exec(text)) {
    total += Number(m[1]) * UNITS[m[2]];
    matched = re.lastIndex;
  }
  return matched === text.length && text.length > 0 ? total : undefined;
}

export function requestTimedOut(): StatusError {
  return new StatusError({
    message: 'Timeout: request did not complete within requested timeout - context deadline exceeded',
    reason: 'Timeout',
    code: 504,
    details: {},
  });
}

/** From here on, whatever the handler writes goes nowhere (and cannot throw for writing after the end). */
function silence(res: ServerResponse): void {
  const r = res as unknown as Record<string, unknown>;
  r.writeHead = () => res;
  r.setHeader = () => res;
  r.removeHeader = () => undefined;
  r.flushHeaders = () => undefined;
  // A handler failing late would otherwise destroy the connection the timeout answer went out on.
  r.destroy = () => res;
  r.write = (...args: unknown[]) => {
    const cb = args.find((a) => typeof a === 'function') as (() => void) | undefined;
    cb?.();
    return true;
  };
  r.end = (...args: unknown[]) => {
    const cb = args.find((a) => typeof a === 'function') as (() => void) | undefined;
    cb?.();
    return res;
  };
}

const TIMER = Symbol('skiff.requestTimer');

type TimedResponse = ServerResponse & { [TIMER]?: NodeJS.Timeout };

/** The deadline passed: 504 if nothing was sent yet, else the connection is cut (the status line is gone). */
function onTimeout(res: ServerResponse): void {
  if (res.writableEnded) return;
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const body = JSON.stringify(requestTimedOut().status);
  res.writeHead(504, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) });
  res.end(body);
  silence(res);
}

function clearRequestTimer(this: TimedResponse): void {
  clearTimeout(this[TIMER]);
}

export function withRequestTimeout(handler: RequestHandler, opts: { timeoutMs?: number } = {}): RequestHandler {
  const limit = opts.timeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS;
  return (req: IncomingMessage, res: ServerResponse) => {
    if (isExemptFromLimits(req)) return handler(req, res);
    let timeoutMs = limit;
    const url = req.url ?? '/';
    const q = url.indexOf('?');
    const asked = q < 0 ? null : new URLSearchParams(url.slice(q + 1)).get('timeout');
    if (asked !== null && asked !== '') {
      const ms = parseGoDuration(asked);
      if (ms === undefined) {
        const body = JSON.stringify(badRequest('invalid timeout specified in the request URL').status);
        res.writeHead(400, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) });
        res.end(body);
        return;
      }
      if (ms > 0) timeoutMs = Math.min(ms, limit);
    }
    // Module-level callbacks with the response as argument or `this`: nothing allocated per request but the timer.
    (res as TimedResponse)[TIMER] = setTimeout(onTimeout, timeoutMs, res);
    res.on('close', clearRequestTimer);
    handler(req, res);
  };
}
