/**
 * End-to-end: admission webhooks with the real kubectl against a real skiff API server and a real HTTPS webhook server
 * with its own CA (src/apiserver/admission/webhook/webhook-testing.ts). Validating deny/allow with a namespaceSelector,
 * a mutating label, warnings, timeouts / garbage / a webhook that is down under failurePolicy Fail and Ignore, a
 * webhook reached through a Service with manual Endpoints on a non-loopback host address, dry-run, and a broken
 * catch-all webhook that cannot lock its own configuration in.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startHostWebhookServer, type HostAddress, type HostWebhook } from './helpers/host-address.js';
import { kubectlFor, kubectlSkip, type Kubectl } from './helpers/kubectl.js';
import { startTestServer, type TestServer } from './helpers/test-server.js';
import { startTestWebhookServer, type TestWebhookServer } from '../src/apiserver/admission/webhook/webhook-testing.js';

const skip = kubectlSkip();

/** A loopback port nothing listens on (a webhook that is down). */
async function closedPort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', () => r()));
  const port = (srv.address() as { port: number }).port;
  await new Promise<void>((r) => srv.close(() => r()));
  return port;
}

interface HookSpec {
  name: string;
  url?: string;
  service?: { namespace: string; name: string; path: string; port?: number };
  failurePolicy?: 'Fail' | 'Ignore';
  timeoutSeconds?: number;
  namespaceSelector?: Record<string, unknown>;
  resources?: string[];
  operations?: string[];
  reinvocationPolicy?: string;
}

function configYaml(kind: 'ValidatingWebhookConfiguration' | 'MutatingWebhookConfiguration', name: string, caBundle: string, hooks: HookSpec[]): string {
  return JSON.stringify({
    apiVersion: 'admissionregistration.k8s.io/v1',
    kind,
    metadata: { name },
    webhooks: hooks.map((h) => ({
      name: h.name,
      clientConfig: { ...(h.url ? { url: h.url } : { service: h.service }), caBundle },
      rules: [{ operations: h.operations ?? ['CREATE', 'UPDATE'], apiGroups: [''], apiVersions: ['v1'], resources: h.resources ?? ['configmaps'] }],
      sideEffects: 'None',
      admissionReviewVersions: ['v1'],
      ...(h.failurePolicy ? { failurePolicy: h.failurePolicy } : {}),
      ...(h.timeoutSeconds ? { timeoutSeconds: h.timeoutSeconds } : {}),
      ...(h.namespaceSelector ? { namespaceSelector: h.namespaceSelector } : {}),
      ...(kind === 'MutatingWebhookConfiguration' && h.reinvocationPolicy ? { reinvocationPolicy: h.reinvocationPolicy } : {}),
    })),
  });
}

