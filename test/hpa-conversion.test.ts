/**
 * autoscaling/v2 ⇄ v1 for HorizontalPodAutoscalers: what v1 cannot express (other metrics, their statuses, behavior,
 * conditions) rides in upstream's autoscaling.alpha.kubernetes.io annotations and comes back, so a v1 client that
 * reads and writes an HPA loses nothing (upstream's order: the annotated metrics first, then the CPU target).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { KubeObject } from '../src/api/object.js';
import { hpaV1ToV2, hpaV2ToV1 } from '../src/apiserver/registry/horizontalpodautoscalers.js';

const v2 = {
  apiVersion: 'autoscaling/v2',
  kind: 'HorizontalPodAutoscaler',
  metadata: { name: 'web', namespace: 'ns', annotations: { mine: 'kept' } },
  spec: {
    scaleTargetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: 'web' },
    minReplicas: 1,
    maxReplicas: 10,
    metrics: [
      { type: 'Pods', pods: { metric: { name: 'qps', selector: { matchLabels: { a: 'b' } } }, target: { type: 'AverageValue', averageValue: '10' } } },
      { type: 'Object', object: { describedObject: { apiVersion: 'v1', kind: 'Service', name: 'web' }, metric: { name: 'rps' }, target: { type: 'Value', value: '100' } } },
      { type: 'External', external: { metric: { name: 'queue' }, target: { type: 'AverageValue', averageValue: '30' } } },
      { type: 'ContainerResource', containerResource: { name: 'memory', container: 'app', target: { type: 'AverageValue', averageValue: '100Mi' } } },
      { type: 'Resource', resource: { name: 'cpu', target: { type: 'Utilization', averageUtilization: 50 } } },
    ],
    behavior: { scaleDown: { stabilizationWindowSeconds: 30, selectPolicy: 'Max', policies: [{ type: 'Pods', value: 1, periodSeconds: 60 }] } },
  },
  status: {
    currentReplicas: 2,
    desiredReplicas: 3,
    currentMetrics: [
      { type: 'Pods', pods: { metric: { name: 'qps', selector: { matchLabels: { a: 'b' } } }, current: { averageValue: '12' } } },
      { type: 'Object', object: { describedObject: { apiVersion: 'v1', kind: 'Service', name: 'web' }, metric: { name: 'rps' }, current: { value: '120' } } },
      { type: 'External', external: { metric: { name: 'queue' }, current: { averageValue: '31' } } },
      { type: 'ContainerResource', containerResource: { name: 'memory', container: 'app', current: { averageValue: '90Mi' } } },
      { type: 'Resource', resource: { name: 'cpu', current: { averageUtilization: 60, averageValue: '60m' } } },
    ],
    conditions: [{ type: 'AbleToScale', status: 'True', reason: 'ReadyForNewScale', message: 'recommended size matches current size', lastTransitionTime: '2026-01-01T00:00:00Z' }],
  },
} as unknown as KubeObject;

describe('HPA v2 ⇄ v1', () => {
  const v1 = hpaV2ToV1(v2) as any;
  it('v1 shows the CPU target and keeps the rest in annotations', () => {
    assert.equal(v1.spec.targetCPUUtilizationPercentage, 50);
    assert.equal(v1.status.currentCPUUtilizationPercentage, 60);
    assert.deepEqual(JSON.parse(v1.metadata.annotations['autoscaling.alpha.kubernetes.io/metrics'])[0], { type: 'Pods', pods: { metricName: 'qps', selector: { matchLabels: { a: 'b' } }, targetAverageValue: '10' } });
    assert.deepEqual(JSON.parse(v1.metadata.annotations['autoscaling.alpha.kubernetes.io/current-metrics'])[1], { type: 'Object', object: { target: { apiVersion: 'v1', kind: 'Service', name: 'web' }, metricName: 'rps', currentValue: '120' } });
    assert.equal(v1.metadata.annotations.mine, 'kept');
    assert.ok(v1.metadata.annotations['autoscaling.alpha.kubernetes.io/behavior']);
    assert.ok(v1.metadata.annotations['autoscaling.alpha.kubernetes.io/conditions']);
  });
  it('v1 back to v2 gives the same HPA (the CPU target last, as it was) and no annotations of ours', () => {
    const back = hpaV1ToV2(v1) as any;
    assert.deepEqual(back.spec, (v2 as any).spec);
    assert.deepEqual(back.status, (v2 as any).status);
    assert.deepEqual(back.metadata.annotations, { mine: 'kept' });
  });
  it('a plain v1 HPA converts as before', () => {
    const plain = hpaV1ToV2({ apiVersion: 'autoscaling/v1', kind: 'HorizontalPodAutoscaler', metadata: { name: 'x' }, spec: { scaleTargetRef: { kind: 'Deployment', name: 'x' }, maxReplicas: 3, targetCPUUtilizationPercentage: 70 } } as KubeObject) as any;
    assert.deepEqual(plain.spec.metrics, [{ type: 'Resource', resource: { name: 'cpu', target: { type: 'Utilization', averageUtilization: 70 } } }]);
    assert.equal(plain.metadata.annotations, undefined);
  });
});
