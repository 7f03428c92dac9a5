/**
 * N fake nodes that behave like kubelets, kwok-style, through the API only:
 *
 *   start() ─┬─ register nodes (bounded concurrency) ── create Node (Ready, no podCIDR) ── create Lease ── heartbeat timers
 *            ├─ node informer ── spec.podCIDR assigned ? pod addresses from it : (after podCIDRWaitMs) from a fallback /24
 *            │                 └─ skiff.dev/heartbeat=stopped ? stop Lease renewals and status posts : resume them
 *            └─ pod informer ── pods bound to our nodes ── StageEngine (stages as data, delays on the clock)
 *
 * Heartbeats copy the kubelet: the Lease in kube-node-lease is renewed every 10 s (a quarter of its 40 s duration,
 * the kubelet's NodeLease renew interval) and node status (the conditions' lastHeartbeatTime) is posted less often
 * (nodeStatusReportFrequency; upstream 5 min, 60 s here). A node whose heartbeat is stopped also stops moving its
 * pods, as a dead kubelet would. Every delay goes through the injected Clock, so tests run on a FakeClock.
 *
 * Pod addresses come from the node's spec.podCIDR, which the node IPAM controller assigns (a kubelet's network plugin,
 * host-local over the podCIDR, does the same), so simulators beside each other and beside real nodes never hand out
 * the same pod IP. A node runs no pods until it has a range: where no IPAM controller answers within podCIDRWaitMs
 * (a server without controllers, unit tests), node i uses the i-th /24 of 10.128.0.0/10, outside the cluster CIDR,
 * and one log line says so; a podCIDR assigned later replaces it for new pods.
 */
import type { Mutable } from '../../api/object.js';
import { isPodTerminal, podKey } from '../../api/pod.js';
import { isValidQuantity } from '../../api/quantity.js';
import { isAlreadyExists, isConflict, isNotFound } from '../../api/status.js';
import { rfc3339Micro } from '../../api/time.js';
import { isDNS1123Subdomain, isValidLabelValue } from '../../api/validation.js';
import { Leases, Nodes, Pods } from '../../client/resources.js';
import { realClock, type Client, type Clock, type Informer, type InformerFactory } from '../../client/types.js';
import { ConcurrencyLimit } from './concurrency-limit.js';
import { defaultPodStages } from './default-stages.js';
import {
  assignedPodCIDR,
  buildLease,
  buildNode,
  computeNodeConditions,
  DEFAULT_CAPACITY,
  FALLBACK_POD_CIDR_RANGE,
  HEARTBEAT_ANNOTATION,
  HEARTBEAT_STOPPED,
  MAX_SIMULATED_NODES,
  NODE_LEASE_NAMESPACE,
  simulatedNodeNetwork,
  type NodeNetwork,
} from './node-objects.js';
import { PodIPAllocator, POD_ADDRESSES_PER_NODE } from './pod-ip-allocator.js';
import type { Lease, Node, Pod } from './objects.js';
import { compileStages, type Stage } from './stage.js';
import { StageEngine } from './stage-engine.js';
import { createLogger } from '../../log/logger.js';

const log = createLogger('simulated-nodes');

export interface SimulatedNodesOptions {
  client: Client;
  /** Shared informer factory; start() adds handlers to its Pod and Node informers and calls its start(). */
  informers: InformerFactory;
  /** Every delay and timestamp comes from here (default: the real clock). */
  clock?: Clock;
  /** Nodes to simulate, 0..MAX_SIMULATED_NODES. */
  count: number;
  /** Nodes are named `<prefix>-<i>` (default 'sim-node'). */
  namePrefix?: string;
  /** Capacity (= allocatable) quantities, merged over cpu 32, memory 256Gi, pods 110, ephemeral-storage 100Gi. */
  capacity?: Record<string, string>;
  /** The pod lifecycle (default: defaultPodStages()); validated at construction. */
  stages?: Stage[];
  /** Pending -> Running/Ready delay of the default stages (default 1000 ms). Not allowed with `stages`. */
  podReadyDelayMs?: number;
  /** Random extra pod-ready delay in [0, jitter] for the default stages. Not allowed with `stages`. */
  podReadyJitterMs?: number;
  /** Lease spec.leaseDurationSeconds (default 40, the kubelet's). */
  leaseDurationSeconds?: number;
  /** Lease renew interval (default 10 000 ms: the kubelet renews at a quarter of the duration). */
  leaseRenewIntervalMs?: number;
  /** Node status post interval (default 60 000 ms). */
  statusReportIntervalMs?: number;
  /**
   * How long a registered node waits for the node IPAM controller to assign its spec.podCIDR before its pods take
   * addresses from a fallback /24 in 10.128.0.0/10 (default 2000 ms).
   */
  podCIDRWaitMs?: number;
  /** Writes in flight at most, for node registration/heartbeats and, separately, for pod stages (default 32). */
  concurrency?: number;
  /** Source of jitter in [0, 1) (default Math.random). */
  random?: () => number;
  /** Where problems are reported, one line each (default: warnings of the `simulated-nodes` logger). */
  log?: (message: string) => void;
}

