/**
 * `skiff server`: the control plane in one process. Opens the store, ensures certificates and the cluster token,
 * starts the API server, writes the admin kubeconfig, and stops gracefully on SIGTERM/SIGINT.
 */
import { statfsSync } from 'node:fs';
import { mkdir, readFile } from 'node:fs/promises';
import { Socket } from 'node:net';
import { dirname } from 'node:path';
import { Authenticator } from '../apiserver/auth/authenticator.js';
import { ensureAgentToken, ensureToken } from '../apiserver/auth/cluster-token.js';
import { ensurePki } from '../apiserver/auth/pki.js';
import { openServiceAccountTokens, serviceAccountObjects } from '../apiserver/auth/serviceaccount/service-account-tokens.js';
import { serviceAccountKeyPem } from '../apiserver/auth/serviceaccount/signing-key.js';
import { defaultExtensions } from '../apiserver/extensions.js';
import { resources } from '../apiserver/registry/index.js';
import { NodeProxy } from '../apiserver/node-proxy/node-proxy.js';
import { BackendProxy } from '../apiserver/backend-proxy/backend-proxy.js';
import { startApiServer, type ApiServer } from '../apiserver/server.js';
import type { RunningNodeAgent } from '../agent/node-agent.js';
import { SharedInformerFactory } from '../client/informer.js';
import type { InformerFactory } from '../client/types.js';
import type { RunningClusterDns } from '../dns/cluster-dns.js';
import type { KubernetesEndpoints } from './kubernetes-endpoints.js';
import { EndpointSlices, Nodes, Pods } from '../client/resources.js';
import { RestClient } from '../client/rest-client.js';
import type { Node, Pod } from 'kubernetes-types/core/v1.js';
import type { EndpointSlice } from 'kubernetes-types/discovery/v1.js';
import { isNotFound } from '../api/status.js';
import { startCompactor } from '../storage/compactor.js';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { openStore } from '../storage/open-store.js';
import { renderEncryptionConfig } from '../storage/encryption/encryption-config.js';
import { openAuditLog, type AuditLogFile } from '../apiserver/audit/audit-log-file.js';
import { Auditor } from '../apiserver/audit/auditor.js';
import { loadPodSecurityConfig } from '../apiserver/admission/pod-security/pod-security-config.js';
import { AuditPolicyChecker, parseAuditPolicy } from '../apiserver/audit/audit-policy.js';
import { StoreFullError, type Store } from '../storage/store.js';
import { createLogger, type LogFields } from '../log/logger.js';
import { MetricsServer } from '../metrics/metrics-server.js';
import { ensureFrontProxyPki } from '../apiserver/aggregator/front-proxy-pki.js';
import { announcer } from './announcer.js';
import { nodeAgentStartOptions } from './node-agent-flags.js';
import { startControlPlane, type ControlPlane } from './control-plane.js';
import { adoptClusterCA, BOOTSTRAP_KEY, publishClusterCA, tokenSecret, unseal } from './bootstrap.js';
import { shareEncryption } from './shared-encryption.js';
import type { ServerConfig } from './flags.js';
import { kubeconfigServerUrl, writeKubeconfig } from './kubeconfig.js';

export interface RunningServer {
  api: ApiServer;
  controlPlane: ControlPlane;
  store: Store;
  kubeconfigPath: string;
  stop(): Promise<void>;
}

const log = createLogger('server');

/**
 * Starts the control plane and resolves once it serves. `announce` gets the kubeconfig and ready lines (default:
 * printed on stdout in the text log format, info entries in the JSON one); tests pass a no-op.
 */
export async function runServer(config: ServerConfig, announce: (line: string, fields?: LogFields) => void = announcer(config.logFormat, log)): Promise<RunningServer> {
  try {
    return await startServer(config, announce);
  } catch (err) {
    throw explainStartFailure(err, config.dataDir);
  }
}

