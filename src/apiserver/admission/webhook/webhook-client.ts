/**
 * POSTs an AdmissionReview to a webhook over HTTPS (k8s.io/apiserver/pkg/util/webhook and the webhook dispatchers'
 * callHook): the address is the configuration's `url`, or a ready endpoint of the referenced Service; the server's
 * certificate is checked against `caBundle` (the system roots without one) under the name `<svc>.<ns>.svc` for a
 * Service; the whole call, connection included, is bounded by the webhook's timeout. Failures are
 * `WebhookCallError`s in Go's words, so the dispatchers can word them as upstream: `failed to call webhook: Post
 * "https://…?timeout=10s": context deadline exceeded`.
 */
import https from 'node:https';
import { isIP } from 'node:net';
import { checkServerIdentity } from 'node:tls';
import type { WebhookClientConfig } from 'kubernetes-types/admissionregistration/v1.js';
import type { KubeObject } from '../../../api/object.js';
import type { AdmissionContext } from '../types.js';

/** A failure to get an answer from a webhook (as opposed to the webhook refusing the request). */
export class WebhookCallError extends Error {}

/** Largest answer read from a webhook (kube-apiserver bounds response bodies the same way for its REST clients). */
const MAX_RESPONSE_BYTES = 3 * 1024 * 1024;

export interface ResolvedTarget {
  /** The address to connect to (IP or host name) and its port. */
  host: string;
  port: number;
  /** Path and the `timeout` query, as upstream appends it. */
  path: string;
  /** The name the certificate must carry (SNI and verification). */
  serverName: string;
  /** The URL Go would print in errors. */
  displayUrl: string;
}

/**
 * Where a webhook's client config points now. A Service is resolved from its EndpointSlices (then its Endpoints, for
 * clusters without the mirroring controller), so the API server needs no route to the ClusterIP.
 */
export function resolveTarget(cc: WebhookClientConfig, timeoutSeconds: number, ctx: AdmissionContext): ResolvedTarget {
  const timeout = `timeout=${timeoutSeconds}s`;
  if (cc.url !== undefined) {
    const url = new URL(cc.url);
    const path = `${url.pathname || '/'}?${timeout}`;
    const host = url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname;
    return { host, port: url.port ? Number(url.port) : 443, path, serverName: host, displayUrl: `${url.protocol}//${url.host}${path}` };
  }
  const svc = cc.service;
  if (!svc) throw new WebhookCallError('no url or service in the client config');
  const port = svc.port ?? 443;
  const serverName = `${svc.name}.${svc.namespace}.svc`;
  const path = `${svc.path || '/'}?${timeout}`;
  const displayUrl = `https://${serverName}:${port}${path}`;
  const endpoint = resolveServiceEndpoint(ctx, svc.namespace, svc.name, port);
  return { ...endpoint, path, serverName, displayUrl };
}

/** A ready endpoint of the Service for its port `port` (upstream's ResolveEndpoint wording on failure). */
export function resolveServiceEndpoint(ctx: AdmissionContext, namespace: string, name: string, port: number): { host: string; port: number } {
  const service = ctx.cached('', 'services', namespace, name) as (KubeObject & { spec?: { ports?: { name?: string; port: number; targetPort?: number | string }[] } }) | undefined;
  if (!service) throw new WebhookCallError(`service "${name}" not found`);
  const svcPort = service.spec?.ports?.find((p) => p.port === port);
  if (!svcPort) throw new WebhookCallError(`no service port ${port} found for service "${name}"`);
  const portName = svcPort.name ?? '';
  const candidates: { host: string; port: number }[] = [];
  for (const slice of ctx.list('discovery.k8s.io', 'endpointslices', namespace)) {
    if (slice.metadata.namespace !== namespace || slice.metadata.labels?.['kubernetes.io/service-name'] !== name) continue;
    const s = slice as KubeObject & { ports?: { name?: string; port?: number }[]; endpoints?: { addresses?: string[]; conditions?: { ready?: boolean } }[] };
    const p = (s.ports ?? []).find((sp) => (sp.name ?? '') === portName);
    if (p?.port === undefined) continue;
    for (const ep of s.endpoints ?? []) {
      if (ep.conditions?.ready === false) continue;
      for (const address of ep.addresses ?? []) candidates.push({ host: address, port: p.port });
    }
  }
  if (candidates.length === 0) {
    const endpoints = ctx.cached('', 'endpoints', namespace, name) as (KubeObject & { subsets?: { addresses?: { ip: string }[]; ports?: { name?: string; port: number }[] }[] }) | undefined;
    for (const subset of endpoints?.subsets ?? []) {
      const p = (subset.ports ?? []).find((sp) => (sp.name ?? '') === portName);
      if (!p) continue;
      for (const a of subset.addresses ?? []) candidates.push({ host: a.ip, port: p.port });
    }
  }
  if (candidates.length === 0) throw new WebhookCallError(`no endpoints available for service "${name}"`);
  return candidates[Math.floor(Math.random() * candidates.length)]!;
}

