/**
 * Disk-full behaviour of the backends: SQLite on a tiny tmpfs that the test fills (needs root to mount; skipped with a
 * message otherwise), and etcd's NOSPACE error recognised as such.
 */
import assert from 'node:assert/strict';
import { unlinkSync } from 'node:fs';
import { join } from 'node:path';
import { status } from '@grpc/grpc-js';
import { after, before, describe, it } from 'node:test';
import { isSpaceExceeded } from './etcd-store.js';
import { SqliteStore } from './sqlite-store.js';
import { StoreFullError } from './store.js';
import { fillDisk, mountTinyTmpfs } from './tmpfs-testing.js';

const mount = mountTinyTmpfs('4m');

describe('SqliteStore on a full disk', { skip: mount === undefined && 'cannot mount a tmpfs here (needs root)' }, () => {
  let store: SqliteStore;
  let filler: string;
  before(async () => {
    store = new SqliteStore(join(mount!.dir, 'state.db'));
    for (let i = 0; i < 20; i++) await store.create(`/registry/configmaps/default/cm-${i}`, JSON.stringify({ i }));
  });
  after(async () => {
    try {
      await store?.close();
    } finally {
      mount?.unmount();
    }
  });

  it('refuses writes with StoreFullError, keeps serving reads, and writes again once space is freed', async () => {
    filler = fillDisk(mount!.dir);
    const big = 'x'.repeat(256 * 1024);
    const failures: unknown[] = [];
    for (let i = 0; i < 5; i++) {
      await store.create(`/registry/configmaps/default/big-${i}`, big).catch((err: unknown) => failures.push(err));
    }
    assert.ok(failures.length > 0, 'no write failed on a full disk');
    assert.ok(failures.every((e) => e instanceof StoreFullError), `unexpected errors: ${failures.map(String).join('; ')}`);
    assert.match((failures[0] as Error).message, /database or disk is full/);
    const list = await store.list('/registry/configmaps/');
    assert.ok(list.kvs.length >= 20);
    assert.equal((await store.get('/registry/configmaps/default/cm-7')).kv?.value, JSON.stringify({ i: 7 }));

    unlinkSync(filler);
    const ok = await store.create('/registry/configmaps/default/after', 'v');
    assert.equal((await store.get('/registry/configmaps/default/after')).kv?.modRevision, ok.revision);
    // Nothing acknowledged before the full disk was lost.
    for (let i = 0; i < 20; i++) assert.ok((await store.get(`/registry/configmaps/default/cm-${i}`)).kv, `cm-${i} lost`);
  });
});

describe('isSpaceExceeded (etcd NOSPACE)', () => {
  it('recognises etcd\'s "mvcc: database space exceeded" and nothing else', () => {
    assert.equal(isSpaceExceeded({ code: status.RESOURCE_EXHAUSTED, details: 'etcdserver: mvcc: database space exceeded' }), true);
    assert.equal(isSpaceExceeded({ code: status.RESOURCE_EXHAUSTED, details: 'etcdserver: too many requests' }), false);
    assert.equal(isSpaceExceeded({ code: status.UNAVAILABLE, details: 'etcdserver: mvcc: database space exceeded' }), false);
    assert.equal(isSpaceExceeded(new Error('boom')), false);
  });
});
