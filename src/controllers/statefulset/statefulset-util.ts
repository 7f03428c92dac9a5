/**
 * StatefulSet pod identity and storage (pkg/controller/statefulset/stateful_set_utils.go): pods are named
 * `<set>-<ordinal>`, carry their name and ordinal as labels, get hostname = name and subdomain = serviceName, and
 * mount one PersistentVolumeClaim per volumeClaimTemplate, named `<template>-<set>-<ordinal>`, which outlives them.
 */
import type { StatefulSet } from 'kubernetes-types/apps/v1.js';
import type { PersistentVolumeClaim, Pod } from 'kubernetes-types/core/v1.js';
import type { KubeObject, Mutable } from '../../api/object.js';
import { controllerRevisionHashLabel } from '../util/controller-history.js';
import { newControllerRef } from '../util/owner-references.js';
import { podFromTemplate, type MutablePod } from '../util/pod-control.js';
import { isPodReady, podReadyCondition } from '../../api/pod.js';

export const statefulSetPodNameLabel = 'statefulset.kubernetes.io/pod-name';
/** PodIndexLabel (beta, on by default since 1.28). */
export const podIndexLabel = 'apps.kubernetes.io/pod-index';

export type StatefulSetObject = StatefulSet & KubeObject;
export type PodObject = Pod & KubeObject;
export type ClaimObject = Mutable<PersistentVolumeClaim> & KubeObject;

/** The set name and ordinal encoded in a pod name, or ordinal -1 when the name has no `-<number>` suffix. */
export function parentAndOrdinal(podName: string): { parent: string; ordinal: number } {
  const m = /^(.*)-(\d+)$/.exec(podName);
  if (!m) return { parent: '', ordinal: -1 };
  const n = Number(m[2]);
  return Number.isSafeInteger(n) ? { parent: m[1]!, ordinal: n } : { parent: '', ordinal: -1 };
}

export function ordinalOf(pod: Pod): number {
  return parentAndOrdinal(pod.metadata?.name ?? '').ordinal;
}

/** spec.ordinals.start (StatefulSetStartOrdinal, GA in 1.31), default 0. */
export function startOrdinal(set: StatefulSet): number {
  return set.spec?.ordinals?.start ?? 0;
}

export function replicasOf(set: StatefulSet): number {
  return set.spec?.replicas ?? 1;
}

export function podNameFor(set: StatefulSet, ordinal: number): string {
  return `${set.metadata?.name}-${ordinal}`;
}

export function claimNameFor(set: StatefulSet, templateName: string, ordinal: number): string {
  return `${templateName}-${set.metadata?.name}-${ordinal}`;
}

export function isMemberOf(set: StatefulSet, pod: Pod): boolean {
  return parentAndOrdinal(pod.metadata?.name ?? '').parent === set.metadata?.name;
}

export function inOrdinalRange(set: StatefulSet, pod: Pod): boolean {
  const ord = ordinalOf(pod);
  return ord >= startOrdinal(set) && ord < startOrdinal(set) + replicasOf(set);
}

export function podRevision(pod: Pod): string {
  return pod.metadata?.labels?.[controllerRevisionHashLabel] ?? '';
}

export const isTerminating = (pod: Pod): boolean => !!pod.metadata?.deletionTimestamp;
export const isFailed = (pod: Pod): boolean => pod.status?.phase === 'Failed';
export const isSucceeded = (pod: Pod): boolean => pod.status?.phase === 'Succeeded';
export const isPending = (pod: Pod): boolean => pod.status?.phase === 'Pending';
export const isRunningAndReady = (pod: Pod): boolean => pod.status?.phase === 'Running' && isPodReady(pod);
/** Running, ready and not being deleted: the state OrderedReady waits for before touching the next ordinal. */
export const isHealthy = (pod: Pod): boolean => isRunningAndReady(pod) && !isTerminating(pod);

/** Running and ready for minReadySeconds; when not yet, how long until it will be (isRunningAndAvailable). */
export function runningAndAvailable(pod: Pod, minReadySeconds: number, now: Date): { available: boolean; waitMs: number } {
  if (!isRunningAndReady(pod)) return { available: false, waitMs: 0 };
  if (!minReadySeconds) return { available: true, waitMs: 0 };
  const since = podReadyCondition(pod)?.lastTransitionTime;
  if (!since) return { available: false, waitMs: 0 };
  const left = Date.parse(since) + minReadySeconds * 1000 - now.getTime();
  return left <= 0 ? { available: true, waitMs: 0 } : { available: false, waitMs: left };
}

