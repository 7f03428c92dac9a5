import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { KubeObject } from '../../api/object.js';
import { FakeInformerFactory } from './fake-informer-factory.js';
import { FakeRecorder } from './fake-recorder.js';
import { Pods } from '../resources.js';
import { StaticInformer } from './static-informer.js';

const pod = (ns: string, name: string, labels: Record<string, string> = {}, nodeName?: string): KubeObject => ({
  metadata: { name, namespace: ns, labels },
  spec: nodeName ? { nodeName } : {},
});

describe('StaticInformer', () => {
  it('add/update/delete change the lister and call handlers with old and new state', () => {
    const inf = new StaticInformer();
    const seen: string[] = [];
    inf.addEventHandler({
      add: (o) => seen.push(`add ${o.metadata.name}`),
      update: (a, b) => seen.push(`update ${a.metadata.labels?.v}->${b.metadata.labels?.v}`),
      delete: (o) => seen.push(`delete ${o.metadata.name} v=${o.metadata.labels?.v}`),
    });
    inf.add(pod('a', 'p', { v: '1' }));
    inf.update(pod('a', 'p', { v: '2' }));
    assert.equal(inf.lister.get('a', 'p')?.metadata.labels?.v, '2');
    inf.delete('a/p');
    assert.equal(inf.lister.get('a', 'p'), undefined);
    assert.deepEqual(seen, ['add p', 'update 1->2', 'delete p v=2']);
    assert.ok(inf.hasSynced());
  });

  it('lists by namespace and label selector; custom indexes follow updates', () => {
    const inf = new StaticInformer();
    inf.addIndexer('nodeName', (o) => [((o.spec as { nodeName?: string }).nodeName) ?? '']);
    inf.add(pod('a', 'p1', { app: 'web' }, 'n1'));
    inf.add(pod('a', 'p2', { app: 'db' }, 'n1'));
    inf.add(pod('b', 'p3', { app: 'web' }, 'n2'));
    const names = (objs: KubeObject[]) => objs.map((o) => o.metadata.name).sort();
    assert.deepEqual(names(inf.lister.list('a')), ['p1', 'p2']);
    assert.deepEqual(names(inf.lister.list('', 'app=web')), ['p1', 'p3']);
    assert.deepEqual(names(inf.lister.list('a', 'app in (web),app!=db')), ['p1']);
    assert.deepEqual(names(inf.lister.byIndex('nodeName', 'n1')), ['p1', 'p2']);
    inf.update(pod('a', 'p2', { app: 'db' }, 'n2'));
    assert.deepEqual(names(inf.lister.byIndex('nodeName', 'n1')), ['p1']);
    assert.deepEqual(names(inf.lister.byIndex('nodeName', 'n2')), ['p2', 'p3']);
    inf.delete(pod('b', 'p3'));
    assert.deepEqual(names(inf.lister.byIndex('nodeName', 'n2')), ['p2']);
    assert.deepEqual(names(inf.lister.byIndex('namespace', 'b')), []);
  });

  it('freezes cached objects so mutating them throws, and leaves the caller\'s object alone', () => {
    const inf = new StaticInformer();
    const mine = pod('a', 'p', { v: '1' });
    inf.add(mine);
    mine.metadata.labels!.v = 'changed-by-test';
    const cached = inf.lister.get('a', 'p')!;
    assert.equal(cached.metadata.labels?.v, '1');
    assert.throws(() => {
      cached.metadata.labels!.v = '2';
    }, TypeError);
  });

  it('a handler added late gets a synthetic add per cached object', () => {
    const inf = new StaticInformer();
    inf.add(pod('a', 'p1'));
    inf.add(pod('a', 'p2'));
    const added: string[] = [];
    inf.addEventHandler({ add: (o) => added.push(o.metadata.name!) });
    assert.deepEqual(added.sort(), ['p1', 'p2']);
  });

  it('FakeInformerFactory hands out one informer per resource type', () => {
    const f = new FakeInformerFactory();
    const a = f.informerFor(Pods);
    a.add(pod('x', 'y'));
    assert.equal(f.informerFor(Pods).lister.get('x', 'y')?.metadata.name, 'y');
    f.start();
    assert.ok(a.started);
  });
});

describe('FakeRecorder', () => {
  it('keeps events in order with their object', () => {
    const r = new FakeRecorder();
    const p = pod('a', 'p');
    r.event(p, 'Normal', 'Scheduled', 'Successfully assigned a/p to n1');
    r.event(p, 'Warning', 'FailedScheduling', '0/1 nodes are available');
    assert.deepEqual(r.lines(), ['Normal Scheduled Successfully assigned a/p to n1', 'Warning FailedScheduling 0/1 nodes are available']);
    assert.equal(r.events[1].object, p);
  });
});
