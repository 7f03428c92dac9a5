import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import tls from 'node:tls';
import { after, before, describe, it } from 'node:test';
import { ensurePki, type Pki } from '../auth/pki.js';
import { closeSilentConnections } from './silent-connections.js';

describe('closeSilentConnections', () => {
  let dir: string;
  let pki: Pki;
  let server: https.Server;
  let port: number;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'skiff-silent-'));
    pki = await ensurePki(dir, { hostnames: [], ips: [] });
    server = https.createServer({ cert: pki.servingCertPem, key: pki.servingKeyPem, keepAliveTimeout: 5000 }, (req, res) => {
      // /slow answers after longer than the silence deadline: the deadline must not apply once a request came.
      setTimeout(() => res.end('ok'), req.url === '/slow' ? 600 : 0);
    });
    closeSilentConnections(server, 300);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as AddressInfo).port;
  });
  after(async () => {
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
    await rm(dir, { recursive: true, force: true });
  });

  const connect = () =>
    new Promise<{ sock: tls.TLSSocket; closed: Promise<number>; text: () => string }>((resolve) => {
      const start = Date.now();
      const sock = tls.connect({ host: '127.0.0.1', port, ca: pki.caCertPem, servername: 'localhost' });
      let text = '';
      sock.on('data', (d) => (text += d.toString()));
      sock.on('error', () => {});
      const closed = new Promise<number>((r) => sock.on('close', () => r(Date.now() - start)));
      sock.once('secureConnect', () => resolve({ sock, closed, text: () => text }));
    });

  it('closes a connection that sends no request', async () => {
    const c = await connect();
    const ms = await Promise.race([c.closed, new Promise<number>((r) => setTimeout(() => r(-1), 3000))]);
    assert.notEqual(ms, -1, 'the silent connection stayed open');
    assert.ok(ms >= 250, `closed after ${ms} ms, before the deadline`);
  });

  it('lifts the deadline once a request arrives', async () => {
    const c = await connect();
    c.sock.write('GET /slow HTTP/1.1\r\nHost: x\r\n\r\n');
    const ms = await Promise.race([c.closed, new Promise<number>((r) => setTimeout(() => r(-1), 1000))]);
    assert.equal(ms, -1, 'the connection was closed while its request was served');
    assert.match(c.text(), /^HTTP\/1\.1 200 /);
    c.sock.destroy();
  });
});