/**
 * Keep-alive agents, one per trust root (caBundle): connections are reused across calls, which is most of what keeps a
 * webhook on loopback under a millisecond or two.
 */
const agents = new Map<string, https.Agent>();
const MAX_AGENTS = 256;

function agentFor(caBundle: string | undefined): https.Agent {
  const key = caBundle ?? '';
  let agent = agents.get(key);
  if (!agent) {
    if (agents.size >= MAX_AGENTS) {
      const [oldestKey, oldest] = agents.entries().next().value as [string, https.Agent];
      oldest.destroy();
      agents.delete(oldestKey);
    }
    const ca = caBundle ? Buffer.from(caBundle, 'base64').toString('utf8') : undefined;
    agent = new https.Agent({ keepAlive: true, maxSockets: 64, maxFreeSockets: 16, ...(ca ? { ca } : {}) });
    agents.set(key, agent);
  }
  return agent;
}

/** Closes every pooled connection (API server shutdown, tests). */
export function closeWebhookConnections(): void {
  for (const agent of agents.values()) agent.destroy();
  agents.clear();
}

/**
 * POSTs `body` (an AdmissionReview, JSON) and returns the parsed answer. Rejects with a WebhookCallError on any
 * failure: connection, TLS, timeout (the whole call), a status other than 200, a body that is not JSON.
 */
export function postReview(target: ResolvedTarget, caBundle: string | undefined, body: string, timeoutMs: number): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const post = `Post "${target.displayUrl}"`;
    let settled = false;
    const finish = (err: Error | undefined, value?: unknown) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (err) reject(err);
      else resolve(value);
    };
    let req: ReturnType<typeof https.request>;
    try {
      req = https.request({
        host: target.host,
        port: target.port,
        path: target.path,
        method: 'POST',
        servername: isIp(target.serverName) ? undefined : target.serverName,
        // Verification follows the configured name, not the address connected to (a Service's endpoint IP).
        checkServerIdentity: (_host, cert) => checkServerIdentity(target.serverName, cert),
        agent: agentFor(caBundle),
        headers: { 'Content-Type': 'application/json', Accept: 'application/json', 'Content-Length': Buffer.byteLength(body) },
      });
    } catch (err) {
      // A caBundle that is not PEM fails building the TLS context: a failed call, as upstream's client construction.
      reject(new WebhookCallError(`${post}: ${err instanceof Error ? err.message : String(err)}`));
      return;
    }
    const timer = setTimeout(() => {
      finish(new WebhookCallError(`${post}: context deadline exceeded`));
      req.destroy();
    }, timeoutMs);
    req.on('error', (err) => finish(new WebhookCallError(`${post}: ${describeNetError(err)}`)));
    req.on('response', (res) => {
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (c: Buffer) => {
        size += c.length;
        if (size > MAX_RESPONSE_BYTES) {
          finish(new WebhookCallError(`${post}: response body larger than ${MAX_RESPONSE_BYTES} bytes`));
          req.destroy();
          return;
        }
        chunks.push(c);
      });
      res.on('error', (err) => finish(new WebhookCallError(`${post}: ${describeNetError(err)}`)));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        if (res.statusCode !== 200) {
          // client-go turns a non-2xx answer into an error carrying the body (or the status text).
          finish(new WebhookCallError(`an error on the server ("${truncate(text) || res.statusMessage || ''}") has prevented the request from succeeding`));
          return;
        }
        try {
          finish(undefined, JSON.parse(text));
        } catch {
          const first = text.trimStart()[0];
          finish(new WebhookCallError(`couldn't get version/kind; json parse error: ${first ? `invalid character '${first}' looking for beginning of value` : 'unexpected end of JSON input'}`));
        }
      });
    });
    req.end(body);
  });
}

function isIp(host: string): boolean {
  return isIP(host) !== 0;
}

function truncate(text: string): string {
  return text.length > 200 ? `${text.slice(0, 200)}...` : text;
}

/** Node's error codes in the words Go's net and crypto/tls packages use, which is what users search for. */
function describeNetError(err: NodeJS.ErrnoException): string {
  switch (err.code) {
    case 'ECONNREFUSED':
      return `dial tcp ${(err as { address?: string }).address ?? ''}:${(err as { port?: number }).port ?? ''}: connect: connection refused`;
    case 'ECONNRESET':
      return 'read: connection reset by peer';
    case 'UNABLE_TO_VERIFY_LEAF_SIGNATURE':
    case 'SELF_SIGNED_CERT_IN_CHAIN':
    case 'DEPTH_ZERO_SELF_SIGNED_CERT':
    case 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY':
      return 'tls: failed to verify certificate: x509: certificate signed by unknown authority';
    case 'ERR_TLS_CERT_ALTNAME_INVALID':
      return `tls: failed to verify certificate: x509: ${err.message}`;
    case 'CERT_HAS_EXPIRED':
      return 'tls: failed to verify certificate: x509: certificate has expired or is not yet valid';
    default:
      return err.message;
  }
}
