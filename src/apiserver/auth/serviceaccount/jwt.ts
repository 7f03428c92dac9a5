/**
 * JSON Web Tokens in compact JWS form (RFC 7515/7519), signed and verified with node:crypto: ES256 (ECDSA P-256 with
 * SHA-256, the signature as the raw r||s pair RFC 7518 §3.4 asks, Node's `ieee-p1363` encoding) or RS256. Only the
 * encoding is done here; every cryptographic operation is Node's.
 */
import { createHash, createPublicKey, sign, verify, type KeyObject } from 'node:crypto';

export type JwtAlgorithm = 'ES256' | 'RS256';

export interface JwtHeader {
  alg: string;
  kid?: string;
  typ?: string;
}

export type JwtClaims = Record<string, unknown>;

/** A token that is not a well-formed JWT at all (so no authenticator of JWTs issued it). */
export class MalformedJwtError extends Error {}

/** The JWS algorithm a signing key takes: ES256 for P-256 keys, RS256 for RSA keys. */
export function algorithmOf(key: KeyObject): JwtAlgorithm {
  if (key.asymmetricKeyType === 'ec' && key.asymmetricKeyDetails?.namedCurve === 'prime256v1') return 'ES256';
  if (key.asymmetricKeyType === 'rsa') return 'RS256';
  throw new Error(`jwt: keys of type ${key.asymmetricKeyType ?? 'unknown'} (${key.asymmetricKeyDetails?.namedCurve ?? ''}) are not supported; use ECDSA P-256 or RSA`);
}

/**
 * kube-apiserver's key id: the unpadded base64url SHA-256 of the public key's DER (PKIX) encoding
 * (pkg/serviceaccount/jwt.go keyIDFromPublicKey), so JWKS consumers can tell keys apart.
 */
export function keyIdOf(publicKey: KeyObject): string {
  return createHash('sha256').update(publicKey.export({ format: 'der', type: 'spki' })).digest('base64url');
}

/** The compact serialization of `claims` signed with `key`. */
export function signJwt(claims: JwtClaims, key: KeyObject, kid: string): string {
  const alg = algorithmOf(key);
  const header: JwtHeader = { alg, kid };
  const input = `${b64(JSON.stringify(header))}.${b64(JSON.stringify(claims))}`;
  const signature = sign('sha256', Buffer.from(input), alg === 'ES256' ? { key, dsaEncoding: 'ieee-p1363' } : key);
  return `${input}.${signature.toString('base64url')}`;
}

/** Header and claims of a compact JWT, signature not checked. Throws MalformedJwtError for anything else. */
export function decodeJwt(token: string): { header: JwtHeader; claims: JwtClaims; signingInput: string; signature: Buffer } {
  const parts = token.split('.');
  if (parts.length !== 3 || parts.some((p) => !/^[A-Za-z0-9_-]*$/.test(p)) || parts[0] === '' || parts[1] === '') {
    throw new MalformedJwtError('not a compact JWT');
  }
  const header = parseJson(parts[0]!) as unknown as JwtHeader;
  const claims = parseJson(parts[1]!);
  if (typeof header.alg !== 'string') throw new MalformedJwtError('the JWT header names no algorithm');
  return { header, claims, signingInput: `${parts[0]}.${parts[1]}`, signature: Buffer.from(parts[2]!, 'base64url') };
}

/**
 * True when the token's signature verifies with one of `keys` under the algorithm the key takes. The header's `alg` is
 * never trusted to pick the algorithm (no `none`, no HMAC with a public key): it must equal the key's.
 */
export function verifyJwtSignature(decoded: ReturnType<typeof decodeJwt>, keys: readonly KeyObject[]): boolean {
  for (const key of keys) {
    const alg = algorithmOf(key);
    if (decoded.header.alg !== alg) continue;
    const publicKey = key.type === 'private' ? createPublicKey(key) : key;
    const ok = verify('sha256', Buffer.from(decoded.signingInput), alg === 'ES256' ? { key: publicKey, dsaEncoding: 'ieee-p1363' } : publicKey, decoded.signature);
    if (ok) return true;
  }
  return false;
}

function b64(text: string): string {
  return Buffer.from(text).toString('base64url');
}

function parseJson(part: string): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(Buffer.from(part, 'base64url').toString('utf8'));
  } catch {
    throw new MalformedJwtError('a JWT part is not base64url JSON');
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw new MalformedJwtError('a JWT part is not a JSON object');
  return value as Record<string, unknown>;
}
