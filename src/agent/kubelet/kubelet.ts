/**
 * The node agent's pod lifecycle (kubelet's syncLoop, podWorkers, PLEG and housekeeping, small): pods bound to this
 * node come from an informer (fieldSelector spec.nodeName=<node>); each pod has one PodWorker that serializes its
 * syncs. A worker syncs when its pod changes, when the runtime's view of it changes (a relist every second, kubelet's
 * generic PLEG), when a probe reports, when a back-off ends, and every resync period (10 s).
 *
 * start() first recovers: it lists what the runtime runs (by POD_UID_LABEL) and what volumes exist, adopts whatever
 * belongs to pods that still exist (their workers find the containers running and keep them, restartCount continuing
 * from the containers' attempts), and stops and removes the rest, tearing down their volumes.
 */
import type { KubeletMetrics } from '../../observability/kubelet-metrics.js';
import { readFile } from 'node:fs/promises';
import { networkInterfaces } from 'node:os';
import type { ConfigMap, Secret, Service } from 'kubernetes-types/core/v1.js';
import type { KubeObject } from '../../api/object.js';
import { isNotFound } from '../../api/status.js';
import { ConfigMaps, Pods, Secrets, Services } from '../../client/resources.js';
import { realClock, type Client, type Clock, type EventRecorder, type Informer, type InformerFactory, type ResourceType } from '../../client/types.js';
import { createLogger } from '../../log/logger.js';
import type { ProbeManager, ProbeManagerEvents } from '../probes/types.js';
import { POD_UID_LABEL, type ContainerRuntime } from '../runtime/types.js';
import type { VolumeManager } from '../volumes/types.js';
import { DEFAULT_MAX_FILES, DEFAULT_MAX_SIZE_BYTES } from '../logs/container-log-writer.js';
import { Backoff } from './backoff.js';
import { ContainerLogManager, validateContainerLogPolicy } from './container-log-manager.js';
import { parseResolvConf, type ObjectSource } from './container-config.js';
import { ImagePuller } from './image-puller.js';
import type { Pod } from './objects.js';
import { removePodCgroups, removePodLogDirectory } from './pod-leftovers.js';
import { PodWorker, type WorkerContext } from './pod-worker.js';
import { serviceEnvironment } from './service-env.js';

const log = createLogger('kubelet');

export interface KubeletOptions {
  nodeName: string;
  client: Client;
  /** The shared informer factory; start() asks it for pods with fieldSelector spec.nodeName=<nodeName> and starts it. */
  informers: InformerFactory;
  runtime: ContainerRuntime;
  volumes: VolumeManager;
  /** Builds the probe manager, given the callbacks through which it reports to the pod workers. */
  probes: (events: ProbeManagerEvents) => ProbeManager;
  recorder: EventRecorder;
  clock?: Clock;
  /** Container logs: `<logRoot>/<ns>_<name>_<uid>/<container>/<restartCount>.log` (kubelet: /var/log/pods). */
  logRoot: string;
  /** Per-pod files the agent writes (the managed /etc/hosts): `<podsDir>/<uid>/etc-hosts`. */
  podsDir: string;
  /** The node's addresses, primary first (status.hostIP(s)); default: the first non-loopback IPv4 address, else 127.0.0.1. */
  nodeIPs?: string[] | (() => string[]);
  /** Root of the pod cgroups (default 'skiff-kubepods'). */
  cgroupRoot?: string;
  clusterDomain?: string;
  /**
   * Cluster DNS servers for dnsPolicy ClusterFirst (kubelet's --cluster-dns). Default: none, and ClusterFirst pods fall
   * back to the host's resolver with a MissingClusterDNS warning, as kubelet does without --cluster-dns.
   */
  clusterDNS?: string[];
  /** The host's resolver file, the base of dnsPolicy Default (kubelet's --resolv-conf; default /etc/resolv.conf). */
  resolvConf?: string;
  /** Where ConfigMaps and Secrets for env come from (default: GET through the client). */
  objects?: ObjectSource;
  nodeAllocatable?: { cpu?: string; memory?: string };
  nodeMemoryBytes?: number;
  /** Periodic sync of every pod (default 10 000 ms). */
  resyncIntervalMs?: number;
  /** How often the runtime is listed for changes (default 1 000 ms, kubelet's PLEG relist period). */
  relistIntervalMs?: number;
  /** kubelet_pod_start_duration_seconds and kubelet_running_pods go here (the agent's /metrics). */
  metrics?: KubeletMetrics;
  /**
   * Container log rotation (--container-log-max-size, default 10 MiB; --container-log-max-files, default 5), done by
   * the ContainerLogManager for runtimes with reopenContainerLog (cri); the process runtime rotates as it writes.
   */
  containerLogMaxSizeBytes?: number;
  containerLogMaxFiles?: number;
  /** How often the log manager looks at the running containers' logs (default 10 000 ms). */
  containerLogMonitorIntervalMs?: number;
}

