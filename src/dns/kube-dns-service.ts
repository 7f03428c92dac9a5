/**
 * The `kube-dns` Service in kube-system (ClusterIP = --cluster-dns, ports dns/53 UDP and dns-tcp/53 TCP, no selector)
 * and this server's EndpointSlice for it (`kube-dns-<node>`, managed-by cluster-dns.skiff.io, owned by the Service),
 * pointing at the address and port this server's DNS listens on. k3s ships the same Service in front of CoreDNS
 * pods; here each server publishes itself, so several servers give several endpoints and none writes another's.
 *
 * Created at start and kept: a sync runs on every change of the Service or of this slice (a user deleting either
 * gets it back) and every minute. stop() deletes this server's slice, so clients are not sent to a stopped server;
 * after a kill -9 the slice stays until the server starts again and rewrites it.
 */
import type { Service } from 'kubernetes-types/core/v1.js';
import type { EndpointSlice } from 'kubernetes-types/discovery/v1.js';
import type { KubeObject } from '../api/object.js';
import { isAlreadyExists, isNotFound } from '../api/status.js';
import { EndpointSlices, Nodes, Services } from '../client/resources.js';
import type { Client, Informer } from '../client/types.js';
import { createLogger } from '../log/logger.js';
import { SERVICE_NAME_LABEL } from './dns-records.js';

const log = createLogger('dns');

export const KUBE_DNS_NAMESPACE = 'kube-system';
export const KUBE_DNS_SERVICE = 'kube-dns';
export const MANAGED_BY_LABEL = 'endpointslice.kubernetes.io/managed-by';
/** Not the endpointslice controller's value (endpointslice-controller.k8s.io), so it leaves these slices alone. */
export const CLUSTER_DNS_MANAGER = 'cluster-dns.skiff.io';
const RESYNC_MS = 60_000;
/** The cluster domain, on the kube-dns Service, for kubelets of agents that join (k3s hands them the server's config). */
export const CLUSTER_DOMAIN_ANNOTATION = 'skiff.io/cluster-domain';

export interface KubeDnsPublisherOptions {
  client: Client;
  services: Informer<Service & KubeObject>;
  slices: Informer<EndpointSlice & KubeObject>;
  /** The Service's ClusterIP (--cluster-dns). */
  clusterIP: string;
  /** --cluster-domain, recorded on the Service. */
  clusterDomain: string;
  /** Names this server's slice (kube-dns-<nodeName>). */
  nodeName: string;
  /** Whether a Node of that name exists (an embedded agent): then the endpoint names it, and the slice is removed by the other servers once the Node is deleted. */
  hasNode?: boolean;
  /** Where this server's DNS answers. */
  address: string;
  port: number;
}

/** The Service skiff keeps (no selector: its endpoints are the servers' slices). */
export function desiredKubeDnsService(clusterIP: string, clusterDomain = 'cluster.local'): Service & KubeObject {
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: {
      name: KUBE_DNS_SERVICE,
      namespace: KUBE_DNS_NAMESPACE,
      // k3s's coredns manifest labels; tools look for k8s-app=kube-dns.
      labels: { 'k8s-app': 'kube-dns', 'kubernetes.io/cluster-service': 'true', 'kubernetes.io/name': 'CoreDNS', 'app.kubernetes.io/managed-by': 'skiff' },
      annotations: { [CLUSTER_DOMAIN_ANNOTATION]: clusterDomain },
    },
    spec: {
      type: 'ClusterIP',
      clusterIP,
      clusterIPs: [clusterIP],
      ports: [
        { name: 'dns', port: 53, protocol: 'UDP', targetPort: 53 },
        { name: 'dns-tcp', port: 53, protocol: 'TCP', targetPort: 53 },
      ],
    },
  };
}

export function kubeDnsSliceName(nodeName: string): string {
  return `${KUBE_DNS_SERVICE}-${nodeName}`.slice(0, 253);
}

