/**
 * Bad input never becomes a 500, a crash or a hang: every served resource gets malformed, wrongly typed and
 * incomplete bodies through every write verb, and must answer with a 4xx Kubernetes Status.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { resources } from '../src/apiserver/registry/index.js';
import { startTestServer, type TestServer } from './helpers/test-server.js';

const WRONG_TYPES: unknown[] = [
  null,
  [],
  1,
  'x',
  { metadata: 'x' },
  { metadata: { name: 'a', labels: { a: 1 } } },
  { metadata: { name: 'a', annotations: [1] } },
  { metadata: { name: 5 } },
  { metadata: { name: 'a', finalizers: 'x', ownerReferences: 'x', generateName: 5 } },
  { metadata: { name: 'a' }, spec: 'x' },
  { metadata: { name: 'a' }, spec: { containers: 'x', template: 'x', selector: 'x', ports: 'x', rules: 'x', replicas: 1.5 } },
  { metadata: { name: 'a' }, spec: { containers: [null, 1], template: { spec: { containers: [{}] } }, selector: { matchLabels: 5 }, ports: [null] } },
  { metadata: { name: 'a' }, data: [1], rules: [null], subsets: 'x', endpoints: [null], roleRef: 'x', subjects: 'x' },
];

const INCOMPLETE: unknown[] = [
  {},
  { metadata: { name: 'a' } },
  { metadata: { name: 'a' }, spec: {} },
  {
    metadata: { name: 'a' },
    spec: { template: {}, selector: {}, jobTemplate: {}, containers: [{}], ports: [{}], rules: [{}], scaleTargetRef: {}, podSelector: {}, ingress: [{}], limits: [{}], volumeClaimTemplates: [{}] },
  },
  {
    metadata: { name: 'a' },
    spec: {
      template: { metadata: {}, spec: { containers: [{ name: 'c' }], volumes: [{}], initContainers: [{}], tolerations: [{}], affinity: { nodeAffinity: { requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: [{}] } } } } },
      jobTemplate: { spec: { template: { spec: {} } } },
      selector: { matchExpressions: [{}] },
    },
  },
  { metadata: { name: 'a' }, rules: [{}], subjects: [{}], roleRef: {}, stringData: { x: 'y' }, endpoints: [{ addresses: [] }], subsets: [{ addresses: [{}], ports: [{}] }], involvedObject: {}, regarding: {}, limits: [{}] },
];

const JSON_PATCHES = [
  [{ op: 'remove', path: '/metadata' }],
  [{ op: 'replace', path: '/metadata', value: 'x' }],
  [{ op: 'replace', path: '/spec', value: null }],
  [{ op: 'add', path: '/metadata/name', value: 'other' }],
  [{ op: 'replace', path: '', value: [] }],
  [{ op: 'replace', path: '/kind', value: 'Other' }],
];

function basePath(def: (typeof resources)[number]): string {
  return (def.group ? `/apis/${def.group}/${def.version}` : `/api/${def.version}`) + (def.namespaced ? '/namespaces/default' : '') + `/${def.plural}`;
}

describe('bad input gets a 4xx Status, never a 5xx', () => {
  let s: TestServer;
  before(async () => {
    s = await startTestServer({ datastore: 'memory' });
  });
  after(async () => {
    await s?.stop();
  });

  const expect4xx = (r: { status: number; json: any; text: string }, what: string) => {
    assert.ok(r.status >= 400 && r.status < 500, `${what}: got ${r.status} ${r.text.slice(0, 300)}`);
    assert.equal(r.json?.kind, 'Status', `${what}: a Status body`);
  };

  it('wrongly typed bodies are 400 BadRequest, naming the field', async () => {
    const r = await s.request('POST', '/api/v1/namespaces/default/configmaps', { metadata: { name: 'a', labels: { a: 1 } } });
    assert.equal(r.status, 400);
    assert.match(r.json.message, /cannot unmarshal number into Go struct field metadata\.labels\[a\] of type string/);
    const dropped = await s.request('POST', '/api/v1/namespaces/default/configmaps', { metadata: { name: 'pruned' }, spec: 'x' });
    assert.equal(dropped.status, 201);
    assert.equal(dropped.json.spec, undefined, 'an unknown field is dropped, as the Go decoder does');
    for (const def of resources) {
      const base = basePath(def);
      for (const body of WRONG_TYPES) {
        for (const [method, path, ct] of [
          ['POST', base, 'application/json'],
          ['PUT', `${base}/a`, 'application/json'],
          ['PATCH', `${base}/a`, 'application/merge-patch+json'],
        ]) {
          // Fields a kind does not have are dropped (201); everything else must be refused as input with a Status.
          const res = await s.request(method, path, JSON.stringify(body), { 'Content-Type': ct });
          if (res.status < 300) continue;
          expect4xx(res, `${method} ${path} ${JSON.stringify(body)}`);
        }
      }
    }
  });

  it('incomplete bodies, odd JSON patches, subresources and query values are refused cleanly', async () => {
    for (const def of resources) {
      const base = basePath(def);
      for (const body of INCOMPLETE) {
        const res = await s.request('POST', base, JSON.stringify(body));
        assert.ok(res.status < 500, `POST ${base} ${JSON.stringify(body)}: ${res.status} ${res.text.slice(0, 300)}`);
        // Whatever got created is then patched with a merge patch of the same body, and with odd JSON patches.
        const patched = await s.request('PATCH', `${base}/a`, JSON.stringify(body), { 'Content-Type': 'application/merge-patch+json' });
        assert.ok(patched.status < 500, `PATCH ${base}/a: ${patched.status} ${patched.text.slice(0, 300)}`);
      }
      for (const jp of JSON_PATCHES) {
        const r = await s.request('PATCH', `${base}/a`, JSON.stringify(jp), { 'Content-Type': 'application/json-patch+json' });
        assert.ok(r.status < 500, `JSON patch ${JSON.stringify(jp)} on ${base}/a: ${r.status} ${r.text.slice(0, 300)}`);
      }
      for (const sub of ['status', 'scale']) {
        const put = await s.request('PUT', `${base}/a/${sub}`, JSON.stringify({ metadata: { name: 'a' }, spec: { replicas: 'x' }, status: 'x' }));
        assert.ok(put.status < 500, `PUT ${base}/a/${sub}: ${put.status}`);
        const patch = await s.request('PATCH', `${base}/a/${sub}`, JSON.stringify({ spec: { replicas: -1 }, status: [] }), { 'Content-Type': 'application/merge-patch+json' });
        assert.ok(patch.status < 500, `PATCH ${base}/a/${sub}: ${patch.status}`);
      }
      expect4xx(await s.request('DELETE', `${base}/a`, '{"gracePeriodSeconds":"x"}'), `DELETE ${base}/a`);
      expect4xx(await s.request('GET', `${base}?watch=true&resourceVersion=abc`), `watch ${base}`);
      expect4xx(await s.request('GET', `${base}?limit=-1`), `limit ${base}`);
      expect4xx(await s.request('GET', `${base}?fieldSelector=a%3D%3D%3Db`), `fieldSelector ${base}`);
    }
  });

  it('a resourceVersion from the future is a 504 Timeout with ResourceVersionTooLarge, not a hang', async () => {
    const start = Date.now();
    const r = await s.request('GET', '/api/v1/namespaces/default/configmaps?resourceVersion=999999999');
    assert.equal(r.status, 504);
    assert.equal(r.json.details.causes[0].reason, 'ResourceVersionTooLarge');
    assert.ok(Date.now() - start < 10_000);
  });
});
