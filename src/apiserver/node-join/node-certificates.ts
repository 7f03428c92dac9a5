/**
 * Node certificates signed with the cluster CA, from a certificate signing request the agent made with its own key
 * (the key never leaves the node; k3s's agent does the same since v1.20). The server decides subject and SANs:
 * - client: CN=system:node:<name>, O=system:nodes, clientAuth — the node's identity for the API server (kubelet's
 *   client certificate; the Node authorizer and NodeRestriction key on it);
 * - serving: CN=<name>, serverAuth, SANs the node name, localhost, its IPs and 127.0.0.1 — the agent's HTTPS API
 *   (port 10250), which the API server verifies when it proxies logs, exec and port-forward.
 * ECDSA P-256 like the rest of the cluster's PKI (pki.ts); valid for a year, renewed by the agent at start when close.
 */
import { randomBytes, webcrypto } from 'node:crypto';
import { isIP } from 'node:net';
import type * as X509 from '@peculiar/x509';
import { loadX509 } from '../auth/pki.js';

export type NodeCertificateKind = 'client' | 'serving';

export const NODE_USER_PREFIX = 'system:node:';
export const NODES_GROUP = 'system:nodes';

const EKU_SERVER_AUTH = '1.3.6.1.5.5.7.3.1';
const EKU_CLIENT_AUTH = '1.3.6.1.5.5.7.3.2';
const ECDSA = { name: 'ECDSA', namedCurve: 'P-256' } as const;
const SIGNING = { name: 'ECDSA', hash: 'SHA-256' } as const;
const DAY_MS = 86_400_000;
export const NODE_CERT_VALIDITY_DAYS = 365;
const BACKDATE_MS = 60 * 60 * 1000;

export interface SignNodeCertificateRequest {
  caCertPem: string;
  caKeyPem: string;
  /** PEM `CERTIFICATE REQUEST` made with the node's key; only its public key is used, once its signature checks out. */
  csrPem: string;
  kind: NodeCertificateKind;
  nodeName: string;
  /** The node's IPs, for the serving certificate's SANs. */
  nodeIPs?: string[];
  now?: Date;
}

/** Signs a node certificate; throws an Error whose message says what is wrong with the request. */
export async function signNodeCertificate(req: SignNodeCertificateRequest): Promise<string> {
  const x509 = await loadX509();
  let csr: X509.Pkcs10CertificateRequest;
  try {
    csr = new x509.Pkcs10CertificateRequest(req.csrPem);
  } catch {
    throw new Error('the request body is not a PEM certificate signing request');
  }
  if (!(await csr.verify())) throw new Error('the certificate signing request is not signed by its own key');
  for (const ip of req.nodeIPs ?? []) if (isIP(ip) === 0) throw new Error(`node IP ${JSON.stringify(ip)} is not an IP address`);
  const now = req.now ?? new Date();
  const caCert = new x509.X509Certificate(req.caCertPem);
  const caKey = await webcrypto.subtle.importKey('pkcs8', x509.PemConverter.decodeFirst(req.caKeyPem), ECDSA, false, ['sign']);
  const extensions: X509.Extension[] = [
    new x509.BasicConstraintsExtension(false, undefined, true),
    new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyEncipherment, true),
    new x509.ExtendedKeyUsageExtension([req.kind === 'client' ? EKU_CLIENT_AUTH : EKU_SERVER_AUTH], false),
    await x509.AuthorityKeyIdentifierExtension.create(caCert, false),
  ];
  if (req.kind === 'serving') {
    const dns = [...new Set([req.nodeName.toLowerCase(), 'localhost'])];
    const ips = [...new Set([...(req.nodeIPs ?? []), '127.0.0.1'])];
    extensions.push(new x509.SubjectAlternativeNameExtension([...dns.map((value) => ({ type: 'dns' as const, value })), ...ips.map((value) => ({ type: 'ip' as const, value }))]));
  }
  const serial = randomBytes(16);
  serial[0] = serial[0]! & 0x7f;
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: serial.toString('hex'),
    subject: req.kind === 'client' ? `CN=${NODE_USER_PREFIX}${req.nodeName}, O=${NODES_GROUP}` : `CN=${req.nodeName}`,
    issuer: caCert.subjectName,
    notBefore: new Date(now.getTime() - BACKDATE_MS),
    notAfter: new Date(now.getTime() + NODE_CERT_VALIDITY_DAYS * DAY_MS),
    signingAlgorithm: SIGNING,
    publicKey: csr.publicKey as never,
    signingKey: caKey as never,
    extensions,
  });
  return cert.toString('pem') + '\n';
}
