/** Runs `bin/skiff server` as a child process (for restart, kill -9 and startup-time tests). */
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/** bin/skiff of this checkout, from dist/test/helpers (compiled) or test/helpers (under tsx). */
export const SKIFF_BIN = fileURLToPath(new URL(import.meta.url.includes('/dist/') ? '../../../bin/skiff' : '../../bin/skiff', import.meta.url));

export interface ServerProcess {
  child: ChildProcess;
  url: string;
  port: number;
  output: () => string;
  /** Milliseconds from spawn to the ready line. */
  readyMs: number;
}

/**
 * Spawns the server and resolves once it prints its ready line (rejects if it exits first or after timeoutMs). The
 * server runs without its embedded node agent (--disable-agent) unless `agent` is true: tests and benchmarks of the
 * control plane use simulated nodes, and a real node beside them would take their pods.
 */
export function spawnServer(args: string[], timeoutMs = 20_000, env: Record<string, string> = {}, { agent = false, prefix = [] as string[] } = {}): Promise<ServerProcess> {
  const started = performance.now();
  // prefix: a command the server runs under, e.g. setpriv to another user (non-root tests).
  const argv = [...prefix, process.execPath, SKIFF_BIN, 'server', ...(agent ? [] : ['--disable-agent']), ...args];
  const child = spawn(argv[0]!, argv.slice(1), { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
  let out = '';
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`skiff server did not become ready in ${timeoutMs}ms; output:\n${out}`));
    }, timeoutMs);
    const onData = (chunk: Buffer) => {
      out += chunk.toString();
      const m = /skiff server ready: (https:\/\/[^\s]+:(\d+))/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve({ child, url: m[1], port: Number(m[2]), output: () => out, readyMs: performance.now() - started });
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', (c: Buffer) => (out += c.toString()));
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`skiff server exited (${code ?? signal}) before it was ready; output:\n${out}`));
    });
  });
}

export function waitExit(child: ChildProcess): Promise<number | null> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(child.exitCode);
  return new Promise((resolve) => child.once('exit', (code) => resolve(code)));
}

export interface AgentProcess {
  child: ChildProcess;
  output: () => string;
  /** Resolves with the exit code (or signal name). */
  exited: Promise<number | string>;
}

/**
 * Spawns `skiff agent`; `ready` resolves when it prints its ready line, or rejects with its output when it exits first.
 * `nodeArgs` go to node before bin/skiff (e.g. `--import` of a module loader hook).
 */
export function spawnAgent(args: string[], timeoutMs = 60_000, { nodeArgs = [] as string[] } = {}): { agent: AgentProcess; ready: Promise<void> } {
  const child = spawn(process.execPath, [...nodeArgs, SKIFF_BIN, 'agent', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  const exited = new Promise<number | string>((resolve) => child.once('exit', (code, signal) => resolve(code ?? signal ?? 'unknown')));
  const ready = new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`skiff agent did not become ready in ${timeoutMs} ms; output:\n${out}`)), timeoutMs);
    const onData = (c: Buffer) => {
      out += c.toString();
      if (/skiff agent ready: node /.test(out)) {
        clearTimeout(timer);
        resolve();
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`skiff agent exited (${code}) before it was ready; output:\n${out}`));
    });
  });
  ready.catch(() => {}); // a caller that only wants the exit does not await it
  return { agent: { child, output: () => out, exited }, ready };
}

/** SIGTERM, then SIGKILL after graceMs; resolves when the process has exited. */
export async function stopChild(child: ChildProcess, graceMs = 15_000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = waitExit(child);
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
  await exited;
  clearTimeout(timer);
}
