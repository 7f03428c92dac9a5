/**
 * The node IPAM controller (kube-controller-manager's range allocator, pkg/controller/nodeipam/ipam/range_allocator.go):
 * every Node gets `spec.podCIDR` and `spec.podCIDRs` from the cluster CIDR (k3s's 10.42.0.0/16, /24 each), one per IP
 * family in dual-stack. Real and simulated nodes alike; the network plugin (host-local over the podCIDR) and the
 * simulated kubelets take pod addresses from it, so no two nodes hand out the same pod IP.
 *
 * - Nodes that already have a podCIDR occupy it as soon as the informer delivers them, before any worker runs
 *   (the manager starts workers after the caches synced), so a restarted controller rebuilds the used set from the
 *   Nodes and never hands out a CIDR twice. Allocation is synchronous in this one process, and the API refuses to
 *   change a podCIDR once set, so concurrent node creates cannot end up sharing one.
 * - A CIDR allocated but not yet seen in the cache is remembered per node and reused, so a node that changes again
 *   before its patch shows up does not get a second one.
 * - Deleting a Node releases its CIDRs (only those this node holds: a CIDR claimed twice by hand stays with the
 *   other node).
 * - When the range is full the node gets the event CIDRNotAvailable (once) and waits, without backoff churn, until
 *   a CIDR is released.
 */
import type { Node as K8sNode } from 'kubernetes-types/core/v1.js';
import type { KubeObject } from '../../api/object.js';
import { isNotFound, isStatusError } from '../../api/status.js';
import { Nodes } from '../../client/resources.js';
import type { EventRecorder, Lister, WorkQueue } from '../../client/types.js';
import { createWorkQueue } from '../../client/workqueue.js';
import { createLogger } from '../../log/logger.js';
import { runWorkers, type Controller, type ControllerContext } from '../controller.js';
import { CidrSet, parseCidr } from './cidr-set.js';

type NodeObj = K8sNode & KubeObject;

const log = createLogger('node-ipam-controller');

/** k3s --cluster-cidr default. */
export const DEFAULT_CLUSTER_CIDR = '10.42.0.0/16';
/** kube-controller-manager --node-cidr-mask-size-ipv4 / -ipv6 defaults. */
export const DEFAULT_NODE_MASK_SIZE_IPV4 = 24;
export const DEFAULT_NODE_MASK_SIZE_IPV6 = 64;
/** Upstream's event reason and the component its events come from. */
export const CIDR_NOT_AVAILABLE = 'CIDRNotAvailable';
export const EVENT_SOURCE = 'cidrAllocator';

export interface NodeIpamOptions {
  /** At most one per IP family (dual-stack: IPv4 and IPv6). Default [10.42.0.0/16]. */
  clusterCIDRs?: string[];
  /** One per cluster CIDR; default 24 for IPv4, 64 for IPv6. */
  nodeMaskSizes?: number[];
}

export class NodeIpamController implements Controller {
  readonly name = 'node-ipam';
  /** One set per cluster CIDR, in the order node podCIDRs list them. */
  readonly sets: readonly CidrSet[];
  private readonly queue: WorkQueue;
  private readonly nodes: Lister<NodeObj>;
  private readonly recorder: EventRecorder;
  /** CIDR -> the node holding it. */
  private readonly owners = new Map<string, string>();
  /** Node name -> the CIDRs it holds or was just given (patch sent, cache not caught up). */
  private readonly held = new Map<string, { uid: string; cidrs: string[] }>();
  /** Nodes waiting for a CIDR to be released. */
  private readonly waiting = new Set<string>();
  /** Node uids already told CIDRNotAvailable, so a waiting node gets the event once. */
  private readonly reported = new Set<string>();
  /** CIDRs already logged as unusable, so a node's updates do not repeat the warning. */
  private readonly warned = new Set<string>();

