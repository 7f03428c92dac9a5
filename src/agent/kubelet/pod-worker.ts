/**
 * One pod's worker: every sync of the pod runs here, one at a time (kubelet's podWorkers goroutine per pod). A sync
 * reads what the runtime runs for the pod, plans with computePodActions, carries the plan out (sandbox, image pulls,
 * containers, kills), then computes the status and writes it if it changed. A pod with a deletionTimestamp is
 * terminated instead (preStop, stop with the grace period, sandbox stop and removal, volume teardown, final status,
 * DELETE with grace 0 and a uid precondition, as kubelet's status manager does once everything is stopped).
 */
import { access, mkdir, rm, writeFile } from 'node:fs/promises';
import { isAbsolute, join } from 'node:path';
import type { Container, ContainerStatus as ApiContainerStatus, EphemeralContainer, PodStatus } from 'kubernetes-types/core/v1.js';
import { isPodTerminal, podKey } from '../../api/pod.js';
import { isNotFound, isConflict } from '../../api/status.js';
import { parseTime } from '../../api/time.js';
import { Pods } from '../../client/resources.js';
import type { Client, Clock, EventRecorder } from '../../client/types.js';
import type { Logger } from '../../log/logger.js';
import { FAILED_POST_START_HOOK_EVENT, FAILED_PRE_STOP_HOOK_EVENT, LIFECYCLE_HTTP_FALLBACK_REASON, LifecycleHandlerRunner } from '../lifecycle/lifecycle-handler-runner.js';
import type { ProbeManager } from '../probes/types.js';
import { isRuntimeError, POD_UID_LABEL, type ContainerRuntime, type ContainerStatus, type DnsConfig, type PodSandboxConfig } from '../runtime/types.js';
import { VolumeError, type PodVolume, type VolumeManager } from '../volumes/types.js';
import type { Backoff } from './backoff.js';
import { backoffKey, computePodActions, formatPod, type PodActions } from './compute-pod-actions.js';
import {
  containerConfig,
  ContainerConfigError,
  effectiveDnsPolicy,
  makeEnvironment,
  MISSING_CLUSTER_DNS_MESSAGE,
  managedHostsFileContent,
  podHostnameAndDomain,
  podSandboxConfig,
  type ObjectSource,
} from './container-config.js';
import { ImagePullError, type ImagePuller } from './image-puller.js';
import type { Pod } from './objects.js';
import { containerNameOf, emptyRuntimePodStatus, findContainerByName, restartCountOf, runtimePodStatus, type RuntimePodStatus } from './runtime-pod-status.js';
import { computePodStatus, podIPsOf, type WaitingReason } from './status.js';
import { rotatedFiles } from '../logs/container-log-writer.js';
import { prepareTerminationMessageFile, readTerminationMessage, removeTerminationMessageFile, TERMINATION_MESSAGE_HOST_PATH_ANNOTATION, withTerminationMessage } from './termination-message.js';

/** What every worker shares: the kubelet's collaborators and settings. */
export interface WorkerContext {
  nodeName: string;
  client: Client;
  runtime: ContainerRuntime;
  /** containerID prefix: `containerd`, `process`. */
  runtimeType: string;
  volumes: VolumeManager;
  probes: ProbeManager;
  recorder: EventRecorder;
  clock: Clock;
  log: Logger;
  logRoot: string;
  podsDir: string;
  cgroupRoot: string;
  clusterDomain: string;
  clusterDNS: string[];
  /** The node's resolver (its /etc/resolv.conf), for dnsPolicy Default pods that add spec.dnsConfig. */
  hostDNS: () => Promise<DnsConfig | undefined>;
  /** Service environment variables for a pod (service-env.ts), from the Services informer. */
  serviceEnv: (namespace: string, enableServiceLinks: boolean) => ReadonlyMap<string, string>;
  /** The Node as events name it (kubelet's nodeRef: kind Node, name and uid the node's name). */
  nodeRef: { apiVersion: string; kind: string; metadata: { name: string; uid: string } };
  hostIPs: () => string[];
  objects: ObjectSource;
  nodeAllocatable?: { cpu?: string; memory?: string };
  nodeMemoryBytes?: number;
  crashBackoff: Backoff;
  images: ImagePuller;
  /** The worker is done with a pod that is gone (removed from the API, or deleted by us): forget it. */
  forget(uid: string): void;
  /**
   * The CRI handler of a RuntimeClass ('' for none: the runtime's default), kubelet's LookupRuntimeHandler; rejects with
   * `runtimeclass.node.k8s.io "x" not found` for a class that does not exist.
   */
  runtimeHandler(runtimeClassName: string | undefined): Promise<string>;
}

const RETRY_MIN_MS = 1000;
const RETRY_MAX_MS = 30_000;
/** kubelet's minimumGracePeriodInSeconds: containers always get a short window to shut down. */
const MIN_GRACE_SECONDS = 2;

