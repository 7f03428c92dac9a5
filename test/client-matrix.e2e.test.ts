/**
 * The client matrix: one list of kubectl commands, run by kubectl 1.27, 1.30, 1.32 and 1.33 against one skiff server
 * (simulated node, so rollouts complete), each minor in its own namespace and the four side by side. Assertions are on
 * JSON/YAML output and exit codes. The list covers what users do daily and the quirks of issue 11: create, apply,
 * diff, get -o yaml (status present), patch, scale, rollout, server-side apply (the client-side to server-side
 * migration, and a Pod created by `kubectl create` later server-side applied), apply --prune, explain, watch, delete.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { parse as parseYaml } from 'yaml';
import { kubectlFor, kubectlSkip, type Kubectl } from './helpers/kubectl.js';
import { startTestServer, type TestServer } from './helpers/test-server.js';

const MINORS = ['27', '30', '32', '33'];
const skip = MINORS.map((m) => kubectlSkip(m)).find((s) => s !== false) ?? false;

const deployment = (image: string, replicas = 1) => `apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  labels: {app: matrix}
spec:
  replicas: ${replicas}
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
      - name: web
        image: ${image}
`;

const configMap = (name: string, data: Record<string, string>, labels = 'app: matrix') => `apiVersion: v1
kind: ConfigMap
metadata:
  name: ${name}
  labels: {${labels}}
data:
${Object.entries(data)
  .map(([k, v]) => `  ${k}: "${v}"`)
  .join('\n')}
`;

const statefulSet = `apiVersion: apps/v1
kind: StatefulSet
metadata:
  name: db
spec:
  serviceName: db
  replicas: 0
  selector:
    matchLabels: {app: db}
  template:
    metadata:
      labels: {app: db}
    spec:
      containers:
      - name: db
        image: postgres
        volumeMounts:
        - {name: data, mountPath: /var/lib/postgresql}
  volumeClaimTemplates:
  - metadata: {name: data}
    spec:
      accessModes: [ReadWriteOnce]
      resources: {requests: {storage: 1Gi}}
`;

const pod = (labels?: string) => `apiVersion: v1
kind: Pod
metadata:
  name: lone
${labels ? `  labels: {${labels}}\n` : ''}spec:
  containers:
  - name: c
    image: busybox
`;

let server: TestServer;
let dir: string;

before(async () => {
  if (skip) return;
  server = await startTestServer({ simulateNodes: 1 });
  dir = await mkdtemp(join(server.dataDir, 'manifests-'));
});

after(async () => {
  await server?.stop();
});

/** The command list, run by one kubectl minor in its own namespace. */
function matrix(minor: string): void {
  const ns = `matrix-1-${minor}`;
  let k: Kubectl;
  let n: (args: string[], opts?: { input?: string; timeoutMs?: number }) => ReturnType<Kubectl>;
  const ok = async (args: string[], input?: string, timeoutMs?: number) => {
    const r = await n(args, { input, timeoutMs });
    assert.equal(r.code, 0, `kubectl 1.${minor} ${args.join(' ')}: ${r.stderr}`);
    return r;
  };
  const json = async (args: string[]) => JSON.parse((await ok([...args, '-o', 'json'])).stdout);
  const file = async (name: string, text: string) => {
    const p = join(dir, `${minor}-${name}`);
    await writeFile(p, text);
    return p;
  };

  describe(`kubectl 1.${minor}`, { skip, concurrency: 1 }, () => {
    before(async () => {
      k = kubectlFor(server.kubeconfig, minor);
      n = (args, opts) => k(['-n', ns, ...args], opts);
      await ok(['create', 'namespace', ns]);
    });

    it('create, apply, get -o yaml with status, diff', async () => {
      const created = await json(['create', 'configmap', 'plain', '--from-literal=a=1']);
      assert.equal(created.data.a, '1');
      await ok(['apply', '-f', await file('deploy.yaml', deployment('nginx:1.25'))]);
      const yaml = parseYaml((await ok(['get', 'deployment', 'web', '-o', 'yaml'])).stdout);
      assert.equal(yaml.spec.template.spec.containers[0].image, 'nginx:1.25');
      assert.ok(yaml.status && typeof yaml.status === 'object', 'a Deployment comes back with a status');
      assert.ok(yaml.metadata.annotations['kubectl.kubernetes.io/last-applied-configuration']);
      const same = await n(['diff', '-f', join(dir, `${minor}-deploy.yaml`)]);
      assert.equal(same.code, 0, `no difference: ${same.stdout}${same.stderr}`);
      const changed = await n(['diff', '-f', await file('deploy2.yaml', deployment('nginx:1.26'))]);
      assert.equal(changed.code, 1, changed.stderr);
      assert.match(changed.stdout, /^-\s+- image: nginx:1\.25$/m);
      assert.match(changed.stdout, /^\+\s+- image: nginx:1\.26$/m);
    });

    it('patch (strategic, merge, json) and scale', async () => {
      await ok(['patch', 'deployment', 'web', '-p', '{"metadata":{"labels":{"strategic":"yes"}}}']);
      await ok(['patch', 'deployment', 'web', '--type=merge', '-p', '{"metadata":{"labels":{"merge":"yes"}}}']);
      await ok(['patch', 'deployment', 'web', '--type=json', '-p', '[{"op":"add","path":"/metadata/labels/json","value":"yes"}]']);
      await ok(['scale', 'deployment', 'web', '--replicas=2']);
      const d = await json(['get', 'deployment', 'web']);
      assert.deepEqual([d.metadata.labels.strategic, d.metadata.labels.merge, d.metadata.labels.json, d.spec.replicas], ['yes', 'yes', 'yes', 2]);
    });

    it('rollout: set image, status, history, undo', async () => {
      await ok(['set', 'image', 'deployment/web', 'web=nginx:1.27']);
      await ok(['rollout', 'status', 'deployment/web', '--timeout=90s'], undefined, 100_000);
      const history = await ok(['rollout', 'history', 'deployment/web']);
      assert.match(history.stdout, /^2\s/m);
      await ok(['rollout', 'undo', 'deployment/web']);
      await ok(['rollout', 'status', 'deployment/web', '--timeout=90s'], undefined, 100_000);
      const d = await json(['get', 'deployment', 'web']);
      assert.equal(d.spec.template.spec.containers[0].image, 'nginx:1.25');
      assert.equal(d.status.updatedReplicas, 2);
    });

    it('server-side apply: takes over from client-side apply without conflicts; a created Pod can be applied', async () => {
      const p = await file('mig.yaml', configMap('mig', { one: '1', two: '2' }));
      await ok(['apply', '-f', p]);
      await ok(['apply', '--server-side', '-f', await file('mig2.yaml', configMap('mig', { one: 'uno', two: '2' }))]);
      const cm = await json(['get', 'configmap', 'mig', '--show-managed-fields']);
      assert.equal(cm.data.one, 'uno');
      const owners = cm.metadata.managedFields.filter((m: any) => m.fieldsV1?.['f:data']?.['f:one']).map((m: any) => `${m.manager}/${m.operation}`);
      assert.deepEqual(owners, ['kubectl/Apply']);
      // Back to client-side apply: its diff starts from the annotation the server-side apply rewrote.
      await ok(['apply', '-f', await file('mig3.yaml', configMap('mig', { one: 'eins', two: '2' }))]);
      assert.equal((await json(['get', 'configmap', 'mig'])).data.one, 'eins');
      // Admission adds the service account token volume to the Pod; the creator does not own it.
      await ok(['create', '-f', await file('pod.yaml', pod())]);
      const applied = await ok(['apply', '--server-side', '-f', await file('pod2.yaml', pod('tier: one'))]);
      assert.doesNotMatch(applied.stderr, /may not change fields/);
      const lone = await json(['get', 'pod', 'lone']);
      assert.equal(lone.metadata.labels.tier, 'one');
      assert.ok(lone.spec.volumes.some((v: any) => v.name.startsWith('kube-api-access-')), 'the token volume admission added is still there');
    });

    it('a StatefulSet whose containers mount its volumeClaimTemplates', async () => {
      await ok(['apply', '-f', await file('sts.yaml', statefulSet)]);
      const sts = await json(['get', 'statefulset', 'db']);
      assert.equal(sts.spec.volumeClaimTemplates[0].metadata.name, 'data');
    });

    it('apply --prune removes what left the manifests', async () => {
      const both = await file('prune-both.yaml', `${configMap('keep', { a: '1' }, 'set: prune')}---\n${configMap('drop', { a: '1' }, 'set: prune')}`);
      await ok(['apply', '--prune', '-l', 'set=prune', '--prune-allowlist=core/v1/ConfigMap', '-f', both]);
      const one = await file('prune-one.yaml', configMap('keep', { a: '1' }, 'set: prune'));
      const pruned = await ok(['apply', '--prune', '-l', 'set=prune', '--prune-allowlist=core/v1/ConfigMap', '-f', one]);
      assert.match(pruned.stdout, /configmap\/drop pruned/);
      const names = (await json(['get', 'configmaps', '-l', 'set=prune'])).items.map((i: any) => i.metadata.name);
      assert.deepEqual(names, ['keep']);
    });

    it('explain', async () => {
      const r = await ok(['explain', 'deployment.spec.replicas']);
      assert.match(r.stdout, /replicas/);
      assert.match(r.stdout, /integer/);
    });

    it('get --watch sees a change', async () => {
      const child = k.spawn(['-n', ns, 'get', 'configmaps', '--watch', '--output-watch-events', '-o', 'json', '--field-selector', 'metadata.name=watched']);
      let out = '';
      child.stdout!.on('data', (c: Buffer) => (out += c.toString()));
      try {
        // The watch is open once kubectl has listed; creating a little later is then seen as an event.
        await new Promise((r) => setTimeout(r, 1500));
        await ok(['create', 'configmap', 'watched', '--from-literal=x=1']);
        const deadline = Date.now() + 15_000;
        while (!/"name":\s*"watched"/.test(out) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
        const event = JSON.parse(out.split('\n').find((l) => l.includes('"watched"')) ?? '{}');
        assert.equal(event.type, 'ADDED');
        assert.equal(event.object?.metadata?.name, 'watched');
      } finally {
        child.kill();
      }
    });

    it('delete', async () => {
      await ok(['delete', 'deployment', 'web', '--wait=true']);
      await ok(['delete', 'configmap', 'plain', 'mig', 'watched']);
      const left = await n(['get', 'deployment', 'web']);
      assert.notEqual(left.code, 0);
      assert.match(left.stderr, /NotFound|not found/);
    });
  });
}

describe('client matrix: the same commands with kubectl 1.27, 1.30, 1.32 and 1.33', { concurrency: MINORS.length, skip }, () => {
  for (const minor of MINORS) matrix(minor);
});

after(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});
