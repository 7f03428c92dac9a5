/** RestMetricsClient over a FakeClient: PodMetrics summed per pod (or one container), selectors passed through, windows parsed. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { KubeObject } from '../../api/object.js';
import { FakeClient } from '../../client/testing/fake-client.js';
import type { ResourceType } from '../../client/types.js';
import { StatusError } from '../../api/status.js';
import { parseGoDurationMs, RestMetricsClient } from './metrics-client.js';

const PodMetricsType: ResourceType = { group: 'metrics.k8s.io', version: 'v1beta1', resource: 'pods', kind: 'PodMetrics', namespaced: true };

const podMetrics = (name: string, labels: Record<string, string>, containers: { name: string; usage: Record<string, string> }[]): KubeObject =>
  ({ apiVersion: 'metrics.k8s.io/v1beta1', kind: 'PodMetrics', metadata: { name, namespace: 'ns', labels }, timestamp: '2026-01-01T12:00:00Z', window: '15.02s', containers }) as KubeObject;

describe('RestMetricsClient.getResourceMetric', () => {
  const client = new FakeClient();
  client.seed(
    PodMetricsType,
    podMetrics('a', { app: 'web' }, [{ name: 'app', usage: { cpu: '250m', memory: '10Mi' } }, { name: 'sidecar', usage: { cpu: '50m', memory: '1Mi' } }]),
    podMetrics('b', { app: 'web' }, [{ name: 'app', usage: { cpu: '1', memory: '20Mi' } }, { name: 'sidecar', usage: { memory: '1Mi' } }]),
    podMetrics('c', { app: 'other' }, [{ name: 'app', usage: { cpu: '5' } }]),
  );
  const mc = new RestMetricsClient(client, () => Promise.reject(new Error('unused')));

  it('sums the containers of each selected pod in milli-units; a pod lacking the resource in a container is left out', async () => {
    const { metrics, timestamp } = await mc.getResourceMetric('cpu', 'ns', 'app=web', '');
    assert.deepEqual([...metrics].map(([n, m]) => [n, m.value, m.windowMs]), [['a', 300, 15_020]]);
    assert.equal(timestamp.toISOString(), '2026-01-01T12:00:00.000Z');
    const listed = client.actions.find((a) => a.verb === 'list');
    assert.deepEqual(listed?.object, { labelSelector: 'app=web' });
  });

  it('a container metric counts that container only', async () => {
    const { metrics } = await mc.getResourceMetric('cpu', 'ns', 'app=web', 'app');
    assert.deepEqual([...metrics].map(([n, m]) => [n, m.value]), [['a', 250], ['b', 1000]]);
    const mem = await mc.getResourceMetric('memory', 'ns', 'app=web', '');
    assert.equal(mem.metrics.get('a')!.value, 11 * 1024 * 1024 * 1000);
  });

  it('nothing selected is the metrics-server error', async () => {
    await assert.rejects(mc.getResourceMetric('cpu', 'ns', 'app=none', ''), { message: 'no metrics returned from resource metrics API' });
  });
});

describe('parseGoDurationMs', () => {
  it('reads Go durations', () => {
    assert.equal(parseGoDurationMs('15s'), 15_000);
    assert.equal(parseGoDurationMs('1m30s'), 90_000);
    assert.equal(parseGoDurationMs('500ms'), 500);
    assert.equal(parseGoDurationMs(undefined), 0);
  });
});

/** A client that answers the custom/external metrics paths from a table and records what was asked. */
function metricsApiStub(answer: (call: { rt: ResourceType; namespace: string; name?: string; subresource?: string; labelSelector?: string }) => unknown) {
  const calls: { rt: ResourceType; namespace: string; name?: string; subresource?: string; labelSelector?: string }[] = [];
  const client = {
    async get(rt: ResourceType, namespace: string, name: string, opts: { subresource?: string } = {}) {
      const call = { rt, namespace, name, subresource: opts.subresource };
      calls.push(call);
      const a = answer(call);
      if (a instanceof Error) throw a;
      return a;
    },
    async list(rt: ResourceType, namespace: string, opts: { labelSelector?: string } = {}) {
      const call = { rt, namespace, labelSelector: opts.labelSelector };
      calls.push(call);
      const a = answer(call);
      if (a instanceof Error) throw a;
      return a;
    },
  };
  return { client: client as unknown as ConstructorParameters<typeof RestMetricsClient>[0], calls };
}

