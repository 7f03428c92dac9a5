/**
 * Pod topology spread constraints (podtopologyspread plugin).
 *
 * Filter (whenUnsatisfiable: DoNotSchedule): placing the pod in the node's domain must keep
 *   matching pods in that domain + 1 (if the pod matches its own selector) - the global minimum <= maxSkew,
 * where domains come from the nodes that pass the pod's node affinity (nodeAffinityPolicy Honor, the default)
 * and carry every constraint's topology key; with minDomains, fewer domains than minDomains make the minimum 0.
 * Score (ScheduleAnyway): fewer matching pods in the node's domains is better, each constraint weighted by
 * log(number of domains + 2), normalized so the emptiest node gets 100.
 *
 * Pods without constraints get the system defaults (hostname maxSkew 3, zone maxSkew 5, both ScheduleAnyway)
 * when the Services, ReplicaSets or StatefulSets selecting them give a selector.
 */
import type { TopologySpreadConstraint } from 'kubernetes-types/core/v1.js';
import { labelSelectorFromObject, labelSelectorFromSet, matches, selectorToString, type LabelSelector, type LabelRequirement } from '../../../api/labels.js';
import { mustRead, type CycleState, type StateData } from '../../framework/cycle-state.js';
import {
  ActionType,
  maxNodeScore,
  type ClusterEventWithHint,
  type EnqueueExtensions,
  type FilterPlugin,
  type Handle,
  type PreFilterExtensions,
  type PreFilterPlugin,
  type PreScorePlugin,
  type ScorePlugin,
} from '../../framework/interface.js';
import type { NodeInfo } from '../../framework/node-info.js';
import { RequiredNodeAffinity } from '../../framework/node-selector.js';
import type { PodInfo } from '../../framework/pod-info.js';
import { Status, type Result } from '../../framework/status.js';
import { findUntoleratedTaint, isDoNotScheduleTaint } from '../../framework/taints.js';
import type { Node, Pod } from '../../framework/types.js';
import type { KubeObject } from '../../../api/object.js';
import * as names from '../names.js';

export const errReasonConstraintsNotMatch = "node(s) didn't match pod topology spread constraints";
export const errReasonNodeLabelNotMatch = errReasonConstraintsNotMatch + ' (missing required label)';

const hostnameKey = 'kubernetes.io/hostname';

export interface PodTopologySpreadArgs {
  /** 'System' (default): the built-in soft defaults; 'List': `defaultConstraints`. */
  defaultingType?: 'System' | 'List';
  defaultConstraints?: TopologySpreadConstraint[];
}

export const systemDefaultConstraints: readonly TopologySpreadConstraint[] = [
  { topologyKey: hostnameKey, whenUnsatisfiable: 'ScheduleAnyway', maxSkew: 3 },
  { topologyKey: 'topology.kubernetes.io/zone', whenUnsatisfiable: 'ScheduleAnyway', maxSkew: 5 },
];

interface Constraint {
  maxSkew: number;
  topologyKey: string;
  selector: LabelSelector;
  /** Identifies (namespace, selector) for the per-node count cache. */
  cacheKey: string;
  minDomains: number;
  honorNodeAffinity: boolean;
  honorNodeTaints: boolean;
}

const preFilterKey = 'PreFilter' + names.PodTopologySpread;
const preScoreKey = 'PreScore' + names.PodTopologySpread;

function countPodsMatchSelector(pods: readonly PodInfo[], selector: LabelSelector, namespace: string): number {
  let n = 0;
  for (const p of pods) {
    const m = p.pod.metadata;
    // Terminating pods are on their way out; counting them would skew against the domain they leave.
    if (m.deletionTimestamp || m.namespace !== namespace) continue;
    if (matches(selector, m.labels)) n++;
  }
  return n;
}

function countCacheKey(pod: Pod, selector: LabelSelector): string {
  return `${pod.metadata.namespace ?? ''}\x00${selector.matchesNothing ? '!' : ''}${selectorToString(selector)}`;
}

const maxCachedSelectors = 1000;

/**
 * Matching-pod counts per node for recently used selectors. Pods of one workload share a selector and each cycle
 * changes one node, so most counts are reused: NodeInfo.generation tells which are stale.
 */
class MatchCountCache {
  private readonly bySelector = new Map<string, Map<string, { generation: number; count: number }>>();

  count(ni: NodeInfo, c: Constraint, namespace: string): number {
    let byNode = this.bySelector.get(c.cacheKey);
    if (!byNode) {
      if (this.bySelector.size >= maxCachedSelectors) this.bySelector.clear();
      this.bySelector.set(c.cacheKey, (byNode = new Map()));
    }
    const hit = byNode.get(ni.name);
    if (hit && hit.generation === ni.generation) return hit.count;
    const count = countPodsMatchSelector(ni.pods, c.selector, namespace);
    if (hit) {
      hit.generation = ni.generation;
      hit.count = count;
    } else byNode.set(ni.name, { generation: ni.generation, count });
    return count;
  }
}

