/**
 * The Local APIServices kube-apiserver registers for its own group versions (kube-aggregator's autoregister controller
 * with the priorities of kube-apiserver's aggregator.go), and their status: Local ones are always available.
 */
import type { KubeObject } from '../../api/object.js';

/** kube-apiserver's apiVersionPriorities (1.32): group priority, version priority within the group. */
const PRIORITIES: Record<string, { group: number; version: number }> = {
  'v1.': { group: 18000, version: 1 },
  'v1.apiregistration.k8s.io': { group: 18000, version: 15 },
  'v1.apps': { group: 17800, version: 15 },
  'v1.events.k8s.io': { group: 17750, version: 15 },
  'v1.authentication.k8s.io': { group: 17700, version: 15 },
  'v1.authorization.k8s.io': { group: 17600, version: 15 },
  'v2.autoscaling': { group: 17500, version: 30 },
  'v1.autoscaling': { group: 17500, version: 15 },
  'v1.batch': { group: 17400, version: 15 },
  'v1.certificates.k8s.io': { group: 17300, version: 15 },
  'v1.networking.k8s.io': { group: 17200, version: 15 },
  'v1.policy': { group: 17100, version: 15 },
  'v1.rbac.authorization.k8s.io': { group: 17000, version: 15 },
  'v1.storage.k8s.io': { group: 16800, version: 15 },
  'v1.admissionregistration.k8s.io': { group: 16700, version: 15 },
  'v1.apiextensions.k8s.io': { group: 16400, version: 15 },
  'v1.scheduling.k8s.io': { group: 16600, version: 15 },
  'v1.coordination.k8s.io': { group: 16500, version: 15 },
  'v1.node.k8s.io': { group: 16300, version: 15 },
  'v1.discovery.k8s.io': { group: 16200, version: 15 },
  'v1.flowcontrol.apiserver.k8s.io': { group: 16100, version: 21 },
  // metrics-server's own manifest registers v1beta1.metrics.k8s.io with 100/100.
  'v1beta1.metrics.k8s.io': { group: 100, version: 100 },
};

/** Label kube-aggregator puts on the APIServices it manages (`onstart`: those of the server's own groups). */
export const AUTOMANAGED_LABEL = 'kube-aggregator.kubernetes.io/automanaged';

export function apiServiceName(group: string, version: string): string {
  return `${version}.${group}`;
}

/** The Local APIService kube-apiserver registers for one of its group versions. */
export function localAPIService(group: string, version: string): KubeObject {
  const name = apiServiceName(group, version);
  // Groups kube-apiserver has no priority for (custom resource groups) get upstream's CRD default of 1000/100.
  const p = PRIORITIES[name] ?? { group: 1000, version: 100 };
  return {
    apiVersion: 'apiregistration.k8s.io/v1',
    kind: 'APIService',
    metadata: { name, labels: { [AUTOMANAGED_LABEL]: 'onstart' } },
    spec: { ...(group ? { group } : {}), version, groupPriorityMinimum: p.group, versionPriority: p.version },
  };
}

export interface AvailableCondition {
  type: 'Available';
  status: 'True' | 'False' | 'Unknown';
  lastTransitionTime?: string;
  reason: string;
  message: string;
}

export const localAvailable = (): AvailableCondition => ({ type: 'Available', status: 'True', reason: 'Local', message: 'Local APIServices are always available' });
export const passed = (): AvailableCondition => ({ type: 'Available', status: 'True', reason: 'Passed', message: 'all checks passed' });
export const serviceNotFound = (ns: string, name: string): AvailableCondition => ({ type: 'Available', status: 'False', reason: 'ServiceNotFound', message: `service/${name} in ${JSON.stringify(ns)} is not present` });
export const servicePortError = (ns: string, name: string, port: number): AvailableCondition => ({
  type: 'Available',
  status: 'False',
  reason: 'ServicePortError',
  message: `service/${name} in ${JSON.stringify(ns)} is not listening on port ${port}`,
});
export const missingEndpoints = (ns: string, name: string, portName: string): AvailableCondition => ({
  type: 'Available',
  status: 'False',
  reason: 'MissingEndpoints',
  message: portName ? `endpoints for service/${name} in ${JSON.stringify(ns)} have no addresses with port name ${JSON.stringify(portName)}` : `endpoints for service/${name} in ${JSON.stringify(ns)} have no addresses`,
});
export const failedDiscoveryCheck = (url: string, why: string): AvailableCondition => ({
  type: 'Available',
  status: 'False',
  reason: 'FailedDiscoveryCheck',
  message: `failing or missing response from ${url}: ${why}`,
});

/** `cond` with the previous condition's transition time when the status did not change. */
export function withTransitionTime(cond: AvailableCondition, previous: { status?: string; lastTransitionTime?: string } | undefined, now: Date): AvailableCondition {
  const t = previous && previous.status === cond.status && previous.lastTransitionTime ? previous.lastTransitionTime : now.toISOString().replace(/\.\d{3}Z$/, 'Z');
  return { ...cond, lastTransitionTime: t };
}
