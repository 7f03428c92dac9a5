/**
 * `skiff certificate check|rotate`: the certificates of a data dir with their status as time passes, and rotation that
 * keeps the cluster CA and the service-account key while the next start (ensurePki) issues new leaves under the same CA.
 */
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { ensurePki } from '../src/apiserver/auth/pki.js';
import { certificateCommand } from '../src/cli/certificate-command.js';

const DAY = 86_400_000;

async function run(argv: string[], now?: Date) {
  let out = '';
  let err = '';
  const code = await certificateCommand(argv, { stdout: (t) => (out += t), stderr: (t) => (err += t), ...(now ? { now } : {}) });
  return { code, out, err };
}

test('check lists every certificate with its status as expiry nears; rotate keeps the CA and the next start renews the leaves', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'skiff-cert-cmd-'));
  try {
    const pki = await ensurePki(dir);
    await writeFile(join(dir, 'server', 'tls', 'service.key'), 'kept');
    let r = await run(['check', '-d', dir]);
    assert.equal(r.code, 0, r.err);
    const lines = r.out.trim().split('\n');
    assert.match(lines[0]!, /^FILENAME\s+SUBJECT\s+USAGES\s+EXPIRES\s+RESIDUAL TIME\s+STATUS$/);
    assert.equal(lines.length, 5);
    assert.match(r.out, /client-admin\.crt\s+CN=system:admin,O=system:masters\s+ClientAuth\s+\S+\s+36[45]d\s+OK/);
    assert.match(r.out, /serving-kube-apiserver\.crt\s+CN=kube-apiserver\s+ServerAuth/);
    assert.match(r.out, /server-ca\.crt\s+\S+\s+CertSign\s+\S+\s+9y36\dd\s+OK/);
    r = await run(['check', '-d', dir], new Date(Date.now() + 300 * DAY));
    assert.match(r.out, /client-admin\.crt.*\s6[45]d\s+WARNING$/m, 'within 90 days: renewed at the next start');
    r = await run(['check', '-d', dir], new Date(Date.now() + 400 * DAY));
    assert.equal(r.code, 2);
    assert.match(r.out, /client-admin\.crt.*expired\s+EXPIRED$/m);

    r = await run(['rotate', '-d', dir]);
    assert.equal(r.code, 0, r.err);
    assert.deepEqual((await readdir(join(dir, 'server', 'tls'))).sort(), ['server-ca.crt', 'server-ca.key', 'service.key']);
    const backups = (await readdir(join(dir, 'server'))).filter((f) => /^tls-\d+$/.test(f));
    assert.equal(backups.length, 1);
    assert.ok((await readdir(join(dir, 'server', backups[0]!))).includes('client-admin.crt'), 'the old certificates are backed up');
    const again = await ensurePki(dir);
    assert.equal(again.caCertPem, pki.caCertPem, 'same CA');
    assert.notEqual(again.adminCertPem, pki.adminCertPem, 'a new admin certificate');
    assert.ok(new X509Certificate(again.servingCertPem).verify(new X509Certificate(pki.caCertPem).publicKey));
    assert.equal(await readFile(join(dir, 'server', 'tls', 'service.key'), 'utf8'), 'kept');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('refusals: no subcommand, an unknown one, a dir without certificates', async () => {
  assert.match((await run([])).err, /a subcommand is required/);
  assert.match((await run(['renew'])).err, /unknown subcommand "renew"/);
  const empty = await mkdtemp(join(tmpdir(), 'skiff-cert-cmd-'));
  try {
    assert.match((await run(['check', '-d', empty])).err, /no certificates under/);
    assert.match((await run(['rotate', '-d', empty])).err, /no server certificates in/);
  } finally {
    await rm(empty, { recursive: true, force: true });
  }
});
