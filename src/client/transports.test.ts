/**
 * One client suite, run over both transports against a real skiff server started in this process: HTTPS with the
 * admin certificate from the data dir's kubeconfig, and in-process through the same request pipeline. Both must
 * behave the same, because the same server code answers them.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startTestServer, type TestServer } from '../../test/helpers/test-server.js';
import type { KubeObject } from '../api/object.js';
import { isAlreadyExists, isConflict, isNotFound, type StatusError } from '../api/status.js';
import { ApiEventRecorder } from './event-recorder.js';
import { HttpsTransport, loadKubeconfig } from './https-transport.js';
import { SharedInformer } from './informer.js';
import { LeaderElector } from './leader-election.js';
import { ConfigMaps, Deployments, Events, Leases, Namespaces, Pods } from './resources.js';
import { RestClient } from './rest-client.js';
import type { Client, Watcher, WatchEvent } from './types.js';

/**
 * Passes calls through, except that it can hold the next watch until released and then start it from revision 1,
 * which the server has compacted away: a forced 410 for whoever is watching through it.
 */
function gatedClient(inner: Client) {
  let held: { resolveCalled: () => void; called: Promise<void>; release?: () => void } | undefined;
  const client: Client = Object.create(inner);
  let lists = 0;
  client.list = (...args: Parameters<Client['list']>) => {
    lists++;
    return inner.list(...args);
  };
  client.watch = (rt, ns, opts, onEvent, onClose): Watcher => {
    if (!held) return inner.watch(rt, ns, opts, onEvent, onClose);
    const h = held;
    held = undefined;
    let w: Watcher | undefined;
    let stopped = false;
    h.release = () => {
      if (!stopped) w = inner.watch(rt, ns, { ...opts, resourceVersion: '1' }, onEvent, onClose);
    };
    h.resolveCalled();
    return {
      stop() {
        stopped = true;
        if (w) w.stop();
        else onClose();
      },
    };
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
      const h: { resolveCalled: () => void; called: Promise<void>; release?: () => void } = { resolveCalled, called };
      held = h;
      trigger();
      await called;
      return () => h.release!();
    },
  };
}

