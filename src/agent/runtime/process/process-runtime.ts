/**
 * ProcessRuntime: containers as host processes (Nomad's exec driver idea). The image is never pulled or unpacked: the
 * host's filesystem is every container's root filesystem and the container's `command` runs from it. As root each pod
 * gets its own ipc, uts and mount namespaces (and a network namespace wired by PodNetwork when one is given), each
 * container a mount and pid namespace of its own (the pod's pid namespace with shareProcessNamespace), containerd's
 * default capabilities and a cgroup with its limits; without root containers are plain processes (README.md says what
 * that loses).
 *
 * The lifecycle lives in a supervisor process (process-shim.ts) so containers survive the agent; this object is its
 * client, plus what needs no supervisor: exec, port-forward and the pod network calls.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readlinkSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { Duplex, PassThrough } from 'node:stream';
import { constants as osConstants } from 'node:os';
import { createLogger } from '../../../log/logger.js';
import { addHelperRunner } from '../../network/exec-thread.js';
import type { PodNetwork } from '../../network/types.js';
import {
  isRuntimeError,
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
  type RuntimeObjectState,
  type RuntimeVersion,
  type SandboxFilter,
  type StreamOptions,
  type StreamSession,
  type TerminalSize,
} from '../types.js';
import { detectCgroupLayout } from './cgroups.js';
import { processTree, signal } from './proc.js';
import { ShimClient } from './shim-client.js';
import { encodeFrame, FrameDecoder, FrameKind, type ContainerRecord, type ExecContext, type RecordFilter, type SandboxRecord, type ShimStats } from './shim-protocol.js';
import { portForwardPlan, SCRIPT, workloadPlan } from './spawn-plan.js';

/** The RuntimeClass handler this runtime answers to (a RuntimeClass with `handler: process`); '' is the same. */
export const PROCESS_RUNTIME_HANDLER = 'process';

const log = createLogger('process-runtime');

export const PROCESS_RUNTIME_VERSION = '0.1.0';

export interface ProcessRuntimeOptions {
  /** The supervisor's state and socket, e.g. <data-dir>/agent/process. At most ~96 bytes (unix socket path limit). */
  stateDir: string;
  /** Pod networking for sandboxes that are not hostNetwork; absent (or not root): every pod uses the host network. */
  network?: PodNetwork;
  /** Top cgroup for pods whose sandbox config names no cgroupParent, and the level empty parents are removed up to. */
  cgroupRoot?: string;
  /** Log rotation of the containers it creates (--container-log-max-size, --container-log-max-files; kubelet's defaults). */
  containerLog?: { maxSizeBytes?: number; maxFiles?: number };
}

export class ProcessRuntime implements ContainerRuntime {
  readonly name = 'process' as const;
  readonly capabilities: RuntimeCapabilities;
  private readonly shim: ShimClient;
  private readonly network: PodNetwork | undefined;
  private readonly root: boolean;
  private readonly containerLog: { maxSizeBytes?: number; maxFiles?: number } | undefined;

  constructor(options: ProcessRuntimeOptions) {
    this.containerLog = options.containerLog;
    this.root = process.geteuid?.() === 0;
    this.network = options.network;
    const cgroups = this.root && detectCgroupLayout() !== undefined;
    this.capabilities = {
      images: false,
      podNetwork: this.root && options.network !== undefined,
      resourceLimits: cgroups,
      tty: existsSync(SCRIPT),
    };
    this.shim = new ShimClient({ stateDir: options.stateDir, cgroupRoot: options.cgroupRoot ?? 'skiff-kubepods' });
    // The agent's helpers (CNI plugins, the volumes' tmpfs mounts) are spawned by the supervisor: a fork of this big
    // process stalls it and costs ~2.4 ms of CPU each (network/exec-thread.ts). Root only: without root the agent runs
    // no such helpers. A supervisor that does not know `run` (older) is asked no more.
    if (this.root) {
      this.removeRunner = addHelperRunner(async (request) => {
        try {
          return await this.shim.request('run', request);
        } catch (err) {
          if (isRuntimeError(err, 'Unsupported')) this.removeRunner?.();
          throw err;
        }
      });
    }
  }

