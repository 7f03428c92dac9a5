import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { KubeObject } from '../api/object.js';
import { decodeWithJson, encodeForStore } from './object-codec.js';

describe('object codec', () => {
  test('stored text leads with apiVersion, kind and metadata, has no resourceVersion, and leaves the object as it was', () => {
    const obj = { spec: { x: 1 }, metadata: { name: 'a', resourceVersion: '7' }, kind: 'ConfigMap', apiVersion: 'v1', data: { k: 'v' } } as KubeObject;
    const text = encodeForStore(obj);
    assert.equal(text, '{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"a"},"spec":{"x":1},"data":{"k":"v"}}');
    assert.deepEqual(Object.keys(obj), ['spec', 'metadata', 'kind', 'apiVersion', 'data']);
    assert.equal(obj.metadata.resourceVersion, '7');
  });

  test('the decoded JSON is the stored text with the resourceVersion, equal to the object', () => {
    const cases: KubeObject[] = [
      { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'a', labels: { 'x"y': 'z' } }, data: { '"metadata":{': '}' } },
      { apiVersion: 'v1', kind: 'ConfigMap', metadata: {} } as KubeObject,
      { apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'd' }, spec: { template: { metadata: { labels: { a: 'b' } } } } },
    ];
    for (const obj of cases) {
      const stored = encodeForStore(structuredClone(obj));
      const { obj: decoded, json } = decodeWithJson('/k', stored, 42);
      assert.equal(decoded.metadata.resourceVersion, '42');
      assert.deepEqual(JSON.parse(json), decoded);
      assert.ok(json.startsWith(`{"apiVersion":"${obj.apiVersion}","kind":"${obj.kind}","metadata":{"resourceVersion":"42"`), json);
    }
  });

  test('stored text in another shape (written before the order was kept, or with escapes in its kind) is serialized again', () => {
    for (const stored of ['{"metadata":{"name":"a"},"apiVersion":"v1","kind":"ConfigMap"}', '{"apiVersion":"v1","kind":"Con\\"fig","metadata":{"name":"a"}}']) {
      const { obj, json } = decodeWithJson('/k', stored, 3);
      assert.equal(json, JSON.stringify(obj));
      assert.equal(JSON.parse(json).metadata.resourceVersion, '3');
    }
  });
});
