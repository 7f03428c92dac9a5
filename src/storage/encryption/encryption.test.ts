import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { runStoreConformance } from '../conformance.js';
import { MemoryStore } from '../memory-store.js';
import { EncryptingStore } from './encrypting-store.js';
import { parseEncryptionConfig, renderEncryptionConfig, type EncryptionConfig } from './encryption-config.js';
import { SecretsEncryption } from './secrets-encryption.js';
import { coveredPrefixes, DecryptError, ValueTransformer } from './value-transformer.js';

const key = (n = 32) => randomBytes(n);
const cfg = (resources: string[], ...providers: EncryptionConfig['resources'][0]['providers']): EncryptionConfig => ({ resources: [{ resources, providers }] });
const cbc = (name: string, secret = key()) => ({ type: 'aescbc' as const, keys: [{ name, secret }] });
const gcm = (name: string, secret = key()) => ({ type: 'aesgcm' as const, keys: [{ name, secret }] });
const identity = { type: 'identity' as const, keys: [] };

// Every backend guarantee holds through the wrapper, with every key sealed (`*.*`) by AES-GCM.
runStoreConformance('encrypting(memory, aesgcm *.*)', async () => ({ store: new EncryptingStore(new MemoryStore(), new ValueTransformer(cfg(['*.*'], gcm('k1')))), cleanup: async () => {} }));

describe('ValueTransformer', () => {
  const SECRET = '/registry/core/secrets/ns/s1';
  const PLAIN = JSON.stringify({ kind: 'Secret', data: { password: Buffer.from('hunter2').toString('base64') } });

  for (const [name, provider, bytes] of [['aescbc', cbc, 32], ['aescbc', cbc, 16], ['aesgcm', gcm, 24], ['aesgcm', gcm, 32]] as const) {
    test(`${name} with a ${bytes}-byte key: kube-apiserver's envelope, round trip, fresh randomness per write`, () => {
      const t = new ValueTransformer(cfg(['secrets'], provider('k1', key(bytes))));
      const a = t.toStorage(SECRET, PLAIN);
      const b = t.toStorage(SECRET, PLAIN);
      assert.ok(a.startsWith(`k8s:enc:${name}:v1:k1:`), a);
      assert.notEqual(a, b, 'a new IV / nonce for every write');
      assert.ok(!a.includes('hunter2') && !a.includes(Buffer.from('hunter2').toString('base64')) && !a.includes('Secret'));
      assert.deepEqual(t.fromStorage(SECRET, a), { value: PLAIN, stale: false });
    });
  }

  test('resources not named pass through; names match by group: secrets, deployments.apps, *.apps, *., *.*', () => {
    const t = new ValueTransformer({ resources: [{ resources: ['secrets', 'deployments.apps', '*.batch'], providers: [cbc('k1')] }] });
    for (const k of ['/registry/core/secrets/ns/a', '/registry/apps/deployments/ns/a', '/registry/batch/jobs/ns/a', '/registry/batch/cronjobs/ns/a']) assert.ok(t.covers(k), k);
    for (const k of ['/registry/core/configmaps/ns/a', '/registry/apps/replicasets/ns/a', '/registry/example.com/secrets/ns/a', '/registry/core/secretsx/a']) assert.ok(!t.covers(k), k);
    assert.equal(t.toStorage('/registry/core/configmaps/ns/a', 'x'), 'x');
    const core = new ValueTransformer(cfg(['*.'], cbc('k1')));
    assert.ok(core.covers('/registry/core/pods/ns/a') && !core.covers('/registry/apps/deployments/ns/a'));
    assert.deepEqual(coveredPrefixes({ resources: [{ resources: ['secrets', '*.', 'deployments.apps'], providers: [identity] }] }), ['/registry/apps/deployments/', '/registry/core/']);
    assert.deepEqual(coveredPrefixes(cfg(['secrets', '*.*'], identity)), ['/registry/']);
  });

  test('plain text reads only where identity is listed, and is stale under an encrypting provider', () => {
    assert.deepEqual(new ValueTransformer(cfg(['secrets'], cbc('k1'), identity)).fromStorage(SECRET, PLAIN), { value: PLAIN, stale: true });
    assert.deepEqual(new ValueTransformer(cfg(['secrets'], identity, cbc('k1'))).fromStorage(SECRET, PLAIN), { value: PLAIN, stale: false });
    assert.throws(() => new ValueTransformer(cfg(['secrets'], cbc('k1'))).fromStorage(SECRET, PLAIN), (e: unknown) => e instanceof DecryptError && /no matching prefix found/.test(e.message));
  });

  test('a second key reads (stale); a removed key, a wrong key or a value moved to another key does not', () => {
    const old = cbc('old');
    const sealedOld = new ValueTransformer(cfg(['secrets'], old)).toStorage(SECRET, PLAIN);
    assert.deepEqual(new ValueTransformer(cfg(['secrets'], cbc('new'), old)).fromStorage(SECRET, sealedOld), { value: PLAIN, stale: true });
    assert.throws(() => new ValueTransformer(cfg(['secrets'], cbc('new'))).fromStorage(SECRET, sealedOld), /no provider in the configuration for aescbc:v1:old/);
    assert.throws(() => new ValueTransformer(cfg(['secrets'], cbc('old'))).fromStorage(SECRET, sealedOld), DecryptError, 'same name, other secret');
    const g = gcm('g');
    const t = new ValueTransformer(cfg(['secrets'], g));
    assert.throws(() => t.fromStorage('/registry/core/secrets/ns/other', t.toStorage(SECRET, PLAIN)), DecryptError, 'AES-GCM authenticates the key');
    const sealed = t.toStorage(SECRET, PLAIN);
    const tampered = sealed.slice(0, -6) + (sealed.endsWith('AAAA==') ? 'BBBB==' : 'AAAA==');
    assert.throws(() => t.fromStorage(SECRET, tampered), DecryptError);
    assert.throws(() => t.fromStorage(SECRET, 'k8s:enc:aesgcm'), /malformed envelope/);
  });
});