  private removeRunner: (() => void) | undefined;

  async version(): Promise<RuntimeVersion> {
    return { runtimeName: 'process', runtimeVersion: PROCESS_RUNTIME_VERSION, runtimeApiVersion: 'v1' };
  }

  async status(): Promise<RuntimeCondition[]> {
    const conditions: RuntimeCondition[] = [];
    try {
      await this.shim.request('ping', {});
      conditions.push({ type: 'RuntimeReady', status: true });
    } catch (err) {
      conditions.push({ type: 'RuntimeReady', status: false, reason: 'SupervisorUnavailable', message: (err as Error).message });
    }
    // Pods fall back to the host network rather than failing, so the node's network is ready either way.
    const net = await this.networkStatus();
    conditions.push({ type: 'NetworkReady', status: true, ...(net.ready ? {} : { reason: 'HostNetworkOnly', message: net.message }) });
    return conditions;
  }

  private async networkStatus(): Promise<{ ready: boolean; message?: string }> {
    if (!this.root) return { ready: false, message: 'pods use the host network: the process runtime needs root for network namespaces' };
    if (this.network === undefined) return { ready: false, message: 'pods use the host network: no pod network is configured' };
    try {
      return await this.network.status();
    } catch (err) {
      return { ready: false, message: `pods use the host network: ${(err as Error).message}` };
    }
  }

  // ---- sandboxes ----

  async runPodSandbox(config: PodSandboxConfig): Promise<string> {
    // One handler only: a RuntimeClass naming another (runc, crun, kata, ...) needs a CRI runtime that has it.
    if (config.runtimeHandler && config.runtimeHandler !== PROCESS_RUNTIME_HANDLER) {
      throw new RuntimeError(
        'Unsupported',
        `no runtime for ${JSON.stringify(config.runtimeHandler)} is configured: the process runtime runs pods with its own handler "${PROCESS_RUNTIME_HANDLER}" only (start the node with --runtime cri for other RuntimeClass handlers)`,
      );
    }
    const id = randomBytes(16).toString('hex');
    const net = config.hostNetwork ? { ready: false } : await this.networkStatus();
    const rec = await this.shim.request('runSandbox', { id, config, podNetwork: net.ready, networkMessage: net.message });
    if (rec.namespaces.net && this.network !== undefined) {
      const request = this.networkRequest(rec);
      try {
        const result = await this.network.setUp(request);
        await this.shim.request('setSandboxNetwork', { id, ip: result.ips[0], additionalIps: result.ips.slice(1), network: 'pod', networkAttached: true });
      } catch (err) {
        await this.network.tearDown(request).catch((e: unknown) => log.warn('network teardown after a failed setup failed', { key: id, err: e }));
        await this.shim.request('removeSandbox', { id });
        throw new RuntimeError('Network', `pod sandbox ${config.metadata.namespace}/${config.metadata.name}: network setup failed: ${(err as Error).message}`);
      }
    }
    return id;
  }

  private networkRequest(rec: SandboxRecord) {
    const m = rec.config.metadata;
    return { sandboxId: rec.id, netnsPath: `/proc/${rec.initPid}/ns/net`, podName: m.name, podNamespace: m.namespace, podUid: m.uid, portMappings: rec.config.portMappings };
  }

  async stopPodSandbox(id: string): Promise<void> {
    const rec = (await this.shim.request('listSandboxes', { id })).find((s) => s.id === id);
    if (rec === undefined) return;
    if (rec.networkAttached && this.network !== undefined) {
      // Before the namespace holder dies: CNI DEL needs the namespace path to still resolve.
      await this.network.tearDown(this.networkRequest(rec));
      await this.shim.request('setSandboxNetwork', { id, ip: rec.ip, additionalIps: rec.additionalIps, network: rec.network, networkAttached: false });
    }
    await this.shim.request('stopSandbox', { id });
  }

