/**
 * The service proxy (kube-proxy's role) of a node agent: picks the mode and starts it. `--proxy-mode` takes
 * kube-proxy's names: iptables, nftables, userspace. Without the flag: iptables as root with iptables-restore, else
 * userspace (without root: NodePorts only).
 */
import { execFile } from 'node:child_process';
import { networkInterfaces } from 'node:os';
import { promisify } from 'node:util';
import type { InformerFactory } from '../client/types.js';
import { createLogger } from '../log/logger.js';
import { IptablesBackend, removeIptablesRules } from './iptables/iptables-proxier.js';
import { chainPrefixFor } from './iptables/render-iptables.js';
import { NftablesBackend, removeNftTable } from './nftables/nftables-proxier.js';
import { ServiceHealthServer } from './service-health-server.js';
import { ServiceProxier, type ProxyBackend, type SyncInfo } from './service-proxier.js';
import { removeUserspaceRules, UserspaceBackend } from './userspace/userspace-proxier.js';
import { proxyModeRefusal, type ProxyMode } from './proxy-modes.js';

const log = createLogger('proxy');

export { IMPLEMENTED_PROXY_MODES, PROXY_MODES, proxyModeRefusal, type ProxyMode } from './proxy-modes.js';

export interface ServiceProxyOptions {
  /** undefined: iptables where it can run (root and iptables-restore), else userspace (said at start). */
  mode?: ProxyMode;
  informers: InformerFactory;
  nodeName: string;
  /** Anything unique to this agent on the machine (its CNI bridge's name): chains are named after it. */
  agentIdentity: string;
  clusterCIDRs: string[];
  serviceCIDRs: string[];
  /** The pod bridge: the service CIDR is routed to it. */
  routeDevice?: string;
  minSyncIntervalMs?: number;
  onSynced?: (info: SyncInfo) => void;
  /**
   * The node's addresses, for loadBalancerSourceRanges that hold the node (the LB IPs are then allowed as sources
   * too); default: the IPv4 addresses of the machine's interfaces but loopback, at start.
   */
  nodeIPs?: string[];
}

export interface RunningServiceProxy {
  mode: ProxyMode;
  /** The per-agent id: chains `<prefix>-*` (iptables, userspace), table `ip skiff-<prefix in lower case>` (nftables). */
  prefix: string;
  stop(): Promise<void>;
}

const run = promisify(execFile);

/** Starts the proxy; undefined when it was chosen by default and could not start. */
export async function startServiceProxy(o: ServiceProxyOptions): Promise<RunningServiceProxy | undefined> {
  const isRoot = process.getuid?.() === 0;
  const has = (tool: string) =>
    run('sh', ['-c', `command -v ${tool}`]).then(
      () => true,
      () => false,
    );
  const hasIptables = await has('iptables-restore');
  const mode: ProxyMode = o.mode ?? (isRoot && hasIptables ? 'iptables' : 'userspace');
  const refusal = proxyModeRefusal(mode);
  if (refusal) throw new Error(refusal);
  const prefix = chainPrefixFor(o.agentIdentity);
  const clusterCIDRs = o.clusterCIDRs.filter((c) => c.includes('.'));
  let backend: ProxyBackend<{ key: string }>;
  let where: string;
  let redirect = false;
  if (mode === 'userspace') {
    // ClusterIPs need the REDIRECT rules; NodePorts are listened on directly (30000-32767 need no privilege).
    redirect = isRoot && hasIptables;
    backend = new UserspaceBackend({ prefix, redirect });
    where = redirect
      ? `chains ${prefix}-PORTALS-*`
      : `NodePorts only (${!isRoot ? 'not root' : 'iptables-restore not found'}: ClusterIP, external and load-balancer IP traffic is not redirected to the proxy on this node)`;
  } else {
    const tool = mode === 'nftables' ? 'nft' : 'iptables-restore';
    if (!isRoot) throw new Error(`--proxy-mode ${mode} needs root (--proxy-mode userspace does not: NodePorts only)`);
    if (!(mode === 'nftables' ? await has('nft') : hasIptables)) throw new Error(`--proxy-mode ${mode} needs ${tool} on PATH (Debian: ${mode})`);
    const nodeIPs = o.nodeIPs ?? hostIPv4Addresses();
    backend = mode === 'nftables' ? new NftablesBackend({ table: `skiff-${prefix.toLowerCase()}`, clusterCIDRs, nodeIPs }) : new IptablesBackend({ prefix, clusterCIDRs, nodeIPs });
    where = mode === 'nftables' ? `table ip skiff-${prefix.toLowerCase()}` : `chains ${prefix}-*`;
  }
  // An agent that ran in another mode before left its rules there (as kube-proxy, clean them up on a mode switch).
  if (isRoot) await removeOtherModes(mode, prefix);
  const proxier = new ServiceProxier(
    {
      informers: o.informers,
      nodeName: o.nodeName,
      serviceCIDRs: o.serviceCIDRs.filter((c) => c.includes('.')),
      // Without the portals nothing is sent to ClusterIPs: no route for them either.
      ...(o.routeDevice && (mode !== 'userspace' || redirect) ? { routeDevice: o.routeDevice } : {}),
      ...(o.minSyncIntervalMs !== undefined ? { minSyncIntervalMs: o.minSyncIntervalMs } : {}),
      ...(o.onSynced ? { onSynced: o.onSynced } : {}),
      // kube-proxy serves them in every mode (a cloud load balancer asks each node whether it has local endpoints).
      healthServer: new ServiceHealthServer(),
    },
    backend,
  );
  try {
    await proxier.start();
  } catch (err) {
    await proxier.stop().catch(() => undefined);
    // Asked for explicitly: the agent does not start without it. Chosen by default: the node runs without a proxy.
    if (o.mode !== undefined) throw err;
    log.error(`the service proxy (${mode}) did not start; ClusterIPs and NodePorts do not answer on this node`, { err });
    return undefined;
  }
  log.info(`service proxy: ${mode}${o.mode === undefined && mode === 'userspace' ? ' (the default without root and iptables-restore)' : ''}, ${where}`, { prefix, clusterCIDRs: o.clusterCIDRs, serviceCIDRs: o.serviceCIDRs });
  return { mode, prefix, stop: () => proxier.stop() };
}

function hostIPv4Addresses(): string[] {
  return Object.values(networkInterfaces())
    .flatMap((addrs) => addrs ?? [])
    .filter((a) => a.family === 'IPv4' && !a.internal)
    .map((a) => a.address);
}

async function removeOtherModes(mode: ProxyMode, prefix: string): Promise<void> {
  const hasIptables = await run('sh', ['-c', 'command -v iptables']).then(
    () => true,
    () => false,
  );
  const hasNft = await run('sh', ['-c', 'command -v nft']).then(
    () => true,
    () => false,
  );
  const attempt = async (what: string, f: () => Promise<void>) => {
    try {
      await f();
    } catch (err) {
      log.warn(`could not remove this agent's ${what} from an earlier run in another proxy mode`, { err });
    }
  };
  // The userspace jumps first: the iptables mode's cleanup deletes every chain under the prefix, theirs included
  // (in userspace mode too: its first sync writes them again).
  if (hasIptables) await attempt('userspace portal chains', () => removeUserspaceRules(prefix));
  if (hasIptables && mode !== 'iptables') await attempt('iptables chains', () => removeIptablesRules(prefix));
  if (hasNft && mode !== 'nftables') await attempt('nftables table', () => removeNftTable(`skiff-${prefix.toLowerCase()}`));
}
