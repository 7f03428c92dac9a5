import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { KubeObject } from '../../api/object.js';
import { byGroupVersionResource } from './index.js';

const now = new Date('2024-05-10T12:00:00Z');
const ago = (ms: number) => new Date(now.getTime() - ms).toISOString();
const MIN = 60_000;
const HOUR = 60 * MIN;
const DAY = 24 * HOUR;

function row(group: string, plural: string, obj: unknown, version = 'v1'): unknown[] {
  const def = byGroupVersionResource(group, version, plural);
  assert.ok(def);
  return def.printer.row(obj as KubeObject, now);
}

function headers(group: string, plural: string, version = 'v1'): string[] {
  return byGroupVersionResource(group, version, plural)!.printer.columns.map((c: { name: string; priority: number }) => (c.priority > 0 ? `${c.name}*` : c.name));
}

function pod(name: string, status: Record<string, unknown>, extra: Record<string, unknown> = {}, spec: Record<string, unknown> = {}) {
  return {
    metadata: { name, namespace: 'default', creationTimestamp: ago(5 * MIN), ...extra },
    spec: { nodeName: 'node-1', containers: [{ name: 'app', image: 'nginx:1.25' }], ...spec },
    status: { podIPs: [{ ip: '10.42.0.7' }], podIP: '10.42.0.7', ...status },
  };
}

test('pod table: columns and the STATUS/RESTARTS cells kubectl shows', () => {
  assert.deepEqual(headers('', 'pods'), ['Name', 'Ready', 'Status', 'Restarts', 'Age', 'IP*', 'Node*', 'Nominated Node*', 'Readiness Gates*']);
  const running = pod('web-0', { phase: 'Running', conditions: [{ type: 'Ready', status: 'True' }], containerStatuses: [{ name: 'app', ready: true, restartCount: 0, state: { running: { startedAt: ago(4 * MIN) } } }] });
  assert.deepEqual(row('', 'pods', running), ['web-0', '1/1', 'Running', '0', '5m', '10.42.0.7', 'node-1', '<none>', '<none>']);

  const creating = pod('web-1', { phase: 'Pending', podIPs: undefined, podIP: undefined, containerStatuses: [{ name: 'app', ready: false, restartCount: 0, state: { waiting: { reason: 'ContainerCreating' } } }] });
  assert.deepEqual(row('', 'pods', creating).slice(0, 6), ['web-1', '0/1', 'ContainerCreating', '0', '5m', '<none>']);

  const crashing = pod('web-2', {
    phase: 'Running',
    containerStatuses: [{ name: 'app', ready: false, restartCount: 3, state: { waiting: { reason: 'CrashLoopBackOff' } }, lastState: { terminated: { exitCode: 1, reason: 'Error', finishedAt: ago(2 * MIN) } } }],
  });
  assert.deepEqual(row('', 'pods', crashing).slice(0, 4), ['web-2', '0/1', 'CrashLoopBackOff', '3 (2m ago)']);

  const completed = pod('job-x', { phase: 'Succeeded', containerStatuses: [{ name: 'app', ready: false, restartCount: 0, state: { terminated: { exitCode: 0, reason: 'Completed' } } }] });
  assert.deepEqual(row('', 'pods', completed).slice(0, 3), ['job-x', '0/1', 'Completed']);

  const terminating = { ...running, metadata: { ...running.metadata, name: 'web-3', deletionTimestamp: ago(0) } };
  assert.equal(row('', 'pods', terminating)[2], 'Terminating');

  const initializing = pod('web-4', { phase: 'Pending', initContainerStatuses: [{ name: 'init', ready: false, restartCount: 0, state: { running: {} } }] }, {}, { initContainers: [{ name: 'init', image: 'busybox' }] });
  assert.equal(row('', 'pods', initializing)[2], 'Init:0/1');

  const unscheduled = { metadata: { name: 'p', creationTimestamp: ago(10 * 1000) }, spec: { containers: [{ name: 'a' }, { name: 'b' }] }, status: { phase: 'Pending' } };
  assert.deepEqual(row('', 'pods', unscheduled), ['p', '0/2', 'Pending', '0', '10s', '<none>', '<none>', '<none>', '<none>']);

  const gated = pod('web-5', { phase: 'Running', nominatedNodeName: 'node-2', conditions: [{ type: 'example.com/lb', status: 'True' }] }, {}, { readinessGates: [{ conditionType: 'example.com/lb' }, { conditionType: 'example.com/dns' }] });
  assert.deepEqual(row('', 'pods', gated).slice(7), ['node-2', '1/2']);
});

