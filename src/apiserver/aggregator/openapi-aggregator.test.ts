import assert from 'node:assert/strict';
import { test } from 'node:test';
import { AggregatedOpenApi, groupVersionSpec, type BackendResponse, type OpenApiBackend } from './openapi-aggregator.js';

const META = 'io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta';

function spec(description: string, extra: Record<string, unknown> = {}) {
  return {
    swagger: '2.0',
    info: { title: 't', version: 'v1' },
    paths: {
      '/apis/g.example.com/v1/things': { get: { responses: { '200': { description: 'OK', schema: { $ref: '#/definitions/com.example.Thing' } } } } },
      '/apis/other.example.com/v1/things': { get: { responses: { '200': { description: 'OK', schema: { $ref: '#/definitions/com.example.Other' } } } } },
    },
    definitions: {
      'com.example.Thing': { description, type: 'object', properties: { metadata: { $ref: `#/definitions/${META}` } } },
      'com.example.Other': { type: 'object' },
      [META]: { type: 'object', description: 'theirs' },
      ...extra,
    },
  };
}

function fakeBackends(docs: Map<string, unknown>) {
  const backends: OpenApiBackend[] = [{ name: 'v1.g.example.com', group: 'g.example.com', version: 'v1', resourceVersion: '1' }];
  const calls: string[] = [];
  return {
    backends,
    calls,
    source: {
      available: () => backends,
      fetch: async (name: string, path: string, headers: Record<string, string>): Promise<BackendResponse> => {
        calls.push(`${path} ${headers['If-None-Match'] ?? ''}`.trim());
        const doc = docs.get(path);
        if (doc === undefined) return { status: 404, headers: {}, body: Buffer.from('{}') };
        const text = JSON.stringify(doc);
        const etag = `"${text.length}"`;
        if (headers['If-None-Match'] === etag) return { status: 304, headers: { etag }, body: Buffer.alloc(0) };
        return { status: 200, headers: { etag }, body: Buffer.from(text) };
      },
    },
  };
}

test('groupVersionSpec keeps the group version\'s paths and the definitions they reach; a dangling reference is refused', () => {
  const gv = groupVersionSpec(spec('a'), 'g.example.com', 'v1');
  assert.deepEqual(Object.keys(gv.paths), ['/apis/g.example.com/v1/things']);
  assert.deepEqual(Object.keys(gv.definitions).sort(), ['com.example.Thing', META]);
  const broken = spec('a');
  delete (broken.definitions as Record<string, unknown>)[META];
  assert.throws(() => groupVersionSpec(broken, 'g.example.com', 'v1'), /"io\.k8s\.apimachinery\.pkg\.apis\.meta\.v1\.ObjectMeta" is referenced but not defined/);
});

test('mergeV2 adds paths and definitions, renames a conflicting definition with its references, keeps ours', async () => {
  const docs = new Map<string, unknown>([['/openapi/v2', spec('a thing')]]);
  const { source, calls } = fakeBackends(docs);
  const agg = new AggregatedOpenApi(source);
  let changes = 0;
  agg.onChange(() => changes++);
  agg.backendsChanged();
  await agg.idle();
  assert.equal(changes, 1);
  const ours = { swagger: '2.0', paths: { '/api/v1/pods': {} }, definitions: { [META]: { type: 'object', description: 'ours' } } };
  const merged = agg.mergeV2(ours) as { paths: Record<string, unknown>; definitions: Record<string, { description?: string; properties?: { metadata?: { $ref: string } } }> };
  assert.deepEqual(Object.keys(merged.paths), ['/api/v1/pods', '/apis/g.example.com/v1/things']);
  assert.equal(merged.definitions[META]!.description, 'ours');
  assert.equal(merged.definitions[`${META}_v2`]!.description, 'theirs');
  assert.equal(merged.definitions['com.example.Thing']!.properties!.metadata!.$ref, `#/definitions/${META}_v2`);
  assert.equal(merged.definitions['com.example.Other'], undefined);
  assert.equal(agg.v3Paths().size, 0, 'no /openapi/v3 on this backend');

  // A refresh of the same APIService with an unchanged spec asks with If-None-Match and changes nothing.
  calls.length = 0;
  await (agg as unknown as { sync(all: boolean): Promise<void> }).sync(true);
  assert.ok(calls.some((c) => /^\/openapi\/v2 ".+"$/.test(c)), calls.join('\n'));
  assert.equal(changes, 1);
  agg.stop();
});

test('a spec the v2 protobuf encoding refuses is left out; the backend\'s v3 index entry is still listed', async () => {
  const bad = spec('a', {});
  (bad.definitions['com.example.Thing'] as Record<string, unknown>).notASwaggerField = 1;
  const docs = new Map<string, unknown>([
    ['/openapi/v2', bad],
    ['/openapi/v3', { paths: { 'apis/g.example.com/v1': { serverRelativeURL: '/openapi/v3/apis/g.example.com/v1?hash=ABC' }, 'apis/other.example.com/v1': { serverRelativeURL: '/x' } } }],
  ]);
  const { source } = fakeBackends(docs);
  const agg = new AggregatedOpenApi(source);
  agg.backendsChanged();
  await agg.idle();
  const merged = agg.mergeV2({ swagger: '2.0', paths: {}, definitions: {} }) as { paths: Record<string, unknown> };
  assert.deepEqual(merged.paths, {});
  assert.deepEqual([...agg.v3Paths()], [['apis/g.example.com/v1', '/openapi/v3/apis/g.example.com/v1?hash=ABC']]);
  agg.stop();
});

test('the built-in metrics.k8s.io document joins both: NodeMetrics and PodMetrics explainable, v2 protobuf-encodable', async () => {
  const { metricsOpenApiV3 } = await import('./metrics-openapi.js');
  const { v2Protobuf } = await import('../openapi/v2-protobuf.js');
  const agg = new AggregatedOpenApi({ available: () => [], fetch: () => Promise.reject(new Error('no backends')) }, [{ group: 'metrics.k8s.io', version: 'v1beta1', v3: metricsOpenApiV3 }]);
  const merged = agg.mergeV2({ swagger: '2.0', info: { title: 'Kubernetes', version: 'v1.32.0' }, paths: {}, definitions: {} }) as { paths: Record<string, unknown>; definitions: Record<string, Record<string, unknown>> };
  assert.deepEqual(merged.definitions['io.k8s.metrics.pkg.apis.metrics.v1beta1.NodeMetrics']!['x-kubernetes-group-version-kind'], [{ group: 'metrics.k8s.io', kind: 'NodeMetrics', version: 'v1beta1' }]);
  assert.ok(merged.definitions['io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta'], 'the metadata it references comes along');
  assert.ok(merged.paths['/apis/metrics.k8s.io/v1beta1/namespaces/{namespace}/pods/{name}']);
  assert.ok(v2Protobuf(merged).length > 1000);
  const url = agg.v3Paths().get('apis/metrics.k8s.io/v1beta1')!;
  assert.match(url, /^\/openapi\/v3\/apis\/metrics\.k8s\.io\/v1beta1\?hash=[0-9A-F]{128}$/);
});
