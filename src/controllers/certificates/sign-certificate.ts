/**
 * Parsing a CSR's request and issuing its certificate with the cluster CA, as kube-controller-manager's csrsigning
 * controller does (pkg/controller/certificates/authority: PermissiveSigningPolicy): the subject and the DNS, IP, email
 * and URI SANs come from the request, key usages from spec.usages, never a CA; valid from 5 minutes ago for the
 * requested duration (spec.expirationSeconds, between 10 minutes and the default of one year), cut at the CA's own
 * expiry. @peculiar/x509 is loaded on first use, as the server's PKI does, to keep it out of start-up.
 */
import { randomBytes, webcrypto } from 'node:crypto';
import type * as X509 from '@peculiar/x509';

type X509Lib = typeof X509;
let x509Lib: Promise<X509Lib> | undefined;

function loadX509(): Promise<X509Lib> {
  x509Lib ??= (async () => {
    await import('reflect-metadata');
    const lib = await import('@peculiar/x509');
    lib.cryptoProvider.set(webcrypto as never);
    return lib;
  })();
  return x509Lib;
}

/** What the signers' rules look at in a request (Go's x509.CertificateRequest fields). */
export interface ParsedRequest {
  commonName: string;
  organizations: string[];
  dnsNames: string[];
  ipAddresses: string[];
  emailAddresses: string[];
  uris: string[];
}

export interface ParsedCsr extends ParsedRequest {
  /** The library's request, for signing. */
  raw: X509.Pkcs10CertificateRequest;
}

const SAN_OID = '2.5.29.17';

/** Parses and verifies a PEM CSR; throws an Error saying what is wrong. */
export async function parseCertificateRequest(pem: string): Promise<ParsedCsr> {
  const x509 = await loadX509();
  let csr: X509.Pkcs10CertificateRequest;
  try {
    csr = new x509.Pkcs10CertificateRequest(pem);
  } catch {
    throw new Error('PEM block type must be CERTIFICATE REQUEST');
  }
  if (!(await csr.verify())) throw new Error('x509: the request is not signed by its own key');
  const parsed: ParsedCsr = {
    raw: csr,
    commonName: csr.subjectName.getField('CN')[0] ?? '',
    organizations: csr.subjectName.getField('O'),
    dnsNames: [],
    ipAddresses: [],
    emailAddresses: [],
    uris: [],
  };
  for (const ext of csr.extensions) {
    if (ext.type !== SAN_OID) continue;
    const san = new x509.SubjectAlternativeNameExtension(ext.rawData);
    for (const name of san.names.items) {
      if (name.type === 'dns') parsed.dnsNames.push(name.value);
      else if (name.type === 'ip') parsed.ipAddresses.push(name.value);
      else if (name.type === 'email') parsed.emailAddresses.push(name.value);
      else if (name.type === 'url') parsed.uris.push(name.value);
    }
  }
  return parsed;
}

const DAY_MS = 86_400_000;
/** kube-controller-manager --cluster-signing-duration default. */
export const DEFAULT_SIGNING_DURATION_MS = 365 * DAY_MS;
const MIN_DURATION_MS = 10 * 60_000;
const BACKDATE_MS = 5 * 60_000;

/** The certificate's lifetime: the requested one within [10 minutes, the default], or the default (signer.duration). */
export function signingDurationMs(expirationSeconds: number | undefined, defaultMs = DEFAULT_SIGNING_DURATION_MS): number {
  if (expirationSeconds === undefined || expirationSeconds === null) return defaultMs;
  const requested = expirationSeconds * 1000;
  return requested > defaultMs ? defaultMs : requested < MIN_DURATION_MS ? MIN_DURATION_MS : requested;
}

/** Validity window: backdated, cut at the CA's notAfter. */
export function validityWindow(now: Date, durationMs: number, caNotAfter: Date): { notBefore: Date; notAfter: Date } {
  // Upstream backdates by 5 minutes, and by less for very short certificates so they are not mostly spent at issue.
  const backdate = Math.min(BACKDATE_MS, durationMs / 2);
  let notAfter = new Date(now.getTime() + durationMs);
  if (notAfter > caNotAfter) notAfter = caNotAfter;
  return { notBefore: new Date(now.getTime() - backdate), notAfter };
}

