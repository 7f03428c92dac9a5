/**
 * The client quirks of issue 11 on the wire, each as the client that found it sends it: booleans as Go's ParseBool
 * reads them (the Python client's `watch=True`), `/version/`, `status: {}`, metadata-only lists, gets and watches
 * (client-go's metadata informers: PartialObjectMetadata in protobuf first, then JSON), protobuf for built-in kinds,
 * Accept with q values, YAML, pretty, and 406 where nothing acceptable remains. One in-process server for all.
 */
import assert from 'node:assert/strict';
import https from 'node:https';
import { after, before, describe, it } from 'node:test';
import { parse as parseYaml } from 'yaml';
import { ensurePki } from '../src/apiserver/auth/pki.js';
import { decodeProtobufObject } from '../src/apiserver/protobuf/decode.js';
import { envelope } from '../src/apiserver/protobuf/encode.js';
import { WireReader } from '../src/apiserver/protobuf/wire-reader.js';
import { startTestServer, type TestServer } from './helpers/test-server.js';

const POM = 'as=PartialObjectMetadata;g=meta.k8s.io;v=v1';
const POM_LIST = 'as=PartialObjectMetadataList;g=meta.k8s.io;v=v1';
/** What client-go's metadata client sends for lists and for watches (k8s.io/client-go/metadata). */
const METADATA_LIST_ACCEPT = `application/vnd.kubernetes.protobuf;${POM_LIST},application/json;${POM_LIST},application/json`;
const METADATA_WATCH_ACCEPT = `application/vnd.kubernetes.protobuf;${POM},application/json;${POM},application/json`;
const NOT_ACCEPTABLE = 'only the following media types are accepted: application/json, application/yaml, application/vnd.kubernetes.protobuf';

let server: TestServer;
let agent: https.Agent;

interface RawResponse {
  status: number;
  contentType: string;
  body: Buffer;
}

/** A request whose body comes back as bytes (protobuf answers are binary). */
function raw(path: string, headers: Record<string, string> = {}): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const req = https.request({ host: '127.0.0.1', port: server.port, path, agent, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, contentType: String(res.headers['content-type']), body: Buffer.concat(chunks) }));
    });
    req.on('error', reject);
    req.end();
  });
}

/** Opens a watch and collects raw bytes until `enough` says so (or 5 s pass). */
function rawWatch(path: string, headers: Record<string, string>, enough: (body: Buffer) => boolean): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const req = https.request({ host: '127.0.0.1', port: server.port, path, agent: new https.Agent({ ...agent.options }), headers }, (res) => {
      const chunks: Buffer[] = [];
      const finish = () => {
        clearTimeout(timer);
        req.destroy();
        resolve({ status: res.statusCode ?? 0, contentType: String(res.headers['content-type']), body: Buffer.concat(chunks) });
      };
      const timer = setTimeout(finish, 5000);
      res.on('data', (c: Buffer) => {
        chunks.push(c);
        if (enough(Buffer.concat(chunks))) finish();
      });
      res.on('end', finish);
    });
    req.on('error', (err: NodeJS.ErrnoException) => (err.code === 'ECONNRESET' ? undefined : reject(err)));
    req.end();
  });
}

/** runtime.Unknown of a `k8s\0` body: its type and raw message. */
function unwrap(body: Buffer): { apiVersion: string; kind: string; raw: Uint8Array } {
  assert.equal(body.subarray(0, 4).toString('latin1'), 'k8s\0', 'protobuf prefix');
  const r = new WireReader(body, 4);
  let apiVersion = '';
  let kind = '';
  let rawMsg: Uint8Array = new Uint8Array();
  while (!r.done) {
    const t = r.tag();
    if (t.field === 1) {
      const m = r.message(t.wire, 'typeMeta');
      while (!m.done) {
        const f = m.tag();
        if (f.field === 1) apiVersion = m.stringField(f.wire, 'apiVersion');
        else if (f.field === 2) kind = m.stringField(f.wire, 'kind');
        else m.skip(f.wire, f.field);
      }
    } else if (t.field === 2) rawMsg = r.bytes();
    else r.skip(t.wire, t.field);
  }
  return { apiVersion, kind, raw: rawMsg };
}

/** ObjectMeta of a PartialObjectMetadata message (field 1 is ObjectMeta there, as in a ConfigMap). */
function metadataOf(pomMessage: Uint8Array): Record<string, any> {
  return decodeProtobufObject(envelope('v1', 'ConfigMap', pomMessage)).metadata as Record<string, any>;
}

