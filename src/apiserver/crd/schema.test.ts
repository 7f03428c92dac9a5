import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { defaultCrd, validateCrd } from './crd-validation.js';
import { customResourceDefinitions, publishedSchema } from './custom-resource.js';
import { JsonPath } from './json-path.js';
import type { CustomResourceDefinition, JSONSchemaProps } from './json-schema.js';
import { applyDefaults, pruneObject } from './prune-default.js';
import { validateStructuralSchema } from './structural-schema.js';
import { validateValue } from './validate-value.js';
import { v2Schema } from '../openapi/v2-document.js';
import { customResourceDefinition } from '../../../test/helpers/crd.js';

const spec: JSONSchemaProps = {
  type: 'object',
  properties: {
    spec: {
      type: 'object',
      required: ['size'],
      properties: {
        size: { type: 'string', enum: ['S', 'M', 'L'] },
        replicas: { type: 'integer', minimum: 0, maximum: 10, default: 1 },
        name: { type: 'string', pattern: '^[a-z]+$', minLength: 2, maxLength: 5 },
        email: { type: 'string', format: 'email' },
        port: { 'x-kubernetes-int-or-string': true },
        note: { type: 'string', nullable: true },
        tags: { type: 'array', maxItems: 2, items: { type: 'string' }, 'x-kubernetes-list-type': 'set' },
        ports: {
          type: 'array',
          'x-kubernetes-list-type': 'map',
          'x-kubernetes-list-map-keys': ['name'],
          items: { type: 'object', required: ['name'], properties: { name: { type: 'string' }, port: { type: 'integer', default: 80 } } },
        },
        template: { type: 'object', 'x-kubernetes-embedded-resource': true, 'x-kubernetes-preserve-unknown-fields': true },
        labels: { type: 'object', additionalProperties: { type: 'string' } },
        free: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true, properties: { known: { type: 'object', properties: { a: { type: 'string' } } } } },
      },
    },
  },
};

describe('custom object validation', () => {
  const cases: [string, Record<string, unknown>, string[]][] = [
    ['a valid object', { size: 'S', replicas: 3, name: 'abc', email: 'a@b.io', port: 'http', note: null, tags: ['a', 'b'], ports: [{ name: 'a' }, { name: 'b' }] }, []],
    ['a missing required field', {}, ['spec.size: Required value']],
    ['a value outside the enum', { size: 'XL' }, ['spec.size: Unsupported value: "XL": supported values: "S", "M", "L"']],
    ['the wrong type', { size: 'S', replicas: 'three' }, ['spec.replicas: Invalid value: "string": spec.replicas in body must be of type integer: "string"']],
    ['a float for an integer', { size: 'S', replicas: 1.5 }, ['spec.replicas: Invalid value: "number": spec.replicas in body must be of type integer: "number"']],
    ['minimum and maximum', { size: 'S', replicas: 11 }, ['spec.replicas: Invalid value: 11: spec.replicas in body should be less than or equal to 10']],
    ['pattern', { size: 'S', name: 'AB' }, ["spec.name: Invalid value: \"AB\": spec.name in body should match '^[a-z]+$'"]],
    ['minLength', { size: 'S', name: 'a' }, ['spec.name: Invalid value: "a": spec.name in body should be at least 2 chars long']],
    ['maxLength', { size: 'S', name: 'abcdef' }, ['spec.name: Too long: may not be more than 5 bytes']],
    ['format', { size: 'S', email: 'nope' }, ['spec.email: Invalid value: "nope": spec.email in body must be of type email: "nope"']],
    ['int-or-string', { size: 'S', port: true }, ['spec.port: Invalid value: "boolean": spec.port in body must be of type integer,string: "boolean"']],
    ['null where not nullable', { size: 'S', name: null }, ['spec.name: Invalid value: "null": spec.name in body must be of type string: "null"']],
    ['maxItems', { size: 'S', tags: ['a', 'b', 'c'] }, ['spec.tags: Too many: 3: must have at most 2 items']],
    ['a set with duplicates', { size: 'S', tags: ['a', 'a'] }, ['spec.tags[1]: Duplicate value: "a"']],
    ['a map list with duplicate keys', { size: 'S', ports: [{ name: 'a' }, { name: 'a', port: 1 }] }, ['spec.ports[1]: Duplicate value: {"name":"a"}']],
    ['an embedded resource without apiVersion and kind', { size: 'S', template: { metadata: {} } }, ['spec.template.apiVersion: Required value: must not be empty', 'spec.template.kind: Required value: must not be empty']],
    ['additionalProperties types', { size: 'S', labels: { a: 1 } }, ['spec.labels.a: Invalid value: "integer": spec.labels.a in body must be of type string: "integer"']],
  ];
  for (const [name, value, expected] of cases) {
    test(name, () => {
      const errs = validateValue(spec, { spec: value });
      assert.deepEqual(errs.map((e) => `${e.field}: ${e.detail}`), expected);
    });
  }
});