/** The first usable address of the service CIDR: the `kubernetes` Service's ClusterIP (10.43.0.1 for 10.43.0.0/16). */
export function firstServiceIP(serviceCIDR: string): string {
  const [base] = serviceCIDR.split('/');
  const n = base!.split('.').reduce((acc, o) => acc * 256 + Number(o), 0) + 1;
  return [24, 16, 8, 0].map((shift) => Math.floor(n / 2 ** shift) % 256).join('.');
}

/** Error codes of a disk that takes no more data (Node's, and better-sqlite3's for SQLite's own writes). */
const DISK_FULL_CODES = new Set(['ENOSPC', 'EDQUOT', 'SQLITE_FULL']);

/**
 * A start that failed because the data dir's disk is full says so in one line, whatever write hit it first (the
 * datastore, a certificate, the kubeconfig): SQLite reports some of those as I/O errors, so free space decides.
 */
export function explainStartFailure(err: unknown, dataDir: string): unknown {
  let free: number | undefined;
  try {
    const fs = statfsSync(dataDir);
    free = fs.bavail * fs.bsize;
  } catch {
    // The data dir may not exist yet; then only the error's own code can tell.
  }
  let full = err instanceof StoreFullError;
  for (let e: unknown = err, depth = 0; !full && typeof e === 'object' && e !== null && depth < 5; e = (e as { cause?: unknown }).cause, depth++) {
    const code = String((e as { code?: unknown }).code ?? '');
    full = DISK_FULL_CODES.has(code) || (code.startsWith('SQLITE_IOERR') && free !== undefined && free < LOW_SPACE_BYTES);
    if (!full && e instanceof Error && /database or disk is full|no space left on device/i.test(e.message)) full = true;
  }
  if (!full) return err;
  const left = free === undefined ? '' : ` (${free} bytes free)`;
  // The logger prints the causes after the message: what the full disk stopped comes next.
  return new Error(`cannot start: the disk holding ${dataDir} is full${left}; free some space and start again`, { cause: err });
}

/** Below this much free space an I/O error of SQLite's is taken for a full disk. */
const LOW_SPACE_BYTES = 1024 * 1024;

