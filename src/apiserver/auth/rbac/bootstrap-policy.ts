/**
 * Kubernetes 1.32's bootstrap RBAC policy (plugin/pkg/auth/authorizer/rbac/bootstrappolicy, as rendered in its
 * testdata/cluster-roles.yaml) and its ClusterRoleBindings. Reconciled at every start
 * (reconcile-policy.ts). Rules are written compactly: `r(verbs, groups, resources, names?)`, `u(verbs, urls)`.
 */
import type { ClusterRole, ClusterRoleBinding, PolicyRule, Role, RoleBinding, Subject } from 'kubernetes-types/rbac/v1.js';

export const AUTOUPDATE_ANNOTATION = 'rbac.authorization.kubernetes.io/autoupdate';
export const BOOTSTRAP_LABEL = { 'kubernetes.io/bootstrapping': 'rbac-defaults' };
const RBAC = 'rbac.authorization.k8s.io';

const READ = ['get', 'list', 'watch'];
const WRITE = ['create', 'delete', 'deletecollection', 'patch', 'update'];
const READ_WRITE = [...READ, ...WRITE];
const EVENTS_WRITE = ['create', 'patch', 'update'];

function r(verbs: string[], apiGroups: string[], resources: string[], resourceNames?: string[]): PolicyRule {
  return { verbs, apiGroups, resources, ...(resourceNames ? { resourceNames } : {}) };
}
function u(verbs: string[], nonResourceURLs: string[]): PolicyRule {
  return { verbs, nonResourceURLs };
}

function clusterRole(name: string, rules: PolicyRule[] | undefined, extra: { labels?: Record<string, string>; aggregateFrom?: string } = {}): ClusterRole {
  return {
    apiVersion: `${RBAC}/v1`,
    kind: 'ClusterRole',
    metadata: { name, labels: { ...BOOTSTRAP_LABEL, ...extra.labels }, annotations: { [AUTOUPDATE_ANNOTATION]: 'true' } },
    ...(extra.aggregateFrom ? { aggregationRule: { clusterRoleSelectors: [{ matchLabels: { [extra.aggregateFrom]: 'true' } }] } } : {}),
    rules: rules ?? [],
  };
}

const group = (name: string): Subject => ({ kind: 'Group', apiGroup: RBAC, name });
const user = (name: string): Subject => ({ kind: 'User', apiGroup: RBAC, name });
const serviceAccount = (namespace: string, name: string): Subject => ({ kind: 'ServiceAccount', name, namespace });

function binding(name: string, role: string, subjects: Subject[]): ClusterRoleBinding {
  return {
    apiVersion: `${RBAC}/v1`,
    kind: 'ClusterRoleBinding',
    metadata: { name, labels: { ...BOOTSTRAP_LABEL }, annotations: { [AUTOUPDATE_ANNOTATION]: 'true' } },
    roleRef: { apiGroup: RBAC, kind: 'ClusterRole', name: role },
    subjects,
  };
}

/** What skiff's scheduler reads beyond upstream's system:kube-scheduler and system:volume-scheduler. */
export const SKIFF_SCHEDULER_ROLE = 'skiff:kube-scheduler';

const AGG = (to: 'admin' | 'edit' | 'view') => ({ [`rbac.authorization.k8s.io/aggregate-to-${to}`]: 'true' });

