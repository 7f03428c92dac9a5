/**
 * A real node's presence in the cluster, as the kubelet keeps it (pkg/kubelet/kubelet_node_status.go and
 * pkg/kubelet/nodelease):
 *
 *   start() ── register: POST Node (labels, taints, capacity, first status)
 *           │     exists already? adopt it: merge our labels into it (taints are only set at creation), post status
 *           ├─ every 10 s (nodeStatusUpdateFrequency): measure, compute status; POST nodes/status when it changed
 *           │     (heartbeat times aside) or 5 min (nodeStatusReportFrequency) passed since the last post
 *           └─ every 10 s: renew the Lease kube-node-lease/<node> (40 s, a quarter of it as the interval)
 *   stop()  ── timers end, writes in flight finish; the Node stays and goes NotReady when its Lease expires
 *
 * Every post gives the kubelet's four conditions lastHeartbeatTime = now; lastTransitionTime moves only when a
 * status changes. Measurements come through NodeMeasurements and runtime readiness through a callback, so tests can
 * simulate pressure and a dead runtime. Every delay and timestamp comes from the injected Clock.
 */
import type { NodeStatus, Taint } from 'kubernetes-types/core/v1.js';
import type { Mutable } from '../../api/object.js';
import { isAlreadyExists, isConflict, isNotFound } from '../../api/status.js';
import { rfc3339Micro } from '../../api/time.js';
import { Leases, Nodes } from '../../client/resources.js';
import { realClock, type Client, type Clock } from '../../client/types.js';
import { createLogger } from '../../log/logger.js';
import { buildLease, KUBELET_VERSION, NODE_LEASE_NAMESPACE } from '../simulated/node-objects.js';
import type { Lease, Node } from '../simulated/objects.js';
import {
  computeNodePressure,
  DEFAULT_EVICTION_HARD,
  DEFAULT_PRESSURE_TRANSITION_PERIOD_MS,
  parseEvictionThresholds,
  signalsCrossed,
  type EvictionThresholds,
  type NodePressure,
  type PressureHistory,
} from './eviction-thresholds.js';
import type { HostFacts } from './host-facts.js';
import type { NodeMeasurements } from './host-measurements.js';
import {
  buildNode,
  capacityProblems,
  computeAllocatable,
  computeCapacity,
  computeNodeAddresses,
  computeNodeConditions,
  computeNodeLabels,
  computeNodeStatus,
  DEFAULT_KUBELET_PORT,
  DEFAULT_MAX_PODS,
  nodeStatusChanged,
  type NodeFacts,
} from './node-status.js';

const log = createLogger('node');

export interface NodeReporterOptions {
  /** A client acting as the node (system:node:<name> in system:nodes). */
  client: Client;
  nodeName: string;
  host: HostFacts;
  measurements: NodeMeasurements;
  /** nodeInfo.containerRuntimeVersion, e.g. `containerd://1.6.20` or `process://0.1.0`. */
  containerRuntimeVersion: string;
  /**
   * Why the node cannot run pods now (kubelet's runtime and network readiness), e.g. `container runtime is down`;
   * empty when ready. Asked at every status computation; a rejection counts as one problem.
   */
  runtimeProblems?: () => Promise<readonly string[]> | readonly string[];
  clock?: Clock;
  /** InternalIP addresses (`--node-ip`); default: the host's first non-loopback IPv4. */
  nodeIPs?: string[];
  /** node-role.kubernetes.io/<role>=true labels, e.g. ['control-plane', 'master'] for a server's agent. */
  roles?: string[];
  /** `--node-label`s, over the default labels; merged into an existing Node on restart. */
  labels?: Record<string, string>;
  /** `--node-taint`s; set when the Node is created only (kubelet --register-with-taints). */
  taints?: Taint[];
  /** daemonEndpoints.kubeletEndpoint.Port (default 10250). */
  kubeletPort?: number;
  maxPods?: number;
  /** kubelet --eviction-hard (default memory.available<100Mi, nodefs.available<10%, nodefs.inodesFree<5%, imagefs.available<15%, imagefs.inodesFree<5%). */
  evictionHard?: Record<string, string>;
  pressureTransitionPeriodMs?: number;
  leaseDurationSeconds?: number;
  leaseRenewIntervalMs?: number;
  /** How often status is computed (kubelet nodeStatusUpdateFrequency, 10 s). */
  statusUpdateIntervalMs?: number;
  /** How often an unchanged status is posted anyway (kubelet nodeStatusReportFrequency, 5 min). */
  statusReportIntervalMs?: number;
  /** Registration retry backoff: from 100 ms doubling up to this (kubelet: 7 s). */
  maxRegisterBackoffMs?: number;
}

