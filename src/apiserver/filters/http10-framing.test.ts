import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ApiServerResponse } from './api-response.js';
import { listen, rawExchange } from './socket-testing.js';

describe('ApiServerResponse: HTTP/1.0 framing', () => {
  let srv: Awaited<ReturnType<typeof listen>>;
  before(async () => {
    // A streaming handler that asks for chunked framing explicitly, in both ways a handler can.
    srv = await listen(
      (req, res) => {
        if (req.url === '/set') res.setHeader('Transfer-Encoding', 'chunked');
        res.writeHead(200, req.url === '/set' ? { 'Content-Type': 'application/json' } : { 'Content-Type': 'application/json', 'Transfer-Encoding': 'chunked' });
        res.write('{"type":"ADDED"}\n');
        res.end('{"type":"DELETED"}\n');
      },
      { ServerResponse: ApiServerResponse },
    );
  });
  after(() => srv.close());

  for (const path of ['/head', '/set']) {
    it(`answers an HTTP/1.0 client without chunked encoding, delimited by close (${path})`, async () => {
      const r = await rawExchange(srv.port, [`GET ${path} HTTP/1.0\r\n\r\n`], 2000);
      const [head, body] = r.text.split('\r\n\r\n');
      assert.doesNotMatch(head, /transfer-encoding/i);
      assert.equal(body, '{"type":"ADDED"}\n{"type":"DELETED"}\n');
      assert.equal(r.ending, 'end');
    });
  }

  it('leaves HTTP/1.1 responses chunked', async () => {
    const r = await rawExchange(srv.port, ['GET /head HTTP/1.1\r\nHost: x\r\n\r\n'], 300);
    assert.match(r.text, /Transfer-Encoding: chunked/i);
  });
});
