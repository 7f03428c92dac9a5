/**
 * Plays stages on pods (kwok's StageController, small): each observed pod is matched against the stage list; the
 * first matching stage is scheduled after its delay on the injected clock; when it falls due the engine re-reads the
 * pod from the cache, checks the stage still matches, and writes the result (pods/status PUT with the pod's
 * resourceVersion as precondition) or deletes the pod. The write's own watch event brings the pod back to observe(),
 * which schedules the next stage, so a lifecycle is a chain of stages with no state kept here beyond the timers.
 */
import { podKey } from '../../api/pod.js';
import { isConflict, isNotFound } from '../../api/status.js';
import { Pods } from '../../client/resources.js';
import type { Client, Clock } from '../../client/types.js';
import { computeStageResult } from './compute-stage-result.js';
import type { Pod } from './objects.js';
import type { ConcurrencyLimit } from './concurrency-limit.js';
import type { PodIPAllocator } from './pod-ip-allocator.js';
import { matchStage, stageDelayMs, type CompiledStage } from './stage.js';

export interface StageEngineOptions {
  client: Client;
  clock: Clock;
  stages: readonly CompiledStage[];
  /** The latest cached pod (the pod informer's lister). */
  lookup(namespace: string, name: string): Pod | undefined;
  /** Whether the pod's node is up; a silent kubelet moves none of its pods (observe() is called again on resume). */
  active(pod: Pod): boolean;
  hostIP(nodeName: string): string;
  ips: PodIPAllocator;
  /** Bounds the writes in flight. */
  limit: ConcurrencyLimit;
  random: () => number;
  log: (message: string) => void;
}

interface Pending {
  uid: string;
  stage: CompiledStage;
  timer: { cancel(): void };
  /** Failed attempts so far, for the retry backoff. */
  failures: number;
}

/** Conflicting writes retried at once with a fresh read before the attempt counts as failed. */
const CONFLICT_RETRIES = 3;
const RETRY_BASE_MS = 1000;
const RETRY_MAX_MS = 30_000;

export class StageEngine {
  private readonly pending = new Map<string, Pending>();
  /** Pods already sent their final delete (a pod with finalizers stays until they go; deleting again is noise). */
  private readonly deleted = new Set<string>();
  /** Pods whose delay annotation was reported as unreadable, so it is reported once. */
  private readonly reportedAnnotation = new Set<string>();
  /** Stages reported as matching their own result. */
  private readonly reportedLoops = new Set<string>();
  private stopped = false;

  constructor(private readonly o: StageEngineOptions) {}

  /** Stages waiting for their delay or in flight. */
  get pendingCount(): number {
    return this.pending.size;
  }

  /** Looks at a pod's current state: (re)schedules the stage that matches it, or cancels one that no longer does. */
  observe(pod: Pod): void {
    if (this.stopped) return;
    const key = podKey(pod);
    const uid = pod.metadata?.uid ?? '';
    const stage = matchStage(this.o.stages, pod);
    const current = this.pending.get(key);
    // A stage keeps its timer through unrelated updates; its delay runs from when it first matched.
    if (current && current.uid === uid && current.stage === stage) return;
    current?.timer.cancel();
    this.pending.delete(key);
    if (!stage || (stage.stage.next.delete && this.deleted.has(uid))) return;
    const { ms, annotationError } = stageDelayMs(stage.stage, pod, this.o.random);
    if (annotationError && !this.reportedAnnotation.has(uid)) {
      this.reportedAnnotation.add(uid);
      this.o.log(`pod ${key}: stage ${stage.name}: ${annotationError}`);
    }
    const entry: Pending = { uid, stage, timer: { cancel() {} }, failures: 0 };
    entry.timer = this.o.clock.setTimeout(() => this.fire(key, entry), ms);
    this.pending.set(key, entry);
  }

  /** The pod is gone: drop its timer and bookkeeping. */
  forget(pod: Pod): void {
    const key = podKey(pod);
    const uid = pod.metadata?.uid ?? '';
    const current = this.pending.get(key);
    if (current && current.uid === uid) {
      current.timer.cancel();
      this.pending.delete(key);
    }
    this.deleted.delete(uid);
    this.reportedAnnotation.delete(uid);
  }

