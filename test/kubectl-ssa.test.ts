/**
 * End-to-end: server-side apply with the real kubectl (`apply --server-side`) and @kubernetes/client-node
 * (PatchStrategy.ServerSideApply) against a real skiff API server, asserting on the live objects.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import * as k8s from '@kubernetes/client-node';
import { kubectlFor, kubectlSkip, type Kubectl } from './helpers/kubectl.js';
import { startTestServer, type TestServer } from './helpers/test-server.js';

const skip = kubectlSkip();

const DEPLOY = (opts: { image: string; replicas?: number; env?: Record<string, string> }) => `apiVersion: apps/v1
kind: Deployment
metadata:
  name: ssa
  labels: {app: ssa}
spec:
${opts.replicas !== undefined ? `  replicas: ${opts.replicas}\n` : ''}  selector:
    matchLabels: {app: ssa}
  template:
    metadata:
      labels: {app: ssa}
    spec:
      containers:
      - name: nginx
        image: ${opts.image}
${
  opts.env
    ? `        env:\n${Object.entries(opts.env)
        .map(([name, value]) => `        - name: ${name}\n          value: "${value}"`)
        .join('\n')}\n`
    : ''
}`;

describe('server-side apply end-to-end', () => {
  let s: TestServer;

  before(async () => {
    s = await startTestServer({ controlPlane: false });
  });
  after(async () => {
    await s?.stop();
  });

  describe('kubectl apply --server-side', { skip }, () => {
    let k: Kubectl;
    let dir: string;
    before(async () => {
      k = kubectlFor(s.kubeconfig);
      dir = await mkdtemp(join(tmpdir(), 'skiff-ssa-'));
    });
    after(async () => {
      if (dir) await rm(dir, { recursive: true, force: true });
    });
    const applyText = async (text: string, extra: string[] = []) => {
      const p = join(dir, `m-${Math.random().toString(36).slice(2)}.yaml`);
      await writeFile(p, text);
      return k(['apply', '--server-side', '-f', p, ...extra]);
    };
    const live = () => k.json(['get', 'deployment', 'ssa', '--show-managed-fields']);

    it('creates the object on first apply', async () => {
      const r = await applyText(DEPLOY({ image: 'nginx:1.25', replicas: 2, env: { A: '1', B: '2' } }));
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdout.trim(), 'deployment.apps/ssa serverside-applied');
      const d = await live();
      assert.equal(d.spec.template.spec.containers[0].image, 'nginx:1.25');
      assert.equal(d.spec.replicas, 2);
    });

    it('applies a changed image', async () => {
      const r = await applyText(DEPLOY({ image: 'nginx:1.27', replicas: 2, env: { A: '1', B: '2' } }));
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdout.trim(), 'deployment.apps/ssa serverside-applied');
      assert.equal((await live()).spec.template.spec.containers[0].image, 'nginx:1.27');
    });

    it('conflicts on a field kubectl scale set, and suggests --force-conflicts', async () => {
      const scaled = await k(['scale', 'deployment', 'ssa', '--replicas=5']);
      assert.equal(scaled.code, 0, scaled.stderr);
      const r = await applyText(DEPLOY({ image: 'nginx:1.27', replicas: 3, env: { A: '1', B: '2' } }));
      assert.notEqual(r.code, 0, 'a conflicting apply must fail');
      assert.match(r.stderr, /Apply failed with 1 conflict: conflict with "[^"]+" with subresource "scale" using apps\/v1: \.spec\.replicas/);
      assert.match(r.stderr, /--force-conflicts/);
      assert.equal((await live()).spec.replicas, 5, 'a refused apply changes nothing');
    });

    it('takes the field with --force-conflicts', async () => {
      const r = await applyText(DEPLOY({ image: 'nginx:1.27', replicas: 3, env: { A: '1', B: '2' } }), ['--force-conflicts']);
      assert.equal(r.code, 0, r.stderr);
      assert.equal((await live()).spec.replicas, 3);
    });

    it('removes an env var dropped from the manifest', async () => {
      const r = await applyText(DEPLOY({ image: 'nginx:1.27', replicas: 3, env: { A: '1' } }));
      assert.equal(r.code, 0, r.stderr);
      assert.deepEqual((await live()).spec.template.spec.containers[0].env, [{ name: 'A', value: '1' }]);
    });

    it('shows the managers with --show-managed-fields', async () => {
      const r = await k(['get', 'deployment', 'ssa', '-o', 'yaml', '--show-managed-fields']);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /managedFields:/);
      assert.match(r.stdout, /manager: kubectl\n\s+operation: Apply/);
      const d = await live();
      const applier = d.metadata.managedFields.find((m: any) => m.operation === 'Apply');
      assert.equal(applier.manager, 'kubectl');
      assert.deepEqual(applier.fieldsV1['f:spec']['f:replicas'], {});
      assert.deepEqual(Object.keys(applier.fieldsV1['f:spec']['f:template']['f:spec']['f:containers']['k:{"name":"nginx"}']['f:env']), ['k:{"name":"A"}']);
      // Without the flag kubectl hides them.
      const plain = await k(['get', 'deployment', 'ssa', '-o', 'yaml']);
      assert.doesNotMatch(plain.stdout, /managedFields/);
    });

    it('takes over the fields a client-side apply set (its last-applied annotation), and still conflicts over others', async () => {
      const cm = (v: string, extra = '') => `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: csa\ndata:\n  key: "${v}"\n${extra}`;
      const p = join(dir, 'csa.yaml');
      await writeFile(p, cm('one'));
      const created = await k(['apply', '-f', p]);
      assert.equal(created.code, 0, created.stderr);
      // kube-apiserver lets `kubectl apply --server-side` take over what kubectl-client-side-apply applied.
      const r = await applyText(cm('two'));
      assert.equal(r.code, 0, r.stderr);
      const got = await k.json(['get', 'configmap', 'csa', '--show-managed-fields']);
      assert.equal(got.data.key, 'two');
      const owners = got.metadata.managedFields.filter((m: any) => m.fieldsV1?.['f:data']?.['f:key']).map((m: any) => m.manager);
      assert.deepEqual(owners, ['kubectl']);
      // A field another writer set is not in the annotation: still a conflict.
      const other = await k(['patch', 'configmap', 'csa', '--type=merge', '-p', '{"data":{"other":"theirs"}}']);
      assert.equal(other.code, 0, other.stderr);
      const conflict = await applyText(cm('two', '  other: "mine"\n'));
      assert.notEqual(conflict.code, 0);
      assert.match(conflict.stderr, /conflict with "kubectl-patch" using v1: \.data\.other/);
    });
  });

  describe('@kubernetes/client-node', () => {
    it('applies with PatchStrategy.ServerSideApply, creating then updating', async () => {
      const kc = new k8s.KubeConfig();
      kc.loadFromFile(s.kubeconfig);
      const core = kc.makeApiClient(k8s.CoreV1Api);
      const body = (v: string) => ({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'js-ssa', namespace: 'default' }, data: { a: v } });
      const opts = k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.ServerSideApply);
      const created = await core.patchNamespacedConfigMap({ name: 'js-ssa', namespace: 'default', body: body('1'), fieldManager: 'js-app' }, opts);
      assert.equal(created.data?.a, '1');
      const updated = await core.patchNamespacedConfigMap({ name: 'js-ssa', namespace: 'default', body: body('2'), fieldManager: 'js-app' }, opts);
      assert.equal(updated.data?.a, '2');
      assert.deepEqual(
        updated.metadata?.managedFields?.map((m) => [m.manager, m.operation]),
        [['js-app', 'Apply']],
      );
      await assert.rejects(
        core.patchNamespacedConfigMap({ name: 'js-ssa', namespace: 'default', body: body('3'), fieldManager: 'other' }, opts),
        (err: any) => err.code === 409,
      );
    });

    it('answers 400 without a fieldManager and for a body that is not YAML', async () => {
      const path = '/api/v1/namespaces/default/configmaps/x';
      const headers = { 'Content-Type': 'application/apply-patch+yaml' };
      const noManager = await s.request('PATCH', path, '{"apiVersion":"v1","kind":"ConfigMap"}', headers);
      assert.equal(noManager.status, 400);
      assert.equal(noManager.json.message, 'PATCH, application/apply-patch+yaml: fieldManager is required');
      const bad = await s.request('PATCH', `${path}?fieldManager=t`, 'a: [1', headers);
      assert.equal(bad.status, 400, bad.text);
    });
  });
});
