/**
 * Nodes as network namespaces on this machine, for multi-node network tests. The links between the nodes live in a
 * router namespace of the test's own, not on the host: each link is a bridge there with the link's first address,
 * each node a network namespace joined to its link by a veth pair, with the link's next address as its node IP. The
 * router forwards between the links (its own ip_forward, its own empty iptables), and one more veth pair joins it to
 * the host, so the nodes reach a server on the host (at `hostIp`) and the host reaches the nodes (a route per link via
 * the router). Nothing between two nodes crosses the host's netfilter or depends on the host's sysctls — on a fresh
 * machine ip_forward is 0 and br_netfilter sends bridged frames through the host's FORWARD chain, where other tests'
 * rules live. Nodes have no default route, so nothing a test node (or a pod behind it) sends can leave the machine.
 *
 *   makeNetnsNodes({ prefix, links: [2, 1] })   two nodes sharing link 0 (host-gw), one on link 1 (routed: vxlan)
 *   spawnInNetns(node, argv)                     a process in the node's network namespace (nsenter --net: the mount
 *                                                namespace stays the host's, so cgroups and /sys are the real ones —
 *                                                `ip netns exec` would remount /sys and hide the cgroup hierarchies)
 *   topology.remove()                            the namespaces (with every device, route and rule made inside), the
 *                                                host's veth and routes
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { randomInt } from 'node:crypto';
import { existsSync } from 'node:fs';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface NetnsNode {
  /** Namespace name (ip netns: /run/netns/<name>). */
  netns: string;
  /** The node's address on its link (its --node-ip). */
  ip: string;
  /** The host's address as the nodes reach it through the router (the server's URL host for every node). */
  hostIp: string;
  /** The router's address on the node's link (the node's next hop to everything off its link). */
  gateway: string;
  link: number;
}

export interface NetnsTopology {
  nodes: NetnsNode[];
  /** The router's namespace (holds the links' bridges). */
  router: string;
  /** The links' subnets (/24); the last /24 of `subnets` is not a link: it holds the host–router pair. */
  subnets: string[];
  /** Removes everything made (idempotent); returns what it found still there and removed. */
  remove(): Promise<string[]>;
}

/** Free /24s (no route or address overlaps) in 10.73.0.0/16-10.79.0.0/16, one per link. */
async function freeSubnets(count: number): Promise<string[]> {
  const routes = JSON.parse((await run('ip', ['-j', '-4', 'route', 'show', 'table', 'all'])).stdout) as Array<{ dst: string }>;
  const addrs = JSON.parse((await run('ip', ['-j', '-4', 'addr'])).stdout) as Array<{ addr_info?: Array<{ local: string }> }>;
  const used = new Set<string>();
  for (const r of routes) if (r.dst !== 'default') used.add(r.dst.split('/')[0]!.split('.').slice(0, 3).join('.'));
  for (const l of addrs) for (const a of l.addr_info ?? []) used.add(a.local.split('.').slice(0, 3).join('.'));
  const out: string[] = [];
  for (let attempt = 0; out.length < count && attempt < 500; attempt++) {
    const prefix = `10.${73 + randomInt(7)}.${randomInt(256)}`;
    if (used.has(prefix) || out.some((s) => s.startsWith(`${prefix}.`))) continue;
    out.push(`${prefix}.0/24`);
  }
  if (out.length < count) throw new Error('no free /24 for the test links');
  return out;
}

/**
 * `links[i]` nodes on link i. Names: netns `<prefix>-n<k>` and `<prefix>-r` (the router), the host's veth to the
 * router `<prefix>h` (prefix at most 9 characters, so names fit the kernel's 15).
 */
