/**
 * Assembles the API server: store -> watch cache -> resource operations -> HTTPS handler, and creates the
 * objects every cluster starts with (namespaces, the `kubernetes` Service, default ServiceAccounts).
 */
import { registerStorageObjects } from '../observability/apiserver-metrics.js';
import { instrumentStore } from '../storage/instrumented-store.js';
import { statfs } from 'node:fs/promises';
import { ServerResponse, type IncomingMessage } from 'node:http';
import type { Auditor } from './audit/auditor.js';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { dirname } from 'node:path';
import type { KubeObject } from '../api/object.js';
import { isAlreadyExists } from '../api/status.js';
import { SqliteStore } from '../storage/sqlite-store.js';
import type { Store } from '../storage/store.js';
import type { Authenticator } from './auth/authenticator.js';
import { alwaysAllow, firstDecision, type Authorizer } from './auth/authorizer.js';
import { feedNodeGraph } from './auth/node/graph-feeder.js';
import { NodeAuthorizer } from './auth/node/node-authorizer.js';
import { nodeRestriction } from './admission/node-restriction.js';
import type { WatchLimits } from './handlers/watch.js';
import type { ConnectTarget } from './handlers/connect.js';
import { defaultStorageClassAdmission } from './admission/default-storage-class.js';
import { defaultTolerationSeconds } from './admission/default-toleration-seconds.js';
import { priorityAdmission } from './admission/priority.js';
import { serviceAccountAdmission } from './admission/service-account.js';
import { ServiceAllocator } from './admission/service-allocator.js';
import { AllocationRepair } from './allocation/allocation-repair.js';
import { namespaceLifecycle } from './admission/namespace-lifecycle.js';
import { limitRangerDefaults, limitRangerValidation } from './admission/limit-ranger.js';
import { podSecurityAdmission, type PodSecurityOptions } from './admission/pod-security/pod-security-admission.js';
import { ResourceQuotaAdmission } from './admission/resource-quota/resource-quota-admission.js';
import { ValidatingAdmissionPolicyPlugin } from './admission/policy/validating-admission-policy.js';
import { runtimeClassAdmission, runtimeClassValidation } from './admission/runtime-class.js';
import { certificateApproval, certificateSigning } from './admission/certificate-signers.js';
import { MutatingWebhookAdmission, ValidatingWebhookAdmission } from './admission/webhook/webhook-admission.js';
import type { AdmissionChain } from './admission/types.js';
import { CrdController } from './crd/crd-controller.js';
import { useValidationRules } from './crd/validation-rules.js';
import { celValidationRules } from './cel/crd-validation-engine.js';
import { FlowcontrolConfigProducer } from './registry/flowcontrol-config-producer.js';
import { DatastoreHealth, type DatastoreHealthOptions } from './datastore-health.js';
import type { DelegatedGroup } from './delegated-groups.js';
import { Aggregator } from './aggregator/aggregator.js';
import type { FrontProxyPki } from './aggregator/front-proxy-pki.js';
import { Discovery } from './discovery.js';
import { answerClientErrors } from './filters/client-errors.js';
import { ApiServerResponse } from './filters/api-response.js';
import { DEFAULT_MAX_CONNECTIONS, DEFAULT_MAX_CONNECTIONS_PER_CLIENT, limitConnections } from './filters/connection-limit.js';
import { DEFAULT_MAX_MUTATING_REQUESTS_INFLIGHT, DEFAULT_MAX_REQUESTS_INFLIGHT, withMaxInFlightLimit } from './filters/max-in-flight.js';
import { DEFAULT_REQUEST_TIMEOUT_MS, withRequestTimeout } from './filters/request-timeout.js';
import { ApiHandler, type HandlerExtensions, type StaticFiles, type VersionInfo } from './http-handler.js';
import { InProcessTransport, inProcessUser } from './in-process-transport.js';
import { mountNodeJoin, type NodeJoinOptions } from './node-join/node-join-handler.js';
import { GROUP_SYSTEM_MASTERS, type UserInfo } from './auth/user-info.js';
import { RbacAuthorization } from './auth/rbac/rbac-authorization.js';
import { startEventTtl } from './event-ttl.js';
import { decodeWithJson } from './object-codec.js';
import { SharedLineDecoder } from './shared-line-decoder.js';
import { ResourceRegistry } from './registry/resource-registry.js';
import type { ResourceDefinition } from './registry/types.js';
import { ResourceOps } from './resource-ops.js';
import { translateStoreError } from './store-errors.js';
import { WatchCache } from './watch-cache.js';

