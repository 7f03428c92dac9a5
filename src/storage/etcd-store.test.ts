import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { runStoreConformance } from './conformance.js';
import { EtcdStore, parseEtcdUrl } from './etcd-store.js';
import { freePort, haveEtcd, startTestEtcd } from './etcd-store-testing.js';
import { openStore } from './open-store.js';
import { CompactedError, KeyNotFoundError, RevisionConflictError, StoreError } from './store.js';
import type { Store, WatchEvent } from './store.js';

describe('parseEtcdUrl', () => {
  const cases: [string, string[], string][] = [
    ['etcd://127.0.0.1:2379', ['127.0.0.1:2379'], ''],
    ['etcd://10.0.0.1', ['10.0.0.1:2379'], ''],
    ['etcd://a:1,b:2,c/skiff', ['a:1', 'b:2', 'c:2379'], '/skiff'],
    ['etcd://h:2379/skiff/', ['h:2379'], '/skiff'],
    ['etcd://h:2379/', ['h:2379'], ''],
    ['http://10.0.0.1:2379,http://10.0.0.2:2379/x/y', ['10.0.0.1:2379', '10.0.0.2:2379'], '/x/y'],
    ['etcd://[::1]:2379,[fe80::1]', ['[::1]:2379', '[fe80::1]:2379'], ''],
  ];
  for (const [url, endpoints, prefix] of cases) {
    it(`${url} -> ${endpoints.join(' ')} prefix ${JSON.stringify(prefix)}`, () => {
      assert.deepEqual(parseEtcdUrl(url), { endpoints, prefix, tls: false });
    });
  }
  it('https:// members mean TLS', () => {
    assert.deepEqual(parseEtcdUrl('https://10.0.0.1:2379,https://10.0.0.2/k'), { endpoints: ['10.0.0.1:2379', '10.0.0.2:2379'], prefix: '/k', tls: true });
    assert.deepEqual(parseEtcdUrl('https://a:1,b:2'), { endpoints: ['a:1', 'b:2'], prefix: '', tls: true });
  });

  it('refuses what it cannot use, naming the url', () => {
    for (const url of [
      'etcd://h:2379,https://g:2379',
      'https://h:2379,http://g:2379',
      'etcd://a/x,b',
      'etcd://h:99999',
      'etcd://h:2379?timeout=1',
      'etcd://',
      'etcd://h:2379,ftp://g',
      'etcd://[zz]:1',
    ]) {
      assert.throws(() => parseEtcdUrl(url), (err: Error) => err.message.includes(JSON.stringify(url)), url);
    }
    assert.throws(() => parseEtcdUrl('etcd://h:2379,https://g:2379'), /all members must use TLS \(https:\/\/\) or none/);
  });
});

describe('EtcdStore.connect', () => {
  it('fails within the dial timeout, naming the endpoint, when nothing listens there', async () => {
    const port = await freePort();
    const t0 = performance.now();
    await assert.rejects(EtcdStore.connect({ endpoints: [`127.0.0.1:${port}`], dialTimeoutMs: 300 }), (err: Error) => {
      assert.ok(err instanceof StoreError);
      assert.match(err.message, new RegExp(`127\\.0\\.0\\.1:${port}: cannot reach etcd`));
      return true;
    });
    assert.ok(performance.now() - t0 < 3000);
  });
});

