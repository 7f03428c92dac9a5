import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isAlreadyExists, isConflict, isNotFound, type StatusError } from '../../api/status.js';
import type { KubeObject } from '../../api/object.js';
import { FakeClient } from './fake-client.js';
import { FakeClock } from './fake-clock.js';
import { ConfigMaps, Deployments, Namespaces, Nodes, Pods } from '../resources.js';
import type { WatchEvent } from '../types.js';

const pod = (name: string, labels: Record<string, string> = {}, extra: Partial<KubeObject> = {}): KubeObject => ({
  metadata: { name, namespace: 'default', labels },
  spec: { containers: [{ name: 'c', image: 'nginx' }] },
  ...extra,
});

const tick = () => new Promise<void>((r) => setImmediate(r));

describe('FakeClient', () => {
  it('create fills server fields, honours generateName, refuses a taken name', async () => {
    const clock = new FakeClock(Date.UTC(2025, 5, 1, 12, 0, 0));
    const c = new FakeClient({ clock });
    const created = await c.create(Pods, 'default', pod('a'));
    assert.equal(created.metadata.namespace, 'default');
    assert.match(created.metadata.uid!, /^[0-9a-f-]{36}$/);
    assert.equal(created.metadata.creationTimestamp, '2025-06-01T12:00:00Z');
    assert.equal(created.metadata.generation, 1);
    assert.equal(created.apiVersion, 'v1');
    assert.equal(created.kind, 'Pod');
    const gen = await c.create<KubeObject>(Pods, 'default', { metadata: { generateName: 'web-' } });
    assert.match(gen.metadata.name!, /^web-[bcdfghjklmnpqrstvwxz2456789]{5}$/);
    assert.notEqual(gen.metadata.resourceVersion, created.metadata.resourceVersion);
    await assert.rejects(c.create(Pods, 'default', pod('a')), (e: StatusError) => isAlreadyExists(e) && e.code === 409 && e.message === 'pods "a" already exists');
    // Cluster-scoped: no namespace, whatever the caller passes.
    const node = await c.create<KubeObject>(Nodes, 'ignored', { metadata: { name: 'n1' } });
    assert.equal(node.metadata.namespace, undefined);
  });

  it('get and delete of a missing object are NotFound; a stale update is Conflict', async () => {
    const c = new FakeClient();
    await assert.rejects(c.get(Deployments, 'default', 'x'), (e: StatusError) => isNotFound(e) && e.message === 'deployments.apps "x" not found');
    await assert.rejects(c.delete(Pods, 'default', 'x'), isNotFound);
    const p = await c.create(Pods, 'default', pod('a'));
    const fresh = await c.update(Pods, 'default', { ...p, metadata: { ...p.metadata, labels: { v: '2' } } });
    assert.deepEqual(fresh.metadata.labels, { v: '2' });
    await assert.rejects(c.update(Pods, 'default', { ...p, metadata: { ...p.metadata, labels: { v: '3' } } }), isConflict);
    assert.deepEqual((await c.get(Pods, 'default', 'a')).metadata.labels, { v: '2' });
  });

  it('update keeps status and bumps generation on spec changes only; updateStatus changes only status', async () => {
    const c = new FakeClient();
    c.seed(Deployments, { metadata: { name: 'd', namespace: 'ns' }, spec: { replicas: 1 }, status: { replicas: 0 } });
    const d = await c.get(Deployments, 'ns', 'd');
    const labelled = await c.update(Deployments, 'ns', { ...d, metadata: { ...d.metadata, labels: { a: 'b' } }, status: { replicas: 99 } });
    assert.equal(labelled.metadata.generation, 1);
    assert.deepEqual(labelled.status, { replicas: 0 });
    const scaled = await c.update(Deployments, 'ns', { ...labelled, spec: { replicas: 3 } });
    assert.equal(scaled.metadata.generation, 2);
    const withStatus = await c.updateStatus(Deployments, 'ns', { ...scaled, spec: { replicas: 100 }, status: { replicas: 3 } });
    assert.deepEqual(withStatus.spec, { replicas: 3 });
    assert.deepEqual(withStatus.status, { replicas: 3 });
    assert.equal(withStatus.metadata.generation, 2);
  });

  it('merge, strategic and JSON patches; a resourceVersion in the patch is a precondition', async () => {
    const c = new FakeClient();
    c.seed(ConfigMaps, { metadata: { name: 'cm', namespace: 'default', labels: { a: '1', b: '2' } }, data: { k: 'v', list: 'x' } });
    const merged = await c.patch(ConfigMaps, 'default', 'cm', 'merge', { metadata: { labels: { a: null, c: '3' } }, data: { k: 'w' } });
    assert.deepEqual(merged.metadata.labels, { b: '2', c: '3' });
    assert.deepEqual(merged.data, { k: 'w', list: 'x' });
    const jp = await c.patch(ConfigMaps, 'default', 'cm', 'json', [
      { op: 'test', path: '/data/k', value: 'w' },
      { op: 'remove', path: '/data/list' },
    ]);
    assert.deepEqual(jp.data, { k: 'w' });
    await assert.rejects(c.patch(ConfigMaps, 'default', 'cm', 'json', [{ op: 'test', path: '/data/k', value: 'nope' }]), (e: StatusError) => e.code === 422);
    await assert.rejects(c.patch(ConfigMaps, 'default', 'cm', 'merge', { metadata: { resourceVersion: '1' }, data: { k: 'z' } }), isConflict);
    c.seed(Pods, pod('p'));
    const sm = await c.patch(Pods, 'default', 'p', 'strategic', { spec: { containers: [{ name: 'd', image: 'busybox' }] } });
    // Containers merge by name, as the server's strategic merge does.
    assert.deepEqual((sm.spec as { containers: unknown[] }).containers, [{ name: 'c', image: 'nginx' }, { name: 'd', image: 'busybox' }]);
    const st = await c.patch(Pods, 'default', 'p', 'merge', { status: { phase: 'Running' }, spec: { nodeName: 'n' } }, { subresource: 'status' });
    assert.deepEqual(st.status, { phase: 'Running' });
    assert.equal((st.spec as { nodeName?: string }).nodeName, undefined);
  });

  it('pods/binding sets spec.nodeName once; pods/eviction deletes', async () => {
    const c = new FakeClient();
    c.seed(Pods, pod('p'), pod('q'));
    const res = await c.createSubresource(Pods, 'default', 'p', 'binding', { metadata: { name: 'p' }, target: { kind: 'Node', name: 'n1' } });
    assert.equal((res as { status: string }).status, 'Success');
    const bound = c.peek(Pods, 'default', 'p')!;
    assert.equal((bound.spec as { nodeName: string }).nodeName, 'n1');
    assert.equal((bound.status as { conditions: { type: string; status: string }[] }).conditions[0].status, 'True');
    await assert.rejects(c.createSubresource(Pods, 'default', 'p', 'binding', { target: { name: 'n2' } }), (e: StatusError) => isConflict(e) && /already assigned to node "n1"/.test(e.message));
    await c.createSubresource(Pods, 'default', 'q', 'eviction', { metadata: { name: 'q' } });
    assert.equal(c.peek(Pods, 'default', 'q'), undefined);
  });

  it('delete with finalizers or Foreground only marks the object; removing the last finalizer deletes it', async () => {
    const c = new FakeClient();
    c.seed(ConfigMaps, { metadata: { name: 'f', namespace: 'default', finalizers: ['example.com/x'] } }, { metadata: { name: 'g', namespace: 'default' } });
    await c.delete(ConfigMaps, 'default', 'f');
    const marked = c.peek(ConfigMaps, 'default', 'f')!;
    assert.ok(marked.metadata.deletionTimestamp);
    await c.update(ConfigMaps, 'default', { ...marked, metadata: { ...marked.metadata, finalizers: [] } });
    assert.equal(c.peek(ConfigMaps, 'default', 'f'), undefined);
    await c.delete(ConfigMaps, 'default', 'g', { propagationPolicy: 'Foreground' });
    assert.deepEqual(c.peek(ConfigMaps, 'default', 'g')!.metadata.finalizers, ['foregroundDeletion']);
    await assert.rejects(c.delete(ConfigMaps, 'default', 'g', { preconditions: { uid: 'other' } }), isConflict);
  });

  it('namespaces: spec.finalizers hold a deletion until the finalize subresource clears them', async () => {
    const c = new FakeClient();
    await c.create(Namespaces, '', { metadata: { name: 'gone-soon' } });
    await c.delete(Namespaces, '', 'gone-soon');
    const ns = c.peek(Namespaces, '', 'gone-soon')!;
    assert.equal((ns.status as { phase: string }).phase, 'Terminating');
    assert.deepEqual((ns.spec as { finalizers: string[] }).finalizers, ['kubernetes']);
    await c.update(Namespaces, '', { ...ns, spec: { finalizers: [] } }, { subresource: 'finalize' });
    assert.equal(c.peek(Namespaces, '', 'gone-soon'), undefined);
    assert.deepEqual(c.actions.map((a) => `${a.verb}${a.subresource ? `/${a.subresource}` : ''}`), ['create', 'delete', 'update/finalize']);
  });

  it('list filters by namespace, labels and fields, and pages with limit/continue', async () => {
    const c = new FakeClient();
    for (let i = 0; i < 5; i++) c.seed(Pods, pod(`p${i}`, { app: i % 2 ? 'odd' : 'even' }));
    c.seed(Pods, { ...pod('other', { app: 'odd' }), metadata: { name: 'other', namespace: 'kube-system', labels: { app: 'odd' } } });
    assert.deepEqual((await c.list(Pods, 'default', { labelSelector: 'app=odd' })).items.map((p) => p.metadata.name), ['p1', 'p3']);
    assert.equal((await c.list(Pods, '', { labelSelector: 'app=odd' })).items.length, 3);
    assert.deepEqual((await c.list(Pods, '', { fieldSelector: 'metadata.namespace=kube-system' })).items.map((p) => p.metadata.name), ['other']);
    const names: string[] = [];
    let cont: string | undefined;
    let pages = 0;
    do {
      const page = await c.list(Pods, 'default', { limit: 2, continue: cont });
      names.push(...page.items.map((p) => p.metadata.name!));
      cont = page.continue;
      pages++;
    } while (cont);
    assert.deepEqual(names, ['p0', 'p1', 'p2', 'p3', 'p4']);
    assert.equal(pages, 3);
  });

  it('records every call; reactors can fail a call; clearActions empties the record', async () => {
    const c = new FakeClient();
    c.prependReactor('create', 'pods', (a) => {
      if ((a.object as KubeObject).metadata.name === 'bad') throw new Error('injected');
      return undefined;
    });
    await c.create(Pods, 'default', pod('ok'));
    await assert.rejects(c.create(Pods, 'default', pod('bad')), /injected/);
    await c.patch(Pods, 'default', 'ok', 'merge', { metadata: { labels: { x: 'y' } } });
    await c.delete(Pods, 'default', 'ok');
    assert.deepEqual(
      c.actions.map((a) => [a.verb, a.resource, a.namespace, a.name ?? (a.object as KubeObject).metadata.name]),
      [
        ['create', 'pods', 'default', 'ok'],
        ['create', 'pods', 'default', 'bad'],
        ['patch', 'pods', 'default', 'ok'],
        ['delete', 'pods', 'default', 'ok'],
      ],
    );
    assert.equal(c.actions[2].patchType, 'merge');
    c.clearActions();
    assert.equal(c.actions.length, 0);
  });

  it('watch delivers later writes in order, honours selectors, closes once, and answers a compacted resourceVersion with 410', async () => {
    const c = new FakeClient();
    c.seed(Pods, pod('old', { app: 'web' }));
    const events: WatchEvent[] = [];
    let closes = 0;
    const w = c.watch(Pods, 'default', { resourceVersion: String(c.currentRevision), labelSelector: 'app=web' }, (e) => events.push(e), () => closes++);
    await c.create(Pods, 'default', pod('a', { app: 'web' }));
    await c.create(Pods, 'default', pod('b', { app: 'db' }));
    await c.patch(Pods, 'default', 'a', 'merge', { metadata: { annotations: { x: '1' } } });
    await c.delete(Pods, 'default', 'a');
    await tick();
    assert.deepEqual(events.map((e) => `${e.type} ${e.object.metadata.name}`), ['ADDED a', 'MODIFIED a', 'DELETED a']);
    w.stop();
    w.stop();
    await tick();
    assert.equal(closes, 1);
    assert.equal(c.watchCount, 0);

    // From '' the current state comes first as ADDED.
    const initial: string[] = [];
    const w2 = c.watch(Pods, 'default', {}, (e) => initial.push(`${e.type} ${e.object.metadata.name}`), () => {});
    await tick();
    assert.deepEqual(initial, ['ADDED b', 'ADDED old']);
    w2.stop();

    const rv = c.currentRevision;
    await c.create(Pods, 'default', pod('later'));
    c.compact();
    const gone: WatchEvent[] = [];
    let closedWith: unknown = 'open';
    c.watch(Pods, 'default', { resourceVersion: String(rv) }, (e) => gone.push(e), (err) => (closedWith = err));
    await tick();
    assert.equal(gone.length, 1);
    assert.equal(gone[0].type, 'ERROR');
    assert.equal((gone[0].object as unknown as { code: number }).code, 410);
    assert.equal(closedWith, undefined);
  });
});
