/**
 * The status conditions a terminating namespace carries, so `kubectl get ns X -o yaml` says why it is still there
 * (upstream pkg/controller/namespace/deletion/status_condition_utils.go): all five are always present, True with
 * the problem while there is one, False with the "ok" wording otherwise.
 */
import type { NamespaceCondition } from 'kubernetes-types/core/v1.js';
import type { Mutable } from '../../api/object.js';

export type Condition = Mutable<NamespaceCondition>;

/** What one pass of content deletion found. */
export interface DeletionOutcome {
  /** One message per resource type that could not be listed or deleted. */
  errors: string[];
  /** `<resource>.<group>` -> objects still present after the pass. */
  remaining: Map<string, number>;
  /** finalizer -> objects still present that carry it. */
  finalizers: Map<string, number>;
  /** Why discovery was incomplete (upstream ErrGroupDiscoveryFailed's text, or the error when it failed outright). */
  discoveryError?: string;
  /** How many group versions failed discovery, when it was partial. */
  discoveryFailedGroups?: number;
}

const ORDER = [
  'NamespaceDeletionDiscoveryFailure',
  'NamespaceDeletionGroupVersionParsingFailure',
  'NamespaceDeletionContentFailure',
  'NamespaceContentRemaining',
  'NamespaceFinalizersRemaining',
] as const;

const OK: Record<(typeof ORDER)[number], { reason: string; message: string }> = {
  NamespaceDeletionDiscoveryFailure: { reason: 'ResourcesDiscovered', message: 'All resources successfully discovered' },
  NamespaceDeletionGroupVersionParsingFailure: { reason: 'ParsedGroupVersions', message: 'All legacy kube types successfully parsed' },
  NamespaceDeletionContentFailure: { reason: 'ContentDeleted', message: 'All content successfully deleted, may be waiting on finalization' },
  NamespaceContentRemaining: { reason: 'ContentRemoved', message: 'All content successfully removed' },
  NamespaceFinalizersRemaining: { reason: 'ContentRemoved', message: 'All content successfully removed' },
};

/**
 * The namespace's conditions after a pass: existing ones are updated in place (lastTransitionTime moves only when
 * the status flips), missing ones are added. `changed` says whether a status write is needed.
 */
export function computeNamespaceConditions(current: readonly NamespaceCondition[], outcome: DeletionOutcome, now: string): { conditions: Condition[]; changed: boolean } {
  const problems = new Map<string, { reason: string; message: string }>();
  if (outcome.discoveryError !== undefined) {
    problems.set('NamespaceDeletionDiscoveryFailure', {
      reason: 'DiscoveryFailed',
      message: outcome.discoveryFailedGroups ? `Discovery failed for some groups, ${outcome.discoveryFailedGroups} failing: ${outcome.discoveryError}` : outcome.discoveryError,
    });
  }
  if (outcome.errors.length > 0) {
    const msgs = [...outcome.errors].sort();
    problems.set('NamespaceDeletionContentFailure', {
      reason: 'ContentDeletionFailed',
      message: `Failed to delete all resource types, ${msgs.length} remaining: ${msgs.join(', ')}`,
    });
  }
  const remaining = [...outcome.remaining].filter(([, n]) => n > 0).map(([r, n]) => `${r} has ${n} resource instances`).sort();
  if (remaining.length > 0) {
    problems.set('NamespaceContentRemaining', { reason: 'SomeResourcesRemain', message: `Some resources are remaining: ${remaining.join(', ')}` });
  }
  const finalizers = [...outcome.finalizers].filter(([, n]) => n > 0).map(([f, n]) => `${f} in ${n} resource instances`).sort();
  if (finalizers.length > 0) {
    // Upstream's reason really is singular here.
    problems.set('NamespaceFinalizersRemaining', { reason: 'SomeFinalizerRemain', message: `Some finalizers are remaining: ${finalizers.join(', ')}` });
  }

  const conditions = current.map((c) => ({ ...c })) as Condition[];
  let changed = false;
  for (const type of ORDER) {
    const problem = problems.get(type);
    const want = { status: problem ? 'True' : 'False', ...(problem ?? OK[type]) };
    const have = conditions.find((c) => c.type === type);
    if (!have) {
      conditions.push({ type, ...want, lastTransitionTime: now });
      changed = true;
    } else if (have.status !== want.status || have.reason !== want.reason || have.message !== want.message) {
      if (have.status !== want.status) have.lastTransitionTime = now;
      Object.assign(have, want);
      changed = true;
    }
  }
  return { conditions, changed };
}