export const bootstrapClusterRoles: ClusterRole[] = [
  clusterRole('cluster-admin', [r(['*'], ['*'], ['*']), u(['*'], ['*'])]),
  clusterRole('admin', undefined, { aggregateFrom: 'rbac.authorization.k8s.io/aggregate-to-admin' }),
  clusterRole('edit', undefined, { aggregateFrom: 'rbac.authorization.k8s.io/aggregate-to-edit', labels: AGG('admin') }),
  clusterRole('view', undefined, { aggregateFrom: 'rbac.authorization.k8s.io/aggregate-to-view', labels: AGG('edit') }),
  clusterRole('system:aggregate-to-admin', [r(['create'], ['authorization.k8s.io'], ['localsubjectaccessreviews']), r(READ_WRITE, [RBAC], ['rolebindings', 'roles'])], { labels: AGG('admin') }),
  clusterRole(
    'system:aggregate-to-edit',
    [
      r(READ, [''], ['pods/attach', 'pods/exec', 'pods/portforward', 'pods/proxy', 'secrets', 'services/proxy']),
      r(['impersonate'], [''], ['serviceaccounts']),
      r(WRITE, [''], ['pods', 'pods/attach', 'pods/exec', 'pods/portforward', 'pods/proxy']),
      r(['create'], [''], ['pods/eviction']),
      r(WRITE, [''], ['configmaps', 'events', 'persistentvolumeclaims', 'replicationcontrollers', 'replicationcontrollers/scale', 'secrets', 'serviceaccounts', 'services', 'services/proxy']),
      r(['create'], [''], ['serviceaccounts/token']),
      r(WRITE, ['apps'], ['daemonsets', 'deployments', 'deployments/rollback', 'deployments/scale', 'replicasets', 'replicasets/scale', 'statefulsets', 'statefulsets/scale']),
      r(WRITE, ['autoscaling'], ['horizontalpodautoscalers']),
      r(WRITE, ['batch'], ['cronjobs', 'jobs']),
      r(WRITE, ['extensions'], ['daemonsets', 'deployments', 'deployments/rollback', 'deployments/scale', 'ingresses', 'networkpolicies', 'replicasets', 'replicasets/scale', 'replicationcontrollers/scale']),
      r(WRITE, ['policy'], ['poddisruptionbudgets']),
      r(WRITE, ['networking.k8s.io'], ['ingresses', 'networkpolicies']),
      r(READ_WRITE, ['coordination.k8s.io'], ['leases']),
    ],
    { labels: AGG('edit') },
  ),
  clusterRole(
    'system:aggregate-to-view',
    [
      r(READ, [''], ['configmaps', 'endpoints', 'persistentvolumeclaims', 'persistentvolumeclaims/status', 'pods', 'replicationcontrollers', 'replicationcontrollers/scale', 'serviceaccounts', 'services', 'services/status']),
      r(READ, [''], ['bindings', 'events', 'limitranges', 'namespaces/status', 'pods/log', 'pods/status', 'replicationcontrollers/status', 'resourcequotas', 'resourcequotas/status']),
      r(READ, [''], ['namespaces']),
      r(READ, ['discovery.k8s.io'], ['endpointslices']),
      r(READ, ['apps'], ['controllerrevisions', 'daemonsets', 'daemonsets/status', 'deployments', 'deployments/scale', 'deployments/status', 'replicasets', 'replicasets/scale', 'replicasets/status', 'statefulsets', 'statefulsets/scale', 'statefulsets/status']),
      r(READ, ['autoscaling'], ['horizontalpodautoscalers', 'horizontalpodautoscalers/status']),
      r(READ, ['batch'], ['cronjobs', 'cronjobs/status', 'jobs', 'jobs/status']),
      r(READ, ['extensions'], ['daemonsets', 'daemonsets/status', 'deployments', 'deployments/scale', 'deployments/status', 'ingresses', 'ingresses/status', 'networkpolicies', 'replicasets', 'replicasets/scale', 'replicasets/status', 'replicationcontrollers/scale']),
      r(READ, ['policy'], ['poddisruptionbudgets', 'poddisruptionbudgets/status']),
      r(READ, ['networking.k8s.io'], ['ingresses', 'ingresses/status', 'networkpolicies']),
    ],
    { labels: AGG('view') },
  ),
  clusterRole('system:auth-delegator', [r(['create'], ['authentication.k8s.io'], ['tokenreviews']), r(['create'], ['authorization.k8s.io'], ['subjectaccessreviews'])]),
  clusterRole('system:basic-user', [r(['create'], ['authorization.k8s.io'], ['selfsubjectaccessreviews', 'selfsubjectrulesreviews']), r(['create'], ['authentication.k8s.io'], ['selfsubjectreviews'])]),
  clusterRole('system:certificates.k8s.io:certificatesigningrequests:nodeclient', [r(['create'], ['certificates.k8s.io'], ['certificatesigningrequests/nodeclient'])]),
  clusterRole('system:certificates.k8s.io:certificatesigningrequests:selfnodeclient', [r(['create'], ['certificates.k8s.io'], ['certificatesigningrequests/selfnodeclient'])]),
  clusterRole('system:certificates.k8s.io:kube-apiserver-client-approver', [r(['approve'], ['certificates.k8s.io'], ['signers'], ['kubernetes.io/kube-apiserver-client'])]),
  clusterRole('system:certificates.k8s.io:kube-apiserver-client-kubelet-approver', [r(['approve'], ['certificates.k8s.io'], ['signers'], ['kubernetes.io/kube-apiserver-client-kubelet'])]),
  clusterRole('system:certificates.k8s.io:kubelet-serving-approver', [r(['approve'], ['certificates.k8s.io'], ['signers'], ['kubernetes.io/kubelet-serving'])]),
  clusterRole('system:certificates.k8s.io:legacy-unknown-approver', [r(['approve'], ['certificates.k8s.io'], ['signers'], ['kubernetes.io/legacy-unknown'])]),
  clusterRole('system:discovery', [u(['get'], ['/api', '/api/*', '/apis', '/apis/*', '/healthz', '/livez', '/openapi', '/openapi/*', '/readyz', '/version', '/version/'])]),
  clusterRole('system:heapster', [r(READ, [''], ['events', 'namespaces', 'nodes', 'pods']), r(READ, ['extensions'], ['deployments'])]),
  clusterRole('system:kube-aggregator', [r(READ, [''], ['endpoints', 'services'])]),
  clusterRole('system:kube-controller-manager', [
    r(EVENTS_WRITE, ['', 'events.k8s.io'], ['events']),
    r(['create'], ['coordination.k8s.io'], ['leases']),
    r(['get', 'update'], ['coordination.k8s.io'], ['leases'], ['kube-controller-manager']),
    r(['create'], [''], ['secrets', 'serviceaccounts']),
    r(['delete'], [''], ['secrets']),
    r(['get'], [''], ['configmaps', 'namespaces', 'secrets', 'serviceaccounts']),
    r(['update'], [''], ['secrets', 'serviceaccounts']),
    r(['create'], ['authentication.k8s.io'], ['tokenreviews']),
    r(['create'], ['authorization.k8s.io'], ['subjectaccessreviews']),
    r(['list', 'watch'], ['*'], ['*']),
    r(['create'], [''], ['serviceaccounts/token']),
  ]),
  clusterRole('system:kube-dns', [r(['list', 'watch'], [''], ['endpoints', 'services'])]),
  clusterRole('system:kube-scheduler', [
    r(EVENTS_WRITE, ['', 'events.k8s.io'], ['events']),
    r(['create'], ['coordination.k8s.io'], ['leases']),
    r(['get', 'update'], ['coordination.k8s.io'], ['leases'], ['kube-scheduler']),
    r(READ, [''], ['nodes']),
    r(['delete', 'get', 'list', 'watch'], [''], ['pods']),
    r(['create'], [''], ['bindings', 'pods/binding']),
    r(['patch', 'update'], [''], ['pods/status']),
    r(READ, [''], ['replicationcontrollers', 'services']),
    r(READ, ['apps', 'extensions'], ['replicasets']),
    r(READ, ['apps'], ['statefulsets']),
    r(READ, ['policy'], ['poddisruptionbudgets']),
    r(READ, [''], ['persistentvolumeclaims', 'persistentvolumes']),
    r(['create'], ['authentication.k8s.io'], ['tokenreviews']),
    r(['create'], ['authorization.k8s.io'], ['subjectaccessreviews']),
    r(READ, ['storage.k8s.io'], ['csinodes']),
    r(READ, [''], ['namespaces']),
    r(READ, ['storage.k8s.io'], ['csidrivers']),
    r(READ, ['storage.k8s.io'], ['csistoragecapacities']),
  ]),
  clusterRole('system:kubelet-api-admin', [r(READ, [''], ['nodes']), r(['proxy'], [''], ['nodes']), r(['*'], [''], ['nodes/log', 'nodes/metrics', 'nodes/proxy', 'nodes/stats'])]),
  clusterRole('system:monitoring', [u(['get'], ['/healthz', '/healthz/*', '/livez', '/livez/*', '/metrics', '/metrics/slis', '/readyz', '/readyz/*'])]),
  clusterRole('system:node', [
    r(['create'], ['authentication.k8s.io'], ['tokenreviews']),
    r(['create'], ['authorization.k8s.io'], ['localsubjectaccessreviews', 'subjectaccessreviews']),
    r(READ, [''], ['services']),
    r(['create', 'get', 'list', 'watch'], [''], ['nodes']),
    r(['patch', 'update'], [''], ['nodes/status']),
    r(['patch', 'update'], [''], ['nodes']),
    r(EVENTS_WRITE, [''], ['events']),
    r(READ, [''], ['pods']),
    r(['create', 'delete'], [''], ['pods']),
    r(['patch', 'update'], [''], ['pods/status']),
    r(['create'], [''], ['pods/eviction']),
    r(READ, [''], ['configmaps', 'secrets']),
    r(['get'], [''], ['persistentvolumeclaims', 'persistentvolumes']),
    r(['get'], [''], ['endpoints']),
    r(['create', 'get', 'list', 'watch'], ['certificates.k8s.io'], ['certificatesigningrequests']),
    r(['create', 'delete', 'get', 'patch', 'update'], ['coordination.k8s.io'], ['leases']),
    r(['get'], ['storage.k8s.io'], ['volumeattachments']),
    r(['create'], [''], ['serviceaccounts/token']),
    r(['get', 'patch', 'update'], [''], ['persistentvolumeclaims/status']),
    r(READ, ['storage.k8s.io'], ['csidrivers']),
    r(['create', 'delete', 'get', 'patch', 'update'], ['storage.k8s.io'], ['csinodes']),
    r(READ, ['node.k8s.io'], ['runtimeclasses']),
  ]),
  clusterRole('system:node-bootstrapper', [r(['create', 'get', 'list', 'watch'], ['certificates.k8s.io'], ['certificatesigningrequests'])]),
  clusterRole('system:node-problem-detector', [r(['get'], [''], ['nodes']), r(['patch'], [''], ['nodes/status']), r(EVENTS_WRITE, ['', 'events.k8s.io'], ['events'])]),
  clusterRole('system:node-proxier', [
    r(['list', 'watch'], [''], ['endpoints', 'services']),
    r(READ, [''], ['nodes']),
    r(EVENTS_WRITE, ['', 'events.k8s.io'], ['events']),
    r(['list', 'watch'], ['discovery.k8s.io'], ['endpointslices']),
  ]),
  clusterRole('system:persistent-volume-provisioner', [
    r(['create', 'delete', 'get', 'list', 'watch'], [''], ['persistentvolumes']),
    r(['get', 'list', 'update', 'watch'], [''], ['persistentvolumeclaims']),
    r(READ, ['storage.k8s.io'], ['storageclasses']),
    r(['watch'], [''], ['events']),
    r(EVENTS_WRITE, ['', 'events.k8s.io'], ['events']),
  ]),
  clusterRole('system:public-info-viewer', [u(['get'], ['/healthz', '/livez', '/readyz', '/version', '/version/'])]),
  clusterRole('system:service-account-issuer-discovery', [u(['get'], ['/.well-known/openid-configuration', '/openid/v1/jwks'])]),
  // skiff: its scheduler resolves a pod's priority from its PriorityClass when the pod carries none (upstream relies
  // on the Priority admission plugin alone), so it watches PriorityClasses.
  clusterRole(SKIFF_SCHEDULER_ROLE, [r(READ, ['scheduling.k8s.io'], ['priorityclasses'])]),
  // k3s's role for CoreDNS (manifests/coredns.yaml), which skiff's cluster DNS acts as.
  clusterRole('system:coredns', [r(['list', 'watch'], [''], ['endpoints', 'services', 'pods', 'namespaces']), r(['list', 'watch'], ['discovery.k8s.io'], ['endpointslices']), r(['get'], [''], ['nodes'])]),
  clusterRole('system:volume-scheduler', [r(['get', 'list', 'patch', 'update', 'watch'], [''], ['persistentvolumes']), r(READ, ['storage.k8s.io'], ['storageclasses']), r(['get', 'list', 'patch', 'update', 'watch'], [''], ['persistentvolumeclaims'])]),
];

