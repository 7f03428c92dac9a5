/**
 * Cluster DNS inside `skiff server` (what k3s runs as the CoreDNS Deployment): the records come from the process's
 * shared Services and EndpointSlices informers, the server listens on UDP and TCP at the node address (port 53 when
 * free), names outside the zone go to the node's resolvers, and the kube-dns Service with this server's
 * EndpointSlice tells the service proxy where to send 10.43.0.10:53.
 */
import type { Service } from 'kubernetes-types/core/v1.js';
import type { EndpointSlice } from 'kubernetes-types/discovery/v1.js';
import type { KubeObject } from '../api/object.js';
import { EndpointSlices, Services } from '../client/resources.js';
import type { Client, InformerFactory } from '../client/types.js';
import { createLogger } from '../log/logger.js';
import { DnsIndex } from './dns-records.js';
import { DnsServer } from './dns-server.js';
import { KubeDnsPublisher } from './kube-dns-service.js';
import { hostUpstreams, UpstreamForwarder, type Upstream } from './upstream-forwarder.js';

const log = createLogger('dns');

export interface ClusterDnsOptions {
  client: Client;
  /** The process's shared factory: the Services and EndpointSlices informers are asked for, not opened anew. */
  informers: InformerFactory;
  /** The kube-dns Service's ClusterIP (--cluster-dns). */
  clusterIP: string;
  /** The cluster domain (--cluster-domain), e.g. cluster.local. */
  clusterDomain: string;
  /** The node's address pods reach (its InternalIP); the DNS listens there. */
  listenAddress: string;
  /** Tried first; when taken, any free port (published in the EndpointSlice). Default 53. */
  port?: number;
  nodeName: string;
  /** Whether this server has a Node (an embedded agent); default true. */
  hasNode?: boolean;
  /** Resolvers for names outside the cluster (default: /etc/resolv.conf's nameservers). */
  upstreams?: Upstream[];
  /** Record TTL in seconds (default 5, CoreDNS's). */
  ttl?: number;
  /** Publish the kube-dns Service and this server's EndpointSlice (default true). */
  publish?: boolean;
}

export interface RunningClusterDns {
  address: string;
  port: number;
  index: DnsIndex;
  forwarder: UpstreamForwarder;
  stop(): Promise<void>;
}

export async function startClusterDns(o: ClusterDnsOptions): Promise<RunningClusterDns> {
  const zone = o.clusterDomain.replace(/\.$/, '').toLowerCase();
  const index = new DnsIndex(zone);
  const services = o.informers.informerFor<Service & KubeObject>(Services);
  const slices = o.informers.informerFor<EndpointSlice & KubeObject>(EndpointSlices);
  services.addEventHandler({ add: (s) => index.setService(s), update: (_old, s) => index.setService(s), delete: (s) => index.deleteService(s) });
  slices.addEventHandler({ add: (s) => index.setSlice(s), update: (old, s) => (index.deleteSlice(old), index.setSlice(s)), delete: (s) => index.deleteSlice(s) });
  o.informers.start();

  const server = new DnsServer({ zone, ttl: o.ttl ?? 5, records: index });
  const listening = await server.listen({ host: o.listenAddress, port: o.port ?? 53 });
  // A resolver that is this server itself would loop.
  const upstreams = (o.upstreams ?? hostUpstreams()).filter((u) => !(u.host === listening.address && u.port === listening.port));
  if (upstreams.length === 0) log.warn('no upstream resolvers: names outside the cluster get SERVFAIL');
  const forwarder = new UpstreamForwarder({ upstreams });
  server.forwarder = forwarder;
  if ((o.port ?? 53) !== 0 && (o.port ?? 53) !== listening.port) log.info(`port ${o.port ?? 53} is taken on ${o.listenAddress}: cluster DNS listens on port ${listening.port} (published in the kube-dns EndpointSlice)`);
  log.info(`cluster DNS for ${zone} on ${listening.address}:${listening.port} (UDP and TCP), Service IP ${o.clusterIP}`, { address: listening.address, port: listening.port });

  const publisher = o.publish === false ? undefined : new KubeDnsPublisher({ client: o.client, services, slices, clusterIP: o.clusterIP, clusterDomain: zone, nodeName: o.nodeName, hasNode: o.hasNode ?? true, address: listening.address, port: listening.port });
  publisher?.start();
  return {
    address: listening.address,
    port: listening.port,
    index,
    forwarder,
    async stop() {
      await publisher?.stop();
      await server.close();
      forwarder.close();
    },
  };
}
