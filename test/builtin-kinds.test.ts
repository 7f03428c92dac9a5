/**
 * The built-in kinds of 1.32 that skiff added late, driven by the real kubectl (1.32 and 1.27) against a real server
 * with two simulated nodes: every kind created, listed and printed; a ReplicationController scaled up and down with
 * its pods running on the simulated nodes; `kubectl apply --prune` without an allowlist (kubectl's default list names
 * ReplicationControllers); a RuntimeClass's overhead and scheduling on a pod; APF's bootstrap objects, the mandatory
 * ones re-created after a delete; validation errors in upstream's words.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { eventually } from './helpers/eventually.js';
import { kubectlFor, kubectlSkip, type Kubectl } from './helpers/kubectl.js';
import { startTestServer, type TestServer } from './helpers/test-server.js';

const skip = kubectlSkip() || kubectlSkip('27');

const OBJECTS = [
  { apiVersion: 'node.k8s.io/v1', kind: 'RuntimeClass', metadata: { name: 'sandboxed' }, handler: 'runsc', overhead: { podFixed: { cpu: '250m', memory: '64Mi' } }, scheduling: { nodeSelector: { 'sandbox.example.com/ready': 'true' }, tolerations: [{ key: 'sandbox', operator: 'Exists', effect: 'NoSchedule' }] } },
  { apiVersion: 'storage.k8s.io/v1', kind: 'CSIDriver', metadata: { name: 'hostpath.csi.k8s.io' }, spec: { podInfoOnMount: true, volumeLifecycleModes: ['Persistent', 'Ephemeral'] } },
  { apiVersion: 'storage.k8s.io/v1', kind: 'CSINode', metadata: { name: 'sim-node' }, spec: { drivers: [{ name: 'hostpath.csi.k8s.io', nodeID: 'sim-node', topologyKeys: ['topology.hostpath.csi/node'] }] } },
  { apiVersion: 'storage.k8s.io/v1', kind: 'CSIStorageCapacity', metadata: { name: 'cap-1', namespace: 'default' }, storageClassName: 'local-path', capacity: '10Gi' },
  { apiVersion: 'storage.k8s.io/v1', kind: 'VolumeAttachment', metadata: { name: 'va-1' }, spec: { attacher: 'hostpath.csi.k8s.io', nodeName: 'sim-node', source: { persistentVolumeName: 'pv-1' } } },
  { apiVersion: 'v1', kind: 'PodTemplate', metadata: { name: 'tmpl', namespace: 'default' }, template: { metadata: { labels: { app: 'tmpl' } }, spec: { containers: [{ name: 'c', image: 'nginx:1.27' }] } } },
  { apiVersion: 'flowcontrol.apiserver.k8s.io/v1', kind: 'PriorityLevelConfiguration', metadata: { name: 'batch' }, spec: { type: 'Limited', limited: { nominalConcurrencyShares: 5, limitResponse: { type: 'Queue' } } } },
  { apiVersion: 'flowcontrol.apiserver.k8s.io/v1', kind: 'FlowSchema', metadata: { name: 'batch-jobs' }, spec: { priorityLevelConfiguration: { name: 'batch' }, distinguisherMethod: { type: 'ByUser' }, rules: [{ subjects: [{ kind: 'Group', group: { name: 'batch-users' } }], resourceRules: [{ verbs: ['*'], apiGroups: ['batch'], resources: ['jobs'], namespaces: ['*'] }] }] } },
];

describe('built-in kinds of 1.32 with kubectl', { skip, timeout: 115_000 }, () => {
  let s: TestServer;
  let k: Kubectl;
  let k27: Kubectl;
  let dir: string;

  before(async () => {
    s = await startTestServer({ simulateNodes: 2 });
    k = kubectlFor(s.kubeconfig);
    k27 = kubectlFor(s.kubeconfig, '27');
    dir = await mkdtemp(join(s.dataDir, 'manifests-'));
  });

  after(async () => {
    await s?.stop();
    if (s) await rm(s.dataDir, { recursive: true, force: true });
  });

  it('kubectl api-resources lists each kind with its short names, scope and kind', async () => {
    const r = await k(['api-resources', '--no-headers']);
    assert.equal(r.code, 0, r.stderr);
    const rows = new Map(r.stdout.trim().split('\n').map((l) => { const f = l.trim().split(/\s+/); return [f[0], f.slice(1).join(' ')] as const; }));
    const want: Record<string, string> = {
      replicationcontrollers: 'rc v1 true ReplicationController',
      podtemplates: 'v1 true PodTemplate',
      apiservices: 'apiregistration.k8s.io/v1 false APIService',
      runtimeclasses: 'node.k8s.io/v1 false RuntimeClass',
      csidrivers: 'storage.k8s.io/v1 false CSIDriver',
      csinodes: 'storage.k8s.io/v1 false CSINode',
      csistoragecapacities: 'storage.k8s.io/v1 true CSIStorageCapacity',
      volumeattachments: 'storage.k8s.io/v1 false VolumeAttachment',
      flowschemas: 'flowcontrol.apiserver.k8s.io/v1 false FlowSchema',
      prioritylevelconfigurations: 'flowcontrol.apiserver.k8s.io/v1 false PriorityLevelConfiguration',
    };
    for (const [name, row] of Object.entries(want)) assert.equal(rows.get(name), row, name);
    const all = await k(['api-resources', '--categories', 'all', '-o', 'name']);
    assert.match(all.stdout, /^replicationcontrollers$/m);
  });

  it('creates every kind with kubectl 1.27 and reads it back with 1.32, defaults filled, tables printed', async () => {
    await writeFile(join(dir, 'kinds.json'), JSON.stringify({ apiVersion: 'v1', kind: 'List', items: OBJECTS }));
    const created = await k27(['create', '-f', join(dir, 'kinds.json')]);
    assert.equal(created.code, 0, created.stderr);
    const driver = await k.json(['get', 'csidriver', 'hostpath.csi.k8s.io']);
    assert.deepEqual([driver.spec.attachRequired, driver.spec.storageCapacity, driver.spec.fsGroupPolicy, driver.spec.requiresRepublish], [true, false, 'ReadWriteOnceWithFSType', false]);
    const pl = await k.json(['get', 'prioritylevelconfiguration', 'batch']);
    assert.deepEqual(pl.spec.limited.limitResponse.queuing, { queues: 64, handSize: 8, queueLengthLimit: 50 });
    assert.equal(pl.spec.limited.lendablePercent, 0);
    const fs = await k.json(['get', 'flowschema', 'batch-jobs']);
    assert.equal(fs.spec.matchingPrecedence, 1000);
    const dangling = await eventually('Dangling condition', async () => fs.status?.conditions?.[0] ?? (await k.json(['get', 'flowschema', 'batch-jobs'])).status?.conditions?.[0]);
    assert.deepEqual([dangling.type, dangling.status, dangling.reason], ['Dangling', 'False', 'Found']);
    const tables: Array<[string[], RegExp]> = [
      [['get', 'runtimeclass', 'sandboxed'], /^NAME\s+HANDLER\s+AGE\nsandboxed\s+runsc\s+\S+$/],
      [['get', 'csidriver'], /^NAME\s+ATTACHREQUIRED\s+PODINFOONMOUNT\s+STORAGECAPACITY\s+TOKENREQUESTS\s+REQUIRESREPUBLISH\s+MODES\s+AGE\nhostpath\.csi\.k8s\.io\s+true\s+true\s+false\s+<unset>\s+false\s+Persistent,Ephemeral\s+\S+$/],
      [['get', 'csinode', 'sim-node'], /^NAME\s+DRIVERS\s+AGE\nsim-node\s+1\s+\S+$/],
      [['get', 'csistoragecapacities'], /^NAME\s+STORAGECLASSNAME\s+CAPACITY\s+AGE\ncap-1\s+local-path\s+10Gi\s+\S+$/],
      [['get', 'volumeattachment'], /^NAME\s+ATTACHER\s+PV\s+NODE\s+ATTACHED\s+AGE\nva-1\s+hostpath\.csi\.k8s\.io\s+pv-1\s+sim-node\s+false\s+\S+$/],
      [['get', 'podtemplate'], /^NAME\s+CONTAINERS\s+IMAGES\s+POD LABELS\ntmpl\s+c\s+nginx:1\.27\s+app=tmpl$/],
      [['get', 'prioritylevelconfiguration', 'batch', 'exempt'], /^NAME\s+TYPE\s+NOMINALCONCURRENCYSHARES\s+QUEUES\s+HANDSIZE\s+QUEUELENGTHLIMIT\s+AGE\nbatch\s+Limited\s+5\s+64\s+8\s+50\s+\S+\nexempt\s+Exempt\s+<none>\s+<none>\s+<none>\s+<none>\s+\S+$/],
      [['get', 'flowschema', 'batch-jobs'], /^NAME\s+PRIORITYLEVEL\s+MATCHINGPRECEDENCE\s+DISTINGUISHERMETHOD\s+AGE\s+MISSINGPL\nbatch-jobs\s+batch\s+1000\s+ByUser\s+\S+\s+False$/],
    ];
    for (const [args, re] of tables) {
      const r = await k27(args);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout.trim(), re, args.join(' '));
    }
  });

  it('refuses invalid objects with 422 and upstream field errors', async () => {
    const cases: Array<[unknown, RegExp]> = [
      [{ apiVersion: 'node.k8s.io/v1', kind: 'RuntimeClass', metadata: { name: 'bad' }, handler: 'Not_A_Label' }, /handler: Invalid value: "Not_A_Label"/],
      [{ apiVersion: 'storage.k8s.io/v1', kind: 'VolumeAttachment', metadata: { name: 'bad' }, spec: { attacher: 'x.csi', source: {} } }, /spec.source: Required value: must specify exactly one of inlineVolumeSpec and persistentVolumeName.*spec.nodeName: Required value/s],
      [{ apiVersion: 'v1', kind: 'ReplicationController', metadata: { name: 'bad' }, spec: { selector: { app: 'x' }, template: { metadata: { labels: { app: 'y' } }, spec: { containers: [{ name: 'c', image: 'i' }] } } } }, /spec.template.metadata.labels: Invalid value: .*`selector` does not match template `labels`/],
      [{ apiVersion: 'flowcontrol.apiserver.k8s.io/v1', kind: 'FlowSchema', metadata: { name: 'bad' }, spec: { priorityLevelConfiguration: { name: 'x' }, matchingPrecedence: 20000 } }, /spec.matchingPrecedence: Invalid value: 20000: must be between 1 and 10000, inclusive/],
      [{ apiVersion: 'flowcontrol.apiserver.k8s.io/v1', kind: 'PriorityLevelConfiguration', metadata: { name: 'bad' }, spec: { type: 'Exempt' } }, /spec.type: Invalid value: "Exempt": type must be 'Exempt' if and only if name is 'exempt'/],
    ];
    for (const [obj, re] of cases) {
      const r = await s.request('POST', pathOf(obj as { apiVersion: string; kind: string; metadata: { namespace?: string } }), obj);
      assert.equal(r.status, 422, r.text);
      assert.match(r.json.message, re);
    }
  });

  it('a ReplicationController scaled up and down keeps its pods running on the simulated nodes', async () => {
    const rc = { apiVersion: 'v1', kind: 'ReplicationController', metadata: { name: 'web', labels: { app: 'prune' } }, spec: { replicas: 1, template: { metadata: { labels: { app: 'web' } }, spec: { containers: [{ name: 'nginx', image: 'nginx:1.27' }] } } } };
    await writeFile(join(dir, 'rc.json'), JSON.stringify(rc));
    const applied = await k(['apply', '-f', join(dir, 'rc.json')]);
    assert.equal(applied.code, 0, applied.stderr);
    const stored = await k.json(['get', 'rc', 'web']);
    assert.deepEqual(stored.spec.selector, { app: 'web' }, 'the selector defaults to the template labels');
    const running = (n: number) =>
      eventually(`${n} running pods of rc/web`, async () => {
        const pods = (await k.json(['get', 'pods', '-l', 'app=web'])).items.filter((p: any) => !p.metadata.deletionTimestamp);
        const rcNow = await k.json(['get', 'rc', 'web']);
        return pods.length === n && pods.every((p: any) => p.status.phase === 'Running' && p.spec.nodeName) && rcNow.status.readyReplicas === n && rcNow.status.replicas === n ? pods : undefined;
      }, 60_000);
    await running(1);
    assert.equal((await k(['scale', 'rc', 'web', '--replicas=3'])).code, 0);
    const three = await running(3);
    for (const p of three) assert.deepEqual([p.metadata.ownerReferences[0].kind, p.metadata.ownerReferences[0].name], ['ReplicationController', 'web']);
    const scale = JSON.parse((await k(['get', '--raw', '/api/v1/namespaces/default/replicationcontrollers/web/scale'])).stdout);
    assert.deepEqual([scale.kind, scale.spec.replicas, scale.status.selector], ['Scale', 3, 'app=web']);
    const described = await k(['describe', 'rc', 'web']);
    assert.equal(described.code, 0, described.stderr);
    assert.match(described.stdout, /^Replicas:\s+3 current \/ 3 desired$/m);
    assert.match(described.stdout, /^Pods Status:\s+3 Running \/ 0 Waiting \/ 0 Succeeded \/ 0 Failed$/m);
    assert.match(described.stdout, /SuccessfulCreate\s+\S+\s+replication-controller\s+Created pod: web-/);
    assert.equal((await k27(['scale', 'rc', 'web', '--replicas=1'])).code, 0);
    await running(1);
    const table = await k(['get', 'rc', 'web', '-o', 'wide', '--no-headers']);
    assert.match(table.stdout, /^web\s+1\s+1\s+1\s+\S+\s+nginx\s+nginx:1\.27\s+app=web$/m);

    // kubectl apply --prune with no --prune-allowlist walks its default list, ReplicationControllers included.
    await writeFile(join(dir, 'prune.json'), JSON.stringify({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'kept', labels: { app: 'prune' } }, data: { a: 'b' } }));
    const pruned = await k(['apply', '--prune', '-l', 'app=prune', '-f', join(dir, 'prune.json')]);
    assert.equal(pruned.code, 0, pruned.stderr);
    assert.match(pruned.stdout, /replicationcontroller\/web pruned/);
    assert.equal((await k(['get', 'rc', 'web'])).code, 1, 'the pruned RC is gone');
  });

  it("a pod naming a RuntimeClass gets its overhead and scheduling; a missing class is refused", async () => {
    const pod = { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'sandboxed' }, spec: { runtimeClassName: 'sandboxed', containers: [{ name: 'c', image: 'nginx:1.27' }] } };
    const r = await k(['create', '-f', '-'], { input: JSON.stringify(pod) });
    assert.equal(r.code, 0, r.stderr);
    const got = await k.json(['get', 'pod', 'sandboxed']);
    assert.deepEqual(got.spec.overhead, { cpu: '250m', memory: '64Mi' });
    assert.deepEqual(got.spec.nodeSelector, { 'sandbox.example.com/ready': 'true' });
    assert.ok(got.spec.tolerations.some((t: any) => t.key === 'sandbox' && t.effect === 'NoSchedule'));
    const missing = await k(['create', '-f', '-'], { input: JSON.stringify({ ...pod, metadata: { name: 'nope' }, spec: { ...pod.spec, runtimeClassName: 'kata' } }) });
    assert.notEqual(missing.code, 0);
    assert.match(missing.stderr, /pods "nope" is forbidden: pod rejected: RuntimeClass "kata" not found/);
  });

  it("APF's bootstrap objects are present, and a deleted mandatory one comes back", async () => {
    const names = (await k.json(['get', 'flowschemas'])).items.map((f: any) => f.metadata.name);
    for (const n of ['exempt', 'probes', 'system-leader-election', 'workload-leader-election', 'endpoint-controller', 'system-node-high', 'system-nodes', 'kube-controller-manager', 'kube-scheduler', 'kube-system-service-accounts', 'service-accounts', 'global-default', 'catch-all']) assert.ok(names.includes(n), n);
    const levels = (await k.json(['get', 'prioritylevelconfigurations'])).items.map((p: any) => p.metadata.name);
    for (const n of ['exempt', 'system', 'node-high', 'leader-election', 'workload-high', 'workload-low', 'global-default', 'catch-all']) assert.ok(levels.includes(n), n);
    const before = (await k.json(['get', 'flowschema', 'exempt'])).metadata.uid;
    assert.equal((await k(['delete', 'flowschema', 'exempt'])).code, 0);
    const back = await eventually('exempt re-created', async () => {
      const r = await k(['get', 'flowschema', 'exempt', '-o', 'json']);
      return r.code === 0 ? JSON.parse(r.stdout) : undefined;
    }, 20_000);
    assert.notEqual(back.metadata.uid, before);
    assert.equal(back.spec.matchingPrecedence, 1);
    assert.equal((await k(['delete', 'flowschema', 'global-default'])).code, 0);
    await new Promise((r) => setTimeout(r, 6_000));
    assert.notEqual((await k(['get', 'flowschema', 'global-default'])).code, 0, 'a suggested object a user deleted stays deleted');
  });
});

function pathOf(obj: { apiVersion: string; kind: string; metadata: { namespace?: string } }): string {
  const plural: Record<string, string> = { RuntimeClass: 'runtimeclasses', VolumeAttachment: 'volumeattachments', ReplicationController: 'replicationcontrollers', FlowSchema: 'flowschemas', PriorityLevelConfiguration: 'prioritylevelconfigurations' };
  const base = obj.apiVersion === 'v1' ? '/api/v1' : `/apis/${obj.apiVersion}`;
  const ns = obj.kind === 'ReplicationController' ? '/namespaces/default' : '';
  return `${base}${ns}/${plural[obj.kind]}`;
}