type Lifecycle = 'running' | 'terminated' | 'removed';

export class PodWorker {
  private pod: Pod;
  private readonly uid: string;
  private readonly key: string;
  private busy_: Promise<void> | undefined;
  private again = false;
  private stopped = false;
  /** Pod removed from the API (informer delete): stop everything, never write. */
  private gone = false;
  private lifecycle: Lifecycle = 'running';
  /** Why containers wait (kubelet's reasonCache). */
  private readonly waiting = new Map<string, WaitingReason>();
  /** Liveness/startup failures not yet acted upon, by container id. */
  private readonly probeFailures = new Map<string, 'liveness' | 'startup'>();
  /** Containers the probe manager has been told about (container id). */
  private readonly announced = new Set<string>();
  /** The status last written (or found in the API), the "old status" of the next computation. */
  private lastStatus: PodStatus | undefined;
  private lastWritten = '';
  private wakeTimer: { cancel(): void } | undefined;
  private failures = 0;
  private volumeFailures = 0;
  private reportedNetwork = new Set<string>();
  /** Termination messages of exited containers, by container id (an exited container's file no longer changes). */
  private terminationMessages = new Map<string, string>();

  /**
   * True until the first sync when the runtime cannot hold anything of this pod yet (its uid was not in the runtime at
   * the kubelet's start and had no worker since): that sync skips listing the runtime, a round trip off every new
   * pod's start.
   */
  private knownEmpty: boolean;

  constructor(
    private readonly ctx: WorkerContext,
    pod: Pod,
    options: { runtimeEmpty?: boolean } = {},
  ) {
    this.knownEmpty = options.runtimeEmpty ?? false;
    this.pod = pod;
    this.uid = pod.metadata.uid ?? '';
    this.key = podKey(pod);
    this.lastStatus = pod.status;
  }

  /** A newer version of the pod from the informer; `sync` false when only its status changed. */
  update(pod: Pod, sync = true): void {
    this.pod = pod;
    if (sync) this.trigger();
  }

  /** The pod is gone from the API: stop what runs and clean up. */
  removed(pod: Pod): void {
    this.pod = pod;
    this.gone = true;
    this.trigger();
  }

  probeFailed(containerId: string, type: 'liveness' | 'startup'): void {
    this.probeFailures.set(containerId, type);
    this.trigger();
  }

  /** Runs a sync now, or right after the one in flight (never two at once). */
  trigger(): void {
    if (this.stopped) return;
    if (this.busy_) {
      this.again = true;
      return;
    }
    this.busy_ = this.loop().finally(() => {
      this.busy_ = undefined;
    });
  }

  get busy(): boolean {
    return this.busy_ !== undefined;
  }

  /** Resolves when no sync is in flight. */
  /** Phases of the current sync, for the debug line a pod start logs (where its start latency went). */
  private marks: Array<[string, number]> = [];

  private mark(phase: string): void {
    this.marks.push([phase, performance.now()]);
  }

  /** `{phase: ms}` from one mark to the next, and the total. */
  private phaseDurations(): Record<string, number> {
    const out: Record<string, number> = {};
    for (let i = 1; i < this.marks.length; i++) {
      const [phase, at] = this.marks[i]!;
      out[phase] = (out[phase] ?? 0) + Math.round((at - this.marks[i - 1]![1]) * 10) / 10;
    }
    out.total = Math.round((this.marks[this.marks.length - 1]![1] - this.marks[0]![1]) * 10) / 10;
    return out;
  }

  async idle(): Promise<void> {
    while (this.busy_) await this.busy_;
  }

  stop(): void {
    this.stopped = true;
    this.wakeTimer?.cancel();
  }

  private async loop(): Promise<void> {
    do {
      this.again = false;
      this.wakeTimer?.cancel();
      this.wakeTimer = undefined;
      let wakeInMs: number | undefined;
      try {
        wakeInMs = await this.syncOnce();
        this.failures = 0;
      } catch (err) {
        wakeInMs = Math.min(RETRY_MIN_MS * 2 ** this.failures, RETRY_MAX_MS);
        this.failures++;
        this.ctx.log.warn(`sync failed, retrying in ${wakeInMs}ms: ${(err as Error).message}`, { key: this.key, err });
      }
      if (wakeInMs !== undefined && !this.stopped && this.lifecycle !== 'removed') {
        this.wakeTimer = this.ctx.clock.setTimeout(() => this.trigger(), Math.max(0, wakeInMs));
      }
    } while (this.again && !this.stopped);
  }

