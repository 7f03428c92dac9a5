/**
 * The two allocators of Services, built the same way by the admission plugin (which reserves) and the repair loop
 * (which reconciles): ClusterIPs from the service CIDR, NodePorts from the node port range.
 */
import type { Store } from '../../storage/store.js';
import { ipv4Range, portRange } from './ranges.js';
import { StoreAllocator } from './store-allocator.js';

export interface ServiceAllocationOptions {
  store: Store;
  /** IPv4 CIDR, e.g. 10.43.0.0/16 (k3s' default). */
  serviceCIDR: string;
  /** Inclusive, e.g. [30000, 32767]. */
  nodePortRange: [number, number];
  now?: () => Date;
  random?: () => number;
}

export interface ServiceAllocators {
  ips: StoreAllocator;
  ports: StoreAllocator;
}

export function serviceAllocators(opts: ServiceAllocationOptions): ServiceAllocators {
  const common = { store: opts.store, now: opts.now, random: opts.random };
  return {
    ips: new StoreAllocator({ ...common, kind: 'serviceips', range: ipv4Range(opts.serviceCIDR) }),
    ports: new StoreAllocator({ ...common, kind: 'servicenodeports', range: portRange(opts.nodePortRange[0], opts.nodePortRange[1]) }),
  };
}
