/**
 * `skiff agent`: joins an existing server as a node (agent/node-agent.ts), or registers simulated nodes
 * (`--simulate N --kubeconfig FILE`, kwok-style: with that kubeconfig's identity, no join). Like k3s, the agent takes the server URL and the cluster token, fetches
 * the CA from /cacerts and, when the token is in its K10<sha256 of the CA>::server:<secret> form, refuses a CA whose
 * hash differs, before it sends the secret anywhere.
 */
import { HttpsTransport, loadKubeconfig } from '../client/https-transport.js';
import { SharedInformerFactory } from '../client/informer.js';
import { RestClient } from '../client/rest-client.js';
import { realClock } from '../client/types.js';
import { joinCluster } from '../agent/node/join.js';
import { createLogger, type LogFields } from '../log/logger.js';
import type { AgentConfig } from './agent-flags.js';
import { announcer } from './announcer.js';
import { nodeAgentStartOptions } from './node-agent-flags.js';

const log = createLogger('agent');

/**
 * Joins and runs the node (or the simulated nodes) until stop(). `announce` gets the ready line (default: printed on
 * stdout in the text log format, an info entry in the JSON one).
 */
export async function runAgent(config: AgentConfig, announce: (line: string, fields?: LogFields) => void = announcer(config.logFormat, log)): Promise<{ stop(): Promise<void> }> {
  if (config.simulate > 0) return runSimulatedNodes(config, announce);
  const a = config.agent;
  const { startNodeAgent, nodeInternalIPs } = await import('../agent/node-agent.js');
  // The token's secret buys this node its own client and serving certificates; the admin identity is never used.
  const creds = await joinCluster({ server: config.server, token: config.token, nodeName: a.nodeName, nodeIPs: nodeInternalIPs(a.nodeName, a.nodeIp), dataDir: config.dataDir });
  const client = new RestClient(new HttpsTransport({ server: config.server, ca: creds.ca, cert: creds.clientCert, key: creds.clientKey, userAgent: `skiff-agent/${a.nodeName}` }));
  const informers = new SharedInformerFactory(client);
  // The server's cluster DNS (k3s hands its agents --cluster-dns and --cluster-domain the same way, from the server).
  const { readClusterDns } = await import('../dns/kube-dns-service.js');
  const dns = await readClusterDns(client).catch((err: Error) => log.warn(`cannot read the kube-dns Service: ${err.message}; ClusterFirst pods use the host's resolver`));
  // The cluster's ranges from the server at join (k3s's way), unless this agent was given --cluster-cidr.
  const clusterCidrs = a.clusterCidrs ?? (creds.cluster?.clusterCIDRs.length ? creds.cluster.clusterCIDRs : undefined);
  const serviceCidrs = creds.cluster?.serviceCIDRs ?? [];
  log.info(`cluster CIDR ${clusterCidrs?.join(',') ?? '10.42.0.0/16 (default; the server published none)'}${a.clusterCidrs ? ' (--cluster-cidr)' : ' (from the server)'}, service CIDR ${serviceCidrs.join(',') || 'unknown'}`);
  const running = await startNodeAgent({
    client,
    informers,
    dataDir: config.dataDir,
    ...nodeAgentStartOptions(a),
    ...(clusterCidrs ? { clusterCidrs } : {}),
    serviceCidrs,
    tls: { ca: creds.ca, cert: creds.servingCert, key: creds.servingKey },
    ...(dns ?? {}),
  });
  announce(`skiff agent ready: node ${a.nodeName} joined ${config.server} (runtime ${running.runtime.name}: ${running.runtimeReason}; agent API on port ${running.port})`, { server: config.server, node: a.nodeName });
  return {
    async stop() {
      await running.stop();
      informers.stop();
    },
  };
}

/** `--simulate N`: N simulated nodes instead of a real one (kwok-style). */
async function runSimulatedNodes(config: AgentConfig, announce: (line: string, fields?: LogFields) => void): Promise<{ stop(): Promise<void> }> {
  // kwok's way: the simulated kubelets act with the kubeconfig's identity. A joined node's certificate would not do:
  // NodeRestriction lets system:node:<name> write only its own Node, and the join token is no identity at all.
  const kubeconfig = await loadKubeconfig(config.kubeconfig!);
  // Loaded only here: a real node's agent does without the simulator's stages and objects.
  const { SimulatedNodes } = await import('../agent/simulated/simulated-nodes.js');
  const client = new RestClient(new HttpsTransport(kubeconfig));
  const informers = new SharedInformerFactory(client);
  const nodes = new SimulatedNodes({
    client,
    informers,
    clock: realClock,
    count: config.simulate,
    namePrefix: `${config.agent.nodeName}-sim`,
    capacity: config.simulateNodeCapacity,
    podReadyDelayMs: config.simulatePodReadyDelayMs,
  });
  nodes.start();
  await nodes.waitForRegistration();
  announce(`skiff agent ready: ${config.simulate} simulated nodes (${config.agent.nodeName}-sim-0 ...) registered with ${kubeconfig.server}`, { server: kubeconfig.server, nodes: config.simulate });
  return {
    async stop() {
      nodes.stop();
      informers.stop();
    },
  };
}
