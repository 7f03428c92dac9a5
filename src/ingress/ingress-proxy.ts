/**
 * The ingress data path: an HTTP and an HTTPS listener that route each request with the current RouteTable and
 * proxy it to one ready endpoint of the chosen Service (round-robin). Ordinary HTTP/1.1 requests, plain or after the TLS
 * handshake, take the raw-socket fast path (fast-http.ts); what it hands over is served with Node's http module:
 *
 * - bodies stream both ways through pipe() (backpressure: a slow client slows the backend read, and back);
 * - X-Forwarded-For (appended), -Proto, -Host and -Port, as Traefik sets them;
 * - WebSocket and other Upgrade requests become a raw two-way TCP pipe after the request head is replayed;
 * - keep-alive connections to backends (one agent), so a request does not pay a TCP handshake;
 * - HTTPS picks the certificate by SNI from the table, else a self-signed default certificate: the listener reads the
 *   server name from the ClientHello (client-hello.ts) and hands the connection to a TLS server holding only that
 *   certificate. (Node's SNICallback adds the chosen certificate beside the default one, and OpenSSL then serves
 *   whichever key type the client prefers: an RSA Secret behind an EC default was answered with the default.)
 * - setTable swaps the whole table: requests in flight keep the backend they picked, open connections stay open.
 *
 * No route: 404 with Traefik's body; a route with no ready endpoint: 503, a backend that cannot be reached: 502,
 * each with a one-line body that says why.
 */
import http from 'node:http';
import net from 'node:net';
import tls from 'node:tls';
import type { Duplex } from 'node:stream';
import { createLogger } from '../log/logger.js';
import { recordLength, notTls, serverNameOf } from './client-hello.js';
import { certificateFor, routeRequest, type Backend, type RouteTable } from './compute-routes.js';
import { FastHttp } from './fast-http.js';

const log = createLogger('ingress');

export interface IngressProxyOptions {
  /** Address to listen on (default all: 0.0.0.0, as Traefik behind ServiceLB answers on every node address). */
  bindAddress?: string;
  httpPort: number;
  httpsPort: number;
  /** The certificate for names no Ingress has a Secret for. */
  defaultCertificate: { cert: string; key: string };
  /**
   * Plain HTTP through fast-http.ts (raw sockets, only the framing parsed), falling back to the http server for what
   * it does not handle; false: every request through the http server (the benchmark's baseline). Default true.
   */
  fastPath?: boolean;
  /**
   * Benchmarks only: also serve plain HTTP on this port through the http server alone (no fast path), so
   * bench/ingress compares both paths in one run on one node (node-ingress.ts takes it from
   * SKIFF_INGRESS_BASELINE_HTTP_PORT). 0: a free port, see baselineHttpPort; unset: no such listener.
   */
  baselineHttpPort?: number;
}

/** Request headers that belong to one connection (RFC 9110 §7.6.1), not forwarded as they are. */
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'te', 'trailer', 'transfer-encoding', 'upgrade', 'proxy-authorization', 'proxy-authenticate']);
/** The forwarding headers the ingress sets itself (a client's own are replaced; X-Forwarded-For is appended to). */
const SET_BY_US = new Set(['x-forwarded-for', 'x-forwarded-proto', 'x-forwarded-host', 'x-forwarded-port', 'x-real-ip']);

/** A connection that has not sent its ClientHello by then is closed (the TLS servers' own handshake timeout follows). */
const HELLO_TIMEOUT_MS = 10_000;
/** The largest TLS record (2^14 bytes plus the 256 bytes of expansion TLS 1.2 allows) and its header. */
const MAX_RECORD = 5 + 16_384 + 256;

const emptyTable = (): RouteTable => ({ hosts: new Map(), wildcards: new Map(), anyHost: [], certificates: new Map(), warnings: [], ingressWarnings: [] });

export class IngressProxy {
  private table: RouteTable = emptyTable();
  private readonly next = new WeakMap<Backend, number>();
  private readonly agent = new http.Agent({ keepAlive: true, maxSockets: 512, maxFreeSockets: 64, scheduling: 'lifo' });
  /** A TLS server per certificate of the table, keyed by certificate and key: it holds that certificate only. */
  private readonly certServers = new Map<string, tls.Server | undefined>();
  private readonly httpServer: http.Server;
  /** The plain-HTTP listener: hands each connection to the fast path, or straight to httpServer without it. */
  private readonly httpListener: net.Server;
  private readonly fast: FastHttp;
  private readonly baselineListener: net.Server | undefined;
  /** The default certificate's TLS server; the listener hands it connections no Secret's certificate matches. */
  private readonly httpsServer: tls.Server;
  /** Serves HTTP on TLS connections the fast path hands over (or all of them without it), as https.Server would. */
  private readonly httpsHttp: http.Server;
  private readonly fastTls: FastHttp;
  private readonly tlsListener: net.Server;
  private readonly upgraded = new Set<Duplex>();
  httpPort = 0;
  httpsPort = 0;
  baselineHttpPort = 0;

