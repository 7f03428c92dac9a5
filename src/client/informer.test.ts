/** Informer unit tests over the FakeClient (list/watch/410 as the server does them) and a FakeClock. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { KubeObject } from '../api/object.js';
import { FakeClient } from './testing/fake-client.js';
import { FakeClock } from './testing/fake-clock.js';
import { SharedInformer, SharedInformerFactory } from './informer.js';
import { ConfigMaps, Pods } from './resources.js';

const flush = async (n = 5) => {
  for (let i = 0; i < n; i++) await new Promise((r) => setImmediate(r));
};

const cm = (name: string, ns = 'default', labels: Record<string, string> = {}): KubeObject => ({ metadata: { name, namespace: ns, labels }, data: {} });

/** Records handler calls as short strings. */
function recorder() {
  const calls: string[] = [];
  return {
    calls,
    handlers: {
      add: (o: KubeObject) => calls.push(`add ${o.metadata.name}`),
      update: (a: KubeObject, b: KubeObject) => calls.push(`update ${b.metadata.name} ${a.metadata.resourceVersion}->${b.metadata.resourceVersion}`),
      delete: (o: KubeObject) => calls.push(`delete ${o.metadata.name}`),
    },
  };
}

describe('SharedInformer', () => {
  it('lists in pages of 500, delivers every object as an add before reporting synced', async () => {
    const client = new FakeClient();
    for (let i = 0; i < 1203; i++) client.seed(ConfigMaps, cm(`c${String(i).padStart(4, '0')}`));
    const inf = new SharedInformer(client, ConfigMaps, {}, { clock: new FakeClock() });
    const r = recorder();
    inf.addEventHandler(r.handlers);
    inf.start();
    assert.equal(inf.hasSynced(), false);
    await inf.waitForSync();
    assert.equal(r.calls.length, 1203);
    assert.equal(inf.lister.list().length, 1203);
    const lists = client.actions.filter((a) => a.verb === 'list');
    assert.equal(lists.length, 3);
    assert.ok(lists.every((a) => (a.object as { limit: number }).limit === 500));
    assert.equal(inf.lastSyncResourceVersion, String(client.currentRevision));
    inf.stop();
  });

  it('follows adds, updates and deletes from the watch', async () => {
    const client = new FakeClient();
    client.seed(ConfigMaps, cm('a'));
    const inf = new SharedInformer(client, ConfigMaps, {}, { clock: new FakeClock() });
    const r = recorder();
    inf.addEventHandler(r.handlers);
    inf.start();
    await inf.waitForSync();
    const b = await client.create(ConfigMaps, 'default', cm('b'));
    const a = await client.get(ConfigMaps, 'default', 'a');
    const a2 = await client.update(ConfigMaps, 'default', { ...a, data: { x: '1' } });
    await client.delete(ConfigMaps, 'default', 'b');
    await flush();
    assert.deepEqual(r.calls, ['add a', 'add b', `update a ${a.metadata.resourceVersion}->${a2.metadata.resourceVersion}`, 'delete b']);
    assert.deepEqual(inf.lister.get('default', 'a')?.data, { x: '1' });
    assert.equal(inf.lister.get('default', 'b'), undefined);
    assert.notEqual(b.metadata.resourceVersion, inf.lastSyncResourceVersion);
    assert.equal(inf.lastSyncResourceVersion, String(client.currentRevision));
    inf.stop();
  });

  it('watches again from the last resourceVersion when the watch ends, missing nothing and repeating nothing', async () => {
    const clock = new FakeClock();
    const client = new FakeClient({ clock });
    const inf = new SharedInformer(client, ConfigMaps, {}, { clock });
    const r = recorder();
    inf.addEventHandler(r.handlers);
    inf.start();
    await inf.waitForSync();
    await client.create(ConfigMaps, 'default', cm('before'));
    await flush();
    clock.advance(5000);
    client.closeWatches();
    await client.create(ConfigMaps, 'default', cm('while-down'));
    await flush();
    assert.equal(client.watchCount, 1, 'the informer watches again at once after a watch that lived and delivered');
    await client.create(ConfigMaps, 'default', cm('after'));
    await flush();
    assert.deepEqual(r.calls, ['add before', 'add while-down', 'add after']);
    const watches = client.actions.filter((a) => a.verb === 'list');
    assert.equal(watches.length, 1, 'no relist was needed');
    inf.stop();
  });

  it('backs off before watching again when a watch ends at once with nothing delivered', async () => {
    const clock = new FakeClock();
    const client = new FakeClient({ clock });
    const inf = new SharedInformer(client, ConfigMaps, {}, { clock });
    inf.start();
    await inf.waitForSync();
    await flush();
    client.closeWatches();
    await flush();
    assert.equal(client.watchCount, 0);
    clock.advance(799);
    await flush();
    assert.equal(client.watchCount, 0);
    clock.advance(1);
    await flush();
    assert.equal(client.watchCount, 1);
    inf.stop();
  });

  it('on 410 lists again and delivers only the differences', async () => {
    const clock = new FakeClock();
    const client = new FakeClient({ clock });
    client.seed(ConfigMaps, cm('keep'), cm('change'), cm('remove'));
    const inf = new SharedInformer(client, ConfigMaps, {}, { clock, freezeObjects: true });
    const r = recorder();
    inf.addEventHandler(r.handlers);
    inf.start();
    await inf.waitForSync();
    r.calls.length = 0;
    const oldRV = inf.lister.get('default', 'change')!.metadata.resourceVersion;
    // The watch goes down after a while; while it is down things change and the history is compacted away.
    clock.advance(60_000);
    client.closeWatches();
    void client.create(ConfigMaps, 'default', cm('new'));
    void client.patch(ConfigMaps, 'default', 'change', 'merge', { data: { v: '2' } });
    void client.delete(ConfigMaps, 'default', 'remove');
    client.compact();
    await flush(10);
    assert.deepEqual(r.calls.sort(), ['add new', 'delete remove', `update change ${oldRV}->${client.peek(ConfigMaps, 'default', 'change')!.metadata.resourceVersion}`]);
    assert.deepEqual(inf.lister.list().map((o) => o.metadata.name).sort(), ['change', 'keep', 'new']);
    assert.equal(client.actions.filter((a) => a.verb === 'list').length, 2);
    // And it keeps watching afterwards.
    await client.create(ConfigMaps, 'default', cm('later'));
    await flush();
    assert.ok(r.calls.includes('add later'));
    assert.ok(Object.isFrozen(inf.lister.get('default', 'later')!.metadata));
    inf.stop();
  });

  it('resyncs every resyncMs with update(obj, obj)', async () => {
    const clock = new FakeClock();
    const client = new FakeClient({ clock });
    client.seed(ConfigMaps, cm('a'), cm('b'));
    const inf = new SharedInformer(client, ConfigMaps, {}, { clock, resyncMs: 30_000 });
    const updates: string[] = [];
    inf.addEventHandler({ update: (o, n) => updates.push(`${n.metadata.name} same=${o === n}`) });
    inf.start();
    await inf.waitForSync();
    clock.advance(29_999);
    assert.deepEqual(updates, []);
    clock.advance(1);
    assert.deepEqual(updates.sort(), ['a same=true', 'b same=true']);
    clock.advance(30_000);
    assert.equal(updates.length, 4);
    inf.stop();
  });

  it('gives a late handler synthetic adds, survives a throwing handler, and logs a list failure once while retrying', async () => {
    const clock = new FakeClock();
    const client = new FakeClient({ clock });
    client.seed(ConfigMaps, cm('a'));
    let failures = 2;
    client.prependReactor('list', 'configmaps', () => {
      if (failures-- > 0) throw new Error('connection refused');
      return undefined;
    });
    const logs: string[] = [];
    const inf = new SharedInformer(client, ConfigMaps, {}, { clock, log: (l) => logs.push(l) });
    inf.addEventHandler({ add: () => { throw new Error('handler bug'); } });
    inf.start();
    await flush();
    clock.advance(800);
    await flush();
    clock.advance(1600);
    await flush();
    assert.equal(inf.hasSynced(), true);
    assert.deepEqual(logs, ['informer configmaps: list failed: connection refused', 'informer configmaps: add handler failed for default/a: handler bug']);
    const late = recorder();
    inf.addEventHandler(late.handlers);
    assert.deepEqual(late.calls, ['add a']);
    inf.stop();
  });

  it('honours a namespace and label selector, and stop ends the watch', async () => {
    const client = new FakeClient();
    client.seed(Pods, { metadata: { name: 'p1', namespace: 'a', labels: { app: 'x' } } }, { metadata: { name: 'p2', namespace: 'a', labels: { app: 'y' } } }, { metadata: { name: 'p3', namespace: 'b', labels: { app: 'x' } } });
    const inf = new SharedInformer(client, Pods, { namespace: 'a', labelSelector: 'app=x' }, { clock: new FakeClock() });
    inf.start();
    await inf.waitForSync();
    assert.deepEqual(inf.lister.list().map((p) => p.metadata.name), ['p1']);
    await client.create(Pods, 'b', { metadata: { name: 'p4', labels: { app: 'x' } } });
    await client.create(Pods, 'a', { metadata: { name: 'p5', labels: { app: 'x' } } });
    await flush();
    assert.deepEqual(inf.lister.list().map((p) => p.metadata.name).sort(), ['p1', 'p5']);
    inf.stop();
    await flush();
    assert.equal(client.watchCount, 0);
    await client.create(Pods, 'a', { metadata: { name: 'p6', labels: { app: 'x' } } });
    await flush();
    assert.equal(inf.lister.get('a', 'p6'), undefined);
  });
});

describe('SharedInformerFactory', () => {
  it('shares one informer per type and selector, starts late ones, and waits for all to sync', async () => {
    const client = new FakeClient();
    client.seed(Pods, { metadata: { name: 'p', namespace: 'a' } });
    const f = new SharedInformerFactory(client, { clock: new FakeClock() });
    const pods = f.informerFor(Pods);
    assert.equal(f.informerFor(Pods), pods);
    assert.notEqual(f.informerFor(Pods, { namespace: 'a' }), pods);
    f.start();
    const late = f.informerFor(ConfigMaps);
    await f.waitForSync();
    assert.ok(pods.hasSynced() && late.hasSynced());
    assert.equal(pods.lister.get('a', 'p')?.metadata.name, 'p');
    f.stop();
    await flush();
    assert.equal(client.watchCount, 0);
  });
});
