/**
 * The certificate the ingress serves for names no Ingress has a TLS Secret for: self-signed, made in memory at start
 * (Traefik's is `CN=TRAEFIK DEFAULT CERT`; clients see skiff's the same way and know no Secret matched).
 */
import { randomBytes, webcrypto } from 'node:crypto';

export const DEFAULT_CERTIFICATE_CN = 'SKIFF DEFAULT CERT';

export async function createDefaultCertificate(now = new Date()): Promise<{ cert: string; key: string }> {
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