/** The Kubernetes minor skiff speaks; kubectl's version dispatcher picks its client from it. */
export const KUBERNETES_VERSION = { major: '1', minor: '32', patch: '0' };

export function versionInfo(): VersionInfo {
  return {
    major: KUBERNETES_VERSION.major,
    minor: KUBERNETES_VERSION.minor,
    gitVersion: `v${KUBERNETES_VERSION.major}.${KUBERNETES_VERSION.minor}.${KUBERNETES_VERSION.patch}+skiff`,
    gitCommit: 'skiff',
    gitTreeState: 'clean',
    buildDate: '2026-11-25T00:00:00Z',
    goVersion: `node${process.versions.node}`,
    compiler: 'tsc',
    platform: `${process.platform === 'win32' ? 'windows' : process.platform}/${process.arch === 'x64' ? 'amd64' : process.arch}`,
  };
}

export interface ApiServerOptions {
  store: Store;
  resources: ResourceDefinition[];
  authenticator: Pick<Authenticator, 'authenticate'>;
  tls: { cert: string; key: string; ca: string };
  port: number;
  host: string;
  extensions?: HandlerExtensions;
  /**
   * Decides every request after authentication, after the Node authorizer (kube-apiserver's
   * `--authorization-mode=Node,<this>`; default system:masters then RBAC; tests of other parts pass alwaysAllow).
   */
  authorizer?: Authorizer;
  /** Memory bounds of watches (tests lower them). */
  watchLimits?: Partial<WatchLimits>;
  bookmarkIntervalMs?: number;
  /** The ClusterIP of the `kubernetes` Service (first address of the service CIDR). */
  kubernetesServiceIP?: string;
  /** Service ClusterIP range (k3s default 10.43.0.0/16). */
  serviceCIDR?: string;
  /** NodePort range (default 30000-32767). */
  nodePortRange?: [number, number];
  /** Events older than this are deleted (kube-apiserver --event-ttl, default 1 h). */
  eventTtlMs?: number;
  /** tolerationSeconds of the not-ready / unreachable tolerations added to new pods (default 300). */
  defaultNotReadyTolerationSeconds?: number;
  defaultUnreachableTolerationSeconds?: number;
  /** Concurrent non-long-running reads served (kube-apiserver --max-requests-inflight, default 400; 0 = no limit). */
  maxRequestsInflight?: number;
  /** Concurrent writes served (kube-apiserver --max-mutating-requests-inflight, default 200; 0 = no limit). */
  maxMutatingRequestsInflight?: number;
  /** Open connections in total (default 10,000) and per client address (default 1,000); 0 = no limit. */
  maxConnections?: number;
  maxConnectionsPerClient?: number;
  /**
   * kube-apiserver --request-timeout (default 60 s): the time to receive a whole request, headers and body, and, for
   * requests that are not long-running, the time to answer it (504 Timeout after).
   */
  requestTimeoutMs?: number;
  /** Time to receive the request headers (and to finish the TLS handshake); kube-apiserver's 32 s ReadHeaderTimeout. */
  headersTimeoutMs?: number;
  /** Largest request head; bigger ones get 431 (default 32 KiB). */
  maxHeaderBytes?: number;
  /** Probing the datastore for /readyz (interval, deadline). */
  datastoreHealth?: DatastoreHealthOptions;
  /** Targets of the streaming subresources (`pods/exec`, `pods/log`, ...; see node-proxy/); 503 without one. */
  connectTargets?: ReadonlyMap<string, ConnectTarget>;
  /** Serve node credentials at join (/v1-skiff/*-kubelet.crt, node-join/README.md) to holders of the cluster token. */
  nodeJoin?: NodeJoinOptions;
  /**
   * Run the ServiceAccount admission plugin (admission/service-account.ts): pods get their account checked and the
   * token volume. For servers whose controllers create the default accounts and kube-root-ca.crt (`skiff server`).
   */
  serviceAccountAdmission?: boolean;
  /** PodSecurity admission's defaults and exemptions (kube-apiserver's PodSecurityConfiguration; default privileged). */
  podSecurity?: PodSecurityOptions;
  /** Documents at fixed non-resource paths (OIDC discovery of service account tokens: auth/serviceaccount/). */
  documents?: ReadonlyMap<string, { contentType: string; body(): string }>;
  /** Further non-resource endpoints behind authentication and authorization (HandlerOptions.endpoints). */
  endpoints?(req: IncomingMessage, res: ServerResponse, path: string): boolean;
  /** Audit events of every request after authentication (HandlerOptions.audit). */
  audit?: Auditor;
  /** Group versions served by code of their own, in discovery too (metrics.k8s.io: ../metrics/). */
  delegatedGroups?: readonly DelegatedGroup[];
  /** The client certificate the aggregation layer presents to APIService backends (aggregator/front-proxy-pki.ts). */
  frontProxy?: FrontProxyPki;
  /** Static files served without authentication (the web console at /console: HandlerOptions.staticFiles). */
  staticFiles?: StaticFiles;
}