/** The fields of a list message: ListMeta (1) and the items (2). */
function listItems(list: Uint8Array): { resourceVersion: string; items: Uint8Array[] } {
  const r = new WireReader(list, 0);
  const items: Uint8Array[] = [];
  let resourceVersion = '';
  while (!r.done) {
    const t = r.tag();
    if (t.field === 1) {
      const m = r.message(t.wire, 'ListMeta');
      while (!m.done) {
        const f = m.tag();
        if (f.field === 2) resourceVersion = m.stringField(f.wire, 'resourceVersion');
        else m.skip(f.wire, f.field);
      }
    } else if (t.field === 2) items.push(r.bytes());
    else r.skip(t.wire, t.field);
  }
  return { resourceVersion, items };
}

/** Splits a protobuf watch stream into WatchEvents {type, object bytes}. */
function watchFrames(body: Buffer): { type: string; object: Buffer }[] {
  const out: { type: string; object: Buffer }[] = [];
  let pos = 0;
  while (pos + 4 <= body.length) {
    const len = body.readUInt32BE(pos);
    if (pos + 4 + len > body.length) break;
    const r = new WireReader(body.subarray(pos + 4, pos + 4 + len), 0);
    let type = '';
    let object = Buffer.alloc(0);
    while (!r.done) {
      const t = r.tag();
      if (t.field === 1) type = r.stringField(t.wire, 'type');
      else if (t.field === 2) {
        const m = r.message(t.wire, 'object');
        while (!m.done) {
          const f = m.tag();
          if (f.field === 1) object = Buffer.from(m.bytes());
          else m.skip(f.wire, f.field);
        }
      } else r.skip(t.wire, t.field);
    }
    out.push({ type, object });
    pos += 4 + len;
  }
  return out;
}

before(async () => {
  server = await startTestServer({ controlPlane: false });
  const pki = await ensurePki(server.dataDir);
  agent = new https.Agent({ ca: pki.caCertPem, cert: pki.adminCertPem, key: pki.adminKeyPem, keepAlive: true });
  for (const name of ['a', 'b']) {
    const r = await server.request('POST', '/api/v1/namespaces/default/configmaps', { metadata: { name, labels: { app: 'x' } }, data: { k: name } });
    assert.equal(r.status, 201, r.text);
  }
});

after(async () => {
  agent?.destroy();
  await server?.stop();
});