export class Kubelet {
  private readonly o: Required<Pick<KubeletOptions, 'resyncIntervalMs' | 'relistIntervalMs'>> & KubeletOptions;
  private readonly clock: Clock;
  private readonly workers = new Map<string, PodWorker>();
  private readonly ctx: WorkerContext;
  private readonly probes: ProbeManager;
  private informer?: Informer<Pod>;
  /** Every Service of the cluster (kubelet's serviceLister), for the service environment variables. */
  private services?: Informer<Service & KubeObject>;
  private resyncTimer?: { cancel(): void };
  private relistTimer?: { cancel(): void };
  /** Runtime fingerprint per pod uid from the last relist. */
  private lastSeen = new Map<string, string>();
  private relisting = false;
  /** Pod uids the runtime held at start or that had a worker since; set once recover() has listed the runtime. */
  private readonly everSeen = new Set<string>();
  /** When each pod not yet Running was first seen (performance.now()), for kubelet_pod_start_duration_seconds. */
  private readonly firstSeen = new Map<string, number>();
  private recovered = false;
  private logManager?: ContainerLogManager;
  private started = false;
  private stopped = false;

  constructor(options: KubeletOptions) {
    const problems: string[] = [];
    if (!options.nodeName) problems.push('nodeName: Required value');
    if (!options.logRoot) problems.push('logRoot: Required value');
    if (!options.podsDir) problems.push('podsDir: Required value');
    for (const k of ['resyncIntervalMs', 'relistIntervalMs'] as const) {
      const v = options[k];
      if (v !== undefined && !(Number.isFinite(v) && v > 0)) problems.push(`${k}: Invalid value: ${v}: must be a positive number`);
    }
    const logPolicy = validateContainerLogPolicy(options.containerLogMaxSizeBytes ?? DEFAULT_MAX_SIZE_BYTES, options.containerLogMaxFiles ?? DEFAULT_MAX_FILES);
    if (logPolicy) problems.push(`container log policy: ${logPolicy}`);
    if (problems.length) throw new Error(`kubelet: ${problems.join('; ')}`);
    this.o = { resyncIntervalMs: 10_000, relistIntervalMs: 1_000, ...options };
    // kubelet_running_pods: pods with a ready sandbox, as the runtime says at scrape time.
    options.metrics?.countRunningPodsWith(async () => (await options.runtime.listPodSandboxes({ state: 'ready' })).length);
    options.metrics?.countContainersWith(async () => (await options.runtime.listContainers()).map((c) => c.state));
    this.clock = options.clock ?? realClock;
    this.probes = options.probes({
      onFailure: (f) => {
        if (f.type !== 'readiness') this.workers.get(f.podUid)?.probeFailed(f.containerId, f.type);
      },
      onChange: (uid) => this.workers.get(uid)?.trigger(),
      onUnhealthy: (f) => {
        const pod = this.podByUid(f.podUid);
        if (pod) options.recorder.event(pod, 'Warning', 'Unhealthy', f.message);
      },
    });
    const nodeIPs = options.nodeIPs;
    const hostIPs = typeof nodeIPs === 'function' ? nodeIPs : nodeIPs ? () => nodeIPs : defaultNodeIPs();
    const crashBackoff = new Backoff(this.clock);
    const now = () => this.clock.now().getTime();
    this.ctx = {
      nodeName: options.nodeName,
      client: options.client,
      runtime: options.runtime,
      runtimeType: options.runtime.name === 'cri' ? 'containerd' : options.runtime.name,
      volumes: options.volumes,
      probes: this.probes,
      recorder: options.recorder,
      clock: this.clock,
      log,
      logRoot: options.logRoot,
      podsDir: options.podsDir,
      cgroupRoot: options.cgroupRoot ?? 'skiff-kubepods',
      clusterDomain: options.clusterDomain ?? 'cluster.local',
      clusterDNS: options.clusterDNS ?? [],
      hostDNS: async () => {
        try {
          return parseResolvConf(await readFile(options.resolvConf ?? '/etc/resolv.conf', 'utf8'));
        } catch (err) {
          log.warn(`reading the host's resolver configuration: ${(err as Error).message}`, { err });
          return undefined;
        }
      },
      serviceEnv: (namespace, enableServiceLinks) => serviceEnvironment(this.services?.lister.list() ?? [], namespace, enableServiceLinks),
      nodeRef: { apiVersion: 'v1', kind: 'Node', metadata: { name: options.nodeName, uid: options.nodeName } },
      hostIPs,
      objects: options.objects ?? apiObjectSource(options.client),
      ...(options.nodeAllocatable ? { nodeAllocatable: options.nodeAllocatable } : {}),
      ...(options.nodeMemoryBytes ? { nodeMemoryBytes: options.nodeMemoryBytes } : {}),
      crashBackoff,
      images: new ImagePuller(options.runtime, options.recorder, new Backoff(this.clock), now),
      runtimeHandler: (name) => lookupRuntimeHandler(options.client, name),
      forget: (uid) => {
        this.workers.delete(uid);
        this.firstSeen.delete(uid);
        this.lastSeen.delete(uid);
        void this.removeLeftovers(uid);
      },
    };
  }

