/**
 * The ValidatingAdmissionPolicy plugin against an in-memory admission context: Deny wording and codes by reason,
 * Warn and Audit, params by name and selector with parameterNotFoundAction, lazy variables, matchConditions,
 * failurePolicy, several params, and the exemption of admissionregistration resources.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { KubeObject } from '../../../api/object.js';
import { StatusError } from '../../../api/status.js';
import { configmaps } from '../../registry/configmaps.js';
import { deployments } from '../../registry/deployments.js';
import { validatingadmissionpolicies } from '../../registry/validatingadmissionpolicies.js';
import type { ResourceDefinition } from '../../registry/types.js';
import type { AdmissionAttributes, AdmissionContext } from '../types.js';
import { ValidatingAdmissionPolicyPlugin } from './validating-admission-policy.js';

type Store = Map<string, KubeObject>;
const key = (group: string, plural: string, ns: string, name: string) => `${group}/${plural}/${ns}/${name}`;

function context(objects: { group: string; plural: string; obj: KubeObject }[]): AdmissionContext {
  const store: Store = new Map();
  for (const o of objects) store.set(key(o.group, o.plural, o.obj.metadata.namespace ?? '', o.obj.metadata.name ?? ''), o.obj);
  return {
    list: (group, plural) => [...store.entries()].filter(([k]) => k.startsWith(`${group}/${plural}/`)).map(([, v]) => v),
    cached: (group, plural, ns, name) => store.get(key(group, plural, ns, name)),
    get: async (group, plural, ns, name) => store.get(key(group, plural, ns, name)),
  };
}

const policy = (name: string, spec: Record<string, unknown>) => ({ group: 'admissionregistration.k8s.io', plural: 'validatingadmissionpolicies', obj: { apiVersion: 'admissionregistration.k8s.io/v1', kind: 'ValidatingAdmissionPolicy', metadata: { name }, spec } as KubeObject });
const binding = (name: string, spec: Record<string, unknown>) => ({ group: 'admissionregistration.k8s.io', plural: 'validatingadmissionpolicybindings', obj: { apiVersion: 'admissionregistration.k8s.io/v1', kind: 'ValidatingAdmissionPolicyBinding', metadata: { name }, spec } as KubeObject });
const ns = (name: string, labels: Record<string, string> = {}) => ({ group: '', plural: 'namespaces', obj: { apiVersion: 'v1', kind: 'Namespace', metadata: { name, labels } } as KubeObject });
const cm = (namespace: string, name: string, data: Record<string, string>, labels: Record<string, string> = {}) => ({ group: '', plural: 'configmaps', obj: { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name, namespace, labels }, data } as KubeObject });

const deploymentRules = { resourceRules: [{ apiGroups: ['apps'], apiVersions: ['v1'], operations: ['CREATE', 'UPDATE'], resources: ['deployments'] }] };

function write(resource: ResourceDefinition, obj: KubeObject, warnings: string[] = []): AdmissionAttributes {
  return { operation: 'CREATE', resource, subresource: '', namespace: obj.metadata.namespace ?? '', name: obj.metadata.name ?? '', object: obj, user: { username: 'alice', groups: ['devs'] }, dryRun: false, onFinish() {}, warn: (t) => warnings.push(t) };
}
const deployment = (replicas: number, namespace = 'apps', name = 'web') => ({ apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name, namespace }, spec: { replicas } }) as KubeObject;

const plugin = new ValidatingAdmissionPolicyPlugin({ resolveKind: (g, v, k) => (g === '' && v === 'v1' && k === 'ConfigMap' ? configmaps : undefined) });

function refusal(fn: () => void): StatusError {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof StatusError, String(err));
    return err;
  }
  assert.fail('expected a refusal');
}

describe('ValidatingAdmissionPolicy plugin', () => {
  test('Deny: upstream message, 422 Invalid by default, 403 with reason Forbidden, the message as the one cause', () => {
    const ctx = context([
      policy('limit', { matchConstraints: deploymentRules, validations: [{ expression: 'object.spec.replicas <= 5', message: 'too many' }, { expression: 'object.spec.replicas != 7', reason: 'Forbidden' }] }),
      binding('limit-b', { policyName: 'limit', validationActions: ['Deny'] }),
      ns('apps'),
    ]);
    assert.equal(plugin.validate(write(deployments, deployment(3)), ctx), undefined);
    const e = refusal(() => plugin.validate(write(deployments, deployment(6)), ctx));
    assert.equal(e.code, 422);
    assert.equal(e.status.reason, 'Invalid');
    assert.equal(e.message, `deployments.apps "web" is forbidden: ValidatingAdmissionPolicy 'limit' with binding 'limit-b' denied request: too many`);
    assert.deepEqual(e.status.details, { name: 'web', group: 'apps', kind: 'deployments', causes: [{ message: `ValidatingAdmissionPolicy 'limit' with binding 'limit-b' denied request: too many` }] });
    // replicas 7 fails both: the first failure decides the message and the reason.
    assert.equal(refusal(() => plugin.validate(write(deployments, deployment(7)), ctx)).code, 422);
    const ctx2 = context([policy('p', { matchConstraints: deploymentRules, validations: [{ expression: 'object.spec.replicas != 7', reason: 'Forbidden' }] }), binding('b', { policyName: 'p', validationActions: ['Deny'] }), ns('apps')]);
    const f = refusal(() => plugin.validate(write(deployments, deployment(7)), ctx2));
    assert.equal(f.code, 403);
    assert.equal(f.message, `deployments.apps "web" is forbidden: ValidatingAdmissionPolicy 'p' with binding 'b' denied request: failed expression: object.spec.replicas != 7`);
  });

  test('Warn and Audit admit, with the warning text', () => {
    const ctx = context([policy('p', { matchConstraints: deploymentRules, validations: [{ expression: 'object.spec.replicas <= 5', messageExpression: "'replicas ' + string(object.spec.replicas) + ' > 5'" }] }), binding('b', { policyName: 'p', validationActions: ['Warn', 'Audit'] }), ns('apps')]);
    const warnings: string[] = [];
    assert.equal(plugin.validate(write(deployments, deployment(9), warnings), ctx), undefined);
    assert.deepEqual(warnings, [`Validation failed for ValidatingAdmissionPolicy 'p' with binding 'b': replicas 9 > 5`]);
  });

  test('params by name (namespace from the request) and by selector (every match evaluated); parameterNotFoundAction', () => {
    const spec = { paramKind: { apiVersion: 'v1', kind: 'ConfigMap' }, matchConstraints: deploymentRules, variables: [{ name: 'max', expression: 'int(params.data.max)' }], validations: [{ expression: 'object.spec.replicas <= variables.max', messageExpression: "'over ' + params.metadata.name" }] };
    const byName = context([policy('p', spec), binding('b', { policyName: 'p', validationActions: ['Deny'], paramRef: { name: 'limits', parameterNotFoundAction: 'Deny' } }), ns('apps'), cm('apps', 'limits', { max: '4' }), cm('other', 'limits', { max: '100' })]);
    assert.equal(plugin.validate(write(deployments, deployment(4)), byName), undefined);
    assert.match(refusal(() => plugin.validate(write(deployments, deployment(5)), byName)).message, /denied request: over limits$/);
    assert.match(refusal(() => plugin.validate(write(deployments, deployment(1, 'empty')), byName)).message, /denied request: failed to configure binding: no params found for policy binding with `Deny` parameterNotFoundAction$/);
    const allow = context([policy('p', spec), binding('b', { policyName: 'p', validationActions: ['Deny'], paramRef: { name: 'limits', parameterNotFoundAction: 'Allow' } })]);
    assert.equal(plugin.validate(write(deployments, deployment(100, 'empty')), allow), undefined);
    const bySelector = context([policy('p', spec), binding('b', { policyName: 'p', validationActions: ['Deny'], paramRef: { selector: { matchLabels: { limit: 'yes' } }, parameterNotFoundAction: 'Deny' } }), ns('apps'), cm('apps', 'a', { max: '10' }, { limit: 'yes' }), cm('apps', 'b', { max: '3' }, { limit: 'yes' }), cm('apps', 'c', { max: '1' })]);
    assert.match(refusal(() => plugin.validate(write(deployments, deployment(5)), bySelector)).message, /denied request: over b$/);
    assert.equal(plugin.validate(write(deployments, deployment(3)), bySelector), undefined);
  });

  test('matchConditions skip the policy; failurePolicy decides evaluation errors', () => {
    const spec = (failurePolicy: string) => ({ failurePolicy, matchConstraints: deploymentRules, matchConditions: [{ name: 'only-web', expression: "object.metadata.name == 'web'" }], validations: [{ expression: 'object.spec.missing > 1' }] });
    const fail = context([policy('p', spec('Fail')), binding('b', { policyName: 'p', validationActions: ['Deny'] })]);
    assert.equal(plugin.validate(write(deployments, deployment(1, 'apps', 'api')), fail), undefined, 'matchCondition false: skipped');
    assert.match(refusal(() => plugin.validate(write(deployments, deployment(1)), fail)).message, /denied request: expression 'object\.spec\.missing > 1' resulted in error: no such key: missing$/);
    const ignore = context([policy('p', spec('Ignore')), binding('b', { policyName: 'p', validationActions: ['Deny'] })]);
    assert.equal(plugin.validate(write(deployments, deployment(1)), ignore), undefined);
  });

  test('a binding without its policy, or a policy that does not match, does nothing; policies are exempt', () => {
    const ctx = context([binding('orphan', { policyName: 'gone', validationActions: ['Deny'] }), policy('cms', { matchConstraints: { resourceRules: [{ apiGroups: [''], apiVersions: ['v1'], operations: ['*'], resources: ['configmaps'] }] }, validations: [{ expression: 'false' }] }), binding('cms', { policyName: 'cms', validationActions: ['Deny'] })]);
    assert.equal(plugin.validate(write(deployments, deployment(100)), ctx), undefined);
    assert.equal(refusal(() => plugin.validate(write(configmaps, cm('apps', 'x', {}).obj), ctx)).code, 422);
    assert.equal(plugin.handles(write(validatingadmissionpolicies, policy('x', {}).obj)), false);
  });

  test('authorizer: the requesting user, a named resource, a service account, the request resource', () => {
    const seen: string[] = [];
    const authz = new ValidatingAdmissionPolicyPlugin({
      resolveKind: () => undefined,
      authorize: (a) => {
        seen.push(`${a.user.username} ${a.verb} ${a.apiGroup}/${a.resource}/${a.subresource} ${a.namespace}/${a.name}`);
        return { decision: a.user.username === 'alice' && a.verb === 'approve' ? 'allow' : 'deny', reason: 'no rule' };
      },
    });
    const ctx = context([
      policy('p', {
        matchConstraints: deploymentRules,
        validations: [
          { expression: "authorizer.group('apps').resource('deployments').namespace(object.metadata.namespace).name('web').check('approve').allowed()", message: 'needs approve' },
          { expression: "!authorizer.serviceAccount('kube-system', 'robot').group('').resource('pods').check('list').allowed()" },
          { expression: "authorizer.requestResource.subresource('scale').check('update').reason() == 'no rule'" },
        ],
      }),
      binding('b', { policyName: 'p', validationActions: ['Deny'] }),
    ]);
    assert.equal(authz.validate(write(deployments, deployment(1)), ctx), undefined);
    assert.deepEqual(seen, ['alice approve apps/deployments/ apps/web', 'system:serviceaccount:kube-system:robot list /pods/ /', 'alice update apps/deployments/scale apps/web']);
    const bob = write(deployments, deployment(1));
    bob.user = { username: 'bob', groups: [] };
    assert.match(refusal(() => authz.validate(bob, ctx)).message, /denied request: needs approve$/);
  });

  test('auditAnnotations are evaluated; an error in one follows failurePolicy', () => {
    const spec = (failurePolicy: string, valueExpression: string) => ({ failurePolicy, matchConstraints: deploymentRules, auditAnnotations: [{ key: 'replicas', valueExpression }] });
    const ok = context([policy('p', spec('Fail', "'replicas=' + string(object.spec.replicas)")), binding('b', { policyName: 'p', validationActions: ['Audit'] })]);
    assert.equal(plugin.validate(write(deployments, deployment(3)), ok), undefined);
    const broken = context([policy('p', spec('Fail', 'string(object.spec.nope)')), binding('b', { policyName: 'p', validationActions: ['Deny'] })]);
    assert.match(refusal(() => plugin.validate(write(deployments, deployment(3)), broken)).message, /denied request: valueExpression 'string\(object\.spec\.nope\)' resulted in error: no such key: nope$/);
  });

  test('Audit failures and auditAnnotations go to the audit event in upstream keys and shapes', () => {
    const ctx = context([
      policy('limit', {
        matchConstraints: deploymentRules,
        validations: [{ expression: 'true' }, { expression: 'object.spec.replicas <= 5', message: 'too many' }],
        auditAnnotations: [{ key: 'replicas', valueExpression: 'string(object.spec.replicas)' }, { key: 'skipped', valueExpression: 'null' }, { key: 'empty', valueExpression: "''" }],
      }),
      binding('a-audit', { policyName: 'limit', validationActions: ['Audit', 'Warn'] }),
      binding('b-audit', { policyName: 'limit', validationActions: ['Audit'] }),
      ns('apps'),
    ]);
    const recorded: [string, string, string | undefined][] = [];
    const attrs = { ...write(deployments, deployment(9)), annotate: (k: string, v: string, level?: string) => void recorded.push([k, v, level]) };
    assert.equal(plugin.validate(attrs, ctx), undefined);
    const failure = (b: string) => JSON.stringify([{ message: 'too many', policy: 'limit', binding: b, expressionIndex: 1, validationActions: b === 'a-audit' ? ['Audit', 'Warn'] : ['Audit'] }]);
    // Both bindings offer the failure annotation (the audit log keeps the first); the same value of two bindings is one.
    assert.deepEqual(recorded, [
      ['validation.policy.admission.k8s.io/validation_failure', failure('a-audit'), undefined],
      ['validation.policy.admission.k8s.io/validation_failure', failure('b-audit'), undefined],
      ['limit/replicas', '9', undefined],
    ]);
    // Without an audit event nothing is built, and the request is admitted the same.
    assert.equal(plugin.validate(write(deployments, deployment(9)), ctx), undefined);
  });

  test('an expression over the per-call cost limit is an evaluation error in upstream words: failurePolicy decides', () => {
    const rules = { resourceRules: [{ apiGroups: [''], apiVersions: ['v1'], operations: ['CREATE'], resources: ['configmaps'] }] };
    const quadratic = "object.data.all(a, object.data.all(b, a == b || object.data[a] != ''))";
    const ctx = (failurePolicy: string) => context([policy('p', { failurePolicy, matchConstraints: rules, validations: [{ expression: quadratic }] }), binding('b', { policyName: 'p', validationActions: ['Deny'] }), ns('apps')]);
    const data = Object.fromEntries(Array.from({ length: 600 }, (_, i) => [`k${i}`, 'v']));
    const big = { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'big', namespace: 'apps' }, data } as KubeObject;
    const e = refusal(() => plugin.validate(write(configmaps, big), ctx('Fail')));
    assert.equal(e.message, `configmaps "big" is forbidden: ValidatingAdmissionPolicy 'p' with binding 'b' denied request: expression '${quadratic}' resulted in error: operation cancelled: actual cost limit exceeded`);
    assert.equal(plugin.validate(write(configmaps, big), ctx('Ignore')), undefined);
    // A small object is evaluated in full.
    const small = { ...big, data: { a: 'x', b: 'y' } } as KubeObject;
    assert.equal(plugin.validate(write(configmaps, small), ctx('Fail')), undefined);
  });

  test('validations that together spend more than the budget stop the binding: failurePolicy decides', () => {
    const rules = { resourceRules: [{ apiGroups: [''], apiVersions: ['v1'], operations: ['CREATE'], resources: ['configmaps'] }] };
    const validations = Array.from({ length: 11 }, () => ({ expression: "object.data.all(a, !object.data.exists(b, b == ''))" }));
    const ctx = (failurePolicy: string, n: number) => context([policy('p', { failurePolicy, matchConstraints: rules, validations: validations.slice(0, n) }), binding('b', { policyName: 'p', validationActions: ['Deny'] }), ns('apps')]);
    const data = Object.fromEntries(Array.from({ length: 480 }, (_, i) => [`k${i}`, 'v']));
    const cmap = { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'many', namespace: 'apps' }, data } as KubeObject;
    const e = refusal(() => plugin.validate(write(configmaps, cmap), ctx('Fail', 11)));
    assert.equal(e.message, `configmaps "many" is forbidden: ValidatingAdmissionPolicy 'p' with binding 'b' denied request: validation failed due to running out of cost budget, no further validation rules will be run`);
    assert.equal(plugin.validate(write(configmaps, cmap), ctx('Ignore', 11)), undefined);
    assert.equal(plugin.validate(write(configmaps, cmap), ctx('Fail', 10)), undefined, 'ten fit the budget');
  });
});
