/**
 * End to end: `skiff server --secrets-encryption` with the real kubectl, on SQLite and on a real etcd. Secrets are in
 * the datastore only as kube-apiserver's envelope (`k8s:enc:aescbc:v1:<key>:`), read back in clear through the API;
 * the key file is kube-apiserver's EncryptionConfiguration; `skiff secrets-encrypt status|reencrypt|rotate-keys`
 * rewrites Secrets stored before encryption was turned on and moves every Secret to a new key; a restarted server
 * reads them all. Run from dist/ (it spawns bin/skiff):
 *   npx tsc -p tsconfig.json && node --test dist/test/secrets-encryption.e2e.test.js
 * Needs kubectl (skips otherwise, fails under CI=true); the etcd part needs etcd (the same).
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe, test } from 'node:test';
import Database from 'better-sqlite3';
import { haveEtcd, startTestEtcd, type TestEtcd } from '../src/storage/etcd-store-testing.js';
import { EtcdStore } from '../src/storage/etcd-store.js';
import { kubectlFor, kubectlSkip, type Kubectl } from './helpers/kubectl.js';
import { SKIFF_BIN, spawnServer, waitExit, type ServerProcess } from './helpers/server-process.js';

const run = promisify(execFile);
const PASSWORD = 'correct-horse-battery-staple-7f3a';
const B64 = Buffer.from(PASSWORD).toString('base64');

async function stop(s: ServerProcess | undefined): Promise<void> {
  if (!s || s.child.exitCode !== null) return;
  const exited = waitExit(s.child);
  s.child.kill('SIGTERM');
  await exited;
}

/** Every byte of the SQLite datastore (database, WAL and shared memory), as latin1 text to search in. */
async function datastoreBytes(dataDir: string): Promise<string> {
  const dir = join(dataDir, 'server', 'db');
  const files = await readdir(dir);
  return (await Promise.all(files.map((f) => readFile(join(dir, f))))).map((b) => b.toString('latin1')).join('\n');
}

/** The newest stored value of a key in the SQLite datastore, read as the file has it (read-only, beside the server). */
function sqliteValue(dataDir: string, key: string): string | undefined {
  const db = new Database(join(dataDir, 'server', 'db', 'state.db'), { readonly: true, fileMustExist: true });
  try {
    const row = db.prepare('SELECT value FROM log WHERE key = ? ORDER BY id DESC LIMIT 1').get(key) as { value: string } | undefined;
    return row?.value;
  } finally {
    db.close();
  }
}

const skiff = (args: string[]) => run(process.execPath, [SKIFF_BIN, 'secrets-encrypt', ...args], { timeout: 60_000 }).then((r) => r.stdout, (err: any) => Promise.reject(new Error(`skiff secrets-encrypt ${args.join(' ')}: ${err.stderr ?? err.message}`)));

