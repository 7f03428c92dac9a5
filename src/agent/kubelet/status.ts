/**
 * The pod status as kubelet reports it, as a pure function (pkg/kubelet/kubelet_pods.go generateAPIPodStatus,
 * convertToAPIContainerStatuses and getPhase; pkg/kubelet/status/generate.go for the conditions; the status manager's
 * lastTransitionTime and startTime rules; prober_manager.UpdatePodStatus for ready and started).
 */
import type { Container, ContainerState, ContainerStatus as ApiContainerStatus, Pod, PodCondition, PodStatus } from 'kubernetes-types/core/v1.js';
import { rfc3339 } from '../../api/time.js';
import type { ContainerStatus } from '../runtime/types.js';
import { isRestartableInitContainer, podSandboxChanged, restartPolicyOf, shouldContainerBeRestarted } from './compute-pod-actions.js';
import { computePodQos } from './qos.js';
import { containerNameOf, findContainerByName, restartCountOf, type RuntimePodStatus } from './runtime-pod-status.js';

/** Why a container waits after a failed start (kubelet's reasonCache): CrashLoopBackOff, ErrImagePull, ... */
export interface WaitingReason {
  reason: string;
  message: string;
}

export interface PodStatusInput {
  pod: Pod;
  /** The status last reported (the worker's last write, else pod.status): old container states, transition times. */
  previous?: PodStatus;
  runtime: RuntimePodStatus;
  /** Prefix of containerID, e.g. `containerd` or `process`. */
  runtimeType: string;
  isReady(containerName: string): boolean;
  isStarted(containerName: string): boolean;
  waiting: ReadonlyMap<string, WaitingReason>;
  /** The node's addresses, primary first. */
  hostIPs: string[];
  /** The pod will not run again (deleted and stopped, or past its deadline): its phase becomes Succeeded or Failed. */
  podIsTerminal?: boolean;
  /** Pod-level outcome that overrides the phase, e.g. { phase: 'Failed', reason: 'DeadlineExceeded', message }. */
  override?: { phase: 'Failed' | 'Succeeded'; reason?: string; message?: string };
  now: number;
}

export const KUBELET_CONDITIONS = ['PodScheduled', 'Ready', 'Initialized', 'ContainersReady', 'PodReadyToStartContainers'];

export function computePodStatus(input: PodStatusInput): PodStatus {
  const { pod } = input;
  const old = input.previous ?? pod.status ?? {};
  const spec = pod.spec!;
  const hasInit = (spec.initContainers ?? []).length > 0;

  const initContainerStatuses = convertContainerStatuses(input, old.initContainerStatuses ?? [], spec.initContainers ?? [], hasInit, true);
  const containerStatuses = convertContainerStatuses(input, old.containerStatuses ?? [], spec.containers, hasInit, false);
  // Ephemeral containers are converted as init containers are (spec order, no waiting reason once succeeded); they
  // are never ready and have no started field (the prober does not know them).
  const ephemeral = (spec.ephemeralContainers ?? []) as Container[];
  const ephemeralContainerStatuses = convertContainerStatuses(input, old.ephemeralContainerStatuses ?? [], ephemeral, hasInit, true);
  setReadiness(input, initContainerStatuses, spec.initContainers ?? [], true);
  setReadiness(input, containerStatuses, spec.containers, false);

  let phase: string = getPhase(pod, [...initContainerStatuses, ...containerStatuses], input.podIsTerminal ?? false);
  // Terminal phases never change back (the three-way merge of generateAPIPodStatus).
  if (phase !== 'Failed' && phase !== 'Succeeded') {
    if (old.phase === 'Failed' || old.phase === 'Succeeded') phase = old.phase;
    else if (pod.status?.phase === 'Failed' || pod.status?.phase === 'Succeeded') phase = pod.status.phase;
  }
  let reason: string | undefined;
  let message: string | undefined;
  if (input.override && phase !== 'Succeeded') {
    phase = input.override.phase;
    reason = input.override.reason;
    message = input.override.message;
  } else if (phase === old.phase) {
    reason = old.reason;
    message = old.message;
  }

  // Conditions other components own stay (readiness gates, DisruptionTarget), ahead of kubelet's.
  const conditions: PodCondition[] = (pod.status?.conditions ?? []).filter((c) => !KUBELET_CONDITIONS.includes(c.type)).map((c) => ({ ...c }));
  conditions.push({ type: 'PodReadyToStartContainers', status: podSandboxChanged(pod, input.runtime.sandboxes).changed ? 'False' : 'True' });
  conditions.push(initializedCondition(pod, initContainerStatuses, containerStatuses, phase));
  conditions.push(readyCondition(pod, conditions, initContainerStatuses, containerStatuses, phase));
  conditions.push(containersReadyCondition(pod, initContainerStatuses, containerStatuses, phase));
  conditions.push({ type: 'PodScheduled', status: 'True' });
  for (const c of conditions) {
    if (!KUBELET_CONDITIONS.includes(c.type)) continue;
    const before = (old.conditions ?? []).find((o) => o.type === c.type);
    (c as { lastProbeTime?: string | null }).lastProbeTime = null;
    (c as { lastTransitionTime?: string }).lastTransitionTime = before && before.status === c.status && before.lastTransitionTime ? before.lastTransitionTime : rfc3339(input.now);
  }

  const status: PodStatus = { phase, conditions };
  if (reason) (status as { reason?: string }).reason = reason;
  if (message) (status as { message?: string }).message = message;
  if (input.hostIPs.length > 0) {
    (status as { hostIP?: string }).hostIP = input.hostIPs[0];
    (status as { hostIPs?: { ip: string }[] }).hostIPs = input.hostIPs.map((ip) => ({ ip }));
  } else if (old.hostIP) {
    Object.assign(status, { hostIP: old.hostIP, hostIPs: old.hostIPs });
  }
  const podIPs = podIPsOf(pod, input.runtime, input.hostIPs);
  if (podIPs.length > 0) Object.assign(status, { podIP: podIPs[0], podIPs: podIPs.map((ip) => ({ ip })) });
  else if (old.podIP) Object.assign(status, { podIP: old.podIP, podIPs: old.podIPs ?? [{ ip: old.podIP }] });
  Object.assign(status, { startTime: old.startTime ?? pod.status?.startTime ?? rfc3339(input.now) });
  if (initContainerStatuses.length > 0) Object.assign(status, { initContainerStatuses });
  Object.assign(status, { containerStatuses, qosClass: pod.status?.qosClass ?? computePodQos(pod) });
  if (ephemeralContainerStatuses.length > 0) Object.assign(status, { ephemeralContainerStatuses });
  return status;
}

