/**
 * The endpoints of the `kubernetes` Service in default: every live API server's address, so pods reach the API at the
 * Service's ClusterIP (10.43.0.1:443) through the service proxy. kube-apiserver's lease endpoint reconciler does this
 * (pkg/controlplane/reconcilers/lease.go): each server renews a lease of its own and writes the Endpoints and the
 * EndpointSlice `kubernetes` from the leases that are still live. Here the leases are coordination Leases in
 * kube-system labelled as kube-apiserver identity leases, with the server's address in an annotation.
 *
 * The Service has no selector, so the Endpoints and EndpointSlice controllers leave these objects alone.
 */
import type { EndpointAddress, Endpoints as EndpointsObject, EndpointSubset } from 'kubernetes-types/core/v1.js';
import type { Lease } from 'kubernetes-types/coordination/v1.js';
import type { EndpointSlice } from 'kubernetes-types/discovery/v1.js';
import { isIP } from 'node:net';
import type { KubeObject } from '../api/object.js';
import { isAlreadyExists, isConflict, isNotFound } from '../api/status.js';
import { parseTime, rfc3339Micro } from '../api/time.js';
import { Endpoints, EndpointSlices, Leases } from '../client/resources.js';
import type { Client } from '../client/types.js';
import { createLogger } from '../log/logger.js';

const log = createLogger('kubernetes-endpoints');

const LEASE_NAMESPACE = 'kube-system';
/** Upstream's label on API server identity leases (KEP-1965). */
export const IDENTITY_LABEL = 'apiserver.kubernetes.io/identity';
/** `ip:port` this server serves the API on. */
export const ADDRESS_ANNOTATION = 'skiff.dev/apiserver-address';

export interface KubernetesEndpointsOptions {
  client: Client;
  /** This server's name among the servers (the host name). */
  identity: string;
  /** The address pods reach this server on (its advertise address, else its node's), and its port. */
  address: string;
  port: number;
  /** How often the lease is renewed and the endpoints rewritten (default 10 s, kube-apiserver's). */
  intervalMs?: number;
  /** A server whose lease is older than this is left out (default 45 s). */
  leaseSeconds?: number;
  now?: () => Date;
}

export interface KubernetesEndpoints {
  /** Renews this server's lease and writes the endpoints once. */
  sync(): Promise<void>;
  /** Stops renewing, removes this server's lease and writes the endpoints without it. */
  stop(): Promise<void>;
}

export function startKubernetesEndpoints(opts: KubernetesEndpointsOptions): KubernetesEndpoints {
  const { client, identity } = opts;
  const now = opts.now ?? (() => new Date());
  const leaseSeconds = opts.leaseSeconds ?? 45;
  const leaseName = `skiff-apiserver-${identity.toLowerCase().replace(/[^a-z0-9.-]/g, '-')}`.slice(0, 253);
  let stopped = false;
  let running: Promise<void> = Promise.resolve();

  const renewLease = async () => {
    const lease: Lease & KubeObject = {
      apiVersion: 'coordination.k8s.io/v1',
      kind: 'Lease',
      metadata: { name: leaseName, namespace: LEASE_NAMESPACE, labels: { [IDENTITY_LABEL]: 'kube-apiserver' }, annotations: { [ADDRESS_ANNOTATION]: `${opts.address}:${opts.port}` } },
      spec: { holderIdentity: identity, leaseDurationSeconds: leaseSeconds, renewTime: rfc3339Micro(now()) },
    };
    await upsert(client, Leases, LEASE_NAMESPACE, lease);
  };

  const liveAddresses = async (): Promise<Array<{ ip: string; port: number }>> => {
    const leases = await client.list<Lease & KubeObject>(Leases, LEASE_NAMESPACE, { labelSelector: `${IDENTITY_LABEL}=kube-apiserver` });
    const out: Array<{ ip: string; port: number }> = [];
    for (const l of leases.items) {
      const renewed = parseTime(l.spec?.renewTime ?? undefined);
      const duration = (l.spec?.leaseDurationSeconds ?? leaseSeconds) * 1000;
      if (renewed === undefined || renewed + duration < now().getTime()) continue;
      const m = /^(.+):(\d+)$/.exec(l.metadata.annotations?.[ADDRESS_ANNOTATION] ?? '');
      if (m && isIP(m[1]!)) out.push({ ip: m[1]!, port: Number(m[2]) });
    }
    return out;
  };

  const writeEndpoints = async (servers: Array<{ ip: string; port: number }>) => {
    const { subsets, slice } = kubernetesEndpoints(servers, opts.port);
    await upsert(client, Endpoints, 'default', { apiVersion: 'v1', kind: 'Endpoints', metadata: { name: 'kubernetes', namespace: 'default', labels: { 'endpointslice.kubernetes.io/skip-mirror': 'true' } }, subsets } as EndpointsObject & KubeObject);
    await upsert(client, EndpointSlices, 'default', slice);
  };

  const sync = () => {
    running = running.then(async () => {
      if (stopped) return;
      try {
        await renewLease();
        await writeEndpoints(await liveAddresses());
      } catch (err) {
        log.warn(`keeping the kubernetes Service's endpoints failed: ${(err as Error).message}`, { err });
      }
    });
    return running;
  };

  const timer = setInterval(() => void sync(), opts.intervalMs ?? 10_000);
  timer.unref();
  void sync();

  return {
    sync,
    async stop() {
      clearInterval(timer);
      await running;
      stopped = true;
      try {
        await client.delete(Leases, LEASE_NAMESPACE, leaseName).catch((err) => {
          if (!isNotFound(err)) throw err;
        });
        await writeEndpoints((await liveAddresses()).filter((s) => !(s.ip === opts.address && s.port === opts.port)));
      } catch (err) {
        log.warn(`removing this server from the kubernetes Service's endpoints failed: ${(err as Error).message}`, { err });
      }
    },
  };
}