  /** One sync; returns when to look again (ms), if sooner than the resync. */
  private async syncOnce(): Promise<number | undefined> {
    if (this.lifecycle === 'removed') return undefined;
    const pod = this.pod;
    if (this.gone) {
      this.knownEmpty = false;
      await this.terminate(pod, false);
      return undefined;
    }
    if (pod.metadata.deletionTimestamp) {
      this.knownEmpty = false;
      await this.terminate(pod, true);
      return undefined;
    }
    if (isPodTerminal(pod) || this.lifecycle === 'terminated') {
      this.knownEmpty = false;
      await this.syncTerminal(pod);
      return undefined;
    }
    const runtimeEmpty = this.knownEmpty;
    this.knownEmpty = false;
    return this.syncPod(pod, runtimeEmpty);
  }

  private async runtimeStatus(): Promise<RuntimePodStatus> {
    const labels = { [POD_UID_LABEL]: this.uid };
    const [sandboxes, containers] = await Promise.all([this.ctx.runtime.listPodSandboxes({ labels }), this.ctx.runtime.listContainers({ labels })]);
    return runtimePodStatus(sandboxes, containers);
  }

  private now(): number {
    return this.ctx.clock.now().getTime();
  }

  private async syncPod(pod: Pod, runtimeEmpty = false): Promise<number | undefined> {
    this.marks = [['sync', performance.now()]];
    let runtime = runtimeEmpty ? emptyRuntimePodStatus() : await this.runtimeStatus();
    this.mark('runtime status');
    this.announceRunning(runtime);

    const deadline = pod.spec?.activeDeadlineSeconds;
    const startTime = parseTime(this.lastStatus?.startTime ?? pod.status?.startTime);
    if (deadline !== undefined && startTime !== undefined && this.now() - startTime >= deadline * 1000) {
      this.ctx.recorder.event(pod, 'Normal', 'DeadlineExceeded', 'Pod was active on the node longer than the specified deadline');
      await this.killPod(pod, runtime, pod.spec?.terminationGracePeriodSeconds ?? 30);
      runtime = await this.runtimeStatus();
      await this.writeStatus(pod, runtime, { phase: 'Failed', reason: 'DeadlineExceeded', message: 'Pod was active on the node longer than the specified deadline' });
      this.lifecycle = 'terminated';
      await this.cleanUpTerminal();
      return undefined;
    }

    let volumes: Map<string, PodVolume>;
    try {
      volumes = await this.ctx.volumes.setUpPod(pod);
    } catch (err) {
      if (!(err instanceof VolumeError)) throw err;
      // The volume manager words the whole message (`MountVolume.SetUp failed for volume "x" : ...`), as kubelet's does.
      this.ctx.recorder.event(pod, 'Warning', 'FailedMount', err.message);
      await this.writeStatus(pod, runtime);
      return Math.min(RETRY_MIN_MS * 2 ** this.volumeFailures++, RETRY_MAX_MS);
    }
    this.volumeFailures = 0;
    this.mark('volumes');
    this.ctx.probes.addPod(pod);

    const actions = computePodActions({
      pod,
      runtime,
      backoff: this.ctx.crashBackoff,
      probeFailures: this.probeFailures,
      isStarted: (name) => this.ctx.probes.isStarted(this.uid, name),
    });
    const startedBefore = new Set(this.announced);
    const wake = await this.execute(pod, runtime, actions, volumes);
    runtime = await this.runtimeStatus();
    this.mark('runtime status');
    await this.writeStatus(pod, runtime);
    this.mark('status written');
    // `at` (epoch ms of the sync's start) lets bench/pod-start --profile line the phases up with its own watch.
    if (actions.createSandbox) this.ctx.log.debug('pod started: ms per phase', { key: this.key, at: Math.round(Date.now() - (performance.now() - (this.marks[0]?.[1] ?? performance.now()))), phases: this.phaseDurations() });
    // A container we just started already exited (an init container that finished at once): go on at once instead of
    // waiting for the relist, so init containers follow each other without a second's pause.
    if (runtime.containers.some((c) => c.state === 'exited' && this.announced.has(c.id) && !startedBefore.has(c.id))) this.again = true;
    if (actions.killPod && !actions.createSandbox) {
      // Nothing runs any more and nothing will (restartPolicy Never/OnFailure pods that finished).
      this.lifecycle = 'terminated';
      await this.cleanUpTerminal();
    }
    return wake;
  }

