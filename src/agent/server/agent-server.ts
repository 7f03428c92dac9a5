/**
 * The agent's HTTPS API, on kubelet's port and paths (pkg/kubelet/server/server.go), which the API server proxies
 * `pods/log`, `pods/exec`, `pods/attach`, `pods/portforward` and `nodes/proxy` to:
 *
 *   GET  /healthz                                          ok
 *   GET  /pods                                             v1 PodList of the pods this agent runs
 *   GET  /stats/summary                                    the backend's Summary
 *   GET  /metrics                                          the kubelet's Prometheus metrics (options.metrics)
 *   GET  /metrics/cadvisor                                 container CPU and memory series (backend.containerSamples)
 *   GET  /containerLogs/{ns}/{pod}/{container}?follow&tailLines&sinceSeconds&sinceTime&timestamps&previous&limitBytes
 *   GET|POST /exec/{ns}/{pod}[/{uid}]/{container}?command=..&input=1&output=1&error=1&tty=1   (upgrade)
 *   GET|POST /attach/{ns}/{pod}[/{uid}]/{container}?input=1&output=1&error=1&tty=1            (upgrade)
 *   GET|POST /portForward/{ns}/{pod}[/{uid}][?port=..]                                      (upgrade)
 *
 * Every request needs a client certificate signed by the cluster CA whose identity is authorized (authenticate.ts).
 * Streaming sessions are bounded per client and in total (429 with a Status beyond), close after an idle period, and
 * clients get a deadline for their handshake (session-limits.ts).
 */
import { EventEmitter } from 'node:events';
import { createServer, type Server as HttpsServer } from 'node:https';
import { ServerResponse, type IncomingMessage } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import type { Pod } from 'kubernetes-types/core/v1.js';
import { isStatusError } from '../../api/status.js';
import { createLogger } from '../../log/logger.js';
import { renderCadvisorMetrics } from '../../observability/cadvisor-metrics.js';
import type { KubeletMetrics } from '../../observability/kubelet-metrics.js';
import { serveMetrics } from '../../observability/registries.js';
import type { StreamOptions } from '../runtime/types.js';
import { isSpdyUpgradeRequest, isWebSocketRequest, refuse } from '../streaming/upgrade.js';
import { certificateIdentity, DEFAULT_AUTHORIZED_GROUPS, DEFAULT_AUTHORIZED_USERS, forbiddenMessage, isAuthorized, requestAttributes, type AuthorizationPolicy } from './authenticate.js';
import { bearerToken, type DelegatedAuth } from './delegated-auth.js';
import { parseContainerLogQuery } from './log-query.js';
import { DEFAULT_STREAMING_LIMITS, SessionLimiter, type StreamingLimits } from './session-limits.js';
import type { AgentServerBackend } from './types.js';

/** Who the API server proxies as: the kubelet-client certificate skiff's API server holds (and upstream's names). */
const API_SERVER_IDENTITIES = new Set(DEFAULT_AUTHORIZED_USERS);
const log = createLogger('agent-server');

/** kubelet's port. */
export const DEFAULT_AGENT_PORT = 10250;

export interface AgentServerOptions {
  backend: AgentServerBackend;
  /** PEMs: the cluster CA (trust root for client certificates), and this agent's serving certificate and key. */
  tls: { ca: string; cert: string; key: string };
  host?: string;
  /** Default 10250; 0 picks a free port. */
  port?: number;
  /** Who may call (default: the API server's kubelet-client identities and system:masters). */
  authorization?: Partial<AuthorizationPolicy>;
  /** The client's time to create its SPDY streams after the upgrade (default: limits.handshakeTimeoutMs). */
  streamCreationTimeoutMs?: number;
  /** Session counts and timeouts (defaults: DEFAULT_STREAMING_LIMITS, 32 per client, 256 in all, 4 h idle, 30 s). */
  limits?: Partial<StreamingLimits>;
  /** The kubelet's metrics, served at /metrics (404 without). */
  metrics?: KubeletMetrics;
  /** Bearer tokens checked by TokenReview and SubjectAccessReview, as kubelet's webhook modes (without: 401). */
  delegatedAuth?: DelegatedAuth;
}

/** Emitted as 'stream' for every exec, attach and port-forward connection taken over. */
export interface StreamEvent {
  kind: 'exec' | 'attach' | 'portforward';
  namespace: string;
  pod: string;
  /** `websocket/v5.channel.k8s.io`, `spdy/v4.channel.k8s.io`, `websocket/SPDY/3.1+portforward.k8s.io`, ... */
  protocol: string;
}

