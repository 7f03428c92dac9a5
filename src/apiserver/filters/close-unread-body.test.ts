import assert from 'node:assert/strict';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { after, before, describe, it } from 'node:test';
import { ApiServerResponse } from './api-response.js';
import { listen, rawExchange } from './socket-testing.js';

describe('ApiServerResponse: close after an unread body', () => {
  let srv: Awaited<ReturnType<typeof listen>>;
  let unfiltered: Awaited<ReturnType<typeof listen>>;
  // /read consumes the body before answering; everything else answers 401 at once, as the front door does.
  const handler = (req: IncomingMessage, res: ServerResponse) => {
    if (req.url === '/read') {
      req.resume();
      req.on('end', () => res.end('read'));
      return;
    }
    res.writeHead(401, { 'Content-Type': 'application/json' });
    res.end('{"kind":"Status","code":401}');
  };
  before(async () => {
    srv = await listen(handler, { ServerResponse: ApiServerResponse });
    unfiltered = await listen((_req, res) => {
      res.writeHead(401);
      res.end('{}');
    });
  });
  after(async () => {
    await srv.close();
    await unfiltered.close();
  });

  const slowBody = ['POST /api/v1/namespaces/default/configmaps HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 3000000\r\n\r\n{', '"', 'a'];

  it('closes the connection after an early answer instead of waiting for a 3 MB body that trickles in', async () => {
    const r = await rawExchange(srv.port, slowBody, 2000, 100);
    assert.match(r.text, /^HTTP\/1\.1 401/);
    assert.match(r.text, /\r\nConnection: close\r\n/i);
    assert.equal(r.ending, 'end', 'the server kept the connection open');
  });

  it('is needed: without it Node keeps the connection to drain the body', async () => {
    const r = await rawExchange(unfiltered.port, slowBody, 800, 100);
    assert.match(r.text, /^HTTP\/1\.1 401/);
    assert.equal(r.ending, 'open');
  });

  it('lets a client that is still uploading finish and read the answer (no reset), then closes', async () => {
    const head = 'POST /api/v1/namespaces/default/configmaps HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1048576\r\n\r\n';
    const chunks: (string | Buffer)[] = [head];
    for (let i = 0; i < 16; i++) chunks.push(Buffer.alloc(65536, 97));
    const r = await rawExchange(srv.port, chunks, 3000, 5, true);
    assert.match(r.text, /^HTTP\/1\.1 401/);
    assert.equal(r.ending, 'end');
  });

  it('keeps the connection alive when the body was read, and when there was none', async () => {
    const read = await rawExchange(srv.port, ['POST /read HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}'], 500);
    assert.match(read.text, /^HTTP\/1\.1 200/);
    assert.doesNotMatch(read.text, /Connection: close/i);
    assert.equal(read.ending, 'open');
    const get = await rawExchange(srv.port, ['GET /api/v1/pods HTTP/1.1\r\nHost: x\r\n\r\n'], 500);
    assert.match(get.text, /^HTTP\/1\.1 401/);
    assert.equal(get.ending, 'open');
  });
});