  /** Carries out the plan (kubeGenericRuntimeManager.SyncPod); returns when to look again for back-offs. */
  private async execute(pod: Pod, runtime: RuntimePodStatus, actions: PodActions, volumes: Map<string, PodVolume>): Promise<number | undefined> {
    const grace = pod.spec?.terminationGracePeriodSeconds ?? 30;
    let wake: number | undefined;
    const wakeIn = (ms: number) => {
      if (ms > 0) wake = wake === undefined ? ms : Math.min(wake, ms);
    };

    if (actions.killPod) {
      if (actions.createSandbox && actions.sandboxId) this.ctx.recorder.event(pod, 'Normal', 'SandboxChanged', 'Pod sandbox changed, it will be killed and re-created.');
      await this.killPod(pod, runtime, grace);
    } else {
      for (const k of actions.containersToKill) {
        const spec = allContainers(pod).find((c) => c.name === k.name);
        const probeGrace = k.reason === 'LivenessProbe' ? spec?.livenessProbe?.terminationGracePeriodSeconds : k.reason === 'StartupProbe' ? spec?.startupProbe?.terminationGracePeriodSeconds : undefined;
        await this.killContainer(pod, k.id, k.name, probeGrace ?? grace, k.message);
        this.probeFailures.delete(k.id);
      }
    }
    if (
      !actions.createSandbox &&
      actions.initContainersToStart.length === 0 &&
      actions.containersToStart.length === 0 &&
      actions.ephemeralContainersToStart.length === 0 &&
      actions.backOff.length === 0
    ) {
      return undefined;
    }

    let sandboxId = actions.sandboxId;
    const dnsPolicy = effectiveDnsPolicy(pod, this.ctx.clusterDNS);
    const hostDNS = dnsPolicy.policy === 'Default' && pod.spec?.dnsConfig ? await this.ctx.hostDNS() : undefined;
    let sandboxConfig: PodSandboxConfig = podSandboxConfig(pod, {
      attempt: actions.attempt,
      logRoot: this.ctx.logRoot,
      cgroupRoot: this.ctx.cgroupRoot,
      clusterDomain: this.ctx.clusterDomain,
      clusterDNS: this.ctx.clusterDNS,
      ...(hostDNS ? { hostDNS } : {}),
    });
    if (actions.createSandbox) {
      if (dnsPolicy.missingClusterDNS) {
        // GetPodDNS, on every sandbox it configures: one event on the node, one on the pod.
        this.ctx.recorder.event(this.ctx.nodeRef, 'Warning', 'MissingClusterDNS', MISSING_CLUSTER_DNS_MESSAGE);
        this.ctx.recorder.event(pod, 'Warning', 'MissingClusterDNS', `pod: "${formatPod(pod)}". ${MISSING_CLUSTER_DNS_MESSAGE}`);
      }
      try {
        // kubelet's createPodSandbox: the RuntimeClass's handler (runtimeclass manager) rides on RunPodSandbox.
        const runtimeHandler = await this.ctx.runtimeHandler(pod.spec?.runtimeClassName);
        if (runtimeHandler) sandboxConfig = { ...sandboxConfig, runtimeHandler };
        sandboxId = await this.ctx.runtime.runPodSandbox(sandboxConfig);
      } catch (err) {
        this.ctx.recorder.event(pod, 'Warning', 'FailedCreatePodSandBox', `Failed to create pod sandbox: ${(err as Error).message}`);
        // The pod still reports: containers ContainerCreating, PodReadyToStartContainers False (kubelet's status
        // manager writes it whatever SyncPod returned).
        await this.writeStatus(pod, runtime).catch((e: unknown) => this.ctx.log.warn('writing the status after a failed sandbox creation', { key: this.key, err: e }));
        throw err;
      }
    } else {
      const current = runtime.sandboxes.find((s) => s.id === sandboxId);
      sandboxConfig = { ...sandboxConfig, metadata: { ...sandboxConfig.metadata, attempt: current?.metadata.attempt ?? actions.attempt } };
    }
    if (actions.createSandbox) this.mark('sandbox');
    const sandbox = await this.ctx.runtime.podSandboxStatus(sandboxId);
    if (actions.createSandbox && sandbox?.networkMessage && !this.reportedNetwork.has(sandboxId)) {
      this.reportedNetwork.add(sandboxId);
      this.ctx.recorder.event(pod, 'Warning', 'HostNetworkFallback', sandbox.networkMessage);
    }
    const podIPs = podIPsOf(pod, { sandboxes: sandbox ? [sandbox] : [], containers: [] }, this.ctx.hostIPs());
    const hostsFile = await this.writeHostsFile(pod, podIPs);

    for (const b of actions.backOff) {
      this.ctx.recorder.event(pod, 'Warning', 'BackOff', `Back-off restarting failed container ${b.name} in pod ${formatPod(pod)}`);
      this.waiting.set(b.name, { reason: 'CrashLoopBackOff', message: b.message });
      wakeIn(b.remainingMs);
    }

    const start = async (container: Container, type: ContainerType): Promise<boolean> => {
      try {
        await this.startContainer(pod, container, type, runtime, sandboxId, sandboxConfig, volumes, podIPs, hostsFile);
        this.waiting.delete(container.name);
        return true;
      } catch (err) {
        if (err instanceof ImagePullError) {
          this.waiting.set(container.name, { reason: err.reason, message: err.message });
          wakeIn(err.retryInMs || RETRY_MIN_MS);
        } else if (err instanceof ContainerConfigError) {
          this.waiting.set(container.name, { reason: 'CreateContainerConfigError', message: err.message });
          this.ctx.recorder.event(pod, 'Warning', 'Failed', `Error: ${err.message}`);
          wakeIn(RETRY_MAX_MS / 3);
        } else if (err instanceof StartFailure) {
          this.waiting.set(container.name, { reason: err.reason, message: err.message });
          this.ctx.recorder.event(pod, 'Warning', 'Failed', `Error: ${err.message}`);
          wakeIn(RETRY_MIN_MS);
        } else {
          throw err;
        }
        return false;
      }
    };
    // Ephemeral containers first, so a debugging container starts even when an init container cannot (SyncPod step 5).
    for (const i of actions.ephemeralContainersToStart) await start(ephemeralAsContainer(pod.spec!.ephemeralContainers![i]!), 'ephemeral');
    for (const i of actions.initContainersToStart) {
      const c = pod.spec!.initContainers![i]!;
      // A regular init container that failed to start blocks the next ones; a sidecar does not.
      if (!(await start(c, 'init')) && c.restartPolicy !== 'Always') return wake;
    }
    for (const i of actions.containersToStart) await start(pod.spec!.containers[i]!, 'regular');
    return wake;
  }

