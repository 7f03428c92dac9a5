/**
 * The scheduler (pkg/scheduler): watches pods and nodes through informers, keeps the snapshot and the queue up
 * to date, and schedules one pod at a time: a synchronous scheduling cycle over the snapshot picks a node and
 * assumes the pod there, then an asynchronous binding cycle POSTs pods/binding while the next pod is scheduled.
 * Failures are told to users as Kubernetes tells them: a FailedScheduling Warning event and the PodScheduled
 * condition False with reason Unschedulable (or SchedulerError), patched through pods/status.
 *
 * Reaches state only through the client and informers (never the API server or storage), so it runs the same
 * over HTTPS, in process, or against the fake client in tests.
 */
import { recordScheduleAttempt } from '../observability/scheduler-metrics.js';
import type { Node as NodeT } from 'kubernetes-types/core/v1.js';
import { isPodTerminal, podKey } from '../api/pod.js';
import { isNotFound } from '../api/status.js';
import { rfc3339 } from '../api/time.js';
import { Namespaces, Nodes, PodDisruptionBudgets, Pods, PriorityClasses, ReplicaSets, Services, StatefulSets } from '../client/resources.js';
import { realClock, type Client, type Clock, type EventRecorder, type Informer, type InformerFactory } from '../client/types.js';
import { CycleState } from './framework/cycle-state.js';
import { FitError, noNodesAvailableMessage, Diagnosis } from './framework/fit-error.js';
import { Framework, type Profile } from './framework/framework.js';
import { ActionType, type ClusterEvent, type QueuedPodInfo } from './framework/interface.js';
import { PodInfo } from './framework/pod-info.js';
import type { Registry } from './framework/registry.js';
import { Snapshot } from './framework/snapshot.js';
import { Code, Status } from './framework/status.js';
import { defaultSchedulerName, podUid, type Namespace, type Node, type Pod, type PodDisruptionBudget, type PriorityClass } from './framework/types.js';
import { defaultProfile, newInTreeRegistry } from './plugins/registry.js';
import { SchedulingQueue } from './queue/scheduling-queue.js';
import { SchedulingAlgorithm, type ScheduleResult } from './scheduling-algorithm.js';
import { createLogger } from '../log/logger.js';

const log = createLogger('kube-scheduler');

export interface SchedulerOptions {
  client: Client;
  informers: InformerFactory;
  /** Records Events with source component `default-scheduler`. */
  recorder: EventRecorder;
  clock?: Clock;
  /** The profile (plugins, weights); defaults to kube-scheduler's default profile. */
  profile?: Profile;
  /** Extra (out-of-tree) plugins, merged with the in-tree ones. */
  registry?: Registry;
  /** 0 (default) = adaptive: 50% of nodes at 100 nodes down to 10% at 5,000 (min 5%, at least 100 nodes). */
  percentageOfNodesToScore?: number;
  podInitialBackoffMs?: number;
  podMaxBackoffMs?: number;
  /** Random source for tie-breaks and preemption offsets; inject for deterministic tests. */
  random?: () => number;
  /** The run loop yields to I/O after scheduling for this long (ms), so bindings and watch events flow. Default 10. */
  yieldEveryMs?: number;
  /**
   * Bindings in flight at most; the loop waits for one to finish before the next cycle (default 500). Keeps a
   * burst of thousands of pending pods from becoming thousands of concurrent requests to the API server.
   */
  maxInFlightBindings?: number;
}

export interface SchedulerMetrics {
  /** Pods bound. */
  scheduled: number;
  /** Attempts that ended unschedulable. */
  unschedulable: number;
  /** Attempts that ended in an error (including failed bindings). */
  errors: number;
  /** Scheduling cycles run. */
  cycles: number;
  /** Time spent in scheduling cycles (filter, score, assume, reserve, permit), ms. */
  cycleMs: number;
}

/** The Events API's note limit (validation.NoteLengthLimit); longer messages are cut with " ...". */
const noteLengthLimit = 1024;

export function truncateMessage(msg: string): string {
  return msg.length <= noteLengthLimit ? msg : msg.slice(0, noteLengthLimit - 4) + ' ...';
}

const ev = (resource: ClusterEvent['resource'], actionType: number, label: string): ClusterEvent => ({ resource, actionType, label });
const nodeAdd = ev('Node', ActionType.Add, 'NodeAdd');
const nodeDelete = ev('Node', ActionType.Delete, 'NodeDelete');
const assignedPodAdd = ev('AssignedPod', ActionType.Add, 'AssignedPodAdd');
const assignedPodDelete = ev('AssignedPod', ActionType.Delete, 'AssignedPodDelete');

