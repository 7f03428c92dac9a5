/**
 * ContainerRuntime: the node agent's one view of whatever runs containers, shaped after the CRI v1 RuntimeService and
 * ImageService (k8s.io/cri-api pkg/apis/runtime/v1) so the `cri` implementation is a thin translation and the `process`
 * implementation (host processes in namespaces and cgroups) answers the same questions. Every runtime passes
 * `runRuntimeConformance` (conformance.ts).
 *
 * Identifiers are opaque strings chosen by the runtime. Times are milliseconds since the epoch (0 = not yet).
 * Methods throw RuntimeError (below) for expected failures, so the agent can turn them into pod status and events.
 */
import type { Duplex, Readable, Writable } from 'node:stream';

/** Labels the agent puts on every sandbox and container, so a restarted agent can find what belongs to which pod. */
export const POD_UID_LABEL = 'io.kubernetes.pod.uid';
export const POD_NAME_LABEL = 'io.kubernetes.pod.name';
export const POD_NAMESPACE_LABEL = 'io.kubernetes.pod.namespace';
export const CONTAINER_NAME_LABEL = 'io.kubernetes.container.name';

export interface PodSandboxMetadata {
  name: string;
  namespace: string;
  uid: string;
  /** 0 for the first sandbox of a pod; incremented when the agent has to recreate it. */
  attempt: number;
}

export interface PortMapping {
  protocol: 'TCP' | 'UDP' | 'SCTP';
  containerPort: number;
  /** 0 = no host port. */
  hostPort: number;
  hostIp?: string;
}

export interface DnsConfig {
  servers: string[];
  searches: string[];
  options: string[];
}

/** Linux resources in the units the kernel takes (kubelet computes them from requests and limits). */
export interface LinuxResources {
  /** cpu.shares (v1) / derived cpu.weight (v2); 2 is the kernel's minimum. */
  cpuShares?: number;
  /** cpu.cfs_period_us and cpu.cfs_quota_us; quota 0 or undefined = no limit. */
  cpuPeriod?: number;
  cpuQuota?: number;
  /** memory.limit_in_bytes (v1) / memory.max (v2); 0 or undefined = no limit. */
  memoryLimitBytes?: number;
  /** pids.max; undefined = no limit. */
  pidsLimit?: number;
  /** Never negative on machines without CAP_SYS_RESOURCE (see reference/runtime-feasibility.md). */
  oomScoreAdj?: number;
}

export interface PodSandboxConfig {
  metadata: PodSandboxMetadata;
  hostname: string;
  /** Directory for this pod's container logs: /var/log/pods/<ns>_<name>_<uid> (or under the agent's data dir). */
  logDirectory: string;
  dnsConfig?: DnsConfig;
  portMappings: PortMapping[];
  labels: Record<string, string>;
  annotations: Record<string, string>;
  /** Namespaces shared with the host (pod.spec.hostNetwork, hostPID, hostIPC). */
  hostNetwork: boolean;
  hostPID: boolean;
  hostIPC: boolean;
  /**
   * pod.spec.shareProcessNamespace: the pod's containers share one pid namespace (CRI NamespaceOption pid POD). Absent
   * or false: each container has a pid namespace of its own (CONTAINER), unless hostPID (NODE).
   */
  shareProcessNamespace?: boolean;
  /** Absolute cgroup path of the pod, the same under every controller, e.g. /skiff-kubepods/burstable/pod<uid>. */
  cgroupParent: string;
  /** Pod-level limits (the sum of the containers' limits when every container has one). */
  resources?: LinuxResources;
  sysctls?: Record<string, string>;
  /**
   * The pod's RuntimeClass handler (CRI RunPodSandboxRequest.runtime_handler); absent or '' = the runtime's default.
   * A runtime refuses a handler it does not have, in containerd's words: `no runtime for "x" is configured`.
   */
  runtimeHandler?: string;
}

export type SandboxState = 'ready' | 'notready';

export interface PodSandboxStatus {
  id: string;
  metadata: PodSandboxMetadata;
  state: SandboxState;
  createdAt: number;
  /** The pod's primary IP, undefined on the host network (the agent then reports the node's IP). */
  ip?: string;
  additionalIps: string[];
  /** 'host' when the sandbox shares the host's network namespace, by request or because pod networking is unavailable. */
  network: 'pod' | 'host';
  /** Why the network is 'host' against the pod's wish (no root, no CNI plugins): the agent turns it into an event. */
  networkMessage?: string;
  labels: Record<string, string>;
  annotations: Record<string, string>;
}

export interface Mount {
  containerPath: string;
  hostPath: string;
  readonly: boolean;
  propagation?: 'private' | 'hostToContainer' | 'bidirectional';
}

export interface Device {
  containerPath: string;
  hostPath: string;
  permissions: string;
}

export interface Capabilities {
  add: string[];
  drop: string[];
}