/** kubelet's nodeStatusUpdateRetry: conflicting status posts retried with a fresh read this many times. */
const STATUS_UPDATE_RETRY = 5;
const PODCIDR_POLL_MS = 500;

interface Measured {
  capacity: Record<string, string>;
  allocatable: Record<string, string>;
  pressure: NodePressure;
  problems: string[];
}

export class NodeReporter {
  readonly nodeName: string;
  private readonly o: NodeReporterOptions;
  private readonly client: Client;
  private readonly clock: Clock;
  private readonly facts: NodeFacts;
  private readonly thresholds: EvictionThresholds;
  private readonly leaseDurationSeconds: number;
  private readonly leaseRenewIntervalMs: number;
  private readonly statusUpdateIntervalMs: number;
  private readonly statusReportIntervalMs: number;
  private history: PressureHistory = {};
  private current?: Node;
  private lastReportAt = 0;
  private lease?: Lease;
  private statusTimer?: { cancel(): void };
  private leaseTimer?: { cancel(): void };
  private readonly inFlight = new Set<Promise<unknown>>();
  private readonly lastError = new Map<string, string>();
  private cidrWaiters: (() => void)[] = [];
  private syncing = false;
  private syncAgain = false;
  private started = false;
  private stopped = false;

  /** Throws on options that cannot work (bad node IPs, bad eviction thresholds), naming them. */
  constructor(opts: NodeReporterOptions) {
    this.o = opts;
    this.nodeName = opts.nodeName;
    this.client = opts.client;
    this.clock = opts.clock ?? realClock;
    this.thresholds = parseEvictionThresholds(opts.evictionHard ?? DEFAULT_EVICTION_HARD);
    this.leaseDurationSeconds = opts.leaseDurationSeconds ?? 40;
    this.leaseRenewIntervalMs = opts.leaseRenewIntervalMs ?? 10_000;
    this.statusUpdateIntervalMs = opts.statusUpdateIntervalMs ?? 10_000;
    this.statusReportIntervalMs = opts.statusReportIntervalMs ?? 300_000;
    const h = opts.host;
    this.facts = {
      name: opts.nodeName,
      labels: computeNodeLabels({ nodeName: opts.nodeName, operatingSystem: h.operatingSystem, architecture: h.architecture, roles: opts.roles, labels: opts.labels }),
      taints: opts.taints ?? [],
      addresses: computeNodeAddresses({ nodeName: opts.nodeName, nodeIPs: opts.nodeIPs, interfaces: h.interfaces }),
      nodeInfo: {
        machineID: h.machineID,
        systemUUID: h.systemUUID,
        bootID: h.bootID,
        kernelVersion: h.kernelVersion,
        osImage: h.osImage,
        containerRuntimeVersion: opts.containerRuntimeVersion,
        kubeletVersion: KUBELET_VERSION,
        kubeProxyVersion: '',
        operatingSystem: h.operatingSystem,
        architecture: h.architecture,
      },
      kubeletPort: opts.kubeletPort ?? DEFAULT_KUBELET_PORT,
    };
  }

  /** The Node as last written or read (undefined before registration). Shared: do not mutate. */
  get node(): Node | undefined {
    return this.current;
  }

  /** spec.podCIDRs once the node IPAM controller has assigned them, else []. */
  get podCIDRs(): string[] {
    const spec = this.current?.spec;
    return spec?.podCIDRs?.length ? [...spec.podCIDRs] : spec?.podCIDR ? [spec.podCIDR] : [];
  }

  /** The node's InternalIP addresses, in order. */
  get internalIPs(): string[] {
    return this.facts.addresses.filter((a) => a.type === 'InternalIP').map((a) => a.address);
  }

  /**
   * Registers the Node (retrying with backoff until it works or stop() is called), posts its status and Lease, and
   * starts the heartbeats. Resolves once registered.
   */
  async start(): Promise<void> {
    if (this.started) throw new Error('node reporter: start() called twice');
    this.started = true;
    let backoff = 100;
    const maxBackoff = this.o.maxRegisterBackoffMs ?? 7_000;
    for (;;) {
      if (this.stopped) return;
      try {
        await this.track(this.register());
        break;
      } catch (err) {
        this.failed('registering the node', err as Error);
        await new Promise<void>((resolve) => this.clock.setTimeout(resolve, backoff));
        backoff = Math.min(backoff * 2, maxBackoff);
      }
    }
    this.recovered('registering the node');
    log.info('node registered', { node: this.nodeName, addresses: this.internalIPs, runtime: this.o.containerRuntimeVersion });
    await this.track(this.renewLease()).then(
      () => this.recovered('renewing the lease'),
      (err: Error) => this.failed('renewing the lease', err),
    );
    this.armStatus();
    this.armLease();
  }

