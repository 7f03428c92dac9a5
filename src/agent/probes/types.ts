/**
 * ProbeManager: kubelet's prober manager as the pod workers (agent/kubelet) use it. One worker per container and probe
 * type (liveness, readiness, startup) runs the probe on its period; results feed the pod's status and restarts.
 */
import type { Pod } from 'kubernetes-types/core/v1.js';

export type ProbeType = 'liveness' | 'readiness' | 'startup';

export interface ProbeFailure {
  podUid: string;
  containerName: string;
  containerId: string;
  type: ProbeType;
  /** kubelet's words for the Unhealthy event and the kill message, e.g. `Liveness probe failed: HTTP probe failed with statuscode: 500`. */
  message: string;
}

export interface ProbeManager {
  /** Starts or updates probe workers for the pod's containers that have probes; idempotent for the same pod. */
  addPod(pod: Pod): void;
  removePod(podUid: string): void;
  /**
   * A container (re)started with this id at this time: its results reset (readiness false until a probe succeeds,
   * started false until the startup probe succeeds, both true at once when the probe is absent).
   */
  containerStarted(podUid: string, containerName: string, containerId: string, startedAt: number, podIp?: string): void;
  /** The container stopped: its workers pause until containerStarted again. */
  containerStopped(podUid: string, containerName: string): void;
  /** containerStatuses[].ready: running, started, and readiness probe (if any) passing. */
  isReady(podUid: string, containerName: string): boolean;
  /** containerStatuses[].started: running and startup probe (if any) passed. */
  isStarted(podUid: string, containerName: string): boolean;
  stop(): void;
}

export interface ProbeManagerEvents {
  /** Liveness or startup probe crossed failureThreshold: the worker must kill and restart the container. */
  onFailure(failure: ProbeFailure): void;
  /** A result changed readiness or started for a container of this pod: the worker should recompute status. */
  onChange(podUid: string): void;
  /** Unhealthy event (Warning) on the pod, once per failed probe run as kubelet records it. */
  onUnhealthy(failure: ProbeFailure): void;
}
