import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { LimitRangeItem } from 'kubernetes-types/core/v1.js';
import type { KubeObject } from '../../api/object.js';
import { isStatusError } from '../../api/status.js';
import type { ResourceDefinition } from '../registry/types.js';
import { limitRangerDefaults, limitRangerValidation } from './limit-ranger.js';
import type { AdmissionAttributes, AdmissionContext } from './types.js';

function ctxWith(limits: LimitRangeItem[], namespace = 'apps'): AdmissionContext {
  const lr = { apiVersion: 'v1', kind: 'LimitRange', metadata: { name: 'lr', namespace }, spec: { limits } } as KubeObject;
  return { list: (_g, plural) => (plural === 'limitranges' ? [lr] : []), cached: () => undefined, get: async () => undefined };
}

function attrsFor(plural: string, object: KubeObject): AdmissionAttributes {
  return {
    operation: 'CREATE',
    resource: { group: '', plural, namespaced: true } as ResourceDefinition,
    subresource: '',
    namespace: 'apps',
    name: object.metadata.name!,
    object,
    user: { username: 'u', groups: [] },
    dryRun: false,
    onFinish: () => {},
    warn: () => {},
  };
}

type Resources = { requests?: Record<string, string>; limits?: Record<string, string> };

function pod(containers: Record<string, Resources>, init: Record<string, Resources> = {}): KubeObject {
  const c = (m: Record<string, Resources>) => Object.entries(m).map(([name, resources]) => ({ name, image: 'busybox', resources: structuredClone(resources) }));
  return { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p', namespace: 'apps' }, spec: { containers: c(containers), initContainers: c(init) }, status: { qosClass: 'BestEffort' } } as KubeObject;
}

function refusal(limits: LimitRangeItem[], object: KubeObject, plural = 'pods'): string | undefined {
  try {
    limitRangerValidation().validate(attrsFor(plural, object), ctxWith(limits));
    return undefined;
  } catch (err) {
    assert.ok(isStatusError(err));
    assert.equal(err.code, 403);
    return err.message;
  }
}

test('defaults are applied and announced in the annotation upstream sets', () => {
  const p = pod({ app: {}, side: { requests: { cpu: '50m' } } }, { setup: { limits: { memory: '64Mi' } } });
  limitRangerDefaults().admit(attrsFor('pods', p), ctxWith([{ type: 'Container', default: { cpu: '500m', memory: '256Mi' }, defaultRequest: { cpu: '100m', memory: '128Mi' } }]));
  const spec = p.spec as { containers: { resources: Resources }[]; initContainers: { resources: Resources }[] };
  assert.deepEqual(spec.containers[0]!.resources, { limits: { cpu: '500m', memory: '256Mi' }, requests: { cpu: '100m', memory: '128Mi' } });
  assert.deepEqual(spec.containers[1]!.resources, { limits: { cpu: '500m', memory: '256Mi' }, requests: { cpu: '50m', memory: '128Mi' } });
  assert.equal(
    p.metadata.annotations?.['kubernetes.io/limit-ranger'],
    'LimitRanger plugin set: cpu, memory request for container app; cpu, memory limit for container app; memory request for container side; cpu, memory limit for container side; cpu, memory request for init container setup; cpu limit for init container setup',
  );
  assert.equal((p as unknown as { status: { qosClass: string } }).status.qosClass, 'Burstable');
});

test('default limits come from max and default requests from default or min (LimitRange defaulting)', () => {
  const p = pod({ app: {} });
  limitRangerDefaults().admit(attrsFor('pods', p), ctxWith([{ type: 'Container', max: { cpu: '1' }, min: { memory: '10Mi' } }]));
  assert.deepEqual((p.spec as { containers: { resources: Resources }[] }).containers[0]!.resources, { limits: { cpu: '1' }, requests: { cpu: '1', memory: '10Mi' } });
  assert.equal(p.metadata.annotations?.['kubernetes.io/limit-ranger'], 'LimitRanger plugin set: cpu, memory request for container app; cpu limit for container app');
});

test('no LimitRange, or nothing to default: the pod is untouched', () => {
  const p = pod({ app: { requests: { cpu: '1' }, limits: { cpu: '1' } } });
  const before = structuredClone(p);
  limitRangerDefaults().admit(attrsFor('pods', p), ctxWith([{ type: 'Container', default: { cpu: '2' } }]));
  assert.deepEqual(p, before);
});

const containerCases: { name: string; item: LimitRangeItem; containers: Record<string, Resources>; want: string | undefined }[] = [
  { name: 'within bounds', item: { type: 'Container', min: { cpu: '100m' }, max: { cpu: '1' } }, containers: { a: { requests: { cpu: '200m' }, limits: { cpu: '1' } } }, want: undefined },
  { name: 'limit over max', item: { type: 'Container', max: { cpu: '1' } }, containers: { a: { requests: { cpu: '1' }, limits: { cpu: '2' } } }, want: 'pods "p" is forbidden: maximum cpu usage per Container is 1, but limit is 2' },
  { name: 'no limit under a max', item: { type: 'Container', max: { memory: '1Gi' } }, containers: { a: {} }, want: 'pods "p" is forbidden: maximum memory usage per Container is 1Gi.  No limit is specified' },
  { name: 'request under min', item: { type: 'Container', min: { cpu: '100m' } }, containers: { a: { requests: { cpu: '50m' } } }, want: 'pods "p" is forbidden: minimum cpu usage per Container is 100m, but request is 50m' },
  { name: 'no request under a min', item: { type: 'Container', min: { cpu: '100m' } }, containers: { a: {} }, want: 'pods "p" is forbidden: minimum cpu usage per Container is 100m.  No request is specified' },
  {
    name: 'ratio exceeded',
    item: { type: 'Container', maxLimitRequestRatio: { cpu: '2' } },
    containers: { a: { requests: { cpu: '100m' }, limits: { cpu: '500m' } } },
    want: 'pods "p" is forbidden: cpu max limit to request ratio per Container is 2, but provided ratio is 5.000000',
  },
  {
    name: 'several errors in brackets',
    item: { type: 'Container', max: { cpu: '1', memory: '1Gi' } },
    containers: { a: { requests: { cpu: '2', memory: '2Gi' }, limits: { cpu: '2', memory: '2Gi' } } },
    want: 'pods "p" is forbidden: [maximum cpu usage per Container is 1, but limit is 2, maximum memory usage per Container is 1Gi, but limit is 2Gi]',
  },
];

for (const c of containerCases) {
  test(`LimitRanger Container item: ${c.name}`, () => {
    assert.equal(refusal([c.item], pod(c.containers)), c.want);
  });
}

test('a Pod item bounds the sum of the containers', () => {
  const item: LimitRangeItem = { type: 'Pod', max: { cpu: '1' } };
  assert.equal(refusal([item], pod({ a: { limits: { cpu: '600m' }, requests: { cpu: '600m' } }, b: { limits: { cpu: '600m' }, requests: { cpu: '600m' } } })), 'pods "p" is forbidden: maximum cpu usage per Pod is 1, but limit is 1200m');
  assert.equal(refusal([item], pod({ a: { limits: { cpu: '500m' } }, b: { limits: { cpu: '500m' } } })), undefined);
});

test('a PersistentVolumeClaim item bounds the storage request', () => {
  const item: LimitRangeItem = { type: 'PersistentVolumeClaim', min: { storage: '1Gi' }, max: { storage: '10Gi' } };
  const pvc = (storage: string) => ({ apiVersion: 'v1', kind: 'PersistentVolumeClaim', metadata: { name: 'data', namespace: 'apps' }, spec: { resources: { requests: { storage } } } }) as KubeObject;
  assert.equal(refusal([item], pvc('500Mi'), 'persistentvolumeclaims'), 'persistentvolumeclaims "data" is forbidden: minimum storage usage per PersistentVolumeClaim is 1Gi, but request is 500Mi');
  assert.equal(refusal([item], pvc('20Gi'), 'persistentvolumeclaims'), 'persistentvolumeclaims "data" is forbidden: maximum storage usage per PersistentVolumeClaim is 10Gi, but request is 20Gi');
  assert.equal(refusal([item], pvc('5Gi'), 'persistentvolumeclaims'), undefined);
});
