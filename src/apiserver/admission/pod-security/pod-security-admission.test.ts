import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { KubeObject } from '../../../api/object.js';
import { isStatusError } from '../../../api/status.js';
import type { ResourceDefinition } from '../../registry/types.js';
import type { AdmissionAttributes, AdmissionContext, Operation } from '../types.js';
import { podSecurityAdmission, type PodSecurityOptions } from './pod-security-admission.js';

const res = (group: string, plural: string) => ({ group, plural, namespaced: plural !== 'namespaces' }) as ResourceDefinition;

function namespace(name: string, labels: Record<string, string> = {}): KubeObject {
  return { apiVersion: 'v1', kind: 'Namespace', metadata: { name, labels } };
}

const privilegedPod = (name = 'bad'): KubeObject =>
  ({
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace: 'apps' },
    spec: { volumes: [{ name: 'host', hostPath: { path: '/' } }], containers: [{ name: 'c', image: 'busybox', securityContext: { privileged: true } }] },
  }) as KubeObject;

const plainPod = (name = 'plain'): KubeObject =>
  ({ apiVersion: 'v1', kind: 'Pod', metadata: { name, namespace: 'apps' }, spec: { containers: [{ name: 'c', image: 'busybox' }] } }) as KubeObject;

async function run(opts: {
  objects: KubeObject[];
  resource: ResourceDefinition;
  object: KubeObject;
  oldObject?: KubeObject;
  operation?: Operation;
  subresource?: string;
  user?: string;
  plugin?: PodSecurityOptions;
}): Promise<{ warnings: string[]; annotations: Record<string, string>; error?: { code: number; message: string } }> {
  const plugin = podSecurityAdmission(opts.plugin);
  const find = (plural: string, ns: string, name: string) =>
    opts.objects.find((o) => (plural === 'namespaces' ? o.kind === 'Namespace' : o.kind === 'Pod') && o.metadata.name === name && (o.metadata.namespace ?? '') === ns);
  const ctx: AdmissionContext = {
    list: (_g, plural) => opts.objects.filter((o) => (plural === 'pods' ? o.kind === 'Pod' : o.kind === 'Namespace')),
    cached: (_g, plural, ns, name) => find(plural, ns, name),
    get: async (_g, plural, ns, name) => find(plural, ns, name),
  };
  const warnings: string[] = [];
  const annotations: Record<string, string> = {};
  const attrs: AdmissionAttributes = {
    operation: opts.operation ?? 'CREATE',
    resource: opts.resource,
    subresource: opts.subresource ?? '',
    namespace: opts.object.metadata.namespace ?? '',
    name: opts.object.metadata.name!,
    object: opts.object,
    oldObject: opts.oldObject,
    user: { username: opts.user ?? 'alice', groups: [] },
    dryRun: false,
    onFinish: () => {},
    warn: (t) => warnings.push(t),
    annotate: (key, value) => (annotations[key] = value),
  };
  if (!plugin.operations.includes(attrs.operation) || !(plugin.handles?.(attrs) ?? true)) return { warnings, annotations };
  try {
    await plugin.validate(attrs, ctx);
    return { warnings, annotations };
  } catch (err) {
    assert.ok(isStatusError(err));
    return { warnings, annotations, error: { code: err.code, message: err.message } };
  }
}

const restricted = { 'pod-security.kubernetes.io/enforce': 'restricted', 'pod-security.kubernetes.io/warn': 'restricted' };
const pods = res('', 'pods');

test('enforce=restricted refuses a privileged hostPath pod in upstream words', async () => {
  const r = await run({ objects: [namespace('apps', restricted)], resource: pods, object: privilegedPod() });
  assert.equal(r.error?.code, 403);
  assert.match(r.error!.message, /^pods "bad" is forbidden: violates PodSecurity "restricted:latest": privileged \(container "c" must not set securityContext.privileged=true\), allowPrivilegeEscalation != false/);
  assert.match(r.error!.message, /restricted volume types \(volume "host" uses restricted volume type "hostPath"\)/);
  assert.deepEqual(r.warnings, [], 'no warning when warn equals enforce');
});