if (!haveEtcd() && process.env.CI !== 'true') {
  it('EtcdStore against a real etcd', { skip: 'no etcd binary on PATH (apt-get install etcd-server)' }, () => {});
} else if (!haveEtcd()) {
  it('EtcdStore against a real etcd', () => assert.fail('no etcd binary on PATH, and CI=true requires it (apt-get install etcd-server)'));
} else {
  const etcd = await startTestEtcd();
  after(() => etcd.stop());

  let stores = 0;
  /** A store on the shared etcd under a key prefix of its own, so tests never see each other's keys. */
  const openFresh = (prefix = `/t${++stores}`) => EtcdStore.connect({ endpoints: [etcd.endpoint], prefix });

  runStoreConformance('etcd', async () => ({ store: await openFresh(), cleanup: async () => {} }));

  describe('EtcdStore on one etcd shared by two stores (two skiff servers)', () => {
    it("one store's writes reach the other's list, get and watch", async (t) => {
      const prefix = `/ha${++stores}`;
      const a = await openFresh(prefix);
      const b = await openFresh(prefix);
      t.after(() => Promise.all([a.close(), b.close()]));
      const seen = collect(b, '/registry/pods/', await b.currentRevision());

      const c = await a.create('/registry/pods/ns/p', 'v1');
      const u = await a.update('/registry/pods/ns/p', 'v2', c.revision);
      await a.create('/registry/services/ns/s', 'other prefix');
      const d = await a.delete('/registry/pods/ns/p');
      const kept = await a.create('/registry/pods/ns/q', 'q1');

      await seen.waitFor(kept.revision);
      assert.deepEqual(
        seen.events.map((e) => [e.type, e.kv.key, e.kv.value, e.revision]),
        [
          ['create', '/registry/pods/ns/p', 'v1', c.revision],
          ['update', '/registry/pods/ns/p', 'v2', u.revision],
          ['delete', '/registry/pods/ns/p', 'v2', d.revision],
          ['create', '/registry/pods/ns/q', 'q1', kept.revision],
        ],
      );
      assert.equal(seen.events[1].prevKv?.value, 'v1');
      assert.deepEqual((await b.list('/registry/pods/')).kvs, [kept.kv]);
      assert.deepEqual((await b.get('/registry/pods/ns/p', { revision: u.revision })).kv, u.kv);
    });

    it('a compare-and-swap through one store sees the other store\'s write', async (t) => {
      const prefix = `/ha${++stores}`;
      const a = await openFresh(prefix);
      const b = await openFresh(prefix);
      t.after(() => Promise.all([a.close(), b.close()]));
      const c = await a.create('/registry/k', 'a1');
      const fromB = await b.update('/registry/k', 'b1', c.revision);
      await assert.rejects(a.update('/registry/k', 'a2', c.revision), (err) => {
        assert.ok(err instanceof RevisionConflictError);
        assert.deepEqual(err.current, fromB.kv);
        return true;
      });
      await b.delete('/registry/k');
      await assert.rejects(a.delete('/registry/k', fromB.revision), (err) => err instanceof KeyNotFoundError);
    });

    it("one store's compaction is known to the other: compactRevision, reads and watches", async (t) => {
      const prefix = `/ha${++stores}`;
      const a = await openFresh(prefix);
      const b = await openFresh(prefix);
      t.after(() => Promise.all([a.close(), b.close()]));
      const c = await a.create('/registry/k', 'v1');
      await a.update('/registry/k', 'v2', c.revision);
      const d = await a.delete('/registry/k');
      await a.create('/registry/k', 'v3');
      await a.compact(d.revision);

      // b learns of it from etcd's refusal of an old read, c from compactRevision().
      await assert.rejects(b.get('/registry/k', { revision: c.revision }), (err) => {
        assert.ok(err instanceof CompactedError);
        assert.equal(err.compactRevision, d.revision);
        return true;
      });
      const c2 = await openFresh(prefix);
      t.after(() => c2.close());
      assert.equal(await c2.compactRevision(), d.revision);
      // A watch from compactRevision - 1 is complete: it sees the delete at the compact revision itself, which
      // etcd would have dropped had it been compacted to that revision.
      const boundary = collect(b, '/registry/', d.revision - 1);
      await boundary.waitFor(d.revision + 1);
      assert.deepEqual(boundary.events.map((e) => [e.type, e.revision]), [['delete', d.revision], ['create', d.revision + 1]]);
      assert.deepEqual(boundary.events[0].kv, { key: '/registry/k', value: 'v2', createRevision: c.revision, modRevision: d.revision });
      boundary.cancel();
      // etcd itself would start this one (it starts at etcd's compact revision), and miss nothing only by luck.
      const fresh = await openFresh(prefix);
      t.after(() => fresh.close());
      const tooOld = collect(fresh, '/registry/', d.revision - 2);
      const err = await tooOld.failure();
      assert.ok(err instanceof CompactedError, String(err));
      assert.equal(err.compactRevision, d.revision);
    });

    it('keys live under the URL prefix in etcd, invisible to a store with another prefix', async (t) => {
      const one = await openStore(`etcd://${etcd.endpoint}/tenant-one`);
      const two = await openStore(`http://${etcd.endpoint}/tenant-two/`);
      const whole = await EtcdStore.connect({ endpoints: [etcd.endpoint] });
      t.after(() => Promise.all([one.close(), two.close(), whole.close()]));
      assert.ok(one instanceof EtcdStore);
      assert.equal(one.prefix, '/tenant-one');
      const twoWatch = collect(two, '/registry/', await two.currentRevision());
      await one.create('/registry/x', 'from one');
      const mine = await two.create('/registry/y', 'from two');
      await twoWatch.waitFor(mine.revision);
      assert.deepEqual(twoWatch.events.map((e) => e.kv.key), ['/registry/y']);
      assert.deepEqual((await two.list('/registry/')).kvs.map((kv) => kv.key), ['/registry/y']);
      assert.deepEqual((await whole.list('/tenant-')).kvs.map((kv) => [kv.key, kv.value]), [
        ['/tenant-one/registry/x', 'from one'],
        ['/tenant-two/registry/y', 'from two'],
      ]);
      twoWatch.cancel();
    });

    it('a watch survives an etcd restart without a gap or a duplicate', async (t) => {
      const store = await openFresh();
      t.after(() => store.close());
      const before = await store.create('/registry/r/1', 'x');
      const w = collect(store, '/registry/r/', before.revision - 1);
      await w.waitFor(before.revision);
      await etcd.restart();
      // The channel reconnects on its own; reads are retried, writes are not, so wait for a read first.
      const deadline = Date.now() + 10_000;
      for (;;) {
        try {
          await store.currentRevision();
          break;
        } catch (err) {
          if (Date.now() > deadline) throw err;
          await sleep(100);
        }
      }
      const after1 = await store.create('/registry/r/2', 'y');
      const after2 = await store.update('/registry/r/1', 'z', before.revision);
      await w.waitFor(after2.revision, 15_000);
      assert.deepEqual(w.events.map((e) => e.revision), [before.revision, after1.revision, after2.revision]);
      assert.equal(w.error, undefined);
      w.cancel();
    });
  });
}