async function startServer(config: ServerConfig, announce: (line: string, fields?: LogFields) => void): Promise<RunningServer> {
  const started = performance.now();
  const datastore = config.datastoreEndpoint;
  if (datastore.startsWith('sqlite://')) {
    const file = datastore.slice('sqlite://'.length);
    await mkdir(dirname(file), { recursive: true, mode: 0o700 });
  }
  // The kubernetes Service's ClusterIP is a SAN, so in-cluster clients verify the server at it.
  const pkiOptions = {
    hostnames: config.tlsSan,
    ips: [firstServiceIP(config.serviceCIDR), ...(config.advertiseAddress ? [config.advertiseAddress] : [])],
    onWarning: (message: string) => log.warn(message),
  };
  const [opened, secret] = await Promise.all([openStore(datastore, config.datastoreTls), tokenSecret(config.dataDir, config.token)]);
  // A datastore that already belongs to a cluster brings its CA (HA servers share one) and its secrets-encryption
  // key file; otherwise this server's are published for the next ones.
  const boot = await opened.get(BOOTSTRAP_KEY);
  const sharing = await shareEncryption(opened, config, boot.kv ? { sealed: boot.kv.value, revision: boot.kv.modRevision, secret } : undefined).catch(async (err: unknown) => {
    await opened.close();
    throw err;
  });
  const encryption = sharing.encryption;
  const store: Store = encryption?.store ?? opened;
  const since = () => Math.round(performance.now() - started);
  log.debug('datastore open', { datastore: redactUrl(datastore), ms: since() });
  if (boot.kv) await adoptClusterCA(boot.kv.value, config.dataDir, secret);
  let pki = await ensurePki(config.dataDir, pkiOptions);
  let token = await ensureToken(config.dataDir, config.token, pki.caHash);
  // The service account key travels with the CA (k3s's bootstrap data): every server checks every server's tokens.
  if (!boot.kv && !(await publishClusterCA(store, token.secret, pki.caCertPem, pki.caKeyPem, await serviceAccountKeyPem(config.dataDir), encryption && renderEncryptionConfig(encryption.config)))) {
    // Another server published first: take its CA (and its encryption key file) after all.
    const winner = await store.get(BOOTSTRAP_KEY);
    if (winner.kv && (await adoptClusterCA(winner.kv.value, config.dataDir, token.secret))) {
      pki = await ensurePki(config.dataDir, pkiOptions);
      token = await ensureToken(config.dataDir, config.token, pki.caHash);
    }
    if (winner.kv) await sharing.joined(unseal(winner.kv.value, token.secret));
  }
  sharing.follow(token.secret);
  // Agents join with the agent token when there is one of its own (k3s's --agent-token), else with the cluster token.
  const agentToken = await ensureAgentToken(config.dataDir, token, config.agentToken, pki.caHash);
  log.debug('certificates and token ready', { dir: config.dataDir, adoptedClusterCA: boot.kv !== undefined, separateAgentToken: agentToken.separate, ms: since() });
  // Service account tokens (apiserver/auth/serviceaccount): signed with <data-dir>/server/tls/service.key.
  const saTokens = await openServiceAccountTokens({ dataDir: config.dataDir });
  const authenticator = new Authenticator({ caCertPem: pki.caCertPem, tokenAuthenticators: [saTokens.authenticator] });
  const served = saTokens.serve(resources, async (t) => authenticator.authenticate({ socket: new Socket(), headers: { authorization: `Bearer ${t}` } }));
  // pods/log, exec, attach, port-forward and nodes/proxy reach the node agents with the kubelet-client certificate.
  let apiRef: ApiServer | undefined;
  const nodeProxy = new NodeProxy({
    getNode: async (name) => {
      if (!apiRef) throw new Error('the API server is not serving yet');
      const client = new RestClient(apiRef.inProcessTransport({ username: 'system:kube-apiserver', groups: ['system:masters', 'system:authenticated'] }));
      return (await client.get(Nodes, '', name)) as Node;
    },
    tls: { ca: pki.caCertPem, cert: pki.kubeletClientCertPem, key: pki.kubeletClientKeyPem },
  });
  // pods/proxy and services/proxy: the API server connects to pod IPs itself (kube-apiserver's proxy transport).
  const asApiServer = () => {
    if (!apiRef) throw new Error('the API server is not serving yet');
    return new RestClient(apiRef.inProcessTransport({ username: 'system:kube-apiserver', groups: ['system:masters', 'system:authenticated'] }));
  };
  const backendProxy = new BackendProxy({
    listEndpointSlices: async (ns, service) => (await asApiServer().list(EndpointSlices, ns, { labelSelector: `kubernetes.io/service-name=${service}` })).items as unknown as EndpointSlice[],
    getPod: (ns, name) => asApiServer().get(Pods, ns, name).then((p) => p as Pod, (err: unknown) => (isNotFound(err) ? undefined : Promise.reject(err))),
  });
  // The built-in metrics-server (src/metrics): metrics.k8s.io from the agents' stats; --disable metrics-server.
  const metrics = config.disable.includes('metrics-server')
    ? undefined
    : new MetricsServer({ client: asApiServer, tls: { ca: pki.caCertPem, cert: pki.kubeletClientCertPem, key: pki.kubeletClientKeyPem }, ...(config.metricResolutionMs ? { resolutionMs: config.metricResolutionMs } : {}) });
  const audit = config.audit ? await startAudit(config.audit) : undefined;
  // A configuration that does not load stops the start, naming the file and field.
  const podSecurity = config.podSecurityAdmissionConfigFile ? await loadPodSecurityConfig(config.podSecurityAdmissionConfigFile) : undefined;
  const api = await startApiServer({
    ...(audit ? { audit: audit.auditor } : {}),
    ...(podSecurity ? { podSecurity } : {}),
    store,
    resources: served,
    authenticator,
    tls: { cert: pki.servingCertPem, key: pki.servingKeyPem, ca: pki.caCertPem },
    port: config.httpsListenPort,
    host: config.bindAddress,
    extensions: defaultExtensions(served),
    documents: saTokens.documents(),
    ...(encryption ? { endpoints: (req: IncomingMessage, res: ServerResponse, path: string) => encryption.serve(req, res, path) } : {}),
    // Pods get their service account checked and its token mounted (this server's controllers publish the default
    // accounts and kube-root-ca.crt the volume needs; without the account controller, pods are not refused for want
    // of a default account no one creates).
    serviceAccountAdmission: !config.disable.includes('serviceaccount'),
    defaultNotReadyTolerationSeconds: config.defaultNotReadyTolerationSeconds,
    defaultUnreachableTolerationSeconds: config.defaultUnreachableTolerationSeconds,
    maxRequestsInflight: config.maxRequestsInflight,
    maxMutatingRequestsInflight: config.maxMutatingRequestsInflight,
    serviceCIDR: config.serviceCIDR,
    kubernetesServiceIP: firstServiceIP(config.serviceCIDR),
    nodePortRange: config.serviceNodePortRange,
    connectTargets: new Map([...nodeProxy.targets, ...backendProxy.targets]),
    ...(metrics ? { delegatedGroups: metrics.groups } : {}),
    // The aggregation layer's client certificate towards APIService backends (<data-dir>/server/tls/client-auth-proxy.*).
    frontProxy: await ensureFrontProxyPki(config.dataDir),
    // The web console (src/console): its static files at /console, unless --disable console.
    ...(config.disable.includes('console') ? {} : { staticFiles: await consoleFiles() }),
    // Agents that join present the cluster token and get their node certificates here (k3s's /v1-k3s/*-kubelet.crt).
    nodeJoin: {
      caCertPem: pki.caCertPem,
      caKeyPem: pki.caKeyPem,
      clusterToken: token.secret,
      ...(agentToken.separate ? { agentToken: agentToken.secret } : {}),
      // Joined agents take the pod and service ranges from here (k3s's /v1-k3s/config), unless given --cluster-cidr.
      agentConfig: { clusterCIDRs: config.clusterCIDRs, serviceCIDRs: [config.serviceCIDR] },
    },
  });
  apiRef = api;
  await metrics?.start();
  saTokens.attach(serviceAccountObjects(api, served));
  log.debug('API server listening', { address: `${config.bindAddress}:${api.port}`, ms: since() });
  const compactor = startCompactor(store);
  const controlPlane = await startControlPlane(api, config, {
    rootCACertPem: pki.caCertPem,
    rootCAKeyPem: pki.caKeyPem,
    signLegacyServiceAccountToken: (namespace, sa, secretName) => saTokens.issuer.issueLegacy(namespace, sa, secretName),
  });
  const server = kubeconfigServerUrl(config.bindAddress, api.port);
  const kubeconfigWritten = await writeKubeconfig(config.writeKubeconfig, {
    server,
    caPem: pki.caCertPem,
    clientCertPem: pki.adminCertPem,
    clientKeyPem: pki.adminKeyPem,
    mode: config.writeKubeconfigMode,
  }).then(
    () => true,
    (err: NodeJS.ErrnoException) => {
      // A full disk must not keep the server from serving reads; the kubeconfig of an earlier start stays as it was.
      if (err.code !== 'ENOSPC') throw err;
      log.warn('cannot write the kubeconfig: no space left on the device', { kubeconfig: config.writeKubeconfig });
      return false;
    },
  );
  if (kubeconfigWritten) announce(`Wrote kubeconfig ${config.writeKubeconfig}`, { kubeconfig: config.writeKubeconfig });
  announce(`skiff server ready: ${server} (Kubernetes v1.32 API, datastore ${redactUrl(datastore)}) in ${Math.round(performance.now() - started)} ms; export KUBECONFIG=${config.writeKubeconfig}`, { url: server });

  // The embedded node agent joins its own server as any agent would (node certificates for the token), then runs
  // beside the control plane through the in-process transport. The server is ready before its node is.
  let agent: RunningNodeAgent | undefined;
  let agentStarting: Promise<void> | undefined;
  // The node side of this process (embedded agent, service proxy, cluster DNS) shares one informer factory, so each
  // type (Services, EndpointSlices) is watched once. The controller manager's informers live only while it leads.
  const nodeInformers = new SharedInformerFactory(nodeClient(api, config.agent.nodeName));
  // Cluster DNS, served here as k3s serves CoreDNS; --disable coredns for users who run their own.
  let dns: RunningClusterDns | undefined;
  if (config.clusterDNS && !config.disable.includes('coredns')) {
    dns = await startServerDns(config, api, nodeInformers).catch((err: Error) => {
      log.error(`cluster DNS did not start: ${err.message}; the control plane keeps running (see --disable coredns)`, { err });
      return undefined;
    });
  }
  // The kubernetes Service's endpoints: this server among the live ones (kube-apiserver's lease reconciler).
  const apiEndpoints = await startApiEndpoints(config, api);
  if (!config.disableAgent) {
    agentStarting = startEmbeddedAgent(config, api, server, token.full ?? token.secret, nodeInformers).then(
      (running) => {
        agent = running;
        announce(`skiff node ready: ${running.nodeName} (runtime ${running.runtime.name}: ${running.runtimeReason}; agent API on port ${running.port})`, { node: running.nodeName, runtime: running.runtime.name });
      },
      (err: Error) => log.error(`the embedded node agent did not start: ${err.message}; the control plane keeps running (see --disable-agent)`, { err }),
    );
  }

  let stopping: Promise<void> | undefined;
  return {
    api,
    controlPlane,
    store,
    kubeconfigPath: config.writeKubeconfig,
    stop() {
      stopping ??= (async () => {
        await agentStarting;
        await agent?.stop();
        await dns?.stop();
        await apiEndpoints?.stop();
        nodeInformers.stop();
        await controlPlane.stop();
        nodeProxy.close();
        backendProxy.close();
        await metrics?.stop();
        compactor.stop();
        await api.close();
        await audit?.file.close();
        sharing.stop();
        await store.close();
      })();
      return stopping;
    },
  };
}

