/**
 * List+watch of one resource, as client-go's reflector: list (paged), then watch from the list's resourceVersion with
 * bookmarks; a watch that ends is resumed from the last resourceVersion seen; a 410 Gone (the history was compacted),
 * an error or a lost connection (a server restart) leads to a relist after a back-off. Events are queued as they
 * arrive and applied once per animation frame, all watches together, so a burst of thousands of events costs one
 * render, not thousands.
 */
import { ApiError, authHeaders, getJson, resourcePath, type ResourceType } from './api.js';

export interface KubeObject {
  apiVersion?: string;
  kind?: string;
  metadata?: { name?: string; namespace?: string; uid?: string; resourceVersion?: string; [k: string]: unknown };
  [k: string]: unknown;
}

export type WatchState = 'connecting' | 'live' | 'reconnecting' | 'forbidden';

interface WatchEvent {
  type: 'ADDED' | 'MODIFIED' | 'DELETED' | 'BOOKMARK' | 'ERROR';
  object: KubeObject & { code?: number; message?: string };
}

export interface ListWatchOptions {
  namespace?: string;
  labelSelector?: string;
  fieldSelector?: string;
}

const keyOf = (o: KubeObject) => `${o.metadata?.namespace ?? ''}/${o.metadata?.name ?? ''}`;

/** Applies every watch's queued events in one animation frame (or after 200 ms when frames do not come: hidden tab). */
const dirty = new Set<ListWatch<KubeObject>>();
let flushScheduled = false;
function scheduleFlush(lw: ListWatch<KubeObject>): void {
  dirty.add(lw);
  if (flushScheduled) return;
  flushScheduled = true;
  let done = false;
  const run = () => {
    if (done) return;
    done = true;
    flushScheduled = false;
    const batch = [...dirty];
    dirty.clear();
    for (const w of batch) w.flush();
  };
  requestAnimationFrame(run);
  setTimeout(run, 200);
}

export class ListWatch<T extends KubeObject> {
  readonly items = new Map<string, T>();
  state: WatchState = 'connecting';
  /** The last failure (shown on the page while reconnecting). */
  error: string | undefined;
  /** Counts applied batches: a cheap version for memoised views. */
  version = 0;
  /** Relists so far (a test and the status bar show it). */
  relists = 0;
  #queue: WatchEvent[] = [];
  #replace: Map<string, T> | undefined;
  #rv = '';
  #abort = new AbortController();
  #stopped = false;
  readonly #listeners = new Set<() => void>();

  constructor(
    readonly type: ResourceType,
    readonly opts: ListWatchOptions = {},
  ) {
    void this.#run();
  }

  subscribe(fn: () => void): () => void {
    this.#listeners.add(fn);
    return () => this.#listeners.delete(fn);
  }

  stop(): void {
    this.#stopped = true;
    this.#abort.abort();
  }

  /** Applies queued events (called by the frame scheduler). */
  flush(): void {
    if (this.#replace) {
      this.items.clear();
      for (const [k, v] of this.#replace) this.items.set(k, v);
      this.#replace = undefined;
    }
    for (const ev of this.#queue) {
      if (ev.type === 'DELETED') this.items.delete(keyOf(ev.object));
      else this.items.set(keyOf(ev.object), ev.object as T);
    }
    this.#queue = [];
    this.version++;
    for (const fn of this.#listeners) fn();
  }

  #setState(state: WatchState, error?: string): void {
    this.state = state;
    this.error = error;
    scheduleFlush(this as unknown as ListWatch<KubeObject>);
  }

  #query(extra: Record<string, string>): string {
    const q = new URLSearchParams(extra);
    if (this.opts.labelSelector) q.set('labelSelector', this.opts.labelSelector);
    if (this.opts.fieldSelector) q.set('fieldSelector', this.opts.fieldSelector);
    return `${resourcePath(this.type, this.opts.namespace)}?${q}`;
  }

  async #list(): Promise<void> {
    const fresh = new Map<string, T>();
    let cont = '';
    do {
      const page = await getJson<{ metadata: { resourceVersion: string; continue?: string }; items: T[] }>(
        this.#query({ limit: '500', ...(cont ? { continue: cont } : {}) }),
        this.#abort.signal,
      );
      for (const item of page.items) fresh.set(keyOf(item), item);
      cont = page.metadata.continue ?? '';
      this.#rv = page.metadata.resourceVersion;
    } while (cont);
    this.#queue = [];
    this.#replace = fresh;
  }

  async #run(): Promise<void> {
    let backoff = 250;
    let needList = true;
    while (!this.#stopped) {
      try {
        if (needList) {
          await this.#list();
          this.relists++;
          needList = false;
        }
        this.#setState('live');
        backoff = 250;
        const outcome = await this.#watch();
        if (outcome === 'gone') needList = true;
      } catch (err) {
        if (this.#stopped) return;
        const message = err instanceof ApiError ? err.message : String((err as Error).message ?? err);
        // Forbidden is no outage: said once, and asked again only every 30 s (a role may be granted meanwhile).
        const forbidden = err instanceof ApiError && err.code === 403;
        this.#setState(forbidden ? 'forbidden' : 'reconnecting', message);
        needList = true;
        await new Promise((r) => setTimeout(r, forbidden ? 30_000 : backoff));
        if (!forbidden) backoff = Math.min(backoff * 2, 4000);
      }
    }
  }

  /** One watch request; resolves when it ends ('ended': resume from the last resourceVersion; 'gone': relist). */
  async #watch(): Promise<'ended' | 'gone'> {
    const path = this.#query({ watch: '1', resourceVersion: this.#rv, allowWatchBookmarks: 'true', timeoutSeconds: String(240 + Math.floor(Math.random() * 60)) });
    const res = await fetch(path, { headers: { Accept: 'application/json', ...authHeaders() }, credentials: 'same-origin', cache: 'no-store', signal: this.#abort.signal });
    if (res.status === 410) return 'gone';
    if (!res.ok || !res.body) {
      const text = await res.text().catch(() => '');
      let message = `${res.status} ${res.statusText}`;
      try {
        message = (JSON.parse(text) as { message?: string }).message ?? message;
      } catch {
        // not a Status
      }
      throw new ApiError(message, res.status, '');
    }
    const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
    let buffer = '';
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return 'ended';
      buffer += value;
      let nl: number;
      while ((nl = buffer.indexOf('\n')) >= 0) {
        const line = buffer.slice(0, nl);
        buffer = buffer.slice(nl + 1);
        if (line.trim() === '') continue;
        const ev = JSON.parse(line) as WatchEvent;
        if (ev.type === 'ERROR') {
          if (ev.object.code === 410) return 'gone';
          throw new ApiError(ev.object.message ?? 'watch error', ev.object.code ?? 500, '');
        }
        const rv = ev.object.metadata?.resourceVersion;
        if (rv) this.#rv = rv;
        if (ev.type === 'BOOKMARK') continue;
        this.#queue.push(ev);
        scheduleFlush(this as unknown as ListWatch<KubeObject>);
      }
    }
  }
}
