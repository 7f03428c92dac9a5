/**
 * The API of service account tokens:
 * - `serviceaccounts/token` (TokenRequest, pkg/registry/core/serviceaccount/storage/token.go): POST a TokenRequest,
 *   get it back with status.token and status.expirationTimestamp. Audiences default to the API's; expirationSeconds
 *   to 3600 (at least 600, at most 2^32); boundObjectRef binds the token to a Pod, Secret or Node of the namespace.
 * - `tokenreviews` (authentication.k8s.io/v1, create only, never stored): who a token authenticates as.
 */
import { badRequest, conflict, fieldInvalid, invalid, isNotFound, type FieldError } from '../../../api/status.js';
import type { KubeObject } from '../../../api/object.js';
import { rfc3339 } from '../../../api/time.js';
import { defineResource } from '../../registry/define-resource.js';
import { fallbackPrinter } from '../../registry/table-columns.js';
import type { ResourceDefinition, SubresourceApi, SubresourceDefinition } from '../../registry/types.js';
import type { UserInfo } from '../user-info.js';
import {
  DEFAULT_TOKEN_EXPIRATION_SECONDS,
  EXTENDED_EXPIRATION_SECONDS,
  MAX_TOKEN_EXPIRATION_SECONDS,
  MIN_TOKEN_EXPIRATION_SECONDS,
  WARN_ONLY_EXPIRATION_SECONDS,
  type BoundTokenRequest,
  type ObjectRef,
  type TokenIssuer,
} from './token-issuer.js';

interface TokenRequestBody {
  metadata?: Record<string, unknown>;
  spec?: { audiences?: unknown; expirationSeconds?: unknown; boundObjectRef?: { kind?: unknown; apiVersion?: unknown; name?: unknown; uid?: unknown } | null };
}

export interface TokenRequestOptions {
  /** kube-apiserver --service-account-extend-token-expiration (default true). */
  extendExpiration?: boolean;
  /** kube-apiserver --service-account-max-token-expiration in seconds (0 or unset: no cap beyond validation). */
  maxExpirationSeconds?: number;
}

/** The `token` subresource of serviceaccounts. */
export function tokenRequestSubresource(issuer: TokenIssuer, opts: TokenRequestOptions = {}): SubresourceDefinition {
  return {
    name: 'token',
    kind: 'TokenRequest',
    group: 'authentication.k8s.io',
    version: 'v1',
    verbs: ['create'],
    action: (api, namespace, name, body, { dryRun, now }) => createToken(issuer, opts, api, namespace, name, body as TokenRequestBody, dryRun, now),
  };
}

