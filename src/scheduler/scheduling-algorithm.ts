/**
 * Picking a node for one pod over the snapshot (schedule_one.go schedulePod): PreFilter, then Filter from a
 * rotating start index until enough feasible nodes are found (percentageOfNodesToScore), then PreScore, Score,
 * NormalizeScore and the highest total wins, ties broken at random. Pure computation: no I/O, no queue.
 */
import type { CycleState } from './framework/cycle-state.js';
import { Diagnosis, FitError, noNodesAvailableMessage } from './framework/fit-error.js';
import type { Framework, PluginScores } from './framework/framework.js';
import type { NodeInfo } from './framework/node-info.js';
import type { NodeInfoLister } from './framework/snapshot.js';
import { Code, Status } from './framework/status.js';
import type { Pod } from './framework/types.js';

/** Scoring always looks at this many feasible nodes at least (minFeasibleNodesToFind). */
export const minFeasibleNodesToFind = 100;
/** The adaptive percentage never drops below this (minFeasibleNodesPercentageToFind). */
export const minFeasibleNodesPercentageToFind = 5;

/**
 * How many feasible nodes to find before scoring (numFeasibleNodesToFind): every node below 100 nodes; else
 * `percentage` of them, where 0 means adaptive (50% at 100 nodes falling by 1% per 125 nodes, 10% at 5,000, never
 * under 5%), and never fewer than 100.
 */
export function numFeasibleNodesToFind(percentageOfNodesToScore: number, numAllNodes: number): number {
  if (numAllNodes < minFeasibleNodesToFind) return numAllNodes;
  let percentage = percentageOfNodesToScore;
  if (percentage <= 0) {
    percentage = 50 - Math.trunc(numAllNodes / 125);
    if (percentage < minFeasibleNodesPercentageToFind) percentage = minFeasibleNodesPercentageToFind;
  }
  const n = Math.trunc((numAllNodes * percentage) / 100);
  return n < minFeasibleNodesToFind ? minFeasibleNodesToFind : n;
}

export interface ScheduleResult {
  suggestedHost: string;
  /** Nodes the filters looked at. */
  evaluatedNodes: number;
  feasibleNodes: number;
}

export class SchedulingAlgorithm {
  /** Where the next cycle starts filtering, so every node gets examined in turn (nextStartNodeIndex). */
  nextStartNodeIndex = 0;
  /** Per-plugin scores of the last cycle, when `recordScores` is on (tests, debugging). */
  lastScores: PluginScores | undefined;
  recordScores = false;

  constructor(
    private readonly snapshot: NodeInfoLister,
    private readonly random: () => number = Math.random,
  ) {}

  /**
   * The node for `pod`, a FitError when no node fits (the caller runs PostFilter), or an error Status: an
   * UnschedulableAndUnresolvable one when the cluster has no nodes, an Error one when a plugin failed.
   */
  schedulePod(fwk: Framework, state: CycleState, pod: Pod): ScheduleResult | FitError | Status {
    const all = this.snapshot.list();
    if (all.length === 0) return Status.withError(Code.UnschedulableAndUnresolvable, new Error(noNodesAvailableMessage));
    const found = this.findNodesThatFitPod(fwk, state, pod, all);
    if (found instanceof Status) return found;
    const { feasible, diagnosis } = found;
    if (feasible.length === 0) return new FitError(pod, all.length, diagnosis);
    if (feasible.length === 1) return { suggestedHost: feasible[0]!.name, evaluatedNodes: 1 + diagnosis.nodeToStatus.size, feasibleNodes: 1 };
    const totals = this.prioritizeNodes(fwk, state, pod, feasible);
    if (totals instanceof Status) return totals;
    return { suggestedHost: this.selectHost(feasible, totals), evaluatedNodes: feasible.length + diagnosis.nodeToStatus.size, feasibleNodes: feasible.length };
  }

