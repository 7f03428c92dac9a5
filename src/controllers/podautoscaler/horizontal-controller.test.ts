/**
 * The controller's sync against a FakeClient and a FakeClock: rates and windows without sleeping, the status and
 * conditions it writes, and the events, worded as upstream's.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { HorizontalPodAutoscaler } from 'kubernetes-types/autoscaling/v2.js';
import type { Pod } from 'kubernetes-types/core/v1.js';
import type { KubeObject } from '../../api/object.js';
import { conflict } from '../../api/status.js';
import { rfc3339 } from '../../api/time.js';
import { HorizontalPodAutoscalers, Pods } from '../../client/resources.js';
import { ControllerFixture } from '../util/controller-fixture.js';
import { HorizontalController } from './horizontal-controller.js';
import type { MetricsClient, PodMetricsInfo } from './metrics-client.js';

type Hpa = HorizontalPodAutoscaler & KubeObject;

function setup(opts: { replicas: number; cpuPerPod: number; behavior?: NonNullable<Hpa['spec']>['behavior']; extraMetrics?: NonNullable<Hpa['spec']>['metrics'] }) {
  const fx = new ControllerFixture();
  const state = { replicas: opts.replicas, cpu: opts.cpuPerPod, failUpdate: false };
  const podsNow = () =>
    Array.from({ length: state.replicas }, (_, i): Pod & KubeObject => ({
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: `web-${i}`, namespace: 'ns', labels: { app: 'web' } },
      spec: { containers: [{ name: 'app', resources: { requests: { cpu: '100m' } } }] },
      status: { phase: 'Running', startTime: rfc3339(fx.clock.now().getTime() - 3_600_000), conditions: [{ type: 'Ready', status: 'True', lastTransitionTime: rfc3339(fx.clock.now().getTime() - 3_500_000) }] },
    }));
  const syncPods = () => {
    const inf = fx.informers.informerFor<Pod & KubeObject>(Pods);
    for (const p of inf.lister.list()) inf.delete(p);
    for (const p of podsNow()) inf.add(p);
  };
  syncPods();
  fx.client.prependReactor('get', 'deployments', (a) =>
    a.subresource === 'scale'
      ? { apiVersion: 'autoscaling/v1', kind: 'Scale', metadata: { name: 'web', namespace: 'ns', resourceVersion: '7' }, spec: { replicas: state.replicas }, status: { replicas: state.replicas, selector: 'app=web' } }
      : undefined,
  );
  fx.client.prependReactor('update', 'deployments', (a) => {
    if (a.subresource !== 'scale') return undefined;
    if (state.failUpdate) throw conflict({ group: 'apps', resource: 'deployments', name: 'web' });
    state.replicas = (a.object as { spec: { replicas: number } }).spec.replicas;
    return a.object;
  });
  const metrics: MetricsClient = {
    async getResourceMetric(_r, _ns, selector) {
      assert.equal(selector, 'app=web', 'metrics are asked for the scale status selector');
      const m: PodMetricsInfo = new Map(podsNow().map((p) => [p.metadata.name!, { value: state.cpu, timestamp: fx.clock.now(), windowMs: 15_000 }]));
      return { metrics: m, timestamp: fx.clock.now() };
    },
    getRawMetric: () => Promise.reject(new Error('none')),
    getObjectMetric: () => Promise.reject(new Error('none')),
    getExternalMetric: () => Promise.reject(new Error('none')),
  };
  fx.seed<Hpa>(HorizontalPodAutoscalers, {
    apiVersion: 'autoscaling/v2',
    kind: 'HorizontalPodAutoscaler',
    metadata: { name: 'web', namespace: 'ns' },
    spec: {
      scaleTargetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: 'web' },
      minReplicas: 1,
      maxReplicas: 10,
      metrics: [{ type: 'Resource', resource: { name: 'cpu', target: { type: 'Utilization', averageUtilization: 50 } } }, ...(opts.extraMetrics ?? [])],
      ...(opts.behavior ? { behavior: opts.behavior } : {}),
    },
  });
  const c = new HorizontalController(fx.ctx, { metricsClient: metrics });
  const sync = async () => {
    try {
      await c.reconcile('ns/web');
    } finally {
      fx.sync(HorizontalPodAutoscalers);
      syncPods();
    }
  };
  const hpa = () => fx.client.peek<Hpa>(HorizontalPodAutoscalers, 'ns', 'web')!;
  const cond = (type: string) => hpa().status?.conditions?.find((x) => x.type === type);
  return { fx, state, sync, hpa, cond };
}

describe('HorizontalController.reconcile', () => {
  it('without behavior, scale up is capped at 2x or 4 (ScaleUpLimit) and recorded', async () => {
    const t = setup({ replicas: 2, cpuPerPod: 150 });
    await t.sync();
    assert.equal(t.state.replicas, 4);
    assert.deepEqual(t.fx.recorder.events.map((e) => `${e.type} ${e.reason} ${e.message}`), ['Normal SuccessfulRescale New size: 4; reason: cpu resource utilization (percentage of request) above target']);
    const st = t.hpa().status!;
    assert.equal(st.currentReplicas, 2);
    assert.equal(st.desiredReplicas, 4);
    assert.equal(st.lastScaleTime, rfc3339(t.fx.clock.now()));
    assert.deepEqual(st.currentMetrics, [{ type: 'Resource', resource: { name: 'cpu', current: { averageUtilization: 150, averageValue: '150m' } } }]);
    assert.deepEqual(
      st.conditions!.map((c) => [c.type, c.status, c.reason, c.message]),
      [
        ['AbleToScale', 'True', 'SucceededRescale', 'the HPA controller was able to update the target scale to 4'],
        ['ScalingActive', 'True', 'ValidMetricFound', 'the HPA was able to successfully calculate a replica count from cpu resource utilization (percentage of request)'],
        ['ScalingLimited', 'True', 'ScaleUpLimit', 'the desired replica count is increasing faster than the maximum scale rate'],
      ],
    );
  });

  it('scale down waits for the default 5 minute window, then goes', async () => {
    const t = setup({ replicas: 4, cpuPerPod: 10 });
    await t.sync();
    assert.equal(t.state.replicas, 4, 'held by the window');
    assert.equal(t.cond('AbleToScale')?.reason, 'ScaleDownStabilized');
    assert.equal(t.hpa().status!.desiredReplicas, 4);
    const since = t.cond('ScalingActive')!.lastTransitionTime;
    t.fx.clock.advance(200_000);
    await t.sync();
    assert.equal(t.state.replicas, 4, 'still within 300 s of the first recommendation');
    assert.equal(t.cond('ScalingActive')!.lastTransitionTime, since, 'an unchanged condition keeps its transition time');
    t.fx.clock.advance(101_000);
    await t.sync();
    assert.equal(t.state.replicas, 1);
    assert.ok(t.fx.recorder.events.some((e) => e.reason === 'SuccessfulRescale' && e.message === 'New size: 1; reason: All metrics below target'));
  });

  it('behavior: selectPolicy Disabled for scale down keeps the count (ScaleDownLimit)', async () => {
    const t = setup({ replicas: 4, cpuPerPod: 10, behavior: { scaleDown: { stabilizationWindowSeconds: 0, selectPolicy: 'Disabled' } } });
    await t.sync();
    assert.equal(t.state.replicas, 4);
    assert.deepEqual([t.cond('ScalingLimited')?.status, t.cond('ScalingLimited')?.reason], ['True', 'ScaleDownLimit']);
    assert.equal(t.fx.recorder.events.length, 0);
  });

  it('behavior: a Pods policy of 1 per minute steps 1 → 2 → 3', async () => {
    const t = setup({ replicas: 1, cpuPerPod: 500, behavior: { scaleUp: { policies: [{ type: 'Pods', value: 1, periodSeconds: 60 }] } } });
    await t.sync();
    assert.equal(t.state.replicas, 2);
    t.fx.clock.advance(15_000);
    await t.sync();
    assert.equal(t.state.replicas, 2, 'the minute is used up');
    t.fx.clock.advance(46_000);
    await t.sync();
    assert.equal(t.state.replicas, 3);
  });

  it('one invalid metric of two: a scale up still happens, a scale down does not', async () => {
    const qps = [{ type: 'Pods' as const, pods: { metric: { name: 'qps' }, target: { type: 'AverageValue' as const, averageValue: '10' } } }];
    const up = setup({ replicas: 2, cpuPerPod: 100, extraMetrics: qps });
    await up.sync();
    assert.equal(up.state.replicas, 4);
    assert.equal(up.cond('ScalingActive')?.reason, 'ValidMetricFound');
    assert.deepEqual(up.hpa().status!.currentMetrics![1], { type: '' }, 'the failed metric has an empty status, as upstream');
    assert.ok(up.fx.recorder.events.some((e) => e.reason === 'FailedGetPodsMetric' && e.message === 'unable to get metric qps: none'));

    const down = setup({ replicas: 4, cpuPerPod: 10, extraMetrics: qps });
    await down.sync();
    assert.equal(down.state.replicas, 4);
    assert.deepEqual([down.cond('ScalingActive')?.status, down.cond('ScalingActive')?.reason, down.cond('ScalingActive')?.message], ['False', 'FailedGetPodsMetric', 'the HPA was unable to compute the replica count: unable to get metric qps: none']);
    assert.ok(down.fx.recorder.events.some((e) => e.reason === 'FailedComputeMetricsReplicas' && e.message === 'invalid metrics (1 invalid out of 2), first error is: failed to get pods metric value: unable to get metric qps: none'));
  });

  it('a failed /scale update is a FailedRescale event and AbleToScale False, and the sync fails for a retry', async () => {
    const t = setup({ replicas: 2, cpuPerPod: 150 });
    t.state.failUpdate = true;
    await assert.rejects(t.sync(), /the object has been modified/);
    const ev = t.fx.recorder.events.find((e) => e.reason === 'FailedRescale')!;
    assert.match(ev.message, /^New size: 4; reason: cpu resource utilization \(percentage of request\) above target; error: Operation cannot be fulfilled on deployments.apps "web"/);
    assert.equal(t.cond('AbleToScale')?.reason, 'FailedUpdateScale');
    assert.equal(t.cond('AbleToScale')?.status, 'False');
  });
});

describe('HorizontalController.resourceFor (the RESTMapper)', () => {
  it('maps built-in kinds by group and version, custom resources by their CRD, and words misses as upstream', async () => {
    const fx = new ControllerFixture();
    fx.client.seed(
      { group: 'apiextensions.k8s.io', version: 'v1', resource: 'customresourcedefinitions', kind: 'CustomResourceDefinition', namespaced: false },
      { apiVersion: 'apiextensions.k8s.io/v1', kind: 'CustomResourceDefinition', metadata: { name: 'gadgets.example.com' }, spec: { group: 'example.com', scope: 'Namespaced', names: { kind: 'Gadget', plural: 'gadgets' }, versions: [{ name: 'v1' }] } } as KubeObject,
    );
    const c = new HorizontalController(fx.ctx);
    assert.deepEqual(await c.resourceFor('apps/v1', 'StatefulSet'), { group: 'apps', version: 'v1', resource: 'statefulsets', kind: 'StatefulSet', namespaced: true });
    assert.deepEqual(await c.resourceFor('example.com/v1', 'Gadget'), { group: 'example.com', version: 'v1', resource: 'gadgets', kind: 'Gadget', namespaced: true });
    await assert.rejects(c.resourceFor('apps/v1beta2', 'Deployment'), { message: 'no matches for kind "Deployment" in version "apps/v1beta2"' });
    await assert.rejects(c.resourceFor('example.com/v1', 'Widget'), { message: 'no matches for kind "Widget" in version "example.com/v1"' });
  });
});
