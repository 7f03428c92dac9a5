import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  fieldAtPath,
  fieldOf,
  fieldsOf,
  innermostType,
  kindTypes,
  protoEmbeddingsOf,
  schemaSources,
  schemaTable,
  typeForKind,
  typeOf,
} from './schema.js';
import type { SchemaType } from './types.js';

const core = (name: string) => `io.k8s.api.core.v1.${name}`;
const meta = (name: string) => `io.k8s.apimachinery.pkg.apis.meta.v1.${name}`;
const scalar = (s: string): SchemaType => ({ kind: 'scalar', scalar: s } as SchemaType);

function mustField(typeName: string, json: string) {
  const f = fieldOf(typeName, json);
  assert.ok(f, `${typeName}.${json} missing`);
  return f;
}

describe('strategic merge patch metadata', () => {
  it('merges Pod containers, env and ports by their keys', () => {
    const containers = fieldAtPath(core('Pod'), ['spec', 'containers']);
    assert.equal(containers?.patchStrategy, 'merge');
    assert.equal(containers?.patchMergeKey, 'name');
    assert.deepEqual(containers?.type, { kind: 'array', items: { kind: 'ref', name: core('Container') } });

    const ports = mustField(core('Container'), 'ports');
    assert.equal(ports.patchStrategy, 'merge');
    assert.equal(ports.patchMergeKey, 'containerPort');
    assert.equal(ports.listType, 'map');
    assert.deepEqual(ports.listMapKeys, ['containerPort', 'protocol']);

    const env = mustField(core('Container'), 'env');
    assert.equal(env.patchStrategy, 'merge');
    assert.equal(env.patchMergeKey, 'name');
  });

  it('keeps retainKeys on PodSpec.volumes', () => {
    const volumes = mustField(core('PodSpec'), 'volumes');
    assert.equal(volumes.patchStrategy, 'merge,retainKeys');
    assert.equal(volumes.patchMergeKey, 'name');
  });

  it('merges ObjectMeta finalizers as a set and ownerReferences by uid', () => {
    const finalizers = mustField(meta('ObjectMeta'), 'finalizers');
    assert.equal(finalizers.patchStrategy, 'merge');
    assert.equal(finalizers.patchMergeKey, undefined);
    assert.equal(finalizers.listType, 'set');
    const owners = mustField(meta('ObjectMeta'), 'ownerReferences');
    assert.equal(owners.patchStrategy, 'merge');
    assert.equal(owners.patchMergeKey, 'uid');
  });

  it('merges Service ports by port', () => {
    const ports = fieldAtPath(core('Service'), ['spec', 'ports']);
    assert.equal(ports?.patchStrategy, 'merge');
    assert.equal(ports?.patchMergeKey, 'port');
  });

  it('treats atomic structs and maps as atomic where they are used', () => {
    // LabelSelector is `+structType=atomic`; nodeSelector is `+mapType=atomic` on the field.
    assert.equal(fieldAtPath('io.k8s.api.apps.v1.Deployment', ['spec', 'selector'])?.mapType, 'atomic');
    assert.equal(mustField(core('PodSpec'), 'nodeSelector').mapType, 'atomic');
    // A field marker overrides the type's: PersistentVolumeSpec.claimRef is granular, ObjectReference atomic.
    assert.equal(mustField(core('PersistentVolumeSpec'), 'claimRef').mapType, 'granular');
    assert.equal(mustField(core('Binding'), 'target').mapType, 'atomic');
  });
});

describe('protobuf field numbers', () => {
  it('numbers ObjectMeta and Deployment fields as upstream', () => {
    const om = meta('ObjectMeta');
    assert.deepEqual(
      ['name', 'namespace', 'labels', 'annotations', 'uid', 'resourceVersion'].map((f) => fieldOf(om, f)?.proto),
      [1, 3, 11, 12, 5, 6],
    );
    const d = 'io.k8s.api.apps.v1.Deployment';
    assert.deepEqual(['metadata', 'spec', 'status'].map((f) => fieldOf(d, f)?.proto), [1, 2, 3]);
  });

  it('gives TypeMeta fields no numbers (they travel in the runtime.Unknown envelope)', () => {
    assert.equal(mustField(core('Pod'), 'apiVersion').proto, undefined);
    assert.equal(mustField(core('Pod'), 'kind').proto, undefined);
  });

  it('keeps inline structs as nested messages: Volume holds VolumeSource at 2', () => {
    assert.deepEqual(protoEmbeddingsOf(core('Volume')), [{ proto: 2, type: core('VolumeSource') }]);
    // The flattened JSON field exists in Volume but its number belongs to VolumeSource.
    assert.equal(mustField(core('Volume'), 'configMap').proto, undefined);
    assert.equal(mustField(core('VolumeSource'), 'configMap').proto, 19);
    assert.deepEqual(protoEmbeddingsOf(core('Pod')), []);
  });

  it('never gives two fields of a type the same number', () => {
    for (const def of Object.values(schemaTable)) {
      const numbers = [
        ...def.fields.flatMap((f) => (f.proto === undefined ? [] : [f.proto])),
        ...protoEmbeddingsOf(def.name).map((e) => e.proto),
      ];
      assert.equal(new Set(numbers).size, numbers.length, `${def.name} has duplicate proto numbers`);
    }
  });
});