  async removePodSandbox(id: string): Promise<void> {
    await this.stopPodSandbox(id);
    await this.shim.request('removeSandbox', { id });
  }

  async podSandboxStatus(id: string): Promise<PodSandboxStatus | undefined> {
    return (await this.listPodSandboxes({ id }))[0];
  }

  /** What the kubelet's relist compares: ids, states and labels only (a supervisor older than the op answers with lists). */
  async listStates(): Promise<RuntimeObjectState[]> {
    try {
      return await this.shim.request('listStates', {});
    } catch (err) {
      if (!isRuntimeError(err, 'Unsupported')) throw err;
      const [sandboxes, containers] = await Promise.all([this.listPodSandboxes(), this.listContainers()]);
      return [...sandboxes, ...containers].map((x) => ({ id: x.id, state: x.state, labels: x.labels }));
    }
  }

  async listPodSandboxes(filter?: SandboxFilter): Promise<PodSandboxStatus[]> {
    return (await this.shim.request('listSandboxes', recordFilter(filter))).map(toSandboxStatus).filter((s) => matchesSandbox(s, filter));
  }

  // ---- images: there are none ----

  /**
   * The process runtime pulls nothing: the host's filesystem is the root filesystem of every container, and the image
   * name is only recorded. The reference returned (`process://<image>`) becomes the pod status imageID.
   */
  async pullImage(image: ImageSpec, _auth?: AuthConfig): Promise<string> {
    return `process://${image.image}`;
  }

  async imageStatus(image: ImageSpec): Promise<Image | undefined> {
    return { id: `process://${image.image}`, repoTags: [image.image], repoDigests: [], size: 0 };
  }

  async listImages(): Promise<Image[]> {
    return [];
  }

  async removeImage(_image: ImageSpec): Promise<void> {}

  // ---- containers ----

  async createContainer(podSandboxId: string, config: ContainerConfig, sandboxConfig: PodSandboxConfig): Promise<string> {
    if (config.command.length === 0) {
      throw new RuntimeError(
        'CreateContainerConfig',
        `container ${JSON.stringify(config.metadata.name)} has no command: the process runtime runs a command from the host's filesystem and does not unpack image ${JSON.stringify(config.image)}; set command in the pod spec, or run images with the cri runtime (containerd: --runtime cri)`,
      );
    }
    const id = randomBytes(16).toString('hex');
    await this.shim.request('createContainer', {
      id,
      sandboxId: podSandboxId,
      config,
      logPath: join(sandboxConfig.logDirectory, config.logPath),
      imageRef: `process://${config.image}`,
      ...(this.containerLog ? { logPolicy: this.containerLog } : {}),
    });
    return id;
  }

  async startContainer(id: string): Promise<void> {
    await this.shim.request('startContainer', { id });
  }

  async stopContainer(id: string, timeoutSeconds: number): Promise<void> {
    const rec = await this.shim.request('stopContainer', { id, timeoutSeconds });
    if (rec === null) throw new RuntimeError('NotFound', `container ${JSON.stringify(id)} not found`);
  }

  async removeContainer(id: string): Promise<void> {
    await this.shim.request('removeContainer', { id });
  }

  async listContainers(filter?: ContainerFilter): Promise<ContainerStatus[]> {
    const podSandboxId = filter?.podSandboxId;
    return (await this.shim.request('listContainers', { ...recordFilter(filter), ...(podSandboxId !== undefined ? { podSandboxId } : {}) }))
      .map(toContainerStatus)
      .filter((c) => matchesContainer(c, filter));
  }

  async containerStatus(id: string): Promise<ContainerStatus | undefined> {
    return (await this.listContainers({ id }))[0];
  }

  // ---- exec, attach, port-forward ----

  private async execContext(id: string): Promise<ExecContext> {
    const ctx = await this.shim.request('execContext', { id });
    if (!ctx.running) throw new RuntimeError('Unsupported', `container ${id} is not running`);
    return ctx;
  }

