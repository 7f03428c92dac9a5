/**
 * Each verb handler on its own: a RequestScope over ResourceOps, a watch cache and a memory store, driven with a
 * minimal request and response (no socket, no front door). What the handler answers is asserted as a client sees it.
 */
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { Readable } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import { isStatusError } from '../../api/status.js';
import { defaultExtensions } from '../extensions.js';
import { decodeWithJson } from '../object-codec.js';
import { resources } from '../registry/index.js';
import { parseRequestInfo, type ResourceRequestInfo } from '../request-info.js';
import { ResourceOps } from '../resource-ops.js';
import { WatchCache } from '../watch-cache.js';
import { openStore } from '../../storage/open-store.js';
import type { Store } from '../../storage/store.js';
import { applyResource } from './apply.js';
import { connectResource, type ConnectTarget } from './connect.js';
import { createResource } from './create.js';
import { deleteCollection, deleteResource } from './delete.js';
import { getResource } from './get.js';
import { listResource } from './list.js';
import { patchResource } from './patch.js';
import { RequestScope, type ApiRequest } from './scope.js';
import { serveDeclared, serveScale, serveStatus } from './subresource.js';
import { updateResource } from './update.js';
import { DEFAULT_WATCH_LIMITS, WatchRegistry, watchResource } from './watch.js';

interface Answer {
  status: number;
  headers: Record<string, unknown>;
  body: string;
  json: any;
}

/** A response that records what the handler wrote; `done` resolves at end(). */
class RecordingResponse extends EventEmitter {
  statusCode = 0;
  headersSent = false;
  writableEnded = false;
  destroyed = false;
  writableLength = 0;
  headers: Record<string, unknown> = {};
  body = '';
  readonly done: Promise<void>;
  private finish!: () => void;

  constructor() {
    super();
    this.done = new Promise((resolve) => (this.finish = resolve));
  }
  setHeader(name: string, value: unknown) {
    this.headers[name.toLowerCase()] = value;
    return this;
  }
  writeHead(status: number, headers: Record<string, unknown> = {}) {
    this.statusCode = status;
    for (const [k, v] of Object.entries(headers)) this.setHeader(k, v);
    this.headersSent = true;
    return this;
  }
  flushHeaders() {}
  write(chunk: string) {
    this.body += chunk;
    return true;
  }
  end(chunk?: string) {
    if (chunk) this.body += chunk;
    this.writableEnded = true;
    this.finish();
    return this;
  }
  destroy() {
    this.destroyed = true;
    this.finish();
    return this;
  }
}

