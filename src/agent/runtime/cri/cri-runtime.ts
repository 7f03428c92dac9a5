/**
 * CriRuntime: the ContainerRuntime of runtime/types.ts over a CRI v1 runtime (containerd; CRI-O speaks the same API).
 * Each method is one RPC (two for the list calls, which answer with full statuses), translated field by field; the
 * semantics are the runtime's, as kubelet's kuberuntime would see them. Streams (exec, attach, port-forward) go through
 * the runtime's streaming server (stream-client.ts).
 */
import * as grpc from '@grpc/grpc-js';
import type { Duplex } from 'node:stream';
import { createLogger } from '../../../log/logger.js';
import {
  RuntimeError,
  type AuthConfig,
  type ContainerConfig,
  type ContainerFilter,
  type ContainerRuntime,
  type ContainerState,
  type ContainerStats,
  type ContainerStatus,
  type CpuUsage,
  type ExecSyncResult,
  type Image,
  type ImageSpec,
  type LinuxResources,
  type MemoryUsage,
  type PodSandboxConfig,
  type PodSandboxStats,
  type PodSandboxStatus,
  type RuntimeCapabilities,
  type RuntimeCondition,
  type RuntimeErrorCode,
  type RuntimeObjectState,
  type RuntimeVersion,
  type SandboxFilter,
  type StreamOptions,
  type StreamSession,
} from '../types.js';
import { ContainerStateCode, MountPropagation, NamespaceMode, PodSandboxState, Protocol } from './cri-api.js';
import { CriCallError, CriClient } from './cri-client.js';
import { openSpdyPortForward, openSpdyRemoteCommand } from './spdy-stream-client.js';
import { openPortForward, openRemoteCommand } from './stream-client.js';

const log = createLogger('cri-runtime');

export interface CriRuntimeOptions {
  /** unix:///path/to/containerd.sock or the bare path. */
  endpoint: string;
  /** Credentials for pulls that come without their own (registries.yaml `configs`), by image reference. */
  authFor?: (image: string) => AuthConfig | undefined;
  /** Deadline of ordinary calls; pulls have none. */
  timeoutMs?: number;
  /** RuntimeClass handler for sandboxes ('' = containerd's default_runtime_name). */
  runtimeHandler?: string;
  /**
   * How exec/attach/port-forward reach the streaming server: SPDY (default; what kubectl and the API server use with
   * kubelet, with half-close, so stdin EOF works) or WebSocket (no stdin EOF before v5.channel.k8s.io).
   */
  streamProtocol?: 'spdy' | 'websocket';
}

/* ---------- wire shapes (the subset of cri-api.ts this file reads) ---------- */

interface CriMetadata {
  name: string;
  uid: string;
  namespace: string;
  attempt: number;
}
interface CriSandboxStatus {
  id: string;
  metadata: CriMetadata | null;
  state: number;
  createdAt: number;
  network: { ip: string; additionalIps: Array<{ ip: string }> } | null;
  linux: { namespaces: { options: { network: number } | null } | null } | null;
  labels: Record<string, string>;
  annotations: Record<string, string>;
}
interface CriContainerStatus {
  id: string;
  metadata: { name: string; attempt: number } | null;
  state: number;
  createdAt: number;
  startedAt: number;
  finishedAt: number;
  exitCode: number;
  image: { image: string } | null;
  imageRef: string;
  reason: string;
  message: string;
  labels: Record<string, string>;
  annotations: Record<string, string>;
  logPath: string;
}
interface CriImage {
  id: string;
  repoTags: string[];
  repoDigests: string[];
  size: number;
}
interface Wrapped {
  value: number;
}
interface CriCpu {
  timestamp: number;
  usageCoreNanoSeconds: Wrapped | null;
}
interface CriMemory {
  timestamp: number;
  workingSetBytes: Wrapped | null;
  usageBytes: Wrapped | null;
  rssBytes: Wrapped | null;
  pageFaults: Wrapped | null;
  majorPageFaults: Wrapped | null;
}
interface CriContainerStats {
  attributes: { id: string } | null;
  cpu: CriCpu | null;
  memory: CriMemory | null;
  writableLayer: { usedBytes: Wrapped | null } | null;
}

