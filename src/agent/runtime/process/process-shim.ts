/**
 * ProcessShim: the supervisor behind the process runtime, one detached Node process per state directory. It is the
 * parent of every pod's namespace holder and every container, so it sees their exit statuses; it writes their output to
 * CRI log files; it keeps each sandbox and container as a JSON file so that a restarted agent (a new ProcessRuntime)
 * finds everything as it was, and a restarted supervisor re-adopts what still runs (by pid and start time).
 *
 * One process for all containers instead of one per container (containerd's shim-per-pod) keeps memory flat: a Node
 * process costs ~40 MB, a pipe and a log writer per container a few KB.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { accessSync, constants, mkdirSync, readdirSync, readFileSync, realpathSync, renameSync, rmSync, statSync, writeFileSync, chmodSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import type { Readable } from 'node:stream';
import { constants as osConstants } from 'node:os';
import { delimiter, isAbsolute, join } from 'node:path';
import { createLogger } from '../../../log/logger.js';
import { ContainerLogWriter } from '../../logs/container-log-writer.js';
import { runHelperHere } from '../../network/exec-thread.js';
import { RuntimeError, type ContainerConfig, type DnsConfig } from '../types.js';
import { containerCapabilities } from './capabilities.js';
import { Cgroup, detectCgroupLayout, type CgroupLayout } from './cgroups.js';
import { HostMountPoints } from './mount-points.js';
import { childrenOf, isSameProcess, processGroupOf, processTree, signal, startTicks } from './proc.js';
import {
  encodeFrame,
  FrameDecoder,
  FrameKind,
  SHIM_PROTOCOL_VERSION,
  type ContainerRecord,
  type ExecContext,
  type RecordFilter,
  type SandboxRecord,
  type ShimRequest,
  type ShimRequests,
  type ShimResponse,
  type ShimStats,
} from './shim-protocol.js';
import { sandboxPlan, UNSHARE_SIGKILL_MESSAGE, workloadPlan, type PidNamespaceMode } from './spawn-plan.js';

const log = createLogger('process-shim');

export interface ProcessShimOptions {
  stateDir: string;
  /** Namespaces and cgroups need root; without it containers are plain processes. Default: euid 0. */
  rootMode?: boolean;
  /** Cgroup for sandboxes whose config has no cgroupParent: /<cgroupRoot>/pod<uid>. */
  cgroupRoot: string;
}

const DEFAULT_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
/** How often containers adopted after a supervisor restart (not our children) are checked for exit. */
const ADOPTED_POLL_MS = 1000;
/** A sweep of created mount points runs this long after the last container exit or removal (exits come in bursts). */
const MOUNT_POINT_SWEEP_DELAY_MS = 250;
/** Mount points still mounted somewhere are looked at again this many times, 1 s, 2 s, 4 s later (a dying namespace). */
const MOUNT_POINT_SWEEP_RETRIES = 3;
/** A container started this recently may not have mounted its volumes yet: its mount points count as in use. */
const MOUNTING_GRACE_MS = 5000;

interface LiveContainer {
  child?: ChildProcess;
  writer?: ContainerLogWriter;
  attachments: Set<Socket>;
  exitWaiters: Array<() => void>;
  adoptedTimer?: NodeJS.Timeout;
}

export class ProcessShim {
  readonly stateDir: string;
  readonly rootMode: boolean;
  private readonly cgroupRoot: string;
  private readonly layout: CgroupLayout | undefined;
  private readonly sandboxes = new Map<string, SandboxRecord>();
  private readonly containers = new Map<string, ContainerRecord>();
  private readonly live = new Map<string, LiveContainer>();
  private readonly holders = new Map<string, ChildProcess>();
  private server: Server | undefined;
  private readonly sockets = new Set<Socket>();
  /** Mount points this supervisor created on the host (root only), removed once nothing mounts there. */
  private readonly mountPoints: HostMountPoints | undefined;
  private sweepTimer: NodeJS.Timeout | undefined;
  private sweepRetries = 0;

  constructor(options: ProcessShimOptions) {
    this.stateDir = options.stateDir;
    this.rootMode = options.rootMode ?? process.geteuid?.() === 0;
    this.cgroupRoot = `/${options.cgroupRoot.replace(/^\/+|\/+$/g, '')}`;
    this.layout = this.rootMode ? detectCgroupLayout() : undefined;
    mkdirSync(join(this.stateDir, 'sandboxes'), { recursive: true });
    mkdirSync(join(this.stateDir, 'containers'), { recursive: true });
    this.mountPoints = this.rootMode ? new HostMountPoints(this.stateDir) : undefined;
    this.recover();
    if (this.mountPoints?.list().length) this.scheduleMountPointSweep();
  }

  get socketPath(): string {
    return join(this.stateDir, 'shim.sock');
  }

