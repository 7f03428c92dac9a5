/**
 * What a stage turns a pod into: a pure function of the pod, the stage and the node's facts (the kuberuntime habit
 * of planning with a pure function, then acting). The engine writes the result through pods/status or deletes.
 */
import { createHash } from 'node:crypto';
import type { ContainerStatus, PodCondition } from 'kubernetes-types/core/v1.js';
import type { Mutable } from '../../api/object.js';
import { rfc3339 } from '../../api/time.js';
import { EXIT_CODE_ANNOTATION } from './default-stages.js';
import type { Pod } from './objects.js';
import { renderTemplate, type Stage } from './stage.js';

export interface StageContext {
  now: Date;
  hostIP: string;
  /** The address allocated for the pod; required when the stage uses ${podIP}. */
  podIP?: string;
}

export type StageResult = { delete: true } | { delete: false; pod: Mutable<Pod> };

/** The container ID a simulated container keeps for its life: stable per pod uid and container name. */
export function simulatedContainerID(podUID: string, containerName: string): string {
  return `simulated://${createHash('sha256').update(`${podUID}/${containerName}`).digest('hex')}`;
}

/** `repo@sha256:<digest>` as container runtimes report imageID; the digest is derived from the reference. */
export function simulatedImageID(image: string): string {
  if (image.includes('@')) return image;
  const lastSlash = image.lastIndexOf('/');
  const colon = image.indexOf(':', lastSlash + 1);
  const repo = colon < 0 ? image : image.slice(0, colon);
  return `${repo}@sha256:${createHash('sha256').update(image).digest('hex')}`;
}

/** The exit code from the annotation; a value that is not a whole number counts as 1 (the pod still fails). */
export function simulatedExitCode(pod: Pod): number {
  const raw = pod.metadata?.annotations?.[EXIT_CODE_ANNOTATION];
  if (raw === undefined) return 0;
  return /^-?\d+$/.test(raw.trim()) ? Number(raw.trim()) : 1;
}

export function computeStageResult(pod: Pod, stage: Stage, ctx: StageContext): StageResult {
  const next = stage.next;
  if (next.delete) return { delete: true };
  // Only status changes: the rest of the pod is shared with the (read-only) input, not copied.
  const status = (pod.status ? structuredClone(pod.status) : {}) as NonNullable<Mutable<Pod>['status']>;
  const out = { ...pod, status } as Mutable<Pod>;
  const now = rfc3339(ctx.now);
  const vars: Record<string, unknown> = {
    now,
    startTime: status.startTime ?? now,
    podIP: pod.spec?.hostNetwork ? ctx.hostIP : ctx.podIP,
    hostIP: ctx.hostIP,
    nodeName: pod.spec?.nodeName ?? '',
    exitCode: simulatedExitCode(pod),
  };
  if (next.status) Object.assign(status, renderTemplate(next.status, vars));
  if (next.conditions) status.conditions = upsertConditions(status.conditions ?? [], next.conditions, now);
  const uid = pod.metadata?.uid ?? '';
  if (next.containerStatus) {
    status.containerStatuses = containerStatuses(pod.spec?.containers ?? [], status.containerStatuses ?? [], next.containerStatus, vars, uid);
  }
  if (next.initContainerStatus && (pod.spec?.initContainers?.length ?? 0) > 0) {
    status.initContainerStatuses = containerStatuses(pod.spec!.initContainers!, status.initContainerStatuses ?? [], next.initContainerStatus, vars, uid);
  }
  return { delete: false, pod: out };
}

function upsertConditions(current: Mutable<PodCondition>[], templates: NonNullable<Stage['next']['conditions']>, now: string): Mutable<PodCondition>[] {
  const out = current.map((c) => ({ ...c }));
  for (const t of templates) {
    const existing = out.find((c) => c.type === t.type);
    if (existing) {
      if (existing.status !== t.status) {
        existing.status = t.status;
        existing.lastTransitionTime = now;
      }
      setOptional(existing, 'reason', t.reason);
      setOptional(existing, 'message', t.message);
    } else {
      const c: Mutable<PodCondition> = { type: t.type, status: t.status, lastProbeTime: null as unknown as string, lastTransitionTime: now };
      setOptional(c, 'reason', t.reason);
      setOptional(c, 'message', t.message);
      out.push(c);
    }
  }
  return out;
}

function setOptional(c: Mutable<PodCondition>, field: 'reason' | 'message', value: string | undefined): void {
  if (value === undefined) delete c[field];
  else c[field] = value;
}

function containerStatuses(
  containers: readonly { name: string; image?: string }[],
  previous: readonly Mutable<ContainerStatus>[],
  template: Record<string, unknown>,
  podVars: Record<string, unknown>,
  uid: string,
): Mutable<ContainerStatus>[] {
  return containers.map((c) => {
    const prev = previous.find((p) => p.name === c.name);
    const image = c.image ?? '';
    const containerID = prev?.containerID ?? simulatedContainerID(uid, c.name);
    const vars = {
      ...podVars,
      containerID,
      containerName: c.name,
      image,
      startedAt: prev?.state?.running?.startedAt ?? prev?.state?.terminated?.startedAt ?? podVars.startTime,
      restartCount: prev?.restartCount ?? 0,
    };
    const rendered = renderTemplate(template, vars) as Partial<Mutable<ContainerStatus>>;
    return {
      image,
      imageID: simulatedImageID(image),
      containerID,
      lastState: {},
      ready: false,
      restartCount: 0,
      ...rendered,
      name: c.name,
    } as Mutable<ContainerStatus>;
  });
}
