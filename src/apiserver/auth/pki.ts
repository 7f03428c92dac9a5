/**
 * The cluster's certificates, generated into `<data-dir>/server/tls/` on first start and reused after,
 * the way k3s does (k3s-io/docs: docs/cli/certificate.md): a CA valid for 10 years, leaf certificates
 * valid for 1 year and renewed automatically at start when close to expiry, always keeping the CA so
 * existing kubeconfigs and joined agents keep trusting the server.
 *
 * ECDSA P-256 keys are used because generating them takes milliseconds; a fresh `skiff server` must be
 * ready within seconds, and RSA-2048 generation alone can take longer than that on a busy machine.
 */
import { createHash, randomBytes, webcrypto, X509Certificate as NodeX509 } from 'node:crypto';
import { chmod, mkdir, open, readFile, rename, unlink } from 'node:fs/promises';
import { hostname as osHostname } from 'node:os';
import { isIP } from 'node:net';
import { join } from 'node:path';
import type * as X509 from '@peculiar/x509';

export type X509Lib = typeof X509;
let x509Lib: Promise<X509Lib> | undefined;

/**
 * @peculiar/x509 (with its reflect-metadata polyfill) is loaded only when a certificate must be made: a restart on an
 * existing data dir reads and checks certificates with Node's own X509Certificate and saves ~150 ms of start-up.
 */
export function loadX509(): Promise<X509Lib> {
  x509Lib ??= (async () => {
    await import('reflect-metadata');
    const lib = await import('@peculiar/x509');
    // The library's types name DOM globals (Crypto, CryptoKey) that this Node-only build does not declare;
    // Node's webcrypto implements the same interfaces.
    lib.cryptoProvider.set(webcrypto as never);
    return lib;
  })();
  return x509Lib;
}

/** OIDs of the extended key usages (RFC 5280). */
const EKU_SERVER_AUTH = '1.3.6.1.5.5.7.3.1';
const EKU_CLIENT_AUTH = '1.3.6.1.5.5.7.3.2';

const KEY_ALGORITHM = { name: 'ECDSA', namedCurve: 'P-256' } as const;
const SIGNING_ALGORITHM = { name: 'ECDSA', hash: 'SHA-256' } as const;
const DAY_MS = 24 * 60 * 60 * 1000;
const CA_VALIDITY_DAYS = 3650;
const LEAF_VALIDITY_DAYS = 365;
/** Leaf certificates expiring within this window are replaced at start (k3s uses 120 days; the brief asks 90). */
export const RENEW_BEFORE_DAYS = 90;
/** Clocks of clients and servers drift; a certificate valid only from "now" is rejected by a client that is behind. */
const BACKDATE_MS = 60 * 60 * 1000;

/** First address of the service CIDR 10.43.0.0/16: the ClusterIP of the `kubernetes` Service. */
export const KUBERNETES_SERVICE_IP = '10.43.0.1';

/** Names every serving certificate carries, so in-cluster clients (`kubernetes.default.svc`) and local tools verify it. */
export const DEFAULT_SAN_DNS = [
  'localhost',
  'kubernetes',
  'kubernetes.default',
  'kubernetes.default.svc',
  'kubernetes.default.svc.cluster.local',
];
export const DEFAULT_SAN_IPS = ['127.0.0.1', '::1', KUBERNETES_SERVICE_IP];

export interface PkiOptions {
  /** Extra DNS names or IP addresses for the serving certificate (`--tls-san`); IPs given here become IP SANs. */
  hostnames?: string[];
  /** Extra IP addresses for the serving certificate (advertise address, node IPs). */
  ips?: string[];
  /** Clock for validity periods and renewal decisions; defaults to the current time. */
  now?: Date;
  /** The node's hostname, always a SAN; defaults to `os.hostname()`. */
  nodeHostname?: string;
  /** Told when a due renewal could not be saved (a full disk) and the certificate on disk is kept for this run. */
  onWarning?(message: string): void;
}

export interface PkiPaths {
  dir: string;
  caCert: string;
  caKey: string;
  servingCert: string;
  servingKey: string;
  adminCert: string;
  adminKey: string;
  kubeletClientCert: string;
  kubeletClientKey: string;
}

