/**
 * Pods' traffic leaving the node is masqueraded by one chain per agent, made when the node's podCIDRs are known, as
 * flannel does for k3s: `-s <podCIDR> -j SKIFF-MASQ-<bridge>` in nat POSTROUTING, and in the chain a RETURN for the
 * podCIDRs themselves and a MASQUERADE for everything else but multicast. The bridge plugin's own `ipMasq` would make a
 * chain and a jump per pod instead: four iptables calls on every pod's start and stop, about half of a pod's CNI ADD
 * on this machine. Pods keep running when the agent stops, so the chain stays until `removePodMasquerade` (the
 * agent's cleanup) takes it away.
 */
import { execFile } from 'node:child_process';
import { isIP } from 'node:net';
import { promisify } from 'node:util';

const run = promisify(execFile);

const IPTABLES_TIMEOUT_MS = 15_000;
/** iptables chain names are at most 28 characters; bridge names at most 15. */
const CHAIN_PREFIX = 'SKIFF-MASQ-';

/** The chain of the agent whose pods hang off `bridgeName`. */
export function podMasqueradeChain(bridgeName: string): string {
  return `${CHAIN_PREFIX}${bridgeName}`;
}

export interface MasqueradeRules {
  /** Rules of the chain, in order, as iptables arguments after `-A <chain>`. */
  chain: string[][];
  /** The POSTROUTING jump, as arguments after `-A POSTROUTING`. */
  jump: string[];
}

/**
 * Pure: the rules for one address family's podCIDRs (all of one family). `clusterCidrs` (the cluster's pod CIDRs, of
 * that family) are not masqueraded either: pods reach other nodes' pods with their own address, as with flannel.
 */
export function renderMasqueradeRules(bridgeName: string, cidrs: string[], clusterCidrs: string[] = []): MasqueradeRules {
  const chain = podMasqueradeChain(bridgeName);
  const v6 = isIP(cidrs[0]!.split('/')[0]!) === 6;
  const family = v6 ? 6 : 4;
  const returns = [...new Set([...clusterCidrs.filter((c) => isIP(c.split('/')[0]!) === family), ...cidrs])];
  const rules = returns.map((cidr) => ['-d', cidr, '-m', 'comment', '--comment', 'skiff: pod to pod, not masqueraded', '-j', 'RETURN']);
  rules.push(['!', '-d', v6 ? 'ff00::/8' : '224.0.0.0/4', '-m', 'comment', '--comment', 'skiff: pods leaving the node', '-j', 'MASQUERADE']);
  // One jump per family; with two podCIDRs of one family (not a shape skiff makes) the first is the one masqueraded.
  return { chain: rules, jump: ['-s', cidrs[0]!, '-m', 'comment', '--comment', `skiff: masquerade for pods on ${bridgeName}`, '-j', chain] };
}

/**
 * Makes (or remakes) the chain and its jump for `podCidrs`: the chain flushed and refilled, jumps naming other
 * sources (an old podCIDR) removed. Idempotent; a few iptables calls, once per podCIDR change.
 */
export async function ensurePodMasquerade(bridgeName: string, podCidrs: string[], clusterCidrs: string[] = []): Promise<void> {
  for (const family of [4, 6] as const) {
    const cidrs = podCidrs.filter((c) => isIP(c.split('/')[0]!) === family);
    if (cidrs.length === 0) continue;
    const tool = family === 4 ? 'iptables' : 'ip6tables';
    const nat = (...args: string[]) => run(tool, ['-w', '5', '-t', 'nat', ...args], { timeout: IPTABLES_TIMEOUT_MS });
    const rules = renderMasqueradeRules(bridgeName, cidrs, clusterCidrs);
    const chain = podMasqueradeChain(bridgeName);
    await nat('-N', chain).catch((err) => {
      if (!/already exists/i.test(String((err as { stderr?: string }).stderr ?? ''))) throw err;
    });
    await nat('-F', chain);
    for (const rule of rules.chain) await nat('-A', chain, ...rule);
    const wanted = rules.jump;
    let present = false;
    for (const jump of await jumpsTo(tool, chain)) {
      if (jump.join(' ') === wanted.join(' ')) present = true;
      else await nat('-D', 'POSTROUTING', ...jump);
    }
    if (!present) await nat('-A', 'POSTROUTING', ...wanted);
  }
}

/** Removes the chain and every jump to it (both families); nothing to remove is not an error. */
export async function removePodMasquerade(bridgeName: string): Promise<void> {
  const chain = podMasqueradeChain(bridgeName);
  for (const tool of ['iptables', 'ip6tables'] as const) {
    const nat = (...args: string[]) => run(tool, ['-w', '5', '-t', 'nat', ...args], { timeout: IPTABLES_TIMEOUT_MS });
    let jumps: string[][];
    try {
      jumps = await jumpsTo(tool, chain);
    } catch (err) {
      // No ip6tables or no IPv6 nat table: nothing of ours can be there.
      if (tool === 'ip6tables') continue;
      throw err;
    }
    for (const jump of jumps) await nat('-D', 'POSTROUTING', ...jump);
    await nat('-F', chain).catch(() => undefined);
    await nat('-X', chain).catch(() => undefined);
  }
}

/** The POSTROUTING rules jumping to `chain`, as `-A POSTROUTING` arguments (what `-D` takes). */
async function jumpsTo(tool: string, chain: string): Promise<string[][]> {
  const listing = (await run(tool, ['-w', '5', '-t', 'nat', '-S', 'POSTROUTING'], { timeout: IPTABLES_TIMEOUT_MS })).stdout;
  const jumps: string[][] = [];
  for (const line of listing.split('\n')) {
    if (!line.startsWith('-A POSTROUTING ') || !line.endsWith(` -j ${chain}`)) continue;
    jumps.push(splitRule(line.slice('-A POSTROUTING '.length)));
  }
  return jumps;
}

/** Splits an `iptables -S` rule into arguments: words, and double-quoted strings (the comments) as one. */
export function splitRule(rule: string): string[] {
  const args: string[] = [];
  const re = /"((?:[^"\\]|\\.)*)"|(\S+)/g;
  for (let m = re.exec(rule); m; m = re.exec(rule)) args.push(m[1] !== undefined ? m[1].replace(/\\(.)/g, '$1') : m[2]!);
  return args;
}