describe('verb handlers', () => {
  let store: Store;
  let cache: WatchCache;
  let scope: RequestScope;
  const watches = new WatchRegistry(DEFAULT_WATCH_LIMITS);
  const user = { username: 'alice', groups: ['system:authenticated'] };

  before(async () => {
    store = await openStore('memory://');
    cache = new WatchCache(store, decodeWithJson);
    await cache.start();
    scope = new RequestScope(new ResourceOps(store, cache), resources, defaultExtensions(resources));
  });
  after(async () => {
    watches.closeAll();
    cache.stop();
    await store.close();
  });

  /** Builds the ApiRequest a front door would hand over. */
  function request(method: string, url: string, body?: unknown, contentType = 'application/json'): { r: ApiRequest; res: RecordingResponse } {
    const u = new URL(url, 'https://skiff');
    const info = parseRequestInfo(method, u.pathname, u.searchParams) as ResourceRequestInfo;
    const def = scope.lookup(info.apiGroup, info.apiVersion, info.resource)!;
    const payload = body === undefined ? [] : [Buffer.from(typeof body === 'string' ? body : JSON.stringify(body))];
    const req = Object.assign(Readable.from(payload), { method, url, headers: { 'content-type': contentType, 'user-agent': 'kubectl/v1.32.0 (linux/amd64)' }, socket: new EventEmitter() });
    const res = new RecordingResponse();
    const namespace = def.namespaced ? info.namespace : '';
    return { r: { req: req as unknown as IncomingMessage, res: res as unknown as ServerResponse, info: { ...info, namespace }, query: u.searchParams, user, def, warnings: [] }, res };
  }

  /** Runs a handler; a StatusError becomes the answer the front door would send. */
  async function call(handler: (r: ApiRequest) => Promise<void> | void, method: string, url: string, body?: unknown, contentType?: string): Promise<Answer> {
    const { r, res } = request(method, url, body, contentType);
    try {
      await handler(r);
    } catch (err) {
      if (!isStatusError(err)) throw err;
      return { status: err.code, headers: {}, body: JSON.stringify(err.status), json: err.status };
    }
    await res.done;
    let json: unknown;
    try {
      json = JSON.parse(res.body);
    } catch {
      json = undefined;
    }
    return { status: res.statusCode, headers: res.headers, body: res.body, json };
  }

  const cm = (name: string, data: Record<string, string> = { a: '1' }, labels?: Record<string, string>) => ({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name, ...(labels ? { labels } : {}) }, data });
  const CMS = '/api/v1/namespaces/default/configmaps';

  test('create: 201 with server fields and the writer recorded in managedFields; 409 on a duplicate', async () => {
    const r = await call((q) => createResource(scope, q), 'POST', CMS, cm('one'));
    assert.equal(r.status, 201);
    assert.ok(r.json.metadata.uid && r.json.metadata.resourceVersion && r.json.metadata.creationTimestamp);
    assert.equal(r.json.metadata.managedFields[0].manager, 'kubectl');
    assert.equal((await call((q) => createResource(scope, q), 'POST', CMS, cm('one'))).status, 409);
    const wrongKind = await call((q) => createResource(scope, q), 'POST', CMS, { ...cm('two'), kind: 'Secret' });
    assert.equal(wrongKind.status, 400);
  });

  test('get: 200 with the object, 404 for a missing one', async () => {
    assert.equal((await call((q) => getResource(scope, q), 'GET', `${CMS}/one`)).json.data.a, '1');
    assert.equal((await call((q) => getResource(scope, q), 'GET', `${CMS}/nope`)).status, 404);
  });

  test('list: selectors, limit and continue', async () => {
    for (const n of ['l1', 'l2', 'l3']) await call((q) => createResource(scope, q), 'POST', CMS, cm(n, { a: '1' }, { tier: 'list' }));
    const all = await call((q) => listResource(scope, q), 'GET', `${CMS}?labelSelector=tier%3Dlist`);
    assert.deepEqual(all.json.items.map((i: { metadata: { name: string } }) => i.metadata.name), ['l1', 'l2', 'l3']);
    const page = await call((q) => listResource(scope, q), 'GET', `${CMS}?labelSelector=tier%3Dlist&limit=2`);
    assert.equal(page.json.items.length, 2);
    const rest = await call((q) => listResource(scope, q), 'GET', `${CMS}?labelSelector=tier%3Dlist&limit=2&continue=${page.json.metadata.continue}`);
    assert.deepEqual(rest.json.items.map((i: { metadata: { name: string } }) => i.metadata.name), ['l3']);
    assert.equal((await call((q) => listResource(scope, q), 'GET', `${CMS}?limit=-1`)).status, 400);
  });

  test('update: 200 with a bumped resourceVersion; 409 with a stale one', async () => {
    const cur = (await call((q) => getResource(scope, q), 'GET', `${CMS}/one`)).json;
    const next = await call((q) => updateResource(scope, q, ''), 'PUT', `${CMS}/one`, { ...cur, data: { a: '2' } });
    assert.equal(next.status, 200);
    assert.notEqual(next.json.metadata.resourceVersion, cur.metadata.resourceVersion);
    assert.equal((await call((q) => updateResource(scope, q, ''), 'PUT', `${CMS}/one`, { ...cur, data: { a: '3' } })).status, 409);
  });

  test('patch: merge and JSON patches; 415 for an unknown patch type; unknown fields warned', async () => {
    const merged = await call((q) => patchResource(scope, q, ''), 'PATCH', `${CMS}/one`, { data: { b: 'x' } }, 'application/merge-patch+json');
    assert.deepEqual(merged.json.data, { a: '2', b: 'x' });
    const json = await call((q) => patchResource(scope, q, ''), 'PATCH', `${CMS}/one`, [{ op: 'remove', path: '/data/b' }], 'application/json-patch+json');
    assert.deepEqual(json.json.data, { a: '2' });
    assert.equal((await call((q) => patchResource(scope, q, ''), 'PATCH', `${CMS}/one`, {}, 'text/plain')).status, 415);
    const warned = await call((q) => patchResource(scope, q, ''), 'PATCH', `${CMS}/one`, { spec: { x: 1 } }, 'application/merge-patch+json');
    assert.deepEqual(warned.headers.warning, ['299 - "unknown field \\"spec\\""']);
  });

  test('apply: creates (201), updates (200), conflicts with another manager (409) unless forced', async () => {
    const yaml = (v: string) => `apiVersion: v1\nkind: ConfigMap\nmetadata: {name: applied}\ndata: {k: "${v}"}\n`;
    const APPLY = 'application/apply-patch+yaml';
    assert.equal((await call((q) => applyResource(scope, q, ''), 'PATCH', `${CMS}/applied?fieldManager=a`, yaml('1'), APPLY)).status, 201);
    assert.equal((await call((q) => applyResource(scope, q, ''), 'PATCH', `${CMS}/applied?fieldManager=a`, yaml('2'), APPLY)).status, 200);
    const conflict = await call((q) => applyResource(scope, q, ''), 'PATCH', `${CMS}/applied?fieldManager=b`, yaml('3'), APPLY);
    assert.equal(conflict.status, 409);
    assert.equal(conflict.json.reason, 'Conflict');
    const forced = await call((q) => applyResource(scope, q, ''), 'PATCH', `${CMS}/applied?fieldManager=b&force=True`, yaml('3'), APPLY);
    assert.equal(forced.status, 200, forced.body);
    assert.equal((await call((q) => applyResource(scope, q, ''), 'PATCH', `${CMS}/applied`, yaml('4'), APPLY)).status, 400, 'fieldManager is required');
  });

  test('delete: a Status for most kinds; the object for pods; deletecollection by selector', async () => {
    const gone = await call((q) => deleteResource(scope, q), 'DELETE', `${CMS}/one`);
    assert.equal(gone.json.kind, 'Status');
    assert.equal(gone.json.details.name, 'one');
    assert.equal((await call((q) => deleteResource(scope, q), 'DELETE', `${CMS}/one`)).status, 404);
    const pod = { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p' }, spec: { containers: [{ name: 'c', image: 'busybox' }] } };
    await call((q) => createResource(scope, q), 'POST', '/api/v1/namespaces/default/pods', pod);
    const podGone = await call((q) => deleteResource(scope, q), 'DELETE', '/api/v1/namespaces/default/pods/p');
    assert.equal(podGone.json.kind, 'Pod');
    const coll = await call((q) => deleteCollection(scope, q), 'DELETE', `${CMS}?labelSelector=tier%3Dlist`);
    assert.equal(coll.json.items.length, 3);
    assert.equal((await call((q) => listResource(scope, q), 'GET', `${CMS}?labelSelector=tier%3Dlist`)).json.items.length, 0);
  });

  test('watch: initial events, then live ones, as JSON lines', async () => {
    const { r, res } = request('GET', `${CMS}?watch=1&labelSelector=w%3D1`);
    watchResource(scope, r, watches);
    await call((q) => createResource(scope, q), 'POST', CMS, cm('w1', {}, { w: '1' }));
    await call((q) => createResource(scope, q), 'POST', CMS, cm('w2', {}, { w: '2' }));
    for (let i = 0; i < 100 && !res.body.includes('"w1"'); i++) await new Promise((resolve) => setTimeout(resolve, 10));
    (r.req as unknown as EventEmitter).emit('close');
    await res.done;
    const events = res.body.trim().split('\n').map((l) => JSON.parse(l));
    assert.deepEqual(events.map((e) => [e.type, e.object.metadata.name]), [['ADDED', 'w1']], 'the selector filters w2 out');
    assert.equal(res.statusCode, 200);
  });

  test('status and scale subresources change only their part', async () => {
    const dep = {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: 'web' },
      spec: { replicas: 1, selector: { matchLabels: { app: 'web' } }, template: { metadata: { labels: { app: 'web' } }, spec: { containers: [{ name: 'c', image: 'nginx' }] } } },
    };
    const DEPS = '/apis/apps/v1/namespaces/default/deployments';
    await call((q) => createResource(scope, q), 'POST', DEPS, dep);
    const status = await call((q) => serveStatus(scope, q), 'PATCH', `${DEPS}/web/status`, { status: { replicas: 1 }, spec: { replicas: 9 } }, 'application/merge-patch+json');
    assert.equal(status.json.status.replicas, 1);
    assert.equal(status.json.spec.replicas, 1, 'a status write leaves the spec alone');
    const scaled = await call((q) => serveScale(scope, q), 'PUT', `${DEPS}/web/scale`, { spec: { replicas: 3 } });
    assert.deepEqual([scaled.json.kind, scaled.json.spec.replicas, scaled.json.status.replicas], ['Scale', 3, 1]);
    assert.equal((await call((q) => serveScale(scope, q), 'PUT', `${DEPS}/web/scale`, { spec: { replicas: -1 } })).status, 422);
  });

  test('declared subresources: pods/binding answers a 201 Status and binds once', async () => {
    const pod = { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'b' }, spec: { containers: [{ name: 'c', image: 'busybox' }] } };
    await call((q) => createResource(scope, q), 'POST', '/api/v1/namespaces/default/pods', pod);
    const binding = resources.find((d) => d.plural === 'pods')!.subresources!.find((s) => s.name === 'binding')!;
    const bind = (node: string) => call((q) => serveDeclared(scope, q, binding), 'POST', '/api/v1/namespaces/default/pods/b/binding', { target: { kind: 'Node', name: node } });
    const first = await bind('n1');
    assert.deepEqual([first.status, first.json.status, first.json.code], [201, 'Success', 201]);
    assert.equal((await bind('n2')).status, 409);
    assert.equal((await call((q) => getResource(scope, q), 'GET', '/api/v1/namespaces/default/pods/b')).json.spec.nodeName, 'n1');
  });

  test('connect: 404 for a missing object, 503 without a target, the target gets the stored object', async () => {
    const log = resources.find((d) => d.plural === 'pods')!.subresources!.find((s) => s.name === 'log')!;
    assert.equal((await call((q) => connectResource(scope, q, log, new Map()), 'GET', '/api/v1/namespaces/default/pods/none/log')).status, 404);
    const none = await call((q) => connectResource(scope, q, log, new Map()), 'GET', '/api/v1/namespaces/default/pods/b/log');
    assert.equal(none.status, 503);
    const seen: string[] = [];
    const target: ConnectTarget = async (c) => {
      seen.push(`${c.object.metadata.name} ${c.subresource} ${c.query.get('container')}`);
      c.res.writeHead(200, { 'Content-Type': 'text/plain' });
      c.res.end('hello\n');
    };
    const served = await call((q) => connectResource(scope, q, log, new Map([['pods/log', target]])), 'GET', '/api/v1/namespaces/default/pods/b/log?container=c');
    assert.deepEqual([served.status, served.body, seen], [200, 'hello\n', ['b log c']]);
    assert.equal((await call((q) => connectResource(scope, q, log, new Map()), 'POST', '/api/v1/namespaces/default/pods/b/log')).status, 405);
  });
});