test('the version label is quoted as written', async () => {
  const r = await run({ objects: [namespace('apps', { 'pod-security.kubernetes.io/enforce': 'baseline', 'pod-security.kubernetes.io/enforce-version': 'v1.29' })], resource: pods, object: privilegedPod() });
  assert.match(r.error!.message, /violates PodSecurity "baseline:v1.29": hostPath volumes \(volume "host"\), privileged/);
});

test('an unlabelled namespace is privileged (upstream default); configured defaults apply', async () => {
  assert.equal((await run({ objects: [namespace('apps')], resource: pods, object: privilegedPod() })).error, undefined);
  const r = await run({ objects: [namespace('apps')], resource: pods, object: privilegedPod(), plugin: { defaults: { enforce: { level: 'baseline', version: { latest: true } } } } });
  assert.equal(r.error?.code, 403);
});

test('warn level adds a Warning but admits the pod', async () => {
  const r = await run({ objects: [namespace('apps', { 'pod-security.kubernetes.io/enforce': 'baseline', 'pod-security.kubernetes.io/warn': 'restricted' })], resource: pods, object: plainPod() });
  assert.equal(r.error, undefined);
  assert.equal(r.warnings.length, 1);
  assert.match(r.warnings[0]!, /^would violate PodSecurity "restricted:latest": allowPrivilegeEscalation != false \(container "c" must set securityContext.allowPrivilegeEscalation=false\), unrestricted capabilities/);
});

test('audit level records the violations as the audit annotation upstream uses, and admits the pod', async () => {
  const r = await run({ objects: [namespace('apps', { 'pod-security.kubernetes.io/audit': 'baseline' })], resource: pods, object: privilegedPod() });
  assert.equal(r.error, undefined);
  assert.deepEqual(r.warnings, []);
  assert.match(r.annotations['pod-security.kubernetes.io/audit-violations'] ?? '', /^would violate PodSecurity "baseline:latest": hostPath volumes \(volume "host"\), privileged/);
  const clean = await run({ objects: [namespace('apps', { 'pod-security.kubernetes.io/audit': 'baseline' })], resource: pods, object: plainPod() });
  assert.deepEqual(clean.annotations, {});
});

test('a Deployment is never refused; its template is warned about', async () => {
  const deployment = {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: 'web', namespace: 'apps' },
    spec: { template: { metadata: { labels: { app: 'web' } }, spec: (privilegedPod() as unknown as { spec: unknown }).spec } },
  } as KubeObject;
  const r = await run({ objects: [namespace('apps', restricted)], resource: res('apps', 'deployments'), object: deployment });
  assert.equal(r.error, undefined);
  assert.equal(r.warnings.length, 1);
  assert.match(r.warnings[0]!, /^would violate PodSecurity "restricted:latest": privileged \(container "c"/);
  // A CronJob's template is two levels deeper.
  const cron = { apiVersion: 'batch/v1', kind: 'CronJob', metadata: { name: 'c', namespace: 'apps' }, spec: { jobTemplate: { spec: { template: (deployment.spec as { template: unknown }).template } } } } as unknown as KubeObject;
  assert.equal((await run({ objects: [namespace('apps', restricted)], resource: res('batch', 'cronjobs'), object: cron })).warnings.length, 1);
  // enforce alone does not warn for workloads (only warn and audit apply to templates).
  const enforceOnly = await run({ objects: [namespace('apps', { 'pod-security.kubernetes.io/enforce': 'restricted' })], resource: res('apps', 'deployments'), object: deployment });
  assert.deepEqual(enforceOnly, { warnings: [], annotations: {} });
});

