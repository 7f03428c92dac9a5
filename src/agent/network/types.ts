/**
 * PodNetwork: gives a pod sandbox its network inside a network namespace the runtime created. The `cni` implementation
 * execs the CNI plugins (bridge + host-local + loopback + portmap over the node's podCIDR); the `process` runtime calls
 * it for pods that are not hostNetwork. (containerd's CRI plugin calls the same plugins itself, from the conflist the
 * agent writes.)
 */
import type { PortMapping } from '../runtime/types.js';

export interface PodNetworkRequest {
  /** The sandbox id (CNI_CONTAINERID); unique per sandbox. */
  sandboxId: string;
  /** Path of the network namespace, e.g. /var/run/netns/<name> or /proc/<pid>/ns/net. */
  netnsPath: string;
  podName: string;
  podNamespace: string;
  podUid: string;
  portMappings: PortMapping[];
}

export interface PodNetworkResult {
  /** Addresses without prefix length, primary first. */
  ips: string[];
  gateway?: string;
}

export interface PodNetwork {
  /** Whether pods can get their own network here, and if not why (no root, no CNI plugins, no podCIDR yet). */
  status(): Promise<{ ready: boolean; message?: string }>;
  setUp(request: PodNetworkRequest): Promise<PodNetworkResult>;
  /** Idempotent: a sandbox whose network is already gone is not an error. */
  tearDown(request: PodNetworkRequest): Promise<void>;
}
