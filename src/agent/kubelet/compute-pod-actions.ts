/**
 * The plan of one pod sync, as a pure function of the pod spec and what the runtime runs (kubelet's
 * pkg/kubelet/kuberuntime/kuberuntime_manager.go computePodActions, computeInitContainerActions and
 * pkg/kubelet/container/helpers.go ShouldContainerBeRestarted; sandbox rules from runtimeutil.PodSandboxChanged).
 * The worker (pod-workers.ts) carries the plan out. CrashLoopBackOff is decided here too, from a read-only view of the
 * back-off state (kubelet decides it in doBackOff while starting), so a table test sees the whole decision.
 */
import type { Container, Pod } from 'kubernetes-types/core/v1.js';
import type { ContainerStatus, PodSandboxStatus } from '../runtime/types.js';
import { goDuration } from './backoff.js';
import { containerChanged, containerNameOf, findContainerByName, hashContainer, type RuntimePodStatus } from './runtime-pod-status.js';

/** Why a running container is killed (the reason feeds the Killing event and the probe manager). */
export type KillReason = 'LivenessProbe' | 'StartupProbe' | 'Unknown' | 'SpecChanged' | 'RestartPolicy';

export interface ContainerToKill {
  id: string;
  name: string;
  reason: KillReason;
  /** The Killing event's message, kubelet's words: `Container app failed liveness probe, will be restarted`. */
  message: string;
}

/** A container the plan would start, held back by CrashLoopBackOff. */
export interface BackOffWait {
  name: string;
  init: boolean;
  /** The back-off key (pod name, namespace, uid, container name, spec hash), as kubelet's getStableKey. */
  key: string;
  /** `back-off 10s restarting failed container=app pod=web_default(uid)`: the waiting message. */
  message: string;
  /** How long until it may start (ms). */
  remainingMs: number;
}

export interface PodActions {
  /** Stop every container and the sandbox (before creating a new sandbox, or because nothing should run any more). */
  killPod: boolean;
  createSandbox: boolean;
  /** The current (or last) sandbox, '' when there is none. */
  sandboxId: string;
  /** Attempt number for the sandbox to create (0 first, +1 per re-creation). */
  attempt: number;
  /** Indexes into spec.initContainers to start now, in spec order. */
  initContainersToStart: number[];
  /** Indexes into spec.containers to start now, in spec order. */
  containersToStart: number[];
  /** Indexes into spec.ephemeralContainers to start now (never restarted: only those the runtime never ran). */
  ephemeralContainersToStart: number[];
  containersToKill: ContainerToKill[];
  /** Containers held back by back-off instead of started (removed from the two lists above). */
  backOff: BackOffWait[];
}

/** Read-only view of the CrashLoopBackOff state (backoff.ts's Backoff fits). */
export interface BackoffView {
  isInBackOffSince(key: string, eventTime: number): boolean;
  /** The key's current delay (ms). */
  get(key: string): number;
  remainingMs(key: string, eventTime: number): number;
}

export interface PodActionsInput {
  pod: Pod;
  runtime: RuntimePodStatus;
  backoff: BackoffView;
  /** Liveness or startup probe failures reported for these container ids (and not yet acted upon). */
  probeFailures?: ReadonlyMap<string, 'liveness' | 'startup'>;
  /** Whether the container's startup probe has passed (true when it has none): sidecars wait for it. */
  isStarted?: (containerName: string) => boolean;
}

/** spec.restartPolicy, defaulted as the API server does. */
export function restartPolicyOf(pod: Pod): 'Always' | 'OnFailure' | 'Never' {
  const p = pod.spec?.restartPolicy;
  return p === 'OnFailure' || p === 'Never' ? p : 'Always';
}

/** A sidecar: an init container with restartPolicy Always (KEP-753). */
export function isRestartableInitContainer(c: Container): boolean {
  return c.restartPolicy === 'Always';
}

export function shouldRestartOnFailure(pod: Pod): boolean {
  return restartPolicyOf(pod) !== 'Never';
}

/** `name_namespace(uid)`, kubelet's format.Pod. */
export function formatPod(pod: Pod): string {
  return `${pod.metadata?.name ?? ''}_${pod.metadata?.namespace ?? ''}(${pod.metadata?.uid ?? ''})`;
}

/** The CrashLoopBackOff key of a container (kubelet's getStableKey). */
export function backoffKey(pod: Pod, container: Container): string {
  return `${pod.metadata?.name}_${pod.metadata?.namespace}_${pod.metadata?.uid}_${container.name}_${hashContainer(container)}`;
}

/**
 * Whether a new sandbox is needed (runtimeutil.PodSandboxChanged): none yet, more than one ready, the newest not ready,
 * the network mode changed to host, or a pod-network sandbox without an IP. Returns the attempt for the new one.
 */