export class AgentServer extends EventEmitter {
  private server: HttpsServer | undefined;
  private readonly sockets = new Set<Socket>();
  private readonly policy: AuthorizationPolicy;
  readonly limits: StreamingLimits;
  private readonly sessions: SessionLimiter;
  private readonly streamCreationTimeoutMs: number;

  constructor(private readonly opts: AgentServerOptions) {
    super();
    this.policy = { users: opts.authorization?.users ?? DEFAULT_AUTHORIZED_USERS, groups: opts.authorization?.groups ?? DEFAULT_AUTHORIZED_GROUPS };
    this.limits = { ...DEFAULT_STREAMING_LIMITS, ...opts.limits };
    this.sessions = new SessionLimiter(this.limits);
    this.streamCreationTimeoutMs = opts.streamCreationTimeoutMs ?? this.limits.handshakeTimeoutMs;
  }

  /** TLS connections open now (plain requests, keep-alive and streaming ones). */
  get openConnections(): number {
    return this.sockets.size;
  }

  /** Streaming sessions open now: all of them, or one client identity's. */
  activeSessions(client?: string): number {
    return this.sessions.active(client);
  }

  /** The port listened on (after start). */
  get port(): number {
    return (this.server?.address() as AddressInfo | null)?.port ?? 0;
  }

