/**
 * Service account tokens as bearer credentials (kube-apiserver's pkg/serviceaccount/jwt.go and claims.go validators):
 *
 *   not a JWT, or an issuer that is not ours ─► undefined (another authenticator may know it)
 *   ours ─► signature (kid-independent: every key we trust) ─► bound: exp / nbf, audiences ∩ API audiences
 *                                                                   legacy: the Secret still holds this very token
 *        ─► the ServiceAccount (and the bound pod / secret / node) still exist with the same uid
 *        ─► system:serviceaccount:<ns>:<name>, groups system:serviceaccounts(:<ns>), system:authenticated
 *   anything failing after "ours" is a 401: a token we issued that is no longer valid is not passed on.
 *
 * Objects are read through `ServiceAccountObjects` (the watch cache, falling back to a fresh read when the cache does
 * not have the object yet), so a token stops working as soon as its pod is deleted.
 */
import type { KeyObject } from 'node:crypto';
import { timingSafeEqual } from 'node:crypto';
import type { KubeObject } from '../../../api/object.js';
import { unauthorized } from '../../../api/status.js';
import type { TokenAuthenticator } from '../authenticator.js';
import { GROUP_AUTHENTICATED, type UserInfo } from '../user-info.js';
import { decodeJwt, MalformedJwtError, verifyJwtSignature, type JwtClaims } from './jwt.js';
import { LEGACY_ISSUER, serviceAccountGroups, serviceAccountUsername, type ObjectRef, type PrivateClaims } from './token-issuer.js';
import { createLogger } from '../../../log/logger.js';

const log = createLogger('serviceaccount-token');

/** Current objects by core resource; undefined when the object does not exist. */
export interface ServiceAccountObjects {
  get(plural: 'serviceaccounts' | 'pods' | 'secrets' | 'nodes', namespace: string, name: string): Promise<KubeObject | undefined>;
}

export interface ServiceAccountTokenAuthenticatorOptions {
  /** Public (or private) keys whose signatures are trusted; the first is the current signing key. */
  keys: KeyObject[];
  /** Issuers of bound tokens accepted (kube-apiserver accepts several --service-account-issuer values). */
  issuers: readonly string[];
  /** Audiences the API accepts (--api-audiences). */
  apiAudiences: readonly string[];
  /** Whether tokens of `kubernetes.io/service-account-token` Secrets are accepted (upstream default: yes). */
  acceptLegacy?: boolean;
  /** Set once the API server serves: until then bound tokens cannot be checked and are refused. */
  objects?: ServiceAccountObjects;
  now?: () => Date;
}

/** The outcome of a review: a user, or why the token is refused. */
export type TokenReviewOutcome = { user: UserInfo; audiences: string[] } | { error: string } | undefined;

/** Signature checks remembered: about 4 MiB of tokens; a client re-presents its token on every request. */
const VERIFIED_CACHE_SIZE = 4096;

/** A pod deleted longer ago than this no longer vouches for its tokens (claims.go: 60 s grace after deletion). */
const DELETED_POD_GRACE_SECONDS = 60;

export class ServiceAccountTokenAuthenticator implements TokenAuthenticator {
  objects: ServiceAccountObjects | undefined;
  readonly #opts: ServiceAccountTokenAuthenticatorOptions;
  readonly #now: () => Date;
  /** Tokens whose signature verified, oldest first (a bounded set: the oldest goes when it is full). */
  readonly #verified = new Set<string>();

  constructor(opts: ServiceAccountTokenAuthenticatorOptions) {
    this.#opts = opts;
    this.objects = opts.objects;
    this.#now = opts.now ?? (() => new Date());
  }

  async authenticateToken(token: string): Promise<UserInfo | undefined> {
    const outcome = await this.review(token);
    if (outcome === undefined) return undefined;
    if ('error' in outcome) {
      log.debug('service account token refused', { reason: outcome.error });
      throw unauthorized();
    }
    return outcome.user;
  }

