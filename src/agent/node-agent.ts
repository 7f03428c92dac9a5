/**
 * The node agent: everything that makes one machine a node, put together. `skiff agent` runs it after joining with
 * the cluster token; `skiff server` runs it embedded (unless --disable-agent). Its parts, each in its own folder:
 *
 *   runtime/    the ContainerRuntime (`cri`: containerd, skiff's own unless an endpoint is given; `process`: host
 *               processes), chosen by --runtime (select-runtime.ts)
 *   network/    CNI: the conflist over the node's podCIDR, used by containerd and by the process runtime
 *   node/       the Node object: registration, status with real measurements, Lease heartbeat
 *   kubelet/    the pod workers: plan (computePodActions), act through the runtime, report status
 *   volumes/    pod volumes, and the local-path reclaimer
 *   probes/     liveness, readiness and startup probes
 *   server/     the HTTPS API on --kubelet-port (logs, exec, attach, port-forward, stats) the API server proxies to
 *
 * Start order: runtime → agent API (its port goes into the Node) → Node registered → podCIDR assigned (the CNI
 * conflist needs it) → volumes and the pod workers. stop() ends syncing and serving; containers keep running, and
 * a restarted agent adopts them.
 */
import { KubeletMetrics } from '../observability/kubelet-metrics.js';
import { DelegatedAuth } from './server/delegated-auth.js';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { ApiEventRecorder } from '../client/event-recorder.js';
import { Pods } from '../client/resources.js';
import type { Client, InformerFactory } from '../client/types.js';
import { createLogger } from '../log/logger.js';
import { NodeIngress } from '../ingress/node-ingress.js';
import { NodeServiceLB } from '../servicelb/node-servicelb.js';
import { startServiceProxy, type ProxyMode } from '../proxy/service-proxy.js';
import { Kubelet } from './kubelet/kubelet.js';
import type { Pod } from './kubelet/objects.js';
import { NodeNetwork } from './network/node-network.js';
import { startNetworkPolicy } from './network/policy/start-network-policy.js';
import type { FlannelBackend } from './network/node-routes.js';
import { selectPodNetwork } from './network/select-pod-network.js';
import { readHostFacts } from './node/host-facts.js';
import { HostMeasurements } from './node/host-measurements.js';
import { NodeReporter } from './node/node-reporter.js';
import { KubeletProbeManager } from './probes/kubelet-probe-manager.js';
import { cniConfDirOf, managedContainerdMissing } from './runtime/cri/host-requirements.js';
import { selectRuntime, type RuntimeChoice } from './runtime/select-runtime.js';
import type { ContainerRuntime, RuntimeCondition } from './runtime/types.js';
import { RuntimeBackend } from './runtime-backend.js';
import { AgentServer } from './server/agent-server.js';
import { LocalPathReclaimer } from './volumes/local-path-reclaimer.js';
import { HostVolumeManager } from './volumes/host-volume-manager.js';
import { clientVolumeSources } from './volumes/volume-sources.js';
import type { Taint } from 'kubernetes-types/core/v1.js';

/** Re-exported for the callers that start the agent; those that need only the address import node/node-ips.ts. */
export { nodeInternalIPs } from './node/node-ips.js';

const log = createLogger('agent');

