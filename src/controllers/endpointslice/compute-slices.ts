/**
 * The EndpointSlice reconciler's plan, as a pure function (upstream staging/src/k8s.io/endpointslice/reconciler.go):
 * from a Service, its pods and the slices that exist now, which slices to create, update and delete so that every
 * selected pod appears once, grouped by port set, at most `maxEndpointsPerSlice` to a slice, with as few writes as
 * possible: slices whose endpoints are unchanged are not touched, removed endpoints leave gaps that new endpoints
 * fill, and a slice that would become empty is deleted. A service with no endpoints keeps one empty placeholder.
 */
import type { Endpoint, EndpointPort, EndpointSlice as K8sEndpointSlice } from 'kubernetes-types/discovery/v1.js';
import type { KubeObject, Mutable } from '../../api/object.js';
import { findPort, podIPsOfFamily, shouldPodBeInEndpoints, shouldSetHostname, type Pod, type Service } from '../util/pod-endpoints.js';
import { isPodReady } from '../../api/pod.js';
import { semanticEqual } from '../util/semantic-equal.js';

export type EndpointSlice = K8sEndpointSlice & KubeObject;
type SliceEndpoint = Mutable<Endpoint>;
type SlicePort = Mutable<EndpointPort>;

/** kube-controller-manager --max-endpoints-per-slice default. */
export const MAX_ENDPOINTS_PER_SLICE = 100;
export const SERVICE_NAME_LABEL = 'kubernetes.io/service-name';
export const MANAGED_BY_LABEL = 'endpointslice.kubernetes.io/managed-by';
export const CONTROLLER_NAME = 'endpointslice-controller.k8s.io';
const HEADLESS_LABEL = 'service.kubernetes.io/headless';
const ZONE_LABEL = 'topology.kubernetes.io/zone';
const RESERVED_LABELS = new Set([SERVICE_NAME_LABEL, MANAGED_BY_LABEL, HEADLESS_LABEL]);

export interface SliceChanges {
  /** New slices: metadata.generateName is set, the server picks the name (`<service>-<5 chars>`). */
  create: Mutable<EndpointSlice>[];
  /** Copies of existing slices with new endpoints or labels, carrying the resourceVersion they were read at. */
  update: Mutable<EndpointSlice>[];
  delete: EndpointSlice[];
}

export interface ComputeSlicesOptions {
  maxEndpointsPerSlice?: number;
  /** The zone of a node (its topology.kubernetes.io/zone label), for endpoint.zone. */
  zoneOf?: (nodeName: string) => string | undefined;
}

export function isManagedSlice(slice: EndpointSlice): boolean {
  return slice.metadata.labels?.[MANAGED_BY_LABEL] === CONTROLLER_NAME;
}

/** The zone label of a node, for ComputeSlicesOptions.zoneOf. */
export function nodeZone(node: KubeObject | undefined): string | undefined {
  return node?.metadata.labels?.[ZONE_LABEL] || undefined;
}

/** The service's own labels (minus the reserved ones) plus the service-name, managed-by and headless labels. */
export function computeSliceLabels(svc: Service): Record<string, string> {
  const labels: Record<string, string> = {};
  for (const [k, v] of Object.entries(svc.metadata.labels ?? {})) if (!RESERVED_LABELS.has(k)) labels[k] = v;
  if (svc.spec?.clusterIP === 'None') labels[HEADLESS_LABEL] = '';
  labels[SERVICE_NAME_LABEL] = svc.metadata.name ?? '';
  labels[MANAGED_BY_LABEL] = CONTROLLER_NAME;
  return labels;
}