describe('EncryptionConfiguration', () => {
  test('parses kube-apiserver files (JSON or YAML) and renders them back', () => {
    const secret = key().toString('base64');
    const yaml = `apiVersion: apiserver.config.k8s.io/v1\nkind: EncryptionConfiguration\nresources:\n  - resources: [secrets, configmaps]\n    providers:\n      - aesgcm:\n          keys:\n            - name: key1\n              secret: ${secret}\n      - identity: {}\n`;
    const c = parseEncryptionConfig(yaml);
    assert.deepEqual(c.resources[0]!.resources, ['secrets', 'configmaps']);
    assert.equal(c.resources[0]!.providers[0]!.type, 'aesgcm');
    assert.equal(c.resources[0]!.providers[0]!.keys[0]!.secret.toString('base64'), secret);
    assert.deepEqual(parseEncryptionConfig(renderEncryptionConfig(c)), c);
  });

  test('refusals name the field', () => {
    const doc = (providers: unknown, resources: unknown = ['secrets']) => JSON.stringify({ kind: 'EncryptionConfiguration', apiVersion: 'apiserver.config.k8s.io/v1', resources: [{ resources, providers }] });
    const cases: Array<[string, RegExp]> = [
      ['{', /not JSON or YAML/],
      [JSON.stringify({ kind: 'Config', apiVersion: 'v1' }), /kind must be EncryptionConfiguration/],
      [doc([{ aescbc: { keys: [{ name: 'k', secret: key(20).toString('base64') }] } }]), /resources\[0\]\.providers\[0\]\.aescbc\.keys\[0\]\.secret: Invalid value: REDACTED: secret is not of the expected length, got 20, expected one of \[16 24 32\]/],
      [doc([{ aescbc: { keys: [{ name: 'k', secret: 'not base64!' }] } }]), /secrets must be base64 encoded/],
      [doc([{ aescbc: { keys: [] } }]), /aescbc\.keys: Required value/],
      [doc([{ secretbox: { keys: [{ name: 'k', secret: key().toString('base64') }] } }]), /does not implement the secretbox provider/],
      [doc([{ identity: {}, aescbc: {} }]), /exactly one provider/],
      [doc([identity], ['Secrets']), /must be lower case/],
      [doc([{ aescbc: { keys: [{ name: 'a:b', secret: key().toString('base64') }] } }]), /keys\[0\]\.name: Invalid value/],
      [doc([]), /providers: Required value/],
    ];
    for (const [text, re] of cases) assert.throws(() => parseEncryptionConfig(text), re, text);
  });
});

