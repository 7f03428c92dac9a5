/**
 * The framework runtime (runtime.frameworkImpl): builds the plugins of a profile from the registry, places each
 * at every extension point it implements (upstream's multiPoint), and runs the extension points with the
 * framework's rules: the first failing Filter decides a node, Skip from PreFilter/PreScore switches a plugin off
 * for the cycle, scores are normalized then weighted, Reserve failures unreserve in reverse order.
 */
import type { Client, Clock, EventRecorder, Lister } from '../../client/types.js';
import { CycleState } from './cycle-state.js';
import {
  NodeToStatus,
  PreFilterResult,
  maxNodeScore,
  minNodeScore,
  type BindPlugin,
  type ClusterEventWithHint,
  type EnqueueExtensions,
  type FilterPlugin,
  type Handle,
  type OwnerListers,
  type Plugin,
  type PodNominator,
  type PostFilterPlugin,
  type PostFilterResult,
  type PreEnqueuePlugin,
  type PreFilterPlugin,
  type PreScorePlugin,
  type PermitPlugin,
  type QueueSortPlugin,
  type QueuedPodInfo,
  type ReservePlugin,
  type ScorePlugin,
  type WaitingPodHandle,
} from './interface.js';
import type { NodeInfo } from './node-info.js';
import type { NamespaceLabels, PodInfo } from './pod-info.js';
import type { Registry } from './registry.js';
import type { NodeInfoLister } from './snapshot.js';
import { Code, Status, type Result } from './status.js';
import { podPriority, podUid, type Namespace, type Pod, type PodDisruptionBudget } from './types.js';

export interface PluginConfig {
  name: string;
  /** Score weight; plugins without a Score ignore it. Default 1. */
  weight?: number;
  args?: Record<string, unknown>;
}

export interface Profile {
  /** Pods whose spec.schedulerName equals this are scheduled with this profile. */
  schedulerName: string;
  /** In order; each plugin runs at every extension point it implements. */
  plugins: PluginConfig[];
  /** 0 or undefined = adaptive (see numFeasibleNodesToFind). */
  percentageOfNodesToScore?: number;
}

export interface FrameworkOptions {
  registry: Registry;
  profile: Profile;
  snapshot: NodeInfoLister;
  clock: Clock;
  client?: Client;
  recorder?: EventRecorder;
  nominator?: PodNominator;
  podLister?: Lister<Pod>;
  namespaceLister?: Lister<Namespace>;
  pdbLister?: Lister<PodDisruptionBudget>;
  ownerListers?: OwnerListers;
  random?: () => number;
}

const noNominator: PodNominator = { nominatedPodsForNode: () => [], hasNominatedPods: false };

/** Permit plugins may hold a pod at most this long (upstream maxTimeout). */
const maxPermitTimeoutMs = 15 * 60 * 1000;

/** A pod held by Permit plugins; each waiting plugin must allow it, any may reject it (framework.WaitingPod). */
export class WaitingPod implements WaitingPodHandle {
  private readonly pending: Map<string, { cancel(): void }>;
  private settle!: (s: Result) => void;
  readonly done: Promise<Result>;

  constructor(
    readonly pod: Pod,
    waits: Map<string, number>,
    clock: Clock,
  ) {
    this.done = new Promise((resolve) => (this.settle = resolve));
    this.pending = new Map();
    for (const [plugin, ms] of waits) {
      this.pending.set(
        plugin,
        clock.setTimeout(() => this.reject(plugin, `rejected due to timeout after waiting ${ms / 1000}s at plugin ${plugin}`), ms),
      );
    }
  }

  /** Plugins that have not allowed the pod yet. */
  get pendingPlugins(): string[] {
    return [...this.pending.keys()];
  }

  allow(plugin: string): void {
    const t = this.pending.get(plugin);
    if (!t) return;
    t.cancel();
    this.pending.delete(plugin);
    if (this.pending.size === 0) this.settle(undefined);
  }

  reject(plugin: string, msg: string): void {
    for (const t of this.pending.values()) t.cancel();
    this.pending.clear();
    this.settle(Status.unschedulable(msg).withPlugin(plugin));
  }
}

interface WeightedScorePlugin {
  plugin: ScorePlugin;
  weight: number;
}

/** The per-plugin scores of a cycle (normalized, unweighted), for tests and explanations. */
export type PluginScores = Map<string, Float64Array>;

