import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { dryRunLabel, reportedVerb, requestScope, resourceOfPrefix, type RequestLabelInput } from './apiserver-metrics.js';

const base: RequestLabelInput = { method: 'GET', verb: 'get', apiGroup: '', apiVersion: 'v1', resource: 'pods', subresource: '', namespace: 'default', name: 'p', contentType: undefined, dryRun: [] };

describe('apiserver request labels (metrics.go CleanScope, CanonicalVerb, cleanVerb, cleanDryRun)', () => {
  const cases: [string, Partial<RequestLabelInput>, string, string][] = [
    ['get of one object', {}, 'GET', 'resource'],
    ['HEAD counts as GET', { method: 'HEAD' }, 'GET', 'resource'],
    ['list in a namespace', { verb: 'list', name: '' }, 'LIST', 'namespace'],
    ['list across namespaces', { verb: 'list', name: '', namespace: '' }, 'LIST', 'cluster'],
    ['watch', { verb: 'watch', name: '' }, 'WATCH', 'namespace'],
    ['create is scoped to the resource', { method: 'POST', verb: 'create', name: '' }, 'POST', 'resource'],
    ['update', { method: 'PUT', verb: 'update' }, 'PUT', 'resource'],
    ['merge patch', { method: 'PATCH', verb: 'patch', contentType: 'application/merge-patch+json' }, 'PATCH', 'resource'],
    ['apply', { method: 'PATCH', verb: 'patch', contentType: 'application/apply-patch+yaml; charset=utf-8' }, 'APPLY', 'resource'],
    ['delete', { method: 'DELETE', verb: 'delete' }, 'DELETE', 'resource'],
    ['deletecollection stays DELETE', { method: 'DELETE', verb: 'deletecollection', name: '' }, 'DELETE', 'namespace'],
    ['exec is CONNECT', { method: 'POST', verb: 'create', subresource: 'exec' }, 'CONNECT', 'resource'],
    ['log is CONNECT', { subresource: 'log' }, 'CONNECT', 'resource'],
    ['status update', { method: 'PUT', verb: 'update', subresource: 'status' }, 'PUT', 'resource'],
    ['an unknown method', { method: 'PROPFIND', verb: 'propfind' }, 'other', 'resource'],
  ];
  for (const [what, input, verb, scope] of cases) {
    it(`${what}: ${verb} ${scope}`, () => {
      const i = { ...base, ...input };
      const s = requestScope(i);
      assert.equal(s, scope);
      assert.equal(reportedVerb(i, s), verb);
    });
  }

  it('dry_run is empty, All, or invalid', () => {
    assert.equal(dryRunLabel([]), '');
    assert.equal(dryRunLabel(['All']), 'All');
    assert.equal(dryRunLabel(['All', 'All']), 'All');
    assert.equal(dryRunLabel(['Some']), 'invalid');
  });

  it('names stored resources as upstream (GroupResource.String())', () => {
    assert.equal(resourceOfPrefix('/registry/core/pods/'), 'pods');
    assert.equal(resourceOfPrefix('/registry/core/pods/ns/name'), 'pods');
    assert.equal(resourceOfPrefix('/registry/apps/deployments/'), 'deployments.apps');
    assert.equal(resourceOfPrefix('/registry/rbac.authorization.k8s.io/clusterroles/admin'), 'clusterroles.rbac.authorization.k8s.io');
    assert.equal(resourceOfPrefix('/registry/health'), undefined);
    assert.equal(resourceOfPrefix('/bootstrap/skiff'), undefined);
  });
});
