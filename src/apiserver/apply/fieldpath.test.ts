import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { FieldSet, addedFieldsV1, compareNodes, fieldSetOf, pathToString, rootNodeType, walkNodes, type Path } from './fieldpath.js';

const DEPLOYMENT = 'io.k8s.api.apps.v1.Deployment';

const deployment = {
  apiVersion: 'apps/v1',
  kind: 'Deployment',
  metadata: { name: 'web', labels: { app: 'web' }, finalizers: ['example.com/keep'] },
  spec: {
    replicas: 2,
    selector: { matchLabels: { app: 'web' } },
    template: {
      metadata: { labels: { app: 'web' } },
      spec: {
        nodeSelector: { disk: 'ssd' },
        containers: [
          {
            name: 'nginx',
            image: 'nginx:1.25',
            args: ['-g', 'daemon off;'],
            ports: [{ containerPort: 80 }],
            env: [{ name: 'A', value: '1' }],
            resources: {},
          },
        ],
      },
    },
  },
};

describe('fieldSetOf', () => {
  it('renders a Deployment in the FieldsV1 form kube-apiserver stores', () => {
    const fields = fieldSetOf(deployment, DEPLOYMENT).toFieldsV1();
    assert.deepEqual(fields, {
      'f:apiVersion': {},
      'f:kind': {},
      'f:metadata': {
        'f:finalizers': { 'v:"example.com/keep"': {} },
        'f:labels': { 'f:app': {} },
        'f:name': {},
      },
      'f:spec': {
        'f:replicas': {},
        // LabelSelector is a +structType=atomic: one leaf, not its matchLabels.
        'f:selector': {},
        'f:template': {
          'f:metadata': { 'f:labels': { 'f:app': {} } },
          'f:spec': {
            'f:containers': {
              'k:{"name":"nginx"}': {
                '.': {},
                'f:args': {},
                'f:env': { 'k:{"name":"A"}': { '.': {}, 'f:name': {}, 'f:value': {} } },
                'f:image': {},
                'f:name': {},
                // protocol is a key field with a schema default, so the key names it.
                'f:ports': { 'k:{"containerPort":80,"protocol":"TCP"}': { '.': {}, 'f:containerPort': {} } },
                // An empty struct is owned as itself.
                'f:resources': {},
              },
            },
            'f:nodeSelector': {},
          },
        },
      },
    });
  });

  it('treats kinds without a schema as deduced: objects granular, lists atomic', () => {
    const cr = { spec: { size: 3, tags: ['a', 'b'], nested: { x: 1 } } };
    assert.deepEqual(fieldSetOf(cr, undefined).toFieldsV1(), {
      'f:spec': { '.': {}, 'f:size': {}, 'f:tags': {}, 'f:nested': { '.': {}, 'f:x': {} } },
    });
  });
});

describe('FieldSet', () => {
  const p = (...els: string[]): Path => els;
  const set = (...paths: Path[]) => new FieldSet(paths);
  const a = set(p('f:spec', 'f:replicas'), p('f:metadata', 'f:labels', 'f:app'));
  const b = set(p('f:spec', 'f:replicas'), p('f:spec', 'f:paused'));

  const cases: { name: string; got: FieldSet; want: Path[] }[] = [
    { name: 'union', got: a.union(b), want: [p('f:spec', 'f:replicas'), p('f:metadata', 'f:labels', 'f:app'), p('f:spec', 'f:paused')] },
    { name: 'intersect', got: a.intersect(b), want: [p('f:spec', 'f:replicas')] },
    { name: 'difference', got: a.difference(b), want: [p('f:metadata', 'f:labels', 'f:app')] },
    { name: 'withoutPrefixes', got: a.union(b).withoutPrefixes([p('f:spec')]), want: [p('f:metadata', 'f:labels', 'f:app')] },
  ];
  for (const c of cases) {
    it(c.name, () => assert.ok(c.got.equals(new FieldSet(c.want)), JSON.stringify([...c.got])));
  }

  it('reads the FieldsV1 form back, with "." marking a member that also has children', () => {
    const json = {
      'f:metadata': { 'f:labels': { '.': {}, 'f:app': {} } },
      'f:spec': { 'f:containers': { 'k:{"name":"nginx"}': { '.': {}, 'f:image': {} } } },
    };
    const s = FieldSet.fromFieldsV1(json);
    assert.ok(
      s.equals(
        set(
          p('f:metadata', 'f:labels'),
          p('f:metadata', 'f:labels', 'f:app'),
          p('f:spec', 'f:containers', 'k:{"name":"nginx"}'),
          p('f:spec', 'f:containers', 'k:{"name":"nginx"}', 'f:image'),
        ),
      ),
    );
    assert.deepEqual(s.toFieldsV1(), json);
  });

  it('refuses what is not the FieldsV1 form', () => {
    assert.throws(() => FieldSet.fromFieldsV1({ 'f:spec': 'x' }), /must be an object/);
    assert.throws(() => FieldSet.fromFieldsV1({ spec: {} }), /unknown path element "spec"/);
  });

  it('hasAtOrBelow sees members below a path', () => {
    assert.equal(a.hasAtOrBelow(p('f:metadata')), true);
    assert.equal(a.hasAtOrBelow(p('f:metadata', 'f:annotations')), false);
  });
});

describe('pathToString', () => {
  const cases: [Path, string][] = [
    [['f:spec', 'f:replicas'], '.spec.replicas'],
    [['f:spec', 'f:containers', 'k:{"name":"nginx"}', 'f:image'], '.spec.containers[name="nginx"].image'],
    [['f:ports', 'k:{"containerPort":80,"protocol":"TCP"}'], '.ports[containerPort=80,protocol="TCP"]'],
    [['f:metadata', 'f:finalizers', 'v:"a"'], '.metadata.finalizers[="a"]'],
  ];
  for (const [path, want] of cases) it(want, () => assert.equal(pathToString(path), want));
});

describe('compareNodes', () => {
  it('finds added, removed and modified fields', () => {
    const type = rootNodeType(DEPLOYMENT);
    const before = { metadata: { labels: { app: 'a', old: 'x' } }, spec: { replicas: 1 } };
    const after = { metadata: { labels: { app: 'b' }, annotations: { n: 'v' } }, spec: { replicas: 1, paused: true } };
    const c = compareNodes(walkNodes(before, type), walkNodes(after, type));
    assert.deepEqual([...c.added].map(pathToString).sort(), ['.metadata.annotations', '.metadata.annotations.n', '.spec.paused']);
    assert.deepEqual([...c.removed].map(pathToString), ['.metadata.labels.old']);
    assert.deepEqual([...c.modified].map(pathToString), ['.metadata.labels.app']);
  });
});

describe('addedFieldsV1', () => {
  const cases: [string, unknown, string | undefined][] = [
    ['a Deployment', deployment, DEPLOYMENT],
    ['a ConfigMap', { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'c', labels: { a: '1' } }, data: { k: 'v' } }, 'io.k8s.api.core.v1.ConfigMap'],
    ['a custom resource', { spec: { size: 3, tags: ['a'], nested: { x: {} } } }, undefined],
  ];
  for (const [name, obj, typeName] of cases) {
    it(`equals what compareNodes counts added for ${name}`, () => {
      const type = rootNodeType(typeName);
      const slow = compareNodes(new Map(), walkNodes(obj, type)).added.toFieldsV1();
      assert.deepEqual(addedFieldsV1(obj, type), slow);
      assert.ok(Object.keys(slow).length > 0);
    });
  }
});
