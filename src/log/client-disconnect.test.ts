import assert from 'node:assert/strict';
import { once } from 'node:events';
import net from 'node:net';
import http from 'node:http';
import { describe, it } from 'node:test';
import { isClientDisconnect } from './client-disconnect.js';

describe('isClientDisconnect', () => {
  const cases: Array<[string, unknown, boolean]> = [
    ['a reset connection', Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' }), true],
    ['a write to a closed socket', Object.assign(new Error('write EPIPE'), { code: 'EPIPE' }), true],
    ['a stream closed early', Object.assign(new Error('Premature close'), { code: 'ERR_STREAM_PREMATURE_CLOSE' }), true],
    ['one wrapped as a cause', new Error('sending the watch failed', { cause: Object.assign(new Error('x'), { code: 'EPIPE' }) }), true],
    ['a full disk', Object.assign(new Error('no space left'), { code: 'ENOSPC' }), false],
    ['a plain bug', new TypeError('cannot read properties of undefined'), false],
    ['not an error at all', 'ECONNRESET', false],
  ];
  for (const [name, err, want] of cases) {
    it(`${want ? 'recognises' : 'does not excuse'} ${name}`, () => assert.equal(isClientDisconnect(err), want));
  }

  it('recognises what a real server sees when a client hangs up mid-response', async () => {
    const seen: unknown[] = [];
    const server = http.createServer((req, res) => {
      res.on('error', (err) => seen.push(err));
      req.socket.on('error', (err) => seen.push(err));
      res.writeHead(200);
      // Keep writing until the write fails because the client is gone.
      const timer = setInterval(() => res.write(Buffer.alloc(64 * 1024)), 1);
      res.on('close', () => clearInterval(timer));
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const { port } = server.address() as net.AddressInfo;
    const socket = net.connect(port, '127.0.0.1');
    socket.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n');
    await once(socket, 'data');
    socket.resetAndDestroy();
    await new Promise((r) => setTimeout(r, 200));
    server.close();
    server.closeAllConnections();
    assert.ok(seen.length > 0, "the server saw an error from the hang-up");
    for (const err of seen) assert.equal(isClientDisconnect(err), true, String(err));
  });
});
