/**
 * Runs short-lived helper binaries (CNI plugins, mount, iptables) from worker threads, so their spawns never stall the
 * agent's event loop.
 *
 * Why: libuv's spawn is synchronous: it forks, then blocks the calling thread until the child has exec'd (or failed
 * to). In `skiff server` that thread also serves the API and runs every pod worker, and on a busy 2-core node the
 * child may wait for a CPU before it reaches exec: a CPU profile of 100 pods started and deleted showed the main
 * thread inside ChildProcess.spawn for 10 of its 20 busy seconds, almost all of it CNI plugin execs. From a worker
 * thread the same fork blocks only that thread.
 *
 * Up to POOL_SIZE workers, started on demand and unreferenced while idle (they never keep the agent alive). If none can
 * start, or one dies, calls run on the calling thread as before; so do they under tsx (tests), where a worker cannot
 * load .ts.
 *
 * Better still, another process runs them (a HelperRunner: the process runtime's supervisor registers one). A fork
 * from any thread copies the page tables of the whole process and write-protects its memory: in a process the size of
 * `skiff server` (150-200 MB) each spawn cost ~2.4 ms of CPU and ~3-5 ms of the main thread's time (a 200 MB Node
 * process allocating on its main thread while a worker spawned /bin/true, 3 runs of ~70 spawns), and a pod start
 * spawns three or four (CNI loopback and bridge, the token volume's tmpfs mount). The supervisor is a third of that
 * size and single-threaded. Calls fall back to the threads when its transport fails (it is restarted on the next call)
 * or it does not know the operation (a supervisor older than it).
 */
import { spawn } from 'node:child_process';
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';

export interface RunResult {
  exitCode: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  timedOut: boolean;
}

interface RunRequest {
  id: number;
  binary: string;
  args: string[];
  env: NodeJS.ProcessEnv;
  stdin: string;
  timeoutMs: number;
}

type RunReply = { id: number; result: RunResult } | { id: number; error: { message: string; code?: string } };

const ROLE = 'skiff-exec-thread';

/** One helper to run, as another process (HelperRunner) is asked to. */
export interface HelperRunRequest {
  binary: string;
  args: string[];
  env: NodeJS.ProcessEnv;
  stdin: string;
  timeoutMs: number;
}

/** The run's result, or why it could not be spawned (ENOENT, EACCES) as data: a rejection means the runner failed. */
export type HelperRunAnswer = { result: RunResult } | { error: { message: string; code?: string } };

/** Runs helpers in another process; rejects only when that process cannot be reached (the call then runs here). */
export type HelperRunner = (request: HelperRunRequest) => Promise<HelperRunAnswer>;

const runners: HelperRunner[] = [];

/**
 * Registers a runner (the latest registered is used); returns the function that removes it.
 */
export function addHelperRunner(runner: HelperRunner): () => void {
  runners.push(runner);
  return () => {
    const i = runners.indexOf(runner);
    if (i >= 0) runners.splice(i, 1);
  };
}

/** The runner's side: runs the request in this process, a spawn failure answered as data. */
export async function runHelperHere(req: HelperRunRequest): Promise<HelperRunAnswer> {
  try {
    return { result: await run(req.binary, req.args ?? [], req.env, req.stdin, req.timeoutMs) };
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    return { error: { message: e.message, ...(e.code ? { code: e.code } : {}) } };
  }
}

function fromAnswer(answer: HelperRunAnswer): RunResult {
  if ('result' in answer) return answer.result;
  throw Object.assign(new Error(answer.error.message), answer.error.code ? { code: answer.error.code } : {});
}

/** Runs `binary` with `env` and `stdin` in its own process group; SIGKILL to the group after timeoutMs. */
export function runInThread(binary: string, env: NodeJS.ProcessEnv, stdin: string, timeoutMs: number, args: string[] = []): Promise<RunResult> {
  const runner = runners.at(-1);
  if (runner !== undefined) {
    // The runner failing (not the helper: its exit status and spawn errors come back as data) sends the call to the
    // threads; a helper call is idempotent enough to repeat (libcni retries too).
    return runner({ binary, args, env, stdin, timeoutMs }).then(fromAnswer, () => runHere(binary, env, stdin, timeoutMs, args));
  }
  return runHere(binary, env, stdin, timeoutMs, args);
}

function runHere(binary: string, env: NodeJS.ProcessEnv, stdin: string, timeoutMs: number, args: string[]): Promise<RunResult> {
  const slot = execWorker();
  if (slot === undefined) return run(binary, args, env, stdin, timeoutMs);
  const id = nextId++;
  return new Promise<RunResult>((resolve, reject) => {
    slot.pending.set(id, { resolve, reject, fallback: () => run(binary, args, env, stdin, timeoutMs).then(resolve, reject) });
    slot.worker.ref();
    slot.worker.postMessage({ id, binary, args, env, stdin, timeoutMs } satisfies RunRequest);
  });
}

/**
 * execFile's contract from the worker thread: `file` with `args` (looked up in PATH), the agent's environment, no
 * stdin; resolves with its output when it exits 0, rejects with an Error carrying `code`, `stdout` and `stderr` (as
 * execFile's) otherwise. For the agent's own short helpers on a pod's path (mount, umount, iptables).
 */