/** --audit-policy-file: the policy (a file that does not parse stops the start, naming it) and the log it writes to. */
async function startAudit(o: NonNullable<ServerConfig['audit']>): Promise<{ auditor: Auditor; file: AuditLogFile }> {
  const policy = parseAuditPolicy(await readFile(o.policyFile, 'utf8'), o.policyFile);
  const file = openAuditLog({ path: o.logPath, maxSizeMB: o.maxSizeMB, maxBackups: o.maxBackups });
  log.info('auditing requests', { policy: o.policyFile, log: o.logPath, rules: policy.rules.length });
  return { auditor: new Auditor(new AuditPolicyChecker(policy), file), file };
}

/**
 * The node's identity in this process, with a joined agent's rights and no more (the Node authorizer and
 * NodeRestriction decide, as for the certificates of joined agents).
 */
function nodeClient(api: ApiServer, nodeName: string): RestClient {
  return new RestClient(api.inProcessTransport({ username: `system:node:${nodeName}`, groups: ['system:nodes', 'system:authenticated'] }));
}

/** This server's entry in the kubernetes Service's endpoints, at its advertise address or its node's; none without an address. */
async function startApiEndpoints(config: ServerConfig, api: ApiServer): Promise<KubernetesEndpoints | undefined> {
  const [{ startKubernetesEndpoints }, { nodeInternalIPs }] = await Promise.all([import('./kubernetes-endpoints.js'), import('../agent/node/node-ips.js')]);
  const address = config.advertiseAddress ?? nodeInternalIPs(config.agent.nodeName, config.agent.nodeIp)[0];
  if (!address) {
    log.warn('no address for the kubernetes Service\'s endpoints (give --advertise-address): pods cannot reach the API through it');
    return undefined;
  }
  const client = new RestClient(api.inProcessTransport({ username: 'system:apiserver', groups: ['system:masters', 'system:authenticated'] }));
  return startKubernetesEndpoints({ client, identity: config.agent.nodeName, address, port: api.port });
}

