/**
 * What kube-controller-manager's PodControl does for the workload controllers (pkg/controller/controller_utils.go):
 * pods built from a template (GetPodFromTemplate), and pod creation and deletion that record the Events users see in
 * `kubectl describe` ("Created pod: NAME", "Deleted pod: NAME", "Error creating: ...", "Error deleting: ...").
 */
import type { Pod, PodTemplateSpec } from 'kubernetes-types/core/v1.js';
import type { OwnerReference } from 'kubernetes-types/meta/v1.js';
import type { KubeObject, Mutable } from '../../api/object.js';
import { isNotFound } from '../../api/status.js';
import { Pods } from '../../client/resources.js';
import type { Client, EventRecorder } from '../../client/types.js';
import { errorMessage } from './error-message.js';
import { hasStatusCause } from './has-status-cause.js';

export type MutablePod = Mutable<Pod>;

/**
 * controller.GetPodFromTemplate: a pod to create from a template, with the template's labels, annotations, finalizers
 * and spec, `generateName` (the server appends 5 random characters; empty for pods the caller names itself) and the
 * controller reference. Empty annotations and finalizers are left out, as Go's omitempty leaves them out upstream.
 */
export function podFromTemplate(template: PodTemplateSpec | undefined, namespace: string, generateName: string, ref: OwnerReference): MutablePod & KubeObject {
  const t = structuredClone((template ?? {}) as Mutable<PodTemplateSpec>);
  const meta = t.metadata ?? {};
  const pod: MutablePod & KubeObject = {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      namespace,
      ...(generateName ? { generateName } : {}),
      labels: { ...(meta.labels ?? {}) },
      ownerReferences: [{ ...ref }],
    },
    spec: t.spec ?? { containers: [] },
  };
  if (meta.annotations && Object.keys(meta.annotations).length > 0) pod.metadata.annotations = { ...meta.annotations };
  if (meta.finalizers && meta.finalizers.length > 0) pod.metadata.finalizers = [...meta.finalizers];
  return pod;
}

/**
 * Creates a pod and records SuccessfulCreate on the owner. A pod without labels is refused before any request (its
 * owner could never select it). On failure rejects with the API error after recording a FailedCreate warning, except
 * when the namespace is being deleted: upstream records nothing then, since every create there fails.
 */
export async function createPodFor(client: Client, recorder: EventRecorder, owner: KubeObject, pod: Pod): Promise<Pod> {
  if (Object.keys(pod.metadata?.labels ?? {}).length === 0) throw new Error('unable to create pods, no labels');
  let created: Pod & KubeObject;
  try {
    created = await client.create<Pod & KubeObject>(Pods, pod.metadata?.namespace ?? '', pod as Pod & KubeObject);
  } catch (err) {
    if (!hasStatusCause(err, 'NamespaceTerminating')) recorder.event(owner, 'Warning', 'FailedCreate', `Error creating: ${errorMessage(err)}`);
    throw err;
  }
  recorder.event(owner, 'Normal', 'SuccessfulCreate', `Created pod: ${created.metadata.name}`);
  return created;
}

/**
 * Deletes a pod and records SuccessfulDelete; resolves false when the pod was already gone (nothing recorded). Other
 * failures record FailedDelete and reject with "unable to delete pods: ..." (upstream DeletePod's error, which the
 * ReplicaSet shows in its ReplicaFailure condition); the API error is the `cause`.
 */
export async function deletePodFor(client: Client, recorder: EventRecorder, owner: KubeObject, pod: Pod): Promise<boolean> {
  const name = pod.metadata?.name ?? '';
  try {
    await client.delete(Pods, pod.metadata?.namespace ?? '', name);
  } catch (err) {
    if (isNotFound(err)) return false;
    recorder.event(owner, 'Warning', 'FailedDelete', `Error deleting: ${errorMessage(err)}`);
    throw new Error(`unable to delete pods: ${errorMessage(err)}`, { cause: err });
  }
  recorder.event(owner, 'Normal', 'SuccessfulDelete', `Deleted pod: ${name}`);
  return true;
}