/**
 * The ClusterRoleBindings of 1.32's bootstrap policy. Agents (system:node:<name> in system:nodes) get nothing here: the
 * Node authorizer, first in the chain, decides for them (auth/node/), as upstream's system:node binding names nobody.
 */
export const bootstrapClusterRoleBindings: ClusterRoleBinding[] = [
  binding('cluster-admin', 'cluster-admin', [group('system:masters')]),
  binding('system:basic-user', 'system:basic-user', [group('system:authenticated')]),
  binding('system:discovery', 'system:discovery', [group('system:authenticated')]),
  binding('system:kube-controller-manager', 'system:kube-controller-manager', [user('system:kube-controller-manager')]),
  binding('system:kube-dns', 'system:kube-dns', [serviceAccount('kube-system', 'kube-dns')]),
  binding('system:kube-scheduler', 'system:kube-scheduler', [user('system:kube-scheduler')]),
  binding('system:monitoring', 'system:monitoring', [group('system:monitoring')]),
  // Upstream binds system:node to nobody: the Node authorizer decides for nodes.
  binding('system:node', 'system:node', []),
  binding('system:node-proxier', 'system:node-proxier', [user('system:kube-proxy')]),
  binding('system:public-info-viewer', 'system:public-info-viewer', [group('system:authenticated'), group('system:unauthenticated')]),
  binding('system:service-account-issuer-discovery', 'system:service-account-issuer-discovery', [group('system:serviceaccounts')]),
  binding('system:volume-scheduler', 'system:volume-scheduler', [user('system:kube-scheduler')]),
  binding(SKIFF_SCHEDULER_ROLE, SKIFF_SCHEDULER_ROLE, [user('system:kube-scheduler')]),
  binding('system:coredns', 'system:coredns', [serviceAccount('kube-system', 'coredns')]),
];

