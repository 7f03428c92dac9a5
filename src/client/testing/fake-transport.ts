/**
 * A Transport answered by a FakeClient's in-memory objects: Kubernetes API paths and bodies in, status codes and
 * JSON (or NDJSON watch lines) out, with no server. `new RestClient(new FakeTransport(fake))` runs the transport
 * suite like the HTTPS and in-process transports do, which checks the fake on the wire (paths, query parameters,
 * Status bodies) and not only through its own Client methods; and it lets a test drive code that wants a Transport.
 * Only the resource types it is given are served (default: every type in resources.ts); others are 404.
 */
import type { KubeObject } from '../../api/object.js';
import { badRequest, notFound, StatusError } from '../../api/status.js';
import { allResourceTypes } from '../resources.js';
import { PATCH_CONTENT_TYPES } from '../rest-client.js';
import { TransportHttpError, type StreamHandle, type Transport, type TransportBody, type TransportResponse } from '../transport.js';
import type { DeleteOptions, PatchType, ResourceType, WriteOptions } from '../types.js';
import type { FakeClient } from './fake-client.js';

interface Target {
  rt: ResourceType;
  namespace: string;
  name?: string;
  subresource?: string;
}

export class FakeTransport implements Transport {
  private readonly types: ResourceType[];

  constructor(
    private readonly fake: FakeClient,
    types: readonly ResourceType[] = allResourceTypes,
  ) {
    this.types = [...types];
  }

  async request(method: string, path: string, query: URLSearchParams, body?: TransportBody): Promise<TransportResponse> {
    try {
      if (method === 'GET' && isDiscoveryPath(path)) return { status: 200, headers: { 'content-type': 'application/json' }, body: JSON.stringify(await this.fake.discovery(path)) };
      const t = this.route(path);
      const { status, result } = await this.serve(method, t, query, body);
      return { status, headers: { 'content-type': 'application/json' }, body: JSON.stringify(result) };
    } catch (err) {
      if (!(err instanceof StatusError)) throw err;
      return { status: err.code, headers: { 'content-type': 'application/json' }, body: JSON.stringify(err.status) };
    }
  }

  stream(path: string, query: URLSearchParams, onLine: (line: string) => void, onClose: (err?: Error) => void): StreamHandle {
    let t: Target;
    try {
      t = this.route(path);
      if (query.get('watch') !== 'true' && query.get('watch') !== '1') throw badRequest('the fake transport streams watches only');
    } catch (err) {
      if (!(err instanceof StatusError)) throw err;
      queueMicrotask(() => onClose(new TransportHttpError(err.code, JSON.stringify(err.status))));
      return { stop: () => {} };
    }
    const w = this.fake.watch(
      t.rt,
      t.namespace,
      {
        resourceVersion: query.get('resourceVersion') ?? undefined,
        labelSelector: query.get('labelSelector') ?? undefined,
        fieldSelector: query.get('fieldSelector') ?? undefined,
      },
      (ev) => onLine(JSON.stringify(ev)),
      // A watch the server refuses answers non-2xx before any line, as a real server does.
      (err) => onClose(err instanceof StatusError ? new TransportHttpError(err.code, JSON.stringify(err.status)) : err),
    );
    return { stop: () => w.stop() };
  }

