/**
 * The replica calculator against tables modelled on upstream's replica_calculator_test.go (the cases re-told here:
 * CPU scale up/down, tolerance, unready and missing pods, ignored deleted/failed pods, missing requests, containers,
 * plain per-pod metrics, object/external totals).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Pod } from 'kubernetes-types/core/v1.js';
import {
  computePerPodReplicas,
  computePlainMetricReplicas,
  computeResourceReplicas,
  computeUsageRatioReplicas,
  resourceUtilizationRatio,
  type ResourceReplicasInput,
} from './replica-calculator.js';
import type { PodMetricsInfo } from './metrics-client.js';

const NOW = new Date('2026-01-01T12:00:00Z');
const ago = (s: number) => new Date(NOW.getTime() - s * 1000).toISOString().replace(/\.\d+Z$/, 'Z');

interface PodSpec {
  name: string;
  phase?: 'Running' | 'Pending' | 'Failed' | 'Succeeded';
  ready?: boolean;
  /** Seconds since the pod started (default 10 min: past the CPU initialization period). */
  startedAgo?: number;
  /** Seconds since the Ready condition last changed (default: 1 s after start). */
  readyChangedAgo?: number;
  deleting?: boolean;
  /** Requests per container: { cpu: '1' } etc.; one container unless several are given. */
  containers?: { name: string; requests?: Record<string, string> }[];
}

function pod(p: PodSpec): Pod {
  const started = p.startedAgo ?? 600;
  return {
    metadata: { name: p.name, namespace: 'ns', ...(p.deleting ? { deletionTimestamp: ago(1) } : {}) },
    spec: { containers: (p.containers ?? [{ name: 'app', requests: { cpu: '1' } }]).map((c) => ({ name: c.name, resources: c.requests ? { requests: c.requests } : {} })) },
    status: {
      phase: p.phase ?? 'Running',
      startTime: ago(started),
      conditions: [{ type: 'Ready', status: p.ready === false ? 'False' : 'True', lastTransitionTime: ago(p.readyChangedAgo ?? started - 1) }],
    },
  };
}

function metrics(values: Record<string, number>, sampledAgo = 5): PodMetricsInfo {
  return new Map(Object.entries(values).map(([name, value]) => [name, { value, timestamp: new Date(NOW.getTime() - sampledAgo * 1000), windowMs: 15_000 }]));
}

const base = (over: Partial<ResourceReplicasInput>): ResourceReplicasInput => ({ currentReplicas: 3, targetUtilization: 30, resource: 'cpu', container: '', pods: [], metrics: new Map(), now: NOW, ...over });

