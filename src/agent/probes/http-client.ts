/**
 * The one HTTP GET client of probes and lifecycle hooks, with the behaviour of the Go client kubelet builds
 * (pkg/probe/http/http.go New + RedirectChecker, net/http client.go): no keep-alive, no proxy, no compression, TLS
 * without certificate verification, one timeout for the whole exchange, redirects followed only to the same host
 * name (at most 10 requests; a redirect elsewhere returns the 3xx response itself), `Referer` set on redirects.
 * Errors read like Go's url.Error: `Get "http://10.42.0.7:8080/healthz": dial tcp 10.42.0.7:8080: connect:
 * connection refused`.
 */
import * as http from 'node:http';
import * as https from 'node:https';
import { isIP } from 'node:net';
import { goQuote } from './go-format.js';
import { goDialError, goIoError, isPlainHttpResponseToTls } from './go-net-error.js';
import type { HttpGetRequest } from './http-get-request.js';
import { MAX_OUTPUT_BYTES } from './probe-outcome.js';

export interface HttpGetOptions {
  /** One deadline for the whole exchange, redirects and body included; undefined = none (lifecycle hooks). */
  timeoutMs?: number;
  /** Ends the exchange early (a preStop hook out of grace period); the error then reads as Go's `context canceled`. */
  signal?: AbortSignal;
  /** Follow redirects to other hosts too; kubelet's probes and hooks do not (false). */
  followNonLocalRedirects?: boolean;
  /** Body bytes kept; the rest is not read (default 10 KiB). */
  maxBodyBytes?: number;
}

export interface HttpGetResponse {
  statusCode: number;
  /** At most maxBodyBytes. */
  body: Buffer;
  truncated: boolean;
  /** The URL that answered (after same-host redirects). */
  url: URL;
}

export type HttpGetErrorPhase = 'request' | 'body';

export class HttpGetError extends Error {
  constructor(
    /** 'request': no response (dial, TLS, timeout awaiting headers, too many redirects); 'body': reading it failed. */
    readonly phase: HttpGetErrorPhase,
    readonly url: string,
    readonly reason: string,
    /** The server answered a TLS client in plain HTTP (hooks then retry with http://, as kubelet does). */
    readonly plainHttpToHttps = false,
  ) {
    super(`Get ${goQuote(url)}: ${reason}`);
    this.name = 'HttpGetError';
  }
}

const MAX_REQUESTS = 10;
const REDIRECT_STATUSES = new Set([301, 302, 303, 307, 308]);

export async function httpGet(request: HttpGetRequest, options: HttpGetOptions): Promise<HttpGetResponse> {
  const controller = new AbortController();
  let timedOut = false;
  const timer =
    options.timeoutMs !== undefined && Number.isFinite(options.timeoutMs)
      ? setTimeout(() => {
          timedOut = true;
          controller.abort();
        }, Math.max(0, options.timeoutMs))
      : undefined;
  const onCallerAbort = () => controller.abort();
  options.signal?.addEventListener('abort', onCallerAbort, { once: true });
  if (options.signal?.aborted) controller.abort();
  const abortReason = (phase: 'headers' | 'body') =>
    !timedOut
      ? 'context canceled'
      : phase === 'headers'
        ? 'context deadline exceeded (Client.Timeout exceeded while awaiting headers)'
        : 'context deadline exceeded (Client.Timeout or context cancellation while reading body)';
  try {
    const first = request.url;
    let url = first;
    let host = request.host;
    let referer: string | undefined;
    const via: URL[] = [];
    for (;;) {
      const res = await exchange(url, request.headers, host, referer, controller.signal, abortReason);
      via.push(url);
      const location = res.headers.location;
      if (!REDIRECT_STATUSES.has(res.statusCode ?? 0) || !location) return await readBody(res, url, options.maxBodyBytes ?? MAX_OUTPUT_BYTES, controller.signal, abortReason);
      let next: URL;
      try {
        next = new URL(location, url);
      } catch (err) {
        res.destroy();
        throw new HttpGetError('request', goUrl(url), `failed to parse Location header ${goQuote(location)}: ${(err as Error).message}`);
      }
      if (!options.followNonLocalRedirects && next.hostname !== first.hostname) {
        // http.ErrUseLastResponse: the 3xx itself is the answer (a probe reports it as a warning).
        return await readBody(res, url, options.maxBodyBytes ?? MAX_OUTPUT_BYTES, controller.signal, abortReason);
      }
      res.destroy();
      if (via.length >= MAX_REQUESTS) throw new HttpGetError('request', location, `stopped after ${MAX_REQUESTS} redirects`);
      // A Host override survives only a relative redirect (Go issue 22233).
      host = request.host !== '' && !isAbsoluteUrl(location) ? request.host : '';
      referer = url.protocol === 'https:' && next.protocol === 'http:' ? undefined : stripUserInfo(url);
      url = next;
    }
  } finally {
    clearTimeout(timer);
    options.signal?.removeEventListener('abort', onCallerAbort);
  }
}

