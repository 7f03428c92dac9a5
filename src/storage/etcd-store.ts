import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import { Client, Metadata, credentials, status } from '@grpc/grpc-js';
import type { ClientDuplexStream, ServiceError } from '@grpc/grpc-js';
import {
  decodeCompactionResponse,
  decodeDeleteRangeResponse,
  decodeRangeResponse,
  decodeTxnResponse,
  decodeWatchResponse,
  encodeCompactionRequest,
  encodeDeleteRangeRequest,
  encodeRangeRequest,
  encodeTxnRequest,
  encodeWatchCreateRequest,
} from './etcd-store-codec.js';
import type { EtcdEvent, EtcdKeyValue, RangeRequest, RangeResponse, TxnRequest, TxnResponse } from './etcd-store-codec.js';
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

export interface EtcdStoreOptions {
  /** Client URLs of the members, as `host:port` (`[v6addr]:port` for IPv6). At least one. */
  endpoints: string[];
  /** TLS towards the members (https:// URLs): the CA to verify them (default: the system's), and a client certificate. */
  tls?: { ca?: Buffer; cert?: Buffer; key?: Buffer };
  /** Prepended to every key in etcd (e.g. `/skiff`), so several clusters can share one etcd. Default ''. */
  prefix?: string;
  /** How long connect() waits for a first member to answer. Default 10 s. */
  dialTimeoutMs?: number;
  /** Deadline of each read and write. Default 15 s (etcd itself gives up on a proposal after ~7 s). */
  requestTimeoutMs?: number;
  /** Deadline of a compaction, which waits until etcd has dropped the history. Default 5 min. */
  compactTimeoutMs?: number;
  /** How long a broken watch keeps trying to re-establish itself before it ends with an error. Default 30 s. */
  watchRetryMs?: number;
}

const DEFAULT_PORT = 2379;

const KV_RANGE = '/etcdserverpb.KV/Range';
const KV_DELETE_RANGE = '/etcdserverpb.KV/DeleteRange';
const KV_TXN = '/etcdserverpb.KV/Txn';
const KV_COMPACT = '/etcdserverpb.KV/Compact';
const WATCH = '/etcdserverpb.Watch/Watch';

/** Messages are encoded by etcd-store-codec.ts; grpc-js only moves the bytes. */
const raw = (b: Buffer): Buffer => b;

/** Codes after which a watch stream is re-established (member gone, no leader, connection reset). */
const RETRYABLE = new Set<number>([status.UNAVAILABLE, status.INTERNAL, status.CANCELLED, status.UNKNOWN]);

/**
 * Parses a datastore URL for etcd: `etcd://host[:port][,host[:port]...][/prefix]`, or a list of client URLs
 * `http://host:port[,http://host:port...][/prefix]` (the form etcdctl and k3s take). The port defaults to 2379.
 * The path, written once after the last member, becomes the key prefix (`etcd://10.0.0.1:2379/skiff` stores
 * `/registry/...` as `/skiff/registry/...`); a trailing slash is dropped. `https://` members mean TLS (all or none of them; certificates from EtcdStoreOptions.tls).
 */
