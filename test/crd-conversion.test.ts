/**
 * End-to-end: CRD webhook conversion with the real kubectl 1.32 against a real skiff API server and a real HTTPS
 * conversion webhook with its own CA (src/apiserver/crd/conversion-testing.ts: v1 `spec.cron` is v2 `spec.schedule`).
 * v1 stored and v2 served; kubectl get / apply (client-side and server-side) in both versions; a storage-version
 * change, then reads and a list of objects stored in both versions (one review for the list); a watch in the other
 * version; the webhook reached through a Service with manual Endpoints; a webhook that is down or answers garbage
 * (upstream's error, the stored version and other CRDs unaffected); the CRD's conversion settings validated.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import { after, before, describe, it } from 'node:test';
import { kubectlFor, kubectlSkip, type Kubectl } from './helpers/kubectl.js';
import { startTestServer, type TestServer } from './helpers/test-server.js';
import { startConversionWebhook, type TestConversionWebhook } from '../src/apiserver/crd/conversion-testing.js';
import { closeWebhookConnections } from '../src/apiserver/admission/webhook/webhook-client.js';

const skip = kubectlSkip('32');
const CRD = 'crontabs.stable.example.com';
const NS = 'conversion-e2e';

const specSchema = (field: string) => ({
  openAPIV3Schema: { type: 'object', properties: { spec: { type: 'object', properties: { [field]: { type: 'string' }, replicas: { type: 'integer' } } } } },
});

function crontabCrd(clientConfig: Record<string, unknown>, storage: 'v1' | 'v2' = 'v1', reviewVersions = ['v1', 'v1beta1']) {
  return {
    apiVersion: 'apiextensions.k8s.io/v1',
    kind: 'CustomResourceDefinition',
    metadata: { name: CRD },
    spec: {
      group: 'stable.example.com',
      scope: 'Namespaced',
      names: { plural: 'crontabs', singular: 'crontab', kind: 'CronTab', shortNames: ['ct'] },
      versions: [
        { name: 'v1', served: true, storage: storage === 'v1', schema: specSchema('cron') },
        { name: 'v2', served: true, storage: storage === 'v2', schema: specSchema('schedule') },
      ],
      conversion: { strategy: 'Webhook', webhook: { conversionReviewVersions: reviewVersions, clientConfig } },
    },
  };
}

const tab = (version: 'v1' | 'v2', name: string, value: string, replicas?: number) => ({
  apiVersion: `stable.example.com/${version}`,
  kind: 'CronTab',
  metadata: { name, namespace: NS },
  spec: { [version === 'v1' ? 'cron' : 'schedule']: value, ...(replicas !== undefined ? { replicas } : {}) },
});

async function closedPort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', () => r()));
  const port = (srv.address() as { port: number }).port;
  await new Promise<void>((r) => srv.close(() => r()));
  return port;
}

async function eventually<T>(what: string, f: () => Promise<T | undefined>, timeoutMs = 10_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await f();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('CRD webhook conversion end-to-end (kubectl 1.32)', { skip }, () => {
  let s: TestServer;
  let hook: TestConversionWebhook;
  let k: Kubectl;
  let dir: string;
  let n = 0;

  const apply = async (obj: unknown, extra: string[] = []) => {
    const p = join(dir, `m-${n++}.json`);
    await writeFile(p, JSON.stringify(obj));
    const r = await k(['apply', ...extra, '-f', p]);
    assert.equal(r.code, 0, r.stderr);
  };
  /** Applies the CRD and waits until the server calls the webhook at `path` (its registration follows the watch cache). */
  const useWebhook = async (clientConfig: Record<string, unknown>, storage: 'v1' | 'v2' = 'v1') => {
    await apply(crontabCrd(clientConfig, storage));
    await eventually('the CRD served with its new settings', async () => {
      const crd = (await s.request('GET', `/apis/apiextensions.k8s.io/v1/customresourcedefinitions/${CRD}`)).json;
      const storageNow = crd.spec.versions.find((v: { storage: boolean }) => v.storage).name;
      const est = crd.status?.conditions?.find((c: { type: string }) => c.type === 'Established')?.status === 'True';
      const expected = { ...clientConfig, ...(clientConfig.service ? { service: { port: 443, ...(clientConfig.service as object) } } : {}) };
      return est && storageNow === storage && isDeepStrictEqual(crd.spec.conversion.webhook.clientConfig, expected) ? true : undefined;
    });
    // The registry follows the CRD's cache event synchronously; one request makes sure the new definitions answer.
    await eventually('the new definitions', async () => ((await s.request('GET', `/apis/stable.example.com/v2/namespaces/${NS}/crontabs`)).status !== 404 ? true : undefined));
  };
  const get = (version: string, name: string) => k.json(['get', `crontabs.${version}.stable.example.com`, name, '-n', NS]);

  before(async () => {
    hook = await startConversionWebhook({ hostnames: [`converter.${NS}.svc`] });
    s = await startTestServer({ controlPlane: false, datastore: 'memory' });
    k = kubectlFor(s.kubeconfig, '32');
    dir = await mkdtemp(join(tmpdir(), 'skiff-crd-conversion-e2e-'));
    assert.equal((await k(['create', 'namespace', NS])).code, 0);
  });
  after(async () => {
    await s?.stop();
    closeWebhookConnections();
    await hook?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('the CRD: webhook settings validated as upstream (422 with causes)', async () => {
    const bad = crontabCrd({ url: hook.url('/convert'), caBundle: hook.caBundle }, 'v1', ['v3']) as any;
    const r1 = await s.request('POST', '/apis/apiextensions.k8s.io/v1/customresourcedefinitions', bad);
    assert.equal(r1.status, 422, r1.text);
    assert.match(r1.json.message, /spec\.conversion\.conversionReviewVersions: Invalid value: \[\]string\{"v3"\}: must include at least one of v1, v1beta1|spec\.conversion\.conversionReviewVersions: Invalid value: .*must include at least one of v1, v1beta1/);
    bad.spec.conversion = { strategy: 'Webhook' };
    const r2 = await s.request('POST', '/apis/apiextensions.k8s.io/v1/customresourcedefinitions', bad);
    assert.equal(r2.status, 422, r2.text);
    assert.ok(r2.json.details.causes.some((c: { field: string; message: string }) => c.field === 'spec.conversion.webhookClientConfig' && c.message === 'Required value: required when strategy is set to Webhook'), r2.text);
    bad.spec.conversion = { strategy: 'Webhook', webhook: { conversionReviewVersions: ['v1'], clientConfig: { url: 'http://127.0.0.1:1/convert' } } };
    const r3 = await s.request('POST', '/apis/apiextensions.k8s.io/v1/customresourcedefinitions', bad);
    assert.equal(r3.status, 422, r3.text);
    assert.match(r3.json.message, /spec\.conversion\.webhookClientConfig\.url: Invalid value: "http": 'https' is the only allowed URL scheme/);
  });

  it('v1 stored, v2 served with a renamed field: kubectl get and apply in both versions', async () => {
    await useWebhook({ url: hook.url('/convert'), caBundle: hook.caBundle });
    await apply(tab('v1', 'from-v1', '*/5 * * * *', 1));
    await apply(tab('v2', 'from-v2', '0 * * * *', 2));
    const a2 = await get('v2', 'from-v1');
    assert.equal(a2.apiVersion, 'stable.example.com/v2');
    assert.deepEqual(a2.spec, { schedule: '*/5 * * * *', replicas: 1 });
    const b1 = await get('v1', 'from-v2');
    assert.equal(b1.apiVersion, 'stable.example.com/v1');
    assert.deepEqual(b1.spec, { cron: '0 * * * *', replicas: 2 });
    // Stored in v1 (the storage version): read in v1 without a call.
    const calls = hook.reviews.length;
    assert.deepEqual((await get('v1', 'from-v1')).spec, { cron: '*/5 * * * *', replicas: 1 });
    assert.equal(hook.reviews.length, calls, 'an object read in the version it is stored in is not sent');
    assert.ok(hook.reviews.some((r) => r.desiredAPIVersion === 'stable.example.com/v1' && r.from[0] === 'stable.example.com/v2'), 'the v2 create was converted to v1 for storage');

    // kubectl apply again in v2 (client-side: a merge patch of the v2 form), then in v1; server-side apply in v2.
    await apply(tab('v2', 'from-v2', '30 * * * *', 3));
    assert.deepEqual((await get('v1', 'from-v2')).spec, { cron: '30 * * * *', replicas: 3 });
    await apply(tab('v1', 'from-v2', '45 * * * *', 3));
    assert.deepEqual((await get('v2', 'from-v2')).spec, { schedule: '45 * * * *', replicas: 3 });
    await apply(tab('v2', 'ssa', '15 * * * *', 4), ['--server-side']);
    assert.deepEqual((await get('v1', 'ssa')).spec, { cron: '15 * * * *', replicas: 4 });
    await apply(tab('v2', 'ssa', '20 * * * *', 4), ['--server-side']);
    const ssa = (await s.request('GET', `/apis/stable.example.com/v2/namespaces/${NS}/crontabs/ssa`)).json;
    assert.deepEqual(ssa.spec, { schedule: '20 * * * *', replicas: 4 });
    const applied = ssa.metadata.managedFields?.find((m: { manager: string; operation: string }) => m.manager === 'kubectl' && m.operation === 'Apply');
    assert.ok(applied, `kubectl's apply recorded: ${JSON.stringify(ssa.metadata.managedFields)}`);

    // kubectl edit-style replace in v2 and a JSON patch in v2.
    const patched = await k(['patch', 'crontabs.v2.stable.example.com', 'from-v1', '-n', NS, '--type=json', '-p', '[{"op":"replace","path":"/spec/schedule","value":"1 1 * * *"}]']);
    assert.equal(patched.code, 0, patched.stderr);
    assert.deepEqual((await get('v1', 'from-v1')).spec, { cron: '1 1 * * *', replicas: 1 });
  });

  it('labels a webhook sets are kept, other metadata changes are not', async () => {
    await useWebhook({ url: hook.url('/label'), caBundle: hook.caBundle });
    const stored = await get('v1', 'from-v1');
    const got = await get('v2', 'from-v1');
    assert.equal(got.metadata.labels?.['converted-by'], 'webhook');
    assert.equal(stored.metadata.labels?.['converted-by'], undefined, 'read in the stored version, no call');
    assert.equal(got.metadata.generation, stored.metadata.generation, 'the webhook set generation 99: not kept');
  });

  it('storage version moved to v2: mixed lists are converted in one review, reads and a watch in either version', async () => {
    await useWebhook({ url: hook.url('/convert'), caBundle: hook.caBundle }, 'v2');
    await apply(tab('v2', 'stored-as-v2', '5 5 * * *', 5));
    const before = hook.reviews.length;
    const list2 = await k.json(['get', 'crontabs.v2.stable.example.com', '-n', NS]);
    assert.deepEqual(
      list2.items.map((i: any) => [i.metadata.name, i.apiVersion, i.spec.schedule]).sort(),
      [
        ['from-v1', 'stable.example.com/v2', '1 1 * * *'],
        ['from-v2', 'stable.example.com/v2', '45 * * * *'],
        ['ssa', 'stable.example.com/v2', '20 * * * *'],
        ['stored-as-v2', 'stable.example.com/v2', '5 5 * * *'],
      ],
    );
    const listReviews = hook.reviews.slice(before).filter((r) => r.desiredAPIVersion === 'stable.example.com/v2');
    assert.equal(listReviews.length, 1, 'one review for the list');
    assert.deepEqual(listReviews[0]!.from, ['stable.example.com/v1', 'stable.example.com/v1', 'stable.example.com/v1'], 'only the objects stored in v1 are sent');
    const list1 = await k.json(['get', 'crontabs.v1.stable.example.com', '-n', NS]);
    assert.deepEqual(list1.items.map((i: any) => i.spec.cron).sort(), ['1 1 * * *', '20 * * * *', '45 * * * *', '5 5 * * *']);
    // A watch in v1 sees the objects stored in v2 converted, the initial ones and a live one.
    const w = await s.stream(`/apis/stable.example.com/v1/namespaces/${NS}/crontabs?watch=true`);
    await w.waitFor(4);
    await apply(tab('v2', 'live', '9 9 * * *'));
    const events = await w.waitFor(5);
    w.close();
    assert.deepEqual(events.map((e) => [e.type, e.object.apiVersion, e.object.spec.cron]).at(-1), ['ADDED', 'stable.example.com/v1', '9 9 * * *']);
    assert.ok(events.every((e) => e.object.apiVersion === 'stable.example.com/v1' && e.object.spec.schedule === undefined), JSON.stringify(events));
  });

  it('through a Service with manual Endpoints, the certificate checked as <svc>.<ns>.svc', async () => {
    await apply({ apiVersion: 'v1', kind: 'Service', metadata: { name: 'converter', namespace: NS }, spec: { ports: [{ name: 'https', port: 443, targetPort: hook.port }] } });
    await apply({ apiVersion: 'v1', kind: 'Endpoints', metadata: { name: 'converter', namespace: NS }, subsets: [{ addresses: [{ ip: '127.0.0.1' }], ports: [{ name: 'https', port: hook.port }] }] });
    await useWebhook({ service: { namespace: NS, name: 'converter', path: '/convert' }, caBundle: hook.caBundle }, 'v2');
    const before = hook.reviews.length;
    assert.equal((await get('v1', 'stored-as-v2')).spec.cron, '5 5 * * *');
    assert.equal(hook.reviews.length, before + 1);
  });

  it('a webhook that is down or answers garbage: upstream\'s error; the stored version and other CRDs still work', async () => {
    const port = await closedPort();
    await useWebhook({ url: `https://127.0.0.1:${port}/convert`, caBundle: hook.caBundle }, 'v2');
    const down = await k(['get', 'crontabs.v1.stable.example.com', 'stored-as-v2', '-n', NS]);
    assert.notEqual(down.code, 0);
    assert.equal(down.stderr.trim(), `Error from server: conversion webhook for stable.example.com/v2, Kind=CronTab failed: Post "https://127.0.0.1:${port}/convert?timeout=30s": dial tcp 127.0.0.1:${port}: connect: connection refused`);
    const wire = await s.request('GET', `/apis/stable.example.com/v1/namespaces/${NS}/crontabs`);
    assert.equal(wire.status, 500);
    assert.equal(wire.json.reason, undefined);
    const write = await s.request('POST', `/apis/stable.example.com/v1/namespaces/${NS}/crontabs`, tab('v1', 'refused', '1 2 3 4 5'));
    assert.equal(write.status, 500, 'a write that needs converting fails too');
    assert.equal((await s.request('GET', `/apis/stable.example.com/v1/namespaces/${NS}/crontabs/refused`)).status, 404);
    // Objects stored in v2 read in v2 need no call.
    assert.equal((await get('v2', 'stored-as-v2')).spec.schedule, '5 5 * * *');
    await useWebhook({ url: hook.url('/garbage'), caBundle: hook.caBundle }, 'v2');
    const garbage = await k(['get', 'crontabs.v1.stable.example.com', 'stored-as-v2', '-n', NS]);
    assert.equal(garbage.stderr.trim(), `Error from server: conversion webhook for stable.example.com/v2, Kind=CronTab failed: couldn't get version/kind; json parse error: invalid character 'g' looking for beginning of value`);
    // Another CRD (None conversion) is unaffected.
    await apply({
      apiVersion: 'apiextensions.k8s.io/v1',
      kind: 'CustomResourceDefinition',
      metadata: { name: 'gizmos.stable.example.com' },
      spec: { group: 'stable.example.com', scope: 'Namespaced', names: { plural: 'gizmos', singular: 'gizmo', kind: 'Gizmo' }, versions: [{ name: 'v1', served: true, storage: true, schema: specSchema('size') }] },
    });
    await eventually('gizmos served', async () => ((await s.request('GET', `/apis/stable.example.com/v1/namespaces/${NS}/gizmos`)).status === 200 ? true : undefined));
    await apply({ apiVersion: 'stable.example.com/v1', kind: 'Gizmo', metadata: { name: 'g', namespace: NS }, spec: { size: 'L' } });
    assert.equal((await k.json(['get', 'gizmos', 'g', '-n', NS])).spec.size, 'L');
  });
});
