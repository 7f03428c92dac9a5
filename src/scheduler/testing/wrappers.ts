/**
 * Builders for realistic Node and Pod objects in scheduler tests (upstream's st.MakeNode()/st.MakePod() in
 * function form), and helpers that run one plugin the way the framework would.
 */
import type { Affinity, Container, Taint, Toleration, TopologySpreadConstraint } from 'kubernetes-types/core/v1.js';
import type { Clock } from '../../client/types.js';
import { FakeClock } from '../../client/testing/fake-clock.js';
import { CycleState } from '../framework/cycle-state.js';
import { Framework, type PluginConfig } from '../framework/framework.js';
import type { NodeInfo } from '../framework/node-info.js';
import { Snapshot } from '../framework/snapshot.js';
import { Code, Status, type Result } from '../framework/status.js';
import type { Node, Pod } from '../framework/types.js';
import { newInTreeRegistry } from '../plugins/registry.js';
import type { FrameworkOptions } from '../framework/framework.js';

export interface NodeSpecOptions {
  cpu?: string;
  memory?: string;
  pods?: string;
  ephemeralStorage?: string;
  /** Extra allocatable resources, e.g. { 'nvidia.com/gpu': '2' }. */
  extended?: Record<string, string>;
  labels?: Record<string, string>;
  taints?: Taint[];
  unschedulable?: boolean;
  images?: { names: string[]; sizeBytes: number }[];
}

/** A Ready node the way a kubelet registers it (hostname label, capacity = allocatable). */
export function makeNode(name: string, o: NodeSpecOptions = {}): Node {
  const allocatable: Record<string, string> = { cpu: o.cpu ?? '4', memory: o.memory ?? '32Gi', pods: o.pods ?? '110', ...(o.ephemeralStorage ? { 'ephemeral-storage': o.ephemeralStorage } : {}), ...o.extended };
  return {
    apiVersion: 'v1',
    kind: 'Node',
    metadata: { name, uid: `uid-node-${name}`, labels: { 'kubernetes.io/hostname': name, 'kubernetes.io/os': 'linux', ...o.labels } },
    spec: { ...(o.taints ? { taints: o.taints } : {}), ...(o.unschedulable ? { unschedulable: true } : {}) },
    status: {
      capacity: allocatable,
      allocatable,
      conditions: [{ type: 'Ready', status: 'True', reason: 'KubeletReady', message: 'kubelet is posting ready status' }],
      ...(o.images ? { images: o.images } : {}),
    },
  };
}

export interface PodSpecOptions {
  namespace?: string;
  uid?: string;
  /** Requests of the single container (when `containers` is not given). */
  cpu?: string;
  memory?: string;
  ephemeralStorage?: string;
  extended?: Record<string, string>;
  image?: string;
  containers?: Container[];
  initContainers?: Container[];
  overhead?: Record<string, string>;
  labels?: Record<string, string>;
  nodeName?: string;
  nominatedNodeName?: string;
  priority?: number;
  priorityClassName?: string;
  preemptionPolicy?: string;
  schedulerName?: string;
  tolerations?: Toleration[];
  nodeSelector?: Record<string, string>;
  affinity?: Affinity;
  hostPorts?: { port: number; protocol?: string; hostIP?: string }[];
  topologySpreadConstraints?: TopologySpreadConstraint[];
  schedulingGates?: string[];
  deletionTimestamp?: string;
  startTime?: string;
  phase?: string;
  ownerReferences?: { apiVersion: string; kind: string; name: string; uid: string; controller?: boolean }[];
}