  /** Recovers what the runtime runs, then follows the node's pods. Resolves once recovery is done and workers run. */
  async start(): Promise<void> {
    if (this.started) throw new Error('kubelet: start() called twice');
    this.started = true;
    this.informer = this.o.informers.informerFor<Pod>(Pods, { fieldSelector: `spec.nodeName=${this.o.nodeName}` });
    this.services = this.o.informers.informerFor<Service & KubeObject>(Services);
    this.o.informers.start();
    // kubelet refuses to build an environment before the Services were listed once; waiting here does the same.
    await Promise.all([this.informer.waitForSync(), this.services.waitForSync()]);
    if (this.stopped) return;
    await this.recover();
    this.informer.addEventHandler({
      add: (p) => this.onPod(p),
      update: (old, p) => this.onPod(p, old),
      delete: (p) => this.onPodDeleted(p),
    });
    this.scheduleResync();
    this.scheduleRelist();
    const runtime = this.o.runtime;
    if (runtime.reopenContainerLog) {
      this.logManager = new ContainerLogManager({
        runtime: { listContainers: (f) => runtime.listContainers(f), reopenContainerLog: (id) => runtime.reopenContainerLog!(id) },
        ...(this.o.containerLogMaxSizeBytes !== undefined ? { maxSizeBytes: this.o.containerLogMaxSizeBytes } : {}),
        ...(this.o.containerLogMaxFiles !== undefined ? { maxFiles: this.o.containerLogMaxFiles } : {}),
        ...(this.o.containerLogMonitorIntervalMs !== undefined ? { monitorIntervalMs: this.o.containerLogMonitorIntervalMs } : {}),
        clock: this.clock,
      });
      this.logManager.start();
    }
    log.info(`kubelet started on node ${this.o.nodeName} with the ${this.o.runtime.name} runtime`);
  }

  /** Stops syncing (containers keep running, as when an agent exits) and waits for syncs in flight. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.resyncTimer?.cancel();
    this.relistTimer?.cancel();
    await this.logManager?.stop();
    const busy = [...this.workers.values()];
    for (const w of busy) w.stop();
    await Promise.all(busy.map((w) => w.idle()));
    this.probes.stop();
  }

  /** Resolves when no pod sync is in flight and none was started meanwhile (tests). */
  async idle(): Promise<void> {
    for (;;) {
      await Promise.all([...this.workers.values()].map((w) => w.idle()));
      await new Promise<void>((r) => setImmediate(r));
      if (![...this.workers.values()].some((w) => w.busy)) return;
    }
  }

  /** Pods with a worker (their uids). */
  get podUids(): string[] {
    return [...this.workers.keys()];
  }

  private podByUid(uid: string): Pod | undefined {
    return this.informer?.lister.list().find((p) => p.metadata.uid === uid);
  }

