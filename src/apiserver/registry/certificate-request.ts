/**
 * Synchronous checks of a PEM PKCS#10 certificate signing request and of PEM certificates, for CSR validation
 * (validation runs synchronously; @peculiar/x509 is loaded lazily and verifies asynchronously). Only the outer DER
 * structure is read: `CertificationRequest ::= SEQUENCE { info SEQUENCE, signatureAlgorithm SEQUENCE, signature
 * BIT STRING }`, the public key from the info, and the signature is checked with node:crypto, as Go's
 * `x509.ParseCertificateRequest` + `CheckSignature` do in upstream's validateCSR. Messages follow Go's.
 */
import { createPublicKey, verify, constants, X509Certificate, type KeyObject } from 'node:crypto';

interface Der {
  tag: number;
  /** Offsets into the buffer: the whole element, and its contents. */
  start: number;
  contentStart: number;
  end: number;
}

/** One DER element at `pos` (definite lengths only, as DER requires). */
function readDer(buf: Buffer, pos: number, limit = buf.length): Der {
  if (pos + 2 > limit) throw new Error('truncated');
  const tag = buf[pos]!;
  if ((tag & 0x1f) === 0x1f) throw new Error('high tag numbers are not used here');
  let len = buf[pos + 1]!;
  let p = pos + 2;
  if (len & 0x80) {
    const n = len & 0x7f;
    if (n === 0 || n > 4 || p + n > limit) throw new Error('bad length');
    len = 0;
    for (let i = 0; i < n; i++) len = len * 256 + buf[p + i]!;
    p += n;
  }
  if (p + len > limit) throw new Error('truncated');
  return { tag, start: pos, contentStart: p, end: p + len };
}

function children(buf: Buffer, el: Der): Der[] {
  const out: Der[] = [];
  for (let p = el.contentStart; p < el.end; ) {
    const c = readDer(buf, p, el.end);
    out.push(c);
    p = c.end;
  }
  return out;
}

function oidString(bytes: Buffer): string {
  const parts: number[] = [];
  let v = 0;
  for (const b of bytes) {
    v = v * 128 + (b & 0x7f);
    if (!(b & 0x80)) {
      if (parts.length === 0) parts.push(v < 80 ? Math.floor(v / 40) : 2, v < 80 ? v % 40 : v - 80);
      else parts.push(v);
      v = 0;
    }
  }
  return parts.join('.');
}

/** PEM blocks: type, headers present, and the DER bytes. */
export function pemBlocks(text: string): { type: string; hasHeaders: boolean; der: Buffer }[] {
  const blocks: { type: string; hasHeaders: boolean; der: Buffer }[] = [];
  const re = /-----BEGIN ([^-\r\n]+)-----\r?\n([\s\S]*?)-----END \1-----/g;
  for (let m = re.exec(text); m; m = re.exec(text)) {
    const body = m[2]!;
    const hasHeaders = /^[^\r\n:]+:/m.test(body);
    blocks.push({ type: m[1]!, hasHeaders, der: Buffer.from(body.replace(/[\s]/g, ''), 'base64') });
  }
  return blocks;
}

const SIGNATURE_HASHES: Record<string, string | null> = {
  '1.2.840.113549.1.1.5': 'sha1',
  '1.2.840.113549.1.1.11': 'sha256',
  '1.2.840.113549.1.1.12': 'sha384',
  '1.2.840.113549.1.1.13': 'sha512',
  '1.2.840.10045.4.3.2': 'sha256',
  '1.2.840.10045.4.3.3': 'sha384',
  '1.2.840.10045.4.3.4': 'sha512',
  '1.3.101.112': null, // Ed25519
};
const RSA_PSS = '1.2.840.113549.1.1.10';

/**
 * Parses the first PEM block of `pem` as a CSR and checks its self-signature. Returns undefined when valid, or the
 * reason it is not (upstream's field.Invalid detail for spec.request).
 */
