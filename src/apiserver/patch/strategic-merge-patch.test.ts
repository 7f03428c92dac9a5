import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { StatusError } from '../../api/status.js';
import { DEPLOYMENT, POD, fixturePatchSchema } from './patch-schema.fixture.js';
import { schemaTablePatchSchema } from './schema-table-patch-schema.js';
import { deleteByKey, strategicMergePatch } from './strategic-merge-patch.js';

type Json = Record<string, unknown>;

/** A live Pod as the server stores it; each case starts from a fresh copy. */
function livePod(): Json {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name: 'web',
      namespace: 'default',
      labels: { app: 'web', tier: 'frontend' },
      annotations: { team: 'blue' },
      finalizers: ['example.com/a', 'example.com/b'],
      ownerReferences: [{ apiVersion: 'apps/v1', kind: 'ReplicaSet', name: 'web-1', uid: 'u-1', controller: true }],
    },
    spec: {
      containers: [
        {
          name: 'app',
          image: 'app:1',
          args: ['--port=8080', '--verbose'],
          ports: [
            { containerPort: 8080, protocol: 'TCP' },
            { containerPort: 9090, name: 'metrics', protocol: 'TCP' },
          ],
          env: [
            { name: 'MODE', value: 'prod' },
            { name: 'DEBUG', value: '0' },
          ],
          resources: { limits: { cpu: '1' } },
        },
        { name: 'sidecar', image: 'proxy:1' },
        { name: 'logger', image: 'log:1' },
      ],
      volumes: [
        { name: 'data', emptyDir: {} },
        { name: 'cfg', configMap: { name: 'web-cfg' } },
      ],
      tolerations: [{ key: 'dedicated', operator: 'Exists', effect: 'NoSchedule' }],
      nodeSelector: { disk: 'ssd' },
    },
  };
}

/** livePod() with `edit` applied to a copy: keeps each case's expectation to the part it changes. */
function podWith(edit: (pod: any) => void): Json {
  const pod = livePod();
  edit(pod);
  return pod;
}

const ALL_CONTAINERS = [{ name: 'app' }, { name: 'sidecar' }, { name: 'logger' }];

interface Case {
  name: string;
  original?: Json;
  patch: Json;
  want: Json;
}