  async start(): Promise<void> {
    const handshake = this.limits.handshakeTimeoutMs;
    const server = createServer(
      {
        ca: this.opts.tls.ca,
        cert: this.opts.tls.cert,
        key: this.opts.tls.key,
        requestCert: true,
        rejectUnauthorized: false,
        // A client that does not finish its TLS handshake, or its request head, in time is dropped.
        handshakeTimeout: handshake,
        headersTimeout: handshake,
        requestTimeout: handshake,
        connectionsCheckingInterval: Math.min(30_000, Math.max(100, Math.floor(handshake / 4))),
      },
      (req, res) => this.handle(req, res),
    );
    server.on('secureConnection', (socket: Socket) => {
      this.sockets.add(socket);
      socket.once('close', () => this.sockets.delete(socket));
    });
    server.on('upgrade', (req: IncomingMessage, socket: Socket, head: Buffer) => {
      // Bytes the client sent right after its request head belong to the new protocol.
      if (head.length > 0) socket.unshift(head);
      const res = new ServerResponse(req);
      res.assignSocket(socket);
      res.shouldKeepAlive = false;
      // A refusal answered on the upgraded socket: nobody reads that socket any more, so without draining it the
      // client's FIN is never seen and the connection stays half-open for good (found by test/agent-api-fuzz.test.ts).
      // Drain, flush the answer, then close, as Node's own server does after a `Connection: close` answer.
      res.on('finish', () => {
        socket.resume();
        socket.destroySoon();
      });
      this.handle(req, res);
    });
    server.on('tlsClientError', (err) => log.debug('TLS handshake failed', { err: err.message }));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.opts.port ?? DEFAULT_AGENT_PORT, this.opts.host ?? '0.0.0.0', () => {
        server.off('error', reject);
        resolve();
      });
    });
    this.server = server;
  }

  /** Stops listening and ends every connection, streaming ones included. */
  async close(): Promise<void> {
    const server = this.server;
    if (!server) return;
    this.server = undefined;
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    for (const s of this.sockets) s.destroy();
    server.closeAllConnections();
    await closed;
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    this.serve(req, res).catch((err) => {
      if (isStatusError(err)) {
        refuse(res, err.status.code ?? 500, err.status.message ?? err.message);
        return;
      }
      log.error('request failed', { method: req.method, url: req.url, err });
      refuse(res, 500, `Internal Error: ${(err as Error).message}`);
    });
  }

  private async serve(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'https://agent');
    const method = req.method ?? 'GET';
    const cert = certificateIdentity(req);
    let id = cert;
    let allowed = cert !== undefined && isAuthorized(cert, this.policy);
    const token = cert ? undefined : bearerToken(req.headers.authorization);
    if (token && this.opts.delegatedAuth) {
      // kubelet's webhook modes: the API server says who the token is and whether it may use nodes/<subresource>.
      id = await this.opts.delegatedAuth.authenticate(token);
      if (id) {
        const a = requestAttributes(method, url.pathname);
        allowed = await this.opts.delegatedAuth.authorize(id, a.verb, a.subresource);
      }
    }
    if (!id) return refuse(res, 401, 'Unauthorized');
    if (!allowed) return refuse(res, 403, forbiddenMessage(id, method, url.pathname));

    let parts: string[];
    try {
      parts = url.pathname.split('/').filter((p) => p !== '').map(decodeURIComponent);
    } catch {
      // A malformed escape (`%ZZ`, a cut UTF-8 sequence): Go's server refuses such a request URI with 400.
      return refuse(res, 400, `invalid URL escape in ${JSON.stringify(url.pathname)}`);
    }
    const [root] = parts;
    const get = method === 'GET' || method === 'HEAD';
    if (url.pathname === '/healthz' && get) return text(res, 200, 'ok');
    if (url.pathname === '/pods' && get) {
      const items = await this.opts.backend.listPods();
      return json(res, 200, { kind: 'PodList', apiVersion: 'v1', metadata: {}, items });
    }
    if (url.pathname === '/stats/summary' && get) return json(res, 200, await this.opts.backend.statsSummary());
    if (url.pathname === '/metrics' && get && this.opts.metrics) return serveMetrics(this.opts.metrics.registry, req, res);
    if (url.pathname === '/metrics/cadvisor' && get && this.opts.backend.containerSamples) {
      const body = renderCadvisorMetrics(await this.opts.backend.containerSamples());
      res.writeHead(200, { 'Content-Type': 'text/plain; version=0.0.4; charset=utf-8', 'Content-Length': Buffer.byteLength(body) });
      res.end(method === 'HEAD' ? undefined : body);
      return;
    }
    if (root === 'containerLogs' && parts.length === 4 && get) return this.serveLogs(req, res, parts[1]!, parts[2]!, parts[3]!, url.searchParams);
    if ((root === 'exec' || root === 'attach') && (parts.length === 4 || parts.length === 5) && (get || method === 'POST')) {
      const [, ns, name] = parts as [string, string, string];
      const container = parts[parts.length - 1]!;
      const pod = await this.findPod(ns, name, parts.length === 5 ? parts[3] : undefined);
      if (!pod) return refuse(res, 404, `pod does not exist`);
      if (!hasContainer(pod, container)) return refuse(res, 404, `container not found (${JSON.stringify(container)})`);
      const options = streamOptions(url.searchParams);
      const release = this.admitSession(req, res, id.username);
      if (!release) return;
      const backend = this.opts.backend;
      // The streaming protocols (SPDY, WebSocket with the ws package) are loaded on the first session (agent memory).
      const { serveRemoteCommand } = await import('../streaming/remote-command.js');
      const served = (protocol: string | undefined) => {
        if (protocol) this.streamOpened(req, { kind: root, namespace: ns, pod: name, protocol });
        else release();
      };
      if (root === 'exec') {
        const command = url.searchParams.getAll('command');
        if (command.length === 0) return refuse(res, 400, 'you must specify a command');
        return served(serveRemoteCommand(req, res, {
          options,
          command,
          reportExitCode: true,
          start: () => backend.exec(pod, container, command, options),
          streamCreationTimeoutMs: this.streamCreationTimeoutMs,
        }));
      }
      return served(serveRemoteCommand(req, res, {
        options,
        reportExitCode: false,
        start: () => backend.attach(pod, container, options),
        streamCreationTimeoutMs: this.streamCreationTimeoutMs,
      }));
    }
    if (root === 'portForward' && (parts.length === 3 || parts.length === 4) && (get || method === 'POST')) {
      const pod = await this.findPod(parts[1]!, parts[2]!, parts[3]);
      if (!pod) return refuse(res, 404, `pod does not exist`);
      const release = this.admitSession(req, res, id.username);
      if (!release) return;
      const backend = this.opts.backend;
      const { servePortForward } = await import('../streaming/port-forward.js');
      const protocol = servePortForward(req, res, {
        dial: (port) => backend.portForward(pod, port),
        podName: `${pod.metadata?.name}_${pod.metadata?.namespace}`,
        podUid: pod.metadata?.uid ?? '',
        streamCreationTimeoutMs: this.streamCreationTimeoutMs,
      });
      if (protocol) this.streamOpened(req, { kind: 'portforward', namespace: parts[1]!, pod: parts[2]!, protocol });
      else release();
      return;
    }
    return refuse(res, 404, '404 page not found');
  }

  /**
   * Counts an upgrade request against the session limits until its connection closes (or the returned release is
   * called, for a request refused after all), or answers 429 with a Status and returns undefined. Requests that are
   * no upgrade are refused later (400) and not counted.
   */
  private admitSession(req: IncomingMessage, res: ServerResponse, client: string): (() => void) | undefined {
    if (!isWebSocketRequest(req) && !isSpdyUpgradeRequest(req)) return () => undefined;
    // The API server's own identities carry every user's sessions: only the node's total bounds them.
    const admitted = this.sessions.acquire(client, !API_SERVER_IDENTITIES.has(client));
    if ('refusal' in admitted) {
      log.info('streaming session refused', { client, url: req.url, reason: admitted.refusal.message });
      const body = JSON.stringify(admitted.refusal);
      res.writeHead(429, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body), 'Retry-After': '1', Connection: 'close' });
      res.end(body);
      return undefined;
    }
    const socket = req.socket;
    if (socket.destroyed) admitted.release();
    else socket.once('close', admitted.release);
    return admitted.release;
  }

  private streamOpened(req: IncomingMessage, e: StreamEvent): void {
    // kubelet's --streaming-connection-idle-timeout: nothing either way for this long ends the connection. Set after
    // the protocol took the socket over (both takeOver and ws clear the socket's timeout).
    const socket = req.socket;
    socket.setTimeout(this.limits.idleTimeoutMs);
    socket.once('timeout', () => {
      log.info('streaming connection idle; closing it', { ...e, idleTimeoutMs: this.limits.idleTimeoutMs });
      socket.destroy();
    });
    log.debug('stream opened', { ...e });
    this.emit('stream', e);
  }

  private async findPod(namespace: string, name: string, uid: string | undefined): Promise<Pod | undefined> {
    const pod = await this.opts.backend.getPod(namespace, name);
    // kubelet's uid forms refuse a pod that was replaced by one of the same name.
    if (pod && uid !== undefined && pod.metadata?.uid !== uid) return undefined;
    return pod;
  }

  private async serveLogs(req: IncomingMessage, res: ServerResponse, namespace: string, name: string, container: string, query: URLSearchParams): Promise<void> {
    const parsed = parseContainerLogQuery(query);
    if ('error' in parsed) return refuse(res, 400, parsed.error);
    const pod = await this.opts.backend.getPod(namespace, name);
    if (!pod) return refuse(res, 404, `pod ${JSON.stringify(name)} does not exist`);
    if (!hasContainer(pod, container)) return refuse(res, 404, `container ${JSON.stringify(container)} not found in pod ${JSON.stringify(name)}`);
    const stream = await this.opts.backend.logs(pod, container, parsed.options);
    res.writeHead(200, { 'Content-Type': 'text/plain', 'Cache-Control': 'no-cache' });
    // The client sees the 200 before the first line (kubectl logs -f on a quiet container).
    res.flushHeaders();
    const stop = () => stream.destroy();
    req.socket.once('close', stop);
    res.once('close', stop);
    stream.on('error', (err) => {
      log.debug('log stream failed', { pod: `${namespace}/${name}`, container, err });
      res.destroy();
    });
    stream.pipe(res);
  }
}

function hasContainer(pod: Pod, name: string): boolean {
  const spec = pod.spec;
  return [...(spec?.containers ?? []), ...(spec?.initContainers ?? []), ...(spec?.ephemeralContainers ?? [])].some((c) => c.name === name);
}

/** kubelet's remotecommand NewOptions: input/output/error/tty are "1" (the API server's streamParams write them so). */
function streamOptions(q: URLSearchParams): StreamOptions {
  const on = (k: string) => q.get(k) === '1' || q.get(k) === 'true';
  const tty = on('tty');
  return { stdin: on('input'), stdout: on('output'), stderr: on('error') && !tty, tty };
}

function text(res: ServerResponse, code: number, body: string): void {
  res.writeHead(code, { 'Content-Type': 'text/plain; charset=utf-8', 'Content-Length': Buffer.byteLength(body) });
  res.end(body);
}

function json(res: ServerResponse, code: number, body: unknown): void {
  const s = JSON.stringify(body);
  res.writeHead(code, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(s) });
  res.end(s);
}