  stop(): void {
    this.stopped = true;
    for (const p of this.pending.values()) p.timer.cancel();
    this.pending.clear();
  }

  private fire(key: string, entry: Pending): void {
    if (this.stopped || this.pending.get(key) !== entry) return;
    this.o.limit
      .run(() => this.play(key, entry))
      .then(
        () => {
          if (this.pending.get(key) === entry) this.pending.delete(key);
        },
        (err: Error) => {
          if (this.stopped || this.pending.get(key) !== entry) return;
          const wait = Math.min(RETRY_BASE_MS * 2 ** entry.failures, RETRY_MAX_MS);
          entry.failures++;
          this.o.log(`pod ${key}: stage ${entry.stage.name}: ${err.message}; retrying in ${wait}ms`);
          entry.timer = this.o.clock.setTimeout(() => this.fire(key, entry), wait);
        },
      );
  }

  private async play(key: string, entry: Pending): Promise<void> {
    const [namespace, name] = splitPodKey(key);
    let pod = this.o.lookup(namespace, name);
    if (!pod || pod.metadata?.uid !== entry.uid || !this.o.active(pod)) return;
    const { stage } = entry;
    for (let attempt = 0; ; attempt++) {
      if (!stage.matches(pod)) {
        // The pod moved on (seen in a fresh read after a conflict); its watch event brings it back to observe().
        return;
      }
      if (stage.stage.next.delete) {
        await this.finalDelete(namespace, name, entry.uid);
        return;
      }
      const nodeName = pod.spec?.nodeName ?? '';
      const podIP = stage.usesPodIP && !pod.spec?.hostNetwork ? this.o.ips.allocate(pod) : undefined;
      const result = computeStageResult(pod, stage.stage, { now: this.o.clock.now(), hostIP: this.o.hostIP(nodeName), ...(podIP ? { podIP } : {}) });
      if (result.delete) return;
      if (stage.matches(result.pod)) {
        if (!this.reportedLoops.has(stage.name)) {
          this.reportedLoops.add(stage.name);
          this.o.log(`stage ${stage.name} still matches the pod it produced (pod ${key}); not applied: a stage must change what its selector reads`);
        }
        return;
      }
      try {
        await this.o.client.patch(Pods, namespace, name, 'merge', statusPatch(pod, result.pod), { subresource: 'status' });
        return;
      } catch (err) {
        if (isNotFound(err)) return;
        if (!isConflict(err) || attempt >= CONFLICT_RETRIES) throw err;
      }
      // Someone else wrote the pod first (the cache was behind): read it fresh and decide again.
      try {
        pod = await this.o.client.get<Pod>(Pods, namespace, name);
      } catch (err) {
        if (isNotFound(err)) return;
        throw err;
      }
      if (pod.metadata?.uid !== entry.uid) return;
    }
  }

  private async finalDelete(namespace: string, name: string, uid: string): Promise<void> {
    try {
      await this.o.client.delete(Pods, namespace, name, { gracePeriodSeconds: 0, preconditions: { uid } });
    } catch (err) {
      // Gone already, or a new pod took the name (the uid precondition failed): nothing of ours to delete.
      if (!isNotFound(err) && !isConflict(err)) throw err;
    }
    this.deleted.add(uid);
  }
}

function splitPodKey(key: string): [string, string] {
  const slash = key.indexOf('/');
  return [key.slice(0, slash), key.slice(slash + 1)];
}

/**
 * The write a kubelet makes (its status manager's PatchPodStatus): a merge patch of pods/status carrying the whole new
 * status, with the keys the new status dropped set to null, on the resourceVersion the stage was computed from (a
 * pod that moved on meanwhile is a conflict, as with an update). Only the status travels, not the pod.
 */
export function statusPatch(before: Pod, after: Pod): { metadata: { resourceVersion?: string }; status: Record<string, unknown> } {
  const status: Record<string, unknown> = {};
  for (const k in before.status) status[k] = null;
  Object.assign(status, after.status);
  return { metadata: { resourceVersion: before.metadata?.resourceVersion }, status };
}
