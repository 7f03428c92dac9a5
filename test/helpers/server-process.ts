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
