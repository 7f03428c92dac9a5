/**
 * An AgentServerBackend made of plain host processes, for tests of the agent's API and everything in front of it
 * (the API server's proxy, kubectl, client-node): each container of an added pod runs its command (`sh -c` scripts
 * work) in a directory of its own, its output is kept as its log, exec runs host commands in that directory, attach
 * joins the main process' stdio, and port-forward dials 127.0.0.1 (optionally through a port map). With tty, the
 * command runs under util-linux `script`, which gives it a pseudo-terminal (no resize).
 *
 * Not a runtime: no namespaces, cgroups or images. The node agent's real backend sits on ContainerRuntime.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdir, rm } from 'node:fs/promises';
import { connect } from 'node:net';
import { join } from 'node:path';
import { PassThrough, Readable, Writable, type Duplex } from 'node:stream';
import type { Container, Pod } from 'kubernetes-types/core/v1.js';
import { badRequest, StatusError } from '../../api/status.js';
import type { StreamOptions, StreamSession, TerminalSize } from '../runtime/types.js';
import type { AgentServerBackend, ContainerLogOptions } from './types.js';

interface LogLine {
  time: Date;
  text: string;
}

class HostContainer {
  readonly lines: LogLine[] = [];
  private partial = '';
  readonly output = new Set<(chunk: Buffer) => void>();
  readonly followers = new Set<() => void>();
  exited = false;
  exitCode = 0;
  readonly exit: Promise<void>;

  constructor(
    readonly name: string,
    readonly proc: ChildProcess,
  ) {
    const onData = (chunk: Buffer) => {
      for (const listener of this.output) listener(chunk);
      this.record(chunk.toString('utf8'));
    };
    proc.stdout?.on('data', onData);
    proc.stderr?.on('data', onData);
    this.exit = new Promise((resolve) =>
      proc.once('close', (code, signal) => {
        if (this.partial !== '') this.lines.push({ time: new Date(), text: this.partial });
        this.partial = '';
        this.exited = true;
        this.exitCode = code ?? (signal ? 137 : 0);
        for (const f of this.followers) f();
        resolve();
      }),
    );
  }

  private record(text: string): void {
    const parts = (this.partial + text).split('\n');
    this.partial = parts.pop()!;
    const now = new Date();
    for (const line of parts) this.lines.push({ time: now, text: line });
    if (parts.length > 0) for (const f of this.followers) f();
  }
}

export interface HostProcessBackendOptions {
  /** Where pod directories go (each container's working directory is <dir>/<ns>_<pod>/<container>). */
  dir: string;
  /** Pod port -> host port, for port-forward to servers the test started elsewhere. */
  portMap?: Record<number, number>;
  statsSummary?: () => unknown;
}

/** RFC 3339 with nanoseconds, as kubelet prefixes log lines (`2024-05-01T10:00:00.123000000Z`). */
export function rfc3339Nano(d: Date): string {
  return d.toISOString().replace(/\.(\d{3})Z$/, '.$1000000Z');
}

export class HostProcessBackend implements AgentServerBackend {
  private readonly pods = new Map<string, { pod: Pod; containers: Map<string, HostContainer> }>();
  private readonly execs = new Set<ChildProcess>();
  /** Terminal sizes exec and attach sessions were asked for, in order (a host process cannot be resized). */
  readonly resizes: TerminalSize[] = [];

  constructor(private readonly opts: HostProcessBackendOptions) {}

  /** Starts the pod's containers (command + args, run by the host). */
  async addPod(pod: Pod): Promise<void> {
    const key = `${pod.metadata?.namespace}/${pod.metadata?.name}`;
    const containers = new Map<string, HostContainer>();
    for (const c of pod.spec?.containers ?? []) {
      const cwd = this.dirOf(pod, c.name);
      await mkdir(cwd, { recursive: true });
      const argv = [...(c.command ?? []), ...(c.args ?? [])];
      if (argv.length === 0) throw new Error(`container ${c.name}: the host process backend needs a command`);
      // A process group per container, so killing it takes its children (a `sleep` holding the output pipe) along.
      const proc = spawn(argv[0]!, argv.slice(1), { cwd, stdio: [c.stdin ? 'pipe' : 'ignore', 'pipe', 'pipe'], env: envOf(c), detached: true });
      proc.on('error', () => undefined);
      proc.stdin?.on('error', () => undefined);
      containers.set(c.name, new HostContainer(c.name, proc));
    }
    this.pods.set(key, { pod, containers });
  }

  /** Kills every process and removes the pod directories. */
  async close(): Promise<void> {
    const exits: Promise<void>[] = [];
    for (const { containers } of this.pods.values()) {
      for (const c of containers.values()) {
        killGroup(c.proc);
        exits.push(c.exit);
      }
    }
    for (const p of this.execs) killGroup(p);
    await Promise.all(exits);
    this.pods.clear();
    await rm(this.opts.dir, { recursive: true, force: true });
  }

  async listPods(): Promise<Pod[]> {
    return [...this.pods.values()].map((p) => p.pod);
  }

  async getPod(namespace: string, name: string): Promise<Pod | undefined> {
    return this.pods.get(`${namespace}/${name}`)?.pod;
  }

  private dirOf(pod: Pod, container: string): string {
    return join(this.opts.dir, `${pod.metadata?.namespace}_${pod.metadata?.name}`, container);
  }

  private container(pod: Pod, name: string): HostContainer {
    const c = this.pods.get(`${pod.metadata?.namespace}/${pod.metadata?.name}`)?.containers.get(name);
    if (!c) throw new StatusError({ message: `container not found (${JSON.stringify(name)})`, reason: 'NotFound', code: 404 });
    return c;
  }