export function computeSliceChanges(svc: Service, pods: Pod[], existing: EndpointSlice[], opts: ComputeSlicesOptions = {}): SliceChanges {
  const max = opts.maxEndpointsPerSlice ?? MAX_ENDPOINTS_PER_SLICE;
  const changes: SliceChanges = { create: [], update: [], delete: [] };
  const addressTypes = (svc.spec?.ipFamilies?.length ? svc.spec.ipFamilies : ['IPv4']) as ('IPv4' | 'IPv6')[];
  const labels = computeSliceLabels(svc);
  const sorted = [...pods].sort((a, b) => (a.metadata.name ?? '').localeCompare(b.metadata.name ?? ''));

  const byType = new Map<string, EndpointSlice[]>(addressTypes.map((t) => [t, []]));
  for (const slice of existing) {
    const group = byType.get(slice.addressType);
    // A slice of an address type the service no longer has, or one left by an earlier service of the same name, goes.
    if (group && ownedBy(slice, svc)) group.push(slice);
    else changes.delete.push(slice);
  }

  for (const addressType of addressTypes) {
    const desired = new Map<string, { ports: SlicePort[]; endpoints: Map<string, SliceEndpoint> }>();
    for (const pod of sorted) {
      // Terminating pods stay in slices (ready=false, terminating=true) so proxies can drain them.
      if (!shouldPodBeInEndpoints(pod, true)) continue;
      const endpoint = podToEndpoint(pod, svc, addressType, opts.zoneOf);
      if (!endpoint) continue;
      const ports = endpointPorts(svc, pod);
      const pk = portsKey(ports);
      let group = desired.get(pk);
      if (!group) desired.set(pk, (group = { ports, endpoints: new Map() }));
      group.endpoints.set(endpointKey(endpoint), endpoint);
    }

    const slices = byType.get(addressType)!;
    const existingByPorts = new Map<string, EndpointSlice[]>();
    for (const slice of slices) {
      const pk = portsKey(slice.ports ?? []);
      existingByPorts.set(pk, [...(existingByPorts.get(pk) ?? []), slice]);
    }
    const typeChanges: SliceChanges = { create: [], update: [], delete: [] };
    for (const [pk, group] of desired) {
      reconcilePortGroup(svc, addressType, labels, group.ports, group.endpoints, existingByPorts.get(pk) ?? [], max, typeChanges);
      existingByPorts.delete(pk);
    }
    // Port sets no pod offers any more.
    for (const rest of existingByPorts.values()) typeChanges.delete.push(...rest);

    // A service without endpoints keeps exactly one empty slice, so consumers can tell "no endpoints" from "not synced".
    if (typeChanges.delete.length === slices.length && typeChanges.create.length === 0) {
      const placeholder = newSlice(svc, addressType, labels, [], []);
      if (typeChanges.delete.length === 1 && isSamePlaceholder(typeChanges.delete[0], placeholder)) typeChanges.delete = [];
      else typeChanges.create.push(placeholder);
    }
    changes.create.push(...typeChanges.create);
    changes.update.push(...typeChanges.update);
    changes.delete.push(...typeChanges.delete);
  }
  reuseDeletedSlices(svc, changes);
  return changes;
}

/**
 * A slice to create and one to delete of the same address type become one update of the latter (upstream
 * reconciler finalize): fewer writes, and no moment where a consumer sees both or neither.
 */
function reuseDeletedSlices(svc: Service, changes: SliceChanges): void {
  for (let i = 0; i < changes.delete.length && changes.create.length > 0; ) {
    const old = changes.delete[i];
    const fresh = changes.create[changes.create.length - 1];
    // Never reuse a slice of an earlier service of the same name: the garbage collector is deleting it.
    if (old.addressType !== fresh.addressType || !ownedBy(old, svc)) {
      i++;
      continue;
    }
    changes.create.pop();
    changes.delete.splice(i, 1);
    delete fresh.metadata.generateName;
    fresh.metadata.name = old.metadata.name;
    fresh.metadata.uid = old.metadata.uid;
    fresh.metadata.resourceVersion = old.metadata.resourceVersion;
    changes.update.push(fresh);
  }
}

/** One port set: keep unchanged slices as they are, rewrite changed ones, fill gaps, then create what is left. */
function reconcilePortGroup(
  svc: Service,
  addressType: string,
  labels: Record<string, string>,
  ports: SlicePort[],
  desired: Map<string, SliceEndpoint>,
  slices: EndpointSlice[],
  max: number,
  out: SliceChanges,
): void {
  const remaining = new Map(desired);
  const updated: Mutable<EndpointSlice>[] = [];
  const unchanged: EndpointSlice[] = [];
  for (const slice of slices) {
    const kept: SliceEndpoint[] = [];
    let changed = false;
    for (const ep of slice.endpoints ?? []) {
      const k = endpointKey(ep);
      const want = remaining.get(k);
      // Gone, or listed twice (the second copy is dropped).
      if (!want) continue;
      if (!semanticEqual(want, ep)) changed = true;
      kept.push(want);
      remaining.delete(k);
    }
    const labelsChanged = !semanticEqual(slice.metadata.labels ?? {}, labels);
    if (changed || kept.length !== (slice.endpoints ?? []).length) {
      if (kept.length === 0) {
        out.delete.push(slice);
        continue;
      }
      const copy = structuredClone(slice) as Mutable<EndpointSlice>;
      copy.endpoints = kept;
      copy.metadata.labels = { ...labels };
      updated.push(copy);
    } else if (labelsChanged) {
      const copy = structuredClone(slice) as Mutable<EndpointSlice>;
      copy.endpoints ??= [];
      copy.metadata.labels = { ...labels };
      updated.push(copy);
    } else {
      unchanged.push(slice);
    }
  }

  const take = (slice: Mutable<EndpointSlice>) => {
    for (const [k, ep] of remaining) {
      if (slice.endpoints.length >= max) break;
      slice.endpoints.push(ep);
      remaining.delete(k);
    }
  };
  // Slices that are written anyway take new endpoints first: that costs no extra write.
  for (const slice of updated) take(slice);

  while (remaining.size > 0) {
    let target: Mutable<EndpointSlice> | undefined;
    // Fewer than a slice's worth left: fit them into the fullest unchanged slice that has room for all of them
    // (one update instead of a create), as upstream's getSliceToFill does.
    if (remaining.size < max) {
      let best = -1;
      for (let i = 0; i < unchanged.length; i++) {
        const room = max - (unchanged[i].endpoints ?? []).length;
        if (room >= remaining.size && (best < 0 || room < max - (unchanged[best].endpoints ?? []).length)) best = i;
      }
      if (best >= 0) {
        target = structuredClone(unchanged[best]) as Mutable<EndpointSlice>;
        target.endpoints ??= [];
        unchanged.splice(best, 1);
        updated.push(target);
      }
    }
    if (!target) {
      target = newSlice(svc, addressType, labels, ports, []);
      out.create.push(target);
    }
    take(target);
  }
  out.update.push(...updated);
}

