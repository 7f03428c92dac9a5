/**
 * The Node a real node agent registers and the status it posts, as kubelet's node status setters compute them
 * (pkg/kubelet/nodestatus/setters.go, kubelet_node_status.go). Pure: facts and measurements in, objects out; the
 * NodeReporter reads the host and writes the results.
 */
import { isIP } from 'node:net';
import type { NetworkInterfaceInfo } from 'node:os';
import type { NodeAddress, NodeCondition, NodeStatus, NodeSystemInfo, Taint } from 'kubernetes-types/core/v1.js';
import type { Node } from '../simulated/objects.js';
import type { Mutable } from '../../api/object.js';
import { rfc3339 } from '../../api/time.js';
import { isQualifiedName, isValidLabelValue } from '../../api/validation.js';
import type { EvictionThresholds, NodePressure } from './eviction-thresholds.js';

/** kubelet --max-pods default. */
export const DEFAULT_MAX_PODS = 110;
/** kubelet --port default: the agent's HTTPS API. */
export const DEFAULT_KUBELET_PORT = 10250;
/** The node-role label the server's embedded agent carries, as k3s servers do (`kubectl get nodes` ROLES). */
export const NODE_ROLE_LABEL_PREFIX = 'node-role.kubernetes.io/';
export const INSTANCE_TYPE = 'skiff';

/** What the machine offers; cpu in millicores (a cgroup quota may give a fraction of a core). */
export interface MachineCapacity {
  cpuMilli: number;
  memoryBytes: number;
  /** Size of the filesystem holding the data dir; absent when it could not be measured. */
  ephemeralStorageBytes?: number;
}

/** capacity: cpu, memory in Ki, pods, ephemeral-storage in Ki, as the kubelet reports them (from cAdvisor's machine info). */
export function computeCapacity(m: MachineCapacity, maxPods = DEFAULT_MAX_PODS): Record<string, string> {
  const out: Record<string, string> = {
    cpu: m.cpuMilli % 1000 === 0 ? String(m.cpuMilli / 1000) : `${m.cpuMilli}m`,
    memory: `${Math.floor(m.memoryBytes / 1024)}Ki`,
    pods: String(maxPods),
  };
  if (m.ephemeralStorageBytes !== undefined) out['ephemeral-storage'] = `${Math.floor(m.ephemeralStorageBytes / 1024)}Ki`;
  return out;
}

/**
 * allocatable = capacity - reserved - hard eviction threshold (kubelet's GetNodeAllocatableAbsolute; nothing is
 * reserved by default): memory minus memory.available (100Mi), ephemeral-storage minus nodefs.available (10% of it).
 * Never below zero.
 */
export function computeAllocatable(m: MachineCapacity, thresholds: EvictionThresholds, maxPods = DEFAULT_MAX_PODS): Record<string, string> {
  const minus = (capacity: number, t: EvictionThresholds[keyof EvictionThresholds]) => {
    const reserve = !t ? 0 : 'quantity' in t ? t.quantity : Math.ceil(t.percentage * capacity);
    return Math.max(0, capacity - reserve);
  };
  const capacity = computeCapacity(m, maxPods);
  const out: Record<string, string> = { ...capacity, memory: `${Math.floor(minus(m.memoryBytes, thresholds['memory.available']) / 1024)}Ki` };
  if (m.ephemeralStorageBytes !== undefined) out['ephemeral-storage'] = String(Math.floor(minus(m.ephemeralStorageBytes, thresholds['nodefs.available'])));
  return out;
}

interface ConditionWords {
  status: 'True' | 'False';
  reason: string;
  message: string;
}

/** kubelet's wording for each condition, when it holds and when it does not. */
const PRESSURE_WORDS: Record<keyof NodePressure, { True: ConditionWords; False: ConditionWords }> = {
  MemoryPressure: {
    True: { status: 'True', reason: 'KubeletHasInsufficientMemory', message: 'kubelet has insufficient memory available' },
    False: { status: 'False', reason: 'KubeletHasSufficientMemory', message: 'kubelet has sufficient memory available' },
  },
  DiskPressure: {
    True: { status: 'True', reason: 'KubeletHasDiskPressure', message: 'kubelet has disk pressure' },
    False: { status: 'False', reason: 'KubeletHasNoDiskPressure', message: 'kubelet has no disk pressure' },
  },
  PIDPressure: {
    True: { status: 'True', reason: 'KubeletHasInsufficientPID', message: 'kubelet has insufficient PID available' },
    False: { status: 'False', reason: 'KubeletHasSufficientPID', message: 'kubelet has sufficient PID available' },
  },
};