export interface ApiServer {
  port: number;
  server: https.Server;
  ops: ResourceOps;
  handler: ApiHandler;
  cache: WatchCache;
  /** The served resources; custom resources join and leave it while the server runs. */
  registry: ResourceRegistry;
  /**
   * A client Transport through this server's request pipeline without TLS or sockets, acting as `user`
   * (default: the loopback identity system:apiserver). For the controllers and scheduler of `skiff server`.
   */
  inProcessTransport(user?: UserInfo): InProcessTransport;
  /** Stops accepting connections, ends watches, stops the cache. Does not close the store. */
  close(): Promise<void>;
}

/** kube-apiserver's ReadHeaderTimeout (secure_serving.go: "just shy of requestTimeoutUpperBound"). */
const DEFAULT_HEADERS_TIMEOUT_MS = 32_000;
/** Node's default is 16 KiB; big enough for OIDC tokens with many groups, small enough that 70 KB gets 431. */
const DEFAULT_MAX_HEADER_BYTES = 32 * 1024;

export async function startApiServer(opts: ApiServerOptions): Promise<ApiServer> {
  // CRDs' x-kubernetes-validations are compiled and evaluated by the CEL engine (cel/).
  useValidationRules(celValidationRules);
  const health = new DatastoreHealth(opts.store, { freeBytes: freeBytesOf(opts.store), ...opts.datastoreHealth });
  // The API's writes go through the health observer, so a write refused for lack of space marks the server not ready.
  const store = instrumentStore(health.observe(opts.store));
  const cache = new WatchCache(store, decodeWithJson);
  const unregisterStorageObjects = registerStorageObjects(() => cache.objectCounts());
  // RBAC (auth/rbac/): decisions from an index over the watch cache; also escalation checks, impersonation, reviews.
  const rbac = new RbacAuthorization();
  const nodeGraph = feedNodeGraph(cache);
  const serviceAllocation = { store, serviceCIDR: opts.serviceCIDR ?? '10.43.0.0/16', nodePortRange: opts.nodePortRange ?? ([30000, 32767] as [number, number]) };
  // CEL policies (admission/policy/); paramKind resolves through the served resources, custom ones included.
  const validatingAdmissionPolicy = new ValidatingAdmissionPolicyPlugin({ resolveKind: (group, version, kind) => registry.all().find((d) => d.group === group && d.version === version && d.kind === kind), authorize: (a) => rbac.authorize(a) });
  // kube-apiserver's plugin order: NamespaceLifecycle, LimitRanger, ServiceAccount, NodeRestriction, ..., then the
  // defaulting plugins.
  const admission: AdmissionChain = {
    mutating: [
      namespaceLifecycle(),
      limitRangerDefaults(),
      ...(opts.serviceAccountAdmission ? [serviceAccountAdmission()] : []),
      nodeRestriction(),
      priorityAdmission(),
      defaultTolerationSeconds(opts.defaultNotReadyTolerationSeconds ?? 300, opts.defaultUnreachableTolerationSeconds ?? 300),
      defaultStorageClassAdmission(),
      runtimeClassAdmission(),
      // Webhooks after the built-in mutating plugins; ClusterIPs are allocated after them, as upstream's REST layer does.
      new MutatingWebhookAdmission(opts.resources),
      new ServiceAllocator(serviceAllocation),
    ],
    // Validating plugins in the same order; ResourceQuota last, so only writes every other plugin admits are charged.
    validating: [limitRangerValidation(), rbac.escalationCheck(), podSecurityAdmission(opts.podSecurity), runtimeClassValidation(), certificateApproval((a) => rbac.authorize(a)), certificateSigning((a) => rbac.authorize(a)), validatingAdmissionPolicy, new ValidatingWebhookAdmission(opts.resources), new ResourceQuotaAdmission({ store })],
  };
  const ops = new ResourceOps(store, cache, admission);
  let cacheReady = false;
  let bootstrapped = false;
  let port = opts.port;
  // The served resources: the built-in ones, and custom resources added while the server runs (crd/).
  const registry = new ResourceRegistry(rbac.withAccessReviews(opts.resources));
  opts.extensions?.followRegistry?.(registry);
  // The aggregation layer (aggregator/): APIServices, Local for this server's groups, proxied for service references.
  const apiservicesDef = registry.lookup('apiregistration.k8s.io', 'v1', 'apiservices');
  const servicesDef = registry.lookup('', 'v1', 'services');
  const slicesDef = registry.lookup('discovery.k8s.io', 'v1', 'endpointslices');
  const aggregator =
    apiservicesDef && servicesDef && slicesDef
      ? new Aggregator({
          ops,
          defs: { apiservices: apiservicesDef, services: servicesDef, endpointslices: slicesDef, configmaps: registry.lookup('', 'v1', 'configmaps') },
          clientCAPem: opts.tls.ca,
          localGroups: () => servedGroupVersions(registry.all()),
          staticGroups: opts.delegatedGroups,
          ...(opts.frontProxy ? { frontProxy: opts.frontProxy } : {}),
          onDiscoveryChange: () => discovery.refresh(),
        })
      : undefined;
  if (aggregator) opts.extensions?.followAggregatedOpenApi?.(aggregator.openApi);
  const discovery = new Discovery(registry, () => `${opts.host === '0.0.0.0' || opts.host === '::' ? '127.0.0.1' : opts.host}:${port}`, aggregator?.discovery ?? opts.delegatedGroups);
  const handler = new ApiHandler({
    ops,
    resources: registry,
    discovery,
    authenticate: (req) => inProcessUser(req) ?? opts.authenticator.authenticate(req),
    version: versionInfo(),
    readyChecks: () => [
      { name: 'ping', ok: true },
      datastoreCheck(health, cache),
      { name: 'watch-cache-ready', ok: cacheReady },
      { name: 'poststarthook/bootstrap-cluster-objects', ok: bootstrapped },
    ],
    // /livez is about this process: an unreachable datastore must not get a healthy server restarted.
    liveChecks: () => [{ name: 'ping', ok: true }],
    translateError: translateStoreError,
    extensions: opts.extensions,
    // --authorization-mode=Node,RBAC: the Node authorizer answers for system:node:* users from a graph of the pods
    // bound to each node (auth/node/README.md), then system:masters and RBAC (or the authorizer given instead).
    authorizer: rbac.decideWith(firstDecision(new NodeAuthorizer(nodeGraph.graph), opts.authorizer ?? rbac.chain())),
    impersonate: (req, user) => rbac.actingUser(req.headers, user),
    watchLimits: opts.watchLimits,
    bookmarkIntervalMs: opts.bookmarkIntervalMs,
    caCertPem: opts.tls.ca,
    connectTargets: opts.connectTargets,
    documents: opts.documents,
    endpoints: opts.endpoints,
    audit: opts.audit,
    delegatedGroups: aggregator?.routing ?? opts.delegatedGroups,
    staticFiles: opts.staticFiles,
  });
  const server = createHttpsServer(opts, opts.nodeJoin ? mountNodeJoin(handler.handle, opts.nodeJoin, ops, opts.resources) : handler.handle);

  let crds: CrdController | undefined;
  let allocationRepair: AllocationRepair | undefined;
  let flowcontrol: FlowcontrolConfigProducer | undefined;
  let eventTtl: ReturnType<typeof startEventTtl> | undefined;
  const close = async (): Promise<void> => {
    crds?.stop();
    unregisterStorageObjects();
    eventTtl?.stop();
    flowcontrol?.stop();
    health.stop();
    allocationRepair?.stop();
    aggregator?.stop();
    handler.closeWatches();
    await new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
    cache.stop();
    rbac.stop();
    nodeGraph.stop();
  };

  try {
    health.start();
    await health.probe();
    const cacheStart = cache.start().then(() => {
      cacheReady = true;
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(opts.port, opts.host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    port = (server.address() as AddressInfo).port;
    await cacheStart;
    // CustomResourceDefinitions (crd/): each CRD's custom resources join the registry as soon as the cache has it.
    const crdDef = registry.lookup('apiextensions.k8s.io', 'v1', 'customresourcedefinitions');
    crds = crdDef ? new CrdController({ cache, ops, registry, crds: crdDef }) : undefined;
    crds?.start();
    // Reservations for Services stored before this server (or before reservations existed) come first, as upstream's
    // initial repair pass: only then is an address the bootstrap or a client asks for known to be free.
    allocationRepair = new AllocationRepair(serviceAllocation);
    await allocationRepair.start();
    await bootstrapClusterObjects(ops, opts.resources, opts.kubernetesServiceIP ?? '10.43.0.1', port);
    // kube-apiserver's rbac/bootstrap-roles post-start hook: the bootstrap policy reconciled (its Roles in the system
    // namespaces just ensured), then decisions begin.
    await rbac.start(cache, ops, {
      clusterroles: rbacDefinition(opts.resources, 'clusterroles'),
      clusterrolebindings: rbacDefinition(opts.resources, 'clusterrolebindings'),
      roles: rbacDefinition(opts.resources, 'roles'),
      rolebindings: rbacDefinition(opts.resources, 'rolebindings'),
    });
    // The priority-and-fairness-config-producer hook: APF's mandatory and suggested objects (served, not enforced).
    const fsDef = opts.resources.find((r) => r.group === 'flowcontrol.apiserver.k8s.io' && r.plural === 'flowschemas');
    const plDef = opts.resources.find((r) => r.group === 'flowcontrol.apiserver.k8s.io' && r.plural === 'prioritylevelconfigurations');
    flowcontrol = fsDef && plDef ? new FlowcontrolConfigProducer({ ops, flowschemas: fsDef, prioritylevelconfigurations: plDef }) : undefined;
    await flowcontrol?.start();
    await aggregator?.start();
    bootstrapped = true;
    const coreEvents = opts.resources.find((r) => r.group === '' && r.plural === 'events');
    eventTtl = coreEvents ? startEventTtl(ops, cache, coreEvents, { ttlMs: opts.eventTtlMs ?? 3_600_000 }) : undefined;
  } catch (err) {
    // A start that fails halfway closes what it opened (the listening socket, the datastore probe's timer, the
    // cache's store watch), or they would keep the process alive with nothing to serve.
    await close().catch(() => {});
    throw err;
  }

  // One decoder for every in-process client: each watch event is parsed once for all the server's components.
  const sharedLines = new SharedLineDecoder();
  return {
    port,
    server,
    ops,
    handler,
    cache,
    registry,
    inProcessTransport: (user) => new InProcessTransport(handler.handle, user, sharedLines),
    close,
  };
}

/**
 * The HTTPS server around the handler, with kube-apiserver's outer filters (filters/README.md): bounded connections,
 * deadlines for the handshake, headers and body, 431/408/400 for requests the parser refuses, 504 for answers over the
 * request timeout, the in-flight limits, no body draining after an early answer, and HTTP/1.0-safe framing.
 */
function createHttpsServer(opts: ApiServerOptions, handle: (req: IncomingMessage, res: ServerResponse) => void): https.Server {
  const requestTimeout = opts.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS;
  const headersTimeout = Math.min(opts.headersTimeoutMs ?? DEFAULT_HEADERS_TIMEOUT_MS, requestTimeout);
  const checkInterval = Math.max(50, Math.min(5_000, Math.floor(headersTimeout / 4)));
  const chain = withRequestTimeout(
    withMaxInFlightLimit(handle, {
      maxRequestsInflight: opts.maxRequestsInflight ?? DEFAULT_MAX_REQUESTS_INFLIGHT,
      maxMutatingRequestsInflight: opts.maxMutatingRequestsInflight ?? DEFAULT_MAX_MUTATING_REQUESTS_INFLIGHT,
      // kube-apiserver serves system:masters even over the limit, so an administrator can still act under overload.
      exempt: async (req) => (await opts.authenticator.authenticate(req))?.groups.includes(GROUP_SYSTEM_MASTERS) ?? false,
    }),
    { timeoutMs: requestTimeout },
  );
  const server = https.createServer(
    {
      cert: opts.tls.cert,
      key: opts.tls.key,
      ca: opts.tls.ca,
      requestCert: true,
      rejectUnauthorized: false,
      // Go bounds the TLS handshake by ReadHeaderTimeout; Node's own default is 120 s.
      handshakeTimeout: headersTimeout,
      // Receiving a request (not answering it): a watch's request is complete once its headers are in, so watches
      // and other long responses are not cut, while a body trickled a byte at a time is. headersTimeout runs from
      // the start of the connection, so one that never sends a request gets 408 too (as with Go's ReadHeaderTimeout).
      requestTimeout,
      headersTimeout,
      // How often Node looks for requests past those deadlines (its default, 30 s, would stretch them by half).
      connectionsCheckingInterval: checkInterval,
      // Idle keep-alive like kube-apiserver's IdleTimeout (90 s, matching Go's DefaultTransport).
      keepAliveTimeout: 90_000,
      maxHeaderSize: opts.maxHeaderBytes ?? DEFAULT_MAX_HEADER_BYTES,
      // HTTP/1.0 framing and closing after an unread body act as a response head is written.
      ServerResponse: ApiServerResponse,
    },
    chain,
  );
  // Upgrade requests (WebSocket, SPDY: exec, attach, port-forward) take the same path as any request, with a response
  // object on the detached socket; a connect target then owns the socket, anything else answers and closes it.
  const upgraded = new Set<import('node:net').Socket>();
  server.on('upgrade', (req: IncomingMessage, socket: import('node:net').Socket, head: Buffer) => {
    upgraded.add(socket);
    socket.once('close', () => upgraded.delete(socket));
    if (head.length > 0) socket.unshift(head);
    const res = new ServerResponse(req);
    res.assignSocket(socket);
    res.shouldKeepAlive = false;
    res.on('finish', () => socket.end());
    chain(req, res);
  });
  // Node's closeAllConnections() does not know upgraded sockets; without this, close() would wait for every exec to end.
  const closeAllConnections = server.closeAllConnections.bind(server);
  server.closeAllConnections = () => {
    closeAllConnections();
    for (const s of upgraded) s.destroy();
  };
  limitConnections(server, {
    maxConnections: opts.maxConnections ?? DEFAULT_MAX_CONNECTIONS,
    maxConnectionsPerClient: opts.maxConnectionsPerClient ?? DEFAULT_MAX_CONNECTIONS_PER_CLIENT,
  });
  answerClientErrors(server);
  return server;
}

/** The `etcd` readiness check (kube-apiserver's name, whatever the backend): the probe, and the cache's store watch. */
function datastoreCheck(health: DatastoreHealth, cache: WatchCache): { name: string; ok: boolean; reason?: string } {
  const probe = health.status;
  if (!probe.ok) return { name: 'etcd', ok: false, reason: probe.reason };
  if (cache.failed) return { name: 'etcd', ok: false, reason: cache.failed.message };
  return { name: 'etcd', ok: true };
}

/** Free space where a SQLite store writes, so a full disk is seen to be writable again; other backends: unknown. */
function freeBytesOf(store: Store): (() => Promise<number | undefined>) | undefined {
  if (!(store instanceof SqliteStore)) return undefined;
  return async () => {
    const fs = await statfs(dirname(store.path));
    return fs.bavail * fs.bsize;
  };
}

function rbacDefinition(resources: ResourceDefinition[], plural: string): ResourceDefinition {
  const d = resources.find((r) => r.group === 'rbac.authorization.k8s.io' && r.plural === plural);
  if (!d) throw new Error(`the resource registry must serve ${plural}`);
  return d;
}

/** The group versions the registry serves, for the aggregator's Local APIServices. */
function servedGroupVersions(defs: Iterable<ResourceDefinition>): Array<{ group: string; versions: string[] }> {
  const groups = new Map<string, Set<string>>();
  for (const d of defs) {
    let versions = groups.get(d.group);
    if (!versions) groups.set(d.group, (versions = new Set()));
    versions.add(d.version);
  }
  return [...groups].map(([group, versions]) => ({ group, versions: [...versions] }));
}

export const SYSTEM_NAMESPACES = ['default', 'kube-system', 'kube-public', 'kube-node-lease'];

/** First start: the namespaces, the `kubernetes` Service, the default ServiceAccounts and StorageClass (idempotent). */
async function bootstrapClusterObjects(ops: ResourceOps, resources: ResourceDefinition[], serviceIP: string, port: number): Promise<void> {
  const def = (group: string, plural: string) => {
    const d = resources.find((r) => r.group === group && r.plural === plural);
    if (!d) throw new Error(`the resource registry must serve ${plural}`);
    return d;
  };
  const ensure = async (d: ResourceDefinition, namespace: string, obj: KubeObject) => {
    // What exists is left alone without a write (upstream's bootstrap controllers look before they create), so an
    // admission webhook that is down cannot keep a restarting server from coming up.
    const exists = await ops.get(d, namespace, obj.metadata.name ?? '', '0').then(
      () => true,
      () => false,
    );
    if (exists) return;
    try {
      await ops.create(d, namespace, obj, { dryRun: false });
    } catch (err) {
      if (!isAlreadyExists(err)) throw err;
    }
  };
  for (const name of SYSTEM_NAMESPACES) {
    await ensure(def('', 'namespaces'), '', { apiVersion: 'v1', kind: 'Namespace', metadata: { name, labels: { 'kubernetes.io/metadata.name': name } } });
  }
  await ensure(def('', 'services'), 'default', {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name: 'kubernetes', namespace: 'default', labels: { component: 'apiserver', provider: 'kubernetes' } },
    spec: {
      type: 'ClusterIP',
      clusterIP: serviceIP,
      clusterIPs: [serviceIP],
      ports: [{ name: 'https', port: 443, protocol: 'TCP', targetPort: port }],
      sessionAffinity: 'None',
    },
  });
  for (const name of SYSTEM_NAMESPACES) {
    await ensure(def('', 'serviceaccounts'), name, { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'default', namespace: name } });
  }
  // k3s's default class `local-path`, served by skiff's local-path provisioner (src/controllers/localpath).
  await ensure(def('storage.k8s.io', 'storageclasses'), '', {
    apiVersion: 'storage.k8s.io/v1',
    kind: 'StorageClass',
    metadata: { name: 'local-path', annotations: { 'storageclass.kubernetes.io/is-default-class': 'true' } },
    provisioner: 'skiff.dev/local-path',
    volumeBindingMode: 'WaitForFirstConsumer',
    reclaimPolicy: 'Delete',
  });
}
