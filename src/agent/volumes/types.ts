/**
 * VolumeManager: what the pod workers (agent/kubelet) ask of the volume code before they create containers, and after
 * a pod is gone. kubelet's volumemanager + the volume plugins, reduced to one call per pod.
 */
import type { Pod } from 'kubernetes-types/core/v1.js';

export interface PodVolume {
  /** Where the volume's content is on this host; containers mount it (or a subPath under it) at volumeMounts[].mountPath. */
  hostPath: string;
  readOnly: boolean;
}

/** A volume that cannot be set up (missing ConfigMap, unbound claim...): the message becomes a FailedMount event. */
export class VolumeError extends Error {
  constructor(
    readonly volume: string,
    message: string,
    /** false when waiting helps (the object may appear, the claim may bind); the worker retries with back-off. */
    readonly permanent = false,
  ) {
    super(message);
    this.name = 'VolumeError';
  }
}

export interface VolumeManager {
  /**
   * Prepares every volume of the pod (idempotent; called on every sync, so configMap, secret, downwardAPI and projected
   * contents follow updates of their sources by an atomic swap, as kubelet's `..data` link). Returns each volume by name.
   * Throws VolumeError.
   */
  setUpPod(pod: Pod): Promise<Map<string, PodVolume>>;
  /** Removes what setUpPod made for this pod (emptyDir data, tmpfs mounts, projected files); idempotent. */
  tearDownPod(podUid: string): Promise<void>;
  /** Pod UIDs that have volume state on this host (so a restarted agent cleans up after pods deleted meanwhile). */
  listPods(): Promise<string[]>;
}