  /** Ends heartbeats and waits for writes in flight. The Node stays registered. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.statusTimer?.cancel();
    this.leaseTimer?.cancel();
    for (const w of this.cidrWaiters) w();
    this.cidrWaiters = [];
    await Promise.allSettled([...this.inFlight]);
  }

  /** Computes status now instead of at the next tick (e.g. the runtime became ready); posts it if it changed. */
  requestStatusSync(): void {
    if (!this.current || this.stopped) return;
    void this.syncStatus().catch((err: Error) => this.failed('updating node status', err));
  }

  /** Resolves with spec.podCIDRs once assigned (polling the Node); rejects if stop() comes first. */
  async waitForPodCIDR(): Promise<string[]> {
    for (;;) {
      if (this.stopped) throw new Error(`node ${this.nodeName}: stopped before a pod CIDR was assigned`);
      if (this.podCIDRs.length) return this.podCIDRs;
      await new Promise<void>((resolve) => {
        const t = this.clock.setTimeout(() => {
          this.cidrWaiters = this.cidrWaiters.filter((w) => w !== done);
          resolve();
        }, PODCIDR_POLL_MS);
        const done = () => {
          t.cancel();
          resolve();
        };
        this.cidrWaiters.push(done);
      });
      if (this.stopped || this.podCIDRs.length) continue;
      try {
        this.observe(await this.track(this.client.get<Node>(Nodes, '', this.nodeName)));
      } catch (err) {
        this.failed('reading the node', err as Error);
      }
    }
  }

  /** kubelet's registerWithAPIServer + tryRegisterWithAPIServer. */
  private async register(): Promise<void> {
    const measured = await this.measure();
    const now = this.clock.now();
    const status = this.statusFrom(undefined, measured, now);
    try {
      const created = await this.client.create<Node>(Nodes, '', buildNode(this.facts, status));
      this.reported(created, now);
      return;
    } catch (err) {
      if (!isAlreadyExists(err)) throw err;
    }
    // Adopt the Node of an earlier run (or a pre-created one): our labels over its labels, then a fresh status.
    let existing = await this.client.get<Node>(Nodes, '', this.nodeName);
    const labels = { ...existing.metadata?.labels, ...this.facts.labels };
    if (JSON.stringify(labels) !== JSON.stringify(existing.metadata?.labels ?? {})) {
      const next = structuredClone(existing) as Mutable<Node>;
      next.metadata = { ...next.metadata, labels };
      existing = await this.client.update<Node>(Nodes, '', next);
    }
    this.observe(existing);
    await this.postStatus(measured, existing);
  }

  private armStatus(): void {
    if (this.stopped) return;
    this.statusTimer = this.clock.setTimeout(() => {
      this.track(this.syncStatus())
        .then(
          () => this.recovered('updating node status'),
          (err: Error) => this.failed('updating node status', err),
        )
        .finally(() => this.armStatus());
    }, this.statusUpdateIntervalMs);
  }

  private armLease(): void {
    if (this.stopped) return;
    this.leaseTimer = this.clock.setTimeout(() => {
      this.track(this.renewLease())
        .then(
          () => this.recovered('renewing the lease'),
          (err: Error) => this.failed('renewing the lease', err),
        )
        .finally(() => this.armLease());
    }, this.leaseRenewIntervalMs);
  }

  /** kubelet's syncNodeStatus: compute; post when changed or when the report interval has passed. One at a time. */
  private async syncStatus(): Promise<void> {
    if (this.syncing) {
      this.syncAgain = true;
      return;
    }
    this.syncing = true;
    try {
      do {
        this.syncAgain = false;
        if (this.stopped) return;
        // Compared with the Node as the server has it now (kubelet reads it from its informer), so a condition
        // someone else changed (the node lifecycle controller's Unknown) is corrected at the next tick.
        const [measured, node] = await Promise.all([this.measure(), this.client.get<Node>(Nodes, '', this.nodeName)]);
        this.observe(node);
        const now = this.clock.now();
        const next = this.statusFrom(node.status, measured, now);
        const due = now.getTime() - this.lastReportAt >= this.statusReportIntervalMs;
        if (due || nodeStatusChanged(node.status, next)) await this.postStatus(measured, node);
      } while (this.syncAgain);
    } finally {
      this.syncing = false;
    }
  }

