import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { KubeObject } from '../../../api/object.js';
import type { AuthorizationAttributes } from '../authorizer.js';
import { forbiddenError } from '../authorizer.js';
import type { UserInfo } from '../user-info.js';
import { privilegedGroupsAuthorizer, unionAuthorizer } from './authorizer-chain.js';
import { RbacAuthorizer } from './rbac-authorizer.js';
import { RbacIndex, type RbacKind } from './rbac-index.js';

const RBAC = 'rbac.authorization.k8s.io';
const obj = (kind: RbacKind, name: string, namespace: string | undefined, body: Record<string, unknown>) =>
  ({ apiVersion: `${RBAC}/v1`, kind, metadata: { name, ...(namespace ? { namespace } : {}) }, ...body }) as unknown as KubeObject;

function policy(): RbacIndex {
  const index = new RbacIndex();
  index.upsert('ClusterRole', obj('ClusterRole', 'pod-reader', undefined, { rules: [{ verbs: ['get', 'list', 'watch'], apiGroups: [''], resources: ['pods', 'pods/log'] }] }));
  index.upsert('ClusterRole', obj('ClusterRole', 'scaler', undefined, { rules: [{ verbs: ['update'], apiGroups: ['*'], resources: ['*/scale'] }] }));
  index.upsert('ClusterRole', obj('ClusterRole', 'health', undefined, { rules: [{ verbs: ['get'], nonResourceURLs: ['/healthz', '/logs/*'] }] }));
  index.upsert('Role', obj('Role', 'cm-one', 'team-a', { rules: [{ verbs: ['get', 'update'], apiGroups: [''], resources: ['configmaps'], resourceNames: ['settings'] }] }));
  index.upsert('Role', obj('Role', 'deploys', 'team-a', { rules: [{ verbs: ['*'], apiGroups: ['apps'], resources: ['deployments'] }] }));
  // alice reads pods in team-a only; the team-a group edits deployments there; bob everywhere.
  index.upsert('RoleBinding', obj('RoleBinding', 'alice-pods', 'team-a', { roleRef: { apiGroup: RBAC, kind: 'ClusterRole', name: 'pod-reader' }, subjects: [{ kind: 'User', apiGroup: RBAC, name: 'alice' }] }));
  index.upsert('RoleBinding', obj('RoleBinding', 'team-deploys', 'team-a', { roleRef: { apiGroup: RBAC, kind: 'Role', name: 'deploys' }, subjects: [{ kind: 'Group', apiGroup: RBAC, name: 'team-a' }] }));
  index.upsert('RoleBinding', obj('RoleBinding', 'cm', 'team-a', { roleRef: { apiGroup: RBAC, kind: 'Role', name: 'cm-one' }, subjects: [{ kind: 'ServiceAccount', name: 'builder' }] }));
  index.upsert('ClusterRoleBinding', obj('ClusterRoleBinding', 'bob-pods', undefined, { roleRef: { apiGroup: RBAC, kind: 'ClusterRole', name: 'pod-reader' }, subjects: [{ kind: 'User', apiGroup: RBAC, name: 'bob' }] }));
  index.upsert('ClusterRoleBinding', obj('ClusterRoleBinding', 'bob-scale', undefined, { roleRef: { apiGroup: RBAC, kind: 'ClusterRole', name: 'scaler' }, subjects: [{ kind: 'User', apiGroup: RBAC, name: 'bob' }] }));
  index.upsert('ClusterRoleBinding', obj('ClusterRoleBinding', 'sa-health', undefined, { roleRef: { apiGroup: RBAC, kind: 'ClusterRole', name: 'health' }, subjects: [{ kind: 'Group', apiGroup: RBAC, name: 'system:serviceaccounts:team-a' }] }));
  index.upsert('ClusterRoleBinding', obj('ClusterRoleBinding', 'dangling', undefined, { roleRef: { apiGroup: RBAC, kind: 'ClusterRole', name: 'no-such-role' }, subjects: [{ kind: 'User', apiGroup: RBAC, name: 'carol' }] }));
  return index;
}

