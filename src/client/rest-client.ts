/**
 * The typed REST client over a Transport: builds Kubernetes API paths and query strings, encodes bodies, and
 * rebuilds StatusError from non-2xx answers so callers branch on isNotFound(err) / isConflict(err) as with client-go.
 * The same code runs over HTTPS and in-process; only the Transport differs.
 */
import { groupVersion, type KubeObject } from '../api/object.js';
import { StatusError, type StatusReason } from '../api/status.js';
import { TransportHttpError, type Transport } from './transport.js';
import type {
  Client,
  DeleteCollectionOptions,
  DeleteOptions,
  ListOptions,
  ListResult,
  PatchType,
  ResourceType,
  Watcher,
  WatchEvent,
  WatchOptions,
  WriteOptions,
} from './types.js';

export const PATCH_CONTENT_TYPES: Record<PatchType, string> = {
  merge: 'application/merge-patch+json',
  json: 'application/json-patch+json',
  strategic: 'application/strategic-merge-patch+json',
};

/** `/api/v1[/namespaces/<ns>]/<resource>[/<name>[/<subresource>]]`, or `/apis/<group>/<version>/...`. */
export function resourcePath(rt: ResourceType, namespace: string, name?: string, subresource?: string): string {
  let path = rt.group ? `/apis/${rt.group}/${rt.version}` : `/api/${rt.version}`;
  if (rt.namespaced && namespace) path += `/namespaces/${encodeURIComponent(namespace)}`;
  path += `/${rt.resource}`;
  if (name !== undefined) {
    if (name === '') throw new Error(`resource name may not be empty (${rt.resource})`);
    path += `/${encodeURIComponent(name)}`;
    if (subresource) path += `/${subresource}`;
  }
  return path;
}

export class RestClient implements Client {
  constructor(private readonly transport: Transport) {}

  async get<T extends KubeObject = KubeObject>(rt: ResourceType, namespace: string, name: string, opts: { subresource?: string } = {}): Promise<T> {
    const obj = await this.call<T>('GET', resourcePath(rt, namespace, name, opts.subresource), new URLSearchParams());
    return opts.subresource ? obj : withType(rt, obj);
  }

  async list<T extends KubeObject = KubeObject>(rt: ResourceType, namespace: string, opts: ListOptions = {}): Promise<ListResult<T>> {
    const q = new URLSearchParams();
    if (opts.labelSelector) q.set('labelSelector', opts.labelSelector);
    if (opts.fieldSelector) q.set('fieldSelector', opts.fieldSelector);
    if (opts.resourceVersion !== undefined) q.set('resourceVersion', opts.resourceVersion);
    if (opts.limit) q.set('limit', String(opts.limit));
    if (opts.continue) q.set('continue', opts.continue);
    const list = await this.call<{ metadata?: { resourceVersion?: string; continue?: string }; items?: T[] | null }>('GET', resourcePath(rt, namespace), q);
    const items = (list.items ?? []).map((o) => withType(rt, o));
    return {
      items,
      resourceVersion: list.metadata?.resourceVersion ?? '',
      ...(list.metadata?.continue ? { continue: list.metadata.continue } : {}),
    };
  }

  async create<T extends KubeObject = KubeObject>(rt: ResourceType, namespace: string, obj: T, opts: WriteOptions = {}): Promise<T> {
    const ns = namespace || obj.metadata?.namespace || '';
    return withType(rt, await this.call<T>('POST', resourcePath(rt, ns), writeQuery(opts), json(withType(rt, { ...obj }))));
  }

  async update<T extends KubeObject = KubeObject>(rt: ResourceType, namespace: string, obj: T, opts: WriteOptions & { subresource?: string } = {}): Promise<T> {
    const ns = namespace || obj.metadata?.namespace || '';
    const path = resourcePath(rt, ns, obj.metadata?.name ?? '', opts.subresource);
    return withType(rt, await this.call<T>('PUT', path, writeQuery(opts), json(withType(rt, { ...obj }))));
  }

  async updateStatus<T extends KubeObject = KubeObject>(rt: ResourceType, namespace: string, obj: T, opts: WriteOptions = {}): Promise<T> {
    const ns = namespace || obj.metadata?.namespace || '';
    return withType(rt, await this.call<T>('PUT', resourcePath(rt, ns, obj.metadata?.name ?? '', 'status'), writeQuery(opts), json(withType(rt, { ...obj }))));
  }

