/**
 * The join endpoints an agent calls before it has an identity (k3s's /v1-k3s/client-kubelet.crt and
 * /v1-k3s/serving-kubelet.crt): it proves it holds the cluster token and gets certificates signed by the cluster CA
 * for its node name, so from then on it acts as system:node:<name> and never as the admin the token stands for.
 *
 *   POST /v1-skiff/client-kubelet.crt    body: CSR PEM   → client cert PEM + CA PEM
 *   POST /v1-skiff/serving-kubelet.crt   body: CSR PEM   → serving cert PEM + CA PEM
 *   Authorization: Bearer <token> (bare secret or K10<ca hash>::server|node:<secret>) or Basic node:<secret> (as k3s);
 *   the token is the cluster token or, when the server has one, the agent token (--agent-token)
 *   Skiff-Node-Name: <name>   Skiff-Node-Password: <per-node password>   Skiff-Node-IP: <ip>[,<ip>]
 *   GET  /v1-skiff/config                → the cluster's address ranges a node needs, JSON (k3s's /v1-k3s/config)
 *
 * A wrong token gets 401 saying so; a node name held by another password gets 403 (node-passwords.ts).
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { badRequest, isStatusError, methodNotAllowed, StatusError, internalError, requestEntityTooLarge } from '../../api/status.js';
import { isDNS1123Subdomain } from '../../api/validation.js';
import { createLogger } from '../../log/logger.js';
import { parseToken } from '../../api/cluster-token.js';
import { sendJson } from '../handlers/respond.js';
import { signNodeCertificate, type NodeCertificateKind } from './node-certificates.js';
import type { ResourceDefinition } from '../registry/types.js';
import type { ResourceOps } from '../resource-ops.js';
import { SecretNodePasswords, type NodePasswordStore } from './node-passwords.js';

const log = createLogger('node-join');

export const NODE_JOIN_PATHS: Readonly<Record<NodeCertificateKind, string>> = Object.freeze({
  client: '/v1-skiff/client-kubelet.crt',
  serving: '/v1-skiff/serving-kubelet.crt',
});
/** The cluster settings an agent takes from its server at join (k3s agents read ClusterCIDR, ServiceCIDR from /v1-k3s/config). */
export const NODE_CONFIG_PATH = '/v1-skiff/config';
export const NODE_NAME_HEADER = 'skiff-node-name';
export const NODE_PASSWORD_HEADER = 'skiff-node-password';
export const NODE_IP_HEADER = 'skiff-node-ip';

const MAX_BODY_BYTES = 16 * 1024;

export interface NodeJoinOptions {
  caCertPem: string;
  caKeyPem: string;
  /** The cluster token's secret (bare form). */
  clusterToken: string;
  /** The agent token's secret (--agent-token), when the server has one of its own: it joins agents too. */
  agentToken?: string;
  /** Served at /v1-skiff/config to token holders: the pod and service ranges (server's --cluster-cidr, --service-cidr). */
  agentConfig?: AgentClusterConfig;
}

/** What GET /v1-skiff/config answers (JSON). */
export interface AgentClusterConfig {
  clusterCIDRs: string[];
  serviceCIDRs: string[];
}

export interface NodeJoinHandlerOptions extends NodeJoinOptions {
  /** Per-node passwords; without a store any holder of the token may take any node name. */
  passwords?: NodePasswordStore;
  now?: () => Date;
}

export class NodeJoinHandler {
  private readonly tokenDigests: Buffer[];
  private readonly caHash: string;

  constructor(private readonly opts: NodeJoinHandlerOptions) {
    if (opts.clusterToken === '') throw new Error('node join: clusterToken is empty');
    this.tokenDigests = [digest(opts.clusterToken), ...(opts.agentToken ? [digest(opts.agentToken)] : [])];
    this.caHash = createHash('sha256').update(opts.caCertPem).digest('hex');
  }

  /** The certificate kind a path asks for, or undefined when the path is not a join endpoint. */
  kindOf(path: string): NodeCertificateKind | undefined {
    if (path === NODE_JOIN_PATHS.client) return 'client';
    if (path === NODE_JOIN_PATHS.serving) return 'serving';
    return undefined;
  }

  /** GET /v1-skiff/config: the cluster's ranges, for holders of the token (404 on a server that has none to give). */
  handleConfig(req: IncomingMessage, res: ServerResponse): void {
    try {
      if (req.method !== 'GET') throw methodNotAllowed(`${NODE_CONFIG_PATH} takes GET`);
      this.authenticate(req);
      if (!this.opts.agentConfig) throw new StatusError({ message: 'this server publishes no agent configuration', reason: 'NotFound', code: 404 });
      sendJson(res, 200, JSON.stringify(this.opts.agentConfig));
    } catch (err) {
      const status = isStatusError(err) ? err : internalError(err);
      if (!isStatusError(err)) log.error('node config failed', { path: req.url, err });
      sendJson(res, status.code, JSON.stringify(status.status));
    }
  }

