/**
 * The API server's side of `pods/proxy` and `services/proxy`: find the address (the pod's IP, or a ready endpoint of
 * the service), connect to it from the API server, and relay, as kube-apiserver's ProxyREST with its
 * UpgradeAwareHandler and proxy Transport (k8s.io/apimachinery/pkg/util/proxy) do:
 *
 *   plain requests: method, path, query, headers and body go to the backend (minus hop-by-hop headers and the
 *     client's credentials; X-Forwarded-For and X-Forwarded-Uri added), the answer streams back whatever its status,
 *     with hop-by-hop and CORS headers dropped and a Location on the backend (and links in an HTML page) rewritten
 *     under the proxy path;
 *     a proxy path that is empty is redirected to the one ending in '/' for GET and HEAD;
 *   upgrade requests (WebSocket): forwarded, the backend's 101 written back verbatim, then bytes both ways.
 *
 * Bounds, where upstream has none: connecting (and TLS) gets `dialTimeoutMs` (pods on simulated nodes have addresses
 * nothing answers on: 503, not a hang), the response head `responseTimeoutMs` (504), and a streaming answer may stay
 * silent that long at most. Bodies are piped both ways with back-pressure, never buffered.
 * https backends are not verified (upstream's proxy transport has InsecureSkipVerify: pods have no names to check).
 */
import http, { type IncomingMessage, type OutgoingHttpHeaders } from 'node:http';
import { connect as tcpConnect, isIP, type Socket } from 'node:net';
import { pipeline, type Duplex } from 'node:stream';
import { createGunzip, createGzip } from 'node:zlib';
import { connect as tlsConnect } from 'node:tls';
import type { Pod, Service } from 'kubernetes-types/core/v1.js';
import type { EndpointSlice } from 'kubernetes-types/discovery/v1.js';
import { serviceUnavailable, StatusError } from '../../api/status.js';
import { createLogger } from '../../log/logger.js';
import { requestTimedOut } from '../filters/request-timeout.js';
import type { ConnectRequest, ConnectTarget } from '../handlers/connect.js';
import { spliceUpgrade } from '../handlers/upgrade-splice.js';
import { HtmlLinkRewriter } from './html-link-rewriter.js';
import { backendPath, endpointRejection, escapePath, podProxyAddress, rewriteLocation, serviceProxyCandidates, type BackendAddress } from './locations.js';

const log = createLogger('backend-proxy');

export interface BackendProxyOptions {
  /** The EndpointSlices of a service (label kubernetes.io/service-name). */
  listEndpointSlices(namespace: string, service: string): Promise<EndpointSlice[]>;
  /** A pod, or undefined when there is none (an endpoint's target is checked against it). */
  getPod(namespace: string, name: string): Promise<Pod | undefined>;
  /** Connecting and the TLS handshake (default 5 s). */
  dialTimeoutMs?: number;
  /** The backend's response head, and the longest silence of a streaming answer (default 60 s, the request timeout). */
  responseTimeoutMs?: number;
  /** [0, 1): where among a service's endpoints the search starts (default Math.random). */
  random?: () => number;
}

/** Request headers never passed on: the client's credentials (authentication consumed them). */
const CREDENTIALS = new Set(['authorization', 'proxy-authorization']);
/** RFC 7230 hop-by-hop headers, as Go's ReverseProxy drops them (kept for an upgrade: they are its point). */
const HOP_BY_HOP = new Set(['connection', 'proxy-connection', 'keep-alive', 'proxy-authenticate', 'proxy-authorization', 'te', 'trailer', 'transfer-encoding', 'upgrade']);
/** corsRemovingTransport: the backend's CORS answer must not speak for the API server. */
const CORS = new Set(['access-control-allow-credentials', 'access-control-allow-headers', 'access-control-allow-methods', 'access-control-allow-origin']);

export function isUpgradeRequest(req: IncomingMessage): boolean {
  const connection = String(req.headers.connection ?? '').toLowerCase();
  return req.headers.upgrade !== undefined && connection.split(',').some((t) => t.trim() === 'upgrade');
}

/** Headers named by the Connection header are hop-by-hop too. */
function connectionListed(headers: IncomingMessage['headers']): Set<string> {
  const out = new Set<string>();
  for (const t of String(headers.connection ?? '').split(',')) if (t.trim()) out.add(t.trim().toLowerCase());
  return out;
}