export interface NodeAgentOptions {
  /** A client acting as this node (system:node:<name> in system:nodes). */
  client: Client;
  informers: InformerFactory;
  /** The data dir; the agent keeps its files under `<dataDir>/agent` and local-path volumes under `<dataDir>/storage`. */
  dataDir: string;
  nodeName: string;
  nodeIp?: string;
  labels?: Record<string, string>;
  taints?: Taint[];
  /** node-role.kubernetes.io/<role> labels (a server's own node: control-plane, master). */
  roles?: string[];
  runtime: RuntimeChoice;
  containerRuntimeEndpoint?: string;
  pauseImage?: string;
  privateRegistry?: string;
  /** The agent API's port (0: any free port). */
  kubeletPort: number;
  /** The cluster CA (trust root for callers of the agent API) and this node's serving certificate. */
  tls: { ca: string; cert: string; key: string };
  /** Container log root (kubelet: /var/log/pods). Default: /var/log/pods as root, else `<dataDir>/agent/pod-logs`. */
  logRoot?: string;
  /** --container-log-max-size (bytes, default 10 MiB) and --container-log-max-files (default 5), for both runtimes. */
  containerLogMaxSizeBytes?: number;
  containerLogMaxFiles?: number;
  /** Wait at most this long for the node's podCIDR before running pods (default 60 s). */
  podCidrTimeoutMs?: number;
  /**
   * Cluster DNS servers for dnsPolicy ClusterFirst pods (kubelet's --cluster-dns; skiff server passes --cluster-dns).
   * Default: none; ClusterFirst pods then use the host's resolver, with kubelet's MissingClusterDNS warning.
   */
  clusterDNS?: string[];
  /** kubelet's --cluster-domain (default cluster.local). */
  clusterDomain?: string;
  /** --flannel-backend (default auto: host-gw to nodes on a shared link, vxlan to others; none: no skiff routes). */
  flannelBackend?: FlannelBackend;
  /** The cluster's pod CIDRs (--cluster-cidr): not masqueraded between pods; skiff's routes only inside them. */
  clusterCidrs?: string[];
  /** --cni-conf-dir / --cni-bin-dir: a CNI config found there is used as it is (skiff writes none). */
  cniConfDir?: string;
  cniBinDir?: string;
  /** The service proxy (src/proxy): --proxy-mode (undefined: iptables where it can run, else userspace) and the service CIDRs it routes. */
  proxyMode?: ProxyMode;
  serviceCidrs?: string[];
  /** --disable-network-policy: no NetworkPolicy enforcement on this node (src/agent/network/policy). */
  disableNetworkPolicy?: boolean;
  /**
   * Ports of the built-in ingress (--ingress-http-port, --ingress-https-port; default 80 and 443). It listens only
   * while the server's IngressClass skiff exists (src/ingress).
   */
  ingressPorts?: { http: number; https: number };
}

export interface RunningNodeAgent {
  nodeName: string;
  runtime: ContainerRuntime;
  /** The agent API's port. */
  port: number;
  /** Why this runtime (printed at start). */
  runtimeReason: string;
  stop(): Promise<void>;
}

/** k3s's --cluster-cidr default, which the server's node IPAM uses unless told otherwise. */
const DEFAULT_CLUSTER_CIDR = '10.42.0.0/16';

const isRoot = () => typeof process.getuid === 'function' && process.getuid() === 0;