/** A pod as the API server stores it after defaulting (one container, schedulerName default-scheduler). */
export function makePod(name: string, o: PodSpecOptions = {}): Pod {
  const requests: Record<string, string> = {};
  if (o.cpu) requests.cpu = o.cpu;
  if (o.memory) requests.memory = o.memory;
  if (o.ephemeralStorage) requests['ephemeral-storage'] = o.ephemeralStorage;
  Object.assign(requests, o.extended);
  const containers: Container[] = o.containers ?? [
    {
      name: 'app',
      image: o.image ?? 'registry.k8s.io/pause:3.9',
      ...(Object.keys(requests).length ? { resources: { requests } } : {}),
      ...(o.hostPorts ? { ports: o.hostPorts.map((p) => ({ containerPort: p.port, hostPort: p.port, protocol: p.protocol ?? 'TCP', ...(p.hostIP ? { hostIP: p.hostIP } : {}) })) } : {}),
    },
  ];
  const namespace = o.namespace ?? 'default';
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name,
      namespace,
      uid: o.uid ?? `uid-${namespace}-${name}`,
      resourceVersion: '1',
      creationTimestamp: '2025-01-01T00:00:00Z',
      ...(o.labels ? { labels: o.labels } : {}),
      ...(o.deletionTimestamp ? { deletionTimestamp: o.deletionTimestamp } : {}),
      ...(o.ownerReferences ? { ownerReferences: o.ownerReferences } : {}),
    },
    spec: {
      containers,
      ...(o.initContainers ? { initContainers: o.initContainers } : {}),
      ...(o.overhead ? { overhead: o.overhead } : {}),
      schedulerName: o.schedulerName ?? 'default-scheduler',
      ...(o.nodeName ? { nodeName: o.nodeName } : {}),
      ...(o.priority !== undefined ? { priority: o.priority } : {}),
      ...(o.priorityClassName ? { priorityClassName: o.priorityClassName } : {}),
      ...(o.preemptionPolicy ? { preemptionPolicy: o.preemptionPolicy } : {}),
      ...(o.tolerations ? { tolerations: o.tolerations } : {}),
      ...(o.nodeSelector ? { nodeSelector: o.nodeSelector } : {}),
      ...(o.affinity ? { affinity: o.affinity } : {}),
      ...(o.topologySpreadConstraints ? { topologySpreadConstraints: o.topologySpreadConstraints } : {}),
      ...(o.schedulingGates ? { schedulingGates: o.schedulingGates.map((name) => ({ name })) } : {}),
    },
    status: {
      phase: o.phase ?? (o.nodeName ? 'Running' : 'Pending'),
      ...(o.nominatedNodeName ? { nominatedNodeName: o.nominatedNodeName } : {}),
      ...(o.startTime ? { startTime: o.startTime } : {}),
    },
  };
}

/** A snapshot holding the nodes and the (assigned) pods. */
export function snapshotOf(nodes: Node[], pods: Pod[] = []): Snapshot {
  const s = new Snapshot();
  for (const n of nodes) s.addNode(n);
  for (const p of pods) s.addPod(p);
  return s;
}

/** A framework with the given in-tree plugins over `snapshot` (the handle plugins get in tests). */
export function frameworkFor(plugins: (string | PluginConfig)[], snapshot: Snapshot, extra: Partial<FrameworkOptions> = {}): Framework {
  const clock: Clock = extra.clock ?? new FakeClock();
  return new Framework({
    registry: newInTreeRegistry(),
    profile: { schedulerName: 'default-scheduler', plugins: plugins.map((p) => (typeof p === 'string' ? { name: p } : p)) },
    snapshot,
    clock,
    random: () => 0,
    ...extra,
  });
}

/** PreFilter then Filter on one node, as the runtime does: a Skip from PreFilter means the Filter passes. */
export function runFilter(fwk: Framework, pod: Pod, nodeInfo: NodeInfo): Result {
  const state = new CycleState();
  const pre = fwk.runPreFilterPlugins(state, pod, fwk.snapshot.list());
  if (pre.status && pre.status.code !== Code.Success) return pre.status;
  if (pre.nodeNames && !pre.nodeNames.has(nodeInfo.name)) return Status.unresolvable('not in PreFilterResult');
  return fwk.runFilterPlugins(state, pod, nodeInfo);
}

/** The status as `[code, ...reasons]` ('Success' for undefined), for compact table expectations. */
export function describe(s: Result): string[] {
  if (!s || s.code === Code.Success) return ['Success'];
  return [Code[s.code]!, ...s.reasons];
}

/** PreScore + Score + NormalizeScore of the framework's score plugins over the nodes; per-plugin scores by node name. */
export function scoreNodes(fwk: Framework, pod: Pod, nodes: readonly NodeInfo[] = fwk.snapshot.list()): Map<string, Record<string, number>> {
  const state = new CycleState();
  const pre = fwk.runPreScorePlugins(state, pod, nodes);
  if (pre) throw new Error(`PreScore failed: ${pre.message()}`);
  const per = new Map<string, Float64Array>();
  const totals = fwk.runScorePlugins(state, pod, nodes, per);
  if (totals instanceof Status) throw new Error(`Score failed: ${totals.message()}`);
  const out = new Map<string, Record<string, number>>();
  nodes.forEach((n, i) => {
    const row: Record<string, number> = {};
    for (const [plugin, scores] of per) row[plugin] = scores[i]!;
    row.total = totals[i]!;
    out.set(n.name, row);
  });
  return out;
}
