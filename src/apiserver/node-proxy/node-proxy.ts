/**
 * The API server's side of `pods/log`, `pods/exec`, `pods/attach`, `pods/portforward` and `nodes/proxy`: find the
 * node's agent (pod → spec.nodeName → Node → address and kubelet port), open a connection to it with the API server's
 * client certificate, and relay, as kube-apiserver's UpgradeAwareHandler (k8s.io/apimachinery/pkg/util/proxy) does:
 *
 *   plain requests (logs, follow included; nodes/proxy) are forwarded and their responses streamed back;
 *   upgrade requests (WebSocket, SPDY/3.1) are forwarded, the agent's 101 written back verbatim, then bytes are
 *   piped both ways until either side closes. The protocols themselves are the agent's business (agent/streaming).
 *
 * How the connection to an agent is made is one function, `dialNode`: TCP to the node's address by default; a tunnel
 * that agents behind NAT open to the server can replace it without touching the rest. TLS runs over whatever it returns.
 */
import http, { type IncomingHttpHeaders, type IncomingMessage } from 'node:http';
import { connect as tcpConnect, isIP, type Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { connect as tlsConnect, type TLSSocket } from 'node:tls';
import type { Node, Pod } from 'kubernetes-types/core/v1.js';
import { badRequest, StatusError, type StatusReason } from '../../api/status.js';
import { createLogger } from '../../log/logger.js';
import type { ConnectRequest, ConnectTarget } from '../handlers/connect.js';
import { spliceUpgrade } from '../handlers/upgrade-splice.js';
import type { ResourceDefinition } from '../registry/types.js';
import type { ResourceOps } from '../resource-ops.js';
import { logLocation, nodeAddress, nodeProxyLocation, podNodeName, portForwardLocation, streamLocation, type AgentLocation } from './locations.js';

const log = createLogger('node-proxy');

export interface AgentAddress {
  host: string;
  port: number;
}

export interface NodeProxyOptions {
  /** The Node by name (e.g. through the API server's ResourceOps); a NotFound StatusError when there is none. */
  getNode(name: string): Promise<Node>;
  /** TLS towards agents: the CA that signed their serving certificates, and the API server's client certificate. */
  tls: { ca: string; cert: string; key: string };
  /**
   * A byte stream to the agent API of `nodeName`. Default: TCP to `address`. A tunnel opened by the agent can serve
   * it instead; `address` is then undefined when the Node has none. TLS is layered on top either way.
   */
  dialNode?: (nodeName: string, address: AgentAddress | undefined) => Promise<Duplex>;
  /** Time to connect, finish TLS and receive the agent's response head (default 30 s). */
  timeoutMs?: number;
}

/** Request headers not passed to the agent: the client's credentials, and hop-by-hop headers of plain requests. */
const DROPPED = new Set(['host', 'authorization', 'proxy-authorization', 'proxy-connection', 'keep-alive', 'te', 'trailer', 'transfer-encoding', 'content-length']);
const HOP_BY_HOP = new Set(['connection', 'upgrade', 'keep-alive', 'transfer-encoding', 'te', 'trailer', 'proxy-connection']);

function isUpgrade(req: IncomingMessage): boolean {
  const connection = String(req.headers.connection ?? '').toLowerCase();
  return req.headers.upgrade !== undefined && connection.split(',').some((t) => t.trim() === 'upgrade');
}

function forwardHeaders(req: IncomingMessage, upgrade: boolean): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (let i = 0; i < req.rawHeaders.length; i += 2) {
    const name = req.rawHeaders[i]!;
    const lower = name.toLowerCase();
    if (DROPPED.has(lower) || lower.startsWith('impersonate-')) continue;
    if (!upgrade && HOP_BY_HOP.has(lower)) continue;
    const value = req.rawHeaders[i + 1]!;
    const prev = out[name];
    out[name] = prev === undefined ? value : Array.isArray(prev) ? [...prev, value] : [prev, value];
  }
  if (req.headers['content-length'] !== undefined) out['Content-Length'] = req.headers['content-length'];
  return out;
}