export async function makeNetnsNodes(o: { prefix: string; links: number[] }): Promise<NetnsTopology> {
  if (o.prefix.length > 9) throw new Error(`prefix ${o.prefix} is longer than 9 characters`);
  const all = await freeSubnets(o.links.length + 1);
  const subnets = all.slice(0, o.links.length);
  const uplink = all[o.links.length]!.replace(/\.0\/24$/, '');
  const router = `${o.prefix}-r`;
  const hostIp = `${uplink}.1`;
  const topology: NetnsTopology = { nodes: [], router, subnets, remove: () => removeNetnsNodes(topology, o.prefix) };
  const inRouter = (...args: string[]) => run('ip', ['-n', router, ...args]);
  try {
    await run('ip', ['netns', 'add', router]);
    await run('ip', ['netns', 'exec', router, 'sysctl', '-q', '-w', 'net.ipv4.ip_forward=1']);
    await inRouter('link', 'set', 'lo', 'up');
    // The host's end: its address, and a route per link through the router.
    await run('ip', ['link', 'add', `${o.prefix}h`, 'type', 'veth', 'peer', 'name', 'uplink', 'netns', router]);
    await run('ip', ['addr', 'add', `${hostIp}/24`, 'dev', `${o.prefix}h`]);
    await run('ip', ['link', 'set', `${o.prefix}h`, 'up']);
    await inRouter('addr', 'add', `${uplink}.2/24`, 'dev', 'uplink');
    await inRouter('link', 'set', 'uplink', 'up');
    for (const subnet of subnets) await run('ip', ['route', 'add', subnet, 'via', `${uplink}.2`]);
    let k = 0;
    for (let i = 0; i < o.links.length; i++) {
      const base = subnets[i]!.replace(/\.0\/24$/, '');
      const bridge = `b${i}`;
      await inRouter('link', 'add', bridge, 'type', 'bridge');
      await inRouter('addr', 'add', `${base}.1/24`, 'dev', bridge);
      await inRouter('link', 'set', bridge, 'up');
      for (let j = 0; j < o.links[i]!; j++, k++) {
        const netns = `${o.prefix}-n${k}`;
        const node: NetnsNode = { netns, ip: `${base}.${2 + j}`, hostIp, gateway: `${base}.1`, link: i };
        await run('ip', ['netns', 'add', netns]);
        topology.nodes.push(node);
        await inRouter('link', 'add', `n${k}`, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', netns);
        await inRouter('link', 'set', `n${k}`, 'master', bridge, 'up');
        const inNs = (...args: string[]) => run('ip', ['-n', netns, ...args]);
        await inNs('link', 'set', 'lo', 'up');
        await inNs('addr', 'add', `${node.ip}/24`, 'dev', 'eth0');
        await inNs('link', 'set', 'eth0', 'up');
        // The other links and the host through the router; no default route.
        for (const other of [...subnets, `${uplink}.0/24`]) if (other !== subnets[i]) await inNs('route', 'add', other, 'via', node.gateway);
      }
    }
  } catch (err) {
    await topology.remove();
    throw err;
  }
  return topology;
}

async function removeNetnsNodes(t: NetnsTopology, prefix: string): Promise<string[]> {
  const removed: string[] = [];
  const names = new Set(t.nodes.map((n) => n.netns));
  for (const line of (await run('ip', ['netns', 'list'])).stdout.split('\n')) {
    const name = line.split(' ')[0];
    if (name && (name.startsWith(`${prefix}-n`) || name === `${prefix}-r`)) names.add(name);
  }
  for (const netns of names) {
    if (!existsSync(`/run/netns/${netns}`)) continue;
    // Processes still inside keep the namespace (and its devices) alive after `ip netns del`.
    const pids = (await run('ip', ['netns', 'pids', netns]).catch(() => ({ stdout: '' }))).stdout.split('\n').filter(Boolean).map(Number);
    for (const pid of pids) {
      try {
        process.kill(pid, 'SIGKILL');
        removed.push(`process ${pid} in ${netns}`);
      } catch {
        // gone already
      }
    }
    await run('ip', ['netns', 'del', netns]);
    removed.push(`netns ${netns}`);
  }
  const links = JSON.parse((await run('ip', ['-j', 'link', 'show'])).stdout) as Array<{ ifname: string }>;
  for (const l of links) {
    if (!l.ifname.startsWith(prefix)) continue;
    await run('ip', ['link', 'del', l.ifname]).catch(() => undefined);
    removed.push(`link ${l.ifname}`);
  }
  return removed;
}

/** What of the topology is still on the host (netns, links); empty when removed. */
export async function netnsLeftovers(prefix: string): Promise<string[]> {
  const out: string[] = [];
  for (const line of (await run('ip', ['netns', 'list'])).stdout.split('\n')) {
    const name = line.split(' ')[0]!;
    if (name.startsWith(`${prefix}-n`) || name === `${prefix}-r`) out.push(`netns ${name}`);
  }
  const links = JSON.parse((await run('ip', ['-j', 'link', 'show'])).stdout) as Array<{ ifname: string }>;
  for (const l of links) if (l.ifname.startsWith(prefix)) out.push(`link ${l.ifname}`);
  return out;
}

/** Runs argv inside the node's network namespace (same pid: nsenter execs the command). */
export function spawnInNetns(node: NetnsNode, argv: string[]): ChildProcess {
  return spawn('nsenter', [`--net=/run/netns/${node.netns}`, '--', ...argv], { stdio: ['ignore', 'pipe', 'pipe'] });
}

/** A command's output inside the node's network namespace. */
export async function inNode(node: NetnsNode, argv: string[]): Promise<string> {
  return (await run('nsenter', [`--net=/run/netns/${node.netns}`, '--', ...argv], { timeout: 10_000 })).stdout;
}