export function podSandboxChanged(pod: Pod, sandboxes: PodSandboxStatus[]): { changed: boolean; attempt: number; sandboxId: string } {
  if (sandboxes.length === 0) return { changed: true, attempt: 0, sandboxId: '' };
  const latest = sandboxes[0]!;
  const next = latest.metadata.attempt + 1;
  const ready = sandboxes.filter((s) => s.state === 'ready').length;
  if (ready > 1 || latest.state !== 'ready') return { changed: true, attempt: next, sandboxId: latest.id };
  // A pod that asks for the host network and sits in its own namespace needs a new sandbox. The other way round is
  // the agent's fallback (no root or no CNI), which a new sandbox would not change.
  if (pod.spec?.hostNetwork && latest.network !== 'host') return { changed: true, attempt: next, sandboxId: '' };
  if (!pod.spec?.hostNetwork && latest.network === 'pod' && !latest.ip) return { changed: true, attempt: next, sandboxId: latest.id };
  return { changed: false, attempt: latest.metadata.attempt, sandboxId: latest.id };
}

/** ShouldContainerBeRestarted: whether a container that is not running should be (re)started. */
export function shouldContainerBeRestarted(container: Container, pod: Pod, runtime: RuntimePodStatus): boolean {
  if (pod.metadata?.deletionTimestamp) return false;
  const status = findContainerByName(runtime, container.name);
  if (!status) return true;
  if (status.state === 'running') return false;
  if (status.state === 'unknown' || status.state === 'created') return true;
  const policy = restartPolicyOf(pod);
  if (policy === 'Never') return false;
  if (policy === 'OnFailure' && status.exitCode === 0) return false;
  return true;
}

function containerSucceeded(container: Container, runtime: RuntimePodStatus): boolean {
  const s = findContainerByName(runtime, container.name);
  return s !== undefined && s.state === 'exited' && s.exitCode === 0;
}

function isInitContainerFailed(s: ContainerStatus): boolean {
  if (s.state === 'exited' && s.exitCode !== 0) return true;
  return s.state === 'unknown';
}

/** True when some regular container was created or is running (hasAnyRegularContainerCreated). */
function hasAnyRegularContainerCreated(pod: Pod, runtime: RuntimePodStatus): boolean {
  for (const c of pod.spec?.containers ?? []) {
    const s = findContainerByName(runtime, c.name);
    if (s && (s.state === 'created' || s.state === 'running' || s.state === 'exited')) return true;
  }
  return false;
}

export function computePodActions(input: PodActionsInput): PodActions {
  const { pod, runtime } = input;
  const spec = pod.spec!;
  const sandbox = podSandboxChanged(pod, runtime.sandboxes);
  const actions: PodActions = {
    killPod: sandbox.changed,
    createSandbox: sandbox.changed,
    sandboxId: sandbox.sandboxId,
    attempt: sandbox.attempt,
    initContainersToStart: [],
    containersToStart: [],
    ephemeralContainersToStart: [],
    containersToKill: [],
    backOff: [],
  };

  if (sandbox.changed) {
    // A new sandbox means everything restarts from the beginning, unless nothing may run again.
    if (!shouldRestartOnFailure(pod) && sandbox.attempt !== 0 && runtime.containers.length !== 0) {
      actions.createSandbox = false;
      return actions;
    }
    const toStart: number[] = [];
    spec.containers.forEach((c, i) => {
      if (restartPolicyOf(pod) === 'OnFailure' && containerSucceeded(c, runtime)) return;
      toStart.push(i);
    });
    if (toStart.length === 0 && hasAnyRegularContainerCreated(pod, runtime)) {
      actions.createSandbox = false;
      return actions;
    }
    if ((spec.initContainers ?? []).length > 0) actions.initContainersToStart = [0];
    else actions.containersToStart = toStart;
    return applyBackoff(input, actions);
  }

  // Ephemeral containers may start before initialization is complete, and never restart (kubelet: not found = start).
  (spec.ephemeralContainers ?? []).forEach((c, i) => {
    if (!findContainerByName(runtime, c.name)) actions.ephemeralContainersToStart.push(i);
  });

  const initialized = computeInitContainerActions(input, actions);
  if (actions.killPod) actions.ephemeralContainersToStart = [];
  if (actions.killPod || !initialized) return applyBackoff(input, actions);

  let keep = 0;
  spec.containers.forEach((container, idx) => {
    const status = findContainerByName(runtime, container.name);
    if (!status || status.state !== 'running') {
      if (shouldContainerBeRestarted(container, pod, runtime)) {
        actions.containersToStart.push(idx);
        if (status?.state === 'unknown') {
          actions.containersToKill.push({ id: status.id, name: container.name, reason: 'Unknown', message: `Container is in "unknown" state, try killing it before restart` });
        }
      }
      return;
    }
    let restart = shouldRestartOnFailure(pod);
    let message: string;
    let reason: KillReason;
    const failure = input.probeFailures?.get(status.id);
    if (containerChanged(container, status)) {
      message = `Container ${container.name} definition changed`;
      reason = 'SpecChanged';
      // The spec changed: restart whatever the restart policy says.
      restart = true;
    } else if (failure === 'liveness') {
      message = `Container ${container.name} failed liveness probe`;
      reason = 'LivenessProbe';
    } else if (failure === 'startup') {
      message = `Container ${container.name} failed startup probe`;
      reason = 'StartupProbe';
    } else {
      keep++;
      return;
    }
    if (restart) {
      message = `${message}, will be restarted`;
      actions.containersToStart.push(idx);
    }
    actions.containersToKill.push({ id: status.id, name: container.name, reason, message });
  });

  if (keep === 0 && actions.containersToStart.length === 0) {
    actions.killPod = true;
    // Sidecars must not keep a finished pod alive, nor may ephemeral containers start in it.
    actions.initContainersToStart = [];
    actions.ephemeralContainersToStart = [];
  }
  return applyBackoff(input, actions);
}

