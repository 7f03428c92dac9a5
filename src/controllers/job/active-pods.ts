/**
 * The ActivePods ranking of pkg/controller/controller_utils.go (without the ReplicaSet's extra ranks by co-located
 * pods and deletion cost): which surplus active pods of a Job go first.
 */
import type { Pod } from 'kubernetes-types/core/v1.js';
import { isPodReady, podReadyCondition } from '../../api/pod.js';

const phaseOrdinal: Record<string, number> = { Pending: 0, Unknown: 1, Running: 2 };

function maxRestarts(pod: Pod): number {
  let max = 0;
  for (const s of pod.status?.containerStatuses ?? []) max = Math.max(max, s.restartCount ?? 0);
  return max;
}

function timeOf(s: string | undefined): number {
  return s ? Date.parse(s) : 0;
}

/** "a is after b, or a is zero": the zero time sorts first, as in controller_utils afterOrZero. */
function afterOrZero(a: number, b: number): boolean {
  if (a === 0 || b === 0) return a === 0;
  return a > b;
}

/**
 * The order in which controllers delete surplus active pods, first = delete first (controller.ActivePods):
 * unassigned before assigned; Pending before Unknown before Running; not ready before ready; ready for less time
 * before ready for longer; more container restarts first; newer before older.
 */
export function compareActivePodsForDeletion(a: Pod, b: Pod): number {
  const na = a.spec?.nodeName ?? '';
  const nb = b.spec?.nodeName ?? '';
  if (na !== nb && (na === '' || nb === '')) return na === '' ? -1 : 1;
  const pa = phaseOrdinal[a.status?.phase ?? ''] ?? 0;
  const pb = phaseOrdinal[b.status?.phase ?? ''] ?? 0;
  if (pa !== pb) return pa - pb;
  const ra = isPodReady(a);
  const rb = isPodReady(b);
  if (ra !== rb) return ra ? 1 : -1;
  if (ra && rb) {
    const ta = timeOf(podReadyCondition(a)?.lastTransitionTime);
    const tb = timeOf(podReadyCondition(b)?.lastTransitionTime);
    if (ta !== tb) return afterOrZero(ta, tb) ? -1 : 1;
  }
  const ca = maxRestarts(a);
  const cb = maxRestarts(b);
  if (ca !== cb) return cb - ca;
  const ka = timeOf(a.metadata?.creationTimestamp);
  const kb = timeOf(b.metadata?.creationTimestamp);
  if (ka !== kb) return afterOrZero(ka, kb) ? -1 : 1;
  return 0;
}
