import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { ClusterRole, ClusterRoleBinding } from 'kubernetes-types/rbac/v1.js';
import type { KubeObject } from '../../../api/object.js';
import { isStatusError } from '../../../api/status.js';
import type { AuthorizationAttributes } from '../authorizer.js';
import { validateBinding, validatePolicyRules } from '../../registry/rbac-rules.js';
import { bootstrapClusterRoleBindings, bootstrapClusterRoles, bootstrapRoleBindings, bootstrapRoles } from './bootstrap-policy.js';
import { computeAggregatedRules } from './cluster-role-aggregator.js';
import { escalationMessage } from './escalation-check.js';
import { impersonatedUser } from './impersonation.js';
import { RbacAuthorizer } from './rbac-authorizer.js';
import { RbacIndex } from './rbac-index.js';
import { computeReconciledBinding, computeReconciledRole } from './reconcile-policy.js';
import { compactString, covers } from './rule-coverage.js';

const role = (name: string) => structuredClone(bootstrapClusterRoles.find((r) => r.metadata?.name === name)!);

/** The bootstrap policy with aggregated roles filled in, as the aggregator leaves it. */
function bootstrapIndex(): RbacIndex {
  const index = new RbacIndex();
  const roles = bootstrapClusterRoles.map((r) => structuredClone(r));
  for (const r of roles) if (r.aggregationRule) r.rules = [];
  // Aggregation chains (view -> edit -> admin): repeat until stable.
  for (let i = 0; i < 3; i++) for (const r of roles) if (r.aggregationRule) r.rules = computeAggregatedRules(r, roles);
  for (const r of roles) index.upsert('ClusterRole', r as unknown as KubeObject);
  for (const b of bootstrapClusterRoleBindings) index.upsert('ClusterRoleBinding', b as unknown as KubeObject);
  return index;
}

describe('rule coverage', () => {
  it('covers by verb, group, resource, subresource wildcard, names and URLs', () => {
    const owner = [
      { verbs: ['get', 'list'], apiGroups: [''], resources: ['pods', '*/status'] },
      { verbs: ['get'], apiGroups: [''], resources: ['configmaps'], resourceNames: ['a'] },
      { verbs: ['get'], nonResourceURLs: ['/logs/*'] },
    ];
    assert.equal(covers(owner, [{ verbs: ['list'], apiGroups: [''], resources: ['pods', 'pods/status'] }]).covered, true);
    assert.equal(covers(owner, [{ verbs: ['get'], apiGroups: [''], resources: ['configmaps'], resourceNames: ['a'] }]).covered, true);
    assert.equal(covers(owner, [{ verbs: ['get'], apiGroups: [''], resources: ['configmaps'] }]).covered, false, 'names held do not cover every name');
    assert.equal(covers(owner, [{ verbs: ['get'], nonResourceURLs: ['/logs/x'] }]).covered, true);
    const { missing } = covers(owner, [{ verbs: ['get', 'delete'], apiGroups: ['', 'apps'], resources: ['pods'] }]);
    assert.deepEqual(missing.map(compactString), ['{APIGroups:[""], Resources:["pods"], Verbs:["delete"]}', '{APIGroups:["apps"], Resources:["pods"], Verbs:["get"]}', '{APIGroups:["apps"], Resources:["pods"], Verbs:["delete"]}']);
  });
});

