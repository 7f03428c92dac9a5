import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { KubeObject } from '../../api/object.js';
import { ConfigMaps, Deployments, Pods, ResourceQuotas } from '../../client/resources.js';
import { ControllerFixture } from '../util/controller-fixture.js';
import { ResourceQuotaController } from './resourcequota-controller.js';

function quota(name: string, hard: Record<string, string>, spec: Record<string, unknown> = {}): KubeObject {
  return { apiVersion: 'v1', kind: 'ResourceQuota', metadata: { name, namespace: 'apps' }, spec: { hard, ...spec } } as KubeObject;
}

function pod(name: string, cpu?: string, extra: Record<string, unknown> = {}): KubeObject {
  const resources = cpu ? { requests: { cpu }, limits: { cpu } } : {};
  return { apiVersion: 'v1', kind: 'Pod', metadata: { name, namespace: 'apps' }, spec: { containers: [{ name: 'app', image: 'x', resources }] }, ...extra } as KubeObject;
}

function statusOf(f: ControllerFixture, name: string): unknown {
  return (f.client.peek(ResourceQuotas, 'apps', name) as { status?: unknown }).status;
}

describe('ResourceQuotaController', () => {
  it('sets status.hard from spec and counts what the namespace uses, terminal pods and other namespaces excluded', async () => {
    const f = new ControllerFixture();
    const c = new ResourceQuotaController(f.ctx);
    c.start();
    f.seed(ResourceQuotas, quota('q', { pods: '3', 'requests.cpu': '2', 'limits.memory': '1Gi', configmaps: '5', 'count/deployments.apps': '2' }));
    f.seed(Pods, pod('a', '500m'), pod('b', '250m'), pod('done', '1', { status: { phase: 'Succeeded' } }), { ...pod('elsewhere', '1'), metadata: { name: 'elsewhere', namespace: 'other' } } as KubeObject);
    f.seed(ConfigMaps, { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'cm', namespace: 'apps' } } as KubeObject);
    f.client.seed(Deployments, { apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'd', namespace: 'apps' } } as KubeObject);
    await c.reconcile('apps/q');
    assert.deepEqual(statusOf(f, 'q'), {
      hard: { pods: '3', 'requests.cpu': '2', 'limits.memory': '1Gi', configmaps: '5', 'count/deployments.apps': '2' },
      used: { configmaps: '1', 'count/deployments.apps': '1', 'limits.memory': '0', pods: '2', 'requests.cpu': '750m' },
    });
    // Nothing changed: no second write.
    f.sync(ResourceQuotas);
    const writes = f.writes().length;
    await c.reconcile('apps/q');
    assert.equal(f.writes().length, writes);
  });

  it('scoped quotas count only the pods their scopes select', async () => {
    const f = new ControllerFixture();
    const c = new ResourceQuotaController(f.ctx);
    c.start();
    f.seed(ResourceQuotas, quota('be', { pods: '10' }, { scopes: ['BestEffort'] }), quota('nbe', { pods: '10' }, { scopes: ['NotBestEffort'] }));
    f.seed(Pods, pod('a'), pod('b'), pod('c', '1'));
    await c.reconcile('apps/be');
    await c.reconcile('apps/nbe');
    assert.deepEqual((statusOf(f, 'be') as { used: unknown }).used, { pods: '2' });
    assert.deepEqual((statusOf(f, 'nbe') as { used: unknown }).used, { pods: '1' });
  });

  it('gives usage back when a pod is deleted (replenishment through the work queue)', async () => {
    const f = new ControllerFixture();
    const c = new ResourceQuotaController(f.ctx);
    c.start();
    f.seed(ResourceQuotas, quota('q', { pods: '2' }));
    f.seed(Pods, pod('a'), pod('b'));
    await c.reconcile('apps/q');
    assert.deepEqual((statusOf(f, 'q') as { used: unknown }).used, { pods: '2' });
    f.sync(ResourceQuotas);
    const running = c.run(1);
    await f.client.delete(Pods, 'apps', 'a');
    f.sync(Pods);
    for (let i = 0; i < 200 && JSON.stringify((statusOf(f, 'q') as { used: unknown }).used) !== '{"pods":"1"}'; i++) await new Promise((r) => setImmediate(r));
    assert.deepEqual((statusOf(f, 'q') as { used: unknown }).used, { pods: '1' });
    c.stop();
    await running;
  });

  it('watches ConfigMaps only once a quota counts them, then gives usage back when one is deleted', async () => {
    const f = new ControllerFixture();
    const c = new ResourceQuotaController(f.ctx);
    c.start();
    const cm = (name: string) => ({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name, namespace: 'apps' } }) as KubeObject;
    f.client.seed(ConfigMaps, cm('a'));
    f.client.seed(ConfigMaps, cm('b'));
    f.seed(ResourceQuotas, quota('pods-only', { pods: '2' }));
    let handlers = 0;
    const watchedConfigMaps = f.informers.informerFor(ConfigMaps);
    const addEventHandler = watchedConfigMaps.addEventHandler.bind(watchedConfigMaps);
    watchedConfigMaps.addEventHandler = (h) => {
      handlers++;
      addEventHandler(h);
    };
    f.sync(ResourceQuotas);
    assert.equal(handlers, 0, 'a quota that counts no ConfigMaps starts no ConfigMap watch');
    f.client.seed(ResourceQuotas, quota('q', { configmaps: '5' }));
    f.sync(ResourceQuotas);
    assert.equal(handlers, 1);
    f.sync(ConfigMaps);
    await c.reconcile('apps/q');
    assert.deepEqual((statusOf(f, 'q') as { used: unknown }).used, { configmaps: '2' });
    const running = c.run(1);
    await f.client.delete(ConfigMaps, 'apps', 'a');
    f.sync(ConfigMaps, ResourceQuotas);
    for (let i = 0; i < 200 && JSON.stringify((statusOf(f, 'q') as { used: unknown }).used) !== '{"configmaps":"1"}'; i++) await new Promise((r) => setImmediate(r));
    assert.deepEqual((statusOf(f, 'q') as { used: unknown }).used, { configmaps: '1' });
    c.stop();
    await running;
  });

  it('recounts on the resync period even without events', async () => {
    const f = new ControllerFixture();
    const c = new ResourceQuotaController(f.ctx, { resyncMs: 60_000 });
    c.start();
    f.seed(ResourceQuotas, quota('q', { pods: '5' }));
    await c.reconcile('apps/q');
    f.sync(ResourceQuotas);
    // A pod the controller got no event for (it was admitted and charged elsewhere, then the charge was lost).
    f.seed(Pods, pod('quiet'));
    const running = c.run(1);
    await f.clock.advanceAsync(60_000);
    for (let i = 0; i < 200 && JSON.stringify((statusOf(f, 'q') as { used: unknown }).used) !== '{"pods":"1"}'; i++) await new Promise((r) => setImmediate(r));
    assert.deepEqual((statusOf(f, 'q') as { used: unknown }).used, { pods: '1' });
    c.stop();
    await running;
  });
});