  private async startContainer(
    pod: Pod,
    container: Container,
    type: ContainerType,
    runtime: RuntimePodStatus,
    sandboxId: string,
    sandboxConfig: PodSandboxConfig,
    volumes: Map<string, PodVolume>,
    podIPs: string[],
    hostsFile: string | undefined,
  ): Promise<void> {
    const previous = findContainerByName(runtime, container.name);
    // The back-off counts from this restart (kubelet's doBackOff calls backOff.Next when it lets a container start).
    const lastExit = runtime.containers.find((c) => c.state === 'exited' && containerNameOf(c) === container.name);
    if (lastExit) this.ctx.crashBackoff.next(backoffKey(pod, container), lastExit.finishedAt);

    await this.ctx.images.ensureImage(pod, container);
    const restartCount = previous ? restartCountOf(previous) + 1 : this.restartCountFromStatus(container.name, type);
    // kubectl debug --target: the ephemeral container joins the running target's pid namespace (kubelet's getTargetID,
    // NamespaceMode TARGET); a target that does not run is a CreateContainerConfigError with kubelet's words.
    const targetName = type === 'ephemeral' ? pod.spec?.ephemeralContainers?.find((c) => c.name === container.name)?.targetContainerName : undefined;
    const target = targetName ? findContainerByName(runtime, targetName) : undefined;
    if (targetName && target?.state !== 'running') throw new ContainerConfigError(`unable to find target container ${targetName}`);
    const env = await makeEnvironment(pod, container, {
      podIPs,
      hostIPs: this.ctx.hostIPs(),
      source: this.ctx.objects,
      ...(this.ctx.nodeAllocatable ? { nodeAllocatable: this.ctx.nodeAllocatable } : {}),
      warn: (reason, message) => this.ctx.recorder.event(pod, 'Warning', reason, message),
      // The API defaults enableServiceLinks to true; kubelet refuses a nil, skiff reads it as the default.
      serviceEnv: this.ctx.serviceEnv(pod.metadata.namespace ?? '', pod.spec?.enableServiceLinks ?? true),
    });
    const config = containerConfig(pod, container, {
      restartCount,
      env,
      volumes,
      runtimeImages: this.ctx.runtime.capabilities.images,
      runtimeName: this.ctx.runtime.name,
      ...(hostsFile ? { hostsFile } : {}),
      isInit: type === 'init',
      isEphemeral: type === 'ephemeral',
      ...(target ? { pidTargetContainerId: target.id } : {}),
      ...(this.ctx.nodeMemoryBytes ? { nodeMemoryBytes: this.ctx.nodeMemoryBytes } : {}),
    });
    // The file behind terminationMessagePath, made for this instance once the config is known to be valid.
    if (!config.mounts.some((m) => m.containerPath === (container.terminationMessagePath ?? '/dev/termination-log'))) {
      const termination = await prepareTerminationMessageFile(this.ctx.podsDir, this.uid, container);
      if (termination) {
        config.mounts.push(termination.mount);
        Object.assign(config.annotations, termination.annotations);
      }
    }
    this.mark(`${container.name}: config`);
    let id: string;
    try {
      id = await this.ctx.runtime.createContainer(sandboxId, config, sandboxConfig);
    } catch (err) {
      // A container that was never created leaves no termination message file behind (retries would pile them up).
      const file = config.annotations[TERMINATION_MESSAGE_HOST_PATH_ANNOTATION];
      if (file) await rm(file, { force: true });
      if (isRuntimeError(err, 'CreateContainerConfig')) throw new ContainerConfigError(err.message);
      if (isRuntimeError(err)) throw new StartFailure('CreateContainerError', err.message);
      throw err;
    }
    this.mark(`${container.name}: create`);
    this.ctx.recorder.event(pod, 'Normal', 'Created', `Created container: ${container.name}`);
    try {
      await this.ctx.runtime.startContainer(id);
    } catch (err) {
      if (isRuntimeError(err)) throw new StartFailure('RunContainerError', `failed to start container "${id}": ${err.message}`);
      throw err;
    }
    this.mark(`${container.name}: start`);
    this.ctx.recorder.event(pod, 'Normal', 'Started', `Started container ${container.name}`);
    this.announced.add(id);
    await this.removeDeadInstances(runtime, container.name, restartCount);
    if (type !== 'ephemeral') this.ctx.probes.containerStarted(this.uid, container.name, id, this.now(), podIPs[0]);
    if (container.lifecycle?.postStart) {
      // kuberuntime startContainer: the hook runs before the container counts as started; a failure kills it.
      const outcome = await this.hooks().runPostStart({ pod, container, containerId: id, podIp: podIPs[0] ?? '' });
      if (outcome.fallbackWarning) this.ctx.recorder.event(pod, 'Warning', LIFECYCLE_HTTP_FALLBACK_REASON, outcome.fallbackWarning);
      if (outcome.failure) {
        this.ctx.recorder.event(pod, 'Warning', FAILED_POST_START_HOOK_EVENT.reason, outcome.failure.message);
        await this.killContainer(pod, id, container.name, pod.spec?.terminationGracePeriodSeconds ?? 30, FAILED_POST_START_HOOK_EVENT.message);
        throw new StartFailure(outcome.failure.reason, outcome.failure.message);
      }
    }
  }

