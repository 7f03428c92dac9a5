/**
 * Inter-pod affinity and anti-affinity (interpodaffinity plugin).
 *
 * Filter, from counts per topology pair (key=value) computed once in PreFilter:
 * - the pod's required affinity: every term's topology value on the node must hold a pod matching all terms
 *   (or, for the first pod of a group that matches its own terms, no such pod exists anywhere);
 * - the pod's required anti-affinity: no matching pod in the node's topology value of any term;
 * - existing pods' required anti-affinity: no existing pod whose term matches this pod in a domain of the node.
 * Score: preferred terms in both directions (and existing pods' required affinity with weight 1), summed per
 * topology value and scaled to 0..100 between the lowest and highest node.
 */
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
import { PodInfo, type AffinityTerm, type NamespaceLabels, type WeightedAffinityTerm } from '../../framework/pod-info.js';
import { Status, type Result } from '../../framework/status.js';
import type { Node, Pod } from '../../framework/types.js';
import * as names from '../names.js';

export const errReasonExistingAntiAffinityRulesNotMatch = "node(s) didn't satisfy existing pods anti-affinity rules";
export const errReasonAffinityRulesNotMatch = "node(s) didn't match pod affinity rules";
export const errReasonAntiAffinityRulesNotMatch = "node(s) didn't match pod anti-affinity rules";

export interface InterPodAffinityArgs {
  /** Score weight of existing pods' required affinity terms that the incoming pod matches (default 1). */
  hardPodAffinityWeight?: number;
  /** Ignore existing pods' preferred terms when the incoming pod has none (default false). */
  ignorePreferredTermsOfExistingPods?: boolean;
}

const preFilterKey = 'PreFilter' + names.InterPodAffinity;
const preScoreKey = 'PreScore' + names.InterPodAffinity;

/** Counts per topology pair, keyed `key\0value`. */
type TopologyCounts = Map<string, number>;

function tp(key: string, value: string): string {
  return `${key}\x00${value}`;
}

function bump(m: TopologyCounts, k: string, by: number): void {
  const v = (m.get(k) ?? 0) + by;
  if (v === 0) m.delete(k);
  else m.set(k, v);
}

/** A memo of namespace labels for one cycle. */
function memoNamespaceLabels(lookup: NamespaceLabels): NamespaceLabels {
  const memo = new Map<string, Readonly<Record<string, string>> | undefined>();
  return (ns) => {
    if (!memo.has(ns)) memo.set(ns, lookup(ns));
    return memo.get(ns);
  };
}

function matchesAllTerms(terms: readonly AffinityTerm[], pod: Pod, nsLabels: NamespaceLabels): boolean {
  if (terms.length === 0) return false;
  for (const t of terms) if (!t.matches(pod, nsLabels)) return false;
  return true;
}

class PreFilterState implements StateData {
  constructor(
    readonly podInfo: PodInfo,
    readonly nsLabels: NamespaceLabels,
    /** Pods already placed whose required anti-affinity terms match the incoming pod, by their topology pair. */
    readonly existingAntiAffinityCounts: TopologyCounts,
    /** Placed pods matching all of the incoming pod's required affinity terms, per term topology pair. */
    readonly affinityCounts: TopologyCounts,
    /** Placed pods matching one of the incoming pod's required anti-affinity terms, per term topology pair. */
    readonly antiAffinityCounts: TopologyCounts,
  ) {}

  clone(): StateData {
    return new PreFilterState(this.podInfo, this.nsLabels, new Map(this.existingAntiAffinityCounts), new Map(this.affinityCounts), new Map(this.antiAffinityCounts));
  }

  /** Accounts for `other` being added (+1) to or removed (-1) from `node` in a simulation. */
  updateWithPod(other: PodInfo, node: Node | undefined, multiplier: 1 | -1): void {
    if (!node) return;
    const labels = node.metadata.labels ?? {};
    const pod = this.podInfo.pod;
    const podNsLabels = this.nsLabels;
    for (const t of other.requiredAntiAffinityTerms) {
      const v = labels[t.topologyKey];
      if (v !== undefined && t.matches(pod, podNsLabels)) bump(this.existingAntiAffinityCounts, tp(t.topologyKey, v), multiplier);
    }
    const aff = this.podInfo.requiredAffinityTerms;
    if (matchesAllTerms(aff, other.pod, this.nsLabels)) {
      for (const t of aff) {
        const v = labels[t.topologyKey];
        if (v !== undefined) bump(this.affinityCounts, tp(t.topologyKey, v), multiplier);
      }
    }
    for (const t of this.podInfo.requiredAntiAffinityTerms) {
      const v = labels[t.topologyKey];
      if (v !== undefined && t.matches(other.pod, this.nsLabels)) bump(this.antiAffinityCounts, tp(t.topologyKey, v), multiplier);
    }
  }
}

/** Scores per topology key then value. */
type ScoreMap = Map<string, Map<string, number>>;