/** Which files ensurePki wrote in this call; empty when everything on disk was reused (or could not be replaced). */
export type PkiGenerated = Array<'ca' | 'serving' | 'admin' | 'kubelet-client'>;

export interface Pki {
  paths: PkiPaths;
  /** PEM of the CA certificate: the trust root for serving and client certificates (`certificate-authority-data`). */
  caCertPem: string;
  /** PKCS#8 PEM of the CA key; needed later to sign node and kubelet certificates. */
  caKeyPem: string;
  servingCertPem: string;
  servingKeyPem: string;
  /** Client certificate with CN `system:admin`, O `system:masters`, written into the admin kubeconfig. */
  adminCertPem: string;
  adminKeyPem: string;
  /** The API server's client certificate towards node agents (logs, exec, port-forward): CN kube-apiserver-kubelet-client, O system:masters. */
  kubeletClientCertPem: string;
  kubeletClientKeyPem: string;
  /** Lower-case hex SHA-256 of the CA certificate PEM file, the `<hash>` in k3s-style `K10<hash>::server:<secret>` tokens. */
  caHash: string;
  generated: PkiGenerated;
  /** SANs of the serving certificate now on disk. */
  servingSans: { dns: string[]; ips: string[] };
}

/**
 * Loads the certificates under `<dataDir>/server/tls`, creating or renewing whatever is missing,
 * expiring within RENEW_BEFORE_DAYS, not signed by the CA, or (for the serving certificate) not
 * covering every requested SAN. The CA itself is never replaced once it exists.
 */
export async function ensurePki(dataDir: string, opts: PkiOptions = {}): Promise<Pki> {
  const now = opts.now ?? new Date();
  const dir = join(dataDir, 'server', 'tls');
  const paths: PkiPaths = {
    dir,
    caCert: join(dir, 'server-ca.crt'),
    caKey: join(dir, 'server-ca.key'),
    servingCert: join(dir, 'serving-kube-apiserver.crt'),
    servingKey: join(dir, 'serving-kube-apiserver.key'),
    adminCert: join(dir, 'client-admin.crt'),
    adminKey: join(dir, 'client-admin.key'),
    kubeletClientCert: join(dir, 'client-kube-apiserver.crt'),
    kubeletClientKey: join(dir, 'client-kube-apiserver.key'),
  };
  await mkdir(dir, { recursive: true, mode: 0o700 });
  // mkdir's mode is filtered by the umask and ignored for an existing directory; the keys live here.
  await chmod(dir, 0o700);

  const generated: PkiGenerated = [];
  const wanted = wantedSans(opts);

  let ca = await loadPair(paths.caCert, paths.caKey, true);
  if (ca === undefined) {
    ca = await createCa(now);
    await writePair(paths.caCert, paths.caKey, ca);
    generated.push('ca');
  }
  const caNode = new NodeX509(ca.certPem);

  const leaf = (name: PkiGenerated[number], certPath: string, keyPath: string, wantedBy: (p: PemPair) => boolean, make: () => Promise<PemPair>) =>
    ensureLeaf({ name, certPath, keyPath, caNode, now, wantedBy, make, generated, onWarning: opts.onWarning });

  const serving = await leaf('serving', paths.servingCert, paths.servingKey, (p) => coversSans(p.certPem, wanted), () =>
    createLeaf(ca, now, { subject: 'CN=kube-apiserver', usage: EKU_SERVER_AUTH, sans: wanted }),
  );
  const admin = await leaf('admin', paths.adminCert, paths.adminKey, () => true, () =>
    createLeaf(ca, now, { subject: 'CN=system:admin, O=system:masters', usage: EKU_CLIENT_AUTH }),
  );
  // kubeadm's apiserver-kubelet-client: who node agents let in for logs, exec and port-forward.
  const kubeletClient = await leaf('kubelet-client', paths.kubeletClientCert, paths.kubeletClientKey, () => true, () =>
    createLeaf(ca, now, { subject: 'CN=kube-apiserver-kubelet-client, O=system:masters', usage: EKU_CLIENT_AUTH }),
  );

  return {
    paths,
    caCertPem: ca.certPem,
    caKeyPem: ca.keyPem,
    servingCertPem: serving.certPem,
    servingKeyPem: serving.keyPem,
    adminCertPem: admin.certPem,
    adminKeyPem: admin.keyPem,
    kubeletClientCertPem: kubeletClient.certPem,
    kubeletClientKeyPem: kubeletClient.keyPem,
    caHash: createHash('sha256').update(ca.certPem).digest('hex'),
    generated,
    servingSans: readSans(serving.certPem),
  };
}

