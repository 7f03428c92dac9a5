/**
 * Resource requests against allocatable (noderesources Fit). Filter: the pod count, cpu, memory,
 * ephemeral-storage and every scalar resource the pod requests must fit next to the requests of the pods already
 * on the node; all insufficient resources are reported ("Insufficient cpu", "Too many pods"). Score: the
 * LeastAllocated strategy by default (free share of each resource, weighted), or MostAllocated.
 */
import { mustRead, type CycleState, type StateData } from '../../framework/cycle-state.js';
import {
  ActionType,
  maxNodeScore,
  type ClusterEventWithHint,
  type EnqueueExtensions,
  type FilterPlugin,
  type PreFilterPlugin,
  type PreScorePlugin,
  type ScorePlugin,
} from '../../framework/interface.js';
import type { NodeInfo } from '../../framework/node-info.js';
import { PodInfo } from '../../framework/pod-info.js';
import { isScalarResourceName, nodeAllocatable, type Resource } from '../../framework/resource.js';
import { Status, type Result } from '../../framework/status.js';
import type { Node, Pod } from '../../framework/types.js';
import * as names from '../names.js';

export const errReasonTooManyPods = 'Too many pods';

export interface ResourceSpec {
  name: string;
  weight: number;
}

export interface NodeResourcesFitArgs {
  /** Extended resources the Filter does not check (e.g. ones managed by an extender). */
  ignoredResources?: string[];
  /** Extended resource groups (the part before `/`) the Filter does not check. */
  ignoredResourceGroups?: string[];
  scoringStrategy?: { type?: 'LeastAllocated' | 'MostAllocated'; resources?: ResourceSpec[] };
}

/** The default scoring resources (config defaults: cpu and memory, weight 1 each). */
export const defaultScoringResources: readonly ResourceSpec[] = [
  { name: 'cpu', weight: 1 },
  { name: 'memory', weight: 1 },
];

const preFilterKey = 'PreFilter' + names.NodeResourcesFit;
const preScoreKey = 'PreScore' + names.NodeResourcesFit;

class PreFilterState implements StateData {
  constructor(readonly requests: Resource) {}
  clone(): StateData {
    return this;
  }
}

class PreScoreState implements StateData {
  constructor(readonly podRequests: Float64Array) {}
  clone(): StateData {
    return this;
  }
}

export interface InsufficientResource {
  resourceName: string;
  reason: string;
  requested: number;
  used: number;
  capacity: number;
}

/** Whether the pod fits, without building reasons (the common case, checked first on every node). */
function fitsQuickly(req: Resource, nodeInfo: NodeInfo): boolean {
  const alloc = nodeInfo.allocatable;
  const used = nodeInfo.requested;
  return (
    nodeInfo.pods.length + 1 <= alloc.allowedPodNumber &&
    alloc.milliCPU >= req.milliCPU + used.milliCPU &&
    alloc.memory >= req.memory + used.memory &&
    alloc.ephemeralStorage >= req.ephemeralStorage + used.ephemeralStorage &&
    req.scalar === undefined
  );
}

