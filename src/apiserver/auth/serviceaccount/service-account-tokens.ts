/**
 * Everything service account tokens add to an API server, built once from the data dir:
 *   the signing key ─► TokenIssuer ─► serviceaccounts/token (TokenRequest), OIDC discovery documents
 *                  └► ServiceAccountTokenAuthenticator (a TokenAuthenticator for the Authenticator's chain)
 *                      └► tokenreviews (TokenReview), with the rest of the chain for tokens that are not ours
 * The authenticator reads ServiceAccounts, Pods, Secrets and Nodes once the API server serves (`attach`).
 */
import { createPublicKey } from 'node:crypto';
import { isNotFound } from '../../../api/status.js';
import type { ResourceOps } from '../../resource-ops.js';
import type { UserInfo } from '../user-info.js';
import type { ResourceDefinition } from '../../registry/types.js';
import { ensureServiceAccountKey } from './signing-key.js';
import { ServiceAccountTokenAuthenticator, type ServiceAccountObjects } from './token-authenticator.js';
import { TokenIssuer, type TokenIssuerOptions } from './token-issuer.js';
import { tokenRequestSubresource, tokenReviewResource, type TokenRequestOptions } from './token-request.js';

export interface ServiceAccountTokensOptions extends Omit<TokenIssuerOptions, 'key'>, TokenRequestOptions {
  dataDir: string;
}

/** A non-resource path served after authentication and authorization (`GET` only). */
export interface NonResourceDocument {
  contentType: string;
  body(): string;
}

export class ServiceAccountTokens {
  constructor(
    readonly issuer: TokenIssuer,
    readonly authenticator: ServiceAccountTokenAuthenticator,
    private readonly requestOptions: TokenRequestOptions,
  ) {}

  /**
   * `resources` with the token API added: serviceaccounts gains its `token` subresource, tokenreviews is appended.
   * `otherTokens` authenticates a token that is not a service account token (the rest of the chain) for TokenReview.
   */
  serve(resources: readonly ResourceDefinition[], otherTokens: (token: string) => Promise<UserInfo | undefined>): ResourceDefinition[] {
    const token = tokenRequestSubresource(this.issuer, this.requestOptions);
    const out = resources.map((def) =>
      def.group === '' && def.plural === 'serviceaccounts' ? { ...def, subresources: [...(def.subresources ?? []).filter((s) => s.name !== 'token'), token] } : def,
    );
    out.push(
      tokenReviewResource(async (tok, audiences) => {
        const mine = await this.authenticator.review(tok, audiences ?? this.issuer.apiAudiences);
        if (mine !== undefined) return 'error' in mine ? { error: mine.error } : mine;
        // Other credentials (the cluster token, node tokens) are good for the API's audiences only.
        if (audiences && !audiences.some((a) => this.issuer.apiAudiences.includes(a))) return { error: 'token audiences do not match the expected audiences' };
        try {
          const user = await otherTokens(tok);
          return user ? { user, audiences: [...(audiences ?? this.issuer.apiAudiences)] } : { error: 'invalid bearer token' };
        } catch {
          return { error: 'invalid bearer token' };
        }
      }),
    );
    return out;
  }

  /** `/.well-known/openid-configuration` and `/openid/v1/jwks` (ServiceAccountIssuerDiscovery). */
  documents(): Map<string, NonResourceDocument> {
    return new Map([
      ['/.well-known/openid-configuration', { contentType: 'application/json', body: () => JSON.stringify(this.issuer.openidConfiguration()) }],
      ['/openid/v1/jwks', { contentType: 'application/jwk-set+json', body: () => JSON.stringify(this.issuer.jwks()) }],
    ]);
  }

  /** Lets the authenticator check that bound objects still exist. */
  attach(objects: ServiceAccountObjects): void {
    this.authenticator.objects = objects;
  }
}

/** Loads (or creates) the signing key and builds the issuer and the authenticator. */
export async function openServiceAccountTokens(opts: ServiceAccountTokensOptions): Promise<ServiceAccountTokens> {
  const key = await ensureServiceAccountKey(opts.dataDir);
  const issuer = new TokenIssuer({ ...opts, key });
  const authenticator = new ServiceAccountTokenAuthenticator({
    keys: [createPublicKey(key)],
    issuers: [issuer.issuer],
    apiAudiences: issuer.apiAudiences,
    now: opts.now,
  });
  return new ServiceAccountTokens(issuer, authenticator, { extendExpiration: opts.extendExpiration, maxExpirationSeconds: opts.maxExpirationSeconds });
}

/**
 * The objects tokens are bound to, as the API server has them: the watch cache first, then a consistent read when the
 * cache does not have the object (yet), so a token issued for an object created a moment ago works at once.
 */
export function serviceAccountObjects(api: { ops: ResourceOps }, resources: readonly ResourceDefinition[]): ServiceAccountObjects {
  const defs = new Map(resources.filter((d) => d.group === '' && ['serviceaccounts', 'pods', 'secrets', 'nodes'].includes(d.plural)).map((d) => [d.plural, d]));
  return {
    async get(plural, namespace, name) {
      const def = defs.get(plural);
      if (!def) throw new Error(`the resource registry must serve ${plural}`);
      for (const rv of ['0', undefined]) {
        try {
          return (await api.ops.get(def, namespace, name, rv)).obj;
        } catch (err) {
          if (!isNotFound(err)) throw err;
        }
      }
      return undefined;
    },
  };
}