export class Framework implements Handle {
  readonly profileName: string;
  readonly percentageOfNodesToScore: number;
  readonly plugins: Plugin[] = [];
  readonly queueSort: QueueSortPlugin | undefined;
  readonly preEnqueuePlugins: PreEnqueuePlugin[] = [];
  readonly preFilterPlugins: PreFilterPlugin[] = [];
  readonly filterPlugins: FilterPlugin[] = [];
  readonly postFilterPlugins: PostFilterPlugin[] = [];
  readonly preScorePlugins: PreScorePlugin[] = [];
  readonly scorePlugins: WeightedScorePlugin[] = [];
  readonly reservePlugins: ReservePlugin[] = [];
  readonly permitPlugins: PermitPlugin[] = [];
  readonly bindPlugins: BindPlugin[] = [];
  /** The cluster events each plugin registered (EnqueueExtensions), by plugin name. */
  readonly enqueueExtensions = new Map<string, ClusterEventWithHint[]>();

  readonly snapshot: NodeInfoLister;
  readonly clock: Clock;
  readonly client: Client | undefined;
  readonly recorder: EventRecorder | undefined;
  nominator: PodNominator;
  readonly podLister: Lister<Pod> | undefined;
  readonly namespaceLister: Lister<Namespace> | undefined;
  readonly pdbLister: Lister<PodDisruptionBudget> | undefined;
  readonly ownerListers: OwnerListers | undefined;
  readonly random: () => number;
  private readonly waitingPods = new Map<string, WaitingPod>();

  constructor(opts: FrameworkOptions) {
    this.profileName = opts.profile.schedulerName;
    this.percentageOfNodesToScore = opts.profile.percentageOfNodesToScore ?? 0;
    this.snapshot = opts.snapshot;
    this.clock = opts.clock;
    this.client = opts.client;
    this.recorder = opts.recorder;
    this.nominator = opts.nominator ?? noNominator;
    this.podLister = opts.podLister;
    this.namespaceLister = opts.namespaceLister;
    this.pdbLister = opts.pdbLister;
    this.ownerListers = opts.ownerListers;
    this.random = opts.random ?? Math.random;

    const seen = new Set<string>();
    let queueSort: QueueSortPlugin | undefined;
    for (const cfg of opts.profile.plugins) {
      if (seen.has(cfg.name)) throw new Error(`plugin ${JSON.stringify(cfg.name)} is configured twice in profile ${this.profileName}`);
      seen.add(cfg.name);
      const factory = opts.registry.get(cfg.name);
      if (!factory) throw new Error(`plugin ${JSON.stringify(cfg.name)} does not exist in the registry`);
      const p = factory(cfg.args, this);
      this.plugins.push(p);
      const any = p as Partial<QueueSortPlugin & PreEnqueuePlugin & PreFilterPlugin & FilterPlugin & PostFilterPlugin & PreScorePlugin & ScorePlugin & ReservePlugin & PermitPlugin & BindPlugin & EnqueueExtensions>;
      if (any.less) {
        if (queueSort) throw new Error(`only one QueueSort plugin can be enabled, found ${queueSort.name} and ${p.name}`);
        queueSort = p as QueueSortPlugin;
      }
      if (any.preEnqueue) this.preEnqueuePlugins.push(p as PreEnqueuePlugin);
      if (any.preFilter) this.preFilterPlugins.push(p as PreFilterPlugin);
      if (any.filter) this.filterPlugins.push(p as FilterPlugin);
      if (any.postFilter) this.postFilterPlugins.push(p as PostFilterPlugin);
      if (any.preScore) this.preScorePlugins.push(p as PreScorePlugin);
      if (any.score) {
        const weight = cfg.weight ?? 1;
        if (!Number.isInteger(weight) || weight <= 0) throw new Error(`score plugin ${p.name} needs a positive integer weight, got ${weight}`);
        this.scorePlugins.push({ plugin: p as ScorePlugin, weight });
      }
      if (any.reserve) this.reservePlugins.push(p as ReservePlugin);
      if (any.permit) this.permitPlugins.push(p as PermitPlugin);
      if (any.bind) this.bindPlugins.push(p as BindPlugin);
      if (any.eventsToRegister) this.enqueueExtensions.set(p.name, (p as unknown as EnqueueExtensions).eventsToRegister());
    }
    this.queueSort = queueSort;
  }

