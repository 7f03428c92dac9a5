/** `skiff agent` run inside a node network namespace of test/helpers/netns-nodes.ts (the multi-node e2e tests). */
import type { ChildProcess } from 'node:child_process';
import { rm } from 'node:fs/promises';
import { hardCleanAgent } from './agent-cleanup.js';
import { eventually } from './eventually.js';
import type { Kubectl } from './kubectl.js';
import { netnsLeftovers, spawnInNetns, type NetnsNode, type NetnsTopology } from './netns-nodes.js';
import { SKIFF_BIN, stopChild, type ServerProcess } from './server-process.js';

/** One agent of a test cluster: its node (namespace), data dir, process and output so far. */
export interface NetnsAgent {
  name: string;
  node: NetnsNode;
  dataDir: string;
  child?: ChildProcess;
  out: string;
}

/**
 * Starts `skiff agent` for `a` in its node's namespace, joined to the server at <node's host IP>:serverPort with
 * `token`, on the process runtime; resolves once it prints its ready line (60 s at most; throws with its output if it
 * exits first). Without `clusterCIDR` the agent takes the server's at join. `extra` goes after the common flags.
 */
export async function startNetnsAgent(a: NetnsAgent, o: { serverPort: number; token: string; clusterCIDR?: string; extra?: string[] }): Promise<void> {
  a.out = '';
  const child = spawnInNetns(a.node, [
    process.execPath, SKIFF_BIN, 'agent',
    '--server', `https://${a.node.hostIp}:${o.serverPort}`, '--token', o.token,
    '--data-dir', a.dataDir, '--node-name', a.name, '--node-ip', a.node.ip,
    '--runtime', 'process', '--kubelet-port', '0', ...(o.clusterCIDR ? ['--cluster-cidr', o.clusterCIDR] : []), ...(o.extra ?? []),
  ]);
  a.child = child;
  child.stdout!.on('data', (c: Buffer) => (a.out += c.toString()));
  child.stderr!.on('data', (c: Buffer) => (a.out += c.toString()));
  await eventually(`agent ${a.name} ready`, async () => {
    if (child.exitCode !== null) throw new Error(`agent ${a.name} exited (${child.exitCode}):\n${a.out}`);
    return /skiff agent ready: node /.test(a.out);
  }, 60_000);
}

/** SIGTERM to the agent (SIGKILL after 15 s); resolves once it has exited, at once when it is not running. */
export async function stopNetnsAgent(a: NetnsAgent): Promise<void> {
  if (a.child) await stopChild(a.child);
}

/**
 * The after() of a netns multi-node suite: deletes namespace `ns` through the server (while it runs), stops the agents
 * and then the server, hard-cleans each agent's leftovers (pods `podUids`, host paths `extraPaths`), removes the data
 * dirs and the topology. Returns what topology.remove() removed and what of `prefix` is still on the host
 * (netnsLeftovers), which the caller asserts empty.
 */
export async function tearDownNetnsCluster(o: {
  server: ServerProcess | undefined;
  k: Kubectl | undefined;
  ns: string;
  agents: NetnsAgent[];
  serverDir: string | undefined;
  topology: NetnsTopology | undefined;
  prefix: string;
  podUids: Set<string>;
  extraPaths?: string[];
}): Promise<{ removed: string[]; leftovers: string[] }> {
  let removed: string[] = [];
  try {
    if (o.server && o.k && o.server.child.exitCode === null) await o.k(['delete', 'namespace', o.ns, '--ignore-not-found', '--wait=true', '--timeout=40s'], { timeoutMs: 50_000 }).catch(() => undefined);
    for (const a of o.agents) await stopNetnsAgent(a);
    if (o.server) await stopChild(o.server.child);
  } finally {
    for (const a of o.agents) {
      const report = await hardCleanAgent({ dataDir: a.dataDir, podUids: o.podUids, ...(o.extraPaths ? { extraPaths: o.extraPaths } : {}) });
      if (report.length) console.log(`hard clean of ${a.dataDir}:\n  ${report.join('\n  ')}`);
      await rm(a.dataDir, { recursive: true, force: true });
    }
    if (o.serverDir) await rm(o.serverDir, { recursive: true, force: true });
    if (o.topology) removed = await o.topology.remove();
  }
  return { removed, leftovers: await netnsLeftovers(o.prefix) };
}