export async function startNodeAgent(o: NodeAgentOptions): Promise<RunningNodeAgent> {
  const agentDir = join(o.dataDir, 'agent');
  await mkdir(agentDir, { recursive: true, mode: 0o700 });
  const missing = managedContainerdMissing();
  const selection = selectRuntime(o.runtime, { ...(o.containerRuntimeEndpoint ? { endpoint: o.containerRuntimeEndpoint } : {}), ...(missing ? {} : { containerdPath: 'containerd' }) });
  log.info(`container runtime: ${selection.runtime} (${selection.reason})`, { runtime: selection.runtime });

  const podNetwork = await selectPodNetwork({
    agentDir,
    defaultConfDir: cniConfDirOf(o.dataDir),
    ...(o.flannelBackend ? { backend: o.flannelBackend } : {}),
    ...(o.cniConfDir ? { cniConfDir: o.cniConfDir } : {}),
    ...(o.cniBinDir ? { cniBinDir: o.cniBinDir } : {}),
    clusterCidrs: o.clusterCidrs ?? [DEFAULT_CLUSTER_CIDR],
  });
  const network = podNetwork.network;
  log.info(`pod network: ${podNetwork.reason}`);
  const stops: Array<() => Promise<void> | void> = [];
  const stopAll = async () => {
    for (const stop of stops.reverse()) {
      try {
        await stop();
      } catch (err) {
        log.error('error while stopping the node agent', { err });
      }
    }
  };
  try {
    let runtime: ContainerRuntime;
    // Each runtime's code is loaded only when chosen: the CRI client pulls in @grpc/grpc-js and protobufjs (agent memory).
    if (selection.runtime === 'cri') {
      const { startCriRuntime } = await import('./runtime/cri/start-cri-runtime.js');
      const cri = await startCriRuntime({
        dataDir: o.dataDir,
        ...(selection.endpoint ? { endpoint: selection.endpoint } : {}),
        ...(o.pauseImage ? { pauseImage: o.pauseImage } : {}),
        ...(o.privateRegistry ? { privateRegistryFile: o.privateRegistry } : {}),
        cniConfDir: podNetwork.confDir,
        cniBinDir: podNetwork.binDir,
      });
      stops.push(() => cri.stop());
      runtime = cri.runtime;
    } else {
      const { ProcessRuntime } = await import('./runtime/process/process-runtime.js');
      const containerLog = { ...(o.containerLogMaxSizeBytes !== undefined ? { maxSizeBytes: o.containerLogMaxSizeBytes } : {}), ...(o.containerLogMaxFiles !== undefined ? { maxFiles: o.containerLogMaxFiles } : {}) };
      const processRuntime = new ProcessRuntime({ stateDir: join(agentDir, 'process'), ...(network ? { network } : {}), containerLog });
      stops.push(() => processRuntime.close());
      runtime = processRuntime;
    }
    const version = await runtime.version();
    const containerRuntimeVersion = `${version.runtimeName}://${version.runtimeVersion}`;

    const pods = o.informers.informerFor<Pod>(Pods, { fieldSelector: `spec.nodeName=${o.nodeName}` });
    // The kubelet's own Prometheus registry: this agent's /metrics shows its node only.
    const kubeletMetrics = new KubeletMetrics(o.nodeName);
    const server = new AgentServer({ backend: new RuntimeBackend({ nodeName: o.nodeName, runtime, pods }), tls: o.tls, port: o.kubeletPort, metrics: kubeletMetrics, delegatedAuth: new DelegatedAuth({ client: o.client, nodeName: o.nodeName }) });
    await server.start();
    stops.push(() => server.close());

    const reporter = new NodeReporter({
      client: o.client,
      nodeName: o.nodeName,
      host: await readHostFacts(),
      measurements: new HostMeasurements({ dataDir: o.dataDir }),
      containerRuntimeVersion,
      runtimeProblems: async () => {
        const conditions: RuntimeCondition[] = await runtime.status().catch((err: Error) => [{ type: 'RuntimeReady', status: false, message: err.message }]);
        return conditions.filter((c) => !c.status && (c.type === 'RuntimeReady' || selection.runtime === 'cri')).map((c) => `container runtime ${c.type === 'RuntimeReady' ? 'is down' : 'network not ready'}: ${c.message ?? c.reason ?? ''}`);
      },
      ...(o.nodeIp ? { nodeIPs: [o.nodeIp] } : {}),
      ...(o.roles ? { roles: o.roles } : {}),
      ...(o.labels ? { labels: o.labels } : {}),
      ...(o.taints ? { taints: o.taints } : {}),
      kubeletPort: server.port,
    });
    await reporter.start();
    stops.push(() => reporter.stop());

    // Pods get addresses from the node's podCIDR; the node IPAM controller assigns it just after registration.
    const cidrs = await withTimeout(reporter.waitForPodCIDR(), o.podCidrTimeoutMs ?? 60_000);
    if (cidrs) await network?.setPodCidrs(cidrs);
    else log.warn('the node has no podCIDR yet (is the node-ipam controller running?): pods use the host network until it has one', { node: o.nodeName });
    const networkStatus = (await network?.status()) ?? { ready: false, message: 'no pod network' };
    if (!networkStatus.ready) log.warn(`pod network unavailable: ${networkStatus.message}; pods use the host network`);
    if (network && podNetwork.routes && isRoot()) {
      const routes = new NodeNetwork({ client: o.client, informers: o.informers, nodeName: o.nodeName, backend: podNetwork.routes, bridgeName: network.bridgeName, clusterCidrs: o.clusterCidrs ?? [DEFAULT_CLUSTER_CIDR] });
      routes.start();
      stops.push(() => routes.stop());
    }

    // Traffic to a ClusterIP from outside the cluster CIDR is masqueraded; without --cluster-cidr, the node's podCIDR.
    const proxy = await startServiceProxy({
      ...(o.proxyMode ? { mode: o.proxyMode } : {}),
      informers: o.informers,
      nodeName: o.nodeName,
      agentIdentity: network?.bridgeName ?? `${agentDir}:${o.nodeName}`,
      clusterCIDRs: o.clusterCidrs?.length ? o.clusterCidrs : (cidrs ?? []),
      serviceCIDRs: o.serviceCidrs ?? [],
      ...(network ? { routeDevice: network.bridgeName } : {}),
    });
    if (proxy) stops.push(() => proxy.stop());
    // NetworkPolicy enforcement for this node's pods (k3s: kube-router's netpol controller), chains named like the proxy's.
    if (!o.disableNetworkPolicy) {
      const policy = await startNetworkPolicy({ client: o.client, informers: o.informers, nodeName: o.nodeName, agentIdentity: network?.bridgeName ?? `${agentDir}:${o.nodeName}` });
      if (policy) stops.push(() => policy.stop());
    } else {
      log.info('network policy: disabled (--disable-network-policy); NetworkPolicies are not enforced on this node');
    }

    const volumes = new HostVolumeManager({ rootDir: join(agentDir, 'pods'), sources: clientVolumeSources(o.client, o.nodeName), nodeName: o.nodeName });
    const reclaimer = new LocalPathReclaimer({ client: o.client, informers: o.informers, nodeName: o.nodeName, storageRoot: join(o.dataDir, 'storage') });
    reclaimer.start();
    // Its workers end when stop() shuts the queue down.
    const reclaiming = reclaimer.run();
    stops.push(async () => {
      reclaimer.stop();
      await reclaiming;
    });

    const kubelet = new Kubelet({
      nodeName: o.nodeName,
      client: o.client,
      informers: o.informers,
      runtime,
      volumes,
      probes: (events) => new KubeletProbeManager(events, (id, cmd, timeoutMs) => runtime.execSync(id, cmd, timeoutMs)),
      recorder: new ApiEventRecorder(o.client, 'kubelet', { host: o.nodeName }),
      logRoot: o.logRoot ?? (isRoot() ? '/var/log/pods' : join(agentDir, 'pod-logs')),
      podsDir: join(agentDir, 'pods'),
      nodeIPs: () => reporter.internalIPs,
      ...(o.clusterDNS?.length ? { clusterDNS: o.clusterDNS } : {}),
      ...(o.clusterDomain ? { clusterDomain: o.clusterDomain } : {}),
      metrics: kubeletMetrics,
      ...(o.containerLogMaxSizeBytes !== undefined ? { containerLogMaxSizeBytes: o.containerLogMaxSizeBytes } : {}),
      ...(o.containerLogMaxFiles !== undefined ? { containerLogMaxFiles: o.containerLogMaxFiles } : {}),
    });
    await kubelet.start();
    stops.push(() => kubelet.stop());

    // The built-in ingress and ServiceLB answer on every node, as k3s's Traefik behind its svclb pods does. Both follow
    // the server's choice (its IngressClass skiff; its claim on LoadBalancer Services), so agents need no --disable.
    const ingress = new NodeIngress({ client: o.client, informers: o.informers, nodeName: o.nodeName, httpPort: o.ingressPorts?.http ?? 80, httpsPort: o.ingressPorts?.https ?? 443 });
    ingress.start();
    stops.push(() => ingress.stop());
    const serviceLB = new NodeServiceLB({ client: o.client, informers: o.informers, nodeName: o.nodeName, nodeIP: () => reporter.internalIPs[0] });
    serviceLB.start();
    stops.push(() => serviceLB.stop());
    return { nodeName: o.nodeName, runtime, port: server.port, runtimeReason: selection.reason, stop: stopAll };
  } catch (err) {
    await stopAll();
    throw err;
  }
}

async function withTimeout<T>(p: Promise<T>, ms: number): Promise<T | undefined> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<undefined>((resolve) => (timer = setTimeout(() => resolve(undefined), ms)));
  try {
    return await Promise.race([p, timeout]);
  } finally {
    clearTimeout(timer);
  }
}
