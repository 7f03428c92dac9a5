/**
 * How many pods a PodDisruptionBudget expects and how many of them must stay healthy (upstream
 * pkg/controller/disruption getExpectedPodCount / getExpectedScale).
 *
 * An integer minAvailable counts the pods the selector matches. A percentage minAvailable, and any maxUnavailable,
 * need the number of pods that *should* exist: the sum of the scales of the pods' controllers (a Deployment through
 * its ReplicaSet, a ReplicaSet, a StatefulSet, ...), each controller counted once. Pods without a controller cannot
 * contribute to that sum; they are reported as unmanaged rather than failing the sync (upstream does the same, so a
 * stray pod does not make the controller hot-loop).
 */
import type { PodDisruptionBudget } from 'kubernetes-types/policy/v1.js';
import type { OwnerReference } from 'kubernetes-types/meta/v1.js';
import type { Pod } from 'kubernetes-types/core/v1.js';
import { scaledValue } from '../deployment/deployment-util.js';
import { controllerRefOf } from '../util/owner-references.js';

/** A controller's identity and its desired replica count. */
export interface ControllerScale {
  uid: string;
  scale: number;
}

/**
 * Resolves a pod's controller reference to the workload whose scale counts: undefined when the reference points to
 * nothing this finder knows (or to a different object of the same name). Throws for a reference it cannot read.
 */
export type ScaleFinder = (ref: OwnerReference, namespace: string) => ControllerScale | undefined;

export interface ExpectedPodCount {
  expectedCount: number;
  desiredHealthy: number;
  /** Names of matched pods without a controller; they make a percentage budget inaccurate. */
  unmanagedPods: string[];
}

export function computeExpectedPodCount(pdb: PodDisruptionBudget, pods: readonly Pod[], findScale: ScaleFinder): ExpectedPodCount {
  const spec = pdb.spec ?? {};
  if (spec.maxUnavailable !== undefined && spec.maxUnavailable !== null) {
    const { expectedCount, unmanagedPods } = expectedScale(pods, findScale);
    const maxUnavailable = scaledValue(spec.maxUnavailable, expectedCount, true);
    return { expectedCount, desiredHealthy: Math.max(0, expectedCount - maxUnavailable), unmanagedPods };
  }
  if (spec.minAvailable !== undefined && spec.minAvailable !== null) {
    if (typeof spec.minAvailable === 'number') return { expectedCount: pods.length, desiredHealthy: spec.minAvailable, unmanagedPods: [] };
    const { expectedCount, unmanagedPods } = expectedScale(pods, findScale);
    return { expectedCount, desiredHealthy: scaledValue(spec.minAvailable, expectedCount, true), unmanagedPods };
  }
  // Neither is set (validation allows it): nothing is protected and nothing is counted, as upstream.
  return { expectedCount: 0, desiredHealthy: 0, unmanagedPods: [] };
}

/** The sum of the scales of the distinct controllers of `pods`; throws `found no controllers for pod "NAME"`. */
function expectedScale(pods: readonly Pod[], findScale: ScaleFinder): { expectedCount: number; unmanagedPods: string[] } {
  const scales = new Map<string, number>();
  const unmanagedPods: string[] = [];
  for (const pod of pods) {
    const ref = controllerRefOf(pod);
    if (!ref) {
      unmanagedPods.push(pod.metadata?.name ?? '');
      continue;
    }
    if (scales.has(ref.uid)) continue;
    const found = findScale(ref, pod.metadata?.namespace ?? '');
    if (!found) throw new Error(`found no controllers for pod ${JSON.stringify(pod.metadata?.name ?? '')}`);
    scales.set(found.uid, found.scale);
  }
  let expectedCount = 0;
  for (const scale of scales.values()) expectedCount += scale;
  return { expectedCount, unmanagedPods };
}
