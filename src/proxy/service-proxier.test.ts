/**
 * ServiceProxier's loop against a recording backend and in-memory informers: the first sync is full, later ones carry
 * only the Services that changed, a failed write makes the next sync full again, deletions drop their ports, and
 * stop() removes the rules; a LoadBalancer Service with externalTrafficPolicy Local gets its health check node port
 * answered (on loopback) with the count of local ready endpoints. No kernel rules involved (the backends have their own golden and e2e tests).
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import { describe, it } from 'node:test';
import type { KubeObject } from '../api/object.js';
import { EndpointSlices, Services } from '../client/resources.js';
import type { EventHandlers, Informer, InformerFactory, Lister, ResourceType } from '../client/types.js';
import { NODE, slice, svc, three } from './golden-cases.js';
import { ServiceHealthServer } from './service-health-server.js';
import { ServiceProxier, type ProxyBackend } from './service-proxier.js';
import type { ServicePortInfo } from './service-model.js';

class FakeInformer implements Informer<KubeObject> {
  readonly objects = new Map<string, KubeObject>();
  private handlers: Array<EventHandlers<KubeObject>> = [];
  readonly lister: Lister<KubeObject> = {
    get: (ns, name) => this.objects.get(`${ns}/${name}`),
    list: () => [...this.objects.values()],
    byIndex: () => [],
  };
  addEventHandler(h: EventHandlers<KubeObject>): void {
    this.handlers.push(h);
    for (const o of this.objects.values()) h.add?.(o);
  }
  addIndexer(): void {}
  start(): void {}
  stop(): void {}
  hasSynced(): boolean {
    return true;
  }
  async waitForSync(): Promise<void> {}
  put(obj: KubeObject): void {
    const key = `${obj.metadata?.namespace}/${obj.metadata?.name}`;
    const old = this.objects.get(key);
    this.objects.set(key, obj);
    for (const h of this.handlers) old ? h.update?.(old, obj) : h.add?.(obj);
  }
  remove(obj: KubeObject): void {
    this.objects.delete(`${obj.metadata?.namespace}/${obj.metadata?.name}`);
    for (const h of this.handlers) h.delete?.(obj);
  }
}

class FakeFactory implements InformerFactory {
  readonly byResource = new Map<string, FakeInformer>();
  informerFor<T extends KubeObject>(rt: ResourceType): Informer<T> {
    let inf = this.byResource.get(rt.resource);
    if (!inf) this.byResource.set(rt.resource, (inf = new FakeInformer()));
    return inf as unknown as Informer<T>;
  }
  start(): void {}
  stop(): void {}
  async waitForSync(): Promise<void> {}
}

interface Call {
  keys: string[];
  changed: string[] | undefined;
  endpoints: Record<string, number>;
}

class RecordingBackend implements ProxyBackend<{ key: string; sp: ServicePortInfo }> {
  calls: Call[] = [];
  failNext = false;
  removed = 0;
  render(sp: ServicePortInfo) {
    return { key: `${sp.namespace}/${sp.name}:${sp.portName}/${sp.protocol}`, sp };
  }
  async apply(all: Array<{ key: string; sp: ServicePortInfo }>, changed: ReadonlySet<string> | undefined) {
    if (this.failNext) {
      this.failNext = false;
      throw new Error('injected write failure');
    }
    this.calls.push({ keys: all.map((p) => p.key), changed: changed ? [...changed].sort() : undefined, endpoints: Object.fromEntries(all.map((p) => [p.key, p.sp.endpoints.length])) });
    return { lines: all.length };
  }
  async remove() {
    this.removed++;
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
async function until(what: string, fn: () => boolean, ms = 3000): Promise<void> {
  const end = Date.now() + ms;
  while (!fn()) {
    if (Date.now() > end) throw new Error(`timed out: ${what}`);
    await sleep(5);
  }
}

describe('ServiceProxier', () => {
  it('syncs fully first, then only the changed Services; a failed write makes the next sync full; stop removes', async () => {
    const factory = new FakeFactory();
    const services = factory.informerFor(Services) as unknown as FakeInformer;
    const slices = factory.informerFor(EndpointSlices) as unknown as FakeInformer;
    services.put(svc('web', {}) as unknown as KubeObject);
    services.put(svc('api', { clusterIP: '10.81.0.11' }) as unknown as KubeObject);
    slices.put(slice('web', three) as unknown as KubeObject);
    const backend = new RecordingBackend();
    const proxier = new ServiceProxier({ informers: factory, nodeName: NODE, serviceCIDRs: [], minSyncIntervalMs: 10 }, backend);
    await proxier.start();
    await until('the first sync', () => backend.calls.length >= 1);
    assert.equal(backend.calls[0]!.changed, undefined, 'the first sync is full');
    assert.deepEqual(backend.calls[0]!.keys, ['ns/api:http/TCP', 'ns/web:http/TCP']);
    assert.equal(backend.calls[0]!.endpoints['ns/web:http/TCP'], 3);

    slices.put(slice('api', three.slice(0, 1)) as unknown as KubeObject);
    await until('a partial sync', () => backend.calls.length >= 2);
    assert.deepEqual(backend.calls[1]!.changed, ['ns/api:http/TCP'], 'only the changed Service');
    assert.deepEqual(backend.calls[1]!.keys, ['ns/api:http/TCP', 'ns/web:http/TCP'], 'every port is handed over');
    assert.equal(backend.calls[1]!.endpoints['ns/api:http/TCP'], 1);

    backend.failNext = true;
    slices.put(slice('web', three.slice(0, 2)) as unknown as KubeObject);
    await until('the retry after a failure', () => backend.calls.length >= 3, 5000);
    assert.equal(backend.calls[2]!.changed, undefined, 'after a failed write the sync is full');
    assert.equal(backend.calls[2]!.endpoints['ns/web:http/TCP'], 2);

    services.remove(svc('api', { clusterIP: '10.81.0.11' }) as unknown as KubeObject);
    await until('the deletion synced', () => backend.calls.length >= 4);
    assert.deepEqual(backend.calls[3]!.keys, ['ns/web:http/TCP']);
    assert.deepEqual(backend.calls[3]!.changed, []);

    await proxier.stop();
    assert.equal(backend.removed, 1);
    const before = backend.calls.length;
    slices.put(slice('web', three) as unknown as KubeObject);
    await sleep(50);
    assert.equal(backend.calls.length, before, 'no sync after stop');
  });

  it('answers a Local LoadBalancer Service\'s health check port from each sync: 200, 503 with no local endpoint or after a failed write, closed with the Service', async () => {
    const factory = new FakeFactory();
    const services = factory.informerFor(Services) as unknown as FakeInformer;
    const slices = factory.informerFor(EndpointSlices) as unknown as FakeInformer;
    const probe = net.createServer();
    await new Promise<void>((r) => probe.listen(0, '127.0.0.1', r));
    const hcPort = (probe.address() as net.AddressInfo).port;
    await new Promise<void>((r) => probe.close(() => r()));
    const lb = svc('lb', { type: 'LoadBalancer', externalTrafficPolicy: 'Local', healthCheckNodePort: hcPort, ports: [{ name: 'http', port: 80, nodePort: 31100 }] });
    services.put(lb as unknown as KubeObject);
    slices.put(slice('lb', three) as unknown as KubeObject);
    const backend = new RecordingBackend();
    const healthServer = new ServiceHealthServer({ bindAddress: '127.0.0.1' });
    let synced = 0;
    const proxier = new ServiceProxier({ informers: factory, nodeName: NODE, serviceCIDRs: [], minSyncIntervalMs: 10, healthServer, onSynced: () => synced++ }, backend);
    const check = () =>
      new Promise<{ status: number; body: { localEndpoints: number; serviceProxyHealthy: boolean } } | 'refused'>((resolve, reject) => {
        const req = http.get({ host: '127.0.0.1', port: hcPort, agent: false }, (res) => {
          let b = '';
          res.on('data', (c) => (b += c));
          res.on('end', () => resolve({ status: res.statusCode!, body: JSON.parse(b) }));
        });
        req.on('error', (err: NodeJS.ErrnoException) => (err.code === 'ECONNREFUSED' ? resolve('refused') : reject(err)));
      });
    try {
      await proxier.start();
      await until('the first sync', () => synced >= 1);
      // Two of the three endpoints are on this node.
      assert.deepEqual(await check(), { status: 200, body: { service: { namespace: 'ns', name: 'lb' }, localEndpoints: 2, serviceProxyHealthy: true } });

      slices.put(slice('lb', [{ ip: '10.71.1.4', node: 'node-b' }]) as unknown as KubeObject);
      await until('the sync without local endpoints', () => synced >= 2);
      assert.deepEqual(await check(), { status: 503, body: { service: { namespace: 'ns', name: 'lb' }, localEndpoints: 0, serviceProxyHealthy: true } });

      backend.failNext = true;
      slices.put(slice('lb', three) as unknown as KubeObject);
      const afterFailure = Date.now() + 3000;
      let sick: Awaited<ReturnType<typeof check>> | undefined;
      while (Date.now() < afterFailure && backend.calls.length < 3) {
        const c = await check();
        if (c !== 'refused' && c.body.serviceProxyHealthy === false) sick = c;
        await sleep(5);
      }
      assert.deepEqual(sick, { status: 503, body: { service: { namespace: 'ns', name: 'lb' }, localEndpoints: 2, serviceProxyHealthy: false } }, 'a failed write fails the check until the retry');
      await until('the retry', () => synced >= 3, 5000);
      assert.deepEqual(await check(), { status: 200, body: { service: { namespace: 'ns', name: 'lb' }, localEndpoints: 2, serviceProxyHealthy: true } });

      services.put(svc('lb', { type: 'LoadBalancer', externalTrafficPolicy: 'Cluster', ports: [{ name: 'http', port: 80, nodePort: 31100 }] }) as unknown as KubeObject);
      await until('the policy change synced', () => synced >= 4);
      assert.equal(await check(), 'refused', 'a Cluster policy needs no health check port');
    } finally {
      await proxier.stop();
    }
  });
});

