/**
 * The desired Endpoints of a Service, as a pure function of the service and its pods (upstream
 * pkg/controller/endpoint/endpoints_controller.go syncService, and RepackSubsets from pkg/api/v1/endpoints).
 */
import type { EndpointAddress, EndpointPort, EndpointSubset } from 'kubernetes-types/core/v1.js';
import type { Mutable } from '../../api/object.js';
import { findPort, podIPsOfFamily, shouldPodBeInEndpoints, shouldSetHostname, type Pod, type Service } from '../util/pod-endpoints.js';
import { isPodReady } from '../../api/pod.js';

/** Endpoints objects hold at most this many addresses; the rest are dropped and the object is annotated. */
export const MAX_ENDPOINTS_CAPACITY = 1000;
export const OVER_CAPACITY_ANNOTATION = 'endpoints.kubernetes.io/over-capacity';
/** Marks the Endpoints (and EndpointSlices) of a headless service, for kube-proxy to skip them. */
export const HEADLESS_LABEL = 'service.kubernetes.io/headless';

type Address = Mutable<EndpointAddress>;
type Port = Mutable<EndpointPort>;
type Subset = Mutable<EndpointSubset>;

export interface DesiredEndpoints {
  subsets: Subset[];
  labels: Record<string, string>;
  /** True when addresses beyond MAX_ENDPOINTS_CAPACITY were dropped. */
  truncated: boolean;
}

export function isHeadless(svc: Service): boolean {
  return svc.spec?.clusterIP === 'None';
}

/** The service's labels, with the headless label added for headless services and removed otherwise. */
export function computeEndpointsLabels(svc: Service): Record<string, string> {
  const labels: Record<string, string> = { ...(svc.metadata.labels ?? {}) };
  if (isHeadless(svc)) labels[HEADLESS_LABEL] = '';
  else delete labels[HEADLESS_LABEL];
  return labels;
}

export function computeEndpoints(svc: Service, pods: Pod[]): DesiredEndpoints {
  const publishNotReady = svc.spec?.publishNotReadyAddresses === true;
  // The family of the Endpoints object follows the service's primary IP family (IPv4 unless it says otherwise).
  const family = svc.spec?.ipFamilies?.[0] === 'IPv6' ? 'IPv6' : 'IPv4';
  const ports = svc.spec?.ports ?? [];
  const entries: { addr: Address; ready: boolean; port?: Port }[] = [];
  for (const pod of pods) {
    if (!shouldPodBeInEndpoints(pod, publishNotReady)) continue;
    const ip = podIPsOfFamily(pod, family)[0];
    if (!ip) continue;
    const addr: Address = { ip };
    if (pod.spec?.nodeName) addr.nodeName = pod.spec.nodeName;
    if (shouldSetHostname(pod, svc)) addr.hostname = pod.spec!.hostname;
    addr.targetRef = { kind: 'Pod', namespace: pod.metadata.namespace, name: pod.metadata.name, uid: pod.metadata.uid };
    const ready = publishNotReady || isPodReady(pod);
    if (ports.length === 0) {
      // A headless service without ports still publishes its pods' addresses (for DNS).
      if (isHeadless(svc)) entries.push({ addr, ready });
      continue;
    }
    for (const sp of ports) {
      const portNum = findPort(pod, sp);
      if (portNum === undefined) continue;
      const port: Port = { port: portNum, protocol: sp.protocol ?? 'TCP' };
      if (sp.name) port.name = sp.name;
      if (sp.appProtocol) port.appProtocol = sp.appProtocol;
      entries.push({ addr, ready, port });
    }
  }
  const subsets = repackSubsets(entries);
  const truncated = truncateSubsets(subsets, MAX_ENDPOINTS_CAPACITY);
  return { subsets, labels: computeEndpointsLabels(svc), truncated };
}