/** The pod's addresses: the newest sandbox's IPs, the node's for host-network pods (or the host-network fallback). */
export function podIPsOf(pod: Pod, runtime: RuntimePodStatus, hostIPs: string[]): string[] {
  const sandbox = runtime.sandboxes[0];
  if (!sandbox || sandbox.state !== 'ready') return [];
  if (pod.spec?.hostNetwork || sandbox.network === 'host' || !sandbox.ip) return hostIPs.slice(0, 1);
  return [sandbox.ip, ...sandbox.additionalIps];
}

function convertContainerStatuses(input: PodStatusInput, previous: ApiContainerStatus[], containers: Container[], hasInit: boolean, isInit: boolean): ApiContainerStatus[] {
  const { pod, runtime } = input;
  const oldByName = new Map(previous.map((s) => [s.name, s]));
  const defaultWaiting = (): ContainerState => ({ waiting: { reason: hasInit ? 'PodInitializing' : 'ContainerCreating' } });
  const statuses = new Map<string, ApiContainerStatus>();

  for (const c of containers) {
    const old = oldByName.get(c.name);
    let s: ApiContainerStatus = { name: c.name, state: defaultWaiting(), lastState: {}, ready: false, restartCount: 0, image: c.image ?? '', imageID: '' };
    if (old) {
      if (old.state?.terminated) s = structuredClone(old);
      else s = { ...s, restartCount: old.restartCount ?? 0, lastState: structuredClone(old.lastState ?? {}) };
    }
    statuses.set(c.name, s);
  }

  // A container that was running and vanished from the runtime terminated, even if we never saw how.
  for (const c of containers) {
    if (runtime.containers.some((rc) => containerNameOf(rc) === c.name && rc.state === 'created')) continue;
    const old = oldByName.get(c.name);
    if (!old || old.state?.terminated || !old.state?.running) continue;
    if (findContainerByName(runtime, c.name)) continue;
    const s = statuses.get(c.name)!;
    const isDefault = s.state?.waiting?.reason === (hasInit ? 'PodInitializing' : 'ContainerCreating');
    if (!isDefault || s.lastState?.terminated) continue;
    s.lastState = { terminated: { reason: 'ContainerStatusUnknown', message: 'The container could not be located when the pod was deleted.  The container used to be Running', exitCode: 137 } };
    if (!pod.metadata?.deletionTimestamp) s.restartCount = (s.restartCount ?? 0) + 1;
  }

  const seen = new Map<string, number>();
  for (const rc of runtime.containers) {
    const name = containerNameOf(rc);
    if (!statuses.has(name)) continue;
    const n = seen.get(name) ?? 0;
    if (n >= 2) continue;
    const converted = convertRuntimeContainer(input.runtimeType, rc, oldByName.get(name));
    if (n === 0) statuses.set(name, converted);
    else statuses.get(name)!.lastState = converted.state ?? {};
    seen.set(name, n + 1);
  }

  // Containers that failed to start, or wait out a back-off, show why.
  for (const c of containers) {
    if (isInit) {
      const s = findContainerByName(runtime, c.name);
      if (s && s.state === 'exited' && s.exitCode === 0) continue;
    }
    if (!shouldContainerBeRestarted(c, pod, runtime)) continue;
    const why = input.waiting.get(c.name);
    if (!why) continue;
    const s = statuses.get(c.name)!;
    if (s.state?.terminated) s.lastState = s.state;
    s.state = { waiting: { reason: why.reason, ...(why.message ? { message: why.message } : {}) } };
  }

  const out = containers.map((c) => statuses.get(c.name)!);
  // Regular containers are sorted by name (kubetypes.SortedContainerStatuses); init containers keep spec order.
  if (!isInit) out.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  return out;
}