  /**
   * Container garbage collection per pod, as kubelet's (MaxPerPodContainer 1): once instance n runs, exited instances
   * older than n-1 go; the one before stays for `kubectl logs --previous` and lastState.
   */
  private async removeDeadInstances(runtime: RuntimePodStatus, name: string, restartCount: number): Promise<void> {
    for (const c of runtime.containers) {
      if (c.state !== 'exited' || containerNameOf(c) !== name || restartCountOf(c) >= restartCount - 1) continue;
      await this.ctx.runtime.removeContainer(c.id).catch((err: Error) => this.ctx.log.warn('cannot remove an old container instance', { pod: podKey(this.pod), container: name, err: err.message }));
      this.terminationMessages.delete(c.id);
      await removeTerminationMessageFile(c).catch((err: Error) => this.ctx.log.warn('cannot remove a termination message file', { pod: podKey(this.pod), container: name, err: err.message }));
      // kubelet's removeContainerLog (logManager.Clean): the instance's log and its rotated files go with it, so a
      // crash loop keeps two instances' logs, not one file per restart until the pod is deleted.
      if (isAbsolute(c.logPath)) {
        for (const f of [c.logPath, ...rotatedFiles(c.logPath)]) await rm(f, { force: true }).catch((err: Error) => this.ctx.log.warn('cannot remove an old container log', { pod: podKey(this.pod), container: name, file: f, err: err.message }));
      }
    }
  }

  private hookRunner?: LifecycleHandlerRunner;

  /** postStart and preStop hooks (agent/lifecycle), exec'd through the runtime. */
  private hooks(): LifecycleHandlerRunner {
    this.hookRunner ??= new LifecycleHandlerRunner({ execSync: (id, cmd, timeoutMs) => this.ctx.runtime.execSync(id, cmd, timeoutMs), clock: this.ctx.clock });
    return this.hookRunner;
  }

  /** A container created anew after its runtime records were lost keeps counting from the reported status. */
  private restartCountFromStatus(name: string, type: ContainerType): number {
    const s0 = this.lastStatus;
    const statuses = (type === 'init' ? s0?.initContainerStatuses : type === 'ephemeral' ? s0?.ephemeralContainerStatuses : s0?.containerStatuses) ?? [];
    const s = statuses.find((x) => x.name === name);
    return s?.containerID ? (s.restartCount ?? 0) + 1 : (s?.restartCount ?? 0);
  }

  /** Tells the probe manager about running containers it has not heard of (adopted after an agent restart). */
  private announceRunning(runtime: RuntimePodStatus): void {
    const ip = podIPsOf(this.pod, runtime, this.ctx.hostIPs())[0];
    const seen = new Set<string>();
    for (const c of runtime.containers) {
      const name = containerNameOf(c);
      if (seen.has(name)) continue;
      seen.add(name);
      if (c.state !== 'running') {
        if (this.announced.delete(c.id)) this.ctx.probes.containerStopped(this.uid, name);
        continue;
      }
      if (this.announced.has(c.id)) continue;
      this.announced.add(c.id);
      this.ctx.probes.containerStarted(this.uid, name, c.id, c.startedAt, ip);
    }
  }

