/**
 * The plugin API: one small interface per extension point (k8s.io/kube-scheduler/framework/interface.go). A plugin
 * implements any subset; the runtime finds them by the methods present. Every method returns a Status, with
 * undefined meaning success; throwing is reserved for bugs.
 *
 * Scheduling cycle (synchronous, one pod at a time):
 *   PreFilter -> Filter (per node) -> [PostFilter when no node fits] -> PreScore -> Score -> NormalizeScore
 *   -> Reserve -> Permit
 * Binding cycle (asynchronous): WaitOnPermit -> Bind
 */
import type { Client, Clock, EventRecorder, Lister } from '../../client/types.js';
import type { CycleState } from './cycle-state.js';
import type { NodeInfo } from './node-info.js';
import type { NamespaceLabels, PodInfo } from './pod-info.js';
import type { NodeInfoLister } from './snapshot.js';
import type { Result, Status } from './status.js';
import type { Namespace, Pod, PodDisruptionBudget } from './types.js';

export const maxNodeScore = 100;
export const minNodeScore = 0;

export interface Plugin {
  /** The name it is registered and configured under, e.g. `NodeResourcesFit`. */
  readonly name: string;
}

/** Orders the active queue: true when pod `a` should be scheduled before `b`. */
export interface QueueSortPlugin extends Plugin {
  less(a: QueuedPodInfo, b: QueuedPodInfo): boolean;
}

/**
 * Runs when a pod is added to the queue. A non-success status keeps the pod out of the active queue (gated)
 * until a cluster event it registered for re-checks it.
 */
export interface PreEnqueuePlugin extends Plugin {
  preEnqueue(pod: Pod): Result;
}

/** Restricts the nodes Filter looks at (e.g. node affinity on metadata.name); undefined in a result = all nodes. */
export class PreFilterResult {
  constructor(readonly nodeNames: ReadonlySet<string>) {}
}

/**
 * Incremental updates of PreFilter state when a pod is added to or removed from a node in a simulation
 * (preemption, nominated pods). Only plugins whose PreFilter state depends on other pods need them.
 */
export interface PreFilterExtensions {
  addPod(state: CycleState, podToSchedule: Pod, podInfoToAdd: PodInfo, nodeInfo: NodeInfo): Result;
  removePod(state: CycleState, podToSchedule: Pod, podInfoToRemove: PodInfo, nodeInfo: NodeInfo): Result;
}

export interface PreFilterPlugin extends Plugin {
  /**
   * Computes what Filter needs for this pod and writes it to `state`. Returns Skip when the plugin has nothing
   * to check for this pod (its Filter is then not called), a rejection to fail the pod on every node, or a
   * PreFilterResult to limit the nodes that are filtered.
   */
  preFilter(state: CycleState, pod: Pod, nodes: readonly NodeInfo[]): Status | PreFilterResult | undefined;
  readonly preFilterExtensions?: PreFilterExtensions;
}

export interface FilterPlugin extends Plugin {
  /**
   * Whether the pod can run on the node. Must only read `nodeInfo` (which may be a simulated copy) and `state`,
   * never the snapshot, for the node's pods. Returns Unschedulable or UnschedulableAndUnresolvable with the
   * reasons users see in FailedScheduling events.
   */
  filter(state: CycleState, pod: Pod, nodeInfo: NodeInfo): Result;
}

/** How nominatedNodeName should change after PostFilter: undefined = leave as is, '' = clear. */
export interface PostFilterResult {
  status: Result;
  nominatedNodeName?: string;
}

export interface PostFilterPlugin extends Plugin {
  /**
   * Called only when no node passed Filter, with every node's filter status. Success with a nominated node means
   * the pod may fit there later (e.g. after preemption); the pod is still requeued, not bound, in this cycle.
   */
  postFilter(state: CycleState, pod: Pod, statuses: NodeToStatus): PostFilterResult;
}

export interface PreScorePlugin extends Plugin {
  /** Computes what Score needs for this pod over the feasible nodes; Skip means its Score is not called. */
  preScore(state: CycleState, pod: Pod, nodes: readonly NodeInfo[]): Result;
}

export interface ScorePlugin extends Plugin {
  /** Ranks a feasible node. Must not fail: missing PreScore state is a bug. Range 0..100 after normalizeScore. */
  score(state: CycleState, pod: Pod, nodeInfo: NodeInfo): number;
  /** Rewrites `scores` (parallel to `nodes`) into 0..100. */
  normalizeScore?(state: CycleState, pod: Pod, nodes: readonly NodeInfo[], scores: Float64Array): Result;
}

export interface ReservePlugin extends Plugin {
  /** Claims resources for the pod on the chosen node before binding; a failure un-reserves every plugin. */
  reserve(state: CycleState, pod: Pod, nodeName: string): Result;
  /** Releases what reserve claimed. Must be idempotent and succeed even if reserve was never called. */
  unreserve(state: CycleState, pod: Pod, nodeName: string): void;
}

export interface PermitPlugin extends Plugin {
  /** Approves (undefined), rejects, or holds the pod with Status.wait(timeoutMs) until allowed or rejected. */
  permit(state: CycleState, pod: Pod, nodeName: string): Result;
}

export interface BindPlugin extends Plugin {
  /** Binds the pod; Skip passes the pod to the next bind plugin. */
  bind(state: CycleState, pod: Pod, nodeName: string): Promise<Result>;
}

// ---- cluster events (EnqueueExtensions): what can make a rejected pod schedulable again

export type EventResource = 'Node' | 'Pod' | 'AssignedPod' | 'UnscheduledPod' | 'Namespace' | 'PriorityClass' | '*';

