/**
 * ManagedContainerd: the containerd skiff starts and supervises when no --container-runtime-endpoint is given (the
 * k3s way). It writes a config under `<data-dir>/agent/etc/containerd/`, starts `containerd --config`, waits until
 * the CRI socket answers Version, restarts it with back-off when it dies, and stops it (SIGTERM, then SIGKILL) with
 * the agent. Its output goes to `<data-dir>/agent/containerd/containerd.log`.
 *
 * Containers live in containerd's shims, not in containerd: killing or restarting containerd leaves them running, and
 * the new containerd picks them up again from its state dir. A containerd left over from an agent that was killed
 * (found through the pid file and its command line) is stopped before a new one starts, since both would want the
 * same root.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, openSync, closeSync, readFileSync } from 'node:fs';
import { mkdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { createLogger } from '../../../log/logger.js';
import { findBinary } from './host-requirements.js';
import { renderContainerdConfig } from './containerd-config.js';
import { CriClient } from './cri-client.js';
import { writeHostsFiles, type RegistriesConfig } from './registries.js';

/** Where it always was, for the tests and helpers that look binaries up (host-requirements.ts holds it now). */
export { findBinary };

const log = createLogger('containerd');

/** Linux's sun_path holds 108 bytes including the terminating NUL. */
const MAX_SOCKET_PATH = 107;

export interface ManagedContainerdOptions {
  /** skiff's data dir; everything containerd owns goes under `<dataDir>/agent/`. */
  dataDir: string;
  /** The pause image (--pause-image). */
  sandboxImage: string;
  cniConfDir: string;
  /** Debian's containernetworking-plugins install here (not /opt/cni/bin). */
  cniBinDir?: string;
  registries?: RegistriesConfig;
  /** The containerd binary; default: `containerd` on PATH. */
  binary?: string;
  /** Where the sockets and runtime state live; default `<dataDir>/agent/run/containerd` (must keep the socket path short). */
  stateDir?: string;
  extraRuntimes?: Record<string, string>;
  readyTimeoutMs?: number;
  stopTimeoutMs?: number;
  /** containerd dies with the agent process (setpriv --pdeathsig; default true when setpriv is installed). */
  dieWithAgent?: boolean;
  /** Restart back-off: first delay, doubled per quick death up to max; reset after `resetAfterMs` of running. */
  restartBackoff?: { initialMs: number; maxMs: number; resetAfterMs: number };
}

export class ManagedContainerd {
  readonly rootDir: string;
  readonly stateDir: string;
  readonly socketPath: string;
  readonly configDir: string;
  readonly configPath: string;
  readonly registryConfigDir: string;
  readonly logPath: string;
  readonly #pidFile: string;
  readonly #options: ManagedContainerdOptions;
  readonly #binary: string;
  #child: ChildProcess | undefined;
  #stopping = false;
  #restartTimer: NodeJS.Timeout | undefined;
  #backoffMs: number;
  #restarts = 0;
  #startedAt = 0;
  #readyWaiters: Array<() => void> = [];
  #ready = false;

  constructor(options: ManagedContainerdOptions) {
    this.#options = options;
    const binary = findBinary(options.binary ?? 'containerd');
    if (!binary) throw new Error(`managed containerd: binary ${JSON.stringify(options.binary ?? 'containerd')} not found on PATH`);
    this.#binary = binary;
    const agentDir = join(options.dataDir, 'agent');
    this.rootDir = join(agentDir, 'containerd');
    this.stateDir = options.stateDir ?? join(agentDir, 'run', 'containerd');
    this.socketPath = join(this.stateDir, 'containerd.sock');
    this.configDir = join(agentDir, 'etc', 'containerd');
    this.configPath = join(this.configDir, 'config.toml');
    this.registryConfigDir = join(this.configDir, 'certs.d');
    this.logPath = join(this.rootDir, 'containerd.log');
    this.#pidFile = join(this.rootDir, 'containerd.pid');
    this.#backoffMs = options.restartBackoff?.initialMs ?? 250;
    if (Buffer.byteLength(`${this.socketPath}.ttrpc`) > MAX_SOCKET_PATH) {
      throw new Error(`managed containerd: socket path ${this.socketPath}.ttrpc is longer than ${MAX_SOCKET_PATH} bytes; choose a shorter --data-dir or state dir`);
    }
  }

