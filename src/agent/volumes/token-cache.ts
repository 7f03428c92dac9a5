/**
 * Service account tokens for projected volumes, as kubelet's token manager keeps them (pkg/kubelet/token): one
 * TokenRequest per (pod, account, audience, lifetime), bound to the pod, reused until 80 % of its lifetime has passed
 * (or 24 h, whichever is first), then requested again; the pod worker's periodic sync rewrites the file atomically.
 */
import type { Clock } from '../../client/types.js';

export interface ServiceAccountTokenRequest {
  namespace: string;
  serviceAccountName: string;
  /** undefined: the API server's own audiences. */
  audience?: string;
  expirationSeconds: number;
  podName: string;
  podUid: string;
}

export interface IssuedServiceAccountToken {
  token: string;
  /** status.expirationTimestamp of the TokenRequest. */
  expirationTimestamp: Date;
}

/** kubelet's maxTTL: a token is renewed at least daily, whatever its lifetime. */
const MAX_TTL_MS = 24 * 60 * 60 * 1000;

/** True once 80 % of the token's lifetime (counted back from its expiry) or 24 h has passed (requiresRefresh). */
export function requiresRefresh(issued: IssuedServiceAccountToken, expirationSeconds: number, now: Date): boolean {
  const exp = issued.expirationTimestamp.getTime();
  const ttl = expirationSeconds * 1000;
  const iat = exp - ttl;
  if (now.getTime() > iat + MAX_TTL_MS) return true;
  return now.getTime() >= iat + ttl * 0.8;
}

export class ServiceAccountTokenCache {
  private readonly tokens = new Map<string, IssuedServiceAccountToken>();

  constructor(
    private readonly request: (req: ServiceAccountTokenRequest) => Promise<IssuedServiceAccountToken>,
    private readonly clock: Clock,
  ) {}

  /** A valid token for `req`: the cached one while it is fresh, else a new one. */
  async get(req: ServiceAccountTokenRequest): Promise<string> {
    const key = [req.podUid, req.namespace, req.serviceAccountName, req.audience ?? '', req.expirationSeconds].join('\u0000');
    const cached = this.tokens.get(key);
    if (cached && !requiresRefresh(cached, req.expirationSeconds, this.clock.now())) return cached.token;
    const fresh = await this.request(req);
    this.tokens.set(key, fresh);
    return fresh.token;
  }

  /** Forgets the tokens of a pod (its volumes are gone). */
  forgetPod(podUid: string): void {
    for (const key of this.tokens.keys()) if (key.startsWith(`${podUid}\u0000`)) this.tokens.delete(key);
  }
}