  private findNodesThatFitPod(fwk: Framework, state: CycleState, pod: Pod, all: readonly NodeInfo[]): { feasible: NodeInfo[]; diagnosis: Diagnosis } | Status {
    const diagnosis = new Diagnosis();
    const pre = fwk.runPreFilterPlugins(state, pod, all);
    for (const p of pre.rejectors) diagnosis.unschedulablePlugins.add(p);
    if (pre.status && pre.status.code !== Code.Success) {
      if (!pre.status.isRejected()) return pre.status;
      // Every node gets the PreFilter status, so preemption sees why, and the message shows it once.
      diagnosis.nodeToStatus.absent = pre.status;
      diagnosis.preFilterMsg = pre.status.message();
      return { feasible: [], diagnosis };
    }

    // A nominated node (set by an earlier preemption) is likely the only one that fits: try it first.
    const nominated = pod.status?.nominatedNodeName;
    if (nominated) {
      const ni = this.snapshot.get(nominated);
      if (ni) {
        const r = this.findNodesThatPassFilters(fwk, state, pod, diagnosis, [ni], false);
        if (r instanceof Status) return r;
        if (r.length > 0) return { feasible: r, diagnosis };
      }
    }

    let nodes = all;
    if (pre.nodeNames) {
      nodes = [];
      for (const name of pre.nodeNames) {
        const ni = this.snapshot.get(name);
        if (ni) (nodes as NodeInfo[]).push(ni);
      }
      for (const p of pre.pluginsWithNodes) diagnosis.unschedulablePlugins.add(p);
      diagnosis.nodeToStatus.absent = Status.unresolvable(`node(s) didn't satisfy plugin(s) [${pre.pluginsWithNodes.join(' ')}]`);
    }
    const feasible = this.findNodesThatPassFilters(fwk, state, pod, diagnosis, nodes, true);
    if (feasible instanceof Status) return feasible;
    return { feasible, diagnosis };
  }

  /**
   * Runs the filters from nextStartNodeIndex, wrapping around, and stops once numFeasibleNodesToFind nodes
   * passed. Upstream spreads this over 16 goroutines; here it is one loop that stops as early.
   */
  private findNodesThatPassFilters(fwk: Framework, state: CycleState, pod: Pod, diagnosis: Diagnosis, nodes: readonly NodeInfo[], advance: boolean): NodeInfo[] | Status {
    const n = nodes.length;
    let toFind = numFeasibleNodesToFind(fwk.percentageOfNodesToScore, n);
    if (fwk.scorePlugins.length === 0) toFind = 1;
    const start = n === 0 ? 0 : this.nextStartNodeIndex % n;
    const feasible: NodeInfo[] = [];
    let processed = 0;
    for (let i = 0; i < n && feasible.length < toFind; i++) {
      const ni = nodes[(start + i) % n]!;
      processed++;
      const s = fwk.runFilterPluginsWithNominatedPods(state, pod, ni);
      if (s === undefined || s.code === Code.Success) {
        feasible.push(ni);
        continue;
      }
      if (s.code === Code.Error) return s;
      diagnosis.nodeToStatus.set(ni.name, s);
      diagnosis.addPluginStatus(s);
    }
    if (advance) {
      const total = this.snapshot.numNodes;
      if (total > 0) this.nextStartNodeIndex = (this.nextStartNodeIndex + processed) % total;
    }
    return feasible;
  }

  private prioritizeNodes(fwk: Framework, state: CycleState, pod: Pod, nodes: readonly NodeInfo[]): Float64Array | Status {
    if (fwk.scorePlugins.length === 0) return new Float64Array(nodes.length).fill(1);
    const pre = fwk.runPreScorePlugins(state, pod, nodes);
    if (pre) return pre;
    const per = this.recordScores ? new Map() : undefined;
    const totals = fwk.runScorePlugins(state, pod, nodes, per);
    this.lastScores = per;
    return totals;
  }

  /** The highest total; among equal totals each has the same chance (reservoir sampling, as upstream selectHost). */
  selectHost(nodes: readonly NodeInfo[], totals: Float64Array): string {
    let best = 0;
    let max = totals[0]!;
    let ties = 1;
    for (let i = 1; i < nodes.length; i++) {
      const t = totals[i]!;
      if (t > max) {
        max = t;
        best = i;
        ties = 1;
      } else if (t === max) {
        ties++;
        if (Math.floor(this.random() * ties) === 0) best = i;
      }
    }
    return nodes[best]!.name;
  }
}