  /** Listens on <stateDir>/shim.sock (mode 0600: whoever connects can run commands as this user). */
  async listen(): Promise<void> {
    rmSync(this.socketPath, { force: true });
    const server = createServer((socket) => this.serve(socket));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.socketPath, () => resolve());
    });
    chmodSync(this.socketPath, 0o600);
    this.server = server;
    writeFileSync(join(this.stateDir, 'shim.pid'), `${process.pid}\n`);
  }

  async close(): Promise<void> {
    if (this.sweepTimer) clearTimeout(this.sweepTimer);
    for (const live of this.live.values()) {
      if (live.adoptedTimer) clearInterval(live.adoptedTimer);
      live.writer?.close();
    }
    for (const socket of this.sockets) socket.destroy();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }

  // ---- recovery ----

  private recover(): void {
    for (const rec of readRecords<SandboxRecord>(join(this.stateDir, 'sandboxes'))) {
      this.sandboxes.set(rec.id, rec);
      if (rec.state === 'ready' && rec.initPid > 0 && !isSameProcess(rec.initPid, rec.initStartTicks)) {
        rec.state = 'notready';
        this.saveSandbox(rec);
      }
    }
    for (const rec of readRecords<ContainerRecord>(join(this.stateDir, 'containers'))) {
      this.containers.set(rec.id, rec);
      if (rec.state !== 'running') continue;
      const live = this.liveOf(rec.id);
      if (isSameProcess(rec.pid, rec.pidStartTicks)) {
        // Not our child any more: poll for its end. Its output pipes died with the previous supervisor.
        live.adoptedTimer = setInterval(() => {
          if (!isSameProcess(rec.pid, rec.pidStartTicks)) this.adoptedExited(rec);
        }, ADOPTED_POLL_MS);
        live.adoptedTimer.unref();
        log.info('re-adopted a running container', { key: rec.id, pid: rec.pid });
      } else {
        this.adoptedExited(rec);
      }
    }
  }

  private adoptedExited(rec: ContainerRecord): void {
    const live = this.liveOf(rec.id);
    if (live.adoptedTimer) clearInterval(live.adoptedTimer);
    live.adoptedTimer = undefined;
    const oom = this.cgroupOf(rec)?.oomKills() ?? 0;
    // The exit status went to the previous supervisor; containerd reports such containers with exit code 255 too.
    this.finish(rec, 255, oom > 0 ? 'OOMKilled' : 'Error', 'the process runtime supervisor restarted while the container ran; its exit status is unknown');
  }

  // ---- serving ----

  private serve(socket: Socket): void {
    this.sockets.add(socket);
    socket.on('close', () => this.sockets.delete(socket));
    socket.on('error', () => undefined);
    let buffered = '';
    const onData = (chunk: Buffer) => {
      buffered += chunk.toString('utf8');
      let nl: number;
      while ((nl = buffered.indexOf('\n')) >= 0) {
        const line = buffered.slice(0, nl);
        buffered = buffered.slice(nl + 1);
        let request: ShimRequest;
        try {
          request = JSON.parse(line) as ShimRequest;
        } catch {
          socket.destroy();
          return;
        }
        if (request.op === 'attach') {
          // The connection becomes an attach stream: no more JSON lines on it.
          socket.off('data', onData);
          this.attach(socket, request, Buffer.from(buffered));
          return;
        }
        void this.dispatch(request).then((response) => {
          if (!socket.destroyed) socket.write(`${JSON.stringify(response)}\n`);
          if (request.op === 'shutdown' && response.ok) setImmediate(() => void this.close().then(() => process.exit(0)));
        });
      }
    };
    socket.on('data', onData);
  }

  private async dispatch(request: ShimRequest): Promise<ShimResponse> {
    try {
      const handler = (this.handlers as Record<string, (args: unknown) => unknown>)[request.op];
      if (handler === undefined) throw new RuntimeError('Unsupported', `process runtime supervisor: unknown operation ${JSON.stringify(request.op)}`);
      const result = await handler.call(this, request.args ?? {});
      return { id: request.id, ok: true, result: result ?? null };
    } catch (err) {
      if (err instanceof RuntimeError) return { id: request.id, ok: false, error: { code: err.code, message: err.message } };
      log.error('request failed', { op: request.op, err });
      return { id: request.id, ok: false, error: { code: 'Internal', message: err instanceof Error ? err.message : String(err) } };
    }
  }

  private readonly handlers: { [K in Exclude<keyof ShimRequests, 'attach'>]: (args: ShimRequests[K][0]) => Promise<ShimRequests[K][1]> | ShimRequests[K][1] } = {
    ping: () => ({ pid: process.pid, version: SHIM_PROTOCOL_VERSION, rootMode: this.rootMode, cgroupVersion: this.layout?.version ?? 0 }),
    runSandbox: (args) => this.runSandbox(args.id, args.config, args.podNetwork, args.networkMessage),
    setSandboxNetwork: (args) => {
      const rec = this.sandbox(args.id);
      Object.assign(rec, { ip: args.ip, additionalIps: args.additionalIps, network: args.network, networkMessage: args.networkMessage, networkAttached: args.networkAttached });
      this.saveSandbox(rec);
      return rec;
    },
    stopSandbox: (args) => this.stopSandbox(args.id),
    removeSandbox: (args) => this.removeSandbox(args.id),
    listSandboxes: (args) => [...this.sandboxes.values()].filter((r) => recordMatches(r, args)),
    createContainer: (args) => this.createContainer(args),
    startContainer: (args) => this.startContainer(args.id),
    stopContainer: (args) => this.stopContainer(args.id, args.timeoutSeconds),
    removeContainer: (args) => this.removeContainer(args.id),
    listContainers: (args) => [...this.containers.values()].filter((r) => recordMatches(r, args) && (args.podSandboxId === undefined || r.sandboxId === args.podSandboxId)),
    listStates: () => [...[...this.sandboxes.values()], ...[...this.containers.values()]].map((r) => ({ id: r.id, state: r.state, labels: r.config.labels })),
    execContext: (args) => this.execContext(args.id),
    stats: (args) => {
      const rec = this.containers.get(args.id);
      return rec === undefined ? null : this.statsOf(this.cgroupOf(rec), rec.state === 'running');
    },
    sandboxStats: (args) => {
      const rec = this.sandboxes.get(args.id);
      if (rec === undefined) return null;
      const sandbox = this.statsOf(rec.cgroupPath === undefined || this.layout === undefined ? undefined : new Cgroup(this.layout, rec.cgroupPath), rec.state === 'ready');
      const containers = [...this.containers.values()].filter((c) => c.sandboxId === rec.id).map((c) => ({ id: c.id, ...this.statsOf(this.cgroupOf(c), c.state === 'running') }));
      return { sandbox, containers };
    },
    run: (args) => runHelperHere(args),
    shutdown: async (args) => {
      if (args.killAll) {
        for (const id of [...this.sandboxes.keys()]) await this.removeSandbox(id);
        for (const id of [...this.containers.keys()]) await this.removeContainer(id);
        // The mount points go too, once the killed containers' mount namespaces are gone (a path another agent's
        // container still mounts stays: it is looked at every 100 ms for 3 s, then left).
        for (let i = 0; i < 30 && this.sweepMountPoints().busy.length > 0; i++) await sleep(100);
      }
      return null;
    },
  };

  // ---- sandboxes ----

  private sandbox(id: string): SandboxRecord {
    const rec = this.sandboxes.get(id);
    if (rec === undefined) throw new RuntimeError('NotFound', `pod sandbox ${JSON.stringify(id)} not found`);
    return rec;
  }

  private async runSandbox(id: string, config: SandboxRecord['config'], podNetwork: boolean, networkMessage?: string): Promise<SandboxRecord> {
    if (this.sandboxes.has(id)) throw new RuntimeError('CreateContainer', `pod sandbox ${JSON.stringify(id)} already exists`);
    const root = this.rootMode;
    const namespaces = { pid: root && !config.hostPID, ipc: root && !config.hostIPC, uts: root, mount: root, net: root && podNetwork && !config.hostNetwork };
    const rec: SandboxRecord = {
      id,
      config,
      createdAt: Date.now(),
      state: 'ready',
      initPid: 0,
      initStartTicks: 0,
      namespaces,
      network: namespaces.net ? 'pod' : 'host',
      networkMessage: namespaces.net || config.hostNetwork ? undefined : networkMessage,
      additionalIps: [],
      networkAttached: false,
    };
    if (this.layout !== undefined) {
      rec.cgroupPath = config.cgroupParent !== '' ? `/${config.cgroupParent.replace(/^\/+|\/+$/g, '')}` : `${this.cgroupRoot}/pod${config.metadata.uid}`;
      try {
        const cg = new Cgroup(this.layout, rec.cgroupPath);
        cg.create();
        if (config.resources) cg.setResources(config.resources);
      } catch (err) {
        throw new RuntimeError('CreateContainer', `pod sandbox ${config.metadata.namespace}/${config.metadata.name}: cgroup ${rec.cgroupPath}: ${(err as Error).message}`);
      }
    }
    if (namespaces.mount && config.dnsConfig !== undefined) {
      const text = resolvConf(config.dnsConfig);
      if (text !== undefined) {
        rec.resolvConfPath = join(this.stateDir, 'sandboxes', id, 'resolv.conf');
        mkdirSync(join(this.stateDir, 'sandboxes', id), { recursive: true });
        writeFileSync(rec.resolvConfPath, text, { mode: 0o644 });
      }
    }
    if (root) {
      const plan = sandboxPlan(namespaces, config.hostname, rec.resolvConfPath);
      const holder = spawn(plan.file, plan.args, { detached: true, stdio: ['ignore', 'pipe', 'pipe'], cwd: '/' });
      try {
        await waitForReady(holder);
        // With a pid namespace unshare forks: the namespaces belong to its child, pid 1 inside.
        const initPid = namespaces.pid ? await firstChild(holder.pid!) : holder.pid!;
        rec.initPid = initPid;
        rec.initStartTicks = startTicks(initPid) ?? 0;
      } catch (err) {
        holder.kill('SIGKILL');
        this.cgroupFor(rec.cgroupPath)?.remove();
        rmSync(join(this.stateDir, 'sandboxes', id), { recursive: true, force: true });
        throw new RuntimeError('CreateContainer', `pod sandbox ${config.metadata.namespace}/${config.metadata.name}: namespaces: ${(err as Error).message}`);
      }
      holder.stdout?.destroy();
      holder.stderr?.destroy();
      holder.on('exit', () => {
        this.holders.delete(id);
        const current = this.sandboxes.get(id);
        if (current !== undefined && current.state === 'ready') {
          log.warn('pod namespace holder exited', { key: id });
          current.state = 'notready';
          this.saveSandbox(current);
        }
      });
      holder.unref();
      this.holders.set(id, holder);
    }
    this.sandboxes.set(id, rec);
    this.saveSandbox(rec);
    return rec;
  }

  private async stopSandbox(id: string): Promise<SandboxRecord | null> {
    const rec = this.sandboxes.get(id);
    if (rec === undefined) return null;
    // notready first: the holder's exit below is expected, not a failure to report.
    if (rec.state === 'ready') {
      rec.state = 'notready';
      this.saveSandbox(rec);
    }
    const running = [...this.containers.values()].filter((c) => c.sandboxId === id && c.state === 'running');
    await Promise.all(running.map((c) => this.stopContainer(c.id, 0)));
    if (rec.initPid > 0 && isSameProcess(rec.initPid, rec.initStartTicks)) {
      // SIGKILL to pid 1 of a pid namespace kills everything in it; the holder (unshare) then exits too. Without a pid
      // namespace (hostPID) the holder's `sleep` would outlive it: its whole process group (its own, spawned detached)
      // goes too.
      const group = processGroupOf(rec.initPid);
      signal(rec.initPid, 'SIGKILL');
      if (group !== undefined && group > 1 && group !== processGroupOf(process.pid)) signal(-group, 'SIGKILL');
      await waitUntil(() => !isSameProcess(rec.initPid, rec.initStartTicks), 5000);
    }
    const holder = this.holders.get(id);
    if (holder !== undefined && holder.exitCode === null && holder.signalCode === null) {
      holder.kill('SIGKILL');
      await new Promise((resolve) => holder.once('exit', resolve));
    }
    rec.state = 'notready';
    this.saveSandbox(rec);
    return rec;
  }

  private async removeSandbox(id: string): Promise<null> {
    const rec = this.sandboxes.get(id);
    if (rec === undefined) return null;
    await this.stopSandbox(id);
    for (const c of [...this.containers.values()]) if (c.sandboxId === id) await this.removeContainer(c.id);
    const cg = this.cgroupFor(rec.cgroupPath);
    if (cg !== undefined && !(await retry(() => cg.removeWithAncestors(this.cgroupRoot), 2000))) log.warn('pod cgroup still busy, left behind', { key: id, cgroup: rec.cgroupPath });
    this.sandboxes.delete(id);
    rmSync(join(this.stateDir, 'sandboxes', `${id}.json`), { force: true });
    rmSync(join(this.stateDir, 'sandboxes', id), { recursive: true, force: true });
    return null;
  }

  // ---- containers ----

  private container(id: string): ContainerRecord {
    const rec = this.containers.get(id);
    if (rec === undefined) throw new RuntimeError('NotFound', `container ${JSON.stringify(id)} not found`);
    return rec;
  }

  private createContainer(args: ShimRequests['createContainer'][0]): ContainerRecord {
    const sandbox = this.sandbox(args.sandboxId);
    if (sandbox.state !== 'ready') throw new RuntimeError('CreateContainer', `pod sandbox ${args.sandboxId} is not ready`);
    if (this.containers.has(args.id)) throw new RuntimeError('CreateContainer', `container ${args.id} already exists`);
    const ignoredMounts = !sandbox.namespaces.mount && args.config.mounts.some((m) => m.hostPath !== m.containerPath);
    const security = args.config.security;
    if (!this.rootMode) refuseWithoutRoot(args.config);
    let capabilities: string[] | undefined;
    // Without root there is no bounding set to drop from; privileged keeps every capability (runc does the same).
    if (this.rootMode && security?.privileged !== true) {
      try {
        capabilities = containerCapabilities(security?.capabilities);
      } catch (err) {
        throw new RuntimeError('CreateContainer', `container ${JSON.stringify(args.config.metadata.name)}: ${(err as Error).message}`);
      }
    }
    const rec: ContainerRecord = {
      id: args.id,
      sandboxId: args.sandboxId,
      config: args.config,
      logPath: args.logPath,
      ...(args.logPolicy ? { logPolicy: args.logPolicy } : {}),
      imageRef: args.imageRef,
      state: 'created',
      createdAt: Date.now(),
      startedAt: 0,
      finishedAt: 0,
      exitCode: 0,
      reason: '',
      // Without root there is no mount namespace to bind volumes in: the container sees the host's paths.
      message: ignoredMounts ? 'volume mounts ignored: the process runtime needs root for mount namespaces' : '',
      pid: 0,
      pidStartTicks: 0,
      cgroupPath: sandbox.cgroupPath === undefined ? undefined : `${sandbox.cgroupPath}/${args.id}`,
      // Kubernetes: a pid namespace per container unless shareProcessNamespace (the pod's) or hostPID (the host's).
      pidNamespace: args.config.pidTargetContainerId !== undefined && this.rootMode ? 'target' : !sandbox.namespaces.pid ? 'host' : sandbox.config.shareProcessNamespace ? 'pod' : 'container',
      ...(args.config.pidTargetContainerId !== undefined && this.rootMode ? { pidTarget: args.config.pidTargetContainerId } : {}),
      ...(capabilities !== undefined ? { capabilities } : {}),
    };
    this.containers.set(rec.id, rec);
    this.saveContainer(rec);
    return rec;
  }

  private async startContainer(id: string): Promise<ContainerRecord> {
    const rec = this.container(id);
    if (rec.state !== 'created') throw new RuntimeError('StartContainer', `container ${id} is ${rec.state}, not created`);
    const sandbox = this.sandbox(rec.sandboxId);
    const fail = (message: string): never => {
      this.finish(rec, 128, 'ContainerCannotRun', message);
      throw new RuntimeError('StartContainer', message);
    };
    if (sandbox.state !== 'ready') fail(`pod sandbox ${sandbox.id} is not ready`);
    const env = containerEnv(rec.config, sandbox.config.hostname, this.rootMode);
    const argv = [...rec.config.command, ...rec.config.args];
    const workingDir = rec.config.workingDir || '/';
    const resolved = lookPath(argv[0]!, env.PATH ?? DEFAULT_PATH);
    if (resolved === undefined) fail(`exec: ${JSON.stringify(argv[0])}: executable file not found in $PATH`);
    if (!isDirectory(workingDir)) fail(`chdir to ${JSON.stringify(workingDir)}: no such directory`);
    const cg = this.cgroupOf(rec);
    const pidNamespace = pidNamespaceOf(rec, sandbox);
    let targetPidNs: string | undefined;
    if (pidNamespace === 'target') {
      // kubectl debug --target: the target's pid namespace, entered through its running process (runc: the target's
      // /proc/<pid>/ns/pid, the same way).
      const target = this.containers.get(rec.pidTarget ?? '');
      if (target === undefined || target.state !== 'running' || target.sandboxId !== rec.sandboxId) fail(`target container ${JSON.stringify(rec.pidTarget)} is not running in pod sandbox ${sandbox.id}`);
      targetPidNs = `/proc/${await this.mainPid(target!)}/ns/pid`;
    }
    // A pid namespace of its own: fd 2 of the chain is unshare's, the workload's stderr is fd 3 (spawn-plan.ts).
    const chainStderr = sandbox.initPid > 0 && pidNamespace === 'container';
    try {
      if (cg !== undefined) {
        cg.create();
        cg.setResources(rec.config.resources);
      }
    } catch (err) {
      fail(`cgroup ${rec.cgroupPath}: ${(err as Error).message}`);
    }
    const mounts = rec.config.mounts.filter((m) => m.hostPath !== m.containerPath);
    // Missing mount points are made here, on the host, and recorded so they can go once nothing mounts there.
    if (sandbox.initPid > 0 && sandbox.namespaces.mount) this.mountPoints?.prepare(mounts);
    const plan = workloadPlan({
      initPid: sandbox.initPid,
      namespaces: sandbox.namespaces,
      cgroupProcsFiles: cg?.procsFiles() ?? [],
      workingDir,
      argv: [resolved!, ...argv.slice(1)],
      security: this.securityOf(rec),
      capabilities: rec.capabilities,
      tty: rec.config.tty,
      mounts,
      pidNamespace,
      pidNsPath: targetPidNs,
      readonlyRootfs: rec.config.security?.readonlyRootfs === true,
    });
    let writer: ContainerLogWriter;
    try {
      writer = new ContainerLogWriter({ path: rec.logPath, ...rec.logPolicy });
    } catch (err) {
      return fail(`log file ${rec.logPath}: ${(err as Error).message}`);
    }
    let child: ChildProcess;
    try {
      // detached: its own process group and session, so signals meant for the supervisor never reach containers.
      child = spawn(plan.file, plan.args, { detached: true, env, cwd: sandbox.initPid > 0 ? '/' : workingDir, stdio: [rec.config.stdin ? 'pipe' : 'ignore', 'pipe', 'pipe', ...(chainStderr ? ['pipe' as const] : [])] });
    } catch (err) {
      writer.close();
      return fail((err as Error).message);
    }
    if (child.pid === undefined) {
      writer.close();
      return fail(`spawn ${plan.file} failed`);
    }
    child.on('error', (err) => log.error('container process error', { key: id, err }));
    const live = this.liveOf(id);
    live.child = child;
    live.writer = writer;
    child.unref();
    (child.stdout as unknown as { unref?: () => void }).unref?.();
    const stderr = chainStderr ? (child.stdio[3] as Readable) : child.stderr;
    // What nsenter and unshare say themselves (a pid namespace of its own): kept apart until the end, see exit below.
    let chainText = '';
    const chainEnded = chainStderr ? new Promise<void>((resolve) => child.stderr!.on('data', (c: Buffer) => (chainText += c.toString())).once('close', () => resolve())) : Promise.resolve();
    for (const [stream, source] of [['stdout', child.stdout], ['stderr', stderr]] as const) {
      source!.on('data', (chunk: Buffer) => {
        live.writer?.write(stream, chunk);
        const frame = encodeFrame(stream === 'stdout' ? FrameKind.Stdout : FrameKind.Stderr, chunk);
        for (const s of live.attachments) s.write(frame);
      });
      source!.on('end', () => live.writer?.endStream(stream));
    }
    child.stdin?.on('error', () => undefined);
    child.on('exit', (code, sig) => {
      // Whatever the workload left behind in its cgroup goes with it (runc kills a container's remaining processes too).
      for (const pid of cg?.pids() ?? []) signal(pid, 'SIGKILL');
      void Promise.race([chainEnded, sleep(1000)]).then(() => {
        let exitCode = code ?? 128 + signalNumber(sig);
        let chain = chainText;
        if (code === 1 && chain.includes(UNSHARE_SIGKILL_MESSAGE)) {
          exitCode = 128 + signalNumber('SIGKILL');
          chain = chain.split('\n').filter((line) => !line.includes(UNSHARE_SIGKILL_MESSAGE)).join('\n');
        }
        // Anything else the chain said (nsenter or unshare failing) belongs in the container's log, as it did before.
        if (chain.trim() !== '') live.writer?.write('stderr', Buffer.from(chain.endsWith('\n') ? chain : `${chain}\n`));
        const oom = cg?.oomKills() ?? 0;
        const reason = oom > 0 ? 'OOMKilled' : exitCode === 0 ? 'Completed' : 'Error';
        this.finish(rec, exitCode, reason, rec.message);
      });
    });
    rec.pid = child.pid;
    rec.pidStartTicks = startTicks(child.pid) ?? 0;
    rec.state = 'running';
    rec.startedAt = Date.now();
    this.saveContainer(rec);
    return rec;
  }

  /** Records an exit once, wakes stop waiters, tells attached clients, closes the log once output drained. */
  private finish(rec: ContainerRecord, exitCode: number, reason: string, message: string): void {
    if (rec.state === 'exited') return;
    Object.assign(rec, { state: 'exited', exitCode, reason, message, finishedAt: Date.now() });
    this.saveContainer(rec);
    this.scheduleMountPointSweep();
    const live = this.live.get(rec.id);
    if (live === undefined) return;
    const frame = encodeFrame(FrameKind.Exit, Buffer.from(JSON.stringify({ exitCode })));
    for (const s of live.attachments) s.end(frame);
    live.attachments.clear();
    for (const wake of live.exitWaiters.splice(0)) wake();
    const child = live.child;
    const closeWriter = () => {
      live.writer?.close();
      live.writer = undefined;
    };
    if (child === undefined || child.stdio.slice(1).every((s) => (s as Readable | null)?.readableEnded !== false)) closeWriter();
    else child.once('close', closeWriter);
  }

  /**
   * The container's main process: the workload, a child of the process the supervisor spawned when that forks into a
   * pid namespace (unshare for the container's own, nsenter for the pod's); that process itself on the host's.
   */
  private async mainPid(rec: ContainerRecord): Promise<number> {
    const sandbox = this.sandboxes.get(rec.sandboxId);
    if (sandbox === undefined || sandbox.initPid <= 0 || pidNamespaceOf(rec, sandbox) === 'host') return rec.pid;
    for (let i = 0; i < 50; i++) {
      const [child] = childrenOf(rec.pid);
      if (child !== undefined) return child;
      if (!isSameProcess(rec.pid, rec.pidStartTicks)) break;
      await sleep(2);
    }
    return rec.pid;
  }

  private async stopContainer(id: string, timeoutSeconds: number): Promise<ContainerRecord | null> {
    const rec = this.containers.get(id);
    if (rec === undefined) return null;
    if (rec.state === 'created') {
      this.finish(rec, 0, 'Completed', 'stopped before it started');
      return rec;
    }
    if (rec.state !== 'running') return rec;
    const exited = this.waitExit(rec);
    if (timeoutSeconds > 0) {
      signal(await this.mainPid(rec), 'SIGTERM');
      if (await Promise.race([exited.then(() => true), sleep(timeoutSeconds * 1000).then(() => false)])) return rec;
    }
    this.killContainer(rec, 'SIGKILL');
    await Promise.race([exited, sleep(10_000)]);
    return rec;
  }

  private killContainer(rec: ContainerRecord, sig: NodeJS.Signals): void {
    const cg = this.cgroupOf(rec);
    const alive = isSameProcess(rec.pid, rec.pidStartTicks);
    if (cg === undefined) {
      // Without cgroups (not root) the workload leads its own process group.
      if (alive) signal(-rec.pid, sig);
      return;
    }
    // The workload and whatever it started, but not nsenter itself: nsenter must live to reap the workload (a zombie
    // left to the pod's pid 1 keeps the cgroup busy) and then exits with the workload's status.
    const targets = new Set(cg.pids());
    if (alive) for (const pid of processTree(rec.pid)) if (pid !== rec.pid) targets.add(pid);
    // Right at start nsenter may not have forked yet: then it is the only one to signal.
    if (targets.size === 0 && alive) targets.add(rec.pid);
    for (const pid of targets) signal(pid, sig);
  }

  private waitExit(rec: ContainerRecord): Promise<void> {
    if (rec.state !== 'running') return Promise.resolve();
    return new Promise((resolve) => this.liveOf(rec.id).exitWaiters.push(resolve));
  }

  private async removeContainer(id: string): Promise<null> {
    const rec = this.containers.get(id);
    if (rec === undefined) return null;
    if (rec.state === 'running') await this.stopContainer(id, 0);
    const live = this.live.get(id);
    if (live?.adoptedTimer) clearInterval(live.adoptedTimer);
    live?.writer?.close();
    this.live.delete(id);
    const cg = this.cgroupOf(rec);
    if (cg !== undefined && !(await retry(() => cg.remove(), 2000))) log.warn('container cgroup still busy, left behind', { key: id, cgroup: rec.cgroupPath });
    this.containers.delete(id);
    rmSync(join(this.stateDir, 'containers', `${id}.json`), { force: true });
    this.scheduleMountPointSweep();
    return null;
  }

  // ---- mount points made on the host ----

  /** A sweep soon (debounced); retried a few times while a mount point is still mounted somewhere. */
  private scheduleMountPointSweep(retry = false): void {
    if (this.mountPoints === undefined || this.mountPoints.list().length === 0) return;
    if (!retry) this.sweepRetries = 0;
    if (this.sweepTimer) clearTimeout(this.sweepTimer);
    const delay = retry ? 1000 * 2 ** (this.sweepRetries - 1) : MOUNT_POINT_SWEEP_DELAY_MS;
    this.sweepTimer = setTimeout(() => {
      this.sweepTimer = undefined;
      const { busy } = this.sweepMountPoints();
      if (busy.length > 0 && this.sweepRetries < MOUNT_POINT_SWEEP_RETRIES) {
        this.sweepRetries++;
        this.scheduleMountPointSweep(true);
      }
    }, delay);
    this.sweepTimer.unref();
  }

  private sweepMountPoints(): { removed: string[]; busy: string[] } {
    if (this.mountPoints === undefined) return { removed: [], busy: [] };
    // Containers of ours that may still be about to mount: created, or started a moment ago.
    const now = Date.now();
    const starting = [...this.containers.values()].filter((c) => c.state === 'created' || (c.state === 'running' && now - c.startedAt < MOUNTING_GRACE_MS));
    const targets = new Set(starting.flatMap((c) => c.config.mounts.map((m) => canonicalPath(m.containerPath))));
    try {
      const result = this.mountPoints.sweep((path) => targets.has(path) || [...targets].some((t) => t.startsWith(`${path}/`)));
      if (result.removed.length > 0) log.debug('removed mount points made on the host', { paths: result.removed });
      return result;
    } catch (err) {
      log.warn('removing mount points made on the host failed', { err });
      return { removed: [], busy: [] };
    }
  }

  private async execContext(id: string): Promise<ExecContext> {
    const rec = this.container(id);
    const sandbox = this.sandbox(rec.sandboxId);
    const env = containerEnv(rec.config, sandbox.config.hostname, this.rootMode);
    const pidNamespace = pidNamespaceOf(rec, sandbox);
    const ownPidNs = pidNamespace === 'container' || pidNamespace === 'target';
    const ownMounts = sandbox.namespaces.mount && rec.state === 'running' && (rec.config.mounts.some((m) => m.hostPath !== m.containerPath) || rec.config.security?.readonlyRootfs === true || ownPidNs);
    const main = ownMounts ? await this.mainPid(rec) : 0;
    return {
      mountNsPath: ownMounts ? `/proc/${main}/ns/mnt` : undefined,
      pidNsPath: ownPidNs && rec.state === 'running' ? `/proc/${main}/ns/pid` : undefined,
      capabilities: rec.capabilities,
      initPid: sandbox.state === 'ready' ? sandbox.initPid : 0,
      namespaces: sandbox.namespaces,
      cgroupProcsFiles: this.cgroupOf(rec)?.procsFiles() ?? [],
      env: Object.entries(env).map(([name, value]) => ({ name, value })),
      workingDir: rec.config.workingDir || '/',
      running: rec.state === 'running',
      security: this.securityOf(rec),
    };
  }

  /** What setpriv applies: without root only no_new_privs (the user and groups are the supervisor's, checked at create). */
  private securityOf(rec: ContainerRecord): ContainerConfig['security'] {
    const security = rec.config.security;
    if (this.rootMode || security === undefined) return security;
    return security.noNewPrivileges ? { noNewPrivileges: true } : undefined;
  }

  // ---- attach ----

  private attach(socket: Socket, request: ShimRequest, rest: Buffer): void {
    const args = request.args as ShimRequests['attach'][0];
    const rec = this.containers.get(args.id);
    const reply = (response: ShimResponse) => socket.write(`${JSON.stringify(response)}\n`);
    if (rec === undefined) return void socket.end(`${JSON.stringify({ id: request.id, ok: false, error: { code: 'NotFound', message: `container ${JSON.stringify(args.id)} not found` } })}\n`);
    if (rec.state !== 'running') return void socket.end(`${JSON.stringify({ id: request.id, ok: false, error: { code: 'Unsupported', message: `container ${args.id} is not running` } })}\n`);
    const live = this.liveOf(rec.id);
    const child = live.child;
    if (child === undefined) {
      return void socket.end(`${JSON.stringify({ id: request.id, ok: false, error: { code: 'Unsupported', message: `container ${args.id} was re-adopted after a supervisor restart: its streams are gone` } })}\n`);
    }
    reply({ id: request.id, ok: true, result: null });
    if (args.stdout || args.stderr) live.attachments.add(socket);
    socket.on('close', () => live.attachments.delete(socket));
    const decoder = new FrameDecoder((kind, payload) => {
      if (!args.stdin || child.stdin === null) return;
      if (kind === FrameKind.Stdin) child.stdin.write(payload);
      // stdinOnce: the first attach session that closes stdin closes it for the container (kubelet's StdinOnce).
      else if (kind === FrameKind.StdinClose && rec.config.stdinOnce) child.stdin.end();
    });
    socket.on('data', (chunk: Buffer) => decoder.push(chunk));
    if (rest.length > 0) decoder.push(rest);
  }

  // ---- helpers ----

  private liveOf(id: string): LiveContainer {
    let live = this.live.get(id);
    if (live === undefined) {
      live = { attachments: new Set(), exitWaiters: [] };
      this.live.set(id, live);
    }
    return live;
  }

  private cgroupFor(path: string | undefined): Cgroup | undefined {
    return path === undefined || this.layout === undefined ? undefined : new Cgroup(this.layout, path);
  }

  private cgroupOf(rec: ContainerRecord): Cgroup | undefined {
    return this.cgroupFor(rec.cgroupPath);
  }

  private statsOf(cg: Cgroup | undefined, alive: boolean): ShimStats {
    const timestamp = Date.now();
    if (cg === undefined || !alive) return { timestamp };
    return { cpuNs: cg.cpu(timestamp)?.usageCoreNanoSeconds, memory: cg.memory(timestamp), processCount: cg.processCount(), timestamp };
  }

  private saveSandbox(rec: SandboxRecord): void {
    writeAtomic(join(this.stateDir, 'sandboxes', `${rec.id}.json`), JSON.stringify(rec));
  }

  private saveContainer(rec: ContainerRecord): void {
    writeAtomic(join(this.stateDir, 'containers', `${rec.id}.json`), JSON.stringify(rec));
  }
}

