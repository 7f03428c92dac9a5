/**
 * The status a PodDisruptionBudget reports, recomputed from the pods it selects on every sync (upstream
 * pkg/controller/disruption trySync / buildDisruptedPodMap / countHealthyPods / updatePdbStatus, and the
 * DisruptionAllowed condition of k8s.io/component-helpers/apps/poddisruptionbudget).
 *
 * The eviction subresource writes `disruptedPods[pod] = now` before it deletes a pod; until the pod shows up as
 * being deleted (or DELETION_TIMEOUT_MS passes) it no longer counts as healthy, so two evictions racing the
 * controller cannot both spend the same disruption.
 */
import type { Pod } from 'kubernetes-types/core/v1.js';
import type { Condition } from 'kubernetes-types/meta/v1.js';
import type { PodDisruptionBudget, PodDisruptionBudgetStatus } from 'kubernetes-types/policy/v1.js';
import type { Mutable } from '../../api/object.js';
import { rfc3339 as formatTime, parseTime } from '../../api/time.js';
import { isPodReady } from '../../api/pod.js';

export type MutablePdbStatus = Mutable<PodDisruptionBudgetStatus>;

/** How long an entry of status.disruptedPods waits for its pod to be marked deleted (upstream DeletionTimeout, 2 min). */
export const DELETION_TIMEOUT_MS = 2 * 60 * 1000;

/** policy/v1 DisruptionAllowedCondition and its reasons. */
export const DISRUPTION_ALLOWED = 'DisruptionAllowed';
export const SUFFICIENT_PODS = 'SufficientPods';
export const INSUFFICIENT_PODS = 'InsufficientPods';
export const SYNC_FAILED = 'SyncFailed';

export interface ComputedPdbStatus {
  status: MutablePdbStatus;
  /** When the earliest remaining disruptedPods entry expires (ms since the epoch): sync again then. */
  recheckAtMs?: number;
  /** Pods whose disruptedPods entry expired without the pod being deleted (upstream records a NotDeleted event). */
  notDeleted: Pod[];
}

/**
 * `pods` are all pods of the PDB's namespace that its selector matches; `expectedCount` and `desiredHealthy` come
 * from computeExpectedPodCount.
 */
export function computePdbStatus(pdb: PodDisruptionBudget, pods: readonly Pod[], expectedCount: number, desiredHealthy: number, now: Date): ComputedPdbStatus {
  const { disruptedPods, recheckAtMs, notDeleted } = liveDisruptedPods(pdb, pods, now);
  const currentHealthy = countHealthyPods(pods, disruptedPods, now);
  // expectedCount must be positive: a PDB whose pods have not appeared yet stays safe until the controller has seen them.
  let disruptionsAllowed = currentHealthy - desiredHealthy;
  if (expectedCount <= 0 || disruptionsAllowed <= 0) disruptionsAllowed = 0;
  const status: MutablePdbStatus = {
    disruptionsAllowed,
    currentHealthy,
    desiredHealthy,
    expectedPods: expectedCount,
  };
  const generation = pdb.metadata?.generation ?? 0;
  if (generation) status.observedGeneration = generation;
  if (Object.keys(disruptedPods).length > 0) status.disruptedPods = disruptedPods;
  const conditions = structuredClone((pdb.status?.conditions ?? []) as Mutable<Condition>[]);
  setDisruptionAllowedCondition(conditions, disruptionsAllowed, generation, now);
  status.conditions = conditions;
  return { status, recheckAtMs, notDeleted };
}

/**
 * False when `next` says something the stored status does not (upstream compares the counters, disruptedPods, the
 * observed generation and whether the DisruptionAllowed condition agrees with disruptionsAllowed).
 */
export function pdbStatusNeedsWrite(pdb: PodDisruptionBudget, next: PodDisruptionBudgetStatus): boolean {
  const cur = pdb.status;
  return !(
    (cur?.currentHealthy ?? 0) === next.currentHealthy &&
    (cur?.desiredHealthy ?? 0) === next.desiredHealthy &&
    (cur?.expectedPods ?? 0) === next.expectedPods &&
    (cur?.disruptionsAllowed ?? 0) === next.disruptionsAllowed &&
    disruptedPodsEqual(cur?.disruptedPods, next.disruptedPods) &&
    (cur?.observedGeneration ?? 0) === (pdb.metadata?.generation ?? 0) &&
    conditionsAreUpToDate(pdb)
  );
}

/**
 * The status written when a sync fails (upstream failSafe): no disruption allowed, and a SyncFailed condition with
 * the error, so the eviction subresource refuses rather than trusting numbers that could not be recomputed. The
 * observed generation is left alone.
 */