  private async writeHostsFile(pod: Pod, podIPs: string[]): Promise<string | undefined> {
    if (pod.spec?.hostNetwork || podIPs.length === 0) return undefined;
    const { hostname, domain } = podHostnameAndDomain(pod, this.ctx.clusterDomain);
    const dir = join(this.ctx.podsDir, this.uid);
    const file = join(dir, 'etc-hosts');
    await mkdir(dir, { recursive: true });
    await writeFile(file, managedHostsFileContent(podIPs, hostname, domain, pod.spec?.hostAliases ?? []));
    return file;
  }

  /** Stops every running container (in parallel, each with its preStop hook) and every ready sandbox. */
  private async killPod(pod: Pod, runtime: RuntimePodStatus, graceSeconds: number): Promise<void> {
    const running = runtime.containers.filter((c) => c.state === 'running' || c.state === 'unknown');
    await Promise.all(running.map((c) => this.killContainer(pod, c.id, containerNameOf(c), graceSeconds, '')));
    for (const s of runtime.sandboxes) if (s.state === 'ready') await this.ctx.runtime.stopPodSandbox(s.id);
  }

  /** killContainer: Killing event, preStop within the grace period, then stop with what is left (at least 2 s). */
  private async killContainer(pod: Pod, id: string, name: string, graceSeconds: number, message: string): Promise<void> {
    const spec = allContainers(pod).find((c) => c.name === name);
    this.ctx.recorder.event(pod, 'Normal', 'Killing', message || `Stopping container ${name}`);
    let grace = graceSeconds;
    if (spec?.lifecycle?.preStop && grace > 0) {
      const podIp = this.lastStatus?.podIP || this.ctx.hostIPs()[0] || '';
      const outcome = await this.hooks().runPreStop({ pod, container: spec, containerId: id, podIp }, grace * 1000);
      if (outcome.fallbackWarning) this.ctx.recorder.event(pod, 'Warning', LIFECYCLE_HTTP_FALLBACK_REASON, outcome.fallbackWarning);
      if (outcome.error) this.ctx.recorder.event(pod, 'Warning', FAILED_PRE_STOP_HOOK_EVENT.reason, outcome.error);
      grace -= Math.floor(outcome.elapsedMs / 1000);
    }
    if (graceSeconds > 0 && grace < MIN_GRACE_SECONDS) grace = MIN_GRACE_SECONDS;
    await this.ctx.runtime.stopContainer(id, Math.max(0, grace));
    if (this.announced.delete(id)) this.ctx.probes.containerStopped(this.uid, name);
  }

  /**
   * Termination of a deleted pod (syncTerminatingPod + syncTerminatedPod): containers stopped with the pod's grace
   * period, final status written, sandboxes removed, volumes torn down, then the API object deleted for good.
   */
  private async terminate(pod: Pod, deleteObject: boolean): Promise<void> {
    const runtime = await this.runtimeStatus();
    const grace = pod.metadata.deletionGracePeriodSeconds ?? pod.spec?.terminationGracePeriodSeconds ?? 30;
    await this.killPod(pod, runtime, grace);
    if (deleteObject) await this.writeStatus(pod, await this.runtimeStatus(), undefined, true);
    for (const s of runtime.sandboxes) await this.ctx.runtime.removePodSandbox(s.id);
    await this.ctx.volumes.tearDownPod(this.uid);
    this.ctx.probes.removePod(this.uid);
    await rm(join(this.ctx.podsDir, this.uid), { recursive: true, force: true });
    this.ctx.crashBackoff.resetPrefix(`${pod.metadata.name}_${pod.metadata.namespace}_${this.uid}_`);
    if (deleteObject) {
      try {
        await this.ctx.client.delete(Pods, pod.metadata.namespace ?? '', pod.metadata.name ?? '', { gracePeriodSeconds: 0, preconditions: { uid: this.uid } });
      } catch (err) {
        // Gone already, or a new pod took the name (the uid precondition failed): nothing of ours is left.
        if (!isNotFound(err) && !isConflict(err)) throw err;
      }
    }
    this.lifecycle = 'removed';
    this.stop();
    this.ctx.forget(this.uid);
  }

  /** A finished pod (Succeeded/Failed): nothing runs, its containers stay for logs until the pod is deleted. */
  private async syncTerminal(pod: Pod): Promise<void> {
    const runtime = await this.runtimeStatus();
    if (runtime.containers.some((c) => c.state === 'running') || runtime.sandboxes.some((s) => s.state === 'ready')) {
      await this.killPod(pod, runtime, pod.spec?.terminationGracePeriodSeconds ?? 30);
    }
    await this.writeStatus(pod, await this.runtimeStatus());
    if (this.lifecycle !== 'terminated') {
      this.lifecycle = 'terminated';
      await this.cleanUpTerminal();
    }
  }

  private async cleanUpTerminal(): Promise<void> {
    await this.ctx.volumes.tearDownPod(this.uid);
    this.ctx.probes.removePod(this.uid);
  }

