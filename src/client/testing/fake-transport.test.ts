import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { TransportHttpError } from '../transport.js';
import { FakeClient } from './fake-client.js';
import { FakeTransport } from './fake-transport.js';

describe('FakeTransport (the wire edges the conformance suite does not reach)', () => {
  const t = new FakeTransport(new FakeClient());
  const q = () => new URLSearchParams();

  const rows: [string, string, string, { contentType: string; data: string } | undefined, number, string][] = [
    ['an unknown resource is a 404 Status', 'GET', '/apis/example.com/v1/namespaces/ns/widgets', undefined, 404, 'NotFound'],
    ['a path outside the API is a 404 Status', 'GET', '/healthz', undefined, 404, 'NotFound'],
    ['a patch in an unknown media type is 415', 'PATCH', '/api/v1/namespaces/ns/configmaps/a', { contentType: 'text/plain', data: '{}' }, 415, 'UnsupportedMediaType'],
    ['a body that is not JSON is 400', 'POST', '/api/v1/namespaces/ns/configmaps', { contentType: 'application/json', data: '{' }, 400, 'BadRequest'],
    ['PUT on a collection is 405', 'PUT', '/api/v1/namespaces/ns/configmaps', { contentType: 'application/json', data: '{}' }, 405, 'MethodNotAllowed'],
  ];
  for (const [name, method, path, body, code, reason] of rows) {
    it(name, async () => {
      const res = await t.request(method, path, q(), body);
      assert.equal(res.status, code);
      const status = JSON.parse(res.body) as { kind: string; reason: string; code: number };
      assert.deepEqual([status.kind, status.reason, status.code], ['Status', reason, code]);
    });
  }

  it('a create takes its namespace from the path; a list answers a typed List', async () => {
    const created = await t.request('POST', '/api/v1/namespaces/ns/configmaps', q(), { contentType: 'application/json', data: JSON.stringify({ metadata: { name: 'a' } }) });
    assert.equal(created.status, 201);
    assert.equal((JSON.parse(created.body) as { metadata: { namespace: string } }).metadata.namespace, 'ns');
    const list = JSON.parse((await t.request('GET', '/api/v1/namespaces/ns/configmaps', q())).body) as { kind: string; items: unknown[] };
    assert.equal(list.kind, 'ConfigMapList');
    assert.equal(list.items.length, 1);
  });

  it('a stream that is not a watch closes with a 400 before any line', async () => {
    const err = await new Promise<Error | undefined>((resolve) => t.stream('/api/v1/namespaces/ns/configmaps', q(), () => assert.fail('no lines'), resolve));
    assert.ok(err instanceof TransportHttpError);
    assert.equal(err.status, 400);
  });
});