const kubectlApplyCases: Case[] = [
  {
    name: 'changing one container image keeps the other containers and their order',
    patch: { spec: { '$setElementOrder/containers': ALL_CONTAINERS, containers: [{ name: 'sidecar', image: 'proxy:2' }] } },
    want: podWith((p) => (p.spec.containers[1].image = 'proxy:2')),
  },
  {
    name: 'removing an env var with $patch: delete',
    patch: {
      spec: {
        '$setElementOrder/containers': ALL_CONTAINERS,
        containers: [{ name: 'app', '$setElementOrder/env': [{ name: 'MODE' }], env: [{ $patch: 'delete', name: 'DEBUG' }] }],
      },
    },
    want: podWith((p) => (p.spec.containers[0].env = [{ name: 'MODE', value: 'prod' }])),
  },
  {
    name: 'removing a port (merge key containerPort)',
    patch: {
      spec: {
        '$setElementOrder/containers': ALL_CONTAINERS,
        containers: [{ name: 'app', '$setElementOrder/ports': [{ containerPort: 8080 }], ports: [{ $patch: 'delete', containerPort: 9090 }] }],
      },
    },
    want: podWith((p) => p.spec.containers[0].ports.pop()),
  },
  {
    name: 'changing a port merges into the port with the same containerPort',
    patch: { spec: { containers: [{ name: 'app', ports: [{ containerPort: 9090, name: 'prom' }] }] } },
    want: podWith((p) => (p.spec.containers[0].ports[1].name = 'prom')),
  },
  {
    name: 'removing a whole container',
    patch: { spec: { '$setElementOrder/containers': [{ name: 'app' }, { name: 'logger' }], containers: [{ $patch: 'delete', name: 'sidecar' }] } },
    want: podWith((p) => p.spec.containers.splice(1, 1)),
  },
  {
    name: 'adding a container in the middle: $setElementOrder places it',
    patch: {
      spec: {
        '$setElementOrder/containers': [{ name: 'app' }, { name: 'cache' }, { name: 'sidecar' }, { name: 'logger' }],
        containers: [{ name: 'cache', image: 'redis:7' }],
      },
    },
    want: podWith((p) => p.spec.containers.splice(1, 0, { name: 'cache', image: 'redis:7' })),
  },
  {
    name: '$setElementOrder alone reorders a list',
    patch: { spec: { '$setElementOrder/containers': [{ name: 'logger' }, { name: 'app' }, { name: 'sidecar' }] } },
    want: podWith((p) => (p.spec.containers = [p.spec.containers[2], p.spec.containers[0], p.spec.containers[1]])),
  },
  {
    name: 'a null map value deletes the label, other labels stay',
    patch: { metadata: { labels: { tier: null, env: 'prod' } } },
    want: podWith((p) => (p.metadata.labels = { app: 'web', env: 'prod' })),
  },
  {
    name: 'a null annotation for a key that does not exist changes nothing',
    patch: { metadata: { annotations: { missing: null } } },
    want: livePod(),
  },
  {
    name: '$retainKeys: switching a volume from emptyDir to configMap drops emptyDir',
    patch: {
      spec: {
        '$setElementOrder/volumes': [{ name: 'data' }, { name: 'cfg' }],
        volumes: [{ $retainKeys: ['configMap', 'name'], name: 'data', configMap: { name: 'data-cfg' } }],
      },
    },
    want: podWith((p) => (p.spec.volumes[0] = { name: 'data', configMap: { name: 'data-cfg' } })),
  },
  {
    name: '$deleteFromPrimitiveList removes a finalizer',
    patch: { metadata: { '$deleteFromPrimitiveList/finalizers': ['example.com/a'] } },
    want: podWith((p) => (p.metadata.finalizers = ['example.com/b'])),
  },
  {
    name: '$deleteFromPrimitiveList with $setElementOrder (what kubectl apply sends) removes and orders',
    patch: {
      metadata: {
        '$setElementOrder/finalizers': ['example.com/b', 'example.com/c'],
        '$deleteFromPrimitiveList/finalizers': ['example.com/a'],
        finalizers: ['example.com/c'],
      },
    },
    want: podWith((p) => (p.metadata.finalizers = ['example.com/b', 'example.com/c'])),
  },
  {
    name: 'finalizers (merge strategy primitives) are unioned without duplicates',
    patch: { metadata: { finalizers: ['example.com/b', 'example.com/new'] } },
    // Upstream order: patch items in patch order; a new item goes before the server-only item after it.
    want: podWith((p) => (p.metadata.finalizers = ['example.com/a', 'example.com/b', 'example.com/new'])),
  },
  {
    name: 'args (no patch strategy) are replaced',
    patch: { spec: { containers: [{ name: 'app', args: ['--port=9000'] }] } },
    want: podWith((p) => (p.spec.containers[0].args = ['--port=9000'])),
  },
  {
    name: 'tolerations (no patch strategy, list of maps) are replaced wholesale',
    patch: { spec: { tolerations: [{ key: 'gpu', operator: 'Exists' }] } },
    want: podWith((p) => (p.spec.tolerations = [{ key: 'gpu', operator: 'Exists' }])),
  },
  {
    name: '$patch: replace on a map replaces the whole map',
    patch: { metadata: { labels: { $patch: 'replace', only: 'this' } } },
    want: podWith((p) => (p.metadata.labels = { only: 'this' })),
  },
  {
    name: '$patch: replace in a merge list replaces the whole list',
    patch: { spec: { containers: [{ name: 'solo', image: 'solo:1' }, { $patch: 'replace' }] } },
    want: podWith((p) => (p.spec.containers = [{ name: 'solo', image: 'solo:1' }])),
  },
  {
    name: '$patch: delete on a map field removes it',
    patch: { metadata: { annotations: { $patch: 'delete' } } },
    want: podWith((p) => delete p.metadata.annotations),
  },
  {
    name: '$patch: delete on a struct field leaves it empty, as upstream',
    patch: { spec: { containers: [{ name: 'app', resources: { $patch: 'delete' } }] } },
    want: podWith((p) => (p.spec.containers[0].resources = {})),
  },
  {
    name: 'ownerReferences merge on uid',
    patch: { metadata: { ownerReferences: [{ apiVersion: 'v1', kind: 'Node', name: 'n1', uid: 'u-2' }] } },
    want: podWith((p) => p.metadata.ownerReferences.unshift({ apiVersion: 'v1', kind: 'Node', name: 'n1', uid: 'u-2' })),
  },
  {
    name: 'nulls inside a newly added element are dropped',
    patch: { spec: { '$setElementOrder/containers': [...ALL_CONTAINERS, { name: 'new' }], containers: [{ name: 'new', image: 'n:1', args: null }] } },
    want: podWith((p) => p.spec.containers.push({ name: 'new', image: 'n:1' })),
  },
  {
    name: 'a scalar replaces, a nested map merges',
    patch: { spec: { restartPolicy: 'Never', nodeSelector: { zone: 'a' } } },
    want: podWith((p) => {
      p.spec.restartPolicy = 'Never';
      p.spec.nodeSelector = { disk: 'ssd', zone: 'a' };
    }),
  },
];

