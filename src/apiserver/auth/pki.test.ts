import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { mkdtemp, readFile, readdir, rm, stat, unlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, createServer, type Server } from 'node:tls';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { ensurePki } from './pki.js';
import { fillDisk, mountTinyTmpfs } from '../../storage/tmpfs-testing.js';

const DAY = 24 * 60 * 60 * 1000;

function sans(pem: string): string[] {
  return (new X509Certificate(pem).subjectAltName ?? '').split(', ');
}

describe('ensurePki', () => {
  let dataDir: string;
  before(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'skiff-pki-'));
  });
  after(async () => {
    await rm(dataDir, { recursive: true, force: true });
  });

  it('generates CA, serving and admin certificates on first start, quickly', async (t) => {
    const start = performance.now();
    const pki = await ensurePki(dataDir, { hostnames: ['skiff.example.com', '192.0.2.7'], ips: ['2001:db8::5'], nodeHostname: 'Node-A' });
    const ms = performance.now() - start;
    t.diagnostic(`first-start generation took ${ms.toFixed(1)} ms`);
    assert.ok(ms < 2000, `generation took ${ms} ms; a fresh server must answer /readyz within 2 s`);
    assert.deepEqual(pki.generated, ['ca', 'serving', 'admin', 'kubelet-client']);

    const ca = new X509Certificate(pki.caCertPem);
    assert.match(ca.subject, /^CN=skiff-server-ca@\d+$/);
    assert.equal(ca.ca, true);
    const caYears = (Date.parse(ca.validTo) - Date.parse(ca.validFrom)) / (365 * DAY);
    assert.ok(caYears > 9.9 && caYears < 10.1, `CA validity ${caYears} years`);

    const serving = new X509Certificate(pki.servingCertPem);
    assert.ok(serving.verify(ca.publicKey), 'serving certificate is signed by the CA');
    assert.equal(serving.ca, false);
    const servingSans = sans(pki.servingCertPem);
    for (const want of [
      'DNS:localhost',
      'DNS:node-a',
      'DNS:kubernetes',
      'DNS:kubernetes.default',
      'DNS:kubernetes.default.svc',
      'DNS:kubernetes.default.svc.cluster.local',
      'DNS:skiff.example.com',
      'IP Address:127.0.0.1',
      'IP Address:0:0:0:0:0:0:0:1',
      'IP Address:10.43.0.1',
      'IP Address:192.0.2.7',
      'IP Address:2001:DB8:0:0:0:0:0:5',
    ]) {
      assert.ok(servingSans.includes(want), `serving SANs ${servingSans.join(', ')} lack ${want}`);
    }
    assert.equal(serving.checkHost('kubernetes.default.svc'), 'kubernetes.default.svc');
    assert.equal(serving.checkIP('10.43.0.1'), '10.43.0.1');
    const servingDays = (Date.parse(serving.validTo) - Date.now()) / DAY;
    assert.ok(servingDays > 360 && servingDays < 366, `serving validity ${servingDays} days`);

    const admin = new X509Certificate(pki.adminCertPem);
    assert.ok(admin.verify(ca.publicKey));
    assert.equal(admin.subject, 'CN=system:admin\nO=system:masters');
    assert.deepEqual(admin.keyUsage, ['1.3.6.1.5.5.7.3.2']);

    assert.equal((await stat(pki.paths.dir)).mode & 0o777, 0o700);
    for (const key of [pki.paths.caKey, pki.paths.servingKey, pki.paths.adminKey]) {
      assert.equal((await stat(key)).mode & 0o777, 0o600, `${key} mode`);
      assert.match(await readFile(key, 'utf8'), /^-----BEGIN PRIVATE KEY-----\n/);
    }
    assert.equal(await readFile(pki.paths.caCert, 'utf8'), pki.caCertPem);
  });

  it('serves TLS with the generated key that clients verify against the CA', async () => {
    const pki = await ensurePki(dataDir, { hostnames: ['skiff.example.com', '192.0.2.7'], ips: ['2001:db8::5'], nodeHostname: 'node-a' });
    const server: Server = createServer({ key: pki.servingKeyPem, cert: pki.servingCertPem }, (s) => s.end('ok'));
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    try {
      const { port } = server.address() as AddressInfo;
      const socket = connect({ host: '127.0.0.1', port, ca: pki.caCertPem, servername: 'kubernetes.default.svc' });
      await once(socket, 'secureConnect');
      assert.equal(socket.authorized, true);
      socket.end();
    } finally {
      server.close();
    }
  });

  it('reuses everything on a second start with the same SANs', async () => {
    const before = await ensurePki(dataDir, { hostnames: ['skiff.example.com', '192.0.2.7'], ips: ['2001:db8::5'], nodeHostname: 'node-a' });
    const again = await ensurePki(dataDir, { hostnames: ['skiff.example.com'], nodeHostname: 'node-a' });
    assert.deepEqual(again.generated, []);
    assert.equal(again.caCertPem, before.caCertPem);
    assert.equal(again.caKeyPem, before.caKeyPem);
    assert.equal(again.servingCertPem, before.servingCertPem);
    assert.equal(again.adminCertPem, before.adminCertPem);
  });

  it('reissues the serving certificate for a new SAN, keeping the CA and the admin certificate', async () => {
    const before = await ensurePki(dataDir, { nodeHostname: 'node-a', hostnames: ['skiff.example.com', '192.0.2.7'], ips: ['2001:db8::5'] });
    const after = await ensurePki(dataDir, { nodeHostname: 'node-a', hostnames: ['new.example.org'] });
    assert.deepEqual(after.generated, ['serving']);
    assert.equal(after.caCertPem, before.caCertPem);
    assert.equal(after.adminCertPem, before.adminCertPem);
    assert.ok(sans(after.servingCertPem).includes('DNS:new.example.org'));
    assert.ok(new X509Certificate(after.servingCertPem).verify(new X509Certificate(before.caCertPem).publicKey));
  });

  it('renews leaf certificates that expire within 90 days, keeping the CA', async () => {
    const before = await ensurePki(dataDir, { nodeHostname: 'node-a', hostnames: ['new.example.org'] });
    const at300Days = new Date(Date.now() + 300 * DAY);
    const renewed = await ensurePki(dataDir, { nodeHostname: 'node-a', hostnames: ['new.example.org'], now: at300Days });
    assert.deepEqual(renewed.generated, ['serving', 'admin', 'kubelet-client']);
    assert.equal(renewed.caCertPem, before.caCertPem);
    const notAfter = Date.parse(new X509Certificate(renewed.servingCertPem).validTo);
    assert.ok(notAfter > at300Days.getTime() + 360 * DAY);
  });

  it('replaces a leaf whose key file is gone', async () => {
    const before = await ensurePki(dataDir, { nodeHostname: 'node-a' });
    await unlink(before.paths.adminKey);
    const after = await ensurePki(dataDir, { nodeHostname: 'node-a' });
    assert.deepEqual(after.generated, ['admin']);
    assert.notEqual(after.adminCertPem, before.adminCertPem);
  });

  it('refuses to replace a CA whose key is missing', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'skiff-pki-'));
    try {
      const pki = await ensurePki(dir, {});
      await unlink(pki.paths.caKey);
      await assert.rejects(ensurePki(dir, {}), /server-ca\.key is missing/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

const mount = mountTinyTmpfs('2m');

describe('ensurePki on a full disk', { skip: mount === undefined && 'cannot mount a tmpfs here (needs root)' }, () => {
  after(() => mount?.unmount());

  it('keeps valid certificates whose renewal cannot be saved, leaves no half-written pair, and renews once space is back', async () => {
    const dir = join(mount!.dir, 'data');
    const first = await ensurePki(dir, { nodeHostname: 'node-a' });
    const filler = fillDisk(mount!.dir);
    const at300Days = new Date(Date.now() + 300 * DAY);
    const warnings: string[] = [];
    const kept = await ensurePki(dir, { nodeHostname: 'node-a', now: at300Days, onWarning: (m) => warnings.push(m) });
    assert.deepEqual(kept.generated, []);
    assert.equal(kept.servingCertPem, first.servingCertPem);
    assert.equal(kept.adminKeyPem, first.adminKeyPem);
    assert.equal(warnings.length, 3, warnings.join('\n'));
    assert.match(warnings[0], /serving certificate needs renewing but the disk is full \(ENOSPC\); keeping the one on disk/);
    // On disk: the old pairs, whole, and no temporary files.
    assert.equal(await readFile(first.paths.adminKey, 'utf8'), first.adminKeyPem);
    assert.equal(await readFile(first.paths.adminCert, 'utf8'), first.adminCertPem);
    assert.deepEqual((await readdir(first.paths.dir)).filter((f) => f.includes('.tmp-')), []);

    // Expired certificates cannot be kept: the start fails with the write's error.
    const at400Days = new Date(Date.now() + 400 * DAY);
    await assert.rejects(ensurePki(dir, { nodeHostname: 'node-a', now: at400Days }), /pki: cannot write .*ENOSPC/);

    await unlink(filler);
    const renewed = await ensurePki(dir, { nodeHostname: 'node-a', now: at300Days });
    assert.deepEqual(renewed.generated, ['serving', 'admin', 'kubelet-client']);
    assert.equal(renewed.caCertPem, first.caCertPem);
  });
});
