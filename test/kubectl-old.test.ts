/**
 * kubectl 1.27 and 1.28 against a real skiff server. Unlike 1.29+, they download the protobuf /openapi/v2
 * before `create -f`, `apply` and `explain` do anything else (observed: GET /openapi/v2 with
 * `Accept: application/com.github.proto-openapi.spec.v2@v1.0+protobuf`, then the /openapi/v3 documents),
 * and stop with an error when that fails. kubectl 1.32 must keep working as before.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { kubectlFor, kubectlSkip, type Kubectl } from './helpers/kubectl.js';
import { startTestServer, type TestServer } from './helpers/test-server.js';

const configMap = (name: string) => `apiVersion: v1
kind: ConfigMap
metadata:
  name: ${name}
data:
  a: "1"
`;

const deployment = (name: string, image: string) => `apiVersion: apps/v1
kind: Deployment
metadata:
  name: ${name}
  labels: {app: ${name}}
spec:
  replicas: 2
  selector:
    matchLabels: {app: ${name}}
  strategy:
    type: RollingUpdate
    rollingUpdate: {maxSurge: 1, maxUnavailable: 0}
  template:
    metadata:
      labels: {app: ${name}}
    spec:
      containers:
      - name: web
        image: ${image}
        ports:
        - containerPort: 80
        env:
        - {name: MODE, value: "a"}
        resources:
          limits: {cpu: 500m, memory: 128Mi}
      - name: sidecar
        image: busybox:1.36
        command: [sleep, infinity]
`;

/** stderr lines other than klog's `-v` request logging (I...). */
function complaints(stderr: string): string[] {
  return stderr.split('\n').filter((l) => l.trim() !== '' && !/^I\d{4} /.test(l));
}

let s: TestServer;
let dir: string;

// One API server (no controllers, no scheduler) for every kubectl version below; each has its own cache dir.
before(async () => {
  s = await startTestServer({ controlPlane: false });
  dir = await mkdtemp(join(tmpdir(), 'skiff-kubectl-old-'));
});
after(async () => {
  await s?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

async function file(name: string, text: string): Promise<string> {
  const p = join(dir, name);
  await writeFile(p, text);
  return p;
}

async function imagesOf(name: string): Promise<string[]> {
  const res = await s.request('GET', `/apis/apps/v1/namespaces/default/deployments/${name}`);
  assert.equal(res.status, 200, res.text);
  return res.json.spec.template.spec.containers.map((c: { image: string }) => c.image);
}

for (const minor of ['27', '28']) {
  describe(`kubectl 1.${minor} (OpenAPI v2 as protobuf)`, { skip: kubectlSkip(minor) }, () => {
    let k: Kubectl;
    before(() => {
      k = kubectlFor(s.kubeconfig, minor);
    });

    it('runs the 1.x client it was asked for', async () => {
      const v = await k(['version', '--client', '-o', 'json']);
      assert.equal(v.code, 0, v.stderr);
      assert.match(JSON.parse(v.stdout).clientVersion.gitVersion, new RegExp(`^v1\\.${minor}\\.`));
    });

    it('create -f downloads /openapi/v2 and creates, with validation on', async () => {
      const r = await k(['create', '-f', await file(`cm-${minor}.yaml`, configMap(`cfg-${minor}`)), '-v=6']);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, new RegExp(`configmap/cfg-${minor} created`));
      assert.match(r.stderr, /GET https:\/\/127\.0\.0\.1:\d+\/openapi\/v2\?timeout=32s 200 OK/, 'kubectl fetched the v2 document');
      assert.doesNotMatch(r.stderr, /error validating data/);
      assert.deepEqual(complaints(r.stderr), []);
      // Server-side field validation is what kubectl chose (fieldValidation found on the v2 PATCH operation).
      assert.match(r.stderr, /POST https:\/\/[^ ]+\/configmaps\?fieldManager=kubectl-create&fieldValidation=Strict 201/);
    });

    it('apply creates, then reports unchanged, then configured with the new image on the server, without warnings', async () => {
      const name = `web-${minor}`;
      const path = await file(`deploy-${minor}.yaml`, deployment(name, 'nginx:1.25'));
      const first = await k(['apply', '-f', path]);
      assert.equal(first.code, 0, first.stderr);
      assert.equal(first.stdout.trim(), `deployment.apps/${name} created`);
      assert.equal(first.stderr, '');

      const again = await k(['apply', '-f', path]);
      assert.equal(again.code, 0, again.stderr);
      assert.equal(again.stdout.trim(), `deployment.apps/${name} unchanged`);
      assert.equal(again.stderr, '');

      await writeFile(path, deployment(name, 'nginx:1.26').replace('value: "a"', 'value: "b"'));
      const changed = await k(['apply', '-f', path, '-v=6']);
      assert.equal(changed.code, 0, changed.stderr);
      assert.equal(changed.stdout.trim(), `deployment.apps/${name} configured`);
      assert.deepEqual(complaints(changed.stderr), [], 'no "error calculating patch" or validation warnings');
      assert.match(changed.stderr, /PATCH https:\/\/[^ ]+\/deployments\/web-\d+\?fieldManager=kubectl-client-side-apply&fieldValidation=Strict 200/);
      assert.deepEqual(await imagesOf(name), ['nginx:1.26', 'busybox:1.36']);
      const live = (await s.request('GET', `/apis/apps/v1/namespaces/default/deployments/${name}`)).json;
      assert.deepEqual(live.spec.template.spec.containers[0].env, [{ name: 'MODE', value: 'b' }]);
      assert.deepEqual(live.spec.strategy.rollingUpdate, { maxSurge: 1, maxUnavailable: 0 });
    });

    it('explain pods.spec.containers describes the field', async () => {
      const r = await k(['explain', 'pods.spec.containers']);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stderr, '');
      assert.match(r.stdout, /KIND:\s+Pod/);
      assert.match(r.stdout, /containers\s+<\[\]Container>/);
      assert.match(r.stdout, /\n\s+image\s+<string>/);
    });

    it('explain from the v2 document itself (--output=plaintext-openapiv2) finds the kind and its nested fields', async () => {
      const r = await k(['explain', 'deployments.spec.strategy', '--output=plaintext-openapiv2']);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /KIND:\s+Deployment/);
      assert.match(r.stdout, /VERSION:\s+apps\/v1/);
      assert.match(r.stdout, /RESOURCE:\s+strategy\s+<Object>/);
      assert.match(r.stdout, /rollingUpdate\s+<Object>/);
      assert.match(r.stdout, /type\s+<string>/);
    });

    it('a manifest with an unknown field is refused by the server (strict validation), not by a broken download', async () => {
      const r = await k(['create', '-f', await file(`bad-${minor}.yaml`, `${configMap(`bad-${minor}`)}bogus: 1\n`)]);
      assert.notEqual(r.code, 0);
      assert.match(r.stderr, /unknown field "bogus"/);
      assert.doesNotMatch(r.stderr, /openapi|NotFound/i);
    });
  });
}