test('exemptions: namespaces, usernames, runtime classes', async () => {
  const objects = [namespace('apps', restricted)];
  assert.equal((await run({ objects, resource: pods, object: privilegedPod(), plugin: { exemptions: { namespaces: ['apps'] } } })).error, undefined);
  assert.equal((await run({ objects, resource: pods, object: privilegedPod(), user: 'ci', plugin: { exemptions: { usernames: ['ci'] } } })).error, undefined);
  const kata = privilegedPod();
  (kata as unknown as { spec: { runtimeClassName?: string } }).spec.runtimeClassName = 'kata';
  assert.equal((await run({ objects, resource: pods, object: kata, plugin: { exemptions: { runtimeClasses: ['kata'] } } })).error, undefined);
  assert.equal((await run({ objects, resource: pods, object: kata })).error?.code, 403);
});

test('pod updates: label edits pass, spec changes and ephemeral containers are checked', async () => {
  const objects = [namespace('apps', restricted)];
  const old = privilegedPod();
  const relabelled = structuredClone(old);
  relabelled.metadata.labels = { a: 'b' };
  assert.equal((await run({ objects, resource: pods, object: relabelled, oldObject: old, operation: 'UPDATE' })).error, undefined);
  const newImage = structuredClone(old) as { spec: { containers: { image: string }[] } } & KubeObject;
  newImage.spec.containers[0]!.image = 'busybox:2';
  assert.equal((await run({ objects, resource: pods, object: newImage, oldObject: old, operation: 'UPDATE' })).error, undefined);
  const eph = structuredClone(old) as KubeObject & { spec: Record<string, unknown> };
  eph.spec.ephemeralContainers = [{ name: 'dbg', image: 'x' }];
  const r = await run({ objects, resource: pods, object: eph, oldObject: old, operation: 'UPDATE', subresource: 'ephemeralcontainers' });
  assert.equal(r.error?.code, 403);
  // status updates are not PodSecurity's business
  assert.deepEqual(await run({ objects, resource: pods, object: old, oldObject: old, operation: 'UPDATE', subresource: 'status' }), { warnings: [], annotations: {} });
});

test('namespaces: invalid labels are refused with 422', async () => {
  const r = await run({ objects: [], resource: res('', 'namespaces'), object: namespace('apps', { 'pod-security.kubernetes.io/enforce': 'strict', 'pod-security.kubernetes.io/warn-version': '1.29' }) });
  assert.equal(r.error?.code, 422);
  assert.equal(
    r.error?.message,
    'Namespace "apps" is invalid: [metadata.labels[pod-security.kubernetes.io/enforce]: Invalid value: "strict": must be one of privileged, baseline, restricted, metadata.labels[pod-security.kubernetes.io/warn-version]: Invalid value: "1.29": must be "latest" or "v1.x"]',
  );
});

test('namespaces: a stricter enforce level warns about the existing pods, grouped', async () => {
  const pods = [privilegedPod('a-bad'), privilegedPod('b-bad'), privilegedPod('c-bad'), plainPod('d-plain')];
  const old = namespace('apps');
  const r = await run({ objects: [old, ...pods], resource: res('', 'namespaces'), object: namespace('apps', { 'pod-security.kubernetes.io/enforce': 'baseline' }), oldObject: old, operation: 'UPDATE' });
  assert.equal(r.error, undefined);
  assert.deepEqual(r.warnings, ['existing pods in namespace "apps" violate the new PodSecurity enforce level "baseline:latest"', 'a-bad (and 2 other pods): hostPath volumes, privileged']);
  const r2 = await run({ objects: [old, ...pods], resource: res('', 'namespaces'), object: namespace('apps', { 'pod-security.kubernetes.io/enforce': 'restricted' }), oldObject: old, operation: 'UPDATE' });
  assert.deepEqual(r2.warnings.slice(1), [
    'a-bad (and 2 other pods): privileged, allowPrivilegeEscalation != false, unrestricted capabilities, restricted volume types, runAsNonRoot != true, seccompProfile',
    'd-plain: allowPrivilegeEscalation != false, unrestricted capabilities, runAsNonRoot != true, seccompProfile',
  ]);
});
