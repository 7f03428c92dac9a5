import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Discovery } from '../discovery.js';
import { OpenApiV3 } from '../openapi/openapi.js';
import { configmaps } from './configmaps.js';
import { fallbackPrinter } from './table-columns.js';
import { ResourceRegistry } from './resource-registry.js';
import type { ResourceDefinition } from './types.js';

function widgets(version: string): ResourceDefinition {
  return {
    group: 'example.com',
    version,
    kind: 'Widget',
    listKind: 'WidgetList',
    plural: 'widgets',
    singular: 'widget',
    namespaced: true,
    shortNames: ['wd'],
    hasStatus: false,
    schemaName: `com.example.${version}.Widget`,
    tracksGeneration: true,
    strategy: { validate: () => [] },
    printer: fallbackPrinter,
  };
}

describe('ResourceRegistry', () => {
  test('added definitions are looked up, listed after the built-in ones, replaced and removed by owner', () => {
    const reg = new ResourceRegistry([configmaps]);
    const seen: string[][] = [];
    reg.onChange((changed) => seen.push([...changed].sort()));
    reg.set('widgets.example.com', [widgets('v1'), widgets('v1beta1')]);
    assert.equal(reg.lookup('example.com', 'v1beta1', 'widgets')?.version, 'v1beta1');
    assert.equal(reg.preferred('example.com', 'widgets')?.version, 'v1');
    assert.deepEqual(reg.all().map((d) => d.plural), ['configmaps', 'widgets', 'widgets']);
    reg.set('widgets.example.com', [widgets('v2')]);
    assert.equal(reg.lookup('example.com', 'v1', 'widgets'), undefined);
    assert.deepEqual(seen[1], ['example.com/v1', 'example.com/v1beta1', 'example.com/v2']);
    assert.throws(() => reg.set('other', [widgets('v2')]), /already served/);
    reg.remove('widgets.example.com');
    assert.equal(reg.lookup('example.com', 'v2', 'widgets'), undefined);
    assert.equal(seen.length, 3);
  });

  test('discovery and OpenAPI follow the registry', () => {
    const reg = new ResourceRegistry([configmaps]);
    const discovery = new Discovery(reg, () => '127.0.0.1:6443');
    const openapi = new OpenApiV3(reg);
    assert.equal(discovery.apiGroup('example.com'), undefined);
    const before = JSON.parse(openapi.indexJson());
    assert.ok(!('apis/example.com/v1' in before.paths));
    reg.set('widgets.example.com', [widgets('v1')]);
    assert.deepEqual(JSON.parse(discovery.apiGroup('example.com')!).preferredVersion, { groupVersion: 'example.com/v1', version: 'v1' });
    const list = JSON.parse(discovery.apiResourceList('example.com', 'v1')!);
    assert.deepEqual(list.resources[0].shortNames, ['wd']);
    const agg = JSON.parse(discovery.aggregated('apis', 'v2'));
    assert.ok(agg.items.some((g: { metadata: { name: string } }) => g.metadata.name === 'example.com'));
    assert.ok('apis/example.com/v1' in JSON.parse(openapi.indexJson()).paths);
    assert.ok(openapi.documentJson('apis/example.com/v1')!.includes('com.example.v1.Widget'));
    assert.ok(openapi.openApiV2.json().includes('com.example.v1.Widget'));
    reg.remove('widgets.example.com');
    assert.equal(discovery.apiResourceList('example.com', 'v1'), undefined);
    assert.equal(openapi.documentJson('apis/example.com/v1'), undefined);
    assert.ok(!openapi.openApiV2.json().includes('com.example.v1.Widget'));
  });
});