/**
 * The container's environment as runc sees it under containerd: the pod's env, plus PATH (the image's would come first;
 * the host has none, so the usual default), HOSTNAME (containerd's CRI plugin adds it) and HOME for root.
 */
export function containerEnv(config: ContainerConfig, hostname: string, rootMode: boolean): Record<string, string> {
  const env: Record<string, string> = {};
  for (const { name, value } of config.env) env[name] = value;
  env.PATH ??= DEFAULT_PATH;
  if (rootMode) env.HOSTNAME ??= hostname;
  if ((config.security?.runAsUser ?? (rootMode ? 0 : undefined)) === 0) env.HOME ??= '/root';
  else if (!rootMode && process.env.HOME !== undefined) env.HOME ??= process.env.HOME;
  return env;
}

function lookPath(file: string, path: string): string | undefined {
  const executable = (p: string) => {
    try {
      accessSync(p, constants.X_OK);
      return statSync(p).isFile();
    } catch {
      return false;
    }
  };
  if (file.includes('/')) return executable(file) ? file : undefined;
  for (const dir of path.split(delimiter)) {
    if (dir === '' || !isAbsolute(dir)) continue;
    const candidate = join(dir, file);
    if (executable(candidate)) return candidate;
  }
  return undefined;
}

/** A path as mountinfo shows it: symlinks resolved where it exists, else as written. */
function canonicalPath(path: string): string {
  try {
    return realpathSync(path);
  } catch {
    return path;
  }
}