const users: Record<string, UserInfo> = {
  alice: { username: 'alice', groups: ['system:authenticated'] },
  bob: { username: 'bob', groups: ['system:authenticated'] },
  carol: { username: 'carol', groups: ['system:authenticated'] },
  dev: { username: 'dave', groups: ['team-a', 'system:authenticated'] },
  builder: { username: 'system:serviceaccount:team-a:builder', groups: ['system:serviceaccounts', 'system:serviceaccounts:team-a', 'system:authenticated'] },
  otherBuilder: { username: 'system:serviceaccount:team-b:builder', groups: ['system:serviceaccounts', 'system:serviceaccounts:team-b', 'system:authenticated'] },
  admin: { username: 'root', groups: ['system:masters', 'system:authenticated'] },
};

function req(user: UserInfo, verb: string, resource: string, namespace = '', extra: Partial<AuthorizationAttributes> = {}): AuthorizationAttributes {
  const [res, sub = ''] = resource.split('/');
  return { user, verb, isResourceRequest: true, path: '', apiGroup: '', apiVersion: 'v1', resource: res, subresource: sub, namespace, name: '', ...extra };
}
const path = (user: UserInfo, p: string, verb = 'get'): AuthorizationAttributes => ({ user, verb, isResourceRequest: false, path: p, apiGroup: '', apiVersion: '', resource: '', subresource: '', namespace: '', name: '' });

