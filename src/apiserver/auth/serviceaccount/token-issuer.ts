/**
 * Issues service account tokens in kube-apiserver's format (pkg/serviceaccount/claims.go, legacy.go) and publishes
 * the public half of the key (OIDC discovery).
 *
 * Bound token claims:
 *   iss, aud[], exp, iat, nbf, jti, sub = system:serviceaccount:<ns>:<name>,
 *   kubernetes.io: { namespace, serviceaccount {name, uid}, pod {name, uid} | secret {name, uid}, node {name, uid}, warnafter }
 * Legacy (Secret-held) token claims:
 *   iss = kubernetes/serviceaccount, kubernetes.io/serviceaccount/{namespace, secret.name, service-account.name,
 *   service-account.uid}, sub
 */
import { createPublicKey, randomUUID, type KeyObject } from 'node:crypto';
import { algorithmOf, keyIdOf, signJwt } from './jwt.js';

/** kube-apiserver's default issuer and API audience with k3s's settings (`--service-account-issuer`, `--api-audiences`). */
export const DEFAULT_ISSUER = 'https://kubernetes.default.svc.cluster.local';
export const DEFAULT_API_AUDIENCES: readonly string[] = [DEFAULT_ISSUER, 'k3s'];
/** The issuer of tokens kept in `kubernetes.io/service-account-token` Secrets. */
export const LEGACY_ISSUER = 'kubernetes/serviceaccount';

/** TokenRequest limits (pkg/apis/authentication/validation): at least 10 minutes, at most 2^32 seconds. */
export const MIN_TOKEN_EXPIRATION_SECONDS = 600;
export const MAX_TOKEN_EXPIRATION_SECONDS = 2 ** 32;
export const DEFAULT_TOKEN_EXPIRATION_SECONDS = 3600;
/**
 * The kubelet asks for 3607 s; kube-apiserver (--service-account-extend-token-expiration, default true) gives such a
 * pod-bound token a year and a `warnafter` claim at 3607 s, so workloads with old clients that never re-read the file
 * keep working while the audit trail marks them (pkg/serviceaccount/claims.go WarnOnlyBoundTokenExpirationSeconds).
 */
export const WARN_ONLY_EXPIRATION_SECONDS = 3607;
export const EXTENDED_EXPIRATION_SECONDS = 365 * 24 * 60 * 60;

export interface ObjectRef {
  name: string;
  uid: string;
}

export interface BoundTokenRequest {
  namespace: string;
  serviceAccount: ObjectRef;
  audiences: readonly string[];
  expirationSeconds: number;
  /** What the token is bound to: it stops working when that object is gone or replaced. */
  pod?: ObjectRef;
  secret?: ObjectRef;
  /** The node the bound pod runs on (claims.go adds it for pods on a node), or a Node bound directly. */
  node?: ObjectRef;
  /** Seconds after issue when a verifier warns that an extended token is being used (extended tokens only). */
  warnAfterSeconds?: number;
}

export interface IssuedToken {
  token: string;
  expirationTimestamp: Date;
}

export interface TokenIssuerOptions {
  /** The private signing key (ensureServiceAccountKey). */
  key: KeyObject;
  /** `iss` of bound tokens (kube-apiserver --service-account-issuer). */
  issuer?: string;
  /** The audiences the API server accepts, and that a TokenRequest without audiences gets (--api-audiences). */
  apiAudiences?: readonly string[];
  /** Where the JWKS is published; default `<issuer>/openid/v1/jwks` (--service-account-jwks-uri). */
  jwksUri?: string;
  now?: () => Date;
}

/** The claims a verifier reads; exported for the authenticator. */
export interface PrivateClaims {
  namespace?: string;
  serviceaccount?: ObjectRef;
  pod?: ObjectRef;
  secret?: ObjectRef;
  node?: ObjectRef;
  warnafter?: number;
}