  /** Namespace labels from the namespace lister (empty when unknown), for namespaceSelector terms. */
  readonly namespaceLabels: NamespaceLabels = (ns) => this.namespaceLister?.get('', ns)?.metadata.labels ?? {};

  getWaitingPod(uid: string): WaitingPod | undefined {
    return this.waitingPods.get(uid);
  }

  // ---- PreFilter / Filter

  /**
   * Runs PreFilter plugins. A Unschedulable status lets the others run (preemption needs their state), an
   * UnschedulableAndUnresolvable one stops at once; PreFilterResults are intersected.
   */
  runPreFilterPlugins(state: CycleState, pod: Pod, nodes: readonly NodeInfo[]): { status: Result; nodeNames: ReadonlySet<string> | undefined; rejectors: string[]; pluginsWithNodes: string[] } {
    const skip = new Set<string>();
    let nodeNames: Set<string> | undefined;
    const withNodes: string[] = [];
    let rejected: Status | undefined;
    const rejectors: string[] = [];
    for (const pl of this.preFilterPlugins) {
      const r = pl.preFilter(state, pod, nodes);
      if (r instanceof PreFilterResult) {
        withNodes.push(pl.name);
        nodeNames = nodeNames ? new Set([...nodeNames].filter((n) => r.nodeNames.has(n))) : new Set(r.nodeNames);
        if (nodeNames.size === 0) {
          const msg = withNodes.length === 1 ? `node(s) didn't satisfy plugin ${withNodes[0]}` : `node(s) didn't satisfy plugin(s) [${withNodes.join(' ')}] simultaneously`;
          return { status: Status.unresolvable(msg), nodeNames, rejectors: withNodes, pluginsWithNodes: withNodes };
        }
        continue;
      }
      if (r === undefined || r.code === Code.Success) continue;
      if (r.code === Code.Skip) {
        skip.add(pl.name);
        continue;
      }
      r.plugin = pl.name;
      if (r.code === Code.UnschedulableAndUnresolvable) return { status: r, nodeNames, rejectors: [pl.name], pluginsWithNodes: withNodes };
      if (r.code === Code.Unschedulable) {
        rejected ??= r;
        rejectors.push(pl.name);
        continue;
      }
      return { status: Status.error(`running PreFilter plugin ${JSON.stringify(pl.name)}: ${r.message()}`).withPlugin(pl.name), nodeNames, rejectors: [], pluginsWithNodes: withNodes };
    }
    state.skipFilterPlugins = skip;
    state.activeFilterPlugins = skip.size === 0 ? this.filterPlugins : this.filterPlugins.filter((p) => !skip.has(p.name));
    return { status: rejected, nodeNames, rejectors, pluginsWithNodes: withNodes };
  }

  /** The first failing Filter plugin decides; errors are wrapped with the plugin name. */
  runFilterPlugins(state: CycleState, pod: Pod, nodeInfo: NodeInfo): Result {
    const plugins = state.activeFilterPlugins ?? this.filterPlugins;
    for (let i = 0; i < plugins.length; i++) {
      const pl = plugins[i]!;
      const s = pl.filter(state, pod, nodeInfo);
      if (s === undefined || s.code === Code.Success) continue;
      if (!s.isRejected()) return Status.error(`running ${JSON.stringify(pl.name)} filter plugin: ${s.message()}`).withPlugin(pl.name);
      s.plugin = pl.name;
      return s;
    }
    return undefined;
  }

  /**
   * Filters with the pods nominated to this node (of equal or higher priority) counted as if they were there,
   * then, if that passed, without them: the pod must fit both ways (RunFilterPluginsWithNominatedPods).
   */
  runFilterPluginsWithNominatedPods(state: CycleState, pod: Pod, nodeInfo: NodeInfo): Result {
    if (!this.nominator.hasNominatedPods) return this.runFilterPlugins(state, pod, nodeInfo);
    const nominated = this.nominator.nominatedPodsForNode(nodeInfo.name);
    if (nominated.length === 0) return this.runFilterPlugins(state, pod, nodeInfo);
    const prio = podPriority(pod);
    const uid = podUid(pod);
    let added = false;
    let stateOut = state;
    let infoOut = nodeInfo;
    for (const pi of nominated) {
      if (pi.priority < prio || pi.uid === uid) continue;
      if (!added) {
        stateOut = state.clone();
        infoOut = nodeInfo.clone();
        added = true;
      }
      infoOut.addPod(pi);
      const s = this.runPreFilterExtensionAddPod(stateOut, pod, pi, infoOut);
      if (s && s.code !== Code.Success) return s;
    }
    const s = this.runFilterPlugins(stateOut, pod, infoOut);
    if (!added || (s && s.code !== Code.Success)) return s;
    return this.runFilterPlugins(state, pod, nodeInfo);
  }