  async patch<T extends KubeObject = KubeObject>(
    rt: ResourceType,
    namespace: string,
    name: string,
    type: PatchType,
    patch: unknown,
    opts: WriteOptions & { subresource?: string } = {},
  ): Promise<T> {
    const contentType = PATCH_CONTENT_TYPES[type];
    if (!contentType) throw new Error(`unknown patch type ${JSON.stringify(type)}`);
    const body = { contentType, data: JSON.stringify(patch) };
    return withType(rt, await this.call<T>('PATCH', resourcePath(rt, namespace, name, opts.subresource), writeQuery(opts), body));
  }

  async delete(rt: ResourceType, namespace: string, name: string, opts: DeleteOptions = {}): Promise<void> {
    await this.call('DELETE', resourcePath(rt, namespace, name), new URLSearchParams(), json(deleteOptionsBody(opts)));
  }

  async deleteCollection(rt: ResourceType, namespace: string, opts: DeleteCollectionOptions = {}): Promise<void> {
    const q = new URLSearchParams();
    if (opts.labelSelector) q.set('labelSelector', opts.labelSelector);
    if (opts.fieldSelector) q.set('fieldSelector', opts.fieldSelector);
    await this.call('DELETE', resourcePath(rt, namespace), q, json(deleteOptionsBody(opts)));
  }

