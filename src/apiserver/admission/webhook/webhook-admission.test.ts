import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { KubeObject } from '../../../api/object.js';
import { StatusError } from '../../../api/status.js';
import { byGroupVersionResource, resources } from '../../registry/index.js';
import type { AdmissionAttributes, AdmissionContext, Operation } from '../types.js';
import { closeWebhookConnections } from './webhook-client.js';
import { deniedError, MutatingWebhookAdmission, ValidatingWebhookAdmission, verifyResponse } from './webhook-admission.js';
import { startTestWebhookServer, type TestWebhookServer } from './webhook-testing.js';

const configmaps = byGroupVersionResource('', 'v1', 'configmaps')!;

/** An AdmissionContext over fixed objects: webhook configurations and namespaces. */
function contextWith(objects: { group: string; plural: string; obj: KubeObject }[]): AdmissionContext {
  return {
    list: (group, plural) => objects.filter((o) => o.group === group && o.plural === plural).map((o) => o.obj),
    cached: (group, plural, namespace, name) => objects.find((o) => o.group === group && o.plural === plural && (o.obj.metadata.namespace ?? '') === namespace && o.obj.metadata.name === name)?.obj,
    get: async () => undefined,
  };
}

function attrsFor(over: Partial<AdmissionAttributes> & { operation?: Operation } = {}): AdmissionAttributes & { warnings: string[] } {
  const warnings: string[] = [];
  return {
    operation: 'CREATE',
    resource: configmaps,
    subresource: '',
    namespace: 'default',
    name: 'cm',
    object: { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'cm', namespace: 'default' }, data: { a: 'b' } },
    user: { username: 'alice', groups: ['system:authenticated'] },
    dryRun: false,
    onFinish() {},
    warn: (t: string) => warnings.push(t),
    warnings,
    ...over,
  };
}

function config(kind: 'mutating' | 'validating', name: string, hooks: Record<string, unknown>[]): { group: string; plural: string; obj: KubeObject } {
  return {
    group: 'admissionregistration.k8s.io',
    plural: `${kind}webhookconfigurations`,
    obj: { apiVersion: 'admissionregistration.k8s.io/v1', kind: kind === 'mutating' ? 'MutatingWebhookConfiguration' : 'ValidatingWebhookConfiguration', metadata: { name }, webhooks: hooks } as KubeObject,
  };
}