function sameJSON(a: unknown, b: unknown): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

/** The scheduling-relevant changes of a node update, as ActionType bits (nodeSchedulingPropertiesChange). */
export function nodeUpdateActions(oldNode: Node, newNode: Node): number {
  let a = 0;
  if (!!oldNode.spec?.unschedulable !== !!newNode.spec?.unschedulable) a |= ActionType.UpdateNodeTaint;
  if (!sameJSON(oldNode.status?.allocatable, newNode.status?.allocatable)) a |= ActionType.UpdateNodeAllocatable;
  if (!sameJSON(oldNode.metadata.labels ?? {}, newNode.metadata.labels ?? {})) a |= ActionType.UpdateNodeLabel;
  if (!sameJSON(oldNode.spec?.taints ?? [], newNode.spec?.taints ?? [])) a |= ActionType.UpdateNodeTaint;
  const conds = (n: NodeT) => (n.status?.conditions ?? []).map((c) => [c.type, c.status, c.reason]);
  if (!sameJSON(conds(oldNode), conds(newNode))) a |= ActionType.UpdateNodeCondition;
  if (!sameJSON(oldNode.metadata.annotations ?? {}, newNode.metadata.annotations ?? {})) a |= ActionType.UpdateNodeAnnotation;
  return a;
}

/** What changed in an assigned pod that could help pending pods (labels for affinity, smaller requests). */
function assignedPodUpdateActions(oldPod: Pod, newPod: Pod): number {
  let a = 0;
  if (!sameJSON(oldPod.metadata.labels ?? {}, newPod.metadata.labels ?? {})) a |= ActionType.UpdatePodLabel;
  const o = PodInfo.of(oldPod).requests;
  const n = PodInfo.of(newPod).requests;
  if (n.milliCPU < o.milliCPU || n.memory < o.memory || n.ephemeralStorage < o.ephemeralStorage) a |= ActionType.UpdatePodScaleDown;
  return a;
}

type CycleOutcome = { result: ScheduleResult; assumed: Pod; waiting: boolean } | { status: Status; nominatedNodeName: string | undefined };

export class Scheduler {
  readonly name = 'scheduler';
  readonly snapshot = new Snapshot();
  readonly queue: SchedulingQueue;
  readonly framework: Framework;
  readonly algorithm: SchedulingAlgorithm;
  readonly metrics: SchedulerMetrics = { scheduled: 0, unschedulable: 0, errors: 0, cycles: 0, cycleMs: 0 };
  private readonly client: Client;
  private readonly informers: InformerFactory;
  private readonly recorder: EventRecorder;
  private readonly clock: Clock;
  private readonly schedulerName: string;
  private readonly podInformer: Informer<Pod>;
  private readonly nodeInformer: Informer<Node>;
  private readonly priorityClassInformer: Informer<PriorityClass>;
  private readonly yieldEveryMs: number;
  private readonly maxInFlightBindings: number;
  private readonly pendingBindings = new Set<Promise<void>>();
  private globalDefaultPriority: number | undefined | null = null;
  private started = false;
  private stopped = false;

