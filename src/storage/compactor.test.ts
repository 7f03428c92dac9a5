import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { startCompactor } from './compactor.js';
import { MemoryStore } from './memory-store.js';
import { CompactedError } from './store.js';

async function writes(store: MemoryStore, n: number): Promise<number> {
  let rev = 0;
  for (let i = 0; i < n; i++) rev = (await store.create(`/registry/c/${Math.random()}`, 'v')).revision;
  return rev;
}

describe('startCompactor', () => {
  it('compacts to the revision seen one interval earlier, like kube-apiserver', async () => {
    const store = new MemoryStore();
    let clock = 0;
    const c = startCompactor(store, { intervalMs: 1000, now: () => clock, onError: (err) => assert.fail(err) });
    try {
      await c.tick(); // runs after startCompactor's own first tick: both see the empty store at t=0
      const r1 = await writes(store, 5);
      clock = 999;
      assert.equal(await c.tick(), undefined, 'nothing is an interval old yet');
      clock = 1000;
      assert.equal(await c.tick(), 1, 'the revision seen at t=0');
      const seenAt1000 = await store.currentRevision();
      assert.equal(seenAt1000, r1);
      const r2 = await writes(store, 5);
      clock = 2000;
      assert.equal(await c.tick(), seenAt1000);
      assert.equal(await store.compactRevision(), seenAt1000);
      // Everything written in the last interval is still readable.
      assert.equal((await store.list('/registry/c/', { revision: seenAt1000 })).kvs.length, 5);
      assert.ok(r2 > seenAt1000);
      clock = 3000;
      assert.equal(await c.tick(), r2);
      // A quiet interval: the revision seen at t=3000 is already the compact revision.
      clock = 4000;
      assert.equal(await c.tick(), undefined);
    } finally {
      c.stop();
      await store.close();
    }
  });

  it('a late tick never cuts history shorter than the interval', async () => {
    const store = new MemoryStore();
    let clock = 0;
    const c = startCompactor(store, { intervalMs: 1000, now: () => clock, onError: (err) => assert.fail(err) });
    try {
      await c.tick();
      await writes(store, 3);
      clock = 500;
      await c.tick(); // an early extra tick records the revision at t=500
      const at500 = await store.currentRevision();
      await writes(store, 3);
      clock = 1400;
      assert.equal(await c.tick(), 1, 'the revision seen at t=500 is only 900 ms old; the one of t=0 qualifies');
      clock = 1500;
      assert.equal(await c.tick(), at500);
    } finally {
      c.stop();
      await store.close();
    }
  });

  it('keepRevisions holds back the newest revisions', async () => {
    const store = new MemoryStore();
    let clock = 0;
    const c = startCompactor(store, { intervalMs: 10, keepRevisions: 4, now: () => clock, onError: (err) => assert.fail(err) });
    try {
      await c.tick();
      const rev = await writes(store, 10);
      clock = 10;
      await c.tick();
      clock = 20;
      assert.equal(await c.tick(), rev - 4);
      assert.equal(await store.compactRevision(), rev - 4);
    } finally {
      c.stop();
      await store.close();
    }
  });

  it('someone else compacting further is not an error; other failures reach the caller', async () => {
    const store = new MemoryStore();
    let clock = 0;
    const errors: Error[] = [];
    const c = startCompactor(store, { intervalMs: 1000, now: () => clock, onError: (err) => errors.push(err) });
    try {
      await c.tick();
      const rev = await writes(store, 4);
      clock = 1000;
      await c.tick();
      await store.compact(rev);
      clock = 2000;
      assert.equal(await c.tick(), undefined);
      await writes(store, 1);
      clock = 3000;
      await store.close();
      await assert.rejects(c.tick(), /closed/);
      assert.equal(errors.length, 0, 'tick() reports to its caller, not to onError');
    } finally {
      c.stop();
    }
  });

  it('runs on its own timer', async () => {
    const store = new MemoryStore();
    const compacted: number[] = [];
    const real = store.compact.bind(store);
    store.compact = async (rev: number) => {
      compacted.push(rev);
      return real(rev);
    };
    const c = startCompactor(store, { intervalMs: 20, onError: (err) => assert.fail(err) });
    try {
      const deadline = Date.now() + 3000;
      let last = 0;
      while (compacted.length < 2 && Date.now() < deadline) {
        last = await writes(store, 2);
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
      assert.ok(compacted.length >= 2, `compactions seen: ${compacted.length}`);
      assert.ok(compacted[1] > compacted[0]);
      assert.ok(compacted[1] < last, 'the newest revisions are not compacted');
      await assert.rejects(store.get('/registry/none', { revision: compacted[1] - 1 }), (e) => e instanceof CompactedError);
    } finally {
      c.stop();
      await store.close();
    }
  });
});
