/**
 * The cluster's DNS records, indexed from Services and EndpointSlices as CoreDNS's kubernetes plugin sees them. The
 * index is updated per Service: an informer event marks its Service dirty, and the next lookup recomputes that one
 * entry (and its reverse records), so a query never waits on a rebuild of the whole cluster.
 */
import type { Service } from 'kubernetes-types/core/v1.js';
import type { EndpointSlice } from 'kubernetes-types/discovery/v1.js';

export const SERVICE_NAME_LABEL = 'kubernetes.io/service-name';

export interface RecordPort {
  /** The port's name ('' for an unnamed port: no SRV record by name). */
  name: string;
  /** 'tcp' | 'udp' | 'sctp', lower-cased as in SRV names. */
  protocol: string;
  port: number;
}

export interface RecordEndpoint {
  /** The endpoint's addresses (ready ones only; CoreDNS publishes what the EndpointSlice calls ready). */
  addresses: string[];
  /** The endpoint's DNS label: its hostname (pods with hostname + subdomain), else the address with dashes. */
  label: string;
  /** The EndpointSlice's ports (targetPorts, as the pod listens). */
  ports: RecordPort[];
}

export interface ServiceRecord {
  name: string;
  namespace: string;
  kind: 'ClusterIP' | 'Headless' | 'ExternalName';
  /** ClusterIP Services: spec.clusterIPs. */
  clusterIPs: string[];
  /** ExternalName Services: the CNAME target. */
  externalName?: string;
  /** The Service's ports (ClusterIP SRV records use these). */
  ports: RecordPort[];
  endpoints: RecordEndpoint[];
}

/** What the answer logic reads: pure lookups, no I/O. */
export interface DnsRecords {
  service(namespace: string, name: string): ServiceRecord | undefined;
  /** Whether any Service lives in the namespace (`ns.svc.<zone>` then exists, with no records of its own). */
  hasNamespace(namespace: string): boolean;
  /** The names an address is published under: a ClusterIP's `svc.ns.svc.<zone>`, an endpoint's `label.svc.ns.svc.<zone>`. */
  ptr(ip: string): string[];
  /** Changes whenever the records do (the SOA serial). */
  readonly serial: number;
}

/** The record of one Service from the Service and its EndpointSlices; undefined for a Service DNS does not publish. */
export function computeServiceRecord(svc: Service, slices: readonly EndpointSlice[]): ServiceRecord | undefined {
  const name = svc.metadata?.name;
  const namespace = svc.metadata?.namespace;
  if (!name || !namespace) return undefined;
  const spec = svc.spec ?? {};
  const ports = (spec.ports ?? []).map((p) => ({ name: p.name ?? '', protocol: (p.protocol ?? 'TCP').toLowerCase(), port: p.port }));
  if (spec.type === 'ExternalName') {
    if (!spec.externalName) return undefined;
    return { name, namespace, kind: 'ExternalName', clusterIPs: [], externalName: spec.externalName.replace(/\.$/, '').toLowerCase(), ports, endpoints: [] };
  }
  const clusterIPs = (spec.clusterIPs?.length ? spec.clusterIPs : spec.clusterIP ? [spec.clusterIP] : []).filter((ip) => ip && ip !== 'None');
  const headless = spec.clusterIP === 'None';
  // A Service whose ClusterIP is not allocated yet has no address to give (CoreDNS skips it too).
  if (!headless && clusterIPs.length === 0) return undefined;
  const endpoints: RecordEndpoint[] = [];
  const seen = new Set<string>();
  for (const slice of slices) {
    const slicePorts = (slice.ports ?? []).filter((p) => p.port !== undefined).map((p) => ({ name: p.name ?? '', protocol: (p.protocol ?? 'TCP').toLowerCase(), port: p.port! }));
    for (const ep of slice.endpoints ?? []) {
      // ready unset means ready (EndpointConditions); with publishNotReadyAddresses the controller sets it true.
      if (ep.conditions?.ready === false) continue;
      const addresses = ep.addresses.filter((a) => !seen.has(`${a}|${slicePorts.map((p) => p.port).join(',')}`));
      if (addresses.length === 0) continue;
      for (const a of addresses) seen.add(`${a}|${slicePorts.map((p) => p.port).join(',')}`);
      endpoints.push({ addresses, label: (ep.hostname ?? dashed(addresses[0]!)).toLowerCase(), ports: slicePorts });
    }
  }
  return { name, namespace, kind: headless ? 'Headless' : 'ClusterIP', clusterIPs: headless ? [] : clusterIPs, ports, endpoints };
}