  /** unix:// endpoint for CriRuntime. */
  get endpoint(): string {
    return `unix://${this.socketPath}`;
  }

  get pid(): number | undefined {
    return this.#child?.pid;
  }

  /** How many times the supervisor restarted containerd after it died. */
  get restarts(): number {
    return this.#restarts;
  }

  /** Writes the config and registry hosts, stops a stale containerd of this data dir, starts ours, waits until it answers. */
  async start(): Promise<void> {
    this.#stopping = false;
    await mkdir(this.rootDir, { recursive: true });
    await mkdir(this.stateDir, { recursive: true });
    await mkdir(this.configDir, { recursive: true });
    await mkdir(this.#options.cniConfDir, { recursive: true });
    await writeHostsFiles(this.registryConfigDir, this.#options.registries);
    await writeFile(
      this.configPath,
      renderContainerdConfig({
        rootDir: this.rootDir,
        stateDir: this.stateDir,
        socketPath: this.socketPath,
        sandboxImage: this.#options.sandboxImage,
        cniBinDir: this.#options.cniBinDir ?? '/usr/lib/cni',
        cniConfDir: this.#options.cniConfDir,
        registryConfigDir: this.registryConfigDir,
        extraRuntimes: this.#options.extraRuntimes,
      }),
    );
    await this.#stopStale();
    await this.#rotateLog();
    const started = performance.now();
    this.#spawn();
    try {
      await this.waitReady();
    } catch (err) {
      // No supervisor left restarting a containerd that never came up.
      await this.stop();
      throw err;
    }
    log.info('containerd is ready', { containerdPid: this.pid, socket: this.socketPath, ms: Math.round(performance.now() - started), log: this.logPath });
  }

  /** Resolves when containerd answers on its socket (after start, or after a restart). */
  waitReady(timeoutMs = this.#options.readyTimeoutMs ?? 30_000): Promise<void> {
    if (this.#ready) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#readyWaiters = this.#readyWaiters.filter((w) => w !== done);
        reject(new Error(`containerd did not answer on ${this.socketPath} within ${timeoutMs} ms; see ${this.logPath}:\n${this.#logTail()}`));
      }, timeoutMs);
      const done = () => {
        clearTimeout(timer);
        resolve();
      };
      this.#readyWaiters.push(done);
    });
  }

  async stop(): Promise<void> {
    this.#stopping = true;
    clearTimeout(this.#restartTimer);
    const child = this.#child;
    if (child && child.exitCode === null && child.signalCode === null) {
      const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      child.kill('SIGTERM');
      const timeout = this.#options.stopTimeoutMs ?? 10_000;
      const stopped = await Promise.race([exited.then(() => true), sleep(timeout).then(() => false)]);
      if (!stopped) {
        log.warn('containerd did not stop on SIGTERM; sending SIGKILL', { containerdPid: child.pid, timeoutMs: timeout });
        child.kill('SIGKILL');
        await exited;
      }
    }
    this.#child = undefined;
    this.#ready = false;
    await rm(this.#pidFile, { force: true });
  }

  #spawn(): void {
    const logFd = openSync(this.logPath, 'a');
    // With util-linux's setpriv, containerd gets SIGKILL when the agent dies, even by SIGKILL: no orphan holds the
    // data dir (containers live on in their shims, and the next agent's containerd picks them up). Without it, the
    // pid file lets the next start stop the orphan.
    const setpriv = this.#options.dieWithAgent === false ? undefined : findBinary('setpriv');
    const [command, args] = setpriv ? [setpriv, ['--pdeathsig', 'KILL', '--', this.#binary, '--config', this.configPath]] : [this.#binary, ['--config', this.configPath]];
    const child = spawn(command, args, { stdio: ['ignore', logFd, logFd] });
    closeSync(logFd);
    this.#child = child;
    this.#ready = false;
    this.#startedAt = Date.now();
    void writeFile(this.#pidFile, `${child.pid}\n`).catch((err) => log.warn('cannot write containerd pid file', { file: this.#pidFile, err }));
    child.once('error', (err) => log.error('cannot run containerd', { binary: this.#binary, err }));
    child.once('exit', (code, signal) => this.#onExit(child, code, signal));
    void this.#pollReady(child);
  }

  async #pollReady(child: ChildProcess): Promise<void> {
    const client = new CriClient(this.endpoint, { timeoutMs: 2000 });
    try {
      while (this.#child === child && child.exitCode === null && child.signalCode === null) {
        if (existsSync(this.socketPath)) {
          try {
            await client.call('Version', { version: 'v1' });
            this.#ready = true;
            const waiters = this.#readyWaiters;
            this.#readyWaiters = [];
            for (const w of waiters) w();
            return;
          } catch {
            // not serving yet
          }
        }
        await sleep(20);
      }
    } finally {
      client.close();
    }
  }

  #onExit(child: ChildProcess, code: number | null, signal: NodeJS.Signals | null): void {
    if (this.#child !== child) return;
    this.#ready = false;
    if (this.#stopping) return;
    const ranMs = Date.now() - this.#startedAt;
    const backoff = this.#options.restartBackoff ?? { initialMs: 250, maxMs: 10_000, resetAfterMs: 60_000 };
    if (ranMs >= backoff.resetAfterMs) this.#backoffMs = backoff.initialMs;
    const delay = this.#backoffMs;
    this.#backoffMs = Math.min(this.#backoffMs * 2, backoff.maxMs);
    log.warn('containerd exited; restarting', { containerdPid: child.pid, code, signal, ranMs, restartInMs: delay, log: this.logPath, tail: this.#logTail(5) });
    this.#restartTimer = setTimeout(() => {
      if (this.#stopping) return;
      this.#restarts++;
      this.#spawn();
      this.waitReady().then(
        () => log.info('containerd is ready again', { containerdPid: this.pid, restarts: this.#restarts }),
        (err) => log.error('restarted containerd does not answer', { err }),
      );
    }, delay);
  }

  /** A containerd started by an earlier agent on this data dir (killed with -9) still holds the root: stop it. */
  async #stopStale(): Promise<void> {
    let pid: number;
    try {
      pid = Number((await readFile(this.#pidFile, 'utf8')).trim());
    } catch {
      return;
    }
    if (!Number.isInteger(pid) || pid <= 0) return;
    let cmdline: string;
    try {
      cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
    } catch {
      return; // gone
    }
    if (!cmdline.includes(this.configPath)) return; // the pid was reused by something else
    log.warn('stopping a containerd left by an earlier run', { containerdPid: pid });
    const alive = () => existsSync(`/proc/${pid}`) && !readFileSync(`/proc/${pid}/stat`, 'utf8').includes(') Z ');
    process.kill(pid, 'SIGTERM');
    for (let waited = 0; waited < 10_000 && alive(); waited += 50) await sleep(50);
    if (alive()) process.kill(pid, 'SIGKILL');
    for (let waited = 0; waited < 5_000 && alive(); waited += 50) await sleep(50);
  }

  /** One generation is kept: containerd.log -> containerd.log.1 when it passed 10 MiB (checked at each start). */
  async #rotateLog(): Promise<void> {
    try {
      if ((await stat(this.logPath)).size > 10 * 1024 * 1024) await rename(this.logPath, `${this.logPath}.1`);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
  }

  #logTail(lines = 20): string {
    try {
      return readFileSync(this.logPath, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
    } catch {
      return '(no log)';
    }
  }
}
