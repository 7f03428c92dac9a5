/**
 * The Transport to a remote API server over HTTPS (node:https): short requests share a keep-alive pool, as
 * client-go's transport does; every watch gets its own connection, so long-lived streams never hold pool slots that
 * short requests wait for. Credentials are the kubeconfig's: a client certificate and/or a bearer token.
 */
import { readFile } from 'node:fs/promises';
import https from 'node:https';
import tls from 'node:tls';
import { dirname, isAbsolute, resolve } from 'node:path';
import { LineSplitter, TransportHttpError, type StreamHandle, type Transport, type TransportBody, type TransportResponse } from './transport.js';

export interface HttpsTransportOptions {
  /** `https://host:port`, as in a kubeconfig's cluster.server. */
  server: string;
  /** PEM of the CA that signed the server's certificate. */
  ca: string;
  /** PEM client certificate and key (both or neither). */
  cert?: string;
  key?: string;
  /** Bearer token sent as `Authorization: Bearer <token>`. */
  token?: string;
  /** Pool size for short requests (default 64). */
  maxSockets?: number;
  /** A short request with no response after this long fails (default 60 s; watches have no such limit). */
  requestTimeoutMs?: number;
  userAgent?: string;
}

export class HttpsTransport implements Transport {
  private readonly agent: https.Agent;
  private readonly host: string;
  private readonly port: number;
  private readonly basePath: string;
  private readonly headers: Record<string, string>;
  /** Parsed once: a context made from PEM text per connection cost each watch's connect a millisecond or more. */
  private readonly secureContext: tls.SecureContext;
  private readonly timeoutMs: number;
  private readonly streams = new Set<StreamHandle>();

  constructor(opts: HttpsTransportOptions) {
    const url = new URL(opts.server);
    if (url.protocol !== 'https:') throw new Error(`HttpsTransport: server must be an https:// URL, got ${JSON.stringify(opts.server)}`);
    if ((opts.cert === undefined) !== (opts.key === undefined)) throw new Error('HttpsTransport: a client certificate needs its key (and the reverse)');
    this.host = url.hostname.replace(/^\[(.*)\]$/, '$1');
    this.port = url.port ? Number(url.port) : 443;
    this.basePath = url.pathname.replace(/\/+$/, '');
    this.secureContext = tls.createSecureContext({ ca: opts.ca, ...(opts.cert ? { cert: opts.cert, key: opts.key } : {}) });
    this.agent = new https.Agent({ secureContext: this.secureContext, keepAlive: true, maxSockets: opts.maxSockets ?? 64, maxFreeSockets: 16 });
    this.timeoutMs = opts.requestTimeoutMs ?? 60_000;
    this.headers = {
      Accept: 'application/json',
      'User-Agent': opts.userAgent ?? `skiff/${process.versions.node}`,
      ...(opts.token ? { Authorization: `Bearer ${opts.token}` } : {}),
    };
  }

  request(method: string, path: string, query: URLSearchParams, body?: TransportBody): Promise<TransportResponse> {
    return new Promise((resolvePromise, reject) => {
      const headers: Record<string, string> = { ...this.headers };
      let payload: Buffer | undefined;
      if (body) {
        payload = Buffer.from(body.data, 'utf8');
        headers['Content-Type'] = body.contentType;
        headers['Content-Length'] = String(payload.length);
      }
      const req = https.request({ host: this.host, port: this.port, method, path: this.fullPath(path, query), headers, agent: this.agent }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolvePromise({ status: res.statusCode ?? 0, headers: flatHeaders(res.headers), body: Buffer.concat(chunks).toString('utf8') }));
        res.on('error', reject);
      });
      req.setTimeout(this.timeoutMs, () => req.destroy(new Error(`${method} ${path}: no response from ${this.host}:${this.port} within ${this.timeoutMs} ms`)));
      req.on('error', reject);
      req.end(payload);
    });
  }

  stream(path: string, query: URLSearchParams, onLine: (line: string) => void, onClose: (err?: Error) => void): StreamHandle {
    let closed = false;
    let stopped = false;
    const close = (err?: Error) => {
      if (closed) return;
      closed = true;
      this.streams.delete(handle);
      onClose(stopped ? undefined : err);
    };
    // agent: false gives the watch a connection of its own, outside the pool.
    const req = https.request({ host: this.host, port: this.port, method: 'GET', path: this.fullPath(path, query), headers: this.headers, agent: false, ...({ secureContext: this.secureContext } as https.RequestOptions) }, (res) => {
      const status = res.statusCode ?? 0;
      if (status < 200 || status > 299) {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => close(new TransportHttpError(status, Buffer.concat(chunks).toString('utf8'))));
        res.on('error', (err) => close(err));
        return;
      }
      const lines = new LineSplitter((line) => {
        if (!closed) onLine(line);
      });
      res.on('data', (c: Buffer) => lines.push(c));
      res.on('end', () => {
        lines.end();
        close();
      });
      res.on('error', (err) => close(err));
      // 'close' without 'end' is a connection cut mid-stream.
      res.on('close', () => close(res.complete ? undefined : new Error(`watch ${path}: connection closed before the stream ended`)));
    });
    req.on('socket', (socket) => socket.setKeepAlive(true, 30_000));
    req.on('error', (err) => close(err));
    req.end();
    const handle: StreamHandle = {
      stop: () => {
        if (closed) return;
        stopped = true;
        req.destroy();
        close();
      },
    };
    this.streams.add(handle);
    return handle;
  }

  /** Ends open watches and closes pooled connections. */
  close(): void {
    for (const s of [...this.streams]) s.stop();
    this.agent.destroy();
  }

  private fullPath(path: string, query: URLSearchParams): string {
    const qs = query.toString();
    return this.basePath + path + (qs ? `?${qs}` : '');
  }
}