export function failSafePdbStatus(pdb: PodDisruptionBudget, message: string, now: Date): MutablePdbStatus {
  const status = structuredClone((pdb.status ?? {}) as MutablePdbStatus);
  status.disruptionsAllowed = 0;
  status.currentHealthy ??= 0;
  status.desiredHealthy ??= 0;
  status.expectedPods ??= 0;
  const conditions = (status.conditions ?? []) as Mutable<Condition>[];
  setCondition(conditions, { type: DISRUPTION_ALLOWED, status: 'False', reason: SYNC_FAILED, message, observedGeneration: status.observedGeneration ?? 0 }, now);
  status.conditions = conditions;
  return status;
}

/**
 * Sets DisruptionAllowed from disruptionsAllowed (upstream UpdateDisruptionAllowedCondition): True/SufficientPods
 * when positive, False/InsufficientPods otherwise.
 */
export function setDisruptionAllowedCondition(conditions: Mutable<Condition>[], disruptionsAllowed: number, observedGeneration: number, now: Date): void {
  const allowed = disruptionsAllowed > 0;
  setCondition(
    conditions,
    { type: DISRUPTION_ALLOWED, status: allowed ? 'True' : 'False', reason: allowed ? SUFFICIENT_PODS : INSUFFICIENT_PODS, message: '', observedGeneration },
    now,
  );
}

/** Upstream ConditionsAreUpToDate: the condition exists, status is current, and it agrees with disruptionsAllowed. */
export function conditionsAreUpToDate(pdb: PodDisruptionBudget): boolean {
  const cond = pdb.status?.conditions?.find((c) => c.type === DISRUPTION_ALLOWED);
  if (!cond) return false;
  if ((pdb.status?.observedGeneration ?? 0) !== (pdb.metadata?.generation ?? 0)) return false;
  if ((pdb.status?.disruptionsAllowed ?? 0) > 0) return cond.status === 'True' && cond.reason === SUFFICIENT_PODS;
  return cond.status === 'False' && cond.reason === INSUFFICIENT_PODS;
}

/**
 * apimachinery meta.SetStatusCondition: adds the condition, or updates the existing one of that type; the transition
 * time moves only when the status changes. observedGeneration 0 is left out, as omitempty does.
 */
function setCondition(conditions: Mutable<Condition>[], next: Omit<Mutable<Condition>, 'lastTransitionTime'>, now: Date): void {
  const existing = conditions.find((c) => c.type === next.type);
  if (!existing) {
    const added: Mutable<Condition> = { ...next, lastTransitionTime: formatTime(now) };
    if (!added.observedGeneration) delete added.observedGeneration;
    conditions.push(added);
    return;
  }
  if (existing.status !== next.status) {
    existing.status = next.status;
    existing.lastTransitionTime = formatTime(now);
  }
  existing.reason = next.reason;
  existing.message = next.message;
  if (next.observedGeneration) existing.observedGeneration = next.observedGeneration;
  else delete existing.observedGeneration;
}

/**
 * The disruptedPods entries still waiting (upstream buildDisruptedPodMap): an entry is dropped once its pod is being
 * deleted or gone, and when DELETION_TIMEOUT_MS passed without the pod being deleted (the eviction did not happen).
 */
function liveDisruptedPods(pdb: PodDisruptionBudget, pods: readonly Pod[], now: Date): { disruptedPods: Record<string, string>; recheckAtMs?: number; notDeleted: Pod[] } {
  const recorded = pdb.status?.disruptedPods ?? {};
  const disruptedPods: Record<string, string> = {};
  const notDeleted: Pod[] = [];
  let recheckAtMs: number | undefined;
  for (const pod of pods) {
    if (pod.metadata?.deletionTimestamp) continue;
    const name = pod.metadata?.name ?? '';
    const at = recorded[name];
    if (at === undefined) continue;
    const expiresAt = (parseTime(at) ?? 0) + DELETION_TIMEOUT_MS;
    if (expiresAt < now.getTime()) {
      notDeleted.push(pod);
      continue;
    }
    if (recheckAtMs === undefined || expiresAt < recheckAtMs) recheckAtMs = expiresAt;
    disruptedPods[name] = at;
  }
  return { disruptedPods, recheckAtMs, notDeleted };
}

/** Ready pods that are neither being deleted nor about to be (a live disruptedPods entry). */
function countHealthyPods(pods: readonly Pod[], disruptedPods: Record<string, string>, now: Date): number {
  let healthy = 0;
  for (const pod of pods) {
    if (pod.metadata?.deletionTimestamp) continue;
    const at = disruptedPods[pod.metadata?.name ?? ''];
    if (at !== undefined && (parseTime(at) ?? 0) + DELETION_TIMEOUT_MS > now.getTime()) continue;
    if (isPodReady(pod)) healthy++;
  }
  return healthy;
}

/** Semantic equality of two disruptedPods maps: missing equals empty, times compared as instants. */
function disruptedPodsEqual(a: Record<string, string> | undefined, b: Record<string, string> | undefined): boolean {
  const ka = Object.keys(a ?? {});
  const kb = Object.keys(b ?? {});
  if (ka.length !== kb.length) return false;
  return ka.every((k) => b?.[k] !== undefined && parseTime(a![k]) === parseTime(b[k]));
}