async function eventually(what: string, cond: () => boolean | Promise<boolean>, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

const deployment = (name: string): KubeObject => ({
  metadata: { name, labels: { app: name } },
  spec: {
    replicas: 1,
    selector: { matchLabels: { app: name } },
    template: { metadata: { labels: { app: name } }, spec: { containers: [{ name: 'web', image: 'nginx:1.25' }, { name: 'side', image: 'busybox' }] } },
  },
});

describe('RestClient over both transports', () => {
  let s: TestServer;
  let https: HttpsTransport;
  const clients: Record<string, Client> = {};
  before(async () => {
    s = await startTestServer({ datastore: 'memory', controlPlane: false });
    https = new HttpsTransport(await loadKubeconfig(s.kubeconfig));
    clients.https = new RestClient(https);
    clients['in-process'] = new RestClient(s.running.api.inProcessTransport());
  });
  after(async () => {
    https?.close();
    await s?.stop();
  });

  it('https: a bearer token authenticates; a wrong one is 401 Unauthorized', async () => {
    const { readFile } = await import('node:fs/promises');
    const opts = await loadKubeconfig(s.kubeconfig);
    const token = (await readFile(`${s.dataDir}/server/token`, 'utf8')).trim();
    const good = new HttpsTransport({ server: opts.server, ca: opts.ca, token });
    const bad = new HttpsTransport({ server: opts.server, ca: opts.ca, token: 'K10nope::server:nope' });
    try {
      assert.ok((await new RestClient(good).get(Namespaces, '', 'default')).metadata.uid);
      await assert.rejects(new RestClient(bad).get(Namespaces, '', 'default'), (e: StatusError) => e.code === 401 && e.reason === 'Unauthorized');
    } finally {
      good.close();
      bad.close();
    }
  });

  for (const transport of ['https', 'in-process']) {
    describe(transport, () => {
      const ns = `t-${transport}`;
      const c = () => clients[transport];
      before(async () => {
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
        await assert.rejects(c().get(ConfigMaps, ns, 'a'), (e: StatusError) => isNotFound(e) && e.message === 'configmaps "a" not found');
      });

      it('maps 404, 409 AlreadyExists, 409 Conflict and 422 to StatusErrors', async () => {
        await assert.rejects(c().delete(ConfigMaps, ns, 'missing'), isNotFound);
        const first = await c().create(ConfigMaps, ns, { metadata: { name: 'c' } });
        await assert.rejects(c().create(ConfigMaps, ns, { metadata: { name: 'c' } }), (e: StatusError) => isAlreadyExists(e) && e.code === 409);
        await c().update(ConfigMaps, ns, { ...first, data: { x: '1' } });
        await assert.rejects(c().update(ConfigMaps, ns, { ...first, data: { x: '2' } }), (e: StatusError) => isConflict(e) && /the object has been modified/.test(e.message));
        await assert.rejects(c().create(ConfigMaps, ns, { metadata: { name: 'Not_Valid' } }), (e: StatusError) => e.code === 422 && e.reason === 'Invalid');
        await assert.rejects(c().delete(ConfigMaps, ns, 'c', { preconditions: { uid: 'not-the-uid' } }), isConflict);
      });

      it('applies merge, JSON and strategic patches, and status through /status', async () => {
        await c().create(Deployments, ns, deployment('web'), { fieldManager: 'test' });
        const merged = await c().patch(Deployments, ns, 'web', 'merge', { metadata: { labels: { extra: 'yes' } } });
        assert.equal(merged.metadata.labels?.extra, 'yes');
        const jp = await c().patch(Deployments, ns, 'web', 'json', [{ op: 'replace', path: '/spec/replicas', value: 3 }]);
        assert.equal((jp.spec as { replicas: number }).replicas, 3);
        // Strategic merge keys containers by name: patching one leaves the other.
        const sm = await c().patch<KubeObject>(Deployments, ns, 'web', 'strategic', { spec: { template: { spec: { containers: [{ name: 'web', image: 'nginx:1.27' }] } } } });
        const containers = (sm.spec as { template: { spec: { containers: { name: string; image: string }[] } } }).template.spec.containers;
        assert.deepEqual(containers.map((x) => `${x.name}=${x.image}`), ['web=nginx:1.27', 'side=busybox']);
        const st = await c().patch(Deployments, ns, 'web', 'merge', { status: { observedGeneration: 7 } }, { subresource: 'status' });
        assert.equal((st.status as { observedGeneration: number }).observedGeneration, 7);
        const us = await c().updateStatus(Deployments, ns, { ...st, spec: { ...(st.spec as object), replicas: 9 }, status: { observedGeneration: 8 } });
        assert.equal((us.status as { observedGeneration: number }).observedGeneration, 8);
        assert.equal((us.spec as { replicas: number }).replicas, 3, 'a status update does not change spec');
        const dry = await c().patch(Deployments, ns, 'web', 'merge', { spec: { replicas: 5 } }, { dryRun: true });
        assert.equal((dry.spec as { replicas: number }).replicas, 5);
        assert.equal(((await c().get(Deployments, ns, 'web')).spec as { replicas: number }).replicas, 3);
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
        const watchesBefore = s.running.api.handler.watchCount;
        const events: WatchEvent[] = [];
        const closes: (Error | undefined)[] = [];
        const w = c().watch(ConfigMaps, ns, { resourceVersion: start.resourceVersion, labelSelector: 'w=1' }, (e) => events.push(e), (err) => closes.push(err));
        await eventually('the server to register the watch', () => s.running.api.handler.watchCount === watchesBefore + 1);
        const obj = await c().create(ConfigMaps, ns, { metadata: { name: 'w', labels: { w: '1' } } });
        await c().create(ConfigMaps, ns, { metadata: { name: 'unwatched' } });
        await c().update(ConfigMaps, ns, { ...obj, data: { n: '1' } });
        await c().delete(ConfigMaps, ns, 'w');
        await eventually('3 events', () => events.length >= 3);
        assert.deepEqual(events.map((e) => `${e.type} ${e.object.metadata.name} ${e.object.kind}`), ['ADDED w ConfigMap', 'MODIFIED w ConfigMap', 'DELETED w ConfigMap']);
        w.stop();
        w.stop();
        await eventually('the server to end the watch', () => s.running.api.handler.watchCount === watchesBefore);
        await new Promise((r) => setTimeout(r, 20));
        assert.deepEqual(closes, [undefined]);
      });

      it('a watch stopped at once, before the server set it up, still lets go of the server', async () => {
        const before = s.running.api.handler.watchCount;
        let closes = 0;
        const w = c().watch(ConfigMaps, ns, {}, () => {}, () => closes++);
        w.stop();
        await new Promise((r) => setTimeout(r, 50));
        await eventually('no watch left open on the server', () => s.running.api.handler.watchCount === before);
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
        const release = await gate.holdNextWatch(() => s.running.api.handler.closeWatches());
        await c().create(ConfigMaps, ns, { metadata: { name: 'i-c', labels } });
        await c().patch(ConfigMaps, ns, 'i-a', 'merge', { data: { v: '2' } });
        await c().delete(ConfigMaps, ns, 'i-pre');
        await s.running.store.compact(await s.running.store.currentRevision());
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
        const make = (identity: string, name: string, releaseOnCancel = true) => {
          const log: string[] = [];
          const e = new LeaderElector({
            client: c(),
            namespace: ns,
            name,
            identity,
            releaseOnCancel,
            ...timings,
            onStartedLeading: () => void log.push('started'),
            onStoppedLeading: () => void log.push('stopped'),
          });
          return { e, log };
        };
        for (const mode of ['release', 'crash'] as const) {
          const name = `lease-${mode}`;
          const a = make(`${mode}-a`, name, mode === 'release');
          const b = make(`${mode}-b`, name);
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
          if (process.env.SKIFF_TEST_VERBOSE) console.log(`${transport} ${mode}: takeover in ${took} ms`);
          assert.ok(took <= timings.leaseDurationMs + 3 * timings.retryPeriodMs, `${mode}: takeover took ${took} ms`);
          const lease = await c().get(Leases, ns, name);
          const spec = lease.spec as { holderIdentity: string; leaseTransitions: number };
          assert.equal(spec.holderIdentity, `${mode}-b`);
          assert.equal(spec.leaseTransitions, 1);
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
        // Revision 1 is older than the server's watch cache window, so the server replays from the store, which
        // has compacted it away.
        await c().create(ConfigMaps, ns, { metadata: { name: 'old' } });
        await s.running.store.compact(await s.running.store.currentRevision());
        const events: WatchEvent[] = [];
        const err = await new Promise<Error | undefined>((resolve) => c().watch(ConfigMaps, ns, { resourceVersion: '1' }, (e) => events.push(e), resolve));
        assert.equal(err, undefined);
        assert.equal(events.length, 1);
        assert.equal(events[0].type, 'ERROR');
        assert.equal((events[0].object as unknown as { code: number }).code, 410);
      });
    });
  }
});