  constructor(opts: SchedulerOptions) {
    this.client = opts.client;
    this.informers = opts.informers;
    this.recorder = opts.recorder;
    this.clock = opts.clock ?? realClock;
    this.yieldEveryMs = opts.yieldEveryMs ?? 10;
    this.maxInFlightBindings = opts.maxInFlightBindings ?? 500;
    const profile = { ...(opts.profile ?? defaultProfile()) };
    if (opts.percentageOfNodesToScore !== undefined) profile.percentageOfNodesToScore ??= opts.percentageOfNodesToScore;
    const pct = profile.percentageOfNodesToScore ?? 0;
    if (pct < 0 || pct > 100) throw new Error(`percentageOfNodesToScore: Invalid value: ${pct}: not in valid range [0-100]`);
    this.schedulerName = profile.schedulerName;
    const registry = newInTreeRegistry(this.informers);
    if (opts.registry) registry.merge(opts.registry);

    this.podInformer = this.informers.informerFor<Pod>(Pods);
    this.nodeInformer = this.informers.informerFor<Node>(Nodes);
    this.priorityClassInformer = this.informers.informerFor<PriorityClass>(PriorityClasses);
    const random = opts.random ?? Math.random;

    // The queue is the nominator the framework consults; both need each other, so the framework gets a
    // forwarding nominator that the queue backs once built.
    let queue: SchedulingQueue | undefined;
    this.framework = new Framework({
      registry,
      profile,
      snapshot: this.snapshot,
      clock: this.clock,
      client: this.client,
      recorder: this.recorder,
      nominator: {
        nominatedPodsForNode: (n) => queue!.nominatedPodsForNode(n),
        get hasNominatedPods() {
          return queue!.hasNominatedPods;
        },
      },
      // Plugins see pods as admission would have stored them, with spec.priority resolved.
      podLister: {
        get: (ns, name) => {
          const p = this.podInformer.lister.get(ns, name);
          return p && this.withPriority(p);
        },
        list: (ns, sel) => this.podInformer.lister.list(ns, sel).map((p) => this.withPriority(p)),
        byIndex: (index, value) => this.podInformer.lister.byIndex(index, value).map((p) => this.withPriority(p)),
      },
      namespaceLister: this.informers.informerFor<Namespace>(Namespaces).lister,
      pdbLister: this.informers.informerFor<PodDisruptionBudget>(PodDisruptionBudgets).lister,
      ownerListers: {
        services: this.informers.informerFor(Services).lister,
        replicaSets: this.informers.informerFor(ReplicaSets).lister,
        statefulSets: this.informers.informerFor(StatefulSets).lister,
        replicationControllers: undefined,
      },
      random,
    });
    queue = new SchedulingQueue({
      clock: this.clock,
      less: (a, b) => this.framework.less(a, b),
      podInitialBackoffMs: opts.podInitialBackoffMs,
      podMaxBackoffMs: opts.podMaxBackoffMs,
      preEnqueue: (pod) => this.framework.runPreEnqueuePlugins(pod),
      pluginEvents: this.framework.enqueueExtensions,
    });
    this.queue = queue;
    this.algorithm = new SchedulingAlgorithm(this.snapshot, random);
  }

  /** Whether this scheduler schedules the pod (spec.schedulerName names it; empty means the default scheduler). */
  responsibleFor(pod: Pod): boolean {
    const name = pod.spec?.schedulerName || defaultSchedulerName;
    return name === this.schedulerName;
  }

  /** Registers the informer handlers; call before the informer factory starts. Idempotent. */
  start(): void {
    if (this.started) return;
    this.started = true;
    this.priorityClassInformer.addEventHandler({
      add: () => (this.globalDefaultPriority = null),
      update: () => (this.globalDefaultPriority = null),
      delete: () => (this.globalDefaultPriority = null),
    });
    this.nodeInformer.addEventHandler({
      add: (node) => {
        this.snapshot.addNode(node);
        this.queue.moveAllToActiveOrBackoffQueue(nodeAdd, undefined, node);
      },
      update: (oldNode, node) => {
        this.snapshot.updateNode(oldNode, node);
        const actions = nodeUpdateActions(oldNode, node);
        if (actions) this.queue.moveAllToActiveOrBackoffQueue(ev('Node', actions, 'NodeUpdate'), oldNode, node);
      },
      delete: (node) => {
        this.snapshot.removeNode(node);
        this.queue.moveAllToActiveOrBackoffQueue(nodeDelete, node, undefined);
      },
    });
    this.podInformer.addEventHandler({
      add: (pod) => this.onPodAdd(pod),
      update: (oldPod, pod) => this.onPodUpdate(oldPod, pod),
      delete: (pod) => this.onPodDelete(pod),
    });
  }

  // ---- informer events

  /** Pods in the cache: assigned and not finished (upstream's informer excludes Succeeded/Failed pods). */
  private isCachedAssigned(pod: Pod): boolean {
    return !!pod.spec?.nodeName && !isPodTerminal(pod);
  }

  private isQueueable(pod: Pod): boolean {
    return !pod.spec?.nodeName && !isPodTerminal(pod) && this.responsibleFor(pod);
  }

  private onPodAdd(raw: Pod): void {
    const pod = this.withPriority(raw);
    if (this.isCachedAssigned(pod)) {
      this.snapshot.addPod(pod);
      this.queue.moveAllToActiveOrBackoffQueue(assignedPodAdd, undefined, pod);
    } else if (this.isQueueable(pod)) {
      this.queue.add(pod);
    }
  }

