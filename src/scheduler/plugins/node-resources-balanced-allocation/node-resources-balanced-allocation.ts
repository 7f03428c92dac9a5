/**
 * Prefers nodes whose resource use stays balanced across resources (noderesources BalancedAllocation):
 * score = (1 - std) * 100 over the requested/allocatable fractions (capped at 1) with the pod placed, counting
 * actual requests. Best-effort pods are skipped so they do not all pile onto one node (kubernetes#129138).
 */
import { mustRead, type CycleState, type StateData } from '../../framework/cycle-state.js';
import { maxNodeScore, type PreScorePlugin, type ScorePlugin } from '../../framework/interface.js';
import type { NodeInfo } from '../../framework/node-info.js';
import { PodInfo } from '../../framework/pod-info.js';
import { Status, type Result } from '../../framework/status.js';
import type { Pod } from '../../framework/types.js';
import * as names from '../names.js';
import { allocatableAndRequested, defaultScoringResources, podResourceRequest, type AllocReq, type ResourceSpec } from '../node-resources-fit/node-resources-fit.js';

const preScoreKey = 'PreScore' + names.NodeResourcesBalancedAllocation;

class PreScoreState implements StateData {
  constructor(readonly podRequests: Float64Array) {}
  clone(): StateData {
    return this;
  }
}

/** (1 - standard deviation of the fractions) * 100, truncated; resources with no allocatable are left out. */
export function balancedResourceScore(requested: ArrayLike<number>, allocatable: ArrayLike<number>): number {
  // Two passes over the inputs instead of collecting the fractions: scoring runs for every node of every pod.
  let n = 0;
  let total = 0;
  let first = 0;
  let second = 0;
  for (let i = 0; i < requested.length; i++) {
    if (allocatable[i] === 0) continue;
    const f = Math.min(requested[i]! / allocatable[i]!, 1);
    if (n === 0) first = f;
    else if (n === 1) second = f;
    total += f;
    n++;
  }
  let std = 0;
  if (n === 2) std = Math.abs((first - second) / 2);
  else if (n > 2) {
    const mean = total / n;
    let sum = 0;
    for (let i = 0; i < requested.length; i++) {
      if (allocatable[i] === 0) continue;
      const f = Math.min(requested[i]! / allocatable[i]!, 1);
      sum += (f - mean) * (f - mean);
    }
    std = Math.sqrt(sum / n);
  }
  return Math.trunc((1 - std) * maxNodeScore);
}

export class NodeResourcesBalancedAllocation implements PreScorePlugin, ScorePlugin {
  readonly name = names.NodeResourcesBalancedAllocation;
  private readonly resources: readonly ResourceSpec[];
  private readonly req: Float64Array;
  private readonly alloc: Float64Array;
  private readonly scratch: AllocReq = { allocatable: 0, requested: 0 };

  constructor(args: { resources?: ResourceSpec[] } = {}) {
    this.resources = args.resources ?? defaultScoringResources;
    this.req = new Float64Array(this.resources.length);
    this.alloc = new Float64Array(this.resources.length);
  }

  preScore(state: CycleState, pod: Pod): Result {
    const pi = PodInfo.of(pod);
    const reqs = new Float64Array(this.resources.length);
    let any = false;
    for (let i = 0; i < this.resources.length; i++) {
      reqs[i] = podResourceRequest(pi, this.resources[i]!.name, false);
      if (reqs[i] !== 0) any = true;
    }
    if (!any) return Status.skip();
    state.write(preScoreKey, new PreScoreState(reqs));
    return undefined;
  }

  score(state: CycleState, _pod: Pod, nodeInfo: NodeInfo): number {
    const { podRequests } = mustRead<PreScoreState>(state, preScoreKey);
    // Scratch arrays reused across nodes: scoring is synchronous, so nothing else uses them meanwhile.
    const ar = this.scratch;
    for (let i = 0; i < this.resources.length; i++) {
      allocatableAndRequested(nodeInfo, this.resources[i]!.name, podRequests[i]!, true, ar);
      this.alloc[i] = ar.allocatable;
      this.req[i] = ar.requested;
    }
    return balancedResourceScore(this.req, this.alloc);
  }
}
