/**
 * The service proxy (kube-proxy's role) of a node agent: picks the mode and starts it. `--proxy-mode` takes
 * kube-proxy's names; only the modes built so far are accepted, the others are refused with the reason.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import type { InformerFactory } from '../client/types.js';
import { createLogger } from '../log/logger.js';
import { IptablesProxier, type SyncInfo } from './iptables/iptables-proxier.js';
import { chainPrefixFor } from './iptables/render-iptables.js';

const log = createLogger('proxy');

export const PROXY_MODES = ['iptables', 'nftables', 'userspace'] as const;
export type ProxyMode = (typeof PROXY_MODES)[number];
export const IMPLEMENTED_PROXY_MODES: readonly ProxyMode[] = ['iptables'];

/** Why a --proxy-mode value is refused, or undefined when it is accepted. */
export function proxyModeRefusal(value: string): string | undefined {
  if ((IMPLEMENTED_PROXY_MODES as readonly string[]).includes(value)) return undefined;
  if ((PROXY_MODES as readonly string[]).includes(value)) return `proxy mode ${value} is not implemented yet; skiff's service proxy runs in mode ${IMPLEMENTED_PROXY_MODES.join(', ')}`;
  return `must be one of ${IMPLEMENTED_PROXY_MODES.join(', ')} (nftables and userspace are not implemented yet)`;
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
  /** The chain prefix (iptables mode). */
  prefix: string;
  stop(): Promise<void>;
}

const run = promisify(execFile);

/** Starts the proxy; undefined when no mode was asked for and none can run here. */
export async function startServiceProxy(o: ServiceProxyOptions): Promise<RunningServiceProxy | undefined> {
  const isRoot = process.getuid?.() === 0;
  const hasTool = await run('sh', ['-c', 'command -v iptables-restore']).then(
    () => true,
    () => false,
  );
  if (o.mode === undefined && (!isRoot || !hasTool)) {
    log.warn(`no service proxy: the iptables mode needs root and iptables-restore (${!isRoot ? 'not root' : 'iptables-restore not found'}); ClusterIPs and NodePorts do not answer on this node`);
    return undefined;
  }
  const mode = o.mode ?? 'iptables';
  if (mode !== 'iptables') throw new Error(proxyModeRefusal(mode));
  if (!isRoot) throw new Error('--proxy-mode iptables needs root');
  if (!hasTool) throw new Error('--proxy-mode iptables needs iptables-restore on PATH (Debian: iptables)');
  const prefix = chainPrefixFor(o.agentIdentity);
  const proxier = new IptablesProxier({
    informers: o.informers,
    nodeName: o.nodeName,
    prefix,
    clusterCIDRs: o.clusterCIDRs.filter((c) => c.includes('.')),
    serviceCIDRs: o.serviceCIDRs.filter((c) => c.includes('.')),
    ...(o.routeDevice ? { routeDevice: o.routeDevice } : {}),
    ...(o.minSyncIntervalMs !== undefined ? { minSyncIntervalMs: o.minSyncIntervalMs } : {}),
    ...(o.onSynced ? { onSynced: o.onSynced } : {}),
  });
  try {
    await proxier.start();
  } catch (err) {
    await proxier.stop().catch(() => undefined);
    // Asked for explicitly: the agent does not start without it. Chosen by default: the node runs without a proxy.
    if (o.mode !== undefined) throw err;
    log.error('the service proxy (iptables) did not start; ClusterIPs and NodePorts do not answer on this node', { err });
    return undefined;
  }
  log.info(`service proxy: iptables, chains ${prefix}-*`, { prefix, clusterCIDRs: o.clusterCIDRs, serviceCIDRs: o.serviceCIDRs });
  return { mode, prefix, stop: () => proxier.stop() };
}