function reasonFor(code: number): StatusReason {
  const reasons: Record<number, StatusReason> = { 400: 'BadRequest', 401: 'Unauthorized', 403: 'Forbidden', 404: 'NotFound', 409: 'Conflict', 422: 'Invalid', 503: 'ServiceUnavailable', 504: 'Timeout' };
  return reasons[code] ?? 'InternalError';
}

/** An agent's non-2xx answer as a Status, with the agent's words (a Status body's message, or its text). */
async function agentError(res: IncomingMessage): Promise<StatusError> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of res) {
    if (size < 64 * 1024) chunks.push(chunk as Buffer);
    size += (chunk as Buffer).length;
  }
  const text = Buffer.concat(chunks).toString('utf8').trim();
  const code = res.statusCode ?? 500;
  try {
    const parsed = JSON.parse(text) as { kind?: string; message?: string; reason?: StatusReason };
    if (parsed.kind === 'Status' && parsed.message) return new StatusError({ message: parsed.message, reason: parsed.reason ?? reasonFor(code), code });
  } catch {
    // plain text, as kubelet writes most errors
  }
  return new StatusError({ message: text || `the agent answered ${code}`, reason: reasonFor(code), code });
}

export class NodeProxy {
  readonly targets: ReadonlyMap<string, ConnectTarget>;
  private readonly sockets = new Set<Duplex>();
  private closed = false;

  constructor(private readonly opts: NodeProxyOptions) {
    const streaming = (location: (pod: Pod, q: URLSearchParams) => AgentLocation): ConnectTarget => async (c) => {
      if (!isUpgrade(c.req)) throw badRequest('Upgrade request required');
      const pod = c.object as Pod;
      const loc = location(pod, c.query);
      await this.proxy(c, podNodeName(pod), loc);
    };
    this.targets = new Map<string, ConnectTarget>([
      ['pods/exec', streaming((pod, q) => streamLocation('exec', pod, q))],
      ['pods/attach', streaming((pod, q) => streamLocation('attach', pod, q))],
      ['pods/portforward', streaming(portForwardLocation)],
      [
        'pods/log',
        async (c) => {
          const pod = c.object as Pod;
          const loc = logLocation(pod, c.query);
          // LogLocation: a pod without a node has no log yet; upstream streams nothing.
          if (!pod.spec?.nodeName) {
            c.res.writeHead(200, { 'Content-Type': 'text/plain' });
            c.res.end();
            return;
          }
          await this.proxy(c, pod.spec.nodeName, loc);
        },
      ],
      ['nodes/proxy', async (c) => this.proxy(c, (c.object as Node).metadata?.name ?? '', nodeProxyLocation(c.rest, c.query))],
    ]);
  }

  /** Ends every proxied connection (the API server's close does this for upgraded client sockets too). */
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

  /** A TLS connection to the node's agent. */
  private async open(nodeName: string): Promise<TLSSocket> {
    if (this.closed) throw new StatusError({ message: 'the API server is shutting down', reason: 'ServiceUnavailable', code: 503 });
    const node = await this.opts.getNode(nodeName);
    let address: AgentAddress | undefined;
    try {
      address = nodeAddress(node);
    } catch (err) {
      if (!this.opts.dialNode) throw err;
    }
    const timeoutMs = this.opts.timeoutMs ?? 30_000;
    const where = address ? `${address.host}:${address.port}` : nodeName;
    let raw: Duplex;
    try {
      raw = this.track(await withTimeout(this.opts.dialNode ? this.opts.dialNode(nodeName, address) : dialTcp(address!), timeoutMs, `dial ${where}`));
    } catch (err) {
      throw new StatusError({ message: `error dialing backend: ${(err as Error).message}`, reason: 'InternalError', code: 500 });
    }
    const host = address?.host ?? nodeName;
    const socket = this.track(
      tlsConnect({
        socket: raw,
        ca: this.opts.tls.ca,
        cert: this.opts.tls.cert,
        key: this.opts.tls.key,
        host,
        // SNI carries names only; an address is still checked against the certificate's IP SANs.
        ...(isIP(host) === 0 ? { servername: host } : {}),
      }),
    );
    try {
      await withTimeout(
        new Promise<void>((resolve, reject) => {
          socket.once('secureConnect', () => resolve());
          socket.once('error', reject);
        }),
        timeoutMs,
        `TLS handshake with ${where}`,
      );
    } catch (err) {
      socket.destroy();
      throw new StatusError({ message: `error dialing backend: ${(err as Error).message}`, reason: 'InternalError', code: 500 });
    }
    return socket;
  }

