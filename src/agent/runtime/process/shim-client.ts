/**
 * ShimClient: the agent's side of the supervisor socket. It starts the supervisor when none answers (detached, so it
 * outlives the agent), multiplexes JSON-line requests over one connection, reconnects after a supervisor restart, and
 * opens a separate connection per attach stream.
 */
import { spawn } from 'node:child_process';
import { closeSync, mkdirSync, openSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { RuntimeError, type RuntimeErrorCode } from '../types.js';
import type { ShimOp, ShimRequests, ShimResponse } from './shim-protocol.js';

export interface ShimClientOptions {
  stateDir: string;
  cgroupRoot: string;
  /** How long to wait for a supervisor this client started to answer (default 10 s). */
  startTimeoutMs?: number;
}

/** Where the supervisor's entry point is: beside this file, as .ts under tsx (tests) or .js when compiled. */
export function shimCommand(): { execPath: string; args: string[] } {
  const isTs = import.meta.url.endsWith('.ts');
  const main = fileURLToPath(new URL(isTs ? './shim-main.ts' : './shim-main.js', import.meta.url));
  // Memory: the supervisor holds little; small young-generation semispaces keep its RSS near Node's floor.
  const flags = ['--max-semi-space-size=1'];
  return { execPath: process.execPath, args: isTs ? [...flags, '--import', import.meta.resolve('tsx'), main] : [...flags, main] };
}

export class ShimClient {
  private socket: Socket | undefined;
  private connecting: Promise<Socket> | undefined;
  private nextId = 1;
  private readonly pending = new Map<number, { resolve(v: unknown): void; reject(e: Error): void }>();
  private closed = false;

  constructor(private readonly options: ShimClientOptions) {
    if (join(options.stateDir, 'shim.sock').length > 107) {
      throw new Error(`process runtime: state directory ${JSON.stringify(options.stateDir)} is too long for a unix socket path (107 bytes)`);
    }
  }

  get socketPath(): string {
    return join(this.options.stateDir, 'shim.sock');
  }

  async request<K extends ShimOp>(op: K, args: ShimRequests[K][0]): Promise<ShimRequests[K][1]> {
    const socket = await this.connection();
    const id = this.nextId++;
    return new Promise<ShimRequests[K][1]>((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
      // Referenced while an answer is awaited, unreferenced when idle: an idle agent must not be kept alive by it.
      socket.ref();
      socket.write(`${JSON.stringify({ id, op, args })}\n`);
    });
  }

  /** A new connection that carries one attach stream; resolves once the supervisor accepted it. */
  async openAttach(args: ShimRequests['attach'][0]): Promise<Socket> {
    await this.connection(); // starts the supervisor if needed
    const socket = await dial(this.socketPath);
    socket.write(`${JSON.stringify({ id: 0, op: 'attach', args })}\n`);
    return new Promise<Socket>((resolve, reject) => {
      let buffered = Buffer.alloc(0);
      const onData = (chunk: Buffer) => {
        buffered = Buffer.concat([buffered, chunk]);
        const nl = buffered.indexOf(0x0a);
        if (nl < 0) return;
        socket.off('data', onData);
        const response = JSON.parse(buffered.subarray(0, nl).toString()) as ShimResponse;
        const rest = buffered.subarray(nl + 1);
        if (!response.ok) {
          socket.destroy();
          reject(toError(response.error));
          return;
        }
        socket.pause();
        if (rest.length > 0) socket.unshift(rest);
        resolve(socket);
      };
      socket.on('data', onData);
      socket.once('error', reject);
    });
  }

  close(): void {
    this.closed = true;
    this.socket?.destroy();
    this.socket = undefined;
  }

  private connection(): Promise<Socket> {
    if (this.closed) return Promise.reject(new RuntimeError('Unavailable', 'process runtime: closed'));
    if (this.socket !== undefined && !this.socket.destroyed) return Promise.resolve(this.socket);
    this.connecting ??= this.connectOrStart().finally(() => (this.connecting = undefined));
    return this.connecting;
  }

  private async connectOrStart(): Promise<Socket> {
    let socket: Socket;
    try {
      socket = await dial(this.socketPath);
    } catch {
      this.startSupervisor();
      socket = await this.waitForSupervisor();
    }
    this.attachResponses(socket);
    this.socket = socket;
    return socket;
  }

  private startSupervisor(): void {
    mkdirSync(this.options.stateDir, { recursive: true });
    const logFd = openSync(join(this.options.stateDir, 'shim.log'), 'a');
    const { execPath, args } = shimCommand();
    try {
      const child = spawn(execPath, [...args, this.options.stateDir, this.options.cgroupRoot], { detached: true, stdio: ['ignore', logFd, logFd], cwd: '/' });
      child.unref();
    } finally {
      closeSync(logFd);
    }
  }

  private async waitForSupervisor(): Promise<Socket> {
    const deadline = Date.now() + (this.options.startTimeoutMs ?? 10_000);
    for (;;) {
      try {
        return await dial(this.socketPath);
      } catch (err) {
        if (Date.now() > deadline) throw new RuntimeError('Unavailable', `process runtime: supervisor did not start (see ${join(this.options.stateDir, 'shim.log')}): ${(err as Error).message}`);
        await new Promise((r) => setTimeout(r, 10));
      }
    }
  }

  private attachResponses(socket: Socket): void {
    let buffered = '';
    socket.on('data', (chunk: Buffer) => {
      buffered += chunk.toString('utf8');
      let nl: number;
      while ((nl = buffered.indexOf('\n')) >= 0) {
        const response = JSON.parse(buffered.slice(0, nl)) as ShimResponse;
        buffered = buffered.slice(nl + 1);
        const waiter = this.pending.get(response.id);
        if (waiter === undefined) continue;
        this.pending.delete(response.id);
        if (this.pending.size === 0) socket.unref();
        if (response.ok) waiter.resolve(response.result);
        else waiter.reject(toError(response.error));
      }
    });
    socket.on('error', () => undefined);
    socket.on('close', () => {
      if (this.socket === socket) this.socket = undefined;
      const failed = [...this.pending.values()];
      this.pending.clear();
      for (const w of failed) w.reject(new RuntimeError('Unavailable', 'process runtime: the supervisor connection closed'));
    });
    socket.unref();
  }
}

function dial(path: string): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect(path);
    socket.once('connect', () => {
      socket.off('error', reject);
      resolve(socket);
    });
    socket.once('error', reject);
  });
}

function toError(error: { code: string; message: string }): Error {
  return error.code === 'Internal' ? new Error(error.message) : new RuntimeError(error.code as RuntimeErrorCode, error.message);
}
