/**
 * End to end: what admission adds to the audit log and to kubectl's output, and the CEL cost limit of CRD rules, with
 * the real kubectl against `skiff server --audit-policy-file --audit-log-path` and a real HTTPS webhook server
 * (src/apiserver/admission/webhook/webhook-testing.ts) reached by URL:
 *   - a mutating webhook's `mutation.webhook.admission.k8s.io/round_0_index_0` (always) and
 *     `patch.webhook.admission.k8s.io/round_0_index_0` (only at level Request and above);
 *   - a validating webhook's auditAnnotations as `<webhook name>/<key>`, another failing open under Ignore
 *     (`failed-open.validating.webhook.admission.k8s.io/round_0_index_1`), its warning printed by kubectl;
 *   - a ValidatingAdmissionPolicy bound with [Audit, Warn]: `validation.policy.admission.k8s.io/validation_failure` in
 *     upstream's JSON shape, its auditAnnotations as `<policy>/<key>`, and the Warning kubectl prints;
 *   - a CRD whose rule iterates an unbounded list of unbounded strings refused with upstream's cost messages, and
 *     accepted once maxItems and maxLength bound it.
 * Run from dist/: npx tsc -p tsconfig.json && node --test dist/test/admission-audit.e2e.test.js
 * Needs kubectl (skips otherwise, fails under CI=true).
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { closeWebhookConnections } from '../src/apiserver/admission/webhook/webhook-client.js';
import { startTestWebhookServer, type TestWebhookServer } from '../src/apiserver/admission/webhook/webhook-testing.js';
import { spawnAuditServer, type AuditServer } from './helpers/audit-server.js';
import { customResourceDefinition } from './helpers/crd.js';
import { eventually } from './helpers/eventually.js';
import { kubectlSkip, type Kubectl } from './helpers/kubectl.js';
import { stopServerAndRemoveDir } from './helpers/stop-server.js';

const POLICY = `apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: ["RequestReceived"]
rules:
  - level: Request
    resources: [{ group: "", resources: ["configmaps"] }]
    namespaces: ["at-request"]
  - level: Metadata
    resources: [{ group: "", resources: ["configmaps"] }]
    namespaces: ["at-metadata"]
  - level: Metadata
    resources: [{ group: "", resources: ["pods"] }]
    namespaces: ["psa-audit"]
  - level: None
`;

const webhooks = (hook: TestWebhookServer) => [
  {
    apiVersion: 'admissionregistration.k8s.io/v1',
    kind: 'MutatingWebhookConfiguration',
    metadata: { name: 'audit-mutate' },
    webhooks: [hookSpec(hook, 'label.audit.skiff.dev', '/mutate')],
  },
  {
    apiVersion: 'admissionregistration.k8s.io/v1',
    kind: 'ValidatingWebhookConfiguration',
    metadata: { name: 'audit-validate' },
    webhooks: [hookSpec(hook, 'review.audit.skiff.dev', '/audit'), { ...hookSpec(hook, 'garbage.audit.skiff.dev', '/garbage'), failurePolicy: 'Ignore' }],
  },
];

function hookSpec(hook: TestWebhookServer, name: string, path: string) {
  return {
    name,
    clientConfig: { url: hook.url(path), caBundle: hook.caBundle },
    rules: [{ operations: ['CREATE'], apiGroups: [''], apiVersions: ['v1'], resources: ['configmaps'] }],
    namespaceSelector: { matchExpressions: [{ key: 'kubernetes.io/metadata.name', operator: 'In', values: ['at-request', 'at-metadata'] }] },
    sideEffects: 'None',
    admissionReviewVersions: ['v1'],
    failurePolicy: 'Fail',
    timeoutSeconds: 5,
  };
}

const POLICIES = [
  {
    apiVersion: 'admissionregistration.k8s.io/v1',
    kind: 'ValidatingAdmissionPolicy',
    metadata: { name: 'no-forbidden-key' },
    spec: {
      matchConstraints: {
        resourceRules: [{ apiGroups: [''], apiVersions: ['v1'], operations: ['CREATE'], resources: ['configmaps'] }],
        namespaceSelector: { matchExpressions: [{ key: 'kubernetes.io/metadata.name', operator: 'In', values: ['at-request', 'at-metadata'] }] },
      },
      validations: [{ expression: "!has(object.data) || !('forbidden' in object.data)", message: 'the key forbidden is not welcome' }],
      auditAnnotations: [{ key: 'keys', valueExpression: "has(object.data) ? string(size(object.data)) : '0'" }],
    },
  },
  {
    apiVersion: 'admissionregistration.k8s.io/v1',
    kind: 'ValidatingAdmissionPolicyBinding',
    metadata: { name: 'no-forbidden-key-audit' },
    spec: { policyName: 'no-forbidden-key', validationActions: ['Audit', 'Warn'] },
  },
];

/** A CRD whose rule iterates spec.tags; `bounded` gives the list maxItems and its strings maxLength. */
const crd = (bounded: boolean) =>
  JSON.stringify(
    customResourceDefinition({
      group: 'cost.example.com',
      kind: 'Gpu',
      versions: [
        {
          name: 'v1',
          schema: {
            type: 'object',
            properties: {
              spec: {
                type: 'object',
                properties: {
                  tags: {
                    type: 'array',
                    ...(bounded ? { maxItems: 100 } : {}),
                    items: { type: 'string', ...(bounded ? { maxLength: 64 } : {}) },
                    'x-kubernetes-validations': [{ rule: "self.all(x, x.contains('gpu'))", message: 'every tag names a gpu' }],
                  },
                },
              },
            },
          },
        },
      ],
    }),
  );