function podToEndpoint(pod: Pod, svc: Service, addressType: 'IPv4' | 'IPv6', zoneOf?: (node: string) => string | undefined): SliceEndpoint | undefined {
  const addresses = podIPsOfFamily(pod, addressType);
  if (addresses.length === 0) return undefined;
  const serving = isPodReady(pod);
  const terminating = !!pod.metadata.deletionTimestamp;
  // A terminating pod is never "ready" (compatibility with consumers that only read ready), unless the service
  // publishes not-ready addresses.
  const ready = svc.spec?.publishNotReadyAddresses === true || (serving && !terminating);
  const ep: SliceEndpoint = {
    addresses,
    conditions: { ready, serving, terminating },
    targetRef: { kind: 'Pod', namespace: pod.metadata.namespace, name: pod.metadata.name, uid: pod.metadata.uid },
  };
  const nodeName = pod.spec?.nodeName;
  if (nodeName) {
    ep.nodeName = nodeName;
    const zone = zoneOf?.(nodeName);
    if (zone) ep.zone = zone;
  }
  if (shouldSetHostname(pod, svc)) ep.hostname = pod.spec!.hostname;
  return ep;
}

/** The service ports resolved on this pod, in service order; ports the pod does not have are skipped. */
function endpointPorts(svc: Service, pod: Pod): SlicePort[] {
  const out: SlicePort[] = [];
  for (const sp of svc.spec?.ports ?? []) {
    const port = findPort(pod, sp);
    if (port === undefined) continue;
    const p: SlicePort = { name: sp.name ?? '', port, protocol: sp.protocol ?? 'TCP' };
    if (sp.appProtocol) p.appProtocol = sp.appProtocol;
    out.push(p);
  }
  return out;
}

function portsKey(ports: readonly EndpointPort[]): string {
  return ports
    .map((p) => `${p.name ?? ''}/${p.port ?? ''}/${p.protocol ?? 'TCP'}/${p.appProtocol ?? ''}`)
    .sort()
    .join(',');
}

/** An endpoint's identity (upstream hashes addresses, hostname and the target's namespace/name). */
function endpointKey(ep: Endpoint): string {
  return `${[...ep.addresses].sort().join(',')}|${ep.hostname ?? ''}|${ep.targetRef?.namespace ?? ''}/${ep.targetRef?.name ?? ''}`;
}

function ownedBy(slice: EndpointSlice, svc: Service): boolean {
  return (slice.metadata.ownerReferences ?? []).some((r) => r.kind === 'Service' && r.uid === svc.metadata.uid);
}

function newSlice(svc: Service, addressType: string, labels: Record<string, string>, ports: SlicePort[], endpoints: SliceEndpoint[]): Mutable<EndpointSlice> {
  return {
    apiVersion: 'discovery.k8s.io/v1',
    kind: 'EndpointSlice',
    metadata: {
      generateName: `${svc.metadata.name}-`,
      namespace: svc.metadata.namespace,
      labels: { ...labels },
      ownerReferences: [{ apiVersion: 'v1', kind: 'Service', name: svc.metadata.name ?? '', uid: svc.metadata.uid ?? '', controller: true, blockOwnerDeletion: true }],
    },
    addressType,
    endpoints,
    ports,
  };
}

function isSamePlaceholder(slice: EndpointSlice, placeholder: Mutable<EndpointSlice>): boolean {
  return (
    (slice.endpoints ?? []).length === 0 &&
    (slice.ports ?? []).length === 0 &&
    slice.addressType === placeholder.addressType &&
    semanticEqual(slice.metadata.labels ?? {}, placeholder.metadata.labels)
  );
}
