import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  CompactedError,
  FutureRevisionError,
  KeyExistsError,
  KeyNotFoundError,
  RevisionConflictError,
} from './store.js';
import type { Store, Watch, WatchEvent } from './store.js';

export interface OpenedStore {
  store: Store;
  cleanup(): Promise<void>;
}

/**
 * The behaviour every Store backend must have (etcd v3 semantics as the kube-apiserver relies on them).
 * Registers node:test cases; each case opens its own fresh store.
 */
export function runStoreConformance(name: string, open: () => Promise<OpenedStore>): void {
  async function withStore(fn: (store: Store) => Promise<void>): Promise<void> {
    const { store, cleanup } = await open();
    try {
      await fn(store);
    } finally {
      await store.close();
      await cleanup();
    }
  }
  const test = (title: string, fn: (store: Store) => Promise<void>) => it(title, () => withStore(fn));

  describe(`Store conformance: ${name}`, () => {
    describe('revisions and writes', () => {
      test('every write advances the global revision by exactly 1, across keys', async (s) => {
        const r0 = await s.currentRevision();
        const a = await s.create('/registry/a', 'a1');
        const b = await s.create('/registry/b', 'b1');
        const a2 = await s.update('/registry/a', 'a2', a.revision);
        const bd = await s.delete('/registry/b');
        assert.deepEqual([a.revision, b.revision, a2.revision, bd.revision], [r0 + 1, r0 + 2, r0 + 3, r0 + 4]);
        assert.equal(await s.currentRevision(), r0 + 4);
        assert.deepEqual(a.kv, { key: '/registry/a', value: 'a1', createRevision: r0 + 1, modRevision: r0 + 1 });
        assert.deepEqual(a2.kv, { key: '/registry/a', value: 'a2', createRevision: r0 + 1, modRevision: r0 + 3 });
      });

      test('create refuses an existing key with KeyExistsError and changes nothing', async (s) => {
        const first = await s.create('/registry/k', 'v1');
        await assert.rejects(s.create('/registry/k', 'v2'), (err) => err instanceof KeyExistsError && err.key === '/registry/k');
        assert.equal(await s.currentRevision(), first.revision);
        assert.equal((await s.get('/registry/k')).kv?.value, 'v1');
      });

      test('update is a compare-and-swap on modRevision', async (s) => {
        const c = await s.create('/registry/k', 'v1');
        const u = await s.update('/registry/k', 'v2', c.revision);
        await assert.rejects(s.update('/registry/k', 'stale', c.revision), (err) => {
          assert.ok(err instanceof RevisionConflictError);
          assert.deepEqual(err.current, { key: '/registry/k', value: 'v2', createRevision: c.revision, modRevision: u.revision });
          return true;
        });
        assert.equal((await s.get('/registry/k')).kv?.value, 'v2');
        await assert.rejects(s.update('/registry/missing', 'v', 1), (err) => err instanceof KeyNotFoundError);
        assert.equal(await s.currentRevision(), u.revision);
      });

      test('delete returns the last value at the deletion revision, with CAS and KeyNotFoundError', async (s) => {
        const c = await s.create('/registry/k', 'v1');
        const u = await s.update('/registry/k', 'v2', c.revision);
        await assert.rejects(s.delete('/registry/k', c.revision), (err) => {
          assert.ok(err instanceof RevisionConflictError);
          assert.equal(err.current.modRevision, u.revision);
          return true;
        });
        const d = await s.delete('/registry/k', u.revision);
        assert.equal(d.revision, u.revision + 1);
        assert.deepEqual(d.kv, { key: '/registry/k', value: 'v2', createRevision: c.revision, modRevision: d.revision });
        assert.equal((await s.get('/registry/k')).kv, undefined);
        await assert.rejects(s.delete('/registry/k'), (err) => err instanceof KeyNotFoundError && err.key === '/registry/k');
        // An unconditional delete needs no revision.
        await s.create('/registry/j', 'x');
        await s.delete('/registry/j');
        assert.equal((await s.get('/registry/j')).kv, undefined);
      });

      test('re-creating a deleted key starts a new life with a new createRevision', async (s) => {
        const c1 = await s.create('/registry/k', 'v1');
        await s.delete('/registry/k');
        const c2 = await s.create('/registry/k', 'v2');
        assert.ok(c2.kv.createRevision > c1.kv.createRevision);
        assert.equal(c2.kv.createRevision, c2.revision);
        const got = await s.get('/registry/k');
        assert.deepEqual(got.kv, { key: '/registry/k', value: 'v2', createRevision: c2.revision, modRevision: c2.revision });
      });

      test('500 concurrent creates all succeed with distinct, contiguous revisions', async (s) => {
        const r0 = await s.currentRevision();
        const results = await Promise.all(
          Array.from({ length: 500 }, (_, i) => s.create(`/registry/many/${String(i).padStart(3, '0')}`, `v${i}`)),
        );
        const revs = results.map((r) => r.revision).sort((x, y) => x - y);
        assert.deepEqual(revs, Array.from({ length: 500 }, (_, i) => r0 + 1 + i));
        for (const r of results) assert.equal(r.kv.modRevision, r.revision);
        assert.equal((await s.count('/registry/many/')).count, 500);
        const list = await s.list('/registry/many/');
        assert.equal(list.kvs.length, 500);
        assert.equal(list.kvs[123].value, 'v123');
      });

      test('concurrent conflicting writes: exactly one CAS wins', async (s) => {
        const c = await s.create('/registry/k', '0');
        const outcomes = await Promise.allSettled(
          Array.from({ length: 20 }, (_, i) => s.update('/registry/k', `w${i}`, c.revision)),
        );
        const won = outcomes.filter((o) => o.status === 'fulfilled');
        assert.equal(won.length, 1);
        for (const o of outcomes) {
          if (o.status === 'rejected') assert.ok(o.reason instanceof RevisionConflictError);
        }
        assert.equal(await s.currentRevision(), c.revision + 1);
      });
    });

    describe('reads', () => {
      test('get at a past revision sees the value of that time; a future revision is refused', async (s) => {
        const c = await s.create('/registry/k', 'v1');
        const u = await s.update('/registry/k', 'v2', c.revision);
        const d = await s.delete('/registry/k');
        assert.deepEqual(await s.get('/registry/k', { revision: c.revision }), {
          revision: c.revision,
          kv: { key: '/registry/k', value: 'v1', createRevision: c.revision, modRevision: c.revision },
        });
        assert.equal((await s.get('/registry/k', { revision: u.revision })).kv?.value, 'v2');
        assert.equal((await s.get('/registry/k', { revision: d.revision })).kv, undefined);
        assert.equal((await s.get('/registry/k', { revision: c.revision - 1 })).kv, undefined);
        const now = await s.get('/registry/k');
        assert.equal(now.revision, d.revision);
        assert.equal(now.kv, undefined);
        await assert.rejects(s.get('/registry/k', { revision: d.revision + 1 }), (err) => err instanceof FutureRevisionError);
        await assert.rejects(s.list('/registry/', { revision: d.revision + 1 }), (err) => err instanceof FutureRevisionError);
      });

      test('list by prefix returns only that prefix, in ascending key order', async (s) => {
        for (const k of ['/registry/pods/ns/b', '/registry/podsx/ns/a', '/registry/pods/ns/a', '/registry/pod', '/registry/pods/aa/z']) {
          await s.create(k, k);
        }
        const res = await s.list('/registry/pods/');
        assert.deepEqual(res.kvs.map((kv) => kv.key), ['/registry/pods/aa/z', '/registry/pods/ns/a', '/registry/pods/ns/b']);
        assert.equal(res.more, false);
        assert.equal(res.revision, await s.currentRevision());
        assert.equal(res.kvs[1].value, '/registry/pods/ns/a');
        assert.equal((await s.list('/registry/')).kvs.length, 5);
        assert.equal((await s.list('')).kvs.length, 5);
        assert.deepEqual((await s.list('/registry/nothing/')).kvs, []);
      });

      test('list at an older revision sees the state of that time', async (s) => {
        const a = await s.create('/registry/x/a', 'a1');
        await s.create('/registry/x/b', 'b1');
        const then = await s.currentRevision();
        await s.update('/registry/x/a', 'a2', a.revision);
        await s.delete('/registry/x/b');
        await s.create('/registry/x/c', 'c1');
        const old = await s.list('/registry/x/', { revision: then });
        assert.equal(old.revision, then);
        assert.deepEqual(old.kvs.map((kv) => [kv.key, kv.value, kv.modRevision]), [
          ['/registry/x/a', 'a1', a.revision],
          ['/registry/x/b', 'b1', a.revision + 1],
        ]);
        const cur = await s.list('/registry/x/');
        assert.deepEqual(cur.kvs.map((kv) => [kv.key, kv.value]), [['/registry/x/a', 'a2'], ['/registry/x/c', 'c1']]);
      });

      test('pagination at one revision yields every key exactly once, with `more` right, despite writes between pages', async (s) => {
        for (const total of [25, 21]) {
          const prefix = `/registry/page${total}/`;
          const keys = Array.from({ length: total }, (_, i) => `${prefix}${String((i * 7919) % total).padStart(2, '0')}`);
          for (const k of keys) await s.create(k, 'v');
          const snapshot = await s.currentRevision();
          const seen: string[] = [];
          let startKey: string | undefined;
          let pages = 0;
          for (;;) {
            const page = await s.list(prefix, { revision: snapshot, startKey, limit: 7 });
            pages++;
            assert.equal(page.revision, snapshot);
            assert.ok(page.kvs.length <= 7);
            seen.push(...page.kvs.map((kv) => kv.key));
            // Writes between pages must not show up in, or disturb, the snapshot.
            await s.create(`${prefix}${pages}-late`, 'late');
            await s.delete(keys[pages]);
            if (!page.more) break;
            assert.equal(page.kvs.length, 7, 'a page with more=true is full');
            startKey = page.kvs[page.kvs.length - 1].key + '\x00';
          }
          assert.deepEqual(seen, [...keys].sort());
          assert.equal(pages, Math.ceil(total / 7));
        }
      });

      test('count counts live keys under the prefix only', async (s) => {
        await s.create('/registry/pods/a', '1');
        await s.create('/registry/pods/b', '1');
        await s.create('/registry/pods/c', '1');
        await s.create('/registry/podsx/a', '1');
        await s.delete('/registry/pods/b');
        const res = await s.count('/registry/pods/');
        assert.equal(res.count, 2);
        assert.equal(res.revision, await s.currentRevision());
        assert.equal((await s.count('/registry/')).count, 3);
        assert.equal((await s.count('/registry/none/')).count, 0);
      });
    });

    describe('watch', () => {
      test('replays exactly the events after afterRevision, then streams live ones', async (s) => {
        const a = await s.create('/registry/w/a', 'a1');
        const b = await s.create('/registry/w/b', 'b1');
        const u = await s.update('/registry/w/a', 'a2', a.revision);
        const w = collect(s, '/registry/w/', a.revision);
        try {
          await w.waitForRevision(u.revision);
          const c = await s.create('/registry/w/c', 'c1');
          await w.waitForRevision(c.revision);
          assert.deepEqual(w.events.map((e) => [e.type, e.kv.key, e.revision]), [
            ['create', '/registry/w/b', b.revision],
            ['update', '/registry/w/a', u.revision],
            ['create', '/registry/w/c', c.revision],
          ]);
          const upd = w.events[1];
          assert.deepEqual(upd.kv, { key: '/registry/w/a', value: 'a2', createRevision: a.revision, modRevision: u.revision });
          assert.deepEqual(upd.prevKv, { key: '/registry/w/a', value: 'a1', createRevision: a.revision, modRevision: a.revision });
          assert.equal(w.events[0].prevKv, undefined);
          assert.equal(w.error, undefined);
        } finally {
          w.cancel();
        }
      });

      test('a watch from the current revision sees only new events; one from the future waits for it', async (s) => {
        await s.create('/registry/w/old', 'x');
        const now = await s.currentRevision();
        const fromNow = collect(s, '/registry/w/', now);
        const fromFuture = collect(s, '/registry/w/', now + 2);
        try {
          const r1 = await s.create('/registry/w/n1', 'x');
          const r2 = await s.create('/registry/w/n2', 'x');
          const r3 = await s.create('/registry/w/n3', 'x');
          await fromNow.waitForRevision(r3.revision);
          await fromFuture.waitForRevision(r3.revision);
          assert.deepEqual(fromNow.revisions(), [r1.revision, r2.revision, r3.revision]);
          assert.deepEqual(fromFuture.revisions(), [r3.revision]);
        } finally {
          fromNow.cancel();
          fromFuture.cancel();
        }
      });

      test('a watch started while writers hammer the store has no gap and no duplicate', async (s) => {
        const keys = Array.from({ length: 8 }, (_, i) => `/registry/h/${i}`);
        const revs = new Map<string, number>();
        for (const k of keys) revs.set(k, (await s.create(k, '0')).revision);
        const start = await s.currentRevision();
        let stop = false;
        // Several writers, each updating its own key in a closed loop; some writes land in the same batch.
        const writers = keys.map(async (k) => {
          let n = 0;
          while (!stop) {
            const r = await s.update(k, String(++n), revs.get(k)!);
            revs.set(k, r.revision);
            // A backend that resolves writes in a microtask must still let timers (and watch replay) run.
            await new Promise((resolve) => setImmediate(resolve));
          }
        });
        const watches: { after: number; w: Collector }[] = [];
        try {
          for (let i = 0; i < 5; i++) {
            await sleep(15);
            // Alternate between replaying from the beginning and from a recent revision.
            const cur = await s.currentRevision();
            const after = i % 2 === 0 ? start : cur - 3;
            watches.push({ after, w: collect(s, '/registry/h/', after) });
          }
          await sleep(30);
        } finally {
          stop = true;
          await Promise.all(writers);
        }
        const end = await s.currentRevision();
        assert.ok(end - start > 50, `the writers made too few writes to test anything (${end - start})`);
        for (const { after, w } of watches) {
          await w.waitForRevision(end);
          w.cancel();
          assert.equal(w.error, undefined);
          assert.deepEqual(w.revisions(), range(after + 1, end), `watch from ${after}`);
        }
      });

      test('only keys under the prefix are delivered', async (s) => {
        const w = collect(s, '/registry/pods/', await s.currentRevision());
        try {
          await s.create('/registry/podsx/a', 'x');
          await s.create('/registry/pod', 'x');
          const mine = await s.create('/registry/pods/a', 'x');
          await s.create('/registry/services/a', 'x');
          const last = await s.create('/registry/pods/b', 'x');
          await w.waitForRevision(last.revision);
          assert.deepEqual(w.events.map((e) => e.kv.key), ['/registry/pods/a', '/registry/pods/b']);
          assert.deepEqual(w.revisions(), [mine.revision, last.revision]);
        } finally {
          w.cancel();
        }
      });

      test('delete events carry the last value and prevKv', async (s) => {
        const c = await s.create('/registry/d/k', 'v1');
        const u = await s.update('/registry/d/k', 'v2', c.revision);
        const live = collect(s, '/registry/d/', u.revision);
        try {
          const d = await s.delete('/registry/d/k');
          await live.waitForRevision(d.revision);
          // Replayed from history, a delete must look the same as live.
          const replayed = collect(s, '/registry/d/', u.revision);
          await replayed.waitForRevision(d.revision);
          replayed.cancel();
          for (const w of [live, replayed]) {
            assert.equal(w.events.length, 1);
            const ev = w.events[0];
            assert.equal(ev.type, 'delete');
            assert.equal(ev.revision, d.revision);
            assert.deepEqual(ev.kv, { key: '/registry/d/k', value: 'v2', createRevision: c.revision, modRevision: d.revision });
            assert.deepEqual(ev.prevKv, { key: '/registry/d/k', value: 'v2', createRevision: c.revision, modRevision: u.revision });
          }
        } finally {
          live.cancel();
        }
      });

      test('cancel stops delivery', async (s) => {
        const now = await s.currentRevision();
        const cancelled = collect(s, '/registry/', now);
        const witness = collect(s, '/registry/', now);
        try {
          const first = await s.create('/registry/c/1', 'x');
          await cancelled.waitForRevision(first.revision);
          cancelled.cancel();
          cancelled.cancel();
          const second = await s.create('/registry/c/2', 'x');
          await witness.waitForRevision(second.revision);
          // The witness got the event; give any late delivery to the cancelled watch a few turns more.
          await sleep(20);
          assert.deepEqual(cancelled.revisions(), [first.revision]);
          assert.equal(cancelled.error, undefined);
        } finally {
          witness.cancel();
        }
      });
    });

    describe('compaction', () => {
      test('reads and watches below the compact revision fail with CompactedError; the rest survives', async (s) => {
        const a = await s.create('/registry/k/a', 'a1');
        const b = await s.create('/registry/k/b', 'b1');
        const a2 = await s.update('/registry/k/a', 'a2', a.revision);
        const bd = await s.delete('/registry/k/b');
        const c = await s.create('/registry/k/c', 'c1');
        const compactAt = bd.revision; // the state at compactAt: a=a2, b deleted (by the event at compactAt), c absent
        const c2 = await s.update('/registry/k/c', 'c2', c.revision);
        const lastA = await s.update('/registry/k/a', 'a3', a2.revision);

        await s.compact(compactAt);
        assert.equal(await s.compactRevision(), compactAt);

        await assert.rejects(s.get('/registry/k/a', { revision: compactAt - 1 }), (err) => {
          assert.ok(err instanceof CompactedError);
          assert.equal(err.compactRevision, compactAt);
          return true;
        });
        await assert.rejects(s.list('/registry/k/', { revision: a.revision }), (err) => err instanceof CompactedError);
        // The compact revision itself is still readable.
        const atCompact = await s.list('/registry/k/', { revision: compactAt });
        assert.deepEqual(atCompact.kvs.map((kv) => [kv.key, kv.value]), [['/registry/k/a', 'a2']]);
        assert.equal((await s.get('/registry/k/c', { revision: c.revision })).kv?.value, 'c1');
        const latest = await s.list('/registry/k/');
        assert.deepEqual(latest.kvs.map((kv) => [kv.key, kv.value, kv.modRevision]), [
          ['/registry/k/a', 'a3', lastA.revision],
          ['/registry/k/c', 'c2', c2.revision],
        ]);
        assert.equal(latest.kvs[0].createRevision, a.revision);
        assert.equal((await s.count('/registry/k/')).count, 2);

        // Like etcd: a watch needs every event from afterRevision + 1 on.
        const tooOld = collect(s, '/registry/k/', compactAt - 2);
        const err = await tooOld.waitForError();
        assert.ok(err instanceof CompactedError, `expected CompactedError, got ${String(err)}`);
        assert.deepEqual(tooOld.events, []);
        const boundary = collect(s, '/registry/k/', compactAt - 1);
        try {
          await boundary.waitForRevision(lastA.revision);
          assert.deepEqual(boundary.revisions(), range(compactAt, lastA.revision));
          assert.equal(boundary.events[0].type, 'delete');
          assert.equal(boundary.events[0].kv.key, '/registry/k/b');
        } finally {
          boundary.cancel();
        }

        await assert.rejects(s.compact(compactAt), (e) => e instanceof CompactedError);
        await assert.rejects(s.compact(lastA.revision + 1), (e) => e instanceof FutureRevisionError);
        // Writes continue normally after compaction, and a second compaction to the head works.
        const after = await s.create('/registry/k/b', 'b2');
        assert.equal(after.revision, lastA.revision + 1);
        await s.compact(after.revision);
        assert.deepEqual((await s.list('/registry/k/')).kvs.map((kv) => kv.value), ['a3', 'b2', 'c2']);
      });

      test('a key deleted before the compact revision is gone at every readable revision', async (s) => {
        const c = await s.create('/registry/g/k', 'v');
        await s.delete('/registry/g/k');
        const other = await s.create('/registry/g/other', 'o');
        await s.compact(other.revision);
        assert.equal((await s.get('/registry/g/k', { revision: other.revision })).kv, undefined);
        assert.equal((await s.get('/registry/g/k')).kv, undefined);
        assert.deepEqual((await s.list('/registry/g/')).kvs.map((kv) => kv.key), ['/registry/g/other']);
        // Re-creating it after compaction starts a fresh life.
        const again = await s.create('/registry/g/k', 'v2');
        assert.ok(again.kv.createRevision > c.revision);
      });
    });

    test('a receiver whose onEvents throws gets that error in onError and no more events', async (s) => {
      const boom = new Error('receiver failed');
      let calls = 0;
      let error: Error | undefined;
      s.watch('/registry/', {
        afterRevision: await s.currentRevision(),
        onEvents: () => {
          calls++;
          throw boom;
        },
        onError: (err) => {
          error = err;
        },
      });
      const witness = collect(s, '/registry/', await s.currentRevision());
      try {
        await s.create('/registry/t/1', 'x');
        const last = await s.create('/registry/t/2', 'x');
        await witness.waitForRevision(last.revision);
        await sleep(20);
        assert.equal(calls, 1);
        assert.equal(error, boom);
      } finally {
        witness.cancel();
      }
    });

    test('close ends open watches with an error and refuses further calls', async (s) => {
      const w = collect(s, '/registry/', await s.currentRevision());
      const r = await s.create('/registry/x', 'v');
      await w.waitForRevision(r.revision);
      await s.close();
      assert.ok(w.error, 'the watch was told it ended');
      await assert.rejects(() => s.create('/registry/x', 'v'));
      await assert.rejects(() => s.get('/registry/x'));
      await s.close(); // idempotent
    });
  });
}

