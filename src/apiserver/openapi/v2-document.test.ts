import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { resources } from '../registry/index.js';
import { OpenApiV3 } from './openapi.js';
import { v2Document } from './v2-document.js';

type Json = Record<string, any>;

const PATCH_TYPES = ['application/json-patch+json', 'application/merge-patch+json', 'application/strategic-merge-patch+json', 'application/apply-patch+yaml'];

function* schemas(value: unknown, at: string): Generator<[string, Json]> {
  if (value === null || typeof value !== 'object') return;
  const s = value as Json;
  yield [at, s];
  for (const [name, p] of Object.entries<Json>(s.properties ?? {})) yield* schemas(p, `${at}.${name}`);
  if (s.items) yield* schemas(s.items, `${at}[]`);
  if (s.additionalProperties && typeof s.additionalProperties === 'object') yield* schemas(s.additionalProperties, `${at}{}`);
}

function* operations(doc: Json): Generator<[string, string, Json]> {
  for (const [path, item] of Object.entries<Json>(doc.paths)) {
    for (const [method, op] of Object.entries<Json>(item)) if (method !== 'parameters') yield [path, method, op];
  }
}

describe('v2Document: Swagger 2.0 from the v3 group-version documents', () => {
  const api = new OpenApiV3(resources);
  const doc: Json = JSON.parse(api.openApiV2.json());

  test('definitions are what kube-openapi proto.NewOpenAPIData accepts: every $ref resolves, no v3-only shapes', () => {
    assert.equal(doc.swagger, '2.0');
    let refs = 0;
    for (const [name, definition] of Object.entries<Json>(doc.definitions)) {
      for (const [at, s] of schemas(definition, name)) {
        assert.equal(s.allOf, undefined, `${at}: allOf`);
        assert.equal(s.oneOf, undefined, `${at}: oneOf`);
        if (s.$ref !== undefined) {
          refs++;
          assert.match(s.$ref, /^#\/definitions\//, at);
          assert.ok(doc.definitions[s.$ref.slice('#/definitions/'.length)], `${at}: unknown model in reference ${s.$ref}`);
          assert.equal(s.type, undefined, `${at}: definition reference can't have a type`);
          assert.equal(s.properties, undefined, `${at}: unallowed embedded type definition`);
        }
        if (s.type === 'array') assert.ok(s.items && !Array.isArray(s.items), `${at}: array should have exactly one sub-item`);
        if (s.type !== undefined) assert.ok(['object', 'array', 'string', 'integer', 'number', 'boolean'].includes(s.type), `${at}: type ${s.type}`);
      }
    }
    assert.ok(refs > 500, `only ${refs} references`);
    for (const [path, method, op] of operations(doc)) {
      for (const p of op.parameters ?? []) if (p.in === 'body') assert.ok(doc.definitions[p.schema.$ref.slice('#/definitions/'.length)], `${method} ${path} body`);
      for (const r of Object.values<Json>(op.responses)) if (r.schema) assert.ok(doc.definitions[r.schema.$ref.slice('#/definitions/'.length)], `${method} ${path} response`);
    }
  });

  test('every served kind is found by its GVK in exactly one definition, and has a PATCH operation kubectl recognizes', () => {
    for (const def of resources) {
      const gvk = { group: def.group, kind: def.kind, version: def.version };
      const tagged = Object.entries<Json>(doc.definitions).filter(([, d]) =>
        (d['x-kubernetes-group-version-kind'] ?? []).some((g: Json) => g.group === gvk.group && g.version === gvk.version && g.kind === gvk.kind),
      );
      assert.deepEqual(tagged.map(([n]) => n), [def.schemaName], `${def.kind} ${def.group}/${def.version}`);
      if (def.verbs && !def.verbs.includes('patch')) continue;
      // cli-runtime's QueryParamVerifier and the apply patcher both stop at the first PATCH operation for the GVK.
      const patch = [...operations(doc)].find(([, method, op]) => method === 'patch' && JSON.stringify(op['x-kubernetes-group-version-kind']) === JSON.stringify(gvk));
      assert.ok(patch, `no PATCH operation for ${def.kind}`);
      const [path, , op] = patch;
      assert.ok(op.parameters.some((p: Json) => p.name === 'fieldValidation' && p.in === 'query' && p.type === 'string'), `${path}: fieldValidation`);
      assert.equal(op['x-kubernetes-action'], 'patch');
      // Strategic merge patch is not advertised (as in v3), so kubectl computes apply patches from its built-in types.
      const expected = PATCH_TYPES.filter((t) => t !== 'application/strategic-merge-patch+json');
      assert.deepEqual([...op.consumes].sort(), [...expected].sort(), `${path} consumes`);
      const body = op.parameters[0];
      assert.deepEqual(body, { name: 'body', in: 'body', required: true, schema: { $ref: '#/definitions/io.k8s.apimachinery.pkg.apis.meta.v1.Patch' } });
    }
  });

  test('v2 advertises strategic merge patch exactly when v3 does (advertiseStrategicMerge)', () => {
    const v3 = JSON.parse(api.documentJson('apis/apps/v1')!);
    const v3Patch = v3.paths['/apis/apps/v1/namespaces/{namespace}/deployments/{name}'].patch;
    assert.ok(!('application/strategic-merge-patch+json' in v3Patch.requestBody.content));
    assert.ok(!doc.paths['/apis/apps/v1/namespaces/{namespace}/deployments/{name}'].patch.consumes.includes('application/strategic-merge-patch+json'));
    const smp = JSON.parse(new OpenApiV3(resources, { advertiseStrategicMerge: true }).openApiV2.json());
    assert.ok(smp.paths['/apis/apps/v1/namespaces/{namespace}/deployments/{name}'].patch.consumes.includes('application/strategic-merge-patch+json'));
  });

  test('references carry their description and patch extensions beside $ref, as v2 readers expect', () => {
    const deploymentSpec = doc.definitions['io.k8s.api.apps.v1.DeploymentSpec'].properties;
    assert.deepEqual(Object.keys(deploymentSpec.strategy).sort(), ['$ref', 'description', 'x-kubernetes-patch-strategy']);
    assert.equal(deploymentSpec.strategy['x-kubernetes-patch-strategy'], 'retainKeys');
    assert.equal(deploymentSpec.template.$ref, '#/definitions/io.k8s.api.core.v1.PodTemplateSpec');
    const containers = doc.definitions['io.k8s.api.core.v1.PodSpec'].properties.containers;
    assert.equal(containers['x-kubernetes-patch-merge-key'], 'name');
    assert.equal(containers['x-kubernetes-patch-strategy'], 'merge');
    assert.deepEqual(doc.definitions['io.k8s.api.apps.v1.Deployment']['x-kubernetes-group-version-kind'], [{ group: 'apps', kind: 'Deployment', version: 'v1' }]);
  });

  test('Quantity and IntOrString are strings in v2 (IntOrString keeps format int-or-string)', () => {
    assert.equal(doc.definitions['io.k8s.apimachinery.pkg.api.resource.Quantity'].type, 'string');
    const intOrString = doc.definitions['io.k8s.apimachinery.pkg.util.intstr.IntOrString'];
    assert.equal(intOrString.type, 'string');
    assert.equal(intOrString.format, 'int-or-string');
  });

  test('operations are converted: query and path parameters inline with type, responses with schema, produces', () => {
    const item = doc.paths['/api/v1/namespaces/{namespace}/configmaps'];
    assert.deepEqual(item.parameters, [{ name: 'namespace', in: 'path', required: true, description: item.parameters[0].description, type: 'string' }]);
    const list = item.get;
    assert.equal(list['x-kubernetes-action'], 'list');
    assert.deepEqual(list['x-kubernetes-group-version-kind'], { group: '', kind: 'ConfigMap', version: 'v1' });
    assert.deepEqual(list.produces, ['application/json', 'application/json;stream=watch']);
    assert.ok(list.parameters.some((p: Json) => p.name === 'limit' && p.type === 'integer'));
    assert.equal(list.responses['200'].schema.$ref, '#/definitions/io.k8s.api.core.v1.ConfigMapList');
    assert.deepEqual(list.responses['401'], { description: 'Unauthorized' });
    const create = item.post;
    assert.deepEqual(create.consumes, ['*/*']);
    assert.deepEqual(create.parameters[0], { name: 'body', in: 'body', required: true, schema: { $ref: '#/definitions/io.k8s.api.core.v1.ConfigMap' } });
  });

  test('a type rendered by several group versions is one definition with the union of its GVKs; any other difference throws', () => {
    const source = (gvk: Json, description: string): Json => ({
      openapi: '3.0.0',
      info: { title: 'Kubernetes', version: 'v1.32.0' },
      paths: {},
      components: { schemas: { Shared: { type: 'object', description, 'x-kubernetes-group-version-kind': [gvk] } } },
    });
    const a = { group: 'a.example.com', kind: 'Shared', version: 'v1' };
    const b = { group: 'b.example.com', kind: 'Shared', version: 'v1' };
    const merged = v2Document([source(a, 'same'), source(b, 'same'), source(a, 'same')]);
    assert.deepEqual(merged.definitions, { Shared: { type: 'object', description: 'same', 'x-kubernetes-group-version-kind': [a, b] } });
    assert.throws(() => v2Document([source(a, 'one'), source(b, 'other')]), /definition Shared differs/);
  });

  test('a schema shape Swagger 2.0 cannot express is refused, not published half-converted', () => {
    const bad = { openapi: '3.0.0', paths: {}, components: { schemas: { X: { type: 'object', properties: { y: { anyOf: [{ type: 'string' }] } } } } } };
    assert.throws(() => v2Document([bad]), /X\.y has "anyOf"/);
  });
});
