import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import { runStoreConformance } from './conformance.js';
import { SqliteStore } from './sqlite-store.js';
import { CompactedError } from './store.js';
import type { WatchEvent } from './store.js';

function tempDir(): { dir: string; cleanup(): Promise<void> } {
  const dir = mkdtempSync(join(tmpdir(), 'skiff-sqlite-'));
  return { dir, cleanup: async () => rmSync(dir, { recursive: true, force: true }) };
}

// Small replay pages and compaction chunks, so the conformance cases cross page and chunk boundaries.
runStoreConformance('sqlite', async () => {
  const { dir, cleanup } = tempDir();
  return { store: new SqliteStore(join(dir, 'state.db'), { replayPageSize: 5, compactChunk: 3 }), cleanup };
});

function fileSize(path: string): number {
  let size = 0;
  for (const p of [path, `${path}-wal`]) {
    try {
      size += statSync(p).size;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
  }
  return size;
}

describe('SqliteStore', () => {
  it('creates the file in WAL mode with incremental auto-vacuum', async (t) => {
    const { dir, cleanup } = tempDir();
    t.after(cleanup);
    const path = join(dir, 'sub', 'state.db');
    const store = new SqliteStore(path);
    await store.create('/registry/a', 'x');
    const peek = new Database(path, { readonly: true });
    try {
      assert.equal(peek.pragma('journal_mode', { simple: true }), 'wal');
      assert.equal(peek.pragma('auto_vacuum', { simple: true }), 2);
    } finally {
      peek.close();
      await store.close();
    }
  });

  it('reopening keeps the data, the revision and the compact revision', async (t) => {
    const { dir, cleanup } = tempDir();
    t.after(cleanup);
    const path = join(dir, 'state.db');
    let store = new SqliteStore(path);
    const a = await store.create('/registry/a', 'a1');
    const a2 = await store.update('/registry/a', 'a2', a.revision);
    await store.create('/registry/b', 'b1');
    await store.compact(a2.revision);
    const d = await store.delete('/registry/b');
    await store.close();

    store = new SqliteStore(path);
    try {
      assert.equal(await store.currentRevision(), d.revision);
      assert.equal(await store.compactRevision(), a2.revision);
      assert.deepEqual((await store.list('/registry/')).kvs, [
        { key: '/registry/a', value: 'a2', createRevision: a.revision, modRevision: a2.revision },
      ]);
      await assert.rejects(store.get('/registry/a', { revision: a.revision }), (err) => err instanceof CompactedError);
      // History written before the restart is replayed to a new watch.
      const events = await new Promise<WatchEvent[]>((resolve, reject) => {
        const w = store.watch('/registry/', {
          afterRevision: a2.revision,
          onEvents: (evs) => {
            w.cancel();
            resolve(evs);
          },
          onError: reject,
        });
      });
      assert.deepEqual(events.map((e) => [e.type, e.kv.key]), [['create', '/registry/b'], ['delete', '/registry/b']]);
      const next = await store.create('/registry/c', 'c1');
      assert.equal(next.revision, d.revision + 1);
    } finally {
      await store.close();
    }
  });

  it('an empty store reopened stays at revision 1', async (t) => {
    const { dir, cleanup } = tempDir();
    t.after(cleanup);
    const path = join(dir, 'state.db');
    await new SqliteStore(path).close();
    const store = new SqliteStore(path);
    assert.equal(await store.currentRevision(), 1);
    assert.equal((await store.create('/registry/a', 'x')).revision, 2);
    await store.close();
  });

  it('compaction gives disk space back', async (t) => {
    const { dir, cleanup } = tempDir();
    t.after(cleanup);
    const path = join(dir, 'state.db');
    const store = new SqliteStore(path);
    try {
      const big = 'x'.repeat(64 * 1024);
      const keys = Array.from({ length: 200 }, (_, i) => `/registry/big/${i}`);
      await Promise.all(keys.map((k) => store.create(k, big)));
      await Promise.all(keys.map((k) => store.delete(k)));
      const keep = await store.create('/registry/small', 'still here');
      const before = fileSize(path);
      assert.ok(before > 200 * 64 * 1024, `expected the values on disk, file is ${before} bytes`);
      await store.compact(keep.revision);
      const after = fileSize(path);
      assert.ok(after < before / 10, `file should shrink: ${before} -> ${after} bytes`);
      assert.equal((await store.get('/registry/small')).kv?.value, 'still here');
      assert.equal((await store.count('/registry/big/')).count, 0);
    } finally {
      await store.close();
    }
  });

  it('compaction removes superseded rows and old deletions, keeping the latest row of each live key', async (t) => {
    const { dir, cleanup } = tempDir();
    t.after(cleanup);
    const path = join(dir, 'state.db');
    const store = new SqliteStore(path, { compactChunk: 2 });
    const rows = () => {
      const peek = new Database(path, { readonly: true });
      try {
        return peek.prepare('SELECT id, key, deleted FROM log ORDER BY id').all();
      } finally {
        peek.close();
      }
    };
    try {
      const a = await store.create('/registry/a', '1');
      const a2 = await store.update('/registry/a', '2', a.revision);
      const b = await store.create('/registry/b', '1');
      const bd = await store.delete('/registry/b');
      const a3 = await store.update('/registry/a', '3', a2.revision);
      await store.compact(bd.revision);
      // a2 is the state of /registry/a at the compact revision; the deletion of b at exactly the compact
      // revision stays for a watch from compactRevision - 1.
      assert.deepEqual(rows(), [
        { id: a2.revision, key: '/registry/a', deleted: 0 },
        { id: bd.revision, key: '/registry/b', deleted: 1 },
        { id: a3.revision, key: '/registry/a', deleted: 0 },
      ]);
      assert.ok(b.revision < bd.revision);
      await store.compact(a3.revision);
      assert.deepEqual(rows(), [{ id: a3.revision, key: '/registry/a', deleted: 0 }]);
    } finally {
      await store.close();
    }
  });

  it('batches concurrent writes into far fewer transactions', async (t) => {
    const { dir, cleanup } = tempDir();
    t.after(cleanup);
    const store = new SqliteStore(join(dir, 'state.db'));
    try {
      const before = store.stats.commits;
      const results = await Promise.all(Array.from({ length: 200 }, (_, i) => store.create(`/registry/c/${i}`, 'v')));
      const commits = store.stats.commits - before;
      assert.equal(new Set(results.map((r) => r.revision)).size, 200);
      assert.ok(commits <= 5, `200 concurrent writes took ${commits} transactions`);
      // A lone writer is not held back waiting for company: each awaited write commits on its own.
      const seqBefore = store.stats.commits;
      for (let i = 0; i < 10; i++) await store.create(`/registry/s/${i}`, 'v');
      assert.equal(store.stats.commits - seqBefore, 10);
    } finally {
      await store.close();
    }
  });

  it('acknowledges a write only once the WAL holding it is synced; one sync covers every commit made before it', async (t) => {
    const { dir, cleanup } = tempDir();
    t.after(cleanup);
    const held: Array<(err: NodeJS.ErrnoException | null) => void> = [];
    const store = new SqliteStore(join(dir, 'state.db'), { syncWal: (_fd, done) => held.push(done) });
    const seen: WatchEvent[] = [];
    const w = store.watch('/registry/', { afterRevision: 1, onEvents: (evs) => seen.push(...evs), onError: () => {} });
    try {
      let acked = 0;
      const first = store.create('/registry/a', '1').then((r) => (acked++, r));
      await new Promise((r) => setImmediate(r));
      await new Promise((r) => setImmediate(r));
      assert.equal(held.length, 1, 'the first commit started a sync');
      assert.equal(acked, 0, 'not acknowledged before the sync');
      assert.equal(seen.length, 1, 'watchers see the commit at once');
      assert.equal((await store.get('/registry/a')).kv?.value, '1');
      // Two more commits while the sync runs wait for one next sync together.
      const second = store.create('/registry/b', '2').then((r) => (acked++, r));
      await new Promise((r) => setImmediate(r));
      const third = store.create('/registry/c', '3').then((r) => (acked++, r));
      await new Promise((r) => setImmediate(r));
      await new Promise((r) => setImmediate(r));
      assert.equal(held.length, 1);
      held[0]!(null);
      assert.equal((await first).revision, 2);
      assert.equal(acked, 1);
      assert.equal(held.length, 2, 'the waiting commits started the next sync');
      held[1]!(Object.assign(new Error('EIO: i/o error, fdatasync'), { code: 'EIO' }));
      await assert.rejects(second, /syncing the WAL failed: EIO/);
      await assert.rejects(third, /syncing the WAL failed: EIO/);
      assert.equal(store.stats.walSyncs, 2);
      // A batch of refused operations has nothing to sync.
      await assert.rejects(store.create('/registry/a', 'again'));
      assert.equal(held.length, 2);
    } finally {
      w.cancel();
      const closing = store.close();
      for (const done of held.splice(2)) done(null);
      await closing;
    }
  });

  it('a failing transaction rejects every write of its batch and stores none of them', async (t) => {
    const { dir, cleanup } = tempDir();
    t.after(cleanup);
    const path = join(dir, 'state.db');
    const store = new SqliteStore(path, { busyTimeoutMs: 50 });
    const r0 = await store.currentRevision();
    // Another connection holds the write lock past the busy timeout, so the batch's transaction cannot commit.
    const other = new Database(path, { timeout: 0 });
    other.exec('BEGIN IMMEDIATE');
    try {
      const outcomes = await Promise.allSettled([store.create('/registry/x', '1'), store.create('/registry/y', '1')]);
      assert.deepEqual(outcomes.map((o) => o.status), ['rejected', 'rejected']);
      assert.match(String((outcomes[0] as PromiseRejectedResult).reason), /locked|busy/i);
    } finally {
      other.exec('ROLLBACK');
      other.close();
    }
    assert.equal(await store.currentRevision(), r0);
    const ok = await store.create('/registry/x', '1');
    assert.equal(ok.revision, r0 + 1);
    await store.close();
  });

  it('a write is acknowledged only after it is committed (the writer is killed -9)', async (t) => {
    const { dir, cleanup } = tempDir();
    t.after(cleanup);
    const path = join(dir, 'state.db');
    // Works both from source (tsx) and compiled (dist/): import the store module beside this test file.
    const fromSource = import.meta.url.endsWith('.ts');
    const storeModule = join(fileURLToPath(new URL('.', import.meta.url)), fromSource ? 'sqlite-store.ts' : 'sqlite-store.js');
    const script = join(dir, fromSource ? 'writer.mts' : 'writer.mjs');
    writeFileSync(
      script,
      `import { SqliteStore } from ${JSON.stringify(storeModule)};
       const store = new SqliteStore(${JSON.stringify(path)});
       for (let i = 0; ; i++) {
         await Promise.all([0, 1, 2, 3].map(async (j) => {
           const r = await store.create('/registry/k/' + i + '-' + j, 'v');
           process.stdout.write(r.revision + '\\n');
         }));
       }`,
    );
    const child = spawn(process.execPath, fromSource ? ['--import', 'tsx', script] : [script], { stdio: ['ignore', 'pipe', 'inherit'] });
    const acked: number[] = [];
    let buf = '';
    await new Promise<void>((resolve, reject) => {
      child.on('error', reject);
      child.on('exit', (code, signal) => (signal === 'SIGKILL' ? resolve() : reject(new Error(`writer exited: ${code}`))));
      child.stdout!.on('data', (chunk: Buffer) => {
        buf += chunk.toString();
        const lines = buf.split('\n');
        buf = lines.pop()!;
        for (const l of lines) acked.push(Number(l));
        if (acked.length >= 300 && !child.killed) child.kill('SIGKILL');
      });
    });
    assert.ok(acked.length >= 300);
    const store = new SqliteStore(path);
    try {
      const current = await store.currentRevision();
      for (const rev of acked) assert.ok(rev <= current, `acknowledged revision ${rev} lost (store at ${current})`);
      assert.equal((await store.count('/registry/k/')).count, current - 1);
    } finally {
      await store.close();
    }
  });
});

describe('SqliteStore open errors', () => {
  it('a file that is not a database is refused with its path in the message', async (t) => {
    const { dir, cleanup } = tempDir();
    t.after(cleanup);
    const path = join(dir, 'garbage.db');
    writeFileSync(path, 'this is not sqlite'.repeat(100));
    assert.throws(() => new SqliteStore(path), (err: Error) => err.message.includes(JSON.stringify(path)) && /not a database/.test(err.message));
  });
});