test('deployment, replica set and stateful set tables', () => {
  assert.deepEqual(headers('apps', 'deployments'), ['Name', 'Ready', 'Up-to-date', 'Available', 'Age', 'Containers*', 'Images*', 'Selector*']);
  const dep = {
    metadata: { name: 'nginx', creationTimestamp: ago(10 * MIN) },
    spec: { replicas: 3, selector: { matchLabels: { app: 'nginx' } }, template: { spec: { containers: [{ name: 'nginx', image: 'nginx:1.25' }, { name: 'log', image: 'busybox' }] } } },
    status: { replicas: 3, readyReplicas: 2, updatedReplicas: 3, availableReplicas: 2 },
  };
  assert.deepEqual(row('apps', 'deployments', dep), ['nginx', '2/3', 3, 2, '10m', 'nginx,log', 'nginx:1.25,busybox', 'app=nginx']);
  const rs = { ...dep, metadata: { name: 'nginx-7c5ddbdf54', creationTimestamp: ago(3 * HOUR + 10 * MIN) } };
  assert.deepEqual(row('apps', 'replicasets', rs), ['nginx-7c5ddbdf54', 3, 3, 2, '3h10m', 'nginx,log', 'nginx:1.25,busybox', 'app=nginx']);
  assert.deepEqual(row('apps', 'statefulsets', { ...dep, metadata: { name: 'db', creationTimestamp: ago(2 * DAY + 3 * HOUR) } }).slice(0, 3), ['db', '2/3', '2d3h']);
});

test('service table: cluster IP, external IP and ports per type', () => {
  assert.deepEqual(headers('', 'services'), ['Name', 'Type', 'Cluster-IP', 'External-IP', 'Port(s)', 'Age', 'Selector*']);
  const svc = (name: string, spec: Record<string, unknown>, status: Record<string, unknown> = {}) => ({ metadata: { name, creationTimestamp: ago(3 * DAY) }, spec, status });
  assert.deepEqual(row('', 'services', svc('kubernetes', { type: 'ClusterIP', clusterIP: '10.43.0.1', clusterIPs: ['10.43.0.1'], ports: [{ port: 443, protocol: 'TCP' }] })), [
    'kubernetes',
    'ClusterIP',
    '10.43.0.1',
    '<none>',
    '443/TCP',
    '3d',
    '<none>',
  ]);
  assert.deepEqual(
    row('', 'services', svc('web', { type: 'NodePort', clusterIPs: ['10.43.0.9'], selector: { app: 'web' }, ports: [{ port: 80, nodePort: 30080, protocol: 'TCP' }, { port: 53, protocol: 'UDP' }] })),
    ['web', 'NodePort', '10.43.0.9', '<none>', '80:30080/TCP,53/UDP', '3d', 'app=web'],
  );
  assert.equal(row('', 'services', svc('lb', { type: 'LoadBalancer', clusterIPs: ['10.43.0.10'], ports: [{ port: 80, nodePort: 31000, protocol: 'TCP' }] }))[3], '<pending>');
  assert.equal(row('', 'services', svc('lb', { type: 'LoadBalancer', ports: [] }, { loadBalancer: { ingress: [{ ip: '192.0.2.10' }, { hostname: 'lb.example.com' }] } }))[3], '192.0.2.10,lb.example.com');
  assert.deepEqual(row('', 'services', svc('ext', { type: 'ExternalName', externalName: 'db.example.com' })).slice(1, 5), ['ExternalName', '<none>', 'db.example.com', '<none>']);
  assert.equal(row('', 'services', svc('headless', { type: 'ClusterIP', clusterIP: 'None', clusterIPs: ['None'] }))[2], 'None');
});

test('node table: status, roles, version and the wide columns', () => {
  assert.deepEqual(headers('', 'nodes'), ['Name', 'Status', 'Roles', 'Age', 'Version', 'Internal-IP*', 'External-IP*', 'OS-Image*', 'Kernel-Version*', 'Container-Runtime*']);
  const node = {
    metadata: { name: 'node-1', creationTimestamp: ago(2 * DAY + 3 * HOUR), labels: { 'node-role.kubernetes.io/control-plane': '', 'node-role.kubernetes.io/master': '', 'kubernetes.io/hostname': 'node-1' } },
    spec: { unschedulable: true },
    status: {
      conditions: [{ type: 'MemoryPressure', status: 'False' }, { type: 'Ready', status: 'True' }],
      addresses: [{ type: 'InternalIP', address: '192.168.1.10' }, { type: 'Hostname', address: 'node-1' }],
      nodeInfo: { kubeletVersion: 'v1.32.0+skiff', osImage: 'Debian GNU/Linux 12 (bookworm)', kernelVersion: '6.1.0-18-amd64', containerRuntimeVersion: 'skiff-process://0.1.0' },
    },
  };
  assert.deepEqual(row('', 'nodes', node), [
    'node-1',
    'Ready,SchedulingDisabled',
    'control-plane,master',
    '2d3h',
    'v1.32.0+skiff',
    '192.168.1.10',
    '<none>',
    'Debian GNU/Linux 12 (bookworm)',
    '6.1.0-18-amd64',
    'skiff-process://0.1.0',
  ]);
  assert.deepEqual(row('', 'nodes', { metadata: { name: 'n2', creationTimestamp: ago(HOUR) }, status: { conditions: [{ type: 'Ready', status: 'Unknown' }] } }).slice(0, 5), ['n2', 'NotReady', '<none>', '60m', '']);
  assert.equal(row('', 'nodes', { metadata: { name: 'n3' } })[1], 'Unknown');
});

