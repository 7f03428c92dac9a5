/**
 * The scheduling queue (internal/queue.PriorityQueue), three parts:
 * - activeQ: pods ready to be tried, ordered by the QueueSort plugin (priority, then time in queue);
 * - backoffQ: pods that failed and wait out a per-pod exponential backoff (1 s doubling to 10 s by default)
 *   before going back to activeQ;
 * - unschedulable pods: rejected pods that wait for a cluster event that could help them (a node added, a pod
 *   deleted, ...), as declared by the plugins that rejected them (EnqueueExtensions + queueing hints), or for
 *   5 minutes at most. Pods kept out by PreEnqueue (scheduling gates) wait here too.
 * It also records nominated pods (PodNominator): preemptors whose victims are terminating.
 *
 * Timers run on the injected Clock, so tests drive backoff and flushing by moving the clock.
 */
import type { Clock } from '../../client/types.js';
import { type ClusterEvent, type ClusterEventWithHint, type PodNominator, type QueuedPodInfo } from '../framework/interface.js';
import { PodInfo } from '../framework/pod-info.js';
import { Code, type Result } from '../framework/status.js';
import { podUid, type Pod } from '../framework/types.js';
import { Heap } from './heap.js';
import { UnschedulablePods } from './unschedulable-pods.js';
import { createLogger } from '../../log/logger.js';

const log = createLogger('kube-scheduler');

export interface SchedulingQueueOptions {
  clock: Clock;
  /** The QueueSort order: true when `a` is scheduled before `b`. */
  less: (a: QueuedPodInfo, b: QueuedPodInfo) => boolean;
  /** Default 1 s (kube-scheduler --pod-initial-backoff-seconds). */
  podInitialBackoffMs?: number;
  /** Default 10 s (--pod-max-backoff-seconds). */
  podMaxBackoffMs?: number;
  /** How long a pod may wait for an event before it is retried anyway; default 5 min. */
  podMaxInUnschedulablePodsDurationMs?: number;
  /** PreEnqueue plugins; a non-success keeps the pod gated. */
  preEnqueue?: (pod: Pod) => Result;
  /** The events each plugin registered, by plugin name. */
  pluginEvents?: ReadonlyMap<string, ClusterEventWithHint[]>;
}

/** Moves every unschedulable pod regardless of its plugins (flush timeout, forced activation). */
export const unschedulableTimeout: ClusterEvent = { resource: '*', actionType: -1, label: 'UnschedulableTimeout' };
export const forceActivate: ClusterEvent = { resource: '*', actionType: -1, label: 'ForceActivate' };

export type QueueName = 'activeQ' | 'backoffQ' | 'unschedulablePods';

const unschedulableFlushIntervalMs = 30_000;

function eventMatches(registered: { resource: string; actionType: number }, ev: ClusterEvent): boolean {
  if (ev.resource === '*') return true;
  const resourceOk =
    registered.resource === '*' ||
    registered.resource === ev.resource ||
    (registered.resource === 'Pod' && (ev.resource === 'AssignedPod' || ev.resource === 'UnscheduledPod'));
  return resourceOk && (registered.actionType & ev.actionType) !== 0;
}

/** The pod's content without the fields that change on every write (resourceVersion, managedFields, status). */
function schedulingRelevant(pod: Pod): string {
  const { resourceVersion: _rv, managedFields: _mf, generation: _g, ...meta } = pod.metadata;
  return JSON.stringify([meta, pod.spec]);
}

export class SchedulingQueue implements PodNominator {
  private readonly clock: Clock;
  private readonly activeQ: Heap<QueuedPodInfo>;
  private readonly backoffQ: Heap<QueuedPodInfo>;
  private readonly unschedulable = new UnschedulablePods();
  /** Plugins with a registration matching an event, by `resource|actionType`. */
  private readonly interestCache = new Map<string, ReadonlySet<string>>();
  private readonly inFlight = new Set<string>();
  private readonly waiters: ((qpi: QueuedPodInfo | undefined) => void)[] = [];
  private readonly initialBackoff: number;
  private readonly maxBackoff: number;
  private readonly maxUnschedulableMs: number;
  private readonly preEnqueue: ((pod: Pod) => Result) | undefined;
  private readonly pluginEvents: ReadonlyMap<string, ClusterEventWithHint[]>;
  private backoffTimer: { due: number; handle: { cancel(): void } } | undefined;
  private flushTimer: { cancel(): void } | undefined;
  private closed = false;

  /** Incremented on every pop; a failure in cycle N after a move request in cycle >= N goes to backoffQ. */
  schedulingCycle = 0;
  private moveRequestCycle = -1;

  // nominator
  private readonly nominatedPods = new Map<string, PodInfo[]>();
  private readonly nominatedPodToNode = new Map<string, string>();