function nodeHasAllKeys(labels: Readonly<Record<string, string>>, constraints: readonly Constraint[]): boolean {
  for (const c of constraints) if (labels[c.topologyKey] === undefined) return false;
  return true;
}

function matchesInclusionPolicies(c: Constraint, pod: Pod, node: Node, required: RequiredNodeAffinity): boolean {
  if (c.honorNodeAffinity && !required.matches(node)) return false;
  if (c.honorNodeTaints && findUntoleratedTaint(node.spec?.taints, pod.spec?.tolerations, isDoNotScheduleTaint)) return false;
  return true;
}

class PreFilterState implements StateData {
  private minMemo: (number | undefined)[];

  constructor(
    readonly constraints: readonly Constraint[],
    /** Matching pods per domain value, per constraint (domains with no matching pods are present with 0). */
    readonly counts: Map<string, number>[],
    readonly required: RequiredNodeAffinity,
  ) {
    this.minMemo = new Array(constraints.length);
  }

  clone(): StateData {
    return new PreFilterState(this.constraints, this.counts.map((m) => new Map(m)), this.required);
  }

  /** The global minimum of matching pods over the constraint's domains; 0 when there are fewer than minDomains. */
  minMatchNum(i: number): number {
    const c = this.constraints[i]!;
    const m = this.counts[i]!;
    if (m.size < c.minDomains) return 0;
    let min = this.minMemo[i];
    if (min === undefined) {
      min = Infinity;
      for (const v of m.values()) if (v < min) min = v;
      if (min === Infinity) min = 0;
      this.minMemo[i] = min;
    }
    return min;
  }

  updateWithPod(other: PodInfo, preemptor: Pod, node: Node | undefined, delta: number): void {
    if (!node || other.pod.metadata.namespace !== preemptor.metadata.namespace) return;
    const labels = node.metadata.labels ?? {};
    if (!nodeHasAllKeys(labels, this.constraints)) return;
    this.constraints.forEach((c, i) => {
      if (!matches(c.selector, other.pod.metadata.labels)) return;
      if (!matchesInclusionPolicies(c, preemptor, node, this.required)) return;
      const v = labels[c.topologyKey]!;
      this.counts[i]!.set(v, (this.counts[i]!.get(v) ?? 0) + delta);
      this.minMemo[i] = undefined;
    });
  }
}

class PreScoreState implements StateData {
  constructor(
    readonly constraints: readonly Constraint[],
    /** Matching pods per domain value, per constraint (not for hostname constraints: those are counted per node). */
    readonly counts: Map<string, number>[],
    readonly weights: number[],
    readonly ignoredNodes: ReadonlySet<string>,
  ) {}
  clone(): StateData {
    return this;
  }
}

export class PodTopologySpread implements PreFilterPlugin, FilterPlugin, PreScorePlugin, ScorePlugin, EnqueueExtensions {
  readonly name = names.PodTopologySpread;
  private readonly systemDefaulted: boolean;
  private readonly defaults: readonly TopologySpreadConstraint[];
  private readonly counts = new MatchCountCache();

  constructor(
    private readonly handle: Handle,
    args: PodTopologySpreadArgs = {},
  ) {
    this.systemDefaulted = (args.defaultingType ?? 'System') === 'System';
    this.defaults = this.systemDefaulted ? systemDefaultConstraints : (args.defaultConstraints ?? []);
    for (const c of this.defaults) if (c.labelSelector) throw new Error('defaultConstraints[].labelSelector: Forbidden: constraint must not define a selector, as they deduced for each pod');
  }

  /** The pod's constraints for one action, or the defaults (with a selector from the pod's owners) if it has none. */
  private constraintsFor(pod: Pod, action: 'DoNotSchedule' | 'ScheduleAnyway'): Constraint[] {
    const own = pod.spec?.topologySpreadConstraints ?? [];
    if (own.length > 0) {
      const out: Constraint[] = [];
      for (const c of own) {
        if (c.whenUnsatisfiable !== action) continue;
        let selector = labelSelectorFromObject(c.labelSelector);
        const podLabels = pod.metadata.labels ?? {};
        const extra: LabelRequirement[] = [];
        for (const k of c.matchLabelKeys ?? []) if (podLabels[k] !== undefined) extra.push({ key: k, operator: '=', values: [podLabels[k]!] });
        if (extra.length > 0) selector = { requirements: [...selector.requirements, ...extra], matchesNothing: selector.matchesNothing };
        out.push({
          maxSkew: c.maxSkew,
          topologyKey: c.topologyKey,
          selector,
          cacheKey: countCacheKey(pod, selector),
          minDomains: c.minDomains ?? 1,
          honorNodeAffinity: (c.nodeAffinityPolicy ?? 'Honor') === 'Honor',
          honorNodeTaints: (c.nodeTaintsPolicy ?? 'Ignore') === 'Honor',
        });
      }
      return out;
    }
    const defaults = this.defaults.filter((c) => c.whenUnsatisfiable === action);
    if (defaults.length === 0) return [];
    const selector = this.defaultSelector(pod);
    if (!selector) return [];
    const cacheKey = countCacheKey(pod, selector);
    return defaults.map((c) => ({
      maxSkew: c.maxSkew,
      topologyKey: c.topologyKey,
      selector,
      cacheKey,
      minDomains: c.minDomains ?? 1,
      honorNodeAffinity: (c.nodeAffinityPolicy ?? 'Honor') === 'Honor',
      honorNodeTaints: (c.nodeTaintsPolicy ?? 'Ignore') === 'Honor',
    }));
  }