/**
 * Ready as the kubelet words it: True "kubelet is posting ready status", or False KubeletNotReady with the problems
 * (runtime down, network not ready, missing capacity) as an aggregate error prints them: one alone, several as
 * `[a, b]` (k8s.io/apimachinery/pkg/util/errors).
 */
export function readyWords(problems: readonly string[]): ConditionWords {
  if (problems.length === 0) return { status: 'True', reason: 'KubeletReady', message: 'kubelet is posting ready status' };
  return { status: 'False', reason: 'KubeletNotReady', message: problems.length === 1 ? problems[0]! : `[${problems.join(', ')}]` };
}

/** The problems kubelet's Ready setter finds in the capacity itself. */
export function capacityProblems(capacity: Readonly<Record<string, string>>): string[] {
  const missing = ['cpu', 'memory', 'pods'].filter((r) => !capacity[r]);
  return missing.length ? [`missing node capacity for resources: ${missing.join(', ')}`] : [];
}

/**
 * The kubelet's four conditions after one status computation: every heartbeat now, lastTransitionTime moved only
 * where the status changed; conditions owned by others (e.g. NetworkUnavailable) are kept as they are. Order as the
 * kubelet posts them.
 */
export function computeNodeConditions(current: readonly NodeCondition[], pressure: NodePressure, problems: readonly string[], now: Date): Mutable<NodeCondition>[] {
  const ts = rfc3339(now);
  const wanted: [string, ConditionWords][] = [
    ['MemoryPressure', PRESSURE_WORDS.MemoryPressure[pressure.MemoryPressure ? 'True' : 'False']],
    ['DiskPressure', PRESSURE_WORDS.DiskPressure[pressure.DiskPressure ? 'True' : 'False']],
    ['PIDPressure', PRESSURE_WORDS.PIDPressure[pressure.PIDPressure ? 'True' : 'False']],
    ['Ready', readyWords(problems)],
  ];
  const ours = new Set(wanted.map(([t]) => t));
  const out: Mutable<NodeCondition>[] = current.filter((c) => !ours.has(c.type)).map((c) => ({ ...c }));
  for (const [type, words] of wanted) {
    const prev = current.find((c) => c.type === type);
    const transition = !prev || prev.status !== words.status ? ts : (prev.lastTransitionTime ?? ts);
    out.push({ type, status: words.status, reason: words.reason, message: words.message, lastHeartbeatTime: ts, lastTransitionTime: transition });
  }
  return out;
}

/**
 * InternalIP: each `--node-ip`, else the first non-loopback IPv4 address of the host (then IPv6, then loopback, so a
 * machine without a network still has an address for hostNetwork pods); Hostname: the node's name (k3s passes the node
 * name as kubelet's --hostname-override).
 */
export function computeNodeAddresses(opts: {
  nodeName: string;
  nodeIPs?: readonly string[];
  interfaces: Readonly<Record<string, readonly NetworkInterfaceInfo[] | undefined>>;
}): NodeAddress[] {
  const ips = opts.nodeIPs?.length ? [...opts.nodeIPs] : [pickHostIP(opts.interfaces)];
  for (const ip of ips) if (isIP(ip) === 0) throw new Error(`node IP ${JSON.stringify(ip)} is not an IP address`);
  return [...ips.map((address) => ({ type: 'InternalIP', address })), { type: 'Hostname', address: opts.nodeName }];
}

function pickHostIP(interfaces: Readonly<Record<string, readonly NetworkInterfaceInfo[] | undefined>>): string {
  const all = Object.values(interfaces).flatMap((list) => list ?? []);
  const v4 = all.find((a) => a.family === 'IPv4' && !a.internal && !a.address.startsWith('169.254.'));
  if (v4) return v4.address;
  const v6 = all.find((a) => a.family === 'IPv6' && !a.internal && !/^fe80:/i.test(a.address));
  if (v6) return v6.address;
  return '127.0.0.1';
}

/** Node labels as the kubelet sets them (plus k3s's roles and instance type), then the user's `--node-label`s. */
export function computeNodeLabels(opts: {
  nodeName: string;
  operatingSystem: string;
  architecture: string;
  roles?: readonly string[];
  labels?: Readonly<Record<string, string>>;
}): Record<string, string> {
  const labels: Record<string, string> = {
    'beta.kubernetes.io/arch': opts.architecture,
    'beta.kubernetes.io/os': opts.operatingSystem,
    'kubernetes.io/arch': opts.architecture,
    'kubernetes.io/hostname': opts.nodeName,
    'kubernetes.io/os': opts.operatingSystem,
    'node.kubernetes.io/instance-type': INSTANCE_TYPE,
  };
  for (const role of opts.roles ?? []) labels[`${NODE_ROLE_LABEL_PREFIX}${role}`] = 'true';
  return { ...labels, ...opts.labels };
}