function isDirectory(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}

/**
 * Without root a container runs as the supervisor's user, on the host's root file system: a securityContext that asks
 * for another user or group, or a read-only root, cannot be honoured, and is refused (CreateContainerError) rather than
 * run as something else than the pod says.
 */
function refuseWithoutRoot(config: ContainerConfig): void {
  const security = config.security;
  const uid = process.getuid?.();
  const gid = process.getgid?.();
  const name = JSON.stringify(config.metadata.name);
  const why = `the process runtime without root runs every container as its own user (uid ${uid}, gid ${gid})`;
  if (security?.runAsUser !== undefined && security.runAsUser !== uid) throw new RuntimeError('CreateContainer', `container ${name}: runAsUser ${security.runAsUser}: ${why}`);
  const group = security?.runAsGroup ?? security?.runAsUser;
  if (security?.runAsGroup !== undefined && group !== gid) throw new RuntimeError('CreateContainer', `container ${name}: runAsGroup ${group}: ${why}`);
  if (security?.readonlyRootfs) throw new RuntimeError('CreateContainer', `container ${name}: readOnlyRootFilesystem needs a mount namespace, which the process runtime has only as root`);
}

/** The container's pid namespace; records written before per-container pid namespaces had the pod's (or the host's). */
function pidNamespaceOf(rec: ContainerRecord, sandbox: SandboxRecord): PidNamespaceMode {
  return rec.pidNamespace ?? (sandbox.namespaces.pid ? 'pod' : 'host');
}