interface SimNode {
  readonly name: string;
  readonly addresses: NodeNetwork;
  state: 'pending' | 'registering' | 'registered' | 'gone';
  uid?: string;
  /** The node carries skiff.dev/heartbeat=stopped. */
  silenced: boolean;
  /** The node informer has delivered the node (it, not the registration answer, then decides `silenced`). */
  seen: boolean;
  heartbeating: boolean;
  /** Bumped whenever heartbeats start or stop, so callbacks of an earlier run do nothing. */
  epoch: number;
  /** Where the node's pod addresses come from: none yet (its pods wait), the fallback /24, or its spec.podCIDR. */
  network: 'waiting' | 'fallback' | 'assigned';
  /** Runs out after podCIDRWaitMs and switches a node still waiting for a podCIDR to its fallback /24. */
  fallbackTimer?: { cancel(): void };
  /** An assigned podCIDR reported as unusable (not an IPv4 /24), so it is reported once. */
  refusedCIDR?: string;
  lease?: Lease;
  leaseTimer?: { cancel(): void };
  statusTimer?: { cancel(): void };
  /** The last error logged per activity, so a failing server is reported once, not every tick. */
  lastError: Map<string, string>;
}

const REGISTER_ATTEMPTS = 5;
const REGISTER_BACKOFF_MS = 500;

export class SimulatedNodes {
  /** The names of the simulated nodes, in index order. */
  readonly nodeNames: readonly string[];
  private readonly client: Client;
  private readonly informers: InformerFactory;
  private readonly clock: Clock;
  private readonly capacity: Readonly<Record<string, string>>;
  private readonly leaseDurationSeconds: number;
  private readonly leaseRenewIntervalMs: number;
  private readonly statusReportIntervalMs: number;
  private readonly podCIDRWaitMs: number;
  /** The fallback was announced (one line for all nodes, not one per node). */
  private fallbackReported = false;
  private readonly log: (message: string) => void;
  private readonly nodes = new Map<string, SimNode>();
  /** Pod keys per node name, so resuming a node looks at its pods only. */
  private readonly podsByNode = new Map<string, Set<string>>();
  private readonly ips = new PodIPAllocator();
  private readonly nodeWrites: ConcurrencyLimit;
  private readonly engine: StageEngine;
  private podInformer?: Informer<Pod>;
  private nodeInformer?: Informer<Node>;
  private registration?: Promise<void>;
  private started = false;
  private stopped = false;

  constructor(opts: SimulatedNodesOptions) {
    const problems = validateOptions(opts);
    if (problems.length) throw new Error(`simulated nodes: ${problems.join('; ')}`);
    if (opts.stages && (opts.podReadyDelayMs !== undefined || opts.podReadyJitterMs !== undefined)) {
      throw new Error('simulated nodes: podReadyDelayMs and podReadyJitterMs apply to the default stages; with custom stages set the delay in the pod-ready stage');
    }
    const stages = compileStages(
      opts.stages ?? defaultPodStages({
        ...(opts.podReadyDelayMs !== undefined ? { podReadyDelayMs: opts.podReadyDelayMs } : {}),
        ...(opts.podReadyJitterMs !== undefined ? { podReadyJitterMs: opts.podReadyJitterMs } : {}),
      }),
    );
    this.client = opts.client;
    this.informers = opts.informers;
    this.clock = opts.clock ?? realClock;
    this.capacity = { ...DEFAULT_CAPACITY, ...opts.capacity };
    this.leaseDurationSeconds = opts.leaseDurationSeconds ?? 40;
    this.leaseRenewIntervalMs = opts.leaseRenewIntervalMs ?? 10_000;
    this.statusReportIntervalMs = opts.statusReportIntervalMs ?? 60_000;
    this.podCIDRWaitMs = opts.podCIDRWaitMs ?? 2000;
    const report = opts.log;
    this.log = report ? (m) => report(`simulated nodes: ${m}`) : (m) => log.warn(m);
    const prefix = opts.namePrefix ?? 'sim-node';
    const names: string[] = [];
    for (let i = 0; i < opts.count; i++) {
      const name = `${prefix}-${i}`;
      names.push(name);
      this.nodes.set(name, {
        name,
        addresses: simulatedNodeNetwork(i),
        state: 'pending',
        silenced: false,
        seen: false,
        heartbeating: false,
        epoch: 0,
        network: 'waiting',
        lastError: new Map(),
      });
    }
    this.nodeNames = names;
    const concurrency = opts.concurrency ?? 32;
    this.nodeWrites = new ConcurrencyLimit(concurrency);
    this.engine = new StageEngine({
      client: this.client,
      clock: this.clock,
      stages,
      lookup: (ns, name) => this.podInformer?.lister.get(ns, name),
      active: (pod) => this.isActive(pod.spec?.nodeName),
      hostIP: (node) => this.nodes.get(node)?.addresses.hostIP ?? '',
      ips: this.ips,
      limit: new ConcurrencyLimit(concurrency),
      random: opts.random ?? Math.random,
      log: this.log,
    });
  }