interface Collector {
  events: WatchEvent[];
  error: Error | undefined;
  waitFor(revision: number, timeoutMs?: number): Promise<void>;
  failure(timeoutMs?: number): Promise<Error>;
  cancel(): void;
}

function collect(store: Store, prefix: string, afterRevision: number): Collector {
  let wake = () => {};
  const until = async (cond: () => boolean, timeoutMs: number, what: string) => {
    const deadline = Date.now() + timeoutMs;
    while (!cond()) {
      if (Date.now() > deadline) throw new Error(`watch on ${prefix} after ${afterRevision}: ${what} (last ${c.events.at(-1)?.revision}, error ${c.error})`);
      await new Promise<void>((resolve) => {
        wake = resolve;
        setTimeout(resolve, 50);
      });
    }
  };
  const c: Collector = {
    events: [],
    error: undefined,
    async waitFor(revision, timeoutMs = 5000) {
      await until(() => c.error !== undefined || (c.events.at(-1)?.revision ?? 0) >= revision, timeoutMs, `did not reach ${revision}`);
      if (c.error) throw c.error;
    },
    async failure(timeoutMs = 5000) {
      await until(() => c.error !== undefined, timeoutMs, 'did not fail');
      return c.error!;
    },
    cancel: () => w.cancel(),
  };
  const w = store.watch(prefix, {
    afterRevision,
    onEvents: (evs) => {
      c.events.push(...evs);
      wake();
    },
    onError: (err) => {
      c.error = err;
      wake();
    },
  });
  return c;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