/**
 * computeInitContainerActions (the sidecar-aware version): walks the init containers from the last to the first, since
 * finished ones may have been removed, and returns whether initialization is done.
 */
function computeInitContainerActions(input: PodActionsInput, actions: PodActions): boolean {
  const { pod, runtime } = input;
  const inits = pod.spec?.initContainers ?? [];
  if (inits.length === 0) return true;

  let podHasInitialized = false;
  for (const c of pod.spec!.containers) {
    const s = findContainerByName(runtime, c.name);
    // Exited regular containers do not count: after a node reboot they belong to an old sandbox.
    if (s && (s.state === 'created' || s.state === 'running')) {
      podHasInitialized = true;
      break;
    }
  }
  let previouslyInitialized = podHasInitialized;
  const restartOnFailure = shouldRestartOnFailure(pod);
  const toStart: number[] = [];

  for (let i = inits.length - 1; i >= 0; i--) {
    const container = inits[i]!;
    const sidecar = isRestartableInitContainer(container);
    const status = findContainerByName(runtime, container.name);
    if (!status) {
      if (previouslyInitialized && sidecar) toStart.push(i);
      continue;
    }
    if (previouslyInitialized && !sidecar) continue;

    switch (status.state) {
      case 'created':
        // Created but never started: the runtime likely failed to start it; start it again.
        toStart.push(i);
        break;
      case 'running': {
        if (!sidecar) break; // wait for it to finish
        const failure = input.probeFailures?.get(status.id);
        if (container.startupProbe) {
          if (failure === 'startup') {
            actions.containersToKill.push({ id: status.id, name: container.name, reason: 'StartupProbe', message: `Init container ${container.name} failed startup probe` });
            toStart.push(i);
            break;
          }
          if (!(input.isStarted?.(container.name) ?? true)) break; // wait for the startup probe
        }
        if (i === inits.length - 1) podHasInitialized = true;
        else if (!previouslyInitialized) toStart.push(i + 1);
        if (containerChanged(container, status)) {
          actions.containersToKill.push({ id: status.id, name: container.name, reason: 'SpecChanged', message: `Init container ${container.name} definition changed` });
          toStart.push(i);
          break;
        }
        if (container.livenessProbe && failure === 'liveness') {
          actions.containersToKill.push({ id: status.id, name: container.name, reason: 'LivenessProbe', message: `Init container ${container.name} failed liveness probe` });
          toStart.push(i);
        }
        break;
      }
      case 'exited':
        if (sidecar) {
          toStart.push(i);
        } else if (isInitContainerFailed(status)) {
          if (!restartOnFailure) {
            actions.killPod = true;
            actions.initContainersToStart = [];
            return false;
          }
          toStart.push(i);
        } else if (i === inits.length - 1) {
          podHasInitialized = true;
        } else {
          toStart.push(i + 1);
        }
        break;
      default: // unknown
        if (!sidecar && !restartOnFailure) {
          actions.killPod = true;
          actions.initContainersToStart = [];
          return false;
        }
        actions.containersToKill.push({ id: status.id, name: container.name, reason: 'Unknown', message: `Init container is in "unknown" state, try killing it before restart` });
        toStart.push(i);
    }
    previouslyInitialized = true;
  }
  if (!previouslyInitialized) toStart.push(0);
  actions.initContainersToStart = [...new Set(toStart)].sort((a, b) => a - b);
  return podHasInitialized;
}

/** Moves containers whose last run ended less than their back-off ago from the start lists to `backOff` (doBackOff). */
function applyBackoff(input: PodActionsInput, actions: PodActions): PodActions {
  const { pod, runtime } = input;
  const filter = (indexes: number[], containers: Container[], init: boolean): number[] =>
    indexes.filter((i) => {
      const container = containers[i]!;
      const exited = runtime.containers.find((c) => c.state === 'exited' && containerNameOf(c) === container.name);
      if (!exited) return true;
      const key = backoffKey(pod, container);
      const since = exited.finishedAt;
      if (!input.backoff.isInBackOffSince(key, since)) return true;
      actions.backOff.push({
        name: container.name,
        init,
        key,
        message: `back-off ${goDuration(input.backoff.get(key))} restarting failed container=${container.name} pod=${formatPod(pod)}`,
        remainingMs: input.backoff.remainingMs(key, since),
      });
      return false;
    });
  actions.initContainersToStart = filter(actions.initContainersToStart, pod.spec?.initContainers ?? [], true);
  actions.containersToStart = filter(actions.containersToStart, pod.spec?.containers ?? [], false);
  return actions;
}