test('event table: LAST SEEN, OBJECT, SOURCE and COUNT as kubectl get events prints', () => {
  assert.deepEqual(headers('', 'events'), ['Last Seen', 'Type', 'Reason', 'Object', 'Subobject*', 'Source*', 'Message', 'First Seen*', 'Count*', 'Name*']);
  const pulled = {
    metadata: { name: 'web-0.17c1', namespace: 'default' },
    involvedObject: { kind: 'Pod', name: 'web-0', namespace: 'default', fieldPath: 'spec.containers{app}' },
    reason: 'Pulled',
    message: 'Successfully pulled image "nginx:1.25"\n',
    type: 'Normal',
    source: { component: 'kubelet', host: 'node-1' },
    firstTimestamp: ago(10 * MIN),
    lastTimestamp: ago(2 * MIN),
    count: 4,
  };
  assert.deepEqual(row('', 'events', pulled), ['2m', 'Normal', 'Pulled', 'pod/web-0', 'spec.containers{app}', 'kubelet, node-1', 'Successfully pulled image "nginx:1.25"', '10m', 4, 'web-0.17c1']);
  const scheduled = {
    metadata: { name: 'web-0.17c0', namespace: 'default' },
    involvedObject: { kind: 'Pod', name: 'web-0' },
    reason: 'Scheduled',
    message: 'Successfully assigned default/web-0 to node-1',
    type: 'Normal',
    eventTime: ago(30 * 1000),
    reportingComponent: 'default-scheduler',
    reportingInstance: 'default-scheduler-node-1',
  };
  assert.deepEqual(row('', 'events', scheduled), ['30s', 'Normal', 'Scheduled', 'pod/web-0', '', 'default-scheduler, default-scheduler-node-1', 'Successfully assigned default/web-0 to node-1', '30s', 1, 'web-0.17c0']);
  const series = { ...pulled, series: { count: 12, lastObservedTime: ago(45 * 1000) } };
  assert.deepEqual([row('', 'events', series)[0], row('', 'events', series)[8]], ['45s', 12]);
  const v1 = {
    metadata: { name: 'e1', namespace: 'default' },
    regarding: { kind: 'Deployment', name: 'web' },
    reason: 'ScalingReplicaSet',
    note: 'Scaled up replica set web-5d4 to 3',
    type: 'Normal',
    eventTime: ago(90 * 1000),
    reportingController: 'deployment-controller',
    reportingInstance: '',
  };
  assert.deepEqual(row('events.k8s.io', 'events', v1).slice(0, 7), ['90s', 'Normal', 'ScalingReplicaSet', 'deployment/web', '', 'deployment-controller', 'Scaled up replica set web-5d4 to 3']);
});