export interface ContainerSecurity {
  runAsUser?: number;
  runAsGroup?: number;
  supplementalGroups?: number[];
  readonlyRootfs?: boolean;
  privileged?: boolean;
  capabilities?: Capabilities;
  noNewPrivileges?: boolean;
}

export interface ContainerMetadata {
  name: string;
  /** The restart count: 0 for the first container of this name in the pod, +1 per restart. */
  attempt: number;
}

export interface ContainerConfig {
  metadata: ContainerMetadata;
  /** The image reference as the pod names it, resolved by pullImage. */
  image: string;
  /** The fully built argv: entrypoint/command and args from the pod and the image, $(VAR) already expanded. */
  command: string[];
  args: string[];
  workingDir?: string;
  env: Array<{ name: string; value: string }>;
  mounts: Mount[];
  devices?: Device[];
  /** Relative to the sandbox's logDirectory: `<container name>/<attempt>.log`. */
  logPath: string;
  stdin: boolean;
  stdinOnce: boolean;
  tty: boolean;
  resources: LinuxResources;
  security?: ContainerSecurity;
  /**
   * Join the pid namespace of this container (an ephemeral container's targetContainerName, `kubectl debug --target`;
   * CRI NamespaceMode TARGET with target_id). Absent: the sandbox's choice (own, the pod's, or the host's).
   */
  pidTargetContainerId?: string;
  labels: Record<string, string>;
  annotations: Record<string, string>;
}

export type ContainerState = 'created' | 'running' | 'exited' | 'unknown';

export interface ContainerStatus {
  id: string;
  podSandboxId: string;
  metadata: ContainerMetadata;
  state: ContainerState;
  createdAt: number;
  startedAt: number;
  finishedAt: number;
  exitCode: number;
  /** For exited containers: 'OOMKilled', 'Error', 'Completed' (kubelet's words); 'StartError' when start failed (containerd's). */
  reason: string;
  message: string;
  image: string;
  /** The image's digest or ID (pod status imageID). */
  imageRef: string;
  /** Absolute path of the CRI-format log file. */
  logPath: string;
  labels: Record<string, string>;
  annotations: Record<string, string>;
}

export interface ContainerFilter {
  id?: string;
  podSandboxId?: string;
  state?: ContainerState;
  labels?: Record<string, string>;
}

export interface SandboxFilter {
  id?: string;
  state?: SandboxState;
  labels?: Record<string, string>;
}

export interface ImageSpec {
  image: string;
}

export interface AuthConfig {
  username?: string;
  password?: string;
  auth?: string;
  serverAddress?: string;
  identityToken?: string;
  registryToken?: string;
}

export interface Image {
  id: string;
  repoTags: string[];
  repoDigests: string[];
  size: number;
}

export interface ExecSyncResult {
  exitCode: number;
  stdout: Buffer;
  stderr: Buffer;
  /** True when the command was killed at the timeout. */
  timedOut: boolean;
}

export interface StreamOptions {
  stdin: boolean;
  stdout: boolean;
  stderr: boolean;
  /** With a TTY, stdout carries both output streams and stderr is absent (as in Kubernetes). */
  tty: boolean;
}

export interface TerminalSize {
  width: number;
  height: number;
}

/**
 * One exec or attach session. The agent's streaming server (agent/streaming) connects these streams to the client's
 * WebSocket or SPDY channels.
 */
export interface StreamSession {
  stdin?: Writable;
  stdout?: Readable;
  stderr?: Readable;
  resize(size: TerminalSize): void;
  /** Settles when the exec'd process ends (its exit code) or, for attach, when the container exits or close() is called. */
  done: Promise<{ exitCode: number }>;
  /**
   * Ends the session: detaches from an attached container (which keeps running); for exec, the process runtime kills the
   * exec'd process, while over the CRI it runs on (CRI has no call for it, and kubelet behaves the same).
   */
  close(): void;
}

export interface CpuUsage {
  /** Cumulative CPU time in nanoseconds. */
  usageCoreNanoSeconds: number;
  timestamp: number;
}

export interface MemoryUsage {
  /** usage - inactive file, as cAdvisor and kubelet compute it. */
  workingSetBytes: number;
  usageBytes: number;
  rssBytes: number;
  pageFaults?: number;
  majorPageFaults?: number;
  timestamp: number;
}

export interface ContainerStats {
  id: string;
  cpu?: CpuUsage;
  memory?: MemoryUsage;
  /** Bytes the container's writable layer or working files use, when the runtime can tell. */
  writableLayerBytes?: number;
}

export interface PodSandboxStats {
  id: string;
  cpu?: CpuUsage;
  memory?: MemoryUsage;
  processCount?: number;
  containers: ContainerStats[];
}

export interface RuntimeCondition {
  type: 'RuntimeReady' | 'NetworkReady';
  status: boolean;
  reason?: string;
  message?: string;
}