  /**
   * The user a token authenticates as for one of `audiences` (default: the API's), the reason it does not, or
   * undefined when the token is not one of ours. TokenReview answers from this.
   */
  async review(token: string, audiences: readonly string[] = this.#opts.apiAudiences): Promise<TokenReviewOutcome> {
    let decoded;
    try {
      decoded = decodeJwt(token);
    } catch (err) {
      if (err instanceof MalformedJwtError) return undefined;
      throw err;
    }
    const claims = decoded.claims;
    const iss = claims.iss;
    const legacy = iss === LEGACY_ISSUER && this.#opts.acceptLegacy !== false;
    if (!legacy && !(typeof iss === 'string' && this.#opts.issuers.includes(iss))) return undefined;
    if (!this.#verified.has(token)) {
      if (!verifyJwtSignature(decoded, this.#opts.keys)) return { error: 'invalid signature' };
      // Only the signature check is remembered (it is ~90 % of the cost): expiry, audiences and the bound objects are
      // checked on every request, so a deleted pod's token fails at once (upstream's 10 s result cache would not).
      if (this.#verified.size >= VERIFIED_CACHE_SIZE) this.#verified.delete(this.#verified.keys().next().value!);
      this.#verified.add(token);
    }
    try {
      return legacy ? await this.#legacy(token, claims, audiences) : await this.#bound(claims, audiences);
    } catch (err) {
      if (err instanceof TokenInvalid) return { error: err.message };
      throw err;
    }
  }

  async #bound(claims: JwtClaims, audiences: readonly string[]): Promise<TokenReviewOutcome> {
    const now = Math.floor(this.#now().getTime() / 1000);
    const exp = claims.exp;
    if (typeof exp !== 'number') throw new TokenInvalid('token has no expiry');
    if (now >= exp) throw new TokenInvalid('token has expired');
    const nbf = claims.nbf;
    if (typeof nbf === 'number' && now < nbf) throw new TokenInvalid('token used before issued');
    const tokenAudiences = typeof claims.aud === 'string' ? [claims.aud] : Array.isArray(claims.aud) ? claims.aud.filter((a): a is string => typeof a === 'string') : [];
    const matched = tokenAudiences.filter((a) => audiences.includes(a));
    if (matched.length === 0) throw new TokenInvalid('token audiences do not match the expected audiences');
    const priv = claims['kubernetes.io'] as PrivateClaims | undefined;
    const namespace = priv?.namespace;
    const sa = priv?.serviceaccount;
    if (!priv || typeof namespace !== 'string' || !isRef(sa)) throw new TokenInvalid('token lacks the kubernetes.io service account claims');
    if (claims.sub !== serviceAccountUsername(namespace, sa.name)) throw new TokenInvalid('token subject does not match its service account');
    const objects = this.#objects();
    await expectObject(objects, 'serviceaccounts', namespace, sa, 'service account');
    const extra: Record<string, string[]> = {};
    if (isRef(priv.pod)) {
      const pod = await expectObject(objects, 'pods', namespace, priv.pod, 'pod');
      const deleted = pod.metadata.deletionTimestamp;
      if (deleted && Date.parse(deleted) / 1000 < now - DELETED_POD_GRACE_SECONDS) throw new TokenInvalid('token has been invalidated: its pod was deleted');
      extra['authentication.kubernetes.io/pod-name'] = [priv.pod.name];
      extra['authentication.kubernetes.io/pod-uid'] = [priv.pod.uid];
    }
    if (isRef(priv.secret)) {
      const secret = await expectObject(objects, 'secrets', namespace, priv.secret, 'secret');
      if (secret.metadata.deletionTimestamp) throw new TokenInvalid('token has been invalidated: its secret was deleted');
    }
    if (isRef(priv.node)) {
      // A node that went away only matters when the token was bound to the node itself (claims.go checks nodes only then).
      if (!isRef(priv.pod)) await expectObject(objects, 'nodes', '', priv.node, 'node');
      extra['authentication.kubernetes.io/node-name'] = [priv.node.name];
      extra['authentication.kubernetes.io/node-uid'] = [priv.node.uid];
    }
    if (typeof claims.jti === 'string') extra['authentication.kubernetes.io/credential-id'] = [`JTI=${claims.jti}`];
    return { user: userFor(namespace, sa, extra), audiences: matched };
  }

  async #legacy(token: string, claims: JwtClaims, audiences: readonly string[]): Promise<TokenReviewOutcome> {
    const namespace = claims['kubernetes.io/serviceaccount/namespace'];
    const secretName = claims['kubernetes.io/serviceaccount/secret.name'];
    const saName = claims['kubernetes.io/serviceaccount/service-account.name'];
    const saUid = claims['kubernetes.io/serviceaccount/service-account.uid'];
    if (typeof namespace !== 'string' || typeof secretName !== 'string' || typeof saName !== 'string' || typeof saUid !== 'string') {
      throw new TokenInvalid('token lacks the legacy service account claims');
    }
    if (claims.sub !== serviceAccountUsername(namespace, saName)) throw new TokenInvalid('token subject does not match its service account');
    const objects = this.#objects();
    const secret = await objects.get('secrets', namespace, secretName);
    if (!secret || secret.metadata.deletionTimestamp) throw new TokenInvalid(`secret ${namespace}/${secretName} not found or being deleted`);
    const held = (secret as { data?: Record<string, string> }).data?.token;
    if (held === undefined || !sameBytes(Buffer.from(held, 'base64'), Buffer.from(token))) throw new TokenInvalid('token does not match the one in its secret');
    await expectObject(objects, 'serviceaccounts', namespace, { name: saName, uid: saUid }, 'service account');
    // Legacy tokens carry no audience: they are good for the API's own audiences (legacy.go uses the API's implicitly).
    return { user: userFor(namespace, { name: saName, uid: saUid }, {}), audiences: [...audiences] };
  }

  #objects(): ServiceAccountObjects {
    if (!this.objects) throw new TokenInvalid('service account tokens cannot be checked before the API server serves');
    return this.objects;
  }
}

class TokenInvalid extends Error {}

function isRef(v: unknown): v is ObjectRef {
  return typeof v === 'object' && v !== null && typeof (v as ObjectRef).name === 'string' && typeof (v as ObjectRef).uid === 'string';
}

async function expectObject(objects: ServiceAccountObjects, plural: 'serviceaccounts' | 'pods' | 'secrets' | 'nodes', namespace: string, ref: ObjectRef, what: string): Promise<KubeObject> {
  const obj = await objects.get(plural, namespace, ref.name);
  if (!obj) throw new TokenInvalid(`${what} ${namespace ? `${namespace}/` : ''}${ref.name} has been deleted`);
  if (obj.metadata.uid !== ref.uid) throw new TokenInvalid(`${what} UID (${obj.metadata.uid ?? ''}) does not match claim (${ref.uid})`);
  return obj;
}

function userFor(namespace: string, sa: ObjectRef, extra: Record<string, string[]>): UserInfo {
  return {
    username: serviceAccountUsername(namespace, sa.name),
    uid: sa.uid,
    groups: [...serviceAccountGroups(namespace), GROUP_AUTHENTICATED],
    ...(Object.keys(extra).length > 0 ? { extra } : {}),
  };
}

function sameBytes(a: Buffer, b: Buffer): boolean {
  return a.length === b.length && timingSafeEqual(a, b);
}
