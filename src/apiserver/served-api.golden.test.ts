/**
 * Golden files of what the API server serves: discovery (aggregated v2 for /api and /apis, legacy resource lists)
 * and, per group version, every OpenAPI v3 path with its operations (method, operation id, action, GVK). A change to
 * what is served shows up as a diff of src/apiserver/testdata/ in review. After an intended change, regenerate with
 *   UPDATE_GOLDEN=1 node --import tsx --test src/apiserver/served-api.golden.test.ts
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { Discovery } from './discovery.js';
import { OpenApiV3 } from './openapi/openapi.js';
import { apiGroups, resources } from './registry/index.js';

// The compiled test runs from dist/src/apiserver; the golden files live beside the source.
const here = dirname(fileURLToPath(import.meta.url));
const testdata = existsSync(join(here, 'testdata')) && !here.includes('/dist/') ? join(here, 'testdata') : resolve(here, '../../../src/apiserver/testdata');

function golden(name: string, value: unknown): void {
  const file = join(testdata, name);
  const text = `${JSON.stringify(value, null, 1)}\n`;
  if (process.env.UPDATE_GOLDEN) {
    mkdirSync(testdata, { recursive: true });
    writeFileSync(file, text);
    return;
  }
  assert.ok(existsSync(file), `${file} is missing: run with UPDATE_GOLDEN=1 to create it`);
  assert.equal(text, readFileSync(file, 'utf8'), `${name} differs from what is served: review the change, then run with UPDATE_GOLDEN=1`);
}

test('discovery documents match the golden files', () => {
  const d = new Discovery(resources, () => '127.0.0.1:6443');
  golden('discovery-aggregated-api.json', JSON.parse(d.aggregated('api', 'v2')));
  golden('discovery-aggregated-apis.json', JSON.parse(d.aggregated('apis', 'v2')));
  const lists: Record<string, unknown> = {};
  for (const { group, versions } of apiGroups) for (const v of versions) lists[group ? `${group}/${v}` : v] = JSON.parse(d.apiResourceList(group, v) ?? 'null');
  golden('discovery-resource-lists.json', lists);
});

test('OpenAPI v3 operations match the golden file', () => {
  const api = new OpenApiV3(resources);
  const summary: Record<string, Record<string, string[]>> = {};
  for (const key of Object.keys(JSON.parse(api.indexJson()).paths).sort()) {
    const doc = JSON.parse(api.documentJson(key)!);
    const paths: Record<string, string[]> = {};
    for (const [path, item] of Object.entries<Record<string, Record<string, unknown>>>(doc.paths)) {
      paths[path] = Object.entries(item)
        .filter(([method]) => method !== 'parameters')
        .map(([method, op]) => {
          const gvk = op['x-kubernetes-group-version-kind'] as { group: string; version: string; kind: string } | undefined;
          return `${method} ${op.operationId} ${op['x-kubernetes-action']}${gvk ? ` ${gvk.group}/${gvk.version}/${gvk.kind}` : ''}`;
        });
    }
    summary[key] = paths;
  }
  golden('openapi-v3-operations.json', summary);
});
