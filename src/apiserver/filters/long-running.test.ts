import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isHealthPath, isLongRunningRequest, isMutatingRequest } from './long-running.js';

describe('isLongRunningRequest', () => {
  const cases: [string, boolean][] = [
    ['/api/v1/namespaces/default/pods?watch=true', true],
    ['/api/v1/pods?watch=1&resourceVersion=5', true],
    ['/api/v1/pods?watch=false', false],
    ['/api/v1/watch/namespaces/default/pods', true],
    ['/api/v1/namespaces/default/pods/p/exec?command=sh', true],
    ['/api/v1/namespaces/default/pods/p/attach', true],
    ['/api/v1/namespaces/default/pods/p/portforward', true],
    ['/api/v1/namespaces/default/pods/p/log?follow=true', true],
    ['/api/v1/namespaces/default/pods/p/log', true],
    ['/api/v1/nodes/n1/proxy/metrics', true],
    ['/api/v1/namespaces/default/services/web:80/proxy/', true],
    ['/api/v1/namespaces/default/pods/p', false],
    ['/api/v1/namespaces/default/pods/p/status', false],
    ['/apis/apps/v1/deployments', false],
    ['/version', false],
    ['/openapi/v2', false],
  ];
  for (const [url, want] of cases) {
    it(`${url} -> ${want}`, () => assert.equal(isLongRunningRequest({ url }), want));
  }
});

describe('isMutatingRequest and isHealthPath', () => {
  it('counts every method but GET, HEAD and OPTIONS as a write', () => {
    for (const m of ['POST', 'PUT', 'PATCH', 'DELETE']) assert.equal(isMutatingRequest({ method: m }), true, m);
    for (const m of ['GET', 'HEAD', 'OPTIONS']) assert.equal(isMutatingRequest({ method: m }), false, m);
  });
  it('knows the health endpoints and their individual checks', () => {
    for (const p of ['/healthz', '/livez', '/readyz', '/readyz/etcd', '/livez/ping']) assert.equal(isHealthPath(p), true, p);
    for (const p of ['/readyzz', '/api/v1/healthz', '/version']) assert.equal(isHealthPath(p), false, p);
  });
});