/**
 * kube-controller-manager's controller roles (bootstrappolicy/controller_policy.go, testdata/controller-roles.yaml and
 * controller-role-bindings.yaml): with --use-service-account-credentials each controller acts as
 * system:serviceaccount:kube-system:<name> and gets exactly system:controller:<name>, bound to that service account.
 * Listed for every controller 1.32 has, whether skiff runs it or not (an operator's own controller may use them).
 */
const EVENTS = r(EVENTS_WRITE, ['', 'events.k8s.io'], ['events']);
const controllerRoleRules: Record<string, PolicyRule[]> = {
  'attachdetach-controller': [
    r(['list', 'watch'], [''], ['persistentvolumeclaims', 'persistentvolumes']),
    r(READ, [''], ['nodes']),
    r(['patch', 'update'], [''], ['nodes/status']),
    r(['list', 'watch'], [''], ['pods']),
    EVENTS,
    r(['create', 'delete', 'get', 'list', 'watch'], ['storage.k8s.io'], ['volumeattachments']),
    r(READ, ['storage.k8s.io'], ['csidrivers']),
    r(READ, ['storage.k8s.io'], ['csinodes']),
  ],
  'certificate-controller': [
    r(['delete', 'get', 'list', 'watch'], ['certificates.k8s.io'], ['certificatesigningrequests']),
    r(['update'], ['certificates.k8s.io'], ['certificatesigningrequests/approval', 'certificatesigningrequests/status']),
    r(['approve'], ['certificates.k8s.io'], ['signers'], ['kubernetes.io/kube-apiserver-client-kubelet']),
    r(['sign'], ['certificates.k8s.io'], ['signers'], ['kubernetes.io/kube-apiserver-client', 'kubernetes.io/kube-apiserver-client-kubelet', 'kubernetes.io/kubelet-serving', 'kubernetes.io/legacy-unknown']),
    r(['create'], ['authorization.k8s.io'], ['subjectaccessreviews']),
    EVENTS,
  ],
  'clusterrole-aggregation-controller': [r(['escalate', 'get', 'list', 'patch', 'update', 'watch'], [RBAC], ['clusterroles'])],
  'cronjob-controller': [
    r(['get', 'list', 'update', 'watch'], ['batch'], ['cronjobs']),
    r(['create', 'delete', 'get', 'list', 'patch', 'update', 'watch'], ['batch'], ['jobs']),
    r(['update'], ['batch'], ['cronjobs/status']),
    r(['update'], ['batch'], ['cronjobs/finalizers']),
    r(['delete', 'list', 'watch'], [''], ['pods']),
    EVENTS,
  ],
  'daemon-set-controller': [
    r(READ, ['apps', 'extensions'], ['daemonsets']),
    r(['update'], ['apps', 'extensions'], ['daemonsets/status']),
    r(['update'], ['apps', 'extensions'], ['daemonsets/finalizers']),
    r(['list', 'watch'], [''], ['nodes']),
    r(['create', 'delete', 'list', 'patch', 'watch'], [''], ['pods']),
    r(['create'], [''], ['pods/binding']),
    r(['create', 'delete', 'get', 'list', 'patch', 'update', 'watch'], ['apps'], ['controllerrevisions']),
    EVENTS,
  ],
  'deployment-controller': [
    r(['get', 'list', 'update', 'watch'], ['apps', 'extensions'], ['deployments']),
    r(['update'], ['apps', 'extensions'], ['deployments/status']),
    r(['update'], ['apps', 'extensions'], ['deployments/finalizers']),
    r(['create', 'delete', 'get', 'list', 'patch', 'update', 'watch'], ['apps', 'extensions'], ['replicasets']),
    r(['get', 'list', 'update', 'watch'], [''], ['pods']),
    EVENTS,
  ],
  'disruption-controller': [
    r(READ, ['apps', 'extensions'], ['deployments']),
    r(READ, ['apps', 'extensions'], ['replicasets']),
    r(READ, [''], ['replicationcontrollers']),
    r(READ, ['policy'], ['poddisruptionbudgets']),
    r(READ, ['apps'], ['statefulsets']),
    r(['update'], ['policy'], ['poddisruptionbudgets/status']),
    r(['patch', 'update'], [''], ['pods/status']),
    r(['get'], ['*'], ['*/scale']),
    EVENTS,
  ],
  'endpoint-controller': [
    r(READ, [''], ['pods', 'services']),
    r(['create', 'delete', 'get', 'list', 'update', 'watch'], [''], ['endpoints']),
    r(['create'], [''], ['endpoints/restricted']),
    EVENTS,
  ],
  'endpointslice-controller': [
    r(READ, [''], ['nodes', 'pods', 'services']),
    r(['update'], [''], ['services/finalizers']),
    r(['create', 'delete', 'get', 'list', 'update', 'watch'], ['discovery.k8s.io'], ['endpointslices']),
    EVENTS,
  ],
  'endpointslicemirroring-controller': [
    r(READ, [''], ['endpoints', 'services']),
    r(['update'], [''], ['services/finalizers']),
    r(['update'], [''], ['endpoints/finalizers']),
    r(['create', 'delete', 'get', 'list', 'update', 'watch'], ['discovery.k8s.io'], ['endpointslices']),
    EVENTS,
  ],
  'ephemeral-volume-controller': [
    r(READ, [''], ['pods']),
    r(['update'], [''], ['pods/finalizers']),
    r(['create', 'get', 'list', 'watch'], [''], ['persistentvolumeclaims']),
    EVENTS,
  ],
  'expand-controller': [
    r(['get', 'list', 'patch', 'update', 'watch'], [''], ['persistentvolumes']),
    r(['patch', 'update'], [''], ['persistentvolumeclaims/status']),
    r(READ, [''], ['persistentvolumeclaims']),
    EVENTS,
  ],
  'generic-garbage-collector': [r(['delete', 'get', 'list', 'patch', 'update', 'watch'], ['*'], ['*']), EVENTS],
  'horizontal-pod-autoscaler': [
    r(READ, ['autoscaling'], ['horizontalpodautoscalers']),
    r(['update'], ['autoscaling'], ['horizontalpodautoscalers/status']),
    r(['get', 'update'], ['*'], ['*/scale']),
    r(['list', 'watch'], [''], ['pods']),
    r(['list', 'watch'], ['metrics.k8s.io'], ['pods']),
    r(READ, ['custom.metrics.k8s.io'], ['*']),
    r(READ, ['external.metrics.k8s.io'], ['*']),
    EVENTS,
  ],
  'job-controller': [
    r(['get', 'list', 'patch', 'update', 'watch'], ['batch'], ['jobs']),
    r(['update'], ['batch'], ['jobs/status']),
    r(['update'], ['batch'], ['jobs/finalizers']),
    r(['create', 'delete', 'list', 'patch', 'watch'], [''], ['pods']),
    EVENTS,
  ],
  'legacy-service-account-token-cleaner': [
    r(['get'], [''], ['configmaps'], ['kube-apiserver-legacy-service-account-token-tracking']),
    r(['delete', 'patch'], [''], ['secrets']),
  ],
  'namespace-controller': [
    r(['delete', 'get', 'list', 'watch'], [''], ['namespaces']),
    r(['update'], [''], ['namespaces/finalize', 'namespaces/status']),
    r(['delete', 'deletecollection', 'get', 'list', 'watch'], ['*'], ['*']),
  ],
  'node-controller': [
    r(['delete', 'get', 'list', 'patch', 'update', 'watch'], [''], ['nodes']),
    r(['patch', 'update'], [''], ['nodes/status']),
    r(['patch', 'update'], [''], ['pods/status']),
    r(['delete', 'get', 'list', 'watch'], [''], ['pods']),
    EVENTS,
  ],
  'persistent-volume-binder': [
    r(['create', 'delete', 'get', 'list', 'update', 'watch'], [''], ['persistentvolumes']),
    r(['update'], [''], ['persistentvolumes/status']),
    r(['get', 'list', 'update', 'watch'], [''], ['persistentvolumeclaims']),
    r(['update'], [''], ['persistentvolumeclaims/status']),
    r(['create', 'delete', 'get', 'list', 'watch'], [''], ['pods']),
    r(READ, ['storage.k8s.io'], ['storageclasses']),
    r(['list', 'watch'], [''], ['nodes']),
    EVENTS,
    r(['watch'], [''], ['events']),
  ],
  'pod-garbage-collector': [r(['delete', 'list', 'watch'], [''], ['pods']), r(READ, [''], ['nodes']), r(['patch'], [''], ['pods/status'])],
  'pv-protection-controller': [r(['get', 'list', 'update', 'watch'], [''], ['persistentvolumes']), EVENTS],
  'pvc-protection-controller': [
    r(['get', 'list', 'update', 'watch'], [''], ['persistentvolumeclaims']),
    r(['update'], [''], ['persistentvolumeclaims/status']),
    r(READ, [''], ['pods']),
    EVENTS,
  ],
  'replicaset-controller': [
    r(['get', 'list', 'update', 'watch'], ['apps', 'extensions'], ['replicasets']),
    r(['update'], ['apps', 'extensions'], ['replicasets/status']),
    r(['update'], ['apps', 'extensions'], ['replicasets/finalizers']),
    r(['create', 'delete', 'list', 'patch', 'watch'], [''], ['pods']),
    EVENTS,
  ],
  'replication-controller': [
    r(['get', 'list', 'update', 'watch'], [''], ['replicationcontrollers']),
    r(['update'], [''], ['replicationcontrollers/status']),
    r(['update'], [''], ['replicationcontrollers/finalizers']),
    r(['create', 'delete', 'list', 'patch', 'watch'], [''], ['pods']),
    EVENTS,
  ],
  'resource-claim-controller': [
    r(READ, [''], ['pods']),
    r(['update'], [''], ['pods/finalizers']),
    r(['create', 'delete', 'get', 'list', 'watch'], ['resource.k8s.io'], ['resourceclaims']),
    r(['patch', 'update'], ['resource.k8s.io'], ['resourceclaims', 'resourceclaims/status']),
    r(['patch', 'update'], [''], ['pods/status']),
    EVENTS,
  ],
  'resourcequota-controller': [r(['list', 'watch'], ['*'], ['*']), r(['update'], [''], ['resourcequotas/status']), EVENTS],
  'root-ca-cert-publisher': [r(['create', 'update'], [''], ['configmaps']), EVENTS],
  'route-controller': [r(['list', 'watch'], [''], ['nodes']), r(['patch'], [''], ['nodes/status']), EVENTS],
  'service-account-controller': [r(['create'], [''], ['serviceaccounts']), EVENTS],
  'service-cidrs-controller': [
    r(['get', 'list', 'patch', 'update', 'watch'], ['networking.k8s.io'], ['servicecidrs']),
    r(['patch', 'update'], ['networking.k8s.io'], ['servicecidrs/finalizers']),
    r(['patch', 'update'], ['networking.k8s.io'], ['servicecidrs/status']),
    r(READ, ['networking.k8s.io'], ['ipaddresses']),
    EVENTS,
  ],
  'service-controller': [r(READ, [''], ['services']), r(['patch', 'update'], [''], ['services/status']), r(['list', 'watch'], [''], ['nodes']), EVENTS],
  'statefulset-controller': [
    r(['list', 'watch'], [''], ['pods']),
    r(READ, ['apps'], ['statefulsets']),
    r(['update'], ['apps'], ['statefulsets/status']),
    r(['update'], ['apps'], ['statefulsets/finalizers']),
    r(['create', 'delete', 'get', 'patch', 'update'], [''], ['pods']),
    r(['create', 'delete', 'get', 'list', 'patch', 'update', 'watch'], ['apps'], ['controllerrevisions']),
    r(['create', 'get', 'list', 'watch'], [''], ['persistentvolumeclaims']),
    r(['delete', 'update'], [''], ['persistentvolumeclaims']),
    r(['update'], [''], ['pods/finalizers']),
    EVENTS,
  ],
  'ttl-after-finished-controller': [r(['delete', 'get', 'list', 'watch'], ['batch'], ['jobs']), EVENTS],
  'ttl-controller': [r(['list', 'patch', 'update', 'watch'], [''], ['nodes']), EVENTS],
  'validatingadmissionpolicy-status-controller': [
    r(READ, ['admissionregistration.k8s.io'], ['validatingadmissionpolicies']),
    r(['get', 'patch', 'update'], ['admissionregistration.k8s.io'], ['validatingadmissionpolicies/status']),
    EVENTS,
  ],
};