function flatHeaders(h: Record<string, string | string[] | undefined>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(h)) if (v !== undefined) out[k] = Array.isArray(v) ? v.join(', ') : v;
  return out;
}

interface KubeconfigDoc {
  'current-context'?: string;
  contexts?: { name: string; context: { cluster: string; user: string } }[];
  clusters?: { name: string; cluster: { server: string; 'certificate-authority-data'?: string; 'certificate-authority'?: string } }[];
  users?: {
    name: string;
    user: { 'client-certificate-data'?: string; 'client-key-data'?: string; 'client-certificate'?: string; 'client-key'?: string; token?: string; tokenFile?: string };
  }[];
}

/**
 * Reads a kubeconfig (the one `skiff server` writes, or any kubeconfig with inline or file credentials) and returns
 * the options of its current context, or of `context` when given. File paths are relative to the kubeconfig's folder,
 * as kubectl resolves them.
 */
export async function loadKubeconfig(path: string, context?: string): Promise<HttpsTransportOptions> {
  // The YAML parser is loaded with the first kubeconfig: a joined agent, which has none, never holds it.
  const { parse: parseYaml } = await import('yaml');
  const doc = parseYaml(await readFile(path, 'utf8')) as KubeconfigDoc | null;
  if (!doc || typeof doc !== 'object') throw new Error(`kubeconfig ${path}: not a YAML mapping`);
  const ctxName = context ?? doc['current-context'];
  if (!ctxName) throw new Error(`kubeconfig ${path}: no current-context`);
  const ctx = doc.contexts?.find((c) => c.name === ctxName)?.context;
  if (!ctx) throw new Error(`kubeconfig ${path}: context ${JSON.stringify(ctxName)} not found`);
  const cluster = doc.clusters?.find((c) => c.name === ctx.cluster)?.cluster;
  if (!cluster?.server) throw new Error(`kubeconfig ${path}: cluster ${JSON.stringify(ctx.cluster)} not found or has no server`);
  const user = doc.users?.find((u) => u.name === ctx.user)?.user ?? {};
  const dir = dirname(path);
  const file = (p: string) => readFile(isAbsolute(p) ? p : resolve(dir, p), 'utf8');
  const b64 = (s: string) => Buffer.from(s, 'base64').toString('utf8');
  const pem = async (data: string | undefined, filePath: string | undefined) => (data ? b64(data) : filePath ? file(filePath) : undefined);
  const ca = await pem(cluster['certificate-authority-data'], cluster['certificate-authority']);
  if (!ca) throw new Error(`kubeconfig ${path}: cluster ${JSON.stringify(ctx.cluster)} has no certificate authority`);
  const cert = await pem(user['client-certificate-data'], user['client-certificate']);
  const key = await pem(user['client-key-data'], user['client-key']);
  const token = user.token ?? (user.tokenFile ? (await file(user.tokenFile)).trim() : undefined);
  return { server: cluster.server, ca, ...(cert ? { cert } : {}), ...(key ? { key } : {}), ...(token ? { token } : {}) };
}