  private onPodUpdate(rawOld: Pod, raw: Pod): void {
    const oldPod = this.withPriority(rawOld);
    const pod = this.withPriority(raw);
    const wasAssigned = this.isCachedAssigned(oldPod);
    const isAssigned = this.isCachedAssigned(pod);
    if (wasAssigned && isAssigned) {
      this.snapshot.updatePod(oldPod, pod);
      const actions = assignedPodUpdateActions(oldPod, pod);
      if (actions) this.queue.moveAllToActiveOrBackoffQueue(ev('AssignedPod', actions, 'AssignedPodUpdate'), oldPod, pod);
      return;
    }
    if (wasAssigned) {
      // Finished: its resources are free now.
      this.snapshot.removePod(oldPod);
      this.queue.moveAllToActiveOrBackoffQueue(assignedPodDelete, oldPod, undefined);
      return;
    }
    if (isAssigned) {
      // Bound (by us or someone else): it leaves the queue and enters the cache.
      this.queue.delete(oldPod);
      this.snapshot.addPod(pod);
      this.queue.moveAllToActiveOrBackoffQueue(assignedPodAdd, undefined, pod);
      return;
    }
    if (!this.isQueueable(pod)) {
      this.queue.delete(oldPod);
      return;
    }
    if (rawOld.metadata.resourceVersion && rawOld.metadata.resourceVersion === raw.metadata.resourceVersion) return;
    if (this.snapshot.isAssumed(pod)) return;
    this.queue.update(oldPod, pod);
  }

  private onPodDelete(raw: Pod): void {
    const pod = this.withPriority(raw);
    if (this.isCachedAssigned(pod)) {
      this.snapshot.removePod(pod);
      this.queue.moveAllToActiveOrBackoffQueue(assignedPodDelete, pod, undefined);
      return;
    }
    this.queue.delete(pod);
    // The last state the informer saw may predate our binding (a relist): an assumed copy must not outlive it.
    if (this.snapshot.isAssumed(pod)) {
      this.snapshot.removePod(pod);
      this.queue.moveAllToActiveOrBackoffQueue(assignedPodDelete, pod, undefined);
    }
    this.framework.getWaitingPod(podUid(pod))?.reject('', 'removed');
  }

  /**
   * The pod with spec.priority filled in. Admission (the Priority plugin) sets it on create upstream; a pod
   * without it gets its PriorityClass's value, or the globalDefault class's, or 0. A copy: cached objects are
   * shared and never changed.
   */
  withPriority(pod: Pod): Pod {
    if (pod.spec?.priority !== undefined || !pod.spec) return pod;
    const pcName = pod.spec.priorityClassName;
    let value: number | undefined;
    if (pcName) value = this.priorityClassInformer.lister.get('', pcName)?.value;
    else value = this.globalDefault();
    if (!value) return pod;
    return { ...pod, spec: { ...pod.spec, priority: value } };
  }

  private globalDefault(): number | undefined {
    if (this.globalDefaultPriority === null) {
      let best: PriorityClass | undefined;
      for (const pc of this.priorityClassInformer.lister.list()) if (pc.globalDefault && (!best || pc.value > best.value)) best = pc;
      this.globalDefaultPriority = best?.value;
    }
    return this.globalDefaultPriority;
  }

  // ---- the loop

  /** Schedules pods until stop(). Starts handlers if needed and waits for the informers to sync first. */
  async run(): Promise<void> {
    this.start();
    await this.informers.waitForSync();
    let sliceStart = performance.now();
    while (!this.stopped) {
      while (this.pendingBindings.size >= this.maxInFlightBindings) await Promise.race(this.pendingBindings);
      const qpi = await this.queue.pop();
      if (!qpi) break;
      this.scheduleOne(qpi);
      if (performance.now() - sliceStart >= this.yieldEveryMs) {
        await new Promise<void>((resolve) => setImmediate(resolve));
        sliceStart = performance.now();
      }
    }
  }

  stop(): void {
    this.stopped = true;
    this.queue.close();
  }

  /** Resolves when every binding started so far has finished (tests, benchmarks, shutdown). */
  async drainBindings(): Promise<void> {
    while (this.pendingBindings.size > 0) await Promise.allSettled([...this.pendingBindings]);
  }

  /** Pops and schedules one pod if any is active; returns whether it did (tests drive the loop with this). */
  scheduleNext(): boolean {
    const qpi = this.queue.tryPop();
    if (!qpi) return false;
    this.scheduleOne(qpi);
    return true;
  }