describe('booleans in the query are parsed as Go strconv.ParseBool', () => {
  it('watch=True, TRUE, t and 1 watch; watch=False, F and 0 list', async () => {
    for (const v of ['True', 'TRUE', 't', '1', 'true']) {
      const s = await server.stream(`/api/v1/namespaces/default/configmaps?watch=${v}`);
      const events = await s.waitFor(2);
      s.close();
      assert.equal(s.status, 200);
      assert.deepEqual(events.slice(0, 2).map((e) => e.type), ['ADDED', 'ADDED'], `watch=${v}`);
    }
    for (const v of ['False', 'F', '0', 'false']) {
      const r = await server.request('GET', `/api/v1/namespaces/default/configmaps?watch=${v}`);
      assert.equal(r.json.kind, 'ConfigMapList', `watch=${v}`);
    }
  });

  it('anything else is 400 naming the parameter and the value (watch, allowWatchBookmarks, force, sendInitialEvents)', async () => {
    const cases: [string, string][] = [
      ['/api/v1/namespaces/default/configmaps?watch=yes', 'watch'],
      ['/api/v1/namespaces/default/configmaps?allowWatchBookmarks=on', 'allowWatchBookmarks'],
      ['/api/v1/namespaces/default/configmaps?watch=1&allowWatchBookmarks=on', 'allowWatchBookmarks'],
      ['/api/v1/namespaces/default/configmaps?sendInitialEvents=y', 'sendInitialEvents'],
    ];
    for (const [path, name] of cases) {
      const r = await server.request('GET', path);
      assert.equal(r.status, 400, path);
      assert.equal(r.json.reason, 'BadRequest');
      assert.match(r.json.message, new RegExp(`^${name}: .*strconv.ParseBool`), path);
    }
    const apply = (force: string) =>
      server.request('PATCH', `/api/v1/namespaces/default/configmaps/a?fieldManager=py&force=${force}`, 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\ndata:\n  k: forced\n', { 'Content-Type': 'application/apply-patch+yaml' });
    assert.equal((await apply('True')).status, 200);
    const bad = await apply('yes');
    assert.equal(bad.status, 400);
    assert.match(bad.json.message, /^force: /);
  });

  it('pretty=true (and curl) indent JSON; pretty=x is ignored, as upstream', async () => {
    assert.match((await server.request('GET', '/api/v1/namespaces/default/configmaps/a?pretty=True')).text, /^\{\n {2}"/);
    assert.match((await server.request('GET', '/api/v1/namespaces/default/configmaps/a', undefined, { 'User-Agent': 'curl/7.88.1' })).text, /^\{\n/);
    assert.match((await server.request('GET', '/api/v1/namespaces/default/configmaps/a?pretty=x')).text, /^\{"/);
    assert.match((await server.request('GET', '/api/v1/namespaces/default/configmaps?pretty=1')).text, /^\{\n {2}"kind": "ConfigMapList"/);
  });
});

describe('paths and objects as kube-apiserver answers them', () => {
  it('GET /version/ (the Python client\'s VersionApi) answers like /version', async () => {
    const slash = await server.request('GET', '/version/');
    assert.equal(slash.status, 200);
    assert.equal(slash.json.major, '1');
    assert.deepEqual(slash.json, (await server.request('GET', '/version')).json);
  });

  it('kinds with a status in their type come back with one (`status: {}`, a Service\'s `loadBalancer: {}`)', async () => {
    const cases: [string, unknown, unknown][] = [
      ['/apis/apps/v1/namespaces/default/deployments', { metadata: { name: 'd' }, spec: { selector: { matchLabels: { a: 'b' } }, template: { metadata: { labels: { a: 'b' } }, spec: { containers: [{ name: 'c', image: 'x' }] } } } }, {}],
      ['/api/v1/namespaces/default/services', { metadata: { name: 's' }, spec: { ports: [{ port: 80 }] } }, { loadBalancer: {} }],
      ['/apis/batch/v1/namespaces/default/jobs', { metadata: { name: 'j' }, spec: { template: { spec: { restartPolicy: 'Never', containers: [{ name: 'c', image: 'x' }] } } } }, {}],
      ['/apis/apps/v1/namespaces/default/replicasets', { metadata: { name: 'rs' }, spec: { selector: { matchLabels: { a: 'c' } }, template: { metadata: { labels: { a: 'c' } }, spec: { containers: [{ name: 'c', image: 'x' }] } } } }, { replicas: 0 }],
    ];
    for (const [path, body, status] of cases) {
      const created = await server.request('POST', path, body);
      assert.equal(created.status, 201, created.text);
      assert.deepEqual(created.json.status, status, `create ${path}`);
      const got = await server.request('GET', `${path}/${created.json.metadata.name}`);
      assert.deepEqual(got.json.status, status, `get ${path}`);
    }
    // A ConfigMap has no status in its type, and gets none.
    assert.equal('status' in (await server.request('GET', '/api/v1/namespaces/default/configmaps/a')).json, false);
  });
});

describe('metadata-only lists, gets and watches (PartialObjectMetadata)', () => {
  it("client-go's metadata informer list: PartialObjectMetadataList in protobuf", async () => {
    const r = await raw('/api/v1/namespaces/default/configmaps', { Accept: METADATA_LIST_ACCEPT });
    assert.equal(r.status, 200, r.body.toString());
    assert.match(r.contentType, /^application\/vnd\.kubernetes\.protobuf/);
    const u = unwrap(r.body);
    assert.deepEqual([u.apiVersion, u.kind], ['meta.k8s.io/v1', 'PartialObjectMetadataList']);
    const list = listItems(u.raw);
    assert.match(list.resourceVersion, /^\d+$/);
    const metas = list.items.map(metadataOf);
    assert.deepEqual(metas.map((m) => m.name).sort(), ['a', 'b']);
    assert.deepEqual(metas[0].labels, { app: 'x' });
    assert.ok(metas[0].uid && metas[0].resourceVersion);
  });

  it('the same list in JSON when protobuf is not asked for, v1beta1 too; no data, only metadata', async () => {
    for (const v of ['v1', 'v1beta1']) {
      const r = await server.request('GET', '/api/v1/namespaces/default/configmaps', undefined, { Accept: `application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=${v},application/json` });
      assert.equal(r.status, 200);
      assert.equal(r.json.kind, 'PartialObjectMetadataList');
      assert.equal(r.json.apiVersion, `meta.k8s.io/${v}`);
      assert.equal(r.json.items.length, 2);
      for (const item of r.json.items) {
        assert.deepEqual(Object.keys(item).sort(), ['apiVersion', 'kind', 'metadata']);
        assert.equal(item.kind, 'PartialObjectMetadata');
      }
    }
  });

  it('get as PartialObjectMetadata (JSON and protobuf)', async () => {
    const j = await server.request('GET', '/api/v1/namespaces/default/configmaps/a', undefined, { Accept: `application/json;${POM}` });
    assert.equal(j.json.kind, 'PartialObjectMetadata');
    assert.equal(j.json.metadata.name, 'a');
    assert.equal(j.json.data, undefined);
    const p = await raw('/api/v1/namespaces/default/configmaps/a', { Accept: `application/vnd.kubernetes.protobuf;${POM}, application/json` });
    const u = unwrap(p.body);
    assert.equal(u.kind, 'PartialObjectMetadata');
    assert.equal(metadataOf(u.raw).name, 'a');
  });

  it('a list asked as a single PartialObjectMetadata (and the reverse) is 406 in upstream\'s words', async () => {
    const list = await server.request('GET', '/api/v1/namespaces/default/configmaps', undefined, { Accept: `application/json;${POM}` });
    assert.equal(list.status, 406);
    assert.equal(list.json.message, 'you requested PartialObjectMetadata, but the requested object is a list (*v1.ConfigMapList)');
    const one = await server.request('GET', '/api/v1/namespaces/default/configmaps/a', undefined, { Accept: `application/json;${POM_LIST}` });
    assert.equal(one.status, 406);
    assert.equal(one.json.message, 'you requested PartialObjectMetadataList, but the requested object is not a list (*v1.ConfigMap)');
  });

  it("client-go's metadata informer watch: protobuf frames of PartialObjectMetadata, bookmarks too", async () => {
    const r = await rawWatch('/api/v1/namespaces/default/configmaps?watch=1&allowWatchBookmarks=true&sendInitialEvents=true&resourceVersionMatch=NotOlderThan', { Accept: METADATA_WATCH_ACCEPT }, (b) => watchFrames(b).length >= 3);
    assert.equal(r.status, 200);
    assert.equal(r.contentType, 'application/vnd.kubernetes.protobuf;as=PartialObjectMetadata;v=v1;g=meta.k8s.io;stream=watch');
    const frames = watchFrames(r.body);
    assert.deepEqual(frames.map((f) => f.type), ['ADDED', 'ADDED', 'BOOKMARK']);
    const objs = frames.map((f) => unwrap(f.object));
    assert.ok(objs.every((o) => o.kind === 'PartialObjectMetadata' && o.apiVersion === 'meta.k8s.io/v1'));
    assert.deepEqual(objs.slice(0, 2).map((o) => metadataOf(o.raw).name).sort(), ['a', 'b']);
    assert.equal(metadataOf(objs[2].raw).annotations['k8s.io/initial-events-end'], 'true');
  });

  it("a metadata informer's loop: list in protobuf, watch from the list's resourceVersion, see a change, relist", async () => {
    const listed = unwrap((await raw('/api/v1/namespaces/default/configmaps', { Accept: METADATA_LIST_ACCEPT })).body);
    const { resourceVersion, items } = listItems(listed.raw);
    const known = new Map(items.map(metadataOf).map((m) => [m.name, m.resourceVersion]));
    const watching = rawWatch(`/api/v1/namespaces/default/configmaps?watch=1&allowWatchBookmarks=true&resourceVersion=${resourceVersion}&timeoutSeconds=30`, { Accept: METADATA_WATCH_ACCEPT }, (b) => watchFrames(b).some((f) => f.type === 'MODIFIED'));
    await new Promise((r) => setTimeout(r, 300));
    assert.equal((await server.request('PATCH', '/api/v1/namespaces/default/configmaps/b', { metadata: { labels: { seen: 'yes' } } }, { 'Content-Type': 'application/merge-patch+json' })).status, 200);
    const w = await watching;
    const modified = watchFrames(w.body).find((f) => f.type === 'MODIFIED');
    assert.ok(modified, 'a MODIFIED event after the list');
    const meta = metadataOf(unwrap(modified.object).raw);
    assert.equal(meta.name, 'b');
    assert.equal(meta.labels.seen, 'yes');
    assert.ok(Number(meta.resourceVersion) > Number(known.get('b')), 'the event is newer than the list');
    // A PartialObjectMetadataList asked of a watch cannot convert single objects: upstream sends them whole.
    const whole = await rawWatch('/api/v1/namespaces/default/configmaps?watch=1', { Accept: `application/json;${POM_LIST}` }, (b) => b.includes(0x0a));
    assert.equal(JSON.parse(whole.body.toString().split('\n')[0]).object.kind, 'ConfigMap');
  });

  it('a JSON watch of PartialObjectMetadata sees changes as metadata-only events', async () => {
    const s = await server.stream('/api/v1/namespaces/default/configmaps?watch=true&resourceVersion=0', { Accept: `application/json;${POM},application/json` });
    await s.waitFor(2);
    await server.request('POST', '/api/v1/namespaces/default/configmaps', { metadata: { name: 'c' }, data: { big: 'x'.repeat(1000) } });
    const events = await s.waitFor(3);
    s.close();
    assert.equal(s.headers['content-type'], `application/json;as=PartialObjectMetadata;v=v1;g=meta.k8s.io`);
    assert.deepEqual(events[2], { type: 'ADDED', object: { kind: 'PartialObjectMetadata', apiVersion: 'meta.k8s.io/v1', metadata: events[2].object.metadata } });
    assert.equal(events[2].object.metadata.name, 'c');
    await server.request('DELETE', '/api/v1/namespaces/default/configmaps/c');
  });
});

describe('protobuf, YAML, q values and 406', () => {
  it('a protobuf-only Accept gets protobuf for built-in kinds: get, list and watch', async () => {
    const g = await raw('/api/v1/namespaces/default/configmaps/a', { Accept: 'application/vnd.kubernetes.protobuf' });
    assert.equal(g.contentType, 'application/vnd.kubernetes.protobuf');
    const cm = decodeProtobufObject(g.body);
    assert.deepEqual([cm.kind, cm.metadata.name, (cm as any).data.k], ['ConfigMap', 'a', 'forced']);
    const l = await raw('/api/v1/namespaces/default/configmaps', { Accept: 'application/vnd.kubernetes.protobuf' });
    const list = unwrap(l.body);
    assert.deepEqual([list.apiVersion, list.kind], ['v1', 'ConfigMapList']);
    assert.equal(listItems(list.raw).items.length, 2);
    const w = await rawWatch('/api/v1/namespaces/default/configmaps?watch=1', { Accept: 'application/vnd.kubernetes.protobuf' }, (b) => watchFrames(b).length >= 2);
    assert.equal(w.contentType, 'application/vnd.kubernetes.protobuf;stream=watch');
    const frames = watchFrames(w.body);
    assert.equal(frames[0].type, 'ADDED');
    assert.equal(decodeProtobufObject(frames[0].object).kind, 'ConfigMap');
  });

  it('q values decide between a Table and JSON', async () => {
    const t = await server.request('GET', '/api/v1/namespaces/default/configmaps', undefined, { Accept: 'application/json;q=0.5, application/json;as=Table;v=v1;g=meta.k8s.io;q=0.9' });
    assert.equal(t.json.kind, 'Table');
    const j = await server.request('GET', '/api/v1/namespaces/default/configmaps', undefined, { Accept: 'application/json;as=Table;v=v1;g=meta.k8s.io;q=0.5, application/json;q=0.9' });
    assert.equal(j.json.kind, 'ConfigMapList');
  });

  it('application/yaml gets YAML', async () => {
    const r = await server.request('GET', '/api/v1/namespaces/default/configmaps/a', undefined, { Accept: 'application/yaml' });
    assert.equal(r.headers['content-type'], 'application/yaml');
    const doc = parseYaml(r.text);
    assert.deepEqual([doc.kind, doc.metadata.name], ['ConfigMap', 'a']);
  });

  it('406 NotAcceptable only where nothing acceptable remains', async () => {
    for (const accept of ['application/xml', 'text/html', 'application/json;as=Table;v=v1;g=example.com', 'application/vnd.kubernetes.protobuf;as=Table;v=v1;g=meta.k8s.io']) {
      const r = await server.request('GET', '/api/v1/namespaces/default/configmaps/a', undefined, { Accept: accept });
      assert.equal(r.status, 406, accept);
      assert.equal(r.json.reason, 'NotAcceptable');
      assert.equal(r.json.message, NOT_ACCEPTABLE);
    }
    const fallback = await server.request('GET', '/api/v1/namespaces/default/configmaps/a', undefined, { Accept: 'application/xml, application/json;q=0.1' });
    assert.equal(fallback.status, 200);
    const watchYaml = await server.request('GET', '/api/v1/namespaces/default/configmaps?watch=1', undefined, { Accept: 'application/yaml' });
    assert.equal(watchYaml.status, 406);
  });
});
