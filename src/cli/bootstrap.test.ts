import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { ensurePki } from '../apiserver/auth/pki.js';
import { ensureServiceAccountKey } from '../apiserver/auth/serviceaccount/signing-key.js';
import { MemoryStore } from '../storage/memory-store.js';
import { adoptClusterCA, BOOTSTRAP_KEY, publishClusterCA, seal, unseal } from './bootstrap.js';

test('bootstrap data round-trips only with the same token', () => {
  const sealed = seal({ caCertPem: 'CERT', caKeyPem: 'KEY' }, 's3cret');
  assert.doesNotMatch(sealed, /KEY|CERT/);
  assert.deepEqual(unseal(sealed, 's3cret'), { caCertPem: 'CERT', caKeyPem: 'KEY' });
  assert.throws(() => unseal(sealed, 'other'), /with --token set to the token of the first server/);
});

test('the first server publishes its CA; a second data dir adopts it and its certificates follow', async () => {
  const a = await mkdtemp(join(tmpdir(), 'skiff-boot-a-'));
  const b = await mkdtemp(join(tmpdir(), 'skiff-boot-b-'));
  try {
    const store = new MemoryStore();
    const pkiA = await ensurePki(a);
    assert.equal(await publishClusterCA(store, 'tok', pkiA.caCertPem, pkiA.caKeyPem), true);
    assert.equal(await publishClusterCA(store, 'tok', 'x', 'y'), false, 'only the first publishes');
    const pkiB0 = await ensurePki(b);
    assert.notEqual(pkiB0.caCertPem, pkiA.caCertPem);
    const sealed = (await store.get(BOOTSTRAP_KEY)).kv!.value;
    assert.equal(await adoptClusterCA(sealed, b, 'tok'), true);
    const pkiB = await ensurePki(b);
    assert.equal(pkiB.caCertPem, pkiA.caCertPem);
    assert.ok(pkiB.generated.includes('serving'), 'the serving certificate is re-issued by the cluster CA');
    assert.equal(await readFile(join(b, 'server', 'tls', 'server-ca.key'), 'utf8'), pkiA.caKeyPem);
    assert.equal(await adoptClusterCA(sealed, b, 'tok'), false, 'nothing to do the second time');
    await store.close();
  } finally {
    await rm(a, { recursive: true, force: true });
    await rm(b, { recursive: true, force: true });
  }
});

test('the service account key travels with the CA, so every server checks every server\'s tokens', async () => {
  const a = await mkdtemp(join(tmpdir(), 'skiff-boot-a-'));
  const b = await mkdtemp(join(tmpdir(), 'skiff-boot-b-'));
  try {
    const store = new MemoryStore();
    const pkiA = await ensurePki(a);
    const keyA = await ensureServiceAccountKey(a);
    const pemA = keyA.export({ format: 'pem', type: 'pkcs8' }) as string;
    assert.equal(await publishClusterCA(store, 'tok', pkiA.caCertPem, pkiA.caKeyPem, pemA), true);
    const keyB0 = await ensureServiceAccountKey(b);
    assert.notEqual(keyB0.export({ format: 'pem', type: 'pkcs8' }), pemA);
    await adoptClusterCA((await store.get(BOOTSTRAP_KEY)).kv!.value, b, 'tok');
    assert.equal(await readFile(join(b, 'server', 'tls', 'service.key'), 'utf8'), pemA);
    assert.equal((await ensureServiceAccountKey(b)).export({ format: 'pem', type: 'pkcs8' }), pemA);
    await store.close();
  } finally {
    await rm(a, { recursive: true, force: true });
    await rm(b, { recursive: true, force: true });
  }
});