// The order of merged lists must be exactly upstream's: kubectl computes apply patches expecting it.
const orderingCases: Case[] = [
  {
    name: 'without $setElementOrder a new container goes first (kubectl patch by hand)',
    patch: { spec: { containers: [{ name: 'cache', image: 'redis:7' }] } },
    want: podWith((p) => p.spec.containers.unshift({ name: 'cache', image: 'redis:7' })),
  },
  {
    name: 'patch order wins for items the patch names; server-only items keep their place',
    patch: { spec: { containers: [{ name: 'logger', image: 'log:2' }, { name: 'app', image: 'app:2' }] } },
    want: podWith((p) => {
      const [app, sidecar, logger] = p.spec.containers;
      app.image = 'app:2';
      logger.image = 'log:2';
      p.spec.containers = [sidecar, logger, app];
    }),
  },
  {
    name: 'a server-only item (an injected sidecar) stays before items it preceded on the server',
    patch: { spec: { '$setElementOrder/containers': [{ name: 'logger' }, { name: 'app' }] } },
    want: podWith((p) => (p.spec.containers = [p.spec.containers[1], p.spec.containers[2], p.spec.containers[0]])),
  },
  {
    name: 'server-only items keep their relative order among reordered items',
    original: { metadata: { finalizers: ['a', 'x', 'b', 'y', 'c'] } },
    patch: { metadata: { '$setElementOrder/finalizers': ['c', 'b', 'a'] } },
    want: { metadata: { finalizers: ['x', 'y', 'c', 'b', 'a'] } },
  },
  {
    name: 'replacing one container with another next to a server-only sidecar puts the new one last (upstream)',
    original: {
      spec: {
        containers: [
          { name: 'app', image: 'app:1' },
          { name: 'old', image: 'old:1' },
          { name: 'mesh-proxy', image: 'mesh:1' },
        ],
      },
    },
    patch: {
      spec: {
        '$setElementOrder/containers': [{ name: 'app' }, { name: 'new' }],
        containers: [{ name: 'new', image: 'new:1' }, { $patch: 'delete', name: 'old' }],
      },
    },
    want: {
      spec: {
        containers: [
          { name: 'app', image: 'app:1' },
          { name: 'mesh-proxy', image: 'mesh:1' },
          { name: 'new', image: 'new:1' },
        ],
      },
    },
  },
  {
    name: 'a primitive list with a server-only value: new values in $setElementOrder order, server-only kept in place',
    patch: {
      metadata: {
        '$setElementOrder/finalizers': ['example.com/new', 'example.com/a'],
        finalizers: ['example.com/new'],
      },
    },
    want: podWith((p) => (p.metadata.finalizers = ['example.com/new', 'example.com/a', 'example.com/b'])),
  },
];

const retainKeysCases: Case[] = [
  {
    name: 'Deployment strategy: switching to Recreate clears rollingUpdate',
    original: { spec: { strategy: { type: 'RollingUpdate', rollingUpdate: { maxSurge: 1, maxUnavailable: 0 } } } },
    patch: { spec: { strategy: { $retainKeys: ['type'], type: 'Recreate' } } },
    want: { spec: { strategy: { type: 'Recreate' } } },
  },
  {
    name: 'retained keys merge with the live values',
    original: { spec: { strategy: { type: 'RollingUpdate', rollingUpdate: { maxSurge: 1, maxUnavailable: 0 } } } },
    patch: { spec: { strategy: { $retainKeys: ['rollingUpdate', 'type'], rollingUpdate: { maxSurge: 2 } } } },
    want: { spec: { strategy: { type: 'RollingUpdate', rollingUpdate: { maxSurge: 2, maxUnavailable: 0 } } } },
  },
  {
    name: 'a null for a retained key still deletes it',
    original: { spec: { strategy: { type: 'RollingUpdate', rollingUpdate: { maxSurge: 1 } } } },
    patch: { spec: { strategy: { $retainKeys: ['type'], rollingUpdate: null } } },
    want: { spec: { strategy: { type: 'RollingUpdate' } } },
  },
  {
    name: 'without the directive a retainKeys field merges normally',
    original: { spec: { strategy: { type: 'RollingUpdate', rollingUpdate: { maxSurge: 1 } } } },
    patch: { spec: { strategy: { type: 'Recreate' } } },
    want: { spec: { strategy: { type: 'Recreate', rollingUpdate: { maxSurge: 1 } } } },
  },
  {
    name: 'an empty $retainKeys clears the map',
    original: { spec: { strategy: { type: 'RollingUpdate', rollingUpdate: { maxSurge: 1 } } } },
    patch: { spec: { strategy: { $retainKeys: [] } } },
    want: { spec: { strategy: {} } },
  },
];

