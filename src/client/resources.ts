/** The resource types components use, as the client names them on the wire. */
import type { ResourceType } from './types.js';

const rt = (group: string, version: string, resource: string, kind: string, namespaced = true): ResourceType => ({ group, version, resource, kind, namespaced });

export const Namespaces = rt('', 'v1', 'namespaces', 'Namespace', false);
export const Nodes = rt('', 'v1', 'nodes', 'Node', false);
export const Pods = rt('', 'v1', 'pods', 'Pod');
export const Services = rt('', 'v1', 'services', 'Service');
export const Endpoints = rt('', 'v1', 'endpoints', 'Endpoints');
export const ConfigMaps = rt('', 'v1', 'configmaps', 'ConfigMap');
export const Secrets = rt('', 'v1', 'secrets', 'Secret');
export const Events = rt('', 'v1', 'events', 'Event');
export const ServiceAccounts = rt('', 'v1', 'serviceaccounts', 'ServiceAccount');
export const PersistentVolumes = rt('', 'v1', 'persistentvolumes', 'PersistentVolume', false);
export const PersistentVolumeClaims = rt('', 'v1', 'persistentvolumeclaims', 'PersistentVolumeClaim');
export const ResourceQuotas = rt('', 'v1', 'resourcequotas', 'ResourceQuota');
export const LimitRanges = rt('', 'v1', 'limitranges', 'LimitRange');
export const Deployments = rt('apps', 'v1', 'deployments', 'Deployment');
export const ReplicaSets = rt('apps', 'v1', 'replicasets', 'ReplicaSet');
export const StatefulSets = rt('apps', 'v1', 'statefulsets', 'StatefulSet');
export const DaemonSets = rt('apps', 'v1', 'daemonsets', 'DaemonSet');
export const ControllerRevisions = rt('apps', 'v1', 'controllerrevisions', 'ControllerRevision');
export const Jobs = rt('batch', 'v1', 'jobs', 'Job');
export const CronJobs = rt('batch', 'v1', 'cronjobs', 'CronJob');
export const HorizontalPodAutoscalers = rt('autoscaling', 'v2', 'horizontalpodautoscalers', 'HorizontalPodAutoscaler');
export const Leases = rt('coordination.k8s.io', 'v1', 'leases', 'Lease');
export const EndpointSlices = rt('discovery.k8s.io', 'v1', 'endpointslices', 'EndpointSlice');
export const PodDisruptionBudgets = rt('policy', 'v1', 'poddisruptionbudgets', 'PodDisruptionBudget');
export const PriorityClasses = rt('scheduling.k8s.io', 'v1', 'priorityclasses', 'PriorityClass', false);
export const StorageClasses = rt('storage.k8s.io', 'v1', 'storageclasses', 'StorageClass', false);
export const Roles = rt('rbac.authorization.k8s.io', 'v1', 'roles', 'Role');
export const RoleBindings = rt('rbac.authorization.k8s.io', 'v1', 'rolebindings', 'RoleBinding');
export const ClusterRoles = rt('rbac.authorization.k8s.io', 'v1', 'clusterroles', 'ClusterRole', false);
export const ClusterRoleBindings = rt('rbac.authorization.k8s.io', 'v1', 'clusterrolebindings', 'ClusterRoleBinding', false);
export const Ingresses = rt('networking.k8s.io', 'v1', 'ingresses', 'Ingress');
export const IngressClasses = rt('networking.k8s.io', 'v1', 'ingressclasses', 'IngressClass', false);
export const NetworkPolicies = rt('networking.k8s.io', 'v1', 'networkpolicies', 'NetworkPolicy');
export const ReplicationControllers = rt('', 'v1', 'replicationcontrollers', 'ReplicationController');
export const PodTemplates = rt('', 'v1', 'podtemplates', 'PodTemplate');
export const CSIStorageCapacities = rt('storage.k8s.io', 'v1', 'csistoragecapacities', 'CSIStorageCapacity');
export const CustomResourceDefinitions = rt('apiextensions.k8s.io', 'v1', 'customresourcedefinitions', 'CustomResourceDefinition', false);

/** Every type above, for components (the garbage collector, the namespace controller) that walk all of them. */
export const allResourceTypes: ResourceType[] = [
  Namespaces, Nodes, Pods, Services, Endpoints, ConfigMaps, Secrets, Events, ServiceAccounts, PersistentVolumes,
  PersistentVolumeClaims, ResourceQuotas, LimitRanges, Deployments, ReplicaSets, StatefulSets, DaemonSets,
  ControllerRevisions, Jobs, CronJobs, HorizontalPodAutoscalers, Leases, EndpointSlices, PodDisruptionBudgets,
  PriorityClasses, StorageClasses, Roles, RoleBindings, ClusterRoles, ClusterRoleBindings, Ingresses, NetworkPolicies,
  ReplicationControllers, PodTemplates, CSIStorageCapacities,
];
