/**
 * What the runtime says about one pod (kubelet's kubecontainer.PodStatus): its sandboxes and containers, found by
 * POD_UID_LABEL, newest first, with the kubelet's own labels and annotations read back (container name, spec hash,
 * restart count). Everything the plan (compute-pod-actions.ts) and the status (status.ts) look at comes from here.
 */
import { createHash } from 'node:crypto';
import type { Container } from 'kubernetes-types/core/v1.js';
import { CONTAINER_NAME_LABEL, type ContainerStatus, type PodSandboxStatus } from '../runtime/types.js';

/** Annotations kubelet puts on containers (pkg/kubelet/kuberuntime/labels.go), read back after an agent restart. */
export const CONTAINER_HASH_ANNOTATION = 'io.kubernetes.container.hash';
export const CONTAINER_RESTART_COUNT_ANNOTATION = 'io.kubernetes.container.restartCount';
export const CONTAINER_TERMINATION_MESSAGE_PATH_ANNOTATION = 'io.kubernetes.container.terminationMessagePath';
export const CONTAINER_TERMINATION_MESSAGE_POLICY_ANNOTATION = 'io.kubernetes.container.terminationMessagePolicy';
export const POD_TERMINATION_GRACE_PERIOD_ANNOTATION = 'io.kubernetes.pod.terminationGracePeriod';
export const CONTAINER_PRESTOP_HANDLER_ANNOTATION = 'io.kubernetes.container.preStopHandler';
export const CONTAINER_PORTS_ANNOTATION = 'io.kubernetes.container.ports';
/** skiff's own: 'init' for init containers, so a restarted agent tells them apart without the pod spec. */
export const CONTAINER_TYPE_LABEL = 'io.kubernetes.container.type';

export interface RuntimePodStatus {
  /** Newest first (by createdAt, then attempt). */
  sandboxes: PodSandboxStatus[];
  /** Newest first (by createdAt, then attempt), across every sandbox of the pod. */
  containers: ContainerStatus[];
}

export const emptyRuntimePodStatus = (): RuntimePodStatus => ({ sandboxes: [], containers: [] });

/** Sorts what the runtime listed for one pod the way kubelet's PodStatus keeps it: newest first. */
export function runtimePodStatus(sandboxes: PodSandboxStatus[], containers: ContainerStatus[]): RuntimePodStatus {
  return {
    sandboxes: [...sandboxes].sort((a, b) => b.createdAt - a.createdAt || b.metadata.attempt - a.metadata.attempt),
    containers: [...containers].sort((a, b) => b.createdAt - a.createdAt || b.metadata.attempt - a.metadata.attempt),
  };
}

/** The container's name in the pod spec (the label kubelet sets; metadata.name as a fallback). */
export function containerNameOf(c: ContainerStatus): string {
  return c.labels[CONTAINER_NAME_LABEL] ?? c.metadata.name;
}

/** The latest container of this name (kubecontainer.PodStatus.FindContainerStatusByName). */
export function findContainerByName(status: RuntimePodStatus, name: string): ContainerStatus | undefined {
  return status.containers.find((c) => containerNameOf(c) === name);
}

/** The restart count a container was created with (its attempt; the annotation when a runtime loses metadata). */
export function restartCountOf(c: ContainerStatus): number {
  const annotated = Number(c.annotations[CONTAINER_RESTART_COUNT_ANNOTATION]);
  return Number.isInteger(annotated) && annotated >= 0 ? Math.max(annotated, c.metadata.attempt) : c.metadata.attempt;
}

/**
 * A stable hash of the container spec (kubelet's HashContainer: fnv-32a over the JSON of the container), written on
 * the container so a changed spec is seen as "definition changed". Keys are sorted first so that the same spec read
 * back from the API in a different key order hashes the same. Resources are left out, as kubelet leaves them out since
 * in-place resize (a resize does not restart the container).
 */
export function hashContainer(container: Container): string {
  const { resources: _resources, ...rest } = container as Container & { resources?: unknown };
  const json = canonicalJson(rest);
  return createHash('sha256').update(json).digest('hex').slice(0, 8);
}

function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value && typeof value === 'object') {
    const keys = Object.keys(value).filter((k) => (value as Record<string, unknown>)[k] !== undefined).sort();
    return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson((value as Record<string, unknown>)[k])}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

/** The hash a running container was created with ('' when it carries none, e.g. created by someone else). */
export function containerHashOf(c: ContainerStatus): string {
  return c.annotations[CONTAINER_HASH_ANNOTATION] ?? c.labels[CONTAINER_HASH_ANNOTATION] ?? '';
}

/** Whether the container's spec differs from what it was created with (kubelet's containerChanged). */
export function containerChanged(container: Container, c: ContainerStatus): boolean {
  const hash = containerHashOf(c);
  return hash !== '' && hash !== hashContainer(container);
}