const unknownFieldCases: Case[] = [
  {
    name: 'fields the schema does not know merge maps and replace lists',
    original: { spec: { future: { a: { c: 2 }, list: [1, 2] } } },
    patch: { spec: { future: { a: { b: 1 }, list: [3] } } },
    want: { spec: { future: { a: { c: 2, b: 1 }, list: [3] } } },
  },
];

function runCases(cases: Case[], typeName: string): void {
  for (const c of cases) {
    it(c.name, () => {
      const original = c.original ?? livePod();
      const before = structuredClone(original);
      const patch = structuredClone(c.patch);
      const got = strategicMergePatch(original, c.patch, fixturePatchSchema, typeName);
      assert.deepStrictEqual(got, c.want);
      assert.deepStrictEqual(original, before, 'the original must not be modified');
      assert.deepStrictEqual(c.patch, patch, 'the patch must not be modified');
    });
  }
}

describe('strategicMergePatch', () => {
  describe('kubectl client-side apply patches on a Pod', () => runCases(kubectlApplyCases, POD));
  describe('element order', () => runCases(orderingCases, POD));
  describe('$retainKeys', () => runCases(retainKeysCases, DEPLOYMENT));
  describe('unknown fields', () => runCases(unknownFieldCases, POD));

  it('applies the patch kubectl apply sends for a Deployment image change', () => {
    const live = {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: 'nginx', namespace: 'default', annotations: { 'kubectl.kubernetes.io/last-applied-configuration': '{"old":true}\n' } },
      spec: {
        replicas: 1,
        selector: { matchLabels: { app: 'nginx' } },
        template: {
          metadata: { labels: { app: 'nginx' } },
          spec: { containers: [{ name: 'nginx', image: 'nginx:1.25', ports: [{ containerPort: 80, protocol: 'TCP' }] }] },
        },
      },
    };
    const patch = {
      metadata: { annotations: { 'kubectl.kubernetes.io/last-applied-configuration': '{"new":true}\n' } },
      spec: {
        replicas: 3,
        template: { spec: { '$setElementOrder/containers': [{ name: 'nginx' }], containers: [{ image: 'nginx:1.26', name: 'nginx' }] } },
      },
    };
    const got = strategicMergePatch(live, patch, fixturePatchSchema, DEPLOYMENT) as any;
    assert.equal(got.spec.replicas, 3);
    assert.deepEqual(got.spec.template.spec.containers, [{ name: 'nginx', image: 'nginx:1.26', ports: [{ containerPort: 80, protocol: 'TCP' }] }]);
    assert.equal(got.metadata.annotations['kubectl.kubernetes.io/last-applied-configuration'], '{"new":true}\n');
    assert.deepEqual(got.spec.selector, live.spec.selector);
  });

  it('applies kubectl rollout restart (an annotation on the pod template)', () => {
    const live = { metadata: { name: 'd' }, spec: { template: { metadata: { labels: { app: 'd' } }, spec: { containers: [{ name: 'c', image: 'i' }] } } } };
    const patch = { spec: { template: { metadata: { annotations: { 'kubectl.kubernetes.io/restartedAt': '2025-01-01T00:00:00Z' } } } } };
    const got = strategicMergePatch(live, patch, fixturePatchSchema, DEPLOYMENT) as any;
    assert.deepEqual(got.spec.template.metadata, { labels: { app: 'd' }, annotations: { 'kubectl.kubernetes.io/restartedAt': '2025-01-01T00:00:00Z' } });
    assert.deepEqual(got.spec.template.spec, live.spec.template.spec);
  });

  const errorCases: { name: string; patch: Json; code: number; message: RegExp }[] = [
    {
      name: 'a merge-list element without its merge key',
      patch: { spec: { containers: [{ image: 'x' }] } },
      code: 400,
      message: /does not contain declared merge key: name/,
    },
    {
      name: 'a delete directive without the merge key',
      patch: { spec: { containers: [{ $patch: 'delete' }] } },
      code: 400,
      message: /does not contain declared merge key: name/,
    },
    { name: 'an unknown $patch value on a map', patch: { metadata: { labels: { $patch: 'explode' } } }, code: 400, message: /unknown patch type: "explode"/ },
    { name: '$patch: merge in a list (upstream refuses it)', patch: { spec: { containers: [{ $patch: 'merge' }] } }, code: 400, message: /merging lists cannot yet be specified/ },
    {
      name: 'a patch list out of $setElementOrder order',
      patch: { spec: { '$setElementOrder/containers': [{ name: 'app' }, { name: 'logger' }], containers: [{ name: 'logger', image: 'l' }, { name: 'app', image: 'a' }] } },
      code: 400,
      message: /doesn't match \$setElementOrder list/,
    },
    {
      name: '$retainKeys that does not list a key the patch sets',
      patch: { spec: { volumes: [{ $retainKeys: ['name'], name: 'data', configMap: { name: 'x' } }] } },
      code: 400,
      message: /invalid patch format of retainKeys.*"configMap"/,
    },
    { name: '$retainKeys that is not a list', patch: { spec: { volumes: [{ $retainKeys: 'name', name: 'data' }] } }, code: 400, message: /invalid patch format of retainKeys/ },
    { name: 'a directive key without /<field>', patch: { spec: { $setElementOrder: [] } }, code: 400, message: /invalid patch format of setElementOrder list/ },
    { name: 'a list of lists in a merge list', patch: { metadata: { finalizers: [['a']] } }, code: 422, message: /rejected our request/ },
    { name: 'mixed element types in a merge list', patch: { metadata: { finalizers: [{ a: 1 }] } }, code: 400, message: /list element types are not identical/ },
  ];
  for (const c of errorCases) {
    it(`refuses ${c.name} with ${c.code}`, () => {
      assert.throws(
        () => strategicMergePatch(livePod(), c.patch, fixturePatchSchema, POD),
        (err: unknown) => {
          assert.ok(err instanceof StatusError, `expected a StatusError, got ${String(err)}`);
          assert.equal(err.code, c.code);
          const text = `${err.message} ${JSON.stringify(err.status.details ?? {})}`;
          assert.match(text, c.message);
          return true;
        },
      );
    });
  }
});

