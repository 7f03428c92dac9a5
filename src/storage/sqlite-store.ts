import { closeSync, fdatasync, fsyncSync, mkdirSync, openSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import type { Statement } from 'better-sqlite3';
import { prefixEnd } from './key-range.js';
import {
  CompactedError,
  FutureRevisionError,
  KeyExistsError,
  KeyNotFoundError,
  RevisionConflictError,
  StoreError,
  StoreFullError,
} from './store.js';
import type {
  DeleteResult,
  GetResult,
  KeyValue,
  ListOptions,
  ListResult,
  Store,
  Watch,
  WatchEvent,
  WatchOptions,
  WriteResult,
} from './store.js';
import { WatchHub } from './watch-hub.js';
import type { HistoryPage } from './watch-hub.js';

export interface SqliteStoreOptions {
  /** Events read per watch replay step (the event loop is yielded between steps). Default 1000. */
  replayPageSize?: number;
  /** Most writes committed in one transaction; a longer queue is committed in several. Default 1000. */
  maxBatch?: number;
  /** Revisions pruned per compaction transaction (the event loop is yielded between them). Default 1000. */
  compactChunk?: number;
  /** How long a statement waits for a lock held by another connection (e.g. a backup) before failing. Default 5000. */
  busyTimeoutMs?: number;
  /** How the WAL file reaches the disk (fs.fdatasync; tests hold it back to see that acknowledgements wait for it). */
  syncWal?: (fd: number, done: (err: NodeJS.ErrnoException | null) => void) => void;
}

/** Counters a benchmark or test can read to see what the store did. */
export interface SqliteStoreStats {
  /** Transactions that wrote something. */
  commits: number;
  /** fdatasync calls of the WAL (one covers every transaction committed before it started). */
  walSyncs: number;
  /** Write operations resolved successfully. */
  writes: number;
  /** Largest number of operations in one transaction. */
  largestBatch: number;
  compactions: number;
}

/** A row of the log table: one row per revision. */
interface Row {
  id: number;
  key: string;
  created: number;
  deleted: number;
  create_revision: number;
  prev_revision: number;
  value: string;
  old_value: string | null;
}

type Op =
  | { kind: 'create'; key: string; value: string }
  | { kind: 'update'; key: string; value: string; expectedRevision: number }
  | { kind: 'delete'; key: string; expectedRevision: number | undefined };

interface Pending {
  op: Op;
  resolve(result: WriteResult): void;
  reject(err: Error): void;
}

type Outcome = { result: WriteResult; event: WatchEvent } | { error: StoreError };

const COLUMNS = 'id, key, created, deleted, create_revision, prev_revision, value, old_value';

/**
 * The embedded durable backend (`sqlite://PATH`), a kine-shaped log on better-sqlite3 in WAL mode.
 *
 * Table `log` holds one row per revision (id = revision). Reading a key at revision R is "the row with the
 * largest id <= R for that key, unless it is a deletion". Rows carry the previous value, so every row is a
 * complete watch event and replay needs no joins.
 *
 * Writes are queued and committed in batches: everything that arrives during one event-loop turn goes into one
 * transaction (one WAL fsync), applied in arrival order with its compare-and-swap checks inside the transaction.
 * A write's promise resolves only after COMMIT returned, with `synchronous=FULL`, i.e. once the WAL is on disk.
 *
 * One process owns the file: revisions are assigned in memory and watchers are fed in-process after commit.
 */
export class SqliteStore implements Store {
  readonly stats: SqliteStoreStats = { commits: 0, walSyncs: 0, writes: 0, largestBatch: 0, compactions: 0 };

  private readonly db: Database.Database;
  private readonly hub: WatchHub;
  private readonly maxBatch: number;
  private readonly compactChunk: number;
  private rev: number;
  private compactRev: number;
  private queue: Pending[] = [];
  private flushScheduled = false;
  private compacting: Promise<void> = Promise.resolve();
  private closed = false;
  private readonly syncWal: NonNullable<SqliteStoreOptions['syncWal']>;
  /** The WAL file, opened after the first commit created it: fdatasync'd off the main thread (see settleDurably). */
  private walFd: number | undefined;
  /** Committed batches whose callers wait for the next WAL sync, and whether one is running. */
  private awaitingSync: Array<(err?: Error) => void> = [];
  private syncRunning = false;
  private synced: Array<() => void> = [];

  private readonly stmt: {
    latest: Statement<[string], Row>;
    atRevision: Statement<[string, number], Row>;
    insert: Statement<[number, string, number, number, number, number, string, string | null]>;
    listRange: Statement<[string, string, number, number], Row>;
    listFrom: Statement<[string, number, number], Row>;
    countRange: Statement<[string, string], { n: number }>;
    countAll: Statement<[], { n: number }>;
    historyRange: Statement<[number, string, string, number], Row>;
    historyAll: Statement<[number, number], Row>;
    pruneSuperseded: Statement<[number, number]>;
    pruneTombstones: Statement<[number, number]>;
    getMeta: Statement<[string], { value: number }>;
    setMeta: Statement<[string, number]>;
  };
  private readonly applyBatch: (batch: Pending[], startRev: number) => Outcome[];
  private readonly pruneChunk: (from: number, to: number, tombstonesBelow: number, prunedThrough: number) => void;

  /** Opens (creating if needed) the database file at path; reopening restores revision and compact revision. */
  constructor(readonly path: string, opts: SqliteStoreOptions = {}) {
    this.maxBatch = opts.maxBatch ?? 1000;
    this.compactChunk = opts.compactChunk ?? 1000;
    this.syncWal = opts.syncWal ?? fdatasync;
    try {
      mkdirSync(dirname(path), { recursive: true });
      this.db = new Database(path, { timeout: opts.busyTimeoutMs ?? 5000 });
    } catch (err) {
      throw new StoreError(`sqlite store ${JSON.stringify(path)}: cannot open: ${(err as Error).message}`, { cause: err });
    }
    try {
      this.stmt = this.init();
    } catch (err) {
      this.db.close();
      throw new StoreError(`sqlite store ${JSON.stringify(path)}: cannot initialize: ${(err as Error).message}`, { cause: err });
    }
    const maxId = this.db.prepare<[], { id: number | null }>('SELECT MAX(id) AS id FROM log').get()!.id ?? 0;
    this.compactRev = this.stmt.getMeta.get('compact_revision')?.value ?? 0;
    // Like etcd, an empty store is at revision 1 and the first write gets revision 2.
    this.rev = Math.max(maxId, this.compactRev, 1);

    this.applyBatch = this.db.transaction((batch: Pending[], startRev: number) => this.apply(batch, startRev));
    this.pruneChunk = this.db.transaction((from: number, to: number, tombstonesBelow: number, prunedThrough: number) => {
      this.stmt.pruneSuperseded.run(from, to);
      this.stmt.pruneTombstones.run(from, Math.min(to, tombstonesBelow));
      this.stmt.setMeta.run('pruned_through', prunedThrough);
    });
    this.hub = new WatchHub({
      readHistory: (prefix, after, limit) => this.readHistory(prefix, after, limit),
      pageSize: opts.replayPageSize,
    });
  }

  private init(): SqliteStore['stmt'] {
    const db = this.db;
    const fresh = db.prepare<[], { n: number }>('SELECT COUNT(*) AS n FROM sqlite_master').get()!.n === 0;
    // auto_vacuum can only be chosen before the first table exists; INCREMENTAL lets compaction hand freed
    // pages back to the file system with `PRAGMA incremental_vacuum` instead of a full VACUUM rewrite.
    if (fresh) db.pragma('auto_vacuum = INCREMENTAL');
    const mode = db.pragma('journal_mode = WAL', { simple: true });
    if (mode !== 'wal') throw new Error(`cannot enable WAL (journal_mode is ${String(mode)})`);
    // NORMAL: a COMMIT writes the WAL without fsync (SQLite syncs at checkpoints, which keeps the file consistent
    // after any crash). The store syncs the WAL itself, off the main thread, before it acknowledges a write
    // (settleDurably): an acknowledged write survives power loss as with FULL, whose fsync inside COMMIT blocked the
    // event loop ~0.15 ms per transaction here, and one sync covers every transaction committed before it.
    db.pragma('synchronous = NORMAL');
    // After a checkpoint, cut the WAL back to this size instead of leaving it at its high-water mark.
    db.pragma('journal_size_limit = 67108864');
    db.exec(`
      CREATE TABLE IF NOT EXISTS log (
        id INTEGER PRIMARY KEY,
        key TEXT NOT NULL,
        created INTEGER NOT NULL,
        deleted INTEGER NOT NULL,
        create_revision INTEGER NOT NULL,
        prev_revision INTEGER NOT NULL,
        value TEXT NOT NULL,
        old_value TEXT
      );
      CREATE INDEX IF NOT EXISTS log_key_id ON log (key, id);
      CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
    `);
    // The newest row of each key (at or below a revision): one pass over the (key, id) index in key order,
    // streamed, so a LIMIT stops the scan early; then one rowid lookup per key.
    const newest = (range: string, atRevision: string) =>
      `(SELECT MAX(id) AS id, key FROM log WHERE ${range}${atRevision} GROUP BY key ORDER BY key) m
       JOIN log l ON l.id = m.id WHERE l.deleted = 0`;
    const L = COLUMNS.split(', ').map((c) => `l.${c}`).join(', ');
    return {
      latest: db.prepare(`SELECT ${COLUMNS} FROM log WHERE key = ? ORDER BY id DESC LIMIT 1`),
      atRevision: db.prepare(`SELECT ${COLUMNS} FROM log WHERE key = ? AND id <= ? ORDER BY id DESC LIMIT 1`),
      insert: db.prepare(`INSERT INTO log (${COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`),
      listRange: db.prepare(`SELECT ${L} FROM ${newest('key >= ? AND key < ?', ' AND id <= ?')} ORDER BY m.key LIMIT ?`),
      listFrom: db.prepare(`SELECT ${L} FROM ${newest('key >= ?', ' AND id <= ?')} ORDER BY m.key LIMIT ?`),
      countRange: db.prepare(`SELECT COUNT(*) AS n FROM ${newest('key >= ? AND key < ?', '')}`),
      countAll: db.prepare(`SELECT COUNT(*) AS n FROM ${newest('1', '')}`),
      // Replay walks the log in revision order (the unary + keeps the planner off the key index, which would
      // need a sort and read the whole prefix before returning the first page).
      historyRange: db.prepare(
        `SELECT ${COLUMNS} FROM log WHERE id > ? AND +key >= ? AND +key < ? ORDER BY id LIMIT ?`,
      ),
      historyAll: db.prepare(`SELECT ${COLUMNS} FROM log WHERE id > ? ORDER BY id LIMIT ?`),
      // Every row written in [from, to) supersedes the older rows of its key.
      pruneSuperseded: db.prepare(
        `DELETE FROM log WHERE id IN
           (SELECT o.id FROM log n JOIN log o ON o.key = n.key AND o.id < n.id WHERE n.id >= ? AND n.id < ?)`,
      ),
      pruneTombstones: db.prepare('DELETE FROM log WHERE id >= ? AND id < ? AND deleted = 1'),
      getMeta: db.prepare('SELECT value FROM meta WHERE name = ?'),
      setMeta: db.prepare('INSERT INTO meta (name, value) VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET value = excluded.value'),
    };
  }

  async currentRevision(): Promise<number> {
    this.checkOpen();
    return this.rev;
  }

  async compactRevision(): Promise<number> {
    this.checkOpen();
    return this.compactRev;
  }

  async get(key: string, opts?: { revision?: number }): Promise<GetResult> {
    this.checkOpen();
    const revision = this.readRevision(opts?.revision);
    const row = revision === this.rev ? this.stmt.latest.get(key) : this.stmt.atRevision.get(key, revision);
    return { revision, kv: row && !row.deleted ? toKv(row) : undefined };
  }

  async list(prefix: string, opts?: ListOptions): Promise<ListResult> {
    this.checkOpen();
    const revision = this.readRevision(opts?.revision);
    const limit = opts?.limit ?? 0;
    const from = opts?.startKey !== undefined && opts.startKey > prefix ? opts.startKey : prefix;
    const end = prefixEnd(prefix);
    // One row past the limit tells whether there are more; SQLite reads LIMIT -1 as "no limit".
    const sqlLimit = limit > 0 ? limit + 1 : -1;
    const rows =
      end === undefined
        ? this.stmt.listFrom.all(from, revision, sqlLimit)
        : this.stmt.listRange.all(from, end, revision, sqlLimit);
    const more = limit > 0 && rows.length > limit;
    if (more) rows.length = limit;
    return { revision, kvs: rows.map(toKv), more };
  }

  async count(prefix: string): Promise<{ revision: number; count: number }> {
    this.checkOpen();
    const end = prefixEnd(prefix);
    const row = end === undefined ? this.stmt.countAll.get() : this.stmt.countRange.get(prefix, end);
    return { revision: this.rev, count: row!.n };
  }

  create(key: string, value: string): Promise<WriteResult> {
    return this.enqueue({ kind: 'create', key, value });
  }

  update(key: string, value: string, expectedRevision: number): Promise<WriteResult> {
    return this.enqueue({ kind: 'update', key, value, expectedRevision });
  }

  delete(key: string, expectedRevision?: number): Promise<DeleteResult> {
    return this.enqueue({ kind: 'delete', key, expectedRevision });
  }

  watch(prefix: string, opts: WatchOptions): Watch {
    this.checkOpen();
    return this.hub.watch(prefix, opts);
  }

  /**
   * Raises the compact revision at once (reads below it fail from now on), then prunes the rows it made
   * unreachable in chunks, yielding between them so writes keep flowing, and finally gives the space back to
   * the file system. Compactions run one at a time.
   */
  compact(revision: number): Promise<void> {
    const run = this.compacting.then(() => this.runCompaction(revision));
    // The chain only orders compactions; each caller gets its own outcome through `run`.
    this.compacting = run.then(
      () => undefined,
      () => undefined,
    );
    return run;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    // Commit what was already accepted, so no caller is left with a promise that never settles.
    while (this.queue.length > 0) this.flush();
    await this.compacting;
    await this.allSynced();
    this.hub.closeAll(new StoreError('store is closed'));
    try {
      this.db.pragma('wal_checkpoint(TRUNCATE)');
    } catch (err) {
      // A full disk cannot take the WAL's pages into the database file. Nothing is lost by closing anyway: the WAL
      // holds every commit durably and the next open replays it; a throw here would keep the file open instead.
      if (!(this.writeError(err) instanceof StoreFullError)) {
        this.db.close();
        this.closeWal();
        throw err;
      }
    }
    this.db.close();
    this.closeWal();
  }

  private closeWal(): void {
    if (this.walFd === undefined) return;
    closeSync(this.walFd);
    this.walFd = undefined;
  }

  /**
   * Settles a committed batch's callers once the WAL holding it is on disk. SQLite appends to the WAL in commit order,
   * so a sync started after a commit covers it and everything before it; commits made while a sync runs wait for the
   * next one (group commit). Watchers and reads see a commit at once, as before; only acknowledgements wait. A failed
   * sync fails the callers it covered (the outcome of their writes is then unknown, as after a lost connection).
   */
  private settleDurably(settle: (err?: Error) => void): void {
    if (this.walFd === undefined) {
      try {
        this.walFd = openSync(`${this.path}-wal`, 'r');
        // The WAL's directory entry too, once: a file created since the directory was last synced can vanish with it.
        const dir = openSync(dirname(this.path), 'r');
        try {
          fsyncSync(dir);
        } finally {
          closeSync(dir);
        }
      } catch (err) {
        settle(new StoreError(`sqlite store ${JSON.stringify(this.path)}: cannot open the WAL to sync it: ${(err as Error).message}`, { cause: err }));
        return;
      }
    }
    this.awaitingSync.push(settle);
    if (!this.syncRunning) this.startWalSync();
  }

  private startWalSync(): void {
    const covered = this.awaitingSync;
    this.awaitingSync = [];
    this.syncRunning = true;
    this.stats.walSyncs++;
    this.syncWal(this.walFd!, (err) => {
      this.syncRunning = false;
      let failure: Error | undefined;
      if (err) {
        failure = this.writeError(err);
        if (failure === err) failure = new StoreError(`sqlite store ${JSON.stringify(this.path)}: syncing the WAL failed: ${err.message}`, { cause: err });
      }
      for (const settle of covered) settle(failure);
      if (this.awaitingSync.length > 0) this.startWalSync();
      else for (const done of this.synced.splice(0)) done();
    });
  }

  /** Resolves once no acknowledgement waits for a WAL sync. */
  private allSynced(): Promise<void> {
    if (!this.syncRunning && this.awaitingSync.length === 0) return Promise.resolve();
    return new Promise((resolve) => this.synced.push(resolve));
  }

  private enqueue(op: Op): Promise<WriteResult> {
    if (this.closed) return Promise.reject(new StoreError('store is closed'));
    return new Promise<WriteResult>((resolve, reject) => {
      this.queue.push({ op, resolve, reject });
      if (!this.flushScheduled) {
        this.flushScheduled = true;
        // setImmediate rather than a microtask: callers that were just woken by the previous commit issue their
        // next write from promise continuations, and all of those run before the immediate fires.
        setImmediate(this.flush);
      }
    });
  }

  private flush = (): void => {
    this.flushScheduled = false;
    if (this.queue.length === 0) return;
    const batch = this.queue.length <= this.maxBatch ? this.queue : this.queue.slice(0, this.maxBatch);
    this.queue = batch === this.queue ? [] : this.queue.slice(this.maxBatch);
    if (this.queue.length > 0 && !this.closed) {
      this.flushScheduled = true;
      setImmediate(this.flush);
    }

    let outcomes: Outcome[];
    try {
      outcomes = this.applyBatch(batch, this.rev);
    } catch (err) {
      // The transaction rolled back: nothing of this batch is stored, so every caller gets the failure.
      const failure = this.writeError(err);
      for (const p of batch) p.reject(failure);
      return;
    }
    const events: WatchEvent[] = [];
    for (const o of outcomes) {
      if ('event' in o) {
        events.push(o.event);
        this.rev = o.event.revision;
      }
    }
    if (events.length > 0) this.stats.commits++;
    if (batch.length > this.stats.largestBatch) this.stats.largestBatch = batch.length;
    this.stats.writes += events.length;
    // Watchers are fed in the same synchronous step as the commit, before any read can observe the new revision.
    this.hub.publish(events);
    const settle = (err?: Error) => {
      for (let i = 0; i < batch.length; i++) {
        const o = outcomes[i];
        if ('error' in o) batch[i].reject(o.error);
        else if (err) batch[i].reject(err);
        else batch[i].resolve(o.result);
      }
    };
    // A batch that wrote nothing (every operation refused) has nothing to make durable.
    if (events.length === 0) settle();
    else this.settleDurably(settle);
  };

  /**
   * A failed batch's error for its callers: a full disk becomes StoreFullError, so the API server can say so and mark
   * itself not ready. SQLITE_FULL is ENOSPC on the database or WAL; SQLITE_IOERR_SHMSIZE is ENOSPC while growing the
   * WAL index (SQLite writes each new shm page before mapping it rather than risk a SIGBUS); ENOSPC itself comes from
   * the store's own sync of the WAL.
   */
  private writeError(err: unknown): Error {
    const code = (err as { code?: unknown }).code;
    if (code === 'SQLITE_FULL' || code === 'SQLITE_IOERR_SHMSIZE' || code === 'ENOSPC') {
      return new StoreFullError(`sqlite store ${JSON.stringify(this.path)}: database or disk is full (${String(code)}): writes are refused until space is freed; reads are served`, { cause: err });
    }
    return err as Error;
  }

  /** Runs inside the batch transaction. Store errors are outcomes; SQLite errors abort the whole batch. */
  private apply(batch: Pending[], startRev: number): Outcome[] {
    let rev = startRev;
    const outcomes: Outcome[] = [];
    for (const { op } of batch) {
      const row = this.stmt.latest.get(op.key);
      const prev = row && !row.deleted ? toKv(row) : undefined;
      if (op.kind === 'create') {
        if (prev) {
          outcomes.push({ error: new KeyExistsError(op.key) });
          continue;
        }
        const revision = ++rev;
        this.stmt.insert.run(revision, op.key, 1, 0, revision, row ? row.id : 0, op.value, null);
        const kv: KeyValue = { key: op.key, value: op.value, createRevision: revision, modRevision: revision };
        outcomes.push({ result: { revision, kv: { ...kv } }, event: { type: 'create', kv, revision } });
        continue;
      }
      if (!prev) {
        outcomes.push({ error: new KeyNotFoundError(op.key) });
        continue;
      }
      if (op.expectedRevision !== undefined && prev.modRevision !== op.expectedRevision) {
        outcomes.push({ error: new RevisionConflictError(op.key, prev) });
        continue;
      }
      const revision = ++rev;
      if (op.kind === 'update') {
        this.stmt.insert.run(revision, op.key, 0, 0, prev.createRevision, prev.modRevision, op.value, prev.value);
        const kv: KeyValue = { key: op.key, value: op.value, createRevision: prev.createRevision, modRevision: revision };
        outcomes.push({ result: { revision, kv: { ...kv } }, event: { type: 'update', kv, prevKv: prev, revision } });
      } else {
        // A deletion row keeps the last value in `value`; old_value would only repeat it.
        this.stmt.insert.run(revision, op.key, 0, 1, prev.createRevision, prev.modRevision, prev.value, null);
        const kv: KeyValue = { ...prev, modRevision: revision };
        outcomes.push({ result: { revision, kv: { ...kv } }, event: { type: 'delete', kv, prevKv: prev, revision } });
      }
    }
    return outcomes;
  }

  private async runCompaction(revision: number): Promise<void> {
    this.checkOpen();
    // etcd refuses a compaction at or below the current compact revision (ErrCompacted) and above the current
    // revision (ErrFutureRev); kube-apiserver's compactor treats the former as "someone else did it".
    if (revision <= this.compactRev) throw new CompactedError(revision, this.compactRev);
    if (revision > this.rev) throw new FutureRevisionError(revision, this.rev);
    this.stmt.setMeta.run('compact_revision', revision);
    this.compactRev = revision;

    // Rows written in [prunedThrough, revision] are the only ones that can have made older rows unreachable since
    // the last compaction, so the work is proportional to the writes in between, not to the table size. A crash
    // half-way leaves pruned_through behind and the next compaction redoes the rest.
    let from = this.stmt.getMeta.get('pruned_through')?.value ?? 0;
    while (from <= revision) {
      const to = Math.min(from + this.compactChunk, revision + 1);
      // A deletion row at the compact revision itself stays: a watch from revision - 1 must still see it.
      this.pruneChunk(from, to, revision, to - 1);
      from = to;
      if (from <= revision) await new Promise((resolve) => setImmediate(resolve));
      if (this.closed) throw new StoreError(`store closed during compaction to ${revision}; the next compaction finishes it`);
    }
    // Give the freed pages back: incremental_vacuum moves them to the end of the file (a few MiB per step, so
    // writes interleave), and the TRUNCATE checkpoint writes that into the main file, cuts it, and empties the WAL.
    // (A file created without auto_vacuum=INCREMENTAL cannot do this; the loop then stops at once.)
    for (let free = this.freePages(); free > 0; ) {
      this.db.exec('PRAGMA incremental_vacuum(1024)');
      await new Promise((resolve) => setImmediate(resolve));
      if (this.closed) throw new StoreError(`store closed while giving disk space back after compaction to ${revision}`);
      const left = this.freePages();
      if (left >= free) break;
      free = left;
    }
    // A checkpoint blocked by another connection's reader only postpones the shrink to the next compaction.
    this.db.pragma('wal_checkpoint(TRUNCATE)');
    this.stats.compactions++;
  }

  private freePages(): number {
    return this.db.pragma('freelist_count', { simple: true }) as number;
  }

  private readHistory(prefix: string, afterRevision: number, limit: number): HistoryPage {
    if (this.closed) throw new StoreError('store is closed');
    // Checked on every page: a compaction that starts during a long replay must fail it, not leave a gap.
    if (afterRevision + 1 < this.compactRev) throw new CompactedError(afterRevision + 1, this.compactRev);
    const end = prefixEnd(prefix);
    const rows =
      end === undefined
        ? this.stmt.historyAll.all(afterRevision, limit)
        : this.stmt.historyRange.all(afterRevision, prefix, end, limit);
    const done = rows.length < limit;
    const scannedTo = done ? this.rev : rows[rows.length - 1].id;
    const events: WatchEvent[] = [];
    for (const row of rows) {
      // Only matters for a prefix without a finite end (empty, or made of U+FFFF), read unfiltered.
      if (row.key.startsWith(prefix)) events.push(toEvent(row));
    }
    return { events, scannedTo, done };
  }

  /** Resolves a requested read revision (0 or absent = current) or throws as etcd does. */
  private readRevision(revision: number | undefined): number {
    if (revision === undefined || revision === 0) return this.rev;
    if (!Number.isSafeInteger(revision) || revision < 0) throw new StoreError(`invalid revision: ${revision}`);
    if (revision < this.compactRev) throw new CompactedError(revision, this.compactRev);
    if (revision > this.rev) throw new FutureRevisionError(revision, this.rev);
    return revision;
  }

  private checkOpen(): void {
    if (this.closed) throw new StoreError('store is closed');
  }
}

function toKv(row: Row): KeyValue {
  return { key: row.key, value: row.value, createRevision: row.create_revision, modRevision: row.id };
}

function toEvent(row: Row): WatchEvent {
  const kv = toKv(row);
  if (row.created) return { type: 'create', kv, revision: row.id };
  const prevKv: KeyValue = {
    key: row.key,
    value: row.deleted ? row.value : row.old_value!,
    createRevision: row.create_revision,
    modRevision: row.prev_revision,
  };
  return { type: row.deleted ? 'delete' : 'update', kv, prevKv, revision: row.id };
}