export const ActionType = {
  Add: 1 << 0,
  Delete: 1 << 1,
  UpdateNodeAllocatable: 1 << 2,
  UpdateNodeLabel: 1 << 3,
  UpdateNodeTaint: 1 << 4,
  UpdateNodeCondition: 1 << 5,
  UpdateNodeAnnotation: 1 << 6,
  UpdatePodLabel: 1 << 7,
  UpdatePodScaleDown: 1 << 8,
  UpdatePodToleration: 1 << 9,
  UpdatePodSchedulingGatesEliminated: 1 << 10,
  UpdateOther: 1 << 11,
} as const;
export const Update =
  ActionType.UpdateNodeAllocatable |
  ActionType.UpdateNodeLabel |
  ActionType.UpdateNodeTaint |
  ActionType.UpdateNodeCondition |
  ActionType.UpdateNodeAnnotation |
  ActionType.UpdatePodLabel |
  ActionType.UpdatePodScaleDown |
  ActionType.UpdatePodToleration |
  ActionType.UpdatePodSchedulingGatesEliminated |
  ActionType.UpdateOther;
export const All = ActionType.Add | ActionType.Delete | Update;

export interface ClusterEvent {
  resource: EventResource;
  /** A bit set of ActionType. */
  actionType: number;
  /** For logs, e.g. `NodeAdd`. */
  label: string;
}

export type QueueingHint = 'Queue' | 'Skip';

/** Decides whether an event may make `pod` schedulable; absent = always Queue. */
export type QueueingHintFn = (pod: Pod, oldObj: unknown, newObj: unknown) => QueueingHint;

export interface ClusterEventWithHint {
  event: { resource: EventResource; actionType: number };
  hint?: QueueingHintFn;
}

export interface EnqueueExtensions {
  /** Events after which a pod this plugin rejected is worth retrying. */
  eventsToRegister(): ClusterEventWithHint[];
}

// ---- queue and nominator types the plugins see

export interface QueuedPodInfo {
  podInfo: PodInfo;
  /** When the pod was last added to the queue (ms since epoch): the FIFO tie-break and the backoff base. */
  timestamp: number;
  /** Scheduling attempts so far. */
  attempts: number;
  /** When the pod was first popped, for latency reporting. */
  initialAttemptTimestamp: number | undefined;
  /** The plugins that rejected the pod in its last attempt; events for them move it back to the active queue. */
  unschedulablePlugins: Set<string>;
  /** Set by PreEnqueue rejections: the pod waits in the unschedulable pool until an event lifts its gate. */
  gatingPlugin: string | undefined;
}

/** Pods nominated to nodes by preemption, so lower-priority pods leave room for them (framework.PodNominator). */
export interface PodNominator {
  nominatedPodsForNode(nodeName: string): readonly PodInfo[];
  readonly hasNominatedPods: boolean;
}

/** Per-node filter statuses of a cycle; nodes not listed have `absent` (framework.NodeToStatus). */
export class NodeToStatus {
  readonly map = new Map<string, Status>();
  /** The status of nodes not in the map: by default unresolvable with no reasons (nodes never evaluated). */
  absent: Status | undefined;

  get(nodeName: string): Status | undefined {
    return this.map.get(nodeName) ?? this.absent;
  }

  set(nodeName: string, s: Status): void {
    this.map.set(nodeName, s);
  }

  get size(): number {
    return this.map.size;
  }

  /** Nodes of `all` whose status has `code` (NodesForStatusCode). */
  nodesWithCode(all: readonly NodeInfo[], code: number): NodeInfo[] {
    const out: NodeInfo[] = [];
    for (const ni of all) {
      const s = this.get(ni.name);
      if (s && s.code === code) out.push(ni);
    }
    return out;
  }
}

/** What plugins get from the framework (framework.Handle). */
export interface Handle {
  readonly snapshot: NodeInfoLister;
  readonly clock: Clock;
  readonly client: Client | undefined;
  readonly recorder: EventRecorder | undefined;
  readonly nominator: PodNominator;
  /** Labels of a namespace, for namespaceSelector terms. */
  readonly namespaceLabels: NamespaceLabels;
  readonly podLister: Lister<Pod> | undefined;
  readonly namespaceLister: Lister<Namespace> | undefined;
  readonly pdbLister: Lister<PodDisruptionBudget> | undefined;
  /** Listers for the owners and services that PodTopologySpread's default constraints derive selectors from. */
  readonly ownerListers: OwnerListers | undefined;
  /** A number in [0, 1); injectable for deterministic tests. */
  random(): number;
  /** Runs every Filter plugin on the node, taking nominated pods into account (for PostFilter simulations). */
  runFilterPluginsWithNominatedPods(state: CycleState, pod: Pod, nodeInfo: NodeInfo): Result;
  runPreFilterExtensionAddPod(state: CycleState, podToSchedule: Pod, podInfoToAdd: PodInfo, nodeInfo: NodeInfo): Result;
  runPreFilterExtensionRemovePod(state: CycleState, podToSchedule: Pod, podInfoToRemove: PodInfo, nodeInfo: NodeInfo): Result;
  /** The pod held by Permit plugins, if any (for plugins that allow or reject it later). */
  getWaitingPod(uid: string): WaitingPodHandle | undefined;
}

/** A pod parked by Permit Wait statuses until every waiting plugin allows it or one rejects it. */
export interface WaitingPodHandle {
  readonly pod: Pod;
  readonly pendingPlugins: string[];
  allow(plugin: string): void;
  reject(plugin: string, msg: string): void;
}

export interface OwnerListers {
  services: Lister | undefined;
  replicaSets: Lister | undefined;
  statefulSets: Lister | undefined;
  replicationControllers: Lister | undefined;
}

/** Builds a plugin from its arguments and the handle; a factory error fails scheduler construction. */
export type PluginFactory = (args: Record<string, unknown> | undefined, handle: Handle) => Plugin;
