/**
 * Pod addresses per simulated node, from the node's /24 pod CIDR (what the node IPAM controller and host-local CNI
 * give a real node). .1 is left for the node's bridge, as flannel's cni0 takes it; .2-.254 go to pods, handed out
 * round-robin so a freed address is not reused at once. A pod's address is freed when it is deleted or finishes
 * (the kubelet tears the sandbox down then).
 */
import type { Pod } from 'kubernetes-types/core/v1.js';
import { isPodTerminal } from '../../api/pod.js';

/** Usable pod addresses per node. */
export const POD_ADDRESSES_PER_NODE = 253;

interface NodePool {
  /** '10.42.7.' — the CIDR's first three octets and a dot. */
  prefix: string;
  byUID: Map<string, number>;
  used: Set<number>;
  next: number;
}

export class PodIPAllocator {
  private readonly pools = new Map<string, NodePool>();

  /**
   * Sets the /24 (like '10.42.7.0/24') a node's new pods take addresses from; throws on anything else. A different
   * CIDR than before replaces the node's pool (a fallback range giving way to the one the IPAM controller assigned):
   * pods keep the addresses they have, as running pods do when a node's range changes, and new pods draw from the
   * new range. Returns whether the pool changed.
   */
  setPodCIDR(nodeName: string, podCIDR: string): boolean {
    const m = /^(\d+\.\d+\.\d+\.)0\/24$/.exec(podCIDR);
    if (!m) throw new Error(`node ${nodeName}: pod CIDR ${JSON.stringify(podCIDR)} is not an IPv4 /24; simulated nodes take pod addresses from a /24`);
    if (this.pools.get(nodeName)?.prefix === m[1]) return false;
    this.pools.set(nodeName, { prefix: m[1]!, byUID: new Map(), used: new Set(), next: 2 });
    return true;
  }

  /** The node's current pod CIDR, if it has a pool. */
  podCIDR(nodeName: string): string | undefined {
    const pool = this.pools.get(nodeName);
    return pool ? `${pool.prefix}0/24` : undefined;
  }

  /** Records the address a pod already has (after a restart of the simulator), so it is not handed out twice. */
  observe(pod: Pod): void {
    const pool = this.poolOf(pod);
    const uid = pod.metadata?.uid;
    const ip = pod.status?.podIP;
    if (!pool || !uid || !ip || pod.spec?.hostNetwork || pool.byUID.has(uid) || !ip.startsWith(pool.prefix)) return;
    if (isPodTerminal(pod)) return;
    const host = Number(ip.slice(pool.prefix.length));
    if (!Number.isInteger(host) || pool.used.has(host)) return;
    pool.byUID.set(uid, host);
    pool.used.add(host);
  }

  /** The pod's address, allocating one if it has none; throws when the node's range is exhausted. */
  allocate(pod: Pod): string {
    const pool = this.poolOf(pod);
    const uid = pod.metadata?.uid ?? '';
    if (!pool) throw new Error(`no pod CIDR for node ${JSON.stringify(pod.spec?.nodeName)}`);
    const have = pool.byUID.get(uid);
    if (have !== undefined) return pool.prefix + have;
    if (pool.used.size >= POD_ADDRESSES_PER_NODE) {
      throw new Error(`node ${pod.spec?.nodeName}: all ${POD_ADDRESSES_PER_NODE} pod addresses of ${pool.prefix}0/24 are in use`);
    }
    let host = pool.next;
    while (pool.used.has(host)) host = host >= 254 ? 2 : host + 1;
    pool.next = host >= 254 ? 2 : host + 1;
    pool.used.add(host);
    pool.byUID.set(uid, host);
    return pool.prefix + host;
  }

  release(pod: Pod): void {
    const pool = this.poolOf(pod);
    const uid = pod.metadata?.uid;
    if (!pool || !uid) return;
    const host = pool.byUID.get(uid);
    if (host === undefined) return;
    pool.byUID.delete(uid);
    pool.used.delete(host);
  }

  /** Addresses in use on a node. */
  inUse(nodeName: string): number {
    return this.pools.get(nodeName)?.used.size ?? 0;
  }

  private poolOf(pod: Pod): NodePool | undefined {
    const node = pod.spec?.nodeName;
    return node ? this.pools.get(node) : undefined;
  }
}
