/**
 * Taints and tolerations as the node lifecycle controller uses them: the taints it owns, which taints a node's
 * conditions call for, and whether (and for how long) a pod tolerates a node's NoExecute taints. Pure functions
 * (upstream pkg/controller/nodelifecycle, pkg/controller/tainteviction, k8s.io/api/core/v1 toleration.go).
 */
import type { Node, NodeCondition, Taint, Toleration } from 'kubernetes-types/core/v1.js';

export const TAINT_NOT_READY = 'node.kubernetes.io/not-ready';
export const TAINT_UNREACHABLE = 'node.kubernetes.io/unreachable';
export const TAINT_UNSCHEDULABLE = 'node.kubernetes.io/unschedulable';
export const TAINT_MEMORY_PRESSURE = 'node.kubernetes.io/memory-pressure';
export const TAINT_DISK_PRESSURE = 'node.kubernetes.io/disk-pressure';
export const TAINT_PID_PRESSURE = 'node.kubernetes.io/pid-pressure';
export const TAINT_NETWORK_UNAVAILABLE = 'node.kubernetes.io/network-unavailable';

export const NOT_READY_NO_EXECUTE: Taint = Object.freeze({ key: TAINT_NOT_READY, effect: 'NoExecute' });
export const UNREACHABLE_NO_EXECUTE: Taint = Object.freeze({ key: TAINT_UNREACHABLE, effect: 'NoExecute' });

/** Node condition type -> condition status -> the NoSchedule taint it calls for (upstream nodeConditionToTaintKeyStatusMap). */
const CONDITION_TAINTS: Record<string, Record<string, string>> = {
  Ready: { False: TAINT_NOT_READY, Unknown: TAINT_UNREACHABLE },
  MemoryPressure: { True: TAINT_MEMORY_PRESSURE },
  DiskPressure: { True: TAINT_DISK_PRESSURE },
  NetworkUnavailable: { True: TAINT_NETWORK_UNAVAILABLE },
  PIDPressure: { True: TAINT_PID_PRESSURE },
};
const CONDITION_TAINT_KEYS = new Set(Object.values(CONDITION_TAINTS).flatMap((m) => Object.values(m)));

/** Same key and effect (upstream Taint.MatchTaint): value and timeAdded do not make a taint different. */
export function matchTaint(a: Taint, b: Taint): boolean {
  return a.key === b.key && a.effect === b.effect;
}

export function hasTaint(node: Node, taint: Taint): boolean {
  return (node.spec?.taints ?? []).some((t) => matchTaint(t, taint));
}

export function getNodeCondition(node: Node, type: string): NodeCondition | undefined {
  return (node.status?.conditions ?? []).find((c) => c.type === type);
}

/**
 * The node's taints after adding `add` (stamped with timeAdded = now, as SwapNodeControllerTaint does) and removing
 * `remove`; undefined when nothing would change. A taint already present is kept as it is, timeAdded included,
 * because tolerationSeconds count from it.
 */
export function computeSwappedTaints(node: Node, add: Taint[], remove: Taint[], now: string): Taint[] | undefined {
  const current = node.spec?.taints ?? [];
  let next = current.filter((t) => !remove.some((r) => matchTaint(r, t)));
  let changed = next.length !== current.length;
  for (const t of add) {
    if (next.some((x) => matchTaint(x, t))) continue;
    next = [...next, { ...t, timeAdded: now }];
    changed = true;
  }
  return changed ? next : undefined;
}

/**
 * The NoSchedule taints the node's conditions and spec.unschedulable call for, against those of them it has
 * (TaintNodesByCondition, upstream doNodeProcessingPassWorker): what to add and what to remove. Taints of other
 * keys, and NoExecute taints, are not this function's business.
 */
export function computeConditionTaints(node: Node): { add: Taint[]; remove: Taint[] } {
  const want: Taint[] = [];
  for (const c of node.status?.conditions ?? []) {
    const key = CONDITION_TAINTS[c.type]?.[c.status];
    if (key) want.push({ key, effect: 'NoSchedule' });
  }
  if (node.spec?.unschedulable) want.push({ key: TAINT_UNSCHEDULABLE, effect: 'NoSchedule' });
  const have = (node.spec?.taints ?? []).filter(
    (t) => t.effect === 'NoSchedule' && (t.key === TAINT_UNSCHEDULABLE || CONDITION_TAINT_KEYS.has(t.key)),
  );
  return {
    add: want.filter((w) => !have.some((h) => matchTaint(h, w))),
    remove: have.filter((h) => !want.some((w) => matchTaint(h, w))),
  };
}

/** Upstream Toleration.ToleratesTaint. */
export function toleratesTaint(tol: Toleration, taint: Taint): boolean {
  if (tol.effect && tol.effect !== taint.effect) return false;
  if (tol.key && tol.key !== taint.key) return false;
  // An empty key with Exists matches every key (validation allows an empty key only with Exists).
  switch (tol.operator ?? 'Equal') {
    case 'Exists':
      return true;
    case 'Equal':
      return (tol.value ?? '') === (taint.value ?? '');
    default:
      return false;
  }
}

/**
 * Whether every taint is tolerated, and the toleration that tolerates each (the first that matches), as upstream
 * GetMatchingTolerations.
 */
export function getMatchingTolerations(taints: readonly Taint[], tolerations: readonly Toleration[]): { allTolerated: boolean; used: Toleration[] } {
  const used: Toleration[] = [];
  for (const taint of taints) {
    const tol = tolerations.find((t) => toleratesTaint(t, taint));
    if (!tol) return { allTolerated: false, used: [] };
    used.push(tol);
  }
  return { allTolerated: true, used };
}

/**
 * How long the pod may stay, in seconds: the smallest tolerationSeconds among the tolerations used (0 or less
 * means at once); -1 when none of them sets tolerationSeconds, i.e. the pod tolerates the taints forever.
 */
export function getMinTolerationSeconds(used: readonly Toleration[]): number {
  if (used.length === 0) return 0;
  let min = Infinity;
  for (const t of used) {
    if (t.tolerationSeconds === undefined || t.tolerationSeconds === null) continue;
    if (t.tolerationSeconds <= 0) return 0;
    min = Math.min(min, t.tolerationSeconds);
  }
  return min === Infinity ? -1 : min;
}