/** This server's slice: one ready endpoint at address:port, both ports named as the Service's. */
export function desiredKubeDnsSlice(o: { nodeName: string; hasNode?: boolean; address: string; port: number; service?: Service }): EndpointSlice & KubeObject {
  const uid = o.service?.metadata?.uid;
  return {
    apiVersion: 'discovery.k8s.io/v1',
    kind: 'EndpointSlice',
    metadata: {
      name: kubeDnsSliceName(o.nodeName),
      namespace: KUBE_DNS_NAMESPACE,
      labels: { [SERVICE_NAME_LABEL]: KUBE_DNS_SERVICE, [MANAGED_BY_LABEL]: CLUSTER_DNS_MANAGER },
      ...(uid ? { ownerReferences: [{ apiVersion: 'v1', kind: 'Service', name: KUBE_DNS_SERVICE, uid, controller: true, blockOwnerDeletion: true }] } : {}),
    },
    addressType: o.address.includes(':') ? 'IPv6' : 'IPv4',
    endpoints: [{ addresses: [o.address], conditions: { ready: true, serving: true, terminating: false }, ...(o.hasNode === false ? {} : { nodeName: o.nodeName }) }],
    ports: [
      { name: 'dns', port: o.port, protocol: 'UDP' },
      { name: 'dns-tcp', port: o.port, protocol: 'TCP' },
    ],
  };
}

export class KubeDnsPublisher {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private again = false;
  private stopped = false;
  private lastWarning = '';

  constructor(private readonly o: KubeDnsPublisherOptions) {}

  start(): void {
    const mine = (obj: KubeObject | undefined, name: string) => obj?.metadata?.namespace === KUBE_DNS_NAMESPACE && obj.metadata.name === name;
    const onService = (obj: KubeObject) => {
      if (mine(obj, KUBE_DNS_SERVICE)) this.trigger();
    };
    const onSlice = (obj: KubeObject) => {
      if (mine(obj, kubeDnsSliceName(this.o.nodeName))) this.trigger();
    };
    this.o.services.addEventHandler({ update: (_old, obj) => onService(obj), delete: onService });
    this.o.slices.addEventHandler({ update: (_old, obj) => onSlice(obj), delete: onSlice });
    this.trigger();
  }

  /** Runs a sync now (or right after the one running). */
  trigger(): void {
    if (this.stopped) return;
    if (this.running) {
      this.again = true;
      return;
    }
    clearTimeout(this.timer);
    this.running = this.sync()
      .then(() => {
        if (!this.lastWarning.startsWith('the kube-dns Service')) this.lastWarning = '';
      })
      .catch((err: Error) => this.warn(`cannot publish the kube-dns Service and its EndpointSlice: ${err.message}; retrying`))
      .finally(() => {
        this.running = undefined;
        if (this.stopped) return;
        if (this.again) {
          this.again = false;
          this.trigger();
        } else {
          this.timer = setTimeout(() => this.trigger(), RESYNC_MS);
          this.timer.unref();
        }
      });
  }

