/**
 * Reservations of items (ClusterIPs, NodePorts) kept in the Store, one key per allocated item, so that every API
 * server sharing the store sees the same ones: the Store's atomic create-if-absent is the only arbiter, across
 * concurrent requests and across servers on one etcd. kube-apiserver keeps a bitmap per range in etcd instead; one
 * key per item needs no read-modify-write of a shared value, so concurrent allocations never conflict on a key
 * unless they want the same item.
 *
 * Keys live under `/registry/ranges/<kind>/` (where kube-apiserver keeps its range bitmaps). They must be under
 * `/registry/`: the watch cache watches that prefix and learns the store's revision from the events it sees, so a
 * write elsewhere would leave consistent reads waiting for a revision the cache never observes. No resource is
 * served from there; the value carries a `metadata` so the cache can decode it like any stored object.
 */
import { KeyExistsError, KeyNotFoundError, RevisionConflictError, type Store } from '../../storage/store.js';
import type { AllocationRange } from './ranges.js';

/** The object that holds an item. The uid tells a re-created object of the same name from the one before. */
export interface AllocationOwner {
  namespace: string;
  name: string;
  uid: string;
}

/** What a reservation key holds (JSON). */
export interface AllocationRecord {
  kind: 'Allocation';
  /** name: the item, so the watch cache decodes the value as it decodes every stored object. */
  metadata: { name: string };
  owner: AllocationOwner;
  /** RFC 3339 time of the reservation: the repair loop leaves young ones alone (their write may be in flight). */
  allocatedAt: string;
}

export interface Reservation {
  value: string;
  record: AllocationRecord;
  /** The key's modRevision, for compare-and-delete. */
  revision: number;
}

export interface StoreAllocatorOptions {
  store: Store;
  /** `serviceips`, `servicenodeports`: the key segment. */
  kind: string;
  range: AllocationRange;
  now?: () => Date;
  /** Random source in [0, 1); injectable to make tests replay a sequence. */
  random?: () => number;
}

export interface AllocateOptions {
  /** Items known to be in use (e.g. what the watch cache shows): not tried in the first, random phase. */
  skip?: ReadonlySet<string>;
  /** Pick a free item without reserving it. */
  dryRun?: boolean;
}

/** The requested item is not in the range. */
export class NotInRangeError extends Error {
  constructor(readonly value: string, readonly range: AllocationRange) {
    super(`${value} is not in the range ${range.description}`);
    this.name = 'NotInRangeError';
  }
}

/** The requested item is reserved by another owner. */
export class AllocatedError extends Error {
  constructor(readonly value: string, readonly holder: AllocationOwner, readonly allocatedAt: string) {
    super(`${value} is already allocated to ${holder.namespace}/${holder.name}`);
    this.name = 'AllocatedError';
  }
}

/** No item of the range is free. */
export class RangeFullError extends Error {
  constructor(readonly range: AllocationRange) {
    super('range is full');
    this.name = 'RangeFullError';
  }
}

/** Random candidates tried before reading every reservation and probing the free ones in order. */
const RANDOM_TRIES = 16;
const ALLOCATIONS_ROOT = '/registry/ranges/';
const LIST_PAGE = 1000;

/** Same object: name and uid (a re-created Service of the same name is another owner). */
export function sameOwner(a: AllocationOwner, b: AllocationOwner): boolean {
  return a.uid === b.uid && a.namespace === b.namespace && a.name === b.name;
}

export class StoreAllocator {
  readonly range: AllocationRange;
  readonly prefix: string;
  private readonly store: Store;
  private readonly now: () => Date;
  private readonly random: () => number;

  constructor(opts: StoreAllocatorOptions) {
    if (!/^[a-z0-9-]+$/.test(opts.kind)) throw new Error(`invalid allocation kind ${JSON.stringify(opts.kind)}`);
    this.store = opts.store;
    this.range = opts.range;
    this.prefix = `${ALLOCATIONS_ROOT}${opts.kind}/`;
    this.now = opts.now ?? (() => new Date());
    this.random = opts.random ?? Math.random;
  }

  keyOf(value: string): string {
    return this.prefix + value;
  }

