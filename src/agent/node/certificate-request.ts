/**
 * The certificate signing request a joining node sends (PKCS#10, RFC 2986): subject CN=<node name>, an EC P-256 public
 * key, no attributes, signed ecdsa-with-SHA256. The server takes only the public key from it (once the signature
 * checks out) and sets subject and SANs itself, so this one shape is all the agent needs.
 *
 * Written with node:crypto and a few lines of DER instead of @peculiar/x509: that library (with its ASN.1 schema
 * packages and the reflect-metadata polyfill) stays in a process once loaded, ~10 MB of the agent's RSS for two
 * requests made on the first join only.
 */
import { generateKeyPair, sign, type KeyObject } from 'node:crypto';
import { promisify } from 'node:util';

const OID_COMMON_NAME = '2.5.4.3';
const OID_ECDSA_WITH_SHA256 = '1.2.840.10045.4.3.2';

/** A new P-256 key: the node's private key as PKCS#8 PEM, and the CSR for it as PEM. */
export async function newKeyAndCertificateRequest(commonName: string): Promise<{ keyPem: string; csrPem: string }> {
  const { privateKey, publicKey } = await promisify(generateKeyPair)('ec', { namedCurve: 'P-256' });
  return { keyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }) as string, csrPem: certificateRequestPem(commonName, privateKey, publicKey) };
}

/** The CSR (PEM `CERTIFICATE REQUEST`) for an EC key pair, subject CN=commonName. */
export function certificateRequestPem(commonName: string, privateKey: KeyObject, publicKey: KeyObject): string {
  const subject = tlv(0x30, tlv(0x31, tlv(0x30, objectIdentifier(OID_COMMON_NAME), tlv(0x0c, Buffer.from(commonName, 'utf8')))));
  const info = tlv(
    0x30,
    tlv(0x02, Buffer.from([0])), // version 0 (v1)
    subject,
    publicKey.export({ type: 'spki', format: 'der' }),
    tlv(0xa0), // attributes [0]: none
  );
  // node:crypto signs EC keys with the DER ECDSA-Sig-Value, the encoding X.509 signatures use.
  const signature = sign('sha256', info, privateKey);
  const request = tlv(0x30, info, tlv(0x30, objectIdentifier(OID_ECDSA_WITH_SHA256)), tlv(0x03, Buffer.from([0]), signature));
  const lines = request.toString('base64').match(/.{1,64}/g) ?? [];
  return `-----BEGIN CERTIFICATE REQUEST-----\n${lines.join('\n')}\n-----END CERTIFICATE REQUEST-----\n`;
}

/** A DER tag-length-value with a definite length. */
function tlv(tag: number, ...content: Buffer[]): Buffer {
  const body = Buffer.concat(content);
  return Buffer.concat([Buffer.from([tag]), derLength(body.length), body]);
}

function derLength(n: number): Buffer {
  if (n < 0x80) return Buffer.from([n]);
  const bytes: number[] = [];
  for (let v = n; v > 0; v = Math.floor(v / 256)) bytes.unshift(v & 0xff);
  return Buffer.from([0x80 | bytes.length, ...bytes]);
}

function objectIdentifier(dotted: string): Buffer {
  const [first = 0, second = 0, ...rest] = dotted.split('.').map(Number);
  const bytes = [first * 40 + second];
  for (const arc of rest) {
    const chunk = [arc & 0x7f];
    for (let v = Math.floor(arc / 128); v > 0; v = Math.floor(v / 128)) chunk.unshift(0x80 | (v & 0x7f));
    bytes.push(...chunk);
  }
  return tlv(0x06, Buffer.from(bytes));
}