  runPreFilterExtensionAddPod(state: CycleState, podToSchedule: Pod, podInfoToAdd: PodInfo, nodeInfo: NodeInfo): Result {
    for (const pl of this.preFilterPlugins) {
      if (!pl.preFilterExtensions || state.skipFilterPlugins.has(pl.name)) continue;
      const s = pl.preFilterExtensions.addPod(state, podToSchedule, podInfoToAdd, nodeInfo);
      if (s && s.code !== Code.Success) return Status.error(`running AddPod on PreFilter plugin ${JSON.stringify(pl.name)}: ${s.message()}`);
    }
    return undefined;
  }

  runPreFilterExtensionRemovePod(state: CycleState, podToSchedule: Pod, podInfoToRemove: PodInfo, nodeInfo: NodeInfo): Result {
    for (const pl of this.preFilterPlugins) {
      if (!pl.preFilterExtensions || state.skipFilterPlugins.has(pl.name)) continue;
      const s = pl.preFilterExtensions.removePod(state, podToSchedule, podInfoToRemove, nodeInfo);
      if (s && s.code !== Code.Success) return Status.error(`running RemovePod on PreFilter plugin ${JSON.stringify(pl.name)}: ${s.message()}`);
    }
    return undefined;
  }

  // ---- PostFilter

  /** The first success or unresolvable result wins; otherwise the rejection reasons of all plugins are joined. */
  runPostFilterPlugins(state: CycleState, pod: Pod, statuses: NodeToStatus): PostFilterResult {
    let nominated: string | undefined;
    const reasons: string[] = [];
    let rejector = '';
    for (const pl of this.postFilterPlugins) {
      const r = pl.postFilter(state, pod, statuses);
      const s = r.status;
      if (s === undefined || s.code === Code.Success) return r;
      if (s.code === Code.UnschedulableAndUnresolvable) return { ...r, status: s.withPlugin(pl.name) };
      if (!s.isRejected()) return { status: Status.error(s.asError()).withPlugin(pl.name) };
      if (r.nominatedNodeName !== undefined) nominated = r.nominatedNodeName;
      reasons.push(...s.reasons);
      rejector ||= pl.name;
    }
    return { status: Status.unschedulable(...reasons).withPlugin(rejector), nominatedNodeName: nominated };
  }

  // ---- PreScore / Score

  runPreScorePlugins(state: CycleState, pod: Pod, nodes: readonly NodeInfo[]): Result {
    const skip = new Set<string>();
    for (const pl of this.preScorePlugins) {
      const s = pl.preScore(state, pod, nodes);
      if (s === undefined || s.code === Code.Success) continue;
      if (s.code === Code.Skip) {
        skip.add(pl.name);
        continue;
      }
      return Status.error(`running PreScore plugin ${JSON.stringify(pl.name)}: ${s.message()}`).withPlugin(pl.name);
    }
    state.skipScorePlugins = skip;
    return undefined;
  }

  /**
   * Scores every node with every (non-skipped) Score plugin, normalizes each plugin's scores, checks they are in
   * 0..100 and returns the weighted totals, parallel to `nodes`.
   */
  runScorePlugins(state: CycleState, pod: Pod, nodes: readonly NodeInfo[], perPlugin?: PluginScores): Float64Array | Status {
    const n = nodes.length;
    const totals = new Float64Array(n);
    const skip = state.skipScorePlugins;
    for (const { plugin, weight } of this.scorePlugins) {
      if (skip.has(plugin.name)) continue;
      const scores = new Float64Array(n);
      for (let i = 0; i < n; i++) scores[i] = plugin.score(state, pod, nodes[i]!);
      if (plugin.normalizeScore) {
        const s = plugin.normalizeScore(state, pod, nodes, scores);
        if (s && s.code !== Code.Success) return Status.error(`running Normalize on Score plugins: ${s.message()}`).withPlugin(plugin.name);
      }
      for (let i = 0; i < n; i++) {
        const v = scores[i]!;
        if (v > maxNodeScore || v < minNodeScore || !Number.isInteger(v)) {
          return Status.error(`plugin ${JSON.stringify(plugin.name)} returns an invalid score ${v}, it should in the range of [${minNodeScore}, ${maxNodeScore}] after normalizing`);
        }
        totals[i] += v * weight;
      }
      perPlugin?.set(plugin.name, scores);
    }
    return totals;
  }

