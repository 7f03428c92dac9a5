/**
 * The service proxy (kube-proxy's role) of a node agent: picks the mode and starts it. `--proxy-mode` takes
 * kube-proxy's names; only the modes built so far are accepted, the others are refused with the reason.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import type { InformerFactory } from '../client/types.js';
import { createLogger } from '../log/logger.js';
import { IptablesBackend, removeIptablesRules } from './iptables/iptables-proxier.js';
import { chainPrefixFor } from './iptables/render-iptables.js';
import { NftablesBackend, removeNftTable } from './nftables/nftables-proxier.js';
import { ServiceProxier, type ProxyBackend, type SyncInfo } from './service-proxier.js';

const log = createLogger('proxy');

export const PROXY_MODES = ['iptables', 'nftables', 'userspace'] as const;
export type ProxyMode = (typeof PROXY_MODES)[number];
export const IMPLEMENTED_PROXY_MODES: readonly ProxyMode[] = ['iptables', 'nftables'];

/** Why a --proxy-mode value is refused, or undefined when it is accepted. */
export function proxyModeRefusal(value: string): string | undefined {
  if ((IMPLEMENTED_PROXY_MODES as readonly string[]).includes(value)) return undefined;
  if ((PROXY_MODES as readonly string[]).includes(value)) return `proxy mode ${value} is not implemented yet; skiff's service proxy runs in mode ${IMPLEMENTED_PROXY_MODES.join(', ')}`;
  return `must be one of ${IMPLEMENTED_PROXY_MODES.join(', ')} (userspace is not implemented yet)`;
}

export interface ServiceProxyOptions {
  /** undefined: iptables where it can run (root and iptables-restore), else no proxy (with a warning). */
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
}

export interface RunningServiceProxy {
  mode: ProxyMode;
  /** The per-agent id: chains `<prefix>-*` (iptables), table `ip skiff-<prefix in lower case>` (nftables). */
  prefix: string;
  stop(): Promise<void>;
}

const run = promisify(execFile);

/** Starts the proxy; undefined when no mode was asked for and none can run here. */
export async function startServiceProxy(o: ServiceProxyOptions): Promise<RunningServiceProxy | undefined> {
  const isRoot = process.getuid?.() === 0;
  const mode = o.mode ?? 'iptables';
  const tool = mode === 'nftables' ? 'nft' : 'iptables-restore';
  const hasTool = await run('sh', ['-c', `command -v ${tool}`]).then(
    () => true,
    () => false,
  );
  if (o.mode === undefined && (!isRoot || !hasTool)) {
    log.warn(`no service proxy: the iptables mode needs root and iptables-restore (${!isRoot ? 'not root' : 'iptables-restore not found'}); ClusterIPs and NodePorts do not answer on this node`);
    return undefined;
  }
  const refusal = proxyModeRefusal(mode);
  if (refusal) throw new Error(refusal);
  if (!isRoot) throw new Error(`--proxy-mode ${mode} needs root`);
  if (!hasTool) throw new Error(`--proxy-mode ${mode} needs ${tool} on PATH (Debian: ${mode})`);
  const prefix = chainPrefixFor(o.agentIdentity);
  const clusterCIDRs = o.clusterCIDRs.filter((c) => c.includes('.'));
  const backend: ProxyBackend<{ key: string }> =
    mode === 'nftables' ? new NftablesBackend({ table: `skiff-${prefix.toLowerCase()}`, clusterCIDRs }) : new IptablesBackend({ prefix, clusterCIDRs });
  // An agent that ran in the other mode before left its rules there (as kube-proxy, clean them up on a mode switch).
  await removeOtherMode(mode, prefix);
  const proxier = new ServiceProxier(
    {
      informers: o.informers,
      nodeName: o.nodeName,
      serviceCIDRs: o.serviceCIDRs.filter((c) => c.includes('.')),
      ...(o.routeDevice ? { routeDevice: o.routeDevice } : {}),
      ...(o.minSyncIntervalMs !== undefined ? { minSyncIntervalMs: o.minSyncIntervalMs } : {}),
      ...(o.onSynced ? { onSynced: o.onSynced } : {}),
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
  const where = mode === 'nftables' ? `table ip skiff-${prefix.toLowerCase()}` : `chains ${prefix}-*`;
  log.info(`service proxy: ${mode}, ${where}`, { prefix, clusterCIDRs: o.clusterCIDRs, serviceCIDRs: o.serviceCIDRs });
  return { mode, prefix, stop: () => proxier.stop() };
}

async function removeOtherMode(mode: ProxyMode, prefix: string): Promise<void> {
  const other = mode === 'nftables' ? 'iptables' : 'nft';
  const present = await run('sh', ['-c', `command -v ${other}`]).then(
    () => true,
    () => false,
  );
  if (!present) return;
  try {
    if (mode === 'nftables') await removeIptablesRules(prefix);
    else await removeNftTable(`skiff-${prefix.toLowerCase()}`);
  } catch (err) {
    log.warn(`could not remove this agent's ${other === 'nft' ? 'nftables table' : 'iptables chains'} from an earlier run in the other proxy mode`, { err });
  }
}