  /** Throws on CIDRs or masks that do not parse or fit, naming them. */
  constructor(
    private readonly ctx: ControllerContext,
    opts: NodeIpamOptions = {},
  ) {
    this.sets = buildSets(opts);
    this.queue = createWorkQueue({ clock: ctx.clock });
    this.nodes = ctx.informers.informerFor<NodeObj>(Nodes).lister;
    this.recorder = ctx.recorder(EVENT_SOURCE);
  }

  start(): void {
    this.ctx.informers.informerFor<NodeObj>(Nodes).addEventHandler({
      add: (n) => this.onNode(n),
      update: (_old, n) => this.onNode(n),
      delete: (n) => this.onNodeDeleted(n),
    });
  }

  run(workers: number): Promise<void> {
    return runWorkers(this.name, this.queue, workers, (key) => this.syncNode(key));
  }

  stop(): void {
    this.queue.shutDown();
  }

  /** Node CIDRs still free, per cluster CIDR (for tests and diagnostics). */
  get free(): number[] {
    return this.sets.map((s) => s.free);
  }

  private onNode(node: NodeObj): void {
    const name = node.metadata.name ?? '';
    if (podCIDRsOf(node).length > 0) this.occupy(node);
    else this.queue.add(name);
  }

  private onNodeDeleted(node: NodeObj): void {
    const name = node.metadata.name ?? '';
    const cidrs = new Set([...podCIDRsOf(node), ...(this.held.get(name)?.cidrs ?? [])]);
    this.held.delete(name);
    this.waiting.delete(name);
    if (node.metadata.uid) this.reported.delete(node.metadata.uid);
    let released = false;
    for (const cidr of cidrs) {
      if (this.owners.get(cidr) !== name) continue;
      this.owners.delete(cidr);
      this.setFor(cidr)?.release(cidr);
      released = true;
    }
    if (released) {
      log.debug('released pod CIDRs of a deleted node', { node: name, cidrs: [...cidrs] });
      for (const w of this.waiting) this.queue.add(w);
      this.waiting.clear();
    }
  }

  /** Gives the node its CIDRs if it has none; level-based: a node with CIDRs needs nothing. */
  async syncNode(name: string): Promise<void> {
    const node = this.nodes.get('', name);
    if (!node) return;
    if (podCIDRsOf(node).length > 0) {
      this.occupy(node);
      return;
    }
    const uid = node.metadata.uid ?? '';
    let given = this.held.get(name);
    if (!given || given.uid !== uid) {
      const cidrs = this.allocate(name);
      if (!cidrs) {
        this.waiting.add(name);
        if (!this.reported.has(uid)) {
          this.reported.add(uid);
          log.warn('no pod CIDR left to allocate; the node waits for one to be released', { node: name, clusterCIDRs: this.sets.map((s) => s.clusterCIDR) });
          this.recorder.event(node, 'Normal', CIDR_NOT_AVAILABLE, `Node ${name} status is now: ${CIDR_NOT_AVAILABLE}`);
        }
        return;
      }
      given = { uid, cidrs };
      this.held.set(name, given);
    }
    try {
      // A merge patch of the spec alone: the API refuses to change a podCIDR once set, so no precondition is needed.
      await this.ctx.client.patch(Nodes, '', name, 'merge', { spec: { podCIDR: given.cidrs[0], podCIDRs: given.cidrs } });
      log.debug('allocated pod CIDRs', { node: name, cidrs: given.cidrs });
    } catch (err) {
      if (isNotFound(err)) {
        this.releaseHeld(name);
        return;
      }
      if (isStatusError(err) && err.code === 422) {
        // Someone set another podCIDR first; take what the node has instead.
        this.releaseHeld(name);
        const current = await this.ctx.client.get<NodeObj>(Nodes, '', name);
        if (podCIDRsOf(current).length > 0) this.occupy(current);
        return;
      }
      // Kept in `held`: the retry patches the same CIDRs (the patch may have landed after all).
      throw err;
    }
  }