const nsToMs = (ns: number): number => (ns > 0 ? Math.floor(ns / 1e6) : 0);

const CONTAINER_STATES: Record<number, ContainerState> = {
  [ContainerStateCode.CREATED]: 'created',
  [ContainerStateCode.RUNNING]: 'running',
  [ContainerStateCode.EXITED]: 'exited',
  [ContainerStateCode.UNKNOWN]: 'unknown',
};
const STATE_CODES: Record<ContainerState, number> = { created: 0, running: 1, exited: 2, unknown: 3 };

const PROPAGATION = {
  private: MountPropagation.PRIVATE,
  hostToContainer: MountPropagation.HOST_TO_CONTAINER,
  bidirectional: MountPropagation.BIDIRECTIONAL,
} as const;

/* ---------- translation, exported for the unit tests ---------- */

export function toCriResources(r: LinuxResources | undefined): Record<string, unknown> {
  if (!r) return {};
  return {
    cpuShares: r.cpuShares ?? 0,
    cpuPeriod: r.cpuPeriod ?? 0,
    cpuQuota: r.cpuQuota ?? 0,
    memoryLimitInBytes: r.memoryLimitBytes ?? 0,
    // A negative value cannot be applied without CAP_SYS_RESOURCE; containerd clamps with restrict_oom_score_adj, and
    // we never ask for less than 0 either (reference/runtime-feasibility.md).
    oomScoreAdj: Math.max(0, r.oomScoreAdj ?? 0),
  };
}

function namespaceOptions(config: PodSandboxConfig): Record<string, number> {
  // kubelet: network/ipc POD or NODE; pid NODE with hostPID, POD with shareProcessNamespace, else CONTAINER.
  return {
    network: config.hostNetwork ? NamespaceMode.NODE : NamespaceMode.POD,
    pid: config.hostPID ? NamespaceMode.NODE : config.shareProcessNamespace ? NamespaceMode.POD : NamespaceMode.CONTAINER,
    ipc: config.hostIPC ? NamespaceMode.NODE : NamespaceMode.POD,
  };
}

export function toCriSandboxConfig(config: PodSandboxConfig, privileged = false): Record<string, unknown> {
  return {
    metadata: config.metadata,
    // kubelet leaves the hostname empty on the host network: the pod sees the node's.
    hostname: config.hostNetwork ? '' : config.hostname,
    logDirectory: config.logDirectory,
    dnsConfig: config.dnsConfig,
    portMappings: config.portMappings.map((p) => ({
      protocol: Protocol[p.protocol],
      containerPort: p.containerPort,
      hostPort: p.hostPort,
      hostIp: p.hostIp ?? '',
    })),
    labels: config.labels,
    annotations: config.annotations,
    linux: {
      cgroupParent: config.cgroupParent,
      securityContext: { namespaceOptions: namespaceOptions(config), privileged },
      sysctls: config.sysctls ?? {},
      resources: config.resources ? toCriResources(config.resources) : undefined,
    },
  };
}

