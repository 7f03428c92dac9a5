/**
 * Joining a cluster, the agent side (k3s's agent bootstrap): with the server URL and the cluster token,
 *
 *   1. GET /cacerts without trusting it; a K10<sha256>:: token must match the CA's hash, or we stop before the
 *      secret is sent anywhere;
 *   2. reuse <data-dir>/agent/{client,serving}-kubelet.{crt,key} when they are signed by that CA, name this node,
 *      cover its IPs and are not within 90 days of expiry; else make a new key, send a CSR to
 *      /v1-skiff/{client,serving}-kubelet.crt with the token and the node's password, and store what comes back;
 *   3. GET /v1-skiff/config (with the token, over the verified CA): the cluster's pod and service ranges, which a
 *      node needs for its routes and masquerade rules (k3s agents read them from /v1-k3s/config);
 *   4. return the CA, both pairs and the ranges: the client pair is the node's identity (system:node:<name>), the
 *      serving pair its HTTPS API's. The token itself is never used as an identity.
 *
 * The per-node password (<data-dir>/agent/node-password, random, made on first join) keeps another machine with the
 * same token from taking this node's name (k3s keeps it in /etc/rancher/node/password).
 */
import { createHash, randomBytes, X509Certificate } from 'node:crypto';
import { mkdir, open, readFile, rename, unlink } from 'node:fs/promises';
import https from 'node:https';
import { isIP } from 'node:net';
import { join } from 'node:path';
import { parseToken } from '../../api/cluster-token.js';
import { createLogger } from '../../log/logger.js';
import { newKeyAndCertificateRequest } from './certificate-request.js';

const log = createLogger('join');

export interface JoinOptions {
  /** https://HOST:PORT of a server. */
  server: string;
  /** The cluster token: K10<CA sha256>::server:<secret> (verified) or the bare secret (CA trusted on first use). */
  token: string;
  nodeName: string;
  /** IPs for the serving certificate's SANs (the node's InternalIPs). */
  nodeIPs?: string[];
  dataDir: string;
  now?: Date;
}

export interface NodeCredentials {
  /** PEM of the cluster CA. */
  ca: string;
  clientCert: string;
  clientKey: string;
  servingCert: string;
  servingKey: string;
  /** The server's --cluster-cidr and --service-cidr; absent when the server publishes none (an older server). */
  cluster?: ClusterRanges;
}

export interface ClusterRanges {
  clusterCIDRs: string[];
  serviceCIDRs: string[];
}

export const CLIENT_CERT_PATH = '/v1-skiff/client-kubelet.crt';
export const SERVING_CERT_PATH = '/v1-skiff/serving-kubelet.crt';
export const CLUSTER_CONFIG_PATH = '/v1-skiff/config';
/** Certificates this close to expiry are replaced at start (pki.ts renews the server's at the same point). */
const RENEW_BEFORE_MS = 90 * 86_400_000;

/** Fetches the server's CA from /cacerts without trusting it yet, then checks it against the token's hash. */
export async function fetchClusterCA(server: string, caHash: string | undefined): Promise<string> {
  const url = new URL('/cacerts', server);
  const res = await request(url, { method: 'GET', rejectUnauthorized: false });
  if (res.status !== 200) throw new Error(`GET ${url.href}: HTTP ${res.status}`);
  const pem = res.body;
  if (caHash !== undefined) {
    const actual = createHash('sha256').update(pem).digest('hex');
    if (actual !== caHash) throw new Error(`the CA served by ${server} (sha256 ${actual}) does not match the token's CA hash ${caHash}; refusing to join`);
  } else {
    log.warn("the token has no CA hash (use the K10... form from the server's token file to verify the server); trusting the CA the server presents", { server });
  }
  return pem;
}

/** Joins (or re-joins) the cluster; see the file comment. Rejects with the server's words when refused. */
export async function joinCluster(opts: JoinOptions): Promise<NodeCredentials> {
  const now = opts.now ?? new Date();
  for (const ip of opts.nodeIPs ?? []) if (isIP(ip) === 0) throw new Error(`node IP ${JSON.stringify(ip)} is not an IP address`);
  const token = parseToken(opts.token);
  const ca = await fetchClusterCA(opts.server, token.caHash);
  const dir = join(opts.dataDir, 'agent');
  await mkdir(dir, { recursive: true, mode: 0o700 });
  await writeAtomic(join(dir, 'server-ca.crt'), ca, 0o644);
  const password = await nodePassword(join(dir, 'node-password'));
  const ask = async (kind: 'client' | 'serving'): Promise<{ cert: string; key: string }> => {
    const certPath = join(dir, `${kind}-kubelet.crt`);
    const keyPath = join(dir, `${kind}-kubelet.key`);
    const existing = await readPair(certPath, keyPath);
    if (existing && stillGood(existing.cert, ca, kind, opts.nodeName, opts.nodeIPs ?? [], now)) return existing;
    const pair = await requestCertificate(opts, ca, password, kind);
    await writeAtomic(keyPath, pair.key, 0o600);
    await writeAtomic(certPath, pair.cert, 0o644);
    log.info('got a node certificate from the server', { node: opts.nodeName, kind, path: certPath });
    return pair;
  };
  const client = await ask('client');
  const serving = await ask('serving');
  const cluster = await fetchClusterRanges(opts.server, opts.token, ca);
  return { ca, clientCert: client.cert, clientKey: client.key, servingCert: serving.cert, servingKey: serving.key, ...(cluster ? { cluster } : {}) };
}