/** An address as a DNS label: 10.42.0.5 → 10-42-0-5, fd00::1 → fd00--1 (CoreDNS endpointHostname). */
export function dashed(ip: string): string {
  return ip.includes(':') ? ip.replace(/:/g, '-') : ip.replace(/\./g, '-');
}

/**
 * The index: Services and EndpointSlices go in through set/delete (from informer events), lookups come out. Cached
 * objects are only read, never changed.
 */
export class DnsIndex implements DnsRecords {
  private readonly services = new Map<string, Service>();
  /** Service key → slice name → slice. */
  private readonly slices = new Map<string, Map<string, EndpointSlice>>();
  private readonly records = new Map<string, ServiceRecord>();
  private readonly namespaces = new Map<string, number>();
  private readonly reverse = new Map<string, Set<string>>();
  /** The names each Service contributed to `reverse`, to take them out again. */
  private readonly reverseOf = new Map<string, Array<[string, string]>>();
  private readonly dirty = new Set<string>();
  private serialValue = 1;

  constructor(private readonly zone: string) {}

  get serial(): number {
    this.flush();
    return this.serialValue;
  }

  setService(svc: Service): void {
    const key = `${svc.metadata?.namespace}/${svc.metadata?.name}`;
    if (!this.services.has(key)) this.namespaces.set(svc.metadata!.namespace!, (this.namespaces.get(svc.metadata!.namespace!) ?? 0) + 1);
    this.services.set(key, svc);
    this.dirty.add(key);
  }

  deleteService(svc: Service): void {
    const key = `${svc.metadata?.namespace}/${svc.metadata?.name}`;
    if (!this.services.delete(key)) return;
    const ns = svc.metadata!.namespace!;
    const left = (this.namespaces.get(ns) ?? 1) - 1;
    if (left > 0) this.namespaces.set(ns, left);
    else this.namespaces.delete(ns);
    this.dirty.add(key);
  }

  setSlice(slice: EndpointSlice): void {
    const key = sliceServiceKey(slice);
    if (!key) return;
    let byName = this.slices.get(key);
    if (!byName) this.slices.set(key, (byName = new Map()));
    byName.set(slice.metadata!.name!, slice);
    this.dirty.add(key);
  }

  deleteSlice(slice: EndpointSlice): void {
    const key = sliceServiceKey(slice);
    if (!key) return;
    const byName = this.slices.get(key);
    if (!byName?.delete(slice.metadata!.name!)) return;
    if (byName.size === 0) this.slices.delete(key);
    this.dirty.add(key);
  }

  service(namespace: string, name: string): ServiceRecord | undefined {
    this.flush();
    return this.records.get(`${namespace}/${name}`);
  }

  hasNamespace(namespace: string): boolean {
    return this.namespaces.has(namespace);
  }

  ptr(ip: string): string[] {
    this.flush();
    const names = this.reverse.get(ip);
    return names ? [...names] : [];
  }

  /** Recomputes the entries of the Services that changed since the last lookup. */
  private flush(): void {
    if (this.dirty.size === 0) return;
    for (const key of this.dirty) {
      for (const [ip, name] of this.reverseOf.get(key) ?? []) {
        const names = this.reverse.get(ip);
        names?.delete(name);
        if (names?.size === 0) this.reverse.delete(ip);
      }
      this.reverseOf.delete(key);
      const svc = this.services.get(key);
      const record = svc ? computeServiceRecord(svc, [...(this.slices.get(key)?.values() ?? [])]) : undefined;
      if (!record) {
        this.records.delete(key);
        continue;
      }
      this.records.set(key, record);
      const base = `${record.name}.${record.namespace}.svc.${this.zone}`;
      const names: Array<[string, string]> = [];
      for (const ip of record.clusterIPs) names.push([ip, base]);
      for (const ep of record.endpoints) for (const ip of ep.addresses) names.push([ip, `${ep.label}.${base}`]);
      for (const [ip, name] of names) {
        let set = this.reverse.get(ip);
        if (!set) this.reverse.set(ip, (set = new Set()));
        set.add(name);
      }
      this.reverseOf.set(key, names);
    }
    this.dirty.clear();
    this.serialValue++;
  }
}

function sliceServiceKey(slice: EndpointSlice): string | undefined {
  const svc = slice.metadata?.labels?.[SERVICE_NAME_LABEL];
  return svc && slice.metadata?.namespace && slice.metadata.name ? `${slice.metadata.namespace}/${svc}` : undefined;
}
