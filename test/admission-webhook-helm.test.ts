/**
 * End-to-end: Helm 3 installs, upgrades, rolls back and uninstalls a chart that registers admission webhooks served by
 * a test HTTPS server outside the cluster: a mutating one reached by `url`, a validating one through a Service with
 * manual Endpoints on a non-loopback host address; a post-install hook goes through them too.
 */
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { eventually } from './helpers/eventually.js';
import { startHostWebhookServer, type HostAddress, type HostWebhook } from './helpers/host-address.js';
import { helmBinary, helmFor, helmSkip, type Helm } from './helpers/helm.js';
import { startTestServer, type TestServer } from './helpers/test-server.js';
import type { TestWebhookServer } from '../src/apiserver/admission/webhook/webhook-testing.js';

const skip = helmSkip();

const TEMPLATES = `apiVersion: v1
kind: Service
metadata:
  name: {{ .Release.Name }}-hooks
spec:
  ports:
  - {name: https, port: 443, targetPort: {{ .Values.port }}}
---
apiVersion: v1
kind: Endpoints
metadata:
  name: {{ .Release.Name }}-hooks
subsets:
- addresses: [{ip: {{ .Values.hostIP | quote }}}]
  ports: [{name: https, port: {{ .Values.port }}}]
---
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingWebhookConfiguration
metadata:
  name: {{ .Release.Name }}-validate
webhooks:
- name: validate.helm.skiff.test
  clientConfig:
    service: {namespace: {{ .Release.Namespace }}, name: {{ .Release.Name }}-hooks, path: {{ .Values.validatePath }}}
    caBundle: {{ .Values.caBundle }}
  rules: [{operations: [CREATE, UPDATE], apiGroups: [""], apiVersions: [v1], resources: [configmaps]}]
  objectSelector: {matchLabels: {checked: "yes"}}
  sideEffects: None
  admissionReviewVersions: [v1]
---
apiVersion: admissionregistration.k8s.io/v1
kind: MutatingWebhookConfiguration
metadata:
  name: {{ .Release.Name }}-label
webhooks:
- name: label.helm.skiff.test
  clientConfig:
    url: {{ .Values.mutateURL }}
    caBundle: {{ .Values.caBundle }}
  rules: [{operations: [CREATE], apiGroups: [""], apiVersions: [v1], resources: [configmaps]}]
  objectSelector: {matchLabels: {checked: "yes"}}
  sideEffects: None
  admissionReviewVersions: [v1]
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: {{ .Release.Name }}-after-install
  labels: {checked: "yes"}
  annotations: {"helm.sh/hook": post-install, "helm.sh/hook-delete-policy": before-hook-creation}
data: {note: hook}
`;

describe('Helm with a chart that registers admission webhooks', { skip }, () => {
  let s: TestServer;
  let hook: TestWebhookServer;
  let host: HostAddress;
  let hw: HostWebhook | undefined;
  let dir: string;
  let helm: Helm;
  const ok = (args: string[]) => helm.ok(args);
  const createChecked = (name: string) => s.request('POST', '/api/v1/namespaces/default/configmaps', { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name, labels: { checked: 'yes' } } });

  before(async () => {
    hw = await startHostWebhookServer('hw-hooks.default.svc', 'skwhh');
    ({ host, hook } = hw);
    s = await startTestServer({ datastore: 'memory', controlPlane: false });
    dir = await mkdtemp(join(tmpdir(), 'skiff-webhook-helm-'));
    helm = helmFor(await helmBinary(join(dir, 'bin')), s.kubeconfig, join(dir, 'home'));
    const chart = join(dir, 'chart');
    await mkdir(join(chart, 'templates'), { recursive: true });
    await writeFile(join(chart, 'Chart.yaml'), 'apiVersion: v2\nname: webhooks\nversion: 0.1.0\n');
    await writeFile(
      join(chart, 'values.yaml'),
      `port: ${hook.port}\nhostIP: "${host.ip}"\ncaBundle: ${hook.caBundle}\nvalidatePath: /deny\nmutateURL: "${hook.url('/mutate')}"\n`,
    );
    await writeFile(join(chart, 'templates', 'webhooks.yaml'), TEMPLATES);
  });
  after(async () => {
    await s?.stop();
    await hw?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('install: the webhooks act at once, the post-install hook went through the mutating one', async () => {
    await ok(['install', 'hw', join(dir, 'chart'), '--namespace', 'default']);
    const hookCm = (await s.request('GET', '/api/v1/namespaces/default/configmaps/hw-after-install')).json;
    assert.equal(hookCm.metadata.labels['mutated-by'], 'webhook');
    const denied = await createChecked('bad-after-install');
    assert.equal(denied.status, 403);
    assert.equal(denied.json.message, 'admission webhook "validate.helm.skiff.test" denied the request: objects named bad-after-install are not welcome here');
    const validated = hook.reviews.filter((r) => r.path === '/deny' && r.request.name === 'bad-after-install');
    assert.equal(validated.length, 1, 'reached through the Service and its manual Endpoints');
    const good = await createChecked('good-after-install');
    assert.equal(good.status, 201);
    assert.equal(good.json.metadata.labels['mutated-by'], 'webhook');
  });

  it('upgrade switches the validating webhook to a path that allows; rollback brings the denial back', async () => {
    await ok(['upgrade', 'hw', join(dir, 'chart'), '--namespace', 'default', '--reuse-values', '--set', 'validatePath=/allow']);
    const vwc = (await s.request('GET', '/apis/admissionregistration.k8s.io/v1/validatingwebhookconfigurations/hw-validate')).json;
    assert.equal(vwc.webhooks[0].clientConfig.service.path, '/allow');
    // A configuration change takes effect once the watch cache has it (moments after the write).
    let n = 0;
    await eventually('the upgraded webhook admits', async () => (await createChecked(`bad-after-upgrade-${n++}`)).status === 201, 2_000);
    await ok(['rollback', 'hw', '1', '--namespace', 'default']);
    await eventually('the rolled-back webhook denies', async () => (await createChecked(`bad-after-rollback-${n++}`)).status === 403, 2_000);
  });

  it('uninstall removes the configurations: writes are no longer sent to the webhooks', async () => {
    await ok(['uninstall', 'hw', '--namespace', 'default']);
    let n = 0;
    await eventually('the webhooks are gone', async () => (await createChecked(`bad-after-uninstall-${n++}`)).status === 201, 2_000);
    const before = hook.reviews.length;
    const created = await createChecked('bad-after-uninstall');
    assert.equal(created.status, 201);
    assert.equal(created.json.metadata.labels['mutated-by'], undefined);
    assert.equal(hook.reviews.length, before);
  });
});
