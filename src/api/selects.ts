/**
 * How a workload's metav1 LabelSelector is used to find who selects something: a ReplicaSet's Deployments, a pod's
 * ReplicaSets, and the scheduler's preemption PDB filter. Upstream each of these lookups (GetPodReplicaSets,
 * getDeploymentsForReplicaSet, filterPodsWithPDBViolation) converts with LabelSelectorAsSelector and skips a selector
 * that fails to convert or that is empty, because an empty selector would claim everything in the namespace.
 * Not for policy/v1 budgets in eviction or the disruption controller: there an empty selector matches every pod
 * (client-go's GetPodPodDisruptionBudgets: "unlike the v1beta version, here we let an empty selector match
 * everything").
 */
import { isEverything, labelSelectorFromObject, matches, type LabelSelector } from './labels.js';

type LabelSelectorObject = Parameters<typeof labelSelectorFromObject>[0];

/** The selector, or undefined when it does not convert (validation refuses such selectors; only old data has them). */
export function tryLabelSelector(obj: LabelSelectorObject): LabelSelector | undefined {
  try {
    return labelSelectorFromObject(obj);
  } catch {
    return undefined;
  }
}

/**
 * True when `selector` picks `labels` in a lookup: it converts, is neither nil nor empty, and matches. Callers that
 * must tell the user about a bad or empty selector (a controller's own reconcile) convert it themselves.
 */
export function selects(selector: LabelSelectorObject, labels: Record<string, string> | undefined): boolean {
  const s = tryLabelSelector(selector);
  return s !== undefined && !s.matchesNothing && !isEverything(s) && matches(s, labels);
}