describe('RBAC authorizer', () => {
  const rbac = new RbacAuthorizer(policy());
  const cases: [string, AuthorizationAttributes, boolean][] = [
    ['RoleBinding to a ClusterRole grants in its namespace', req(users.alice, 'list', 'pods', 'team-a'), true],
    ['... and not in another namespace', req(users.alice, 'list', 'pods', 'team-b'), false],
    ['... nor cluster-wide', req(users.alice, 'list', 'pods'), false],
    ['listed subresource', req(users.alice, 'get', 'pods/log', 'team-a'), true],
    ['a subresource not listed is not the resource', req(users.alice, 'create', 'pods/exec', 'team-a'), false],
    ['verbs are exact', req(users.alice, 'delete', 'pods', 'team-a'), false],
    ['ClusterRoleBinding grants in every namespace', req(users.bob, 'watch', 'pods', 'kube-system'), true],
    ['ClusterRoleBinding grants cluster-wide', req(users.bob, 'list', 'pods'), true],
    ['*/scale matches any resource’s scale', req(users.bob, 'update', 'deployments/scale', 'x', { apiGroup: 'apps' }), true],
    ['*/scale is not the resource', req(users.bob, 'update', 'deployments', 'x', { apiGroup: 'apps' }), false],
    ['group subject and verb *', req(users.dev, 'deletecollection', 'deployments', 'team-a', { apiGroup: 'apps' }), true],
    ['API group must match', req(users.dev, 'get', 'deployments', 'team-a', { apiGroup: 'extensions' }), false],
    ['resourceNames: the named object', req(users.builder, 'get', 'configmaps', 'team-a', { name: 'settings' }), true],
    ['resourceNames: another object', req(users.builder, 'get', 'configmaps', 'team-a', { name: 'other' }), false],
    ['resourceNames: list has no name', req(users.builder, 'list', 'configmaps', 'team-a'), false],
    ['SA subject defaults to the binding namespace', req(users.otherBuilder, 'get', 'configmaps', 'team-a', { name: 'settings' }), false],
    ['system:serviceaccounts:<ns> group, exact URL', path(users.builder, '/healthz'), true],
    ['trailing * URL', path(users.builder, '/logs/kube/a.log'), true],
    ['URL prefix without *', path(users.builder, '/healthz/etcd'), false],
    ['URL verb', path(users.builder, '/healthz', 'post'), false],
    ['no binding', req(users.carol, 'get', 'pods', 'team-a'), false],
  ];
  for (const [name, attrs, allowed] of cases) {
    it(name, () => assert.equal(rbac.authorize(attrs).decision, allowed ? 'allow' : 'noOpinion'));
  }

  it('says which binding allowed, in upstream words', () => {
    assert.deepEqual(rbac.authorize(req(users.alice, 'get', 'pods', 'team-a')), { decision: 'allow', reason: 'RBAC: allowed by RoleBinding "alice-pods/team-a" of ClusterRole "pod-reader" to User "alice"' });
    assert.match((rbac.authorize(req(users.builder, 'get', 'configmaps', 'team-a', { name: 'settings' })) as { reason: string }).reason, /to ServiceAccount "builder\/team-a"$/);
  });

  it('a binding to a missing role grants nothing and is the reason', () => {
    const d = rbac.authorize(req(users.carol, 'get', 'pods', 'team-a'));
    assert.deepEqual(d, { decision: 'noOpinion', reason: 'RBAC: clusterrole.rbac.authorization.k8s.io "no-such-role" not found' });
    assert.equal(forbiddenError(req(users.carol, 'get', 'pods', 'team-a'), d.reason).message, 'pods is forbidden: User "carol" cannot get resource "pods" in API group "" in the namespace "team-a": RBAC: clusterrole.rbac.authorization.k8s.io "no-such-role" not found');
  });

  it('follows changes: a deleted binding stops granting, a re-created role grants again', () => {
    const index = policy();
    const auth = new RbacAuthorizer(index);
    const a = req(users.alice, 'get', 'pods', 'team-a');
    assert.equal(auth.authorize(a).decision, 'allow');
    index.remove('ClusterRole', obj('ClusterRole', 'pod-reader', undefined, {}));
    assert.equal(auth.authorize(a).decision, 'noOpinion');
    index.upsert('ClusterRole', obj('ClusterRole', 'pod-reader', undefined, { rules: [{ verbs: ['get'], apiGroups: [''], resources: ['pods'] }] }));
    assert.equal(auth.authorize(a).decision, 'allow');
    // A binding changed to name someone else no longer grants alice.
    index.upsert('RoleBinding', obj('RoleBinding', 'alice-pods', 'team-a', { roleRef: { apiGroup: RBAC, kind: 'ClusterRole', name: 'pod-reader' }, subjects: [{ kind: 'User', apiGroup: RBAC, name: 'eve' }] }));
    assert.equal(auth.authorize(a).decision, 'noOpinion');
    assert.equal(auth.authorize(req({ username: 'eve', groups: [] }, 'get', 'pods', 'team-a')).decision, 'allow');
    index.remove('RoleBinding', obj('RoleBinding', 'alice-pods', 'team-a', {}));
    assert.equal(auth.authorize(req({ username: 'eve', groups: [] }, 'get', 'pods', 'team-a')).decision, 'noOpinion');
    assert.equal(index.size.roleBindings, 2);
  });

  it('system:masters is allowed before RBAC is asked; the union denies with the reasons of the rest', async () => {
    const chain = unionAuthorizer([privilegedGroupsAuthorizer, rbac]);
    assert.equal((await chain.authorize(req(users.admin, 'delete', 'nodes'))).decision, 'allow');
    assert.deepEqual(await chain.authorize(req(users.carol, 'get', 'pods')), { decision: 'noOpinion', reason: 'RBAC: clusterrole.rbac.authorization.k8s.io "no-such-role" not found' });
  });

  it('rulesFor lists cluster-wide rules, and namespaced ones for a namespace', () => {
    assert.equal(rbac.rulesFor(users.alice, '').rules.length, 0);
    assert.deepEqual(rbac.rulesFor(users.alice, 'team-a').rules, [{ verbs: ['get', 'list', 'watch'], apiGroups: [''], resources: ['pods', 'pods/log'] }]);
    assert.deepEqual(rbac.rulesFor(users.carol, '').errors, ['clusterrole.rbac.authorization.k8s.io "no-such-role" not found']);
  });
});