describe('field types', () => {
  it('types ConfigMap and Secret data', () => {
    const data = mustField(core('ConfigMap'), 'data');
    assert.deepEqual(data.type, { kind: 'map', values: scalar('string') });
    assert.equal(data.proto, 2);
    assert.deepEqual(mustField(core('ConfigMap'), 'binaryData').type, { kind: 'map', values: scalar('bytes') });
    assert.deepEqual(mustField(core('Secret'), 'data').type, { kind: 'map', values: scalar('bytes') });
    assert.deepEqual(mustField(core('Secret'), 'stringData').type, { kind: 'map', values: scalar('string') });
  });

  it('maps special Go types to their scalar kinds', () => {
    assert.deepEqual(mustField(core('ServicePort'), 'targetPort').type, scalar('intOrString'));
    assert.deepEqual(mustField(core('ContainerPort'), 'containerPort').type, scalar('int32'));
    assert.deepEqual(mustField(core('ResourceRequirements'), 'limits').type, { kind: 'map', values: scalar('quantity') });
    assert.deepEqual(mustField(meta('ObjectMeta'), 'creationTimestamp').type, scalar('time'));
    assert.deepEqual(mustField(meta('ObjectMeta'), 'uid').type, scalar('string'));
    assert.deepEqual(mustField(meta('ObjectMeta'), 'generation').type, scalar('int64'));
    assert.deepEqual(fieldAtPath('io.k8s.api.coordination.v1.Lease', ['spec', 'renewTime'])?.type, scalar('microtime'));
    assert.deepEqual(mustField(meta('ManagedFieldsEntry'), 'fieldsV1').type, scalar('fieldsV1'));
    assert.deepEqual(mustField('io.k8s.api.apps.v1.ControllerRevision', 'data').type, scalar('rawExtension'));
    assert.deepEqual(mustField('io.k8s.api.autoscaling.v2.HPAScalingRules', 'selectPolicy').type, scalar('string'));
  });

  it('flattens inline structs into the JSON fields of their parent', () => {
    const pod = fieldsOf(core('Pod'));
    assert.deepEqual([...(pod?.keys() ?? [])].sort(), ['apiVersion', 'kind', 'metadata', 'spec', 'status']);
    assert.ok(fieldOf(core('Volume'), 'persistentVolumeClaim'));
    assert.ok(fieldOf(core('Probe'), 'httpGet'));
    assert.equal(fieldOf(core('Volume'), ''), undefined);
  });
});

describe('required fields', () => {
  it('follows OpenAPI: no omitempty and no +optional means required', () => {
    assert.equal(fieldAtPath('io.k8s.api.apps.v1.Deployment', ['spec', 'selector'])?.required, true);
    assert.equal(fieldAtPath('io.k8s.api.apps.v1.Deployment', ['spec', 'template'])?.required, true);
    assert.equal(fieldAtPath('io.k8s.api.apps.v1.Deployment', ['spec', 'replicas'])?.required, undefined);
    assert.equal(mustField(core('Container'), 'name').required, true);
    assert.equal(mustField(core('Container'), 'image').required, undefined);
    assert.equal(mustField(core('PodList'), 'items').required, true);
  });
});

