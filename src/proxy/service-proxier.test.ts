/**
 * ServiceProxier's loop against a recording backend and in-memory informers: the first sync is full, later ones carry
 * only the Services that changed, a failed write makes the next sync full again, deletions drop their ports, and
 * stop() removes the rules. No kernel involved (the backends have their own golden and e2e tests).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { KubeObject } from '../api/object.js';
import { EndpointSlices, Services } from '../client/resources.js';
import type { EventHandlers, Informer, InformerFactory, Lister, ResourceType } from '../client/types.js';
import { NODE, slice, svc, three } from './golden-cases.js';
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
});