  /** Registers the nodes and starts heartbeats and pod stages; wait for the nodes with waitForRegistration(). */
  start(): void {
    if (this.started) throw new Error('simulated nodes: start() called twice');
    this.started = true;
    this.podInformer = this.informers.informerFor<Pod>(Pods);
    this.nodeInformer = this.informers.informerFor<Node>(Nodes);
    this.nodeInformer.addEventHandler({
      add: (n) => this.onNode(n),
      update: (_, n) => this.onNode(n),
      delete: (n) => this.onNodeDeleted(n),
    });
    this.podInformer.addEventHandler({
      add: (p) => this.onPod(p),
      update: (_, p) => this.onPod(p),
      delete: (p) => this.onPodDeleted(p),
    });
    this.informers.start();
    this.registration = this.registerAll();
    // The caller may never wait; a failure is still reported once here (waitForRegistration rejects with it too).
    this.registration.catch((err: Error) => this.log(err.message));
  }

  /** Resolves when every node and its Lease exist (created, or adopted from an earlier run); rejects if some failed. */
  waitForRegistration(): Promise<void> {
    if (!this.registration) return Promise.reject(new Error('simulated nodes: waitForRegistration() before start()'));
    return this.registration;
  }

  /**
   * Stops heartbeats and pod stages. Nodes stay registered (they turn NotReady once their Leases expire, as when
   * kubelets die); the informer factory belongs to the caller and keeps running.
   */
  stop(): void {
    this.stopped = true;
    for (const sim of this.nodes.values()) {
      this.stopHeartbeats(sim);
      sim.fallbackTimer?.cancel();
      sim.fallbackTimer = undefined;
    }
    this.engine.stop();
  }

  /** Pod stages waiting for their delay or in flight (for tests and diagnostics). */
  get pendingStages(): number {
    return this.engine.pendingCount;
  }

  private async registerAll(): Promise<void> {
    const sims = [...this.nodes.values()];
    const results = await Promise.allSettled(sims.map((sim) => this.nodeWrites.run(() => this.registerWithRetry(sim))));
    const failed = results.flatMap((r, i) => (r.status === 'rejected' ? [`${sims[i]!.name}: ${(r.reason as Error).message}`] : []));
    if (failed.length) throw new Error(`${failed.length} of ${sims.length} nodes failed to register (${failed.slice(0, 3).join('; ')}${failed.length > 3 ? '; ...' : ''})`);
  }

