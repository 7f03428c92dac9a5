/**
 * `skiff server` with its embedded node agent, as the end-to-end tests of pods, Services and the proxies run it: start
 * and wait for "skiff node ready", stop (SIGTERM or kill -9), a namespace with its default service account, and the
 * clean-up after the suite (namespace deleted, server stopped, the agent's leftovers removed, the data dir gone).
 */
import { rmSync } from 'node:fs';
import { hardCleanAgent } from './agent-cleanup.js';
import { eventually } from './eventually.js';
import type { Kubectl } from './kubectl.js';
import { spawnServer, waitExit, type ServerProcess } from './server-process.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export interface AgentServerOptions {
  /** For the ready line and then for "skiff node ready" (each); default 30 s. */
  timeoutMs?: number;
  env?: Record<string, string>;
  /** A command the server runs under (setpriv to another user). */
  prefix?: string[];
  /** Output that means the node will never be ready (besides "embedded node agent did not start"). */
  failure?: RegExp;
}

/**
 * Spawns `skiff server <args>` with the embedded agent and resolves once it prints "skiff node ready". Throws with
 * the server's output (and kills it) when the agent fails, the server exits, or timeoutMs passes.
 */
export async function startAgentServer(args: string[], o: AgentServerOptions = {}): Promise<ServerProcess> {
  const timeoutMs = o.timeoutMs ?? 30_000;
  const server = await spawnServer(args, timeoutMs, o.env ?? {}, { agent: true, prefix: o.prefix ?? [] });
  const deadline = Date.now() + timeoutMs;
  while (!/skiff node ready/.test(server.output())) {
    const failed = /embedded node agent did not start/.test(server.output()) || (o.failure?.test(server.output()) ?? false);
    if (failed || server.child.exitCode !== null || Date.now() > deadline) {
      server.child.kill('SIGKILL');
      throw new Error(`the embedded node agent is not ready; server output:\n${server.output()}`);
    }
    await sleep(100);
  }
  return server;
}

/** Stops the server with `signal` (SIGKILL after 15 s) and resolves once it has exited; nothing when it is gone. */
export async function stopAgentServer(server: ServerProcess | undefined, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
  if (!server) return;
  const child = server.child;
  if (child.exitCode === null && child.signalCode === null) {
    child.kill(signal);
    const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
    await waitExit(child);
    clearTimeout(timer);
  }
}

/** Creates namespace `ns` (asserting kubectl succeeds) and waits up to 20 s for its default service account. */
export async function createNamespace(k: Kubectl, ns: string): Promise<void> {
  const r = await k(['create', 'namespace', ns]);
  if (r.code !== 0) throw new Error(`kubectl create namespace ${ns}: ${r.stderr}`);
  await eventually(`the default service account of ${ns}`, async () => (await k(['-n', ns, 'get', 'serviceaccount', 'default'])).code === 0, 20_000);
}

/**
 * The end of a suite: deletes namespace `ns` (when the server is still up; with `podUids`, its pods' uids are added
 * to that set first, so the hard clean finds their leftovers too), stops the server, runs `beforeClean` (e.g. removing
 * rules a failed test left), hard-cleans the agent's leftovers in dataDir and removes dataDir.
 */
export async function cleanUpAgentServer(o: {
  server: ServerProcess | undefined;
  k?: Kubectl;
  ns?: string;
  dataDir: string;
  podUids?: Set<string>;
  /** How long the namespace delete may take; default 30 s. */
  deleteTimeoutS?: number;
  beforeClean?: () => Promise<void>;
}): Promise<void> {
  if (o.server && o.k && o.ns) {
    const timeoutS = o.deleteTimeoutS ?? 30;
    try {
      if (o.podUids) for (const p of (await o.k.json(['-n', o.ns, 'get', 'pods'])).items) o.podUids.add(p.metadata.uid);
      await o.k(['delete', 'namespace', o.ns, '--ignore-not-found', `--timeout=${timeoutS}s`], { timeoutMs: (timeoutS + 5) * 1000 });
    } catch {
      // the hard clean below takes whatever is left
    }
  }
  await stopAgentServer(o.server);
  await o.beforeClean?.();
  if (!o.dataDir) return;
  const report = await hardCleanAgent({ dataDir: o.dataDir, podUids: o.podUids });
  if (report.length > 0) console.log(`hard clean of ${o.dataDir}:\n  ${report.join('\n  ')}`);
  rmSync(o.dataDir, { recursive: true, force: true });
}

/** Waits up to timeoutMs for Node `name` to have condition Ready=True (as the API server sees it). */
export async function waitNodeReady(k: Kubectl, name: string, timeoutMs: number): Promise<void> {
  await eventually(`node ${name} Ready`, async () => {
    const node = await k.json(['get', 'node', name]);
    return node.status?.conditions?.some((c: any) => c.type === 'Ready' && c.status === 'True');
  }, timeoutMs);
}
