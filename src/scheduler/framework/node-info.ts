/**
 * What the scheduler knows about one node: the Node, the pods assigned or assumed to it, their summed requests,
 * the host ports they use and the images present (framework.NodeInfo). Allocatable and requests are kept as
 * numbers, computed once per change, so Filter and Score read fields instead of parsing quantities.
 */
import type { Taint } from 'kubernetes-types/core/v1.js';
import { cloneResource, emptyResource, nodeAllocatable, type Resource } from './resource.js';
import type { HostPort, PodInfo } from './pod-info.js';
import type { Node } from './types.js';

/** An image present on nodes: its size and on how many nodes it is (shared by every NodeInfo that has it). */
export interface ImageStateSummary {
  readonly size: number;
  readonly numNodes: number;
}

/** Host ports in use on a node, by IP then `protocol/port`; 0.0.0.0 conflicts with every IP (framework.HostPortInfo). */
export class HostPortInfo {
  private readonly byIp = new Map<string, Map<string, number>>();

  add(p: HostPort): void {
    let m = this.byIp.get(p.ip);
    if (!m) this.byIp.set(p.ip, (m = new Map()));
    const k = `${p.protocol}/${p.port}`;
    m.set(k, (m.get(k) ?? 0) + 1);
  }

  remove(p: HostPort): void {
    const m = this.byIp.get(p.ip);
    const k = `${p.protocol}/${p.port}`;
    const n = m?.get(k);
    if (!m || n === undefined) return;
    if (n > 1) m.set(k, n - 1);
    else {
      m.delete(k);
      if (m.size === 0) this.byIp.delete(p.ip);
    }
  }

  /** Whether `p` would clash with a port in use (CheckConflict). */
  conflicts(p: HostPort): boolean {
    const k = `${p.protocol}/${p.port}`;
    if (p.ip === '0.0.0.0') {
      for (const m of this.byIp.values()) if (m.has(k)) return true;
      return false;
    }
    return (this.byIp.get('0.0.0.0')?.has(k) ?? false) || (this.byIp.get(p.ip)?.has(k) ?? false);
  }

  get size(): number {
    return this.byIp.size;
  }

  clone(): HostPortInfo {
    const c = new HostPortInfo();
    for (const [ip, m] of this.byIp) c.byIp.set(ip, new Map(m));
    return c;
  }
}

let generationCounter = 0;

/** A process-wide increasing number: a NodeInfo's generation changes whenever its node or pods change. */
export function nextGeneration(): number {
  return ++generationCounter;
}

const noTaints: readonly Taint[] = Object.freeze([]);
const noLabels: Readonly<Record<string, string>> = Object.freeze({});

export class NodeInfo {
  /** Undefined while pods reference a node the cache has not seen (or no longer has). */
  node: Node | undefined;
  pods: PodInfo[] = [];
  podsWithAffinity: PodInfo[] = [];
  podsWithRequiredAntiAffinity: PodInfo[] = [];
  usedPorts = new HostPortInfo();
  /** Sum of the pods' requests. */
  requested: Resource = emptyResource();
  /** Sum of the pods' requests with the scoring defaults for containers that request no cpu/memory. */
  nonZeroRequested: Resource = emptyResource();
  allocatable: Resource = emptyResource();
  imageStates: ReadonlyMap<string, ImageStateSummary> = new Map();
  labels: Readonly<Record<string, string>> = noLabels;
  taints: readonly Taint[] = noTaints;
  /**
   * Changes (to a new process-wide unique value) on every change of the node or its pods, so caches derived from
   * a NodeInfo can tell they are stale. A clone keeps the generation until it is changed itself.
   */
  generation = nextGeneration();

  constructor(readonly name: string) {}

  setNode(node: Node): void {
    this.generation = nextGeneration();
    this.node = node;
    this.allocatable = nodeAllocatable(node);
    this.labels = node.metadata.labels ?? noLabels;
    this.taints = node.spec?.taints ?? noTaints;
  }

  clearNode(): void {
    this.generation = nextGeneration();
    this.node = undefined;
    this.allocatable = emptyResource();
    this.labels = noLabels;
    this.taints = noTaints;
    this.imageStates = new Map();
  }

  addPod(pi: PodInfo): void {
    this.pods.push(pi);
    if (pi.hasAffinity) this.podsWithAffinity.push(pi);
    if (pi.requiredAntiAffinityTerms.length > 0) this.podsWithRequiredAntiAffinity.push(pi);
    this.account(pi, 1);
  }

  /** Removes the pod with this UID; false if it is not on the node. */
  removePod(uid: string): boolean {
    const i = this.pods.findIndex((p) => p.uid === uid);
    if (i < 0) return false;
    const pi = this.pods[i]!;
    // Order does not matter to any plugin: swap-remove keeps this O(1) after the search.
    this.pods[i] = this.pods[this.pods.length - 1]!;
    this.pods.pop();
    if (pi.hasAffinity) removeByUid(this.podsWithAffinity, uid);
    if (pi.requiredAntiAffinityTerms.length > 0) removeByUid(this.podsWithRequiredAntiAffinity, uid);
    this.account(pi, -1);
    return true;
  }

  private account(pi: PodInfo, sign: 1 | -1): void {
    this.generation = nextGeneration();
    const r = pi.requests;
    const req = this.requested;
    req.milliCPU += sign * r.milliCPU;
    req.memory += sign * r.memory;
    req.ephemeralStorage += sign * r.ephemeralStorage;
    if (r.scalar) {
      req.scalar ??= new Map();
      for (const [k, v] of r.scalar) req.scalar.set(k, (req.scalar.get(k) ?? 0) + sign * v);
    }
    const nz = pi.nonZeroRequests;
    this.nonZeroRequested.milliCPU += sign * nz.milliCPU;
    this.nonZeroRequested.memory += sign * nz.memory;
    for (const p of pi.hostPorts) {
      if (sign > 0) this.usedPorts.add(p);
      else this.usedPorts.remove(p);
    }
  }

  /** A copy whose pods and totals can be changed without touching this one (preemption dry runs). */
  clone(): NodeInfo {
    const c = new NodeInfo(this.name);
    c.node = this.node;
    c.pods = [...this.pods];
    c.podsWithAffinity = [...this.podsWithAffinity];
    c.podsWithRequiredAntiAffinity = [...this.podsWithRequiredAntiAffinity];
    c.usedPorts = this.usedPorts.clone();
    c.requested = cloneResource(this.requested);
    c.nonZeroRequested = cloneResource(this.nonZeroRequested);
    c.allocatable = this.allocatable;
    c.imageStates = this.imageStates;
    c.labels = this.labels;
    c.taints = this.taints;
    c.generation = this.generation;
    return c;
  }
}

function removeByUid(list: PodInfo[], uid: string): void {
  const i = list.findIndex((p) => p.uid === uid);
  if (i >= 0) list.splice(i, 1);
}