class PreScoreState implements StateData {
  constructor(readonly topologyScore: ScoreMap) {}
  clone(): StateData {
    return this;
  }
}

function addTermScore(m: ScoreMap, term: AffinityTerm, weight: number, pod: Pod, nsLabels: NamespaceLabels, node: Node, multiplier: number): void {
  if (!term.matches(pod, nsLabels)) return;
  const v = node.metadata.labels?.[term.topologyKey];
  if (v === undefined) return;
  let byValue = m.get(term.topologyKey);
  if (!byValue) m.set(term.topologyKey, (byValue = new Map()));
  byValue.set(v, (byValue.get(v) ?? 0) + weight * multiplier);
}

function addTermsScore(m: ScoreMap, terms: readonly WeightedAffinityTerm[], pod: Pod, nsLabels: NamespaceLabels, node: Node, multiplier: number): void {
  for (const t of terms) addTermScore(m, t.term, t.weight, pod, nsLabels, node, multiplier);
}

export class InterPodAffinity implements PreFilterPlugin, FilterPlugin, PreScorePlugin, ScorePlugin, EnqueueExtensions {
  readonly name = names.InterPodAffinity;
  private readonly hardPodAffinityWeight: number;
  private readonly ignorePreferredTermsOfExistingPods: boolean;

  constructor(
    private readonly handle: Handle,
    args: InterPodAffinityArgs = {},
  ) {
    this.hardPodAffinityWeight = args.hardPodAffinityWeight ?? 1;
    this.ignorePreferredTermsOfExistingPods = args.ignorePreferredTermsOfExistingPods ?? false;
    if (this.hardPodAffinityWeight < 0 || this.hardPodAffinityWeight > 100) throw new Error(`hardPodAffinityWeight: Invalid value: ${this.hardPodAffinityWeight}: not in valid range [0-100]`);
  }

  preFilter(state: CycleState, pod: Pod): Status | undefined {
    const pi = PodInfo.of(pod);
    if (pi.parseError) return Status.unresolvable(`parsing pod: ${pi.parseError.message}`);
    const snapshot = this.handle.snapshot;
    const withAnti = snapshot.havePodsWithRequiredAntiAffinity();
    const aff = pi.requiredAffinityTerms;
    const anti = pi.requiredAntiAffinityTerms;
    if (aff.length === 0 && anti.length === 0 && withAnti.length === 0) return Status.skip();
    const nsLabels = memoNamespaceLabels(this.handle.namespaceLabels);

    const existing: TopologyCounts = new Map();
    for (const ni of withAnti) {
      const labels = ni.labels;
      for (const other of ni.podsWithRequiredAntiAffinity) {
        for (const t of other.requiredAntiAffinityTerms) {
          const v = labels[t.topologyKey];
          if (v !== undefined && t.matches(pod, nsLabels)) bump(existing, tp(t.topologyKey, v), 1);
        }
      }
    }
    const affinityCounts: TopologyCounts = new Map();
    const antiCounts: TopologyCounts = new Map();
    if (aff.length > 0 || anti.length > 0) {
      for (const ni of snapshot.list()) {
        const labels = ni.labels;
        for (const other of ni.pods) {
          if (aff.length > 0 && matchesAllTerms(aff, other.pod, nsLabels)) {
            for (const t of aff) {
              const v = labels[t.topologyKey];
              if (v !== undefined) bump(affinityCounts, tp(t.topologyKey, v), 1);
            }
          }
          for (const t of anti) {
            const v = labels[t.topologyKey];
            if (v !== undefined && t.matches(other.pod, nsLabels)) bump(antiCounts, tp(t.topologyKey, v), 1);
          }
        }
      }
    }
    state.write(preFilterKey, new PreFilterState(pi, nsLabels, existing, affinityCounts, antiCounts));
    return undefined;
  }

  readonly preFilterExtensions: PreFilterExtensions = {
    addPod: (state, _pod, toAdd, nodeInfo) => {
      mustRead<PreFilterState>(state, preFilterKey).updateWithPod(toAdd, nodeInfo.node, 1);
      return undefined;
    },
    removePod: (state, _pod, toRemove, nodeInfo) => {
      mustRead<PreFilterState>(state, preFilterKey).updateWithPod(toRemove, nodeInfo.node, -1);
      return undefined;
    },
  };

  filter(state: CycleState, _pod: Pod, nodeInfo: NodeInfo): Result {
    const s = mustRead<PreFilterState>(state, preFilterKey);
    if (!this.satisfiesPodAffinity(s, nodeInfo)) return Status.unresolvable(errReasonAffinityRulesNotMatch);
    if (!this.satisfiesPodAntiAffinity(s, nodeInfo)) return Status.unschedulable(errReasonAntiAffinityRulesNotMatch);
    if (!this.satisfiesExistingPodsAntiAffinity(s, nodeInfo)) return Status.unschedulable(errReasonExistingAntiAffinityRulesNotMatch);
    return undefined;
  }