interface PemPair {
  certPem: string;
  keyPem: string;
}

interface LeafRequest {
  name: PkiGenerated[number];
  certPath: string;
  keyPath: string;
  caNode: NodeX509;
  now: Date;
  /** Beyond validity and issuer: whether the pair on disk still serves (the serving certificate's SANs). */
  wantedBy(pair: PemPair): boolean;
  make(): Promise<PemPair>;
  generated: PkiGenerated;
  onWarning?(message: string): void;
}

/** Errors that mean the disk cannot take the new files now, not that something is wrong with the data dir. */
const NO_SPACE_CODES = new Set(['ENOSPC', 'EDQUOT', 'EROFS']);

/**
 * The leaf pair on disk when it is still good, else a new one written in its place. A renewal that is due but
 * cannot be saved because the disk is full keeps the pair on disk for this run while it is still valid (the next
 * start tries again), so a full disk never stops a server whose certificates work; a pair that is missing,
 * expired or not from this CA cannot be kept, and the start fails with the write's error.
 */
async function ensureLeaf(req: LeafRequest): Promise<PemPair> {
  const current = await loadPair(req.certPath, req.keyPath);
  if (current !== undefined && !needsRenewal(current.certPem, req.caNode, req.now) && req.wantedBy(current)) return current;
  const fresh = await req.make();
  try {
    await writePair(req.certPath, req.keyPath, fresh);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? '';
    if (!NO_SPACE_CODES.has(code) || current === undefined || !stillValid(current.certPem, req.caNode, req.now)) {
      throw new Error(`pki: cannot write ${req.certPath}: ${(err as Error).message}`, { cause: err });
    }
    req.onWarning?.(`the ${req.name} certificate needs renewing but the disk is full (${code}); keeping the one on disk (valid until ${new NodeX509(current.certPem).validTo}) and renewing at the next start`);
    return current;
  }
  req.generated.push(req.name);
  return fresh;
}

/** Issued by the CA and not yet expired (a certificate due for renewal may still be valid for months). */
function stillValid(certPem: string, ca: NodeX509, now: Date): boolean {
  const cert = new NodeX509(certPem);
  return cert.checkIssued(ca) && cert.verify(ca.publicKey) && new Date(cert.validTo).getTime() > now.getTime();
}

interface SanSet {
  dns: string[];
  ips: string[];
}

function wantedSans(opts: PkiOptions): SanSet {
  const dns = new Set(DEFAULT_SAN_DNS);
  const ips = new Set(DEFAULT_SAN_IPS.map(canonicalIp));
  dns.add((opts.nodeHostname ?? osHostname()).toLowerCase());
  for (const name of opts.hostnames ?? []) {
    if (name === '') continue;
    // `--tls-san` takes names and addresses alike (k3s); an address must be an IP SAN or clients reject it.
    if (isIP(name) !== 0) ips.add(canonicalIp(name));
    else dns.add(name.toLowerCase());
  }
  for (const ip of opts.ips ?? []) {
    if (isIP(ip) === 0) throw new Error(`pki: ${JSON.stringify(ip)} is not an IP address`);
    ips.add(canonicalIp(ip));
  }
  return { dns: [...dns], ips: [...ips] };
}

/** One spelling per address, so `::1` and `0:0:0:0:0:0:0:1` compare equal. */
function canonicalIp(ip: string): string {
  if (isIP(ip) === 6) return new URL(`http://[${ip}]/`).hostname.slice(1, -1);
  return ip;
}