export function toCriContainerConfig(config: ContainerConfig, sandbox: PodSandboxConfig): Record<string, unknown> {
  const security = config.security ?? {};
  return {
    metadata: config.metadata,
    image: { image: config.image },
    command: config.command,
    args: config.args,
    workingDir: config.workingDir ?? '',
    envs: config.env.map((e) => ({ key: e.name, value: e.value })),
    mounts: config.mounts.map((m) => ({
      containerPath: m.containerPath,
      hostPath: m.hostPath,
      readonly: m.readonly,
      propagation: PROPAGATION[m.propagation ?? 'private'],
    })),
    devices: config.devices ?? [],
    labels: config.labels,
    annotations: config.annotations,
    logPath: config.logPath,
    stdin: config.stdin,
    stdinOnce: config.stdinOnce,
    tty: config.tty,
    linux: {
      resources: toCriResources(config.resources),
      securityContext: {
        capabilities: security.capabilities ? { addCapabilities: security.capabilities.add, dropCapabilities: security.capabilities.drop } : undefined,
        privileged: security.privileged ?? false,
        namespaceOptions: config.pidTargetContainerId ? { ...namespaceOptions(sandbox), pid: NamespaceMode.TARGET, targetId: config.pidTargetContainerId } : namespaceOptions(sandbox),
        runAsUser: security.runAsUser !== undefined ? { value: security.runAsUser } : undefined,
        runAsGroup: security.runAsGroup !== undefined ? { value: security.runAsGroup } : undefined,
        readonlyRootfs: security.readonlyRootfs ?? false,
        supplementalGroups: security.supplementalGroups ?? [],
        noNewPrivs: security.noNewPrivileges ?? false,
      },
    },
  };
}

export function fromCriSandboxStatus(s: CriSandboxStatus): PodSandboxStatus {
  const hostNetwork = s.linux?.namespaces?.options?.network === NamespaceMode.NODE;
  const ip = s.network?.ip || undefined;
  return {
    id: s.id,
    metadata: { name: s.metadata?.name ?? '', namespace: s.metadata?.namespace ?? '', uid: s.metadata?.uid ?? '', attempt: s.metadata?.attempt ?? 0 },
    state: s.state === PodSandboxState.READY ? 'ready' : 'notready',
    createdAt: nsToMs(s.createdAt),
    ip: hostNetwork ? undefined : ip,
    additionalIps: hostNetwork ? [] : (s.network?.additionalIps ?? []).map((a) => a.ip).filter((a) => a !== ''),
    network: hostNetwork ? 'host' : 'pod',
    labels: s.labels,
    annotations: s.annotations,
  };
}

export function fromCriContainerStatus(s: CriContainerStatus, podSandboxId: string): ContainerStatus {
  const finishedAt = nsToMs(s.finishedAt);
  // containerd stamps StartedAt once Start has returned, but FinishedAt comes from the shim's exit event: a process
  // that exits at once can "finish" a millisecond before it "started". A run cannot end before it began.
  const startedAt = finishedAt > 0 ? Math.min(nsToMs(s.startedAt), finishedAt) : nsToMs(s.startedAt);
  return {
    id: s.id,
    podSandboxId,
    metadata: { name: s.metadata?.name ?? '', attempt: s.metadata?.attempt ?? 0 },
    state: CONTAINER_STATES[s.state] ?? 'unknown',
    createdAt: nsToMs(s.createdAt),
    startedAt,
    finishedAt,
    exitCode: s.exitCode,
    // containerd words these as kubelet does (OOMKilled, Completed, Error); it leaves created/running ones empty.
    reason: s.reason,
    message: s.message,
    image: s.image?.image ?? '',
    imageRef: s.imageRef,
    logPath: s.logPath,
    labels: s.labels,
    annotations: s.annotations,
  };
}

function fromCriImage(i: CriImage): Image {
  return { id: i.id, repoTags: i.repoTags, repoDigests: i.repoDigests, size: i.size };
}

function fromCpu(c: CriCpu | null): CpuUsage | undefined {
  if (!c || !c.usageCoreNanoSeconds) return undefined;
  return { usageCoreNanoSeconds: c.usageCoreNanoSeconds.value, timestamp: nsToMs(c.timestamp) };
}

function fromMemory(m: CriMemory | null): MemoryUsage | undefined {
  if (!m || !m.workingSetBytes) return undefined;
  return {
    workingSetBytes: m.workingSetBytes.value,
    usageBytes: m.usageBytes?.value ?? 0,
    rssBytes: m.rssBytes?.value ?? 0,
    pageFaults: m.pageFaults?.value,
    majorPageFaults: m.majorPageFaults?.value,
    timestamp: nsToMs(m.timestamp),
  };
}