  constructor(private readonly o: IngressProxyOptions) {
    this.httpServer = http.createServer((req, res) => this.handle(req, res, 'http'));
    this.httpServer.on('upgrade', (req, socket, head) => this.upgrade(req, socket, head, 'http'));
    this.httpServer.on('clientError', (_err, socket) => socket.destroy());
    this.fast = new FastHttp({
      route: (host, path) => {
        const picked = this.pickFor(host, path);
        return 'status' in picked ? undefined : { endpoint: picked.endpoint, name: picked.backend.name };
      },
      fallback: (socket) => this.httpServer.emit('connection', socket),
      port: () => this.httpPort,
      scheme: 'http',
    });
    this.httpsHttp = http.createServer((req, res) => this.handle(req, res, 'https'));
    this.httpsHttp.on('upgrade', (req, socket, head) => this.upgrade(req, socket, head, 'https'));
    this.httpsHttp.on('clientError', (_err, socket) => socket.destroy());
    this.fastTls = new FastHttp({
      route: (host, path) => {
        const picked = this.pickFor(host, path);
        return 'status' in picked ? undefined : { endpoint: picked.endpoint, name: picked.backend.name };
      },
      fallback: (socket) => this.httpsHttp.emit('connection', socket),
      port: () => this.httpsPort,
      scheme: 'https',
    });
    const fastPath = o.fastPath ?? true;
    // allowHalfOpen as the http server's own listener: a client's FIN does not cut off the response it waits for.
    this.httpListener = net.createServer({ allowHalfOpen: true, noDelay: true }, (socket) => (fastPath ? this.fast.accept(socket) : this.httpServer.emit('connection', socket)));
    if (o.baselineHttpPort !== undefined) this.baselineListener = net.createServer({ allowHalfOpen: true, noDelay: true }, (socket) => this.httpServer.emit('connection', socket));
    this.httpsServer = this.tlsServer(o.defaultCertificate, fastPath);
    this.tlsListener = net.createServer((socket) => this.acceptTls(socket));
  }

  /** A TLS server for one certificate; its connections go, once the handshake is done, where plain HTTP's do. */
  private tlsServer(pair: { cert: string; key: string }, fastPath = this.o.fastPath ?? true): tls.Server {
    // ALPN http/1.1 as https.Server offers it.
    return tls.createServer({ cert: pair.cert, key: pair.key, ALPNProtocols: ['http/1.1'] }, (socket) =>
      fastPath ? this.fastTls.accept(socket) : this.httpsHttp.emit('connection', socket),
    );
  }

  /** Reads the ClientHello's first record, then hands the connection (those bytes put back) to its TLS server. */
  private acceptTls(socket: net.Socket): void {
    let buf: Buffer = Buffer.alloc(0);
    const timer = setTimeout(() => socket.destroy(), HELLO_TIMEOUT_MS);
    const done = () => {
      clearTimeout(timer);
      socket.off('data', onData);
      socket.off('error', onError);
    };
    const onError = () => {
      done();
      socket.destroy();
    };
    const onData = (chunk: Buffer) => {
      buf = buf.length === 0 ? chunk : Buffer.concat([buf, chunk]);
      const need = recordLength(buf);
      if (!notTls(buf) && (need === undefined || buf.length < need) && buf.length < MAX_RECORD) return;
      done();
      socket.pause();
      socket.unshift(buf);
      const server = notTls(buf) ? this.httpsServer : this.serverFor(serverNameOf(buf));
      server.emit('connection', socket);
    };
    socket.on('data', onData);
    socket.on('error', onError);
    socket.once('close', () => clearTimeout(timer));
  }

  /** Listens on both ports; rejects (closing what did open) when either is taken. */
  async listen(): Promise<void> {
    const host = this.o.bindAddress ?? '0.0.0.0';
    const listen = (s: net.Server, port: number) =>
      new Promise<number>((resolve, reject) => {
        const onError = (err: Error) => reject(err);
        s.once('error', onError);
        s.listen(port, host, () => {
          s.off('error', onError);
          resolve((s.address() as net.AddressInfo).port);
        });
      });
    try {
      this.httpPort = await listen(this.httpListener, this.o.httpPort);
      this.httpsPort = await listen(this.tlsListener, this.o.httpsPort);
      if (this.baselineListener) this.baselineHttpPort = await listen(this.baselineListener, this.o.baselineHttpPort!);
    } catch (err) {
      await this.close();
      throw err;
    }
  }