/** The client's headers for the backend, in their order and spelling. */
export function backendRequestHeaders(req: IncomingMessage, upgrade: boolean, forwardedUri: string): Array<[string, string]> {
  const listed = upgrade ? new Set<string>() : connectionListed(req.headers);
  const out: Array<[string, string]> = [];
  let forwardedFor = '';
  for (let i = 0; i < req.rawHeaders.length; i += 2) {
    const name = req.rawHeaders[i]!;
    const lower = name.toLowerCase();
    const value = req.rawHeaders[i + 1]!;
    if (CREDENTIALS.has(lower) || lower.startsWith('impersonate-')) continue;
    if (!upgrade && (HOP_BY_HOP.has(lower) || listed.has(lower))) continue;
    if (lower === 'x-forwarded-for') {
      forwardedFor = forwardedFor ? `${forwardedFor}, ${value}` : value;
      continue;
    }
    if (lower === 'x-forwarded-uri') continue;
    out.push([name, value]);
  }
  const client = req.socket.remoteAddress;
  if (client) forwardedFor = forwardedFor ? `${forwardedFor}, ${client}` : client;
  if (forwardedFor) out.push(['X-Forwarded-For', forwardedFor]);
  out.push(['X-Forwarded-Uri', forwardedUri]);
  return out;
}

/** The backend's answer headers for the client (raw pairs), hop-by-hop and CORS dropped, Location rewritten. */
export function clientResponseHeaders(res: IncomingMessage, rewrite: (location: string) => string, drop: ReadonlySet<string> = new Set()): string[] {
  const listed = connectionListed(res.headers);
  const out: string[] = [];
  for (let i = 0; i < res.rawHeaders.length; i += 2) {
    const name = res.rawHeaders[i]!;
    const lower = name.toLowerCase();
    if (HOP_BY_HOP.has(lower) || listed.has(lower) || CORS.has(lower) || drop.has(lower)) continue;
    out.push(name, lower === 'location' ? rewrite(res.rawHeaders[i + 1]!) : res.rawHeaders[i + 1]!);
  }
  return out;
}