  constructor(opts: SchedulingQueueOptions) {
    this.clock = opts.clock;
    this.activeQ = new Heap((q) => q.podInfo.uid, opts.less);
    this.backoffQ = new Heap((q) => q.podInfo.uid, (a, b) => this.backoffExpiry(a) < this.backoffExpiry(b));
    this.initialBackoff = opts.podInitialBackoffMs ?? 1000;
    this.maxBackoff = opts.podMaxBackoffMs ?? 10_000;
    this.maxUnschedulableMs = opts.podMaxInUnschedulablePodsDurationMs ?? 5 * 60_000;
    this.preEnqueue = opts.preEnqueue;
    this.pluginEvents = opts.pluginEvents ?? new Map();
  }

  private now(): number {
    return this.clock.now().getTime();
  }

  private newQueuedPodInfo(pod: Pod): QueuedPodInfo {
    return { podInfo: PodInfo.of(pod), timestamp: this.now(), attempts: 0, initialAttemptTimestamp: undefined, unschedulablePlugins: new Set(), gatingPlugin: undefined };
  }

  /** The per-pod backoff: initial * 2^(attempts-1), capped at the maximum. */
  backoffDuration(qpi: QueuedPodInfo): number {
    let d = this.initialBackoff;
    for (let i = 1; i < qpi.attempts; i++) {
      if (d > this.maxBackoff - d) return this.maxBackoff;
      d += d;
    }
    return Math.min(d, this.maxBackoff);
  }

  private backoffExpiry(qpi: QueuedPodInfo): number {
    return qpi.timestamp + this.backoffDuration(qpi);
  }

  private isBackingOff(qpi: QueuedPodInfo): boolean {
    return qpi.attempts > 0 && this.backoffExpiry(qpi) > this.now();
  }

  /** Runs PreEnqueue: true when the pod may enter activeQ, otherwise records the gating plugin. */
  private passesPreEnqueue(qpi: QueuedPodInfo): boolean {
    const s = this.preEnqueue?.(qpi.podInfo.pod);
    qpi.gatingPlugin = s && s.code !== Code.Success ? s.plugin || 'PreEnqueue' : undefined;
    return qpi.gatingPlugin === undefined;
  }

  private toActiveQ(qpi: QueuedPodInfo): void {
    if (!this.passesPreEnqueue(qpi)) {
      this.unschedulable.set(qpi);
      this.ensureFlushTimer();
      return;
    }
    const uid = qpi.podInfo.uid;
    this.backoffQ.delete(uid);
    this.unschedulable.delete(uid);
    const waiter = this.waiters.shift();
    if (waiter) waiter(this.markPopped(qpi));
    else this.activeQ.addOrUpdate(qpi);
  }

  private toBackoffQ(qpi: QueuedPodInfo): void {
    const uid = qpi.podInfo.uid;
    this.unschedulable.delete(uid);
    this.activeQ.delete(uid);
    this.backoffQ.addOrUpdate(qpi);
    this.ensureBackoffTimer();
  }

  // ---- pod events for pods this scheduler is responsible for

  /** A new unscheduled pod. */
  add(pod: Pod): void {
    const qpi = this.newQueuedPodInfo(pod);
    this.addNominatedPod(qpi.podInfo, undefined);
    this.toActiveQ(qpi);
  }

  /**
   * An unscheduled pod changed. In activeQ or backoffQ it is updated in place; an unschedulable pod whose spec
   * or metadata changed (not just its status) is given another try; a pod in no queue (and not being scheduled)
   * is added.
   */
  update(oldPod: Pod, newPod: Pod): void {
    const uid = podUid(newPod);
    const pi = PodInfo.of(newPod);
    const inActive = this.activeQ.get(uid);
    if (inActive) {
      this.updateNominatedPod(pi);
      this.activeQ.addOrUpdate({ ...inActive, podInfo: pi });
      return;
    }
    const inBackoff = this.backoffQ.get(uid);
    if (inBackoff) {
      this.updateNominatedPod(pi);
      this.backoffQ.addOrUpdate({ ...inBackoff, podInfo: pi });
      return;
    }
    const un = this.unschedulable.get(uid);
    if (un) {
      this.updateNominatedPod(pi);
      const qpi = { ...un, podInfo: pi };
      if (schedulingRelevant(oldPod) !== schedulingRelevant(newPod)) {
        this.unschedulable.delete(uid);
        if (qpi.gatingPlugin === undefined && this.isBackingOff(qpi)) this.toBackoffQ(qpi);
        else this.toActiveQ(qpi);
      } else {
        this.unschedulable.set(qpi);
      }
      return;
    }
    if (this.inFlight.has(uid)) return;
    this.add(newPod);
  }