  /** Replaces the routing table: the next request routes with it. */
  setTable(table: RouteTable): void {
    const inUse = new Set([...table.certificates.values()].map((c) => c.cert + c.key));
    for (const [k, server] of this.certServers) {
      if (inUse.has(k)) continue;
      this.certServers.delete(k);
      // Connections it serves stay open (as with the default server's): only new ones go elsewhere.
      server?.close();
    }
    this.table = table;
  }

  async close(): Promise<void> {
    for (const s of this.upgraded) s.destroy();
    this.fast.destroy();
    this.fastTls.destroy();
    const closing = [this.httpListener, this.tlsListener, this.baselineListener].filter((s): s is net.Server => !!s?.listening).map((s) => new Promise<void>((resolve) => s.close(() => resolve())));
    for (const s of [this.httpServer, this.httpsHttp]) s.closeAllConnections();
    this.certServers.clear();
    this.agent.destroy();
    await Promise.all(closing);
  }

  /** The TLS server for a requested name: the one of its Secret's certificate, else the default's. */
  private serverFor(serverName: string | undefined): tls.Server {
    const pair = serverName ? certificateFor(this.table, serverName) : undefined;
    if (!pair) return this.httpsServer;
    const key = pair.cert + pair.key;
    if (!this.certServers.has(key)) {
      let server: tls.Server | undefined;
      try {
        // Checked first: tls.createServer defers a bad key to the first handshake.
        tls.createSecureContext({ cert: pair.cert, key: pair.key });
        server = this.tlsServer(pair);
      } catch (err) {
        log.warn(`TLS Secret ${pair.secret} holds no usable certificate and key: ${(err as Error).message}; serving the default certificate`, { secret: pair.secret });
      }
      this.certServers.set(key, server);
    }
    return this.certServers.get(key) ?? this.httpsServer;
  }

  /** The backend endpoint for this request, or the answer to give instead. */
  private pick(req: http.IncomingMessage): { endpoint: string; backend: Backend } | { status: number; body: string } {
    return this.pickFor(rawHeader(req.rawHeaders, 'host'), req.url ?? '/');
  }

  private pickFor(hostHeader: string | undefined, path: string): { endpoint: string; backend: Backend } | { status: number; body: string } {
    const route = routeRequest(this.table, hostHeader, path);
    if (!route) return { status: 404, body: '404 page not found\n' };
    const { backend } = route;
    if (backend.endpoints.length === 0) {
      const p = backend.problem ?? { status: 503 as const, message: `no ready endpoints for ${backend.name}` };
      return { status: p.status, body: `${p.status === 503 ? 'Service Unavailable' : 'Bad Gateway'}: ${p.message}\n` };
    }
    const i = this.next.get(backend) ?? 0;
    this.next.set(backend, (i + 1) % backend.endpoints.length);
    return { endpoint: backend.endpoints[i % backend.endpoints.length]!, backend };
  }

  /**
   * The upstream request's headers as a flat [name, value, ...] list from the client's raw headers: http.request takes
   * such a list as the header block itself (no per-header setHeader), and the client's parsed `headers` object, which
   * Node builds lazily, is never built.
   */
  private forwardedHeaders(req: http.IncomingMessage, scheme: 'http' | 'https'): string[] {
    const raw = req.rawHeaders;
    const out: string[] = [];
    let prior: string | undefined;
    let host = '';
    for (let i = 0; i < raw.length; i += 2) {
      const name = raw[i]!;
      const lower = name.toLowerCase();
      if (HOP_BY_HOP.has(lower)) continue;
      if (SET_BY_US.has(lower)) {
        if (lower === 'x-forwarded-for') prior = prior === undefined ? raw[i + 1]! : `${prior}, ${raw[i + 1]!}`;
        continue;
      }
      if (lower === 'host' && host === '') host = raw[i + 1]!;
      out.push(name, raw[i + 1]!);
    }
    const client = (req.socket.remoteAddress ?? '').replace(/^::ffff:/, '');
    out.push(
      'x-forwarded-for', prior ? `${prior}, ${client}` : client,
      'x-forwarded-proto', scheme,
      'x-forwarded-host', host,
      'x-forwarded-port', String(scheme === 'https' ? this.httpsPort : this.httpPort),
      'x-real-ip', client,
    );
    return out;
  }

