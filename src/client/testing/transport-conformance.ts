/**
 * The semantics every way of reaching the API must share, as one suite (hono's `common.case.test.ts` habit): the
 * HTTPS and in-process transports run it against a real server, and the FakeClient runs it alone, so a controller
 * test on the fake sees what a controller on the real server would (409s, 404s, watch order, selectors, /status).
 * What a real server adds on top (authentication, TLS) stays in the transport's own tests.
 */
import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import type { KubeObject } from '../../api/object.js';
import { isAlreadyExists, isConflict, isNotFound, type StatusError } from '../../api/status.js';
import { ApiEventRecorder } from '../event-recorder.js';
import { SharedInformer } from '../informer.js';
import { LeaderElector } from '../leader-election.js';
import { ConfigMaps, Deployments, Events, Leases, Namespaces, Pods } from '../resources.js';
import type { Client, Watcher, WatchEvent } from '../types.js';

/** What the suite needs from the thing under test, beyond the Client: the server-side levers a test pulls. */
export interface ConformanceTarget {
  client: Client;
  /** Watches the server holds open right now. */
  watchCount(): number;
  /** Ends every open watch as a server-side timeout would: onClose without an error. */
  closeWatches(): void;
  /** Forgets history up to the current revision: a watch from an older resourceVersion then gets 410. */
  compact(): Promise<void>;
}

/**
 * Registers the suite under `describe(name)`. `target` is called once, in the suite's `before` hook, so it may
 * return something the caller set up in its own `before`. Objects are made in the namespace `t-<name>`.
 */
