import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { KubeObject } from '../../api/object.js';
import { isStatusError, type StatusError } from '../../api/status.js';
import { closeWebhookConnections } from '../admission/webhook/webhook-client.js';
import { ConversionError, conversionReview, convertedObjects, gvkString, reviewVersionOf, type ReviewAnswer } from './conversion-review.js';
import { startConversionWebhook, type TestConversionWebhook } from './conversion-testing.js';
import { ConversionWebhook, type ServiceLookup } from './conversion-webhook.js';

const tab = (name: string, apiVersion = 'stable.example.com/v1', extra: Record<string, unknown> = {}): KubeObject =>
  ({
    apiVersion,
    kind: 'CronTab',
    metadata: { name, namespace: 'default', uid: `uid-${name}`, resourceVersion: '7', generation: 1, labels: { app: 'a' } },
    spec: { cron: '* * * * */5' },
    ...extra,
  }) as KubeObject;

const answer = (sent: KubeObject[], response: unknown, reviewVersion = 'v1'): ReviewAnswer => ({ reviewVersion, uid: 'u1', desiredAPIVersion: 'stable.example.com/v2', sent, response });
const v2 = (o: KubeObject, meta: Record<string, unknown> = {}) => ({ ...o, apiVersion: 'stable.example.com/v2', metadata: { ...o.metadata, ...meta } });
const ok = (objs: unknown[], uid = 'u1') => ({ apiVersion: 'apiextensions.k8s.io/v1', kind: 'ConversionReview', response: { uid, convertedObjects: objs, result: { status: 'Success' } } });

function throwsConversion(f: () => unknown, message: string): void {
  assert.throws(f, (err: unknown) => err instanceof ConversionError && err.message === message);
}