describe('secrets encrypted at rest (--secrets-encryption), on SQLite', { skip: kubectlSkip() }, () => {
  let dir: string;
  let server: ServerProcess | undefined;
  let k: Kubectl;
  const start = async (encrypt: boolean) => {
    server = await spawnServer(['--data-dir', dir, '--https-listen-port', '0', '--bind-address', '127.0.0.1', '--disable', 'coredns', ...(encrypt ? ['--secrets-encryption'] : [])], 30_000);
    k = kubectlFor(join(dir, 'kubeconfig.yaml'));
  };

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'skiff-e2e-enc-'));
  });
  after(async () => {
    await stop(server);
    await rm(dir, { recursive: true, force: true });
  });

  test('a Secret written before encryption is on stays readable and is rewritten by reencrypt', async () => {
    await start(false);
    let r = await k(['create', 'secret', 'generic', 'before', `--from-literal=password=${PASSWORD}`]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(sqliteValue(dir, '/registry/core/secrets/default/before')?.includes(B64), true, 'without the flag, the value is in clear');
    const out = await skiff(['status', '--data-dir', dir]).catch((e: Error) => e.message);
    assert.match(out, /does not encrypt secrets \(start it with --secrets-encryption\)/);
    await stop(server);

    await start(true);
    const config = JSON.parse(await readFile(join(dir, 'server', 'cred', 'encryption-config.json'), 'utf8'));
    assert.equal(config.kind, 'EncryptionConfiguration');
    assert.deepEqual(config.resources[0].resources, ['secrets']);
    assert.deepEqual(Object.keys(config.resources[0].providers[0]), ['aescbc']);
    assert.deepEqual(config.resources[0].providers[1], { identity: {} });
    r = await k(['get', 'secret', 'before', '-o', 'jsonpath={.data.password}']);
    assert.equal(r.stdout, B64, 'still readable');
    let status = await skiff(['status', '--data-dir', dir]);
    assert.match(status, /^Encryption Status: Enabled$/m);
    assert.match(status, /^Stored values not sealed with the active key: 1 of \d+/m);
    assert.match(status, /^ \*\s+AES-CBC\s+aescbckey-/m);

    assert.match(await skiff(['reencrypt', '--data-dir', dir]), /^Re-encrypted: 1 of \d+ stored values rewritten with the active key$/m);
    assert.match(sqliteValue(dir, '/registry/core/secrets/default/before')!, /^k8s:enc:aescbc:v1:aescbckey-[^:]+:/);
    status = await skiff(['status', '--data-dir', dir]);
    assert.match(status, /^Current Rotation Stage: reencrypt_finished$/m);
    assert.match(status, /^Stored values not sealed with the active key: 0 of/m);
    r = await k(['get', 'secret', 'before', '-o', 'jsonpath={.data.password}']);
    assert.equal(r.stdout, B64);
  });

  test('a Secret created with encryption on is nowhere in the datastore files in clear; kubectl reads it', async () => {
    const secret = `${PASSWORD}-new`;
    const r = await k(['create', 'secret', 'generic', 'fresh', `--from-literal=password=${secret}`, '--from-literal=note=plain-marker-91c2']);
    assert.equal(r.code, 0, r.stderr);
    const bytes = await datastoreBytes(dir);
    for (const needle of [secret, Buffer.from(secret).toString('base64'), Buffer.from('plain-marker-91c2').toString('base64')]) assert.ok(!bytes.includes(needle), `${needle} is not in the datastore files`);
    assert.ok(bytes.includes('/registry/core/secrets/default/fresh'), 'the key is there (keys are not encrypted)');
    assert.match(sqliteValue(dir, '/registry/core/secrets/default/fresh')!, /^k8s:enc:aescbc:v1:/);
    const got = await k(['get', 'secret', 'fresh', '-o', 'jsonpath={.data.password}']);
    assert.equal(Buffer.from(got.stdout, 'base64').toString(), secret);
    // ConfigMaps are not named by the config: stored as they are.
    await k(['create', 'configmap', 'cm', '--from-literal=k=configmap-marker-33']);
    assert.match(sqliteValue(dir, '/registry/core/configmaps/default/cm')!, /configmap-marker-33/);
  });

  test('rotate-keys: every Secret moves to a new key, the old one is kept to read; a restarted server reads them all', async () => {
    const before = sqliteValue(dir, '/registry/core/secrets/default/fresh')!.split(':')[4];
    const out = await skiff(['rotate-keys', '--data-dir', dir]);
    const m = /^Rotated to key (\S+); (\d+) of (\d+) stored values rewritten with it$/m.exec(out);
    assert.ok(m, out);
    assert.notEqual(m[1], before);
    for (const name of ['before', 'fresh']) assert.equal(sqliteValue(dir, `/registry/core/secrets/default/${name}`)!.split(':')[4], m[1], name);
    const status = await skiff(['status', '--data-dir', dir]);
    assert.match(status, new RegExp(`^ \\*\\s+AES-CBC\\s+${m[1]}$`, 'm'));
    assert.match(status, new RegExp(`^\\s+AES-CBC\\s+${before}$`, 'm'), 'the previous key is listed, inactive');
    await stop(server);
    await start(true);
    for (const [name, want] of [['before', PASSWORD], ['fresh', `${PASSWORD}-new`]] as const) {
      const r = await k(['get', 'secret', name, '-o', 'jsonpath={.data.password}']);
      assert.equal(Buffer.from(r.stdout, 'base64').toString(), want, name);
    }
  });

  test('a key file that does not parse stops the start with a line naming the file and the field', async () => {
    await stop(server);
    const path = join(dir, 'server', 'cred', 'encryption-config.json');
    const { writeFile } = await import('node:fs/promises');
    await writeFile(path, JSON.stringify({ kind: 'EncryptionConfiguration', apiVersion: 'apiserver.config.k8s.io/v1', resources: [{ resources: ['secrets'], providers: [{ aescbc: { keys: [{ name: 'k', secret: 'dG9vc2hvcnQ=' }] } }] }] }));
    await assert.rejects(spawnServer(['--data-dir', dir, '--https-listen-port', '0', '--bind-address', '127.0.0.1', '--secrets-encryption'], 30_000), (err: Error) => {
      assert.match(err.message, /encryption-config\.json: resources\[0\]\.providers\[0\]\.aescbc\.keys\[0\]\.secret: Invalid value: REDACTED: secret is not of the expected length, got 8/);
      return true;
    });
  });
});

function etcdSkip(): string | false {
  const k = kubectlSkip();
  if (k) return k;
  if (haveEtcd()) return false;
  if (process.env.CI === 'true') throw new Error('etcd is not installed, and CI=true forbids skipping the etcd encryption test');
  return 'etcd is not installed on this machine';
}

