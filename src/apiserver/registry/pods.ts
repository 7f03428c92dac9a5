/** core/v1 Pods: defaults users see in `-o yaml`, spec validation, the update rules and the kubectl pod table. */
import type { Pod, PodSpec, PodStatus, ContainerStatus } from 'kubernetes-types/core/v1.js';
import type { KubeObject } from '../../api/object.js';
import { ageOf } from '../../api/age.js';
import { fieldForbidden, type FieldError } from '../../api/status.js';
import { deepEqual, nameIsDNSSubdomain } from '../../api/validation.js';
import { defineResource, statusOf } from './define-resource.js';
import { podEvictionSubresource } from './pod-eviction.js';
import { podBinding, podConnectSubresources, podDeletion, podEphemeralContainers } from './pod-rules.js';
import { computeQosClass, defaultPodSpec, validatePodSpec } from './pod-spec.js';
import { age, as, column, nameColumn, ageColumn } from './table-columns.js';

function podSpec(obj: KubeObject): PodSpec {
  if (typeof obj.spec !== 'object' || obj.spec === null) obj.spec = { containers: [] };
  return obj.spec as PodSpec;
}

const podUpdateMessage =
  'pod updates may not change fields other than `spec.containers[*].image`,`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,`spec.tolerations` (only additions to existing tolerations),`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)';

/**
 * Pod specs are immutable but for images, activeDeadlineSeconds, added tolerations and a negative grace
 * period raised to 1 (ValidatePodUpdate). spec.nodeName is set through pods/binding only, whose own rules
 * replace these.
 */
function validatePodUpdate(obj: KubeObject, old: KubeObject): FieldError[] {
  const prev = (old.spec ?? {}) as PodSpec;
  // Most updates leave the spec as it is (labels, annotations, finalizers): nothing to copy and compare then.
  if (deepEqual(obj.spec ?? {}, prev)) return [];
  const next = structuredClone((obj.spec ?? {}) as PodSpec);
  const copyImages = (to: PodSpec['containers'] | undefined, from: PodSpec['containers'] | undefined) => {
    to?.forEach((c, i) => {
      if (from?.[i]) c.image = from[i]!.image;
    });
  };
  copyImages(next.containers, prev.containers);
  copyImages(next.initContainers, prev.initContainers);
  next.activeDeadlineSeconds = prev.activeDeadlineSeconds;
  const oldTolerations = prev.tolerations ?? [];
  const newTolerations = next.tolerations ?? [];
  if (oldTolerations.every((t) => newTolerations.some((n) => deepEqual(n, t)))) next.tolerations = prev.tolerations;
  if ((prev.terminationGracePeriodSeconds ?? 0) < 0 && next.terminationGracePeriodSeconds === 1) next.terminationGracePeriodSeconds = prev.terminationGracePeriodSeconds;
  const errs: FieldError[] = [];
  if (!deepEqual(next, prev)) errs.push(fieldForbidden('spec', podUpdateMessage));
  if ((prev.activeDeadlineSeconds ?? 0) > 0 && (obj.spec as PodSpec | undefined)?.activeDeadlineSeconds === undefined) {
    errs.push(fieldForbidden('spec.activeDeadlineSeconds', 'must not update from a positive integer to nil value'));
  }
  return errs;
}

function lastTerminated(cs: ContainerStatus): number {
  const finished = cs.lastState?.terminated?.finishedAt;
  return finished ? new Date(finished).getTime() : 0;
}

function conditionTrue(status: PodStatus, type: string): boolean {
  return (status.conditions ?? []).some((c) => c.type === type && c.status === 'True');
}

/** The READY, STATUS and RESTARTS cells, computed as kubectl's pod printer does (printPod). */
export function podStatusCells(pod: Pod, now: Date): { ready: string; reason: string; restarts: string } {
  const spec = pod.spec ?? { containers: [] };
  const status = pod.status ?? {};
  let restarts = 0;
  let restartableInitRestarts = 0;
  let total = spec.containers?.length ?? 0;
  let ready = 0;
  let lastRestart = 0;
  let lastRestartableInitRestart = 0;
  let reason = status.reason || status.phase || '';
  if ((status.conditions ?? []).some((c) => c.type === 'PodScheduled' && c.reason === 'SchedulingGated')) reason = 'SchedulingGated';

  const initSpecs = new Map((spec.initContainers ?? []).map((c) => [c.name, c]));
  for (const c of spec.initContainers ?? []) if (c.restartPolicy === 'Always') total++;

  let initializing = false;
  const initStatuses = status.initContainerStatuses ?? [];
  for (let i = 0; i < initStatuses.length; i++) {
    const cs = initStatuses[i]!;
    const restartable = initSpecs.get(cs.name)?.restartPolicy === 'Always';
    restarts += cs.restartCount ?? 0;
    lastRestart = Math.max(lastRestart, lastTerminated(cs));
    if (restartable) {
      restartableInitRestarts += cs.restartCount ?? 0;
      lastRestartableInitRestart = Math.max(lastRestartableInitRestart, lastTerminated(cs));
    }
    const terminated = cs.state?.terminated;
    const waiting = cs.state?.waiting;
    if (terminated && terminated.exitCode === 0) continue;
    if (restartable && cs.started) {
      if (cs.ready) ready++;
      continue;
    }
    if (terminated) {
      if (terminated.reason) reason = `Init:${terminated.reason}`;
      else if (terminated.signal) reason = `Init:Signal:${terminated.signal}`;
      else reason = `Init:ExitCode:${terminated.exitCode}`;
    } else if (waiting?.reason && waiting.reason !== 'PodInitializing') {
      reason = `Init:${waiting.reason}`;
    } else {
      reason = `Init:${i}/${spec.initContainers?.length ?? 0}`;
    }
    initializing = true;
    break;
  }

  if (!initializing || conditionTrue(status, 'Initialized')) {
    restarts = restartableInitRestarts;
    lastRestart = lastRestartableInitRestart;
    let hasRunning = false;
    const statuses = status.containerStatuses ?? [];
    for (let i = statuses.length - 1; i >= 0; i--) {
      const cs = statuses[i]!;
      restarts += cs.restartCount ?? 0;
      lastRestart = Math.max(lastRestart, lastTerminated(cs));
      const terminated = cs.state?.terminated;
      const waiting = cs.state?.waiting;
      if (waiting?.reason) reason = waiting.reason;
      else if (terminated?.reason) reason = terminated.reason;
      else if (terminated) reason = terminated.signal ? `Signal:${terminated.signal}` : `ExitCode:${terminated.exitCode}`;
      else if (cs.ready && cs.state?.running) {
        hasRunning = true;
        ready++;
      }
    }
    if (reason === 'Completed' && hasRunning) reason = conditionTrue(status, 'Ready') ? 'Running' : 'NotReady';
  }

  if (pod.metadata?.deletionTimestamp && status.reason === 'NodeLost') reason = 'Unknown';
  else if (pod.metadata?.deletionTimestamp && status.phase !== 'Succeeded' && status.phase !== 'Failed') reason = 'Terminating';

  let restartsCell = String(restarts);
  if (restarts !== 0 && lastRestart !== 0) restartsCell = `${restarts} (${ageOf(new Date(lastRestart), now)} ago)`;
  return { ready: `${ready}/${total}`, reason, restarts: restartsCell };
}

