/**
 * An in-memory ContainerRuntime for the kubelet's tests: sandboxes and containers are records whose states move only
 * when the kubelet calls the runtime or the test says so (`exit`, `killSandbox`). Failures are injected per method
 * (`failNext`) or per image (`pullErrors`); `onStart` lets a container exit at once with a chosen code. Every call is
 * logged in `calls` (`runPodSandbox web`, `createContainer web/app#0`, `startContainer web/app#0`, ...).
 */
import { createHash } from 'node:crypto';
import { PassThrough, type Duplex } from 'node:stream';
import { realClock, type Clock } from '../../../client/types.js';
import {
  CONTAINER_NAME_LABEL,
  RuntimeError,
  type AuthConfig,
  type ContainerConfig,
  type ContainerFilter,
  type ContainerRuntime,
  type ContainerStats,
  type ContainerStatus,
  type ExecSyncResult,
  type Image,
  type ImageSpec,
  type PodSandboxConfig,
  type PodSandboxStats,
  type PodSandboxStatus,
  type RuntimeCapabilities,
  type RuntimeCondition,
  type RuntimeVersion,
  type SandboxFilter,
  type StreamOptions,
  type StreamSession,
} from '../../runtime/types.js';

export interface FakeRuntimeOptions {
  clock?: Clock;
  name?: 'process' | 'cri';
  /** capabilities.images (default: true for 'cri', false for 'process'). */
  images?: boolean;
  /** The sandbox network: 'pod' gives 10.42.0.N addresses, 'host' none (the fallback). */
  network?: 'pod' | 'host';
  /** Images present before any pull. */
  preloaded?: string[];
}

type Method = keyof ContainerRuntime;

interface FakeContainer {
  status: ContainerStatus;
  config: ContainerConfig;
  sandboxConfig: PodSandboxConfig;
}

export class FakeRuntime implements ContainerRuntime {
  readonly name: 'process' | 'cri';
  readonly capabilities: RuntimeCapabilities;
  readonly calls: string[] = [];
  readonly sandboxes = new Map<string, { status: PodSandboxStatus; config: PodSandboxConfig }>();
  readonly containers = new Map<string, FakeContainer>();
  readonly images = new Map<string, Image>();
  /** image → the registry's words: pullImage throws RuntimeError('ImagePull', message). */
  readonly pullErrors = new Map<string, string>();
  /** Called when a container starts; returning an exit makes it exit at once (a crashing or finishing command). */
  onStart?: (config: ContainerConfig, sandbox: PodSandboxConfig) => { exitCode: number; reason?: string } | undefined;
  /** Answers execSync (preStop hooks, exec probes); default exit 0. */
  onExec?: (id: string, cmd: string[]) => ExecSyncResult | undefined;
  private readonly failures = new Map<Method, Error[]>();
  private readonly clock: Clock;
  private readonly network: 'pod' | 'host';
  private seq = 0;
  private ipSeq = 1;
  closed = false;

  constructor(opts: FakeRuntimeOptions = {}) {
    this.clock = opts.clock ?? realClock;
    this.name = opts.name ?? 'process';
    this.network = opts.network ?? 'pod';
    this.capabilities = { images: opts.images ?? this.name === 'cri', podNetwork: this.network === 'pod', resourceLimits: true, tty: true };
    for (const image of opts.preloaded ?? []) this.addImage(image);
  }

  /** The next call of `method` throws err (queued: several calls fail in order). */
  failNext(method: Method, err: Error = new RuntimeError('Unavailable', `injected ${method} failure`)): void {
    const q = this.failures.get(method) ?? [];
    q.push(err);
    this.failures.set(method, q);
  }

  /** A running container ends with this exit code (kill -9 is 137, an OOM kill is 137 with reason OOMKilled). */
  exit(id: string, exitCode: number, reason = exitCode === 0 ? 'Completed' : 'Error'): void {
    const c = this.containers.get(id);
    if (!c || c.status.state !== 'running') throw new Error(`fake runtime: container ${id} is not running`);
    this.finish(c.status, exitCode, reason);
  }

  /** The running container of this pod uid and name. */
  running(podUid: string, name: string): ContainerStatus | undefined {
    return [...this.containers.values()].map((c) => c.status).find((s) => s.state === 'running' && s.labels['io.kubernetes.pod.uid'] === podUid && s.labels[CONTAINER_NAME_LABEL] === name);
  }

  /** Every container of a pod uid, oldest first. */
  containersOf(podUid: string): ContainerStatus[] {
    return [...this.containers.values()].map((c) => c.status).filter((s) => s.labels['io.kubernetes.pod.uid'] === podUid);
  }

