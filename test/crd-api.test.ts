/**
 * CRD semantics on the wire, against a bare skiff API server (no controllers): name conflicts, new versions and a
 * storage-version change, an unreachable conversion webhook (500 in upstream words), a terminating CRD refusing creates, and a restarted
 * server serving the CRDs it finds in its store before it is ready. (A deleted namespace's custom objects are the
 * namespace controller's: test/namespace-deletion.test.ts.)
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startBareApiServer, type BareApiServer } from './helpers/api-server.js';
import { openStore } from '../src/storage/open-store.js';
import type { Store } from '../src/storage/store.js';

const CRDS = '/apis/apiextensions.k8s.io/v1/customresourcedefinitions';

const schema = { openAPIV3Schema: { type: 'object', properties: { spec: { type: 'object', properties: { size: { type: 'string' } } } } } };

function crd(plural: string, kind: string, versions: { name: string; served?: boolean; storage?: boolean }[] = [{ name: 'v1' }], extra: Record<string, unknown> = {}) {
  return {
    apiVersion: 'apiextensions.k8s.io/v1',
    kind: 'CustomResourceDefinition',
    metadata: { name: `${plural}.example.com` },
    spec: {
      group: 'example.com',
      scope: 'Namespaced',
      names: { plural, singular: plural.slice(0, -1), kind },
      versions: versions.map((v, i) => ({ name: v.name, served: v.served ?? true, storage: v.storage ?? i === 0, schema })),
      ...extra,
    },
  };
}

async function eventually<T>(what: string, f: () => Promise<T | undefined>, timeoutMs = 5000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await f();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

describe('CRD API semantics', () => {
  let store: Store;
  let s: BareApiServer;
  const condition = async (name: string, type: string) => (await s.send('GET', `${CRDS}/${name}`)).json?.status?.conditions?.find((c: { type: string }) => c.type === type);

  before(async () => {
    store = await openStore('memory://');
    s = await startBareApiServer({ store });
  });
  after(async () => {
    await s?.stop();
    await store?.close();
  });

  it('a CRD whose kind another CRD of the group serves is not accepted, and not served', async () => {
    assert.equal((await s.send('POST', CRDS, crd('widgets', 'Widget'))).status, 201);
    await eventually('widgets established', async () => ((await condition('widgets.example.com', 'Established'))?.status === 'True' ? true : undefined));
    assert.equal((await s.send('POST', CRDS, crd('doodads', 'Widget'))).status, 201);
    const names = await eventually('a NamesAccepted condition', () => condition('doodads.example.com', 'NamesAccepted'));
    assert.deepEqual([names.status, names.reason, names.message], ['False', 'KindConflict', '"Widget" is already in use']);
    const established = await condition('doodads.example.com', 'Established');
    assert.deepEqual([established.status, established.reason], ['False', 'NotAccepted']);
    assert.equal((await s.send('GET', '/apis/example.com/v1/namespaces/default/doodads')).status, 404);
  });

  it('a new version is served at once; moving the storage version records both in storedVersions and rewrites apiVersion on reads', async () => {
    assert.equal((await s.send('POST', '/apis/example.com/v1/namespaces/default/widgets', { apiVersion: 'example.com/v1', kind: 'Widget', metadata: { name: 'old' }, spec: { size: 'S' } })).status, 201);
    const cur = (await s.send('GET', `${CRDS}/widgets.example.com`)).json;
    cur.spec.versions = [{ ...cur.spec.versions[0], storage: false }, { name: 'v2', served: true, storage: true, schema }];
    const put = await s.send('PUT', `${CRDS}/widgets.example.com`, cur);
    assert.equal(put.status, 200, put.text);
    const stored = await eventually('storedVersions [v1, v2]', async () => {
      const sv = (await s.send('GET', `${CRDS}/widgets.example.com`)).json.status.storedVersions;
      return sv.length === 2 ? sv : undefined;
    });
    assert.deepEqual(stored, ['v1', 'v2']);
    const v2 = await eventually('v2 served', async () => {
      const r = await s.send('GET', '/apis/example.com/v2/namespaces/default/widgets/old');
      return r.status === 200 ? r.json : undefined;
    });
    assert.equal(v2.apiVersion, 'example.com/v2');
    assert.equal((await s.send('GET', '/apis/example.com/v1/namespaces/default/widgets/old')).json.apiVersion, 'example.com/v1');
    const list = (await s.send('GET', '/apis/example.com/v2/namespaces/default/widgets')).json;
    assert.deepEqual(list.items.map((i: { apiVersion: string }) => i.apiVersion), ['example.com/v2']);
    // The discovery of the group prefers v2 now.
    assert.equal((await s.send('GET', '/apis/example.com')).json.preferredVersion.version, 'v2');
    // A stored version cannot leave spec.versions.
    const drop = (await s.send('GET', `${CRDS}/widgets.example.com`)).json;
    drop.spec.versions = [drop.spec.versions[1]];
    const refused = await s.send('PUT', `${CRDS}/widgets.example.com`, drop);
    assert.equal(refused.status, 422);
    assert.match(refused.json.message, /status\.storedVersions\[0\]: Invalid value: "v1": must appear in spec\.versions/);
  });

  it('a default added to the schema later shows on reads of objects stored before it', async () => {
    const cur = (await s.send('GET', `${CRDS}/widgets.example.com`)).json;
    cur.spec.versions[1].schema = { openAPIV3Schema: { type: 'object', properties: { spec: { type: 'object', properties: { size: { type: 'string' }, color: { type: 'string', default: 'blue' } } } } } };
    assert.equal((await s.send('PUT', `${CRDS}/widgets.example.com`, cur)).status, 200);
    const got = await eventually('the default on read', async () => {
      const r = await s.send('GET', '/apis/example.com/v2/namespaces/default/widgets/old');
      return r.json?.spec?.color === 'blue' ? r.json : undefined;
    });
    assert.equal(got.spec.size, 'S');
    const listed = (await s.send('GET', '/apis/example.com/v2/namespaces/default/widgets')).json;
    assert.equal(listed.items[0].spec.color, 'blue');
    // v1's schema has no such default: its view of the same object has none.
    assert.equal((await s.send('GET', '/apis/example.com/v1/namespaces/default/widgets/old')).json.spec.color, undefined);
  });

  it('webhook conversion: an unreachable webhook fails reads in another version with upstream\'s error, the stored version still reads', async () => {
    const body = crd('gadgets', 'Gadget', [{ name: 'v1' }, { name: 'v2', storage: false }], {
      conversion: { strategy: 'Webhook', webhook: { conversionReviewVersions: ['v1'], clientConfig: { url: 'https://127.0.0.1:1/convert' } } },
    });
    assert.equal((await s.send('POST', CRDS, body)).status, 201);
    await eventually('gadgets served', async () => ((await s.send('GET', '/apis/example.com/v1/namespaces/default/gadgets')).status === 200 ? true : undefined));
    assert.equal((await s.send('POST', '/apis/example.com/v1/namespaces/default/gadgets', { apiVersion: 'example.com/v1', kind: 'Gadget', metadata: { name: 'g' } })).status, 201);
    const other = await s.send('GET', '/apis/example.com/v2/namespaces/default/gadgets/g');
    assert.equal(other.status, 500, other.text);
    assert.equal(other.json.reason, undefined);
    assert.match(other.json.message, /^conversion webhook for example\.com\/v1, Kind=Gadget failed: Post "https:\/\/127\.0\.0\.1:1\/convert\?timeout=30s": dial tcp 127\.0\.0\.1:1: connect: connection refused$/);
    assert.equal((await s.send('GET', '/apis/example.com/v1/namespaces/default/gadgets/g')).status, 200);
  });

  it('a CRD being deleted waits for its objects (held by finalizers) and refuses creates with 405', async () => {
    await s.send('POST', '/apis/example.com/v1/namespaces/default/gadgets', { apiVersion: 'example.com/v1', kind: 'Gadget', metadata: { name: 'held', finalizers: ['example.com/hold'] } });
    const del = await s.send('DELETE', `${CRDS}/gadgets.example.com`);
    assert.ok(del.status === 200 || del.status === 202, del.text);
    const terminating = await eventually('Terminating', () => condition('gadgets.example.com', 'Terminating'));
    assert.equal(terminating.status, 'True');
    const create = await s.send('POST', '/apis/example.com/v1/namespaces/default/gadgets', { apiVersion: 'example.com/v1', kind: 'Gadget', metadata: { name: 'late' } });
    assert.equal(create.status, 405);
    assert.equal(create.json.message, 'create not allowed while custom resource definition is terminating');
    // The held object is marked for deletion; the CRD stays until its finalizer goes.
    await eventually('held marked for deletion', async () => ((await s.send('GET', '/apis/example.com/v1/namespaces/default/gadgets/held')).json?.metadata?.deletionTimestamp ? true : undefined));
    assert.equal((await s.send('GET', `${CRDS}/gadgets.example.com`)).status, 200);
    const patch = await s.send('PATCH', '/apis/example.com/v1/namespaces/default/gadgets/held', { metadata: { finalizers: null } }, { contentType: 'application/merge-patch+json' });
    assert.equal(patch.status, 200, patch.text);
    await eventually('the CRD gone', async () => ((await s.send('GET', `${CRDS}/gadgets.example.com`)).status === 404 ? true : undefined));
    assert.equal((await s.send('GET', '/apis/example.com/v1/namespaces/default/gadgets')).status, 404);
  });

  it('wrongly typed metadata is 400 for CRDs and custom objects, as for built-in kinds', async () => {
    const cr = await s.send('POST', '/apis/example.com/v2/namespaces/default/widgets', { apiVersion: 'example.com/v2', kind: 'Widget', metadata: { name: 'typed', annotations: [1] } });
    assert.equal(cr.status, 400, cr.text);
    assert.match(cr.json.message, /cannot unmarshal array into Go struct field ObjectMeta\.metadata\.annotations of type map\[string\]string/);
    const def = await s.send('POST', CRDS, { ...crd('things', 'Thing'), metadata: { name: 'things.example.com', labels: 5 } });
    assert.equal(def.status, 400, def.text);
    const notObject = await s.send('POST', '/apis/example.com/v2/namespaces/default/widgets', { apiVersion: 'example.com/v2', kind: 'Widget', metadata: 'typed' });
    assert.equal(notObject.status, 400, notObject.text);
  });

  it('a restarted server serves the CRDs in its store before it answers ready', async () => {
    await s.stop();
    s = await startBareApiServer({ store });
    const r = await s.send('GET', '/apis/example.com/v2/namespaces/default/widgets/old');
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.spec.size, 'S');
  });
});