  private onPod(pod: Pod, old?: Pod): void {
    if (this.stopped || pod.spec?.nodeName !== this.o.nodeName) return;
    const uid = pod.metadata.uid ?? '';
    let w = this.workers.get(uid);
    this.notePodStart(uid, pod, old, !w);
    if (!w) {
      // A uid the runtime had nothing of at start and that had no worker since: the runtime holds nothing of it.
      w = new PodWorker(this.ctx, pod, { runtimeEmpty: this.recovered && !this.everSeen.has(uid) });
      this.everSeen.add(uid);
      this.workers.set(uid, w);
      w.trigger();
      return;
    }
    // Our own status writes come back through the informer: like kubelet's pod config, a change of status alone is
    // no reason to sync (readiness-gate conditions are picked up by the next resync).
    w.update(pod, !old || old.metadata.uid !== pod.metadata.uid || !sameBeyondStatus(old, pod));
  }

  /**
   * kubelet_pod_start_duration_seconds: from the first sight of a pod to the first status that reads Running (as
   * kubelet's syncPod observes it; pods already Running when first seen, e.g. after an agent restart, are not timed).
   */
  private notePodStart(uid: string, pod: Pod, old: Pod | undefined, first: boolean): void {
    const metrics = this.o.metrics;
    if (!metrics) return;
    const running = pod.status?.phase === 'Running';
    if (first) {
      if (!running) this.firstSeen.set(uid, performance.now());
      return;
    }
    const seen = this.firstSeen.get(uid);
    if (seen === undefined || !running || old?.status?.phase === 'Running') return;
    metrics.podStarted(seen);
    this.firstSeen.delete(uid);
  }

  private onPodDeleted(pod: Pod): void {
    if (this.stopped) return;
    const uid = pod.metadata.uid ?? '';
    const w = this.workers.get(uid);
    if (w) {
      w.removed(pod);
      return;
    }
    // Deleted before we ever synced it: whatever runs for it (after a restart) is an orphan.
    void this.removeOrphan(uid).catch((err: Error) => log.warn(`cleaning up deleted pod: ${err.message}`, { key: `${pod.metadata.namespace}/${pod.metadata.name}`, err }));
  }

  /** Everything the runtime and the volumes hold for pods that no longer exist is stopped and removed. */
  private async recover(): Promise<void> {
    const live = new Set(this.informer!.lister.list().map((p) => p.metadata.uid ?? ''));
    const [sandboxes, containers, volumePods] = await Promise.all([this.o.runtime.listPodSandboxes(), this.o.runtime.listContainers(), this.o.volumes.listPods()]);
    const orphans = new Set<string>();
    for (const x of [...sandboxes, ...containers]) {
      const uid = x.labels[POD_UID_LABEL];
      if (uid && !live.has(uid)) orphans.add(uid);
    }
    for (const uid of volumePods) if (!live.has(uid)) orphans.add(uid);
    for (const x of [...sandboxes, ...containers]) {
      const uid = x.labels[POD_UID_LABEL];
      if (uid) this.everSeen.add(uid);
    }
    this.recovered = true;
    const adopted = new Set(sandboxes.map((s) => s.labels[POD_UID_LABEL]).filter((u): u is string => !!u && live.has(u)));
    for (const uid of orphans) {
      try {
        await this.removeOrphan(uid);
      } catch (err) {
        log.warn(`removing orphaned pod ${uid}: ${(err as Error).message}`, { uid, err });
      }
    }
    if (orphans.size || adopted.size) log.info(`recovered: ${adopted.size} pod(s) adopted, ${orphans.size} orphan(s) removed`);
  }

  private async removeOrphan(uid: string): Promise<void> {
    const labels = { [POD_UID_LABEL]: uid };
    const [sandboxes, containers] = await Promise.all([this.o.runtime.listPodSandboxes({ labels }), this.o.runtime.listContainers({ labels })]);
    for (const c of containers) if (c.state === 'running' || c.state === 'unknown') await this.o.runtime.stopContainer(c.id, 0);
    for (const s of sandboxes) {
      await this.o.runtime.stopPodSandbox(s.id);
      await this.o.runtime.removePodSandbox(s.id);
    }
    // Containers of sandboxes already gone.
    for (const c of containers) if (!sandboxes.some((s) => s.id === c.podSandboxId)) await this.o.runtime.removeContainer(c.id);
    await this.o.volumes.tearDownPod(uid);
    await this.removeLeftovers(uid);
  }

  /** The pod cgroup and log directory of a pod that is gone (its containers and sandboxes are removed already). */
  private async removeLeftovers(uid: string): Promise<void> {
    try {
      const busy = removePodCgroups(this.ctx.cgroupRoot, uid);
      if (busy.length) log.warn(`the cgroup of deleted pod ${uid} still holds processes; left in place`, { uid, cgroups: busy });
      await removePodLogDirectory(this.o.logRoot, uid);
    } catch (err) {
      log.warn(`removing what deleted pod ${uid} left on the node: ${(err as Error).message}`, { uid, err });
    }
  }

