/**
 * The front proxy's credentials (kube-apiserver's --requestheader-client-ca-file and --proxy-client-cert-file): a CA
 * of its own and the client certificate the aggregator presents to extension API servers, which trust the
 * X-Remote-User/-Group headers of a client holding it. Made in `<data-dir>/server/tls` on first start (k3s's
 * request-header-ca and client-auth-proxy files) and reused afterwards.
 */
import { randomBytes, webcrypto, X509Certificate } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { loadX509 } from '../auth/pki.js';

export interface FrontProxyPki {
  caCertPem: string;
  clientCertPem: string;
  clientKeyPem: string;
  /** The client certificate's CN, which extension servers list in requestheader-allowed-names. */
  clientName: string;
}

export const FRONT_PROXY_CLIENT_NAME = 'system:auth-proxy';
const DAY_MS = 86_400_000;
const KEY_ALGORITHM = { name: 'ECDSA', namedCurve: 'P-256' } as const;
const SIGNING_ALGORITHM = { name: 'ECDSA', hash: 'SHA-256' } as const;

async function read(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

async function keyPem(key: webcrypto.CryptoKey): Promise<string> {
  const der = Buffer.from(await webcrypto.subtle.exportKey('pkcs8', key));
  return `-----BEGIN PRIVATE KEY-----\n${der.toString('base64').replace(/(.{64})/g, '$1\n').replace(/\n$/, '')}\n-----END PRIVATE KEY-----\n`;
}

async function importKey(pem: string): Promise<webcrypto.CryptoKey> {
  const der = Buffer.from(pem.replace(/-----[^-]+-----/g, '').replace(/\s+/g, ''), 'base64');
  return webcrypto.subtle.importKey('pkcs8', der, KEY_ALGORITHM, true, ['sign']);
}

const serial = () => randomBytes(16).toString('hex').replace(/^[89a-f]/, '1');

/** Loads or creates the front-proxy CA and client certificate under `<dataDir>/server/tls`. */
export async function ensureFrontProxyPki(dataDir: string, now = new Date()): Promise<FrontProxyPki> {
  const dir = join(dataDir, 'server', 'tls');
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const files = { caCert: join(dir, 'request-header-ca.crt'), caKey: join(dir, 'request-header-ca.key'), cert: join(dir, 'client-auth-proxy.crt'), key: join(dir, 'client-auth-proxy.key') };
  const x509 = await loadX509();
  let caCertPem = await read(files.caCert);
  let caKeyPem = await read(files.caKey);
  if (!caCertPem || !caKeyPem) {
    const keys = await webcrypto.subtle.generateKey(KEY_ALGORITHM, true, ['sign', 'verify']);
    const cert = await x509.X509CertificateGenerator.createSelfSigned({
      serialNumber: serial(),
      name: `CN=skiff-request-header-ca@${Math.floor(now.getTime() / 1000)}`,
      notBefore: new Date(now.getTime() - 60_000),
      notAfter: new Date(now.getTime() + 3650 * DAY_MS),
      signingAlgorithm: SIGNING_ALGORITHM,
      keys: keys as never,
      extensions: [new x509.BasicConstraintsExtension(true, undefined, true), new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.digitalSignature, true)],
    });
    caCertPem = `${cert.toString('pem')}\n`;
    caKeyPem = await keyPem(keys.privateKey);
    await writeFile(files.caKey, caKeyPem, { mode: 0o600 });
    await writeFile(files.caCert, caCertPem, { mode: 0o644 });
  }
  let clientCertPem = await read(files.cert);
  let clientKeyPem = await read(files.key);
  const ca = new X509Certificate(caCertPem);
  const stale = !clientCertPem || !clientKeyPem || !new X509Certificate(clientCertPem).checkIssued(ca) || new Date(new X509Certificate(clientCertPem).validTo).getTime() - now.getTime() < 90 * DAY_MS;
  if (stale) {
    const keys = await webcrypto.subtle.generateKey(KEY_ALGORITHM, true, ['sign', 'verify']);
    const caCert = new x509.X509Certificate(caCertPem);
    const cert = await x509.X509CertificateGenerator.create({
      serialNumber: serial(),
      subject: `CN=${FRONT_PROXY_CLIENT_NAME}`,
      issuer: caCert.subjectName,
      notBefore: new Date(now.getTime() - 60_000),
      notAfter: new Date(now.getTime() + 365 * DAY_MS),
      signingAlgorithm: SIGNING_ALGORITHM,
      publicKey: keys.publicKey as never,
      signingKey: (await importKey(caKeyPem)) as never,
      extensions: [new x509.BasicConstraintsExtension(false, undefined, true), new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true), new x509.ExtendedKeyUsageExtension(['1.3.6.1.5.5.7.3.2'], false)],
    });
    clientCertPem = `${cert.toString('pem')}\n`;
    clientKeyPem = await keyPem(keys.privateKey);
    await writeFile(files.key, clientKeyPem, { mode: 0o600 });
    await writeFile(files.cert, clientCertPem, { mode: 0o644 });
  }
  return { caCertPem, clientCertPem: clientCertPem!, clientKeyPem: clientKeyPem!, clientName: FRONT_PROXY_CLIENT_NAME };
}