  private spawnExec(ctx: ExecContext, cmd: string[], tty: boolean, stdio: Array<'pipe' | 'ignore'>): ChildProcess {
    if (cmd.length === 0) throw new RuntimeError('Unsupported', 'exec: no command');
    // runc exec: the container's namespaces, cgroup, user and capabilities.
    const plan = workloadPlan({
      initPid: ctx.initPid,
      namespaces: ctx.namespaces,
      cgroupProcsFiles: ctx.cgroupProcsFiles,
      workingDir: ctx.workingDir,
      argv: cmd,
      tty,
      mountNsPath: ctx.mountNsPath,
      pidNsPath: ctx.pidNsPath,
      security: ctx.security,
      capabilities: ctx.capabilities,
    });
    const env = Object.fromEntries(ctx.env.map((e) => [e.name, e.value]));
    return spawn(plan.file, plan.args, { env, cwd: ctx.initPid > 0 ? '/' : ctx.workingDir, stdio: stdio as ['pipe', 'pipe', 'pipe'] });
  }

  async execSync(id: string, cmd: string[], timeoutMs: number): Promise<ExecSyncResult> {
    const ctx = await this.execContext(id);
    const child = this.spawnExec(ctx, cmd, false, ['ignore', 'pipe', 'pipe']);
    const stdout: Buffer[] = [];
    const stderr: Buffer[] = [];
    child.stdout!.on('data', (c: Buffer) => stdout.push(c));
    child.stderr!.on('data', (c: Buffer) => stderr.push(c));
    let timedOut = false;
    const timer =
      timeoutMs > 0
        ? setTimeout(() => {
            timedOut = true;
            // nsenter does not forward signals: kill the whole tree it started.
            for (const pid of processTree(child.pid!)) signal(pid, 'SIGKILL');
          }, timeoutMs)
        : undefined;
    const exitCode = await exitOf(child);
    clearTimeout(timer);
    return { exitCode, stdout: Buffer.concat(stdout), stderr: Buffer.concat(stderr), timedOut };
  }

  async exec(id: string, cmd: string[], options: StreamOptions): Promise<StreamSession> {
    const ctx = await this.execContext(id);
    const child = this.spawnExec(ctx, cmd, options.tty, [options.stdin ? 'pipe' : 'ignore', options.stdout || options.tty ? 'pipe' : 'ignore', options.stderr && !options.tty ? 'pipe' : 'ignore']);
    child.stdin?.on('error', () => undefined);
    const done = exitOf(child).then((exitCode) => ({ exitCode }));
    return {
      stdin: child.stdin ?? undefined,
      stdout: child.stdout ?? undefined,
      stderr: child.stderr ?? undefined,
      resize: (size) => (options.tty ? resizePty(child.pid!, size) : undefined),
      done,
      close: () => {
        for (const pid of processTree(child.pid!)) signal(pid, 'SIGKILL');
      },
    };
  }

  async attach(id: string, options: StreamOptions): Promise<StreamSession> {
    const socket = await this.shim.openAttach({ id, stdin: options.stdin, stdout: options.stdout, stderr: options.stderr && !options.tty });
    const stdout = options.stdout ? new PassThrough() : undefined;
    const stderr = options.stderr && !options.tty ? new PassThrough() : undefined;
    let settle!: (r: { exitCode: number }) => void;
    const done = new Promise<{ exitCode: number }>((resolve) => (settle = resolve));
    let exitCode = -1;
    const decoder = new FrameDecoder((kind, payload) => {
      if (kind === FrameKind.Stdout) stdout?.write(payload);
      else if (kind === FrameKind.Stderr) stderr?.write(payload);
      else if (kind === FrameKind.Exit) exitCode = (JSON.parse(payload.toString()) as { exitCode: number }).exitCode;
    });
    socket.on('data', (c: Buffer) => decoder.push(c));
    socket.on('error', () => undefined);
    socket.on('close', () => {
      stdout?.end();
      stderr?.end();
      settle({ exitCode: exitCode < 0 ? 0 : exitCode });
    });
    socket.resume();
    let stdin: PassThrough | undefined;
    if (options.stdin) {
      stdin = new PassThrough();
      stdin.on('data', (c: Buffer) => socket.write(encodeFrame(FrameKind.Stdin, c)));
      stdin.on('end', () => {
        if (!socket.destroyed) socket.write(encodeFrame(FrameKind.StdinClose, Buffer.alloc(0)));
      });
    }
    return {
      stdin,
      stdout,
      stderr,
      resize: () => undefined,
      done,
      close: () => socket.destroy(),
    };
  }

