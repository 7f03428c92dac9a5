/**
 * The node's InternalIPs as it will register them. Apart from node-agent.ts so that callers that only need the
 * address (the server's kubernetes endpoints and cluster DNS, the agent's join) do not load the whole agent.
 */
import { networkInterfaces } from 'node:os';
import { computeNodeAddresses } from './node-status.js';

/** --node-ip, else the host's first non-loopback address. */
export function nodeInternalIPs(nodeName: string, nodeIp?: string): string[] {
  return computeNodeAddresses({ nodeName, ...(nodeIp ? { nodeIPs: [nodeIp] } : {}), interfaces: networkInterfaces() })
    .filter((a) => a.type === 'InternalIP')
    .map((a) => a.address);
}