/**
 * resolv.conf for a pod's DNS config, as containerd writes its sandbox's (pkg/cri/server/sandbox_run.go
 * parseDNSOptions): search, nameserver lines, options. undefined when the config is empty: the host's file stays.
 */
export function resolvConf(dns: DnsConfig): string | undefined {
  if (dns.servers.length === 0 && dns.searches.length === 0 && dns.options.length === 0) return undefined;
  let text = '';
  if (dns.searches.length > 0) text += `search ${dns.searches.join(' ')}\n`;
  for (const server of dns.servers) text += `nameserver ${server}\n`;
  if (dns.options.length > 0) text += `options ${dns.options.join(' ')}\n`;
  return text;
}

/** A record matches a list filter when its id is the one asked for (if any) and its config carries every label asked for. */
function recordMatches(rec: { id: string; config: { labels: Record<string, string> } }, filter: RecordFilter | undefined): boolean {
  if (filter?.id !== undefined && rec.id !== filter.id) return false;
  return Object.entries(filter?.labels ?? {}).every(([k, v]) => rec.config.labels[k] === v);
}

function readRecords<T>(dir: string): T[] {
  const out: T[] = [];
  for (const name of readdirSync(dir)) {
    if (!name.endsWith('.json')) continue;
    try {
      out.push(JSON.parse(readFileSync(join(dir, name), 'utf8')) as T);
    } catch (err) {
      log.error('unreadable state file skipped', { key: join(dir, name), err });
    }
  }
  return out;
}