/** Cluster DNS on the node's address (what pods reach), port 53 when free; its records from the shared informers. */
async function startServerDns(config: ServerConfig, api: ApiServer, informers: InformerFactory): Promise<RunningClusterDns> {
  const [{ startClusterDns }, { nodeInternalIPs }] = await Promise.all([import('../dns/cluster-dns.js'), import('../agent/node/node-ips.js')]);
  const address = nodeInternalIPs(config.agent.nodeName, config.agent.nodeIp)[0];
  if (!address) throw new Error('this machine has no address for the node (give --node-ip)');
  return startClusterDns({
    // Acts as CoreDNS's service account with k3s's system:coredns and skiff:cluster-dns (apiserver/auth/rbac/).
    client: new RestClient(api.inProcessTransport({ username: 'system:serviceaccount:kube-system:coredns', groups: ['system:serviceaccounts', 'system:serviceaccounts:kube-system', 'system:authenticated'] })),
    informers,
    clusterIP: config.clusterDNS!,
    clusterDomain: config.clusterDomain ?? 'cluster.local',
    listenAddress: address,
    nodeName: config.agent.nodeName,
    hasNode: !config.disableAgent,
  });
}

async function startEmbeddedAgent(config: ServerConfig, api: ApiServer, server: string, token: string, informers: InformerFactory): Promise<RunningNodeAgent> {
  const [{ startNodeAgent, nodeInternalIPs }, { joinCluster }] = await Promise.all([import('../agent/node-agent.js'), import('../agent/node/join.js')]);
  const a = config.agent;
  const creds = await joinCluster({ server, token, nodeName: a.nodeName, nodeIPs: nodeInternalIPs(a.nodeName, a.nodeIp), dataDir: config.dataDir });
  const client = nodeClient(api, a.nodeName);
  const labeling = labelServerNode(api, a.nodeName);
  const running = await startNodeAgent({
    client,
    informers,
    dataDir: config.dataDir,
    ...nodeAgentStartOptions(a),
    // The service proxy routes the service CIDR so the node itself reaches ClusterIPs.
    serviceCidrs: [config.serviceCIDR],
    tls: { ca: creds.ca, cert: creds.servingCert, key: creds.servingKey },
    // kubelet's --cluster-dns / --cluster-domain: ClusterFirst pods resolve through the kube-dns Service.
    ...(config.clusterDNS ? { clusterDNS: [config.clusterDNS], clusterDomain: config.clusterDomain ?? 'cluster.local' } : {}),
  });
  await labeling;
  return running;
}