describe('kinds', () => {
  const served: [string, string, string[]][] = [
    ['', 'v1', ['Namespace', 'Pod', 'Service', 'Endpoints', 'Node', 'ConfigMap', 'Secret', 'Event', 'ServiceAccount', 'PersistentVolume', 'PersistentVolumeClaim', 'ResourceQuota', 'LimitRange', 'Binding']],
    ['apps', 'v1', ['Deployment', 'ReplicaSet', 'StatefulSet', 'DaemonSet', 'ControllerRevision']],
    ['batch', 'v1', ['Job', 'CronJob']],
    ['autoscaling', 'v1', ['HorizontalPodAutoscaler', 'Scale']],
    ['autoscaling', 'v2', ['HorizontalPodAutoscaler']],
    ['coordination.k8s.io', 'v1', ['Lease']],
    ['discovery.k8s.io', 'v1', ['EndpointSlice']],
    ['events.k8s.io', 'v1', ['Event']],
    ['rbac.authorization.k8s.io', 'v1', ['Role', 'RoleBinding', 'ClusterRole', 'ClusterRoleBinding']],
    ['storage.k8s.io', 'v1', ['StorageClass']],
    ['networking.k8s.io', 'v1', ['Ingress', 'NetworkPolicy']],
    ['policy', 'v1', ['PodDisruptionBudget', 'Eviction']],
    ['scheduling.k8s.io', 'v1', ['PriorityClass']],
    ['authorization.k8s.io', 'v1', ['LocalSubjectAccessReview', 'SelfSubjectAccessReview', 'SelfSubjectRulesReview', 'SubjectAccessReview']],
    ['authentication.k8s.io', 'v1', ['SelfSubjectReview', 'TokenReview', 'TokenRequest']],
  ];
  const withoutList = new Set(['Binding', 'Scale', 'Eviction', 'SelfSubjectAccessReview', 'SelfSubjectRulesReview', 'SubjectAccessReview', 'LocalSubjectAccessReview', 'SelfSubjectReview', 'TokenReview', 'TokenRequest']);

  it('has every served kind, its list, and apiVersion/kind/metadata on each', () => {
    for (const [group, version, kinds] of served) {
      for (const kind of kinds) {
        for (const k of withoutList.has(kind) ? [kind] : [kind, `${kind}List`]) {
          const def = typeForKind(group, version, k);
          assert.ok(def, `${group}/${version} ${k} missing`);
          assert.deepEqual(def.gvk, { group, version, kind: k });
          for (const f of ['apiVersion', 'kind', 'metadata']) assert.ok(fieldOf(def.name, f), `${def.name}.${f}`);
        }
      }
    }
  });

  it('keeps same-named kinds of different groups apart', () => {
    assert.equal(typeForKind('', 'v1', 'Event')?.name, core('Event'));
    assert.equal(typeForKind('events.k8s.io', 'v1', 'Event')?.name, 'io.k8s.api.events.v1.Event');
    assert.ok(fieldOf(core('Event'), 'involvedObject'));
    assert.ok(fieldOf('io.k8s.api.events.v1.Event', 'regarding'));
    assert.ok(fieldOf('io.k8s.api.autoscaling.v2.HorizontalPodAutoscalerSpec', 'metrics'));
    assert.equal(fieldOf('io.k8s.api.autoscaling.v1.HorizontalPodAutoscalerSpec', 'metrics'), undefined);
    assert.equal(typeForKind('', 'v1', 'Deployment'), undefined);
  });

  it('finds Status and DeleteOptions under any group version', () => {
    assert.equal(typeForKind('', 'v1', 'Status')?.name, meta('Status'));
    assert.equal(typeForKind('apps', 'v1', 'Status')?.name, meta('Status'));
    assert.equal(typeForKind('policy', 'v1', 'DeleteOptions')?.name, meta('DeleteOptions'));
    assert.equal(fieldAtPath(core('Binding'), ['target', 'kind'])?.type.kind, 'scalar');
    assert.ok(fieldOf('io.k8s.api.policy.v1.Eviction', 'deleteOptions'));
  });

  it('lists only types with a gvk as kinds', () => {
    const kinds = kindTypes();
    assert.ok(kinds.some((d) => d.name === 'io.k8s.api.apps.v1.DeploymentList'));
    assert.ok(!kinds.some((d) => d.name === core('PodSpec')));
  });
});

describe('the table as a whole', () => {
  it('is closed: every ref and proto embedding names a type in the table', () => {
    const dangling: string[] = [];
    for (const [key, def] of Object.entries(schemaTable)) {
      assert.equal(def.name, key);
      for (const f of def.fields) {
        const inner = innermostType(f.type);
        if (inner.kind === 'ref' && !typeOf(inner.name)) dangling.push(`${def.name}.${f.json} -> ${inner.name}`);
      }
      for (const e of protoEmbeddingsOf(def.name)) if (!typeOf(e.type)) dangling.push(`${def.name} embeds ${e.type}`);
    }
    assert.deepEqual(dangling, []);
  });

  it('has one-line descriptions of bounded length', () => {
    assert.match(typeOf(core('Pod'))?.description ?? '', /^Pod is a collection of containers/);
    for (const def of Object.values(schemaTable)) {
      for (const d of [def.description, ...def.fields.map((f) => f.description)]) {
        if (d === undefined) continue;
        assert.ok(d.length <= 200 && !d.includes('\n') && !d.includes('+optional'), `${def.name}: ${d}`);
      }
    }
  });

  it('records the upstream version it was generated from', () => {
    assert.deepEqual(schemaSources.map((s) => s.repository), ['github.com/kubernetes/api', 'github.com/kubernetes/apimachinery']);
    for (const s of schemaSources) assert.match(s.commit, /^[0-9a-f]{40}$/);
  });
});