function convertRuntimeContainer(runtimeType: string, rc: ContainerStatus, old: ApiContainerStatus | undefined): ApiContainerStatus {
  const containerID = `${runtimeType}://${rc.id}`;
  const s: ApiContainerStatus = {
    name: containerNameOf(rc),
    state: {},
    lastState: {},
    ready: false,
    restartCount: restartCountOf(rc),
    image: rc.image,
    imageID: rc.imageRef,
    containerID,
  };
  switch (rc.state) {
    case 'running':
      s.state = { running: { startedAt: rfc3339(rc.startedAt || rc.createdAt) } };
      break;
    case 'created':
      s.state = { waiting: {} };
      break;
    case 'exited':
      s.state = {
        terminated: {
          exitCode: rc.exitCode,
          reason: rc.reason || (rc.exitCode === 0 ? 'Completed' : 'Error'),
          ...(rc.message ? { message: rc.message } : {}),
          ...(rc.startedAt ? { startedAt: rfc3339(rc.startedAt) } : {}),
          ...(rc.finishedAt ? { finishedAt: rfc3339(rc.finishedAt) } : {}),
          containerID,
        },
      };
      break;
    default:
      if (old?.state?.running) {
        s.state = { terminated: { reason: 'ContainerStatusUnknown', message: 'The container could not be located when the pod was terminated', exitCode: 137 } };
        s.restartCount = (old.restartCount ?? 0) + 1;
      } else {
        s.state = { waiting: {} };
      }
  }
  return s;
}

/** ready and started, as the prober manager sets them (prober_manager.go UpdatePodStatus). */
function setReadiness(input: PodStatusInput, statuses: ApiContainerStatus[], containers: Container[], isInit: boolean): void {
  for (const s of statuses) {
    const spec = containers.find((c) => c.name === s.name);
    const running = !!s.state?.running;
    const started = running && input.isStarted(s.name);
    s.started = started;
    if (isInit && spec && !isRestartableInitContainer(spec)) {
      s.ready = !!s.state?.terminated && s.state.terminated.exitCode === 0;
      continue;
    }
    s.ready = started && input.isReady(s.name);
  }
}

/** getPhase (pkg/kubelet/kubelet_pods.go), restartPolicy and sidecars included. */
export function getPhase(pod: Pod, statuses: ApiContainerStatus[], podIsTerminal: boolean): 'Pending' | 'Running' | 'Succeeded' | 'Failed' {
  const spec = pod.spec!;
  const byName = new Map(statuses.map((s) => [s.name, s]));
  let pendingInit = 0;
  let pendingSidecars = 0;
  let failedInit = 0;
  for (const c of spec.initContainers ?? []) {
    if (isRestartableInitContainer(c)) continue;
    const s = byName.get(c.name);
    if (!s) pendingInit++;
    else if (s.state?.running) pendingInit++;
    else if (s.state?.terminated) {
      if (s.state.terminated.exitCode !== 0) failedInit++;
    } else if (s.state?.waiting) {
      if (s.lastState?.terminated) {
        if (s.lastState.terminated.exitCode !== 0) failedInit++;
      } else pendingInit++;
    } else pendingInit++;
  }
  let unknown = 0;
  let running = 0;
  let waiting = 0;
  let stopped = 0;
  let succeeded = 0;
  for (const c of spec.initContainers ?? []) {
    if (!isRestartableInitContainer(c)) continue;
    const s = byName.get(c.name);
    if (!s) unknown++;
    else if (s.state?.running) {
      if (!s.started) pendingSidecars++;
      running++;
    } else if (s.state?.terminated) {
      // A stopped sidecar does not decide the phase.
    } else if (s.state?.waiting) {
      if (!s.lastState?.terminated) {
        pendingSidecars++;
        waiting++;
      }
    } else {
      pendingSidecars++;
      unknown++;
    }
  }
  for (const c of spec.containers) {
    const s = byName.get(c.name);
    if (!s) unknown++;
    else if (s.state?.running) running++;
    else if (s.state?.terminated) {
      stopped++;
      if (s.state.terminated.exitCode === 0) succeeded++;
    } else if (s.state?.waiting) {
      if (s.lastState?.terminated) stopped++;
      else waiting++;
    } else unknown++;
  }
  const policy = restartPolicyOf(pod);
  if (failedInit > 0 && policy === 'Never') return 'Failed';
  if (pendingInit > 0 || pendingSidecars > 0) return 'Pending';
  if (waiting > 0) return 'Pending';
  if (running > 0 && unknown === 0) return 'Running';
  if (running === 0 && stopped > 0 && unknown === 0) {
    if (podIsTerminal) return stopped === succeeded ? 'Succeeded' : 'Failed';
    if (policy === 'Always') return 'Running';
    if (stopped === succeeded) return 'Succeeded';
    if (policy === 'Never') return 'Failed';
    return 'Running';
  }
  return 'Pending';
}