describe('deleteByKey (the $patch: delete step of a merge list)', () => {
  // The straightforward form it replaces: one removal at a time, shifting left in place like Go's slices.
  function reference(view: unknown[], keys: unknown[], mergeKey: string): number {
    let length = view.length;
    for (const key of keys) {
      for (;;) {
        const at = view.slice(0, length).findIndex((item) => typeof item === 'object' && item !== null && (item as Record<string, unknown>)[mergeKey] === key);
        if (at < 0) break;
        view.copyWithin(at, at + 1, length);
        length--;
      }
    }
    return length;
  }

  it('leaves the list and its tail exactly as removing one item at a time does', () => {
    let seed = 42;
    const rand = () => ((seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648);
    for (let round = 0; round < 500; round++) {
      const list = Array.from({ length: Math.floor(rand() * 12) }, () => (rand() < 0.1 ? 'x' : { name: `n${Math.floor(rand() * 6)}`, i: round }));
      const keys = Array.from({ length: Math.floor(rand() * 5) }, () => `n${Math.floor(rand() * 7)}`);
      const a = list.slice();
      const b = list.slice();
      assert.equal(deleteByKey(a, keys, 'name'), reference(b, keys, 'name'), JSON.stringify({ list, keys }));
      assert.deepEqual(a, b, JSON.stringify({ list, keys }));
    }
  });

  it('is linear: 60,000 items merged and deleted by a 1 MB patch take well under a second', () => {
    const n = 60_000;
    const containers = Array.from({ length: n }, (_, i) => ({ name: `c${i}` }));
    const patch = { spec: { containers: [...containers.map((_, i) => ({ name: `c${n - 1 - i}`, image: 'j' })), ...containers.slice(0, 1000).map((c) => ({ $patch: 'delete', name: c.name }))] } };
    const start = process.hrtime.bigint();
    strategicMergePatch({ spec: { containers } }, patch, schemaTablePatchSchema, 'io.k8s.api.core.v1.Pod');
    // Not a benchmark: the quadratic form took 14 s here; this only catches a return to it.
    assert.ok(Number(process.hrtime.bigint() - start) / 1e6 < 5000);
  });
});
