import assert from 'node:assert/strict';
import net from 'node:net';
import { describe, it } from 'node:test';
import { limitConnections } from './connection-limit.js';
import { listen } from './socket-testing.js';

/** Opens a connection and reports whether the server kept it open for `ms`. */
function connect(port: number): Promise<{ sock: net.Socket; closedWithin(ms: number): Promise<boolean> }> {
  return new Promise((resolve, reject) => {
    const sock = net.connect(port, '127.0.0.1');
    let closed = false;
    sock.on('close', () => (closed = true));
    sock.on('error', () => {});
    sock.on('data', () => {});
    sock.once('connect', () =>
      resolve({
        sock,
        closedWithin: async (ms) => {
          const deadline = Date.now() + ms;
          while (!closed && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
          return closed;
        },
      }),
    );
    sock.once('error', reject);
  });
}

describe('limitConnections', () => {
  it('closes connections beyond the per-client bound at once, and accepts again when one closes', async () => {
    const srv = await listen((_req, res) => res.end('ok'));
    const limits = limitConnections(srv.server, { maxConnections: 0, maxConnectionsPerClient: 3 });
    try {
      const kept = [await connect(srv.port), await connect(srv.port), await connect(srv.port)];
      const extra = await connect(srv.port);
      assert.equal(await extra.closedWithin(1000), true, 'the 4th connection from one address stayed open');
      for (const c of kept) assert.equal(await c.closedWithin(0), false);
      assert.equal(limits.open().get('127.0.0.1'), 3);
      assert.equal(limits.refused(), 1);
      kept[0].sock.destroy();
      await kept[0].closedWithin(1000);
      for (let i = 0; i < 100 && limits.open().get('127.0.0.1') !== 2; i++) await new Promise((r) => setTimeout(r, 10));
      const again = await connect(srv.port);
      assert.equal(await again.closedWithin(200), false);
      for (const c of [...kept, again]) c.sock.destroy();
      for (let i = 0; i < 100 && limits.open().size > 0; i++) await new Promise((r) => setTimeout(r, 10));
      // Requests are served as before once under the bound.
      assert.equal((await fetch(`http://127.0.0.1:${srv.port}/`, { signal: AbortSignal.timeout(2000) })).status, 200);
    } finally {
      await srv.close();
    }
  });

  it('bounds the total number of connections', async () => {
    const srv = await listen((_req, res) => res.end('ok'));
    const limits = limitConnections(srv.server, { maxConnections: 2, maxConnectionsPerClient: 0 });
    try {
      const kept = [await connect(srv.port), await connect(srv.port)];
      const extra = await connect(srv.port);
      assert.equal(await extra.closedWithin(1000), true);
      assert.equal(limits.refused(), 1);
      for (const c of kept) c.sock.destroy();
    } finally {
      await srv.close();
    }
  });
});
