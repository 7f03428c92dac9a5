import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { describe, it } from 'node:test';
import { MemoryStore } from './memory-store.js';
import { openStore } from './open-store.js';
import { SqliteStore } from './sqlite-store.js';

describe('openStore', () => {
  it('memory:// opens an in-memory store', async () => {
    const store = await openStore('memory://');
    assert.ok(store instanceof MemoryStore);
    await store.create('/registry/a', 'x');
    await store.close();
  });

  it('sqlite:// opens absolute and relative paths', async (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'skiff-open-'));
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    const abs = join(dir, 'abs.db');
    const a = await openStore(`sqlite://${abs}`);
    assert.ok(a instanceof SqliteStore);
    assert.equal(a.path, abs);
    await a.create('/registry/a', 'x');
    await a.close();
    assert.ok(existsSync(abs));

    const rel = relative(process.cwd(), join(dir, 'rel.db'));
    const r = await openStore(`sqlite://${rel}`);
    assert.equal((r as SqliteStore).path, join(dir, 'rel.db'));
    await r.close();
    assert.ok(existsSync(join(dir, 'rel.db')));
  });

  it('refuses what it does not support, naming the url and the supported schemes', async () => {
    for (const url of [
      'postgres://db/skiff',
      '/var/lib/skiff/state.db',
      'sqlite://',
      'sqlite:///x.db?_journal=WAL',
      'memory://x',
      'etcd://127.0.0.1:2379?x=1',
    ]) {
      await assert.rejects(openStore(url), (err: Error) => {
        assert.ok(err.message.includes(JSON.stringify(url)), err.message);
        return true;
      });
    }
    await assert.rejects(openStore('postgres://db/skiff'), /memory:\/\/.*sqlite:\/\//);
    await assert.rejects(openStore('postgres://db/skiff'), /etcd:\/\//);
    await assert.rejects(openStore('etcd://127.0.0.1:2379', { caFile: '/x/ca.crt' }), /are for etcd over TLS: use https:\/\/host:port/);
  });
});