describe('admission in the audit log, warnings, CEL cost limits', { skip: kubectlSkip() }, () => {
  let a: AuditServer | undefined;
  let hook: TestWebhookServer;
  let k: Kubectl;
  let events: AuditServer['events'];
  const apply = async (objects: unknown[]) => {
    const r = await k(['apply', '-f', '-'], { input: JSON.stringify({ apiVersion: 'v1', kind: 'List', items: objects }) });
    assert.equal(r.code, 0, r.stderr);
  };

  before(async () => {
    hook = await startTestWebhookServer();
    a = await spawnAuditServer('skiff-e2e-admission-audit-', POLICY);
    ({ k, events } = a);
    assert.equal((await k(['create', 'namespace', 'at-request'])).code, 0);
    assert.equal((await k(['create', 'namespace', 'at-metadata'])).code, 0);
    await apply([...webhooks(hook), ...POLICIES]);
  });
  after(async () => {
    closeWebhookConnections();
    await hook?.close();
    await stopServerAndRemoveDir(a?.server, a?.dir);
  });

  /** Creates a ConfigMap with a `forbidden` key until the webhooks and the policy are in force; kubectl's result. */
  const createAudited = async (namespace: string) =>
    eventually(`webhooks and policy in force in ${namespace}`, async () => {
      const name = `cm-${Math.random().toString(36).slice(2, 8)}`;
      const r = await k(['create', 'configmap', name, '-n', namespace, '--from-literal=forbidden=1', '--from-literal=other=2']);
      assert.equal(r.code, 0, r.stderr);
      return r.stderr.includes('Validation failed') && r.stderr.includes('audited by the test webhook') ? { name, r } : undefined;
    }, 30_000);

  /** The last create in `namespace` that went through the webhooks and the policy (its ResponseComplete event). */
  const auditedEvent = (namespace: string) =>
    eventually(`the audit event of the create in ${namespace}`, async () =>
      (await events())
        .filter((e) => e.verb === 'create' && e.objectRef?.resource === 'configmaps' && e.objectRef?.namespace === namespace && e.annotations?.['review.audit.skiff.dev/reviewed-by'] && e.annotations?.['no-forbidden-key/keys'])
        .at(-1), 10_000);

  test('webhooks and a policy at level Request: mutation, patch, auditAnnotations, failed-open, validation_failure; warnings', async () => {
    const { name, r } = await createAudited('at-request');
    // kubectl prints both warnings: the webhook's and the policy's Warn action.
    assert.match(r.stderr, /Warning: audited by the test webhook/);
    assert.match(r.stderr, /Warning: Validation failed for ValidatingAdmissionPolicy 'no-forbidden-key' with binding 'no-forbidden-key-audit': the key forbidden is not welcome/);
    const created = JSON.parse((await k(['get', 'configmap', name, '-n', 'at-request', '-o', 'json'])).stdout);
    assert.equal(created.metadata.labels['mutated-by'], 'webhook', 'the mutating webhook ran');

    const ev = await auditedEvent('at-request');
    assert.equal(ev.level, 'Request');
    assert.equal(ev.requestObject.metadata.name, name);
    assert.deepEqual(ev.responseStatus, { metadata: {}, code: 201 });
    const a = ev.annotations as Record<string, string>;
    assert.equal(a['authorization.k8s.io/decision'], 'allow');
    assert.deepEqual(JSON.parse(a['mutation.webhook.admission.k8s.io/round_0_index_0']!), { configuration: 'audit-mutate', webhook: 'label.audit.skiff.dev', mutated: true });
    assert.deepEqual(JSON.parse(a['patch.webhook.admission.k8s.io/round_0_index_0']!), { configuration: 'audit-mutate', webhook: 'label.audit.skiff.dev', patch: [{ op: 'add', path: '/metadata/labels', value: { 'mutated-by': 'webhook' } }], patchType: 'JSONPatch' });
    assert.equal(a['review.audit.skiff.dev/reviewed-by'], 'skiff-test');
    assert.equal(a['failed-open.validating.webhook.admission.k8s.io/round_0_index_1'], 'garbage.audit.skiff.dev');
    assert.deepEqual(JSON.parse(a['validation.policy.admission.k8s.io/validation_failure']!), [
      { message: 'the key forbidden is not welcome', policy: 'no-forbidden-key', binding: 'no-forbidden-key-audit', expressionIndex: 0, validationActions: ['Audit', 'Warn'] },
    ]);
    assert.equal(a['no-forbidden-key/keys'], '2');
    assert.equal(Object.keys(a).some((key) => key.includes('not a key')), false, 'an invalid annotation key of a webhook is dropped');
  });

  test('at level Metadata the patch is left out, the rest is recorded', async () => {
    await createAudited('at-metadata');
    const ev = await auditedEvent('at-metadata');
    assert.equal(ev.level, 'Metadata');
    assert.equal(ev.requestObject, undefined);
    assert.ok(ev.annotations['mutation.webhook.admission.k8s.io/round_0_index_0']);
    assert.equal(ev.annotations['patch.webhook.admission.k8s.io/round_0_index_0'], undefined, 'patches are logged at Request and above');
    assert.ok(ev.annotations['validation.policy.admission.k8s.io/validation_failure']);
  });

  test('PodSecurity at the audit level admits a privileged pod and records the violations as an audit annotation', async () => {
    await apply([{ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'psa-audit', labels: { 'pod-security.kubernetes.io/audit': 'baseline' } } }]);
    const pod = { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'priv', namespace: 'psa-audit' }, spec: { containers: [{ name: 'c', image: 'busybox', securityContext: { privileged: true } }] } };
    const r = await k(['create', '-f', '-'], { input: JSON.stringify(pod) });
    assert.equal(r.code, 0, r.stderr);
    const ev = await eventually('the pod create in the audit log', async () =>
      (await events()).find((e) => e.verb === 'create' && e.objectRef?.resource === 'pods' && e.objectRef?.namespace === 'psa-audit' && e.stage === 'ResponseComplete'), 10_000);
    assert.equal(
      ev.annotations?.['pod-security.kubernetes.io/audit-violations'],
      'would violate PodSecurity "baseline:latest": privileged (container "c" must not set securityContext.privileged=true)',
    );
  });

  test('a CRD rule over an unbounded list of unbounded strings is refused with upstream\'s cost messages; bounds make it fit', async () => {
    const refused = await k(['apply', '-f', '-'], { input: crd(false) });
    assert.equal(refused.code, 1);
    const rule = 'spec.versions[0].schema.openAPIV3Schema.properties[spec].properties[tags].x-kubernetes-validations[0].rule';
    const hint = '(try simplifying the rule, or adding maxItems, maxProperties, and maxLength where arrays, maps, and strings are declared)';
    assert.ok(refused.stderr.includes(`${rule}: Forbidden: estimated rule cost exceeds budget by factor of more than 100x ${hint}`), refused.stderr);
    assert.ok(refused.stderr.includes(`${rule}: Forbidden: contributed to estimated rule cost total exceeding cost limit for entire OpenAPIv3 schema`), refused.stderr);
    assert.ok(refused.stderr.includes(`spec.versions[0].schema.openAPIV3Schema: Forbidden: x-kubernetes-validations estimated rule cost total for entire OpenAPIv3 schema exceeds budget by factor of more than 100x ${hint}`), refused.stderr);
    const accepted = await k(['apply', '-f', '-'], { input: crd(true) });
    assert.equal(accepted.code, 0, accepted.stderr);
  });
});
