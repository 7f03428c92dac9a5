import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseRequestInfo } from './request-info.js';

// Cases from kube-apiserver's requestinfo_test.go shapes: verb, group, version, namespace, resource, name, subresource.
const cases: [string, string, string, Record<string, unknown>][] = [
  ['GET', '/api/v1/namespaces', '', { verb: 'list', apiGroup: '', apiVersion: 'v1', namespace: '', resource: 'namespaces', name: '' }],
  ['GET', '/api/v1/namespaces/other', '', { verb: 'get', namespace: 'other', resource: 'namespaces', name: 'other' }],
  ['PUT', '/api/v1/namespaces/other/finalize', '', { verb: 'update', namespace: 'other', resource: 'namespaces', name: 'other', subresource: 'finalize' }],
  ['GET', '/api/v1/namespaces/other/pods', '', { verb: 'list', namespace: 'other', resource: 'pods' }],
  ['GET', '/api/v1/namespaces/other/pods', 'watch=true', { verb: 'watch', resource: 'pods' }],
  ['GET', '/api/v1/namespaces/other/pods', 'watch=false', { verb: 'list' }],
  ['GET', '/api/v1/watch/namespaces/other/pods', '', { verb: 'watch', namespace: 'other', resource: 'pods' }],
  ['GET', '/api/v1/pods', '', { verb: 'list', namespace: '', resource: 'pods' }],
  ['HEAD', '/api/v1/namespaces/other/pods/foo', '', { verb: 'get', name: 'foo' }],
  ['POST', '/api/v1/namespaces/other/pods', '', { verb: 'create', name: '' }],
  ['POST', '/api/v1/namespaces/other/pods/foo/binding', '', { verb: 'create', name: 'foo', subresource: 'binding' }],
  ['GET', '/api/v1/namespaces/other/pods/foo/proxy/a/b', '', { verb: 'get', subresource: 'proxy', parts: ['pods', 'foo', 'proxy', 'a', 'b'] }],
  ['PATCH', '/apis/apps/v1/namespaces/other/deployments/web/scale', '', { verb: 'patch', apiGroup: 'apps', resource: 'deployments', subresource: 'scale' }],
  ['DELETE', '/apis/apps/v1/namespaces/other/deployments', '', { verb: 'deletecollection' }],
  ['DELETE', '/apis/apps/v1/namespaces/other/deployments/web', '', { verb: 'delete', name: 'web' }],
  ['GET', '/apis/apps/v1/deployments', '', { verb: 'list', namespace: '', resource: 'deployments' }],
  ['OPTIONS', '/api/v1/namespaces/other/pods/foo/proxy/', '', { verb: 'options', name: 'foo', subresource: 'proxy' }],
  ['GET', '/api/v1/namespaces/other/pods/web%3A8080/proxy/a%20b', '', { verb: 'get', name: 'web:8080', subresource: 'proxy', parts: ['pods', 'web%3A8080', 'proxy', 'a%20b'] }],
  ['GET', '/api', '', { isResourceRequest: false, verb: 'get' }],
  ['GET', '/api/v1', '', { isResourceRequest: false }],
  ['GET', '/apis/apps', '', { isResourceRequest: false }],
  ['GET', '/apis/apps/v1', '', { isResourceRequest: false }],
  ['POST', '/version', '', { isResourceRequest: false, verb: 'post' }],
  ['GET', '/openapi/v3/apis/apps/v1', '', { isResourceRequest: false }],
];

test('parses requests as kube-apiserver RequestInfoFactory does', () => {
  for (const [method, path, query, want] of cases) {
    const got = parseRequestInfo(method, path, new URLSearchParams(query)) as unknown as Record<string, unknown>;
    for (const [k, v] of Object.entries(want)) assert.deepEqual(got[k], v, `${method} ${path}?${query}: ${k}`);
  }
});

test('a watch prefix without a resource is a 400', () => {
  assert.throws(() => parseRequestInfo('GET', '/api/v1/watch', new URLSearchParams()), (err: { code?: number }) => err.code === 400);
});
