/** StatefulSet validation where it differs from other pod templates: mounts of volumeClaimTemplates. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { KubeObject } from '../../api/object.js';
import { byGroupVersionResource } from './index.js';

const sts = byGroupVersionResource('apps', 'v1', 'statefulsets')!;

function errorsOf(obj: KubeObject): string[] {
  const o = structuredClone(obj);
  sts.strategy.prepareForCreate?.(o);
  return sts.strategy.validate(o).map((e) => `${e.field}: ${e.detail}`);
}

function statefulSet(mounts: string[], claims: string[], volumes: string[] = []): KubeObject {
  return {
    apiVersion: 'apps/v1',
    kind: 'StatefulSet',
    metadata: { name: 'db', namespace: 'default' },
    spec: {
      serviceName: 'db',
      selector: { matchLabels: { app: 'db' } },
      template: {
        metadata: { labels: { app: 'db' } },
        spec: {
          containers: [{ name: 'db', image: 'postgres', volumeMounts: mounts.map((name, i) => ({ name, mountPath: `/m${i}` })) }],
          volumes: volumes.map((name) => ({ name, emptyDir: {} })),
        },
      },
      volumeClaimTemplates: claims.map((name) => ({ metadata: { name }, spec: { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '1Gi' } } } })),
    },
  } as KubeObject;
}

test('containers may mount the names of volumeClaimTemplates (every database chart does)', () => {
  assert.deepEqual(errorsOf(statefulSet(['data'], ['data'])), []);
  assert.deepEqual(errorsOf(statefulSet(['data', 'scratch'], ['data'], ['scratch'])), []);
});

test('a mount naming neither a volume nor a claim template is still refused', () => {
  assert.deepEqual(errorsOf(statefulSet(['data', 'logs'], ['data'])), ['spec.template.spec.containers[0].volumeMounts[1].name: Not found: "logs"']);
});
