import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isConflict, isNotFound, type StatusError } from '../api/status.js';
import { Deployments, Namespaces, Pods } from './resources.js';
import { RestClient } from './rest-client.js';
import { TransportHttpError, type Transport, type TransportBody, type TransportResponse } from './transport.js';
import type { WatchEvent } from './types.js';
import { deepFreeze } from '../api/deep-freeze.js';

interface Sent {
  method: string;
  url: string;
  body?: TransportBody;
}

/** Records requests and answers from a queue; streams are driven by the test through `lines`/`close`. */
class ScriptedTransport implements Transport {
  sent: Sent[] = [];
  answers: TransportResponse[] = [];
  streamOnLine?: (line: string) => void;
  streamOnClose?: (err?: Error) => void;
  streamStops = 0;

  async request(method: string, path: string, query: URLSearchParams, body?: TransportBody): Promise<TransportResponse> {
    const qs = query.toString();
    this.sent.push({ method, url: qs ? `${path}?${qs}` : path, ...(body ? { body } : {}) });
    return this.answers.shift() ?? { status: 200, body: '{"metadata":{}}' };
  }

  stream(path: string, query: URLSearchParams, onLine: (line: string) => void, onClose: (err?: Error) => void) {
    this.sent.push({ method: 'WATCH', url: `${path}?${query}` });
    this.streamOnLine = onLine;
    this.streamOnClose = onClose;
    return {
      stop: () => {
        this.streamStops++;
        onClose();
      },
    };
  }
}