  private async serve(method: string, t: Target, query: URLSearchParams, body?: TransportBody): Promise<{ status: number; result: unknown }> {
    const { rt, namespace, name, subresource } = t;
    const opts: WriteOptions = {
      ...(query.get('dryRun') ? { dryRun: true } : {}),
      ...(query.get('fieldManager') ? { fieldManager: query.get('fieldManager')! } : {}),
    };
    const parsed = body ? parseJson(body.data) : undefined;
    switch (method) {
      case 'GET':
        if (name === undefined) return { status: 200, result: await this.list(rt, namespace, query) };
        if (subresource) throw notFound({ group: rt.group || undefined, resource: `${rt.resource}/${subresource}`, name });
        return { status: 200, result: await this.fake.get(rt, namespace, name) };
      case 'POST':
        if (name === undefined) return { status: 201, result: await this.fake.create(rt, namespace, withNamespace(parsed, rt, namespace), opts) };
        return { status: 201, result: await this.fake.createSubresource(rt, namespace, name, subresource ?? '', parsed) };
      case 'PUT':
        if (name === undefined) throw methodNotAllowed();
        if (subresource === 'status') return { status: 200, result: await this.fake.updateStatus(rt, namespace, parsed as KubeObject, opts) };
        return { status: 200, result: await this.fake.update(rt, namespace, parsed as KubeObject, { ...opts, ...(subresource ? { subresource } : {}) }) };
      case 'PATCH': {
        if (name === undefined) throw methodNotAllowed();
        const type = patchType(body?.contentType ?? '');
        return { status: 200, result: await this.fake.patch(rt, namespace, name, type, parsed, { ...opts, ...(subresource ? { subresource } : {}) }) };
      }
      case 'DELETE': {
        const d = (parsed ?? {}) as Omit<DeleteOptions, 'dryRun'> & { dryRun?: unknown };
        const dryRun = Array.isArray(d.dryRun) ? d.dryRun.length > 0 : d.dryRun === true;
        const options: DeleteOptions = {
          ...(d.propagationPolicy ? { propagationPolicy: d.propagationPolicy } : {}),
          ...(d.gracePeriodSeconds !== undefined ? { gracePeriodSeconds: d.gracePeriodSeconds } : {}),
          ...(d.preconditions ? { preconditions: d.preconditions } : {}),
          ...(dryRun || query.get('dryRun') ? { dryRun: true } : {}),
        };
        if (name === undefined) {
          const { preconditions: _ignored, ...collectionOpts } = options;
          await this.fake.deleteCollection(rt, namespace, {
            ...collectionOpts,
            ...(query.get('labelSelector') ? { labelSelector: query.get('labelSelector')! } : {}),
            ...(query.get('fieldSelector') ? { fieldSelector: query.get('fieldSelector')! } : {}),
          });
          return { status: 200, result: { kind: `${rt.kind}List`, apiVersion: rt.group ? `${rt.group}/${rt.version}` : rt.version, metadata: {}, items: [] } };
        }
        await this.fake.delete(rt, namespace, name, options);
        return { status: 200, result: { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Success', details: { name, kind: rt.resource } } };
      }
      default:
        throw methodNotAllowed();
    }
  }

  private async list(rt: ResourceType, namespace: string, query: URLSearchParams): Promise<unknown> {
    const limit = query.get('limit');
    const res = await this.fake.list(rt, namespace, {
      ...(query.get('labelSelector') ? { labelSelector: query.get('labelSelector')! } : {}),
      ...(query.get('fieldSelector') ? { fieldSelector: query.get('fieldSelector')! } : {}),
      ...(limit ? { limit: Number(limit) } : {}),
      ...(query.get('continue') ? { continue: query.get('continue')! } : {}),
    });
    return {
      kind: `${rt.kind}List`,
      apiVersion: rt.group ? `${rt.group}/${rt.version}` : rt.version,
      metadata: { resourceVersion: res.resourceVersion, ...(res.continue ? { continue: res.continue } : {}) },
      items: res.items,
    };
  }

  /** `/api/v1[/namespaces/<ns>]/<resource>[/<name>[/<subresource>]]`, or the same under `/apis/<group>/<version>`. */
  private route(path: string): Target {
    const parts = path.split('/').filter((p) => p !== '').map(decodeURIComponent);
    let group: string;
    let rest: string[];
    if (parts[0] === 'api' && parts.length >= 2) [group, rest] = ['', parts.slice(2)];
    else if (parts[0] === 'apis' && parts.length >= 3) [group, rest] = [parts[1]!, parts.slice(3)];
    else throw notFound({ resource: path });
    let namespace = '';
    // `namespaces/<ns>/<resource>` scopes a namespaced resource; `namespaces/<name>/finalize` is the namespace itself.
    if (rest[0] === 'namespaces' && rest.length >= 3 && this.types.some((r) => r.group === group && r.resource === rest[2] && r.namespaced)) {
      namespace = rest[1]!;
      rest = rest.slice(2);
    }
    const rt = this.types.find((r) => r.group === group && r.resource === rest[0]);
    if (!rt || rest.length > 3) throw notFound({ group: group || undefined, resource: rest[0] ?? path });
    return { rt, namespace, ...(rest[1] !== undefined ? { name: rest[1] } : {}), ...(rest[2] !== undefined ? { subresource: rest[2] } : {}) };
  }
}

/** '/api', '/api/v1', '/apis', '/apis/<group>/<version>'. */
function isDiscoveryPath(path: string): boolean {
  const parts = path.split('/').filter((p) => p !== '');
  return (parts[0] === 'api' && parts.length <= 2) || (parts[0] === 'apis' && (parts.length === 1 || parts.length === 3));
}

function parseJson(data: string): unknown {
  try {
    return JSON.parse(data);
  } catch (err) {
    throw badRequest(`the body is not JSON: ${(err as Error).message}`);
  }
}

function patchType(contentType: string): PatchType {
  const bare = contentType.split(';')[0]!.trim();
  const found = (Object.entries(PATCH_CONTENT_TYPES) as [PatchType, string][]).find(([, ct]) => ct === bare);
  if (!found) throw new StatusError({ message: `the body of the request was in an unknown format - accepted media types include: ${Object.values(PATCH_CONTENT_TYPES).join(', ')}`, reason: 'UnsupportedMediaType', code: 415 });
  return found[0];
}

/** A create body without metadata.namespace is created in the namespace of the path, as the server does. */
function withNamespace(obj: unknown, rt: ResourceType, namespace: string): KubeObject {
  const o = (obj ?? {}) as KubeObject;
  if (rt.namespaced && namespace && !o.metadata?.namespace) return { ...o, metadata: { ...o.metadata, namespace } };
  return o;
}

function methodNotAllowed(): StatusError {
  return new StatusError({ message: 'the server does not allow this method on the requested resource', reason: 'MethodNotAllowed', code: 405 });
}
