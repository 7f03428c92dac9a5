import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { openStore } from '../../storage/open-store.js';
import { decodeFromStore } from '../object-codec.js';
import type { Store } from '../../storage/store.js';
import { ipv4Range, portRange } from './ranges.js';
import { AllocatedError, NotInRangeError, RangeFullError, StoreAllocator, type AllocationOwner } from './store-allocator.js';

const backends: [string, () => Promise<{ store: Store; cleanup(): Promise<void> }>][] = [
  ['memory', async () => {
    const store = await openStore('memory://');
    return { store, cleanup: () => store.close() };
  }],
  ['sqlite', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'skiff-alloc-'));
    const store = await openStore(`sqlite://${join(dir, 'state.db')}`);
    return {
      store,
      cleanup: async () => {
        await store.close();
        rmSync(dir, { recursive: true, force: true });
      },
    };
  }],
];

const owner = (name: string, uid = `uid-${name}`): AllocationOwner => ({ namespace: 'default', name, uid });

for (const [backend, open] of backends) {
  describe(`StoreAllocator on ${backend}`, () => {
    const withStore = (fn: (store: Store) => Promise<void>) => async () => {
      const { store, cleanup } = await open();
      try {
        await fn(store);
      } finally {
        await cleanup();
      }
    };

    it('keeps one key per item under /registry/ranges/, naming the owner, decodable by the watch cache', withStore(async (store) => {
      const alloc = new StoreAllocator({ store, kind: 'servicenodeports', range: portRange(30000, 30009), now: () => new Date('2026-01-02T03:04:05Z') });
      const port = await alloc.allocate(owner('a'));
      assert.ok(alloc.range.contains(port));
      const key = `/registry/ranges/servicenodeports/${port}`;
      const kv = (await store.get(key)).kv;
      assert.ok(kv, 'the reservation key exists');
      assert.deepEqual(JSON.parse(kv.value), { kind: 'Allocation', metadata: { name: port }, owner: owner('a'), allocatedAt: '2026-01-02T03:04:05.000Z' });
      // The watch cache decodes every key under /registry/ (and must, to know the store's revision).
      assert.equal(decodeFromStore(key, kv.value, kv.modRevision).metadata.name, port);
    }));

    it('refuses a specific item held by another owner, accepts it again for the same owner, refuses out of range', withStore(async (store) => {
      const alloc = new StoreAllocator({ store, kind: 'serviceips', range: ipv4Range('10.43.0.0/16') });
      assert.equal(await alloc.allocateSpecific('10.43.0.10', owner('a')), true);
      assert.equal(await alloc.allocateSpecific('10.43.0.10', owner('a')), false, 'a retried write of the same owner');
      await assert.rejects(alloc.allocateSpecific('10.43.0.10', owner('b')), (err) => err instanceof AllocatedError && err.holder.name === 'a');
      // Same name, other uid: a re-created Service is another owner.
      await assert.rejects(alloc.allocateSpecific('10.43.0.10', owner('a', 'other')), AllocatedError);
      for (const bad of ['10.44.0.1', '10.43.0.0', '10.43.255.255', '10.43.0.010', 'x']) {
        await assert.rejects(alloc.allocateSpecific(bad, owner('a')), NotInRangeError, bad);
      }
    }));

    it('releases only for the owner that holds the item', withStore(async (store) => {
      const alloc = new StoreAllocator({ store, kind: 'servicenodeports', range: portRange(30000, 30009) });
      await alloc.allocateSpecific('30001', owner('a'));
      assert.equal(await alloc.release('30001', owner('b')), false);
      assert.equal(await alloc.release('30001', owner('a', 'older-uid')), false);
      assert.ok(await alloc.get('30001'));
      assert.equal(await alloc.release('30001', owner('a')), true);
      assert.equal(await alloc.get('30001'), undefined);
      assert.equal(await alloc.release('30001', owner('a')), false, 'idempotent');
      assert.equal(await alloc.allocateSpecific('30001', owner('b')), true, 'free again');
    }));

    it('never hands one item to two of many concurrent allocations, and says when the range is full', withStore(async (store) => {
      // Two allocators on one store, as two API servers: 64 items, 64 concurrent requests, then one more.
      const range = portRange(30000, 30063);
      const a = new StoreAllocator({ store, kind: 'servicenodeports', range });
      const b = new StoreAllocator({ store, kind: 'servicenodeports', range });
      const got = await Promise.all(Array.from({ length: 64 }, (_, i) => (i % 2 ? a : b).allocate(owner(`s${i}`))));
      assert.equal(new Set(got).size, 64, 'all distinct');
      await assert.rejects(a.allocate(owner('late')), RangeFullError);
      assert.equal((await a.list()).length, 64);
    }));

    it('finds the last free item by reading the reservations once random picks keep failing', withStore(async (store) => {
      // A random source that always points at the first item: the linear phase must find the one free item.
      const alloc = new StoreAllocator({ store, kind: 'servicenodeports', range: portRange(30000, 30099), random: () => 0 });
      for (let p = 30000; p <= 30099; p++) if (p !== 30077) await alloc.allocateSpecific(String(p), owner(`s${p}`));
      assert.equal(await alloc.allocate(owner('last')), '30077');
    }));

    it('skips what the caller knows is used, and reserves nothing on a dry run', withStore(async (store) => {
      const alloc = new StoreAllocator({ store, kind: 'servicenodeports', range: portRange(30000, 30001) });
      assert.equal(await alloc.allocate(owner('a'), { skip: new Set(['30000']), dryRun: true }), '30001');
      assert.equal((await alloc.list()).length, 0);
      assert.equal(await alloc.allocateSpecific('30000', owner('a'), { dryRun: true }), true);
      assert.equal((await alloc.list()).length, 0);
      await alloc.allocateSpecific('30000', owner('b'));
      await assert.rejects(alloc.allocateSpecific('30000', owner('a'), { dryRun: true }), AllocatedError);
    }));
  });
}

describe('ranges', () => {
  it('ipv4Range leaves out the network and broadcast addresses', () => {
    const r = ipv4Range('10.43.0.0/16');
    assert.equal(r.size, 65534);
    assert.equal(r.at(0), '10.43.0.1');
    assert.equal(r.at(r.size - 1), '10.43.255.254');
    assert.ok(r.contains('10.43.12.7'));
    assert.ok(!r.contains('10.43.0.0'));
    assert.ok(!r.contains('10.42.0.1'));
    assert.throws(() => ipv4Range('10.43.0.0'), /invalid service CIDR/);
    assert.throws(() => ipv4Range('10.43.0.0/31'), /invalid service CIDR/);
  });
  it('portRange is inclusive', () => {
    const r = portRange(30000, 32767);
    assert.equal(r.size, 2768);
    assert.ok(r.contains('30000') && r.contains('32767'));
    assert.ok(!r.contains('29999') && !r.contains('32768') && !r.contains('030000'));
    assert.equal(r.description, '30000-32767');
  });
});