describe('secrets encrypted at rest (--secrets-encryption), on etcd', { skip: etcdSkip() }, () => {
  let etcd: TestEtcd | undefined;
  let dir: string;
  let server: ServerProcess | undefined;
  after(async () => {
    await stop(server);
    await etcd?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  test('etcd holds the envelope, kubectl the clear value', async () => {
    etcd = await startTestEtcd();
    dir = await mkdtemp(join(tmpdir(), 'skiff-e2e-enc-etcd-'));
    server = await spawnServer(['--data-dir', dir, '--https-listen-port', '0', '--bind-address', '127.0.0.1', '--disable', 'coredns', '--datastore-endpoint', `etcd://${etcd.endpoint}/enc`, '--secrets-encryption'], 30_000);
    const k = kubectlFor(join(dir, 'kubeconfig.yaml'));
    const r = await k(['create', 'secret', 'generic', 's', `--from-literal=password=${PASSWORD}`]);
    assert.equal(r.code, 0, r.stderr);
    // Read etcd directly, without the encrypting store.
    const raw = await EtcdStore.connect({ endpoints: [etcd.endpoint], prefix: '/enc' });
    try {
      const kv = (await raw.get('/registry/core/secrets/default/s')).kv!;
      assert.match(kv.value, /^k8s:enc:aescbc:v1:aescbckey-[^:]+:/);
      assert.ok(!kv.value.includes(B64) && !kv.value.includes(PASSWORD));
    } finally {
      await raw.close();
    }
    const got = await k(['get', 'secret', 's', '-o', 'jsonpath={.data.password}']);
    assert.equal(got.stdout, B64);
  });

  test('HA: a second server takes the cluster key file from the datastore, one without --secrets-encryption is refused, and a rotation reaches both', async () => {
    etcd ??= await startTestEtcd();
    const dirA = await mkdtemp(join(tmpdir(), 'skiff-e2e-enc-ha-a-'));
    const dirB = await mkdtemp(join(tmpdir(), 'skiff-e2e-enc-ha-b-'));
    const store = ['--datastore-endpoint', `etcd://${etcd.endpoint}/enc-ha`, '--disable', 'coredns', '--disable-agent', '--https-listen-port', '0', '--bind-address', '127.0.0.1'];
    let a: ServerProcess | undefined;
    let b: ServerProcess | undefined;
    const raw = await EtcdStore.connect({ endpoints: [etcd.endpoint], prefix: '/enc-ha' });
    const keyOf = async (name: string) => (await raw.get(`/registry/core/secrets/default/${name}`)).kv!.value.split(':')[4];
    const secretVia = async (k: Kubectl, name: string) => Buffer.from((await k(['get', 'secret', name, '-o', 'jsonpath={.data.password}'])).stdout, 'base64').toString();
    try {
      a = await spawnServer(['--data-dir', dirA, ...store, '--secrets-encryption'], 30_000);
      const ka = kubectlFor(join(dirA, 'kubeconfig.yaml'));
      assert.equal((await ka(['create', 'secret', 'generic', 'one', `--from-literal=password=${PASSWORD}`])).code, 0);
      const token = (await readFile(join(dirA, 'server', 'token'), 'utf8')).trim();

      await assert.rejects(spawnServer(['--data-dir', dirB, ...store, '--token', token], 30_000), /encrypt Secrets at rest: start this server with --secrets-encryption too/);
      b = await spawnServer(['--data-dir', dirB, ...store, '--token', token, '--secrets-encryption'], 30_000);
      const kb = kubectlFor(join(dirB, 'kubeconfig.yaml'));
      assert.equal(await readFile(join(dirB, 'server', 'cred', 'encryption-config.json'), 'utf8'), await readFile(join(dirA, 'server', 'cred', 'encryption-config.json'), 'utf8'));
      assert.equal(await secretVia(kb, 'one'), PASSWORD);

      // Rotated on A: B takes the new key while running and reads what A seals with it; B's writes use it too.
      const before = await keyOf('one');
      const out = await skiff(['rotate-keys', '--data-dir', dirA]);
      const m = /^Rotated to key (\S+);/m.exec(out);
      assert.ok(m, out);
      assert.notEqual(m[1], before);
      assert.equal(await keyOf('one'), m[1]);
      assert.equal((await ka(['create', 'secret', 'generic', 'two', `--from-literal=password=${PASSWORD}-2`])).code, 0);
      assert.equal(await secretVia(kb, 'two'), `${PASSWORD}-2`);
      assert.equal(await secretVia(kb, 'one'), PASSWORD);
      assert.equal((await kb(['create', 'secret', 'generic', 'three', `--from-literal=password=${PASSWORD}-3`])).code, 0);
      assert.equal(await keyOf('three'), m[1], "B writes with the cluster's new key");
      assert.match(await readFile(join(dirB, 'server', 'cred', 'encryption-config.json'), 'utf8'), new RegExp(m[1]!));
      assert.equal(await secretVia(ka, 'three'), `${PASSWORD}-3`);
    } finally {
      await raw.close();
      await stop(b);
      await stop(a);
      await rm(dirA, { recursive: true, force: true });
      await rm(dirB, { recursive: true, force: true });
    }
  });
});
