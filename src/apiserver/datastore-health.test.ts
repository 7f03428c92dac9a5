import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MemoryStore } from '../storage/memory-store.js';
import { StoreFullError, type Store } from '../storage/store.js';
import { DatastoreHealth } from './datastore-health.js';

/** A store whose reads can be made to fail or hang, and whose writes can be made to fail as a full disk does. */
function faultyStore(): { store: Store; mode: { read: 'ok' | 'fail' | 'hang'; full: boolean } } {
  const inner = new MemoryStore();
  const mode = { read: 'ok' as 'ok' | 'fail' | 'hang', full: false };
  const store: Store = Object.assign(Object.create(inner) as Store, {
    get: (key: string) => {
      if (mode.read === 'fail') return Promise.reject(new Error('connection refused'));
      if (mode.read === 'hang') return new Promise(() => {});
      return inner.get(key);
    },
    create: (key: string, value: string) => (mode.full ? Promise.reject(new StoreFullError('database or disk is full')) : inner.create(key, value)),
  });
  return { store, mode };
}

describe('DatastoreHealth', () => {
  it('is not ready before the first probe, ready after a read succeeds', async () => {
    const { store } = faultyStore();
    const h = new DatastoreHealth(store);
    assert.equal(h.status.ok, false);
    await h.probe();
    assert.deepEqual(h.status, { ok: true });
  });

  it('fails when the read fails and when it does not answer within the deadline, and recovers', async () => {
    const { store, mode } = faultyStore();
    const h = new DatastoreHealth(store, { timeoutMs: 50 });
    mode.read = 'fail';
    await h.probe();
    assert.equal(h.status.ok, false);
    assert.match(h.status.reason ?? '', /connection refused/);
    mode.read = 'hang';
    await h.probe();
    assert.match(h.status.reason ?? '', /no answer within 50 ms/);
    mode.read = 'ok';
    await h.probe();
    assert.equal(h.status.ok, true);
  });

  it('marks a full datastore not ready until a write succeeds', async () => {
    const { store, mode } = faultyStore();
    const h = new DatastoreHealth(store);
    const observed = h.observe(store);
    await h.probe();
    mode.full = true;
    await assert.rejects(observed.create('/registry/a', 'x'), StoreFullError);
    await h.probe();
    assert.equal(h.status.ok, false, 'reads work on a full disk, but the datastore cannot take writes');
    assert.match(h.status.reason ?? '', /disk is full/);
    mode.full = false;
    await observed.create('/registry/b', 'x');
    assert.equal(h.status.ok, true);
  });

  it('counts a full datastore writable again when a probe sees free space', async () => {
    const { store, mode } = faultyStore();
    let free = 0;
    const h = new DatastoreHealth(store, { freeBytes: async () => free, minFreeBytes: 1000 });
    const observed = h.observe(store);
    mode.full = true;
    await observed.create('/registry/a', 'x').catch(() => {});
    await h.probe();
    assert.equal(h.status.ok, false);
    free = 5000;
    await h.probe();
    assert.equal(h.status.ok, true);
  });

  it('runs one probe at a time', async () => {
    let reads = 0;
    const { store } = faultyStore();
    const counting: Store = Object.assign(Object.create(store) as Store, {
      get: (key: string) => {
        reads++;
        return store.get(key);
      },
    });
    const h = new DatastoreHealth(counting);
    await Promise.all([h.probe(), h.probe(), h.probe()]);
    assert.equal(reads, 1);
  });
});