  private async proxy(c: ConnectRequest, nodeName: string, loc: AgentLocation): Promise<void> {
    const upgrade = isUpgrade(c.req);
    const agent = await this.open(nodeName);
    const out = http.request({
      // With createConnection and no `agent`, Node uses this connection alone (agent: false would dial anew).
      createConnection: () => agent as unknown as Socket,
      method: c.req.method,
      path: loc.path,
      headers: { ...forwardHeaders(c.req, upgrade), Host: (agent.remoteAddress ?? nodeName) + (agent.remotePort ? `:${agent.remotePort}` : '') },
      setHost: false,
    });
    const timeoutMs = this.opts.timeoutMs ?? 30_000;
    const head = new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        out.destroy();
        reject(new StatusError({ message: `the agent on node ${nodeName} did not answer within ${timeoutMs / 1000} s`, reason: 'Timeout', code: 504 }));
      }, timeoutMs);
      out.once('error', (err) => {
        clearTimeout(timer);
        reject(new StatusError({ message: `error talking to the agent on node ${nodeName}: ${err.message}`, reason: 'InternalError', code: 500 }));
      });
      out.once('upgrade', (res: IncomingMessage, agentSocket: Socket, agentHead: Buffer) => {
        clearTimeout(timer);
        this.splice(c, res, agentSocket, agentHead);
        resolve();
      });
      out.once('response', (res: IncomingMessage) => {
        clearTimeout(timer);
        this.relay(c, res).then(resolve, reject);
      });
    });
    if (upgrade) out.end();
    else c.req.pipe(out);
    c.res.once('close', () => {
      if (!upgrade) out.destroy();
    });
    await head;
  }

  /** After the agent's 101: its response head verbatim to the client, then raw bytes both ways. */
  private splice(c: ConnectRequest, res: IncomingMessage, agentSocket: Socket, agentHead: Buffer): void {
    this.track(spliceUpgrade(c, res, agentSocket, agentHead, 'agent'));
  }

  /** A plain answer: 2xx streamed through (logs with follow flush as they come); errors become a Status. */
  private async relay(c: ConnectRequest, res: IncomingMessage): Promise<void> {
    const code = res.statusCode ?? 502;
    if (c.subresource !== 'proxy' && (code < 200 || code > 299)) throw await agentError(res);
    const headers: IncomingHttpHeaders = {};
    for (const [k, v] of Object.entries(res.headers)) if (!HOP_BY_HOP.has(k) && k !== 'content-length' && v !== undefined) headers[k] = v;
    const length = res.headers['content-length'];
    c.res.writeHead(code, { ...headers, ...(length !== undefined ? { 'Content-Length': length } : {}) });
    c.res.flushHeaders();
    res.pipe(c.res);
    res.once('error', () => c.res.destroy());
    c.res.once('close', () => res.destroy());
    await new Promise<void>((resolve) => c.res.once('close', () => resolve()));
  }
}

function dialTcp(address: AgentAddress): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = tcpConnect({ host: address.host, port: address.port });
    s.once('connect', () => {
      s.off('error', reject);
      resolve(s);
    });
    s.once('error', reject);
  });
}

function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout;
  return Promise.race([
    p.finally(() => clearTimeout(timer)),
    new Promise<T>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${what}: timed out after ${ms / 1000} s`)), ms);
    }),
  ]);
}

/** Reads Nodes through the API server's own storage view (its ResourceOps), for wiring in `skiff server`. */
export function nodeGetter(ops: ResourceOps, resources: ResourceDefinition[]): (name: string) => Promise<Node> {
  const nodes = resources.find((r) => r.group === '' && r.plural === 'nodes');
  if (!nodes) throw new Error('node proxy: the resource registry serves no nodes');
  return async (name) => (await ops.get(nodes, '', name)).obj as Node;
}