describe('RestClient', () => {
  it('builds core, grouped, namespaced and cluster-scoped paths', async () => {
    const t = new ScriptedTransport();
    const c = new RestClient(t);
    await c.get(Pods, 'default', 'web-1');
    await c.get(Deployments, 'prod', 'api');
    await c.get(Namespaces, 'ignored', 'kube-system');
    await c.list(Pods, '');
    await c.list(Deployments, 'a b', { labelSelector: 'app in (x,y)', limit: 500, continue: 'tok' });
    assert.deepEqual(t.sent.map((s) => s.url), [
      '/api/v1/namespaces/default/pods/web-1',
      '/apis/apps/v1/namespaces/prod/deployments/api',
      '/api/v1/namespaces/kube-system',
      '/api/v1/pods',
      '/apis/apps/v1/namespaces/a%20b/deployments?labelSelector=app+in+%28x%2Cy%29&limit=500&continue=tok',
    ]);
  });

  it('sends patch content types, fieldManager and dryRun; subresources go to their path', async () => {
    const t = new ScriptedTransport();
    const c = new RestClient(t);
    await c.patch(Pods, 'ns', 'p', 'merge', { a: 1 }, { fieldManager: 'skiff-scheduler' });
    await c.patch(Pods, 'ns', 'p', 'json', [{ op: 'remove', path: '/x' }], { dryRun: true });
    await c.patch(Pods, 'ns', 'p', 'strategic', { status: {} }, { subresource: 'status' });
    await c.updateStatus(Pods, 'ns', { metadata: { name: 'p' } });
    await c.createSubresource(Pods, 'ns', 'p', 'binding', { target: { name: 'n' } });
    assert.deepEqual(t.sent.map((s) => [s.method, s.url, s.body?.contentType]), [
      ['PATCH', '/api/v1/namespaces/ns/pods/p?fieldManager=skiff-scheduler', 'application/merge-patch+json'],
      ['PATCH', '/api/v1/namespaces/ns/pods/p?dryRun=All', 'application/json-patch+json'],
      ['PATCH', '/api/v1/namespaces/ns/pods/p/status', 'application/strategic-merge-patch+json'],
      ['PUT', '/api/v1/namespaces/ns/pods/p/status', 'application/json'],
      ['POST', '/api/v1/namespaces/ns/pods/p/binding', 'application/json'],
    ]);
    assert.deepEqual(JSON.parse(t.sent[1].body!.data), [{ op: 'remove', path: '/x' }]);
    assert.deepEqual(JSON.parse(t.sent[3].body!.data), { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p' } });
  });

  it('delete sends DeleteOptions in the body', async () => {
    const t = new ScriptedTransport();
    await new RestClient(t).delete(Deployments, 'ns', 'd', { propagationPolicy: 'Foreground', preconditions: { uid: 'u1' }, gracePeriodSeconds: 0 });
    assert.equal(t.sent[0].method, 'DELETE');
    assert.deepEqual(JSON.parse(t.sent[0].body!.data), { kind: 'DeleteOptions', apiVersion: 'v1', propagationPolicy: 'Foreground', gracePeriodSeconds: 0, preconditions: { uid: 'u1' } });
  });

  it('rebuilds StatusError from a Status body, and from the bare HTTP code otherwise', async () => {
    const t = new ScriptedTransport();
    const c = new RestClient(t);
    t.answers.push({ status: 404, body: JSON.stringify({ kind: 'Status', apiVersion: 'v1', status: 'Failure', reason: 'NotFound', code: 404, message: 'pods "x" not found', details: { name: 'x', kind: 'pods' } }) });
    await assert.rejects(c.get(Pods, 'ns', 'x'), (e: StatusError) => isNotFound(e) && e.message === 'pods "x" not found' && e.status.details?.name === 'x');
    t.answers.push({ status: 409, body: 'upstream proxy says no' });
    await assert.rejects(c.get(Pods, 'ns', 'x'), (e: StatusError) => isConflict(e) && e.code === 409 && e.message.includes('upstream proxy says no'));
    t.answers.push({ status: 502, body: '' });
    await assert.rejects(c.get(Pods, 'ns', 'x'), (e: StatusError) => e.code === 502 && e.reason === 'InternalError');
  });

  it('list fills apiVersion/kind on items and returns the list resourceVersion and continue token', async () => {
    const t = new ScriptedTransport();
    t.answers.push({ status: 200, body: JSON.stringify({ kind: 'DeploymentList', metadata: { resourceVersion: '42', continue: 'next' }, items: [{ metadata: { name: 'd' } }] }) });
    const r = await new RestClient(t).list(Deployments, 'ns', { limit: 1 });
    assert.deepEqual(r, { items: [{ apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'd' } }], resourceVersion: '42', continue: 'next' });
  });

  it('watch takes a transport\'s shared decoded events as they are, and types a copy of one that lacks its kind', () => {
    const t = new ScriptedTransport();
    const shared = new Map<string, unknown>();
    const decode = (line: string) => {
      if (!shared.has(line)) shared.set(line, deepFreeze(JSON.parse(line)));
      return shared.get(line);
    };
    const sharing = Object.assign(t, { decodeLine: decode });
    const events: WatchEvent[] = [];
    new RestClient(sharing).watch(Pods, 'ns', {}, (e) => events.push(e), () => {});
    const typed = '{"type":"ADDED","object":{"apiVersion":"v1","kind":"Pod","metadata":{"name":"p"}}}';
    const untyped = '{"type":"ADDED","object":{"metadata":{"name":"q"}}}';
    t.streamOnLine!(typed);
    t.streamOnLine!(untyped);
    assert.equal(events[0]!.object, (shared.get(typed) as WatchEvent).object, 'the shared object itself');
    assert.equal(events[1]!.object.kind, 'Pod');
    assert.equal((shared.get(untyped) as WatchEvent).object.kind, undefined, 'the shared value is not changed');
  });

  it('watch parses lines into events, stops once, and turns a non-2xx stream into a StatusError', async () => {
    const t = new ScriptedTransport();
    const c = new RestClient(t);
    const events: WatchEvent[] = [];
    const closes: (Error | undefined)[] = [];
    const w = c.watch(Pods, 'ns', { resourceVersion: '10', allowWatchBookmarks: true, timeoutSeconds: 30 }, (e) => events.push(e), (err) => closes.push(err));
    assert.equal(t.sent[0].url, '/api/v1/namespaces/ns/pods?watch=true&resourceVersion=10&allowWatchBookmarks=true&timeoutSeconds=30');
    t.streamOnLine!('{"type":"ADDED","object":{"metadata":{"name":"p","resourceVersion":"11"}}}');
    t.streamOnLine!('{"type":"BOOKMARK","object":{"kind":"Pod","apiVersion":"v1","metadata":{"resourceVersion":"12"}}}');
    w.stop();
    w.stop();
    t.streamOnLine!('{"type":"DELETED","object":{"metadata":{"name":"late"}}}');
    assert.deepEqual(events.map((e) => [e.type, e.object.kind, e.object.metadata.resourceVersion]), [['ADDED', 'Pod', '11'], ['BOOKMARK', 'Pod', '12']]);
    assert.deepEqual(closes, [undefined]);
    assert.equal(t.streamStops, 1);

    const errs: (Error | undefined)[] = [];
    c.watch(Pods, 'ns', { labelSelector: '!!' }, () => {}, (err) => errs.push(err));
    t.streamOnClose!(new TransportHttpError(400, JSON.stringify({ kind: 'Status', code: 400, reason: 'BadRequest', message: 'unable to parse requirement' })));
    t.streamOnClose!();
    assert.equal(errs.length, 1);
    assert.equal((errs[0] as StatusError).reason, 'BadRequest');

    const bad: (Error | undefined)[] = [];
    c.watch(Pods, 'ns', {}, () => assert.fail('no event expected'), (err) => bad.push(err));
    t.streamOnLine!('{"type":"ADDED","obj');
    assert.equal(bad.length, 1);
    assert.match(bad[0]!.message, /undecodable event/);
  });
});
