/**
 * kubelet's webhook authentication and authorization (`--authentication-token-webhook`, `--authorization-mode=Webhook`)
 * for clients that present a bearer token instead of a client certificate: a TokenReview says who it is, a
 * SubjectAccessReview on `nodes/<subresource>` of this node whether it may (pkg/kubelet/server/auth.go: `/metrics` and
 * `/metrics/cadvisor` are nodes/metrics, `/stats` nodes/stats, `/logs` nodes/log, the rest nodes/proxy). This is how
 * Prometheus scrapes kubelets with a ServiceAccount token. Answers are cached as kubelet caches them: authentication
 * 2 min, allowed 5 min, denied 30 s. The agent's node identity may create both reviews (the Node authorizer).
 */
import type { KubeObject } from '../../api/object.js';
import type { Client, ResourceType } from '../../client/types.js';
import type { CertificateIdentity } from './authenticate.js';

const TokenReviews: ResourceType = { group: 'authentication.k8s.io', version: 'v1', resource: 'tokenreviews', kind: 'TokenReview', namespaced: false };
const SubjectAccessReviews: ResourceType = { group: 'authorization.k8s.io', version: 'v1', resource: 'subjectaccessreviews', kind: 'SubjectAccessReview', namespaced: false };

const AUTHN_TTL_MS = 120_000;
const ALLOWED_TTL_MS = 300_000;
const DENIED_TTL_MS = 30_000;
/** Bounds each cache; past it the oldest answers are dropped (Map keeps insertion order). */
const MAX_ENTRIES = 1024;

export interface TokenIdentity extends CertificateIdentity {
  uid?: string;
  extra?: Record<string, string[]>;
}

export interface DelegatedAuthOptions {
  client: Client;
  nodeName: string;
  now?: () => number;
}

export class DelegatedAuth {
  private readonly tokens = new Map<string, { at: number; id: TokenIdentity | undefined }>();
  private readonly decisions = new Map<string, { at: number; allowed: boolean }>();
  private readonly now: () => number;

  constructor(private readonly o: DelegatedAuthOptions) {
    this.now = o.now ?? Date.now;
  }

  /** The token's user per a TokenReview; undefined when the API server does not authenticate it. */
  async authenticate(token: string): Promise<TokenIdentity | undefined> {
    const cached = this.tokens.get(token);
    if (cached && this.now() - cached.at < AUTHN_TTL_MS) return cached.id;
    const review = (await this.o.client.create(TokenReviews, '', { apiVersion: 'authentication.k8s.io/v1', kind: 'TokenReview', metadata: {}, spec: { token } } as unknown as KubeObject)) as unknown as {
      status?: { authenticated?: boolean; user?: { username?: string; uid?: string; groups?: string[]; extra?: Record<string, string[]> } };
    };
    const user = review.status?.authenticated ? review.status.user : undefined;
    const id = user?.username ? { username: user.username, groups: user.groups ?? [], ...(user.uid ? { uid: user.uid } : {}), ...(user.extra ? { extra: user.extra } : {}) } : undefined;
    remember(this.tokens, token, { at: this.now(), id });
    return id;
  }

  /** Whether `id` may `verb` nodes/`subresource` of this node, per a SubjectAccessReview. */
  async authorize(id: TokenIdentity, verb: string, subresource: string): Promise<boolean> {
    const key = JSON.stringify([id.username, id.uid ?? '', id.groups, verb, subresource]);
    const cached = this.decisions.get(key);
    if (cached && this.now() - cached.at < (cached.allowed ? ALLOWED_TTL_MS : DENIED_TTL_MS)) return cached.allowed;
    const review = (await this.o.client.create(SubjectAccessReviews, '', {
      apiVersion: 'authorization.k8s.io/v1',
      kind: 'SubjectAccessReview',
      metadata: {},
      spec: {
        user: id.username,
        groups: id.groups,
        ...(id.uid ? { uid: id.uid } : {}),
        ...(id.extra ? { extra: id.extra } : {}),
        resourceAttributes: { verb, group: '', version: 'v1', resource: 'nodes', subresource, name: this.o.nodeName },
      },
    } as unknown as KubeObject)) as unknown as { status?: { allowed?: boolean } };
    const allowed = review.status?.allowed === true;
    remember(this.decisions, key, { at: this.now(), allowed });
    return allowed;
  }
}

function remember<V>(cache: Map<string, V>, key: string, value: V): void {
  cache.delete(key);
  cache.set(key, value);
  if (cache.size > MAX_ENTRIES) cache.delete(cache.keys().next().value!);
}

/** The bearer token of an `Authorization: Bearer <token>` header, if any. */
export function bearerToken(authorization: string | undefined): string | undefined {
  const m = /^Bearer\s+(\S+)\s*$/i.exec(authorization ?? '');
  return m?.[1];
}
