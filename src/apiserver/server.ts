/**
 * Assembles the API server: store -> watch cache -> resource operations -> HTTPS handler, and creates the
 * objects every cluster starts with (namespaces, the `kubernetes` Service, default ServiceAccounts).
 */
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import type { KubeObject } from '../api/object.js';
import { isAlreadyExists } from '../api/status.js';
import type { Store } from '../storage/store.js';
import type { Authenticator } from './auth/authenticator.js';
import { defaultTolerationSeconds } from './admission/default-toleration-seconds.js';
import { priorityAdmission } from './admission/priority.js';
import { ServiceAllocator } from './admission/service-allocator.js';
import { AllocationRepair } from './allocation/allocation-repair.js';
import { namespaceLifecycle } from './admission/namespace-lifecycle.js';
import type { AdmissionChain } from './admission/types.js';
import { Discovery } from './discovery.js';
import { ApiHandler, type HandlerExtensions, type VersionInfo } from './http-handler.js';
import { InProcessTransport, inProcessUser } from './in-process-transport.js';
import type { UserInfo } from './auth/user-info.js';
import { startEventTtl } from './event-ttl.js';
import { decodeFromStore } from './object-codec.js';
import type { ResourceDefinition } from './registry/types.js';
import { ResourceOps } from './resource-ops.js';
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
  bookmarkIntervalMs?: number;
  /** The ClusterIP of the `kubernetes` Service (first address of the service CIDR). */
  kubernetesServiceIP?: string;
  /** Service ClusterIP range (k3s default 10.43.0.0/16). */
  serviceCIDR?: string;
  /** Events older than this are deleted (kube-apiserver --event-ttl, default 1 h). */
  eventTtlMs?: number;
  /** tolerationSeconds of the not-ready / unreachable tolerations added to new pods (default 300). */
  defaultNotReadyTolerationSeconds?: number;
  defaultUnreachableTolerationSeconds?: number;
}

export interface ApiServer {
  port: number;
  server: https.Server;
  ops: ResourceOps;
  handler: ApiHandler;
  cache: WatchCache;
  /**
   * A client Transport through this server's request pipeline without TLS or sockets, acting as `user`
   * (default: the loopback identity system:apiserver). For the controllers and scheduler of `skiff server`.
   */
  inProcessTransport(user?: UserInfo): InProcessTransport;
  /** Stops accepting connections, ends watches, stops the cache. Does not close the store. */
  close(): Promise<void>;
}

export async function startApiServer(opts: ApiServerOptions): Promise<ApiServer> {
  const cache = new WatchCache(opts.store, decodeFromStore);
  const serviceAllocation = { store: opts.store, serviceCIDR: opts.serviceCIDR ?? '10.43.0.0/16', nodePortRange: [30000, 32767] as [number, number] };
  // kube-apiserver's plugin order: NamespaceLifecycle first, then the defaulting plugins.
  const admission: AdmissionChain = {
    mutating: [
      namespaceLifecycle(),
      priorityAdmission(),
      defaultTolerationSeconds(opts.defaultNotReadyTolerationSeconds ?? 300, opts.defaultUnreachableTolerationSeconds ?? 300),
      new ServiceAllocator(serviceAllocation),
    ],
    validating: [],
  };
  const ops = new ResourceOps(opts.store, cache, admission);
  let cacheReady = false;
  let bootstrapped = false;
  let port = opts.port;
  const discovery = new Discovery(opts.resources, () => `${opts.host === '0.0.0.0' || opts.host === '::' ? '127.0.0.1' : opts.host}:${port}`);
  const handler = new ApiHandler({
    ops,
    resources: opts.resources,
    discovery,
    authenticate: async (req) => inProcessUser(req) ?? opts.authenticator.authenticate(req),
    version: versionInfo(),
    readyChecks: () => [
      { name: 'ping', ok: true },
      { name: 'etcd', ok: !cache.failed, reason: cache.failed?.message },
      { name: 'watch-cache-ready', ok: cacheReady },
      { name: 'poststarthook/bootstrap-cluster-objects', ok: bootstrapped },
    ],
    extensions: opts.extensions,
    bookmarkIntervalMs: opts.bookmarkIntervalMs,
    caCertPem: opts.tls.ca,
  });
  const server = https.createServer(
    { cert: opts.tls.cert, key: opts.tls.key, ca: opts.tls.ca, requestCert: true, rejectUnauthorized: false },
    handler.handle,
  );
  // Watches and log streams are long-lived: no whole-request timeout; idle keep-alive like Go's net/http.
  server.requestTimeout = 0;
  server.keepAliveTimeout = 90_000;
  server.headersTimeout = 60_000;

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
  // Reservations for Services stored before this server (or before reservations existed) come first, as upstream's
  // initial repair pass: only then is an address the bootstrap or a client asks for known to be free.
  const allocationRepair = new AllocationRepair(serviceAllocation);
  await allocationRepair.start();
  await bootstrapClusterObjects(ops, opts.resources, opts.kubernetesServiceIP ?? '10.43.0.1', port);
  bootstrapped = true;
  const coreEvents = opts.resources.find((r) => r.group === '' && r.plural === 'events');
  const eventTtl = coreEvents ? startEventTtl(ops, cache, coreEvents, { ttlMs: opts.eventTtlMs ?? 3_600_000 }) : undefined;

  return {
    port,
    server,
    ops,
    handler,
    cache,
    inProcessTransport: (user) => new InProcessTransport(handler.handle, user),
    async close() {
      eventTtl?.stop();
      allocationRepair.stop();
      handler.closeWatches();
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      cache.stop();
    },
  };
}

export const SYSTEM_NAMESPACES = ['default', 'kube-system', 'kube-public', 'kube-node-lease'];

/** First start: the namespaces, the `kubernetes` Service and the default ServiceAccounts (idempotent). */
async function bootstrapClusterObjects(ops: ResourceOps, resources: ResourceDefinition[], serviceIP: string, port: number): Promise<void> {
  const def = (group: string, plural: string) => {
    const d = resources.find((r) => r.group === group && r.plural === plural);
    if (!d) throw new Error(`the resource registry must serve ${plural}`);
    return d;
  };
  const ensure = async (d: ResourceDefinition, namespace: string, obj: KubeObject) => {
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
}