export function parseEtcdUrl(url: string): { endpoints: string[]; prefix: string; tls: boolean } {
  const bad = (why: string) => new Error(`datastore ${JSON.stringify(url)}: ${why}`);
  if (/[?#]/.test(url)) throw bad('etcd URLs take no query or fragment');
  const items = url.split(',');
  const endpoints: string[] = [];
  let path = '';
  let tls = false;
  items.forEach((item, i) => {
    const scheme = /^([a-z][a-z0-9+.-]*):\/\//i.exec(item)?.[1]?.toLowerCase();
    if (scheme !== undefined && scheme !== 'etcd' && scheme !== 'http' && scheme !== 'https') throw bad(`unsupported scheme ${scheme}:// in a list of etcd members`);
    if (i === 0 && scheme === undefined) throw bad('expected etcd://host:port, http://host:port or https://host:port');
    if (i === 0) tls = scheme === 'https';
    else if (scheme !== undefined && (scheme === 'https') !== tls) throw bad('all members must use TLS (https://) or none');
    let hostPort = scheme === undefined ? item : item.slice(scheme.length + 3);
    const slash = hostPort.indexOf('/');
    if (slash >= 0) {
      if (i !== items.length - 1) throw bad('the key prefix (a path) may only follow the last member');
      path = hostPort.slice(slash);
      hostPort = hostPort.slice(0, slash);
    }
    try {
      const { host, port } = parseEndpoint(hostPort);
      endpoints.push(joinHostPort(host, port));
    } catch (err) {
      throw bad((err as Error).message);
    }
  });
  return { endpoints, prefix: path.replace(/\/+$/, ''), tls };
}

/** Splits `host[:port]` or `[v6]:port`; the port defaults to 2379. */
function parseEndpoint(endpoint: string): { host: string; port: number } {
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([A-Za-z0-9.-]+))(?::(\d+))?$/.exec(endpoint);
  if (!m) throw new Error(`bad etcd member address ${JSON.stringify(endpoint)} (want host:port)`);
  const host = m[1] ?? m[2];
  const port = m[3] === undefined ? DEFAULT_PORT : Number(m[3]);
  if (!(port >= 1 && port <= 65535)) throw new Error(`bad port in etcd member address ${JSON.stringify(endpoint)}`);
  if (m[1] !== undefined && isIP(host) !== 6) throw new Error(`bad IPv6 address in ${JSON.stringify(endpoint)}`);
  return { host, port };
}

function joinHostPort(host: string, port: number): string {
  return isIP(host) === 6 ? `[${host}]:${port}` : `${host}:${port}`;
}

/**
 * The grpc-js target for the members. One member: its name, resolved by grpc-js (again on reconnect). Several:
 * every address of every member in one `ipv4:`/`ipv6:` list, so the round-robin balancer spreads calls over the
 * members and skips those that are down. Names in a list are resolved once, here; a list that mixes address
 * families uses its IPv4 addresses (e.g. `localhost` resolving to both).
 */
async function grpcTarget(endpoints: string[]): Promise<string> {
  const parsed = endpoints.map(parseEndpoint);
  if (parsed.length === 1) return `dns:${joinHostPort(parsed[0].host, parsed[0].port)}`;
  const v4: string[] = [];
  const v6: string[] = [];
  for (const { host, port } of parsed) {
    const addrs = isIP(host) ? [{ address: host, family: isIP(host) }] : await lookup(host, { all: true });
    for (const a of addrs) {
      if (a.family === 6) v6.push(`[${a.address}]:${port}`);
      else v4.push(`${a.address}:${port}`);
    }
  }
  return v4.length > 0 ? `ipv4:${v4.join(',')}` : `ipv6:${v6.join(',')}`;
}

function grpcCode(err: unknown): number | undefined {
  const code = (err as Partial<ServiceError> | undefined)?.code;
  if (typeof code === 'number') return code;
  const cause = (err as { cause?: unknown } | undefined)?.cause;
  return cause === undefined ? undefined : grpcCode(cause);
}

/**
 * etcd's rpctypes.ErrGRPCNoSpace ("etcdserver: mvcc: database space exceeded", code RESOURCE_EXHAUSTED): the backend
 * reached its quota and etcd raised the NOSPACE alarm; writes fail until an operator compacts, defragments and disarms.
 */
export function isSpaceExceeded(err: unknown): boolean {
  return grpcCode(err) === status.RESOURCE_EXHAUSTED && String((err as Partial<ServiceError>)?.details).includes('database space exceeded');
}

// etcd's own error texts (mvcc.ErrCompacted, mvcc.ErrFutureRev), sent with code OUT_OF_RANGE.
function isCompactedError(err: unknown): boolean {
  return String((err as Partial<ServiceError>)?.details).includes('required revision has been compacted');
}

function isFutureRevisionError(err: unknown): boolean {
  return String((err as Partial<ServiceError>)?.details).includes('required revision is a future revision');
}

/**
 * The shared backend (`etcd://host:port[,host:port...]`): the Store on an etcd v3 cluster through its gRPC API, so
 * several skiff servers can use one datastore (HA). Every server's writes reach every server's watches.
 *
 * The Store was shaped after etcd, so most calls map one to one: revisions are etcd's revisions, create is a Txn
 * guarded by `create_revision == 0`, update and a conditional delete are Txns guarded by `mod_revision`, whose
 * failure branch reads the key so a conflict carries the current value; list is a Range over the prefix, a watch
 * is an etcd watch from afterRevision + 1 with prevKv. A write resolves once etcd acknowledged it (committed by a
 * quorum). Calls run concurrently over one HTTP/2 connection per member; etcd batches the proposals itself.
 *
 * One deliberate difference: `compact(R)` compacts etcd to R - 1, and compactRevision() is etcd's + 1. etcd drops a
 * deletion that happened exactly at its compact revision, yet still lets a watch start there, which would miss
 * that delete; one revision lower, every revision this store calls readable is complete in etcd, and a watch
 * from compactRevision() - 1 sees the event at compactRevision(), as the Store contract says.
 */
export class EtcdStore implements Store {
  readonly endpoints: readonly string[];
  /** The key prefix in etcd ('' for none). */
  readonly prefix: string;

  private readonly client: Client;
  private readonly requestTimeoutMs: number;
  private readonly compactTimeoutMs: number;
  /** @internal */
  readonly watchRetryMs: number;
  private readonly prefixBytes: number;
  /** `<prefix>\0`, a key no caller uses (Store keys start with '/'): the target of reads that only want a revision. */
  private readonly probeKey: Buffer;
  /** The highest compact revision of etcd seen so far (0 = none). Another server may have compacted further. */
  private etcdCompact = 0;
  private readonly watchers = new Set<EtcdWatcher>();
  private readonly inflight = new Set<Promise<unknown>>();
  private closed = false;

  /**
   * Connects to the members and checks that etcd answers (a linearizable read), so a wrong address fails at
   * start with a message naming it, not on the first request.
   */
  static async connect(opts: EtcdStoreOptions): Promise<EtcdStore> {
    if (opts.endpoints.length === 0) throw new StoreError('etcd store: no endpoints given');
    const store = new EtcdStore(await grpcTarget(opts.endpoints), opts);
    const dialTimeoutMs = opts.dialTimeoutMs ?? 10_000;
    try {
      await new Promise<void>((resolve, reject) =>
        store.client.waitForReady(Date.now() + dialTimeoutMs, (err) => (err ? reject(err) : resolve())),
      );
      await store.currentRevision();
    } catch (err) {
      await store.close();
      throw new StoreError(
        `etcd store ${opts.endpoints.join(',')}: cannot reach etcd within ${dialTimeoutMs} ms: ${(err as Error).message}`,
        { cause: err },
      );
    }
    return store;
  }

  private constructor(target: string, opts: EtcdStoreOptions) {
    this.endpoints = [...opts.endpoints];
    this.prefix = opts.prefix ?? '';
    this.prefixBytes = Buffer.byteLength(this.prefix);
    this.probeKey = Buffer.from(`${this.prefix}\0`);
    this.requestTimeoutMs = opts.requestTimeoutMs ?? 15_000;
    this.compactTimeoutMs = opts.compactTimeoutMs ?? 5 * 60_000;
    this.watchRetryMs = opts.watchRetryMs ?? 30_000;
    const creds = opts.tls ? credentials.createSsl(opts.tls.ca ?? null, opts.tls.key ?? null, opts.tls.cert ?? null) : credentials.createInsecure();
    this.client = new Client(target, creds, {
      'grpc.service_config': JSON.stringify({ loadBalancingConfig: [{ round_robin: {} }] }),
      // A list of all Pods easily exceeds grpc's default 4 MiB; etcd itself sends up to 2 GiB.
      'grpc.max_receive_message_length': -1,
      // Find a dead member under an idle watch. etcd refuses pings more often than every 5 s
      // (--grpc-keepalive-min-time), and pings without a call (permit_without_calls stays off).
      'grpc.keepalive_time_ms': 30_000,
      'grpc.keepalive_timeout_ms': 10_000,
      // grpc's default backoff grows to 2 minutes; a restarted member should be used again within seconds.
      'grpc.initial_reconnect_backoff_ms': 200,
      'grpc.max_reconnect_backoff_ms': 5_000,
    });
  }

  async currentRevision(): Promise<number> {
    this.checkOpen();
    return (await this.read({ key: this.probeKey, countOnly: true }, 'reading the current revision')).revision;
  }

  async compactRevision(): Promise<number> {
    this.checkOpen();
    return (await this.refreshCompact()) + 1;
  }

  async get(key: string, opts?: { revision?: number }): Promise<GetResult> {
    this.checkOpen();
    const revision = this.readRevision(opts?.revision);
    const res = await this.read({ key: this.key(key), revision }, `get ${key}`);
    // etcd's header carries the current revision even for a read in the past.
    return { revision: revision || res.revision, kv: res.kvs.length > 0 ? this.toKv(res.kvs[0]) : undefined };
  }

  async list(prefix: string, opts?: ListOptions): Promise<ListResult> {
    this.checkOpen();
    const revision = this.readRevision(opts?.revision);
    const [start, end] = this.range(prefix);
    let from = start;
    if (opts?.startKey !== undefined) {
      const s = this.key(opts.startKey);
      if (Buffer.compare(s, start) > 0) from = s;
    }
    const res = await this.read({ key: from, rangeEnd: end, revision, limit: opts?.limit ?? 0 }, `list ${prefix}`);
    return { revision: revision || res.revision, kvs: res.kvs.map((kv) => this.toKv(kv)), more: res.more };
  }

  async count(prefix: string): Promise<{ revision: number; count: number }> {
    this.checkOpen();
    const [key, rangeEnd] = this.range(prefix);
    const res = await this.read({ key, rangeEnd, countOnly: true }, `count ${prefix}`);
    return { revision: res.revision, count: res.count };
  }

  async create(key: string, value: string): Promise<WriteResult> {
    this.checkOpen();
    const k = this.key(key);
    const res = await this.txn(
      { compare: [{ key: k, target: 'create', equals: 0 }], success: [{ put: { key: k, value: Buffer.from(value) } }], failure: [] },
      `create ${key}`,
    );
    if (!res.succeeded) throw new KeyExistsError(key);
    // A write transaction's header revision is the revision it wrote.
    return { revision: res.revision, kv: { key, value, createRevision: res.revision, modRevision: res.revision } };
  }

  async update(key: string, value: string, expectedRevision: number): Promise<WriteResult> {
    this.checkOpen();
    if (!(expectedRevision > 0)) {
      // `mod_revision == 0` would match an absent key and create it; no live key has modRevision <= 0.
      const { kv } = await this.get(key);
      throw kv ? new RevisionConflictError(key, kv) : new KeyNotFoundError(key);
    }
    const k = this.key(key);
    const res = await this.txn(
      {
        compare: [{ key: k, target: 'mod', equals: expectedRevision }],
        success: [{ put: { key: k, value: Buffer.from(value), prevKv: true } }],
        failure: [{ range: { key: k } }],
      },
      `update ${key}`,
    );
    if (!res.succeeded) throw this.casFailure(key, res);
    const op = res.responses[0];
    const prev = 'put' in op ? op.put.prevKv : undefined;
    if (!prev) throw new StoreError(`etcd update ${key}: the response lacks the previous value`);
    return { revision: res.revision, kv: { key, value, createRevision: prev.createRevision, modRevision: res.revision } };
  }

  async delete(key: string, expectedRevision?: number): Promise<DeleteResult> {
    this.checkOpen();
    const k = this.key(key);
    let revision: number;
    let prev: EtcdKeyValue | undefined;
    if (expectedRevision === undefined) {
      const res = await this.call(KV_DELETE_RANGE, encodeDeleteRangeRequest({ key: k, prevKv: true }), decodeDeleteRangeResponse)
        .catch((err: unknown) => {
          throw this.storeError(err, `delete ${key}`);
        });
      revision = res.revision;
      prev = res.prevKvs[0];
    } else {
      // A guard that fails on an absent key too: mod_revision == expected (an absent key has 0, never expected).
      const res = await this.txn(
        {
          compare: [{ key: k, target: 'mod', equals: expectedRevision }],
          success: [{ deleteRange: { key: k, prevKv: true } }],
          failure: [{ range: { key: k } }],
        },
        `delete ${key}`,
      );
      if (!res.succeeded) throw this.casFailure(key, res);
      revision = res.revision;
      const op = res.responses[0];
      prev = 'deleteRange' in op ? op.deleteRange.prevKvs[0] : undefined;
    }
    // Deleting nothing writes nothing in etcd: no new revision.
    if (!prev) throw new KeyNotFoundError(key);
    return { revision, kv: { ...this.toKv(prev), modRevision: revision } };
  }

  watch(prefix: string, opts: WatchOptions): Watch {
    this.checkOpen();
    const [key, rangeEnd] = this.range(prefix);
    const w = new EtcdWatcher(this, prefix, key, rangeEnd, opts);
    this.watchers.add(w);
    w.start();
    return { cancel: () => w.stop() };
  }

  /**
   * Compacts etcd to revision - 1 (see the class comment), physically: resolves once etcd has dropped the history.
   * Space in etcd's file is reused, not given back; that takes `etcdctl defrag`, which blocks the member meanwhile.
   */
  async compact(revision: number): Promise<void> {
    this.checkOpen();
    if (!Number.isSafeInteger(revision) || revision < 1) throw new StoreError(`invalid revision: ${revision}`);
    if (revision <= this.etcdCompact + 1) throw new CompactedError(revision, this.etcdCompact + 1);
    // etcd would accept revision - 1 = current, so the future check is ours.
    const current = await this.currentRevision();
    if (revision > current) throw new FutureRevisionError(revision, current);
    try {
      await this.call(
        KV_COMPACT,
        encodeCompactionRequest({ revision: revision - 1, physical: true }),
        decodeCompactionResponse,
        this.compactTimeoutMs,
      );
    } catch (err) {
      // Another server compacted as far or further meanwhile.
      if (isCompactedError(err)) throw new CompactedError(revision, (await this.refreshCompact()) + 1);
      throw this.storeError(err, `compact to ${revision}`);
    }
    this.learnCompact(revision - 1);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const err = new StoreError('store is closed');
    for (const w of [...this.watchers]) w.fail(err);
    // Requests already sent finish (a write etcd acknowledges still resolves); then the connections go.
    await Promise.allSettled([...this.inflight]);
    this.client.close();
  }

  // ---- internals shared with EtcdWatcher ----

  /** @internal */
  get isClosed(): boolean {
    return this.closed;
  }

  /** @internal */
  forget(w: EtcdWatcher): void {
    this.watchers.delete(w);
  }

  /** @internal Opens a Watch stream; etcd ends it with "no leader" when its member loses the leader. */
  openWatchStream(): ClientDuplexStream<Buffer, Buffer> {
    const md = new Metadata();
    md.set('hasleader', 'true');
    return this.client.makeBidiStreamRequest(WATCH, raw, raw, md);
  }

  /** @internal Records an etcd compact revision learnt from a response. */
  learnCompact(etcdRevision: number): void {
    if (etcdRevision > this.etcdCompact) this.etcdCompact = etcdRevision;
  }

  /**
   * @internal Refuses a watch whose first revision (afterRevision + 1) is below compactRevision(). etcd itself
   * only refuses one that starts below its compact revision, one lower; the read at start - 1 catches that case
   * when another server compacted without this one knowing.
   */
  async checkWatchStart(start: number): Promise<void> {
    if (!Number.isSafeInteger(start) || start < 1) throw new StoreError(`invalid revision: ${start - 1}`);
    if (start <= this.etcdCompact) throw new CompactedError(start, this.etcdCompact + 1);
    if (start === 1) return;
    try {
      await this.call(KV_RANGE, encodeRangeRequest({ key: this.probeKey, revision: start - 1, countOnly: true }), decodeRangeResponse);
    } catch (err) {
      if (isFutureRevisionError(err)) return; // a watch from the future waits for it
      if (isCompactedError(err)) throw new CompactedError(start, (await this.refreshCompact()) + 1);
      throw this.storeError(err, `starting a watch from revision ${start}`);
    }
  }

  /** @internal */
  toEvent(ev: EtcdEvent): WatchEvent {
    const revision = ev.kv.modRevision;
    // etcd reads prevKv at revision - 1 for each event; it is absent only if a compaction beat it to that read.
    const prevKv = ev.prevKv && this.toKv(ev.prevKv);
    if (ev.type === 'put') {
      const kv = this.toKv(ev.kv);
      if (kv.createRevision === kv.modRevision) return { type: 'create', kv, revision };
      return prevKv ? { type: 'update', kv, prevKv, revision } : { type: 'update', kv, revision };
    }
    // etcd's delete event carries only the key and the revision; the Store's carries the last value.
    const kv: KeyValue = {
      key: this.unkey(ev.kv.key),
      value: prevKv?.value ?? '',
      createRevision: prevKv?.createRevision ?? 0,
      modRevision: revision,
    };
    return prevKv ? { type: 'delete', kv, prevKv, revision } : { type: 'delete', kv, revision };
  }

  /** @internal */
  storeError(err: unknown, what: string): Error {
    if (err instanceof StoreError) return err;
    const detail = (err as Partial<ServiceError>).details || (err as Error).message;
    if (isSpaceExceeded(err)) return new StoreFullError(`etcd ${what}: ${detail} (endpoints ${this.endpoints.join(',')})`, { cause: err });
    return new StoreError(`etcd ${what}: ${detail} (endpoints ${this.endpoints.join(',')})`, { cause: err });
  }

  // ---- helpers ----

  private key(key: string): Buffer {
    return Buffer.from(this.prefix + key);
  }

  private unkey(key: Buffer): string {
    return key.toString('utf8', this.prefixBytes);
  }

  /** [start, end) of every key under prefix, in etcd's terms (end [0] = no upper bound). */
  private range(prefix: string): [Buffer, Buffer] {
    const start = this.key(prefix);
    if (start.length === 0) return [Buffer.from([0]), Buffer.from([0])];
    // The prefix end in byte order: drop trailing 0xff bytes, then increment the last byte.
    let n = start.length;
    while (n > 0 && start[n - 1] === 0xff) n--;
    if (n === 0) return [start, Buffer.from([0])];
    const end = Buffer.from(start.subarray(0, n));
    end[n - 1]++;
    return [start, end];
  }

  private toKv(kv: EtcdKeyValue): KeyValue {
    return {
      key: this.unkey(kv.key),
      value: kv.value.toString('utf8'),
      createRevision: kv.createRevision,
      modRevision: kv.modRevision,
    };
  }

  /** A requested read revision: 0 for current; refused here if this store already knows it is compacted. */
  private readRevision(revision: number | undefined): number {
    if (revision === undefined || revision === 0) return 0;
    if (!Number.isSafeInteger(revision) || revision < 0) throw new StoreError(`invalid revision: ${revision}`);
    if (revision <= this.etcdCompact) throw new CompactedError(revision, this.etcdCompact + 1);
    return revision;
  }

  /** A Range, retried on UNAVAILABLE (reads are idempotent; another member may answer), with etcd's errors mapped. */
  private async read(req: RangeRequest, what: string): Promise<RangeResponse> {
    const body = encodeRangeRequest(req);
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.call(KV_RANGE, body, decodeRangeResponse);
      } catch (err) {
        if (req.revision && isCompactedError(err)) throw new CompactedError(req.revision, (await this.refreshCompact()) + 1);
        if (req.revision && isFutureRevisionError(err)) throw new FutureRevisionError(req.revision, await this.currentRevision());
        if (grpcCode(err) !== status.UNAVAILABLE || attempt === 3 || this.closed) throw this.storeError(err, what);
        await new Promise((resolve) => setTimeout(resolve, 100 * attempt));
      }
    }
  }

  /** Writes are not retried: a write whose answer was lost may have been applied. */
  private txn(req: TxnRequest, what: string): Promise<TxnResponse> {
    return this.call(KV_TXN, encodeTxnRequest(req), decodeTxnResponse).catch((err: unknown) => {
      throw this.storeError(err, what);
    });
  }

  /** The error for a failed mod_revision guard; the failure branch read the key. */
  private casFailure(key: string, res: TxnResponse): Error {
    const op = res.responses[0];
    const current = op && 'range' in op ? op.range.kvs[0] : undefined;
    return current ? new RevisionConflictError(key, this.toKv(current)) : new KeyNotFoundError(key);
  }

  /**
   * etcd's compact revision. etcd has no call that reports it, so: a read at the one known so far succeeds if
   * nobody compacted further; otherwise a watch from there is cancelled by etcd with the compact revision.
   */
  private async refreshCompact(): Promise<number> {
    const known = this.etcdCompact;
    try {
      await this.call(KV_RANGE, encodeRangeRequest({ key: this.probeKey, revision: Math.max(known, 1), countOnly: true }), decodeRangeResponse);
      return known;
    } catch (err) {
      if (!isCompactedError(err)) throw this.storeError(err, 'reading the compact revision');
    }
    this.learnCompact(await this.compactRevisionFromWatch(Math.max(known, 1)));
    return this.etcdCompact;
  }

  /** Opens a watch that etcd will refuse as compacted and reads the compact revision from the refusal. */
  private compactRevisionFromWatch(startRevision: number): Promise<number> {
    return this.track(
      new Promise<number>((resolve, reject) => {
        const stream = this.openWatchStream();
        let settled = false;
        const finish = (err: Error | undefined, revision = 0) => {
          if (settled) return;
          settled = true;
          clearTimeout(timer);
          stream.cancel();
          if (err) reject(err);
          else resolve(revision);
        };
        // etcd answers a compacted start revision from its sync loop (every 100 ms).
        const timer = setTimeout(
          () => finish(new StoreError(`etcd did not report its compact revision (watch from ${startRevision})`)),
          5_000,
        );
        stream.on('data', (buf: Buffer) => {
          try {
            const res = decodeWatchResponse(buf);
            if (res.compactRevision > 0) finish(undefined, res.compactRevision);
            else if (res.canceled) finish(new StoreError(`etcd cancelled a watch: ${res.cancelReason || 'no reason given'}`));
          } catch (err) {
            finish(err as Error);
          }
        });
        stream.on('error', (err) => finish(this.storeError(err, 'reading the compact revision')));
        stream.on('end', () => finish(new StoreError('etcd ended a watch stream before reporting its compact revision')));
        stream.write(encodeWatchCreateRequest({ key: this.probeKey, startRevision }));
      }),
    );
  }

  private call<T>(method: string, body: Buffer, decode: (b: Buffer) => T, timeoutMs = this.requestTimeoutMs): Promise<T> {
    if (this.closed) return Promise.reject(new StoreError('store is closed'));
    return this.track(
      new Promise<T>((resolve, reject) => {
        this.client.makeUnaryRequest(method, raw, raw, body, { deadline: Date.now() + timeoutMs }, (err, res) => {
          if (err) return reject(err);
          try {
            resolve(decode(res!));
          } catch (decodeErr) {
            reject(new StoreError(`etcd ${method}: cannot decode the response: ${(decodeErr as Error).message}`, { cause: decodeErr }));
          }
        });
      }),
    );
  }

  private track<T>(p: Promise<T>): Promise<T> {
    this.inflight.add(p);
    const done = () => this.inflight.delete(p);
    p.then(done, done);
    return p;
  }

  private checkOpen(): void {
    if (this.closed) throw new StoreError('store is closed');
  }
}