/** Every resource the pod does not fit on the node for (fitsRequest), in upstream's order. */
export function fitsRequest(req: Resource, nodeInfo: NodeInfo, ignored?: ReadonlySet<string>, ignoredGroups?: ReadonlySet<string>): InsufficientResource[] {
  const out: InsufficientResource[] = [];
  const alloc = nodeInfo.allocatable;
  const used = nodeInfo.requested;
  if (nodeInfo.pods.length + 1 > alloc.allowedPodNumber) {
    out.push({ resourceName: 'pods', reason: errReasonTooManyPods, requested: 1, used: nodeInfo.pods.length, capacity: alloc.allowedPodNumber });
  }
  if (req.milliCPU === 0 && req.memory === 0 && req.ephemeralStorage === 0 && !req.scalar?.size) return out;
  if (alloc.milliCPU < req.milliCPU + used.milliCPU) {
    out.push({ resourceName: 'cpu', reason: 'Insufficient cpu', requested: req.milliCPU, used: used.milliCPU, capacity: alloc.milliCPU });
  }
  if (alloc.memory < req.memory + used.memory) {
    out.push({ resourceName: 'memory', reason: 'Insufficient memory', requested: req.memory, used: used.memory, capacity: alloc.memory });
  }
  if (alloc.ephemeralStorage < req.ephemeralStorage + used.ephemeralStorage) {
    out.push({
      resourceName: 'ephemeral-storage',
      reason: 'Insufficient ephemeral-storage',
      requested: req.ephemeralStorage,
      used: used.ephemeralStorage,
      capacity: alloc.ephemeralStorage,
    });
  }
  if (req.scalar) {
    for (const [name, q] of req.scalar) {
      if (q === 0) continue;
      // Only extended resources (not kubernetes.io/ or hugepages) can be ignored by configuration.
      const extended = name.includes('/') && !name.includes('kubernetes.io/');
      if (extended && (ignored?.has(name) || ignoredGroups?.has(name.slice(0, name.indexOf('/'))))) continue;
      const a = alloc.scalar?.get(name) ?? 0;
      const u = used.scalar?.get(name) ?? 0;
      if (a < q + u) out.push({ resourceName: name, reason: `Insufficient ${name}`, requested: q, used: u, capacity: a });
    }
  }
  return out;
}

/** ((capacity - requested) * 100) / capacity with Go's integer division; 0 when over capacity. */
export function leastRequestedScore(requested: number, capacity: number): number {
  if (capacity === 0 || requested > capacity) return 0;
  return Math.trunc(((capacity - requested) * maxNodeScore) / capacity);
}

/** (requested * 100) / capacity; 0 when over capacity (the pod would not fit). */
export function mostRequestedScore(requested: number, capacity: number): number {
  if (capacity === 0) return 0;
  if (requested > capacity) return 0;
  return Math.trunc((requested * maxNodeScore) / capacity);
}

/**
 * The allocatable and the requested-with-pod amount of one resource on a node (calculateResourceAllocatableRequest),
 * written into `out` to keep scoring free of per-node allocations. `useRequested` false counts cpu/memory with
 * the non-zero defaults; an extended resource the pod does not ask for is left out of scoring (0, 0).
 */
export function allocatableAndRequested(nodeInfo: NodeInfo, resource: string, podRequest: number, useRequested: boolean, out: AllocReq): void {
  out.allocatable = 0;
  out.requested = 0;
  switch (resource) {
    case 'cpu':
      out.allocatable = nodeInfo.allocatable.milliCPU;
      out.requested = (useRequested ? nodeInfo.requested : nodeInfo.nonZeroRequested).milliCPU + podRequest;
      return;
    case 'memory':
      out.allocatable = nodeInfo.allocatable.memory;
      out.requested = (useRequested ? nodeInfo.requested : nodeInfo.nonZeroRequested).memory + podRequest;
      return;
    case 'ephemeral-storage':
      out.allocatable = nodeInfo.allocatable.ephemeralStorage;
      out.requested = nodeInfo.requested.ephemeralStorage + podRequest;
      return;
    default: {
      if (podRequest === 0 && isScalarResourceName(resource)) return;
      const a = nodeInfo.allocatable.scalar?.get(resource);
      if (a === undefined) return;
      out.allocatable = a;
      out.requested = (nodeInfo.requested.scalar?.get(resource) ?? 0) + podRequest;
    }
  }
}

export interface AllocReq {
  allocatable: number;
  requested: number;
}

/** The pod's request of one scoring resource; with `nonZero`, cpu/memory use the scheduler defaults when unset. */
export function podResourceRequest(pi: PodInfo, resource: string, nonZero: boolean): number {
  const r = nonZero ? pi.nonZeroRequests : pi.requests;
  switch (resource) {
    case 'cpu':
      return r.milliCPU;
    case 'memory':
      return r.memory;
    case 'ephemeral-storage':
      return pi.requests.ephemeralStorage;
    default:
      return pi.requests.scalar?.get(resource) ?? 0;
  }
}