describe('pruning and defaulting', () => {
  test('unknown fields are dropped and reported, preserved subtrees and embedded metadata are kept', () => {
    const obj: Record<string, unknown> = {
      apiVersion: 'example.com/v1',
      kind: 'Widget',
      metadata: { name: 'w', bogus: 1 },
      extra: true,
      spec: { size: 'S', junk: 1, ports: [{ name: 'a', x: 1 }], template: { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p' }, anything: 1 }, free: { anything: 1, known: { a: 'x', b: 'y' } } },
    };
    const unknown = pruneObject(spec, obj);
    assert.deepEqual(unknown.sort(), ['extra', 'metadata.bogus', 'spec.free.known.b', 'spec.junk', 'spec.ports[0].x']);
    assert.deepEqual(obj.spec, { size: 'S', ports: [{ name: 'a' }], template: { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p' }, anything: 1 }, free: { anything: 1, known: { a: 'x' } } });
  });

  test('defaults fill absent fields and nulls of non-nullable ones, in list items too', () => {
    const obj = { spec: { size: 'S', replicas: null, ports: [{ name: 'a' }, { name: 'b', port: 8080 }] } };
    applyDefaults(spec, obj);
    assert.deepEqual(obj.spec, { size: 'S', replicas: 1, ports: [{ name: 'a', port: 80 }, { name: 'b', port: 8080 }] });
  });
});

describe('structural schemas', () => {
  const root = 'spec.versions[0].schema.openAPIV3Schema';
  const cases: [string, JSONSchemaProps, string[]][] = [
    ['a structural schema', spec, []],
    ['a field without type', { type: 'object', properties: { spec: { properties: { a: { type: 'string' } } } } }, [`${root}.properties[spec].type: Required value: must not be empty for specified object fields`]],
    ['a non-object root', { type: 'string' }, [`${root}.type: Invalid value: "string": must be object at the root`]],
    ['metadata beyond name', { type: 'object', properties: { metadata: { type: 'object', properties: { labels: { type: 'object' } } } } }, [`${root}.properties[metadata]: Forbidden: must not specify anything other than name and generateName, but metadata is implicitly specified`]],
    ['an array without items', { type: 'object', properties: { a: { type: 'array' } } }, [`${root}.properties[a].items: Required value: must be specified`]],
    ['a type inside anyOf', { type: 'object', properties: { a: { type: 'string', anyOf: [{ type: 'string' }, { type: 'integer', minimum: 1 }] } } }, [`${root}.properties[a].anyOf[0].type: Forbidden: must be empty to be structural`, `${root}.properties[a].anyOf[1].type: Forbidden: must be empty to be structural`]],
    ['$ref', { type: 'object', properties: { a: { $ref: '#/definitions/x' } } }, [`${root}.properties[a].$ref: Forbidden: $ref is not supported`, `${root}.properties[a].type: Required value: must not be empty for specified object fields`]],
    ['uniqueItems', { type: 'object', properties: { a: { type: 'array', items: { type: 'string' }, uniqueItems: true } } }, [`${root}.properties[a].uniqueItems: Forbidden: uniqueItems cannot be set to true since the runtime complexity becomes quadratic`]],
  ];
  for (const [name, schema, expected] of cases) {
    test(name, () => {
      assert.deepEqual(validateStructuralSchema(schema, root).map((e) => `${e.field}: ${e.detail}`).sort(), expected.sort());
    });
  }
});

function crd(over: Partial<CustomResourceDefinition['spec']> = {}): CustomResourceDefinition {
  const c = customResourceDefinition({
    group: 'example.com',
    kind: 'Widget',
    listKind: 'WidgetList',
    shortNames: ['wd'],
    versions: [
      { name: 'v1', schema: spec, additionalPrinterColumns: [{ name: 'Size', type: 'string', jsonPath: '.spec.size' }, { name: 'Ready', type: 'string', jsonPath: '.status.conditions[?(@.type=="Ready")].status' }], selectableFields: [{ jsonPath: '.spec.size' }] },
      { name: 'v1beta1', schema: spec },
    ],
  });
  return { ...c, spec: { ...c.spec, ...over } };
}

describe('CRD validation', () => {
  test('a good CRD passes', () => assert.deepEqual(validateCrd(crd()), []));
  test('names, scope and versions are checked with upstream wording', () => {
    const bad = crd({ group: 'example', scope: 'Global', versions: [{ name: 'v1', served: true, storage: false, schema: { openAPIV3Schema: spec } }] });
    const msgs = validateCrd(bad).map((e) => `${e.field}: ${e.detail.split(':')[0]}`);
    assert.ok(msgs.includes('metadata.name: Invalid value'), msgs.join('\n'));
    assert.ok(msgs.includes('spec.group: Invalid value'));
    assert.ok(msgs.includes('spec.scope: Unsupported value'));
    assert.ok(validateCrd(bad).some((e) => e.field === 'spec.versions' && e.detail.endsWith('must have exactly one version marked as storage version')));
  });
  test('the Kubernetes project\'s groups need the api-approved annotation (KEP-1111)', () => {
    const c = crd({ group: 'snapshot.storage.k8s.io' });
    c.metadata.name = 'widgets.snapshot.storage.k8s.io';
    assert.deepEqual(validateCrd(c).map((e) => e.field), ['metadata.annotations[api-approved.kubernetes.io]']);
    c.metadata.annotations = { 'api-approved.kubernetes.io': 'https://github.com/kubernetes-csi/external-snapshotter/pull/419' };
    assert.deepEqual(validateCrd(c), []);
  });
  test('a version without a schema and a bad default are refused', () => {
    const errs = validateCrd(crd({ versions: [{ name: 'v1', served: true, storage: true, schema: { openAPIV3Schema: { type: 'object', properties: { a: { type: 'integer', default: 'x' } } } } }, { name: 'v2', served: true, storage: false }] }));
    assert.deepEqual(errs.map((e) => e.field), ['spec.versions[0].schema.openAPIV3Schema.properties[a].default', 'spec.versions[1].schema.openAPIV3Schema']);
  });
});

describe('custom resource definitions', () => {
  test('one definition per served version, preferred first, the other versions stored as the storage version', () => {
    const defs = customResourceDefinitions(crd(), { terminating: () => false });
    assert.deepEqual(defs.map((d) => d.version), ['v1', 'v1beta1']);
    assert.equal(defs[1].storedAs?.version, 'v1');
    assert.equal(defs[1].storedAs?.fromStorage({ apiVersion: 'example.com/v1', kind: 'Widget', metadata: {} }).apiVersion, 'example.com/v1beta1');
    assert.equal(defs[0].schemaName, 'com.example.v1.Widget');
    const obj = { apiVersion: 'example.com/v1', kind: 'Widget', metadata: { name: 'w', creationTimestamp: '2026-01-01T00:00:00Z' }, spec: { size: 'M' }, status: { conditions: [{ type: 'Ready', status: 'True' }] } };
    assert.deepEqual(defs[0].printer.row(obj, new Date('2026-01-01T00:05:00Z')), ['w', 'M', 'True']);
    assert.deepEqual(defs[1].printer.row(obj, new Date('2026-01-01T00:05:00Z')), ['w', '5m']);
    assert.equal(defs[0].fieldSelectors?.['spec.size'](obj), 'M');
  });

  test('a terminating CRD refuses creates with 405', () => {
    const [def] = customResourceDefinitions(crd(), { terminating: () => true });
    assert.throws(() => def.strategy.prepareForCreate!({ apiVersion: 'example.com/v1', kind: 'Widget', metadata: { name: 'w' } }), (err: { code: number; message: string }) => err.code === 405 && err.message === 'create not allowed while custom resource definition is terminating');
  });

  test('the published schema converts to OpenAPI v2 (kubectl 1.27 reads that one)', () => {
    assert.doesNotThrow(() => v2Schema(publishedSchema(spec, true), 'Widget'));
  });
});

describe('JSONPath', () => {
  test('fields, indexes, quoted keys, wildcards and filters', () => {
    const obj = { a: { b: [{ n: 'x', v: 1 }, { n: 'y', v: 2 }], 'k.e': 'q' } };
    assert.deepEqual(new JsonPath('.a.b[1].v').find(obj), [2]);
    assert.deepEqual(new JsonPath(".a['k.e']").find(obj), ['q']);
    assert.deepEqual(new JsonPath('.a.b[*].n').find(obj), ['x', 'y']);
    assert.deepEqual(new JsonPath('.a.b[?(@.n=="y")].v').find(obj), [2]);
    assert.deepEqual(new JsonPath('.a.missing').find(obj), []);
    assert.throws(() => new JsonPath('a.b'), /must be a simple json path/);
  });
});

describe('bad input', () => {
  test('CRDs of every wrong shape get field errors, never an exception', () => {
    // A seeded walk that replaces one value of a good CRD at a time with a value of another JSON type.
    let seed = 42;
    const rand = (n: number) => {
      seed = (seed * 1103515245 + 12345) % 2147483648;
      return seed % n;
    };
    const garbage = [null, 0, -1, 1.5, '', 'x', true, [], [1], {}, { type: 7 }, [null], { properties: null }];
    const paths: (string | number)[][] = [];
    const collect = (v: unknown, path: (string | number)[]) => {
      paths.push(path);
      if (Array.isArray(v)) v.forEach((x, i) => collect(x, [...path, i]));
      else if (v && typeof v === 'object') for (const [k, x] of Object.entries(v)) collect(x, [...path, k]);
    };
    collect(crd().spec, ['spec']);
    for (let i = 0; i < 2000; i++) {
      const obj = structuredClone(crd()) as unknown as Record<string, unknown>;
      const path = paths[rand(paths.length)];
      let parent = obj as Record<string | number, unknown>;
      for (const step of path.slice(0, -1)) parent = parent[step] as Record<string | number, unknown>;
      parent[path[path.length - 1]] = structuredClone(garbage[rand(garbage.length)]);
      const c = obj as unknown as CustomResourceDefinition;
      assert.doesNotThrow(() => {
        defaultCrd(c);
        const errs = validateCrd(c);
        if (errs.length === 0) customResourceDefinitions(c, { terminating: () => false });
      }, `spec path ${path.join('.')}`);
    }
  });

  test('objects of every wrong shape are validated and pruned without an exception', () => {
    const values = [null, 0, 'x', true, [], {}, [null, 1, 'a'], { size: ['S'] }, { ports: 'http' }, { ports: [null, 'a', { name: 1 }] }, { template: [] }, { labels: 'a=b' }, { free: 1 }];
    for (const v of values) {
      assert.doesNotThrow(() => {
        const obj = { apiVersion: 'example.com/v1', kind: 'Widget', metadata: { name: 'w' }, spec: structuredClone(v) } as Record<string, unknown>;
        pruneObject(spec, obj);
        applyDefaults(spec, obj);
        validateValue(spec, obj);
      }, JSON.stringify(v));
    }
  });
});