const KEY_USAGES: Record<string, number> = {
  signing: 1, // digitalSignature
  'digital signature': 1,
  'content commitment': 2, // nonRepudiation
  'key encipherment': 4,
  'data encipherment': 8,
  'key agreement': 16,
  'cert sign': 32,
  'crl sign': 64,
  'encipher only': 128,
  'decipher only': 256,
};

const EXT_KEY_USAGES: Record<string, string> = {
  any: '2.5.29.37.0',
  'server auth': '1.3.6.1.5.5.7.3.1',
  'client auth': '1.3.6.1.5.5.7.3.2',
  'code signing': '1.3.6.1.5.5.7.3.3',
  'email protection': '1.3.6.1.5.5.7.3.4',
  's/mime': '1.3.6.1.5.5.7.3.4',
  'ipsec end system': '1.3.6.1.5.5.7.3.5',
  'ipsec tunnel': '1.3.6.1.5.5.7.3.6',
  'ipsec user': '1.3.6.1.5.5.7.3.7',
  timestamping: '1.3.6.1.5.5.7.3.8',
  'ocsp signing': '1.3.6.1.5.5.7.3.9',
  'microsoft sgc': '1.3.6.1.4.1.311.10.3.3',
  'netscape sgc': '2.16.840.1.113730.4.1',
};

export interface SigningCA {
  certPem: string;
  keyPem: string;
}

/** Issues the certificate (PEM) for a parsed, verified request. */
export async function signCertificate(ca: SigningCA, csr: ParsedCsr, usages: string[], durationMs: number, now: Date): Promise<string> {
  const x509 = await loadX509();
  const caCert = new x509.X509Certificate(ca.certPem);
  const caKeyDer = x509.PemConverter.decodeFirst(ca.keyPem);
  const algorithm = caCert.publicKey.algorithm as { name: string; namedCurve?: string };
  const isEc = algorithm.name === 'ECDSA';
  const importAlg = isEc ? { name: 'ECDSA', namedCurve: algorithm.namedCurve } : { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' };
  const caKey = await webcrypto.subtle.importKey('pkcs8', caKeyDer, importAlg, false, ['sign']);
  let keyUsage = 0;
  const extUsages: string[] = [];
  for (const u of usages) {
    if (u in KEY_USAGES) keyUsage |= KEY_USAGES[u]!;
    else if (u in EXT_KEY_USAGES && !extUsages.includes(EXT_KEY_USAGES[u]!)) extUsages.push(EXT_KEY_USAGES[u]!);
  }
  const extensions: X509.Extension[] = [new x509.BasicConstraintsExtension(false, undefined, true)];
  if (keyUsage) extensions.push(new x509.KeyUsagesExtension(keyUsage, true));
  if (extUsages.length > 0) extensions.push(new x509.ExtendedKeyUsageExtension(extUsages, false));
  extensions.push(await x509.AuthorityKeyIdentifierExtension.create(caCert, false));
  const sans = [
    ...csr.dnsNames.map((value) => ({ type: 'dns' as const, value })),
    ...csr.emailAddresses.map((value) => ({ type: 'email' as const, value })),
    ...csr.ipAddresses.map((value) => ({ type: 'ip' as const, value })),
    ...csr.uris.map((value) => ({ type: 'url' as const, value })),
  ];
  if (sans.length > 0) extensions.push(new x509.SubjectAlternativeNameExtension(sans));
  const { notBefore, notAfter } = validityWindow(now, durationMs, caCert.notAfter);
  const serial = randomBytes(16);
  serial[0] = serial[0]! & 0x7f;
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: serial.toString('hex'),
    subject: csr.raw.subjectName,
    issuer: caCert.subjectName,
    notBefore,
    notAfter,
    signingAlgorithm: isEc ? { name: 'ECDSA', hash: 'SHA-256' } : importAlg,
    publicKey: csr.raw.publicKey as never,
    signingKey: caKey as never,
    extensions,
  });
  return cert.toString('pem') + '\n';
}
