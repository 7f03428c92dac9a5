/**
 * The certificate the ingress serves for names no Ingress has a TLS Secret for: self-signed, made at start (Traefik's
 * is `CN=TRAEFIK DEFAULT CERT`; clients see skiff's the same way and know no Secret matched).
 *
 * Made with the openssl command when there is one: loading @peculiar/x509 into the agent costs ~20 MB of RSS (measured),
 * a third of the agent's idle budget; the library is the fallback.
 */
import { execFile } from 'node:child_process';
import { randomBytes, webcrypto } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

export const DEFAULT_CERTIFICATE_CN = 'SKIFF DEFAULT CERT';

export async function createDefaultCertificate(now = new Date()): Promise<{ cert: string; key: string }> {
  return (await withOpenssl().catch(() => undefined)) ?? withLibrary(now);
}

async function withOpenssl(): Promise<{ cert: string; key: string }> {
  const dir = await mkdtemp(join(tmpdir(), 'skiff-ingress-cert-'));
  try {
    const [key, cert] = [join(dir, 'tls.key'), join(dir, 'tls.crt')];
    await promisify(execFile)('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', key, '-out', cert, '-subj', `/CN=${DEFAULT_CERTIFICATE_CN}`, '-days', '365'], { timeout: 10_000 });
    return { cert: await readFile(cert, 'utf8'), key: await readFile(key, 'utf8') };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

async function withLibrary(now: Date): Promise<{ cert: string; key: string }> {
  // Loaded only here: most agents start without serving TLS for a while, and the library costs ~100 ms to load.
  await import('reflect-metadata');
  const x509 = await import('@peculiar/x509');
  // Its types name DOM globals this Node build does not declare; Node's webcrypto implements them.
  x509.cryptoProvider.set(webcrypto as never);
  const alg = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' } as const;
  const keys = await webcrypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, true, ['sign', 'verify']);
  const serial = randomBytes(16);
  serial[0] = serial[0]! & 0x7f;
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: serial.toString('hex'),
    name: `CN=${DEFAULT_CERTIFICATE_CN}`,
    notBefore: new Date(now.getTime() - 60 * 60_000),
    notAfter: new Date(now.getTime() + 365 * 24 * 60 * 60_000),
    signingAlgorithm: alg,
    keys: keys as never,
    extensions: [new x509.BasicConstraintsExtension(false, undefined, true), new x509.ExtendedKeyUsageExtension(['1.3.6.1.5.5.7.3.1'], false)],
  });
  const der = await webcrypto.subtle.exportKey('pkcs8', keys.privateKey);
  return { cert: cert.toString('pem') + '\n', key: x509.PemConverter.encode(der, 'PRIVATE KEY') + '\n' };
}
