/**
 * Watchers that stop reading cannot take the server's memory: one that falls too far behind is closed (its client
 * relists), and all watchers together stay under a total bound, while a watcher that reads keeps every event.
 * Watch responses to HTTP/1.0 clients are not chunked.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import tls from 'node:tls';
import { resources } from '../src/apiserver/registry/index.js';
import { startBareApiServer, type BareApiServer } from './helpers/api-server.js';
import { eventually } from './helpers/eventually.js';

describe('watch memory bounds', () => {
  let s: BareApiServer;
  const sockets: tls.TLSSocket[] = [];

  before(async () => {
    s = await startBareApiServer({ server: { watchLimits: { maxWatcherBytes: 512 * 1024, maxTotalBytes: 64 * 1024 * 1024 } } });
  });

  after(async () => {
    for (const sock of sockets) sock.destroy();
    await s.stop();
  });

  /** A raw HTTP request over TLS with the admin certificate; returns the socket and what it has received. */
  function raw(request: string, read: boolean): { socket: tls.TLSSocket; received: () => string; closed: Promise<void> } {
    const socket = tls.connect({ host: '127.0.0.1', port: s.api.port, ca: s.pki.caCertPem, cert: s.pki.adminCertPem, key: s.pki.adminKeyPem, servername: 'localhost' });
    sockets.push(socket);
    let text = '';
    socket.setEncoding('utf8');
    socket.on('data', (c: string) => (text += c));
    const closed = new Promise<void>((resolve) => socket.on('close', () => resolve()));
    socket.on('error', () => {});
    socket.once('secureConnect', () => {
      socket.write(request);
      // A client that stops reading: nothing more is taken from the socket, so the server's buffer grows.
      if (!read) setTimeout(() => socket.pause(), 200);
    });
    return { socket, received: () => text, closed };
  }

  /** Creates ConfigMaps in batches of 50, waiting after each batch until `caughtUp(created so far)`. */
  async function createConfigMaps(count: number, bytes: number, caughtUp: (n: number) => boolean): Promise<void> {
    const data = { blob: 'x'.repeat(bytes) };
    const ops = s.api.ops;
    const def = resources.find((r) => r.plural === 'configmaps')!;
    for (let i = 0; i < count; i += 50) {
      await Promise.all(
        Array.from({ length: Math.min(50, count - i) }, (_, j) => ops.create(def, 'default', { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: `cm-${i + j}` }, data }, { dryRun: false })),
      );
      const n = Math.min(count, i + 50);
      await eventually(`a reading watcher catches up with ${n} events`, async () => caughtUp(n), 20_000);
    }
  }

  test('a watcher that stops reading is closed; one that reads gets every event', async () => {
    const request = 'GET /api/v1/namespaces/default/configmaps?watch=true&resourceVersion=0 HTTP/1.1\r\nHost: x\r\n\r\n';
    const slow = raw(request, false);
    const fast = raw(request, true);
    await eventually('both watches open', async () => s.api.handler.watchCount === 2, 10_000);
    await new Promise((r) => setTimeout(r, 300));
    // 64 MB of events: more than the kernel's socket buffers can absorb for the client that does not read.
    const added = () => fast.received().match(/"type":"ADDED"/g)?.length ?? 0;
    await createConfigMaps(1000, 64 * 1024, (n) => added() >= n);
    await eventually('the stalled watcher is closed', async () => s.api.handler.watchCount === 1, 30_000);
    assert.equal(added(), 1000, 'the reading watcher has every event');
    slow.socket.destroy();
    fast.socket.destroy();
  });

  test('HTTP/1.0 watch responses are not chunked and end with the connection', async () => {
    const w = raw('GET /api/v1/namespaces?watch=true&timeoutSeconds=1 HTTP/1.0\r\n\r\n', true);
    await w.closed;
    const text = w.received();
    assert.match(text, /^HTTP\/1\.[01] 200/);
    assert.doesNotMatch(text, /transfer-encoding: chunked/i);
    const body = text.slice(text.indexOf('\r\n\r\n') + 4);
    assert.ok(body.split('\n').filter(Boolean).every((line) => JSON.parse(line).type === 'ADDED'), 'the body is plain JSON lines');
  });
});