test('other kinds print their characteristic cells', () => {
  const job = {
    metadata: { name: 'pi', creationTimestamp: ago(MIN) },
    spec: { completions: 1, template: { spec: { containers: [{ name: 'pi', image: 'perl:5.34' }] } }, selector: { matchLabels: { 'batch.kubernetes.io/controller-uid': 'u1' } } },
    status: { succeeded: 1, startTime: ago(MIN), completionTime: ago(48 * 1000), conditions: [{ type: 'Complete', status: 'True' }] },
  };
  assert.deepEqual(row('batch', 'jobs', job), ['pi', 'Complete', '1/1', '12s', '60s', 'pi', 'perl:5.34', 'batch.kubernetes.io/controller-uid=u1']);
  const cj = { metadata: { name: 'tick', creationTimestamp: ago(DAY) }, spec: { schedule: '*/5 * * * *', suspend: false, jobTemplate: { spec: { template: { spec: { containers: [] } } } } }, status: { active: [{ name: 'tick-1' }], lastScheduleTime: ago(3 * MIN) } };
  assert.deepEqual(row('batch', 'cronjobs', cj).slice(0, 7), ['tick', '*/5 * * * *', '<none>', 'False', 1, '3m', '24h']);
  const pv = { metadata: { name: 'pv-1', creationTimestamp: ago(DAY) }, spec: { capacity: { storage: '10240Mi' }, accessModes: ['ReadWriteMany', 'ReadWriteOnce'], persistentVolumeReclaimPolicy: 'Retain', claimRef: { namespace: 'default', name: 'data' }, storageClassName: 'local-path', volumeMode: 'Filesystem' }, status: { phase: 'Bound' } };
  assert.deepEqual(row('', 'persistentvolumes', pv), ['pv-1', '10Gi', 'RWO,RWX', 'Retain', 'Bound', 'default/data', 'local-path', '<unset>', '', '24h', 'Filesystem']);
  const sc = { metadata: { name: 'local-path', creationTimestamp: ago(DAY), annotations: { 'storageclass.kubernetes.io/is-default-class': 'true' } }, provisioner: 'rancher.io/local-path', reclaimPolicy: 'Delete', volumeBindingMode: 'WaitForFirstConsumer' };
  assert.deepEqual(row('storage.k8s.io', 'storageclasses', sc), ['local-path (default)', 'rancher.io/local-path', 'Delete', 'WaitForFirstConsumer', false, '24h']);
  const hpa = { metadata: { name: 'web', creationTimestamp: ago(DAY) }, spec: { scaleTargetRef: { kind: 'Deployment', name: 'web' }, minReplicas: 1, maxReplicas: 5, metrics: [{ type: 'Resource', resource: { name: 'cpu', target: { type: 'Utilization', averageUtilization: 80 } } }] }, status: { currentReplicas: 2, currentMetrics: [{ type: 'Resource', resource: { name: 'cpu', current: { averageUtilization: 35 } } }] } };
  assert.deepEqual(row('autoscaling', 'horizontalpodautoscalers', hpa, 'v2'), ['web', 'Deployment/web', 'cpu: 35%/80%', '1', 5, 2, '24h']);
  const hpaV1 = { metadata: { name: 'web', creationTimestamp: ago(DAY) }, spec: { scaleTargetRef: { kind: 'Deployment', name: 'web' }, maxReplicas: 5, targetCPUUtilizationPercentage: 50 }, status: { currentReplicas: 1 } };
  assert.deepEqual(row('autoscaling', 'horizontalpodautoscalers', hpaV1).slice(2, 4), ['cpu: <unknown>/50%', '<unset>']);
  const rb = { metadata: { name: 'read', creationTimestamp: ago(DAY) }, roleRef: { kind: 'ClusterRole', name: 'view' }, subjects: [{ kind: 'User', name: 'alice' }, { kind: 'User', name: 'bob' }, { kind: 'ServiceAccount', name: 'ci', namespace: 'tools' }] };
  assert.deepEqual(row('rbac.authorization.k8s.io', 'rolebindings', rb), ['read', 'ClusterRole/view', '24h', 'alice, bob', '', 'tools/ci']);
  assert.deepEqual(row('rbac.authorization.k8s.io', 'roles', { metadata: { name: 'r', creationTimestamp: '2024-05-01T10:00:00.000Z' } }), ['r', '2024-05-01T10:00:00Z']);
  assert.deepEqual(row('', 'endpoints', { metadata: { name: 'web', creationTimestamp: ago(MIN) }, subsets: [{ addresses: [{ ip: '10.42.0.1' }, { ip: '10.42.0.2' }], ports: [{ port: 80 }, { port: 443 }] }] }), ['web', '10.42.0.1:80,10.42.0.2:80,10.42.0.1:443 + 1 more...', '60s']);
  assert.deepEqual(row('discovery.k8s.io', 'endpointslices', { metadata: { name: 'web-abc', creationTimestamp: ago(MIN) }, addressType: 'IPv4', ports: [{ port: 80 }], endpoints: [{ addresses: ['10.42.0.1'] }] }), ['web-abc', 'IPv4', '80', '10.42.0.1', '60s']);
  assert.deepEqual(row('', 'configmaps', { metadata: { name: 'cfg', creationTimestamp: ago(MIN) }, data: { a: '1', b: '2' }, binaryData: { c: 'AA==' } }), ['cfg', 3, '60s']);
  assert.deepEqual(row('', 'resourcequotas', { metadata: { name: 'q', creationTimestamp: ago(MIN) }, status: { hard: { 'limits.cpu': '2', pods: '10', 'requests.memory': '1Gi' }, used: { pods: '3', 'requests.memory': '512Mi' } } }), [
    'q',
    'pods: 3/10, requests.memory: 512Mi/1Gi',
    'limits.cpu: 0/2',
    '60s',
  ]);
  assert.deepEqual(row('policy', 'poddisruptionbudgets', { metadata: { name: 'pdb', creationTimestamp: ago(MIN) }, spec: { minAvailable: '50%' }, status: { disruptionsAllowed: 1 } }), ['pdb', '50%', 'N/A', 1, '60s']);
});
