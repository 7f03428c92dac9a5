/**
 * Which pod network the agent runs, from --flannel-backend, --cni-conf-dir and --cni-bin-dir (k3s's flags), with the
 * reason printed at start:
 *
 *   a CNI config in the conf dir, with --flannel-backend none or an explicit --cni-conf-dir   the user's: skiff writes
 *        no conflist, makes no masquerade chain and programs no routes; both runtimes use that dir and the bin dir
 *   --flannel-backend none, no config there   no pod network until one is installed (pods use the host network)
 *   otherwise   skiff's bridge conflist in the conf dir, and routes to the other nodes' podCIDRs:
 *        auto (default): host-gw to nodes on a directly connected link, vxlan to the others; host-gw or vxlan: only that
 */
import { join } from 'node:path';
import { CniNetwork, DEFAULT_CNI_PLUGIN_DIR } from './cni-network.js';
import { type FlannelBackend } from './node-routes.js';
import { loadUserCniConfig } from './user-cni-config.js';

export interface PodNetworkSelection {
  /** Undefined: no pod network (pods use the host network). */
  network?: CniNetwork;
  confDir: string;
  binDir: string;
  /** The backend whose routes the agent programs; undefined: none (a user CNI, or --flannel-backend none). */
  routes?: Exclude<FlannelBackend, 'none'>;
  /** The user's config file, when one is used. */
  userConfig?: string;
  /** One line for the start log. */
  reason: string;
}

export interface SelectPodNetworkOptions {
  agentDir: string;
  /** The agent's default conf dir (<data-dir>/agent/etc/cni/net.d). */
  defaultConfDir: string;
  backend?: FlannelBackend;
  cniConfDir?: string;
  cniBinDir?: string;
  clusterCidrs?: string[];
}

export async function selectPodNetwork(o: SelectPodNetworkOptions): Promise<PodNetworkSelection> {
  const backend = o.backend ?? 'auto';
  const confDir = o.cniConfDir ?? o.defaultConfDir;
  const binDir = o.cniBinDir ?? DEFAULT_CNI_PLUGIN_DIR;
  const base = { stateDir: join(o.agentDir, 'cni'), confDir, pluginDirs: [binDir], ...(o.clusterCidrs ? { clusterCidrs: o.clusterCidrs } : {}) };
  if (backend === 'none' || o.cniConfDir !== undefined) {
    const user = await loadUserCniConfig(confDir);
    if (user !== undefined) {
      return {
        network: new CniNetwork({ ...base, configList: user.list }),
        confDir,
        binDir,
        userConfig: user.path,
        reason: `the CNI config ${user.path} (network ${JSON.stringify(user.list.name)}, plugins ${user.list.plugins.map((p) => p.type).join(', ')} from ${binDir}); skiff writes none and programs no routes${backend === 'none' ? '' : ` (--flannel-backend ${backend} ignored)`}`,
      };
    }
    if (backend === 'none') {
      return {
        confDir,
        binDir,
        reason: `--flannel-backend none and no CNI config in ${confDir}: pods use the host network until one is there and the agent restarts`,
      };
    }
  }
  const how = backend === 'auto' ? 'host-gw to nodes on a shared link, vxlan to the others' : `${backend} to every other node`;
  return { network: new CniNetwork(base), confDir, binDir, routes: backend, reason: `skiff's bridge over the node's podCIDR (${confDir}); routes between nodes: ${how}` };
}