/** The ClusterRole a controller of kube-controller-manager holds: `system:controller:<service account>`. */
export const controllerRoleName = (serviceAccountName: string) => `system:controller:${serviceAccountName}`;

/**
 * skiff's controllers with no upstream counterpart (k3s components), each acting as kube-system:<name> with a
 * `skiff:controller:<name>` ClusterRole that holds exactly what its code reads and writes beyond the shared informers
 * (which list and watch as system:kube-controller-manager):
 * - local-path-provisioner: creates the PV for a claim (rancher/local-path-provisioner), reads StorageClasses and
 *   Nodes it looks up, records Provisioning events.
 * - node-password: deletes a deleted Node's `<node>.node-password.k3s` Secret: a Role in kube-system, not a ClusterRole,
 *   so it cannot touch Secrets elsewhere (bootstrapRoles below).
 * - ingress: keeps Ingress status (the node addresses) and creates/removes the IngressClass `skiff`.
 * - servicelb: keeps LoadBalancer Service status and its finalizer on the Services it claims.
 * - node-simulator (`--simulate-nodes`, kwok's way): registers its Nodes and keeps their status and Leases, moves its
 *   pods through their stages (pods/status) and deletes them when terminated, with its own informers on Pods and Nodes.
 * And where a skiff controller writes differently from upstream's, a supplement for its upstream service account:
 * - deployment-controller: patch deployments (the revision annotation: skiff's /status keeps all stored metadata, so it
 *   goes in a merge patch of the main resource; controllers/deployment/sync.ts syncDeploymentRevision).
 * - horizontal-pod-autoscaler: list customresourcedefinitions (its stand-in for the RESTMapper's discovery when the
 *   scale target is a custom resource; podautoscaler/horizontal-controller.ts resourceFor).
 */
