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

  describe('what an adversarial test found (issue 6), each closed', () => {
    const cms = '/api/v1/namespaces/default/configmaps';
    const deepYaml = (n: number) => `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: deep\ndata: ${'['.repeat(n)}${']'.repeat(n)}\n`;

    it('a YAML body nested 20,000 levels is 400 before parsing, however often it comes (it killed the process)', async () => {
      for (let i = 0; i < 5; i++) {
        const r = await s.request('POST', cms, deepYaml(20_000), { 'Content-Type': 'application/yaml' });
        expect4xx(r, 'deep YAML create');
        assert.equal(r.status, 400);
        assert.match(r.json.message, /exceeded max depth of 1000/);
      }
      const compact = await s.request('POST', cms, 'metadata:\n  name: deep\ndata:\n  a: ' + '- '.repeat(20_000) + 'x\n', { 'Content-Type': 'application/yaml' });
      assert.equal(compact.status, 400);
      assert.equal((await s.request('GET', cms)).status, 200, 'the server still serves');
    });

    it('deep nesting is 400 in JSON bodies and in every patch type', async () => {
      const created = await s.request('POST', cms, { metadata: { name: 'nest' }, data: { a: 'b' } });
      assert.equal(created.status, 201);
      const deepJson = (n: number) => `{"metadata":{"name":"nest","labels":${'{"a":'.repeat(n)}1${'}'.repeat(n)}}}`;
      const cases: [string, string, string, string][] = [
        ['POST', cms, deepJson(20_000), 'application/json'],
        ['PUT', `${cms}/nest`, deepJson(20_000), 'application/json'],
        ['PATCH', `${cms}/nest`, `[{"op":"add","path":"/data/x","value":${'['.repeat(20_000)}${']'.repeat(20_000)}}]`, 'application/json-patch+json'],
        ['PATCH', `${cms}/nest`, deepJson(20_000), 'application/merge-patch+json'],
        ['PATCH', `${cms}/nest`, deepJson(20_000), 'application/strategic-merge-patch+json'],
        ['PATCH', `${cms}/nest?fieldManager=t`, deepYaml(20_000).replace('name: deep', 'name: nest'), 'application/apply-patch+yaml'],
      ];
      for (const [method, path, body, ct] of cases) {
        const r = await s.request(method, path, body, { 'Content-Type': ct });
        assert.equal(r.status, 400, `${method} ${ct}: ${r.status} ${r.text.slice(0, 200)}`);
        assert.equal(r.json.reason, 'BadRequest');
        assert.match(r.json.message, /exceeded max depth/);
      }
    });

    it('a JSON patch that doubles the object with copy is 422 at once (CVE-2019-1002100)', async () => {
      const created = await s.request('POST', cms, { metadata: { name: 'copies', annotations: { seed: 'x'.repeat(1000) } } });
      assert.equal(created.status, 201);
      const ops = Array.from({ length: 40 }, (_, i) => ({ op: 'copy', from: '/metadata/annotations', path: `/metadata/annotations/k${i}` }));
      const start = Date.now();
      const r = await s.request('PATCH', `${cms}/copies`, JSON.stringify(ops), { 'Content-Type': 'application/json-patch+json' });
      assert.equal(r.status, 422, r.text.slice(0, 300));
      assert.match(r.json.details.causes[0].message, /^Unable to complete the copy, the accumulated size increase of copy is \d+, exceeding the limit 3145728$/);
      assert.ok(Date.now() - start < 5000, 'not seconds of work');
    });

    it('a managedFields entry nested thousands of levels is 400, not 500', async () => {
      await s.request('POST', cms, { metadata: { name: 'mf' } });
      const got = await s.request('GET', `${cms}/mf`);
      // Built as text: the client's own JSON.stringify would overflow its stack first.
      const fieldsV1 = '{"f:a":'.repeat(5000) + '{}' + '}'.repeat(5000);
      got.json.metadata.managedFields = [{ manager: 'x', operation: 'Update', apiVersion: 'v1', fieldsType: 'FieldsV1', fieldsV1: '@' }];
      const body = JSON.stringify(got.json).replace('"@"', fieldsV1);
      const r = await s.request('PUT', `${cms}/mf`, body);
      assert.equal(r.status, 400, r.text.slice(0, 300));
      assert.equal(r.json.reason, 'BadRequest');
    });

    it('negative CPU and memory requests or limits are 422, as upstream words it', async () => {
      const r = await s.request('POST', '/api/v1/namespaces/default/pods', {
        metadata: { name: 'neg' },
        spec: { containers: [{ name: 'c', image: 'busybox', resources: { requests: { cpu: '-1' }, limits: { memory: '-5Mi' } } }] },
      });
      assert.equal(r.status, 422, r.text.slice(0, 300));
      assert.match(r.json.message, /spec\.containers\[0\]\.resources\.requests\[cpu\]: Invalid value: "-1": must be greater than or equal to 0/);
      assert.match(r.json.message, /spec\.containers\[0\]\.resources\.limits\[memory\]: Invalid value: "-5Mi": must be greater than or equal to 0/);
      const inTemplate = await s.request('POST', '/apis/apps/v1/namespaces/default/deployments', {
        metadata: { name: 'neg' },
        spec: { selector: { matchLabels: { a: 'b' } }, template: { metadata: { labels: { a: 'b' } }, spec: { containers: [{ name: 'c', image: 'i', resources: { requests: { cpu: '-100m' } } }] } } },
      });
      assert.equal(inTemplate.status, 422);
      assert.match(inTemplate.json.message, /spec\.template\.spec\.containers\[0\]\.resources\.requests\[cpu\]: Invalid value: "-100m"/);
    });

    it('a CronJob day-of-week range 0-1000000 is 422 with the cron parser\'s words', async () => {
      const r = await s.request('POST', '/apis/batch/v1/namespaces/default/cronjobs', {
        metadata: { name: 'range' },
        spec: { schedule: '0 0 * * 0-1000000', jobTemplate: { spec: { template: { spec: { restartPolicy: 'OnFailure', containers: [{ name: 'c', image: 'i' }] } } } } },
      });
      assert.equal(r.status, 422, r.text.slice(0, 300));
      assert.equal(r.json.details.causes[0].field, 'spec.schedule');
      assert.match(r.json.message, /spec\.schedule: Invalid value: "0 0 \* \* 0-1000000": end of range \(1000000\) above maximum \(6\): 0-1000000/);
    });

    it('a CronJob schedule with a TZ= prefix or an upper-case descriptor is 422, as upstream', async () => {
      const cronJob = (name: string, schedule: string) => ({
        metadata: { name },
        spec: { schedule, jobTemplate: { spec: { template: { spec: { restartPolicy: 'OnFailure', containers: [{ name: 'c', image: 'i' }] } } } } },
      });
      const tz = await s.request('POST', '/apis/batch/v1/namespaces/default/cronjobs', cronJob('tz', 'TZ=UTC 0 0 * * *'));
      assert.equal(tz.status, 422, tz.text.slice(0, 300));
      assert.match(tz.json.message, /spec\.schedule: Invalid value: "TZ=UTC 0 0 \* \* \*": cannot use TZ or CRON_TZ in schedule, use timeZone field instead/);
      const upper = await s.request('POST', '/apis/batch/v1/namespaces/default/cronjobs', cronJob('upper', '@HOURLY'));
      assert.equal(upper.status, 422, upper.text.slice(0, 300));
      assert.match(upper.json.message, /unrecognized descriptor: @HOURLY/);
      assert.equal((await s.request('POST', '/apis/batch/v1/namespaces/default/cronjobs', cronJob('lower', '@hourly'))).status, 201);
    });

    it('immutable fields changed by PUT are refused with 422, not silently kept', async () => {
      const cm = (await s.request('POST', cms, { metadata: { name: 'uid' } })).json;
      cm.metadata.uid = '00000000-0000-0000-0000-000000000000';
      const uid = await s.request('PUT', `${cms}/uid`, cm);
      assert.equal(uid.status, 422, uid.text.slice(0, 300));
      assert.match(uid.json.message, /metadata\.uid: Invalid value: "00000000-0000-0000-0000-000000000000": field is immutable/);
      const svc = (await s.request('POST', '/api/v1/namespaces/default/services', { metadata: { name: 'ips' }, spec: { ports: [{ port: 80 }] } })).json;
      svc.spec.clusterIPs = [svc.spec.clusterIP, 'fd00::1'];
      const ips = await s.request('PUT', '/api/v1/namespaces/default/services/ips', svc);
      assert.equal(ips.status, 422, ips.text.slice(0, 300));
      const stored = await s.request('GET', '/api/v1/namespaces/default/services/ips');
      assert.deepEqual(stored.json.spec.clusterIPs, [svc.spec.clusterIP]);
      const family = structuredClone(stored.json);
      family.spec.ipFamilies = ['IPv6'];
      const families = await s.request('PUT', '/api/v1/namespaces/default/services/ips', family);
      assert.equal(families.status, 422, families.text.slice(0, 300));
      assert.match(families.json.message, /spec\.ipFamilies\[0\]: Invalid value: "IPv6": may not change once set/);
    });
  });
});
