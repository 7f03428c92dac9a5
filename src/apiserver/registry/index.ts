/**
 * The registry: every served resource, and lookups by group/version/resource and group/version/kind.
 * Discovery, OpenAPI, routing, Table output and validation all derive from this list.
 */
import type { ResourceDefinition, TablePrinter } from './types.js';
import { apiservices } from './apiservices.js';
import { localsubjectaccessreviews, selfsubjectaccessreviews, selfsubjectreviews, selfsubjectrulesreviews, subjectaccessreviews } from './access-reviews.js';
import { certificatesigningrequests } from './certificatesigningrequests.js';
import { clusterrolebindings } from './clusterrolebindings.js';
import { clusterroles } from './clusterroles.js';
import { configmaps } from './configmaps.js';
import { controllerrevisions } from './controllerrevisions.js';
import { cronjobs } from './cronjobs.js';
import { customresourcedefinitions } from './crd-customresourcedefinitions.js';
import { csidrivers } from './csidrivers.js';
import { csinodes } from './csinodes.js';
import { csistoragecapacities } from './csistoragecapacities.js';
import { daemonsets } from './daemonsets.js';
import { deployments } from './deployments.js';
import { endpoints } from './endpoints.js';
import { endpointslices } from './endpointslices.js';
import { events, eventsV1 } from './events.js';
import { flowschemas } from './flowschemas.js';
import { horizontalpodautoscalersV1, horizontalpodautoscalersV2 } from './horizontalpodautoscalers.js';
import { ingressclasses } from './ingressclasses.js';
import { ingresses } from './ingresses.js';
import { jobs } from './jobs.js';
import { leases } from './leases.js';
import { limitranges } from './limitranges.js';
import { mutatingwebhookconfigurations } from './mutatingwebhookconfigurations.js';
import { namespaces } from './namespaces.js';
import { networkpolicies } from './networkpolicies.js';
import { nodes } from './nodes.js';
import { persistentvolumeclaims } from './persistentvolumeclaims.js';
import { persistentvolumes } from './persistentvolumes.js';
import { poddisruptionbudgets } from './poddisruptionbudgets.js';
import { pods } from './pods.js';
import { podtemplates } from './podtemplates.js';
import { priorityclasses } from './priorityclasses.js';
import { prioritylevelconfigurations } from './prioritylevelconfigurations.js';
import { replicasets } from './replicasets.js';
import { replicationcontrollers } from './replicationcontrollers.js';
import { resourcequotas } from './resourcequotas.js';
import { rolebindings } from './rolebindings.js';
import { runtimeclasses } from './runtimeclasses.js';
import { roles } from './roles.js';
import { secrets } from './secrets.js';
import { serviceaccounts } from './serviceaccounts.js';
import { services } from './services.js';
import { statefulsets } from './statefulsets.js';
import { storageclasses } from './storageclasses.js';
import { volumeattachments } from './volumeattachments.js';
import { validatingadmissionpolicies, validatingadmissionpolicybindings } from './validatingadmissionpolicies.js';
import { validatingwebhookconfigurations } from './validatingwebhookconfigurations.js';
import { fallbackPrinter } from './table-columns.js';

export { fallbackPrinter, createdAtPrinter } from './table-columns.js';
export { hpaV1ToV2, hpaV2ToV1 } from './horizontalpodautoscalers.js';