  sandboxesOf(podUid: string): PodSandboxStatus[] {
    return [...this.sandboxes.values()].map((s) => s.status).filter((s) => s.metadata.uid === podUid);
  }

  configOf(id: string): ContainerConfig | undefined {
    return this.containers.get(id)?.config;
  }

  /** The sandbox dies (its network namespace is gone): not ready, containers exited. */
  killSandbox(id: string): void {
    const s = this.sandboxes.get(id);
    if (!s) throw new Error(`fake runtime: no sandbox ${id}`);
    s.status.state = 'notready';
    for (const c of this.containers.values()) if (c.status.podSandboxId === id && c.status.state === 'running') this.finish(c.status, 137, 'Error');
  }

  addImage(image: string): string {
    const id = `sha256:${createHash('sha256').update(image).digest('hex')}`;
    this.images.set(image, { id, repoTags: [image], repoDigests: [`${image}@${id}`], size: 1000 });
    return id;
  }

  private call(method: Method, what: string): void {
    this.calls.push(what ? `${method} ${what}` : method);
    const q = this.failures.get(method);
    const err = q?.shift();
    if (err) throw err;
  }

  private now(): number {
    return this.clock.now().getTime();
  }

  private finish(s: ContainerStatus, exitCode: number, reason: string): void {
    s.state = 'exited';
    s.exitCode = exitCode;
    s.reason = reason;
    s.finishedAt = this.now();
  }

  private describe(id: string): string {
    const c = this.containers.get(id);
    if (!c) return id;
    return `${c.sandboxConfig.metadata.name}/${c.config.metadata.name}#${c.config.metadata.attempt}`;
  }

  async version(): Promise<RuntimeVersion> {
    return { runtimeName: this.name === 'cri' ? 'containerd' : 'process', runtimeVersion: '0.0.0-fake', runtimeApiVersion: 'v1' };
  }

  async status(): Promise<RuntimeCondition[]> {
    return [
      { type: 'RuntimeReady', status: true },
      { type: 'NetworkReady', status: true },
    ];
  }

  async runPodSandbox(config: PodSandboxConfig): Promise<string> {
    this.call('runPodSandbox', config.metadata.name);
    const id = `sb-${++this.seq}`;
    const host = config.hostNetwork || this.network === 'host';
    this.sandboxes.set(id, {
      config: structuredClone(config),
      status: {
        id,
        metadata: { ...config.metadata },
        state: 'ready',
        createdAt: this.now(),
        ...(host ? {} : { ip: `10.42.0.${++this.ipSeq}` }),
        additionalIps: [],
        network: host ? 'host' : 'pod',
        ...(host && !config.hostNetwork ? { networkMessage: 'pod networking is unavailable (fake runtime)' } : {}),
        labels: { ...config.labels },
        annotations: { ...config.annotations },
      },
    });
    return id;
  }

  async stopPodSandbox(id: string): Promise<void> {
    this.call('stopPodSandbox', this.sandboxes.get(id)?.config.metadata.name ?? id);
    const s = this.sandboxes.get(id);
    if (!s) return;
    for (const c of this.containers.values()) if (c.status.podSandboxId === id && c.status.state === 'running') this.finish(c.status, 137, 'Error');
    s.status.state = 'notready';
  }

  async removePodSandbox(id: string): Promise<void> {
    this.call('removePodSandbox', this.sandboxes.get(id)?.config.metadata.name ?? id);
    for (const [cid, c] of this.containers) if (c.status.podSandboxId === id) this.containers.delete(cid);
    this.sandboxes.delete(id);
  }

  async podSandboxStatus(id: string): Promise<PodSandboxStatus | undefined> {
    const s = this.sandboxes.get(id);
    return s ? structuredClone(s.status) : undefined;
  }

  async listPodSandboxes(filter: SandboxFilter = {}): Promise<PodSandboxStatus[]> {
    this.call('listPodSandboxes', '');
    return [...this.sandboxes.values()]
      .map((s) => s.status)
      .filter((s) => (!filter.id || s.id === filter.id) && (!filter.state || s.state === filter.state) && labelsMatch(s.labels, filter.labels))
      .map((s) => structuredClone(s));
  }

  async pullImage(image: ImageSpec, _auth?: AuthConfig): Promise<string> {
    this.call('pullImage', image.image);
    const err = this.pullErrors.get(image.image);
    if (err !== undefined) throw new RuntimeError('ImagePull', err);
    return this.images.get(image.image)?.id ?? this.addImage(image.image);
  }