/**
 * kubectl 1.32 reads v3 first. skiff's v3 documents do not list strategic merge patch (openapi/README.md), so for
 * an apply that patches, 1.32's patcher goes on to ask /openapi/v2 for the PATCH operation's `consumes`
 * (patcher.go: "OpenAPI V3 path does not support strategic merge patch"), which it used to get as a 404 and now
 * gets: it then computes the patch from the v2 definitions instead of its compiled-in types. The outcome must
 * stay the same.
 */
describe('kubectl 1.32 still applies cleanly now that /openapi/v2 exists', { skip: kubectlSkip('32') }, () => {
  let k: Kubectl;
  before(() => {
    k = kubectlFor(s.kubeconfig, '32');
  });

  it('create -f and a first apply use only v3', async () => {
    const created = await k(['create', '-f', await file('cm-32.yaml', configMap('cfg-32')), '-v=6']);
    assert.equal(created.code, 0, created.stderr);
    assert.match(created.stdout, /configmap\/cfg-32 created/);
    assert.deepEqual(complaints(created.stderr), []);
    assert.doesNotMatch(created.stderr, /\/openapi\/v2/);
    const first = await k(['apply', '-f', await file('deploy-32.yaml', deployment('web-32', 'nginx:1.25')), '-v=6']);
    assert.equal(first.code, 0, first.stderr);
    assert.equal(first.stdout.trim(), 'deployment.apps/web-32 created');
    assert.deepEqual(complaints(first.stderr), []);
    assert.doesNotMatch(first.stderr, /\/openapi\/v2/);
  });

  it('apply of a change says configured, without warnings, and the server has the change', async () => {
    const path = join(dir, 'deploy-32.yaml');
    await writeFile(path, deployment('web-32', 'nginx:1.26').replace('value: "a"', 'value: "b"'));
    const changed = await k(['apply', '-f', path, '-v=6']);
    assert.equal(changed.code, 0, changed.stderr);
    assert.equal(changed.stdout.trim(), 'deployment.apps/web-32 configured');
    assert.deepEqual(complaints(changed.stderr), []);
    assert.match(changed.stderr, /GET https:\/\/[^ ]+\/openapi\/v3\/apis\/apps\/v1\?hash=/);
    assert.match(changed.stderr, /PATCH https:\/\/[^ ]+\/deployments\/web-32\?fieldManager=kubectl-client-side-apply&fieldValidation=Strict 200/);
    assert.deepEqual(await imagesOf('web-32'), ['nginx:1.26', 'busybox:1.36']);
    const live = (await s.request('GET', '/apis/apps/v1/namespaces/default/deployments/web-32')).json;
    assert.deepEqual(live.spec.template.spec.containers[0].env, [{ name: 'MODE', value: 'b' }]);
    const again = await k(['apply', '-f', path]);
    assert.equal(again.stdout.trim(), 'deployment.apps/web-32 unchanged');
    assert.equal(again.stderr, '');
  });
});
