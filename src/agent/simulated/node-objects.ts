/**
 * The Node and Lease objects a simulated kubelet writes: what a real kubelet registers (labels, capacity, nodeInfo,
 * addresses, the four kubelet-owned conditions) and the kube-node-lease heartbeat. Pure builders; SimulatedNodes
 * writes them.
 */
import { createHash } from 'node:crypto';
import type { NodeCondition } from 'kubernetes-types/core/v1.js';
import type { Mutable } from '../../api/object.js';
import { rfc3339, rfc3339Micro } from '../../api/time.js';
import type { Lease, Node } from './objects.js';

/** `kubectl annotate node NAME skiff.dev/heartbeat=stopped` silences a simulated node's kubelet. */
export const HEARTBEAT_ANNOTATION = 'skiff.dev/heartbeat';
export const HEARTBEAT_STOPPED = 'stopped';
/** Marks simulated nodes, so users and tests can select them (`-l skiff.dev/simulated=true`). */
export const SIMULATED_LABEL = 'skiff.dev/simulated';
export const NODE_LEASE_NAMESPACE = 'kube-node-lease';

export const KUBELET_VERSION = 'v1.32.0-skiff';
export const CONTAINER_RUNTIME_VERSION = 'simulated://1.0';

export const DEFAULT_CAPACITY: Readonly<Record<string, string>> = Object.freeze({
  cpu: '32',
  memory: '256Gi',
  pods: '110',
  'ephemeral-storage': '100Gi',
});

/**
 * Simulated nodes register without a pod CIDR and take the one the node IPAM controller assigns (spec.podCIDR, from
 * the cluster CIDR), as a kubelet's network plugin does. Where no IPAM controller runs, node i falls back to the
 * i-th /24 of 10.128.0.0/10: outside k3s's cluster CIDR 10.42.0.0/16 and its service CIDR 10.43.0.0/16.
 */
export const FALLBACK_POD_CIDR_RANGE = '10.128.0.0/10';
/** The most nodes one simulator can give distinct fallback pod CIDRs (the /24s of 10.128.0.0/10) and InternalIPs. */
export const MAX_SIMULATED_NODES = 64 * 256;

export interface NodeNetwork {
  /** The node's InternalIP, from 10.254.0.0/16 (.1-.254 in each /24). */
  hostIP: string;
  /** The /24 the node's pods take addresses from when no pod CIDR is assigned to it. */
  fallbackPodCIDR: string;
}

export function simulatedNodeNetwork(index: number): NodeNetwork {
  if (!Number.isInteger(index) || index < 0 || index >= MAX_SIMULATED_NODES) {
    throw new Error(`simulated node index ${index} is outside 0..${MAX_SIMULATED_NODES - 1}`);
  }
  return {
    hostIP: `10.254.${Math.floor(index / 254)}.${(index % 254) + 1}`,
    fallbackPodCIDR: `10.${128 + Math.floor(index / 256)}.${index % 256}.0/24`,
  };
}