  delete(pod: Pod): void {
    const uid = podUid(pod);
    this.deleteNominatedPodIfExists(pod);
    this.activeQ.delete(uid);
    this.backoffQ.delete(uid);
    this.unschedulable.delete(uid);
  }

  // ---- popping

  private markPopped(qpi: QueuedPodInfo): QueuedPodInfo {
    qpi.attempts++;
    qpi.initialAttemptTimestamp ??= this.now();
    this.schedulingCycle++;
    this.inFlight.add(qpi.podInfo.uid);
    return qpi;
  }

  /** The next pod to schedule, or undefined when activeQ is empty. */
  tryPop(): QueuedPodInfo | undefined {
    const qpi = this.activeQ.pop();
    return qpi && this.markPopped(qpi);
  }

  /** Waits for the next pod; resolves undefined once the queue is closed. */
  pop(): Promise<QueuedPodInfo | undefined> {
    if (this.closed) return Promise.resolve(undefined);
    const qpi = this.tryPop();
    if (qpi) return Promise.resolve(qpi);
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  /** The pod's scheduling attempt is over (bound, or requeued). */
  done(uid: string): void {
    this.inFlight.delete(uid);
  }

  /**
   * Requeues a pod after a failed attempt: to backoffQ when nothing rejected it (an error) or when a cluster
   * event arrived since its cycle started, otherwise to the unschedulable pods to wait for a useful event.
   */
  addUnschedulableIfNotPresent(qpi: QueuedPodInfo, podSchedulingCycle: number): void {
    const uid = qpi.podInfo.uid;
    this.inFlight.delete(uid);
    if (this.closed || this.activeQ.has(uid) || this.backoffQ.has(uid) || this.unschedulable.has(uid)) return;
    qpi.timestamp = this.now();
    if (this.moveRequestCycle >= podSchedulingCycle || qpi.unschedulablePlugins.size === 0) {
      this.toBackoffQ(qpi);
    } else {
      this.unschedulable.set(qpi);
      this.ensureFlushTimer();
    }
  }

  // ---- cluster events

  /**
   * An event that may make unschedulable pods schedulable: each pod whose rejecting plugins registered for it
   * (and whose queueing hint says Queue) moves to activeQ, or to backoffQ while still backing off.
   */
  moveAllToActiveOrBackoffQueue(event: ClusterEvent, oldObj: unknown, newObj: unknown, preCheck?: (pod: Pod) => boolean): void {
    if (this.unschedulable.size > 0) {
      for (const qpi of this.unschedulable.candidates(this.interestedPlugins(event))) {
        if (preCheck && !preCheck(qpi.podInfo.pod)) continue;
        if (!this.isWorthRequeuing(qpi, event, oldObj, newObj)) continue;
        this.unschedulable.delete(qpi.podInfo.uid);
        if (qpi.gatingPlugin === undefined && this.isBackingOff(qpi)) this.toBackoffQ(qpi);
        else this.toActiveQ(qpi);
      }
    }
    this.moveRequestCycle = this.schedulingCycle;
  }

  /** The plugins that registered for the event; undefined (every pod) for wildcard events. */
  private interestedPlugins(event: ClusterEvent): ReadonlySet<string> | undefined {
    if (event.resource === '*') return undefined;
    const key = `${event.resource}|${event.actionType}`;
    let set = this.interestCache.get(key);
    if (!set) {
      const s = new Set<string>();
      for (const [plugin, regs] of this.pluginEvents) if (regs.some((r) => eventMatches(r.event, event))) s.add(plugin);
      this.interestCache.set(key, (set = s));
    }
    return set;
  }

  private isWorthRequeuing(qpi: QueuedPodInfo, event: ClusterEvent, oldObj: unknown, newObj: unknown): boolean {
    if (event.resource === '*') return true;
    const rejectors = qpi.gatingPlugin !== undefined ? new Set([qpi.gatingPlugin]) : qpi.unschedulablePlugins;
    if (rejectors.size === 0) return true;
    for (const plugin of rejectors) {
      for (const reg of this.pluginEvents.get(plugin) ?? []) {
        if (!eventMatches(reg.event, event)) continue;
        if (!reg.hint) return true;
        try {
          if (reg.hint(qpi.podInfo.pod, oldObj, newObj) === 'Queue') return true;
        } catch (err) {
          // A failing hint must not strand the pod: requeue it, as upstream does on hint errors.
          log.error('queueing hint failed; requeueing the pod', { plugin, event: event.label, pod: `${qpi.podInfo.pod.metadata.namespace}/${qpi.podInfo.pod.metadata.name}`, err });
          return true;
        }
      }
    }
    return false;
  }

  /** Moves the given pods (by UID) to activeQ at once, wherever they wait (Activate). */
  activate(pods: Pod[]): void {
    for (const pod of pods) {
      const uid = podUid(pod);
      const qpi = this.unschedulable.get(uid) ?? this.backoffQ.get(uid);
      if (!qpi) continue;
      this.unschedulable.delete(uid);
      this.backoffQ.delete(uid);
      this.toActiveQ(qpi);
    }
  }

  // ---- timers

  private ensureBackoffTimer(): void {
    const head = this.backoffQ.peek();
    if (!head || this.closed) return;
    const due = this.backoffExpiry(head);
    if (this.backoffTimer && this.backoffTimer.due <= due) return;
    this.backoffTimer?.handle.cancel();
    const handle = this.clock.setTimeout(() => {
      this.backoffTimer = undefined;
      this.flushBackoffQCompleted();
    }, Math.max(0, due - this.now()));
    this.backoffTimer = { due, handle };
  }

  /** Moves pods whose backoff has expired to activeQ. */
  flushBackoffQCompleted(): void {
    const now = this.now();
    for (;;) {
      const head = this.backoffQ.peek();
      if (!head || this.backoffExpiry(head) > now) break;
      this.backoffQ.pop();
      this.toActiveQ(head);
    }
    this.ensureBackoffTimer();
  }

  private ensureFlushTimer(): void {
    if (this.flushTimer || this.closed) return;
    this.flushTimer = this.clock.setTimeout(() => {
      this.flushTimer = undefined;
      this.flushUnschedulablePodsLeftover();
    }, unschedulableFlushIntervalMs);
  }

  /** Retries pods that have waited longer than the maximum for an event (gated pods keep waiting). */
  flushUnschedulablePodsLeftover(): void {
    const now = this.now();
    const stale = [...this.unschedulable.values()].filter((q) => q.gatingPlugin === undefined && now - q.timestamp > this.maxUnschedulableMs);
    for (const qpi of stale) {
      this.unschedulable.delete(qpi.podInfo.uid);
      if (this.isBackingOff(qpi)) this.toBackoffQ(qpi);
      else this.toActiveQ(qpi);
    }
    if (this.unschedulable.size > 0) this.ensureFlushTimer();
  }

  close(): void {
    this.closed = true;
    this.backoffTimer?.handle.cancel();
    this.backoffTimer = undefined;
    this.flushTimer?.cancel();
    this.flushTimer = undefined;
    for (const w of this.waiters.splice(0)) w(undefined);
  }

  // ---- nominator

  get hasNominatedPods(): boolean {
    return this.nominatedPodToNode.size > 0;
  }

  nominatedPodsForNode(nodeName: string): readonly PodInfo[] {
    return this.nominatedPods.get(nodeName) ?? [];
  }

  /**
   * Records where a pod is nominated: `nominatedNodeName` undefined keeps what the pod's status says, '' clears
   * it. Pods already bound are not nominated.
   */
  addNominatedPod(pi: PodInfo, nominatedNodeName: string | undefined): void {
    this.deleteNominatedPodIfExists(pi.pod);
    const node = nominatedNodeName ?? pi.pod.status?.nominatedNodeName;
    if (!node || pi.pod.spec?.nodeName) return;
    this.nominatedPodToNode.set(pi.uid, node);
    const list = this.nominatedPods.get(node);
    if (list) list.push(pi);
    else this.nominatedPods.set(node, [pi]);
  }

  private updateNominatedPod(pi: PodInfo): void {
    // Keep a nomination made by this scheduler that the API has not reflected yet.
    const current = this.nominatedPodToNode.get(pi.uid);
    this.addNominatedPod(pi, pi.pod.status?.nominatedNodeName || current);
  }

  deleteNominatedPodIfExists(pod: Pod): void {
    const uid = podUid(pod);
    const node = this.nominatedPodToNode.get(uid);
    if (node === undefined) return;
    this.nominatedPodToNode.delete(uid);
    const list = this.nominatedPods.get(node)?.filter((p) => p.uid !== uid) ?? [];
    if (list.length === 0) this.nominatedPods.delete(node);
    else this.nominatedPods.set(node, list);
  }

  // ---- introspection

  /** Where a pod waits, if anywhere. */
  whereIs(pod: Pod): QueueName | undefined {
    const uid = podUid(pod);
    if (this.activeQ.has(uid)) return 'activeQ';
    if (this.backoffQ.has(uid)) return 'backoffQ';
    if (this.unschedulable.has(uid)) return 'unschedulablePods';
    return undefined;
  }

  get lengths(): { activeQ: number; backoffQ: number; unschedulablePods: number; inFlight: number } {
    return { activeQ: this.activeQ.length, backoffQ: this.backoffQ.length, unschedulablePods: this.unschedulable.size, inFlight: this.inFlight.size };
  }
}

