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
import { allocatableAndRequested, defaultScoringResources, podResourceRequest, type ResourceSpec } from '../node-resources-fit/node-resources-fit.js';

const preScoreKey = 'PreScore' + names.NodeResourcesBalancedAllocation;

class PreScoreState implements StateData {
  constructor(readonly podRequests: Float64Array) {}
  clone(): StateData {
    return this;
  }
}

/** (1 - standard deviation of the fractions) * 100, truncated; resources with no allocatable are left out. */
export function balancedResourceScore(requested: ArrayLike<number>, allocatable: ArrayLike<number>): number {
  const fractions: number[] = [];
  let total = 0;
  for (let i = 0; i < requested.length; i++) {
    if (allocatable[i] === 0) continue;
    const f = Math.min(requested[i]! / allocatable[i]!, 1);
    total += f;
    fractions.push(f);
  }
  let std = 0;
  if (fractions.length === 2) std = Math.abs((fractions[0]! - fractions[1]!) / 2);
  else if (fractions.length > 2) {
    const mean = total / fractions.length;
    let sum = 0;
    for (const f of fractions) sum += (f - mean) * (f - mean);
    std = Math.sqrt(sum / fractions.length);
  }
  return Math.trunc((1 - std) * maxNodeScore);
}

export class NodeResourcesBalancedAllocation implements PreScorePlugin, ScorePlugin {
  readonly name = names.NodeResourcesBalancedAllocation;
  private readonly resources: readonly ResourceSpec[];
  private readonly req: Float64Array;
  private readonly alloc: Float64Array;

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
    for (let i = 0; i < this.resources.length; i++) {
      const [a, r] = allocatableAndRequested(nodeInfo, this.resources[i]!.name, podRequests[i]!, true);
      this.alloc[i] = a;
      this.req[i] = r;
    }
    return balancedResourceScore(this.req, this.alloc);
  }
}