function podIP(pod: Pod): string {
  return pod.status?.podIPs?.[0]?.ip ?? pod.status?.podIP ?? '';
}

export const pods = defineResource({
  group: '',
  version: 'v1',
  kind: 'Pod',
  plural: 'pods',
  singular: 'pod',
  namespaced: true,
  shortNames: ['po'],
  categories: ['all'],
  hasStatus: true,
  schemaName: 'io.k8s.api.core.v1.Pod',
  // Pods only track generation from Kubernetes 1.33 on; skiff follows 1.32.
  tracksGeneration: false,
  nameValidator: nameIsDNSSubdomain,
  defaults(obj) {
    defaultPodSpec(podSpec(obj));
  },
  prepareForCreate(obj) {
    const status = statusOf<PodStatus>(obj);
    status.phase = 'Pending';
    status.qosClass = computeQosClass(podSpec(obj));
  },
  validateSpec(obj) {
    return validatePodSpec(obj.spec as PodSpec | undefined, 'spec');
  },
  validateSpecUpdate: validatePodUpdate,
  // podStatusStrategy: a status write keeps the stored spec, so only metadata is checked (upstream also validates
  // the status fields themselves; skiff does not yet, on any write).
  validateStatusUpdate: () => [],
  deletion: podDeletion,
  subresources: [podBinding, podEphemeralContainers, podEvictionSubresource, ...podConnectSubresources],
  printer: {
    columns: [
      nameColumn,
      column('Ready', 'The aggregate readiness state of this pod for accepting traffic.'),
      column('Status', 'The aggregate status of the containers in this pod.'),
      column('Restarts', 'The number of times the containers in this pod have been restarted and when the last container in this pod has restarted.'),
      ageColumn,
      column('IP', 'podIP address allocated to the pod. Routable at least within the cluster. Empty if not yet allocated.', { priority: 1 }),
      column('Node', 'NodeName indicates in which node this pod is scheduled.', { priority: 1 }),
      column('Nominated Node', 'nominatedNodeName is set only when this pod preempts other pods on the node.', { priority: 1 }),
      column('Readiness Gates', 'If specified, all readiness gates will be evaluated for pod readiness.', { priority: 1 }),
    ],
    row(obj, now) {
      const pod = as<Pod>(obj);
      const { ready, reason, restarts } = podStatusCells(pod, now);
      let gates = '<none>';
      const readinessGates = pod.spec?.readinessGates ?? [];
      if (readinessGates.length > 0) {
        const trueCount = readinessGates.filter((g) => pod.status?.conditions?.find((c) => c.type === g.conditionType)?.status === 'True').length;
        gates = `${trueCount}/${readinessGates.length}`;
      }
      return [
        obj.metadata.name ?? '',
        ready,
        reason,
        restarts,
        age(obj, now),
        podIP(pod) || '<none>',
        pod.spec?.nodeName || '<none>',
        pod.status?.nominatedNodeName || '<none>',
        gates,
      ];
    },
  },
  fieldSelectors: {
    'spec.nodeName': (o) => as<Pod>(o).spec?.nodeName ?? '',
    'spec.restartPolicy': (o) => as<Pod>(o).spec?.restartPolicy ?? '',
    'spec.schedulerName': (o) => as<Pod>(o).spec?.schedulerName ?? '',
    'spec.serviceAccountName': (o) => as<Pod>(o).spec?.serviceAccountName ?? '',
    'spec.hostNetwork': (o) => String(as<Pod>(o).spec?.hostNetwork === true),
    'status.phase': (o) => as<Pod>(o).status?.phase ?? '',
    'status.podIP': (o) => podIP(as<Pod>(o)),
    'status.nominatedNodeName': (o) => as<Pod>(o).status?.nominatedNodeName ?? '',
  },
});
