/**
 * Which pods a ReplicaSet deletes first when it scales down: upstream controller.ActivePodsWithRanks with the
 * PodDeletionCost and LogarithmicScaleDown features on (their defaults since 1.22). The cheapest pods to lose go first:
 *   1. unassigned before assigned;
 *   2. Pending before Unknown before Running;
 *   3. not ready before ready;
 *   4. lower `controller.kubernetes.io/pod-deletion-cost` before higher;
 *   5. more pods of related ReplicaSets on the same node (doubled up) before fewer;
 *   6. ready for less time before ready for longer (compared on a log2 scale, ties broken by uid);
 *   7. more container restarts before fewer;
 *   8. created later before created earlier (log2 scale, ties broken by uid); no creation time first.
 */
import type { Pod } from 'kubernetes-types/core/v1.js';
import { parseTime } from '../../api/time.js';
import { isPodActive, isPodReady, podReadyTime } from '../../api/pod.js';

export const POD_DELETION_COST_ANNOTATION = 'controller.kubernetes.io/pod-deletion-cost';

const phaseOrder: Record<string, number> = { Pending: 0, Unknown: 1, Running: 2 };

/**
 * The `diff` pods of `pods` to delete first. `related` are the pods of the sibling ReplicaSets (same controlling
 * Deployment), used to prefer pods on nodes that already run a sibling.
 */
export function podsToDelete<P extends Pod>(pods: P[], related: readonly Pod[], diff: number, now: Date): P[] {
  if (diff >= pods.length) return pods.slice(0, diff);
  const onNode = new Map<string, number>();
  for (const p of related) {
    if (!isPodActive(p)) continue;
    const node = p.spec?.nodeName ?? '';
    onNode.set(node, (onNode.get(node) ?? 0) + 1);
  }
  const ranked = pods.map((pod) => ({ pod, rank: onNode.get(pod.spec?.nodeName ?? '') ?? 0 }));
  ranked.sort((a, b) => compareForDeletion(a, b, now));
  return ranked.slice(0, diff).map((r) => r.pod);
}

export interface RankedPod {
  pod: Pod;
  /** Active pods of related ReplicaSets on this pod's node. */
  rank: number;
}

/** Negative when `a` should be deleted before `b`. */
export function compareForDeletion(a: RankedPod, b: RankedPod, now: Date): number {
  if (deleteBefore(a, b, now)) return -1;
  if (deleteBefore(b, a, now)) return 1;
  return 0;
}

function deleteBefore(a: RankedPod, b: RankedPod, now: Date): boolean {
  const pa = a.pod;
  const pb = b.pod;
  const nodeA = pa.spec?.nodeName ?? '';
  const nodeB = pb.spec?.nodeName ?? '';
  if (nodeA !== nodeB && (nodeA === '' || nodeB === '')) return nodeA === '';
  const phaseA = phaseOrder[pa.status?.phase ?? ''] ?? 0;
  const phaseB = phaseOrder[pb.status?.phase ?? ''] ?? 0;
  if (phaseA !== phaseB) return phaseA < phaseB;
  const readyA = isPodReady(pa);
  const readyB = isPodReady(pb);
  if (readyA !== readyB) return !readyA;
  const costA = deletionCost(pa);
  const costB = deletionCost(pb);
  if (costA !== costB) return costA < costB;
  if (a.rank !== b.rank) return a.rank > b.rank;
  if (readyA && readyB) {
    const ta = podReadyTime(pa);
    const tb = podReadyTime(pb);
    if (ta !== tb) {
      const newer = newerOnLogScale(ta, tb, pa, pb, now);
      if (newer !== undefined) return newer;
    }
  }
  const restartsA = maxContainerRestarts(pa);
  const restartsB = maxContainerRestarts(pb);
  if (restartsA !== restartsB) return restartsA > restartsB;
  const ca = parseTime(pa.metadata?.creationTimestamp);
  const cb = parseTime(pb.metadata?.creationTimestamp);
  if (ca !== cb) {
    const newer = newerOnLogScale(ca, cb, pa, pb, now);
    if (newer !== undefined) return newer;
  }
  return false;
}

/**
 * True when time `ta` counts as newer than `tb`: a missing time is newest; otherwise the ages are bucketed by
 * floor(log2(age in ns)) so that pods of similar age are not ordered by tiny differences, and within one bucket
 * the uid decides (which spreads deletions randomly, the point of LogarithmicScaleDown). undefined = equal.
 */
function newerOnLogScale(ta: number | undefined, tb: number | undefined, pa: Pod, pb: Pod, now: Date): boolean | undefined {
  if (ta === undefined || tb === undefined) return ta === undefined;
  const diff = logBucket(now.getTime() - ta) - logBucket(now.getTime() - tb);
  if (diff === 0) {
    const ua = pa.metadata?.uid ?? '';
    const ub = pb.metadata?.uid ?? '';
    return ua === ub ? undefined : ua < ub;
  }
  return diff < 0;
}

function logBucket(ageMs: number): number {
  return ageMs > 0 ? Math.floor(Math.log2(ageMs * 1e6)) : -1;
}

/** The annotation's int32 value; malformed values (`+1`, `007`, out of range) count as 0, as upstream. */
export function deletionCost(pod: Pod): number {
  const v = pod.metadata?.annotations?.[POD_DELETION_COST_ANNOTATION];
  if (v === undefined || !/^(-[0-9]+|0|[1-9][0-9]*)$/.test(v)) return 0;
  const n = Number(v);
  return n >= -(2 ** 31) && n < 2 ** 31 ? n : 0;
}

function maxContainerRestarts(pod: Pod): number {
  let max = 0;
  for (const s of pod.status?.containerStatuses ?? []) max = Math.max(max, s.restartCount ?? 0);
  return max;
}