interface Collector {
  events: WatchEvent[];
  error: Error | undefined;
  revisions(): number[];
  waitForRevision(revision: number, timeoutMs?: number): Promise<void>;
  waitForError(timeoutMs?: number): Promise<Error>;
  cancel(): void;
}

function collect(store: Store, prefix: string, afterRevision: number): Collector {
  const waiters = new Set<() => void>();
  const c: Collector = {
    events: [],
    error: undefined,
    revisions: () => c.events.map((e) => e.revision),
    waitForRevision: (revision, timeoutMs = 5000) =>
      waitFor(() => c.error !== undefined || (c.events.at(-1)?.revision ?? afterRevision) >= revision, timeoutMs, () =>
        `watch on ${prefix} after ${afterRevision} did not reach revision ${revision}: ` +
        `last ${c.events.at(-1)?.revision}, error ${String(c.error)}`,
      ).then(() => {
        if (c.error) throw c.error;
      }),
    waitForError: (timeoutMs = 5000) =>
      waitFor(() => c.error !== undefined, timeoutMs, () => `watch on ${prefix} after ${afterRevision} did not fail`).then(
        () => c.error!,
      ),
    cancel: () => watch.cancel(),
  };
  function waitFor(cond: () => boolean, timeoutMs: number, describe: () => string): Promise<void> {
    if (cond()) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const check = () => {
        if (!cond()) return;
        waiters.delete(check);
        clearTimeout(timer);
        resolve();
      };
      const timer = setTimeout(() => {
        waiters.delete(check);
        reject(new Error(describe()));
      }, timeoutMs);
      waiters.add(check);
    });
  }
  const wake = () => {
    for (const w of [...waiters]) w();
  };
  const watch: Watch = store.watch(prefix, {
    afterRevision,
    onEvents(events) {
      c.events.push(...events);
      wake();
    },
    onError(err) {
      c.error = err;
      wake();
    },
  });
  return c;
}

function range(from: number, to: number): number[] {
  return Array.from({ length: Math.max(0, to - from + 1) }, (_, i) => from + i);
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