  // ---- Reserve / Permit / Bind

  runReservePluginsReserve(state: CycleState, pod: Pod, nodeName: string): Result {
    for (const pl of this.reservePlugins) {
      const s = pl.reserve(state, pod, nodeName);
      if (s && s.code !== Code.Success) {
        if (s.isRejected()) return s.withPlugin(pl.name);
        return Status.error(`running Reserve plugin ${JSON.stringify(pl.name)}: ${s.message()}`).withPlugin(pl.name);
      }
    }
    return undefined;
  }

  /** In reverse order, every plugin, whether or not its reserve ran. */
  runReservePluginsUnreserve(state: CycleState, pod: Pod, nodeName: string): void {
    for (let i = this.reservePlugins.length - 1; i >= 0; i--) this.reservePlugins[i]!.unreserve(state, pod, nodeName);
  }

  /** Rejections and errors end the cycle; Wait statuses park the pod as a WaitingPod for the binding cycle. */
  runPermitPlugins(state: CycleState, pod: Pod, nodeName: string): Result {
    const waits = new Map<string, number>();
    for (const pl of this.permitPlugins) {
      const s = pl.permit(state, pod, nodeName);
      if (s === undefined || s.code === Code.Success) continue;
      if (s.isRejected()) return s.withPlugin(pl.name);
      if (s.code === Code.Wait) {
        waits.set(pl.name, Math.min(s.timeoutMs, maxPermitTimeoutMs));
        continue;
      }
      return Status.error(`running Permit plugin ${JSON.stringify(pl.name)}: ${s.message()}`).withPlugin(pl.name);
    }
    if (waits.size === 0) return undefined;
    this.waitingPods.set(podUid(pod), new WaitingPod(pod, waits, this.clock));
    return new Status(Code.Wait, ['one or more plugins asked to wait and no plugin rejected pod']);
  }

  /** Resolves when every waiting Permit plugin allowed the pod (undefined) or one rejected it. */
  async waitOnPermit(pod: Pod): Promise<Result> {
    const uid = podUid(pod);
    const wp = this.waitingPods.get(uid);
    if (!wp) return undefined;
    try {
      return await wp.done;
    } finally {
      this.waitingPods.delete(uid);
    }
  }

  /** Runs bind plugins until one does not Skip. */
  async runBindPlugins(state: CycleState, pod: Pod, nodeName: string): Promise<Result> {
    if (this.bindPlugins.length === 0) return Status.error('no bind plugin is configured');
    for (const pl of this.bindPlugins) {
      const s = await pl.bind(state, pod, nodeName);
      if (s && s.code === Code.Skip) continue;
      if (s && s.code !== Code.Success) {
        if (s.isRejected()) return s.withPlugin(pl.name);
        return Status.error(`running Bind plugin ${JSON.stringify(pl.name)}: ${s.message()}`).withPlugin(pl.name);
      }
      return undefined;
    }
    return Status.error('all bind plugins skipped the pod');
  }

  /** PreEnqueue plugins in order; the first rejection gates the pod. */
  runPreEnqueuePlugins(pod: Pod): Result {
    for (const pl of this.preEnqueuePlugins) {
      const s = pl.preEnqueue(pod);
      if (s && s.code !== Code.Success) {
        if (s.isRejected()) return s.withPlugin(pl.name);
        return Status.error(`running PreEnqueue plugin ${JSON.stringify(pl.name)}: ${s.message()}`).withPlugin(pl.name);
      }
    }
    return undefined;
  }

  /** The queue order: the QueueSort plugin's, or priority then FIFO when none is configured. */
  less(a: QueuedPodInfo, b: QueuedPodInfo): boolean {
    if (this.queueSort) return this.queueSort.less(a, b);
    const pa = a.podInfo.priority;
    const pb = b.podInfo.priority;
    return pa > pb || (pa === pb && a.timestamp < b.timestamp);
  }

  /** A fresh CycleState for a cycle. */
  newCycleState(): CycleState {
    return new CycleState();
  }
}