/** Go's fmt %s of a []string: `[a b]`. */
const goList = (names: string[]) => `[${names.join(' ')}]`;

function containersReadyCondition(pod: Pod, init: ApiContainerStatus[], regular: ApiContainerStatus[], phase: string): PodCondition {
  const unknown: string[] = [];
  const unready: string[] = [];
  const check = (c: Container, list: ApiContainerStatus[]) => {
    const s = list.find((x) => x.name === c.name);
    if (!s) unknown.push(c.name);
    else if (!s.ready) unready.push(c.name);
  };
  for (const c of pod.spec?.initContainers ?? []) if (isRestartableInitContainer(c)) check(c, init);
  for (const c of pod.spec!.containers) check(c, regular);
  if (phase === 'Succeeded' && unknown.length === 0) return { type: 'ContainersReady', status: 'False', reason: 'PodCompleted' };
  if (phase === 'Failed') return { type: 'ContainersReady', status: 'False', reason: 'PodFailed' };
  const messages: string[] = [];
  if (unknown.length) messages.push(`containers with unknown status: ${goList(unknown)}`);
  if (unready.length) messages.push(`containers with unready status: ${goList(unready)}`);
  if (messages.length) return { type: 'ContainersReady', status: 'False', reason: 'ContainersNotReady', message: messages.join(', ') };
  return { type: 'ContainersReady', status: 'True' };
}

function readyCondition(pod: Pod, conditions: PodCondition[], init: ApiContainerStatus[], regular: ApiContainerStatus[], phase: string): PodCondition {
  const containersReady = containersReadyCondition(pod, init, regular, phase);
  if (containersReady.status !== 'True') return { ...containersReady, type: 'Ready' };
  const messages: string[] = [];
  for (const gate of pod.spec?.readinessGates ?? []) {
    const c = conditions.find((x) => x.type === gate.conditionType);
    if (!c) messages.push(`corresponding condition of pod readiness gate "${gate.conditionType}" does not exist.`);
    else if (c.status !== 'True') messages.push(`the status of pod readiness gate "${gate.conditionType}" is not "True", but ${c.status}`);
  }
  if (messages.length) return { type: 'Ready', status: 'False', reason: 'ReadinessGatesNotReady', message: messages.join(', ') };
  return { type: 'Ready', status: 'True' };
}

function initializedCondition(pod: Pod, init: ApiContainerStatus[], regular: ApiContainerStatus[], phase: string): PodCondition {
  const unknown: string[] = [];
  const incomplete: string[] = [];
  for (const c of pod.spec?.initContainers ?? []) {
    const s = init.find((x) => x.name === c.name);
    if (!s) {
      unknown.push(c.name);
      continue;
    }
    if (isRestartableInitContainer(c)) {
      if (!s.started) incomplete.push(c.name);
      continue;
    }
    if (!s.ready) incomplete.push(c.name);
  }
  if (phase === 'Succeeded' && unknown.length === 0) return { type: 'Initialized', status: 'True', reason: 'PodCompleted' };
  const names = new Set(pod.spec!.containers.map((c) => c.name));
  if (regular.some((s) => names.has(s.name) && (s.state?.running || s.state?.terminated))) return { type: 'Initialized', status: 'True' };
  const messages: string[] = [];
  if (unknown.length) messages.push(`containers with unknown status: ${goList(unknown)}`);
  if (incomplete.length) messages.push(`containers with incomplete status: ${goList(incomplete)}`);
  if (messages.length) return { type: 'Initialized', status: 'False', reason: 'ContainersNotInitialized', message: messages.join(', ') };
  return { type: 'Initialized', status: 'True' };
}