  async discovery<T = unknown>(path: string): Promise<T> {
    if (!/^\/apis?(\/[^/?#]+){0,2}$/.test(path)) throw new Error(`not a discovery path: ${JSON.stringify(path)}`);
    return this.call<T>('GET', path, new URLSearchParams());
  }

  async createSubresource(rt: ResourceType, namespace: string, name: string, subresource: string, body: unknown): Promise<unknown> {
    return this.call('POST', resourcePath(rt, namespace, name, subresource), new URLSearchParams(), json(body));
  }

  watch<T extends KubeObject = KubeObject>(
    rt: ResourceType,
    namespace: string,
    opts: WatchOptions,
    onEvent: (ev: WatchEvent<T>) => void,
    onClose: (err?: Error) => void,
  ): Watcher {
    const q = new URLSearchParams({ watch: 'true' });
    if (opts.resourceVersion !== undefined) q.set('resourceVersion', opts.resourceVersion);
    if (opts.labelSelector) q.set('labelSelector', opts.labelSelector);
    if (opts.fieldSelector) q.set('fieldSelector', opts.fieldSelector);
    if (opts.allowWatchBookmarks) q.set('allowWatchBookmarks', 'true');
    if (opts.timeoutSeconds !== undefined) q.set('timeoutSeconds', String(opts.timeoutSeconds));
    let closed = false;
    const close = (err?: Error) => {
      if (closed) return;
      closed = true;
      onClose(err);
    };
    let handle: { stop(): void } | undefined = undefined;
    handle = this.transport.stream(
      resourcePath(rt, namespace),
      q,
      (line) => {
        if (closed) return;
        let ev: WatchEvent<T>;
        try {
          ev = (this.transport.decodeLine ? this.transport.decodeLine(line) : JSON.parse(line)) as WatchEvent<T>;
          if (typeof ev?.type !== 'string' || ev.object === null || typeof ev.object !== 'object') throw new Error('not a watch event');
        } catch (err) {
          // A stream we cannot read is a broken stream: end it, so the caller re-watches.
          close(new Error(`watch ${rt.resource}: undecodable event ${JSON.stringify(line.slice(0, 200))}: ${(err as Error).message}`));
          handle?.stop();
          return;
        }
        if (ev.type !== 'ERROR' && (ev.object.apiVersion === undefined || ev.object.kind === undefined)) {
          // A shared decoded event is not ours to change: type a copy.
          ev = { ...ev, object: withType(rt, this.transport.decodeLine ? { ...ev.object } : ev.object) };
        }
        onEvent(ev);
      },
      (err) => close(err instanceof TransportHttpError ? statusErrorFrom(err.status, err.body) : err),
    );
    return {
      stop: () => {
        if (closed) return;
        handle?.stop();
        close();
      },
    };
  }

  /** One request; 2xx bodies are parsed JSON, others reject with the rebuilt StatusError. */
  private async call<R>(method: string, path: string, query: URLSearchParams, body?: { contentType: string; data: string }): Promise<R> {
    const res = await this.transport.request(method, path, query, body);
    if (res.status < 200 || res.status > 299) throw statusErrorFrom(res.status, res.body);
    if (res.body === '') return undefined as R;
    try {
      return JSON.parse(res.body) as R;
    } catch (err) {
      throw new Error(`${method} ${path}: the server answered ${res.status} with a body that is not JSON: ${(err as Error).message}`);
    }
  }
}

function json(value: unknown): { contentType: string; data: string } {
  return { contentType: 'application/json', data: JSON.stringify(value) };
}

function deleteOptionsBody(opts: DeleteOptions): Record<string, unknown> {
  const body: Record<string, unknown> = { kind: 'DeleteOptions', apiVersion: 'v1' };
  if (opts.propagationPolicy) body.propagationPolicy = opts.propagationPolicy;
  if (opts.gracePeriodSeconds !== undefined) body.gracePeriodSeconds = opts.gracePeriodSeconds;
  if (opts.preconditions) body.preconditions = opts.preconditions;
  if (opts.dryRun) body.dryRun = ['All'];
  return body;
}

function writeQuery(opts: WriteOptions): URLSearchParams {
  const q = new URLSearchParams();
  if (opts.dryRun) q.set('dryRun', 'All');
  if (opts.fieldManager) q.set('fieldManager', opts.fieldManager);
  return q;
}

/** Lists and watch events may omit apiVersion/kind on items; callers (events, owner references) need them. */
function withType<T extends KubeObject>(rt: ResourceType, obj: T): T {
  if (obj && typeof obj === 'object') {
    obj.apiVersion ??= groupVersion(rt.group, rt.version);
    obj.kind ??= rt.kind;
  }
  return obj;
}

const REASONS: Record<number, { reason: StatusReason; message: string }> = {
  400: { reason: 'BadRequest', message: 'the server rejected our request for an unknown reason' },
  401: { reason: 'Unauthorized', message: 'the server has asked for the client to provide credentials' },
  403: { reason: 'Forbidden', message: 'the server does not allow access to the requested resource' },
  404: { reason: 'NotFound', message: 'the server could not find the requested resource' },
  405: { reason: 'MethodNotAllowed', message: 'the server does not allow this method on the requested resource' },
  406: { reason: 'NotAcceptable', message: 'the server was unable to respond with a content type that the client supports' },
  409: { reason: 'Conflict', message: 'the server reported a conflict' },
  410: { reason: 'Gone', message: 'the server has asked for the client to retry the request from the beginning' },
  413: { reason: 'RequestEntityTooLarge', message: 'the server has rejected the request because it is too large' },
  415: { reason: 'UnsupportedMediaType', message: 'the server was unable to handle the request body' },
  422: { reason: 'Invalid', message: 'the server rejected our request due to an error in our request' },
  429: { reason: 'TooManyRequests', message: 'the server has received too many requests and has asked us to try again later' },
  500: { reason: 'InternalError', message: 'an error on the server has prevented the request from succeeding' },
  503: { reason: 'ServiceUnavailable', message: 'the server is currently unable to handle the request' },
  504: { reason: 'Timeout', message: 'the server was unable to return a response in the time allotted, but may still be processing the request' },
};

/**
 * The StatusError for a non-2xx answer: the server's own Status when the body is one, else one made from the HTTP
 * code with client-go's generic wording (k8s.io/apimachinery/pkg/api/errors NewGenericServerResponse).
 */
export function statusErrorFrom(code: number, body: string): StatusError {
  try {
    const parsed = JSON.parse(body) as { kind?: string; code?: number };
    if (parsed && parsed.kind === 'Status') return new StatusError({ ...parsed, code: parsed.code ?? code });
  } catch {
    // Not JSON (a proxy's HTML page, plain text): fall through to the generic error, keeping the text.
  }
  const known = REASONS[code] ?? { reason: code >= 500 ? 'InternalError' : 'BadRequest', message: `the server responded with the status code ${code} but did not return more information` };
  const text = body.trim();
  const message = text && text.length < 512 ? `${known.message} (${text})` : known.message;
  return new StatusError({ message, reason: known.reason, code });
}
