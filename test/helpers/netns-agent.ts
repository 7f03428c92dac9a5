/** `skiff agent` run inside a node network namespace of test/helpers/netns-nodes.ts (the multi-node e2e tests). */
import type { ChildProcess } from 'node:child_process';
import { eventually } from './eventually.js';
import { spawnInNetns, type NetnsNode } from './netns-nodes.js';
import { SKIFF_BIN, stopChild } from './server-process.js';

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
 * exits first). `extra` goes after the common flags.
 */
export async function startNetnsAgent(a: NetnsAgent, o: { serverPort: number; token: string; clusterCIDR: string; extra?: string[] }): Promise<void> {
  a.out = '';
  const child = spawnInNetns(a.node, [
    process.execPath, SKIFF_BIN, 'agent',
    '--server', `https://${a.node.hostIp}:${o.serverPort}`, '--token', o.token,
    '--data-dir', a.dataDir, '--node-name', a.name, '--node-ip', a.node.ip,
    '--runtime', 'process', '--kubelet-port', '0', '--cluster-cidr', o.clusterCIDR, ...(o.extra ?? []),
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