describe('ConversionReview contract (conversion-review.ts)', () => {
  it('speaks the first known version the webhook lists, and prints GVKs as Go does', () => {
    assert.equal(reviewVersionOf(['v2', 'v1beta1', 'v1']), 'v1beta1');
    assert.equal(reviewVersionOf(['v3']), undefined);
    assert.equal(gvkString('stable.example.com/v1', 'CronTab'), 'stable.example.com/v1, Kind=CronTab');
    assert.deepEqual(conversionReview('v1', 'u', 'g/v2', []), { kind: 'ConversionReview', apiVersion: 'apiextensions.k8s.io/v1', request: { uid: 'u', desiredAPIVersion: 'g/v2', objects: [] } });
  });

  it('keeps the original metadata but for labels and annotations', () => {
    const a = tab('a');
    const [out] = convertedObjects(answer([a], ok([v2(a, { labels: { app: 'b' }, generation: 42, resourceVersion: '1' })])));
    assert.equal(out!.apiVersion, 'stable.example.com/v2');
    assert.deepEqual(out!.metadata, { ...a.metadata, labels: { app: 'b' } });
    const [noLabels] = convertedObjects(answer([a], ok([{ ...v2(a), metadata: { name: 'a', namespace: 'default', uid: 'uid-a' } }])));
    assert.equal(noLabels!.metadata.labels, undefined, 'labels the webhook dropped are dropped');
  });

  it('refuses answers as upstream does, in its words', () => {
    const a = tab('a');
    const b = tab('b');
    const prefix = 'conversion webhook for stable.example.com/v1, Kind=CronTab';
    const table: [string, unknown, string, KubeObject[]?, string?][] = [
      ['wrong kind of review', { apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', response: {} }, `${prefix} failed: expected webhook response of apiextensions.k8s.io/v1, Kind=ConversionReview, got admission.k8s.io/v1, Kind=AdmissionReview`],
      ['no response', { apiVersion: 'apiextensions.k8s.io/v1', kind: 'ConversionReview' }, `${prefix} failed: no response provided`],
      ['uid', ok([v2(a)], 'other'), `${prefix} failed: expected response.uid="u1", got "other"`],
      ['failure with message', { apiVersion: 'apiextensions.k8s.io/v1', kind: 'ConversionReview', response: { uid: 'u1', result: { status: 'Failure', message: 'no way' } } }, `${prefix} failed: no way`],
      ['failure without message', { apiVersion: 'apiextensions.k8s.io/v1', kind: 'ConversionReview', response: { uid: 'u1', result: {} } }, `${prefix} failed: response.result.status was '', not 'Success'`],
      ['count', ok([v2(a)]), `${prefix} returned 1 objects, expected 2`, [a, b]],
      ['apiVersion', ok([{ ...v2(a), apiVersion: 'stable.example.com/v1' }]), `${prefix} returned invalid object at index 0: invalid groupVersion (expected stable.example.com/v2, received stable.example.com/v1)`],
      ['kind', ok([{ ...v2(a), kind: 'Other' }]), `${prefix} returned invalid object at index 0: invalid kind (expected CronTab, received Other)`],
      ['name', ok([v2(a, { name: 'z' })]), `${prefix} returned invalid object: must have the same name: a != z`],
      ['uid of the object, in a list', ok([v2(a), v2(b, { uid: 'x' })]), `${prefix} returned invalid converted object at index 1: must have the same UID: uid-b != x`, [a, b]],
      ['namespace', ok([v2(a, { namespace: 'x' })]), `${prefix} returned invalid object: must have the same namespace: default != x`],
      ['metadata missing', ok([{ apiVersion: 'stable.example.com/v2', kind: 'CronTab' }]), `${prefix} returned invalid object: must have the same name: a != `],
      ['label not a string', ok([v2(a, { labels: { app: 1 } })]), `${prefix} returned invalid metadata: metadata.labels[app] must be a string, but is float64 in converted object`],
      ['invalid label', ok([v2(a, { labels: { app: 'not valid!' } })]), /* ValidateLabels' words */ ''],
    ];
    for (const [what, response, message, sent, version] of table) {
      const run = () => convertedObjects(answer(sent ?? [a], response, version));
      if (message) throwsConversion(run, message);
      else assert.throws(run, (err: unknown) => err instanceof ConversionError && err.message.startsWith(`${prefix} returned invalid metadata: metadata.labels: Invalid value: "not valid!"`), what);
    }
  });

  it('v1beta1 answers are not checked for kind and uid (upstream keeps that for compatibility)', () => {
    const a = tab('a');
    const [out] = convertedObjects(answer([a], { response: { uid: 'whatever', convertedObjects: [v2(a)], result: { status: 'Success' } } }, 'v1beta1'));
    assert.equal(out!.apiVersion, 'stable.example.com/v2');
  });
});

describe('ConversionWebhook over HTTPS (conversion-webhook.ts)', () => {
  let hook: TestConversionWebhook;
  const noServices: ServiceLookup = { cached: () => undefined, list: () => [] };
  const converter = (path: string, extra: { versions?: string[]; timeoutMs?: number; caBundle?: string } = {}) =>
    new ConversionWebhook({ clientConfig: { url: hook.url(path), caBundle: extra.caBundle ?? hook.caBundle }, conversionReviewVersions: extra.versions ?? ['v1'] }, noServices, extra.timeoutMs);
  const failure = async (p: Promise<unknown>): Promise<StatusError> => {
    try {
      await p;
    } catch (err) {
      assert.ok(isStatusError(err), String(err));
      return err;
    }
    assert.fail('expected the conversion to fail');
  };

  before(async () => {
    hook = await startConversionWebhook();
  });
  after(async () => {
    closeWebhookConnections();
    await hook?.close();
  });

  it('converts only the objects not in the desired version, all in one review, in order', async () => {
    hook.reviews.length = 0;
    const objs = [tab('a'), tab('b', 'stable.example.com/v2'), tab('c')];
    const out = await converter('/convert').convert(objs, 'stable.example.com/v2');
    assert.deepEqual(out.map((o) => [o.metadata.name, o.apiVersion, (o as any).spec.schedule ?? (o as any).spec.cron]), [
      ['a', 'stable.example.com/v2', '* * * * */5'],
      ['b', 'stable.example.com/v2', '* * * * */5'],
      ['c', 'stable.example.com/v2', '* * * * */5'],
    ]);
    assert.equal((out[0] as any).spec.cron, undefined, 'the field is renamed');
    assert.equal(out[1], objs[1], 'objects already in the version are not sent');
    assert.equal(hook.reviews.length, 1);
    assert.deepEqual(hook.reviews[0], { path: '/convert', reviewApiVersion: 'apiextensions.k8s.io/v1', desiredAPIVersion: 'stable.example.com/v2', from: ['stable.example.com/v1', 'stable.example.com/v1'] });
    assert.deepEqual(await converter('/convert').convert([objs[1]!], 'stable.example.com/v2'), [objs[1]]);
    assert.equal(hook.reviews.length, 1, 'no call when nothing needs converting');
  });

  it('speaks v1beta1 to a webhook that accepts only it', async () => {
    hook.reviews.length = 0;
    await converter('/convert', { versions: ['v1beta1'] }).convert([tab('a')], 'stable.example.com/v2');
    assert.equal(hook.reviews[0]!.reviewApiVersion, 'apiextensions.k8s.io/v1beta1');
  });

  it('keeps the labels a webhook sets and restores the rest of the metadata', async () => {
    const [out] = await converter('/label').convert([tab('a')], 'stable.example.com/v2');
    assert.equal(out!.metadata.labels?.['converted-by'], 'webhook');
    assert.equal(out!.metadata.generation, 1);
  });

  it('a webhook that is down, slow, garbage-answering or wrong gives a 500 in upstream words, without hanging', async () => {
    const gvk = 'conversion webhook for stable.example.com/v1, Kind=CronTab';
    const down = await failure(new ConversionWebhook({ clientConfig: { url: 'https://127.0.0.1:1/convert' }, conversionReviewVersions: ['v1'] }, noServices).convert([tab('a')], 'stable.example.com/v2'));
    assert.equal(down.code, 500);
    assert.equal(down.reason, '');
    assert.equal(down.message, `${gvk} failed: Post "https://127.0.0.1:1/convert?timeout=30s": dial tcp 127.0.0.1:1: connect: connection refused`);
    const started = Date.now();
    const slow = await failure(converter('/slow', { timeoutMs: 300 }).convert([tab('a')], 'stable.example.com/v2'));
    assert.ok(Date.now() - started < 5000);
    assert.match(slow.message, new RegExp(`^${gvk} failed: Post "https://127\\.0\\.0\\.1:\\d+/slow\\?timeout=1s": context deadline exceeded \\(Client\\.Timeout exceeded while awaiting headers\\)$`));
    const garbage = await failure(converter('/garbage').convert([tab('a')], 'stable.example.com/v2'));
    assert.equal(garbage.message, `${gvk} failed: couldn't get version/kind; json parse error: invalid character 'g' looking for beginning of value`);
    assert.equal((await failure(converter('/wrong-uid').convert([tab('a')], 'stable.example.com/v2'))).message.includes('failed: expected response.uid='), true);
    assert.equal((await failure(converter('/rename').convert([tab('a')], 'stable.example.com/v2'))).message, `${gvk} returned invalid object: must have the same name: a != a-renamed`);
    assert.equal((await failure(converter('/short').convert([tab('a'), tab('b')], 'stable.example.com/v2'))).message, `${gvk} returned 1 objects, expected 2`);
    assert.equal((await failure(converter('/fail').convert([tab('a')], 'stable.example.com/v2'))).message, `${gvk} failed: cannot convert crontabs today`);
    const untrusted = await failure(converter('/convert', { caBundle: '' }).convert([tab('a')], 'stable.example.com/v2'));
    assert.match(untrusted.message, /failed: Post ".*": tls: failed to verify certificate: x509: certificate signed by unknown authority$/);
    const service = await failure(new ConversionWebhook({ clientConfig: { service: { namespace: 'default', name: 'converter', port: 443 } }, conversionReviewVersions: ['v1'] }, noServices).convert([tab('a')], 'stable.example.com/v2'));
    assert.equal(service.message, `${gvk} failed: service "converter" not found`);
  });
});