describe('bootstrap policy', () => {
  const rbac = new RbacAuthorizer(bootstrapIndex());

  it('passes the API validation, names unique, every binding to a role of the policy', () => {
    const names = new Set<string>();
    for (const r of bootstrapClusterRoles) {
      assert.deepEqual(validatePolicyRules(r.rules, false), [], r.metadata?.name);
      assert.ok(!names.has(r.metadata!.name!), `duplicate ${r.metadata?.name}`);
      names.add(r.metadata!.name!);
    }
    for (const b of bootstrapClusterRoleBindings) {
      assert.deepEqual(validateBinding(b, false), [], b.metadata?.name);
      assert.ok(names.has(b.roleRef.name), `${b.metadata?.name} binds the missing ${b.roleRef.name}`);
    }
    for (const r of bootstrapRoles) assert.deepEqual(validatePolicyRules(r.rules, true), [], r.metadata?.name);
    for (const b of bootstrapRoleBindings) {
      assert.deepEqual(validateBinding(b, true), [], b.metadata?.name);
      assert.ok(bootstrapRoles.some((r) => r.metadata?.name === b.roleRef.name && r.metadata?.namespace === b.metadata?.namespace));
    }
  });
  const user = (name: string, ...groups: string[]) => ({ username: name, groups: [...groups, 'system:authenticated'] });
  const can = (u: ReturnType<typeof user>, verb: string, resource: string, ns = 'default', apiGroup = '') => {
    const [res, sub = ''] = resource.split('/');
    return rbac.authorize({ user: u, verb, isResourceRequest: true, path: '', apiGroup, apiVersion: 'v1', resource: res, subresource: sub, namespace: ns, name: '' }).decision === 'allow';
  };

  it('aggregates view into edit into admin, and view cannot read secrets', () => {
    const index = bootstrapIndex();
    const view = index.clusterRole('view')!.rules!;
    const edit = index.clusterRole('edit')!.rules!;
    const admin = index.clusterRole('admin')!.rules!;
    assert.ok(covers(edit, view).covered && covers(admin, edit).covered);
    assert.equal(covers(view, [{ verbs: ['get'], apiGroups: [''], resources: ['secrets'] }]).covered, false);
    assert.equal(covers(edit, [{ verbs: ['create'], apiGroups: ['rbac.authorization.k8s.io'], resources: ['rolebindings'] }]).covered, false);
    assert.equal(covers(admin, [{ verbs: ['create'], apiGroups: ['rbac.authorization.k8s.io'], resources: ['rolebindings'] }]).covered, true);
  });

  it('gives the control-plane users, nodes and everyone their documented access', () => {
    assert.equal(can(user('system:kube-scheduler'), 'create', 'pods/binding'), true);
    assert.equal(can(user('system:kube-scheduler'), 'create', 'secrets'), false);
    assert.equal(can(user('system:kube-controller-manager'), 'list', 'deployments', '', 'apps'), true);
    // Nodes get nothing from RBAC: the Node authorizer decides for them (upstream's system:node binding names nobody).
    assert.equal(can(user('system:node:n1', 'system:nodes'), 'update', 'pods/status'), false);
    assert.equal(can(user('system:node:n1', 'system:nodes'), 'get', 'secrets'), false);
    assert.equal(can(user('system:kube-proxy'), 'list', 'endpointslices', '', 'discovery.k8s.io'), true);
    assert.equal(can(user('alice'), 'create', 'selfsubjectaccessreviews', '', 'authorization.k8s.io'), true);
    assert.equal(can(user('alice'), 'list', 'pods'), false);
    const nonResource = (p: string, groups: string[]) => rbac.authorize({ user: { username: 'x', groups }, verb: 'get', isResourceRequest: false, path: p, apiGroup: '', apiVersion: '', resource: '', subresource: '', namespace: '', name: '' }).decision;
    assert.equal(nonResource('/version', ['system:unauthenticated']), 'allow');
    assert.equal(nonResource('/apis/apps/v1', ['system:unauthenticated']), 'noOpinion');
    assert.equal(nonResource('/apis/apps/v1', ['system:authenticated']), 'allow');
  });

  it('reconciling keeps what users added, adds what is missing, and respects autoupdate=false', () => {
    const existing = role('system:node-proxier') as ClusterRole;
    existing.rules = [existing.rules![0], { verbs: ['get'], apiGroups: ['example.com'], resources: ['widgets'] }];
    existing.metadata!.labels = { mine: 'yes' };
    const next = computeReconciledRole(existing, role('system:node-proxier'))!;
    assert.ok(covers(next.rules!, role('system:node-proxier').rules!).covered);
    assert.ok(next.rules!.some((r) => r.apiGroups?.[0] === 'example.com'));
    assert.equal(next.metadata?.labels?.mine, 'yes');
    assert.equal(next.metadata?.labels?.['kubernetes.io/bootstrapping'], 'rbac-defaults');
    assert.equal(computeReconciledRole(next, role('system:node-proxier')), undefined, 'a reconciled role needs nothing more');
    existing.metadata!.annotations = { 'rbac.authorization.kubernetes.io/autoupdate': 'false' };
    assert.equal(computeReconciledRole(existing, role('system:node-proxier')), undefined);

    const b = structuredClone(bootstrapClusterRoleBindings.find((x) => x.metadata?.name === 'system:discovery')!) as ClusterRoleBinding;
    const mine = { ...b, subjects: [{ kind: 'User', apiGroup: 'rbac.authorization.k8s.io', name: 'extra' }] };
    const reconciled = computeReconciledBinding(mine, b) as ClusterRoleBinding;
    assert.deepEqual(reconciled.subjects!.map((s) => s.name), ['extra', 'system:authenticated']);
    assert.equal(computeReconciledBinding({ ...b, roleRef: { ...b.roleRef, name: 'other' } }, b), 'recreate');
  });
});