function needsRenewal(certPem: string, ca: NodeX509, now: Date): boolean {
  const cert = new NodeX509(certPem);
  if (!cert.checkIssued(ca) || !cert.verify(ca.publicKey)) return true;
  const notAfter = new Date(cert.validTo).getTime();
  return notAfter - now.getTime() < RENEW_BEFORE_DAYS * DAY_MS;
}

/** SANs from Node's `subjectAltName` text, e.g. `DNS:localhost, IP Address:127.0.0.1, IP Address:0:0:0:0:0:0:0:1`. */
function readSans(certPem: string): SanSet {
  const text = new NodeX509(certPem).subjectAltName ?? '';
  const dns: string[] = [];
  const ips: string[] = [];
  for (const item of text.split(', ')) {
    if (item.startsWith('DNS:')) dns.push(item.slice(4).toLowerCase());
    else if (item.startsWith('IP Address:')) ips.push(canonicalIp(item.slice('IP Address:'.length)));
  }
  return { dns, ips };
}

function coversSans(certPem: string, wanted: SanSet): boolean {
  const have = readSans(certPem);
  const dns = new Set(have.dns);
  const ips = new Set(have.ips);
  return wanted.dns.every((d) => dns.has(d)) && wanted.ips.every((i) => ips.has(i));
}

async function loadPair(certPath: string, keyPath: string, isCa = false): Promise<PemPair | undefined> {
  const certPem = await readOptional(certPath);
  const keyPem = await readOptional(keyPath);
  if (certPem === undefined && keyPem === undefined) return undefined;
  if (certPem === undefined || keyPem === undefined) {
    // A CA certificate without its key cannot sign anything, and replacing it would silently break
    // every kubeconfig and agent that trusts it: refuse instead of guessing.
    if (isCa) {
      throw new Error(`pki: ${certPem === undefined ? certPath : keyPath} is missing but its pair exists; restore it or remove both to create a new CA`);
    }
    return undefined;
  }
  return { certPem, keyPem };
}

async function readOptional(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

async function writePair(certPath: string, keyPath: string, pair: PemPair): Promise<void> {
  // Both files are written in full before either replaces its old one: a disk that fills up midway leaves the old
  // pair as it was, never a new key beside an old certificate. Key first: a crash between the renames leaves an
  // unpaired key, which the next start replaces, rather than a certificate whose key is gone.
  const key = await writeTemp(keyPath, pair.keyPem, 0o600);
  let cert: string;
  try {
    cert = await writeTemp(certPath, pair.certPem, 0o644);
  } catch (err) {
    await unlink(key).catch(() => undefined);
    throw err;
  }
  await rename(key, keyPath);
  await rename(cert, certPath);
}

/** Writes through a temporary file and rename, so a reader never sees half a PEM. */
export async function writeFileAtomic(path: string, data: string, mode: number): Promise<void> {
  await rename(await writeTemp(path, data, mode), path);
}

/** `data` in a new temporary file beside `path`, synced to disk; nothing is left behind when a write fails. */
async function writeTemp(path: string, data: string, mode: number): Promise<string> {
  const tmp = `${path}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`;
  const fh = await open(tmp, 'wx', mode);
  try {
    // open()'s mode is filtered by the umask; the caller's mode is the contract.
    await fh.chmod(mode);
    await fh.writeFile(data);
    await fh.sync();
  } catch (err) {
    await fh.close();
    await unlink(tmp);
    throw err;
  }
  await fh.close();
  return tmp;
}

async function createCa(now: Date): Promise<PemPair> {
  const x509 = await loadX509();
  const keys = await webcrypto.subtle.generateKey(KEY_ALGORITHM, true, ['sign', 'verify']);
  const unixTime = Math.floor(now.getTime() / 1000);
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: randomSerial(),
    // k3s names its CA `k3s-server-ca@<unix time>`: the timestamp tells apart CAs of re-created clusters.
    name: `CN=skiff-server-ca@${unixTime}`,
    notBefore: new Date(now.getTime() - BACKDATE_MS),
    notAfter: new Date(now.getTime() + CA_VALIDITY_DAYS * DAY_MS),
    signingAlgorithm: SIGNING_ALGORITHM,
    keys: keys as never,
    extensions: [
      new x509.BasicConstraintsExtension(true, undefined, true),
      new x509.KeyUsagesExtension(
        x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign | x509.KeyUsageFlags.digitalSignature,
        true,
      ),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey as never),
    ],
  });
  return { certPem: cert.toString('pem') + '\n', keyPem: await exportKeyPem(keys.privateKey) };
}