  private scheduleResync(): void {
    if (this.stopped) return;
    this.resyncTimer = this.clock.setTimeout(() => {
      for (const w of this.workers.values()) w.trigger();
      this.scheduleResync();
    }, this.o.resyncIntervalMs);
  }

  private scheduleRelist(): void {
    if (this.stopped) return;
    this.relistTimer = this.clock.setTimeout(() => {
      void this.relist().finally(() => this.scheduleRelist());
    }, this.o.relistIntervalMs);
  }

  /** kubelet's generic PLEG: list the runtime, sync the pods whose sandboxes or containers changed state. */
  async relist(): Promise<void> {
    if (this.relisting || this.stopped) return;
    this.relisting = true;
    try {
      // The list answers are enough to see what changed (under CRI, full statuses cost a call per sandbox and container).
      const objects = this.o.runtime.listStates
        ? await this.o.runtime.listStates()
        : (await Promise.all([this.o.runtime.listPodSandboxes(), this.o.runtime.listContainers()])).flat();
      const prints = new Map<string, string[]>();
      for (const x of objects) {
        const uid = x.labels[POD_UID_LABEL];
        if (uid) (prints.get(uid) ?? prints.set(uid, []).get(uid)!).push(`${x.id}:${x.state}`);
      }
      const next = new Map<string, string>();
      for (const [uid, parts] of prints) next.set(uid, parts.sort().join(','));
      for (const uid of new Set([...next.keys(), ...this.lastSeen.keys()])) {
        if (next.get(uid) !== this.lastSeen.get(uid)) this.workers.get(uid)?.trigger();
      }
      this.lastSeen = next;
    } catch (err) {
      log.warn(`listing the runtime failed: ${(err as Error).message}`, { err });
    } finally {
      this.relisting = false;
    }
  }
}

/** Equal but for status, resourceVersion and managedFields (kubelet's podsDifferSemantically, inverted). */
function sameBeyondStatus(a: Pod, b: Pod): boolean {
  const strip = (p: Pod) => JSON.stringify({ ...p, status: undefined, metadata: { ...p.metadata, resourceVersion: undefined, managedFields: undefined } });
  return strip(a) === strip(b);
}

/** ConfigMaps and Secrets read through the API (the node's identity may read those its pods reference). */
export function apiObjectSource(client: Client): ObjectSource {
  const get = async <T extends KubeObject>(rt: typeof ConfigMaps, ns: string, name: string): Promise<T | undefined> => {
    try {
      return await client.get<T>(rt, ns, name);
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw err;
    }
  };
  return {
    getConfigMap: (ns, name) => get<ConfigMap & KubeObject>(ConfigMaps, ns, name),
    getSecret: (ns, name) => get<Secret & KubeObject>(Secrets, ns, name),
  };
}

function defaultNodeIPs(): () => string[] {
  const ips: string[] = [];
  for (const list of Object.values(networkInterfaces())) {
    for (const a of list ?? []) if (a.family === 'IPv4' && !a.internal) ips.push(a.address);
  }
  const chosen = ips.length ? [ips[0]!] : ['127.0.0.1'];
  return () => chosen;
}

const RuntimeClasses: ResourceType = { group: 'node.k8s.io', version: 'v1', resource: 'runtimeclasses', kind: 'RuntimeClass', namespaced: false };

/**
 * kubelet's runtimeclass Manager.LookupRuntimeHandler: no class is the runtime's default handler (''); a class's
 * `handler` otherwise. Read when a sandbox is made (a GET; the Node authorizer lets nodes read RuntimeClasses) instead
 * of kubelet's informer: few pods name a class, and a node need not hold every class in memory for them.
 */
export async function lookupRuntimeHandler(client: Client, name: string | undefined): Promise<string> {
  if (!name) return '';
  try {
    const rc = await client.get<KubeObject & { handler?: string }>(RuntimeClasses, '', name);
    return rc.handler ?? '';
  } catch (err) {
    if (isNotFound(err)) throw new Error(`runtimeclass.node.k8s.io ${JSON.stringify(name)} not found`);
    throw new Error(`failed to lookup RuntimeClass ${name}: ${(err as Error).message}`);
  }
}
