/**
 * End-to-end: the control loop with the real kubectl on simulated nodes (`skiff server --simulate-nodes`):
 * Deployments roll, scale, undo and self-heal; Jobs complete; DaemonSets and StatefulSets place their pods; the
 * scheduler reports what does not fit. Assertions are on JSON output.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { eventually } from './helpers/eventually.js';
import { applyFile, kubectlFor, kubectlSkip, type Kubectl } from './helpers/kubectl.js';
import { startTestServer, type TestServer } from './helpers/test-server.js';

const skip = kubectlSkip();


describe('control loop end-to-end (kubectl, simulated nodes)', { skip }, () => {
  let s: TestServer;
  let k: Kubectl;
  let dir: string;
  before(async () => {
    s = await startTestServer({ simulateNodes: 3 });
    k = kubectlFor(s.kubeconfig);
    dir = await mkdtemp(join(tmpdir(), 'skiff-loop-'));
    await s.running.controlPlane.simulatedNodes!.waitForRegistration();
  });
  after(async () => {
    await s?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });
  const apply = (name: string, yaml: string) => applyFile(k, dir, name, yaml);
  const pods = async (selector: string) => (await k.json(['get', 'pods', '-l', selector])).items as any[];

  it('a Deployment reaches all replicas Ready and Available', async () => {
    const r = await k(['create', 'deployment', 'web', '--image=nginx:1.27', '--replicas=3']);
    assert.equal(r.code, 0, r.stderr);
    const w = await k(['wait', '--for=condition=Available', 'deployment/web', '--timeout=30s']);
    assert.equal(w.code, 0, w.stderr);
    const d = await k.json(['get', 'deployment', 'web']);
    assert.equal(d.status.readyReplicas, 3);
    assert.equal(d.status.updatedReplicas, 3);
    const ps = await pods('app=web');
    assert.equal(ps.length, 3);
    for (const p of ps) {
      assert.equal(p.status.phase, 'Running');
      assert.match(p.spec.nodeName, /^sim-node-\d$/);
      assert.match(p.status.podIP, /^10\.42\./);
    }
  });

  it('set image rolls within maxSurge/maxUnavailable at every observed step; rollout status, history and undo', async () => {
    await k(['patch', 'deployment', 'web', '--type', 'merge', '-p', '{"spec":{"replicas":4,"strategy":{"rollingUpdate":{"maxSurge":1,"maxUnavailable":1}}}}']);
    await k(['rollout', 'status', 'deployment/web', '--timeout=30s']);
    // Watch pods while the rollout runs and check the bounds on every event.
    const watcher = await s.stream('/api/v1/namespaces/default/pods?watch=true&labelSelector=app%3Dweb');
    const set = await k(['set', 'image', 'deployment/web', 'nginx=nginx:1.28']);
    assert.equal(set.code, 0, set.stderr);
    const status = await k(['rollout', 'status', 'deployment/web', '--timeout=60s']);
    assert.equal(status.code, 0, status.stderr);
    assert.match(status.stdout, /successfully rolled out/);
    watcher.close();
    const live = new Map<string, any>();
    let maxTotal = 0;
    let minAvailable = Infinity;
    for (const ev of watcher.events) {
      if (ev.type === 'DELETED') live.delete(ev.object.metadata.name);
      else live.set(ev.object.metadata.name, ev.object);
      const current = [...live.values()].filter((p) => !p.metadata.deletionTimestamp);
      const ready = current.filter((p) => p.status?.conditions?.some((c: any) => c.type === 'Ready' && c.status === 'True'));
      maxTotal = Math.max(maxTotal, current.length);
      if (live.size >= 4) minAvailable = Math.min(minAvailable, ready.length);
    }
    assert.ok(maxTotal <= 5, `never more than replicas + maxSurge pods (saw ${maxTotal})`);
    assert.ok(minAvailable >= 3, `never fewer than replicas - maxUnavailable ready (saw ${minAvailable})`);
    const ps = await pods('app=web');
    assert.ok(ps.filter((p) => !p.metadata.deletionTimestamp).every((p) => p.spec.containers[0].image === 'nginx:1.28'));

    const hist = await k(['rollout', 'history', 'deployment/web']);
    assert.match(hist.stdout, /^1\s/m);
    assert.match(hist.stdout, /^2\s/m);
    const undo = await k(['rollout', 'undo', 'deployment/web']);
    assert.equal(undo.code, 0, undo.stderr);
    await k(['rollout', 'status', 'deployment/web', '--timeout=60s']);
    const d = await k.json(['get', 'deployment', 'web']);
    assert.equal(d.spec.template.spec.containers[0].image, 'nginx:1.27');
    assert.equal(d.metadata.annotations['deployment.kubernetes.io/revision'], '3');
    const to2 = await k(['rollout', 'undo', 'deployment/web', '--to-revision=2']);
    assert.equal(to2.code, 0, to2.stderr);
    await k(['rollout', 'status', 'deployment/web', '--timeout=60s']);
    const d2 = await k.json(['get', 'deployment', 'web']);
    assert.equal(d2.spec.template.spec.containers[0].image, 'nginx:1.28');
    assert.equal(d2.metadata.annotations['deployment.kubernetes.io/revision'], '4');
  });

  it('rollout pause holds a template change until resume', async () => {
    assert.equal((await k(['rollout', 'pause', 'deployment/web'])).code, 0);
    assert.equal((await k(['set', 'image', 'deployment/web', 'nginx=nginx:1.29'])).code, 0);
    await new Promise((r) => setTimeout(r, 1500));
    const rsPaused = (await k.json(['get', 'replicasets', '-l', 'app=web'])).items as any[];
    assert.ok(!rsPaused.some((rs) => rs.spec.template.spec.containers[0].image === 'nginx:1.29'), 'no ReplicaSet for the new template while paused');
    const paused = await k.json(['get', 'deployment', 'web']);
    assert.equal(paused.status.conditions.find((c: any) => c.type === 'Progressing')?.reason, 'DeploymentPaused');
    assert.equal((await k(['rollout', 'resume', 'deployment/web'])).code, 0);
    const st = await k(['rollout', 'status', 'deployment/web', '--timeout=60s']);
    assert.equal(st.code, 0, st.stderr);
    const ps = (await pods('app=web')).filter((p) => !p.metadata.deletionTimestamp);
    assert.ok(ps.length > 0 && ps.every((p) => p.spec.containers[0].image === 'nginx:1.29'));
  });

  it('scale, and a deleted pod is replaced', async () => {
    assert.equal((await k(['scale', 'deployment', 'web', '--replicas=2'])).code, 0);
    await eventually('2 pods', async () => (await pods('app=web')).filter((p) => !p.metadata.deletionTimestamp).length === 2);
    const [victim] = (await pods('app=web')).filter((p) => !p.metadata.deletionTimestamp);
    const del = await k(['delete', 'pod', victim.metadata.name, '--wait=false']);
    assert.equal(del.code, 0, del.stderr);
    await eventually('a replacement pod', async () => {
      const ps = (await pods('app=web')).filter((p) => !p.metadata.deletionTimestamp && p.status.phase === 'Running');
      return ps.length === 2 && !ps.some((p) => p.metadata.name === victim.metadata.name);
    });
  });

  it('a Job completes', async () => {
    assert.equal((await k(['create', 'job', 'once', '--image=busybox', '--', 'echo', 'hi'])).code, 0);
    const w = await k(['wait', '--for=condition=Complete', 'job/once', '--timeout=30s']);
    assert.equal(w.code, 0, w.stderr);
    const j = await k.json(['get', 'job', 'once']);
    assert.equal(j.status.succeeded, 1);
  });

  it('a DaemonSet covers every node', async () => {
    await apply(
      'ds.yaml',
      `apiVersion: apps/v1
kind: DaemonSet
metadata: {name: agent}
spec:
  selector: {matchLabels: {app: agent}}
  template:
    metadata: {labels: {app: agent}}
    spec: {containers: [{name: a, image: busybox}]}
`,
    );
    const ps = await eventually('one agent pod per node', async () => {
      const list = (await pods('app=agent')).filter((p) => p.status.phase === 'Running');
      return list.length === 3 ? list : undefined;
    });
    assert.deepEqual(ps.map((p) => p.spec.nodeName).sort(), ['sim-node-0', 'sim-node-1', 'sim-node-2']);
  });

  it('a StatefulSet creates web-0, web-1, web-2 in order', async () => {
    const watcher = await s.stream('/api/v1/namespaces/default/pods?watch=true&labelSelector=app%3Dsts');
    await apply(
      'sts.yaml',
      `apiVersion: apps/v1
kind: StatefulSet
metadata: {name: db}
spec:
  serviceName: db
  replicas: 3
  selector: {matchLabels: {app: sts}}
  template:
    metadata: {labels: {app: sts}}
    spec: {containers: [{name: db, image: busybox}]}
`,
    );
    await eventually('3 ready stateful pods', async () => (await k.json(['get', 'statefulset', 'db'])).status?.readyReplicas === 3);
    watcher.close();
    const added = watcher.events.filter((e) => e.type === 'ADDED').map((e) => e.object.metadata.name);
    assert.deepEqual(added, ['db-0', 'db-1', 'db-2']);
  });

  it('deleting the Deployment removes its ReplicaSets and Pods', async () => {
    const d = await k(['delete', 'deployment', 'web']);
    assert.equal(d.code, 0, d.stderr);
    await eventually('no ReplicaSets or Pods of web', async () => {
      const rs = (await k.json(['get', 'replicasets', '-l', 'app=web'])).items;
      const ps = await pods('app=web');
      return rs.length === 0 && ps.length === 0;
    });
  });

  it('deleting a namespace deletes its contents, then the namespace', async () => {
    assert.equal((await k(['create', 'namespace', 'scratch'])).code, 0);
    assert.equal((await k(['-n', 'scratch', 'create', 'deployment', 'tmp', '--image=busybox', '--replicas=2'])).code, 0);
    assert.equal((await k(['-n', 'scratch', 'create', 'configmap', 'c', '--from-literal=a=b'])).code, 0);
    await eventually('pods in scratch', async () => (await k.json(['-n', 'scratch', 'get', 'pods'])).items.length === 2);
    const del = await k(['delete', 'namespace', 'scratch', '--timeout=60s']);
    assert.equal(del.code, 0, del.stderr);
    const gone = await k(['get', 'namespace', 'scratch']);
    assert.match(gone.stderr, /NotFound/);
    const leftovers = await k.json(['get', 'pods,configmaps,deployments,replicasets', '-n', 'scratch']);
    assert.equal(leftovers.items.length, 0);
  });

  it('a CronJob fires', async () => {
    assert.equal((await k(['create', 'cronjob', 'tick', '--image=busybox', '--schedule=* * * * *', '--', 'date'])).code, 0);
    // The schedule fires at the next minute boundary.
    const job = await eventually(
      'a Job created by the CronJob',
      async () => (await k.json(['get', 'jobs'])).items.find((j: any) => j.metadata.ownerReferences?.[0]?.name === 'tick'),
      75_000,
    );
    assert.match(job.metadata.name, /^tick-\d+$/);
    await eventually('the CronJob records lastScheduleTime', async () => (await k.json(['get', 'cronjob', 'tick'])).status?.lastScheduleTime, 10_000);
  });

  it('a pod that fits nowhere gets a FailedScheduling event with the reasons', async () => {
    await apply(
      'big.yaml',
      `apiVersion: v1
kind: Pod
metadata: {name: huge}
spec:
  containers: [{name: c, image: busybox, resources: {requests: {cpu: "1000"}}}]
`,
    );
    const ev = await eventually('a FailedScheduling event', async () => {
      const list = await k.json(['get', 'events', '--field-selector', 'involvedObject.name=huge,reason=FailedScheduling']);
      return list.items[0];
    });
    assert.equal(ev.type, 'Warning');
    assert.match(ev.message, /^0\/3 nodes are available: 3 Insufficient cpu\./);
    const pod = await k.json(['get', 'pod', 'huge']);
    const cond = pod.status.conditions.find((c: any) => c.type === 'PodScheduled');
    assert.equal(cond.status, 'False');
    assert.equal(cond.reason, 'Unschedulable');
  });
});
