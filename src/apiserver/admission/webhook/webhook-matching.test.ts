import assert from 'node:assert/strict';
import { test } from 'node:test';
import { compileSelectors, namespaceSelectorMatches, objectSelectorMatches, ruleMatches, type MatchTarget } from './webhook-matching.js';

const pods: MatchTarget = { operation: 'CREATE', group: '', version: 'v1', resource: 'pods', subresource: '', namespace: 'default' };
const rule = (over: Record<string, unknown> = {}) => ({ operations: ['CREATE'], apiGroups: [''], apiVersions: ['v1'], resources: ['pods'], ...over });

test('rules: operations, groups, versions and resources with wildcards and subresources', () => {
  const cases: [string, Record<string, unknown>, Partial<MatchTarget>, boolean][] = [
    ['exact', {}, {}, true],
    ['other operation', {}, { operation: 'UPDATE' }, false],
    ['operation *', { operations: ['*'] }, { operation: 'DELETE' }, true],
    ['other group', {}, { group: 'apps' }, false],
    ['group *', { apiGroups: ['*'] }, { group: 'apps' }, true],
    ['other version', {}, { version: 'v2' }, false],
    ['version *', { apiVersions: ['*'] }, { version: 'v2' }, true],
    ['other resource', {}, { resource: 'services' }, false],
    ['* is main resources only', { resources: ['*'] }, { resource: 'services' }, true],
    ['* does not cover a subresource', { resources: ['*'] }, { subresource: 'status' }, false],
    ['pods does not cover pods/status', {}, { subresource: 'status' }, false],
    ['pods/status', { resources: ['pods/status'] }, { subresource: 'status' }, true],
    ['pods/* covers pods/exec', { resources: ['pods/*'] }, { subresource: 'exec' }, true],
    // rules.Matcher: a `*` subresource also matches the empty one, so `pods/*` covers pods themselves too.
    ['pods/* covers pods too (upstream matcher)', { resources: ['pods/*'] }, {}, true],
    ['*/status covers deployments/status', { apiGroups: ['*'], resources: ['*/status'] }, { group: 'apps', resource: 'deployments', subresource: 'status' }, true],
    ['*/* covers everything', { resources: ['*/*'] }, { subresource: 'eviction' }, true],
    ['*/* covers main resources', { resources: ['*/*'] }, {}, true],
    ['scope Namespaced, namespaced object', { scope: 'Namespaced' }, {}, true],
    ['scope Cluster, namespaced object', { scope: 'Cluster' }, {}, false],
    ['scope Cluster, cluster object', { scope: 'Cluster', resources: ['nodes'] }, { resource: 'nodes', namespace: '' }, true],
    ['namespaces are cluster-scoped even with a namespace', { scope: 'Namespaced', resources: ['namespaces'] }, { resource: 'namespaces', namespace: 'team-a' }, false],
    ['namespaces under scope Cluster', { scope: 'Cluster', resources: ['namespaces'] }, { resource: 'namespaces', namespace: 'team-a' }, true],
  ];
  for (const [name, r, t, want] of cases) assert.equal(ruleMatches(rule(r), { ...pods, ...t }), want, name);
});

test('selectors: empty matches all; objectSelector matches the new or the old labels; namespaceSelector on labels', () => {
  const empty = compileSelectors({});
  assert.equal(objectSelectorMatches(empty, undefined, undefined), true);
  assert.equal(namespaceSelectorMatches(empty, undefined), true);
  const sel = compileSelectors({ objectSelector: { matchLabels: { app: 'web' } }, namespaceSelector: { matchExpressions: [{ key: 'env', operator: 'In', values: ['prod'] }] } });
  const obj = (labels?: Record<string, string>) => ({ metadata: { name: 'x', labels } });
  assert.equal(objectSelectorMatches(sel, obj({ app: 'web' }), undefined), true);
  assert.equal(objectSelectorMatches(sel, obj({ app: 'db' }), undefined), false);
  assert.equal(objectSelectorMatches(sel, obj({}), obj({ app: 'web' })), true, 'removing the label is still seen');
  assert.equal(objectSelectorMatches(sel, undefined, obj({ app: 'web' })), true, 'DELETE: the old object');
  assert.equal(namespaceSelectorMatches(sel, { env: 'prod' }), true);
  assert.equal(namespaceSelectorMatches(sel, { env: 'dev' }), false);
  assert.equal(namespaceSelectorMatches(sel, {}), false);
});