  /** One pod: the synchronous scheduling cycle, then the binding cycle in the background (ScheduleOne). */
  scheduleOne(qpi: QueuedPodInfo): void {
    const pod = qpi.podInfo.pod;
    const uid = qpi.podInfo.uid;
    const cycle = this.queue.schedulingCycle;
    if (pod.metadata.deletionTimestamp) {
      this.recorder.event(pod, 'Warning', 'FailedScheduling', `skip schedule deleting pod: ${podKey(pod)}`);
      this.queue.done(uid);
      return;
    }
    if (this.snapshot.isAssumed(pod)) {
      this.queue.done(uid);
      return;
    }
    const state = new CycleState();
    const t0 = performance.now();
    let outcome: CycleOutcome;
    try {
      outcome = this.schedulingCycle(state, qpi);
    } catch (err) {
      // A plugin threw: a bug. Treat it as an error status so the pod is retried with backoff.
      outcome = { status: Status.error(err as Error), nominatedNodeName: '' };
    }
    this.metrics.cycles++;
    this.metrics.cycleMs += performance.now() - t0;
    if ('status' in outcome) {
      recordScheduleAttempt(outcome.status.isRejected() ? 'unschedulable' : 'error', this.schedulerName, t0);
      this.handleSchedulingFailure(qpi, outcome.status, outcome.nominatedNodeName, cycle);
      return;
    }
    const p = this.bindingCycle(state, qpi, outcome.result.suggestedHost, outcome.assumed, cycle, t0);
    this.pendingBindings.add(p);
    void p.finally(() => this.pendingBindings.delete(p));
  }

  private schedulingCycle(state: CycleState, qpi: QueuedPodInfo): CycleOutcome {
    const fwk = this.framework;
    const pod = qpi.podInfo.pod;
    const r = this.algorithm.schedulePod(fwk, state, pod);
    if (r instanceof Status) return { status: r, nominatedNodeName: '' };
    if (r instanceof FitError) {
      if (fwk.postFilterPlugins.length === 0) return { status: Status.withError(Code.Unschedulable, r), nominatedNodeName: '' };
      const pf = fwk.runPostFilterPlugins(state, pod, r.diagnosis.nodeToStatus);
      r.setPostFilterMsg(pf.status?.message() ?? '');
      if (pf.status?.code === Code.Error) log.error('PostFilter failed', { pod: podKey(pod), reason: pf.status.message() });
      return { status: Status.withError(Code.Unschedulable, r), nominatedNodeName: pf.nominatedNodeName };
    }

    // Assume: count the pod on its node now, so the next cycle sees it while the bind is in flight.
    const host = r.suggestedHost;
    const assumed = { ...pod, spec: { ...pod.spec!, nodeName: host } } as Pod;
    this.snapshot.assumePod(assumed, qpi.podInfo.withPod(assumed));
    this.queue.deleteNominatedPodIfExists(pod);

    try {
      const reserve = fwk.runReservePluginsReserve(state, assumed, host);
      if (reserve) return this.undoAssume(state, pod, assumed, host, reserve);
      const permit = fwk.runPermitPlugins(state, assumed, host);
      if (permit && permit.code !== Code.Wait) return this.undoAssume(state, pod, assumed, host, permit);
      return { result: r, assumed, waiting: permit !== undefined };
    } catch (err) {
      // A Reserve or Permit plugin threw (a bug): release the node before the error is reported.
      return this.undoAssume(state, pod, assumed, host, Status.error(err as Error));
    }
  }

  private undoAssume(state: CycleState, pod: Pod, assumed: Pod, host: string, s: Status): CycleOutcome {
    this.framework.runReservePluginsUnreserve(state, assumed, host);
    this.snapshot.forgetPod(assumed);
    return { status: this.rejectionOnNode(pod, host, s), nominatedNodeName: '' };
  }

  /** A rejection at Reserve/Permit as a FitError over the one chosen node, so the message reads like the others. */
  private rejectionOnNode(pod: Pod, host: string, s: Status): Status {
    if (!s.isRejected()) return s;
    const d = new Diagnosis();
    d.nodeToStatus.set(host, s);
    d.addPluginStatus(s);
    return Status.withError(s.code, new FitError(pod, 1, d));
  }

