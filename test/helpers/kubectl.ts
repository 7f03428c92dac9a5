/**
 * Runs the real kubectl against a test server. The machine's `kubectl` is a version dispatcher that picks the
 * client matching the server's /version minor; versioned binaries (kubectl.1.30, ...) sit beside it.
 * Without kubectl the tests skip with a message, except under CI=true, where that is a failure.
 */
import { execFile, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { mkdtempSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { realpathSync } from 'node:fs';

export interface KubectlResult {
  code: number;
  stdout: string;
  stderr: string;
}

function which(cmd: string): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(':')) {
    const p = join(dir, cmd);
    if (existsSync(p)) return p;
  }
  return undefined;
}

/** Path of the kubectl to use, or undefined. `minor` picks a versioned binary (kubectl.1.30) beside the dispatcher. */
export function findKubectl(minor?: string): string | undefined {
  const main = which('kubectl');
  if (!main) return undefined;
  if (!minor) return main;
  const versioned = join(dirname(realpathSync(main)), `kubectl.1.${minor}`);
  return existsSync(versioned) ? versioned : undefined;
}

/** The reason to skip kubectl tests, or false to run them. Under CI a missing kubectl throws instead of skipping. */
export function kubectlSkip(minor?: string): string | false {
  if (findKubectl(minor)) return false;
  const what = minor ? `kubectl.1.${minor}` : 'kubectl';
  if (process.env.CI === 'true') throw new Error(`${what} is not installed, and CI=true forbids skipping the kubectl end-to-end tests`);
  return `${what} is not installed on this machine; skipping the kubectl end-to-end tests`;
}

export interface Kubectl {
  (args: string[], opts?: { input?: string; env?: Record<string, string>; timeoutMs?: number }): Promise<KubectlResult>;
  /** Runs and parses stdout as JSON; throws with stderr when kubectl fails. */
  json(args: string[]): Promise<any>;
  /** Starts a long-running kubectl (e.g. get -w) and returns the child process. */
  spawn(args: string[]): ReturnType<typeof spawn>;
  bin: string;
}

export function kubectlFor(kubeconfig: string, minor?: string): Kubectl {
  const bin = findKubectl(minor);
  if (!bin) throw new Error('kubectl not found');
  // Beside the kubeconfig (in the test's data dir), so the cache goes when the test removes its dir.
  const cacheDir = mkdtempSync(join(dirname(kubeconfig), 'kubectl-cache-'));
  const base = ['--kubeconfig', kubeconfig, '--cache-dir', cacheDir];
  const run = ((args: string[], opts: { input?: string; env?: Record<string, string>; timeoutMs?: number } = {}) =>
    new Promise<KubectlResult>((resolve) => {
      const child = execFile(
        bin,
        [...base, ...args],
        { timeout: opts.timeoutMs ?? 30_000, env: { ...process.env, ...opts.env }, maxBuffer: 64 * 1024 * 1024 },
        (err, stdout, stderr) => {
          const code = err ? (typeof (err as NodeJS.ErrnoException).code === 'number' ? ((err as unknown as { code: number }).code) : 1) : 0;
          resolve({ code, stdout: String(stdout), stderr: String(stderr) });
        },
      );
      if (opts.input !== undefined) child.stdin?.end(opts.input);
      else child.stdin?.end();
    })) as Kubectl;
  run.json = async (args) => {
    const r = await run([...args, '-o', 'json']);
    if (r.code !== 0) throw new Error(`kubectl ${args.join(' ')} failed (${r.code}): ${r.stderr}`);
    return JSON.parse(r.stdout);
  };
  run.spawn = (args) => spawn(bin, [...base, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  run.bin = bin;
  return run;
}

/** Writes `yaml` to `dir/name` and `kubectl apply -f`s it, failing the test if kubectl does. */
export async function applyFile(k: Kubectl, dir: string, name: string, yaml: string): Promise<void> {
  const p = join(dir, name);
  await writeFile(p, yaml);
  const r = await k(['apply', '-f', p]);
  if (r.code !== 0) throw new Error(`kubectl apply -f ${name} failed (${r.code}): ${r.stderr}`);
}