  /** PUT nodes/status over the latest Node; conflicts are retried on a fresh read (kubelet's tryUpdateNodeStatus). */
  private async postStatus(measured: Measured, known?: Node): Promise<void> {
    let node = known ?? this.current ?? (await this.client.get<Node>(Nodes, '', this.nodeName));
    for (let attempt = 1; ; attempt++) {
      const now = this.clock.now();
      const next = structuredClone(node) as Mutable<Node>;
      next.status = this.statusFrom(node.status, measured, now);
      try {
        this.reported(await this.client.updateStatus<Node>(Nodes, '', next), now);
        return;
      } catch (err) {
        if (isNotFound(err)) throw new Error(`node "${this.nodeName}" not found: it was deleted; restart the agent to register it again`);
        if (!isConflict(err) || attempt >= STATUS_UPDATE_RETRY) throw err;
      }
      node = await this.client.get<Node>(Nodes, '', this.nodeName);
    }
  }

  private statusFrom(base: NodeStatus | undefined, m: Measured, now: Date): Mutable<NodeStatus> {
    const conditions = computeNodeConditions(base?.conditions ?? [], m.pressure, m.problems, now);
    return computeNodeStatus(base, this.facts, m.capacity, m.allocatable, conditions);
  }

  private async measure(): Promise<Measured> {
    const [machine, sample, runtime] = await Promise.all([this.o.measurements.capacity(), this.o.measurements.sample(), this.runtimeProblems()]);
    const capacity = computeCapacity(machine, this.o.maxPods ?? DEFAULT_MAX_PODS);
    const { pressure, history } = computeNodePressure(
      signalsCrossed(sample, this.thresholds),
      this.history,
      this.clock.now().getTime(),
      this.o.pressureTransitionPeriodMs ?? DEFAULT_PRESSURE_TRANSITION_PERIOD_MS,
    );
    this.history = history;
    return {
      capacity,
      allocatable: computeAllocatable(machine, this.thresholds, this.o.maxPods ?? DEFAULT_MAX_PODS),
      pressure,
      problems: [...runtime, ...capacityProblems(capacity)],
    };
  }

  private async runtimeProblems(): Promise<string[]> {
    if (!this.o.runtimeProblems) return [];
    try {
      return [...(await this.o.runtimeProblems())];
    } catch (err) {
      return [`container runtime status check may not have completed yet: ${(err as Error).message}`];
    }
  }

  private reported(node: Node, at: Date): void {
    this.lastReportAt = at.getTime();
    this.observe(node);
  }

  private observe(node: Node): void {
    this.current = node;
    if (this.podCIDRs.length && this.cidrWaiters.length) {
      for (const w of this.cidrWaiters) w();
      this.cidrWaiters = [];
    }
  }

  /** kubelet's lease controller: update the Lease we hold; without one, create it, or adopt the existing one. */
  private async renewLease(): Promise<void> {
    const now = this.clock.now();
    if (this.lease) {
      const next = structuredClone(this.lease) as Mutable<Lease>;
      next.spec = { ...next.spec, holderIdentity: this.nodeName, leaseDurationSeconds: this.leaseDurationSeconds, renewTime: rfc3339Micro(now) };
      try {
        this.lease = await this.client.update<Lease>(Leases, NODE_LEASE_NAMESPACE, next);
        return;
      } catch (err) {
        if (!isConflict(err) && !isNotFound(err)) throw err;
        this.lease = undefined;
      }
    }
    const uid = this.current?.metadata?.uid;
    const fresh = buildLease({ name: this.nodeName, ...(uid ? { uid } : {}) }, this.leaseDurationSeconds, now);
    try {
      this.lease = await this.client.create<Lease>(Leases, NODE_LEASE_NAMESPACE, fresh);
      return;
    } catch (err) {
      if (!isAlreadyExists(err)) throw err;
    }
    const existing = structuredClone(await this.client.get<Lease>(Leases, NODE_LEASE_NAMESPACE, this.nodeName)) as Mutable<Lease>;
    existing.spec = { ...existing.spec, ...fresh.spec };
    // A Lease of an earlier Node with this name points at the wrong owner; the garbage collector would delete it.
    if (fresh.metadata.ownerReferences) existing.metadata.ownerReferences = fresh.metadata.ownerReferences;
    this.lease = await this.client.update<Lease>(Leases, NODE_LEASE_NAMESPACE, existing);
  }

  private track<T>(p: Promise<T>): Promise<T> {
    this.inFlight.add(p);
    void p.then(
      () => this.inFlight.delete(p),
      () => this.inFlight.delete(p),
    );
    return p;
  }

  private failed(activity: string, err: Error): void {
    if (this.lastError.get(activity) === err.message) return;
    this.lastError.set(activity, err.message);
    log.warn(`${activity} failed`, { node: this.nodeName, err: err.message });
  }

  private recovered(activity: string): void {
    if (this.lastError.delete(activity)) log.info(`${activity} works again`, { node: this.nodeName });
  }
}