export class NodeResourcesFit implements PreFilterPlugin, FilterPlugin, PreScorePlugin, ScorePlugin, EnqueueExtensions {
  readonly name = names.NodeResourcesFit;
  private readonly ignored: ReadonlySet<string>;
  private readonly ignoredGroups: ReadonlySet<string>;
  private readonly resources: readonly ResourceSpec[];
  private readonly strategy: 'LeastAllocated' | 'MostAllocated';

  constructor(args: NodeResourcesFitArgs = {}) {
    this.ignored = new Set(args.ignoredResources ?? []);
    this.ignoredGroups = new Set(args.ignoredResourceGroups ?? []);
    this.resources = args.scoringStrategy?.resources ?? defaultScoringResources;
    this.strategy = args.scoringStrategy?.type ?? 'LeastAllocated';
    for (const r of this.resources) {
      if (!Number.isInteger(r.weight) || r.weight < 1 || r.weight > 100) throw new Error(`resource weight of ${r.name} should be in the range [1, 100], got ${r.weight}`);
    }
  }

  preFilter(state: CycleState, pod: Pod): Status | undefined {
    state.write(preFilterKey, new PreFilterState(PodInfo.of(pod).requests));
    return undefined;
  }

  filter(state: CycleState, _pod: Pod, nodeInfo: NodeInfo): Result {
    const { requests } = mustRead<PreFilterState>(state, preFilterKey);
    if (fitsQuickly(requests, nodeInfo)) return undefined;
    const insufficient = fitsRequest(requests, nodeInfo, this.ignored, this.ignoredGroups);
    if (insufficient.length === 0) return undefined;
    return Status.unschedulable(...insufficient.map((r) => r.reason));
  }

  preScore(state: CycleState, pod: Pod): Result {
    const pi = PodInfo.of(pod);
    const reqs = new Float64Array(this.resources.length);
    for (let i = 0; i < this.resources.length; i++) reqs[i] = podResourceRequest(pi, this.resources[i]!.name, true);
    state.write(preScoreKey, new PreScoreState(reqs));
    return undefined;
  }

  private readonly scratch: AllocReq = { allocatable: 0, requested: 0 };

  score(state: CycleState, _pod: Pod, nodeInfo: NodeInfo): number {
    const { podRequests } = mustRead<PreScoreState>(state, preScoreKey);
    const scorer = this.strategy === 'MostAllocated' ? mostRequestedScore : leastRequestedScore;
    const ar = this.scratch;
    let nodeScore = 0;
    let weightSum = 0;
    for (let i = 0; i < this.resources.length; i++) {
      const spec = this.resources[i]!;
      allocatableAndRequested(nodeInfo, spec.name, podRequests[i]!, false, ar);
      if (ar.allocatable === 0) continue;
      nodeScore += scorer(ar.requested, ar.allocatable) * spec.weight;
      weightSum += spec.weight;
    }
    return weightSum === 0 ? 0 : Math.trunc(nodeScore / weightSum);
  }

  eventsToRegister(): ClusterEventWithHint[] {
    return [
      { event: { resource: 'AssignedPod', actionType: ActionType.Delete | ActionType.UpdatePodScaleDown } },
      {
        event: { resource: 'Node', actionType: ActionType.Add | ActionType.UpdateNodeAllocatable },
        hint: (pod, _old, node) => this.fitsEmptyNode(pod, node as Node),
      },
    ];
  }

  /** Whether the pod could fit the node at all, ignoring the pods on it (the node-change queueing hint). */
  private fitsEmptyNode(pod: Pod, node: Node): 'Queue' | 'Skip' {
    const alloc = nodeAllocatable(node);
    const req = PodInfo.of(pod).requests;
    if (alloc.allowedPodNumber < 1 || alloc.milliCPU < req.milliCPU || alloc.memory < req.memory || alloc.ephemeralStorage < req.ephemeralStorage) return 'Skip';
    for (const [name, q] of req.scalar ?? []) if ((alloc.scalar?.get(name) ?? 0) < q) return 'Skip';
    return 'Queue';
  }
}