  /**
   * Reserves a free item for owner and returns it. Tries random items first (skipping `skip`), then reads every
   * reservation and walks the free items from a random start; each attempt is an atomic create, so an item another
   * server took a moment ago only costs one more attempt. Throws RangeFullError when nothing is free.
   */
  async allocate(owner: AllocationOwner, opts: AllocateOptions = {}): Promise<string> {
    const tried = new Set<string>();
    const size = this.range.size;
    for (let i = 0; i < RANDOM_TRIES && tried.size < size; i++) {
      const value = this.range.at(Math.floor(this.random() * size));
      if (tried.has(value) || opts.skip?.has(value)) continue;
      tried.add(value);
      if (await this.tryReserve(value, owner, opts.dryRun)) return value;
    }
    // A crowded range: the store says what is taken; the cache's view is not trusted here (it may lag a delete).
    const taken = new Set((await this.list()).map((r) => r.value));
    const start = Math.floor(this.random() * size);
    for (let i = 0; i < size; i++) {
      const value = this.range.at((start + i) % size);
      if (taken.has(value) || tried.has(value)) continue;
      if (await this.tryReserve(value, owner, opts.dryRun)) return value;
    }
    throw new RangeFullError(this.range);
  }

  /**
   * Reserves `value` for owner. Resolves true when this call reserved it, false when owner already held it (a
   * retried write). Throws NotInRangeError, or AllocatedError naming the holder.
   */
  async allocateSpecific(value: string, owner: AllocationOwner, opts: { dryRun?: boolean } = {}): Promise<boolean> {
    if (!this.range.contains(value)) throw new NotInRangeError(value, this.range);
    // Released between our create and our read: try again (bounded; a busy item is someone else's anyway).
    for (let attempt = 0; attempt < 3; attempt++) {
      if (await this.tryReserve(value, owner, opts.dryRun)) return true;
      const held = await this.get(value);
      if (!held) continue;
      if (sameOwner(held.record.owner, owner)) return false;
      throw new AllocatedError(value, held.record.owner, held.record.allocatedAt);
    }
    const held = await this.get(value);
    throw new AllocatedError(value, held?.record.owner ?? { namespace: '', name: '', uid: '' }, held?.record.allocatedAt ?? '');
  }

  /** Deletes the reservation of value if owner still holds it. Resolves true when it did. */
  async release(value: string, owner: AllocationOwner): Promise<boolean> {
    const held = await this.get(value);
    if (!held || !sameOwner(held.record.owner, owner)) return false;
    return this.remove(held);
  }

  /** Deletes a reservation if it is unchanged since it was read (compare-and-delete on its revision). */
  async remove(reservation: Reservation): Promise<boolean> {
    try {
      await this.store.delete(this.keyOf(reservation.value), reservation.revision);
      return true;
    } catch (err) {
      if (err instanceof KeyNotFoundError || err instanceof RevisionConflictError) return false;
      throw err;
    }
  }

  /** Creates a reservation for owner if the item is free; false when it is taken (by anyone). */
  async reserve(value: string, owner: AllocationOwner): Promise<boolean> {
    return this.tryReserve(value, owner, false);
  }

  async get(value: string): Promise<Reservation | undefined> {
    const res = await this.store.get(this.keyOf(value));
    return res.kv ? this.decode(value, res.kv.value, res.kv.modRevision) : undefined;
  }

  /** Every reservation of this kind, at one revision. */
  async list(): Promise<Reservation[]> {
    const out: Reservation[] = [];
    let startKey: string | undefined;
    let revision: number | undefined;
    for (;;) {
      const page = await this.store.list(this.prefix, { startKey, limit: LIST_PAGE, revision });
      revision = page.revision;
      for (const kv of page.kvs) out.push(this.decode(kv.key.slice(this.prefix.length), kv.value, kv.modRevision));
      if (!page.more || page.kvs.length === 0) return out;
      startKey = `${page.kvs[page.kvs.length - 1].key}\0`;
    }
  }

  private async tryReserve(value: string, owner: AllocationOwner, dryRun: boolean | undefined): Promise<boolean> {
    if (dryRun) return (await this.store.get(this.keyOf(value))).kv === undefined;
    const record: AllocationRecord = {
      kind: 'Allocation',
      metadata: { name: value },
      owner: { namespace: owner.namespace, name: owner.name, uid: owner.uid },
      allocatedAt: this.now().toISOString(),
    };
    try {
      await this.store.create(this.keyOf(value), JSON.stringify(record));
      return true;
    } catch (err) {
      if (err instanceof KeyExistsError) return false;
      throw err;
    }
  }

  private decode(value: string, text: string, revision: number): Reservation {
    let record: AllocationRecord;
    try {
      record = JSON.parse(text) as AllocationRecord;
    } catch {
      // Unreadable: an owner nobody matches and the epoch, so the repair loop removes it.
      record = { kind: 'Allocation', metadata: { name: value }, owner: { namespace: '', name: '', uid: '' }, allocatedAt: new Date(0).toISOString() };
    }
    return { value, record, revision };
  }
}
