/**
 * Pod and owner helpers the workload controllers share (Job, DaemonSet, StatefulSet): readiness and availability
 * as k8s.io/kubernetes/pkg/api/v1/pod defines them, controller references, pods built from templates, the
 * ActivePods ranking of pkg/controller/controller_utils.go, and pod creation/deletion that records the Events
 * kube-controller-manager's PodControl records ("Created pod: NAME", "Deleted pod: NAME").
 */
import type { Pod, PodTemplateSpec } from 'kubernetes-types/core/v1.js';
import type { OwnerReference } from 'kubernetes-types/meta/v1.js';
import { isNotFound } from '../../api/status.js';
import type { KubeObject, Mutable } from '../../api/object.js';
import { Pods } from '../../client/resources.js';
import type { Client, EventRecorder } from '../../client/types.js';

export type MutablePod = Mutable<Pod>;

/** The pod's Ready condition, if it reports one. */
export function podReadyCondition(pod: Pod) {
  return pod.status?.conditions?.find((c) => c.type === 'Ready');
}

export function isPodReady(pod: Pod): boolean {
  return podReadyCondition(pod)?.status === 'True';
}

/**
 * Ready for at least minReadySeconds (podutil.IsPodAvailable). A Ready condition without a transition time counts
 * as available only when minReadySeconds is 0.
 */
export function isPodAvailable(pod: Pod, minReadySeconds: number, now: Date): boolean {
  if (!isPodReady(pod)) return false;
  if (!minReadySeconds) return true;
  const since = podReadyCondition(pod)?.lastTransitionTime;
  if (!since) return false;
  return Date.parse(since) + minReadySeconds * 1000 <= now.getTime();
}

export function isPodTerminal(pod: Pod): boolean {
  return pod.status?.phase === 'Succeeded' || pod.status?.phase === 'Failed';
}

/** Neither finished nor being deleted (controller.IsPodActive). */
export function isPodActive(pod: Pod): boolean {
  return !isPodTerminal(pod) && !pod.metadata?.deletionTimestamp;
}

/** Being deleted but not yet finished (controller.CountTerminatingPods counts these). */
export function isPodTerminating(pod: Pod): boolean {
  return !!pod.metadata?.deletionTimestamp && !isPodTerminal(pod);
}

export function controllerRefOf(obj: { metadata?: { ownerReferences?: readonly OwnerReference[] } }): OwnerReference | undefined {
  return obj.metadata?.ownerReferences?.find((r) => r.controller === true);
}

/** True when obj's controller reference names owner (by uid, the only unambiguous identity). */
export function isControlledBy(obj: { metadata?: { ownerReferences?: readonly OwnerReference[] } }, owner: KubeObject): boolean {
  const ref = controllerRefOf(obj);
  return !!ref && ref.uid === owner.metadata.uid;
}

/** metav1.NewControllerRef: the reference a controller puts on what it creates. */
export function newControllerRef(owner: KubeObject, apiVersion: string, kind: string): Mutable<OwnerReference> {
  return {
    apiVersion,
    kind,
    name: owner.metadata.name ?? '',
    uid: owner.metadata.uid ?? '',
    controller: true,
    blockOwnerDeletion: true,
  };
}

/**
 * controller.GetPodFromTemplate: a pod to create from a template, with the template's labels, annotations and
 * finalizers, `generateName` = prefix (the server appends 5 random characters) and the controller reference.
 */
export function podFromTemplate(template: PodTemplateSpec | undefined, namespace: string, generateName: string, ref: OwnerReference): MutablePod {
  const t = structuredClone((template ?? {}) as Mutable<PodTemplateSpec>);
  const meta = t.metadata ?? {};
  const pod: MutablePod = {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      namespace,
      ...(generateName ? { generateName } : {}),
      labels: { ...(meta.labels ?? {}) },
      ...(meta.annotations ? { annotations: { ...meta.annotations } } : {}),
      ...(meta.finalizers ? { finalizers: [...meta.finalizers] } : {}),
      ownerReferences: [{ ...ref }],
    },
    spec: t.spec ?? { containers: [] },
  };
  return pod;
}

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

/**
 * Creates a pod and records the Event PodControl records on the owner. Rejects with the API error after recording
 * a FailedCreate warning ("Error creating: ..."), as upstream does.
 */
export async function createPodFor(client: Client, recorder: EventRecorder, owner: KubeObject, pod: Pod): Promise<Pod> {
  try {
    const created = await client.create<Pod & KubeObject>(Pods, pod.metadata?.namespace ?? '', pod as Pod & KubeObject);
    recorder.event(owner, 'Normal', 'SuccessfulCreate', `Created pod: ${created.metadata.name}`);
    return created;
  } catch (err) {
    recorder.event(owner, 'Warning', 'FailedCreate', `Error creating: ${(err as Error).message}`);
    throw err;
  }
}

/** Deletes a pod and records SuccessfulDelete; a pod that is already gone counts as deleted (returns false). */
export async function deletePodFor(client: Client, recorder: EventRecorder, owner: KubeObject, pod: Pod): Promise<boolean> {
  const name = pod.metadata?.name ?? '';
  try {
    await client.delete(Pods, pod.metadata?.namespace ?? '', name);
  } catch (err) {
    if (isNotFound(err)) return false;
    recorder.event(owner, 'Warning', 'FailedDelete', `Error deleting: ${(err as Error).message}`);
    throw err;
  }
  recorder.event(owner, 'Normal', 'SuccessfulDelete', `Deleted pod: ${name}`);
  return true;
}

/**
 * Runs `count` calls of fn in batches of 1, 2, 4, ... (controller.slowStartBatch), stopping after the first batch
 * with a failure, so a quota or admission error costs one request rather than hundreds. Returns how many calls
 * were made, how many succeeded, and the first error.
 */
export async function slowStartBatch(
  count: number,
  initialBatchSize: number,
  fn: (i: number) => Promise<void>,
): Promise<{ attempted: number; successes: number; error?: unknown }> {
  let successes = 0;
  let done = 0;
  for (let batch = Math.min(count, initialBatchSize); batch > 0; batch = Math.min(2 * batch, count - done)) {
    const results = await Promise.allSettled(Array.from({ length: batch }, (_, i) => fn(done + i)));
    done += batch;
    const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    successes += results.filter((r) => r.status === 'fulfilled').length;
    if (failed) return { attempted: done, successes, error: failed.reason };
  }
  return { attempted: done, successes };
}
