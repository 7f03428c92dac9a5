/** End-to-end: the real kubectl against a real skiff server (SQLite store), asserting on JSON output. */
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { kubectlFor, kubectlSkip, type Kubectl } from './helpers/kubectl.js';
import { startTestServer, type TestServer } from './helpers/test-server.js';

const skip = kubectlSkip();

const DEPLOY = (image: string, env: { name: string; value: string }[]) => `apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  labels: {app: web}
spec:
  replicas: 2
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
      - name: nginx
        image: ${image}
        ports:
        - containerPort: 80
${env.length ? `        env:\n${env.map((e) => `        - name: ${e.name}\n          value: "${e.value}"`).join('\n')}\n` : ''}`;

describe('kubectl end-to-end', { skip }, () => {
  let s: TestServer;
  let k: Kubectl;
  let dir: string;

  before(async () => {
    s = await startTestServer();
    k = kubectlFor(s.kubeconfig);
    dir = await mkdtemp(join(tmpdir(), 'skiff-manifests-'));
  });
  after(async () => {
    await s?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  const file = async (name: string, text: string) => {
    const p = join(dir, name);
    await writeFile(p, text);
    return p;
  };

  it('version reports the server as 1.32', async () => {
    const v = await k.json(['version']);
    assert.equal(v.serverVersion.minor, '32');
    assert.match(v.clientVersion.gitVersion, /^v1\.32\./, 'the dispatcher picked the 1.32 client');
  });

  it('api-resources lists the served kinds', async () => {
    const r = await k(['api-resources', '-o', 'name']);
    assert.equal(r.code, 0, r.stderr);
    const names = r.stdout.trim().split('\n');
    for (const n of ['pods', 'deployments.apps', 'jobs.batch', 'leases.coordination.k8s.io', 'clusterroles.rbac.authorization.k8s.io', 'priorityclasses.scheduling.k8s.io']) {
      assert.ok(names.includes(n), `${n} in api-resources`);
    }
    assert.equal(r.stderr, '', 'no discovery warnings');
  });

  it('get --raw /readyz', async () => {
    const r = await k(['get', '--raw', '/readyz']);
    assert.equal(r.code, 0);
    assert.equal(r.stdout, 'ok');
  });

  it('create -f, then a duplicate says AlreadyExists', async () => {
    const f = await file('cm.yaml', 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cfg\n  labels: {tier: a}\ndata:\n  a: "1"\n');
    const r = await k(['create', '-f', f]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /configmap\/cfg created/);
    const again = await k(['create', '-f', f]);
    assert.notEqual(again.code, 0);
    assert.match(again.stderr, /Error from server \(AlreadyExists\).*configmaps "cfg" already exists/);
  });

  it('apply -f creates, configures, reports unchanged, and removes an env var dropped from the manifest', async () => {
    const f1 = await file('d1.yaml', DEPLOY('nginx:1.25', [{ name: 'A', value: '1' }, { name: 'B', value: '2' }]));
    const r1 = await k(['apply', '-f', f1]);
    assert.equal(r1.code, 0, r1.stderr);
    assert.match(r1.stdout, /deployment.apps\/web created/);
    const r2 = await k(['apply', '-f', f1]);
    assert.match(r2.stdout, /deployment.apps\/web unchanged/);
    const f2 = await file('d2.yaml', DEPLOY('nginx:1.26', [{ name: 'B', value: '2' }]));
    const r3 = await k(['apply', '-f', f2]);
    assert.equal(r3.code, 0, r3.stderr);
    assert.match(r3.stdout, /deployment.apps\/web configured/);
    assert.equal(r3.stderr, '', 'no warnings from patch computation');
    const d = await k.json(['get', 'deployment', 'web']);
    const c = d.spec.template.spec.containers[0];
    assert.equal(c.image, 'nginx:1.26');
    assert.deepEqual(c.env, [{ name: 'B', value: '2' }]);
    assert.equal(d.metadata.generation, 2);
  });

  it('apply removes a port and a container dropped from the manifest', async () => {
    const manifest = (ports: number[], sidecar: boolean) => `apiVersion: apps/v1
kind: Deployment
metadata:
  name: multi
spec:
  selector:
    matchLabels: {app: multi}
  template:
    metadata:
      labels: {app: multi}
    spec:
      containers:
      - name: main
        image: nginx:1.25
        ports:
${ports.map((p) => `        - containerPort: ${p}`).join('\n')}
${sidecar ? '      - name: sidecar\n        image: busybox:1.36\n' : ''}`;
    const f1 = await file('multi1.yaml', manifest([80, 443], true));
    assert.equal((await k(['apply', '-f', f1])).code, 0);
    const f2 = await file('multi2.yaml', manifest([80], false));
    const r = await k(['apply', '-f', f2]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /deployment.apps\/multi configured/);
    const d = await k.json(['get', 'deployment', 'multi']);
    assert.deepEqual(d.spec.template.spec.containers.map((c: any) => c.name), ['main']);
    assert.deepEqual(d.spec.template.spec.containers[0].ports.map((p: any) => p.containerPort), [80]);
  });

  it('get with -o json, yaml, wide, name, -l, --field-selector, -A, --chunk-size', async () => {
    for (let i = 0; i < 5; i++) {
      const r = await k(['create', 'configmap', `chunk-${i}`, `--from-literal=i=${i}`]);
      assert.equal(r.code, 0, r.stderr);
    }
    const list = await k.json(['get', 'configmaps', '-l', 'tier=a']);
    assert.deepEqual(list.items.map((c: any) => c.metadata.name), ['cfg']);
    const yaml = await k(['get', 'configmap', 'cfg', '-o', 'yaml']);
    assert.match(yaml.stdout, /name: cfg/);
    const names = await k(['get', 'configmaps', '-o', 'name', '--chunk-size=2']);
    const got = names.stdout.trim().split('\n').filter((n) => n.startsWith('configmap/chunk-'));
    assert.equal(got.length, 5);
    const fs = await k.json(['get', 'configmaps', '--field-selector', 'metadata.name=chunk-3']);
    assert.deepEqual(fs.items.map((c: any) => c.metadata.name), ['chunk-3']);
    const all = await k.json(['get', 'serviceaccounts', '-A']);
    assert.ok(new Set(all.items.map((s: any) => s.metadata.namespace)).size >= 4);
    const table = await k(['get', 'deployments', '-o', 'wide']);
    assert.equal(table.code, 0, table.stderr);
    const header = table.stdout.split('\n')[0].split(/\s{2,}/);
    assert.deepEqual(header, ['NAME', 'READY', 'UP-TO-DATE', 'AVAILABLE', 'AGE', 'CONTAINERS', 'IMAGES', 'SELECTOR']);
    assert.match(table.stdout, /web\s+\d+\/2\s+\d+\s+\d+\s+\S+\s+nginx\s+nginx:1.26\s+app=web/);
  });

  it('get -w streams changes', async () => {
    const child = k.spawn(['get', 'configmaps', '-w', '--output-watch-events', '-o', 'json']);
    let out = '';
    child.stdout!.on('data', (c) => (out += c));
    await new Promise((r) => setTimeout(r, 1500));
    await k(['create', 'configmap', 'watched', '--from-literal=x=y']);
    const deadline = Date.now() + 10_000;
    while (!out.includes('"watched"') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    child.kill();
    assert.match(out, /"type":\s*"ADDED"/);
    assert.match(out, /"name":\s*"watched"/);
  });

  it('label, annotate (with a stale --resource-version), patch merge/json/strategic', async () => {
    assert.equal((await k(['label', 'configmap', 'cfg', 'env=prod'])).code, 0);
    assert.equal((await k(['annotate', 'configmap', 'cfg', 'note=hello'])).code, 0);
    const stale = await k(['annotate', 'configmap', 'cfg', 'x=y', '--resource-version=1']);
    assert.notEqual(stale.code, 0);
    assert.match(stale.stderr, /Conflict/);
    assert.equal((await k(['patch', 'configmap', 'cfg', '--type', 'merge', '-p', '{"data":{"b":"2"}}'])).code, 0);
    assert.equal((await k(['patch', 'configmap', 'cfg', '--type', 'json', '-p', '[{"op":"remove","path":"/data/a"}]'])).code, 0);
    const smp = await k(['patch', 'deployment', 'web', '--type', 'strategic', '-p', '{"spec":{"template":{"spec":{"containers":[{"name":"nginx","env":[{"name":"C","value":"3"}]}]}}}}']);
    assert.equal(smp.code, 0, smp.stderr);
    const cm = await k.json(['get', 'configmap', 'cfg']);
    assert.equal(cm.metadata.labels.env, 'prod');
    assert.equal(cm.metadata.annotations.note, 'hello');
    assert.deepEqual(cm.data, { b: '2' });
    const d = await k.json(['get', 'deployment', 'web']);
    assert.deepEqual(d.spec.template.spec.containers[0].env.map((e: any) => e.name), ['C', 'B']);
    const unlabel = await k(['label', 'configmap', 'cfg', 'env-']);
    assert.equal(unlabel.code, 0);
    assert.equal((await k.json(['get', 'configmap', 'cfg'])).metadata.labels.env, undefined);
  });

  it('edit through an editor', async () => {
    const editor = await file('editor.sh', '#!/bin/sh\nsed -i \'s/^  b: "2"/  b: "edited"/\' "$1"\n');
    const r = await k(['edit', 'configmap', 'cfg'], { env: { KUBE_EDITOR: `sh ${editor}` } });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /configmap\/cfg edited/);
    assert.equal((await k.json(['get', 'configmap', 'cfg'])).data.b, 'edited');
  });

  it('set image, set env, scale, rollout restart', async () => {
    assert.equal((await k(['set', 'image', 'deployment/web', 'nginx=nginx:1.27'])).code, 0);
    assert.equal((await k(['set', 'env', 'deployment/web', 'D=4'])).code, 0);
    const sc = await k(['scale', 'deployment', 'web', '--replicas=4']);
    assert.equal(sc.code, 0, sc.stderr);
    assert.equal((await k(['scale', 'deployment', 'web', '--current-replicas=4', '--replicas=3'])).code, 0);
    const rr = await k(['rollout', 'restart', 'deployment/web']);
    assert.equal(rr.code, 0, rr.stderr);
    const d = await k.json(['get', 'deployment', 'web']);
    const c = d.spec.template.spec.containers[0];
    assert.equal(c.image, 'nginx:1.27');
    assert.ok(c.env.some((e: any) => e.name === 'D' && e.value === '4'));
    assert.equal(d.spec.replicas, 3);
    assert.ok(d.spec.template.metadata.annotations['kubectl.kubernetes.io/restartedAt']);
  });

  it('describe shows the events of an object', async () => {
    const pod = await file('pod.yaml', 'apiVersion: v1\nkind: Pod\nmetadata:\n  name: p1\nspec:\n  containers:\n  - name: c\n    image: busybox\n');
    assert.equal((await k(['create', '-f', pod])).code, 0);
    const p = await k.json(['get', 'pod', 'p1']);
    const now = new Date().toISOString();
    const ev = await s.request('POST', '/api/v1/namespaces/default/events', {
      metadata: { name: 'p1.1' },
      involvedObject: { kind: 'Pod', name: 'p1', namespace: 'default', uid: p.metadata.uid, apiVersion: 'v1' },
      reason: 'Scheduled',
      message: 'Successfully assigned default/p1 to node-a',
      type: 'Normal',
      source: { component: 'default-scheduler' },
      firstTimestamp: now,
      lastTimestamp: now,
      count: 1,
    });
    assert.equal(ev.status, 201, ev.text);
    const d = await k(['describe', 'pod', 'p1']);
    assert.equal(d.code, 0, d.stderr);
    assert.match(d.stdout, /Name:\s+p1/);
    assert.match(d.stdout, /Scheduled\s+.*Successfully assigned default\/p1 to node-a/);
  });

  it('wait --for=jsonpath', async () => {
    const waiter = k(['wait', '--for=jsonpath={.data.ready}=yes', 'configmap/cfg', '--timeout=20s']);
    await new Promise((r) => setTimeout(r, 1000));
    await k(['patch', 'configmap', 'cfg', '--type', 'merge', '-p', '{"data":{"ready":"yes"}}']);
    const r = await waiter;
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /condition met/);
  });

  it('generator commands send protobuf bodies that the server decodes', async () => {
    const r = await k(['create', 'deployment', 'gen', '--image=nginx:1.25', '--replicas=3', '--port=80']);
    assert.equal(r.code, 0, r.stderr);
    const d = await k.json(['get', 'deployment', 'gen']);
    assert.equal(d.spec.replicas, 3);
    assert.equal(d.spec.template.spec.containers[0].image, 'nginx:1.25');
    assert.deepEqual(d.spec.selector.matchLabels, { app: 'gen' });
    const svc = await k(['create', 'service', 'clusterip', 'gen', '--tcp=80:8080']);
    assert.equal(svc.code, 0, svc.stderr);
    const sv = await k.json(['get', 'service', 'gen']);
    assert.equal(sv.spec.ports[0].targetPort, 8080);
    assert.match(sv.spec.clusterIP, /^10\.43\./);
    assert.equal((await k(['create', 'secret', 'generic', 'sec', '--from-literal=k=v'])).code, 0);
    assert.equal((await k.json(['get', 'secret', 'sec'])).data.k, Buffer.from('v').toString('base64'));
  });

  it('auth can-i and auth whoami', async () => {
    const can = await k(['auth', 'can-i', 'create', 'pods']);
    assert.equal(can.code, 0, can.stderr);
    assert.equal(can.stdout.trim(), 'yes');
    const who = await k.json(['auth', 'whoami']);
    assert.equal(who.status.userInfo.username, 'system:admin');
  });

  it('delete, including by label', async () => {
    const r = await k(['delete', 'configmap', 'cfg']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /configmap "cfg" deleted/);
    const g = await k(['get', 'configmap', 'cfg']);
    assert.match(g.stderr, /Error from server \(NotFound\): configmaps "cfg" not found/);
    await k(['label', 'configmap', 'chunk-0', 'chunk-1', 'gone=yes']);
    const byLabel = await k(['delete', 'configmaps', '-l', 'gone=yes']);
    assert.equal(byLabel.code, 0, byLabel.stderr);
    const left = await k.json(['get', 'configmaps', '-l', 'gone=yes']);
    assert.equal(left.items.length, 0);
  });
});

const skip130 = kubectlSkip('30');
describe('kubectl 1.30 end-to-end', { skip: skip130 }, () => {
  let s: TestServer;
  let k: Kubectl;
  before(async () => {
    s = await startTestServer({ datastore: 'memory' });
    k = kubectlFor(s.kubeconfig, '30');
  });
  after(async () => {
    await s?.stop();
  });

  it('discovers, creates, applies and lists', async () => {
    const r = await k(['api-resources', '-o', 'name']);
    assert.equal(r.code, 0, r.stderr);
    assert.ok(r.stdout.includes('deployments.apps'));
    assert.equal((await k(['create', 'configmap', 'old', '--from-literal=a=b'])).code, 0);
    const dir = await mkdtemp(join(tmpdir(), 'skiff-130-'));
    const f = join(dir, 'd.yaml');
    await writeFile(f, DEPLOY('nginx:1.25', []));
    const a = await k(['apply', '-f', f]);
    await rm(dir, { recursive: true, force: true });
    assert.equal(a.code, 0, a.stderr);
    const t = await k(['get', 'configmaps']);
    assert.match(t.stdout, /^NAME\s+DATA\s+AGE/);
    assert.match(t.stdout, /old\s+1\s+/);
  });
});