export function runTransportConformance(name: string, target: () => ConformanceTarget): void {
  describe(name, () => {
    const ns = `t-${name}`;
    let t: ConformanceTarget;
    const c = () => t.client;
    before(async () => {
      t = target();
      await c().create(Namespaces, '', { metadata: { name: ns } });
    });

    it('creates, gets, lists by label, updates and deletes', async () => {
      const created = await c().create<KubeObject>(ConfigMaps, ns, { metadata: { name: 'a', labels: { tier: 'x' } }, data: { k: 'v' } });
      assert.equal(created.kind, 'ConfigMap');
      assert.match(created.metadata.uid!, /^[0-9a-f-]{36}$/);
      await c().create(ConfigMaps, ns, { metadata: { name: 'b', labels: { tier: 'y' } } });
      const got = await c().get(ConfigMaps, ns, 'a');
      assert.deepEqual(got.data, { k: 'v' });
      const list = await c().list(ConfigMaps, ns, { labelSelector: 'tier=x' });
      assert.deepEqual(list.items.map((i) => i.metadata.name), ['a']);
      assert.equal(list.items[0].apiVersion, 'v1');
      assert.ok(Number(list.resourceVersion) >= Number(created.metadata.resourceVersion));
      const updated = await c().update(ConfigMaps, ns, { ...got, data: { k: 'w' } });
      assert.deepEqual(updated.data, { k: 'w' });
      assert.notEqual(updated.metadata.resourceVersion, got.metadata.resourceVersion);
      await c().delete(ConfigMaps, ns, 'a');
      await assert.rejects(c().get(ConfigMaps, ns, 'a'), (e: StatusError) => {
        assert.ok(isNotFound(e));
        assert.equal(e.message, 'configmaps "a" not found');
        assert.deepEqual(e.status.details, { name: 'a', kind: 'configmaps' });
        return true;
      });
      await assert.rejects(c().get(Deployments, ns, 'nope'), (e: StatusError) => {
        assert.equal(e.message, 'deployments.apps "nope" not found');
        assert.deepEqual(e.status.details, { name: 'nope', group: 'apps', kind: 'deployments' });
        return true;
      });
    });

    it('maps 404, 409 AlreadyExists, 409 Conflict and 422 to StatusErrors', async () => {
      await assert.rejects(c().delete(ConfigMaps, ns, 'missing'), isNotFound);
      await assert.rejects(c().update(ConfigMaps, ns, { metadata: { name: 'missing' } }), isNotFound);
      await assert.rejects(c().patch(ConfigMaps, ns, 'missing', 'merge', { data: { x: '1' } }), isNotFound);
      const first = await c().create<KubeObject>(ConfigMaps, ns, { metadata: { name: 'c' } });
      await assert.rejects(
        c().create(ConfigMaps, ns, { metadata: { name: 'c' } }),
        (e: StatusError) => isAlreadyExists(e) && e.code === 409 && e.message === 'configmaps "c" already exists',
      );
      await c().update(ConfigMaps, ns, { ...first, data: { x: '1' } });
      await assert.rejects(c().update(ConfigMaps, ns, { ...first, data: { x: '2' } }), (e: StatusError) => isConflict(e) && /the object has been modified/.test(e.message));
      // A resourceVersion inside a patch is a precondition too.
      await assert.rejects(c().patch(ConfigMaps, ns, 'c', 'merge', { metadata: { resourceVersion: first.metadata.resourceVersion }, data: { x: '3' } }), isConflict);
      await assert.rejects(c().create(ConfigMaps, ns, { metadata: { name: 'Not_Valid' } }), (e: StatusError) => e.code === 422 && e.reason === 'Invalid');
      await assert.rejects(c().delete(ConfigMaps, ns, 'c', { preconditions: { uid: 'not-the-uid' } }), isConflict);
      // Without a resourceVersion an update is unconditional (ConfigMaps allow it, as in Kubernetes).
      const { resourceVersion: _rv, ...meta } = first.metadata;
      const forced = await c().update(ConfigMaps, ns, { ...first, metadata: meta, data: { x: '4' } });
      assert.deepEqual(forced.data, { x: '4' });
    });

    it('names from generateName; list pages with limit and continue; field selectors on list', async () => {
      const made = await c().create<KubeObject>(ConfigMaps, ns, { metadata: { generateName: 'gen-', labels: { page: '1' } } });
      assert.match(made.metadata.name!, /^gen-[a-z0-9]{5}$/);
      await c().create(ConfigMaps, ns, { metadata: { name: 'page-a', labels: { page: '1' } } });
      await c().create(ConfigMaps, ns, { metadata: { name: 'page-b', labels: { page: '1' } } });
      const first = await c().list(ConfigMaps, ns, { labelSelector: 'page=1', limit: 2 });
      assert.equal(first.items.length, 2);
      assert.ok(first.continue, 'a partial page carries a continue token');
      const rest = await c().list(ConfigMaps, ns, { labelSelector: 'page=1', limit: 2, continue: first.continue });
      assert.equal(rest.continue, undefined);
      const names = [...first.items, ...rest.items].map((o) => o.metadata.name).sort();
      assert.deepEqual(names, [made.metadata.name, 'page-a', 'page-b'].sort());
      const byName = await c().list(ConfigMaps, ns, { fieldSelector: 'metadata.name=page-b' });
      assert.deepEqual(byName.items.map((o) => o.metadata.name), ['page-b']);
      const notA = await c().list(ConfigMaps, ns, { labelSelector: 'page=1', fieldSelector: 'metadata.name!=page-a' });
      assert.deepEqual(notA.items.map((o) => o.metadata.name).sort(), [made.metadata.name, 'page-b'].sort());
      await assert.rejects(c().list(ConfigMaps, ns, { labelSelector: 'a in (' }), (e: StatusError) => e.code === 400);
    });

    const deployment = (name: string): KubeObject => ({
      metadata: { name, labels: { app: name } },
      spec: {
        replicas: 1,
        selector: { matchLabels: { app: name } },
        template: { metadata: { labels: { app: name } }, spec: { containers: [{ name: 'web', image: 'nginx:1.25' }, { name: 'side', image: 'busybox' }] } },
      },
    });
    const replicas = (o: KubeObject) => (o.spec as { replicas: number }).replicas;
    const observed = (o: KubeObject) => (o.status as { observedGeneration?: number } | undefined)?.observedGeneration;

    it('applies merge, JSON and strategic patches, and status through /status', async () => {
      await c().create(Deployments, ns, deployment('web'), { fieldManager: 'test' });
      const merged = await c().patch(Deployments, ns, 'web', 'merge', { metadata: { labels: { extra: 'yes' } } });
      assert.equal(merged.metadata.labels?.extra, 'yes');
      const jp = await c().patch(Deployments, ns, 'web', 'json', [{ op: 'replace', path: '/spec/replicas', value: 3 }]);
      assert.equal(replicas(jp), 3);
      // Strategic merge keys containers by name: patching one leaves the other.
      const sm = await c().patch<KubeObject>(Deployments, ns, 'web', 'strategic', { spec: { template: { spec: { containers: [{ name: 'web', image: 'nginx:1.27' }] } } } });
      const containers = (sm.spec as { template: { spec: { containers: { name: string; image: string }[] } } }).template.spec.containers;
      assert.deepEqual(containers.map((x) => `${x.name}=${x.image}`), ['web=nginx:1.27', 'side=busybox']);
      const st = await c().patch(Deployments, ns, 'web', 'merge', { status: { observedGeneration: 7 } }, { subresource: 'status' });
      assert.equal(observed(st), 7);
      const us = await c().updateStatus(Deployments, ns, { ...st, spec: { ...(st.spec as object), replicas: 9 }, status: { observedGeneration: 8 } });
      assert.equal(observed(us), 8);
      assert.equal(replicas(us), 3, 'a status update does not change spec');
      const dry = await c().patch(Deployments, ns, 'web', 'merge', { spec: { replicas: 5 } }, { dryRun: true });
      assert.equal(replicas(dry), 5);
      assert.equal(replicas(await c().get(Deployments, ns, 'web')), 3);
    });

    it('status is written only through /status; spec changes move generation, metadata and status changes do not', async () => {
      const d0 = await c().create(Deployments, ns, deployment('gen'));
      assert.equal(d0.metadata.generation, 1);
      const d1 = await c().update(Deployments, ns, { ...d0, metadata: { ...d0.metadata, labels: { ...d0.metadata.labels, l: '1' } }, status: { observedGeneration: 5 } });
      assert.equal(d1.metadata.generation, 1, 'a label change is not a spec change');
      assert.equal(observed(d1), undefined, 'an update of the main resource ignores status');
      const d2 = await c().updateStatus(Deployments, ns, { ...d1, metadata: { ...d1.metadata, labels: { app: 'gen', l: '2' } }, status: { observedGeneration: 1 } });
      assert.equal(observed(d2), 1);
      assert.equal(d2.metadata.labels?.l, '1', 'a status update leaves labels alone');
      assert.equal(d2.metadata.generation, 1);
      assert.notEqual(d2.metadata.resourceVersion, d1.metadata.resourceVersion);
      const d3 = await c().patch(Deployments, ns, 'gen', 'merge', { spec: { replicas: 2 } });
      assert.equal(d3.metadata.generation, 2);
      assert.equal(observed(d3), 1, 'a spec patch keeps status');
      await assert.rejects(c().updateStatus(Deployments, ns, { ...d1, status: { observedGeneration: 9 } }), isConflict);
    });

    it('a finalizer holds a deleted object until an update removes it', async () => {
      const events: WatchEvent[] = [];
      const start = await c().list(ConfigMaps, ns);
      const watchesBefore = t.watchCount();
      const w = c().watch(ConfigMaps, ns, { resourceVersion: start.resourceVersion, fieldSelector: 'metadata.name=held' }, (e) => events.push(e), () => {});
      await c().create(ConfigMaps, ns, { metadata: { name: 'held', finalizers: ['example.com/hold'] } });
      await c().delete(ConfigMaps, ns, 'held');
      const deleting = await c().get(ConfigMaps, ns, 'held');
      assert.ok(deleting.metadata.deletionTimestamp, 'deletionTimestamp is set');
      await c().update(ConfigMaps, ns, { ...deleting, metadata: { ...deleting.metadata, finalizers: [] } });
      await assert.rejects(c().get(ConfigMaps, ns, 'held'), isNotFound);
      await eventually('3 events', () => events.length >= 3);
      w.stop();
      assert.deepEqual(events.map((e) => `${e.type} ${e.object.metadata.deletionTimestamp ? 'deleting' : 'live'}`), ['ADDED live', 'MODIFIED deleting', 'DELETED deleting']);
      await eventually('the server to end the watch', () => t.watchCount() === watchesBefore);
    });

    it('deletes a collection by label: a finalizer holds its object, the rest go, others stay', async () => {
      await c().create(ConfigMaps, ns, { metadata: { name: 'dc-a', labels: { dc: 'yes' } } });
      await c().create(ConfigMaps, ns, { metadata: { name: 'dc-b', labels: { dc: 'yes' }, finalizers: ['example.com/hold'] } });
      await c().create(ConfigMaps, ns, { metadata: { name: 'dc-c', labels: { dc: 'no' } } });
      await c().deleteCollection(ConfigMaps, ns, { labelSelector: 'dc=yes', propagationPolicy: 'Background' });
      const left = (await c().list(ConfigMaps, ns, { labelSelector: 'dc' })).items;
      assert.deepEqual(left.map((o) => `${o.metadata.name} ${o.metadata.deletionTimestamp ? 'deleting' : 'live'}`).sort(), ['dc-b deleting', 'dc-c live']);
      const held = left.find((o) => o.metadata.name === 'dc-b')!;
      await c().update(ConfigMaps, ns, { ...held, metadata: { ...held.metadata, finalizers: [] } });
      await assert.rejects(c().get(ConfigMaps, ns, 'dc-b'), isNotFound);
    });

    it('answers discovery: core v1 and a group version list their resources and verbs; an unknown group is 404', async () => {
      const core = await c().discovery<{ resources: { name: string; namespaced: boolean; verbs: string[] }[] }>('/api/v1');
      const cm = core.resources.find((r) => r.name === 'configmaps');
      assert.ok(cm?.namespaced && cm.verbs.includes('deletecollection'), JSON.stringify(cm));
      const groups = await c().discovery<{ groups: { name: string; preferredVersion: { version: string } }[] }>('/apis');
      assert.equal(groups.groups.find((g) => g.name === 'apps')?.preferredVersion.version, 'v1');
      const apps = await c().discovery<{ groupVersion: string; resources: { name: string }[] }>('/apis/apps/v1');
      assert.equal(apps.groupVersion, 'apps/v1');
      assert.ok(apps.resources.some((r) => r.name === 'deployments'));
      await assert.rejects(c().discovery('/apis/nope.example.com/v1'), isNotFound);
    });

    it('finalizes a terminating namespace through the finalize subresource', async () => {
      const name = `${ns}-fin`;
      await c().create(Namespaces, '', { metadata: { name } });
      await c().delete(Namespaces, '', name);
      const terminating = await c().get(Namespaces, '', name);
      assert.equal((terminating.status as { phase: string }).phase, 'Terminating');
      await c().update(Namespaces, '', { ...terminating, spec: { finalizers: [] } }, { subresource: 'finalize' });
      await assert.rejects(c().get(Namespaces, '', name), isNotFound);
    });

    it('binds a pod through pods/binding', async () => {
      await c().create(Pods, ns, { metadata: { name: 'p' }, spec: { containers: [{ name: 'c', image: 'nginx' }] } });
      const res = (await c().createSubresource(Pods, ns, 'p', 'binding', { apiVersion: 'v1', kind: 'Binding', metadata: { name: 'p' }, target: { kind: 'Node', name: 'node-1' } })) as { status: string };
      assert.equal(res.status, 'Success');
      assert.equal(((await c().get(Pods, ns, 'p')).spec as { nodeName: string }).nodeName, 'node-1');
      await assert.rejects(c().createSubresource(Pods, ns, 'p', 'binding', { target: { kind: 'Node', name: 'node-2' } }), isConflict);
    });

    it('watches from a list resourceVersion: ADDED, MODIFIED, DELETED in order; stop closes once and the server lets go', async () => {
      const start = await c().list(ConfigMaps, ns);
      const watchesBefore = t.watchCount();
      const events: WatchEvent[] = [];
      const closes: (Error | undefined)[] = [];
      const w = c().watch(ConfigMaps, ns, { resourceVersion: start.resourceVersion, labelSelector: 'w=1' }, (e) => events.push(e), (err) => closes.push(err));
      await eventually('the server to register the watch', () => t.watchCount() === watchesBefore + 1);
      const obj = await c().create(ConfigMaps, ns, { metadata: { name: 'w', labels: { w: '1' } } });
      await c().create(ConfigMaps, ns, { metadata: { name: 'unwatched' } });
      await c().update(ConfigMaps, ns, { ...obj, data: { n: '1' } });
      await c().delete(ConfigMaps, ns, 'w');
      await eventually('3 events', () => events.length >= 3);
      assert.deepEqual(events.map((e) => `${e.type} ${e.object.metadata.name} ${e.object.kind}`), ['ADDED w ConfigMap', 'MODIFIED w ConfigMap', 'DELETED w ConfigMap']);
      const rvs = events.map((e) => Number(e.object.metadata.resourceVersion));
      assert.ok(rvs[0] < rvs[1] && rvs[1] < rvs[2], `resourceVersions increase: ${rvs.join(', ')}`);
      w.stop();
      w.stop();
      await eventually('the server to end the watch', () => t.watchCount() === watchesBefore);
      await new Promise((r) => setTimeout(r, 20));
      assert.deepEqual(closes, [undefined]);
    });

    it('a watch without a resourceVersion starts with the current objects as ADDED, then follows', async () => {
      await c().create(ConfigMaps, ns, { metadata: { name: 'now-1', labels: { now: '1' } } });
      const watchesBefore = t.watchCount();
      const events: WatchEvent[] = [];
      const w = c().watch(ConfigMaps, ns, { labelSelector: 'now=1' }, (e) => events.push(e), () => {});
      await eventually('the initial ADDED', () => events.length >= 1);
      await c().create(ConfigMaps, ns, { metadata: { name: 'now-2', labels: { now: '1' } } });
      await eventually('the second ADDED', () => events.length >= 2);
      w.stop();
      assert.deepEqual(events.map((e) => `${e.type} ${e.object.metadata.name}`), ['ADDED now-1', 'ADDED now-2']);
      await eventually('the server to end the watch', () => t.watchCount() === watchesBefore);
    });

    it('a watch stopped at once, before the server set it up, still lets go of the server', async () => {
      const before = t.watchCount();
      let closes = 0;
      const w = c().watch(ConfigMaps, ns, {}, () => {}, () => closes++);
      w.stop();
      await new Promise((r) => setTimeout(r, 50));
      await eventually('no watch left open on the server', () => t.watchCount() === before);
      assert.equal(closes, 1);
    });

    it('a watch the server refuses closes with the StatusError', async () => {
      const err = await new Promise<Error | undefined>((resolve) => {
        c().watch(ConfigMaps, ns, { labelSelector: 'a in (' }, () => assert.fail('no events expected'), resolve);
      });
      assert.equal((err as StatusError).code, 400);
      assert.equal((err as StatusError).reason, 'BadRequest');
    });

    it('an informer follows adds, updates and deletes, and relists after a forced 410 delivering only the differences', async () => {
      const gate = gatedClient(c());
      const inf = new SharedInformer(gate.client, ConfigMaps, { namespace: ns, labelSelector: 'inf=1' }, { freezeObjects: true });
      const calls: string[] = [];
      inf.addEventHandler({
        add: (o) => calls.push(`add ${o.metadata.name}`),
        update: (_o, n) => calls.push(`update ${n.metadata.name} ${JSON.stringify(n.data ?? {})}`),
        delete: (o) => calls.push(`delete ${o.metadata.name}`),
      });
      const labels = { inf: '1' };
      await c().create(ConfigMaps, ns, { metadata: { name: 'i-pre', labels } });
      inf.start();
      await inf.waitForSync();
      assert.deepEqual(calls, ['add i-pre']);
      const a = await c().create<KubeObject>(ConfigMaps, ns, { metadata: { name: 'i-a', labels } });
      await c().create(ConfigMaps, ns, { metadata: { name: 'i-b', labels } });
      await c().create(ConfigMaps, ns, { metadata: { name: 'i-other' } });
      await c().update(ConfigMaps, ns, { ...a, data: { v: '1' } });
      await c().delete(ConfigMaps, ns, 'i-b');
      await eventually('the watched changes', () => calls.length >= 5);
      assert.deepEqual(calls.splice(0), ['add i-pre', 'add i-a', 'add i-b', 'update i-a {"v":"1"}', 'delete i-b']);

      // Bring the informer's watch down and hold its next one; change things meanwhile; compact; let it watch from
      // a compacted revision: the server answers 410 and the informer must list again.
      const release = await gate.holdNextWatch(() => t.closeWatches());
      await c().create(ConfigMaps, ns, { metadata: { name: 'i-c', labels } });
      await c().patch(ConfigMaps, ns, 'i-a', 'merge', { data: { v: '2' } });
      await c().delete(ConfigMaps, ns, 'i-pre');
      await t.compact();
      const listsBefore = gate.lists;
      release();
      await eventually('the relist differences', () => calls.length >= 3);
      assert.deepEqual(calls.splice(0).sort(), ['add i-c', 'delete i-pre', 'update i-a {"v":"2"}']);
      assert.equal(gate.lists, listsBefore + 1, 'the informer listed again');
      assert.deepEqual(inf.lister.list(ns).map((o) => o.metadata.name).sort(), ['i-a', 'i-c']);

      // Still watching after the relist.
      await c().create(ConfigMaps, ns, { metadata: { name: 'i-d', labels } });
      await eventually('the add after the relist', () => calls.includes('add i-d'));
      inf.stop();
    });

    it('leader election: one of two candidates leads; the other takes over within leaseDuration when it stops or dies', async () => {
      const timings = { leaseDurationMs: 1000, renewDeadlineMs: 600, retryPeriodMs: 100 };
      const make = (identity: string, lease: string, releaseOnCancel = true) => {
        const log: string[] = [];
        const e = new LeaderElector({
          client: c(),
          namespace: ns,
          name: lease,
          identity,
          releaseOnCancel,
          ...timings,
          onStartedLeading: () => void log.push('started'),
          onStoppedLeading: () => void log.push('stopped'),
        });
        return { e, log };
      };
      for (const mode of ['release', 'crash'] as const) {
        const lease = `lease-${mode}`;
        const a = make(`${mode}-a`, lease, mode === 'release');
        const b = make(`${mode}-b`, lease);
        a.e.start();
        await eventually('a to lead', () => a.e.isLeader());
        b.e.start();
        await new Promise((r) => setTimeout(r, 400));
        assert.ok(!b.e.isLeader(), `${mode}: b must not lead while a renews`);
        assert.equal(b.e.getLeader(), `${mode}-a`);
        const stoppedAt = Date.now();
        await a.e.stop();
        await eventually('b to take over', () => b.e.isLeader(), 3000);
        const took = Date.now() - stoppedAt;
        assert.ok(took <= timings.leaseDurationMs + 3 * timings.retryPeriodMs, `${mode}: takeover took ${took} ms`);
        const got = await c().get(Leases, ns, lease);
        const spec = got.spec as { holderIdentity: string; leaseTransitions: number; renewTime: string };
        assert.equal(spec.holderIdentity, `${mode}-b`);
        assert.equal(spec.leaseTransitions, 1);
        assert.match(spec.renewTime, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/, 'renewTime is a MicroTime');
        assert.deepEqual(a.log, ['started', 'stopped']);
        await b.e.stop();
      }
    });

    it('records Events the server accepts, aggregating a repeat into a count', async () => {
      const pod = await c().create<KubeObject>(Pods, ns, { metadata: { name: 'ev-pod' }, spec: { containers: [{ name: 'c', image: 'nginx' }] } });
      const logs: string[] = [];
      const r = new ApiEventRecorder(c(), 'test-controller', { host: 'h1', log: (l) => logs.push(l) });
      r.event(pod, 'Warning', 'FailedScheduling', '0/3 nodes are available: 3 Insufficient cpu.');
      r.event(pod, 'Warning', 'FailedScheduling', '0/3 nodes are available: 3 Insufficient cpu.');
      await r.flush();
      assert.deepEqual(logs, []);
      const events = (await c().list(Events, ns, { fieldSelector: 'involvedObject.name=ev-pod' })).items as (KubeObject & { count: number; reason: string; source: { component: string } })[];
      assert.equal(events.length, 1);
      assert.equal(events[0].count, 2);
      assert.equal(events[0].reason, 'FailedScheduling');
      assert.equal(events[0].source.component, 'test-controller');
    });

    it('a watch from a compacted resourceVersion gets an ERROR event with code 410', async () => {
      await c().create(ConfigMaps, ns, { metadata: { name: 'old' } });
      await t.compact();
      const events: WatchEvent[] = [];
      const err = await new Promise<Error | undefined>((resolve) => c().watch(ConfigMaps, ns, { resourceVersion: '1' }, (e) => events.push(e), resolve));
      assert.equal(err, undefined);
      assert.equal(events.length, 1);
      assert.equal(events[0].type, 'ERROR');
      assert.equal((events[0].object as unknown as { code: number }).code, 410);
    });
  });
}

