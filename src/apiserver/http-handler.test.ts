import assert from 'node:assert/strict';
import { test } from 'node:test';
import { splitRequestUrl } from './http-handler.js';

test('splitRequestUrl gives what new URL gives, for plain targets without parsing them', () => {
  const targets = [
    '/api/v1/namespaces/default/pods',
    '/api/v1/pods?watch=1&x=a%20b',
    '/api/v1/pods?',
    '/api/v1/x%2Fy',
    '/api/ü',
    '/api/v1/pods?a=ü&b=%zz&c=%2F',
    "/api/v1/pods/a'b",
    '/api/v1/pods/a"b<>',
    '/api/v1/pods/a|b^`{}',
    '/a/./b',
    '/a/../b',
    '/a\\b',
    '/a#f',
    '//x/y',
    '/api/v1/pods/%2e%2e/x',
    '/api/v1/pods/%2E/x',
    '/api/v1/[x]',
    '/a?b#c',
    '/apis/apps/v1/namespaces/ns/deployments/web:8080/proxy/a;b=c?x=y',
  ];
  for (const target of targets) {
    const got = splitRequestUrl(target);
    const want = new URL(target, 'https://skiff');
    assert.equal(got.pathname, want.pathname, target);
    assert.equal(got.searchParams.toString(), want.searchParams.toString(), target);
  }
});