function writeAtomic(path: string, text: string): void {
  const tmp = `${path}.tmp`;
  writeFileSync(tmp, text);
  renameSync(tmp, path);
}

function waitForReady(child: ChildProcess): Promise<void> {
  return new Promise((resolve, reject) => {
    let out = '';
    let err = '';
    const timer = setTimeout(() => finish(new Error(`no answer in 10 s${err ? `: ${err.trim()}` : ''}`)), 10_000);
    const finish = (error?: Error) => {
      clearTimeout(timer);
      child.stdout?.removeAllListeners('data');
      child.removeListener('exit', onExit);
      if (error) reject(error);
      else resolve();
    };
    const onExit = (code: number | null) => finish(new Error(`exited with ${code}${err ? `: ${err.trim()}` : ''}`));
    child.stdout!.on('data', (c: Buffer) => {
      out += c.toString();
      if (out.includes('ready\n')) finish();
    });
    child.stderr!.on('data', (c: Buffer) => (err += c.toString()));
    child.on('exit', onExit);
    child.on('error', (e) => finish(e));
  });
}

async function firstChild(pid: number): Promise<number> {
  for (let i = 0; i < 500; i++) {
    const [child] = childrenOf(pid);
    if (child !== undefined) return child;
    await sleep(2);
  }
  throw new Error(`no child of ${pid}`);
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

async function waitUntil(check: () => boolean, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) return false;
    await sleep(5);
  }
  return true;
}

function retry(fn: () => boolean, timeoutMs: number): Promise<boolean> {
  return waitUntil(fn, timeoutMs);
}

function signalNumber(sig: NodeJS.Signals | null): number {
  return sig === null ? 0 : (osConstants.signals[sig] ?? 0);
}