describe('webhook admission plugins against a real HTTPS webhook', () => {
  let hook: TestWebhookServer;
  const w = (name: string, path: string, over: Record<string, unknown> = {}) => ({
    name,
    clientConfig: { url: hook.url(path), caBundle: hook.caBundle },
    rules: [{ operations: ['*'], apiGroups: [''], apiVersions: ['v1'], resources: ['configmaps'], scope: '*' }],
    failurePolicy: 'Fail',
    matchPolicy: 'Equivalent',
    sideEffects: 'None',
    timeoutSeconds: 2,
    admissionReviewVersions: ['v1'],
    namespaceSelector: {},
    objectSelector: {},
    reinvocationPolicy: 'Never',
    ...over,
  });

  before(async () => {
    hook = await startTestWebhookServer();
  });
  after(async () => {
    closeWebhookConnections();
    await hook?.close();
  });

  it('applies patches in place, in configuration-name order, and reinvokes IfNeeded webhooks once after a later change', async () => {
    // "a-annotate" sorts first: it runs before the label exists, and again after "b-label" added it.
    const ctx = contextWith([config('mutating', 'b-label', [w('label.test.skiff.dev', '/mutate')]), config('mutating', 'a-annotate', [w('annotate.test.skiff.dev', '/mutate-again', { reinvocationPolicy: 'IfNeeded' })])]);
    const attrs = attrsFor();
    const object = attrs.object!;
    const before = hook.reviews.length;
    await new MutatingWebhookAdmission(resources).admit(attrs, ctx);
    assert.equal(attrs.object, object, 'the object is changed in place');
    assert.deepEqual(object.metadata.labels, { 'mutated-by': 'webhook' });
    assert.deepEqual(object.metadata.annotations, { annotated: '1' }, 'the reinvocation saw the label');
    assert.deepEqual(hook.reviews.slice(before).map((r) => r.path), ['/mutate-again', '/mutate', '/mutate-again']);
    const review = hook.reviews[before]!.request;
    assert.equal(review.operation, 'CREATE');
    assert.deepEqual(review.userInfo, { username: 'alice', groups: ['system:authenticated'] });
    assert.deepEqual(review.resource, { group: '', version: 'v1', resource: 'configmaps' });
    assert.equal(review.oldObject, null);
  });

  it('Never: no reinvocation', async () => {
    const ctx = contextWith([config('mutating', 'b-label', [w('label.test.skiff.dev', '/mutate')]), config('mutating', 'a-annotate', [w('annotate.test.skiff.dev', '/mutate-again')])]);
    const attrs = attrsFor();
    await new MutatingWebhookAdmission(resources).admit(attrs, ctx);
    assert.deepEqual(attrs.object!.metadata.annotations, { annotated: '0' });
  });

  it('validating: parallel, first refusal in webhook order, warnings carried', async () => {
    const ctx = contextWith([config('validating', 'v', [w('warn.test.skiff.dev', '/warn'), w('deny.test.skiff.dev', '/deny'), w('allow.test.skiff.dev', '/allow')])]);
    const attrs = attrsFor({ name: 'bad-cm', object: { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'bad-cm', namespace: 'default' } } });
    await assert.rejects(Promise.resolve(new ValidatingWebhookAdmission(resources).validate(attrs, ctx)), (err: StatusError) => {
      assert.equal(err.code, 403);
      assert.equal(err.status.message, 'admission webhook "deny.test.skiff.dev" denied the request: objects named bad-cm are not welcome here');
      return true;
    });
    assert.deepEqual(attrs.warnings, ['this webhook watches you']);
  });

  it('audit annotations: mutation and patch per round and index, auditAnnotations as <webhook>/<key>, failed-open', async () => {
    const ctx = contextWith([config('mutating', 'b-label', [w('label.test.skiff.dev', '/mutate')]), config('mutating', 'a-annotate', [w('annotate.test.skiff.dev', '/mutate-again', { reinvocationPolicy: 'IfNeeded' }), w('audit.test.skiff.dev', '/audit')])]);
    const recorded: Record<string, [string, string | undefined]> = {};
    const annotate = (k: string, v: string, level?: string) => void (recorded[k] ??= [v, level]);
    const attrs = { ...attrsFor(), annotate };
    await new MutatingWebhookAdmission(resources).admit(attrs, ctx);
    const mutation = (configuration: string, webhook: string, mutated: boolean) => [JSON.stringify({ configuration, webhook, mutated }), undefined];
    // Webhooks in configuration-name order: a-annotate's two (index 0, 1), then b-label's (index 2); round 1 reinvokes index 0.
    assert.deepEqual(recorded['mutation.webhook.admission.k8s.io/round_0_index_0'], mutation('a-annotate', 'annotate.test.skiff.dev', true));
    assert.deepEqual(recorded['mutation.webhook.admission.k8s.io/round_0_index_1'], mutation('a-annotate', 'audit.test.skiff.dev', false));
    assert.deepEqual(recorded['mutation.webhook.admission.k8s.io/round_0_index_2'], mutation('b-label', 'label.test.skiff.dev', true));
    assert.deepEqual(recorded['mutation.webhook.admission.k8s.io/round_1_index_0'], mutation('a-annotate', 'annotate.test.skiff.dev', true));
    const patch = JSON.parse(recorded['patch.webhook.admission.k8s.io/round_0_index_2']![0]);
    assert.deepEqual(patch, { configuration: 'b-label', webhook: 'label.test.skiff.dev', patch: [{ op: 'add', path: '/metadata/labels', value: { 'mutated-by': 'webhook' } }], patchType: 'JSONPatch' });
    assert.equal(recorded['patch.webhook.admission.k8s.io/round_0_index_2']![1], 'Request', 'patches are logged at level Request and above');
    assert.deepEqual(recorded['audit.test.skiff.dev/reviewed-by'], ['skiff-test', undefined]);
    assert.equal(Object.keys(recorded).some((k) => k.includes('not a key')), false);
    assert.deepEqual(attrs.warnings, ['audited by the test webhook']);

    // Validating webhooks are numbered among those that match the request (a secrets-only one does not).
    const secretsOnly = { rules: [{ operations: ['CREATE'], apiGroups: [''], apiVersions: ['v1'], resources: ['secrets'] }] };
    const failing = contextWith([config('validating', 'v', [w('allow.test.skiff.dev', '/allow'), w('secrets.test.skiff.dev', '/allow', secretsOnly), w('garbage.test.skiff.dev', '/garbage', { failurePolicy: 'Ignore' })])]);
    const vattrs = { ...attrsFor(), annotate };
    await new ValidatingWebhookAdmission(resources).validate(vattrs, failing);
    assert.deepEqual(recorded['failed-open.validating.webhook.admission.k8s.io/round_0_index_1'], ['garbage.test.skiff.dev', undefined]);
  });

  it('dry run: a webhook with side effects is refused with upstream wording, even under Ignore; None is called', async () => {
    const ctx = contextWith([config('validating', 'v', [w('effects.test.skiff.dev', '/allow', { sideEffects: 'Unknown', failurePolicy: 'Ignore' })])]);
    await assert.rejects(Promise.resolve(new ValidatingWebhookAdmission(resources).validate(attrsFor({ dryRun: true }), ctx)), (err: StatusError) => {
      assert.equal(err.code, 400);
      assert.equal(err.status.message, 'admission webhook "effects.test.skiff.dev" does not support dry run');
      return true;
    });
    const fine = contextWith([config('validating', 'v', [w('none.test.skiff.dev', '/allow', { sideEffects: 'NoneOnDryRun' })])]);
    await new ValidatingWebhookAdmission(resources).validate(attrsFor({ dryRun: true }), fine);
  });

  it('webhook configurations themselves never reach webhooks; non-matching writes cost no call', () => {
    const everything = contextWith([config('validating', 'v', [w('all.test.skiff.dev', '/deny', { rules: [{ operations: ['*'], apiGroups: ['*'], apiVersions: ['*'], resources: ['*/*'] }] })])]);
    const vwc = byGroupVersionResource('admissionregistration.k8s.io', 'v1', 'validatingwebhookconfigurations')!;
    assert.equal(new ValidatingWebhookAdmission(resources).validate(attrsFor({ resource: vwc, namespace: '', name: 'bad' }), everything), undefined);
    const secretsOnly = contextWith([config('validating', 'v', [w('secrets.test.skiff.dev', '/deny', { rules: [{ operations: ['CREATE'], apiGroups: [''], apiVersions: ['v1'], resources: ['secrets'] }] })])]);
    assert.equal(new ValidatingWebhookAdmission(resources).validate(attrsFor({ name: 'bad' }), secretsOnly), undefined, 'synchronous: no promise for a write no webhook matches');
  });

  it('matchPolicy Equivalent: a rule for autoscaling/v1 sees a write stored as v2, converted to v1; Exact does not', async () => {
    const hpaV2 = byGroupVersionResource('autoscaling', 'v2', 'horizontalpodautoscalers')!;
    const rules = [{ operations: ['CREATE'], apiGroups: ['autoscaling'], apiVersions: ['v1'], resources: ['horizontalpodautoscalers'] }];
    const hpa = { apiVersion: 'autoscaling/v2', kind: 'HorizontalPodAutoscaler', metadata: { name: 'h', namespace: 'default' }, spec: { scaleTargetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: 'web' }, minReplicas: 1, maxReplicas: 3, metrics: [{ type: 'Resource', resource: { name: 'cpu', target: { type: 'Utilization', averageUtilization: 50 } } }] } } as KubeObject;
    const before = hook.reviews.length;
    await new ValidatingWebhookAdmission(resources).validate(attrsFor({ resource: hpaV2, name: 'h', object: hpa }), contextWith([config('validating', 'v', [w('hpa.test.skiff.dev', '/allow', { rules })])]));
    const review = hook.reviews.slice(before)[0]!.request;
    assert.deepEqual(review.kind, { group: 'autoscaling', version: 'v1', kind: 'HorizontalPodAutoscaler' });
    assert.deepEqual(review.requestKind, { group: 'autoscaling', version: 'v2', kind: 'HorizontalPodAutoscaler' });
    assert.equal(review.object.spec.targetCPUUtilizationPercentage, 50);
    const exact = new ValidatingWebhookAdmission(resources).validate(attrsFor({ resource: hpaV2, name: 'h', object: hpa }), contextWith([config('validating', 'v', [w('hpa.test.skiff.dev', '/allow', { rules, matchPolicy: 'Exact' })])]));
    assert.equal(exact, undefined);
  });

  it('a caBundle that is not PEM is a failed call: failurePolicy decides', async () => {
    const notPem = Buffer.from('not a certificate').toString('base64');
    const withCa = (failurePolicy: string) => contextWith([config('validating', 'v', [w('ca.test.skiff.dev', '/allow', { failurePolicy, clientConfig: { url: hook.url('/allow'), caBundle: notPem } })])]);
    await assert.rejects(Promise.resolve(new ValidatingWebhookAdmission(resources).validate(attrsFor(), withCa('Fail'))), (err: StatusError) => err.code === 500 && /failed calling webhook "ca.test.skiff.dev": failed to call webhook: Post/.test(err.message));
    await new ValidatingWebhookAdmission(resources).validate(attrsFor(), withCa('Ignore'));
  });

  it('a namespaceSelector reads the namespace labels from the cache', async () => {
    const ns = (name: string, labels: Record<string, string>) => ({ group: '', plural: 'namespaces', obj: { apiVersion: 'v1', kind: 'Namespace', metadata: { name, labels } } as KubeObject });
    const hooks = [config('validating', 'v', [w('ns.test.skiff.dev', '/deny', { namespaceSelector: { matchLabels: { guarded: 'yes' } } })]), ns('default', { guarded: 'yes' }), ns('other', {})];
    const plugin = new ValidatingWebhookAdmission(resources);
    const bad = (namespace: string) => attrsFor({ name: 'bad', namespace, object: { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'bad', namespace } } });
    await assert.rejects(Promise.resolve(plugin.validate(bad('default'), contextWith(hooks))), /denied the request/);
    assert.equal(plugin.validate(bad('other'), contextWith(hooks)), undefined);
  });
});