export const SKIFF_CONTROLLER_ROLE_PREFIX = 'skiff:controller:';
const skiffControllerRoleRules: Record<string, PolicyRule[]> = {
  'local-path-provisioner': [
    r(['create', 'get', 'list', 'watch'], [''], ['persistentvolumes']),
    r(READ, [''], ['persistentvolumeclaims', 'nodes']),
    r(READ, ['storage.k8s.io'], ['storageclasses']),
    EVENTS,
  ],
  ingress: [
    r(READ, ['networking.k8s.io'], ['ingresses', 'ingressclasses']),
    r(['update', 'patch'], ['networking.k8s.io'], ['ingresses/status']),
    r(['create', 'delete'], ['networking.k8s.io'], ['ingressclasses']),
    r(READ, [''], ['nodes', 'services']),
    EVENTS,
  ],
  'node-simulator': [
    r(['create', 'get', 'list', 'watch'], [''], ['nodes']),
    r(['update'], [''], ['nodes/status']),
    // get: the fresh read after a status write conflicted; patch: pod status goes as the kubelet sends it.
    r(['delete', 'get', 'list', 'watch'], [''], ['pods']),
    r(['update', 'patch'], [''], ['pods/status']),
    r(['create', 'get', 'update'], ['coordination.k8s.io'], ['leases']),
  ],
  'deployment-controller': [r(['patch'], ['apps'], ['deployments'])],
  'horizontal-pod-autoscaler': [r(['list'], ['apiextensions.k8s.io'], ['customresourcedefinitions'])],
  servicelb: [r(['get', 'list', 'watch', 'patch'], [''], ['services']), r(['update', 'patch'], [''], ['services/status']), r(READ, [''], ['nodes']), EVENTS],
};
/** skiff controllers whose role is a Role in one namespace, not cluster-wide: namespace and rules. */
const skiffControllerNamespacedRules: Record<string, [string, PolicyRule[]]> = { 'node-password': ['kube-system', [r(['delete'], [''], ['secrets'])]] };