function exchange(
  url: URL,
  headers: Map<string, string[]>,
  host: string,
  referer: string | undefined,
  signal: AbortSignal,
  abortReason: (phase: 'headers' | 'body') => string,
): Promise<http.IncomingMessage> {
  const hostname = url.hostname.replace(/^\[(.*)\]$/, '$1');
  const port = Number(url.port || (url.protocol === 'https:' ? 443 : 80));
  const hostPort = isIP(hostname) === 6 ? `[${hostname}]:${port}` : `${hostname}:${port}`;
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    return Promise.reject(new HttpGetError('request', goUrl(url), `unsupported protocol scheme ${goQuote(url.protocol.replace(/:$/, ''))}`));
  }
  const outgoing: http.OutgoingHttpHeaders = { Host: host || hostPort };
  for (const [name, values] of headers) {
    if (name === 'User-Agent' && (values[0] ?? '') === '') continue; // Go sends no User-Agent when it is set empty
    outgoing[name] = values.length === 1 ? values[0] : values;
  }
  if (referer !== undefined && !headers.has('Referer')) outgoing.Referer = referer;
  return new Promise((resolve, reject) => {
    let connected = false;
    const settleError = (err: unknown) => {
      if (signal.aborted) reject(new HttpGetError('request', goUrl(url), abortReason('headers')));
      else if (!connected) reject(new HttpGetError('request', goUrl(url), goDialError(err, hostPort, hostname)));
      else reject(new HttpGetError('request', goUrl(url), goIoError(err), url.protocol === 'https:' && isPlainHttpResponseToTls(err)));
    };
    const common = {
      hostname,
      port,
      path: `${url.pathname}${url.search}`,
      method: 'GET',
      headers: outgoing,
      agent: false as const,
      setHost: false,
      signal,
    };
    const req =
      url.protocol === 'https:'
        ? // InsecureSkipVerify, as kubelet's probe transport; SNI from the URL's host name, never an IP (Go's tlsHost).
          https.request({ ...common, rejectUnauthorized: false, servername: isIP(hostname) ? '' : hostname })
        : http.request(common);
    req.on('socket', (socket) => {
      if (!socket.connecting) connected = true;
      else socket.once('connect', () => (connected = true));
    });
    req.on('response', resolve);
    req.on('error', settleError);
    req.end();
  });
}

function readBody(res: http.IncomingMessage, url: URL, max: number, signal: AbortSignal, abortReason: (phase: 'body') => string): Promise<HttpGetResponse> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let done = false;
    const finish = (truncated: boolean) => {
      if (done) return;
      done = true;
      resolve({ statusCode: res.statusCode ?? 0, body: Buffer.concat(chunks, Math.min(size, max)).subarray(0, max), truncated, url });
    };
    const fail = (cause: string) => {
      if (done) return;
      done = true;
      res.destroy();
      reject(new HttpGetError('body', goUrl(url), cause));
    };
    const onAbort = () => fail(abortReason('body'));
    if (signal.aborted) return onAbort();
    signal.addEventListener('abort', onAbort, { once: true });
    res.on('data', (chunk: Buffer) => {
      chunks.push(chunk);
      size += chunk.length;
      if (size > max) {
        finish(true);
        res.destroy();
      }
    });
    res.on('end', () => finish(false));
    res.on('error', (err) => fail(signal.aborted ? abortReason('body') : goIoError(err)));
    res.on('close', () => {
      signal.removeEventListener('abort', onAbort);
      if (!res.complete) fail('unexpected EOF');
    });
  });
}

/** The URL as Go prints it: formatURL always writes the port, the WHATWG URL drops a default one. */
function goUrl(url: URL): string {
  if (url.port !== '' || (url.protocol !== 'http:' && url.protocol !== 'https:')) return url.href;
  return `${url.protocol}//${url.host}:${url.protocol === 'https:' ? 443 : 80}${url.pathname}${url.search}`;
}

function isAbsoluteUrl(location: string): boolean {
  return /^[a-zA-Z][a-zA-Z0-9+.-]*:/.test(location);
}

function stripUserInfo(url: URL): string {
  const copy = new URL(url.href);
  copy.username = '';
  copy.password = '';
  return copy.href;
}