interface LeafSpec {
  /** A DN string, or the JSON form (one attribute per element) when values may hold DN syntax (user names). */
  subject: string | X509.JsonName;
  /** Extended key usage OID. */
  usage: string;
  sans?: SanSet;
  /** Default LEAF_VALIDITY_DAYS. */
  validityMs?: number;
}

/**
 * A client certificate signed by the cluster CA: CN = user, one O per group (how the x509 authenticator reads them),
 * valid from an hour ago for `validityMs`. For `skiff kubeconfig --user NAME --group G`.
 */
export async function issueClientCertificate(ca: { certPem: string; keyPem: string }, opts: { user: string; groups?: string[]; validityMs: number; now?: Date }): Promise<{ certPem: string; keyPem: string }> {
  const subject: X509.JsonName = [{ CN: [opts.user] }, ...(opts.groups ?? []).map((g) => ({ O: [g] }))];
  return createLeaf(ca, opts.now ?? new Date(), { subject, usage: EKU_CLIENT_AUTH, validityMs: opts.validityMs });
}

async function createLeaf(ca: PemPair, now: Date, spec: LeafSpec): Promise<PemPair> {
  const x509 = await loadX509();
  const caCert = new x509.X509Certificate(ca.certPem);
  const caKey = await importKeyPem(ca.keyPem);
  const keys = await webcrypto.subtle.generateKey(KEY_ALGORITHM, true, ['sign', 'verify']);
  const extensions: X509.Extension[] = [
    new x509.BasicConstraintsExtension(false, undefined, true),
    new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyEncipherment, true),
    new x509.ExtendedKeyUsageExtension([spec.usage], false),
    await x509.AuthorityKeyIdentifierExtension.create(caCert, false),
  ];
  if (spec.sans !== undefined) {
    extensions.push(
      new x509.SubjectAlternativeNameExtension([
        ...spec.sans.dns.map((value) => ({ type: 'dns' as const, value })),
        ...spec.sans.ips.map((value) => ({ type: 'ip' as const, value })),
      ]),
    );
  }
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: randomSerial(),
    subject: spec.subject,
    // The CA's encoded name as is: chain building compares issuer and subject names.
    issuer: caCert.subjectName,
    notBefore: new Date(now.getTime() - BACKDATE_MS),
    notAfter: new Date(now.getTime() + (spec.validityMs ?? LEAF_VALIDITY_DAYS * DAY_MS)),
    signingAlgorithm: SIGNING_ALGORITHM,
    publicKey: keys.publicKey as never,
    signingKey: caKey as never,
    extensions,
  });
  return { certPem: cert.toString('pem') + '\n', keyPem: await exportKeyPem(keys.privateKey) };
}

/** 16 random bytes with the top bit clear: serials must be positive (RFC 5280 §4.1.2.2). */
function randomSerial(): string {
  const bytes = randomBytes(16);
  bytes[0] = bytes[0]! & 0x7f;
  return bytes.toString('hex');
}

async function exportKeyPem(key: webcrypto.CryptoKey): Promise<string> {
  const x509 = await loadX509();
  const der = await webcrypto.subtle.exportKey('pkcs8', key);
  return x509.PemConverter.encode(der, 'PRIVATE KEY') + '\n';
}

async function importKeyPem(pem: string): Promise<webcrypto.CryptoKey> {
  const x509 = await loadX509();
  const der = x509.PemConverter.decodeFirst(pem);
  return webcrypto.subtle.importKey('pkcs8', der, KEY_ALGORITHM, false, ['sign']);
}