  /** Stops syncing and deletes this server's slice. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.running;
    await this.o.client.delete(EndpointSlices, KUBE_DNS_NAMESPACE, kubeDnsSliceName(this.o.nodeName)).catch((err: unknown) => {
      if (!isNotFound(err)) log.warn('cannot delete this server’s kube-dns EndpointSlice', { err });
    });
  }

  /** Creates or repairs the Service, then this server's slice. */
  async sync(): Promise<void> {
    const { client } = this.o;
    let svc = await client.get<Service & KubeObject>(Services, KUBE_DNS_NAMESPACE, KUBE_DNS_SERVICE).catch((err: unknown) => (isNotFound(err) ? undefined : Promise.reject(err)));
    if (!svc) {
      svc = await client.create(Services, KUBE_DNS_NAMESPACE, desiredKubeDnsService(this.o.clusterIP, this.o.clusterDomain)).catch(async (err: unknown) => {
        if (isAlreadyExists(err)) return client.get<Service & KubeObject>(Services, KUBE_DNS_NAMESPACE, KUBE_DNS_SERVICE);
        throw err;
      });
      log.info(`created the kube-dns Service at ${this.o.clusterIP}`, { clusterIP: this.o.clusterIP });
    }
    if (svc.spec?.selector && Object.keys(svc.spec.selector).length > 0) {
      // Someone runs their own DNS pods behind kube-dns (they should start skiff with --disable coredns).
      this.warn('the kube-dns Service has a selector: another DNS serves it; skiff does not add its endpoint (start with --disable coredns to not serve cluster DNS)');
      return;
    }
    if (svc.spec?.clusterIP !== this.o.clusterIP) {
      this.warn(`the kube-dns Service has ClusterIP ${svc.spec?.clusterIP}, not --cluster-dns ${this.o.clusterIP}: pods are told ${this.o.clusterIP}; delete the Service to have it recreated`);
    }
    const want = desiredKubeDnsSlice({ ...this.o, service: svc });
    const have = await client.get<EndpointSlice & KubeObject>(EndpointSlices, KUBE_DNS_NAMESPACE, want.metadata.name!).catch((err: unknown) => (isNotFound(err) ? undefined : Promise.reject(err)));
    if (!have) {
      await client.create(EndpointSlices, KUBE_DNS_NAMESPACE, want);
      log.info(`published cluster DNS at ${this.o.address}:${this.o.port} in EndpointSlice kube-system/${want.metadata.name}`);
    }
    const same =
      !have ||
      JSON.stringify(have.endpoints) === JSON.stringify(want.endpoints) &&
      JSON.stringify(have.ports) === JSON.stringify(want.ports) &&
      have.metadata.labels?.[MANAGED_BY_LABEL] === CLUSTER_DNS_MANAGER &&
      have.metadata.labels?.[SERVICE_NAME_LABEL] === KUBE_DNS_SERVICE &&
      have.metadata.ownerReferences?.[0]?.uid === svc.metadata?.uid &&
      have.addressType === want.addressType;
    if (!same && have) {
      if (have.addressType !== want.addressType) {
        await client.delete(EndpointSlices, KUBE_DNS_NAMESPACE, want.metadata.name!);
        await client.create(EndpointSlices, KUBE_DNS_NAMESPACE, want);
      } else {
        await client.update(EndpointSlices, KUBE_DNS_NAMESPACE, { ...want, metadata: { ...want.metadata, resourceVersion: have.metadata.resourceVersion, labels: { ...have.metadata.labels, ...want.metadata.labels } } });
      }
    }
    await this.removeSlicesOfGoneNodes(want.metadata.name!);
  }

  /**
   * A server killed for good leaves its slice behind, and clients would keep trying its address: every server
   * deletes the cluster-DNS slices whose node no longer exists (a deleted Node is a removed server, as k3s does it).
   * Slices of servers without a node (--disable-agent) name none and are left alone.
   */
  private async removeSlicesOfGoneNodes(mine: string): Promise<void> {
    const others = this.o.slices.lister.list(KUBE_DNS_NAMESPACE, `${MANAGED_BY_LABEL}=${CLUSTER_DNS_MANAGER}`).filter((s) => s.metadata.name !== mine);
    for (const slice of others) {
      const node = slice.endpoints?.[0]?.nodeName;
      if (!node) continue;
      const gone = await this.o.client.get(Nodes, '', node).then(
        () => false,
        (err: unknown) => (isNotFound(err) ? true : Promise.reject(err)),
      );
      if (!gone) continue;
      await this.o.client.delete(EndpointSlices, KUBE_DNS_NAMESPACE, slice.metadata.name!).catch((err: unknown) => (isNotFound(err) ? undefined : Promise.reject(err)));
      log.info(`deleted kube-system/${slice.metadata.name}: its node ${node} is gone`);
    }
  }

  private warn(message: string): void {
    if (message === this.lastWarning) return;
    this.lastWarning = message;
    log.warn(message);
  }
}

/**
 * The cluster DNS a joining agent's kubelet should use (kubelet --cluster-dns / --cluster-domain): the kube-dns
 * Service's ClusterIP, whoever serves it, and the domain recorded on it; undefined when there is no such Service.
 */
export async function readClusterDns(client: Client): Promise<{ clusterDNS: string[]; clusterDomain: string } | undefined> {
  const svc = await client.get<Service & KubeObject>(Services, KUBE_DNS_NAMESPACE, KUBE_DNS_SERVICE).catch((err: unknown) => (isNotFound(err) ? undefined : Promise.reject(err)));
  const ip = svc?.spec?.clusterIP;
  if (!ip || ip === 'None') return undefined;
  return { clusterDNS: [ip], clusterDomain: svc.metadata.annotations?.[CLUSTER_DOMAIN_ANNOTATION] ?? 'cluster.local' };
}