  /** One CIDR from every set, or undefined (nothing kept) when one of them is full. */
  private allocate(name: string): string[] | undefined {
    const cidrs: string[] = [];
    for (const set of this.sets) {
      const cidr = set.allocateNext();
      if (cidr === undefined) {
        cidrs.forEach((c, i) => {
          this.sets[i]!.release(c);
          this.owners.delete(c);
        });
        return undefined;
      }
      cidrs.push(cidr);
      this.owners.set(cidr, name);
    }
    return cidrs;
  }

  private releaseHeld(name: string): void {
    const given = this.held.get(name);
    this.held.delete(name);
    for (const cidr of given?.cidrs ?? []) {
      if (this.owners.get(cidr) !== name) continue;
      this.owners.delete(cidr);
      this.setFor(cidr)?.release(cidr);
    }
  }

  /** Marks a node's existing CIDRs used; a CIDR outside our ranges or claimed by another node is logged once. */
  private occupy(node: NodeObj): void {
    const name = node.metadata.name ?? '';
    const cidrs = podCIDRsOf(node);
    const previous = this.held.get(name);
    // Allocated to this node but the node has others (set by hand, or by an earlier run): give ours back.
    if (previous && previous.cidrs.some((c) => !cidrs.includes(c))) this.releaseHeld(name);
    this.held.set(name, { uid: node.metadata.uid ?? '', cidrs });
    this.waiting.delete(name);
    for (const cidr of cidrs) {
      const owner = this.owners.get(cidr);
      if (owner === name) continue;
      const set = this.setFor(cidr);
      if (!set) {
        // Debug, not warn: a node given its CIDR by hand or under another --cluster-cidr keeps it; nothing to fix here.
        log.debug('pod CIDR is outside the cluster CIDRs; left as it is', { node: name, cidr, clusterCIDRs: this.sets.map((s) => s.clusterCIDR) });
        continue;
      }
      if (owner !== undefined && this.nodes.get('', owner)) {
        this.warnOnce(cidr, name, 'pod CIDR is also held by another node', { other: owner });
        continue;
      }
      set.occupy(cidr);
      this.owners.set(cidr, name);
    }
  }

  private warnOnce(cidr: string, node: string, message: string, fields: Record<string, unknown>): void {
    const key = `${node} ${cidr}`;
    if (this.warned.has(key)) return;
    this.warned.add(key);
    log.warn(message, { node, cidr, ...fields });
  }

  private setFor(cidr: string): CidrSet | undefined {
    return this.sets.find((s) => s.contains(cidr));
  }
}

function podCIDRsOf(node: NodeObj): string[] {
  const spec = node.spec;
  if (spec?.podCIDRs?.length) return [...spec.podCIDRs];
  return spec?.podCIDR ? [spec.podCIDR] : [];
}

function buildSets(opts: NodeIpamOptions): CidrSet[] {
  const cidrs = opts.clusterCIDRs ?? [DEFAULT_CLUSTER_CIDR];
  if (cidrs.length === 0 || cidrs.length > 2) throw new Error(`node IPAM: clusterCIDRs: give one CIDR, or two of different IP families (got ${cidrs.length})`);
  if (opts.nodeMaskSizes && opts.nodeMaskSizes.length !== cidrs.length) {
    throw new Error(`node IPAM: nodeMaskSizes: give one mask size per cluster CIDR (${cidrs.length}), got ${opts.nodeMaskSizes.length}`);
  }
  const sets = cidrs.map((cidr, i) => {
    const family = parseCidr(cidr).family;
    const mask = opts.nodeMaskSizes?.[i] ?? (family === 4 ? DEFAULT_NODE_MASK_SIZE_IPV4 : DEFAULT_NODE_MASK_SIZE_IPV6);
    return new CidrSet(cidr, mask);
  });
  if (sets.length === 2 && sets[0]!.family === sets[1]!.family) {
    throw new Error(`node IPAM: clusterCIDRs ${cidrs.join(',')}: two CIDRs must be of different IP families (dual-stack)`);
  }
  return sets;
}