function fromContainerStats(s: CriContainerStats): ContainerStats {
  return {
    id: s.attributes?.id ?? '',
    cpu: fromCpu(s.cpu),
    memory: fromMemory(s.memory),
    writableLayerBytes: s.writableLayer?.usedBytes?.value,
  };
}

/** grpc-go's name of a status code, as its error strings print it (`Unknown`, `InvalidArgument`, ...). */
function grpcCodeName(code: grpc.status): string {
  const name = grpc.status[code] ?? String(code);
  return name
    .toLowerCase()
    .split('_')
    .map((w) => (w === 'ok' ? 'OK' : w.charAt(0).toUpperCase() + w.slice(1)))
    .join('');
}

/* ---------- the runtime ---------- */

export class CriRuntime implements ContainerRuntime {
  readonly name = 'cri' as const;
  readonly capabilities: RuntimeCapabilities = { images: true, podNetwork: true, resourceLimits: true, tty: true };
  readonly #client: CriClient;
  readonly #options: CriRuntimeOptions;
  /** Which sandbox each container belongs to, for statuses (CRI's ContainerStatus does not say). */
  readonly #sandboxOf = new Map<string, string>();

  constructor(options: CriRuntimeOptions) {
    this.#options = options;
    this.#client = new CriClient(options.endpoint, { timeoutMs: options.timeoutMs });
  }

  get endpoint(): string {
    return this.#options.endpoint;
  }