describe('RestMetricsClient: custom and external metrics', () => {
  const deployments: ResourceType = { group: 'apps', version: 'v1', resource: 'deployments', kind: 'Deployment', namespaced: true };
  const value = (name: string, v: string, windowSeconds?: number) => ({ describedObject: { kind: 'Pod', name }, metric: { name: 'qps' }, timestamp: '2026-01-01T12:00:00Z', value: v, ...(windowSeconds ? { windowSeconds } : {}) });

  it('a Pods metric: GET pods/*/METRIC with both selectors, values in milli-units, the default 1 min window', async () => {
    const { client, calls } = metricsApiStub(() => ({ items: [value('a', '1500m', 30), value('b', '2')] }));
    const mc = new RestMetricsClient(client, () => Promise.reject(new Error('unused')));
    const { metrics } = await mc.getRawMetric('qps', 'ns', 'app=web', 'verb=GET');
    assert.deepEqual([...metrics].map(([n, m]) => [n, m.value, m.windowMs]), [['a', 1500, 30_000], ['b', 2000, 60_000]]);
    assert.equal(calls[0]!.rt.group, 'custom.metrics.k8s.io');
    assert.deepEqual([calls[0]!.rt.resource, calls[0]!.name, calls[0]!.subresource], ['pods', '*', 'qps?labelSelector=app%3Dweb&metricLabelSelector=verb%3DGET']);
  });

  it("the API server's own 404 is upstream's 'no custom metrics API registered'; an adapter's error is quoted", async () => {
    const mine = new StatusError({ reason: 'NotFound', code: 404, message: 'the server could not find the requested resource' });
    const none = new RestMetricsClient(metricsApiStub(() => mine).client, () => Promise.reject(new Error('unused')));
    await assert.rejects(none.getRawMetric('qps', 'ns', 'app=web', ''), { message: 'unable to fetch metrics from custom metrics API: no custom metrics API (custom.metrics.k8s.io) registered' });
    const theirs = new StatusError({ reason: 'NotFound', code: 404, message: 'the server could not find the metric qps for pods' });
    const adapter = new RestMetricsClient(metricsApiStub(() => theirs).client, () => Promise.reject(new Error('unused')));
    await assert.rejects(adapter.getRawMetric('qps', 'ns', 'app=web', ''), { message: 'unable to fetch metrics from custom metrics API: the server could not find the metric qps for pods' });
    const empty = new RestMetricsClient(metricsApiStub(() => ({ items: [] })).client, () => Promise.reject(new Error('unused')));
    await assert.rejects(empty.getRawMetric('qps', 'ns', 'app=web', ''), { message: 'no metrics returned from custom metrics API' });
  });

  it('an adapter serving only v1beta1: the API server 404s v1beta2, the call goes to v1beta1, which is kept for the next calls', async () => {
    const mine = new StatusError({ reason: 'NotFound', code: 404, message: 'the server could not find the requested resource' });
    // v1beta1's MetricValue names its metric with metricName (no metric.name).
    const v1beta1Value = { describedObject: { kind: 'Pod', name: 'a' }, metricName: 'qps', timestamp: '2026-01-01T12:00:00Z', value: '750m', windowSeconds: 15 };
    let served = 'v1beta1';
    const { client, calls } = metricsApiStub((c) => (c.rt.version === served ? { items: [v1beta1Value] } : mine));
    let now = 1_000_000;
    const mc = new RestMetricsClient(client, () => Promise.reject(new Error('unused')), () => now);
    const { metrics } = await mc.getRawMetric('qps', 'ns', 'app=web', '');
    assert.deepEqual([...metrics].map(([n, m]) => [n, m.value, m.windowMs]), [['a', 750, 15_000]]);
    assert.deepEqual(calls.map((c) => c.rt.version), ['v1beta2', 'v1beta1']);
    await mc.getRawMetric('qps', 'ns', 'app=web', '');
    assert.deepEqual(calls.map((c) => c.rt.version), ['v1beta2', 'v1beta1', 'v1beta1'], 'the version that answered is asked first');
    // After the TTL v1beta2 is preferred again: an adapter upgraded to v1beta2 is picked up.
    served = 'v1beta2';
    now += 61_000;
    await mc.getRawMetric('qps', 'ns', 'app=web', '');
    assert.deepEqual(calls.map((c) => c.rt.version).slice(3), ['v1beta2']);
    // The cached version going away mid-TTL falls back to the other one at once.
    served = 'v1beta1';
    await mc.getRawMetric('qps', 'ns', 'app=web', '');
    assert.deepEqual(calls.map((c) => c.rt.version).slice(4), ['v1beta2', 'v1beta1']);
  });

  it("with discovery: the group's preferred version when spoken, else the first spoken one; no group is 'not registered'", async () => {
    const item = { describedObject: { kind: 'Pod', name: 'a' }, metricName: 'qps', timestamp: '2026-01-01T12:00:00Z', value: '2' };
    const withDiscovery = (group: unknown) => {
      const stub = metricsApiStub(() => ({ items: [item] }));
      const asked: string[] = [];
      (stub.client as unknown as { discovery: (p: string) => Promise<unknown> }).discovery = async (path: string) => {
        asked.push(path);
        if (group instanceof Error) throw group;
        return group;
      };
      return { ...stub, asked, mc: new RestMetricsClient(stub.client, () => Promise.reject(new Error('unused'))) };
    };
    const v1beta1Only = withDiscovery({ kind: 'APIGroup', name: 'custom.metrics.k8s.io', versions: [{ groupVersion: 'custom.metrics.k8s.io/v1beta1', version: 'v1beta1' }], preferredVersion: { groupVersion: 'custom.metrics.k8s.io/v1beta1', version: 'v1beta1' } });
    await v1beta1Only.mc.getRawMetric('qps', 'ns', 'app=web', '');
    await v1beta1Only.mc.getRawMetric('qps', 'ns', 'app=web', '');
    assert.deepEqual(v1beta1Only.asked, ['/apis/custom.metrics.k8s.io'], 'discovered once, then cached');
    assert.deepEqual(v1beta1Only.calls.map((c) => c.rt.version), ['v1beta1', 'v1beta1']);
    const unknownPreferred = withDiscovery({ versions: [{ version: 'v2' }, { version: 'v1beta2' }, { version: 'v1beta1' }], preferredVersion: { version: 'v2' } });
    await unknownPreferred.mc.getRawMetric('qps', 'ns', 'app=web', '');
    assert.deepEqual(unknownPreferred.calls.map((c) => c.rt.version), ['v1beta2']);
    const none = withDiscovery(new StatusError({ reason: 'NotFound', code: 404, message: 'the server could not find the requested resource' }));
    await assert.rejects(none.mc.getRawMetric('qps', 'ns', 'app=web', ''), { message: 'unable to fetch metrics from custom metrics API: no custom metrics API (custom.metrics.k8s.io) registered' });
    assert.equal(none.calls.length, 0);
    const strange = withDiscovery({ versions: [{ version: 'v1alpha1' }] });
    await assert.rejects(strange.mc.getRawMetric('qps', 'ns', 'app=web', ''), { message: 'unable to fetch metrics from custom metrics API: no known available metric versions found' });
  });

  it("an adapter's own 404 on v1beta2 (an unknown metric) is quoted, not retried on v1beta1", async () => {
    const theirs = new StatusError({ reason: 'NotFound', code: 404, message: 'the server could not find the metric qps for pods' });
    const { client, calls } = metricsApiStub(() => theirs);
    const mc = new RestMetricsClient(client, () => Promise.reject(new Error('unused')));
    await assert.rejects(mc.getRawMetric('qps', 'ns', 'app=web', ''), { message: 'unable to fetch metrics from custom metrics API: the server could not find the metric qps for pods' });
    assert.deepEqual(calls.map((c) => c.rt.version), ['v1beta2']);
  });

  it('an Object metric: RESOURCE.GROUP/NAME/METRIC, exactly one value; a Namespace is root-scoped', async () => {
    const { client, calls } = metricsApiStub((c) => ({ items: c.name === 'two' ? [value('x', '1'), value('y', '2')] : [value('x', '250m')] }));
    const mc = new RestMetricsClient(client, async () => deployments);
    assert.equal((await mc.getObjectMetric('qps', 'ns', { apiVersion: 'apps/v1', kind: 'Deployment', name: 'web' }, '')).value, 250);
    assert.deepEqual([calls[0]!.rt.resource, calls[0]!.namespace, calls[0]!.name, calls[0]!.subresource], ['deployments.apps', 'ns', 'web', 'qps']);
    await assert.rejects(mc.getObjectMetric('qps', 'ns', { apiVersion: 'apps/v1', kind: 'Deployment', name: 'two' }, ''), {
      message: 'unable to fetch metrics from custom metrics API: the custom metrics API server returned 2 results when we asked for exactly one',
    });
    await mc.getObjectMetric('qps', 'ns', { apiVersion: 'v1', kind: 'Namespace', name: 'elsewhere' }, '');
    assert.deepEqual([calls[2]!.rt.resource, calls[2]!.rt.namespaced, calls[2]!.name, calls[2]!.subresource], ['namespaces', false, 'ns', 'metrics/qps']);
  });

  it('an External metric: the metric name as given, the metric selector as labelSelector; errors in upstream words', async () => {
    const { client, calls } = metricsApiStub(() => ({ items: [{ value: '3' }, { value: '500m' }] }));
    const mc = new RestMetricsClient(client, () => Promise.reject(new Error('unused')));
    assert.deepEqual((await mc.getExternalMetric('Queue_Messages', 'ns', 'queue=work')).values, [3000, 500]);
    assert.deepEqual([calls[0]!.rt.group, calls[0]!.rt.resource, calls[0]!.labelSelector], ['external.metrics.k8s.io', 'Queue_Messages', 'queue=work']);
    const down = new RestMetricsClient(metricsApiStub(() => new StatusError({ reason: 'ServiceUnavailable', code: 503, message: 'service unavailable' })).client, () => Promise.reject(new Error('unused')));
    await assert.rejects(down.getExternalMetric('q', 'ns', ''), { message: 'unable to fetch metrics from external metrics API: service unavailable' });
    const empty = new RestMetricsClient(metricsApiStub(() => ({ items: [] })).client, () => Promise.reject(new Error('unused')));
    await assert.rejects(empty.getExternalMetric('q', 'ns', ''), { message: 'no metrics returned from external metrics API' });
  });
});
