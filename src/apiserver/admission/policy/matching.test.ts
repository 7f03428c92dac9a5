/** Which requests policy matchConstraints and binding matchResources select (upstream's matching rules). */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { KubeObject } from '../../../api/object.js';
import { configmaps } from '../../registry/configmaps.js';
import { deployments } from '../../registry/deployments.js';
import { namespaces } from '../../registry/namespaces.js';
import { nodes } from '../../registry/nodes.js';
import type { ResourceDefinition } from '../../registry/types.js';
import type { AdmissionAttributes, Operation } from '../types.js';
import { matchResources, ruleMatches, type MatchResources, type NamedRuleWithOperations } from './matching.js';

function attrs(resource: ResourceDefinition, operation: Operation, opts: { subresource?: string; name?: string; namespace?: string; labels?: Record<string, string>; oldLabels?: Record<string, string> } = {}): AdmissionAttributes {
  const obj = (labels?: Record<string, string>): KubeObject => ({ apiVersion: 'v1', kind: resource.kind, metadata: { name: opts.name ?? 'x', ...(labels ? { labels } : {}) } });
  return {
    operation,
    resource,
    subresource: opts.subresource ?? '',
    namespace: opts.namespace ?? (resource.namespaced ? 'ns' : ''),
    name: opts.name ?? 'x',
    ...(operation !== 'DELETE' ? { object: obj(opts.labels) } : {}),
    ...(operation !== 'CREATE' ? { oldObject: obj(opts.oldLabels ?? opts.labels) } : {}),
    user: { username: 'u', groups: [] },
    dryRun: false,
    onFinish() {},
    warn() {},
  };
}

const rule = (r: Partial<NamedRuleWithOperations>): NamedRuleWithOperations => ({ apiGroups: ['*'], apiVersions: ['*'], operations: ['*'], resources: ['*'], ...r });

describe('policy matching: resource rules', () => {
  const cases: { name: string; rule: NamedRuleWithOperations; a: AdmissionAttributes; want: boolean }[] = [
    { name: 'exact group/version/resource', rule: rule({ apiGroups: ['apps'], apiVersions: ['v1'], resources: ['deployments'], operations: ['CREATE'] }), a: attrs(deployments, 'CREATE'), want: true },
    { name: 'other operation', rule: rule({ apiGroups: ['apps'], resources: ['deployments'], operations: ['UPDATE'] }), a: attrs(deployments, 'CREATE'), want: false },
    { name: 'other group', rule: rule({ apiGroups: [''], resources: ['deployments'] }), a: attrs(deployments, 'CREATE'), want: false },
    { name: 'a resource rule does not match its subresources', rule: rule({ resources: ['deployments'] }), a: attrs(deployments, 'UPDATE', { subresource: 'scale' }), want: false },
    { name: 'resource/subresource', rule: rule({ resources: ['deployments/scale'] }), a: attrs(deployments, 'UPDATE', { subresource: 'scale' }), want: true },
    { name: '*/scale', rule: rule({ resources: ['*/scale'] }), a: attrs(deployments, 'UPDATE', { subresource: 'scale' }), want: true },
    { name: 'deployments/* matches the main resource too (upstream splits it into deployments + any subresource)', rule: rule({ resources: ['deployments/*'] }), a: attrs(deployments, 'UPDATE'), want: true },
    { name: '*/* matches everything', rule: rule({ resources: ['*/*'] }), a: attrs(deployments, 'UPDATE', { subresource: 'status' }), want: true },
    { name: '* matches main resources only', rule: rule({ resources: ['*'] }), a: attrs(deployments, 'UPDATE', { subresource: 'status' }), want: false },
    { name: 'scope Cluster skips namespaced', rule: rule({ scope: 'Cluster' }), a: attrs(configmaps, 'CREATE'), want: false },
    { name: 'scope Cluster matches nodes', rule: rule({ scope: 'Cluster' }), a: attrs(nodes, 'CREATE'), want: true },
    { name: 'scope Namespaced skips nodes', rule: rule({ scope: 'Namespaced' }), a: attrs(nodes, 'CREATE'), want: false },
    { name: 'resourceNames', rule: rule({ resourceNames: ['a', 'b'] }), a: attrs(configmaps, 'UPDATE', { name: 'b' }), want: true },
    { name: 'resourceNames miss', rule: rule({ resourceNames: ['a'] }), a: attrs(configmaps, 'UPDATE', { name: 'b' }), want: false },
  ];
  for (const c of cases) test(c.name, () => assert.equal(ruleMatches(c.rule, c.a), c.want));
});

describe('policy matching: constraints, excludes and selectors', () => {
  const ctx = (labels?: Record<string, string>) => ({ namespaceLabels: () => labels });
  const m = (extra: Partial<MatchResources>): MatchResources => ({ resourceRules: [rule({})], ...extra });

  test('a policy without resource rules matches nothing; a binding without them matches what its policy does', () => {
    assert.equal(matchResources({}, attrs(configmaps, 'CREATE'), ctx(), true), false);
    assert.equal(matchResources({}, attrs(configmaps, 'CREATE'), ctx(), false), true);
    assert.equal(matchResources(undefined, attrs(configmaps, 'CREATE'), ctx(), false), true);
  });

  test('excludeResourceRules win', () => {
    assert.equal(matchResources(m({ excludeResourceRules: [rule({ resources: ['configmaps'] })] }), attrs(configmaps, 'CREATE'), ctx(), true), false);
    assert.equal(matchResources(m({ excludeResourceRules: [rule({ resources: ['secrets'] })] }), attrs(configmaps, 'CREATE'), ctx(), true), true);
  });

  test('namespaceSelector: the namespace labels, the implicit name label, Namespaces by their own labels, cluster-scoped pass', () => {
    const sel = m({ namespaceSelector: { matchLabels: { env: 'test' } } });
    assert.equal(matchResources(sel, attrs(configmaps, 'CREATE'), ctx({ env: 'test' }), true), true);
    assert.equal(matchResources(sel, attrs(configmaps, 'CREATE'), ctx({ env: 'prod' }), true), false);
    assert.equal(matchResources(sel, attrs(configmaps, 'CREATE'), ctx(undefined), true), false);
    assert.equal(matchResources(m({ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'ns' } } }), attrs(configmaps, 'CREATE'), ctx({}), true), true);
    assert.equal(matchResources(sel, attrs(namespaces, 'CREATE', { labels: { env: 'test' } }), ctx(), true), true);
    assert.equal(matchResources(sel, attrs(namespaces, 'CREATE', { labels: { env: 'x' } }), ctx(), true), false);
    assert.equal(matchResources(sel, attrs(nodes, 'CREATE'), ctx(), true), true);
    assert.equal(matchResources(m({ namespaceSelector: {} }), attrs(configmaps, 'CREATE'), ctx(undefined), true), true, 'an empty selector matches all');
  });

  test('objectSelector: the new or the old object', () => {
    const sel = m({ objectSelector: { matchExpressions: [{ key: 'team', operator: 'In', values: ['a'] }] } });
    assert.equal(matchResources(sel, attrs(configmaps, 'CREATE', { labels: { team: 'a' } }), ctx(), true), true);
    assert.equal(matchResources(sel, attrs(configmaps, 'CREATE', { labels: { team: 'b' } }), ctx(), true), false);
    assert.equal(matchResources(sel, attrs(configmaps, 'UPDATE', { labels: { team: 'b' }, oldLabels: { team: 'a' } }), ctx(), true), true);
    assert.equal(matchResources(sel, attrs(configmaps, 'DELETE', { labels: { team: 'a' } }), ctx(), true), true);
  });
});