  /**
   * helper.DefaultSelector: the union of the selectors of the Services that select the pod and of its
   * controlling ReplicaSet/StatefulSet/ReplicationController; undefined when that is empty.
   */
  private defaultSelector(pod: Pod): LabelSelector | undefined {
    const listers = this.handle.ownerListers;
    if (!listers) return undefined;
    const ns = pod.metadata.namespace ?? '';
    const podLabels = pod.metadata.labels ?? {};
    const set: Record<string, string> = {};
    for (const svc of listers.services?.list(ns) ?? []) {
      const sel = (svc as KubeObject & { spec?: { selector?: Record<string, string> } }).spec?.selector;
      if (!sel || Object.keys(sel).length === 0) continue;
      if (matches(labelSelectorFromSet(sel), podLabels)) Object.assign(set, sel);
    }
    let requirements = labelSelectorFromSet(set).requirements;
    const owner = pod.metadata.ownerReferences?.find((r) => r.controller);
    if (owner) {
      const lister =
        owner.kind === 'ReplicaSet' && owner.apiVersion.startsWith('apps/')
          ? listers.replicaSets
          : owner.kind === 'StatefulSet' && owner.apiVersion.startsWith('apps/')
            ? listers.statefulSets
            : owner.kind === 'ReplicationController' && owner.apiVersion === 'v1'
              ? listers.replicationControllers
              : undefined;
      const obj = lister?.get(ns, owner.name) as (KubeObject & { spec?: { selector?: unknown } }) | undefined;
      if (obj?.spec?.selector) {
        try {
          const sel =
            owner.kind === 'ReplicationController'
              ? labelSelectorFromSet(obj.spec.selector as Record<string, string>)
              : labelSelectorFromObject(obj.spec.selector as Parameters<typeof labelSelectorFromObject>[0]);
          requirements = [...requirements, ...sel.requirements];
        } catch {
          // An invalid owner selector adds nothing, as upstream ignores the parse error.
        }
      }
    }
    return requirements.length > 0 ? { requirements } : undefined;
  }

  preFilter(state: CycleState, pod: Pod): Status | undefined {
    const constraints = this.constraintsFor(pod, 'DoNotSchedule');
    if (constraints.length === 0) return Status.skip();
    const required = new RequiredNodeAffinity(pod);
    const ns = pod.metadata.namespace ?? '';
    const counts = constraints.map(() => new Map<string, number>());
    for (const ni of this.handle.snapshot.list()) {
      const node = ni.node!;
      if (!nodeHasAllKeys(ni.labels, constraints)) continue;
      for (let i = 0; i < constraints.length; i++) {
        const c = constraints[i]!;
        if (!matchesInclusionPolicies(c, pod, node, required)) continue;
        const v = ni.labels[c.topologyKey]!;
        const m = counts[i]!;
        m.set(v, (m.get(v) ?? 0) + this.counts.count(ni, c, ns));
      }
    }
    state.write(preFilterKey, new PreFilterState(constraints, counts, required));
    return undefined;
  }

  readonly preFilterExtensions: PreFilterExtensions = {
    addPod: (state, pod, toAdd, nodeInfo) => {
      mustRead<PreFilterState>(state, preFilterKey).updateWithPod(toAdd, pod, nodeInfo.node, 1);
      return undefined;
    },
    removePod: (state, pod, toRemove, nodeInfo) => {
      mustRead<PreFilterState>(state, preFilterKey).updateWithPod(toRemove, pod, nodeInfo.node, -1);
      return undefined;
    },
  };