export async function execFileInThread(file: string, args: string[], options: { timeoutMs?: number } = {}): Promise<{ stdout: string; stderr: string }> {
  const r = await runInThread(file, process.env, '', options.timeoutMs ?? 30_000, args);
  if (r.exitCode === 0) return { stdout: r.stdout, stderr: r.stderr };
  const why = r.timedOut ? `timed out after ${options.timeoutMs ?? 30_000} ms` : r.signal ? `killed by ${r.signal}` : `exit status ${r.exitCode}`;
  throw Object.assign(new Error(`Command failed: ${[file, ...args].join(' ')} (${why})\n${r.stderr}`), { code: r.exitCode, signal: r.signal, stdout: r.stdout, stderr: r.stderr });
}

/**
 * Two threads: a spawn blocks its thread until the child has exec'd, which on a loaded node waits for a CPU, so one
 * thread made a pod's tmpfs mount queue behind other pods' CNI plugins (seconds at 10 pods/s on a busy machine). Each
 * worker costs a few MB; calls go to the one with fewer in flight.
 */
const POOL_SIZE = 2;

interface Slot {
  worker: Worker;
  pending: Map<number, { resolve(r: RunResult): void; reject(e: Error): void; fallback(): void }>;
}

const slots: Slot[] = [];
let workerFailed = false;
let nextId = 1;

function execWorker(): Slot | undefined {
  if (workerFailed) return undefined;
  const idle = slots.find((s) => s.pending.size === 0);
  if (idle !== undefined || slots.length >= POOL_SIZE) return idle ?? slots.reduce((a, b) => (b.pending.size < a.pending.size ? b : a));
  // Under tsx (the tests) a worker cannot load this .ts file: calls run here, as they did before this module.
  if (import.meta.url.endsWith('.ts')) {
    workerFailed = true;
    return undefined;
  }
  let worker: Worker;
  try {
    // The same module, compiled, is the worker's entry point.
    worker = new Worker(new URL(import.meta.url), { workerData: { role: ROLE }, stdout: false, stderr: false });
  } catch {
    if (slots.length === 0) workerFailed = true;
    return slots[0];
  }
  const slot: Slot = { worker, pending: new Map() };
  slots.push(slot);
  worker.unref();
  worker.on('message', (reply: RunReply) => {
    const p = slot.pending.get(reply.id);
    if (p === undefined) return;
    slot.pending.delete(reply.id);
    if (slot.pending.size === 0) worker.unref();
    if ('result' in reply) p.resolve(reply.result);
    else p.reject(Object.assign(new Error(reply.error.message), reply.error.code ? { code: reply.error.code } : {}));
  });
  const giveUp = () => {
    // Whatever was in flight runs here instead (a plugin call is idempotent enough to repeat: libcni retries too).
    workerFailed = true;
    const i = slots.indexOf(slot);
    if (i >= 0) slots.splice(i, 1);
    const waiting = [...slot.pending.values()];
    slot.pending.clear();
    for (const p of waiting) p.fallback();
  };
  worker.on('error', giveUp);
  worker.on('exit', giveUp);
  return slot;
}

function run(binary: string, args: string[], env: NodeJS.ProcessEnv, stdin: string, timeoutMs: number): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    // Its own process group, so a timeout kills what the plugin started too (iptables, a delegated IPAM plugin).
    const child = spawn(binary, args, { env, stdio: ['pipe', 'pipe', 'pipe'], detached: true });
    const stdout: Buffer[] = [];
    const stderr: Buffer[] = [];
    let timedOut = false;
    let settled = false;
    const settle = (exitCode: number | null, signal: NodeJS.Signals | null) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve({ exitCode, signal, stdout: Buffer.concat(stdout).toString('utf8'), stderr: Buffer.concat(stderr).toString('utf8'), timedOut });
    };
    const timer = setTimeout(() => {
      timedOut = true;
      try {
        process.kill(-child.pid!, 'SIGKILL');
      } catch {
        child.kill('SIGKILL');
      }
    }, timeoutMs);
    child.stdout.on('data', (chunk: Buffer) => stdout.push(chunk));
    child.stderr.on('data', (chunk: Buffer) => stderr.push(chunk));
    child.on('error', (err) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      reject(err);
    });
    // 'close' waits for the pipes, which a stray grandchild may hold open; after a timeout the exit is enough.
    child.on('exit', (exitCode, signal) => {
      if (timedOut) settle(exitCode, signal);
    });
    child.on('close', settle);
    // A plugin that exits without reading stdin makes the write fail with EPIPE; its exit status tells the story.
    child.stdin.on('error', () => undefined);
    child.stdin.end(stdin);
  });
}

if (!isMainThread && (workerData as { role?: string } | undefined)?.role === ROLE) {
  parentPort!.on('message', (req: RunRequest) => {
    run(req.binary, req.args ?? [], req.env, req.stdin, req.timeoutMs).then(
      (result) => parentPort!.postMessage({ id: req.id, result } satisfies RunReply),
      (err: NodeJS.ErrnoException) => parentPort!.postMessage({ id: req.id, error: { message: err.message, ...(err.code ? { code: err.code } : {}) } } satisfies RunReply),
    );
  });
}