  private async registerWithRetry(sim: SimNode): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      try {
        await this.register(sim);
        return;
      } catch (err) {
        if (attempt >= REGISTER_ATTEMPTS || this.stopped) throw err;
        const wait = REGISTER_BACKOFF_MS * 2 ** (attempt - 1);
        this.log(`node ${sim.name}: registering: ${(err as Error).message}; retrying in ${wait}ms`);
        await new Promise<void>((resolve) => this.clock.setTimeout(resolve, wait));
      }
    }
  }

  /** The kubelet's registerWithAPIServer: create the Node; if it exists (an earlier run), adopt it and post status. */
  private async register(sim: SimNode): Promise<void> {
    if (this.stopped) return;
    sim.state = 'registering';
    let node: Node;
    let adopted = false;
    try {
      node = await this.client.create<Node>(Nodes, '', buildNode(sim.name, sim.addresses, this.capacity, this.clock.now()));
    } catch (err) {
      if (!isAlreadyExists(err)) throw err;
      node = await this.client.get<Node>(Nodes, '', sim.name);
      adopted = true;
    }
    sim.uid = node.metadata?.uid;
    if (!sim.seen) sim.silenced = isSilenced(node);
    if (this.stopped) return;
    sim.state = 'registered';
    // An adopted node may have its podCIDR already; a new one waits for the IPAM controller (or the fallback).
    this.syncNetwork(sim, sim.seen ? this.nodeInformer?.lister.get('', sim.name) ?? node : node);
    if (sim.silenced) return;
    await this.startHeartbeats(sim, { postStatus: adopted, node });
  }

  private onNode(node: Node): void {
    const sim = this.nodes.get(node.metadata?.name ?? '');
    if (!sim || this.stopped) return;
    sim.seen = true;
    if (sim.state === 'registered') this.syncNetwork(sim, node);
    const silenced = isSilenced(node);
    if (silenced === sim.silenced) return;
    sim.silenced = silenced;
    if (sim.state !== 'registered') return;
    if (silenced) {
      this.stopHeartbeats(sim);
    } else {
      // The kubelet coming back: status and Lease at once (Ready=True again), then the usual rhythm.
      this.startHeartbeats(sim, { postStatus: true }).catch((err: Error) => this.log(`node ${sim.name}: resuming heartbeats: ${err.message}`));
    }
  }

  private onNodeDeleted(node: Node): void {
    const sim = this.nodes.get(node.metadata?.name ?? '');
    if (!sim || sim.state !== 'registered' || (sim.uid && node.metadata?.uid !== sim.uid)) return;
    // A real kubelet does not re-register a deleted Node until it restarts; neither do we.
    sim.state = 'gone';
    this.stopHeartbeats(sim);
    sim.fallbackTimer?.cancel();
    sim.fallbackTimer = undefined;
    this.log(`node ${sim.name} was deleted; its simulated kubelet stops (restart the simulator to register it again)`);
  }

  private onPod(pod: Pod): void {
    const nodeName = pod.spec?.nodeName;
    if (!nodeName || !this.nodes.has(nodeName)) return;
    const key = podKey(pod);
    let keys = this.podsByNode.get(nodeName);
    if (!keys) this.podsByNode.set(nodeName, (keys = new Set()));
    keys.add(key);
    if (isPodTerminal(pod)) this.ips.release(pod);
    else this.ips.observe(pod);
    if (this.isActive(nodeName)) this.engine.observe(pod);
  }

  private onPodDeleted(pod: Pod): void {
    const nodeName = pod.spec?.nodeName;
    if (!nodeName || !this.nodes.has(nodeName)) return;
    this.podsByNode.get(nodeName)?.delete(podKey(pod));
    this.ips.release(pod);
    this.engine.forget(pod);
  }

  /** A node moves its pods while its kubelet heartbeats and its pods have an address range. */
  private isActive(nodeName: string | undefined): boolean {
    const sim = nodeName ? this.nodes.get(nodeName) : undefined;
    return !!sim && sim.heartbeating && sim.network !== 'waiting' && !this.stopped;
  }

  /**
   * Takes the node's assigned podCIDR when it has one (and it differs from the range in use); otherwise, while the
   * node has no range, makes sure the fallback timer runs.
   */
  private syncNetwork(sim: SimNode, node: Node): void {
    const cidr = assignedPodCIDR(node);
    if (cidr && cidr !== sim.refusedCIDR) {
      let changed: boolean;
      try {
        changed = this.ips.setPodCIDR(sim.name, cidr);
      } catch (err) {
        sim.refusedCIDR = cidr;
        this.log(`${(err as Error).message}; its pods take addresses from ${sim.addresses.fallbackPodCIDR} instead`);
        this.useFallback(sim);
        return;
      }
      sim.fallbackTimer?.cancel();
      sim.fallbackTimer = undefined;
      if (!changed && sim.network === 'assigned') return;
      if (sim.network === 'fallback') log.info('pod CIDR assigned; new pods of the node take addresses from it', { node: sim.name, podCIDR: cidr });
      sim.network = 'assigned';
      this.replayPods(sim);
      return;
    }
    if (sim.network !== 'waiting' || sim.fallbackTimer) return;
    sim.fallbackTimer = this.clock.setTimeout(() => {
      sim.fallbackTimer = undefined;
      if (this.stopped || sim.state !== 'registered' || sim.network !== 'waiting') return;
      if (!this.fallbackReported) {
        this.fallbackReported = true;
        this.log(
          `node ${sim.name} has no pod CIDR after ${this.podCIDRWaitMs}ms (is the node-ipam controller running, with a --cluster-cidr big enough for every node?); ` +
            `nodes without one give their pods addresses from ${FALLBACK_POD_CIDR_RANGE}, outside the cluster CIDR, until one is assigned`,
        );
      }
      this.useFallback(sim);
    }, this.podCIDRWaitMs);
  }

  private useFallback(sim: SimNode): void {
    sim.fallbackTimer?.cancel();
    sim.fallbackTimer = undefined;
    if (sim.network === 'fallback') return;
    this.ips.setPodCIDR(sim.name, sim.addresses.fallbackPodCIDR);
    sim.network = 'fallback';
    this.replayPods(sim);
  }

  /** Hands the node's pods to the stage engine again (its kubelet resumed, or its pods can have addresses now). */
  private replayPods(sim: SimNode): void {
    if (!this.isActive(sim.name)) return;
    for (const key of this.podsByNode.get(sim.name) ?? []) {
      const slash = key.indexOf('/');
      const pod = this.podInformer?.lister.get(key.slice(0, slash), key.slice(slash + 1));
      if (pod) this.engine.observe(pod);
    }
  }

  private async startHeartbeats(sim: SimNode, opts: { postStatus: boolean; node?: Node }): Promise<void> {
    if (sim.heartbeating || this.stopped) return;
    sim.heartbeating = true;
    const epoch = ++sim.epoch;
    // Timers first: if the immediate writes below fail, the next tick retries them.
    this.armLease(sim, epoch);
    this.armStatus(sim, epoch);
    this.replayPods(sim);
    if (opts.postStatus) await this.postStatus(sim, opts.node);
    await this.renewLease(sim);
  }

  private stopHeartbeats(sim: SimNode): void {
    sim.heartbeating = false;
    sim.epoch++;
    sim.leaseTimer?.cancel();
    sim.statusTimer?.cancel();
    sim.leaseTimer = sim.statusTimer = undefined;
  }

  private armLease(sim: SimNode, epoch: number): void {
    sim.leaseTimer = this.clock.setTimeout(() => {
      if (sim.epoch !== epoch) return;
      this.nodeWrites
        .run(() => this.renewLease(sim))
        .then(
          () => this.recovered(sim, 'renewing lease'),
          (err: Error) => this.failed(sim, 'renewing lease', err),
        )
        .finally(() => sim.epoch === epoch && this.armLease(sim, epoch));
    }, this.leaseRenewIntervalMs);
  }

  private armStatus(sim: SimNode, epoch: number): void {
    sim.statusTimer = this.clock.setTimeout(() => {
      if (sim.epoch !== epoch) return;
      this.nodeWrites
        .run(() => this.postStatus(sim))
        .then(
          () => this.recovered(sim, 'posting node status'),
          (err: Error) => this.failed(sim, 'posting node status', err),
        )
        .finally(() => sim.epoch === epoch && this.armStatus(sim, epoch));
    }, this.statusReportIntervalMs);
  }

  private failed(sim: SimNode, activity: string, err: Error): void {
    if (sim.lastError.get(activity) === err.message) return;
    sim.lastError.set(activity, err.message);
    this.log(`node ${sim.name}: ${activity}: ${err.message}`);
  }

  private recovered(sim: SimNode, activity: string): void {
    if (sim.lastError.delete(activity)) this.log(`node ${sim.name}: ${activity} works again`);
  }

  /** The kubelet's lease controller: update the cached Lease; without one (or when stale), create it or read and update it. */
  private async renewLease(sim: SimNode): Promise<void> {
    const now = this.clock.now();
    if (sim.lease) {
      const next = structuredClone(sim.lease) as Mutable<Lease>;
      next.spec = { ...next.spec, holderIdentity: sim.name, leaseDurationSeconds: this.leaseDurationSeconds, renewTime: rfc3339Micro(now) };
      try {
        sim.lease = await this.client.update<Lease>(Leases, NODE_LEASE_NAMESPACE, next);
        return;
      } catch (err) {
        if (!isConflict(err) && !isNotFound(err)) throw err;
        sim.lease = undefined;
      }
    }
    const fresh = buildLease({ name: sim.name, ...(sim.uid ? { uid: sim.uid } : {}) }, this.leaseDurationSeconds, now);
    try {
      sim.lease = await this.client.create<Lease>(Leases, NODE_LEASE_NAMESPACE, fresh);
      return;
    } catch (err) {
      if (!isAlreadyExists(err)) throw err;
    }
    const current = structuredClone(await this.client.get<Lease>(Leases, NODE_LEASE_NAMESPACE, sim.name)) as Mutable<Lease>;
    current.spec = { ...current.spec, ...fresh.spec };
    if (!current.metadata.ownerReferences?.length && fresh.metadata.ownerReferences) current.metadata.ownerReferences = fresh.metadata.ownerReferences;
    sim.lease = await this.client.update<Lease>(Leases, NODE_LEASE_NAMESPACE, current);
  }

  /** Posts the node's conditions (heartbeat now, Ready=True) through nodes/status; one fresh read on conflict. */
  private async postStatus(sim: SimNode, known?: Node): Promise<void> {
    let node = known ?? this.nodeInformer?.lister.get('', sim.name) ?? (await this.client.get<Node>(Nodes, '', sim.name));
    for (let attempt = 0; ; attempt++) {
      const next = structuredClone(node) as Mutable<Node>;
      next.status = { ...next.status, conditions: computeNodeConditions(node.status?.conditions ?? [], this.clock.now()) };
      try {
        await this.client.updateStatus<Node>(Nodes, '', next);
        return;
      } catch (err) {
        if (!isConflict(err) || attempt >= 1) throw err;
      }
      node = await this.client.get<Node>(Nodes, '', sim.name);
    }
  }
}