/** The node's IPv4 pod CIDR if one is assigned (the first IPv4 entry of spec.podCIDRs, else spec.podCIDR). */
export function assignedPodCIDR(node: Node | undefined): string | undefined {
  const cidrs = node?.spec?.podCIDRs?.length ? node.spec.podCIDRs : node?.spec?.podCIDR ? [node.spec.podCIDR] : [];
  return cidrs.find((c) => /^\d+\.\d+\.\d+\.\d+\//.test(c));
}

function hexId(seed: string, length = 32): string {
  return createHash('sha256').update(seed).digest('hex').slice(0, length);
}

/** A node as a kubelet registers it, Ready from the start. */
export function buildNode(name: string, network: NodeNetwork, capacity: Readonly<Record<string, string>>, now: Date): Mutable<Node> {
  const id = hexId(name);
  return {
    apiVersion: 'v1',
    kind: 'Node',
    metadata: {
      name,
      labels: {
        'beta.kubernetes.io/arch': 'amd64',
        'beta.kubernetes.io/os': 'linux',
        'kubernetes.io/arch': 'amd64',
        'kubernetes.io/hostname': name,
        'kubernetes.io/os': 'linux',
        'node.kubernetes.io/instance-type': 'skiff-simulated',
        [SIMULATED_LABEL]: 'true',
      },
      annotations: {
        // Both are set by the kubelet on registration; kubectl describe shows them.
        'node.alpha.kubernetes.io/ttl': '0',
        'volumes.kubernetes.io/controller-managed-attach-detach': 'true',
      },
    },
    // No podCIDR: the node IPAM controller assigns it, as for a real kubelet (which never sets its own).
    spec: {},
    status: {
      capacity: { ...capacity },
      allocatable: { ...capacity },
      conditions: computeNodeConditions([], now),
      addresses: [
        { type: 'InternalIP', address: network.hostIP },
        { type: 'Hostname', address: name },
      ],
      daemonEndpoints: { kubeletEndpoint: { Port: 10250 } },
      nodeInfo: {
        machineID: id,
        systemUUID: `${id.slice(0, 8)}-${id.slice(8, 12)}-${id.slice(12, 16)}-${id.slice(16, 20)}-${id.slice(20, 32)}`,
        bootID: hexId(`${name}/boot`),
        kernelVersion: '6.1.0-simulated',
        osImage: 'Skiff Simulated Linux',
        containerRuntimeVersion: CONTAINER_RUNTIME_VERSION,
        kubeletVersion: KUBELET_VERSION,
        kubeProxyVersion: KUBELET_VERSION,
        operatingSystem: 'linux',
        architecture: 'amd64',
      },
    },
  };
}

/** The conditions the kubelet owns, with the reasons and messages it posts when all is well. */
const HEALTHY_CONDITIONS: readonly { type: string; status: 'True' | 'False'; reason: string; message: string }[] = [
  { type: 'MemoryPressure', status: 'False', reason: 'KubeletHasSufficientMemory', message: 'kubelet has sufficient memory available' },
  { type: 'DiskPressure', status: 'False', reason: 'KubeletHasNoDiskPressure', message: 'kubelet has no disk pressure' },
  { type: 'PIDPressure', status: 'False', reason: 'KubeletHasSufficientPID', message: 'kubelet has sufficient PID available' },
  { type: 'Ready', status: 'True', reason: 'KubeletReady', message: 'kubelet is posting ready status' },
];

/**
 * The node's conditions after a status post: heartbeat now for the kubelet's four conditions; status, reason and
 * message back to healthy (with a new lastTransitionTime only where the status changed, e.g. Unknown -> True after
 * the node lifecycle controller marked a silent node); other conditions left as they are.
 */
export function computeNodeConditions(current: readonly NodeCondition[], now: Date): Mutable<NodeCondition>[] {
  const ts = rfc3339(now);
  const out = current.map((c) => ({ ...c })) as Mutable<NodeCondition>[];
  for (const h of HEALTHY_CONDITIONS) {
    const c = out.find((x) => x.type === h.type);
    if (!c) {
      out.push({ type: h.type, status: h.status, reason: h.reason, message: h.message, lastHeartbeatTime: ts, lastTransitionTime: ts });
      continue;
    }
    if (c.status !== h.status) c.lastTransitionTime = ts;
    c.status = h.status;
    c.reason = h.reason;
    c.message = h.message;
    c.lastHeartbeatTime = ts;
  }
  return out;
}

/** The node's heartbeat Lease; the owner reference makes the garbage collector delete it with the node, as upstream. */
export function buildLease(node: { name: string; uid?: string }, durationSeconds: number, now: Date): Mutable<Lease> {
  return {
    apiVersion: 'coordination.k8s.io/v1',
    kind: 'Lease',
    metadata: {
      name: node.name,
      namespace: NODE_LEASE_NAMESPACE,
      ...(node.uid ? { ownerReferences: [{ apiVersion: 'v1', kind: 'Node', name: node.name, uid: node.uid }] } : {}),
    },
    spec: { holderIdentity: node.name, leaseDurationSeconds: durationSeconds, renewTime: rfc3339Micro(now) },
  };
}