/**
 * The claims a pod of this ordinal uses, by template name (getPersistentVolumeClaims): the template with its name
 * made per pod and the set's selector labels added; whenDeleted=Delete makes the set an owner so they go with it.
 */
export function claimsFor(set: StatefulSetObject, ordinal: number): Map<string, ClaimObject> {
  const out = new Map<string, ClaimObject>();
  const selectorLabels = set.spec?.selector?.matchLabels ?? {};
  for (const t of set.spec?.volumeClaimTemplates ?? []) {
    const name = t.metadata?.name ?? '';
    const claim: ClaimObject = {
      apiVersion: 'v1',
      kind: 'PersistentVolumeClaim',
      metadata: {
        name: claimNameFor(set, name, ordinal),
        namespace: set.metadata.namespace,
        labels: { ...(t.metadata?.labels ?? {}), ...selectorLabels },
        ...(t.metadata?.annotations ? { annotations: { ...t.metadata.annotations } } : {}),
      },
      spec: structuredClone(t.spec ?? {}) as ClaimObject['spec'],
    };
    if (set.spec?.persistentVolumeClaimRetentionPolicy?.whenDeleted === 'Delete') {
      claim.metadata.ownerReferences = [{ apiVersion: 'apps/v1', kind: 'StatefulSet', name: set.metadata.name ?? '', uid: set.metadata.uid ?? '' }];
    }
    out.set(name, claim);
  }
  return out;
}

/** The pod has the name, namespace and identity labels of its ordinal (identityMatches). */
export function identityMatches(set: StatefulSetObject, pod: Pod): boolean {
  const { parent, ordinal } = parentAndOrdinal(pod.metadata?.name ?? '');
  return (
    ordinal >= 0 &&
    parent === set.metadata.name &&
    pod.metadata?.namespace === set.metadata.namespace &&
    pod.metadata?.labels?.[statefulSetPodNameLabel] === pod.metadata?.name &&
    pod.metadata?.labels?.[podIndexLabel] === String(ordinal)
  );
}

/** Every claim template is mounted from this ordinal's claim (storageMatches). */
export function storageMatches(set: StatefulSetObject, pod: Pod): boolean {
  const ordinal = ordinalOf(pod);
  if (ordinal < 0) return false;
  const volumes = new Map((pod.spec?.volumes ?? []).map((v) => [v.name, v]));
  for (const [name, claim] of claimsFor(set, ordinal)) {
    if (volumes.get(name)?.persistentVolumeClaim?.claimName !== claim.metadata.name) return false;
  }
  return true;
}

/** Sets the identity labels (updateIdentity). */
export function updateIdentity(set: StatefulSetObject, pod: MutablePod, ordinal: number): void {
  pod.metadata ??= {};
  pod.metadata.name = podNameFor(set, ordinal);
  pod.metadata.namespace = set.metadata.namespace;
  pod.metadata.labels = { ...(pod.metadata.labels ?? {}), [statefulSetPodNameLabel]: pod.metadata.name, [podIndexLabel]: String(ordinal) };
}

/** Points the claim templates' volumes at this ordinal's claims, replacing template volumes of the same name (updateStorage). */
export function updateStorage(set: StatefulSetObject, pod: MutablePod, ordinal: number): void {
  const claims = claimsFor(set, ordinal);
  const spec = (pod.spec ??= { containers: [] });
  const volumes: NonNullable<typeof spec.volumes> = [];
  for (const [name, claim] of claims) volumes.push({ name, persistentVolumeClaim: { claimName: claim.metadata.name ?? '' } });
  for (const v of spec.volumes ?? []) if (!claims.has(v.name)) volumes.push(v);
  spec.volumes = volumes;
}

/** A new pod for the ordinal from the set's template (newStatefulSetPod + setPodRevision). */
export function newStatefulSetPod(set: StatefulSetObject, ordinal: number, revision: string): MutablePod {
  const pod = podFromTemplate(set.spec?.template, set.metadata.namespace ?? '', '', newControllerRef(set, 'apps/v1', 'StatefulSet'));
  updateIdentity(set, pod, ordinal);
  const spec = (pod.spec ??= { containers: [] });
  spec.hostname = pod.metadata!.name;
  if (set.spec?.serviceName) spec.subdomain = set.spec.serviceName;
  updateStorage(set, pod, ordinal);
  pod.metadata!.labels![controllerRevisionHashLabel] = revision;
  return pod;
}
