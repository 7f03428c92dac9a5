/** RestMetricsClient over a FakeClient: PodMetrics summed per pod (or one container), selectors passed through, windows parsed. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { KubeObject } from '../../api/object.js';
import { FakeClient } from '../../client/testing/fake-client.js';
import type { ResourceType } from '../../client/types.js';
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