  async portForward(podSandboxId: string, port: number): Promise<Duplex> {
    const rec = (await this.shim.request('listSandboxes', { id: podSandboxId })).find((s) => s.id === podSandboxId);
    if (rec === undefined) throw new RuntimeError('NotFound', `pod sandbox ${JSON.stringify(podSandboxId)} not found`);
    if (rec.state !== 'ready') throw new RuntimeError('Unsupported', `pod sandbox ${podSandboxId} is not ready`);
    if (!rec.namespaces.net || rec.initPid <= 0) return connect(port, '127.0.0.1');
    // Node cannot enter a namespace itself: a tiny Node relay runs inside the pod's network namespace.
    const plan = portForwardPlan(rec.initPid, process.execPath, port);
    const child = spawn(plan.file, plan.args, { stdio: ['pipe', 'pipe', 'pipe'] });
    const errors: Buffer[] = [];
    child.stderr.on('data', (c: Buffer) => errors.push(c));
    // Not Duplex.from: the relay exits as soon as the pod's side has closed the connection (an HTTP server after a
    // `Connection: close` response), so its stdin closes before we ended it. Duplex.from calls that 'Premature close',
    // and kubectl port-forward reported it as an error and quit ("lost connection to pod"); here it is the normal end.
    const duplex = new Duplex({
      write(chunk: Buffer, _encoding, callback) {
        if (!child.stdin.writable) return callback();
        child.stdin.write(chunk, () => callback());
      },
      final(callback) {
        child.stdin.end();
        callback();
      },
      read() {
        child.stdout.resume();
      },
      destroy(err, callback) {
        child.kill('SIGKILL');
        callback(err);
      },
    });
    child.stdin.on('error', () => undefined); // EPIPE after the relay exited: nobody is left to read it
    child.stdout.on('data', (chunk: Buffer) => {
      if (!duplex.push(chunk)) child.stdout.pause();
    });
    child.stdout.on('end', () => duplex.push(null));
    child.on('exit', (code) => {
      if (code !== 0 && code !== null) duplex.destroy(new Error(`port-forward to port ${port} failed: ${Buffer.concat(errors).toString().trim()}`));
    });
    return duplex;
  }

  // ---- stats ----

  async containerStats(id: string): Promise<ContainerStats | undefined> {
    const stats = await this.shim.request('stats', { id });
    return stats === null ? undefined : toContainerStats(id, stats);
  }

  async podSandboxStats(id: string): Promise<PodSandboxStats | undefined> {
    const stats = await this.shim.request('sandboxStats', { id });
    if (stats === null) return undefined;
    const pod = toContainerStats(id, stats.sandbox);
    return { id, cpu: pod.cpu, memory: pod.memory, processCount: stats.sandbox.processCount, containers: stats.containers.map((c) => toContainerStats(c.id, c)) };
  }

  async close(): Promise<void> {
    this.removeRunner?.();
    this.shim.close();
  }

  /**
   * Stops the supervisor. With killAll every container and sandbox goes first (uninstall, tests); without, containers
   * keep running and the next ProcessRuntime on this state directory starts a supervisor that re-adopts them.
   */
  async shutdownSupervisor(options: { killAll: boolean }): Promise<void> {
    // A helper run after this would start a new supervisor: helpers run in the agent from now on.
    this.removeRunner?.();
    try {
      await this.shim.request('shutdown', options);
    } catch (err) {
      if (!(err instanceof RuntimeError && err.code === 'Unavailable')) throw err;
    }
  }
}