describe('matchConditions (CEL)', () => {
  const base = (conditions: { name: string; expression: string }[], failurePolicy = 'Fail') => ({
    name: 'cond.test.skiff.dev',
    clientConfig: { url: 'https://127.0.0.1:1/never', caBundle: '' },
    rules: [{ operations: ['*'], apiGroups: [''], apiVersions: ['v1'], resources: ['configmaps'] }],
    failurePolicy,
    sideEffects: 'None',
    admissionReviewVersions: ['v1'],
    timeoutSeconds: 1,
    matchConditions: conditions,
  });
  const plugin = new ValidatingWebhookAdmission(resources);

  it('a false condition skips the webhook (no call, no promise); errors follow failurePolicy', async () => {
    const skip = contextWith([config('validating', 'v', [base([{ name: 'is-bad', expression: "object.metadata.name.startsWith('bad')" }, { name: 'creates', expression: "request.operation == 'CREATE'" }])])]);
    assert.equal(plugin.validate(attrsFor(), skip), undefined, 'cm does not start with bad: not called');
    // Both hold: the webhook is called (and is down here, so Fail refuses).
    await assert.rejects(Promise.resolve(plugin.validate(attrsFor({ name: 'bad', object: { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'bad-x', namespace: 'default' } } }), skip)), /failed calling webhook "cond.test.skiff.dev": failed to call webhook/);
    const broken = [{ name: 'broken', expression: "object.metadata.labels['missing'] == 'x'" }];
    assert.throws(() => plugin.validate(attrsFor(), contextWith([config('validating', 'v', [base(broken)])])), (err: StatusError) => err.code === 500 && /matchCondition 'broken' error: no such key: labels/.test(err.message));
    assert.equal(plugin.validate(attrsFor(), contextWith([config('validating', 'v', [base(broken, 'Ignore')])])), undefined);
  });

  it('the registry compiles conditions: a bad expression is 422 with the compiler\'s words', () => {
    const vwc = byGroupVersionResource('admissionregistration.k8s.io', 'v1', 'validatingwebhookconfigurations')!;
    const obj = { apiVersion: 'admissionregistration.k8s.io/v1', kind: 'ValidatingWebhookConfiguration', metadata: { name: 'x' }, webhooks: [base([{ name: 'bad', expression: 'object.metadata.name ==' }, { name: 'ok', expression: 'true' }])] } as unknown as KubeObject;
    (obj as any).webhooks[0].clientConfig.url = 'https://example.com/x';
    const errs = vwc.strategy.validate(obj);
    assert.equal(errs.length, 1, JSON.stringify(errs));
    assert.equal(errs[0]!.field, 'webhooks[0].matchConditions[0].expression');
    assert.match(errs[0]!.detail, /compilation failed/);
  });
});