/** Everything the node knows about itself that goes into the Node (not the measured parts). */
export interface NodeFacts {
  name: string;
  labels: Record<string, string>;
  taints: Taint[];
  addresses: NodeAddress[];
  nodeInfo: NodeSystemInfo;
  kubeletPort: number;
}

/** The Node to create at registration (kubelet's initialNode + the first status). Taints are only set here. */
export function buildNode(facts: NodeFacts, status: NodeStatus): Mutable<Node> {
  return {
    apiVersion: 'v1',
    kind: 'Node',
    metadata: {
      name: facts.name,
      labels: { ...facts.labels },
      annotations: {
        // Set by the kubelet on registration; kubectl describe shows them.
        'node.alpha.kubernetes.io/ttl': '0',
        'volumes.kubernetes.io/controller-managed-attach-detach': 'true',
      },
    },
    spec: facts.taints.length ? { taints: facts.taints.map((t) => ({ ...t })) } : {},
    status: structuredClone(status) as Mutable<NodeStatus>,
  };
}

/** The status to post: the measured parts replaced, anything else (images, volumes, other conditions) kept. */
export function computeNodeStatus(
  current: NodeStatus | undefined,
  facts: NodeFacts,
  capacity: Record<string, string>,
  allocatable: Record<string, string>,
  conditions: NodeCondition[],
): Mutable<NodeStatus> {
  return {
    ...(structuredClone(current ?? {}) as Mutable<NodeStatus>),
    capacity: { ...capacity },
    allocatable: { ...allocatable },
    conditions: conditions.map((c) => ({ ...c })),
    addresses: facts.addresses.map((a) => ({ ...a })),
    daemonEndpoints: { kubeletEndpoint: { Port: facts.kubeletPort } },
    nodeInfo: { ...facts.nodeInfo },
  } as Mutable<NodeStatus>;
}

/** Whether two statuses differ in anything but heartbeat times (kubelet's nodeStatusHasChanged). */
export function nodeStatusChanged(a: NodeStatus | undefined, b: NodeStatus | undefined): boolean {
  const strip = (s: NodeStatus | undefined) =>
    JSON.stringify({
      ...s,
      // Code-unit order, not localeCompare: a collator loads ICU's collation data (~2 MB of the node binary's pages
      // stay resident in an agent that would otherwise not touch it; src/agent/README.md "Memory").
      conditions: [...(s?.conditions ?? [])].map(({ lastHeartbeatTime: _h, ...rest }) => rest).sort((x, y) => (x.type < y.type ? -1 : x.type > y.type ? 1 : 0)),
    });
  return strip(a) !== strip(b);
}

/** `--node-label key=value`; throws naming what is wrong. */
export function parseNodeLabel(text: string): [string, string] {
  const eq = text.indexOf('=');
  if (eq <= 0) throw new Error(`node label ${JSON.stringify(text)}: expected key=value`);
  const key = text.slice(0, eq);
  const value = text.slice(eq + 1);
  const errs = [...isQualifiedName(key).map((m) => `key: ${m}`), ...isValidLabelValue(value).map((m) => `value: ${m}`)];
  if (errs.length) throw new Error(`node label ${JSON.stringify(text)}: ${errs.join('; ')}`);
  return [key, value];
}

const TAINT_EFFECTS = ['NoSchedule', 'PreferNoSchedule', 'NoExecute'];

/** `--node-taint key=value:Effect` or `key:Effect` (kubelet --register-with-taints syntax); throws naming what is wrong. */
export function parseNodeTaint(text: string): Taint {
  const colon = text.lastIndexOf(':');
  if (colon <= 0) throw new Error(`node taint ${JSON.stringify(text)}: expected key=value:Effect or key:Effect`);
  const effect = text.slice(colon + 1);
  const kv = text.slice(0, colon);
  const eq = kv.indexOf('=');
  const key = eq < 0 ? kv : kv.slice(0, eq);
  const value = eq < 0 ? undefined : kv.slice(eq + 1);
  const errs = [...isQualifiedName(key).map((m) => `key: ${m}`), ...(value ? isValidLabelValue(value).map((m) => `value: ${m}`) : [])];
  if (!TAINT_EFFECTS.includes(effect)) errs.push(`effect: Unsupported value: ${JSON.stringify(effect)}: supported values: ${TAINT_EFFECTS.map((e) => `"${e}"`).join(', ')}`);
  if (errs.length) throw new Error(`node taint ${JSON.stringify(text)}: ${errs.join('; ')}`);
  return { key, ...(value ? { value } : {}), effect };
}