export interface RuntimeVersion {
  /** 'containerd', 'process'. */
  runtimeName: string;
  runtimeVersion: string;
  /** The CRI version spoken, 'v1' (the process runtime says 'v1' too: same semantics). */
  runtimeApiVersion: string;
}

/** What a runtime can do beyond the required core; the agent refuses or degrades openly where a flag is false. */
export interface RuntimeCapabilities {
  /** Runs images (pulls and unpacks root filesystems). false for `process`: the host's filesystem is the rootfs. */
  images: boolean;
  /** Gives pods their own network namespaces (CNI). */
  podNetwork: boolean;
  /** Enforces cgroup limits (false when not root). */
  resourceLimits: boolean;
  tty: boolean;
}

/** A sandbox or container as a list shows it (listStates). */
export interface RuntimeObjectState {
  id: string;
  state: SandboxState | ContainerState;
  labels: Record<string, string>;
}

export interface ContainerRuntime {
  readonly name: 'process' | 'cri';
  readonly capabilities: RuntimeCapabilities;

  version(): Promise<RuntimeVersion>;
  status(): Promise<RuntimeCondition[]>;

  runPodSandbox(config: PodSandboxConfig): Promise<string>;
  /** Stops every container of the sandbox and releases its network; idempotent. */
  stopPodSandbox(id: string): Promise<void>;
  /** Removes a stopped sandbox and its containers; idempotent (an unknown id is not an error). */
  removePodSandbox(id: string): Promise<void>;
  podSandboxStatus(id: string): Promise<PodSandboxStatus | undefined>;
  listPodSandboxes(filter?: SandboxFilter): Promise<PodSandboxStatus[]>;

  /** Returns the image reference (digest) to record as imageID. Throws RuntimeError code 'ImagePull' with the registry's words. */
  pullImage(image: ImageSpec, auth?: AuthConfig): Promise<string>;
  imageStatus(image: ImageSpec): Promise<Image | undefined>;
  listImages(): Promise<Image[]>;
  removeImage(image: ImageSpec): Promise<void>;

  createContainer(podSandboxId: string, config: ContainerConfig, sandboxConfig: PodSandboxConfig): Promise<string>;
  startContainer(id: string): Promise<void>;
  /** SIGTERM, then SIGKILL after timeoutSeconds (0 = at once); idempotent on an exited container. */
  stopContainer(id: string, timeoutSeconds: number): Promise<void>;
  removeContainer(id: string): Promise<void>;
  listContainers(filter?: ContainerFilter): Promise<ContainerStatus[]>;
  /**
   * Every sandbox and container with its state and labels, from the runtime's list answers alone: what the kubelet's
   * relist (PLEG) compares every second. Optional; without it the relist lists full statuses, which under CRI costs a
   * status call per sandbox and per container (kubelet's GenericPLEG relists with ListPodSandbox + ListContainers too).
   */
  listStates?(): Promise<RuntimeObjectState[]>;
  containerStatus(id: string): Promise<ContainerStatus | undefined>;
  /**
   * Optional (CRI ReopenContainerLog): the runtime closes the running container's log file and opens a new one at its
   * log path, after the kubelet renamed the old one (kubelet/container-log-manager.ts). Runtimes that rotate their logs
   * themselves (`process`) leave it out.
   */
  reopenContainerLog?(id: string): Promise<void>;

  /** Runs cmd in the container and collects its output; timeoutMs 0 = no timeout (as CRI's ExecSync; postStart hooks pass 0). */
  execSync(id: string, cmd: string[], timeoutMs: number): Promise<ExecSyncResult>;
  exec(id: string, cmd: string[], options: StreamOptions): Promise<StreamSession>;
  attach(id: string, options: StreamOptions): Promise<StreamSession>;
  /** A byte stream to `port` on 127.0.0.1 inside the sandbox's network namespace. */
  portForward(podSandboxId: string, port: number): Promise<Duplex>;

  containerStats(id: string): Promise<ContainerStats | undefined>;
  podSandboxStats(id: string): Promise<PodSandboxStats | undefined>;

  /** Releases connections and child processes the runtime object holds; containers keep running. */
  close(): Promise<void>;
}

/** Expected failures, by kind, so the agent can map them to container reasons (ErrImagePull, CreateContainerConfigError, ...). */
export type RuntimeErrorCode = 'NotFound' | 'ImagePull' | 'ImageNotFound' | 'CreateContainerConfig' | 'CreateContainer' | 'StartContainer' | 'Network' | 'Unavailable' | 'Unsupported';

export class RuntimeError extends Error {
  constructor(
    readonly code: RuntimeErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'RuntimeError';
  }
}

export function isRuntimeError(err: unknown, code?: RuntimeErrorCode): err is RuntimeError {
  return err instanceof RuntimeError && (code === undefined || err.code === code);
}