async function createToken(issuer: TokenIssuer, opts: TokenRequestOptions, api: SubresourceApi, namespace: string, name: string, body: TokenRequestBody, dryRun: boolean, now: Date): Promise<KubeObject> {
  const spec = body.spec ?? {};
  const errors: FieldError[] = [];
  let expirationSeconds = DEFAULT_TOKEN_EXPIRATION_SECONDS;
  if (spec.expirationSeconds !== undefined && spec.expirationSeconds !== null) {
    if (typeof spec.expirationSeconds !== 'number' || !Number.isInteger(spec.expirationSeconds)) {
      errors.push(fieldInvalid('spec.expirationSeconds', spec.expirationSeconds, 'must be an integer'));
    } else {
      expirationSeconds = spec.expirationSeconds;
    }
  }
  // pkg/apis/authentication/validation ValidateTokenRequest, in upstream's words.
  if (expirationSeconds < MIN_TOKEN_EXPIRATION_SECONDS) errors.push(fieldInvalid('spec.expirationSeconds', expirationSeconds, 'may not specify a duration less than 10 minutes'));
  if (expirationSeconds > MAX_TOKEN_EXPIRATION_SECONDS) errors.push(fieldInvalid('spec.expirationSeconds', expirationSeconds, 'may not specify a duration larger than 2^32 seconds'));
  let audiences: string[] = [];
  if (spec.audiences !== undefined && spec.audiences !== null) {
    if (!Array.isArray(spec.audiences) || spec.audiences.some((a) => typeof a !== 'string')) errors.push(fieldInvalid('spec.audiences', spec.audiences, 'must be a list of strings'));
    else audiences = spec.audiences as string[];
  }
  if (errors.length > 0) throw invalid('TokenRequest', 'authentication.k8s.io', name, errors);
  if (audiences.length === 0) audiences = [...issuer.apiAudiences];
  if (opts.maxExpirationSeconds && expirationSeconds > opts.maxExpirationSeconds) expirationSeconds = opts.maxExpirationSeconds;

  const sa = await api.get(api.resource('', 'serviceaccounts'), namespace, name);
  const request: BoundTokenRequest = { namespace, serviceAccount: refOf(sa), audiences, expirationSeconds };
  const bound = spec.boundObjectRef;
  if (bound) {
    const kind = String(bound.kind ?? '');
    const apiVersion = String(bound.apiVersion ?? 'v1');
    const boundName = String(bound.name ?? '');
    let obj: KubeObject;
    if (apiVersion === 'v1' && kind === 'Pod') {
      obj = await api.get(api.resource('', 'pods'), namespace, boundName);
      const podSa = (obj.spec as { serviceAccountName?: string } | undefined)?.serviceAccountName ?? 'default';
      if (podSa !== name) throw badRequest(`cannot bind token for serviceaccount "${name}" to pod running with different serviceaccount name.`);
      request.pod = refOf(obj);
      const nodeName = (obj.spec as { nodeName?: string } | undefined)?.nodeName;
      if (nodeName) {
        // The node is recorded when it can be read (claims.go); a pod whose node is gone still gets its token.
        const node = await api.get(api.resource('', 'nodes'), '', nodeName).catch((err: unknown) => (isNotFound(err) ? undefined : Promise.reject(err)));
        if (node) request.node = refOf(node);
      }
    } else if (apiVersion === 'v1' && kind === 'Secret') {
      obj = await api.get(api.resource('', 'secrets'), namespace, boundName);
      request.secret = refOf(obj);
    } else if (apiVersion === 'v1' && kind === 'Node') {
      obj = await api.get(api.resource('', 'nodes'), '', boundName);
      request.node = refOf(obj);
    } else {
      const gvk = apiVersion.includes('/') ? `${apiVersion}, Kind=${kind}` : `/${apiVersion}, Kind=${kind}`;
      throw badRequest(`cannot bind token for serviceaccount "${name}" to object of type ${gvk}`);
    }
    const wantUid = bound.uid;
    if (typeof wantUid === 'string' && wantUid !== '' && wantUid !== obj.metadata.uid) {
      throw conflict({ resource: kind, name: boundName }, `the UID in the bound object reference (${wantUid}) does not match the UID in record. The object might have been deleted and then recreated`);
    }
  }

  const statusExpiry = new Date(now.getTime() + expirationSeconds * 1000);
  const out: KubeObject = {
    kind: 'TokenRequest',
    apiVersion: 'authentication.k8s.io/v1',
    metadata: { ...(body.metadata ?? {}), name: (body.metadata?.name as string | undefined) || name, namespace, creationTimestamp: null as unknown as string },
    spec: { ...spec, audiences, expirationSeconds, boundObjectRef: bound ?? null },
    status: { token: '', expirationTimestamp: rfc3339(statusExpiry) },
  };
  if (dryRun) return out;
  // A pod-bound token asked for with the kubelet's 3607 s lives a year and warns after 3607 s (token.go).
  if ((opts.extendExpiration ?? true) && request.pod && expirationSeconds === WARN_ONLY_EXPIRATION_SECONDS) {
    request.warnAfterSeconds = expirationSeconds;
    request.expirationSeconds = Math.max(EXTENDED_EXPIRATION_SECONDS, expirationSeconds);
  }
  const issued = issuer.issueBound(request);
  out.status = { token: issued.token, expirationTimestamp: rfc3339(statusExpiry) };
  return out;
}

function refOf(obj: KubeObject): ObjectRef {
  return { name: obj.metadata.name ?? '', uid: obj.metadata.uid ?? '' };
}

/** The outcome of authenticating a token for TokenReview: a user with the audiences it is good for, or an error. */
export type ReviewAuthenticator = (token: string, audiences: readonly string[] | undefined) => Promise<{ user?: UserInfo; audiences?: string[]; error?: string }>;

/** authentication.k8s.io/v1 TokenReview: computed on create, never stored (pkg/registry/authentication/tokenreview). */
export function tokenReviewResource(authenticate: ReviewAuthenticator): ResourceDefinition {
  const def = defineResource({
    group: 'authentication.k8s.io',
    version: 'v1',
    kind: 'TokenReview',
    plural: 'tokenreviews',
    singular: 'tokenreview',
    namespaced: false,
    verbs: ['create'],
    hasStatus: false,
    schemaName: 'io.k8s.api.authentication.v1.TokenReview',
    tracksGeneration: false,
    nameValidator: () => [],
    printer: fallbackPrinter,
  });
  def.virtual = async (obj) => {
    const spec = (obj.spec ?? {}) as { token?: unknown; audiences?: unknown };
    if (typeof spec.token !== 'string' || spec.token === '') throw badRequest('token is required for TokenReview in authentication');
    const audiences = Array.isArray(spec.audiences) && spec.audiences.length > 0 ? spec.audiences.filter((a): a is string => typeof a === 'string') : undefined;
    const result = await authenticate(spec.token, audiences);
    const status: Record<string, unknown> = { authenticated: result.user !== undefined, user: {} };
    if (result.user) {
      const u = result.user;
      status.user = { username: u.username, ...(u.uid ? { uid: u.uid } : {}), groups: u.groups, ...(u.extra ? { extra: u.extra } : {}) };
      if (result.audiences) status.audiences = result.audiences;
    }
    if (result.error) status.error = result.error;
    return { ...obj, metadata: { ...obj.metadata, creationTimestamp: null as unknown as string }, status };
  };
  return def;
}
