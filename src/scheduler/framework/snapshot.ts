/**
 * The scheduler's view of the cluster: a NodeInfo per node with the pods assigned to it, kept up to date
 * incrementally from informer events and from the scheduler's own decisions (a pod is "assumed" on its node as
 * soon as the cycle picks it, before the asynchronous bind finishes, so the next cycle already counts it).
 *
 * Upstream splits this into the cache and a per-cycle snapshot copy because its cycle runs beside informer
 * goroutines. Here the cycle is synchronous on one thread: no event can land in the middle of it, so the cache
 * itself is the snapshot for the cycle. Preemption dry runs work on NodeInfo clones.
 */
import type { Lister } from '../../client/types.js';
import { NodeInfo, type ImageStateSummary } from './node-info.js';
import { PodInfo } from './pod-info.js';
import { isPodTerminal, podKey } from '../../api/pod.js';
import { podUid, type Node, type Pod } from './types.js';

/** Read access to the nodes for plugins (framework.NodeInfoLister). */
export interface NodeInfoLister {
  /** All nodes, interleaved across zones so that a sampled prefix spreads over zones. */
  list(): readonly NodeInfo[];
  get(nodeName: string): NodeInfo | undefined;
  /** Nodes with at least one pod that has pod affinity or anti-affinity terms. */
  havePodsWithAffinity(): readonly NodeInfo[];
  /** Nodes with at least one pod that has required anti-affinity terms. */
  havePodsWithRequiredAntiAffinity(): readonly NodeInfo[];
  readonly numNodes: number;
}

interface PodState {
  pi: PodInfo;
  nodeName: string;
  /** Placed by the scheduler and not yet observed bound through the informer. */
  assumed: boolean;
}

class ImageState implements ImageStateSummary {
  readonly nodes = new Set<string>();
  constructor(public size: number) {}
  get numNodes(): number {
    return this.nodes.size;
  }
}

const zoneLabels = ['topology.kubernetes.io/zone', 'failure-domain.beta.kubernetes.io/zone'];
const regionLabels = ['topology.kubernetes.io/region', 'failure-domain.beta.kubernetes.io/region'];

function zoneKey(node: Node): string {
  const l = node.metadata.labels ?? {};
  const region = l[regionLabels[0]!] ?? l[regionLabels[1]!] ?? '';
  const zone = l[zoneLabels[0]!] ?? l[zoneLabels[1]!] ?? '';
  return region || zone ? `${region}:\x00:${zone}` : '';
}

/** Image names as ImageLocality looks them up: `:latest` appended when there is no tag (normalizedImageName). */
export function normalizedImageName(name: string): string {
  return name.lastIndexOf(':') <= name.lastIndexOf('/') ? `${name}:latest` : name;
}

export class Snapshot implements NodeInfoLister {
  private readonly infos = new Map<string, NodeInfo>();
  private readonly podStates = new Map<string, PodState>();
  private readonly images = new Map<string, ImageState>();
  private readonly zoneOf = new Map<string, string>();
  private listCache: NodeInfo[] | undefined;
  private affinityCache: NodeInfo[] | undefined;
  private antiAffinityCache: NodeInfo[] | undefined;

  /** Builds a snapshot from informer caches: every node, and every assigned pod that is not terminal. */
  static fromListers(nodes: Lister<Node>, pods: Lister<Pod>): Snapshot {
    const s = new Snapshot();
    for (const n of nodes.list()) s.addNode(n);
    for (const p of pods.list()) if (p.spec?.nodeName && !isPodTerminal(p)) s.addPod(p);
    return s;
  }

  // ---- NodeInfoLister

  list(): readonly NodeInfo[] {
    return (this.listCache ??= this.buildList());
  }

  get(nodeName: string): NodeInfo | undefined {
    const ni = this.infos.get(nodeName);
    return ni?.node ? ni : undefined;
  }

  get numNodes(): number {
    return this.list().length;
  }

  havePodsWithAffinity(): readonly NodeInfo[] {
    return (this.affinityCache ??= this.list().filter((n) => n.podsWithAffinity.length > 0));
  }

  havePodsWithRequiredAntiAffinity(): readonly NodeInfo[] {
    return (this.antiAffinityCache ??= this.list().filter((n) => n.podsWithRequiredAntiAffinity.length > 0));
  }

  /** Round-robin over zones (upstream nodeTree), so the first nodes of the list are not all in one zone. */
  private buildList(): NodeInfo[] {
    const byZone = new Map<string, NodeInfo[]>();
    for (const ni of this.infos.values()) {
      if (!ni.node) continue;
      const z = this.zoneOf.get(ni.name) ?? '';
      let l = byZone.get(z);
      if (!l) byZone.set(z, (l = []));
      l.push(ni);
    }
    if (byZone.size <= 1) return [...(byZone.values().next().value ?? [])];
    const zones = [...byZone.values()];
    let total = 0;
    for (const z of zones) total += z.length;
    const out: NodeInfo[] = [];
    for (let i = 0; out.length < total; i++) {
      for (const z of zones) if (i < z.length) out.push(z[i]!);
    }
    return out;
  }

  private invalidate(affinity: boolean): void {
    if (affinity) {
      this.affinityCache = undefined;
      this.antiAffinityCache = undefined;
    }
  }