describe('SecretsEncryption', () => {
  test('creates a key file once; reencrypt rewrites plain values; rotate-keys moves every value to a new key', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'skiff-enc-'));
    try {
      const path = join(dir, 'server', 'cred', 'encryption-config.json');
      const inner = new MemoryStore();
      // Written before encryption was turned on: plain text.
      await inner.create('/registry/core/secrets/ns/old', '{"data":"old"}');
      await inner.create('/registry/core/configmaps/ns/cm', '{"data":"cm"}');
      const se = await SecretsEncryption.open(inner, path);
      const file = await readFile(path, 'utf8');
      assert.match(file, /"aescbc"/);
      assert.match(file, /"identity"/);
      const first = se.config.resources[0]!.providers[0]!.keys[0]!.name;
      assert.match(first, /^aescbckey-\d{4}-/);
      assert.deepEqual((await SecretsEncryption.open(inner, path)).config, se.config, 'the file is reused, not replaced');

      await se.store.create('/registry/core/secrets/ns/new', '{"data":"new"}');
      assert.ok((await inner.get('/registry/core/secrets/ns/new')).kv!.value.startsWith(`k8s:enc:aescbc:v1:${first}:`));
      let st = await se.status();
      assert.deepEqual([st.scanned, st.stale, st.stage], [2, 1, 'start']);
      assert.equal((await se.store.get('/registry/core/secrets/ns/old')).kv!.value, '{"data":"old"}', 'plain values still read');

      assert.deepEqual(await se.reencrypt(), { scanned: 2, rewritten: 1 });
      assert.ok((await inner.get('/registry/core/secrets/ns/old')).kv!.value.startsWith('k8s:enc:aescbc:v1:'));
      assert.equal((await inner.get('/registry/core/configmaps/ns/cm')).kv!.value, '{"data":"cm"}', 'not a named resource');
      st = await se.status();
      assert.deepEqual([st.stale, st.stage], [0, 'reencrypt_finished']);

      const rotated = await se.rotateKeys(new Date(Date.now() + 1000));
      assert.notEqual(rotated.key, first);
      assert.deepEqual([rotated.scanned, rotated.rewritten], [2, 2]);
      for (const k of ['/registry/core/secrets/ns/old', '/registry/core/secrets/ns/new']) assert.ok((await inner.get(k)).kv!.value.startsWith(`k8s:enc:aescbc:v1:${rotated.key}:`), k);
      assert.deepEqual((await se.status()).keys.map((k) => [k.name, k.active]), [[rotated.key, true], [first, false]]);
      // A restarted server reads the rotated file.
      const again = await SecretsEncryption.open(inner, path);
      assert.equal((await again.store.get('/registry/core/secrets/ns/old')).kv!.value, '{"data":"old"}');

      // Watch events and conflicts carry opened values.
      const seen: string[] = [];
      const w = se.store.watch('/registry/core/secrets/', { afterRevision: await inner.currentRevision(), onEvents: (evs) => seen.push(...evs.map((e) => `${e.type}:${e.kv.value}:${e.prevKv?.value ?? ''}`)), onError: () => undefined });
      const cur = (await se.store.get('/registry/core/secrets/ns/new')).kv!;
      await se.store.update(cur.key, '{"data":"v2"}', cur.modRevision);
      await assert.rejects(se.store.update(cur.key, '{"data":"v3"}', cur.modRevision), (e: any) => e.current.value === '{"data":"v2"}');
      for (let i = 0; i < 50 && seen.length === 0; i++) await new Promise((r) => setTimeout(r, 10));
      w.cancel();
      assert.deepEqual(seen, ['update:{"data":"v2"}:{"data":"new"}']);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  test('a config file that does not parse stops the start with its path and the field', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'skiff-enc-'));
    try {
      const path = join(dir, 'encryption-config.json');
      await writeFile(path, JSON.stringify({ kind: 'EncryptionConfiguration', apiVersion: 'apiserver.config.k8s.io/v1', resources: [{ resources: ['secrets'], providers: [{ aescbc: { keys: [{ name: 'k', secret: 'c2hvcnQ=' }] } }] }] }));
      await assert.rejects(SecretsEncryption.open(new MemoryStore(), path), new RegExp(`${path}: resources\\[0\\]\\.providers\\[0\\]\\.aescbc\\.keys\\[0\\]\\.secret: Invalid value: REDACTED`));
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