  async imageStatus(image: ImageSpec): Promise<Image | undefined> {
    const i = this.images.get(image.image);
    return i ? structuredClone(i) : undefined;
  }

  async listImages(): Promise<Image[]> {
    return [...this.images.values()].map((i) => structuredClone(i));
  }

  async removeImage(image: ImageSpec): Promise<void> {
    this.images.delete(image.image);
  }

  async createContainer(podSandboxId: string, config: ContainerConfig, sandboxConfig: PodSandboxConfig): Promise<string> {
    this.call('createContainer', `${sandboxConfig.metadata.name}/${config.metadata.name}#${config.metadata.attempt}`);
    const sandbox = this.sandboxes.get(podSandboxId);
    if (!sandbox || sandbox.status.state !== 'ready') throw new RuntimeError('NotFound', `sandbox ${podSandboxId} is not ready`);
    const id = `ctr-${++this.seq}`;
    const image = this.images.get(config.image);
    this.containers.set(id, {
      config: structuredClone(config),
      sandboxConfig: structuredClone(sandboxConfig),
      status: {
        id,
        podSandboxId,
        metadata: { ...config.metadata },
        state: 'created',
        createdAt: this.now(),
        startedAt: 0,
        finishedAt: 0,
        exitCode: 0,
        reason: '',
        message: '',
        image: config.image,
        imageRef: image?.id ?? '',
        logPath: `${sandboxConfig.logDirectory}/${config.logPath}`,
        labels: { ...config.labels },
        annotations: { ...config.annotations },
      },
    });
    return id;
  }

  async startContainer(id: string): Promise<void> {
    this.call('startContainer', this.describe(id));
    const c = this.containers.get(id);
    if (!c) throw new RuntimeError('NotFound', `container ${id} not found`);
    c.status.state = 'running';
    c.status.startedAt = this.now();
    const exit = this.onStart?.(c.config, c.sandboxConfig);
    if (exit) this.finish(c.status, exit.exitCode, exit.reason ?? (exit.exitCode === 0 ? 'Completed' : 'Error'));
  }

  async stopContainer(id: string, timeoutSeconds: number): Promise<void> {
    this.call('stopContainer', `${this.describe(id)} ${timeoutSeconds}s`);
    const c = this.containers.get(id);
    if (c && c.status.state === 'running') this.finish(c.status, timeoutSeconds > 0 ? 143 : 137, 'Error');
  }

  async removeContainer(id: string): Promise<void> {
    this.call('removeContainer', this.describe(id));
    this.containers.delete(id);
  }

  async listContainers(filter: ContainerFilter = {}): Promise<ContainerStatus[]> {
    this.call('listContainers', '');
    return [...this.containers.values()]
      .map((c) => c.status)
      .filter((s) => (!filter.id || s.id === filter.id) && (!filter.podSandboxId || s.podSandboxId === filter.podSandboxId) && (!filter.state || s.state === filter.state) && labelsMatch(s.labels, filter.labels))
      .map((s) => structuredClone(s));
  }

  async containerStatus(id: string): Promise<ContainerStatus | undefined> {
    const c = this.containers.get(id);
    return c ? structuredClone(c.status) : undefined;
  }

  async execSync(id: string, cmd: string[], _timeoutMs: number): Promise<ExecSyncResult> {
    this.call('execSync', `${this.describe(id)} ${cmd.join(' ')}`);
    return this.onExec?.(id, cmd) ?? { exitCode: 0, stdout: Buffer.alloc(0), stderr: Buffer.alloc(0), timedOut: false };
  }

  async exec(_id: string, _cmd: string[], _options: StreamOptions): Promise<StreamSession> {
    throw new RuntimeError('Unsupported', 'the fake runtime does not stream');
  }

  async attach(_id: string, _options: StreamOptions): Promise<StreamSession> {
    throw new RuntimeError('Unsupported', 'the fake runtime does not stream');
  }

  async portForward(_podSandboxId: string, _port: number): Promise<Duplex> {
    return new PassThrough();
  }

  async containerStats(id: string): Promise<ContainerStats | undefined> {
    return this.containers.has(id) ? { id } : undefined;
  }

  async podSandboxStats(id: string): Promise<PodSandboxStats | undefined> {
    return this.sandboxes.has(id) ? { id, containers: [] } : undefined;
  }

  async close(): Promise<void> {
    this.closed = true;
  }
}

function labelsMatch(labels: Record<string, string>, want: Record<string, string> | undefined): boolean {
  if (!want) return true;
  return Object.entries(want).every(([k, v]) => labels[k] === v);
}