describe('AdmissionReview answers', () => {
  it('verifyResponse refuses answers upstream refuses', () => {
    const ok = { apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', response: { uid: 'u1', allowed: true } };
    assert.equal(verifyResponse(ok, 'u1', 'v1', false).allowed, true);
    assert.throws(() => verifyResponse(ok, 'u2', 'v1', false), /expected response.uid="u2", got "u1"/);
    assert.throws(() => verifyResponse({ ...ok, apiVersion: 'admission.k8s.io/v1beta1' }, 'u1', 'v1', false), /expected webhook response of admission.k8s.io\/v1, Kind=AdmissionReview, got admission.k8s.io\/v1beta1, Kind=AdmissionReview/);
    assert.throws(() => verifyResponse({ apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview' }, 'u1', 'v1', false), /webhook response was absent/);
    const patch = Buffer.from('[]').toString('base64');
    assert.throws(() => verifyResponse({ ...ok, response: { uid: 'u1', allowed: true, patch } }, 'u1', 'v1', true), /webhook returned response.patch but not response.patchType/);
    assert.throws(() => verifyResponse({ ...ok, response: { uid: 'u1', allowed: true, patch, patchType: 'Merge' } }, 'u1', 'v1', true), /webhook returned invalid response.patchType of "Merge"/);
    assert.deepEqual(verifyResponse({ ...ok, response: { uid: 'u1', allowed: true, patch, patchType: 'JSONPatch' } }, 'u1', 'v1', true).patch, []);
  });

  it('deniedError: the webhook code (at least 400), its message after upstream words, or "without explanation"', () => {
    assert.equal(deniedError('x.y.z', undefined).status.message, 'admission webhook "x.y.z" denied the request without explanation');
    assert.equal(deniedError('x.y.z', undefined).code, 400);
    assert.equal(deniedError('x.y.z', { code: 200, reason: 'NotAllowed' } as never).status.message, 'admission webhook "x.y.z" denied the request: NotAllowed');
    assert.equal(deniedError('x.y.z', { code: 422, message: 'no' } as never).code, 422);
  });
});
