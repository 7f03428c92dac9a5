/**
 * The node agent's NetworkPolicy enforcement, started beside the service proxy unless --disable-network-policy (k3s's
 * flag for its embedded kube-router netpol controller). It needs root and iptables-restore; without them the node
 * runs without enforcement and says so once, as the proxy does.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { ApiEventRecorder } from '../../../client/event-recorder.js';
import type { Client, InformerFactory } from '../../../client/types.js';
import { createLogger } from '../../../log/logger.js';
import { NetworkPolicyController, type PolicySyncInfo } from './network-policy-controller.js';

const run = promisify(execFile);
const log = createLogger('network-policy');

export interface NetworkPolicyStartOptions {
  client: Client;
  informers: InformerFactory;
  nodeName: string;
  /** Anything unique to this agent on the machine (its CNI bridge's name), as for the service proxy. */
  agentIdentity: string;
  onSynced?: (info: PolicySyncInfo) => void;
}

export interface RunningNetworkPolicy {
  /** The top chain, `SKIFF-POD-FW-<tag>`; every chain of this agent starts with it or with `SKIFF-NWPLCY-<tag>-`. */
  topChain: string;
  stop(): Promise<void>;
}

/** Starts enforcement; undefined (with a warning) where it cannot run. */
export async function startNetworkPolicy(o: NetworkPolicyStartOptions): Promise<RunningNetworkPolicy | undefined> {
  const isRoot = process.getuid?.() === 0;
  const hasTool = await run('sh', ['-c', 'command -v iptables-restore']).then(
    () => true,
    () => false,
  );
  if (!isRoot || !hasTool) {
    log.warn(`no network policy enforcement: it needs root and iptables-restore (${!isRoot ? 'not root' : 'iptables-restore not found'}); NetworkPolicies are not enforced on this node`);
    return undefined;
  }
  const controller = new NetworkPolicyController({
    informers: o.informers,
    nodeName: o.nodeName,
    agentIdentity: o.agentIdentity,
    recorder: new ApiEventRecorder(o.client, 'skiff-network-policy', { host: o.nodeName }),
    ...(o.onSynced ? { onSynced: o.onSynced } : {}),
  });
  await controller.start();
  log.info(`network policy: iptables, chains ${controller.topChain}*`, { node: o.nodeName });
  return { topChain: controller.topChain, stop: () => controller.stop() };
}
