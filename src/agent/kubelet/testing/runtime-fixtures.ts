/** Builders of runtime statuses for table tests of the plan and the status (what a runtime would list for a pod). */
import type { Container, Pod } from 'kubernetes-types/core/v1.js';
import { CONTAINER_NAME_LABEL, POD_UID_LABEL, type ContainerState, type ContainerStatus, type PodSandboxStatus } from '../../runtime/types.js';
import { CONTAINER_HASH_ANNOTATION, CONTAINER_RESTART_COUNT_ANNOTATION, hashContainer } from '../runtime-pod-status.js';

export const T0 = Date.UTC(2025, 0, 1, 0, 0, 0);

export function testPod(over: { name?: string; uid?: string; restartPolicy?: 'Always' | 'OnFailure' | 'Never'; containers?: Container[]; initContainers?: Container[] } = {}): Pod {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: over.name ?? 'web', namespace: 'default', uid: over.uid ?? 'uid-1' },
    spec: {
      nodeName: 'node-1',
      restartPolicy: over.restartPolicy ?? 'Always',
      containers: over.containers ?? [
        { name: 'foo1', image: 'busybox', command: ['sleep', '1000'] },
        { name: 'foo2', image: 'busybox', command: ['sleep', '1000'] },
        { name: 'foo3', image: 'busybox', command: ['sleep', '1000'] },
      ],
      ...(over.initContainers ? { initContainers: over.initContainers } : {}),
    },
  };
}

export function sandbox(pod: Pod, over: Partial<PodSandboxStatus> & { attempt?: number } = {}): PodSandboxStatus {
  const attempt = over.attempt ?? 0;
  return {
    id: `sandbox-${attempt}`,
    metadata: { name: pod.metadata!.name!, namespace: pod.metadata!.namespace!, uid: pod.metadata!.uid!, attempt },
    state: 'ready',
    createdAt: T0 + attempt,
    ip: '10.42.0.5',
    additionalIps: [],
    network: 'pod',
    labels: { [POD_UID_LABEL]: pod.metadata!.uid! },
    annotations: {},
    ...over,
  };
}

export interface ContainerFixture {
  state?: ContainerState;
  exitCode?: number;
  attempt?: number;
  reason?: string;
  startedAt?: number;
  finishedAt?: number;
  createdAt?: number;
  hash?: string;
  id?: string;
  sandboxId?: string;
}

/** A runtime container for `container` of the pod (hash of the current spec unless given). */
export function runtimeContainer(pod: Pod, container: Container, f: ContainerFixture = {}): ContainerStatus {
  const attempt = f.attempt ?? 0;
  const state = f.state ?? 'running';
  return {
    id: f.id ?? `${container.name}-${attempt}`,
    podSandboxId: f.sandboxId ?? 'sandbox-0',
    metadata: { name: container.name, attempt },
    state,
    createdAt: f.createdAt ?? T0 + 1000 + attempt,
    startedAt: f.startedAt ?? (state === 'created' ? 0 : T0 + 2000),
    finishedAt: f.finishedAt ?? (state === 'exited' ? T0 + 3000 : 0),
    exitCode: f.exitCode ?? 0,
    reason: f.reason ?? (state === 'exited' ? (f.exitCode ? 'Error' : 'Completed') : ''),
    message: '',
    image: container.image ?? '',
    imageRef: `sha256:${container.image}`,
    logPath: `/var/log/pods/x/${container.name}/${attempt}.log`,
    labels: { [POD_UID_LABEL]: pod.metadata!.uid!, [CONTAINER_NAME_LABEL]: container.name },
    annotations: { [CONTAINER_HASH_ANNOTATION]: f.hash ?? hashContainer(container), [CONTAINER_RESTART_COUNT_ANNOTATION]: String(attempt) },
  };
}
