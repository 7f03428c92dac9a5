/**
 * WATCH (endpoints/handlers/watch.go and the watch cache's cacheWatcher): a stream of JSON lines, one event each.
 *
 * Memory is bounded: the initial events are written with back-pressure (the stream waits while the client has not
 * taken what it was sent); a live watcher whose unread backlog passes `maxWatcherBytes` is closed, and when all
 * watchers together hold more than `maxTotalBytes`, the ones furthest behind are closed until the total is back
 * under the bound. A closed watcher's client relists and watches again, as with kube-apiserver's watch cache, which
 * terminates watchers that cannot keep up.
 */
import type { ServerResponse } from 'node:http';
import type { KubeObject } from '../../api/object.js';
import { badRequest, internalError, isStatusError, StatusError } from '../../api/status.js';
import { buildFilter, everythingFilter, type ObjectFilter } from '../filters.js';
import type { ResourceDefinition } from '../registry/types.js';
import { parseResourceVersion } from '../resource-ops.js';
import { parseIncludeObject, type TableOptions } from '../table.js';
import type { CacheEvent } from '../watch-cache.js';
import { parseBool } from './decode.js';
import { negotiateResponse, WatchEventEncoder } from './output.js';
import type { ApiRequest, Outward, RequestScope } from './scope.js';

export interface WatchLimits {
  /** Unread bytes one live watcher may hold before it is closed. */
  maxWatcherBytes: number;
  /** Unread bytes all watchers together may hold. */
  maxTotalBytes: number;
  /** While sending initial events, the stream pauses above this many unread bytes. */
  initialHighWaterBytes: number;
  /** A client that takes nothing for this long while initial events are sent is cut off. */
  initialStallMs: number;
  /** Interval between watch bookmarks (upstream sends about one a minute). */
  bookmarkIntervalMs: number;
}

export const DEFAULT_WATCH_LIMITS: WatchLimits = {
  maxWatcherBytes: 16 * 1024 * 1024,
  maxTotalBytes: 256 * 1024 * 1024,
  initialHighWaterBytes: 4 * 1024 * 1024,
  initialStallMs: 60_000,
  bookmarkIntervalMs: 60_000,
};

/** The open watches of one server: ended on shutdown, and held under one memory bound together. */
export class WatchRegistry {
  private readonly streams = new Set<WatchStream>();
  /** Bytes written since the last exact count (an over-estimate of what is buffered). */
  private writtenSinceCount = 0;

  constructor(readonly limits: WatchLimits) {}

  get size(): number {
    return this.streams.size;
  }

  add(stream: WatchStream): void {
    this.streams.add(stream);
  }

  delete(stream: WatchStream): void {
    this.streams.delete(stream);
  }

  closeAll(): void {
    for (const s of [...this.streams]) s.stop();
  }

  /** Called after each write: counts exactly only when the cheap estimate passes the bound. */
  wrote(bytes: number): void {
    this.writtenSinceCount += bytes;
    if (this.writtenSinceCount <= this.limits.maxTotalBytes) return;
    let total = 0;
    for (const s of this.streams) total += s.buffered;
    if (total > this.limits.maxTotalBytes) {
      const byBacklog = [...this.streams].sort((a, b) => b.buffered - a.buffered);
      for (const s of byBacklog) {
        if (total <= this.limits.maxTotalBytes / 2) break;
        total -= s.buffered;
        s.stop();
      }
    }
    this.writtenSinceCount = total;
  }
}

interface WatchParams {
  filter: ObjectFilter;
  afterRevision: number | undefined;
  rvRaw: string;
  bookmarks: boolean;
  sendInitial: boolean | undefined;
  timeoutMs: number;
  encoder: WatchEventEncoder;
}

function parseWatchParams(scope: RequestScope, r: ApiRequest): WatchParams {
  const { query, def } = r;
  const ns = r.info.namespace;
  const baseFilter = buildFilter(scope.storageOf(def), query.get('labelSelector'), query.get('fieldSelector'));
  const filter: ObjectFilter = def.namespaced && ns ? { empty: false, matches: (o) => o.metadata.namespace === ns && baseFilter.matches(o) } : baseFilter;
  const rvRaw = query.get('resourceVersion') ?? '';
  // `watch=yes` reached this handler (request info watches on anything but false and 0, as upstream's does); decoding
  // ListOptions refuses it, as Go's strconv.ParseBool.
  parseBool('watch', query.get('watch'));
  const sendInitial = parseBool('sendInitialEvents', query.get('sendInitialEvents'));
  if (sendInitial === true && query.get('resourceVersionMatch') !== 'NotOlderThan') {
    throw new StatusError({ message: 'resourceVersionMatch: Forbidden: sendInitialEvents requires setting resourceVersionMatch to NotOlderThan', reason: 'Invalid', code: 422 });
  }
  const timeoutRaw = query.get('timeoutSeconds');
  // Without timeoutSeconds the real server picks 30-60 minutes at random; clients simply re-watch.
  const timeoutSec = timeoutRaw ? Number(timeoutRaw) : 1800 * (1 + Math.random());
  if (!Number.isFinite(timeoutSec) || timeoutSec < 0) throw badRequest(`timeoutSeconds: Invalid value: ${JSON.stringify(timeoutRaw)}`);
  const fmt = negotiateResponse(r.req, query, def, true);
  const table: TableOptions | undefined =
    fmt.convert?.kind === 'Table' ? { tableVersion: fmt.convert.version as TableOptions['tableVersion'], includeObject: parseIncludeObject(query.get('includeObject')), now: new Date() } : undefined;
  return {
    filter,
    rvRaw,
    afterRevision: rvRaw === '' || rvRaw === '0' ? undefined : parseResourceVersion(rvRaw),
    bookmarks: parseBool('allowWatchBookmarks', query.get('allowWatchBookmarks')) ?? false,
    sendInitial,
    timeoutMs: timeoutSec * 1000,
    encoder: new WatchEventEncoder(def, fmt, table),
  };
}

