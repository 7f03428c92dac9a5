/**
 * A Store that encrypts the values of the resources an EncryptionConfiguration names, around any backend: values are
 * sealed on their way in (create, update) and opened on their way out (get, list, watch events and their previous
 * values, the current value a conflict carries). Keys, revisions and everything else pass through, so the backends and
 * their conformance are untouched, and the datastore (SQLite file, etcd) only ever holds the envelope.
 *
 * The transformer can be swapped while running (a rotated key file); `reencrypt` rewrites every value that a write
 * now would store differently (plain text, or sealed with a key that is no longer the first) — kube-apiserver's
 * "stale" reads, which `kubectl get secrets -A -o json | kubectl replace -f -` rewrites upstream.
 */
import type { DeleteResult, GetResult, KeyValue, ListOptions, ListResult, Store, Watch, WatchEvent, WatchOptions, WriteResult } from '../store.js';
import { RevisionConflictError, KeyNotFoundError } from '../store.js';
import type { ValueTransformer } from './value-transformer.js';

export interface ReencryptResult {
  /** Values read under the covered resources. */
  scanned: number;
  /** Values rewritten (stale before). */
  rewritten: number;
}

export class EncryptingStore implements Store {
  #transformer: ValueTransformer;

  constructor(readonly inner: Store, transformer: ValueTransformer) {
    this.#transformer = transformer;
  }

  get transformer(): ValueTransformer {
    return this.#transformer;
  }

  /** Takes effect for every read and write from now on (watches included). */
  setTransformer(t: ValueTransformer): void {
    this.#transformer = t;
  }

  currentRevision(): Promise<number> {
    return this.inner.currentRevision();
  }

  async get(key: string, opts?: { revision?: number }): Promise<GetResult> {
    const r = await this.inner.get(key, opts);
    return r.kv ? { revision: r.revision, kv: this.#open(r.kv) } : r;
  }

  async list(prefix: string, opts?: ListOptions): Promise<ListResult> {
    const r = await this.inner.list(prefix, opts);
    const t = this.#transformer;
    for (let i = 0; i < r.kvs.length; i++) if (t.covers(r.kvs[i]!.key)) r.kvs[i] = this.#open(r.kvs[i]!);
    return r;
  }

  count(prefix: string): Promise<{ revision: number; count: number }> {
    return this.inner.count(prefix);
  }

  async create(key: string, value: string): Promise<WriteResult> {
    const r = await this.inner.create(key, this.#transformer.toStorage(key, value));
    return { revision: r.revision, kv: { ...r.kv, value } };
  }

  async update(key: string, value: string, expectedRevision: number): Promise<WriteResult> {
    try {
      const r = await this.inner.update(key, this.#transformer.toStorage(key, value), expectedRevision);
      return { revision: r.revision, kv: { ...r.kv, value } };
    } catch (err) {
      if (err instanceof RevisionConflictError) throw new RevisionConflictError(err.key, this.#open(err.current));
      throw err;
    }
  }

  async delete(key: string, expectedRevision?: number): Promise<DeleteResult> {
    try {
      const r = await this.inner.delete(key, expectedRevision);
      return { revision: r.revision, kv: this.#open(r.kv) };
    } catch (err) {
      if (err instanceof RevisionConflictError) throw new RevisionConflictError(err.key, this.#open(err.current));
      throw err;
    }
  }

  watch(prefix: string, opts: WatchOptions): Watch {
    return this.inner.watch(prefix, {
      afterRevision: opts.afterRevision,
      onError: opts.onError,
      // Events are shared between the backend's watchers: covered ones are copied, the rest pass as they are.
      // A value that cannot be opened throws here, which ends this watch with the error (Store's contract).
      onEvents: (events) => {
        const t = this.#transformer;
        let out: WatchEvent[] | undefined;
        for (let i = 0; i < events.length; i++) {
          const ev = events[i]!;
          if (!t.covers(ev.kv.key)) continue;
          out ??= events.slice();
          out[i] = { type: ev.type, revision: ev.revision, kv: this.#open(ev.kv), ...(ev.prevKv ? { prevKv: this.#open(ev.prevKv) } : {}) };
        }
        opts.onEvents(out ?? events);
      },
    });
  }

  compact(revision: number): Promise<void> {
    return this.inner.compact(revision);
  }

  compactRevision(): Promise<number> {
    return this.inner.compactRevision();
  }

  close(): Promise<void> {
    return this.inner.close();
  }

  /**
   * Rewrites every stale value under `prefixes` (the covered resources' key prefixes), a page at a time, each write a
   * compare-and-swap: a value changed meanwhile was written with the current key anyway, and is left alone.
   */
  async reencrypt(prefixes: string[], pageSize = 500): Promise<ReencryptResult> {
    const result: ReencryptResult = { scanned: 0, rewritten: 0 };
    await this.#eachStored(prefixes, pageSize, async (kv) => {
      result.scanned++;
      const read = this.#transformer.fromStorage(kv.key, kv.value);
      if (!read.stale) return;
      try {
        await this.update(kv.key, read.value, kv.modRevision);
        result.rewritten++;
      } catch (err) {
        if (!(err instanceof RevisionConflictError) && !(err instanceof KeyNotFoundError)) throw err;
      }
    });
    return result;
  }

  /** How many values under `prefixes` are stale (status: what a reencrypt would rewrite). */
  async countStale(prefixes: string[], pageSize = 500): Promise<{ scanned: number; stale: number }> {
    let scanned = 0;
    let stale = 0;
    await this.#eachStored(prefixes, pageSize, (kv) => {
      scanned++;
      if (this.#transformer.fromStorage(kv.key, kv.value).stale) stale++;
    });
    return { scanned, stale };
  }

  /** Every stored (still sealed) value under `prefixes`, a page at a time. */
  async #eachStored(prefixes: string[], pageSize: number, fn: (kv: KeyValue) => void | Promise<void>): Promise<void> {
    for (const prefix of prefixes) {
      let startKey: string | undefined;
      for (;;) {
        const page = await this.inner.list(prefix, { limit: pageSize, ...(startKey ? { startKey } : {}) });
        for (const kv of page.kvs) await fn(kv);
        if (!page.more || page.kvs.length === 0) break;
        startKey = `${page.kvs[page.kvs.length - 1]!.key}\0`;
      }
    }
  }

  #open(kv: KeyValue): KeyValue {
    const t = this.#transformer;
    if (!t.covers(kv.key)) return kv;
    return { ...kv, value: t.fromStorage(kv.key, kv.value).value };
  }
}