  async exec(pod: Pod, container: string, command: string[], options: StreamOptions): Promise<StreamSession> {
    const c = this.container(pod, container);
    if (c.exited) throw badRequest(`container ${container} is not running`);
    const argv = options.tty ? ['script', '-qfec', command.map(shellQuote).join(' '), '/dev/null'] : command;
    const proc = spawn(argv[0]!, argv.slice(1), {
      cwd: this.dirOf(pod, container),
      env: envOf(pod.spec?.containers?.find((x) => x.name === container)),
      stdio: [options.stdin ? 'pipe' : 'ignore', options.stdout ? 'pipe' : 'ignore', options.stderr && !options.tty ? 'pipe' : 'ignore'],
      detached: true,
    });
    this.execs.add(proc);
    const done = new Promise<{ exitCode: number }>((resolve, reject) => {
      proc.once('error', (err) => reject(new Error(`failed to start ${JSON.stringify(command[0])}: ${err.message}`)));
      proc.once('close', (code, signal) => resolve({ exitCode: code ?? (signal ? 128 + 9 : 1) }));
    });
    void done.finally(() => this.execs.delete(proc)).catch(() => undefined);
    await new Promise<void>((resolve, reject) => {
      proc.once('spawn', resolve);
      proc.once('error', reject);
    }).catch((err: Error) => {
      throw new Error(`failed to start ${JSON.stringify(command[0])}: ${err.message}`);
    });
    return {
      stdin: proc.stdin ?? undefined,
      stdout: proc.stdout ?? undefined,
      stderr: proc.stderr ?? undefined,
      resize: (size) => this.resizes.push(size),
      done,
      close: () => killGroup(proc),
    };
  }

  async attach(pod: Pod, container: string, options: StreamOptions): Promise<StreamSession> {
    const c = this.container(pod, container);
    if (c.exited) throw badRequest(`container ${container} is not running`);
    const stdout = options.stdout ? new PassThrough() : undefined;
    const listener = (chunk: Buffer) => stdout?.write(chunk);
    c.output.add(listener);
    let detach!: () => void;
    const detached = new Promise<void>((resolve) => (detach = resolve));
    const done = Promise.race([c.exit, detached]).then(() => {
      c.output.delete(listener);
      stdout?.end();
      return { exitCode: c.exitCode };
    });
    const procStdin = c.proc.stdin;
    // The container's stdin outlives the attachment, unless the container says stdinOnce (then the first attached
    // client's EOF closes it, as the CRI runtimes do).
    const stdinOnce = pod.spec?.containers?.find((x) => x.name === container)?.stdinOnce === true;
    const stdin =
      options.stdin && procStdin
        ? new Writable({
            write: (chunk: Buffer, _enc, cb) => {
              if (procStdin.writable) procStdin.write(chunk, () => cb());
              else cb();
            },
            final: (cb) => {
              if (stdinOnce) procStdin.end();
              cb();
            },
          })
        : undefined;
    return { stdin, stdout, resize: (size) => this.resizes.push(size), done, close: detach };
  }

  async portForward(_pod: Pod, port: number): Promise<Duplex> {
    const target = this.opts.portMap?.[port] ?? port;
    return new Promise((resolve, reject) => {
      const socket = connect({ host: '127.0.0.1', port: target });
      socket.once('connect', () => {
        socket.off('error', reject);
        resolve(socket);
      });
      socket.once('error', (err) => reject(new Error(`failed to connect to localhost:${port} inside the pod: ${err.message}`)));
    });
  }

  async logs(pod: Pod, container: string, options: ContainerLogOptions): Promise<Readable> {
    const c = this.container(pod, container);
    if (options.previous) throw badRequest(`previous terminated container ${JSON.stringify(container)} in pod ${JSON.stringify(pod.metadata?.name)} not found`);
    const since = options.sinceTime?.getTime() ?? (options.sinceSeconds !== undefined ? Date.now() - options.sinceSeconds * 1000 : undefined);
    let lines = c.lines.filter((l) => since === undefined || l.time.getTime() >= since);
    if (options.tailLines !== undefined) lines = options.tailLines === 0 ? [] : lines.slice(-options.tailLines);
    const format = (l: LogLine) => (options.timestamps ? `${rfc3339Nano(l.time)} ${l.text}\n` : `${l.text}\n`);
    let budget = options.limitBytes ?? Infinity;
    const out = new PassThrough();
    const emit = (l: LogLine): boolean => {
      let b = Buffer.from(format(l));
      if (b.length > budget) b = b.subarray(0, budget);
      budget -= b.length;
      out.write(b);
      return budget > 0;
    };
    let sent = c.lines.length;
    let open = true;
    for (const l of lines) if (!(open = emit(l))) break;
    if (!open || !options.follow || c.exited) {
      out.end();
      return out;
    }
    const follower = () => {
      for (; sent < c.lines.length; sent++) {
        if (!emit(c.lines[sent]!)) return finish();
      }
      if (c.exited) finish();
    };
    const finish = () => {
      c.followers.delete(follower);
      if (!out.writableEnded) out.end();
    };
    c.followers.add(follower);
    out.once('close', () => c.followers.delete(follower));
    return out;
  }

  async statsSummary(): Promise<unknown> {
    return this.opts.statsSummary?.() ?? { node: { nodeName: 'host', startTime: new Date().toISOString() }, pods: [] };
  }
}

function killGroup(proc: ChildProcess): void {
  if (proc.pid === undefined) return;
  try {
    process.kill(-proc.pid, 'SIGKILL');
  } catch {
    // already gone
  }
}

function envOf(c: Container | undefined): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? '/', TERM: 'xterm' };
  for (const e of c?.env ?? []) if (e.value !== undefined) env[e.name] = e.value;
  return env;
}

function shellQuote(s: string): string {
  return /^[\w@%+=:,./-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}