export function watchResource(scope: RequestScope, r: ApiRequest, registry: WatchRegistry): void {
  const params = parseWatchParams(scope, r);
  new WatchStream(scope, r.def, r.res, params, registry).start(r);
}

export class WatchStream {
  private closed = false;
  private lastRevision: number;
  /** Live events that arrive while the initial events are still being written wait here, to keep their order. */
  private heldBack: string | undefined;
  private sub: { stop(): void } = { stop() {} };
  private bookmarkTimer: NodeJS.Timeout | undefined;
  private timeoutTimer: NodeJS.Timeout | undefined;
  private readonly storage: ResourceDefinition;
  /**
   * Objects converted by a conversion webhook ahead of their encoding (`storedAs.remote`), and the chain that keeps
   * live events in order while their conversions are under way.
   */
  private readonly converted = new Map<KubeObject, Outward>();
  private converting: Promise<void> | undefined;

  constructor(
    private readonly scope: RequestScope,
    private readonly def: ResourceDefinition,
    private readonly res: ServerResponse,
    private readonly params: WatchParams,
    private readonly registry: WatchRegistry,
  ) {
    this.lastRevision = params.afterRevision ?? 0;
    this.storage = scope.storageOf(def);
  }

  /** Unread bytes the client has not taken yet. */
  get buffered(): number {
    return this.res.writableLength;
  }

  start(r: ApiRequest): void {
    // No explicit Transfer-Encoding: Node chunks for HTTP/1.1 and ends the body with the connection for HTTP/1.0.
    this.res.writeHead(200, {
      'Content-Type': this.params.encoder.contentType,
      'Cache-Control': 'no-cache, private',
    });
    this.res.flushHeaders();
    this.registry.add(this);
    r.req.on('close', () => this.stop());
    this.res.on('error', () => this.stop());
    this.timeoutTimer = setTimeout(() => this.stop(), this.params.timeoutMs);
    this.run().catch((err) => {
      this.writeLine(this.params.encoder.error((isStatusError(err) ? err.status : internalError(err).status) as unknown as Record<string, unknown>));
      this.stop();
    });
  }

  stop(): void {
    if (this.closed) return;
    this.closed = true;
    this.sub.stop();
    clearInterval(this.bookmarkTimer);
    clearTimeout(this.timeoutTimer);
    this.registry.delete(this);
    this.res.end();
  }

  private async run(): Promise<void> {
    const { params, storage } = this;
    const ops = this.scope.ops;
    const onError = (err: StatusError) => {
      this.writeLine(this.params.encoder.error(err.status as unknown as Record<string, unknown>));
      this.stop();
    };
    const initialEvents = params.sendInitial === true || (params.afterRevision === undefined && params.sendInitial !== false);
    if (initialEvents) {
      // These lists only wait until the cache is fresh enough (the namespace filter applies to the events).
      if (params.afterRevision !== undefined) {
        // sendInitialEvents with NotOlderThan: the snapshot must be at least that fresh.
        await ops.list(storage, '', { filter: everythingFilter, resourceVersion: String(params.afterRevision), limit: 1 });
      } else if (params.rvRaw === '') {
        // A consistent watch start (no resourceVersion): the snapshot reflects the store as of now.
        await ops.list(storage, '', { filter: everythingFilter, limit: 1 });
      }
      if (this.closed) return;
      this.heldBack = '';
      const snap = ops.snapshotAndWatch(storage, (events) => this.deliver(events), onError);
      this.sub = snap;
      this.lastRevision = snap.revision;
      await this.sendInitial(snap.items);
      if (this.closed) return;
      const held = this.heldBack;
      this.heldBack = undefined;
      if (held && !this.writeLine(held)) return;
      if (params.sendInitial === true && params.bookmarks) this.bookmark({ 'k8s.io/initial-events-end': 'true' });
    } else {
      const from = params.afterRevision ?? ops.cacheRevision;
      this.lastRevision = from;
      this.sub = ops.watch(storage, from, (events) => this.deliver(events), onError);
    }
    if (this.closed) this.sub.stop();
    else if (params.bookmarks) this.bookmarkTimer = setInterval(() => this.bookmark(), this.registry.limits.bookmarkIntervalMs);
  }