bootstrapClusterRoles.push(
  ...Object.entries(controllerRoleRules).map(([sa, rules]) => clusterRole(controllerRoleName(sa), rules)),
  ...Object.entries(skiffControllerRoleRules).map(([name, rules]) => clusterRole(SKIFF_CONTROLLER_ROLE_PREFIX + name, rules)),
);
bootstrapClusterRoleBindings.push(
  ...Object.keys(controllerRoleRules).map((sa) => binding(controllerRoleName(sa), controllerRoleName(sa), [serviceAccount('kube-system', sa)])),
  ...Object.keys(skiffControllerRoleRules).map((name) => binding(SKIFF_CONTROLLER_ROLE_PREFIX + name, SKIFF_CONTROLLER_ROLE_PREFIX + name, [serviceAccount('kube-system', name)])),
);

/** skiff's cluster DNS publishes the kube-dns Service and its EndpointSlices in kube-system (src/dns/kube-dns-service.ts). */
export const SKIFF_CLUSTER_DNS_ROLE = 'skiff:cluster-dns';

/** Namespaced roles and bindings of the bootstrap policy (upstream's namespace-roles.yaml has none skiff needs). */
export const bootstrapRoles: Role[] = [
  {
    apiVersion: `${RBAC}/v1`,
    kind: 'Role',
    metadata: { name: SKIFF_CLUSTER_DNS_ROLE, namespace: 'kube-system', labels: { ...BOOTSTRAP_LABEL }, annotations: { [AUTOUPDATE_ANNOTATION]: 'true' } },
    rules: [r(['get', 'create'], [''], ['services']), r(['get', 'list', 'create', 'update', 'delete'], ['discovery.k8s.io'], ['endpointslices'])],
  },
  // Upstream's namespace-roles.yaml: extension API servers bind their service accounts to it to read the front proxy's
  // settings (apiserver/aggregator/: the extension-apiserver-authentication ConfigMap).
  {
    apiVersion: `${RBAC}/v1`,
    kind: 'Role',
    metadata: { name: 'extension-apiserver-authentication-reader', namespace: 'kube-system', labels: { ...BOOTSTRAP_LABEL }, annotations: { [AUTOUPDATE_ANNOTATION]: 'true' } },
    rules: [{ verbs: ['get', 'list', 'watch'], apiGroups: [''], resources: ['configmaps'], resourceNames: ['extension-apiserver-authentication'] }],
  },
  ...Object.entries(skiffControllerNamespacedRules).map(
    ([name, [namespace, rules]]): Role => ({
      apiVersion: `${RBAC}/v1`,
      kind: 'Role',
      metadata: { name: SKIFF_CONTROLLER_ROLE_PREFIX + name, namespace, labels: { ...BOOTSTRAP_LABEL }, annotations: { [AUTOUPDATE_ANNOTATION]: 'true' } },
      rules,
    }),
  ),
];

export const bootstrapRoleBindings: RoleBinding[] = [
  {
    apiVersion: `${RBAC}/v1`,
    kind: 'RoleBinding',
    metadata: { name: SKIFF_CLUSTER_DNS_ROLE, namespace: 'kube-system', labels: { ...BOOTSTRAP_LABEL }, annotations: { [AUTOUPDATE_ANNOTATION]: 'true' } },
    roleRef: { apiGroup: RBAC, kind: 'Role', name: SKIFF_CLUSTER_DNS_ROLE },
    subjects: [serviceAccount('kube-system', 'coredns')],
  },
  ...Object.entries(skiffControllerNamespacedRules).map(
    ([name, [namespace]]): RoleBinding => ({
      apiVersion: `${RBAC}/v1`,
      kind: 'RoleBinding',
      metadata: { name: SKIFF_CONTROLLER_ROLE_PREFIX + name, namespace, labels: { ...BOOTSTRAP_LABEL }, annotations: { [AUTOUPDATE_ANNOTATION]: 'true' } },
      roleRef: { apiGroup: RBAC, kind: 'Role', name: SKIFF_CONTROLLER_ROLE_PREFIX + name },
      subjects: [serviceAccount(namespace, name)],
    }),
  ),
];