describe('escalation message', () => {
  it('lists the rules not held, in upstream words', () => {
    const index = bootstrapIndex();
    index.upsert('RoleBinding', { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'RoleBinding', metadata: { name: 'e', namespace: 'dev' }, roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'edit' }, subjects: [{ kind: 'User', name: 'eddie' }] } as unknown as KubeObject);
    const rbac = new RbacAuthorizer(index);
    const eddie = { username: 'eddie', groups: ['system:authenticated'] };
    assert.equal(escalationMessage(rbac, eddie, 'dev', [{ verbs: ['get'], apiGroups: [''], resources: ['pods'] }]), undefined);
    assert.equal(
      escalationMessage(rbac, eddie, 'dev', [{ verbs: ['get', 'list'], apiGroups: [''], resources: ['nodes'] }]),
      'user "eddie" (groups=["system:authenticated"]) is attempting to grant RBAC permissions not currently held:\n{APIGroups:[""], Resources:["nodes"], Verbs:["get" "list"]}',
    );
    assert.ok(escalationMessage(rbac, eddie, 'other', [{ verbs: ['get'], apiGroups: [''], resources: ['pods'] }]), 'edit in dev is not edit elsewhere');
  });
});

describe('impersonation', () => {
  const allowOnly = (allowed: string[]) => (a: AuthorizationAttributes) => ({ decision: allowed.includes(`${a.resource}${a.subresource ? '/' + a.subresource : ''}:${a.namespace ? a.namespace + '/' : ''}${a.name}`) ? ('allow' as const) : ('noOpinion' as const) });
  const alice = { username: 'alice', groups: ['system:authenticated'] };

  it('acts as the user and groups asked for once each is authorized', async () => {
    const u = await impersonatedUser({ 'impersonate-user': 'bob', 'impersonate-group': 'devs' }, alice, allowOnly(['users:bob', 'groups:devs']));
    assert.deepEqual(u, { username: 'bob', groups: ['devs', 'system:authenticated'] });
    const sa = await impersonatedUser({ 'impersonate-user': 'system:serviceaccount:ns1:robot' }, alice, allowOnly(['serviceaccounts:ns1/robot']));
    assert.deepEqual(sa.groups, ['system:serviceaccounts', 'system:serviceaccounts:ns1', 'system:authenticated']);
    const extra = await impersonatedUser({ 'impersonate-user': 'bob', 'impersonate-extra-scopes': 'view, edit' }, alice, allowOnly(['users:bob', 'userextras/scopes:view', 'userextras/scopes:edit']));
    assert.deepEqual(extra.extra, { scopes: ['view', 'edit'] });
  });

  it('refuses in kube-apiserver words', async () => {
    await assert.rejects(impersonatedUser({ 'impersonate-user': 'bob', 'impersonate-group': 'system:masters' }, alice, allowOnly(['users:bob'])), (err) => {
      assert.ok(isStatusError(err) && err.code === 403);
      assert.equal(err.message, 'groups "system:masters" is forbidden: User "alice" cannot impersonate resource "groups" in API group "" at the cluster scope');
      return true;
    });
    await assert.rejects(impersonatedUser({ 'impersonate-group': 'devs' }, alice, allowOnly([])), (err) => isStatusError(err) && err.code === 400 && /without impersonating a user/.test(err.message));
  });
});