  private invalidateNodes(): void {
    this.listCache = undefined;
    this.affinityCache = undefined;
    this.antiAffinityCache = undefined;
  }

  // ---- nodes

  addNode(node: Node): void {
    const name = node.metadata.name ?? '';
    let ni = this.infos.get(name);
    if (!ni) this.infos.set(name, (ni = new NodeInfo(name)));
    else this.removeNodeImages(ni);
    ni.setNode(node);
    this.addNodeImages(ni, node);
    this.zoneOf.set(name, zoneKey(node));
    this.invalidateNodes();
  }

  updateNode(_old: Node, node: Node): void {
    const name = node.metadata.name ?? '';
    const ni = this.infos.get(name);
    const zone = zoneKey(node);
    if (!ni?.node || this.zoneOf.get(name) !== zone) {
      this.addNode(node);
      return;
    }
    this.removeNodeImages(ni);
    ni.setNode(node);
    this.addNodeImages(ni, node);
  }

  removeNode(node: Node): void {
    const name = node.metadata.name ?? '';
    const ni = this.infos.get(name);
    if (!ni) return;
    this.removeNodeImages(ni);
    // Pods still on the node keep their NodeInfo until they are deleted too (upstream keeps a nil-node entry).
    if (ni.pods.length > 0) ni.clearNode();
    else this.infos.delete(name);
    this.zoneOf.delete(name);
    this.invalidateNodes();
  }

  private addNodeImages(ni: NodeInfo, node: Node): void {
    const states = new Map<string, ImageStateSummary>();
    for (const image of node.status?.images ?? []) {
      for (const name of image.names ?? []) {
        let st = this.images.get(name);
        if (!st) this.images.set(name, (st = new ImageState(image.sizeBytes ?? 0)));
        st.size = image.sizeBytes ?? st.size;
        st.nodes.add(ni.name);
        states.set(name, st);
      }
    }
    ni.imageStates = states;
  }

  private removeNodeImages(ni: NodeInfo): void {
    for (const name of ni.imageStates.keys()) {
      const st = this.images.get(name);
      if (!st) continue;
      st.nodes.delete(ni.name);
      if (st.nodes.size === 0) this.images.delete(name);
    }
    ni.imageStates = new Map();
  }

  // ---- pods

  private place(pi: PodInfo, nodeName: string): void {
    let ni = this.infos.get(nodeName);
    if (!ni) this.infos.set(nodeName, (ni = new NodeInfo(nodeName)));
    ni.addPod(pi);
    this.invalidate(pi.hasAffinity);
  }

  private unplace(st: PodState): void {
    const ni = this.infos.get(st.nodeName);
    if (!ni) return;
    ni.removePod(st.pi.uid);
    if (!ni.node && ni.pods.length === 0) this.infos.delete(st.nodeName);
    this.invalidate(st.pi.hasAffinity);
  }

  /**
   * Counts `pod` (whose spec.nodeName is set) on its node before the API knows. Throws if the pod is already in
   * the cache: assuming twice is a scheduler bug.
   */
  assumePod(pod: Pod, pi = PodInfo.of(pod)): void {
    const uid = podUid(pod);
    if (this.podStates.has(uid)) throw new Error(`pod ${podKey(pod)} (${uid}) is in the cache, so can't be assumed`);
    const nodeName = pod.spec?.nodeName;
    if (!nodeName) throw new Error(`pod ${podKey(pod)} cannot be assumed without spec.nodeName`);
    const st = { pi, nodeName, assumed: true };
    this.podStates.set(uid, st);
    this.place(pi, nodeName);
  }

  /** Undoes assumePod after a failed Reserve, Permit or bind. Idempotent. */
  forgetPod(pod: Pod): void {
    const uid = podUid(pod);
    const st = this.podStates.get(uid);
    if (!st?.assumed) return;
    this.unplace(st);
    this.podStates.delete(uid);
  }

  isAssumed(pod: Pod): boolean {
    return this.podStates.get(podUid(pod))?.assumed ?? false;
  }

  /** An assigned pod seen by the informer: confirms an assumed pod, or adds it. */
  addPod(pod: Pod): void {
    const uid = podUid(pod);
    const nodeName = pod.spec?.nodeName ?? '';
    const st = this.podStates.get(uid);
    if (st) this.unplace(st);
    const pi = st && st.pi.pod.spec === pod.spec ? st.pi.withPod(pod) : PodInfo.of(pod);
    const next = { pi, nodeName, assumed: false };
    this.podStates.set(uid, next);
    this.place(pi, nodeName);
  }

  updatePod(_old: Pod, pod: Pod): void {
    this.addPod(pod);
  }

  removePod(pod: Pod): void {
    const uid = podUid(pod);
    const st = this.podStates.get(uid);
    if (!st) return;
    this.unplace(st);
    this.podStates.delete(uid);
  }

  /** The pod as the cache holds it (assumed or observed), for tests and debugging. */
  podState(pod: Pod): { nodeName: string; assumed: boolean } | undefined {
    const st = this.podStates.get(podUid(pod));
    return st && { nodeName: st.nodeName, assumed: st.assumed };
  }

  get numPods(): number {
    return this.podStates.size;
  }
}