describe('admission webhooks end-to-end', { skip }, () => {
  let s: TestServer;
  let hook: TestWebhookServer;
  let k: Kubectl;
  let dir: string;
  let host: HostAddress;
  let hw: HostWebhook | undefined;
  let n = 0;

  before(async () => {
    hw = await startHostWebhookServer('hooks.webhook-e2e.svc');
    ({ host, hook } = hw);
    s = await startTestServer({ controlPlane: false, datastore: 'memory' });
    k = kubectlFor(s.kubeconfig);
    dir = await mkdtemp(join(tmpdir(), 'skiff-webhook-e2e-'));
    for (const ns of ['webhook-e2e', 'guarded', 'open']) assert.equal((await k(['create', 'namespace', ns])).code, 0);
    assert.equal((await k(['label', 'namespace', 'guarded', 'webhooks=on'])).code, 0);
  });
  after(async () => {
    await s?.stop();
    await hw?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  const apply = async (text: string) => {
    const p = join(dir, `m-${n++}.json`);
    await writeFile(p, text);
    const r = await k(['apply', '-f', p]);
    assert.equal(r.code, 0, r.stderr);
  };
  const remove = async (kind: string, name: string) => assert.equal((await k(['delete', kind, name])).code, 0);

  it('validating: denies in upstream words, allows others, only in namespaces its namespaceSelector picks', async () => {
    await apply(configYaml('ValidatingWebhookConfiguration', 'deny-bad', hook.caBundle, [{ name: 'deny.webhooks.skiff.test', url: hook.url('/deny'), namespaceSelector: { matchLabels: { webhooks: 'on' } } }]));
    const denied = await k(['create', 'configmap', 'bad-one', '-n', 'guarded']);
    assert.notEqual(denied.code, 0);
    assert.match(denied.stderr, /admission webhook "deny.webhooks.skiff.test" denied the request: objects named bad-one are not welcome here/);
    // On the wire: the webhook's code and reason, upstream's message.
    const wire = await s.request('POST', '/api/v1/namespaces/guarded/configmaps', { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'bad-two' } });
    assert.equal(wire.status, 403);
    assert.equal(wire.json.reason, 'Forbidden');
    assert.equal(wire.json.message, 'admission webhook "deny.webhooks.skiff.test" denied the request: objects named bad-two are not welcome here');
    assert.equal((await k(['create', 'configmap', 'good-one', '-n', 'guarded'])).code, 0);
    assert.equal((await k(['create', 'configmap', 'bad-elsewhere', '-n', 'open'])).code, 0, 'the namespaceSelector leaves unlabelled namespaces alone');
    const seen = hook.reviews.filter((r) => r.path === '/deny');
    assert.ok(seen.some((r) => r.request.name === 'good-one' && r.request.namespace === 'guarded' && r.request.operation === 'CREATE' && r.request.userInfo.username === 'system:admin'));
    assert.ok(!seen.some((r) => r.request.namespace === 'open'));
    assert.deepEqual(seen.at(-1)!.request.kind, { group: '', version: 'v1', kind: 'ConfigMap' });
    await remove('validatingwebhookconfiguration', 'deny-bad');
    // The configuration's removal takes effect as soon as the watch cache has it.
    assert.equal((await k(['create', 'configmap', 'bad-later', '-n', 'guarded'])).code, 0);
  });

  it('mutating: the JSON patch adds a label; warnings reach kubectl', async () => {
    await apply(configYaml('MutatingWebhookConfiguration', 'add-label', hook.caBundle, [{ name: 'label.webhooks.skiff.test', url: hook.url('/mutate') }]));
    await apply(configYaml('ValidatingWebhookConfiguration', 'warner', hook.caBundle, [{ name: 'warn.webhooks.skiff.test', url: hook.url('/warn') }]));
    const r = await k(['create', 'configmap', 'mutated', '-n', 'webhook-e2e', '--from-literal=a=b']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /Warning: this webhook watches you/);
    const cm = await k.json(['get', 'configmap', 'mutated', '-n', 'webhook-e2e']);
    assert.equal(cm.metadata.labels['mutated-by'], 'webhook');
    assert.deepEqual(cm.data, { a: 'b' });
    // The validating webhook saw the mutated object (validation runs after every mutation).
    assert.equal(hook.reviews.filter((x) => x.path === '/warn').at(-1)!.request.object.metadata.labels['mutated-by'], 'webhook');
    await remove('mutatingwebhookconfiguration', 'add-label');
    await remove('validatingwebhookconfiguration', 'warner');
  });

  it('a webhook that times out, answers garbage or is down: failurePolicy Fail refuses, Ignore admits', async () => {
    const down = await closedPort();
    const cases = [
      { path: '/slow', url: hook.url('/slow'), why: /failed calling webhook "slow-(fail|ignore).webhooks.skiff.test": failed to call webhook: Post "https:\/\/127.0.0.1:\d+\/slow\?timeout=1s": context deadline exceeded/ },
      { path: '/garbage', url: hook.url('/garbage'), why: /failed calling webhook "garbage-fail.webhooks.skiff.test": failed to call webhook: couldn't get version\/kind; json parse error/ },
      { path: '/down', url: `https://127.0.0.1:${down}/down`, why: /failed calling webhook "down-fail.webhooks.skiff.test": failed to call webhook: Post "https:\/\/127.0.0.1:\d+\/down\?timeout=1s": dial tcp 127.0.0.1:\d+: connect: connection refused/ },
    ];
    for (const c of cases) {
      const base = c.path.slice(1);
      await apply(configYaml('ValidatingWebhookConfiguration', `${base}-fail`, hook.caBundle, [{ name: `${base}-fail.webhooks.skiff.test`, url: c.url, failurePolicy: 'Fail', timeoutSeconds: 1, namespaceSelector: { matchLabels: { webhooks: 'on' } } }]));
      await apply(configYaml('ValidatingWebhookConfiguration', `${base}-ignore`, hook.caBundle, [{ name: `${base}-ignore.webhooks.skiff.test`, url: c.url, failurePolicy: 'Ignore', timeoutSeconds: 1 }]));
      const started = Date.now();
      const refused = await k(['create', 'configmap', `${base}-refused`, '-n', 'guarded']);
      const took = Date.now() - started;
      assert.notEqual(refused.code, 0, c.path);
      assert.match(refused.stderr, /Internal error occurred: /);
      assert.match(refused.stderr, c.why);
      // Bounded by the webhook's 1 s timeout (kubectl's own start-up included), never hanging the request.
      assert.ok(took < 8_000, `${c.path} took ${took} ms`);
      const admitted = await k(['create', 'configmap', `${base}-admitted`, '-n', 'open']);
      assert.equal(admitted.code, 0, `${c.path}: failurePolicy Ignore admits: ${admitted.stderr}`);
      await remove('validatingwebhookconfiguration', `${base}-fail`);
      await remove('validatingwebhookconfiguration', `${base}-ignore`);
    }
  });

  it('a Service with manual Endpoints on a non-loopback host address, the certificate checked as <svc>.<ns>.svc', async () => {
    await apply(JSON.stringify({ apiVersion: 'v1', kind: 'Service', metadata: { name: 'hooks', namespace: 'webhook-e2e' }, spec: { ports: [{ name: 'https', port: 443, targetPort: hook.port }] } }));
    await apply(JSON.stringify({ apiVersion: 'v1', kind: 'Endpoints', metadata: { name: 'hooks', namespace: 'webhook-e2e' }, subsets: [{ addresses: [{ ip: host.ip }], ports: [{ name: 'https', port: hook.port }] }] }));
    await apply(configYaml('ValidatingWebhookConfiguration', 'via-service', hook.caBundle, [{ name: 'svc.webhooks.skiff.test', service: { namespace: 'webhook-e2e', name: 'hooks', path: '/deny' }, namespaceSelector: { matchLabels: { webhooks: 'on' } } }]));
    const before = hook.reviews.length;
    const denied = await k(['create', 'configmap', 'bad-via-service', '-n', 'guarded']);
    assert.match(denied.stderr, /admission webhook "svc.webhooks.skiff.test" denied the request: objects named bad-via-service are not welcome here/);
    assert.ok(hook.reviews.length > before);
    // A CA that did not sign the webhook's certificate: the call fails, and failurePolicy Fail refuses.
    const otherCa = await startTestWebhookServer();
    try {
      await apply(configYaml('ValidatingWebhookConfiguration', 'via-service', otherCa.caBundle, [{ name: 'svc.webhooks.skiff.test', service: { namespace: 'webhook-e2e', name: 'hooks', path: '/deny' }, namespaceSelector: { matchLabels: { webhooks: 'on' } } }]));
      const untrusted = await k(['create', 'configmap', 'good-but-untrusted', '-n', 'guarded']);
      assert.match(untrusted.stderr, /failed calling webhook "svc.webhooks.skiff.test": failed to call webhook: Post "https:\/\/hooks.webhook-e2e.svc:443\/deny\?timeout=10s": tls: failed to verify certificate: x509: certificate signed by unknown authority/);
    } finally {
      await otherCa.close();
    }
    // No ready address: upstream's wording, failing closed.
    await apply(JSON.stringify({ apiVersion: 'v1', kind: 'Endpoints', metadata: { name: 'hooks', namespace: 'webhook-e2e' }, subsets: [] }));
    await apply(configYaml('ValidatingWebhookConfiguration', 'via-service', hook.caBundle, [{ name: 'svc.webhooks.skiff.test', service: { namespace: 'webhook-e2e', name: 'hooks', path: '/deny' }, namespaceSelector: { matchLabels: { webhooks: 'on' } } }]));
    const none = await k(['create', 'configmap', 'no-endpoints', '-n', 'guarded']);
    assert.match(none.stderr, /failed calling webhook "svc.webhooks.skiff.test": failed to call webhook: no endpoints available for service "hooks"/);
    await remove('validatingwebhookconfiguration', 'via-service');
  });

  it('dry-run: the webhook is told, its refusal applies, nothing is stored', async () => {
    await apply(configYaml('ValidatingWebhookConfiguration', 'dry', hook.caBundle, [{ name: 'dry.webhooks.skiff.test', url: hook.url('/deny'), namespaceSelector: { matchLabels: { webhooks: 'on' } } }]));
    await apply(configYaml('MutatingWebhookConfiguration', 'dry-label', hook.caBundle, [{ name: 'drylabel.webhooks.skiff.test', url: hook.url('/mutate'), namespaceSelector: { matchLabels: { webhooks: 'on' } } }]));
    const ok = await k(['create', 'configmap', 'dry-good', '-n', 'guarded', '--dry-run=server', '-o', 'json']);
    assert.equal(ok.code, 0, ok.stderr);
    assert.equal(JSON.parse(ok.stdout).metadata.labels['mutated-by'], 'webhook');
    const last = hook.reviews.filter((r) => r.path === '/deny').at(-1)!;
    assert.equal(last.request.dryRun, true);
    assert.deepEqual(last.request.options, { kind: 'CreateOptions', apiVersion: 'meta.k8s.io/v1', dryRun: ['All'] });
    const bad = await k(['create', 'configmap', 'bad-dry', '-n', 'guarded', '--dry-run=server']);
    assert.match(bad.stderr, /denied the request: objects named bad-dry/);
    assert.notEqual((await k(['get', 'configmap', 'dry-good', '-n', 'guarded'])).code, 0, 'a dry run stores nothing');
    await remove('validatingwebhookconfiguration', 'dry');
    await remove('mutatingwebhookconfiguration', 'dry-label');
  });

  it('a catch-all webhook that is down cannot block changes to webhook configurations (they never go through webhooks)', async () => {
    const down = await closedPort();
    const catchAll = JSON.stringify({
      apiVersion: 'admissionregistration.k8s.io/v1',
      kind: 'ValidatingWebhookConfiguration',
      metadata: { name: 'catch-all' },
      webhooks: [{ name: 'all.webhooks.skiff.test', clientConfig: { url: `https://127.0.0.1:${down}/`, caBundle: hook.caBundle }, rules: [{ operations: ['*'], apiGroups: ['*'], apiVersions: ['*'], resources: ['*/*'] }], sideEffects: 'None', admissionReviewVersions: ['v1'], timeoutSeconds: 1 }],
    });
    await apply(catchAll);
    const blocked = await k(['create', 'configmap', 'blocked', '-n', 'webhook-e2e']);
    assert.match(blocked.stderr, /failed calling webhook "all.webhooks.skiff.test"/);
    await apply(catchAll.replace('"timeoutSeconds":1', '"timeoutSeconds":2'));
    await remove('validatingwebhookconfiguration', 'catch-all');
    assert.equal((await k(['create', 'configmap', 'unblocked', '-n', 'webhook-e2e'])).code, 0);
  });

  it('CONNECT: kubectl exec is sent to a webhook for pods/exec with the PodExecOptions, and refused by it', async () => {
    await apply(JSON.stringify({ apiVersion: 'v1', kind: 'Pod', metadata: { name: 'shell', namespace: 'webhook-e2e' }, spec: { containers: [{ name: 'main', image: 'busybox' }] } }));
    await apply(configYaml('ValidatingWebhookConfiguration', 'no-exec', hook.caBundle, [{ name: 'noexec.webhooks.skiff.test', url: hook.url('/deny-all'), operations: ['CONNECT'], resources: ['pods/exec'] }]));
    const r = await k(['exec', 'shell', '-n', 'webhook-e2e', '-c', 'main', '--', 'ls', '/']);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /admission webhook "noexec.webhooks.skiff.test" denied the request: CONNECT of pods\/exec is not allowed/);
    const review = hook.reviews.filter((x) => x.path === '/deny-all').at(-1)!.request;
    assert.equal(review.operation, 'CONNECT');
    assert.equal(review.subResource, 'exec');
    assert.deepEqual(review.object, { kind: 'PodExecOptions', apiVersion: 'v1', stdout: true, stderr: true, container: 'main', command: ['ls', '/'] });
    assert.equal(review.options, null);
    await remove('validatingwebhookconfiguration', 'no-exec');
    // Without the webhook the request gets past admission (to the node proxy, which finds the pod on no node).
    const calls = hook.reviews.length;
    const wire = await s.request('POST', '/api/v1/namespaces/webhook-e2e/pods/shell/exec?command=ls&stdout=true');
    assert.notEqual(wire.status, 403, wire.text);
    assert.equal(hook.reviews.length, calls);
  });

  it('bad configurations are refused with 422 and upstream field errors', async () => {
    const p = join(dir, 'bad.json');
    await writeFile(
      p,
      JSON.stringify({
        apiVersion: 'admissionregistration.k8s.io/v1',
        kind: 'ValidatingWebhookConfiguration',
        metadata: { name: 'bad' },
        webhooks: [{ name: 'short', clientConfig: { url: 'http://example.com/x' }, rules: [{ operations: ['CREATE'], apiGroups: [''], apiVersions: ['v1'], resources: ['pods'] }], sideEffects: 'Some', admissionReviewVersions: ['v1'], timeoutSeconds: 31 }],
      }),
    );
    const r = await k(['create', '-f', p]);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /The ValidatingWebhookConfiguration "bad" is invalid/);
    assert.match(r.stderr, /webhooks\[0\].name: Invalid value: "short": should be a domain with at least three segments separated by dots/);
    assert.match(r.stderr, /webhooks\[0\].sideEffects: Unsupported value: "Some": supported values: "None", "NoneOnDryRun"/);
    assert.match(r.stderr, /webhooks\[0\].timeoutSeconds: Invalid value: 31: the timeout value must be between 1 and 30 seconds/);
    assert.match(r.stderr, /webhooks\[0\].clientConfig.url: Invalid value: "http": 'https' is the only allowed URL scheme/);
    // Defaults as upstream's v1.
    await apply(configYaml('MutatingWebhookConfiguration', 'defaults', hook.caBundle, [{ name: 'defaults.webhooks.skiff.test', service: { namespace: 'webhook-e2e', name: 'hooks', path: '/allow' }, namespaceSelector: { matchLabels: { never: 'matches' } } }]));
    const got = await k.json(['get', 'mutatingwebhookconfiguration', 'defaults']);
    const w = got.webhooks[0];
    assert.deepEqual(
      { failurePolicy: w.failurePolicy, matchPolicy: w.matchPolicy, timeoutSeconds: w.timeoutSeconds, reinvocationPolicy: w.reinvocationPolicy, objectSelector: w.objectSelector, scope: w.rules[0].scope, port: w.clientConfig.service.port },
      { failurePolicy: 'Fail', matchPolicy: 'Equivalent', timeoutSeconds: 10, reinvocationPolicy: 'Never', objectSelector: {}, scope: '*', port: 443 },
    );
    const table = await k(['get', 'mutatingwebhookconfigurations']);
    assert.match(table.stdout, /NAME\s+WEBHOOKS\s+AGE\ndefaults\s+1\s+/);
    await remove('mutatingwebhookconfiguration', 'defaults');
  });
});