  filter(state: CycleState, pod: Pod, nodeInfo: NodeInfo): Result {
    const s = mustRead<PreFilterState>(state, preFilterKey);
    const podLabels = pod.metadata.labels;
    for (let i = 0; i < s.constraints.length; i++) {
      const c = s.constraints[i]!;
      const v = nodeInfo.labels[c.topologyKey];
      if (v === undefined) return Status.unresolvable(errReasonNodeLabelNotMatch);
      const self = matches(c.selector, podLabels) ? 1 : 0;
      const skew = (s.counts[i]!.get(v) ?? 0) + self - s.minMatchNum(i);
      if (skew > c.maxSkew) return Status.unschedulable(errReasonConstraintsNotMatch);
    }
    return undefined;
  }

  preScore(state: CycleState, pod: Pod, nodes: readonly NodeInfo[]): Result {
    if (nodes.length === 0) return Status.skip();
    const constraints = this.constraintsFor(pod, 'ScheduleAnyway');
    if (constraints.length === 0) return Status.skip();
    // The system defaults tolerate nodes without a zone label; explicit constraints need every key.
    const requireAll = (pod.spec?.topologySpreadConstraints?.length ?? 0) > 0 || !this.systemDefaulted;
    const ignored = new Set<string>();
    const counts = constraints.map(() => new Map<string, number>());
    const sizes = constraints.map(() => 0);
    for (const ni of nodes) {
      if (requireAll && !nodeHasAllKeys(ni.labels, constraints)) {
        ignored.add(ni.name);
        continue;
      }
      for (let i = 0; i < constraints.length; i++) {
        const c = constraints[i]!;
        if (c.topologyKey === hostnameKey) continue;
        const v = ni.labels[c.topologyKey];
        // Nodes without the key are not scored on it, so their domain is never read.
        if (v === undefined || counts[i]!.has(v)) continue;
        counts[i]!.set(v, 0);
        sizes[i]!++;
      }
    }
    const weights = constraints.map((c, i) => Math.log((c.topologyKey === hostnameKey ? nodes.length - ignored.size : sizes[i]!) + 2));
    const needCounting = counts.some((m) => m.size > 0);
    if (needCounting) {
      const required = new RequiredNodeAffinity(pod);
      const ns = pod.metadata.namespace ?? '';
      for (const ni of this.handle.snapshot.list()) {
        if (requireAll && !nodeHasAllKeys(ni.labels, constraints)) continue;
        for (let i = 0; i < constraints.length; i++) {
          const c = constraints[i]!;
          const v = ni.labels[c.topologyKey];
          if (v === undefined) continue;
          const cur = counts[i]!.get(v);
          if (cur === undefined) continue;
          if (!matchesInclusionPolicies(c, pod, ni.node!, required)) continue;
          counts[i]!.set(v, cur + this.counts.count(ni, c, ns));
        }
      }
    }
    state.write(preScoreKey, new PreScoreState(constraints, counts, weights, ignored));
    return undefined;
  }

  score(state: CycleState, pod: Pod, nodeInfo: NodeInfo): number {
    const s = mustRead<PreScoreState>(state, preScoreKey);
    if (s.ignoredNodes.has(nodeInfo.name)) return 0;
    let score = 0;
    const ns = pod.metadata.namespace ?? '';
    for (let i = 0; i < s.constraints.length; i++) {
      const c = s.constraints[i]!;
      const v = nodeInfo.labels[c.topologyKey];
      if (v === undefined) continue;
      const cnt = c.topologyKey === hostnameKey ? this.counts.count(nodeInfo, c, ns) : (s.counts[i]!.get(v) ?? 0);
      score += cnt * s.weights[i]! + (c.maxSkew - 1);
    }
    return Math.round(score);
  }

  /** Fewer matching pods is better: maps [min, max] onto [100, 100*min/max]; ignored nodes get 0. */
  normalizeScore(state: CycleState, _pod: Pod, nodes: readonly NodeInfo[], scores: Float64Array): Result {
    const s = state.read<PreScoreState>(preScoreKey);
    if (!s) return undefined;
    let min = Infinity;
    let max = 0;
    for (let i = 0; i < scores.length; i++) {
      if (s.ignoredNodes.has(nodes[i]!.name)) continue;
      const v = scores[i]!;
      if (v < min) min = v;
      if (v > max) max = v;
    }
    for (let i = 0; i < scores.length; i++) {
      if (s.ignoredNodes.has(nodes[i]!.name)) scores[i] = 0;
      else if (max === 0) scores[i] = maxNodeScore;
      else scores[i] = Math.trunc((maxNodeScore * (max + min - scores[i]!)) / max);
    }
    return undefined;
  }

  eventsToRegister(): ClusterEventWithHint[] {
    return [
      { event: { resource: 'AssignedPod', actionType: ActionType.Add | ActionType.UpdatePodLabel | ActionType.Delete } },
      { event: { resource: 'Node', actionType: ActionType.Add | ActionType.Delete | ActionType.UpdateNodeLabel | ActionType.UpdateNodeTaint } },
    ];
  }
}