/**
 * One Store watch: an etcd Watch stream of its own (etcd keeps an HTTP/2 stream per watch cheaply, and a failure
 * stays local). When the stream breaks (member down, leader lost), it is opened again from the last delivered
 * revision + 1, for up to watchRetryMs; events at or below that revision are dropped, so the caller sees no gap
 * and no duplicate across reconnects.
 */
class EtcdWatcher {
  private stopped = false;
  /** Highest revision delivered (or afterRevision). */
  private cursor: number;
  private stream: ClientDuplexStream<Buffer, Buffer> | undefined;
  private pending: WatchEvent[] = [];
  private flushQueued = false;
  /** When the current outage began; undefined while the stream works. */
  private brokenSince: number | undefined;
  private backoffMs = 0;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly store: EtcdStore,
    private readonly prefix: string,
    private readonly key: Buffer,
    private readonly rangeEnd: Buffer,
    private readonly opts: WatchOptions,
  ) {
    this.cursor = opts.afterRevision;
  }

  start(): void {
    this.connect().catch((err: Error) => this.fail(err));
  }

  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    this.pending = [];
    if (this.timer) clearTimeout(this.timer);
    const stream = this.stream;
    this.stream = undefined;
    stream?.cancel();
    this.store.forget(this);
  }

  fail(err: Error): void {
    if (this.stopped) return;
    this.stop();
    this.opts.onError(err);
  }

  private async connect(): Promise<void> {
    const start = this.cursor + 1;
    try {
      await this.store.checkWatchStart(start);
    } catch (err) {
      if (this.stopped) return;
      if (!(err instanceof CompactedError) && RETRYABLE.has(grpcCode(err) ?? -1)) return this.retry(err as Error);
      throw err;
    }
    if (this.stopped) return;
    if (this.store.isClosed) throw new StoreError('store is closed');
    const stream = this.store.openWatchStream();
    this.stream = stream;
    stream.on('data', (buf: Buffer) => this.onResponse(stream, buf));
    stream.on('error', (err: ServiceError) => this.onBroken(stream, err));
    stream.on('end', () => this.onBroken(stream, new StoreError('etcd ended the watch stream')));
    stream.write(encodeWatchCreateRequest({ key: this.key, rangeEnd: this.rangeEnd, startRevision: start, prevKv: true }));
  }

  private onResponse(stream: ClientDuplexStream<Buffer, Buffer>, buf: Buffer): void {
    if (stream !== this.stream) return;
    let res;
    try {
      res = decodeWatchResponse(buf);
    } catch (err) {
      this.fail(new StoreError(`etcd watch on ${this.prefix}: cannot decode a response: ${(err as Error).message}`, { cause: err }));
      return;
    }
    if (res.compactRevision > 0) {
      this.store.learnCompact(res.compactRevision);
      this.fail(new CompactedError(this.cursor + 1, res.compactRevision + 1));
      return;
    }
    if (res.canceled) {
      this.fail(new StoreError(`etcd cancelled the watch on ${this.prefix}: ${res.cancelReason || 'no reason given'}`));
      return;
    }
    if (res.created) {
      this.brokenSince = undefined;
      this.backoffMs = 0;
    }
    if (res.events.length === 0) return;
    let events: WatchEvent[];
    try {
      events = res.events.map((ev) => this.store.toEvent(ev));
    } catch (err) {
      this.fail(err as Error);
      return;
    }
    for (const ev of events) {
      if (ev.revision > this.cursor) {
        this.pending.push(ev);
        this.cursor = ev.revision;
      }
    }
    if (this.pending.length > 0 && !this.flushQueued) {
      this.flushQueued = true;
      queueMicrotask(() => this.flush());
    }
  }

  private flush(): void {
    this.flushQueued = false;
    if (this.stopped || this.pending.length === 0) return;
    const batch = this.pending;
    this.pending = [];
    try {
      this.opts.onEvents(batch);
    } catch (err) {
      // A receiver that throws has lost events it was handed; it must not silently carry on.
      this.fail(err as Error);
    }
  }

  private onBroken(stream: ClientDuplexStream<Buffer, Buffer>, err: Error): void {
    if (stream !== this.stream) return;
    this.stream = undefined;
    stream.cancel();
    if (this.store.isClosed) return this.fail(new StoreError('store is closed'));
    if (err instanceof StoreError || RETRYABLE.has(grpcCode(err) ?? -1)) return this.retry(err);
    this.fail(this.store.storeError(err, `watch on ${this.prefix}`));
  }

  private retry(err: Error): void {
    const now = Date.now();
    this.brokenSince ??= now;
    if (now - this.brokenSince >= this.store.watchRetryMs) {
      this.fail(
        new StoreError(`etcd watch on ${this.prefix}: not re-established within ${now - this.brokenSince} ms: ${err.message}`, {
          cause: err,
        }),
      );
      return;
    }
    this.backoffMs = Math.min(Math.max(this.backoffMs * 2, 100), 2_000);
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.connect().catch((e: Error) => this.fail(e));
    }, this.backoffMs);
  }
}