  private async bindingCycle(state: CycleState, qpi: QueuedPodInfo, host: string, assumed: Pod, cycle: number, attemptStarted: number): Promise<void> {
    const fwk = this.framework;
    let status: Status | undefined;
    try {
      const permit = await fwk.waitOnPermit(assumed);
      if (permit && permit.code !== Code.Success) {
        status = this.rejectionOnNode(qpi.podInfo.pod, host, permit);
      } else {
        // From here on a failure is an error (backoff), never "unschedulable".
        this.queue.done(qpi.podInfo.uid);
        status = await fwk.runBindPlugins(state, assumed, host);
      }
    } catch (err) {
      status = Status.error(err as Error);
    }
    recordScheduleAttempt(!status ? 'scheduled' : status.isRejected() ? 'unschedulable' : 'error', this.schedulerName, attemptStarted);
    if (!status) {
      this.metrics.scheduled++;
      this.recorder.event(assumed, 'Normal', 'Scheduled', `Successfully assigned ${podKey(assumed)} to ${host}`);
      return;
    }
    fwk.runReservePluginsUnreserve(state, assumed, host);
    this.snapshot.forgetPod(assumed);
    // The assumed pod held resources others may have been refused for.
    const uid = qpi.podInfo.uid;
    this.queue.moveAllToActiveOrBackoffQueue(assignedPodDelete, assumed, undefined, (p) => podUid(p) !== uid);
    this.handleSchedulingFailure(qpi, status, '', cycle);
  }

  /**
   * Requeues the pod (unless it is gone or bound meanwhile), records where it is nominated, and tells the user:
   * a FailedScheduling Warning event and PodScheduled=False (reason Unschedulable or SchedulerError).
   */
  private handleSchedulingFailure(qpi: QueuedPodInfo, status: Status, nominatedNodeName: string | undefined, cycle: number): void {
    const pod = qpi.podInfo.pod;
    const reason = status.isRejected() ? 'Unschedulable' : 'SchedulerError';
    if (status.isRejected()) this.metrics.unschedulable++;
    else this.metrics.errors++;
    const fit = status.error instanceof FitError ? status.error : undefined;
    if (fit) qpi.unschedulablePlugins = new Set(fit.diagnosis.unschedulablePlugins);
    else {
      qpi.unschedulablePlugins = new Set();
      if (status.message() !== noNodesAvailableMessage) log.error('error scheduling pod; retrying', { pod: podKey(pod), reason: status.message() });
    }

    const cachedRaw = this.podInformer.lister.get(pod.metadata.namespace ?? '', pod.metadata.name ?? '');
    const cached = cachedRaw && podUid(cachedRaw) === qpi.podInfo.uid ? this.withPriority(cachedRaw) : undefined;
    if (!cached || cached.spec?.nodeName) {
      // Deleted, replaced, or bound meanwhile: nothing to retry.
      this.queue.done(qpi.podInfo.uid);
    } else {
      qpi.podInfo = PodInfo.of(cached);
      this.queue.addUnschedulableIfNotPresent(qpi, cycle);
      this.queue.addNominatedPod(qpi.podInfo, nominatedNodeName);
    }

    const message = status.message();
    this.recorder.event(pod, 'Warning', 'FailedScheduling', truncateMessage(message));
    if (cached) this.updatePodStatus(cached, reason, message, nominatedNodeName);
  }

  /** Patches PodScheduled and nominatedNodeName through pods/status when either changes (updatePod). */
  private updatePodStatus(pod: Pod, reason: string, message: string, nominatedNodeName: string | undefined): void {
    const conditions = pod.status?.conditions ?? [];
    const old = conditions.find((c) => c.type === 'PodScheduled');
    const conditionChanged = !old || old.status !== 'False' || old.reason !== reason || old.message !== message;
    const nnnChanged = nominatedNodeName !== undefined && (pod.status?.nominatedNodeName ?? '') !== nominatedNodeName;
    if (!conditionChanged && !nnnChanged) return;
    const status: Record<string, unknown> = {};
    if (conditionChanged) {
      const condition = {
        type: 'PodScheduled',
        status: 'False',
        lastTransitionTime: old && old.status === 'False' && old.lastTransitionTime ? old.lastTransitionTime : rfc3339(this.clock.now()),
        reason,
        message,
      };
      // A strategic merge patch merges conditions by type (as upstream's PatchPodStatus does), so a concurrent change
      // to another condition (Ready from the kubelet) is not overwritten with this cached copy.
      status.conditions = [condition];
    }
    if (nnnChanged) status.nominatedNodeName = nominatedNodeName || null;
    const { namespace = '', name = '' } = pod.metadata;
    this.client.patch(Pods, namespace, name, 'strategic', { status }, { subresource: 'status' }).catch((err: unknown) => {
      if (!isNotFound(err)) log.error('cannot update pod status', { pod: podKey(pod), err });
    });
  }
}