  /**
   * Writes the synthetic ADDED events of the snapshot in batches, pausing while the client has not taken what it
   * was sent. Live events arriving meanwhile queue behind them in the response, in order.
   */
  private async sendInitial(items: { obj: KubeObject; json: string }[]): Promise<void> {
    const { filter } = this.params;
    const limits = this.registry.limits;
    if (this.def.storedAs?.remote) await this.convertAhead(items.filter((item) => filter.matches(item.obj)).map((item) => item.obj));
    let out = '';
    for (const item of items) {
      if (this.closed) return;
      if (!filter.matches(item.obj)) continue;
      out += this.encode('ADDED', item.obj, item.json);
      if (out.length < 256 * 1024) continue;
      this.writeLine(out, false);
      out = '';
      if (this.res.writableLength > limits.initialHighWaterBytes) await this.waitForRoom();
    }
    if (out) this.writeLine(out, false);
  }

  private async waitForRoom(): Promise<void> {
    const limits = this.registry.limits;
    const deadline = Date.now() + limits.initialStallMs;
    while (!this.closed && this.res.writableLength > limits.initialHighWaterBytes / 2) {
      if (Date.now() > deadline) {
        this.stop();
        return;
      }
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
  }

  /**
   * Converts, in one call to the CRD's conversion webhook, the objects that need it. A failed conversion ends the
   * watch with an ERROR event carrying the Status, as the request would have failed.
   */
  private async convertAhead(objs: KubeObject[]): Promise<void> {
    if (this.closed) return;
    const remote = this.def.storedAs!.remote!;
    const gv = this.def.group ? `${this.def.group}/${this.def.version}` : this.def.version;
    const todo = objs.filter((o) => o.apiVersion !== gv);
    if (todo.length === 0) return;
    const out = await remote.fromStorage(todo);
    todo.forEach((o, i) => this.converted.set(o, { obj: out[i]!, json: JSON.stringify(out[i]) }));
  }

  /** The watch cache's sink: false stops the subscription. */
  private deliver(events: CacheEvent[]): boolean {
    if (this.closed) return false;
    if (!this.def.storedAs?.remote) return this.deliverNow(events);
    const objs = events.map((ev) => ev.obj);
    this.converting = (this.converting ?? Promise.resolve())
      .then(() => this.convertAhead(objs))
      .then(
        () => {
          this.deliverNow(events);
          // Objects the filter skipped were converted too.
          for (const ev of events) this.converted.delete(ev.obj);
        },
        (err) => {
          this.writeLine(this.params.encoder.error((isStatusError(err) ? err.status : internalError(err).status) as unknown as Record<string, unknown>));
          this.stop();
        },
      );
    return true;
  }

  private deliverNow(events: CacheEvent[]): boolean {
    if (this.closed) return false;
    const { filter } = this.params;
    let out = '';
    for (const ev of events) {
      if (ev.revision <= this.lastRevision) continue;
      this.lastRevision = ev.revision;
      let type: string = ev.type;
      if (!filter.empty) {
        const now = ev.type !== 'DELETED' && filter.matches(ev.obj);
        const before = ev.prev !== undefined && filter.matches(ev.prev);
        if (ev.type === 'DELETED') {
          if (!before && !filter.matches(ev.obj)) continue;
        } else if (now && !before) type = 'ADDED';
        else if (!now && before) type = 'DELETED';
        else if (!now) continue;
      }
      out += this.encode(type, ev.obj, ev.json);
    }
    if (out === '') return true;
    if (this.heldBack !== undefined) {
      this.heldBack += out;
      if (this.heldBack.length <= this.registry.limits.maxWatcherBytes) return true;
      this.stop();
      return false;
    }
    return this.writeLine(out);
  }

  private encode(type: string, storedObj: KubeObject, storedJson: string): string {
    const ahead = this.converted.get(storedObj);
    if (ahead) this.converted.delete(storedObj);
    const { obj, json } = ahead ?? this.scope.outward(this.def, storedObj, storedJson);
    return this.params.encoder.event(type, obj, json ?? JSON.stringify(obj));
  }

  /** Writes event lines; a live watcher whose backlog passes the bound is closed (its client relists). */
  private writeLine(line: string, live = true): boolean {
    if (this.closed) return false;
    // The backlog before this write decides: a burst larger than the bound still reaches a client that reads.
    if (live && this.res.writableLength > this.registry.limits.maxWatcherBytes) {
      this.stop();
      return false;
    }
    this.res.write(line, this.params.encoder.encoding);
    this.registry.wrote(line.length);
    return !this.closed;
  }

  private bookmark(annotations?: Record<string, string>): void {
    const rv = String(Math.max(this.lastRevision, this.scope.ops.cacheRevision));
    this.writeLine(this.params.encoder.bookmark({ resourceVersion: rv, ...(annotations ? { annotations } : {}) }));
  }
}