/** GET /v1-skiff/config: the cluster's ranges; undefined (logged) from a server that answers 404. */
export async function fetchClusterRanges(server: string, token: string, ca: string): Promise<ClusterRanges | undefined> {
  const url = new URL(CLUSTER_CONFIG_PATH, server);
  const res = await request(url, { method: 'GET', ca, headers: { Authorization: `Bearer ${token.trim()}` } });
  if (res.status === 404) {
    log.warn(`${server} publishes no cluster ranges (${CLUSTER_CONFIG_PATH}: 404); give the agent --cluster-cidr`, { server });
    return undefined;
  }
  if (res.status !== 200) throw new Error(`${url.href}: HTTP ${res.status}: ${res.body.trim()}`);
  let body: Partial<ClusterRanges>;
  try {
    body = JSON.parse(res.body) as Partial<ClusterRanges>;
  } catch (err) {
    throw new Error(`${url.href} answered with invalid JSON: ${(err as Error).message}`);
  }
  const strings = (v: unknown): string[] => (Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string' && x !== '') : []);
  return { clusterCIDRs: strings(body.clusterCIDRs), serviceCIDRs: strings(body.serviceCIDRs) };
}

async function requestCertificate(opts: JoinOptions, ca: string, password: string, kind: 'client' | 'serving'): Promise<{ cert: string; key: string }> {
  // The server sets subject and SANs itself; the CSR's own name is informational.
  const { keyPem, csrPem } = await newKeyAndCertificateRequest(opts.nodeName);
  const url = new URL(kind === 'client' ? CLIENT_CERT_PATH : SERVING_CERT_PATH, opts.server);
  const res = await request(url, {
    method: 'POST',
    ca,
    body: csrPem,
    headers: {
      Authorization: `Bearer ${opts.token.trim()}`,
      'Content-Type': 'application/pkcs10',
      'Skiff-Node-Name': opts.nodeName,
      'Skiff-Node-Password': password,
      ...(opts.nodeIPs?.length ? { 'Skiff-Node-IP': opts.nodeIPs.join(',') } : {}),
    },
  });
  if (res.status !== 200) {
    let message = res.body.trim();
    try {
      message = (JSON.parse(res.body) as { message?: string }).message ?? message;
    } catch {
      // not a Status: keep the text
    }
    throw new Error(`${opts.server} refused the ${kind} certificate for node "${opts.nodeName}" (HTTP ${res.status}): ${message}`);
  }
  const cert = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----\n?/.exec(res.body)?.[0];
  if (!cert) throw new Error(`${url.href} answered without a certificate`);
  return { cert: cert.endsWith('\n') ? cert : `${cert}\n`, key: keyPem };
}

/** A stored certificate is reused when the current CA signed it, it names this node, covers its IPs and is not near expiry. */
function stillGood(certPem: string, caPem: string, kind: 'client' | 'serving', nodeName: string, nodeIPs: string[], now: Date): boolean {
  try {
    const cert = new X509Certificate(certPem);
    const ca = new X509Certificate(caPem);
    if (!cert.checkIssued(ca) || !cert.verify(ca.publicKey)) return false;
    if (new Date(cert.validTo).getTime() - now.getTime() < RENEW_BEFORE_MS) return false;
    const cn = /(?:^|\n)CN=([^\n]*)/.exec(cert.subject)?.[1];
    if (cn !== (kind === 'client' ? `system:node:${nodeName}` : nodeName)) return false;
    if (kind === 'serving') {
      const sans = (cert.subjectAltName ?? '').split(', ');
      if (!nodeIPs.every((ip) => sans.some((s) => s.startsWith('IP Address:') && sameIP(s.slice('IP Address:'.length), ip)))) return false;
    }
    return true;
  } catch {
    return false;
  }
}

function sameIP(a: string, b: string): boolean {
  const canon = (ip: string) => (isIP(ip) === 6 ? new URL(`http://[${ip}]/`).hostname : ip);
  return canon(a) === canon(b);
}

async function nodePassword(path: string): Promise<string> {
  try {
    const existing = (await readFile(path, 'utf8')).trim();
    if (existing !== '') return existing;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  const password = randomBytes(16).toString('hex');
  await writeAtomic(path, `${password}\n`, 0o600);
  return password;
}

async function readPair(certPath: string, keyPath: string): Promise<{ cert: string; key: string } | undefined> {
  try {
    return { cert: await readFile(certPath, 'utf8'), key: await readFile(keyPath, 'utf8') };
  } catch {
    return undefined;
  }
}

async function writeAtomic(path: string, data: string, mode: number): Promise<void> {
  const tmp = `${path}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`;
  const fh = await open(tmp, 'wx', mode);
  try {
    await fh.chmod(mode);
    await fh.writeFile(data);
    await fh.sync();
  } catch (err) {
    await fh.close();
    await unlink(tmp);
    throw err;
  }
  await fh.close();
  await rename(tmp, path);
}

interface RequestOptions {
  method: string;
  ca?: string;
  rejectUnauthorized?: boolean;
  headers?: Record<string, string>;
  body?: string;
}

function request(url: URL, o: RequestOptions): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = https.request(
      url,
      {
        method: o.method,
        agent: false,
        ...(o.ca ? { ca: o.ca } : {}),
        rejectUnauthorized: o.rejectUnauthorized ?? true,
        headers: { ...o.headers, ...(o.body !== undefined ? { 'Content-Length': String(Buffer.byteLength(o.body)) } : {}) },
        timeout: 30_000,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error(`${o.method} ${url.href}: no answer within 30 s`)));
    req.on('error', (err) => reject(new Error(`cannot reach ${url.origin}: ${err.message}`)));
    req.end(o.body);
  });
}