  async handle(req: IncomingMessage, res: ServerResponse, kind: NodeCertificateKind): Promise<void> {
    try {
      if (req.method !== 'POST') throw methodNotAllowed('node join endpoints take POST with a certificate signing request');
      this.authenticate(req);
      const nodeName = header(req, NODE_NAME_HEADER);
      if (!nodeName) throw badRequest(`missing header Skiff-Node-Name: the name of the node asking for a ${kind} certificate`);
      const nameErrors = isDNS1123Subdomain(nodeName);
      if (nameErrors.length) throw badRequest(`Skiff-Node-Name ${JSON.stringify(nodeName)}: ${nameErrors[0]}`);
      const nodeIPs = (header(req, NODE_IP_HEADER) ?? '').split(',').map((s) => s.trim()).filter((s) => s !== '');
      const csrPem = await readBody(req);
      if (this.opts.passwords) {
        const password = header(req, NODE_PASSWORD_HEADER);
        if (!password) throw badRequest('missing header Skiff-Node-Password: the per-node password that keeps other machines from taking this node name');
        await this.opts.passwords.verify(nodeName, password);
      }
      let cert: string;
      try {
        cert = await signNodeCertificate({ caCertPem: this.opts.caCertPem, caKeyPem: this.opts.caKeyPem, csrPem, kind, nodeName, nodeIPs, now: this.opts.now?.() });
      } catch (err) {
        throw badRequest(`cannot sign a ${kind} certificate for node "${nodeName}": ${(err as Error).message}`);
      }
      log.info('signed node certificate', { node: nodeName, kind, ips: nodeIPs });
      const body = cert + this.opts.caCertPem;
      res.writeHead(200, { 'Content-Type': 'application/x-pem-file', 'Content-Length': Buffer.byteLength(body) });
      res.end(body);
    } catch (err) {
      const status = isStatusError(err) ? err : internalError(err);
      if (!isStatusError(err)) log.error('node join failed', { path: req.url, err });
      if (!res.headersSent) sendJson(res, status.code, JSON.stringify(status.status));
      else res.destroy();
    }
  }

  /** The cluster token as a bearer token or as the password of HTTP Basic (user `node` or `server`, as k3s). */
  private authenticate(req: IncomingMessage): void {
    const auth = req.headers.authorization ?? '';
    let token: string | undefined;
    const bearer = /^bearer\s+(\S+)\s*$/i.exec(auth);
    const basic = /^basic\s+(\S+)\s*$/i.exec(auth);
    if (bearer) token = bearer[1];
    else if (basic) {
      const decoded = Buffer.from(basic[1]!, 'base64').toString('utf8');
      const colon = decoded.indexOf(':');
      if (colon >= 0) token = decoded.slice(colon + 1);
    }
    if (token === undefined || token === '') {
      throw tokenError('no cluster token was presented: send it as "Authorization: Bearer <token>" (skiff agent --token)');
    }
    let parsed;
    try {
      parsed = parseToken(token);
    } catch (err) {
      throw tokenError(`the token is malformed: ${(err as Error).message}`);
    }
    if (parsed.caHash !== undefined && parsed.caHash !== this.caHash) {
      throw tokenError("the token's CA hash does not match this server's CA: the token belongs to another cluster (or the server's CA was replaced)");
    }
    const presented = digest(parsed.secret);
    // Every digest is compared, so the time does not tell which token nearly matched.
    if (!this.tokenDigests.map((d) => timingSafeEqual(presented, d)).includes(true)) {
      throw tokenError("the token is wrong: it is not this cluster's token (use the one in the server's <data-dir>/server/agent-token or server/token)");
    }
  }
}

/**
 * Puts the join endpoints in front of the API handler: requests to them never reach authentication (they carry the
 * token, not an identity); everything else goes on unchanged.
 */
export function withNodeJoin(next: (req: IncomingMessage, res: ServerResponse) => void, join: NodeJoinHandler): (req: IncomingMessage, res: ServerResponse) => void {
  return (req, res) => {
    const url = req.url ?? '/';
    const q = url.indexOf('?');
    const path = q < 0 ? url : url.slice(0, q);
    if (path === NODE_CONFIG_PATH) return join.handleConfig(req, res);
    const kind = join.kindOf(path);
    if (kind === undefined) return next(req, res);
    void join.handle(req, res, kind);
  };
}

function tokenError(message: string): StatusError {
  return new StatusError({ message: `node join refused: ${message}`, reason: 'Unauthorized', code: 401 });
}

function header(req: IncomingMessage, name: string): string | undefined {
  const v = req.headers[name];
  return (Array.isArray(v) ? v[0] : v)?.trim();
}

function digest(value: string): Buffer {
  return createHash('sha256').update(value).digest();
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_BODY_BYTES) throw requestEntityTooLarge(MAX_BODY_BYTES);
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/** The join endpoints with per-node passwords kept in Secrets, in front of `next` (what startApiServer mounts). */
export function mountNodeJoin(
  next: (req: IncomingMessage, res: ServerResponse) => void,
  opts: NodeJoinOptions,
  ops: ResourceOps,
  resources: readonly ResourceDefinition[],
): (req: IncomingMessage, res: ServerResponse) => void {
  const secrets = resources.find((r) => r.group === '' && r.plural === 'secrets');
  const passwords = secrets ? new SecretNodePasswords(ops, secrets) : undefined;
  return withNodeJoin(next, new NodeJoinHandler({ ...opts, ...(passwords ? { passwords } : {}) }));
}