export class TokenIssuer {
  readonly issuer: string;
  readonly apiAudiences: readonly string[];
  readonly keyId: string;
  readonly publicKey: KeyObject;
  readonly #key: KeyObject;
  readonly #jwksUri: string;
  readonly now: () => Date;

  constructor(opts: TokenIssuerOptions) {
    this.#key = opts.key;
    this.publicKey = createPublicKey(opts.key);
    this.keyId = keyIdOf(this.publicKey);
    this.issuer = opts.issuer ?? DEFAULT_ISSUER;
    this.apiAudiences = opts.apiAudiences ?? DEFAULT_API_AUDIENCES;
    if (this.apiAudiences.length === 0) throw new Error('TokenIssuer: at least one API audience is required');
    this.#jwksUri = opts.jwksUri ?? `${this.issuer.replace(/\/$/, '')}/openid/v1/jwks`;
    this.now = opts.now ?? (() => new Date());
  }

  /** A signed bound token (TokenRequest). */
  issueBound(req: BoundTokenRequest): IssuedToken {
    const now = Math.floor(this.now().getTime() / 1000);
    const exp = now + req.expirationSeconds;
    const priv: PrivateClaims = { namespace: req.namespace };
    if (req.node) priv.node = { name: req.node.name, uid: req.node.uid };
    if (req.pod) priv.pod = { name: req.pod.name, uid: req.pod.uid };
    if (req.secret) priv.secret = { name: req.secret.name, uid: req.secret.uid };
    priv.serviceaccount = { name: req.serviceAccount.name, uid: req.serviceAccount.uid };
    if (req.warnAfterSeconds !== undefined) priv.warnafter = now + req.warnAfterSeconds;
    const claims = {
      aud: [...req.audiences],
      exp,
      iat: now,
      iss: this.issuer,
      jti: randomUUID(),
      'kubernetes.io': priv,
      nbf: now,
      sub: serviceAccountUsername(req.namespace, req.serviceAccount.name),
    };
    return { token: signJwt(claims, this.#key, this.keyId), expirationTimestamp: new Date(exp * 1000) };
  }

  /** A token for a `kubernetes.io/service-account-token` Secret (no expiry; valid while the Secret and account are). */
  issueLegacy(namespace: string, serviceAccount: ObjectRef, secretName: string): string {
    const claims = {
      iss: LEGACY_ISSUER,
      'kubernetes.io/serviceaccount/namespace': namespace,
      'kubernetes.io/serviceaccount/secret.name': secretName,
      'kubernetes.io/serviceaccount/service-account.name': serviceAccount.name,
      'kubernetes.io/serviceaccount/service-account.uid': serviceAccount.uid,
      sub: serviceAccountUsername(namespace, serviceAccount.name),
    };
    return signJwt(claims, this.#key, this.keyId);
  }

  /** `/openid/v1/jwks`: the public key as a JWK Set (pkg/serviceaccount/openidmetadata.go). */
  jwks(): { keys: Record<string, unknown>[] } {
    const jwk = this.publicKey.export({ format: 'jwk' }) as Record<string, unknown>;
    return { keys: [{ use: 'sig', kty: jwk.kty, kid: this.keyId, alg: algorithmOf(this.#key), ...jwk }] };
  }

  /** `/.well-known/openid-configuration`, as kube-apiserver serves it. */
  openidConfiguration(): Record<string, unknown> {
    return {
      issuer: this.issuer,
      jwks_uri: this.#jwksUri,
      response_types_supported: ['id_token'],
      subject_types_supported: ['public'],
      id_token_signing_alg_values_supported: [algorithmOf(this.#key)],
    };
  }
}

/** `system:serviceaccount:<namespace>:<name>` (k8s.io/apiserver/pkg/authentication/serviceaccount). */
export function serviceAccountUsername(namespace: string, name: string): string {
  return `system:serviceaccount:${namespace}:${name}`;
}

/** The groups of a service account: all service accounts, and those of its namespace. */
export function serviceAccountGroups(namespace: string): string[] {
  return ['system:serviceaccounts', `system:serviceaccounts:${namespace}`];
}