export const resources: ResourceDefinition[] = [
  // core/v1
  configmaps,
  endpoints,
  events,
  limitranges,
  namespaces,
  nodes,
  persistentvolumeclaims,
  persistentvolumes,
  pods,
  podtemplates,
  replicationcontrollers,
  resourcequotas,
  secrets,
  serviceaccounts,
  services,
  // apiregistration.k8s.io/v1
  apiservices,
  // apps/v1
  controllerrevisions,
  daemonsets,
  deployments,
  replicasets,
  statefulsets,
  // events.k8s.io/v1
  eventsV1,
  // authentication.k8s.io/v1, authorization.k8s.io/v1 (computed reviews, never stored)
  selfsubjectreviews,
  selfsubjectaccessreviews,
  selfsubjectrulesreviews,
  subjectaccessreviews,
  localsubjectaccessreviews,
  // autoscaling/v2 then v1
  horizontalpodautoscalersV2,
  horizontalpodautoscalersV1,
  // batch/v1
  cronjobs,
  jobs,
  // certificates.k8s.io/v1
  certificatesigningrequests,
  // networking.k8s.io/v1
  ingressclasses,
  ingresses,
  networkpolicies,
  // policy/v1
  poddisruptionbudgets,
  // rbac.authorization.k8s.io/v1
  clusterrolebindings,
  clusterroles,
  rolebindings,
  roles,
  // storage.k8s.io/v1
  csidrivers,
  csinodes,
  csistoragecapacities,
  storageclasses,
  volumeattachments,
  // admissionregistration.k8s.io/v1
  mutatingwebhookconfigurations,
  validatingadmissionpolicies,
  validatingadmissionpolicybindings,
  validatingwebhookconfigurations,
  // apiextensions.k8s.io/v1
  customresourcedefinitions,
  // scheduling.k8s.io/v1
  priorityclasses,
  // coordination.k8s.io/v1
  leases,
  // discovery.k8s.io/v1
  endpointslices,
  // node.k8s.io/v1
  runtimeclasses,
  // flowcontrol.apiserver.k8s.io/v1
  flowschemas,
  prioritylevelconfigurations,
];

/**
 * Served API groups with their versions, most preferred first, in the order kube-apiserver lists them
 * (its group priorities: core 18000, apps 17800, events 17750, autoscaling 17500, batch 17400, ...).
 */
export const apiGroups: { group: string; versions: string[] }[] = [
  { group: '', versions: ['v1'] },
  { group: 'apiregistration.k8s.io', versions: ['v1'] },
  { group: 'apps', versions: ['v1'] },
  { group: 'events.k8s.io', versions: ['v1'] },
  { group: 'authentication.k8s.io', versions: ['v1'] },
  { group: 'authorization.k8s.io', versions: ['v1'] },
  { group: 'autoscaling', versions: ['v2', 'v1'] },
  { group: 'batch', versions: ['v1'] },
  { group: 'certificates.k8s.io', versions: ['v1'] },
  { group: 'networking.k8s.io', versions: ['v1'] },
  { group: 'policy', versions: ['v1'] },
  { group: 'rbac.authorization.k8s.io', versions: ['v1'] },
  { group: 'storage.k8s.io', versions: ['v1'] },
  { group: 'admissionregistration.k8s.io', versions: ['v1'] },
  { group: 'apiextensions.k8s.io', versions: ['v1'] },
  { group: 'scheduling.k8s.io', versions: ['v1'] },
  { group: 'coordination.k8s.io', versions: ['v1'] },
  { group: 'node.k8s.io', versions: ['v1'] },
  { group: 'discovery.k8s.io', versions: ['v1'] },
  { group: 'flowcontrol.apiserver.k8s.io', versions: ['v1'] },
];

const byGVR = new Map<string, ResourceDefinition>();
const byGVK = new Map<string, ResourceDefinition>();
for (const def of resources) {
  byGVR.set(`${def.group}/${def.version}/${def.plural}`, def);
  byGVK.set(`${def.group}/${def.version}/${def.kind}`, def);
}

export function byGroupVersionResource(group: string, version: string, plural: string): ResourceDefinition | undefined {
  return byGVR.get(`${group}/${version}/${plural}`);
}

export function byGroupVersionKind(group: string, version: string, kind: string): ResourceDefinition | undefined {
  return byGVK.get(`${group}/${version}/${kind}`);
}

/** The preferred version of a group, or undefined for groups not served. */
export function preferredVersion(group: string): string | undefined {
  return apiGroups.find((g) => g.group === group)?.versions[0];
}

/** A resource in the preferred version of its group that serves it. */
export function preferredDefinition(group: string, plural: string): ResourceDefinition | undefined {
  for (const version of apiGroups.find((g) => g.group === group)?.versions ?? []) {
    const def = byGroupVersionResource(group, version, plural);
    if (def) return def;
  }
  return undefined;
}

/** Definitions served in one group version, in registry order. */
export function resourcesOf(group: string, version: string): ResourceDefinition[] {
  return resources.filter((d) => d.group === group && d.version === version);
}

/** The printer of a definition, or Name + Age for kinds without one. */
export function printerFor(def: ResourceDefinition | undefined): TablePrinter {
  return def?.printer ?? fallbackPrinter;
}