function exitOf(child: ChildProcess): Promise<number> {
  return new Promise((resolve) => {
    child.once('error', () => resolve(127));
    child.once('close', (code, sig) => resolve(code ?? 128 + (sig === null ? 0 : signalNumber(sig))));
  });
}

function signalNumber(sig: NodeJS.Signals): number {
  return osConstants.signals[sig] ?? 0;
}

/**
 * `script` gives the command a pseudo-terminal but does not pass window sizes on (its input is a pipe). The size is set
 * on the terminal itself: the kernel then sends SIGWINCH to the foreground process, as a resize of a real terminal does.
 */
function resizePty(rootPid: number, size: TerminalSize): void {
  for (const pid of processTree(rootPid)) {
    let target: string;
    try {
      target = readlinkSync(`/proc/${pid}/fd/0`);
    } catch {
      continue;
    }
    if (!target.startsWith('/dev/pts/')) continue;
    const result = spawnSync('stty', ['-F', target, 'rows', String(size.height), 'cols', String(size.width)], { stdio: 'ignore' });
    if (result.status !== 0) log.debug('resize failed', { tty: target });
    return;
  }
}

function toSandboxStatus(rec: SandboxRecord): PodSandboxStatus {
  return {
    id: rec.id,
    metadata: rec.config.metadata,
    state: rec.state,
    createdAt: rec.createdAt,
    ip: rec.ip,
    additionalIps: rec.additionalIps,
    network: rec.network,
    networkMessage: rec.networkMessage,
    labels: rec.config.labels,
    annotations: rec.config.annotations,
  };
}

function toContainerStatus(rec: ContainerRecord): ContainerStatus {
  return {
    id: rec.id,
    podSandboxId: rec.sandboxId,
    metadata: rec.config.metadata,
    state: rec.state,
    createdAt: rec.createdAt,
    startedAt: rec.startedAt,
    finishedAt: rec.finishedAt,
    exitCode: rec.exitCode,
    reason: rec.reason,
    message: rec.message,
    image: rec.config.image,
    imageRef: rec.imageRef,
    logPath: rec.logPath,
    labels: rec.config.labels,
    annotations: rec.config.annotations,
  };
}

function toContainerStats(id: string, s: ShimStats): ContainerStats {
  return {
    id,
    cpu: s.cpuNs === undefined ? undefined : { usageCoreNanoSeconds: s.cpuNs, timestamp: s.timestamp },
    memory: s.memory === undefined ? undefined : { ...s.memory, timestamp: s.timestamp },
  };
}

function labelsMatch(labels: Record<string, string>, selector: Record<string, string> | undefined): boolean {
  return selector === undefined || Object.entries(selector).every(([k, v]) => labels[k] === v);
}

/** The part of a filter the supervisor applies (it answers with fewer records; matches* still decide). */
function recordFilter(filter: SandboxFilter | ContainerFilter | undefined): RecordFilter {
  return { ...(filter?.id !== undefined ? { id: filter.id } : {}), ...(filter?.labels !== undefined ? { labels: filter.labels } : {}) };
}

export function matchesSandbox(s: PodSandboxStatus, filter: SandboxFilter | undefined): boolean {
  if (filter === undefined) return true;
  return (filter.id === undefined || s.id === filter.id) && (filter.state === undefined || s.state === filter.state) && labelsMatch(s.labels, filter.labels);
}

export function matchesContainer(c: ContainerStatus, filter: ContainerFilter | undefined): boolean {
  if (filter === undefined) return true;
  return (
    (filter.id === undefined || c.id === filter.id) &&
    (filter.podSandboxId === undefined || c.podSandboxId === filter.podSandboxId) &&
    (filter.state === undefined || c.state === filter.state) &&
    labelsMatch(c.labels, filter.labels)
  );
}
