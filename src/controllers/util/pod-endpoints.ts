/**
 * What the Endpoints and EndpointSlice controllers share about pods behind a Service: which pods count, which port a
 * service port resolves to on a pod, and which services select a pod. Pure functions (upstream
 * pkg/api/v1/pod/util.go FindPort, and staging/src/k8s.io/endpointslice/util ShouldPodBeInEndpoints /
 * ShouldSetHostname).
 */
import type { Pod as K8sPod, Service as K8sService, ServicePort } from 'kubernetes-types/core/v1.js';
import { labelSelectorFromSet, matches } from '../../api/labels.js';
import type { KubeObject } from '../../api/object.js';
import type { Lister } from '../../client/types.js';
import { isPodReady, isPodTerminal } from '../../api/pod.js';

export type Pod = K8sPod & KubeObject;
export type Service = K8sService & KubeObject;

/**
 * Whether a pod belongs among a service's endpoints at all: not finished, has an IP, and (unless
 * includeTerminating) is not being deleted. Readiness decides only *how* it is listed.
 */
export function shouldPodBeInEndpoints(pod: Pod, includeTerminating: boolean): boolean {
  if (isPodTerminal(pod)) return false;
  if (!pod.status?.podIP && !(pod.status?.podIPs ?? []).length) return false;
  if (!includeTerminating && pod.metadata.deletionTimestamp) return false;
  return true;
}

/** The pod's IPs of one family ('IPv4' or 'IPv6'), from status.podIPs, else status.podIP. */
export function podIPsOfFamily(pod: Pod, family: 'IPv4' | 'IPv6'): string[] {
  const all = (pod.status?.podIPs ?? []).map((p) => p.ip).filter((ip): ip is string => !!ip);
  if (all.length === 0 && pod.status?.podIP) all.push(pod.status.podIP);
  return all.filter((ip) => (family === 'IPv6') === ip.includes(':'));
}

/**
 * The pod port a service port sends to: a numeric targetPort as is (the port itself when unset); a named one is the
 * containerPort of that name with the same protocol, looked up in containers and restartable (sidecar) init
 * containers. Undefined when the pod has no such port: upstream then leaves the pod out for that port.
 */
export function findPort(pod: Pod, svcPort: ServicePort): number | undefined {
  const target = svcPort.targetPort;
  if (target === undefined || target === null) return svcPort.port;
  if (typeof target === 'number') return target;
  const protocol = svcPort.protocol ?? 'TCP';
  const spec = pod.spec;
  const containers = [...(spec?.containers ?? []), ...(spec?.initContainers ?? []).filter((c) => c.restartPolicy === 'Always')];
  for (const c of containers) {
    for (const p of c.ports ?? []) {
      if (p.name === target && (p.protocol ?? 'TCP') === protocol) return p.containerPort;
    }
  }
  return undefined;
}

/** DNS A records for pods with spec.hostname and spec.subdomain = the service name (headless services). */
export function shouldSetHostname(pod: Pod, svc: Service): boolean {
  return !!pod.spec?.hostname && pod.spec.subdomain === svc.metadata.name && pod.metadata.namespace === svc.metadata.namespace;
}

/**
 * Services this controller manages endpoints for: those with a selector, except ExternalName ones. A service
 * without a selector has its endpoints written by someone else, and we must not touch them.
 */
export function hasManagedEndpoints(svc: Service): boolean {
  if (svc.spec?.type === 'ExternalName') return false;
  return Object.keys(svc.spec?.selector ?? {}).length > 0;
}

/** The keys (`namespace/name`) of the services in the pod's namespace whose selector matches its labels. */
export function servicesSelectingPod(services: Lister<Service>, pod: Pod): string[] {
  const keys: string[] = [];
  for (const svc of services.list(pod.metadata.namespace ?? '')) {
    if (!hasManagedEndpoints(svc)) continue;
    if (matches(labelSelectorFromSet(svc.spec!.selector as Record<string, string>), pod.metadata.labels)) {
      keys.push(`${svc.metadata.namespace}/${svc.metadata.name}`);
    }
  }
  return keys;
}

/**
 * The keys of the services whose endpoints a pod update can change (upstream GetServicesToUpdateOnPodChange): none
 * when nothing endpoint-relevant changed; else the services selecting the pod now, plus, when its labels changed,
 * those that selected it before (they must drop it). Each key once.
 */
export function servicesToUpdateOnPodChange(services: Lister<Service>, oldPod: Pod, newPod: Pod): string[] {
  if (!podEndpointsChanged(oldPod, newPod)) return [];
  const keys = new Set(servicesSelectingPod(services, newPod));
  if (JSON.stringify(oldPod.metadata.labels ?? {}) !== JSON.stringify(newPod.metadata.labels ?? {})) {
    for (const key of servicesSelectingPod(services, oldPod)) keys.add(key);
  }
  return [...keys];
}

/** The pods in the service's namespace that its selector matches. */
export function podsSelectedBy(pods: Lister<Pod>, svc: Service): Pod[] {
  const selector = labelSelectorFromSet(svc.spec?.selector as Record<string, string> | undefined);
  return pods.list(svc.metadata.namespace ?? '').filter((p) => matches(selector, p.metadata.labels));
}

/**
 * Whether a pod update can change any service's endpoints: readiness, IPs, node, hostname, labels, ports,
 * deletion or phase. Status heartbeats that change none of these are skipped (upstream podEndpointsChanged).
 */
export function podEndpointsChanged(oldPod: Pod, newPod: Pod): boolean {
  if (oldPod.metadata.resourceVersion === newPod.metadata.resourceVersion && oldPod.metadata.resourceVersion) return false;
  if (!!oldPod.metadata.deletionTimestamp !== !!newPod.metadata.deletionTimestamp) return true;
  if (isPodReady(oldPod) !== isPodReady(newPod)) return true;
  if (oldPod.status?.phase !== newPod.status?.phase) return true;
  const view = (p: Pod) =>
    JSON.stringify([
      p.metadata.labels ?? {},
      p.status?.podIP ?? '',
      p.status?.podIPs ?? [],
      p.spec?.nodeName ?? '',
      p.spec?.hostname ?? '',
      p.spec?.subdomain ?? '',
      (p.spec?.containers ?? []).map((c) => c.ports ?? []),
    ]);
  return view(oldPod) !== view(newPod);
}