describe('computeResourceReplicas (Utilization of requests)', () => {
  const cases: { name: string; input: ResourceReplicasInput; replicas: number; utilization: number; raw?: number }[] = [
    {
      name: 'hot CPU scales up: 50 % used against a 30 % target on 3 pods asks for 5',
      input: base({ pods: ['a', 'b', 'c'].map((name) => pod({ name })), metrics: metrics({ a: 300, b: 500, c: 700 }) }),
      replicas: 5,
      utilization: 50,
      raw: 500,
    },
    {
      name: 'cool CPU scales down: 28 % of a 50 % target on 5 pods asks for 3',
      input: base({ currentReplicas: 5, targetUtilization: 50, pods: ['a', 'b', 'c', 'd', 'e'].map((name) => pod({ name })), metrics: metrics({ a: 100, b: 300, c: 500, d: 250, e: 250 }) }),
      replicas: 3,
      utilization: 28,
      raw: 280,
    },
    {
      name: 'within the 10 % tolerance nothing changes (102 % of a 100 % target)',
      input: base({ targetUtilization: 100, pods: ['a', 'b', 'c'].map((name) => pod({ name })), metrics: metrics({ a: 1010, b: 1030, c: 1020 }) }),
      replicas: 3,
      utilization: 102,
    },
    {
      name: 'an unready young pod is left out and counted as idle on scale up (3 → 4, not 5)',
      input: base({ pods: [pod({ name: 'a', ready: false, startedAgo: 60, readyChangedAgo: 59 }), pod({ name: 'b' }), pod({ name: 'c' })], metrics: metrics({ a: 300, b: 500, c: 700 }) }),
      replicas: 4,
      utilization: 60,
      raw: 600,
    },
    {
      name: 'a pod ready so recently that no full window was sampled is unready too',
      input: base({ pods: [pod({ name: 'a', startedAgo: 60, readyChangedAgo: 10 }), pod({ name: 'b' }), pod({ name: 'c' })], metrics: metrics({ a: 300, b: 500, c: 700 }) }),
      replicas: 4,
      utilization: 60,
    },
    {
      name: 'a Pending pod counts as unready',
      input: base({ pods: [pod({ name: 'a', phase: 'Pending' }), pod({ name: 'b' }), pod({ name: 'c' })], metrics: metrics({ b: 500, c: 700 }) }),
      replicas: 4,
      utilization: 60,
    },
    {
      name: 'when counting unready pods as idle reverses the direction, the count stays',
      input: base({ targetUtilization: 50, pods: [pod({ name: 'a', ready: false, startedAgo: 60 }), pod({ name: 'b', ready: false, startedAgo: 60 }), pod({ name: 'c' })], metrics: metrics({ a: 900, b: 900, c: 700 }) }),
      replicas: 3,
      utilization: 70,
    },
    {
      name: 'memory ignores readiness: an unready pod still counts',
      input: base({
        resource: 'memory',
        targetUtilization: 50,
        currentReplicas: 2,
        pods: [pod({ name: 'a', ready: false, startedAgo: 60, containers: [{ name: 'app', requests: { memory: '1000' } }] }), pod({ name: 'b', containers: [{ name: 'app', requests: { memory: '1000' } }] })],
        metrics: metrics({ a: 1_000_000, b: 1_000_000 }),
      }),
      replicas: 4,
      utilization: 100,
    },
    {
      name: 'a pod without a sample counts as idle on scale up (3 → 4)',
      input: base({ targetUtilization: 50, pods: ['a', 'b', 'c'].map((name) => pod({ name })), metrics: metrics({ a: 900, b: 900 }) }),
      replicas: 4,
      utilization: 90,
    },
    {
      name: 'a pod without a sample counts as using its request on scale down (3 → 2, not 1)',
      input: base({ targetUtilization: 100, pods: ['a', 'b', 'c'].map((name) => pod({ name })), metrics: metrics({ a: 100, b: 100 }) }),
      replicas: 2,
      utilization: 10,
    },
    {
      name: 'pods being deleted or Failed are ignored, not missing (5 listed, 3 count)',
      input: base({
        currentReplicas: 5,
        targetUtilization: 50,
        pods: [pod({ name: 'a' }), pod({ name: 'b' }), pod({ name: 'c' }), pod({ name: 'd', deleting: true }), pod({ name: 'e', phase: 'Failed' })],
        metrics: metrics({ a: 100, b: 100, c: 100 }),
      }),
      replicas: 1,
      utilization: 10,
    },
    {
      name: 'ContainerResource: only the named container counts (its 500m request, not the sidecar’s)',
      input: base({
        container: 'app',
        targetUtilization: 50,
        currentReplicas: 2,
        pods: ['a', 'b'].map((name) => pod({ name, containers: [{ name: 'app', requests: { cpu: '500m' } }, { name: 'sidecar' }] })),
        metrics: metrics({ a: 500, b: 500 }),
      }),
      replicas: 4,
      utilization: 100,
      raw: 500,
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const r = computeResourceReplicas(c.input);
      assert.equal(r.replicas, c.replicas);
      assert.equal(r.utilization, c.utilization);
      if (c.raw !== undefined) assert.equal(r.rawUtilization, c.raw);
    });
  }

  const errors: { name: string; input: ResourceReplicasInput; message: string }[] = [
    { name: 'no pods', input: base({ metrics: metrics({ a: 1 }) }), message: 'no pods returned by selector while calculating replica count' },
    {
      name: 'a container without a request',
      input: base({ pods: [pod({ name: 'a', containers: [{ name: 'web' }] })], metrics: metrics({ a: 100 }) }),
      message: 'missing request for cpu in container web of Pod a',
    },
    { name: 'no samples at all', input: base({ pods: [pod({ name: 'a' })], metrics: new Map() }), message: 'did not receive metrics for targeted pods (pods might be unready)' },
  ];
  for (const c of errors) {
    it(`error: ${c.name}`, () => assert.throws(() => computeResourceReplicas(c.input), { message: c.message }));
  }

  it('utilization is an integer percentage, truncated as upstream', () => {
    const r = resourceUtilizationRatio(metrics({ a: 333, b: 334 }), new Map([['a', 1000], ['b', 1000]]), 50);
    assert.equal(r.utilization, 33);
    assert.equal(r.ratio, 33 / 50);
    assert.throws(() => resourceUtilizationRatio(metrics({ x: 1 }), new Map([['a', 1000]]), 50), { message: 'no metrics returned matched known pods' });
  });
});