/**
 * The server's own node gets node-role.kubernetes.io/control-plane and /master from the server, as k3s's
 * setNodeLabelsAndAnnotations does: NodeRestriction lets no node set node-role labels on itself.
 */
async function labelServerNode(api: ApiServer, nodeName: string): Promise<void> {
  const client = new RestClient(api.inProcessTransport());
  const labels = { 'node-role.kubernetes.io/control-plane': 'true', 'node-role.kubernetes.io/master': 'true' };
  for (let attempt = 0; attempt < 600; attempt++) {
    try {
      await client.patch(Nodes, '', nodeName, 'merge', { metadata: { labels } });
      return;
    } catch (err) {
      if (!isNotFound(err)) {
        log.warn('cannot label the server\'s node with its roles', { node: nodeName, err });
        return;
      }
    }
    // The agent registers its Node in a moment.
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** A datastore URL without its credentials (etcd://user:password@host), for lines people and log shippers read. */
function redactUrl(url: string): string {
  return url.replace(/\/\/[^@/]*@/, '//***@');
}

/** The web console's built files (src/console/README.md); a missing build is said once and answered 503 at /console. */
async function consoleFiles(): Promise<import('../apiserver/http-handler.js').StaticFiles> {
  const { ConsoleAssets } = await import('../console/console-assets.js');
  const files = new ConsoleAssets();
  if (!files.built) log.warn('the web console is not built (npm run build:console): /console answers 503');
  return { owns: (path) => ConsoleAssets.owns(path), serve: (req, res, path) => files.serve(req, res, path) };
}
