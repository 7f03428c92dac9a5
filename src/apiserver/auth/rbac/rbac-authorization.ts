/**
 * RBAC as one piece the API server plugs in: the index over the watch cache, the authorizer, the bootstrap policy
 * reconciled at start, ClusterRole aggregation, escalation prevention, impersonation and the access reviews.
 *
 *   startApiServer ──► new RbacAuthorization()                       (before the server listens)
 *                      .chain()        system:masters ─► RBAC       (the mode after Node in the handler's chain)
 *                      .decideWith(chain)                           (what escalation, impersonation, reviews ask)
 *                      .escalationCheck()                           (a validating admission plugin)
 *                      .withAccessReviews(resources), .actingUser(headers, user)
 *   cache loaded ────► .start(cache, ops, defs): index fed by the cache, policy reconciled, roles aggregated;
 *                      decisions asked before then wait for it.
 */
import type { KubeObject } from '../../../api/object.js';
import { createLogger } from '../../../log/logger.js';
import type { ValidatingAdmission } from '../../admission/types.js';
import type { ResourceDefinition } from '../../registry/types.js';
import type { ResourceOps } from '../../resource-ops.js';
import type { WatchCache } from '../../watch-cache.js';
import type { AuthorizationAttributes, Authorizer, Decision } from '../authorizer.js';
import type { UserInfo } from '../user-info.js';
import { computeAccessReview } from './access-reviews.js';
import { privilegedGroupsAuthorizer, unionAuthorizer } from './authorizer-chain.js';
import { bootstrapClusterRoleBindings, bootstrapClusterRoles, bootstrapRoleBindings, bootstrapRoles } from './bootstrap-policy.js';
import { ClusterRoleAggregator } from './cluster-role-aggregator.js';
import { rbacEscalationCheck } from './escalation-check.js';
import { hasImpersonationHeaders, impersonatedUser } from './impersonation.js';
import { RbacAuthorizer } from './rbac-authorizer.js';
import { RbacIndex } from './rbac-index.js';
import { reconcileBootstrapPolicy, type PolicyDefinitions } from './reconcile-policy.js';
import { feedIndexFromWatchCache, type IndexFeed } from './watch-cache-feed.js';

const log = createLogger('rbac');

export class RbacAuthorization {
  readonly index = new RbacIndex();
  readonly rbac = new RbacAuthorizer(this.index);
  private feed: IndexFeed | undefined;
  private aggregator: ClusterRoleAggregator | undefined;
  private isReady = false;
  private readonly ready: Promise<void>;
  private markReady!: () => void;
  /** The whole chain, set by chain(); escalation checks, impersonation and reviews ask it. */
  private full: Authorizer = this.rbac;

  constructor() {
    this.ready = new Promise((resolve) => (this.markReady = resolve));
  }

  /**
   * RBAC as an authorization mode: system:masters first (kube-apiserver's privileged group), then RBAC. Until start()
   * has loaded the policy, decisions about anyone else wait for it.
   */
  chain(): Authorizer {
    const union = unionAuthorizer([privilegedGroupsAuthorizer, this.rbac]);
    this.full = union;
    return {
      authorize: (attrs: AuthorizationAttributes): Decision | Promise<Decision> => {
        if (this.isReady || attrs.user.groups.includes('system:masters')) return union.authorize(attrs);
        return this.ready.then(() => union.authorize(attrs));
      },
    };
  }

  /** The server's whole chain (e.g. Node, then this), which escalation checks, impersonation and reviews ask. */
  decideWith(authorizer: Authorizer): Authorizer {
    this.full = authorizer;
    return authorizer;
  }

  /** Decides with the whole chain (waiting for the policy when needed). */
  authorize(attrs: AuthorizationAttributes): Decision | Promise<Decision> {
    if (this.isReady) return this.full.authorize(attrs);
    return this.ready.then(() => this.full.authorize(attrs));
  }

  /** The served resources with the authorization reviews answered by this server's authorizer. */
  withAccessReviews(resources: ResourceDefinition[]): ResourceDefinition[] {
    return resources.map((d) =>
      d.group === 'authorization.k8s.io' && d.virtual ? { ...d, virtual: (obj: KubeObject, user: UserInfo, namespace: string) => this.review(d.kind, obj, user, namespace) } : d,
    );
  }

  /** The user a request acts as: itself, or whom its Impersonate-* headers name once that is authorized. */
  actingUser(headers: Parameters<typeof impersonatedUser>[0], requester: UserInfo): UserInfo | Promise<UserInfo> {
    return hasImpersonationHeaders(headers) ? impersonatedUser(headers, requester, (a) => this.authorize(a)) : requester;
  }

  escalationCheck(): ValidatingAdmission {
    return rbacEscalationCheck({ rbac: this.rbac, authorize: (a) => this.authorize(a) });
  }

  review(kind: string, obj: KubeObject, requester: UserInfo, namespace: string): Promise<KubeObject> {
    return computeAccessReview({ authorize: (a) => this.authorize(a), rbac: this.rbac }, kind, obj, requester, namespace);
  }

  /** Feeds the index from the (loaded) watch cache, reconciles the bootstrap policy and aggregates roles. */
  async start(cache: WatchCache, ops: ResourceOps, defs: PolicyDefinitions): Promise<void> {
    const started = performance.now();
    this.feed = feedIndexFromWatchCache(cache, this.index);
    const changed = await reconcileBootstrapPolicy(ops, defs, bootstrapClusterRoles, bootstrapClusterRoleBindings, { roles: bootstrapRoles, bindings: bootstrapRoleBindings });
    if (changed.created.length || changed.updated.length) log.info('bootstrap RBAC policy reconciled', { created: changed.created.length, updated: changed.updated.length, ms: Math.round(performance.now() - started) });
    // The index follows the cache, which follows the store: wait for it to see what was just written.
    await cache.sync();
    this.aggregator = new ClusterRoleAggregator(this.index, ops, defs.clusterroles);
    await this.aggregator.syncAll();
    await cache.sync();
    this.aggregator.start();
    this.isReady = true;
    this.markReady();
    log.debug('RBAC ready', { ms: Math.round(performance.now() - started), ...this.index.size });
  }

  stop(): void {
    this.aggregator?.stop();
    this.feed?.stop();
  }
}