/** An HTML answer whose links can be rewritten: 'identity' or 'gzip' (upstream also reads deflate), else false. */
function htmlEncoding(res: IncomingMessage): 'identity' | 'gzip' | false {
  const type = String(res.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
  if (type !== 'text/html') return false;
  const encoding = String(res.headers['content-encoding'] ?? '').trim().toLowerCase();
  if (encoding === '' || encoding === 'identity') return 'identity';
  return encoding === 'gzip' ? 'gzip' : false;
}

function hostPort(a: { host: string; port: number }): string {
  return isIP(a.host) === 6 ? `[${a.host}]:${a.port}` : `${a.host}:${a.port}`;
}

/** Go's words for the usual connect failures (kubectl users read these). */
function dialError(where: string, err: NodeJS.ErrnoException): Error {
  const words: Record<string, string> = {
    ECONNREFUSED: 'connection refused',
    EHOSTUNREACH: 'no route to host',
    ENETUNREACH: 'network is unreachable',
    ECONNRESET: 'connection reset by peer',
  };
  return new Error(`dial tcp ${where}: connect: ${(err.code && words[err.code]) ?? err.message}`);
}

function safeDecode(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}

export class BackendProxy {
  readonly targets: ReadonlyMap<string, ConnectTarget>;
  private readonly sockets = new Set<Duplex>();
  private readonly dialTimeoutMs: number;
  private readonly responseTimeoutMs: number;
  private closed = false;

  constructor(private readonly opts: BackendProxyOptions) {
    this.dialTimeoutMs = opts.dialTimeoutMs ?? 5_000;
    this.responseTimeoutMs = opts.responseTimeoutMs ?? 60_000;
    this.targets = new Map<string, ConnectTarget>([
      ['pods/proxy', async (c) => this.proxy(c, podProxyAddress(c.object as Pod, c.scheme, c.port))],
      ['services/proxy', async (c) => this.proxy(c, await this.serviceAddress(c))],
    ]);
  }

  /** Ends every proxied connection. */
  close(): void {
    this.closed = true;
    for (const s of this.sockets) s.destroy();
    this.sockets.clear();
  }

  private track<T extends Duplex>(s: T): T {
    this.sockets.add(s);
    s.once('close', () => this.sockets.delete(s));
    return s;
  }

  /** Endpoints to try, in order from a random start, each checked against its pod (upstream's isValidAddress). */
  private async serviceAddress(c: ConnectRequest): Promise<BackendAddress> {
    const svc = c.object as Service;
    const ns = svc.metadata?.namespace ?? '';
    const name = svc.metadata?.name ?? '';
    // The id as the request named it, for upstream's "no endpoints available for service <id>".
    const id = c.scheme ? `${c.scheme}:${name}:${c.port}` : c.port ? `${name}:${c.port}` : name;
    const candidates = serviceProxyCandidates(svc, await this.opts.listEndpointSlices(ns, name), id, c.port);
    const start = Math.floor((this.opts.random ?? Math.random)() * candidates.length) % candidates.length;
    for (let i = 0; i < candidates.length; i++) {
      const cand = candidates[(start + i) % candidates.length]!;
      const podName = cand.targetRef?.name;
      const pod = podName && cand.targetRef?.namespace === ns ? await this.opts.getPod(ns, podName) : undefined;
      const why = endpointRejection(cand, ns, pod);
      if (why) {
        log.warn('service endpoint skipped', { service: `${ns}/${name}`, reason: why });
        continue;
      }
      return { scheme: c.scheme === 'https' ? 'https' : 'http', host: cand.host, port: cand.port };
    }
    throw serviceUnavailable(`no endpoints available for service ${JSON.stringify(id)}`);
  }

  /** A byte stream to the backend: TCP, then TLS for https, within the dial timeout. */
  private async dial(a: BackendAddress): Promise<Socket> {
    if (this.closed) throw new Error('the API server is shutting down');
    const where = hostPort(a);
    const tcp = this.track(tcpConnect({ host: a.host, port: a.port }));
    const deadline = Date.now() + this.dialTimeoutMs;
    const within = <T>(p: Promise<T>, what: string): Promise<T> => {
      let timer: NodeJS.Timeout | undefined;
      return Promise.race([
        p.finally(() => clearTimeout(timer)),
        new Promise<T>((_, reject) => {
          timer = setTimeout(() => reject(new Error(what)), Math.max(0, deadline - Date.now()));
        }),
      ]);
    };
    try {
      await within(
        new Promise<void>((resolve, reject) => {
          tcp.once('connect', () => resolve());
          tcp.once('error', (err) => reject(dialError(where, err)));
        }),
        `dial tcp ${where}: i/o timeout (no connection within ${this.dialTimeoutMs / 1000} s)`,
      );
    } catch (err) {
      tcp.destroy();
      throw err;
    }
    if (a.scheme === 'http') return tcp;
    const tls = this.track(tlsConnect({ socket: tcp, rejectUnauthorized: false, ...(isIP(a.host) === 0 ? { servername: a.host } : {}) }));
    try {
      await within(
        new Promise<void>((resolve, reject) => {
          tls.once('secureConnect', () => resolve());
          tls.once('error', (err) => reject(new Error(`tls handshake with ${where}: ${err.message}`)));
        }),
        `tls handshake with ${where}: timed out after ${this.dialTimeoutMs / 1000} s`,
      );
    } catch (err) {
      tls.destroy();
      throw err;
    }
    return tls;
  }

  private async proxy(c: ConnectRequest, a: BackendAddress): Promise<void> {
    const upgrade = isUpgradeRequest(c.req);
    const method = c.req.method ?? 'GET';
    const url = c.req.url ?? '/';
    const q = url.indexOf('?');
    const rawQuery = q < 0 ? '' : url.slice(q + 1);
    const path = backendPath(c.restPath);
    const requestPath = new URL(url, 'https://skiff').pathname;
    // proxyRedirectsforRootPath: an empty proxy path (".../proxy") is redirected to ".../proxy/" for GET and HEAD.
    if (!upgrade && path === '' && (method === 'GET' || method === 'HEAD')) {
      c.res.writeHead(301, { Location: `${requestPath}/${rawQuery ? `?${rawQuery}` : ''}`, 'Content-Length': '0' });
      c.res.end();
      return;
    }
    const decodedRequestPath = safeDecode(requestPath);
    const prefix = decodedRequestPath.slice(0, decodedRequestPath.length - c.restPath.length);
    const forwardedUri = prefix + (path === '' ? '' : path);

    let socket: Socket;
    try {
      socket = await this.dial(a);
    } catch (err) {
      const msg = (err as Error).message;
      // Upstream: a plain request's transport error is a 503 "error trying to reach service"; an upgrade's dial
      // error reaches the responder as a plain error, a 500.
      if (upgrade) throw new StatusError({ message: `error dialing backend: ${msg}`, reason: 'InternalError', code: 500 });
      throw serviceUnavailable(`error trying to reach service: ${msg}`);
    }

    const headers = backendRequestHeaders(c.req, upgrade, forwardedUri);
    const out = http.request({
      createConnection: () => socket,
      method,
      path: escapePath(path === '' ? '/' : path) + (rawQuery ? `?${rawQuery}` : ''),
      headers: headers as unknown as OutgoingHttpHeaders,
      setHost: false,
    });
    const where = hostPort(a);
    const rewrite = (location: string) => rewriteLocation(location, where, String(c.req.headers.host ?? ''), prefix);

    const done = new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        out.destroy();
        socket.destroy();
        reject(requestTimedOut());
      }, this.responseTimeoutMs);
      out.once('error', (err) => {
        clearTimeout(timer);
        socket.destroy();
        if (upgrade) reject(new StatusError({ message: `error dialing backend: ${err.message}`, reason: 'InternalError', code: 500 }));
        else reject(serviceUnavailable(`error trying to reach service: ${err.message}`));
      });
      out.once('upgrade', (res: IncomingMessage, backend: Socket, head: Buffer) => {
        clearTimeout(timer);
        this.splice(c, res, backend, head);
        resolve();
      });
      out.once('response', (res: IncomingMessage) => {
        clearTimeout(timer);
        const code = res.statusCode ?? 502;
        if (upgrade && code < 400) {
          res.destroy();
          socket.destroy();
          reject(new StatusError({ message: `invalid upgrade response: status code ${code}`, reason: 'InternalError', code: 500 }));
          return;
        }
        this.relay(c, res, socket, rewrite, upgrade).then(resolve, reject);
      });
    });
    if (upgrade) out.end();
    else {
      c.req.pipe(out);
      c.req.once('error', () => out.destroy());
    }
    c.res.once('close', () => {
      if (!upgrade) out.destroy();
    });
    await done;
  }

  /** A plain answer, whatever its status, streamed through with back-pressure. */
  private async relay(c: ConnectRequest, res: IncomingMessage, socket: Socket, rewrite: (l: string) => string, closeAfter: boolean): Promise<void> {
    // proxy.Transport: links in an HTML page (not a redirect) are rewritten too; its length changes then.
    const html = c.req.method !== 'HEAD' && res.headers.location === undefined && htmlEncoding(res);
    const headers = clientResponseHeaders(res, rewrite, html ? new Set(['content-length']) : undefined);
    if (closeAfter) headers.push('Connection', 'close');
    c.res.writeHead(res.statusCode ?? 502, res.statusMessage, headers);
    c.res.flushHeaders();
    // A streaming answer may pause, but not forever: the connection's silence is bounded like the response head.
    socket.setTimeout(this.responseTimeoutMs, () => {
      log.info('backend silent too long, closing the proxied answer', { url: c.req.url });
      socket.destroy();
      c.res.destroy();
    });
    if (html) {
      const stages: Array<NodeJS.ReadableStream | NodeJS.WritableStream> = [res];
      if (html === 'gzip') stages.push(createGunzip(), new HtmlLinkRewriter(rewrite), createGzip());
      else stages.push(new HtmlLinkRewriter(rewrite));
      stages.push(c.res);
      pipeline(stages as unknown as [NodeJS.ReadableStream, NodeJS.WritableStream], (err) => {
        if (err) c.res.destroy();
      });
    } else {
      res.pipe(c.res);
    }
    res.once('error', () => c.res.destroy());
    res.once('aborted', () => c.res.destroy());
    c.res.once('close', () => {
      res.destroy();
      socket.destroy();
    });
    await new Promise<void>((resolve) => c.res.once('close', () => resolve()));
  }

  /** After the backend's 101: its response head verbatim to the client, then raw bytes both ways. */
  private splice(c: ConnectRequest, res: IncomingMessage, backend: Socket, head: Buffer): void {
    backend.setTimeout(0);
    this.track(backend);
    this.track(spliceUpgrade(c, res, backend, head, 'backend'));
  }

}