  private handle(req: http.IncomingMessage, res: http.ServerResponse, scheme: 'http' | 'https'): void {
    const picked = this.pick(req);
    if ('status' in picked) {
      res.writeHead(picked.status, { 'content-type': 'text/plain; charset=utf-8', 'content-length': Buffer.byteLength(picked.body) });
      res.end(picked.body);
      req.resume();
      return;
    }
    const [host, port] = splitHostPort(picked.endpoint);
    const upstream = http.request({ host, port, method: req.method, path: req.url, headers: this.forwardedHeaders(req, scheme), agent: this.agent });
    upstream.on('response', (ures) => {
      // From the raw list, so Node never builds the response's parsed `headers` object only for us to copy it.
      res.writeHead(ures.statusCode ?? 502, ures.statusMessage, responseHeaders(ures.rawHeaders));
      // pipe() by hand: the same backpressure (pause on a full client buffer, resume on drain) with two listeners
      // instead of pipe's seven, which shows at thousands of small responses a second.
      ures.on('data', (chunk: Buffer) => {
        if (!res.write(chunk)) {
          ures.pause();
          res.once('drain', () => ures.resume());
        }
      });
      ures.on('end', () => res.end());
      ures.on('error', () => res.destroy());
    });
    upstream.on('error', (err) => {
      if (!res.headersSent) {
        const body = `Bad Gateway: ${picked.backend.name} endpoint ${picked.endpoint}: ${(err as NodeJS.ErrnoException).code ?? err.message}\n`;
        res.writeHead(502, { 'content-type': 'text/plain; charset=utf-8', 'content-length': Buffer.byteLength(body) });
        res.end(body);
      } else res.destroy();
    });
    // A client that goes away takes its upstream request with it.
    res.on('close', () => {
      if (!res.writableFinished) upstream.destroy();
    });
    // A request without a body (most GETs) goes out at once, not a tick later when the pipe sees its end.
    if (req.headers['content-length'] === undefined && req.headers['transfer-encoding'] === undefined) {
      upstream.end();
      req.resume();
    } else req.pipe(upstream);
  }

  private upgrade(req: http.IncomingMessage, socket: Duplex, head: Buffer, scheme: 'http' | 'https'): void {
    const picked = this.pick(req);
    if ('status' in picked) {
      socket.end(`HTTP/1.1 ${picked.status} ${http.STATUS_CODES[picked.status]}\r\ncontent-type: text/plain; charset=utf-8\r\ncontent-length: ${Buffer.byteLength(picked.body)}\r\nconnection: close\r\n\r\n${picked.body}`);
      return;
    }
    const [host, port] = splitHostPort(picked.endpoint);
    const headers = this.forwardedHeaders(req, scheme);
    // The upgrade itself is the point of this request: its hop-by-hop headers go through.
    headers.push('connection', req.headers.connection ?? 'Upgrade');
    if (req.headers.upgrade) headers.push('upgrade', req.headers.upgrade);
    const upstream = net.connect({ host, port });
    this.upgraded.add(socket);
    this.upgraded.add(upstream);
    const done = () => {
      this.upgraded.delete(socket);
      this.upgraded.delete(upstream);
      socket.destroy();
      upstream.destroy();
    };
    socket.on('error', done);
    socket.on('close', done);
    upstream.on('error', (err) => {
      if (!upstream.bytesRead && socket.writable) socket.end(`HTTP/1.1 502 Bad Gateway\r\nconnection: close\r\ncontent-length: 0\r\n\r\n`);
      log.debug('upgrade connection to backend failed', { backend: picked.backend.name, endpoint: picked.endpoint, err });
      done();
    });
    upstream.on('close', done);
    upstream.on('connect', () => {
      let headText = `${req.method} ${req.url} HTTP/1.1\r\n`;
      for (let i = 0; i < headers.length; i += 2) headText += `${headers[i]}: ${headers[i + 1]}\r\n`;
      upstream.write(headText + '\r\n');
      if (head.length) upstream.write(head);
      socket.pipe(upstream);
      upstream.pipe(socket);
    });
  }
}

/** The first value of a header in a raw [name, value, ...] list (names compared without case). */
function rawHeader(raw: string[], lowerName: string): string | undefined {
  for (let i = 0; i < raw.length; i += 2) if (raw[i]!.length === lowerName.length && raw[i]!.toLowerCase() === lowerName) return raw[i + 1];
  return undefined;
}

/** A backend's response headers without the hop-by-hop ones, repeated names as lists (Set-Cookie), names as sent. */
function responseHeaders(raw: string[]): http.OutgoingHttpHeaders {
  const out: Record<string, string | string[]> = {};
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!;
    if (HOP_BY_HOP.has(name.toLowerCase())) continue;
    const value = raw[i + 1]!;
    const prev = out[name];
    out[name] = prev === undefined ? value : Array.isArray(prev) ? [...prev, value] : [prev, value];
  }
  return out;
}

function splitHostPort(endpoint: string): [string, number] {
  const colon = endpoint.lastIndexOf(':');
  return [endpoint.slice(0, colon).replace(/^\[|\]$/g, ''), Number(endpoint.slice(colon + 1))];
}