  /**
   * Exited containers with their termination message added to the runtime's message (kubelet does it while converting
   * the runtime's statuses). Read once per container instance; when the file is gone (a finished pod's directory is
   * removed with its volumes) the message last reported for that container id stays.
   */
  private async withTerminationMessages(runtime: RuntimePodStatus): Promise<RuntimePodStatus> {
    const present = new Set(runtime.containers.map((c) => c.id));
    for (const id of this.terminationMessages.keys()) if (!present.has(id)) this.terminationMessages.delete(id);
    if (!runtime.containers.some((c) => c.state === 'exited')) return runtime;
    const containers: ContainerStatus[] = [];
    for (const c of runtime.containers) {
      if (c.state !== 'exited') {
        containers.push(c);
        continue;
      }
      let message = this.terminationMessages.get(c.id);
      if (message === undefined) {
        const file = c.annotations[TERMINATION_MESSAGE_HOST_PATH_ANNOTATION];
        message = file && !(await exists(file)) ? reportedMessage(this.lastStatus, this.ctx.runtimeType, c.id) : withTerminationMessage(c.message, await readTerminationMessage(c));
        this.terminationMessages.set(c.id, message);
      }
      containers.push({ ...c, message });
    }
    return { ...runtime, containers };
  }

  /** Computes the status and patches pods/status when it differs from what the API last heard from us. */
  private async writeStatus(pod: Pod, runtime: RuntimePodStatus, override?: { phase: 'Failed'; reason: string; message: string }, podIsTerminal = false): Promise<void> {
    if (this.gone) return;
    runtime = await this.withTerminationMessages(runtime);
    const status = computePodStatus({
      pod,
      ...(this.lastStatus ? { previous: this.lastStatus } : {}),
      runtime,
      runtimeType: this.ctx.runtimeType,
      isReady: (name) => this.ctx.probes.isReady(this.uid, name),
      isStarted: (name) => this.ctx.probes.isStarted(this.uid, name),
      waiting: this.waiting,
      hostIPs: this.ctx.hostIPs(),
      podIsTerminal,
      ...(override ? { override } : {}),
      now: this.now(),
    });
    const body = statusPatch(status);
    const text = JSON.stringify(body);
    if (text === this.lastWritten) return;
    if (!this.lastWritten && pod.status && JSON.stringify(statusPatch(pod.status)) === text) {
      this.lastWritten = text;
      this.lastStatus = status;
      return;
    }
    try {
      await this.ctx.client.patch(Pods, pod.metadata.namespace ?? '', pod.metadata.name ?? '', 'merge', { status: body }, { subresource: 'status' });
      this.lastWritten = text;
      this.lastStatus = status;
    } catch (err) {
      if (isNotFound(err)) return;
      throw err;
    }
  }
}

/** Which list of the pod spec a container comes from. */
type ContainerType = 'init' | 'regular' | 'ephemeral';

/** An ephemeral container as the runtime config sees it (EphemeralContainerCommon is a Container's fields). */
function ephemeralAsContainer(c: EphemeralContainer): Container {
  const { targetContainerName: _target, ...common } = c;
  return common as Container;
}

/** The status fields kubelet owns, with null for absent ones so a merge patch clears them. */
function statusPatch(status: PodStatus): Record<string, unknown> {
  const owned = ['phase', 'conditions', 'message', 'reason', 'hostIP', 'hostIPs', 'podIP', 'podIPs', 'startTime', 'initContainerStatuses', 'containerStatuses', 'ephemeralContainerStatuses', 'qosClass'];
  const out: Record<string, unknown> = {};
  for (const k of owned) out[k] = (status as Record<string, unknown>)[k] ?? null;
  return out;
}

function allContainers(pod: Pod): Container[] {
  return [...(pod.spec?.initContainers ?? []), ...(pod.spec?.containers ?? []), ...(pod.spec?.ephemeralContainers ?? []).map(ephemeralAsContainer)];
}

async function exists(path: string): Promise<boolean> {
  try {
    await access(path);
    return true;
  } catch {
    return false;
  }
}

/** The terminated message the API last heard for a container id (state or lastState, any list), else ''. */
function reportedMessage(status: PodStatus | undefined, runtimeType: string, id: string): string {
  const containerID = `${runtimeType}://${id}`;
  const all: ApiContainerStatus[] = [...(status?.initContainerStatuses ?? []), ...(status?.containerStatuses ?? []), ...(status?.ephemeralContainerStatuses ?? [])];
  for (const s of all) {
    for (const t of [s.state?.terminated, s.lastState?.terminated]) if (t?.containerID === containerID) return t.message ?? '';
  }
  return '';
}

/** A container that could not be created or started: its waiting reason and message. */
class StartFailure extends Error {
  constructor(
    readonly reason: 'CreateContainerError' | 'RunContainerError' | 'PostStartHookError',
    message: string,
  ) {
    super(message);
  }
}
