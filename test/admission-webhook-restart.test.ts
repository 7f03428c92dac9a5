/**
 * A server restarts while a catch-all webhook with failurePolicy Fail is down: it still comes up (its bootstrap writes
 * only what is missing), the webhook refuses writes as upstream's would, and its configuration can be removed.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, it } from 'node:test';
import { startTestServer, type TestServer } from './helpers/test-server.js';

let s: TestServer | undefined;
let dir: string | undefined;
after(async () => {
  await s?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

it('a server with a down catch-all webhook restarts, and the webhook can be removed', async () => {
  dir = await mkdtemp(join(tmpdir(), 'skiff-webhook-restart-'));
  s = await startTestServer({ controlPlane: false, dataDir: dir });
  const path = '/apis/admissionregistration.k8s.io/v1/validatingwebhookconfigurations';
  const created = await s.request('POST', path, {
    apiVersion: 'admissionregistration.k8s.io/v1',
    kind: 'ValidatingWebhookConfiguration',
    metadata: { name: 'catch-all' },
    webhooks: [{ name: 'all.webhooks.skiff.test', clientConfig: { url: 'https://127.0.0.1:1/' }, rules: [{ operations: ['*'], apiGroups: ['*'], apiVersions: ['*'], resources: ['*/*'] }], sideEffects: 'None', admissionReviewVersions: ['v1'], timeoutSeconds: 1 }],
  });
  assert.equal(created.status, 201, created.text);
  await s.stop();
  s = undefined;
  s = await startTestServer({ controlPlane: false, dataDir: dir });
  const refused = await s.request('POST', '/api/v1/namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'blocked' } });
  assert.equal(refused.status, 500);
  assert.match(refused.json.message, /failed calling webhook "all.webhooks.skiff.test": failed to call webhook: Post "https:\/\/127.0.0.1:1\/\?timeout=1s": dial tcp 127.0.0.1:1: connect: connection refused/);
  assert.equal((await s.request('DELETE', `${path}/catch-all`)).status, 200);
  // Gone from the watch cache within moments: writes are admitted again.
  let status = 0;
  for (let i = 0; i < 50 && status !== 201; i++) {
    status = (await s.request('POST', '/api/v1/namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'unblocked' } })).status;
    if (status !== 201) await new Promise((r) => setTimeout(r, 20));
  }
  assert.equal(status, 201);
});