  /** Errors the agent acts on become RuntimeErrors; anything else is the runtime's own failure, kept as thrown. */
  #fail(err: unknown, code?: RuntimeErrorCode): unknown {
    if (!(err instanceof CriCallError)) return err;
    if (err.code === grpc.status.UNAVAILABLE) return new RuntimeError('Unavailable', `container runtime at ${this.#options.endpoint} is unavailable: ${err.details}`);
    if (err.code === grpc.status.NOT_FOUND) return new RuntimeError('NotFound', err.details);
    return code ? new RuntimeError(code, err.details) : err;
  }

  async #call<T>(rpc: Parameters<CriClient['call']>[0], request: object, code?: RuntimeErrorCode, timeoutMs?: number): Promise<T> {
    try {
      return await this.#client.call<T>(rpc, request, timeoutMs);
    } catch (err) {
      throw this.#fail(err, code);
    }
  }

  /** Like #call, but a NotFound answer is `undefined`. */
  async #callOrUndefined<T>(rpc: Parameters<CriClient['call']>[0], request: object): Promise<T | undefined> {
    try {
      return await this.#call<T>(rpc, request);
    } catch (err) {
      if (err instanceof RuntimeError && err.code === 'NotFound') return undefined;
      throw err;
    }
  }

  async version(): Promise<RuntimeVersion> {
    const v = await this.#call<{ runtimeName: string; runtimeVersion: string; runtimeApiVersion: string }>('Version', { version: 'v1' });
    return { runtimeName: v.runtimeName, runtimeVersion: v.runtimeVersion, runtimeApiVersion: v.runtimeApiVersion };
  }

  async status(): Promise<RuntimeCondition[]> {
    const res = await this.#call<{ status: { conditions: Array<{ type: string; status: boolean; reason: string; message: string }> } | null }>('Status', {});
    return (res.status?.conditions ?? [])
      .filter((c) => c.type === 'RuntimeReady' || c.type === 'NetworkReady')
      .map((c) => ({ type: c.type as RuntimeCondition['type'], status: c.status, reason: c.reason || undefined, message: c.message || undefined }));
  }

  async runPodSandbox(config: PodSandboxConfig): Promise<string> {
    try {
      const res = await this.#client.call<{ podSandboxId: string }>('RunPodSandbox', {
        config: toCriSandboxConfig(config),
        runtimeHandler: config.runtimeHandler || this.#options.runtimeHandler || '',
      });
      return res.podSandboxId;
    } catch (err) {
      // Failures here are mostly the network's (CNI), the sandbox image's or an unknown RuntimeClass handler's
      // ("failed to get sandbox runtime: no runtime for "x" is configured"); the agent shows them as events, in the words
      // kubelet's FailedCreatePodSandBox event quotes (gRPC's error string).
      if (err instanceof CriCallError && err.code !== grpc.status.UNAVAILABLE) {
        throw new RuntimeError('Network', `rpc error: code = ${grpcCodeName(err.code)} desc = ${err.details}`);
      }
      throw this.#fail(err);
    }
  }

  async stopPodSandbox(id: string): Promise<void> {
    await this.#callOrUndefined('StopPodSandbox', { podSandboxId: id });
  }

  async removePodSandbox(id: string): Promise<void> {
    await this.#callOrUndefined('RemovePodSandbox', { podSandboxId: id });
    for (const [container, sandbox] of this.#sandboxOf) if (sandbox === id) this.#sandboxOf.delete(container);
  }

  async podSandboxStatus(id: string): Promise<PodSandboxStatus | undefined> {
    const res = await this.#callOrUndefined<{ status: CriSandboxStatus | null }>('PodSandboxStatus', { podSandboxId: id });
    return res?.status ? fromCriSandboxStatus(res.status) : undefined;
  }

  async listPodSandboxes(filter: SandboxFilter = {}): Promise<PodSandboxStatus[]> {
    const res = await this.#call<{ items: Array<{ id: string }> }>('ListPodSandbox', {
      filter: {
        id: filter.id ?? '',
        state: filter.state ? { state: filter.state === 'ready' ? PodSandboxState.READY : PodSandboxState.NOTREADY } : undefined,
        labelSelector: filter.labels ?? {},
      },
    });
    // The list answer has no network and namespaces; the status call has them.
    const statuses = await Promise.all(res.items.map((item) => this.podSandboxStatus(item.id)));
    return statuses.filter((s): s is PodSandboxStatus => s !== undefined);
  }

  async pullImage(image: ImageSpec, auth?: AuthConfig): Promise<string> {
    const credentials = auth ?? this.#options.authFor?.(image.image);
    try {
      const res = await this.#client.call<{ imageRef: string }>('PullImage', { image: { image: image.image }, auth: credentials }, 0);
      return res.imageRef;
    } catch (err) {
      if (err instanceof CriCallError && err.code !== grpc.status.UNAVAILABLE) throw new RuntimeError('ImagePull', err.details);
      throw this.#fail(err);
    }
  }

  async imageStatus(image: ImageSpec): Promise<Image | undefined> {
    const res = await this.#callOrUndefined<{ image: CriImage | null }>('ImageStatus', { image: { image: image.image } });
    return res?.image ? fromCriImage(res.image) : undefined;
  }

  async listImages(): Promise<Image[]> {
    const res = await this.#call<{ images: CriImage[] }>('ListImages', {});
    return res.images.map(fromCriImage);
  }

  async removeImage(image: ImageSpec): Promise<void> {
    await this.#callOrUndefined('RemoveImage', { image: { image: image.image } });
  }

  async createContainer(podSandboxId: string, config: ContainerConfig, sandboxConfig: PodSandboxConfig): Promise<string> {
    // containerd refuses a privileged container unless the sandbox config passed *with this call* is privileged
    // (pkg/cri/server/container_create_linux.go, "no privileged container allowed in sandbox").
    const privileged = config.security?.privileged ?? false;
    let res: { containerId: string };
    try {
      res = await this.#client.call<{ containerId: string }>('CreateContainer', {
        podSandboxId,
        config: toCriContainerConfig(config, sandboxConfig),
        sandboxConfig: toCriSandboxConfig(sandboxConfig, privileged),
      });
    } catch (err) {
      // containerd 1.6 answers a missing image with code Unknown: `failed to resolve image "x": not found`
      // (pkg/cri/server/container_create.go); a missing sandbox is NotFound.
      if (err instanceof CriCallError && /failed to (resolve|get) image .*(not found|no such image)/i.test(err.details)) throw new RuntimeError('ImageNotFound', err.details);
      throw this.#fail(err, 'CreateContainer');
    }
    this.#sandboxOf.set(res.containerId, podSandboxId);
    return res.containerId;
  }

  async startContainer(id: string): Promise<void> {
    await this.#call('StartContainer', { containerId: id }, 'StartContainer');
  }

  async stopContainer(id: string, timeoutSeconds: number): Promise<void> {
    // containerd waits up to the timeout, then SIGKILLs; leave it time to do so before our own deadline.
    await this.#call('StopContainer', { containerId: id, timeout: Math.max(0, Math.ceil(timeoutSeconds)) }, undefined, (timeoutSeconds + 60) * 1000);
  }

  async removeContainer(id: string): Promise<void> {
    await this.#callOrUndefined('RemoveContainer', { containerId: id });
    this.#sandboxOf.delete(id);
  }

  async listContainers(filter: ContainerFilter = {}): Promise<ContainerStatus[]> {
    const res = await this.#call<{ containers: Array<{ id: string; podSandboxId: string }> }>('ListContainers', {
      filter: {
        id: filter.id ?? '',
        podSandboxId: filter.podSandboxId ?? '',
        state: filter.state ? { state: STATE_CODES[filter.state] } : undefined,
        labelSelector: filter.labels ?? {},
      },
    });
    for (const c of res.containers) this.#sandboxOf.set(c.id, c.podSandboxId);
    const statuses = await Promise.all(res.containers.map((c) => this.#containerStatus(c.id, c.podSandboxId)));
    return statuses.filter((s): s is ContainerStatus => s !== undefined);
  }

  async listStates(): Promise<RuntimeObjectState[]> {
    const [sandboxes, containers] = await Promise.all([
      this.#call<{ items: Array<{ id: string; state: number; labels?: Record<string, string> }> }>('ListPodSandbox', { filter: {} }),
      this.#call<{ containers: Array<{ id: string; podSandboxId: string; state: number; labels?: Record<string, string> }> }>('ListContainers', { filter: {} }),
    ]);
    for (const c of containers.containers) this.#sandboxOf.set(c.id, c.podSandboxId);
    return [
      ...sandboxes.items.map((s) => ({ id: s.id, state: s.state === PodSandboxState.READY ? ('ready' as const) : ('notready' as const), labels: s.labels ?? {} })),
      ...containers.containers.map((c) => ({ id: c.id, state: CONTAINER_STATES[c.state] ?? ('unknown' as const), labels: c.labels ?? {} })),
    ];
  }

  /** ReopenContainerLog: containerd opens a new file at the container's log path (the old one was renamed). */
  async reopenContainerLog(id: string): Promise<void> {
    await this.#call('ReopenContainerLog', { containerId: id });
  }

  async containerStatus(id: string): Promise<ContainerStatus | undefined> {
    let sandbox = this.#sandboxOf.get(id);
    if (sandbox === undefined) {
      // A container created before this agent started: ask the list once.
      const res = await this.#call<{ containers: Array<{ id: string; podSandboxId: string }> }>('ListContainers', { filter: { id } });
      sandbox = res.containers[0]?.podSandboxId;
      if (sandbox === undefined) return undefined;
      this.#sandboxOf.set(id, sandbox);
    }
    return this.#containerStatus(id, sandbox);
  }

  async #containerStatus(id: string, podSandboxId: string): Promise<ContainerStatus | undefined> {
    const res = await this.#callOrUndefined<{ status: CriContainerStatus | null }>('ContainerStatus', { containerId: id });
    return res?.status ? fromCriContainerStatus(res.status, podSandboxId) : undefined;
  }

  async execSync(id: string, cmd: string[], timeoutMs: number): Promise<ExecSyncResult> {
    const timeoutSeconds = timeoutMs > 0 ? Math.max(1, Math.ceil(timeoutMs / 1000)) : 0;
    try {
      const res = await this.#client.call<{ stdout: Buffer; stderr: Buffer; exitCode: number }>(
        'ExecSync',
        { containerId: id, cmd, timeout: timeoutSeconds },
        timeoutMs > 0 ? timeoutMs + 30_000 : 0,
      );
      return { exitCode: res.exitCode, stdout: Buffer.from(res.stdout), stderr: Buffer.from(res.stderr), timedOut: false };
    } catch (err) {
      // containerd answers a timed-out exec with DeadlineExceeded ("timeout 1s exceeded: context deadline exceeded").
      if (err instanceof CriCallError && err.code === grpc.status.DEADLINE_EXCEEDED) {
        return { exitCode: -1, stdout: Buffer.alloc(0), stderr: Buffer.from(err.details), timedOut: true };
      }
      throw this.#fail(err);
    }
  }

  async exec(id: string, cmd: string[], options: StreamOptions): Promise<StreamSession> {
    const url = await this.execUrl(id, cmd, options);
    return this.#spdy ? openSpdyRemoteCommand(url, options) : openRemoteCommand(url, options);
  }

  async attach(id: string, options: StreamOptions): Promise<StreamSession> {
    const url = await this.attachUrl(id, options);
    return this.#spdy ? openSpdyRemoteCommand(url, options) : openRemoteCommand(url, options);
  }

  async portForward(podSandboxId: string, port: number): Promise<Duplex> {
    const url = await this.portForwardUrl(podSandboxId, [port]);
    return this.#spdy ? openSpdyPortForward(url, port) : openPortForward(url, port);
  }

  get #spdy(): boolean {
    return (this.#options.streamProtocol ?? 'spdy') === 'spdy';
  }

  /*
   * The one-shot URLs themselves (not part of ContainerRuntime): kubelet proxies the client's upgraded connection
   * (SPDY or WebSocket) to them unchanged, which keeps every protocol feature end to end (stdin half-close under
   * SPDY, several ports per port-forward). The agent's streaming server may do the same for the cri runtime.
   */

  async execUrl(id: string, cmd: string[], options: StreamOptions): Promise<string> {
    const res = await this.#call<{ url: string }>('Exec', {
      containerId: id,
      cmd,
      tty: options.tty,
      stdin: options.stdin,
      stdout: options.stdout,
      stderr: options.stderr && !options.tty,
    });
    return res.url;
  }

  async attachUrl(id: string, options: StreamOptions): Promise<string> {
    const res = await this.#call<{ url: string }>('Attach', {
      containerId: id,
      stdin: options.stdin,
      tty: options.tty,
      stdout: options.stdout,
      stderr: options.stderr && !options.tty,
    });
    return res.url;
  }

  async portForwardUrl(podSandboxId: string, ports: number[]): Promise<string> {
    const res = await this.#call<{ url: string }>('PortForward', { podSandboxId, port: ports });
    return res.url;
  }

  async containerStats(id: string): Promise<ContainerStats | undefined> {
    const res = await this.#callOrUndefined<{ stats: CriContainerStats | null }>('ContainerStats', { containerId: id });
    return res?.stats ? fromContainerStats(res.stats) : undefined;
  }

  async podSandboxStats(id: string): Promise<PodSandboxStats | undefined> {
    const res = await this.#callOrUndefined<{
      stats: {
        attributes: { id: string } | null;
        linux: { cpu: CriCpu | null; memory: CriMemory | null; process: { processCount: Wrapped | null } | null; containers: CriContainerStats[] } | null;
      } | null;
    }>('PodSandboxStats', { podSandboxId: id });
    if (!res?.stats) return undefined;
    const linux = res.stats.linux;
    return {
      id: res.stats.attributes?.id || id,
      cpu: fromCpu(linux?.cpu ?? null),
      memory: fromMemory(linux?.memory ?? null),
      processCount: linux?.process?.processCount?.value,
      containers: (linux?.containers ?? []).map(fromContainerStats),
    };
  }

  async close(): Promise<void> {
    this.#client.close();
    log.debug('closed CRI connection', { endpoint: this.#options.endpoint });
  }
}