/**
 * Groups (address, port) pairs into the fewest subsets: ports offered by exactly the same set of addresses share a
 * subset. Addresses are sorted by IP (then pod uid), ports by name then number, subsets by their first address, so
 * the result does not depend on the order pods were listed in and an unchanged service compares equal.
 */
export function repackSubsets(entries: { addr: Address; ready: boolean; port?: Port }[]): Subset[] {
  const portKey = (p?: Port) => (p ? `${p.name ?? ''}/${p.port}/${p.protocol ?? 'TCP'}/${p.appProtocol ?? ''}` : '');
  const addrKey = (a: Address) => `${a.ip}/${a.targetRef?.uid ?? ''}`;
  // port -> (address key -> entry)
  const byPort = new Map<string, { port?: Port; addrs: Map<string, { addr: Address; ready: boolean }> }>();
  for (const e of entries) {
    const k = portKey(e.port);
    let slot = byPort.get(k);
    if (!slot) byPort.set(k, (slot = { port: e.port, addrs: new Map() }));
    slot.addrs.set(addrKey(e.addr), { addr: e.addr, ready: e.ready });
  }
  // address set -> ports
  const groups = new Map<string, { addrs: { addr: Address; ready: boolean }[]; ports: Port[] }>();
  for (const slot of byPort.values()) {
    const addrs = [...slot.addrs.values()].sort((a, b) => compareAddress(a.addr, b.addr));
    const k = addrs.map((a) => `${addrKey(a.addr)}:${a.ready}`).join(',');
    let g = groups.get(k);
    if (!g) groups.set(k, (g = { addrs, ports: [] }));
    if (slot.port) g.ports.push(slot.port);
  }
  const subsets: Subset[] = [];
  for (const g of groups.values()) {
    const s: Subset = {};
    const ready = g.addrs.filter((a) => a.ready).map((a) => a.addr);
    const notReady = g.addrs.filter((a) => !a.ready).map((a) => a.addr);
    if (ready.length) s.addresses = ready;
    if (notReady.length) s.notReadyAddresses = notReady;
    if (g.ports.length) s.ports = g.ports.sort((a, b) => (a.name ?? '').localeCompare(b.name ?? '') || a.port - b.port);
    subsets.push(s);
  }
  const first = (s: Subset) => s.addresses?.[0] ?? s.notReadyAddresses?.[0];
  return subsets.sort((a, b) => compareAddress(first(a)!, first(b)!) || portKey(a.ports?.[0]).localeCompare(portKey(b.ports?.[0])));
}

function compareAddress(a: Address, b: Address): number {
  return a.ip.localeCompare(b.ip) || (a.targetRef?.uid ?? '').localeCompare(b.targetRef?.uid ?? '');
}

/**
 * Keeps at most `max` addresses, ready ones first (upstream keeps the ready ones and drops not-ready ones first,
 * spreading the cut over subsets; this keeps the earliest subsets whole instead). Returns whether anything was dropped.
 */
function truncateSubsets(subsets: Subset[], max: number): boolean {
  const total = subsets.reduce((n, s) => n + (s.addresses?.length ?? 0) + (s.notReadyAddresses?.length ?? 0), 0);
  if (total <= max) return false;
  let budget = max;
  for (const s of subsets) {
    const keep = Math.min(budget, s.addresses?.length ?? 0);
    if (s.addresses) s.addresses = s.addresses.slice(0, keep);
    budget -= keep;
  }
  for (const s of subsets) {
    const keep = Math.min(budget, s.notReadyAddresses?.length ?? 0);
    if (s.notReadyAddresses) s.notReadyAddresses = s.notReadyAddresses.slice(0, keep);
    budget -= keep;
  }
  for (let i = subsets.length - 1; i >= 0; i--) {
    const s = subsets[i];
    if (!s.addresses?.length) delete s.addresses;
    if (!s.notReadyAddresses?.length) delete s.notReadyAddresses;
    if (!s.addresses && !s.notReadyAddresses) subsets.splice(i, 1);
  }
  return true;
}