export function checkCertificateRequestPem(pem: string): string | undefined {
  const block = pemBlocks(pem)[0];
  if (!block || block.type !== 'CERTIFICATE REQUEST') return 'PEM block type must be CERTIFICATE REQUEST';
  let info: Der;
  let sigAlg: string;
  let signature: Buffer;
  let key: KeyObject;
  try {
    const buf = block.der;
    const top = readDer(buf, 0);
    if (top.tag !== 0x30 || top.end !== buf.length) throw new Error('not a sequence');
    const [infoEl, algEl, sigEl] = children(buf, top);
    if (!infoEl || !algEl || !sigEl || infoEl.tag !== 0x30 || algEl.tag !== 0x30 || sigEl.tag !== 0x03) throw new Error('bad structure');
    info = infoEl;
    const [oidEl] = children(buf, algEl);
    if (!oidEl || oidEl.tag !== 0x06) throw new Error('bad algorithm');
    sigAlg = oidString(buf.subarray(oidEl.contentStart, oidEl.end));
    signature = buf.subarray(sigEl.contentStart + 1, sigEl.end);
    const [, , spki] = children(buf, infoEl);
    if (!spki || spki.tag !== 0x30) throw new Error('bad public key');
    key = createPublicKey({ key: buf.subarray(spki.start, spki.end), format: 'der', type: 'spki' });
    const data = buf.subarray(info.start, info.end);
    let ok: boolean;
    if (sigAlg === RSA_PSS) {
      ok = ['sha256', 'sha384', 'sha512'].some((h) => verify(h, data, { key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: constants.RSA_PSS_SALTLEN_AUTO }, signature));
    } else if (sigAlg in SIGNATURE_HASHES) {
      ok = verify(SIGNATURE_HASHES[sigAlg] ?? null, data, key, signature);
    } else {
      return `x509: cannot verify signature: algorithm unimplemented`;
    }
    if (!ok) return key.asymmetricKeyType === 'ec' ? 'x509: ECDSA verification failure' : key.asymmetricKeyType === 'ed25519' ? 'x509: Ed25519 verification failure' : 'crypto/rsa: verification error';
    return undefined;
  } catch (err) {
    return `x509: malformed certificate request${err instanceof Error && err.message ? ` (${err.message})` : ''}`;
  }
}

/** upstream's validateCertificate: empty is fine; otherwise only CERTIFICATE blocks, no headers, each one parses. */
export function checkCertificatePem(pem: string): string | undefined {
  if (pem.length === 0) return undefined;
  const blocks = pemBlocks(pem);
  for (const b of blocks) {
    if (b.type !== 'CERTIFICATE') return `only CERTIFICATE PEM blocks are allowed, found ${JSON.stringify(b.type)}`;
    if (b.hasHeaders) return 'no PEM block headers are permitted';
    try {
      new X509Certificate(b.der);
    } catch {
      return 'x509: malformed certificate';
    }
  }
  if (blocks.length === 0) return 'must contain at least one CERTIFICATE PEM block';
  return undefined;
}

const OID_ORGANIZATION = '2.5.4.10';

/**
 * The subject's organization (O) values of a PEM CSR, or undefined when it does not parse (validation reports that).
 * CertificateSubjectRestriction looks at them before the request is stored.
 */
export function certificateRequestOrganizations(pem: string): string[] | undefined {
  const block = pemBlocks(pem)[0];
  if (!block || block.type !== 'CERTIFICATE REQUEST') return undefined;
  try {
    const buf = block.der;
    const [info] = children(buf, readDer(buf, 0));
    const [, subject] = info ? children(buf, info) : [];
    if (!subject || subject.tag !== 0x30) return undefined;
    const orgs: string[] = [];
    for (const rdn of children(buf, subject)) {
      for (const atv of children(buf, rdn)) {
        const [oid, value] = children(buf, atv);
        if (oid && value && oid.tag === 0x06 && oidString(buf.subarray(oid.contentStart, oid.end)) === OID_ORGANIZATION) {
          orgs.push(buf.subarray(value.contentStart, value.end).toString(value.tag === 0x1e ? 'utf16le' : 'utf8'));
        }
      }
    }
    return orgs;
  } catch {
    return undefined;
  }
}
