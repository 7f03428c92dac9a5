/**
 * The etcd datastore over TLS with client certificates (k3s's --datastore-cafile, --datastore-certfile,
 * --datastore-keyfile), against a real etcd started with --client-cert-auth: the store works with the certificate,
 * is refused without one or with a certificate of another CA, and `skiff server` runs on it with kubectl.
 * Certificates are made by openssl for this test. Run from dist/ (it spawns bin/skiff):
 *   npx tsc -p tsconfig.json && node --test dist/test/etcd-tls.test.js
 * Needs etcd and openssl (skips otherwise; fails under CI=true).
 */
import assert from 'node:assert/strict';
import { execFile, spawnSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe, test } from 'node:test';
import { haveEtcd, startTestEtcd, type TestEtcd } from '../src/storage/etcd-store-testing.js';
import { openStore } from '../src/storage/open-store.js';
import { kubectlFor, kubectlSkip } from './helpers/kubectl.js';
import { spawnServer, waitExit } from './helpers/server-process.js';

const run = promisify(execFile);

function skipReason(): string | false {
  const missing = !haveEtcd() ? 'etcd is not installed' : spawnSync('openssl', ['version']).error ? 'openssl is not installed' : undefined;
  if (!missing) return false;
  if (process.env.CI === 'true') throw new Error(`${missing}, and CI=true forbids skipping the etcd TLS test`);
  return missing;
}

/** A CA and a certificate it signs (`san` for a server), with openssl. */
async function makeCa(dir: string, name: string): Promise<{ cert: string; key: string }> {
  const cert = join(dir, `${name}.crt`);
  const key = join(dir, `${name}.key`);
  await run('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', key, '-out', cert, '-days', '2', '-subj', `/CN=${name}`]);
  return { cert, key };
}

async function issue(dir: string, ca: { cert: string; key: string }, name: string, ext: string): Promise<{ cert: string; key: string }> {
  const cert = join(dir, `${name}.crt`);
  const key = join(dir, `${name}.key`);
  const csr = join(dir, `${name}.csr`);
  const extFile = join(dir, `${name}.ext`);
  await writeFile(extFile, ext);
  await run('openssl', ['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', key, '-out', csr, '-subj', `/CN=${name}`]);
  await run('openssl', ['x509', '-req', '-in', csr, '-CA', ca.cert, '-CAkey', ca.key, '-CAcreateserial', '-out', cert, '-days', '2', '-extfile', extFile]);
  return { cert, key };
}

describe('etcd over TLS with client certificates', { skip: skipReason() }, () => {
  let dir: string;
  let etcd: TestEtcd | undefined;
  let ca: { cert: string; key: string };
  let client: { cert: string; key: string };
  let stranger: { cert: string; key: string };

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'skiff-etcd-tls-'));
    ca = await makeCa(dir, 'etcd-ca');
    const server = await issue(dir, ca, 'etcd-server', 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n');
    client = await issue(dir, ca, 'skiff-client', 'extendedKeyUsage=clientAuth\n');
    stranger = await issue(dir, await makeCa(dir, 'other-ca'), 'stranger', 'extendedKeyUsage=clientAuth\n');
    etcd = await startTestEtcd([], { caFile: ca.cert, certFile: server.cert, keyFile: server.key, clientCertFile: client.cert, clientKeyFile: client.key });
  });
  after(async () => {
    await etcd?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  test('the store reads and writes with the client certificate', async () => {
    const store = await openStore(`https://${etcd!.endpoint}/tls`, { caFile: ca.cert, certFile: client.cert, keyFile: client.key });
    try {
      const w = await store.create('/registry/core/configmaps/ns/a', '{"x":1}');
      assert.equal((await store.get('/registry/core/configmaps/ns/a')).kv?.value, '{"x":1}');
      assert.ok(w.revision > 1);
    } finally {
      await store.close();
    }
  });

  test('refused: no client certificate, a certificate of another CA, plain http, cert files with http://, a cert without its key', async () => {
    await assert.rejects(openStore(`https://${etcd!.endpoint}`, { caFile: ca.cert }), /cannot reach etcd within/);
    await assert.rejects(openStore(`https://${etcd!.endpoint}`, { caFile: ca.cert, certFile: stranger.cert, keyFile: stranger.key }), /cannot reach etcd within/);
    await assert.rejects(openStore(`http://${etcd!.endpoint}`, { caFile: ca.cert }), /are for etcd over TLS: use https:\/\/host:port/);
    await assert.rejects(openStore(`https://${etcd!.endpoint}`, { caFile: ca.cert, certFile: client.cert }), /--datastore-certfile and --datastore-keyfile go together/);
    await assert.rejects(openStore(`https://${etcd!.endpoint}`, { caFile: join(dir, 'missing.crt') }), /cannot read the datastore CA file .*missing\.crt/);
  });

  test('skiff server runs on it, and kubectl works', { skip: kubectlSkip() }, async () => {
    const data = join(dir, 'server');
    const server = await spawnServer(['--data-dir', data, '--https-listen-port', '0', '--bind-address', '127.0.0.1', '--disable', 'coredns', '--datastore-endpoint', `https://${etcd!.endpoint}/skiff`, '--datastore-cafile', ca.cert, '--datastore-certfile', client.cert, '--datastore-keyfile', client.key], 40_000);
    try {
      const k = kubectlFor(join(data, 'kubeconfig.yaml'));
      const r = await k(['create', 'configmap', 'over-tls', '--from-literal=a=b']);
      assert.equal(r.code, 0, r.stderr);
      assert.equal((await k(['get', 'configmap', 'over-tls', '-o', 'jsonpath={.data.a}'])).stdout, 'b');
    } finally {
      const exited = waitExit(server.child);
      server.child.kill('SIGTERM');
      await exited;
    }
  });
});