async function eventually(what: string, cond: () => boolean | Promise<boolean>, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/**
 * Passes calls through, except that it can hold the next watch until released and then start it from revision 1,
 * which has been compacted away: a forced 410 for whoever is watching through it.
 */
function gatedClient(inner: Client) {
  let held: { resolveCalled: () => void; release?: () => void } | undefined;
  let lists = 0;
  // Methods are bound to `inner`, so a client that keeps state in itself (the FakeClient) keeps it there.
  const client: Client = {
    get: inner.get.bind(inner),
    list(rt, namespace, opts) {
      lists++;
      return inner.list(rt, namespace, opts);
    },
    create: inner.create.bind(inner),
    update: inner.update.bind(inner),
    updateStatus: inner.updateStatus.bind(inner),
    patch: inner.patch.bind(inner),
    delete: inner.delete.bind(inner),
    deleteCollection: inner.deleteCollection.bind(inner),
    discovery: inner.discovery.bind(inner),
    createSubresource: inner.createSubresource.bind(inner),
    watch: (rt, namespace, opts, onEvent, onClose): Watcher => {
      if (!held) return inner.watch(rt, namespace, opts, onEvent, onClose);
      const h = held;
      held = undefined;
      let w: Watcher | undefined;
      let stopped = false;
      h.release = () => {
        if (!stopped) w = inner.watch(rt, namespace, { ...opts, resourceVersion: '1' }, onEvent, onClose);
      };
      h.resolveCalled();
      return {
        stop() {
          stopped = true;
          if (w) w.stop();
          else onClose();
        },
      };
    },
  };
  return {
    client,
    get lists() {
      return lists;
    },
    /** Holds the next watch; resolves to its release function once the watch has been asked for. */
    async holdNextWatch(trigger: () => void): Promise<() => void> {
      let resolveCalled!: () => void;
      const called = new Promise<void>((r) => (resolveCalled = r));
      const h: { resolveCalled: () => void; release?: () => void } = { resolveCalled };
      held = h;
      trigger();
      await called;
      return () => h.release!();
    },
  };
}