/**
 * Pure: the Endpoints subsets (one per port, addresses sorted) and the EndpointSlice `kubernetes` (the servers on this
 * server's port, as one slice holds one port set) for a set of live servers.
 */
export function kubernetesEndpoints(servers: Array<{ ip: string; port: number }>, ownPort: number): { subsets: EndpointSubset[]; slice: EndpointSlice & KubeObject } {
  const byPort = new Map<number, Set<string>>();
  for (const s of servers) (byPort.get(s.port) ?? byPort.set(s.port, new Set()).get(s.port)!).add(s.ip);
  const subsets: EndpointSubset[] = [...byPort.keys()].sort((a, b) => a - b).map((port) => ({
    addresses: [...byPort.get(port)!].sort().map((ip): EndpointAddress => ({ ip })),
    ports: [{ name: 'https', port, protocol: 'TCP' }],
  }));
  const ips = [...(byPort.get(ownPort) ?? [])].sort();
  const slice: EndpointSlice & KubeObject = {
    apiVersion: 'discovery.k8s.io/v1',
    kind: 'EndpointSlice',
    metadata: { name: 'kubernetes', namespace: 'default', labels: { 'kubernetes.io/service-name': 'kubernetes' } },
    addressType: ips.some((ip) => isIP(ip) === 6) && !ips.some((ip) => isIP(ip) === 4) ? 'IPv6' : 'IPv4',
    endpoints: ips.filter((ip) => isIP(ip) === 4 || ips.every((x) => isIP(x) === 6)).map((ip) => ({ addresses: [ip], conditions: { ready: true, serving: true, terminating: false } })),
    ports: [{ name: 'https', port: ownPort, protocol: 'TCP' }],
  };
  return { subsets, slice };
}

/** Creates `obj`, or replaces the stored one's content when it differs (retrying a lost update once). */
async function upsert<T extends KubeObject>(client: Client, rt: Parameters<Client['get']>[0], namespace: string, obj: T): Promise<void> {
  for (let attempt = 0; attempt < 3; attempt++) {
    let current: T | undefined;
    try {
      current = await client.get<T>(rt, namespace, obj.metadata.name!);
    } catch (err) {
      if (!isNotFound(err)) throw err;
    }
    try {
      if (current === undefined) {
        await client.create<T>(rt, namespace, obj);
        return;
      }
      const next = { ...current, ...obj, metadata: { ...current.metadata, labels: obj.metadata.labels, annotations: { ...current.metadata.annotations, ...obj.metadata.annotations } } } as T;
      if (JSON.stringify(next) === JSON.stringify(current)) return;
      await client.update<T>(rt, namespace, next);
      return;
    } catch (err) {
      if (!isConflict(err) && !isAlreadyExists(err)) throw err;
    }
  }
}
