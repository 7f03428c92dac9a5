/**
 * Store write throughput: durable writes/s on SQLite (1 sequential writer, 64 concurrent writers with group
 * commit), the same on memory://, and as the baseline measured in the same run, raw better-sqlite3 single-row
 * INSERTs each in its own transaction with the same pragmas (what an unbatched store would do).
 *
 * When an `etcd` binary is on PATH, the same two cases also run on EtcdStore against a throwaway one-member etcd
 * (data dir in the temp dir, so on the same disk as the SQLite file); otherwise `etcd` says why it was skipped.
 *
 * Usage: node --import tsx bench/store.ts [secondsPerCase=3]
 * Prints one JSON object.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { EtcdStore } from '../src/storage/etcd-store.js';
import { haveEtcd, startTestEtcd } from '../src/storage/etcd-store-testing.js';
import { MemoryStore } from '../src/storage/memory-store.js';
import { SqliteStore } from '../src/storage/sqlite-store.js';
import type { Store } from '../src/storage/store.js';

const seconds = Number(process.argv[2] ?? 3);
const durationMs = seconds * 1000;
/** About the size of a small Pod in JSON. */
const value = JSON.stringify({ kind: 'Pod', apiVersion: 'v1', pad: 'x'.repeat(1000) });

interface Result {
  writesPerSec: number;
  writes: number;
  latencyMs: { p50: number; p99: number; max: number };
}

function percentile(sorted: number[], p: number): number {
  return sorted.length === 0 ? 0 : sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

function summarize(latencies: number[], elapsedMs: number): Result {
  latencies.sort((a, b) => a - b);
  const round = (x: number) => Math.round(x * 1000) / 1000;
  return {
    writesPerSec: Math.round((latencies.length / elapsedMs) * 1000),
    writes: latencies.length,
    latencyMs: { p50: round(percentile(latencies, 50)), p99: round(percentile(latencies, 99)), max: round(latencies.at(-1) ?? 0) },
  };
}

/** Closed loop: each writer awaits its create before issuing the next, until the time is up. */
async function closedLoop(store: Store, writers: number, tag: string): Promise<Result> {
  const latencies: number[] = [];
  const start = performance.now();
  const deadline = start + durationMs;
  await Promise.all(
    Array.from({ length: writers }, async (_, w) => {
      for (let i = 0; performance.now() < deadline; i++) {
        const t0 = performance.now();
        await store.create(`/registry/bench/${tag}/${w}/${i}`, value);
        latencies.push(performance.now() - t0);
        // memory:// resolves in a microtask; yield now and then so the timer-free loop behaves like real callers.
        if (i % 64 === 63) await new Promise((resolve) => setImmediate(resolve));
      }
    }),
  );
  return summarize(latencies, performance.now() - start);
}

function rawSqlite(path: string): Result {
  const db = new Database(path);
  db.pragma('auto_vacuum = INCREMENTAL');
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = FULL');
  db.pragma('journal_size_limit = 67108864');
  db.exec(`CREATE TABLE log (id INTEGER PRIMARY KEY, key TEXT NOT NULL, created INTEGER NOT NULL, deleted INTEGER NOT NULL,
             create_revision INTEGER NOT NULL, prev_revision INTEGER NOT NULL, value TEXT NOT NULL, old_value TEXT);
           CREATE INDEX log_key_id ON log (key, id);`);
  const insert = db.prepare('INSERT INTO log VALUES (?, ?, 1, 0, ?, 0, ?, NULL)');
  const latencies: number[] = [];
  const start = performance.now();
  const deadline = start + durationMs;
  for (let id = 2; performance.now() < deadline; id++) {
    const t0 = performance.now();
    insert.run(id, `/registry/bench/raw/${id}`, id, value); // autocommit: its own transaction and WAL fsync
    latencies.push(performance.now() - t0);
  }
  const result = summarize(latencies, performance.now() - start);
  db.close();
  return result;
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'skiff-bench-store-'));
  try {
    const raw = rawSqlite(join(dir, 'raw.db'));

    const sqlite = new SqliteStore(join(dir, 'store.db'));
    const sqlite1 = await closedLoop(sqlite, 1, 's1');
    const commitsBefore = sqlite.stats.commits;
    const writesBefore = sqlite.stats.writes;
    const sqlite64 = await closedLoop(sqlite, 64, 's64');
    const batch64 = (sqlite.stats.writes - writesBefore) / (sqlite.stats.commits - commitsBefore);
    await sqlite.close();

    const memory = new MemoryStore();
    const memory1 = await closedLoop(memory, 1, 'm1');
    await memory.close();
    const memory64Store = new MemoryStore();
    const memory64 = await closedLoop(memory64Store, 64, 'm64');
    await memory64Store.close();

    const etcd = await etcdCases();

    const ratio = (a: number, b: number) => Math.round((a / b) * 100) / 100;
    console.log(
      JSON.stringify(
        {
          benchmark: 'store-writes',
          secondsPerCase: seconds,
          valueBytes: value.length,
          machine: { cpus: cpus().length, cpu: cpus()[0]?.model, node: process.version, tmpdir: tmpdir() },
          sqlite: { pragmas: 'journal_mode=WAL synchronous=NORMAL auto_vacuum=INCREMENTAL, the WAL fdatasync\'d before acknowledging (the raw baseline: synchronous=FULL)', version: sqliteVersion() },
          baselineRawInsertPerTxn: raw,
          sqlite1Writer: sqlite1,
          sqlite64Writers: { ...sqlite64, meanWritesPerCommit: Math.round(batch64 * 10) / 10 },
          memory1Writer: memory1,
          memory64Writers: memory64,
          ratios: {
            sqlite64VsBaseline: ratio(sqlite64.writesPerSec, raw.writesPerSec),
            sqlite1VsBaseline: ratio(sqlite1.writesPerSec, raw.writesPerSec),
            sqlite64VsSqlite1: ratio(sqlite64.writesPerSec, sqlite1.writesPerSec),
            memory64VsSqlite64: ratio(memory64.writesPerSec, sqlite64.writesPerSec),
            ...('etcd64Writers' in etcd && {
              etcd64VsEtcd1: ratio(etcd.etcd64Writers.writesPerSec, etcd.etcd1Writer.writesPerSec),
              sqlite64VsEtcd64: ratio(sqlite64.writesPerSec, etcd.etcd64Writers.writesPerSec),
            }),
          },
          etcd,
        },
        null,
        2,
      ),
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** EtcdStore on a one-member etcd started for this run (one member: no replication cost in these numbers). */
async function etcdCases(): Promise<{ skipped: string } | { version: string; etcd1Writer: Result; etcd64Writers: Result }> {
  if (!haveEtcd()) return { skipped: 'no etcd binary on PATH (apt-get install etcd-server)' };
  const etcd = await startTestEtcd();
  try {
    const store = await EtcdStore.connect({ endpoints: [etcd.endpoint], prefix: '/bench' });
    try {
      const etcd1Writer = await closedLoop(store, 1, 'e1');
      const etcd64Writers = await closedLoop(store, 64, 'e64');
      return { version: execFileSync('etcd', ['--version']).toString().split('\n')[0], etcd1Writer, etcd64Writers };
    } finally {
      await store.close();
    }
  } finally {
    await etcd.stop();
  }
}

function sqliteVersion(): string {
  const db = new Database(':memory:');
  try {
    return db.prepare<[], { v: string }>('SELECT sqlite_version() AS v').get()!.v;
  } finally {
    db.close();
  }
}

await main();