  private satisfiesPodAffinity(s: PreFilterState, nodeInfo: NodeInfo): boolean {
    let podsExist = true;
    for (const t of s.podInfo.requiredAffinityTerms) {
      const v = nodeInfo.labels[t.topologyKey];
      // Every topology label must exist on the node.
      if (v === undefined) return false;
      if ((s.affinityCounts.get(tp(t.topologyKey, v)) ?? 0) <= 0) podsExist = false;
    }
    if (podsExist) return true;
    // The first pod of a group with affinity to itself: let it in when nothing else matches anywhere.
    return s.affinityCounts.size === 0 && matchesAllTerms(s.podInfo.requiredAffinityTerms, s.podInfo.pod, s.nsLabels);
  }

  private satisfiesPodAntiAffinity(s: PreFilterState, nodeInfo: NodeInfo): boolean {
    if (s.antiAffinityCounts.size === 0) return true;
    for (const t of s.podInfo.requiredAntiAffinityTerms) {
      const v = nodeInfo.labels[t.topologyKey];
      if (v !== undefined && (s.antiAffinityCounts.get(tp(t.topologyKey, v)) ?? 0) > 0) return false;
    }
    return true;
  }

  private satisfiesExistingPodsAntiAffinity(s: PreFilterState, nodeInfo: NodeInfo): boolean {
    if (s.existingAntiAffinityCounts.size === 0) return true;
    for (const k in nodeInfo.labels) {
      if ((s.existingAntiAffinityCounts.get(tp(k, nodeInfo.labels[k]!)) ?? 0) > 0) return false;
    }
    return true;
  }

  preScore(state: CycleState, pod: Pod, nodes: readonly NodeInfo[]): Result {
    if (nodes.length === 0) return Status.skip();
    const pi = PodInfo.of(pod);
    if (pi.parseError) return Status.error(`parsing pod: ${pi.parseError.message}`);
    const hasConstraints = pi.preferredAffinityTerms.length > 0 || pi.preferredAntiAffinityTerms.length > 0;
    if (this.ignorePreferredTermsOfExistingPods && !hasConstraints) return Status.skip();
    // Without preferred terms of its own, only nodes with pods that have affinity terms can change the score.
    const all = hasConstraints ? this.handle.snapshot.list() : this.handle.snapshot.havePodsWithAffinity();
    const nsLabels = memoNamespaceLabels(this.handle.namespaceLabels);
    const scores: ScoreMap = new Map();
    for (const ni of all) {
      const node = ni.node;
      if (!node || Object.keys(ni.labels).length === 0) continue;
      for (const other of hasConstraints ? ni.pods : ni.podsWithAffinity) {
        addTermsScore(scores, pi.preferredAffinityTerms, other.pod, nsLabels, node, 1);
        addTermsScore(scores, pi.preferredAntiAffinityTerms, other.pod, nsLabels, node, -1);
        if (this.hardPodAffinityWeight > 0) {
          for (const t of other.requiredAffinityTerms) addTermScore(scores, t, this.hardPodAffinityWeight, pod, nsLabels, node, 1);
        }
        if (!this.ignorePreferredTermsOfExistingPods) {
          addTermsScore(scores, other.preferredAffinityTerms, pod, nsLabels, node, 1);
          addTermsScore(scores, other.preferredAntiAffinityTerms, pod, nsLabels, node, -1);
        }
      }
    }
    if (scores.size === 0) return Status.skip();
    state.write(preScoreKey, new PreScoreState(scores));
    return undefined;
  }

  score(state: CycleState, _pod: Pod, nodeInfo: NodeInfo): number {
    const { topologyScore } = mustRead<PreScoreState>(state, preScoreKey);
    let score = 0;
    for (const [key, byValue] of topologyScore) {
      const v = nodeInfo.labels[key];
      if (v !== undefined) score += byValue.get(v) ?? 0;
    }
    return score;
  }

  /** Scales linearly between the lowest (0) and highest (100) node score. */
  normalizeScore(state: CycleState, _pod: Pod, _nodes: readonly NodeInfo[], scores: Float64Array): Result {
    const s = state.read<PreScoreState>(preScoreKey);
    if (!s || s.topologyScore.size === 0) return undefined;
    let min = Infinity;
    let max = -Infinity;
    for (const v of scores) {
      if (v > max) max = v;
      if (v < min) min = v;
    }
    const diff = max - min;
    for (let i = 0; i < scores.length; i++) scores[i] = diff > 0 ? Math.trunc(maxNodeScore * ((scores[i]! - min) / diff)) : 0;
    return undefined;
  }

  eventsToRegister(): ClusterEventWithHint[] {
    return [
      { event: { resource: 'AssignedPod', actionType: ActionType.Add | ActionType.UpdatePodLabel | ActionType.Delete } },
      { event: { resource: 'Node', actionType: ActionType.Add | ActionType.UpdateNodeLabel } },
    ];
  }
}