function isSilenced(node: Node): boolean {
  return node.metadata?.annotations?.[HEARTBEAT_ANNOTATION] === HEARTBEAT_STOPPED;
}

function validateOptions(opts: SimulatedNodesOptions): string[] {
  const problems: string[] = [];
  if (!Number.isInteger(opts.count) || opts.count < 0 || opts.count > MAX_SIMULATED_NODES) {
    problems.push(`count: Invalid value: ${JSON.stringify(opts.count)}: must be a whole number from 0 to ${MAX_SIMULATED_NODES}`);
  }
  const prefix = opts.namePrefix ?? 'sim-node';
  const lastName = `${prefix}-${Math.max(0, (Number.isInteger(opts.count) ? opts.count : 1) - 1)}`;
  const nameErrors = [...isDNS1123Subdomain(lastName), ...isValidLabelValue(lastName)];
  if (nameErrors.length) problems.push(`namePrefix: Invalid value: ${JSON.stringify(prefix)}: node names like ${JSON.stringify(lastName)}: ${nameErrors[0]}`);
  for (const [k, v] of Object.entries(opts.capacity ?? {})) {
    if (typeof v !== 'string' || !isValidQuantity(v)) problems.push(`capacity.${k}: Invalid value: ${JSON.stringify(v)}: must be a quantity like "32" or "256Gi"`);
  }
  const pods = opts.capacity?.pods;
  if (pods !== undefined && /^\d+$/.test(pods) && Number(pods) > POD_ADDRESSES_PER_NODE) {
    problems.push(`capacity.pods: Invalid value: "${pods}": at most ${POD_ADDRESSES_PER_NODE}, the addresses of a node's /24 pod CIDR`);
  }
  for (const k of ['podReadyDelayMs', 'podReadyJitterMs', 'leaseRenewIntervalMs', 'statusReportIntervalMs', 'podCIDRWaitMs'] as const) {
    const v = opts[k];
    if (v !== undefined && (typeof v !== 'number' || !Number.isFinite(v) || v < 0)) problems.push(`${k}: Invalid value: ${JSON.stringify(v)}: must be a number >= 0`);
  }
  for (const k of ['leaseRenewIntervalMs', 'statusReportIntervalMs'] as const) {
    if (opts[k] === 0) problems.push(`${k}: Invalid value: 0: must be greater than 0`);
  }
  if (opts.leaseDurationSeconds !== undefined && (!Number.isInteger(opts.leaseDurationSeconds) || opts.leaseDurationSeconds <= 0)) {
    problems.push(`leaseDurationSeconds: Invalid value: ${JSON.stringify(opts.leaseDurationSeconds)}: must be a whole number > 0`);
  }
  if (opts.concurrency !== undefined && (!Number.isInteger(opts.concurrency) || opts.concurrency < 1)) {
    problems.push(`concurrency: Invalid value: ${JSON.stringify(opts.concurrency)}: must be a whole number >= 1`);
  }
  return problems;
}