describe('computePlainMetricReplicas (AverageValue, Pods metrics)', () => {
  const pods3 = ['a', 'b', 'c'].map((name) => pod({ name }));
  it('scales with the average per pod: 12 against 6 doubles 3 to 6', () => {
    const r = computePlainMetricReplicas({ currentReplicas: 3, target: 6000, resource: '', pods: pods3, metrics: metrics({ a: 10_000, b: 12_000, c: 14_000 }), now: NOW });
    assert.deepEqual(r, { replicas: 6, utilization: 12_000 });
  });
  it('within the tolerance the count stays', () => {
    const r = computePlainMetricReplicas({ currentReplicas: 3, target: 11_500, resource: '', pods: pods3, metrics: metrics({ a: 10_000, b: 12_000, c: 14_000 }), now: NOW });
    assert.equal(r.replicas, 3);
  });
  it('a missing pod counts as at target on scale down', () => {
    // avg 1000 of target 10000 → 0.1; with c at target: (1000+1000+10000)/3 = 4000 → 0.4 × 3 → 2.
    const r = computePlainMetricReplicas({ currentReplicas: 3, target: 10_000, resource: '', pods: pods3, metrics: metrics({ a: 1000, b: 1000 }), now: NOW });
    assert.equal(r.replicas, 2);
  });
  it('custom metrics ignore CPU readiness; resource cpu does not', () => {
    const pods = [pod({ name: 'a', ready: false, startedAgo: 30 }), pod({ name: 'b' })];
    const m = metrics({ a: 4000, b: 4000 });
    assert.equal(computePlainMetricReplicas({ currentReplicas: 2, target: 2000, resource: '', pods, metrics: m, now: NOW }).replicas, 4);
    // cpu: a is unready → ratio 2 from b alone; then a counts as 0: 2000/2000 → within tolerance → stays 2.
    assert.equal(computePlainMetricReplicas({ currentReplicas: 2, target: 2000, resource: 'cpu', pods, metrics: m, now: NOW }).replicas, 2);
  });
});

describe('object and external totals', () => {
  const pods = [pod({ name: 'a' }), pod({ name: 'b' }), pod({ name: 'c', ready: false })];
  it('a Value target multiplies the ready pods by the ratio', () => {
    assert.equal(computeUsageRatioReplicas(3, 20 / 10, pods), 4);
    assert.equal(computeUsageRatioReplicas(3, 1.05, pods), 3);
  });
  it('from zero replicas the ratio itself, rounded up', () => {
    assert.equal(computeUsageRatioReplicas(0, 2.2, []), 3);
  });
  it('an AverageValue target divides the total', () => {
    assert.deepEqual(computePerPodReplicas(3, 30_000, 5000), { replicas: 6, utilization: 10_000 });
    assert.deepEqual(computePerPodReplicas(3, 15_500, 5000), { replicas: 3, utilization: 5167 });
  });
  it('no pods is an error for a Value target', () => {
    assert.throws(() => computeUsageRatioReplicas(2, 3, []), { message: 'no pods returned by selector while calculating replica count' });
  });
});
